//! Vehicle signatures, data-unit encryption and the key exchange of the 2025 edition.
//!
//! Everything here sits on top of the codec: it never changes how a frame is parsed, it only
//! adds what the standard asks a sender or receiver to do with the bytes.
//!
//! * [`verify`](mod@verify): [`verify()`], [`verify_frame`] and [`VerifyingKey`]: check the
//!   vehicle signature of real-time (0x02), reissue (0x03) and activation (0x09) frames, with a
//!   per-frame answer [`Verification`] (valid, invalid, unsupported algorithm, no key).
//! * [`sign`]: the [`Signer`] trait (a T-Box implements it with its secure element), software
//!   signers, and [`emit_signed_realtime`] / [`emit_signed_activation`], which write a complete
//!   signed frame into a caller's buffer.
//! * [`cipher`]: the [`DataUnitCipher`] trait, AES and SM4 in ECB or CBC mode with a
//!   configurable padding, and the frame helpers [`decrypt_frame`] / [`encrypt_frame_in_place`].
//! * [`keyexchange`]: public-key encryption of data units (SM2 per GB/T 32918.4, RSA PKCS#1
//!   v1.5), used for the 0x0B key exchange, and the [`KeyStore`] hook with a fixed-capacity
//!   in-memory store.
//!
//! # Conventions (notes 2025 §4 and §13)
//!
//! The standard names the algorithms but none of the details. We follow the recommendations of
//! the implementer's notes, which the shared sample frames follow too:
//!
//! * **What is signed** (A1, A2): real-time and reissue reports from the first byte of the
//!   collection time through the last byte of the last information block, *without* the 0xFF
//!   marker (rtm_con and sunsky74 do the same); [`MarkerPolicy`] lets a verifier also try the
//!   range with the marker, as A1 allows. Activation: from the time through the last VIN byte.
//! * **SM2** (0x01, A3): SM3 over `Z_A ‖ M` with the default user ID [`DEFAULT_SM2_ID`]
//!   (`1234567812345678`, GB/T 32918.2 / GB/T 35276), R and S as 32-byte big-endian integers
//!   (shorter values are left-padded when verifying); public key 64 bytes `X ‖ Y` (65 bytes with
//!   a leading 0x04 are accepted).
//! * **RSA** (0x02, A3, rtm_con's convention): PKCS#1 v1.5 with SHA-256; the whole signature in
//!   R and S empty; the activation's public key is the modulus followed by a 3-byte exponent.
//! * **ECC** (0x03): the standard names no curve. *Our* choice is ECDSA over NIST P-256 with
//!   SHA-256, R and S 32 bytes each, public key SEC1. Another curve verifies as
//!   [`Verification::Invalid`] against a P-256 key.
//! * **Sign, then encrypt, then the BCC** (A15): a sender emits the signed plaintext frame
//!   ([`emit_signed_realtime`]) and then encrypts its data unit ([`encrypt_frame_in_place`]); a
//!   receiver checks the BCC, decrypts ([`decrypt_raw_frame`]) and verifies the plaintext.
//! * **Reissue** (A20): a report is signed when sampled and reissued unchanged; only the header's
//!   command changes, which the signature does not cover ([`sign::make_reissue`]).
//! * **Key exchange** (A6): the 0x0B data unit is encrypted with the peer's public key (header
//!   0x02 RSA or 0x04 SM2) when one is known; its plaintext is parsed by the codec
//!   ([`crate::message::KeyExchange`]) and handed to a [`KeyStore`].
//!
//! # Features
//!
//! `sm2`, `p256`, `aes` and `sm4` work in `no_std` without an allocator; `rsa` and `pem` need
//! `alloc`. Nothing in this module panics on any input.

pub mod cipher;
pub mod keyexchange;
#[cfg(feature = "pem")]
pub mod pem;
pub mod sign;
pub mod verify;

use core::fmt;

use crate::frame::{Encryption, ResponseFlag};
use crate::signature::SignatureAlgorithm;

