//! SM2 public-key encryption of data units (GB/T 32918.4), in place and without an allocator.

use core::cell::RefCell;
use core::fmt;

use super::NoRng;
use crate::frame::Encryption;
use crate::security::cipher::DataUnitCipher;
use crate::security::{fixed_be, sec1_from_wire, Error, Result};

/// Order of the SM2 ciphertext parts.
#[cfg(feature = "sm2")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Sm2Order {
    /// `C1 ‖ C3 ‖ C2`, GB/T 32918.4-2016 (and GM/T 0003-2012 as published). The default.
    #[default]
    C1C3C2,
    /// `C1 ‖ C2 ‖ C3`, the order of the 2010 draft that some libraries kept.
    C1C2C3,
}

/// How SM2 ciphertexts are laid out.
#[cfg(feature = "sm2")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sm2CiphertextFormat {
    /// Part order.
    pub order: Sm2Order,
    /// Whether C1 is written with its 0x04 point-format byte (65 bytes) or as bare `x ‖ y` (64
    /// bytes, gmssl). Decryption tries the configured form first, then the other.
    pub c1_prefix: bool,
}

#[cfg(feature = "sm2")]
impl Default for Sm2CiphertextFormat {
    fn default() -> Self {
        Sm2CiphertextFormat {
            order: Sm2Order::C1C3C2,
            c1_prefix: true,
        }
    }
}

#[cfg(feature = "sm2")]
impl Sm2CiphertextFormat {
    const fn c1_len(prefix: bool) -> usize {
        if prefix {
            65
        } else {
            64
        }
    }

    /// Ciphertext length for `n` plaintext bytes.
    pub const fn ciphertext_len(&self, n: usize) -> usize {
        Self::c1_len(self.c1_prefix) + 32 + n
    }

    /// (C2 offset, C3 offset) for `n` plaintext bytes.
    const fn offsets(order: Sm2Order, c1_len: usize, n: usize) -> (usize, usize) {
        match order {
            Sm2Order::C1C3C2 => (c1_len + 32, c1_len),
            Sm2Order::C1C2C3 => (c1_len, c1_len + n),
        }
    }
}

#[cfg(feature = "sm2")]
fn sm2_xy(p: &sm2::AffinePoint) -> ([u8; 32], [u8; 32]) {
    use sm2::elliptic_curve::sec1::ToSec1Point;
    let enc = p.to_sec1_point(false);
    let b = enc.as_bytes();
    let mut x = [0u8; 32];
    let mut y = [0u8; 32];
    if b.len() == 65 {
        x.copy_from_slice(&b[1..33]);
        y.copy_from_slice(&b[33..65]);
    }
    (x, y)
}

/// Block `i` (from 0) of the SM3 KDF of `x ‖ y` (GB/T 32918.4 §5.4.3): SM3(x ‖ y ‖ ct) with
/// the 32-bit big-endian counter ct = i + 1.
#[cfg(feature = "sm2")]
fn sm2_kdf_block(x: &[u8; 32], y: &[u8; 32], i: usize) -> [u8; 32] {
    use sm3::{Digest, Sm3};
    let ct = (i as u32).wrapping_add(1).to_be_bytes();
    Sm3::new()
        .chain_update(x)
        .chain_update(y)
        .chain_update(ct)
        .finalize()
        .into()
}

/// XORs `data` with the SM3 KDF of `x ‖ y` (GB/T 32918.4 §5.4.3); returns whether any key
/// stream byte was non-zero.
#[cfg(feature = "sm2")]
fn sm2_kdf_xor(x: &[u8; 32], y: &[u8; 32], data: &mut [u8]) -> bool {
    let mut any = 0u8;
    for (i, chunk) in data.chunks_mut(32).enumerate() {
        let t = sm2_kdf_block(x, y, i);
        for (d, k) in chunk.iter_mut().zip(t.iter()) {
            *d ^= k;
            any |= k;
        }
    }
    any != 0
}

