//! QEMU `mps2-an386` (Cortex-M4F, like STM32F4/F7/H7): the board the firmware is tested on.
//!
//! * Clock: SysTick at 1 kHz ([`time_driver`]); idle with WFI ([`executor`]).
//! * Network: the LAN9118 at 0x4020_0000, IRQ 13 ([`lan9118`]); DHCP from QEMU's user network.
//! * Output: log lines on semihosting stdout; exit codes through semihosting (0 after a
//!   commanded shutdown, 101 on panic).
//! * Entropy: **test-only**, the host's `/dev/urandom` read through semihosting (MPS2 has no
//!   TRNG). A real board uses its hardware RNG.
//! * Wall clock: the host's, through semihosting (a real board: RTC or GNSS).
//! * Parameters: a RAM area in `.uninit` standing in for flash: it survives a warm reset
//!   (control 0x03), not a power cycle. Reissue store: RAM.
//!
//! Run by `cargo xtask qemu-test` as
//! `qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none -semihosting-config
//! enable=on,target=native -icount shift=auto,sleep=off -nic user,restrict=on,guestfwd=... -kernel ELF`.

#![allow(unsafe_code)] // interrupt routing and stack inspection; each use says why it is sound

mod executor;
mod lan9118;
mod time_driver;

use core::mem::MaybeUninit;

use cortex_m_rt::{entry, exception};
use embassy_executor::Spawner;
use embassy_net::Runner;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use static_cell::ConstStaticCell;
use tbox_firmware::app::Platform;
use tbox_firmware::config::DeviceConfig;
use tbox_firmware::info;
use tbox_firmware::params::{RamNvm, RECORD_CAPACITY};

use super::common;
use lan9118::Lan9118;

/// Hardware version (parameter 0x07).
const HARDWARE_VERSION: [u8; 5] = *b"QEMU1";
/// The gateway dialled unless `TBOX_GATEWAY_HOST` says otherwise: QEMU's user network forwards
/// this address (`guestfwd`) to the gateway on the host.
const GATEWAY_HOST: &str = "10.0.2.100";

/// The parameter record's home: not zeroed at start-up, so it survives a warm reset.
// SAFETY (link_section): `.uninit` is cortex-m-rt's NOLOAD RAM section for exactly this; the
// value is `MaybeUninit`, so no initialised state is assumed.
#[unsafe(link_section = ".uninit.PARAMS")]
static mut PARAMS_AREA: MaybeUninit<[u8; RECORD_CAPACITY]> = MaybeUninit::uninit();

fn log_sink(args: core::fmt::Arguments<'_>) {
    semihosting::println!("{args}");
}

#[entry]
fn main() -> ! {
    tbox_firmware::log::set_sink(log_sink);
    let Some(core) = cortex_m::Peripherals::take() else {
        panic!("core peripherals taken twice");
    };
    time_driver::start(core.SYST);
    info!(
        "boot: tbox-firmware {} on qemu-mps2-an386, stack {} bytes",
        env!("CARGO_PKG_VERSION"),
        stack::size()
    );
    executor::run(|spawner| match main_task(spawner) {
        Ok(task) => spawner.spawn(task),
        Err(_) => panic!("main task not spawned"),
    })
}

