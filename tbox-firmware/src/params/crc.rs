//! CRC-32 (IEEE 802.3, reflected; the zlib/PNG one) for the parameter record and the flash
//! slots that hold it. Bitwise: a few hundred bytes once per parameter change or boot, so a
//! 1 KiB table would cost more flash than it saves time.

/// A running CRC-32 over data given in parts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Crc32(u32);

impl Crc32 {
    pub(super) const fn new() -> Self {
        Crc32(!0)
    }

    /// Adds `data`.
    pub(super) fn update(mut self, data: &[u8]) -> Self {
        for &b in data {
            self.0 ^= u32::from(b);
            for _ in 0..8 {
                self.0 = if self.0 & 1 != 0 {
                    (self.0 >> 1) ^ 0xEDB8_8320
                } else {
                    self.0 >> 1
                };
            }
        }
        self
    }

    /// The checksum of everything added.
    pub(super) const fn finish(self) -> u32 {
        !self.0
    }
}

/// The CRC-32 of `data`.
pub(super) fn crc32(data: &[u8]) -> u32 {
    Crc32::new().update(data).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_in_one_part_or_several() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(
            Crc32::new().update(b"1234").update(b"").update(b"56789").finish(),
            0xCBF4_3926
        );
        assert_eq!(crc32(b""), 0);
    }
}