/// SM2-encrypts `buf[..n]` in place for `public_key` and returns the ciphertext length
/// (`format.ciphertext_len(n)`). An empty plaintext is refused ([`Error::Encrypt`]).
#[cfg(feature = "sm2")]
pub fn sm2_encrypt_in_place<R: rand_core::TryCryptoRng + ?Sized>(
    public_key: &sm2::PublicKey,
    rng: &mut R,
    buf: &mut [u8],
    n: usize,
    format: Sm2CiphertextFormat,
) -> Result<usize> {
    use sm2::elliptic_curve::{group::Group, sec1::ToSec1Point, Generate};
    use sm2::{NonZeroScalar, ProjectivePoint};
    use sm3::{Digest, Sm3};
    if n == 0 || n > buf.len() {
        return Err(Error::Encrypt);
    }
    let c1_len = Sm2CiphertextFormat::c1_len(format.c1_prefix);
    let total = format.ciphertext_len(n);
    if buf.len() < total {
        return Err(Error::BufferTooSmall { needed: total });
    }
    let (c2_at, c3_at) = Sm2CiphertextFormat::offsets(format.order, c1_len, n);
    buf.copy_within(..n, c2_at);
    for _ in 0..16 {
        // A1-A4: k, C1 = [k]G, (x2, y2) = [k]P_B (h = 1, P_B is never the identity).
        let k = NonZeroScalar::try_generate_from_rng(rng).map_err(|_| Error::Rng)?;
        let c1 = ProjectivePoint::mul_by_generator(&*k).to_affine();
        let shared = (ProjectivePoint::from(*public_key.as_affine()) * *k).to_affine();
        let (x2, y2) = sm2_xy(&shared);
        // A7 (computed before A6 overwrites M): C3 = SM3(x2 ‖ M ‖ y2).
        let c3 = Sm3::new()
            .chain_update(x2)
            .chain_update(&buf[c2_at..c2_at + n])
            .chain_update(y2)
            .finalize();
        // A5, A6: t = KDF(x2 ‖ y2, klen), C2 = M ⊕ t; an all-zero t left M unchanged: retry.
        if !sm2_kdf_xor(&x2, &y2, &mut buf[c2_at..c2_at + n]) {
            continue;
        }
        let point = c1.to_sec1_point(false);
        let c1_bytes = point.as_bytes();
        if format.c1_prefix {
            buf[..65].copy_from_slice(c1_bytes);
        } else {
            buf[..64].copy_from_slice(&c1_bytes[1..]);
        }
        buf[c3_at..c3_at + 32].copy_from_slice(&c3);
        return Ok(total);
    }
    Err(Error::Encrypt)
}

/// SM2-decrypts all of `buf` in place with `secret_key` and returns the plaintext length (the
/// plaintext is `buf[..n]`). `buf` is left unchanged on error ([`Error::Decrypt`]: malformed,
/// wrong key, C3 mismatch).
#[cfg(feature = "sm2")]
pub fn sm2_decrypt_in_place(secret_key: &sm2::SecretKey, buf: &mut [u8], format: Sm2CiphertextFormat) -> Result<usize> {
    let d = secret_key.to_nonzero_scalar();
    let first = sm2_try_decrypt(&d, buf, format.order, format.c1_prefix);
    match first {
        Some(n) => Ok(n),
        None => sm2_try_decrypt(&d, buf, format.order, !format.c1_prefix).ok_or(Error::Decrypt),
    }
}

#[cfg(feature = "sm2")]
fn sm2_try_decrypt(d: &sm2::NonZeroScalar, buf: &mut [u8], order: Sm2Order, prefix: bool) -> Option<usize> {
    use sm2::elliptic_curve::sec1::{FromSec1Point, Sec1Point};
    use sm2::{AffinePoint, ProjectivePoint};
    use sm3::{Digest, Sm3};
    let c1_len = Sm2CiphertextFormat::c1_len(prefix);
    let n = buf.len().checked_sub(c1_len + 32).filter(|&n| n > 0)?;
    let mut sec1 = [0x04u8; 65];
    if prefix {
        if buf[0] != 0x04 {
            return None;
        }
        sec1.copy_from_slice(&buf[..65]);
    } else {
        sec1[1..].copy_from_slice(&buf[..64]);
    }
    // B1: C1 must be a point of the curve (h = 1, so B2 holds for any affine point).
    let encoded = Sec1Point::<sm2::Sm2>::from_bytes(sec1).ok()?;
    let c1: AffinePoint = AffinePoint::from_sec1_point(&encoded).into_option()?;
    // B3: (x2, y2) = [d_B]C1.
    let (x2, y2) = sm2_xy(&(ProjectivePoint::from(c1) * **d).to_affine());
    let (c2_at, c3_at) = Sm2CiphertextFormat::offsets(order, c1_len, n);
    // B4-B6 without touching the buffer: M' = C2 ⊕ t streamed into u = SM3(x2 ‖ M' ‖ y2).
    let mut hasher = Sm3::new_with_prefix(x2);
    let mut any = 0u8;
    for (i, chunk) in buf[c2_at..c2_at + n].chunks(32).enumerate() {
        let t = sm2_kdf_block(&x2, &y2, i);
        let mut m = [0u8; 32];
        for ((o, c), k) in m.iter_mut().zip(chunk).zip(t.iter()) {
            *o = c ^ k;
            any |= k;
        }
        hasher.update(&m[..chunk.len()]);
    }
    hasher.update(y2);
    let u = hasher.finalize();
    let diff = u
        .iter()
        .zip(&buf[c3_at..c3_at + 32])
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if any == 0 || diff != 0 {
        return None;
    }
    sm2_kdf_xor(&x2, &y2, &mut buf[c2_at..c2_at + n]);
    buf.copy_within(c2_at..c2_at + n, 0);
    Some(n)
}

