//! AES and SM4 data-unit ciphers, and the one ECB/CBC engine with PKCS#7, zero or no padding
//! that both run through ([`BlockCipherConfig`]).

use core::fmt;

use super::{BlockCipherConfig, DataUnitCipher, Mode, Padding};
use crate::frame::Encryption;
use crate::security::{Error, Result};

/// One 16-byte block cipher (AES or SM4), as the modes below use it.
#[cfg(any(feature = "aes", feature = "sm4"))]
trait Block16 {
    fn encrypt_block(&self, b: &mut [u8; 16]);
    fn decrypt_block(&self, b: &mut [u8; 16]);
}

#[cfg(any(feature = "aes", feature = "sm4"))]
fn encrypt_blocks<C: Block16>(c: &C, cfg: &BlockCipherConfig, buf: &mut [u8], n: usize) -> Result<usize> {
    if n > buf.len() {
        return Err(Error::Encrypt);
    }
    let padded = match cfg.padding {
        Padding::Pkcs7 => (n / 16 + 1) * 16,
        Padding::Zero => n.div_ceil(16) * 16,
        Padding::None if n.is_multiple_of(16) => n,
        Padding::None => return Err(Error::Encrypt),
    };
    let prefix = if matches!(cfg.mode, Mode::CbcIvPrefix { .. }) {
        16
    } else {
        0
    };
    let total = prefix + padded;
    if buf.len() < total {
        return Err(Error::BufferTooSmall { needed: total });
    }
    if prefix > 0 {
        buf.copy_within(..n, prefix);
    }
    let fill = match cfg.padding {
        Padding::Pkcs7 => (padded - n) as u8,
        Padding::Zero | Padding::None => 0,
    };
    buf[prefix + n..total].fill(fill);
    let (head, body) = buf[..total].split_at_mut(prefix);
    let (blocks, _) = body.as_chunks_mut::<16>();
    match cfg.mode {
        Mode::Ecb => blocks.iter_mut().for_each(|b| c.encrypt_block(b)),
        Mode::Cbc { iv } | Mode::CbcIvPrefix { iv } => {
            head.copy_from_slice(&iv[..prefix]);
            let mut prev = iv;
            for b in blocks {
                b.iter_mut().zip(prev).for_each(|(x, p)| *x ^= p);
                c.encrypt_block(b);
                prev = *b;
            }
        }
    }
    Ok(total)
}

#[cfg(any(feature = "aes", feature = "sm4"))]
fn decrypt_blocks<C: Block16>(c: &C, cfg: &BlockCipherConfig, buf: &mut [u8]) -> Result<usize> {
    let (iv, prefix) = match cfg.mode {
        Mode::Ecb => ([0; 16], 0),
        Mode::Cbc { iv } => (iv, 0),
        Mode::CbcIvPrefix { .. } => match buf.first_chunk::<16>() {
            Some(iv) => (*iv, 16),
            None => return Err(Error::Decrypt),
        },
    };
    let body = &mut buf[prefix..];
    let (blocks, rest) = body.as_chunks_mut::<16>();
    if !rest.is_empty() || (blocks.is_empty() && cfg.padding == Padding::Pkcs7) {
        return Err(Error::Decrypt);
    }
    match cfg.mode {
        Mode::Ecb => blocks.iter_mut().for_each(|b| c.decrypt_block(b)),
        Mode::Cbc { .. } | Mode::CbcIvPrefix { .. } => {
            let mut prev = iv;
            for b in blocks {
                let ct = *b;
                c.decrypt_block(b);
                b.iter_mut().zip(prev).for_each(|(x, p)| *x ^= p);
                prev = ct;
            }
        }
    }
    let len = body.len();
    let n = match cfg.padding {
        Padding::Pkcs7 => {
            let p = usize::from(body[len - 1]);
            // Check every padding byte without an early exit.
            let bad = body[len - 16..]
                .iter()
                .rev()
                .enumerate()
                .fold(u8::from(p == 0 || p > 16), |acc, (i, &b)| {
                    acc | (u8::from(i < p) & u8::from(b != p as u8))
                });
            if bad != 0 {
                return Err(Error::Decrypt);
            }
            len - p
        }
        Padding::Zero => {
            let zeros = body.iter().rev().take(15).take_while(|&&b| b == 0).count();
            len - zeros
        }
        Padding::None => len,
    };
    if prefix > 0 {
        buf.copy_within(prefix..prefix + n, 0);
    }
    Ok(n)
}