#[embassy_executor::task]
async fn main_task(spawner: Spawner) {
    static NIC_BUFFERS: ConstStaticCell<lan9118::Buffers> = ConstStaticCell::new(lan9118::Buffers::new());
    let nic = match Lan9118::new(lan9118::BASE, NIC_BUFFERS.take()) {
        Ok(nic) => nic,
        Err(lan9118::InitError::NotFound) => panic!("lan9118: not found at its address"),
        Err(lan9118::InitError::Timeout) => panic!("lan9118: a self-clearing bit stayed set"),
    };
    let mac = nic.mac();
    info!(
        "net: lan9118 mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} link {}",
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5],
        if nic.link_up() { "up" } else { "down" }
    );
    // SAFETY: the LAN9118 is set up (interrupt configured, handler below) before its NVIC line
    // is unmasked; nothing else relies on the line being masked.
    unsafe { cortex_m::peripheral::NVIC::unmask(Irq(lan9118::IRQ)) };

    let mut rng = entropy();
    let (stack, runner) = common::dhcp_stack(nic, rng.next_u64());
    common::spawn_network(spawner, net_task(runner), stack);

    // SAFETY: the only reference ever made to PARAMS_AREA, taken once here; `MaybeUninit<u8>`
    // arrays may hold anything, and reading them as bytes after a reset is the point (the
    // record's checksum rejects garbage).
    let area: &'static mut [u8; RECORD_CAPACITY] = unsafe { (*core::ptr::addr_of_mut!(PARAMS_AREA)).assume_init_mut() };
    let nvm = RamNvm::new(area);
    let device = DeviceConfig::from_build_env(HARDWARE_VERSION, GATEWAY_HOST);
    common::run(device, stack, rng, nvm, QemuPlatform).await;
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Lan9118>) -> ! {
    runner.run().await
}

/// Test-only entropy: 32 bytes of the host's `/dev/urandom` seed a ChaCha20 generator.
fn entropy() -> ChaCha20Rng {
    let mut seed = [0u8; 32];
    if semihosting::experimental::random::fill_bytes(&mut seed).is_err() {
        panic!("no host entropy through semihosting");
    }
    ChaCha20Rng::from_seed(seed)
}

/// The board's hooks for the application.
struct QemuPlatform;

impl Platform for QemuPlatform {
    fn unix_time(&mut self) -> Option<i64> {
        let now = semihosting::experimental::time::SystemTime::now();
        let since = now.duration_since(semihosting::experimental::time::SystemTime::UNIX_EPOCH);
        since.ok().and_then(|d| i64::try_from(d.as_secs()).ok())
    }

    fn reset(&mut self) -> ! {
        info!("board: reset (stack high-water {} bytes)", stack::high_water());
        cortex_m::peripheral::SCB::sys_reset()
    }

    fn power_off(&mut self) -> ! {
        info!(
            "board: power off; stack high-water {} of {} bytes",
            stack::high_water(),
            stack::size()
        );
        semihosting::process::exit(0)
    }

    fn alarm(&mut self, level: u8, message: &[u8]) {
        info!("board: ALARM level {level}: {}", tbox_firmware::log::Ascii(message));
    }
}

/// An NVIC interrupt line for `cortex_m`'s NVIC API (there is no PAC for MPS2).
#[derive(Clone, Copy)]
struct Irq(u16);

// SAFETY: `number` returns a line of this machine's NVIC (checked against QEMU's mps2.c).
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

/// Every device interrupt lands here (no PAC vector table): route it by number.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == lan9118::IRQ as i16 {
        lan9118::on_interrupt(lan9118::BASE);
    }
}

/// How much of the stack has been used: cortex-m-rt's `paint-stack` fills it with a pattern
/// at reset; the lowest word that lost it marks the deepest use.
mod stack {
    unsafe extern "C" {
        static _stack_start: u32;
        static _stack_end: u32;
    }

    fn bounds() -> (usize, usize) {
        // Only the addresses of the linker's symbols are taken, nothing is read.
        (
            core::ptr::addr_of!(_stack_end) as usize,
            core::ptr::addr_of!(_stack_start) as usize,
        )
    }

    /// Bytes reserved for the stack.
    pub fn size() -> usize {
        let (bottom, top) = bounds();
        top - bottom
    }

    /// Bytes of stack used so far, at most.
    pub fn high_water() -> usize {
        let (bottom, top) = bounds();
        let mut addr = bottom;
        while addr < top {
            // SAFETY: word-aligned addresses inside the stack region, which is RAM; words
            // below the stack pointer are only read.
            let word = unsafe { core::ptr::read_volatile(addr as *const u32) };
            if word != cortex_m_rt::STACK_PAINT_VALUE {
                break;
            }
            addr += 4;
        }
        top - addr
    }
}
