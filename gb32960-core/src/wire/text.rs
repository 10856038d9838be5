//! Fixed-width STRING fields (VIN, ICCID, user names...).

use core::fmt;

/// A fixed-width STRING field, kept as sent. The standard gives no padding rule (notes §1.1): we
/// send NUL padding and, reading, trim trailing NULs and spaces for [`FixedStr::as_str`]. The raw
/// bytes stay available, so odd padding round-trips.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FixedStr<const N: usize>(pub [u8; N]);

impl<const N: usize> FixedStr<N> {
    /// Width on the wire.
    pub const LEN: usize = N;

    /// `s` padded with NULs; `None` if it is longer than `N` bytes.
    pub fn new(s: &str) -> Option<Self> {
        Self::from_bytes_padded(s.as_bytes())
    }

    /// `b` padded with NULs; `None` if it is longer than `N` bytes.
    pub fn from_bytes_padded(b: &[u8]) -> Option<Self> {
        if b.len() > N {
            return None;
        }
        let mut a = [0u8; N];
        a[..b.len()].copy_from_slice(b);
        Some(FixedStr(a))
    }

    /// The bytes with trailing NULs and spaces removed.
    pub fn trimmed(&self) -> &[u8] {
        let mut end = N;
        while end > 0 && matches!(self.0[end - 1], 0 | b' ') {
            end -= 1;
        }
        &self.0[..end]
    }

    /// The trimmed text, if it is UTF-8 (ASCII in practice).
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(self.trimmed()).ok()
    }

    /// Whether [`FixedStr::as_str`] followed by [`FixedStr::new`] gives back exactly these bytes
    /// (UTF-8 text with NUL padding). When it does not, the JSON carries the raw hex too.
    pub fn is_canonical(&self) -> bool {
        match self.as_str() {
            Some(s) => Self::new(s).is_some_and(|c| c == *self),
            None => false,
        }
    }
}

impl<const N: usize> fmt::Debug for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(s) if self.is_canonical() => write!(f, "{s:?}"),
            _ => write!(f, "{:02X?}", &self.0[..]),
        }
    }
}

impl<const N: usize> fmt::Display for FixedStr<N> {
    /// The trimmed text; bytes that are not printable ASCII are shown as `\xNN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.trimmed() {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02X}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_trimmed_and_tracked() {
        let v = FixedStr::<8>::new("BAT").unwrap();
        assert_eq!(v.as_str(), Some("BAT"));
        assert!(v.is_canonical());
        let spaced = FixedStr::<8>(*b"BAT     ");
        assert_eq!(spaced.as_str(), Some("BAT"));
        assert!(!spaced.is_canonical());
        assert!(FixedStr::<2>::new("ABC").is_none());
    }
}
