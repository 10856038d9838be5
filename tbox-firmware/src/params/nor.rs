//! The parameter record in NOR flash, for the hardware boards: a log of slots in reserved erase
//! blocks, over any `embedded-storage` [`NorFlash`] (embassy-stm32's internal flash, esp-storage).
//! Which blocks is the board's choice (the end of the STM32's flash, the ESP32's `nvs` partition).
//!
//! The area is `blocks` erase blocks, each cut into slots of [`SLOT`] bytes. A slot is either
//! erased (all `0xFF`) or holds one record:
//!
//! ```text
//! "TBNV" | sequence u32 LE | length u16 LE | FF FF | CRC-32 u32 LE | payload | FF padding
//! ```
//!
//! The CRC covers the sequence, the length and the payload. Reading takes the valid record with
//! the highest sequence number. Writing programs the slot after the newest record; a block is
//! erased when writing enters its first slot. So:
//!
//! * a write cut short by a power loss leaves a slot whose CRC fails, and the record before it
//!   is still read;
//! * with two blocks or more, the block holding the newest record is never erased before a newer
//!   record is stored in the next block. With one block, a power loss between its erase and the
//!   next write loses the record (the factory parameters are used).
//!
//! Wear: a block is erased once per `block size / SLOT` parameter writes (about 1170 for a
//! 256 KiB STM32F7 sector, 18 for a 4 KiB ESP32 sector), and the blocks take turns. Parameters
//! change a few times in a vehicle's life, so even 10 000 erase cycles are far away. The price
//! is the reserved flash (512 KiB of the F767's 2 MiB) and a full scan of the slot headers at
//! each read and write (a few milliseconds).

use embedded_storage::nor_flash::NorFlash;

use super::crc::Crc32;
use super::{Nvm, NvmError, RECORD_CAPACITY};

const MAGIC: [u8; 4] = *b"TBNV";
/// Magic, sequence, length, two pad bytes, CRC.
const HEADER: usize = 16;
/// Slot size: header and the largest record, rounded up to 32 bytes, which is a multiple of
/// every write granularity this is used with (4 bytes on ESP32, 32 on STM32H7, the flash word).
pub const SLOT: usize = (HEADER + RECORD_CAPACITY).div_ceil(32) * 32;

/// A buffer the ESP32 flash routines can read into without bouncing through a 4 KiB stack
/// buffer (they need word alignment).
#[repr(C, align(4))]
struct Aligned<const N: usize>([u8; N]);

/// The newest valid record: its slot and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Newest {
    slot: u32,
    seq: u32,
}

/// [`Nvm`] over `blocks` erase blocks of `flash` starting at byte `offset`.
pub struct NorNvm<F> {
    flash: F,
    offset: u32,
    blocks: u32,
}

impl<F: NorFlash> NorNvm<F> {
    /// The store in `blocks` erase blocks from `offset`, which must be block-aligned.
    ///
    /// # Panics
    ///
    /// If the area is misaligned, empty, or too small for one slot.
    pub fn new(flash: F, offset: u32, blocks: u32) -> Self {
        const { assert!(SLOT.is_multiple_of(F::WRITE_SIZE) && F::ERASE_SIZE >= SLOT) };
        assert!(
            blocks > 0 && (offset as usize).is_multiple_of(F::ERASE_SIZE),
            "misaligned parameter area"
        );
        NorNvm { flash, offset, blocks }
    }

    fn slots_per_block() -> u32 {
        (F::ERASE_SIZE / SLOT) as u32
    }

    fn slots(&self) -> u32 {
        self.blocks * Self::slots_per_block()
    }

    fn slot_offset(&self, slot: u32) -> u32 {
        let per_block = Self::slots_per_block();
        self.offset + (slot / per_block) * F::ERASE_SIZE as u32 + (slot % per_block) * SLOT as u32
    }

    /// Reads slot `slot`; `Some((sequence, payload length))` if it holds a valid record.
    fn read_slot(&mut self, slot: u32, buf: &mut Aligned<SLOT>) -> Option<(u32, usize)> {
        let at = self.slot_offset(slot);
        self.flash.read(at, &mut buf.0[..HEADER]).ok()?;
        let (seq, len) = parse_header(&buf.0[..HEADER])?;
        self.flash.read(at, &mut buf.0).ok()?;
        let crc = u32::from_le_bytes([buf.0[12], buf.0[13], buf.0[14], buf.0[15]]);
        (crc == record_crc(seq, &buf.0[HEADER..HEADER + len])).then_some((seq, len))
    }

