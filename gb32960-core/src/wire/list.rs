//! Zero-copy lists: a validated wire slice after parsing, or a caller's items when building.
//!
//! Parsing never copies a list out of the frame, and building a frame never needs an allocator:
//! a T-Box can describe 100 cell voltages with a `[u16; 100]` on its stack.

use core::fmt;

use super::{offset_in, take, PResult, Reading, Width, Writer};
use crate::error::Result;

/// A fixed-size list element.
pub trait Element: Copy {
    /// Size on the wire.
    const SIZE: usize;
    /// Reads one element from the start of `b` (at least `SIZE` bytes).
    fn read(b: &[u8]) -> Self;
    /// Writes one element to the start of `out` (at least `SIZE` bytes).
    fn write(&self, out: &mut [u8]);
}

impl Element for u8 {
    const SIZE: usize = 1;
    fn read(b: &[u8]) -> Self {
        b.first().copied().unwrap_or(0)
    }
    fn write(&self, out: &mut [u8]) {
        if let Some(o) = out.first_mut() {
            *o = *self;
        }
    }
}

impl Element for u16 {
    const SIZE: usize = 2;
    fn read(b: &[u8]) -> Self {
        match b.first_chunk::<2>() {
            Some(a) => u16::from_be_bytes(*a),
            None => 0,
        }
    }
    fn write(&self, out: &mut [u8]) {
        if let Some(o) = out.first_chunk_mut::<2>() {
            *o = self.to_be_bytes();
        }
    }
}

impl Element for u32 {
    const SIZE: usize = 4;
    fn read(b: &[u8]) -> Self {
        match b.first_chunk::<4>() {
            Some(a) => u32::from_be_bytes(*a),
            None => 0,
        }
    }
    fn write(&self, out: &mut [u8]) {
        if let Some(o) = out.first_chunk_mut::<4>() {
            *o = self.to_be_bytes();
        }
    }
}

/// A list of fixed-size elements.
#[derive(Clone, Copy)]
pub enum List<'a, T> {
    /// Elements as they sit in a parsed frame (length is a multiple of the element size).
    Wire(&'a [u8]),
    /// Elements supplied by the caller, to be emitted.
    Items(&'a [T]),
}

impl<'a, T: Element> List<'a, T> {
    /// An empty list.
    pub const EMPTY: Self = List::Wire(&[]);

    /// Takes `count` elements from the input.
    pub(crate) fn parse(count: usize, input: &'a [u8]) -> PResult<'a, Self> {
        let n = count.checked_mul(T::SIZE).ok_or(nom::Err::Error(()))?;
        let (rest, bytes) = take(n)(input)?;
        Ok((rest, List::Wire(bytes)))
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            List::Wire(b) => b.len() / T::SIZE,
            List::Items(i) => i.len(),
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element at `index`.
    #[inline]
    pub fn get(&self, index: usize) -> Option<T> {
        match self {
            List::Wire(b) => {
                let start = index.checked_mul(T::SIZE)?;
                b.get(start..start + T::SIZE).map(T::read)
            }
            List::Items(i) => i.get(index).copied(),
        }
    }

    /// Iterates over the elements.
    pub fn iter(&self) -> ListIter<'a, T> {
        ListIter { list: *self, index: 0 }
    }

    /// Bytes on the wire.
    pub fn wire_len(&self) -> usize {
        self.len() * T::SIZE
    }

    /// Appends the elements.
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            List::Wire(b) => w.bytes(b),
            List::Items(items) => {
                for item in items.iter() {
                    item.write(w.reserve(T::SIZE)?);
                }
                Ok(())
            }
        }
    }
}

impl<'a, T: Element> IntoIterator for List<'a, T> {
    type Item = T;
    type IntoIter = ListIter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over a [`List`].
#[derive(Clone)]
pub struct ListIter<'a, T> {
    list: List<'a, T>,
    index: usize,
}

impl<T> fmt::Debug for ListIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListIter")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl<T: Element> Iterator for ListIter<'_, T> {
    type Item = T;
    #[inline]
    fn next(&mut self) -> Option<T> {
        let v = self.list.get(self.index)?;
        self.index += 1;
        Some(v)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.list.len().saturating_sub(self.index);
        (n, Some(n))
    }
}

