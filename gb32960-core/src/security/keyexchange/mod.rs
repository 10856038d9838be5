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
//!
//! [`KeyExchange`]: crate::message::KeyExchange

mod frame;
#[cfg(feature = "rsa")]
mod rsa_cipher;
#[cfg(feature = "sm2")]
mod sm2_cipher;
mod store;

#[cfg(any(feature = "aes", feature = "sm4"))]
pub use frame::decode_with_store;
pub use frame::{accept_key_exchange, emit_key_exchange};
#[cfg(feature = "rsa")]
pub use rsa_cipher::RsaCipher;
#[cfg(feature = "sm2")]
pub use sm2_cipher::{
    sm2_decrypt_in_place, sm2_encrypt_in_place, sm2_public_from_wire, Sm2Cipher, Sm2CiphertextFormat, Sm2Order,
};
pub use store::{DataUnitKey, KeyStore, MemoryKeyStore};

#[cfg(any(feature = "sm2", feature = "rsa"))]
use core::fmt;

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