#[cfg(any(feature = "aes", feature = "sm4"))]
pub use cipher::BlockCipher;
#[cfg(feature = "sm4")]
pub use cipher::Sm4Cipher;
pub use cipher::{
    decrypt_frame, decrypt_raw_frame, emit_encrypted, encrypt_frame, encrypt_frame_in_place, BlockCipherConfig,
    DataUnitCipher, Mode, Padding,
};
#[cfg(feature = "aes")]
pub use cipher::{Aes128Cipher, AesCipher};
#[cfg(any(feature = "aes", feature = "sm4"))]
pub use keyexchange::decode_with_store;
#[cfg(feature = "rsa")]
pub use keyexchange::RsaCipher;
pub use keyexchange::{accept_key_exchange, emit_key_exchange, DataUnitKey, KeyStore, MemoryKeyStore};
#[cfg(any(feature = "sm2", feature = "rsa"))]
pub use keyexchange::{NoRng, NoRngError};
#[cfg(feature = "sm2")]
pub use keyexchange::{Sm2Cipher, Sm2CiphertextFormat, Sm2Order};
#[cfg(feature = "p256")]
pub use sign::P256Signer;
#[cfg(feature = "rsa")]
pub use sign::RsaSigner;
#[cfg(feature = "sm2")]
pub use sign::Sm2Signer;
pub use sign::{emit_signed_activation, emit_signed_realtime, Signer};
pub use verify::{signed_parts, verify, verify_frame, verify_frame_with, MarkerPolicy, SignedParts, VerifyingKey};

/// The default SM2 user ID (distinguishing identifier) of GB/T 32918.2 / GB/T 35276, used for
/// `Z_A` unless a key is built with another one.
pub const DEFAULT_SM2_ID: &str = "1234567812345678";

/// The outcome of checking one frame's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Verification {
    /// The signature is correct for the key.
    Valid,
    /// The signature does not match the signed bytes or the key, the key is of another algorithm
    /// than the signature, or the frame is too malformed to find what was signed.
    Invalid,
    /// The signature type is reserved, or its algorithm is not compiled in (cargo feature off).
    Unsupported,
    /// The algorithm is supported but no key was given (and the frame carries none).
    NoKey,
}

impl Verification {
    /// Whether the signature checked out.
    pub const fn is_valid(self) -> bool {
        matches!(self, Verification::Valid)
    }

    /// The response flag a platform sends for this outcome: 0x05 (signature verification failed)
    /// for [`Verification::Invalid`], nothing otherwise (notes 2025 §3.2). Whether an
    /// unsupported algorithm or a missing key is also an error is the platform's policy.
    pub const fn response_flag(self) -> Option<ResponseFlag> {
        match self {
            Verification::Invalid => Some(ResponseFlag::SIGNATURE_FAILED),
            _ => None,
        }
    }

    /// A stable snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            Verification::Valid => "valid",
            Verification::Invalid => "invalid",
            Verification::Unsupported => "unsupported",
            Verification::NoKey => "no_key",
        }
    }
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Errors of signing, encryption and key handling. Small and `Copy`, like [`crate::Error`],
/// which it wraps for everything about the frame layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// Parsing or emitting the frame failed.
    Codec(crate::Error),
    /// The output buffer is too small; `needed` bytes are required.
    BufferTooSmall { needed: usize },
    /// Key bytes that are not a valid key for the algorithm.
    InvalidKey,
    /// The algorithm is reserved or not compiled in.
    Unsupported,
    /// The signer failed (a secure element error, a key that cannot sign, ...).
    Signer,
    /// The signature does not fit the wire format (R or S longer than 65535 bytes, or longer
    /// than the buffers allow).
    SignatureTooLong,
    /// Encryption failed (plaintext too long for the key, empty plaintext for SM2, ...).
    Encrypt,
    /// Decryption failed: wrong length, bad padding, or an integrity check (SM2 C3) failed.
    Decrypt,
    /// The random number generator failed or none was given.
    Rng,
    /// The frame's encryption method is not the cipher's.
    CipherMismatch { frame: Encryption, cipher: Encryption },
    /// The key store has no free slot.
    KeyStoreFull,
    /// A key longer than the key store can hold.
    KeyTooLong { len: usize, max: usize },
}

impl Error {
    /// A short, stable, machine-friendly name.
    pub const fn kind(&self) -> &'static str {
        match self {
            Error::Codec(e) => e.kind(),
            Error::BufferTooSmall { .. } => "buffer_too_small",
            Error::InvalidKey => "invalid_key",
            Error::Unsupported => "unsupported",
            Error::Signer => "signer",
            Error::SignatureTooLong => "signature_too_long",
            Error::Encrypt => "encrypt",
            Error::Decrypt => "decrypt",
            Error::Rng => "rng",
            Error::CipherMismatch { .. } => "cipher_mismatch",
            Error::KeyStoreFull => "key_store_full",
            Error::KeyTooLong { .. } => "key_too_long",
        }
    }

    /// The response flag a receiver sends for this error: 0x07 (decryption error) when the data
    /// unit could not be decrypted, 0x06 (data structure error) when it does not parse.
    pub const fn response_flag(&self) -> Option<ResponseFlag> {
        match self {
            Error::Decrypt | Error::CipherMismatch { .. } => Some(ResponseFlag::DECRYPTION_FAILED),
            Error::Codec(_) => Some(ResponseFlag::STRUCTURE_ERROR),
            _ => None,
        }
    }
}

