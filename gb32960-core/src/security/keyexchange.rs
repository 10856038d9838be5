//! The data-unit key exchange (0x0B, T31): public-key encryption of data units, and where the
//! exchanged keys go.
//!
//! The standard leaves the flow open (notes 2025 §13 A6). Our reading, which these helpers
//! implement: either side may send a 0x0B; its data unit is encrypted with the peer's public
//! key when one is known (header 0x04 SM2 with `Sm2Cipher`, 0x02 RSA with `RsaCipher`) and
//! sent in plaintext only on an already protected link; the receiver decrypts it, hands the
//! parsed [`KeyExchange`] to a [`KeyStore`] ([`accept_key_exchange`]), and later finds the key
//! for a vehicle's encrypted data units there (`decode_with_store`).
//!
//! * **SM2 public-key encryption** follows GB/T 32918.4: `C1 ‖ C3 ‖ C2` (the 2016 order; the
//!   older `C1 ‖ C2 ‖ C3` is configurable), C1 an uncompressed point `04 ‖ x ‖ y`, C3 =
//!   SM3(x2 ‖ M ‖ y2), the SM3 KDF. Decryption also accepts C1 without the 0x04 byte, as the
//!   Python `gmssl` package writes it. Built on the RustCrypto `sm2` curve arithmetic and `sm3`;
//!   works in place, without an allocator.
//! * **RSA** is PKCS#1 v1.5 encryption (needs `alloc`). A data unit longer than one block
//!   (modulus size − 11 bytes) is split into such chunks, each encrypted to one modulus-sized
//!   block, the usual "segmented" practice of Java platforms. Decryption uses the `rsa` crate's
//!   implicit rejection: a wrong key or padding yields garbage rather than an error, which the
//!   0x0B parser then rejects.

#[cfg(feature = "rsa")]
extern crate alloc;

use core::fmt;

use super::{Error, Result};
use crate::frame::{Command, Edition, Encryption, Header, RawFrame};
use crate::message::{Body, Frame, KeyExchange};
use crate::wire::Time;

#[cfg(any(feature = "sm2", feature = "rsa"))]
use core::cell::RefCell;

use super::cipher::{decrypt_raw_frame, encrypt_frame_in_place, DataUnitCipher};

/// A generator that always fails: for ciphers that only decrypt and signers that need no
/// randomness.
#[cfg(any(feature = "sm2", feature = "rsa"))]
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRng;

/// The error of `NoRng`.
#[cfg(any(feature = "sm2", feature = "rsa"))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoRngError;

#[cfg(any(feature = "sm2", feature = "rsa"))]
impl fmt::Display for NoRngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no random number generator")
    }
}

#[cfg(any(feature = "sm2", feature = "rsa"))]
impl core::error::Error for NoRngError {}

#[cfg(any(feature = "sm2", feature = "rsa"))]
impl rand_core::TryRng for NoRng {
    type Error = NoRngError;

    fn try_next_u32(&mut self) -> core::result::Result<u32, NoRngError> {
        Err(NoRngError)
    }

    fn try_next_u64(&mut self) -> core::result::Result<u64, NoRngError> {
        Err(NoRngError)
    }

    fn try_fill_bytes(&mut self, _dst: &mut [u8]) -> core::result::Result<(), NoRngError> {
        Err(NoRngError)
    }
}

#[cfg(any(feature = "sm2", feature = "rsa"))]
impl rand_core::TryCryptoRng for NoRng {}

// ---------------------------------------------------------------------------------------------
// SM2 public-key encryption (GB/T 32918.4)
// ---------------------------------------------------------------------------------------------

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

