//! A resynchronising stream deframer over a fixed, caller-sized buffer.
//!
//! TCP delivers bytes, not frames. The deframer takes chunks of any size, finds frames, checks
//! them, and reports everything it throws away, following the resynchronisation rule of the
//! notes (§2, as EMQX and InCar do it): scan for a start symbol, wait for the header and then for
//! the whole frame, check the BCC, and on any failure skip **one** byte and scan again (`##` can
//! occur inside payloads). Memory is the buffer and nothing else: a fixed array, or with `alloc`
//! a buffer that grows only while a large frame arrives.

#[cfg(feature = "alloc")]
extern crate alloc;

use super::header::Header;
use super::{bcc, RawFrame};
use crate::{HEADER_LEN, MAX_DATA_UNIT_LEN, MIN_FRAME_LEN};

/// Why bytes were dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DiscardReason {
    /// Bytes before a start symbol.
    Garbage,
    /// A start symbol whose header is implausible (unknown response flag or encryption code,
    /// control bytes in the VIN): most likely `##`/`$$` inside other data. Checked only when
    /// [`Deframer::set_header_check`] is on (the default), so that a false start symbol with a
    /// large length does not stall the stream while the deframer waits for bytes.
    BadHeader,
    /// A declared data-unit length above 65531.
    LengthTooLarge { length: usize },
    /// A frame longer than this deframer's buffer.
    TooLongForBuffer { length: usize },
    /// A frame whose BCC does not match.
    BadChecksum { expected: u8, found: u8 },
}

/// Bytes the deframer dropped, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Discard {
    /// How many bytes.
    pub len: usize,
    /// Why.
    pub reason: DiscardReason,
}

/// What [`Deframer::poll`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A whole frame with a good BCC: its bytes and its checked view.
    Frame { bytes: &'a [u8], frame: RawFrame<'a> },
    /// Bytes that were skipped.
    Discarded(Discard),
}

/// Where a deframer keeps its bytes: a fixed array (`no_std`, no allocator) or, with the
/// `alloc` feature, a [`GrowableBuffer`] that holds little while a link is idle and grows only
/// to fit the frame being received.
pub trait DeframeBuffer {
    /// The bytes available now (their length is the current capacity).
    fn bytes(&self) -> &[u8];
    /// The same, writable.
    fn bytes_mut(&mut self) -> &mut [u8];
    /// The largest capacity this buffer can reach; longer frames are skipped
    /// ([`DiscardReason::TooLongForBuffer`]).
    fn max_len(&self) -> usize;
    /// Asks for a capacity of at least `len` (capped at [`DeframeBuffer::max_len`]). Fixed
    /// buffers ignore it.
    fn grow(&mut self, _len: usize) {}
    /// Called when the deframer holds no bytes: a buffer may give back memory here.
    fn release(&mut self) {}
}

