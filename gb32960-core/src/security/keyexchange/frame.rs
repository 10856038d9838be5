//! The 0x0B frame helpers: emit a key exchange (wrapped for the peer), accept one into a
//! [`KeyStore`], and decode frames with the keys stored.

use super::KeyStore;
use crate::frame::{Command, Edition, Encryption, Header, RawFrame};
use crate::message::{Body, Frame, KeyExchange};
use crate::security::cipher::{decrypt_raw_frame, encrypt_frame_in_place, DataUnitCipher};
use crate::security::{Error, Result};

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
    config: crate::security::BlockCipherConfig,
    out: &'o mut [u8],
) -> Result<Frame<'o>> {
    let h = &raw.header;
    if h.encryption.is_encrypted(h.edition) && !raw.data.is_empty() {
        if let Some(key) = store.data_unit_key(&h.vin.0, h.encryption) {
            if let Ok(cipher) = key.cipher(config) {
                return crate::security::decrypt_frame(raw, &cipher, out);
            }
        }
    }
    Ok(Frame::decode(raw)?)
}

#[cfg(test)]
#[allow(unused_imports, dead_code)] // helpers unused by some feature subsets
mod tests {
    extern crate std;

    use super::*;
    use crate::security::keyexchange::MemoryKeyStore;
    #[cfg(feature = "sm2")]
    use crate::security::keyexchange::Sm2Cipher;
    use crate::security::testutil::*;
    use crate::wire::Time;

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
