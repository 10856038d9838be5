//! Real-time (0x02) and reissue (0x03) reports: a time followed by information blocks.
//!
//! Blocks are "assembled" freely, in any order and any subset, with no count: the decoder loops
//! to the end of the data unit, and each block's length follows from its type and content
//! (notes §5.6, §5.7.11). User-defined blocks (0x80-0xFE) carry a WORD length and are skipped
//! over; any other unknown type has no length, so it ends the list and keeps the rest raw.

pub mod v2016;
pub mod v2025;

pub use v2016::{InfoBlock, RealtimeReport};