impl<const N: usize> DeframeBuffer for [u8; N] {
    fn bytes(&self) -> &[u8] {
        self
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
    fn max_len(&self) -> usize {
        N
    }
}

/// A heap buffer between a base and a maximum size: a gateway holding tens of thousands of
/// idle links keeps `base` bytes for each, grows (doubling) only while a larger frame arrives,
/// and returns to `base` once that frame has been taken.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone)]
pub struct GrowableBuffer {
    buf: alloc::vec::Vec<u8>,
    base: usize,
    max: usize,
}

#[cfg(feature = "alloc")]
impl GrowableBuffer {
    /// A buffer of `base` bytes that may grow to `max` (both at least the smallest frame).
    pub fn new(base: usize, max: usize) -> Self {
        let max = max.max(MIN_FRAME_LEN);
        let base = base.clamp(MIN_FRAME_LEN, max);
        GrowableBuffer {
            buf: alloc::vec![0; base],
            base,
            max,
        }
    }
}

#[cfg(feature = "alloc")]
impl DeframeBuffer for GrowableBuffer {
    fn bytes(&self) -> &[u8] {
        &self.buf
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }
    fn max_len(&self) -> usize {
        self.max
    }
    fn grow(&mut self, len: usize) {
        let cap = self.buf.len();
        if len > cap {
            self.buf.resize(len.max(cap * 2).min(self.max), 0);
        }
    }
    fn release(&mut self) {
        if self.buf.len() > self.base {
            self.buf.truncate(self.base);
            self.buf.shrink_to_fit();
        }
    }
}

/// A deframer over a fixed `N`-byte array (65556 holds the largest legal frame).
///
/// ```
/// use gb32960_core::frame::{Deframer, Event};
/// let mut d: Deframer<4096> = Deframer::new();
/// let mut input: &[u8] = b"noise##";
/// while !input.is_empty() {
///     let n = d.feed(input);
///     input = &input[n..];
///     while let Some(ev) = d.poll() {
///         if let Event::Frame { frame, .. } = ev { let _ = frame.header.vin; }
///     }
/// }
/// ```
pub type Deframer<const N: usize> = BufferedDeframer<[u8; N]>;

/// A deframer over a [`GrowableBuffer`] (the gateway's choice: one per connection).
#[cfg(feature = "alloc")]
pub type GrowableDeframer = BufferedDeframer<GrowableBuffer>;

/// Finds frames in a byte stream kept in a [`DeframeBuffer`]; see [`Deframer`] for the usual
/// fixed-size form.
#[derive(Debug, Clone)]
pub struct BufferedDeframer<B> {
    buf: B,
    start: usize,
    end: usize,
    header_check: bool,
    frames: u64,
    discarded: u64,
}

impl<const N: usize> Default for BufferedDeframer<[u8; N]> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> BufferedDeframer<[u8; N]> {
    const CHECK: () = assert!(N >= MIN_FRAME_LEN, "a deframer buffer must hold the smallest frame");

    /// An empty deframer.
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CHECK;
        Self::with_buffer([0; N])
    }
}

impl<B: DeframeBuffer> BufferedDeframer<B> {
    /// An empty deframer over `buf`.
    pub const fn with_buffer(buf: B) -> Self {
        BufferedDeframer {
            buf,
            start: 0,
            end: 0,
            header_check: true,
            frames: 0,
            discarded: 0,
        }
    }

    /// Turns the header plausibility check ([`DiscardReason::BadHeader`]) on or off.
    pub fn set_header_check(&mut self, on: bool) {
        self.header_check = on;
    }

