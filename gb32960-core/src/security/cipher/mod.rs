//! Data-unit encryption (header byte 21): the [`DataUnitCipher`] trait, AES and SM4, and the
//! frame helpers that decrypt a frame before decoding it and encrypt one before the BCC.
//!
//! # Mode and padding: what we default to, and why
//!
//! The standard says only "AES" (0x03) and "SM4" (0x05): no mode, no padding, no IV, and the
//! data-unit length L is the ciphertext length (2025 T2; notes §13). Both are configurable here
//! ([`BlockCipherConfig`]); the default is **ECB with PKCS#7 padding**, for these reasons:
//!
//! * Every implementation we found pads with **PKCS#7** (Java's "PKCS5Padding" is PKCS#7 on
//!   16-byte blocks): the two open GB/T 32960 SDKs that decrypt data units
//!   (`DarkInno/gb32960-go-sdk`, `crypto.go`: `pkcs7Pad`/`pkcs7Unpad`;
//!   `darkinno-tech/gb32960-java-sdk`,
//!   `gb32960-core/.../core/crypto/AesCryptoProvider.java`: `"AES/CBC/PKCS5Padding"`), the
//!   Python `gmssl` package the Chinese ecosystem uses (`gmssl/sm4.py`: `CryptSM4`, PKCS7 by
//!   default), Hutool's `SM4` (`dromara/hutool`, `hutool-crypto/.../symmetric/SM4.java`), and
//!   the SM4 helpers of Java platforms (`"SM4/ECB/PKCS5Padding"`, `"SM4/CBC/PKCS7Padding"`).
//! * **ECB** is what a Java platform gets when it names only the algorithm
//!   (`Cipher.getInstance("AES")`, Hutool's `new SM4(key)`: the JCE and BouncyCastle default to
//!   `ECB/PKCS5Padding`), it is gmssl's primary SM4 call (`crypt_ecb`), and it is the only mode
//!   that needs no IV, which the frame has no field for. The two GB/T 32960 SDKs that chose CBC
//!   disagree on the IV (the Go SDK uses the key as IV; the Java SDK sends a random IV as the
//!   first 16 bytes of the data unit), so CBC cannot interoperate without an out-of-band
//!   agreement anyway. Both of their conventions are available: [`Mode::Cbc`] with `iv` = the
//!   key, and [`Mode::CbcIvPrefix`].
//!
//! ECB leaks equal plaintext blocks and CBC with padding errors reported back (response 0x07)
//! is a padding oracle; the vehicle signature, made over the plaintext (A15), is what protects
//! integrity. Choose CBC with an agreed IV if the peer supports it.
//!
//! # Order (notes 2025 §13 A15)
//!
//! Sender: sign the plaintext, encrypt the whole data unit ([`encrypt_frame_in_place`]), then
//! the BCC over the ciphertext. Receiver: BCC ([`RawFrame::parse`]), decrypt
//! ([`decrypt_raw_frame`]), then verify ([`super::verify_frame`]) and decode. A frame whose key
//! is unknown stays decodable as [`crate::Body::Encrypted`].
//!
//! [`RawFrame::parse`]: crate::frame::RawFrame::parse

#[cfg(any(feature = "aes", feature = "sm4"))]
mod block;
mod frame;

#[cfg(any(feature = "aes", feature = "sm4"))]
pub use block::BlockCipher;
#[cfg(feature = "sm4")]
pub use block::Sm4Cipher;
#[cfg(feature = "aes")]
pub use block::{Aes128Cipher, AesCipher};
pub use frame::{decrypt_frame, decrypt_raw_frame, emit_encrypted, encrypt_frame, encrypt_frame_in_place};

use core::fmt;

use super::Result;
use crate::frame::Encryption;

/// Encrypts and decrypts a data unit in place, without allocating.
pub trait DataUnitCipher {
    /// The header's encryption code for data units this cipher produces (0x02-0x05).
    fn encryption(&self) -> Encryption;

    /// The ciphertext length for `plaintext_len` bytes (the buffer size [`Self::encrypt`]
    /// needs).
    fn ciphertext_len(&self, plaintext_len: usize) -> usize;