/// XORs `data` with the SM3 KDF of `x ‖ y` (GB/T 32918.4 §5.4.3); returns whether any key
/// stream byte was non-zero.
#[cfg(feature = "sm2")]
fn sm2_kdf_xor(x: &[u8; 32], y: &[u8; 32], data: &mut [u8]) -> bool {
    use sm3::{Digest, Sm3};
    let mut any = 0u8;
    for (i, chunk) in data.chunks_mut(32).enumerate() {
        let ct = (i as u32).wrapping_add(1).to_be_bytes();
        let t = Sm3::new().chain_update(x).chain_update(y).chain_update(ct).finalize();
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
        let ct = (i as u32).wrapping_add(1).to_be_bytes();
        let t = Sm3::new().chain_update(x2).chain_update(y2).chain_update(ct).finalize();
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
                let s = super::fixed_be::<32>(s).ok_or(Error::InvalidKey)?;
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
    let sec1: &[u8] = if bytes.len() == 64 {
        sec1[0] = 0x04;
        sec1[1..].copy_from_slice(bytes);
        &sec1
    } else {
        bytes
    };
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

// ---------------------------------------------------------------------------------------------
// RSA PKCS#1 v1.5 encryption
// ---------------------------------------------------------------------------------------------

/// RSA PKCS#1 v1.5 encryption of data units (header 0x02), for 0x0B key exchanges; needs
/// `alloc`. `R` pads (encryption) and blinds (decryption).
#[cfg(feature = "rsa")]
pub struct RsaCipher<R = NoRng> {
    own: Option<rsa::PrivateKey>,
    peer: Option<rsa::PublicKey>,
    rng: RefCell<R>,
}

#[cfg(feature = "rsa")]
impl<R> fmt::Debug for RsaCipher<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaCipher")
            .field("decrypts", &self.own.is_some())
            .field("encrypts", &self.peer.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "rsa")]
impl<R: rand_core::TryCryptoRng> RsaCipher<R> {
    /// A cipher with our private key (to decrypt) and/or the peer's public key (to encrypt).
    pub fn new(own: Option<rsa::PrivateKey>, peer: Option<rsa::PublicKey>, rng: R) -> Self {
        RsaCipher {
            own,
            peer,
            rng: RefCell::new(rng),
        }
    }
}

#[cfg(feature = "rsa")]
impl<R: rand_core::TryCryptoRng> DataUnitCipher for RsaCipher<R> {
    fn encryption(&self) -> Encryption {
        Encryption::RSA
    }

    fn ciphertext_len(&self, plaintext_len: usize) -> usize {
        use rsa::traits::PublicKeyParts;
        match &self.peer {
            Some(k) if k.size() > 11 => plaintext_len.div_ceil(k.size() - 11) * k.size(),
            _ => 0,
        }
    }

    fn encrypt(&self, buf: &mut [u8], plaintext_len: usize) -> Result<usize> {
        use alloc::vec::Vec;
        use rsa::traits::PublicKeyParts;
        let peer = self.peer.as_ref().ok_or(Error::InvalidKey)?;
        let k = peer.size();
        if k <= 11 || plaintext_len > buf.len() {
            return Err(Error::Encrypt);
        }
        let total = self.ciphertext_len(plaintext_len);
        if buf.len() < total {
            return Err(Error::BufferTooSmall { needed: total });
        }
        let mut rng = self.rng.try_borrow_mut().map_err(|_| Error::Rng)?;
        let mut out = Vec::with_capacity(total);
        for chunk in buf[..plaintext_len].chunks(k - 11) {
            let block = peer
                .pkcs1v15_encrypt_with_rng(&mut *rng, chunk)
                .map_err(|_| Error::Encrypt)?;
            out.extend_from_slice(&block);
        }
        buf[..out.len()].copy_from_slice(&out);
        Ok(out.len())
    }

    fn decrypt(&self, buf: &mut [u8]) -> Result<usize> {
        use alloc::vec::Vec;
        use rsa::traits::PublicKeyParts;
        let own = self.own.as_ref().ok_or(Error::InvalidKey)?;
        let k = own.size();
        if buf.is_empty() || !buf.len().is_multiple_of(k) {
            return Err(Error::Decrypt);
        }
        let mut rng = self.rng.try_borrow_mut().map_err(|_| Error::Rng)?;
        let mut out = Vec::with_capacity(buf.len());
        for block in buf.chunks(k) {
            let m = own
                .pkcs1v15_decrypt_with_rng(&mut *rng, block)
                .map_err(|_| Error::Decrypt)?;
            out.extend_from_slice(&m);
        }
        buf[..out.len()].copy_from_slice(&out);
        Ok(out.len())
    }
}

// ---------------------------------------------------------------------------------------------
// Key store
// ---------------------------------------------------------------------------------------------

/// A data-unit key as a [`KeyStore`] hands it out.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DataUnitKey<'a> {
    /// Key type (0x02 RSA, 0x03 AES, 0x04 SM2, 0x05 SM4: the header's encryption codes).
    pub key_type: Encryption,
    /// The key bytes as exchanged.
    pub key: &'a [u8],
    /// Valid from (inclusive).
    pub valid_from: Time,
    /// Valid until (inclusive).
    pub valid_until: Time,
}