    /// Bytes buffered and not yet returned or discarded.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// The buffer's current capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.buf.bytes().len()
    }

    /// Frames returned so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Bytes discarded so far.
    pub fn discarded_bytes(&self) -> u64 {
        self.discarded
    }

    /// Copies as much of `data` as fits into the buffer and returns how many bytes it took.
    /// Call [`BufferedDeframer::poll`] until it returns `None` before feeding again; after that
    /// there is always room for at least one more byte.
    pub fn feed(&mut self, data: &[u8]) -> usize {
        let space = self.spare_mut(data.len());
        let n = data.len().min(space.len());
        space[..n].copy_from_slice(&data[..n]);
        self.commit(n);
        n
    }

    /// Free space to read into directly (then [`BufferedDeframer::commit`] what was read),
    /// which saves a separate read buffer. Moves buffered bytes to the front and grows a
    /// growable buffer so that, within its maximum, at least `want` bytes are free; a fixed
    /// buffer may give fewer. Not empty after [`BufferedDeframer::poll`] returned `None`.
    pub fn spare_mut(&mut self, want: usize) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            self.buf.release();
        }
        if self.capacity() - self.end < want && self.start > 0 {
            self.buf.bytes_mut().copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.capacity() - self.end < want {
            self.buf.grow(self.end.saturating_add(want));
        }
        let end = self.end;
        &mut self.buf.bytes_mut()[end..]
    }

    /// Marks `n` bytes written into [`BufferedDeframer::spare_mut`] as received (capped at
    /// the free space).
    pub fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.capacity());
    }

    /// Drops everything buffered (for a new connection).
    pub fn reset(&mut self) {
        self.start = 0;
        self.end = 0;
        self.buf.release();
    }

    /// The next frame or discard, or `None` when more bytes are needed.
    pub fn poll(&mut self) -> Option<Event<'_>> {
        let avail = &self.buf.bytes()[self.start..self.end];
        if avail.is_empty() {
            return None;
        }
        // 1. Scan for a start symbol.
        let mark = avail.windows(2).position(|w| w == b"##" || w == b"$$");
        let garbage = match mark {
            Some(i) => i,
            // Keep a last byte that may be the first half of a start symbol.
            None if matches!(avail[avail.len() - 1], b'#' | b'$') => avail.len() - 1,
            None => avail.len(),
        };
        if garbage > 0 {
            return Some(self.discard(garbage, DiscardReason::Garbage));
        }
        mark?; // None: a lone '#' or '$' waits for its second half
               // 2. Wait for the header, check it.
        if avail.len() < HEADER_LEN {
            return None;
        }
        let length = usize::from(u16::from_be_bytes([avail[22], avail[23]]));
        if length > MAX_DATA_UNIT_LEN {
            return Some(self.discard(1, DiscardReason::LengthTooLarge { length }));
        }
        if self.header_check && !plausible_header(&avail[..HEADER_LEN]) {
            return Some(self.discard(1, DiscardReason::BadHeader));
        }
        let total = HEADER_LEN + length + 1;
        if total > self.buf.max_len() {
            return Some(self.discard(1, DiscardReason::TooLongForBuffer { length: total }));
        }
        // 3. Wait for the whole frame, check the BCC.
        if avail.len() < total {
            return None;
        }
        let expected = bcc(&avail[2..total - 1]);
        let found = avail[total - 1];
        if expected != found {
            return Some(self.discard(1, DiscardReason::BadChecksum { expected, found }));
        }
        let s = self.start;
        self.start += total;
        self.frames += 1;
        let bytes = &self.buf.bytes()[s..s + total];
        // Length and BCC are checked above; only the header fields remain to be read.
        match Header::parse(bytes) {
            Ok((header, _)) => Some(Event::Frame {
                bytes,
                frame: RawFrame {
                    header,
                    data: &bytes[HEADER_LEN..total - 1],
                },
            }),
            // Unreachable: the start symbol and length were checked above. Kept total anyway.
            Err(_) => Some(Event::Discarded(Discard {
                len: total,
                reason: DiscardReason::Garbage,
            })),
        }
    }

    fn discard(&mut self, len: usize, reason: DiscardReason) -> Event<'static> {
        self.start += len;
        self.discarded += len as u64;
        Event::Discarded(Discard { len, reason })
    }
}

