//! An `embassy-net-driver` for the SMSC LAN9118 as QEMU models it (`hw/net/lan9118.c`) on the
//! MPS2 boards: 32-bit register access, PIO FIFOs, no DMA.
//!
//! * Receive: each frame leaves a status word in the RX status FIFO (length in bits 29:16,
//!   FCS included; bit 15 error) and its bytes, little-endian, in `ceil(len / 4)` words of the
//!   RX data FIFO. A frame we cannot take is skipped with `RX_DP_CTRL`'s fast-forward.
//! * Transmit: command A (first and last segment, buffer length), command B (tag, packet
//!   length), then the bytes as little-endian words. QEMU sends at once; its TX status word is
//!   read back and dropped.
//! * Interrupt: the RX-status-level interrupt (`RSFL`), active-high push-pull on NVIC line 13,
//!   wakes the stack. QEMU raises it on arrival only (no level re-trigger), so the driver always
//!   looks at the FIFO count rather than the interrupt bit.
//! * MAC address: read back from the MAC (QEMU loads it from its EEPROM, i.e. `-nic ...,mac=`).
//!   Link state: PHY register 1, bit 2.
//!
//! Not needed under QEMU and not done: TX-space interrupts (the FIFO never fills), PHY
//! auto-negotiation timing and flow control of real silicon, multicast hash filtering.

use core::task::Context;

use embassy_net_driver::{Capabilities, HardwareAddress, LinkState, RxToken, TxToken};
use embassy_sync::waitqueue::AtomicWaker;

/// Register block of the LAN9118 on mps2-an385/an386.
pub const BASE: usize = 0x4020_0000;
/// Its NVIC interrupt line on mps2-an385/an386.
pub const IRQ: u16 = 13;

// Direct registers (byte offsets).
const RX_DATA_FIFO: usize = 0x00;
const TX_DATA_FIFO: usize = 0x20;
const RX_STATUS_FIFO: usize = 0x40;
const TX_STATUS_FIFO: usize = 0x48;
const IRQ_CFG: usize = 0x54;
const INT_STS: usize = 0x58;
const INT_EN: usize = 0x5c;
const BYTE_TEST: usize = 0x64;
const TX_CFG: usize = 0x70;
const HW_CFG: usize = 0x74;
const RX_DP_CTRL: usize = 0x78;
const RX_FIFO_INF: usize = 0x7c;
const TX_FIFO_INF: usize = 0x80;
const PMT_CTRL: usize = 0x84;
const MAC_CSR_CMD: usize = 0xa4;
const MAC_CSR_DATA: usize = 0xa8;

// Indirect MAC registers (through MAC_CSR_CMD/DATA).
const MAC_CR: u32 = 1;
const MAC_ADDRH: u32 = 2;
const MAC_ADDRL: u32 = 3;
const MAC_MII_ACC: u32 = 6;
const MAC_MII_DATA: u32 = 7;

const BYTE_TEST_VALUE: u32 = 0x8765_4321;
const HW_CFG_SRST: u32 = 1;
const PMT_CTRL_READY: u32 = 1;
const TX_CFG_TX_ON: u32 = 1 << 1;
const IRQ_CFG_EN: u32 = 1 << 8;
const IRQ_CFG_POL_HIGH: u32 = 1 << 4;
const IRQ_CFG_PUSH_PULL: u32 = 1;
const INT_RSFL: u32 = 1 << 3;
const MAC_CR_TXEN: u32 = 1 << 3;
const MAC_CR_RXEN: u32 = 1 << 2;
const MAC_CR_FDPX: u32 = 1 << 20;
const CSR_BUSY: u32 = 1 << 31;
const CSR_READ: u32 = 1 << 30;
const MII_BUSY: u32 = 1;
const MII_WRITE: u32 = 1 << 1;
/// The internal PHY's address.
const PHY_ADDR: u32 = 1;
const PHY_BSR: u32 = 1;
const PHY_BSR_LINK: u32 = 1 << 2;
const RX_STS_ERROR: u32 = 1 << 15;
const RX_DP_FFWD: u32 = 1 << 31;
const TX_CMD_A_FIRST: u32 = 1 << 13;
const TX_CMD_A_LAST: u32 = 1 << 12;