impl From<crate::Error> for Error {
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::BufferTooSmall { needed } => Error::BufferTooSmall { needed },
            other => Error::Codec(other),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Codec(e) => e.fmt(f),
            Error::BufferTooSmall { needed } => write!(f, "output buffer too small: {needed} bytes needed"),
            Error::InvalidKey => f.write_str("invalid key"),
            Error::Unsupported => f.write_str("algorithm reserved or not compiled in"),
            Error::Signer => f.write_str("the signer failed"),
            Error::SignatureTooLong => f.write_str("signature does not fit the wire format"),
            Error::Encrypt => f.write_str("encryption failed"),
            Error::Decrypt => f.write_str("decryption failed"),
            Error::Rng => f.write_str("random number generator failed or missing"),
            Error::CipherMismatch { frame, cipher } => write!(
                f,
                "frame encrypted with method 0x{:02X}, cipher is 0x{:02X}",
                frame.0, cipher.0
            ),
            Error::KeyStoreFull => f.write_str("key store full"),
            Error::KeyTooLong { len, max } => write!(f, "key of {len} bytes, the store holds at most {max}"),
        }
    }
}

impl core::error::Error for Error {}

/// Result alias of this module.
pub type Result<T> = core::result::Result<T, Error>;

/// Whether `algorithm` can be verified and produced by this build.
pub const fn is_supported(algorithm: SignatureAlgorithm) -> bool {
    (algorithm.0 == 0x01 && cfg!(feature = "sm2"))
        || (algorithm.0 == 0x02 && cfg!(feature = "rsa"))
        || (algorithm.0 == 0x03 && cfg!(feature = "p256"))
}

/// Left-pads (or strips leading zero bytes from) a big-endian integer to exactly `N` bytes.
/// `None` when it does not fit.
#[cfg_attr(not(any(feature = "sm2", feature = "p256", feature = "rsa")), allow(dead_code))]
pub(crate) fn fixed_be<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    let b = &b[first..];
    if b.len() > N {
        return None;
    }
    let mut out = [0u8; N];
    out[N - b.len()..].copy_from_slice(b);
    Some(out)
}

/// A public key in SEC1 form as the wire may carry it: 64 bytes `X ‖ Y` get the 0x04
/// point-format byte in front (in `buf`); anything else is returned as it is, SEC1 already or
/// for the key parser to refuse.
#[cfg(any(feature = "sm2", feature = "p256"))]
pub(crate) fn sec1_from_wire<'a>(bytes: &'a [u8], buf: &'a mut [u8; 65]) -> &'a [u8] {
    if bytes.len() == 64 {
        buf[0] = 0x04;
        buf[1..].copy_from_slice(bytes);
        buf
    } else {
        bytes
    }
}

/// Keys and frames shared by the unit tests of this module.
#[cfg(test)]
#[allow(dead_code)] // not every feature subset uses every key
pub(crate) mod testutil {
    extern crate std;
    use std::vec::Vec;

