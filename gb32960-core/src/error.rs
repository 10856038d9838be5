//! Errors of the codec: small, `Copy`, and about what was wrong, not where the code was.

use core::fmt;

/// Everything that can go wrong when decoding or encoding a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The input ends before the frame (or the field being read) does; at least `needed` more
    /// bytes are required.
    Truncated { needed: usize },
    /// The frame does not start with `##` (2016) or `$$` (2025).
    BadStart { found: [u8; 2] },
    /// The BCC (XOR of command byte through last data-unit byte) does not match.
    BadChecksum { expected: u8, found: u8 },
    /// The declared data-unit length is above 65531.
    LengthTooLarge { length: usize },
    /// Bytes follow the frame in a slice that should hold exactly one frame.
    TrailingBytes { extra: usize },
    /// A data unit (other than a real-time block) does not match its layout. `offset` is relative
    /// to the start of the data unit.
    Malformed { what: &'static str, offset: usize },
    /// A real-time/reissue information block does not match its layout. `offset` is where the
    /// block's type byte sits in the data unit.
    MalformedBlock { block_type: u8, offset: usize },
    /// The output buffer is too small for the frame being emitted.
    BufferTooSmall { needed: usize },
    /// A value cannot be encoded (out of range for its field, a list longer than its count field
    /// allows, a data unit over 65531 bytes, ...).
    Unencodable { what: &'static str },
}

impl Error {
    /// A short, stable, machine-friendly name (for metrics labels and logs).
    pub const fn kind(&self) -> &'static str {
        match self {
            Error::Truncated { .. } => "truncated",
            Error::BadStart { .. } => "bad_start",
            Error::BadChecksum { .. } => "bad_checksum",
            Error::LengthTooLarge { .. } => "length_too_large",
            Error::TrailingBytes { .. } => "trailing_bytes",
            Error::Malformed { .. } => "malformed",
            Error::MalformedBlock { .. } => "malformed_block",
            Error::BufferTooSmall { .. } => "buffer_too_small",
            Error::Unencodable { .. } => "unencodable",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated { needed } => write!(f, "truncated: {needed} more byte(s) needed"),
            Error::BadStart { found } => write!(
                f,
                "bad start symbol {:02X} {:02X} (expected 23 23 \"##\" or 24 24 \"$$\")",
                found[0], found[1]
            ),
            Error::BadChecksum { expected, found } => {
                write!(f, "bad checksum: computed {expected:02X}, frame carries {found:02X}")
            }
            Error::LengthTooLarge { length } => {
                write!(f, "data-unit length {length} exceeds the maximum of 65531")
            }
            Error::TrailingBytes { extra } => write!(f, "{extra} byte(s) after the end of the frame"),
            Error::Malformed { what, offset } => {
                write!(f, "malformed {what} at data-unit offset {offset}")
            }
            Error::MalformedBlock { block_type, offset } => write!(
                f,
                "malformed information block type 0x{block_type:02X} at data-unit offset {offset}"
            ),
            Error::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
            Error::Unencodable { what } => write!(f, "cannot encode {what}"),
        }
    }
}

impl core::error::Error for Error {}

/// Result alias of this crate.
pub type Result<T> = core::result::Result<T, Error>;
