//! The software signers: SM2, ECDSA P-256 and RSA over keys held in memory, for simulators,
//! tests and platforms.

#[cfg(feature = "rsa")]
extern crate alloc;
#[cfg(feature = "rsa")]
use alloc::vec::Vec;

use super::Signer;
use crate::security::{fixed_be, Error, Result, VerifyingKey};
use crate::signature::SignatureAlgorithm;

#[cfg(any(feature = "sm2", feature = "p256", feature = "rsa"))]
fn copy_out(dst: &mut [u8], src: &[u8]) -> Result<usize> {
    match dst.get_mut(..src.len()) {
        Some(d) => {
            d.copy_from_slice(src);
            Ok(src.len())
        }
        None => Err(Error::BufferTooSmall { needed: src.len() }),
    }
}

/// Software SM2 signer (SM3 with `Z_A`, deterministic nonce), no allocation.
#[cfg(feature = "sm2")]
#[derive(Clone)]
pub struct Sm2Signer {
    key: sm2::dsa::SigningKey,
}

#[cfg(feature = "sm2")]
impl core::fmt::Debug for Sm2Signer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sm2Signer").finish_non_exhaustive()
    }
}

#[cfg(feature = "sm2")]
impl Sm2Signer {
    /// A signer from the 32-byte big-endian private key, with the default user ID.
    pub fn from_bytes(secret: &[u8]) -> Result<Self> {
        Self::from_bytes_with_id(secret, crate::security::DEFAULT_SM2_ID)
    }

    /// A signer with another user ID.
    pub fn from_bytes_with_id(secret: &[u8], user_id: &str) -> Result<Self> {
        let secret = fixed_be::<32>(secret).ok_or(Error::InvalidKey)?;
        sm2::dsa::SigningKey::from_slice(user_id, &secret)
            .map(|key| Sm2Signer { key })
            .map_err(|_| Error::InvalidKey)
    }

    /// A signer from a PEM private key (PKCS#8 `PRIVATE KEY`, as `openssl genpkey -algorithm
    /// SM2` writes it, or SEC1 `EC PRIVATE KEY` / `SM2 PRIVATE KEY`), with the default user ID.
    /// Any base64 line width is read ([`crate::security::pem::normalize`]).
    #[cfg(feature = "pem")]
    pub fn from_pem(pem: &str) -> Result<Self> {
        use sm2::elliptic_curve::SecretKey;
        use sm2::pkcs8::DecodePrivateKey;
        let pem = &crate::security::pem::normalize(pem);
        let secret = SecretKey::<sm2::Sm2>::from_pkcs8_pem(pem)
            .or_else(|_| SecretKey::<sm2::Sm2>::from_sec1_pem(pem))
            .map_err(|_| Error::InvalidKey)?;
        Self::from_bytes(&secret.to_bytes())
    }

    /// The public key as the activation carries it: 64 bytes `X ‖ Y` (notes 2025 A3).
    pub fn public_key_wire(&self) -> [u8; 64] {
        let sec1 = self.public_key_sec1();
        let mut out = [0u8; 64];
        out.copy_from_slice(&sec1[1..]);
        out
    }

    /// The public key as SEC1 uncompressed: `04 ‖ X ‖ Y`.
    pub fn public_key_sec1(&self) -> [u8; 65] {
        use sm2::elliptic_curve::sec1::ToSec1Point;
        let point = self.key.verifying_key().to_sec1_point(false);
        let mut out = [0u8; 65];
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// The matching verifying key.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::Sm2(self.key.verifying_key().clone())
    }
}

#[cfg(feature = "sm2")]
impl Signer for Sm2Signer {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::SM2
    }

    fn sign(&mut self, message: &[u8], r: &mut [u8], s: &mut [u8]) -> Result<(usize, usize)> {
        use sm2::dsa::signature::Signer as _;
        let sig: sm2::dsa::Signature = self.key.try_sign(message).map_err(|_| Error::Signer)?;
        Ok((copy_out(r, &sig.r_bytes())?, copy_out(s, &sig.s_bytes())?))
    }
}

/// Software ECDSA P-256 / SHA-256 signer (RFC 6979 nonce), no allocation. Signature type 0x03
/// ("ECC"); the curve is our choice, the standard names none.
#[cfg(feature = "p256")]
#[derive(Clone)]
pub struct P256Signer {
    key: p256::ecdsa::SigningKey,
}