impl fmt::Debug for DataUnitKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataUnitKey")
            .field("key_type", &self.key_type)
            .field("key_len", &self.key.len())
            .field("valid_from", &self.valid_from)
            .field("valid_until", &self.valid_until)
            .finish()
    }
}

impl DataUnitKey<'_> {
    /// Whether `now` lies in the validity window (both ends inclusive).
    pub fn is_valid_at(&self, now: Time) -> bool {
        self.valid_from <= now && now <= self.valid_until
    }

    /// The AES or SM4 cipher for this key.
    #[cfg(any(feature = "aes", feature = "sm4"))]
    pub fn cipher(&self, config: super::BlockCipherConfig) -> Result<super::BlockCipher> {
        super::BlockCipher::new(self.key_type, self.key, config)
    }
}

/// Where exchanged data-unit keys go and are found again, per vehicle (VIN) and key type.
/// A platform backs it with its database; [`MemoryKeyStore`] is a fixed-capacity one.
pub trait KeyStore {
    /// The key of type `encryption` for `vin`, if any.
    fn data_unit_key(&self, vin: &[u8; 17], encryption: Encryption) -> Option<DataUnitKey<'_>>;

    /// Stores (or replaces) the key a 0x0B exchange carries for `vin`.
    fn store(&mut self, vin: &[u8; 17], exchange: &KeyExchange<'_>) -> Result<()>;
}

struct Slot<const K: usize> {
    vin: [u8; 17],
    key_type: Encryption,
    len: usize,
    key: [u8; K],
    valid_from: Time,
    valid_until: Time,
}

impl<const K: usize> Drop for Slot<K> {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.key.zeroize();
    }
}

impl<const K: usize> Slot<K> {
    fn view(&self) -> DataUnitKey<'_> {
        DataUnitKey {
            key_type: self.key_type,
            key: &self.key[..self.len],
            valid_from: self.valid_from,
            valid_until: self.valid_until,
        }
    }
}

/// A [`KeyStore`] in a fixed array: `N` keys of at most `K` bytes (32 by default, enough for
/// AES-256 and SM4), no allocation. Key bytes are zeroed when replaced or dropped.
pub struct MemoryKeyStore<const N: usize, const K: usize = 32> {
    slots: [Option<Slot<K>>; N],
}

impl<const N: usize, const K: usize> fmt::Debug for MemoryKeyStore<N, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryKeyStore")
            .field("capacity", &N)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<const N: usize, const K: usize> Default for MemoryKeyStore<N, K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const K: usize> MemoryKeyStore<N, K> {
    /// An empty store.
    pub const fn new() -> Self {
        MemoryKeyStore {
            slots: [const { None }; N],
        }
    }

    /// Keys stored.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key of type `encryption` for `vin` if `now` is inside its validity window.
    pub fn data_unit_key_at(&self, vin: &[u8; 17], encryption: Encryption, now: Time) -> Option<DataUnitKey<'_>> {
        self.data_unit_key(vin, encryption).filter(|k| k.is_valid_at(now))
    }

    /// Removes every key of `vin`; returns how many there were.
    pub fn remove(&mut self, vin: &[u8; 17]) -> usize {
        let mut n = 0;
        for s in &mut self.slots {
            if s.as_ref().is_some_and(|s| &s.vin == vin) {
                *s = None;
                n += 1;
            }
        }
        n
    }

    /// Removes every key whose validity ended before `now`; returns how many.
    pub fn remove_expired(&mut self, now: Time) -> usize {
        let mut n = 0;
        for s in &mut self.slots {
            if s.as_ref().is_some_and(|s| s.valid_until < now) {
                *s = None;
                n += 1;
            }
        }
        n
    }
}