impl<T: Element> ExactSizeIterator for ListIter<'_, T> {}

impl<T: Element + PartialEq> PartialEq for List<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl<T: Element + fmt::Debug> fmt::Debug for List<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(feature = "defmt")]
impl<T: Element + defmt::Format> defmt::Format for List<'_, T> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "[");
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                defmt::write!(f, ", ");
            }
            defmt::write!(f, "{}", v);
        }
        defmt::write!(f, "]");
    }
}

/// A variable-size list element (a record whose length depends on its own content).
pub trait Record<'a>: Copy + 'a {
    /// Parses one record from the start of the input.
    fn parse(input: &'a [u8]) -> PResult<'a, Self>;
    /// Bytes on the wire.
    fn wire_len(&self) -> usize;
    /// Appends the record.
    fn emit(&self, w: &mut Writer<'_>) -> Result<()>;
}

/// A list of variable-size records.
#[derive(Clone, Copy)]
pub enum RecordList<'a, T> {
    /// Records as they sit in a parsed frame (all validated when parsed).
    Wire {
        /// Number of records.
        count: usize,
        /// Their bytes.
        bytes: &'a [u8],
    },
    /// Records supplied by the caller.
    Items(&'a [T]),
}

impl<'a, T: Record<'a>> RecordList<'a, T> {
    /// An empty list.
    pub const EMPTY: Self = RecordList::Wire { count: 0, bytes: &[] };

    /// Parses and validates `count` records.
    pub(crate) fn parse(count: usize, input: &'a [u8]) -> PResult<'a, Self> {
        let mut rest = input;
        for _ in 0..count {
            rest = T::parse(rest)?.0;
        }
        let used = offset_in(input, rest);
        Ok((
            rest,
            RecordList::Wire {
                count,
                bytes: &input[..used],
            },
        ))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        match self {
            RecordList::Wire { count, .. } => *count,
            RecordList::Items(i) => i.len(),
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Iterates over the records.
    pub fn iter(&self) -> RecordIter<'a, T> {
        match *self {
            RecordList::Wire { count, bytes } => RecordIter::Wire {
                left: count,
                rest: bytes,
            },
            RecordList::Items(items) => RecordIter::Items(items.iter()),
        }
    }

    /// Bytes on the wire.
    pub fn wire_len(&self) -> usize {
        match self {
            RecordList::Wire { bytes, .. } => bytes.len(),
            RecordList::Items(items) => items.iter().map(Record::wire_len).sum(),
        }
    }

    /// Appends the records.
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            RecordList::Wire { bytes, .. } => w.bytes(bytes),
            RecordList::Items(items) => items.iter().try_for_each(|r| r.emit(w)),
        }
    }
}

impl<'a, T: Record<'a>> IntoIterator for RecordList<'a, T> {
    type Item = T;
    type IntoIter = RecordIter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over a [`RecordList`].
#[derive(Debug, Clone)]
pub enum RecordIter<'a, T> {
    #[doc(hidden)]
    Wire { left: usize, rest: &'a [u8] },
    #[doc(hidden)]
    Items(core::slice::Iter<'a, T>),
}

impl<'a, T: Record<'a>> Iterator for RecordIter<'a, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        match self {
            RecordIter::Wire { left, rest } => {
                if *left == 0 {
                    return None;
                }
                // Validated when the list was parsed; a failure here cannot happen, and would
                // end the iteration rather than panic.
                let (r, item) = T::parse(rest).ok()?;
                *rest = r;
                *left -= 1;
                Some(item)
            }
            RecordIter::Items(it) => it.next().copied(),
        }
    }
}

impl<'a, T: Record<'a> + PartialEq> PartialEq for RecordList<'a, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl<'a, T: Record<'a> + fmt::Debug> fmt::Debug for RecordList<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(feature = "defmt")]
impl<'a, T: Record<'a> + defmt::Format> defmt::Format for RecordList<'a, T> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "[");
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                defmt::write!(f, ", ");
            }
            defmt::write!(f, "{}", v);
        }
        defmt::write!(f, "]");
    }
}