/// SM2 public-key encryption of data units (header 0x04), for 0x0B key exchanges: encrypts for
/// the peer's public key, decrypts with our private key. In place, no allocation. `R` supplies
/// the per-message random `k` (use `NoRng` for a cipher that only decrypts).
#[cfg(feature = "sm2")]
pub struct Sm2Cipher<R = NoRng> {
    own: Option<sm2::SecretKey>,
    peer: Option<sm2::PublicKey>,
    rng: RefCell<R>,
    format: Sm2CiphertextFormat,
}

#[cfg(feature = "sm2")]
impl<R> fmt::Debug for Sm2Cipher<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sm2Cipher")
            .field("decrypts", &self.own.is_some())
            .field("encrypts", &self.peer.is_some())
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "sm2")]
impl Sm2Cipher<NoRng> {
    /// A cipher that only decrypts, with our 32-byte private key.
    pub fn decrypting(secret: &[u8]) -> Result<Self> {
        Sm2Cipher::new(Some(secret), None, NoRng)
    }
}

#[cfg(feature = "sm2")]
impl<R: rand_core::TryCryptoRng> Sm2Cipher<R> {
    /// A cipher with our private key (32 bytes, to decrypt) and/or the peer's public key (64
    /// bytes `X ‖ Y` or SEC1, to encrypt).
    pub fn new(own_secret: Option<&[u8]>, peer_public: Option<&[u8]>, rng: R) -> Result<Self> {
        let own = match own_secret {
            Some(s) => {
                let s = fixed_be::<32>(s).ok_or(Error::InvalidKey)?;
                Some(sm2::SecretKey::from_slice(&s).map_err(|_| Error::InvalidKey)?)
            }
            None => None,
        };
        let peer = match peer_public {
            Some(p) => Some(sm2_public_from_wire(p)?),
            None => None,
        };
        Ok(Sm2Cipher {
            own,
            peer,
            rng: RefCell::new(rng),
            format: Sm2CiphertextFormat::default(),
        })
    }

    /// The same cipher with another ciphertext layout.
    pub fn with_format(mut self, format: Sm2CiphertextFormat) -> Self {
        self.format = format;
        self
    }
}

/// An SM2 public key from 64 bytes `X ‖ Y` or SEC1.
#[cfg(feature = "sm2")]
pub fn sm2_public_from_wire(bytes: &[u8]) -> Result<sm2::PublicKey> {
    let mut sec1 = [0u8; 65];
    let sec1 = sec1_from_wire(bytes, &mut sec1);
    sm2::PublicKey::from_sec1_bytes(sec1).map_err(|_| Error::InvalidKey)
}

#[cfg(feature = "sm2")]
impl<R: rand_core::TryCryptoRng> DataUnitCipher for Sm2Cipher<R> {
    fn encryption(&self) -> Encryption {
        Encryption::SM2
    }

    fn ciphertext_len(&self, plaintext_len: usize) -> usize {
        self.format.ciphertext_len(plaintext_len)
    }

    fn encrypt(&self, buf: &mut [u8], plaintext_len: usize) -> Result<usize> {
        let peer = self.peer.as_ref().ok_or(Error::InvalidKey)?;
        let mut rng = self.rng.try_borrow_mut().map_err(|_| Error::Rng)?;
        sm2_encrypt_in_place(peer, &mut *rng, buf, plaintext_len, self.format)
    }

    fn decrypt(&self, buf: &mut [u8]) -> Result<usize> {
        let own = self.own.as_ref().ok_or(Error::InvalidKey)?;
        sm2_decrypt_in_place(own, buf, self.format)
    }
}

