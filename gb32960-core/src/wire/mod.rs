//! Building blocks shared by every data unit of both editions.
//!
//! * [`Reading`]: a value that may be one of the standard's sentinels (abnormal `0xFE..`,
//!   invalid `0xFF..`, §1.2 of the notes).
//! * [`Field`]: one entry of a field table (offset, width, scaling, sentinels). A fixed-layout
//!   record is a byte array plus a table; accessors, setters and the JSON mapping all go through
//!   the same table, so decoding and encoding cannot drift apart.
//! * [`Time`], [`FixedStr`]: the six-byte time and fixed-width strings, both kept raw so that
//!   odd values and odd padding round-trip byte for byte.
//! * [`List`], [`RecordList`]: zero-copy lists that are either a validated wire slice (after
//!   parsing) or a caller's slice of items (when building a frame to send).

mod field;
mod list;
mod text;
mod time;
mod writer;

pub(crate) use field::fixed_record;
pub use field::{Field, FixedRecord, Kind, Reading, Width};
pub(crate) use list::{counted_len, counted_span, emit_counted, parse_counted, records_span};
pub use list::{Element, List, ListIter, Record, RecordIter, RecordList, Seq};
pub use text::FixedStr;
pub use time::Time;
pub use writer::Writer;

/// Result of the crate's nom parsers. The error carries nothing: the caller knows which field or
/// block it was parsing and turns the failure into a typed [`crate::Error`] with an offset.
pub(crate) type PResult<'a, T> = nom::IResult<&'a [u8], T, ()>;

pub(crate) fn be_u8(i: &[u8]) -> PResult<'_, u8> {
    nom::number::complete::be_u8(i)
}

pub(crate) fn be_u16(i: &[u8]) -> PResult<'_, u16> {
    nom::number::complete::be_u16(i)
}

pub(crate) fn be_u32(i: &[u8]) -> PResult<'_, u32> {
    nom::number::complete::be_u32(i)
}

pub(crate) fn take(n: usize) -> impl Fn(&[u8]) -> PResult<'_, &[u8]> {
    move |i: &[u8]| {
        if i.len() < n {
            Err(nom::Err::Error(()))
        } else {
            let (head, tail) = i.split_at(n);
            Ok((tail, head))
        }
    }
}

/// Reads a fixed-size array.
pub(crate) fn array<const N: usize>(i: &[u8]) -> PResult<'_, [u8; N]> {
    match i.split_first_chunk::<N>() {
        Some((head, tail)) => Ok((tail, *head)),
        None => Err(nom::Err::Error(())),
    }
}

/// Offset of `rest` inside `whole` (both from the same slice, `rest` a suffix).
pub(crate) fn offset_in(whole: &[u8], rest: &[u8]) -> usize {
    whole.len().saturating_sub(rest.len())
}