    /// The newest valid record, by a scan of every slot.
    fn newest(&mut self, buf: &mut Aligned<SLOT>) -> Option<Newest> {
        let mut newest: Option<Newest> = None;
        for slot in 0..self.slots() {
            let at = self.slot_offset(slot);
            let mut header = Aligned([0u8; HEADER]);
            if self.flash.read(at, &mut header.0).is_err() {
                continue;
            }
            // Only a record newer than the best so far is worth its CRC.
            let newer = parse_header(&header.0).is_some_and(|(seq, _)| newest.is_none_or(|n| seq > n.seq));
            if newer {
                if let Some((seq, _)) = self.read_slot(slot, buf) {
                    newest = Some(Newest { slot, seq });
                }
            }
        }
        newest
    }

    fn is_erased(&mut self, slot: u32) -> bool {
        let mut buf = Aligned([0u8; SLOT]);
        let at = self.slot_offset(slot);
        self.flash.read(at, &mut buf.0).is_ok() && buf.0.iter().all(|&b| b == 0xFF)
    }

    fn erase_block(&mut self, block: u32) -> Result<(), NvmError> {
        let from = self.offset + block * F::ERASE_SIZE as u32;
        self.flash
            .erase(from, from + F::ERASE_SIZE as u32)
            .map_err(|_| NvmError::Device)
    }
}

impl<F: NorFlash> Nvm for NorNvm<F> {
    async fn read(&mut self, buf: &mut [u8]) -> usize {
        let mut slot = Aligned([0u8; SLOT]);
        let Some(newest) = self.newest(&mut slot) else {
            return 0;
        };
        match self.read_slot(newest.slot, &mut slot) {
            Some((_, len)) => {
                let n = len.min(buf.len());
                buf[..n].copy_from_slice(&slot.0[HEADER..HEADER + n]);
                n
            }
            None => 0,
        }
    }

    async fn write(&mut self, record: &[u8]) -> Result<(), NvmError> {
        if record.len() > SLOT - HEADER {
            return Err(NvmError::TooLarge);
        }
        let mut buf = Aligned([0u8; SLOT]);
        let newest = self.newest(&mut buf);
        let seq = newest.map_or(1, |n| n.seq.wrapping_add(1));

        buf.0.fill(0xFF);
        buf.0[..4].copy_from_slice(&MAGIC);
        buf.0[4..8].copy_from_slice(&seq.to_le_bytes());
        buf.0[8..10].copy_from_slice(&(record.len() as u16).to_le_bytes());
        buf.0[12..16].copy_from_slice(&record_crc(seq, record).to_le_bytes());
        buf.0[HEADER..HEADER + record.len()].copy_from_slice(record);

        // The slot after the newest record, skipping slots a torn write left dirty.
        let mut slot = newest.map_or(0, |n| (n.slot + 1) % self.slots());
        for _ in 0..self.slots() {
            if slot.is_multiple_of(Self::slots_per_block()) {
                let block = slot / Self::slots_per_block();
                // Only a single block is ever erased under the newest record; with more, coming
                // back to its block means no slot could be programmed: the flash is failing.
                if self.blocks > 1 && newest.is_some_and(|n| n.slot / Self::slots_per_block() == block) {
                    return Err(NvmError::Device);
                }
                self.erase_block(block)?;
            }
            if self.is_erased(slot) {
                let at = self.slot_offset(slot);
                self.flash.write(at, &buf.0).map_err(|_| NvmError::Device)?;
                let mut check = Aligned([0u8; SLOT]);
                self.flash.read(at, &mut check.0).map_err(|_| NvmError::Device)?;
                return if check.0 == buf.0 {
                    Ok(())
                } else {
                    Err(NvmError::Device)
                };
            }
            slot = (slot + 1) % self.slots();
        }
        Err(NvmError::Device)
    }
}

/// `Some((sequence, length))` if `header` starts a record.
fn parse_header(header: &[u8]) -> Option<(u32, usize)> {
    if header.get(..4)? != MAGIC {
        return None;
    }
    let seq = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let len = usize::from(u16::from_le_bytes([header[8], header[9]]));
    (len <= SLOT - HEADER).then_some((seq, len))
}

fn record_crc(seq: u32, payload: &[u8]) -> u32 {
    let len = payload.len() as u16;
    Crc32::new()
        .update(&seq.to_le_bytes())
        .update(&len.to_le_bytes())
        .update(payload)
        .finish()
}
