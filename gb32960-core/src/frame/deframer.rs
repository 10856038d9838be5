//! A resynchronising stream deframer over a fixed, caller-sized buffer.
//!
//! TCP delivers bytes, not frames. The deframer takes chunks of any size, finds frames, checks
//! them, and reports everything it throws away, following the resynchronisation rule of the
//! notes (§2, as EMQX and InCar do it): scan for a start symbol, wait for the header and then for
//! the whole frame, check the BCC, and on any failure skip **one** byte and scan again (`##` can
//! occur inside payloads). Memory is the `N`-byte buffer and nothing else.

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

/// Finds frames in a byte stream; `N` is the buffer size (65556 holds the largest legal frame).
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
#[derive(Debug, Clone)]
pub struct Deframer<const N: usize> {
    buf: [u8; N],
    start: usize,
    end: usize,
    header_check: bool,
    frames: u64,
    discarded: u64,
}

impl<const N: usize> Default for Deframer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Deframer<N> {
    const CHECK: () = assert!(N >= MIN_FRAME_LEN, "a deframer buffer must hold the smallest frame");

    /// An empty deframer.
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CHECK;
        Deframer {
            buf: [0; N],
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

    /// Frames returned so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Bytes discarded so far.
    pub fn discarded_bytes(&self) -> u64 {
        self.discarded
    }

    /// Copies as much of `data` as fits into the buffer and returns how many bytes it took.
    /// Call [`Deframer::poll`] until it returns `None` before feeding again; after that there is
    /// always room for at least one more byte.
    pub fn feed(&mut self, data: &[u8]) -> usize {
        if self.start > 0 && N - self.end < data.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = data.len().min(N - self.end);
        self.buf[self.end..self.end + n].copy_from_slice(&data[..n]);
        self.end += n;
        n
    }

    /// Drops everything buffered (for a new connection).
    pub fn reset(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// The next frame or discard, or `None` when more bytes are needed.
    pub fn poll(&mut self) -> Option<Event<'_>> {
        let avail = &self.buf[self.start..self.end];
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
        if total > N {
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
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        self.frames += 1;
        let bytes = &self.buf[s..s + total];
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
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
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

    fn run<const N: usize>(d: &mut Deframer<N>, input: &[u8], chunk: usize) -> (usize, usize) {
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
}