#[cfg(feature = "aes")]
#[derive(Clone)]
enum AesKey {
    A128(aes::Aes128),
    A192(aes::Aes192),
    A256(aes::Aes256),
}

#[cfg(feature = "aes")]
impl Block16 for AesKey {
    fn encrypt_block(&self, b: &mut [u8; 16]) {
        use cipher::{Array, BlockCipherEncrypt};
        let mut blk = Array::from(*b);
        match self {
            AesKey::A128(k) => k.encrypt_block(&mut blk),
            AesKey::A192(k) => k.encrypt_block(&mut blk),
            AesKey::A256(k) => k.encrypt_block(&mut blk),
        }
        *b = blk.into();
    }

    fn decrypt_block(&self, b: &mut [u8; 16]) {
        use cipher::{Array, BlockCipherDecrypt};
        let mut blk = Array::from(*b);
        match self {
            AesKey::A128(k) => k.decrypt_block(&mut blk),
            AesKey::A192(k) => k.decrypt_block(&mut blk),
            AesKey::A256(k) => k.decrypt_block(&mut blk),
        }
        *b = blk.into();
    }
}

/// AES data-unit cipher (0x03). The 2016 edition says AES-128, the 2025 edition only "AES", and
/// rtm_con's samples exchange 32-byte keys, so 16-, 24- and 32-byte keys are accepted.
#[cfg(feature = "aes")]
#[derive(Clone)]
pub struct AesCipher {
    key: AesKey,
    config: BlockCipherConfig,
}

/// The name the 2016 edition uses; the same type as `AesCipher`.
#[cfg(feature = "aes")]
pub type Aes128Cipher = AesCipher;

#[cfg(feature = "aes")]
impl fmt::Debug for AesCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = match self.key {
            AesKey::A128(_) => 128,
            AesKey::A192(_) => 192,
            AesKey::A256(_) => 256,
        };
        f.debug_struct("AesCipher")
            .field("bits", &bits)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "aes")]
impl AesCipher {
    /// An AES cipher over a 16-, 24- or 32-byte key.
    pub fn new(key: &[u8], config: BlockCipherConfig) -> Result<Self> {
        use cipher::KeyInit;
        let key = match key.len() {
            16 => aes::Aes128::new_from_slice(key).map(AesKey::A128),
            24 => aes::Aes192::new_from_slice(key).map(AesKey::A192),
            32 => aes::Aes256::new_from_slice(key).map(AesKey::A256),
            _ => return Err(Error::InvalidKey),
        }
        .map_err(|_| Error::InvalidKey)?;
        Ok(AesCipher { key, config })
    }

