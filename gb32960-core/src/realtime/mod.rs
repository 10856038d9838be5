//! Real-time (0x02) and reissue (0x03) reports: a time followed by information blocks.
//!
//! Blocks are "assembled" freely, in any order and any subset, with no count: the decoder loops
//! to the end of the data unit, and each block's length follows from its type and content
//! (notes §5.6, §5.7.11). User-defined blocks (0x80-0xFE) carry a WORD length and are skipped
//! over; any other unknown type has no length, so it ends the list and keeps the rest raw.

pub mod v2016;
pub mod v2025;

pub use v2016::{InfoBlock, RealtimeReport};

use crate::error::Result;
use crate::wire::{counted_len, emit_counted, parse_counted, Element, List, PResult, Reading, Width, Writer};

/// The 0x02 drive-motor block of either edition: a BYTE count (1-253, or a sentinel with no
/// records) and the motor records, 12 bytes in 2016 and 10 in 2025 (`M`). Each edition names it
/// `Motors` with its own record type.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MotorBlock<'a, M: Element> {
    /// The motor records.
    pub motors: Reading<List<'a, M>>,
}

impl<'a, M: Element + 'a> MotorBlock<'a, M> {
    pub(crate) fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, motors) = parse_counted(Width::Byte, i)?;
        Ok((i, MotorBlock { motors }))
    }
    pub(crate) fn wire_len(&self) -> usize {
        counted_len(Width::Byte, &self.motors)
    }
    pub(crate) fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        emit_counted(Width::Byte, &self.motors, w, "motor count")
    }
}
