//! The vehicle signature of the 2025 edition (T8): after the 0xFF marker in real-time and
//! reissue reports, and directly after the VIN in an activation (no marker).
//!
//! ```text
//! type(1) | R length WORD | R | S length WORD | S
//! ```

use crate::error::{Error, Result};
use crate::wire::{be_u16, be_u8, take, PResult, Writer};

/// Signature algorithm (T8 "signature type").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SignatureAlgorithm(pub u8);

impl SignatureAlgorithm {
    /// 0x01: SM2 (with SM3).
    pub const SM2: SignatureAlgorithm = SignatureAlgorithm(0x01);
    /// 0x02: RSA.
    pub const RSA: SignatureAlgorithm = SignatureAlgorithm(0x02);
    /// 0x03: ECC (ECDSA; we use P-256 with SHA-256, notes 2025 §13 A3).
    pub const ECC: SignatureAlgorithm = SignatureAlgorithm(0x03);

    /// A stable snake_case name.
    pub const fn name(self) -> &'static str {
        match self.0 {
            0x01 => "sm2",
            0x02 => "rsa",
            0x03 => "ecc",
            _ => "reserved",
        }
    }
}

/// A signature as carried on the wire (R and S as sent; for RSA the whole signature is in R and
/// S is empty, as rtm_con does it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Signature<'a> {
    /// The algorithm.
    pub algorithm: SignatureAlgorithm,
    /// R (or the whole RSA signature).
    pub r: &'a [u8],
    /// S (empty for RSA).
    pub s: &'a [u8],
}

impl<'a> Signature<'a> {
    /// Parses a signature (without the 0xFF marker).
    pub fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, algorithm) = be_u8(i)?;
        let (i, rl) = be_u16(i)?;
        let (i, r) = take(usize::from(rl))(i)?;
        let (i, sl) = be_u16(i)?;
        let (i, s) = take(usize::from(sl))(i)?;
        Ok((
            i,
            Signature {
                algorithm: SignatureAlgorithm(algorithm),
                r,
                s,
            },
        ))
    }

    /// Bytes on the wire (without a marker).
    pub fn wire_len(&self) -> usize {
        5 + self.r.len() + self.s.len()
    }

    /// Appends the signature (without a marker).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        let rl = u16::try_from(self.r.len()).map_err(|_| Error::Unencodable { what: "signature R" })?;
        let sl = u16::try_from(self.s.len()).map_err(|_| Error::Unencodable { what: "signature S" })?;
        w.u8(self.algorithm.0)?;
        w.u16(rl)?;
        w.bytes(self.r)?;
        w.u16(sl)?;
        w.bytes(self.s)
    }
}