#[cfg(feature = "p256")]
impl core::fmt::Debug for P256Signer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("P256Signer").finish_non_exhaustive()
    }
}

#[cfg(feature = "p256")]
impl P256Signer {
    /// A signer from the 32-byte big-endian private key.
    pub fn from_bytes(secret: &[u8]) -> Result<Self> {
        let secret = fixed_be::<32>(secret).ok_or(Error::InvalidKey)?;
        p256::ecdsa::SigningKey::from_slice(&secret)
            .map(|key| P256Signer { key })
            .map_err(|_| Error::InvalidKey)
    }

    /// A signer from a PEM private key (PKCS#8 or SEC1).
    #[cfg(feature = "pem")]
    pub fn from_pem(pem: &str) -> Result<Self> {
        use p256::pkcs8::DecodePrivateKey;
        let pem = &crate::security::pem::normalize(pem);
        let secret = p256::SecretKey::from_pkcs8_pem(pem)
            .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
            .map_err(|_| Error::InvalidKey)?;
        Self::from_bytes(&secret.to_bytes())
    }

    /// The public key as SEC1 uncompressed (65 bytes), the form we carry in an activation.
    pub fn public_key_sec1(&self) -> [u8; 65] {
        let point = self.key.verifying_key().to_sec1_point(false);
        let mut out = [0u8; 65];
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// The matching verifying key.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::P256(*self.key.verifying_key())
    }
}

#[cfg(feature = "p256")]
impl Signer for P256Signer {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECC
    }

    fn sign(&mut self, message: &[u8], r: &mut [u8], s: &mut [u8]) -> Result<(usize, usize)> {
        use p256::ecdsa::signature::Signer as _;
        let sig: p256::ecdsa::Signature = self.key.try_sign(message).map_err(|_| Error::Signer)?;
        let (rb, sb) = sig.split_bytes();
        Ok((copy_out(r, &rb)?, copy_out(s, &sb)?))
    }
}

/// Software RSA signer: PKCS#1 v1.5 with SHA-256, the whole signature in R (rtm_con's
/// convention, notes 2025 A3). Needs `alloc`. `R` blinds the private-key operation; it does not
/// change the (deterministic) signature.
#[cfg(feature = "rsa")]
pub struct RsaSigner<R> {
    key: rsa::PrivateKey,
    rng: R,
}

#[cfg(feature = "rsa")]
impl<R> core::fmt::Debug for RsaSigner<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RsaSigner").finish_non_exhaustive()
    }
}

#[cfg(feature = "rsa")]
impl<R: rand_core::TryCryptoRng> RsaSigner<R> {
    /// A signer over `key`, blinding with `rng`.
    pub fn new(key: rsa::PrivateKey, rng: R) -> Self {
        RsaSigner { key, rng }
    }

    /// A signer from a PEM private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`).
    #[cfg(feature = "pem")]
    pub fn from_pem(pem: &str, rng: R) -> Result<Self> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let pem = &crate::security::pem::normalize(pem);
        let key = rsa::PrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| rsa::PrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| Error::InvalidKey)?;
        Ok(Self::new(key, rng))
    }

    /// The public key as rtm_con carries it in an activation: the modulus followed by a 3-byte
    /// exponent. [`Error::InvalidKey`] when the exponent needs more than 3 bytes.
    pub fn public_key_wire(&self) -> Result<Vec<u8>> {
        use rsa::traits::PublicKeyParts;
        let n = self.key.n_bytes();
        let e = self.key.e_bytes();
        let e = fixed_be::<3>(&e).ok_or(Error::InvalidKey)?;
        let mut out = Vec::with_capacity(n.len() + 3);
        out.extend_from_slice(&n);
        out.extend_from_slice(&e);
        Ok(out)
    }

    /// The matching verifying key.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::Rsa(self.key.to_public_key())
    }
}

#[cfg(feature = "rsa")]
impl<R: rand_core::TryCryptoRng> Signer for RsaSigner<R> {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RSA
    }

    fn sign(&mut self, message: &[u8], r: &mut [u8], _s: &mut [u8]) -> Result<(usize, usize)> {
        let sig = self
            .key
            .pkcs1v15_sign_with_rng::<rsa::sha2::Sha256, R>(&mut self.rng, message)
            .map_err(|_| Error::Signer)?;
        Ok((copy_out(r, &sig)?, 0))
    }
}