    /// AES-128 with the default configuration (ECB, PKCS#7).
    pub fn aes128(key: &[u8; 16]) -> Self {
        use cipher::KeyInit;
        AesCipher {
            key: AesKey::A128(aes::Aes128::new(&(*key).into())),
            config: BlockCipherConfig::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> BlockCipherConfig {
        self.config
    }
}

#[cfg(feature = "aes")]
impl DataUnitCipher for AesCipher {
    fn encryption(&self) -> Encryption {
        Encryption::AES
    }

    fn ciphertext_len(&self, plaintext_len: usize) -> usize {
        self.config.ciphertext_len(plaintext_len)
    }

    fn encrypt(&self, buf: &mut [u8], plaintext_len: usize) -> Result<usize> {
        encrypt_blocks(&self.key, &self.config, buf, plaintext_len)
    }

    fn decrypt(&self, buf: &mut [u8]) -> Result<usize> {
        decrypt_blocks(&self.key, &self.config, buf)
    }
}

#[cfg(feature = "sm4")]
impl Block16 for sm4::Sm4 {
    fn encrypt_block(&self, b: &mut [u8; 16]) {
        use cipher::{Array, BlockCipherEncrypt};
        let mut blk = Array::from(*b);
        BlockCipherEncrypt::encrypt_block(self, &mut blk);
        *b = blk.into();
    }

    fn decrypt_block(&self, b: &mut [u8; 16]) {
        use cipher::{Array, BlockCipherDecrypt};
        let mut blk = Array::from(*b);
        BlockCipherDecrypt::decrypt_block(self, &mut blk);
        *b = blk.into();
    }
}

/// SM4 data-unit cipher (0x05, GB/T 32907), 16-byte key.
#[cfg(feature = "sm4")]
#[derive(Clone)]
pub struct Sm4Cipher {
    key: sm4::Sm4,
    config: BlockCipherConfig,
}

#[cfg(feature = "sm4")]
impl fmt::Debug for Sm4Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sm4Cipher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "sm4")]
impl Sm4Cipher {
    /// An SM4 cipher.
    pub fn new(key: &[u8; 16], config: BlockCipherConfig) -> Self {
        use cipher::KeyInit;
        Sm4Cipher {
            key: sm4::Sm4::new(&(*key).into()),
            config,
        }
    }

    /// An SM4 cipher from a key slice (16 bytes).
    pub fn from_slice(key: &[u8], config: BlockCipherConfig) -> Result<Self> {
        let key: &[u8; 16] = key.try_into().map_err(|_| Error::InvalidKey)?;
        Ok(Self::new(key, config))
    }

    /// The configuration.
    pub fn config(&self) -> BlockCipherConfig {
        self.config
    }
}

#[cfg(feature = "sm4")]
impl DataUnitCipher for Sm4Cipher {
    fn encryption(&self) -> Encryption {
        Encryption::SM4
    }

    fn ciphertext_len(&self, plaintext_len: usize) -> usize {
        self.config.ciphertext_len(plaintext_len)
    }

    fn encrypt(&self, buf: &mut [u8], plaintext_len: usize) -> Result<usize> {
        encrypt_blocks(&self.key, &self.config, buf, plaintext_len)
    }

    fn decrypt(&self, buf: &mut [u8]) -> Result<usize> {
        decrypt_blocks(&self.key, &self.config, buf)
    }
}

/// Either symmetric cipher, chosen at run time (e.g. from a key store's key type).
#[cfg(any(feature = "aes", feature = "sm4"))]
#[derive(Debug, Clone)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // no allocator to box the AES key schedule into
pub enum BlockCipher {
    /// AES.
    #[cfg(feature = "aes")]
    Aes(AesCipher),
    /// SM4.
    #[cfg(feature = "sm4")]
    Sm4(Sm4Cipher),
}

#[cfg(any(feature = "aes", feature = "sm4"))]
impl BlockCipher {
    /// The cipher for a data-unit key of type `encryption` (0x03 AES, 0x05 SM4);
    /// [`Error::Unsupported`] for other types or one not compiled in.
    pub fn new(encryption: Encryption, key: &[u8], config: BlockCipherConfig) -> Result<Self> {
        match encryption {
            #[cfg(feature = "aes")]
            Encryption::AES => AesCipher::new(key, config).map(BlockCipher::Aes),
            #[cfg(feature = "sm4")]
            Encryption::SM4 => Sm4Cipher::from_slice(key, config).map(BlockCipher::Sm4),
            _ => Err(Error::Unsupported),
        }
    }

    fn inner(&self) -> &dyn DataUnitCipher {
        match self {
            #[cfg(feature = "aes")]
            BlockCipher::Aes(c) => c,
            #[cfg(feature = "sm4")]
            BlockCipher::Sm4(c) => c,
        }
    }
}