#[cfg(test)]
#[allow(unused_imports, dead_code)] // helpers unused by some feature subsets
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::security::testutil::*;

    #[cfg(feature = "sm2")]
    fn sm2_keys() -> (sm2::SecretKey, sm2::PublicKey) {
        let sk = sm2::SecretKey::from_slice(&h(SM2_SECRET)).unwrap();
        let pk = sk.public_key();
        (sk, pk)
    }

    #[cfg(feature = "sm2")]
    #[test]
    fn sm2_encryption_round_trips_in_every_layout() {
        let (sk, pk) = sm2_keys();
        for order in [Sm2Order::C1C3C2, Sm2Order::C1C2C3] {
            for c1_prefix in [true, false] {
                let format = Sm2CiphertextFormat { order, c1_prefix };
                for n in [1usize, 16, 31, 32, 33, 100] {
                    let plain: Vec<u8> = (0..n).map(|i| i as u8 ^ 0x5A).collect();
                    let mut buf = plain.clone();
                    buf.resize(format.ciphertext_len(n), 0);
                    let m = sm2_encrypt_in_place(&pk, &mut rng(), &mut buf, n, format).unwrap();
                    assert_eq!(m, buf.len());
                    assert_eq!(buf[0] == 0x04, c1_prefix || buf[0] == 0x04);
                    // Decryption finds the C1 form by itself.
                    for guess in [true, false] {
                        let mut copy = buf.clone();
                        let fmt = Sm2CiphertextFormat {
                            c1_prefix: guess,
                            ..format
                        };
                        let k = sm2_decrypt_in_place(&sk, &mut copy, fmt).unwrap();
                        assert_eq!(&copy[..k], &plain[..], "{format:?} {n}");
                    }
                }
            }
        }
    }

    #[cfg(feature = "sm2")]
    #[test]
    fn sm2_decryption_failures_leave_the_buffer_alone() {
        let (sk, pk) = sm2_keys();
        let format = Sm2CiphertextFormat::default();
        let mut buf = [0u8; 97 + 20];
        buf[..20].copy_from_slice(b"twenty bytes of key.");
        sm2_encrypt_in_place(&pk, &mut rng(), &mut buf, 20, format).unwrap();
        for i in [0usize, 1, 40, 70, 100, 116] {
            let mut bad = buf;
            bad[i] ^= 0x80;
            let before = bad;
            assert_eq!(
                sm2_decrypt_in_place(&sk, &mut bad, format),
                Err(Error::Decrypt),
                "byte {i}"
            );
            assert_eq!(bad, before);
        }
        let other = sm2::SecretKey::from_slice(&[3u8; 32]).unwrap();
        assert_eq!(
            sm2_decrypt_in_place(&other, &mut buf.clone(), format),
            Err(Error::Decrypt)
        );
        assert_eq!(sm2_decrypt_in_place(&sk, &mut buf[..97], format), Err(Error::Decrypt));
        assert_eq!(
            sm2_encrypt_in_place(&pk, &mut rng(), &mut buf, 0, format),
            Err(Error::Encrypt),
            "empty plaintext"
        );
        assert_eq!(
            sm2_encrypt_in_place(&pk, &mut NoRng, &mut buf, 5, format),
            Err(Error::Rng)
        );
    }

    #[cfg(feature = "sm2")]
    #[test]
    fn sm2_encryption_agrees_with_the_sm2_crate() {
        use sm2::pke::{Cipher, DecryptingKey, EncryptingKey, Mode};
        let (sk, pk) = sm2_keys();
        let msg = b"0123456789abcdef-key-exchange";
        // Theirs -> ours.
        let ek = EncryptingKey::new_with_mode(pk, Mode::C1C3C2);
        let mut c2 = [0u8; 29];
        let cipher = ek
            .encrypt_cipher_with_buf::<_, sm3::Sm3>(&mut rng(), msg, &mut c2)
            .unwrap();
        let mut wire = [0u8; 97 + 29];
        cipher.to_slice(Mode::C1C3C2, &mut wire, false).unwrap();
        let n = sm2_decrypt_in_place(&sk, &mut wire, Sm2CiphertextFormat::default()).unwrap();
        assert_eq!(&wire[..n], msg);
        // Ours -> theirs.
        let mut buf = [0u8; 97 + 29];
        buf[..29].copy_from_slice(msg);
        sm2_encrypt_in_place(&pk, &mut rng(), &mut buf, 29, Sm2CiphertextFormat::default()).unwrap();
        let parsed = Cipher::<sm2::Sm2, sm3::Sm3>::from_slice(&buf, Mode::C1C3C2).unwrap();
        let dk = DecryptingKey::new_with_mode(sk.to_nonzero_scalar(), Mode::C1C3C2);
        let mut out = [0u8; 29];
        assert_eq!(dk.decrypt_cipher_with_buf(&parsed, &mut out).unwrap(), 29);
        assert_eq!(&out, msg);
    }
}