/// Largest Ethernet frame without FCS.
const MTU: usize = 1514;
/// Frame buffer: a frame with its FCS, rounded up to whole words.
const FRAME_BUF: usize = 1520;
/// Bounded waits for the device's self-clearing bits.
const POLL_LIMIT: u32 = 100_000;

/// Wakes the stack from the interrupt handler.
static WAKER: AtomicWaker = AtomicWaker::new();

/// Why the device did not come up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitError {
    /// `BYTE_TEST` did not read back its fixed pattern: no LAN9118 at this address.
    NotFound,
    /// A self-clearing bit (reset, MAC or PHY access) stayed set.
    Timeout,
}

/// The memory-mapped registers.
#[derive(Clone, Copy)]
struct Regs {
    base: usize,
}

#[allow(unsafe_code)] // MMIO: the only unsafe of the driver
impl Regs {
    fn read(self, offset: usize) -> u32 {
        // SAFETY: `base` is the LAN9118 register block of this board (checked through BYTE_TEST
        // at init); every offset used is a 32-bit register inside its 256-byte window, aligned.
        // Volatile, because reads pop FIFOs and writes have side effects.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    fn write(self, offset: usize, value: u32) {
        // SAFETY: as for `read`.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }

    fn wait_clear(self, offset: usize, bit: u32) -> Result<(), InitError> {
        for _ in 0..POLL_LIMIT {
            if self.read(offset) & bit == 0 {
                return Ok(());
            }
        }
        Err(InitError::Timeout)
    }

    fn mac_read(self, reg: u32) -> Result<u32, InitError> {
        self.write(MAC_CSR_CMD, CSR_BUSY | CSR_READ | reg);
        self.wait_clear(MAC_CSR_CMD, CSR_BUSY)?;
        Ok(self.read(MAC_CSR_DATA))
    }

    fn mac_write(self, reg: u32, value: u32) -> Result<(), InitError> {
        self.write(MAC_CSR_DATA, value);
        self.write(MAC_CSR_CMD, CSR_BUSY | reg);
        self.wait_clear(MAC_CSR_CMD, CSR_BUSY)
    }

    fn phy_read(self, reg: u32) -> Result<u32, InitError> {
        self.mac_write(MAC_MII_ACC, (PHY_ADDR << 11) | (reg << 6) | MII_BUSY)?;
        for _ in 0..POLL_LIMIT {
            if self.mac_read(MAC_MII_ACC)? & (MII_BUSY | MII_WRITE) == 0 {
                return Ok(self.mac_read(MAC_MII_DATA)? & 0xffff);
            }
        }
        Err(InitError::Timeout)
    }
}

/// One frame buffer each way, kept in a `static` by the board (so the driver, which moves
/// into the network task, stays small).
pub struct Buffers {
    rx: [u8; FRAME_BUF],
    tx: [u8; FRAME_BUF],
}

impl Buffers {
    /// Zeroed buffers (`const`, for a `static`).
    pub const fn new() -> Self {
        Buffers {
            rx: [0; FRAME_BUF],
            tx: [0; FRAME_BUF],
        }
    }
}

/// The driver: the registers and the frame buffers.
pub struct Lan9118 {
    regs: Regs,
    mac: [u8; 6],
    buffers: &'static mut Buffers,
    tx_tag: u16,
}

impl Lan9118 {
    /// Resets the device at `base`, enables the MAC and the receive interrupt. The caller
    /// unmasks the NVIC line and routes it to [`on_interrupt`].
    pub fn new(base: usize, buffers: &'static mut Buffers) -> Result<Self, InitError> {
        let regs = Regs { base };
        if regs.read(BYTE_TEST) != BYTE_TEST_VALUE {
            return Err(InitError::NotFound);
        }
        regs.write(HW_CFG, HW_CFG_SRST);
        regs.wait_clear(HW_CFG, HW_CFG_SRST)?;
        for _ in 0..POLL_LIMIT {
            if regs.read(PMT_CTRL) & PMT_CTRL_READY != 0 {
                break;
            }
        }
        let low = regs.mac_read(MAC_ADDRL)?.to_le_bytes();
        let high = regs.mac_read(MAC_ADDRH)?.to_le_bytes();
        let mac = [low[0], low[1], low[2], low[3], high[0], high[1]];
        regs.write(TX_CFG, TX_CFG_TX_ON);
        // Unicast to us and broadcast (DHCP); not promiscuous (the reset default).
        regs.mac_write(MAC_CR, MAC_CR_TXEN | MAC_CR_RXEN | MAC_CR_FDPX)?;
        regs.write(INT_STS, u32::MAX);
        regs.write(INT_EN, INT_RSFL);
        regs.write(IRQ_CFG, IRQ_CFG_EN | IRQ_CFG_POL_HIGH | IRQ_CFG_PUSH_PULL);
        Ok(Lan9118 {
            regs,
            mac,
            buffers,
            tx_tag: 0,
        })
    }