#[cfg(any(feature = "aes", feature = "sm4"))]
impl DataUnitCipher for BlockCipher {
    fn encryption(&self) -> Encryption {
        self.inner().encryption()
    }

    fn ciphertext_len(&self, plaintext_len: usize) -> usize {
        self.inner().ciphertext_len(plaintext_len)
    }

    fn encrypt(&self, buf: &mut [u8], plaintext_len: usize) -> Result<usize> {
        self.inner().encrypt(buf, plaintext_len)
    }

    fn decrypt(&self, buf: &mut [u8]) -> Result<usize> {
        self.inner().decrypt(buf)
    }
}

#[cfg(test)]
#[allow(unused_imports, dead_code)] // helpers unused by some feature subsets
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::security::testutil::*;

    const MODES: [Mode; 3] = [
        Mode::Ecb,
        Mode::Cbc { iv: [0x5A; 16] },
        Mode::CbcIvPrefix { iv: [0xC3; 16] },
    ];

    #[cfg(any(feature = "aes", feature = "sm4"))]
    fn round_trips(make: impl Fn(BlockCipherConfig) -> BlockCipher) {
        for mode in MODES {
            for padding in [Padding::Pkcs7, Padding::Zero, Padding::None] {
                let c = make(BlockCipherConfig { mode, padding });
                for n in 0..=50usize {
                    // Zero padding cannot restore trailing zeros; no padding needs whole blocks.
                    let plain: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(7).wrapping_add(1)).collect();
                    let mut buf = plain.clone();
                    buf.resize(c.ciphertext_len(n), 0xEE);
                    let r = c.encrypt(&mut buf, n);
                    if padding == Padding::None && n % 16 != 0 {
                        assert_eq!(r, Err(Error::Encrypt));
                        continue;
                    }
                    let m = r.unwrap();
                    assert_eq!(m, c.ciphertext_len(n), "{mode:?} {padding:?} {n}");
                    assert_eq!(m % 16, 0);
                    if n > 0 {
                        assert_ne!(&buf[..n], &plain[..], "not encrypted");
                    }
                    let k = c.decrypt(&mut buf[..m]).unwrap();
                    assert_eq!(&buf[..k], &plain[..], "{mode:?} {padding:?} {n}");
                }
            }
        }
    }

    #[cfg(feature = "aes")]
    #[test]
    fn aes_round_trips_in_every_mode_and_padding() {
        round_trips(|cfg| BlockCipher::Aes(AesCipher::new(&[0x42; 16], cfg).unwrap()));
        round_trips(|cfg| BlockCipher::Aes(AesCipher::new(&[0x42; 32], cfg).unwrap()));
    }

    #[cfg(feature = "sm4")]
    #[test]
    fn sm4_round_trips_in_every_mode_and_padding() {
        round_trips(|cfg| BlockCipher::Sm4(Sm4Cipher::new(&[0x42; 16], cfg)));
    }

    #[cfg(feature = "aes")]
    #[test]
    fn aes_nist_vectors() {
        let none = |mode| BlockCipherConfig {
            mode,
            padding: Padding::None,
        };
        // FIPS-197 appendix C.1.
        let c = AesCipher::new(&h("000102030405060708090a0b0c0d0e0f"), none(Mode::Ecb)).unwrap();
        let mut b = h("00112233445566778899aabbccddeeff");
        assert_eq!(c.encrypt(&mut b, 16).unwrap(), 16);
        assert_eq!(b, h("69c4e0d86a7b0430d8cdb78070b4c55a"));
        // SP 800-38A F.1.1 (ECB-AES128) and F.2.1 (CBC-AES128), all four blocks.
        let key = h("2b7e151628aed2a6abf7158809cf4f3c");
        let plain = h(concat!(
            "6bc1bee22e409f96e93d7e117393172a",
            "ae2d8a571e03ac9c9eb76fac45af8e51",
            "30c81c46a35ce411e5fbc1191a0a52ef",
            "f69f2445df4f9b17ad2b417be66c3710"
        ));
        let ecb = h(concat!(
            "3ad77bb40d7a3660a89ecaf32466ef97",
            "f5d3d58503b9699de785895a96fdbaaf",
            "43b1cd7f598ece23881b00e3ed030688",
            "7b0c785e27e8ad3f8223207104725dd4"
        ));
        let cbc = h(concat!(
            "7649abac8119b246cee98e9b12e9197d",
            "5086cb9b507219ee95db113a917678b2",
            "73bed6b8e3c1743b7116e69e22229516",
            "3ff1caa1681fac09120eca307586e1a7"
        ));
        let iv: [u8; 16] = h("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        for (mode, expected) in [(Mode::Ecb, ecb), (Mode::Cbc { iv }, cbc)] {
            let c = AesCipher::new(&key, none(mode)).unwrap();
            let mut b = plain.clone();
            assert_eq!(c.encrypt(&mut b, 64).unwrap(), 64);
            assert_eq!(b, expected, "{mode:?}");
            assert_eq!(c.decrypt(&mut b).unwrap(), 64);
            assert_eq!(b, plain);
        }
    }

    #[cfg(feature = "sm4")]
    #[test]
    fn sm4_standard_example() {
        // GB/T 32907-2016 appendix A, example 1: key = plaintext = 0123456789ABCDEFFEDCBA9876543210.
        let kp = h("0123456789ABCDEFFEDCBA9876543210");
        let c = Sm4Cipher::from_slice(
            &kp,
            BlockCipherConfig {
                mode: Mode::Ecb,
                padding: Padding::None,
            },
        )
        .unwrap();
        let mut b = kp.clone();
        c.encrypt(&mut b, 16).unwrap();
        assert_eq!(b, h("681EDF34D206965E86B3E94F536E4246"));
        c.decrypt(&mut b).unwrap();
        assert_eq!(b, kp);
    }

    #[cfg(feature = "sm4")]
    #[test]
    fn sm4_standard_example_million_rounds() {
        // GB/T 32907-2016 appendix A, example 2: the same block encrypted 1 000 000 times.
        let kp = h("0123456789ABCDEFFEDCBA9876543210");
        let c = Sm4Cipher::from_slice(
            &kp,
            BlockCipherConfig {
                mode: Mode::Ecb,
                padding: Padding::None,
            },
        )
        .unwrap();
        let mut b = kp.clone();
        for _ in 0..1_000_000 {
            c.encrypt(&mut b, 16).unwrap();
        }
        assert_eq!(b, h("595298C7C6FD271F0402F804C33D3F66"));
    }

    #[cfg(feature = "sm4")]
    #[test]
    fn bad_ciphertexts_are_decrypt_errors() {
        let c = Sm4Cipher::new(&[1; 16], BlockCipherConfig::default());
        assert_eq!(c.decrypt(&mut []), Err(Error::Decrypt));
        assert_eq!(c.decrypt(&mut [0; 15]), Err(Error::Decrypt));
        // A wrong key almost never yields valid PKCS#7 padding.
        let mut buf = [7u8; 32];
        let n = c.encrypt(&mut buf, 16).unwrap();
        let wrong = Sm4Cipher::new(&[2; 16], BlockCipherConfig::default());
        let mut copy = buf;
        assert_eq!(wrong.decrypt(&mut copy[..n]), Err(Error::Decrypt));
        // Too small a buffer.
        let mut small = [0u8; 20];
        assert_eq!(c.encrypt(&mut small, 16), Err(Error::BufferTooSmall { needed: 32 }));
        let p = Sm4Cipher::new(
            &[1; 16],
            BlockCipherConfig {
                mode: Mode::CbcIvPrefix { iv: [0; 16] },
                padding: Padding::Pkcs7,
            },
        );
        assert_eq!(p.decrypt(&mut [0; 16]), Err(Error::Decrypt), "IV only");
    }
}