/// A list that a count field announces: [`List`] and [`RecordList`].
pub trait Seq<'a>: Sized + Copy {
    /// Parses `n` elements.
    fn parse_n(n: usize, input: &'a [u8]) -> PResult<'a, Self>;
    /// Number of elements.
    fn count(&self) -> usize;
    /// Bytes on the wire (without the count field).
    fn bytes_len(&self) -> usize;
    /// Appends the elements (without the count field).
    fn emit_items(&self, w: &mut Writer<'_>) -> Result<()>;
}

impl<'a, T: Element + 'a> Seq<'a> for List<'a, T> {
    fn parse_n(n: usize, input: &'a [u8]) -> PResult<'a, Self> {
        List::parse(n, input)
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn bytes_len(&self) -> usize {
        self.wire_len()
    }
    fn emit_items(&self, w: &mut Writer<'_>) -> Result<()> {
        self.emit(w)
    }
}

impl<'a, T: Record<'a>> Seq<'a> for RecordList<'a, T> {
    fn parse_n(n: usize, input: &'a [u8]) -> PResult<'a, Self> {
        RecordList::parse(n, input)
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn bytes_len(&self) -> usize {
        self.wire_len()
    }
    fn emit_items(&self, w: &mut Writer<'_>) -> Result<()> {
        self.emit(w)
    }
}

/// Parses a count field of `width` and the list it announces. A sentinel count (abnormal or
/// invalid) announces no elements (notes §1.2).
pub(crate) fn parse_counted<'a, S: Seq<'a>>(width: Width, input: &'a [u8]) -> PResult<'a, Reading<S>> {
    let (i, count) = match width {
        Width::Byte => super::be_u8(input).map(|(i, v)| (i, u32::from(v)))?,
        Width::Word => super::be_u16(input).map(|(i, v)| (i, u32::from(v)))?,
        Width::Dword => super::be_u32(input)?,
    };
    match width.classify(count) {
        Reading::Valid(n) => {
            let (i, s) = S::parse_n(n as usize, i)?;
            Ok((i, Reading::Valid(s)))
        }
        Reading::Abnormal => Ok((i, Reading::Abnormal)),
        Reading::Invalid => Ok((i, Reading::Invalid)),
    }
}

/// Bytes on the wire of a counted list, count field included.
pub(crate) fn counted_len<'a, S: Seq<'a>>(width: Width, list: &Reading<S>) -> usize {
    width.size() + list.valid().map_or(0, |s| s.bytes_len())
}

/// Appends a count field of `width` and the list.
pub(crate) fn emit_counted<'a, S: Seq<'a>>(
    width: Width,
    list: &Reading<S>,
    w: &mut Writer<'_>,
    what: &'static str,
) -> Result<()> {
    let count = match list {
        Reading::Valid(s) if (s.count() as u64) < u64::from(width.abnormal()) => s.count() as u32,
        Reading::Valid(_) => return Err(crate::Error::Unencodable { what }),
        Reading::Abnormal => width.abnormal(),
        Reading::Invalid => width.invalid(),
    };
    width.write(w.reserve(width.size())?, count);
    if let Reading::Valid(s) = list {
        s.emit_items(w)?;
    }
    Ok(())
}

/// Bytes taken by a count field of `width` at `input[offset..]` and the `elem`-byte elements it
/// announces (none after a sentinel count); `None` if the count field is cut off. Used to
/// validate blocks by their lengths alone, without building them.
#[inline]
pub(crate) fn counted_span(input: &[u8], offset: usize, width: Width, elem: usize) -> Option<usize> {
    let count = width.read(input.get(offset..offset.checked_add(width.size())?)?);
    let items = match width.classify(count) {
        Reading::Valid(n) => (n as usize).checked_mul(elem)?,
        _ => 0,
    };
    width.size().checked_add(items)
}

/// Bytes taken by a count field of `width` at `input[offset..]` followed by records whose sizes
/// `record` computes from their start (none after a sentinel count).
#[inline]
pub(crate) fn records_span(
    input: &[u8],
    offset: usize,
    width: Width,
    mut record: impl FnMut(&[u8]) -> Option<usize>,
) -> Option<usize> {
    let count = width.read(input.get(offset..offset.checked_add(width.size())?)?);
    let mut at = offset + width.size();
    if let Reading::Valid(n) = width.classify(count) {
        for _ in 0..n {
            at = at.checked_add(record(input.get(at..)?)?)?;
        }
    }
    Some(at - offset)
}