    /// The MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Whether the PHY reports a link.
    pub fn link_up(&self) -> bool {
        self.regs.phy_read(PHY_BSR).is_ok_and(|bsr| bsr & PHY_BSR_LINK != 0)
    }

    fn frames_waiting(&self) -> u32 {
        (self.regs.read(RX_FIFO_INF) >> 16) & 0xff
    }
}

/// The interrupt handler's work: acknowledge and wake the stack.
pub fn on_interrupt(base: usize) {
    let regs = Regs { base };
    let pending = regs.read(INT_STS);
    regs.write(INT_STS, pending);
    WAKER.wake();
}

/// A received frame, read from the FIFO when consumed.
pub struct Rx<'a> {
    regs: Regs,
    buf: &'a mut [u8; FRAME_BUF],
}

/// Room to send one frame.
pub struct Tx<'a> {
    regs: Regs,
    buf: &'a mut [u8; FRAME_BUF],
    tag: &'a mut u16,
}

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        let status = self.regs.read(RX_STATUS_FIFO);
        let len = ((status >> 16) & 0x3fff) as usize;
        let words = len.div_ceil(4);
        if status & RX_STS_ERROR != 0 || !(4..=FRAME_BUF).contains(&len) {
            // Drop it: fast-forward needs at least four words, fewer are read out.
            if words >= 4 {
                self.regs.write(RX_DP_CTRL, RX_DP_FFWD);
            } else {
                for _ in 0..words {
                    self.regs.read(RX_DATA_FIFO);
                }
            }
            return f(&mut []);
        }
        for chunk in self.buf[..words * 4].chunks_exact_mut(4) {
            chunk.copy_from_slice(&self.regs.read(RX_DATA_FIFO).to_le_bytes());
        }
        f(&mut self.buf[..len - 4])
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(FRAME_BUF);
        let result = f(&mut self.buf[..len]);
        *self.tag = self.tag.wrapping_add(1);
        let n = len as u32;
        self.regs.write(TX_DATA_FIFO, TX_CMD_A_FIRST | TX_CMD_A_LAST | n);
        self.regs.write(TX_DATA_FIFO, (u32::from(*self.tag) << 16) | n);
        for chunk in self.buf[..len].chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            self.regs.write(TX_DATA_FIFO, u32::from_le_bytes(word));
        }
        // One status word per frame sent; nobody needs them.
        while (self.regs.read(TX_FIFO_INF) >> 16) & 0xff != 0 {
            self.regs.read(TX_STATUS_FIFO);
        }
        result
    }
}

impl embassy_net_driver::Driver for Lan9118 {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(Rx<'_>, Tx<'_>)> {
        // Register first: a frame arriving after the check still wakes us.
        WAKER.register(cx.waker());
        if self.frames_waiting() == 0 {
            return None;
        }
        let regs = self.regs;
        let Buffers { rx, tx } = &mut *self.buffers;
        Some((
            Rx { regs, buf: rx },
            Tx {
                regs,
                buf: tx,
                tag: &mut self.tx_tag,
            },
        ))
    }

    fn transmit(&mut self, _cx: &mut Context<'_>) -> Option<Tx<'_>> {
        // QEMU transmits each frame as its last word is written: the FIFO is always free.
        Some(Tx {
            regs: self.regs,
            buf: &mut self.buffers.tx,
            tag: &mut self.tx_tag,
        })
    }

    fn link_state(&mut self, cx: &mut Context<'_>) -> LinkState {
        WAKER.register(cx.waker());
        if self.link_up() {
            LinkState::Up
        } else {
            LinkState::Down
        }
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(1);
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }
}