impl<const N: usize, const K: usize> KeyStore for MemoryKeyStore<N, K> {
    fn data_unit_key(&self, vin: &[u8; 17], encryption: Encryption) -> Option<DataUnitKey<'_>> {
        self.slots
            .iter()
            .flatten()
            .find(|s| &s.vin == vin && s.key_type == encryption)
            .map(Slot::view)
    }

    fn store(&mut self, vin: &[u8; 17], exchange: &KeyExchange<'_>) -> Result<()> {
        if !matches!(exchange.key_type.0, 0x02..=0x05) {
            return Err(Error::Unsupported);
        }
        let len = exchange.key.len();
        if len > K {
            return Err(Error::KeyTooLong { len, max: K });
        }
        let same = |s: &Option<Slot<K>>| {
            s.as_ref()
                .is_some_and(|s| &s.vin == vin && s.key_type == exchange.key_type)
        };
        let at = match self.slots.iter().position(same) {
            Some(i) => i,
            None => self.slots.iter().position(Option::is_none).ok_or(Error::KeyStoreFull)?,
        };
        let mut key = [0u8; K];
        key[..len].copy_from_slice(exchange.key);
        self.slots[at] = Some(Slot {
            vin: *vin,
            key_type: exchange.key_type,
            len,
            key,
            valid_from: exchange.valid_from,
            valid_until: exchange.valid_until,
        });
        Ok(())
    }
}

impl<T: KeyStore + ?Sized> KeyStore for &mut T {
    fn data_unit_key(&self, vin: &[u8; 17], encryption: Encryption) -> Option<DataUnitKey<'_>> {
        (**self).data_unit_key(vin, encryption)
    }

    fn store(&mut self, vin: &[u8; 17], exchange: &KeyExchange<'_>) -> Result<()> {
        (**self).store(vin, exchange)
    }
}

// ---------------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------------

/// Emits a 0x0B key-exchange frame into `buf`: `exchange` as the data unit, encrypted with
/// `wrap` (the peer's public key: `Sm2Cipher`, `RsaCipher`) when given (notes A6). `header`
/// must be a 2025 header of command 0x0B; its encryption code is replaced.
pub fn emit_key_exchange(
    header: &Header,
    exchange: &KeyExchange<'_>,
    wrap: Option<&dyn DataUnitCipher>,
    buf: &mut [u8],
) -> Result<usize> {
    if header.edition != Edition::V2025 || header.command != Command::KEY_EXCHANGE {
        return Err(Error::Codec(crate::Error::Unencodable {
            what: "a key exchange needs a 2025 header with command 0x0B",
        }));
    }
    let frame = Frame {
        header: Header {
            encryption: Encryption::NONE,
            ..*header
        },
        body: Body::KeyExchange(*exchange),
    };
    let n = frame.wire_len();
    if buf.len() < n {
        return Err(Error::BufferTooSmall { needed: n });
    }
    let n = frame.emit(buf)?;
    match wrap {
        Some(c) => encrypt_frame_in_place(buf, c),
        None => Ok(n),
    }
}

/// Handles a received 0x0B request: decrypts its data unit with `unwrap` if it is encrypted
/// (`scratch` receives the plaintext frame, at least as long as `raw`), parses the
/// [`KeyExchange`] and stores it for the header's VIN. Returns the stored key's type.
/// An encrypted exchange without a matching `unwrap` cipher is [`Error::CipherMismatch`].
/// A plaintext exchange is accepted: on a link that is not otherwise protected, refuse it
/// before calling this (its header's encryption is 0x01).
pub fn accept_key_exchange<K: KeyStore + ?Sized>(
    raw: &RawFrame<'_>,
    unwrap: Option<&dyn DataUnitCipher>,
    scratch: &mut [u8],
    store: &mut K,
) -> Result<Encryption> {
    let h = &raw.header;
    if h.edition != Edition::V2025 || h.command != Command::KEY_EXCHANGE || !h.response.is_command() {
        return Err(Error::Codec(crate::Error::Malformed {
            what: "not a key exchange request",
            offset: 0,
        }));
    }
    let plain = if h.encryption.is_encrypted(h.edition) && !raw.data.is_empty() {
        let c = unwrap.ok_or(Error::CipherMismatch {
            frame: h.encryption,
            cipher: Encryption::NONE,
        })?;
        decrypt_raw_frame(raw, c, scratch)?
    } else {
        *raw
    };
    let exchange = KeyExchange::parse(plain.data)?;
    store.store(&h.vin.0, &exchange)?;
    Ok(exchange.key_type)
}