    /// `2025_reissue_alarm_level4_thermal_event` of `shared/vectors/handmade-2025.jsonl`: SM2,
    /// signed without the marker.
    pub const REISSUE_HEX: &str = "242403FE4C4643563230323554455354303030303101006E190B03091D32060400800003020A0000010A00000200000003170401030002080101000441426C87FF01002006935BD3E083F1273E01086BCA775FFE4A83FFF43066F26D2E77A4FC367A839A002066F5142B9681792E1AB380B87E2B19CD32D904F6CDB10C7C33B6762FBF4811AED8";
    /// `2025_activation_0x09_sm2`: carries the test public key, signed with it.
    pub const ACTIVATION_HEX: &str = "242409FE4C464356323032355445535430303030310100AE190B010800005343323032354348495030303031202000402225E3F2D9014482A6DB1248666A839E272DEA7D4ACA9E5E406963A401CC26E3AC6E9732124BAA46F3EC12E630E8E0CAA2541CFC6B3472A4D234AFBBEFB941474C46435632303235544553543030303031010020EB15F7C7D33061E1983EBA3625AF94596AE0F045830828ED682673B40E4966B60020201779B2AE6A830FA088EF286A66924AD4476C02D42381E2C4C78D79BC15E16160";
    /// `2025_key_exchange_0x0B_sm4_downlink`: SM4 key 00112233..FF, plaintext.
    pub const KEYX_HEX: &str =
        "24240BFE4C4643563230323554455354303030303101001F05001000112233445566778899AABBCCDDEEFF190B03000000190C03000000C4";
    /// The SM2 test key of the shared vectors.
    pub const SM2_SECRET: &str = "7F66CFCF4EEF476C27B61D806883DE4B1434994F68803E48FF68B672C4C4413A";
    pub const SM2_PUBLIC: &str = "042225E3F2D9014482A6DB1248666A839E272DEA7D4ACA9E5E406963A401CC26E3AC6E9732124BAA46F3EC12E630E8E0CAA2541CFC6B3472A4D234AFBBEFB94147";
    /// The same public key as SubjectPublicKeyInfo PEM (written by OpenSSL 3).
    pub const SM2_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAEIiXj8tkBRIKm2xJIZmqDnict6n1K
yp5eQGljpAHMJuOsbpcyEkuqRvPsEuYw6ODKolQc/Gs0cqTSNK+777lBRw==
-----END PUBLIC KEY-----
";
    /// RFC 6979 A.2.5 (P-256) private key.
    pub const P256_SECRET: &str = "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721";
    /// A 2048-bit RSA test key (primes; e = 65537), made with `openssl genpkey`.
    pub const RSA_P: &str = "C81D9B9DD7442D4CC001C638DC87F429039639350D07BFD34C273D508C4AD53BE6AE985D602EDB3751D7DFC97CA0BC91EC273BB515B665E50FA9373D001795C6C6B63880EEAD1680465D1F65DF3D37107AA949BD00EFB8EDB0DF2E6A4B9E351079811D5915E7F1EE05E048CEEC31ECF9917449C03A84D62C48C06FA8C12BEFAD";
    pub const RSA_Q: &str = "C66D92DE5B8EAC7519C3E15C69428C63A7559553F5DFA730E61C38EB600106EA155E70DF6382FEE31B1840506DBDAFE75DC9EA83EEF84DFE1644F2B2DA41921CA615E5E3C3AC9C2D70F0E1AF2A0115450C1AB43974A3DA1EBF7672D6C511D21F127FE7E2EEB6AE06498D0BFF37A764409D3AADD6ECA853D7EC37B105278D6067";

    pub fn h(s: &str) -> Vec<u8> {
        hex::decode(s).expect("hex")
    }

    /// Recomputes the BCC of a whole frame after an edit.
    pub fn fix_bcc(frame: &mut [u8]) {
        let n = frame.len();
        frame[n - 1] = crate::frame::bcc(&frame[2..n - 1]);
    }

    /// A frame that must parse.
    pub fn raw(bytes: &[u8]) -> crate::frame::RawFrame<'_> {
        crate::frame::RawFrame::parse(bytes).expect("frame")
    }

    /// The SM2 test key, to verify with.
    #[cfg(feature = "sm2")]
    pub fn sm2_key() -> super::VerifyingKey {
        super::VerifyingKey::sm2_from_wire(&h(SM2_PUBLIC)).unwrap()
    }

    #[cfg(feature = "rsa")]
    pub fn rsa_key() -> rsa::PrivateKey {
        use rsa::BoxedUint;
        let p = BoxedUint::from_be_slice_vartime(&h(RSA_P));
        let q = BoxedUint::from_be_slice_vartime(&h(RSA_Q));
        rsa::PrivateKey::from_p_q(p, q, BoxedUint::from(65537u32)).expect("rsa key")
    }

    pub fn rng() -> getrandom::SysRng {
        getrandom::SysRng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_be_pads_and_strips() {
        assert_eq!(fixed_be::<4>(&[1, 2]), Some([0, 0, 1, 2]));
        assert_eq!(fixed_be::<2>(&[0, 0, 1, 2]), Some([1, 2]));
        assert_eq!(fixed_be::<2>(&[1, 2, 3]), None);
        assert_eq!(fixed_be::<2>(&[]), Some([0, 0]));
    }

    #[test]
    fn verification_maps_to_response_flags() {
        assert_eq!(
            Verification::Invalid.response_flag(),
            Some(ResponseFlag::SIGNATURE_FAILED)
        );
        assert_eq!(Verification::Valid.response_flag(), None);
        assert_eq!(Error::Decrypt.response_flag(), Some(ResponseFlag::DECRYPTION_FAILED));
        assert_eq!(Verification::NoKey.to_string(), "no_key");
    }
}
