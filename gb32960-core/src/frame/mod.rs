//! The frame layer (2016 Table 2 / 2025 T2): header, data unit, BCC.
//!
//! ```text
//! 0      2        3         4     21          22       24      24+L
//! | ## / $$ | command | response | VIN[17] | encryption | length L | data unit | BCC |
//! ```

mod deframer;
mod header;

pub use deframer::{BufferedDeframer, DeframeBuffer, Deframer, Discard, DiscardReason, Event};
#[cfg(feature = "alloc")]
pub use deframer::{GrowableBuffer, GrowableDeframer};
pub use header::{Command, Edition, Encryption, Header, ResponseFlag};

use crate::error::{Error, Result};
use crate::wire::Writer;
use crate::{HEADER_LEN, MAX_DATA_UNIT_LEN};

/// XOR of all bytes: the BCC of `frame[2..24+L]` (notes §2). Works eight bytes at a time.
pub fn bcc(bytes: &[u8]) -> u8 {
    let (chunks, tail) = bytes.as_chunks::<8>();
    let mut acc = 0u64;
    for c in chunks {
        acc ^= u64::from_ne_bytes(*c);
    }
    let mut x = acc.to_ne_bytes().iter().fold(0u8, |a, b| a ^ b);
    for b in tail {
        x ^= b;
    }
    x
}

/// A checked view of one frame: the header is decoded, the length is within bounds and the BCC
/// matches; the data unit is still raw bytes (it may be encrypted, or of a command we do not
/// know). This is what a gateway needs to route and log a frame before decoding its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RawFrame<'a> {
    /// The decoded header.
    pub header: Header,
    /// The data unit, exactly L bytes.
    pub data: &'a [u8],
}

impl<'a> RawFrame<'a> {
    /// Parses exactly one frame; bytes after it are an error.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let (frame, len) = Self::parse_prefix(bytes)?;
        if len != bytes.len() {
            return Err(Error::TrailingBytes {
                extra: bytes.len() - len,
            });
        }
        Ok(frame)
    }

    /// Parses the frame at the start of `bytes`, returning it and its total length.
    pub fn parse_prefix(bytes: &'a [u8]) -> Result<(Self, usize)> {
        let (header, data_len) = Header::parse(bytes)?;
        let total = HEADER_LEN + data_len + 1;
        if bytes.len() < total {
            return Err(Error::Truncated {
                needed: total - bytes.len(),
            });
        }
        let expected = bcc(&bytes[2..total - 1]);
        let found = bytes[total - 1];
        if expected != found {
            return Err(Error::BadChecksum { expected, found });
        }
        Ok((
            RawFrame {
                header,
                data: &bytes[HEADER_LEN..total - 1],
            },
            total,
        ))
    }

    /// Total length on the wire.
    pub fn wire_len(&self) -> usize {
        HEADER_LEN + self.data.len() + 1
    }

    /// Emits this frame (recomputing L and the BCC) into `buf`; returns the length written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        emit_frame(&self.header, buf, |w| w.bytes(self.data))
    }
}

/// Emits a frame: header, the data unit written by `body`, then the length and BCC fix-ups.
/// Returns the number of bytes written.
pub(crate) fn emit_frame(
    header: &Header,
    buf: &mut [u8],
    body: impl FnOnce(&mut Writer<'_>) -> Result<()>,
) -> Result<usize> {
    let mut w = Writer::new(buf);
    header.emit(&mut w, 0)?;
    body(&mut w)?;
    let data_len = w.position() - HEADER_LEN;
    if data_len > MAX_DATA_UNIT_LEN {
        return Err(Error::Unencodable {
            what: "data unit longer than 65531 bytes",
        });
    }
    let end = w.position();
    w.u8(0)?;
    let buf = w.buffer_mut();
    buf[22..24].copy_from_slice(&(data_len as u16).to_be_bytes());
    buf[end] = bcc(&buf[2..end]);
    Ok(end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcc_matches_naive_xor_for_every_length() {
        let data: [u8; 37] = core::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
        for n in 0..data.len() {
            let naive = data[..n].iter().fold(0, |a, b| a ^ b);
            assert_eq!(bcc(&data[..n]), naive, "length {n}");
        }
    }
}