/// Decodes a frame, decrypting its data unit first when `store` holds an AES or SM4 key for the
/// header's VIN and encryption method (`out` receives the plaintext frame). Without such a key
/// the frame is decoded as it is: the data unit stays [`Body::Encrypted`].
#[cfg(any(feature = "aes", feature = "sm4"))]
pub fn decode_with_store<'o, 'a: 'o, K: KeyStore + ?Sized>(
    raw: &RawFrame<'a>,
    store: &K,
    config: super::BlockCipherConfig,
    out: &'o mut [u8],
) -> Result<Frame<'o>> {
    let h = &raw.header;
    if h.encryption.is_encrypted(h.edition) && !raw.data.is_empty() {
        if let Some(key) = store.data_unit_key(&h.vin.0, h.encryption) {
            if let Ok(cipher) = key.cipher(config) {
                return super::decrypt_frame(raw, &cipher, out);
            }
        }
    }
    Ok(Frame::decode(raw)?)
}

#[cfg(test)]
#[allow(unused_imports, dead_code)] // helpers unused by some feature subsets
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::super::testutil::*;
    use super::*;

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

    #[cfg(all(feature = "sm2", feature = "sm4"))]
    #[test]
    fn key_exchange_over_sm2_then_sm4_data_units() {
        use crate::security::{emit_signed_realtime, BlockCipherConfig, Sm2Signer};
        use crate::security::{verify_frame, Verification};
        // Platform side: wrap the SM4 key of the sample 0x0B for the vehicle's public key.
        let keyx = h(KEYX_HEX);
        let frame = Frame::parse(&keyx).unwrap();
        let Body::KeyExchange(exchange) = frame.body else {
            panic!("not a key exchange")
        };
        let wrap = Sm2Cipher::new(None, Some(&h(SM2_PUBLIC)), rng()).unwrap();
        let mut wire = [0u8; 256];
        let n = emit_key_exchange(&frame.header, &exchange, Some(&wrap), &mut wire).unwrap();
        assert_eq!(n, 24 + 97 + 31 + 1);
        assert_eq!(wire[21], 0x04);
        // Vehicle side: unwrap with its private key and store.
        let unwrap = Sm2Cipher::decrypting(&h(SM2_SECRET)).unwrap();
        let mut store: MemoryKeyStore<4> = MemoryKeyStore::new();
        let mut scratch = [0u8; 256];
        let raw = RawFrame::parse(&wire[..n]).unwrap();
        assert_eq!(
            accept_key_exchange(&raw, Some(&unwrap), &mut scratch, &mut store).unwrap(),
            Encryption::SM4
        );
        let vin = frame.header.vin.0;
        // Without the unwrap cipher the encrypted exchange is refused.
        assert!(matches!(
            accept_key_exchange(&raw, None, &mut scratch, &mut store),
            Err(Error::CipherMismatch { .. })
        ));
        let key = store.data_unit_key(&vin, Encryption::SM4).unwrap();
        assert_eq!(key.key, exchange.key);
        assert!(key.is_valid_at(Time::new(2025, 11, 15, 0, 0, 0)));
        assert!(!key.is_valid_at(Time::new(2026, 1, 1, 0, 0, 0)));
        // The vehicle signs, then encrypts a report with the exchanged key (A15) ...
        let reissue = h(REISSUE_HEX);
        let report_frame = Frame::parse(&reissue).unwrap();
        let Body::Realtime2025(report) = report_frame.body else {
            panic!()
        };
        let header = Header {
            vin: frame.header.vin,
            ..report_frame.header
        };
        let mut signer = Sm2Signer::from_bytes(&h(SM2_SECRET)).unwrap();
        let mut tx = [0u8; 512];
        let m = emit_signed_realtime(&header, &report, &mut signer, &mut tx).unwrap();
        let cipher = key.cipher(BlockCipherConfig::default()).unwrap();
        let m = encrypt_frame_in_place(&mut tx[..m + 32], &cipher).unwrap();
        // ... and the platform decodes it through its store, and verifies the plaintext.
        let rx = RawFrame::parse(&tx[..m]).unwrap();
        let mut out = [0u8; 512];
        let decoded = decode_with_store(&rx, &store, BlockCipherConfig::default(), &mut out).unwrap();
        assert!(matches!(decoded.body, Body::Realtime2025(_)));
        let mut out2 = [0u8; 512];
        let plain = decrypt_raw_frame(&rx, &cipher, &mut out2).unwrap();
        assert_eq!(
            verify_frame(&plain, Some(&signer.verifying_key())),
            Some(Verification::Valid)
        );
        // An unknown vehicle's frame stays opaque.
        let empty: MemoryKeyStore<1> = MemoryKeyStore::new();
        let opaque = decode_with_store(&rx, &empty, BlockCipherConfig::default(), &mut out).unwrap();
        assert!(matches!(opaque.body, Body::Encrypted(_)));
    }

    #[cfg(feature = "rsa")]
    #[test]
    fn rsa_data_unit_encryption_is_segmented() {
        let key = rsa_key();
        let c = RsaCipher::new(Some(key.clone()), Some(key.to_public_key()), rng());
        for n in [1usize, 31, 245, 246, 600] {
            let plain: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let mut buf = plain.clone();
            let total = c.ciphertext_len(n);
            assert_eq!(total, n.div_ceil(245) * 256);
            buf.resize(total, 0);
            assert_eq!(c.encrypt(&mut buf, n).unwrap(), total);
            let k = c.decrypt(&mut buf).unwrap();
            assert_eq!(&buf[..k], &plain[..]);
        }
        assert_eq!(c.decrypt(&mut [0u8; 255]), Err(Error::Decrypt));
        let no_peer = RsaCipher::new(Some(key), None, NoRng);
        assert_eq!(no_peer.encrypt(&mut [0u8; 300], 10), Err(Error::InvalidKey));
    }

    fn exchange(key_type: u8, key: &[u8]) -> KeyExchange<'_> {
        KeyExchange {
            key_type: Encryption(key_type),
            key,
            valid_from: Time::new(2025, 1, 1, 0, 0, 0),
            valid_until: Time::new(2025, 12, 31, 23, 59, 59),
        }
    }

    #[test]
    fn memory_key_store() {
        let mut store: MemoryKeyStore<2, 16> = MemoryKeyStore::new();
        let a = *b"VIN00000000000001";
        let b = *b"VIN00000000000002";
        let c = *b"VIN00000000000003";
        assert!(store.is_empty());
        store.store(&a, &exchange(0x05, &[1; 16])).unwrap();
        store.store(&a, &exchange(0x05, &[2; 16])).unwrap(); // replaces
        assert_eq!(store.len(), 1);
        assert_eq!(store.data_unit_key(&a, Encryption::SM4).unwrap().key, &[2; 16]);
        assert!(store.data_unit_key(&a, Encryption::AES).is_none());
        store.store(&b, &exchange(0x03, &[3; 16])).unwrap();
        assert_eq!(store.store(&c, &exchange(0x03, &[4; 16])), Err(Error::KeyStoreFull));
        assert_eq!(
            store.store(&c, &exchange(0x03, &[4; 32])),
            Err(Error::KeyTooLong { len: 32, max: 16 })
        );
        assert_eq!(store.store(&c, &exchange(0x01, &[4; 16])), Err(Error::Unsupported));
        let mid = Time::new(2025, 6, 1, 0, 0, 0);
        assert!(store.data_unit_key_at(&b, Encryption::AES, mid).is_some());
        assert!(store
            .data_unit_key_at(&b, Encryption::AES, Time::new(2026, 1, 1, 0, 0, 0))
            .is_none());
        assert_eq!(store.remove(&a), 1);
        assert_eq!(store.remove_expired(Time::new(2026, 1, 1, 0, 0, 0)), 1);
        assert!(store.is_empty());
        let s = std::format!("{:?}", store.data_unit_key(&a, Encryption::SM4));
        assert_eq!(s, "None");
    }

    #[test]
    fn plaintext_key_exchange_is_stored() {
        let keyx = h(KEYX_HEX);
        let raw = RawFrame::parse(&keyx).unwrap();
        let mut store: MemoryKeyStore<1> = MemoryKeyStore::new();
        let mut scratch = [0u8; 64];
        assert_eq!(
            accept_key_exchange(&raw, None, &mut scratch, &mut store).unwrap(),
            Encryption::SM4
        );
        let k = store.data_unit_key(&raw.header.vin.0, Encryption::SM4).unwrap();
        assert_eq!(k.key, &h("00112233445566778899AABBCCDDEEFF")[..]);
        assert!(
            !std::format!("{k:?}").contains("key: ["),
            "Debug must not print key bytes"
        );
        // Not a key exchange.
        let other = h(REISSUE_HEX);
        assert!(accept_key_exchange(&RawFrame::parse(&other).unwrap(), None, &mut scratch, &mut store).is_err());
    }
}