    /// Encrypts `buf[..plaintext_len]` in place and returns the ciphertext length; the
    /// ciphertext is `buf[..n]`. `buf` must have room for the padding (see
    /// [`Self::ciphertext_len`]).
    fn encrypt(&self, buf: &mut [u8], plaintext_len: usize) -> Result<usize>;

    /// Decrypts all of `buf` in place and returns the plaintext length; the plaintext is
    /// `buf[..n]`.
    fn decrypt(&self, buf: &mut [u8]) -> Result<usize>;
}

impl<T: DataUnitCipher + ?Sized> DataUnitCipher for &T {
    fn encryption(&self) -> Encryption {
        (**self).encryption()
    }

    fn ciphertext_len(&self, plaintext_len: usize) -> usize {
        (**self).ciphertext_len(plaintext_len)
    }

    fn encrypt(&self, buf: &mut [u8], plaintext_len: usize) -> Result<usize> {
        (**self).encrypt(buf, plaintext_len)
    }

    fn decrypt(&self, buf: &mut [u8]) -> Result<usize> {
        (**self).decrypt(buf)
    }
}

/// Block-cipher mode. The standard names none; see the module documentation.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mode {
    /// Electronic codebook: each 16-byte block on its own. The default.
    #[default]
    Ecb,
    /// Cipher block chaining with a fixed, agreed IV (`DarkInno/gb32960-go-sdk` uses the key).
    Cbc {
        /// The initialisation vector.
        iv: [u8; 16],
    },
    /// CBC with the IV sent as the first 16 bytes of the data unit
    /// (`darkinno-tech/gb32960-java-sdk`). `iv` is the IV used when *encrypting* and must be
    /// fresh for every data unit; decryption reads the IV from the data unit.
    CbcIvPrefix {
        /// The IV for the next encryption.
        iv: [u8; 16],
    },
}

impl fmt::Debug for Mode {
    // The IV is left out: some peers use the key as IV.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Ecb => "Ecb",
            Mode::Cbc { .. } => "Cbc { .. }",
            Mode::CbcIvPrefix { .. } => "CbcIvPrefix { .. }",
        })
    }
}

/// Padding of the last block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Padding {
    /// PKCS#7 (Java's "PKCS5Padding"): 1-16 bytes, each equal to the count. The default.
    #[default]
    Pkcs7,
    /// Zero bytes up to the block boundary, none when already aligned. Decryption strips up to
    /// 15 trailing zero bytes, which corrupts a plaintext that itself ends in 0x00: interop
    /// only.
    Zero,
    /// No padding: the plaintext must be a whole number of blocks.
    None,
}

/// Mode and padding of an AES or SM4 data-unit cipher. `Default` is ECB + PKCS#7.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BlockCipherConfig {
    /// The mode.
    pub mode: Mode,
    /// The padding.
    pub padding: Padding,
}

impl BlockCipherConfig {
    /// ECB with PKCS#7, the default.
    pub const ECB_PKCS7: BlockCipherConfig = BlockCipherConfig {
        mode: Mode::Ecb,
        padding: Padding::Pkcs7,
    };

    /// CBC with a fixed IV and PKCS#7.
    pub const fn cbc_pkcs7(iv: [u8; 16]) -> Self {
        BlockCipherConfig {
            mode: Mode::Cbc { iv },
            padding: Padding::Pkcs7,
        }
    }

    /// The ciphertext length for `n` plaintext bytes (for [`Padding::None`], `n` rounded up).
    pub const fn ciphertext_len(&self, n: usize) -> usize {
        let body = match self.padding {
            Padding::Pkcs7 => (n / 16 + 1) * 16,
            Padding::Zero | Padding::None => n.div_ceil(16) * 16,
        };
        match self.mode {
            Mode::CbcIvPrefix { .. } => body + 16,
            Mode::Ecb | Mode::Cbc { .. } => body,
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    #[test]
    fn default_is_ecb_pkcs7_and_debug_hides_the_iv() {
        assert_eq!(BlockCipherConfig::default(), BlockCipherConfig::ECB_PKCS7);
        let cfg = BlockCipherConfig::cbc_pkcs7([0xAB; 16]);
        let s = std::format!("{cfg:?}");
        assert!(!s.contains("171"), "{s}");
        assert_eq!(cfg.ciphertext_len(16), 32);
    }
}