/// Whether a header could be real: a known response flag and encryption code, and a VIN of
/// printable ASCII (NUL padding allowed).
fn plausible_header(h: &[u8]) -> bool {
    let flag_ok = matches!(h[3], 0x01..=0x07 | 0xFE);
    let enc_ok = matches!(h[21], 0x01..=0x05 | 0xFE | 0xFF);
    let vin_ok = h[4..21].iter().all(|&b| b == 0 || (0x20..0x7F).contains(&b));
    flag_ok && enc_ok && vin_ok && Header::parse(h).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HB: &str = "232307FE4C47425433323936305445535430303031010000CC";

    fn hex(s: &str) -> std::vec::Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn run<B: DeframeBuffer>(d: &mut BufferedDeframer<B>, input: &[u8], chunk: usize) -> (usize, usize) {
        let (mut frames, mut dropped) = (0, 0);
        for piece in input.chunks(chunk.max(1)) {
            let mut piece = piece;
            while !piece.is_empty() {
                let n = d.feed(piece);
                piece = &piece[n..];
                while let Some(ev) = d.poll() {
                    match ev {
                        Event::Frame { .. } => frames += 1,
                        Event::Discarded(x) => dropped += x.len,
                    }
                }
            }
        }
        (frames, dropped)
    }

    #[test]
    fn garbage_bad_checksum_and_split_frames() {
        let hb = hex(HB);
        let mut bad = hb.clone();
        *bad.last_mut().unwrap() ^= 0xFF;
        let mut stream = b"xx#y".to_vec();
        stream.extend(&hb);
        stream.extend(&bad);
        stream.extend(b"###");
        stream.extend(&hb);
        for chunk in [1, 2, 7, 25, 4096] {
            let mut d: Deframer<128> = Deframer::new();
            let (frames, dropped) = run(&mut d, &stream, chunk);
            assert_eq!(frames, 2, "chunk {chunk}");
            assert_eq!(dropped, 4 + bad.len() + 3, "chunk {chunk}");
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn frame_longer_than_buffer_is_skipped_not_waited_for() {
        let mut big = hex(HB);
        big[22] = 0x01; // L = 256, longer than a 64-byte buffer
        let mut stream = big[..24].to_vec();
        stream.extend(hex(HB));
        let mut d: Deframer<64> = Deframer::new();
        let (frames, _) = run(&mut d, &stream, 64);
        assert_eq!(frames, 1);
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn growable_buffer_grows_for_a_large_frame_and_gives_it_back() {
        // A 2,000-byte data unit (raw, command 0x02) between two heartbeats.
        let mut big = hex(HB);
        big.truncate(24);
        big[2] = 0x02;
        big[22..24].copy_from_slice(&2000u16.to_be_bytes());
        big.extend(core::iter::repeat_n(0x5Au8, 2000));
        big.push(bcc(&big[2..]));
        let mut stream = hex(HB);
        stream.extend(&big);
        stream.extend(hex(HB));
        for chunk in [1, 100, 4096] {
            let mut d = GrowableDeframer::with_buffer(GrowableBuffer::new(64, 65_556));
            assert_eq!(d.capacity(), 64);
            let mut sizes = std::vec::Vec::new();
            let mut peak = 0;
            for piece in stream.chunks(chunk) {
                let mut piece = piece;
                while !piece.is_empty() {
                    let n = d.feed(piece);
                    piece = &piece[n..];
                    peak = peak.max(d.capacity());
                    while let Some(ev) = d.poll() {
                        match ev {
                            Event::Frame { bytes, .. } => sizes.push(bytes.len()),
                            Event::Discarded(x) => panic!("chunk {chunk}: unexpected discard {x:?}"),
                        }
                    }
                }
            }
            assert_eq!(sizes, [25, big.len(), 25], "chunk {chunk}");
            assert!(peak >= big.len(), "chunk {chunk}: grew to {peak}");
            // Empty again: the next read gives the memory back.
            assert_eq!(d.buffered(), 0);
            let _ = d.spare_mut(16);
            assert_eq!(d.capacity(), 64, "chunk {chunk}");
        }
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn growable_buffer_skips_frames_above_its_maximum() {
        let mut big = hex(HB);
        big[22] = 0x01; // L = 256 > max 128
        let mut stream = big[..24].to_vec();
        stream.extend(hex(HB));
        let mut d = GrowableDeframer::with_buffer(GrowableBuffer::new(32, 128));
        let (frames, _) = run(&mut d, &stream, 7);
        assert_eq!(frames, 1);
        assert!(d.capacity() <= 128);
    }

    #[test]
    fn reading_into_spare_space_equals_feeding() {
        let hb = hex(HB);
        let mut stream = b"junk".to_vec();
        stream.extend(&hb);
        stream.extend(&hb);
        let mut d: Deframer<64> = Deframer::new();
        let mut frames = 0;
        let mut input = &stream[..];
        while !input.is_empty() {
            let space = d.spare_mut(10);
            let n = space.len().min(10).min(input.len());
            space[..n].copy_from_slice(&input[..n]);
            d.commit(n);
            input = &input[n..];
            while let Some(ev) = d.poll() {
                if let Event::Frame { .. } = ev {
                    frames += 1;
                }
            }
        }
        assert_eq!(frames, 2);
        assert_eq!(d.discarded_bytes(), 4);
    }
}
