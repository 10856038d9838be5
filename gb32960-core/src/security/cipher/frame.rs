//! The frame helpers: decrypt a frame's data unit before decoding it, encrypt it before the BCC
//! (notes 2025 §13 A15).

use super::DataUnitCipher;
use crate::frame::{bcc, Encryption, Header, RawFrame};
use crate::message::Frame;
use crate::security::{Error, Result};
use crate::wire::Writer;
use crate::{HEADER_LEN, MAX_DATA_UNIT_LEN};

/// Decrypts a frame's data unit into `out` and returns the plaintext frame, re-emitted there
/// with encryption 0x01, the plaintext length and a new BCC (so it can be decoded, verified or
/// forwarded as is). Frames that are not encrypted (0x01, abnormal/invalid/reserved codes, an
/// empty data unit) are copied unchanged. [`Error::CipherMismatch`] when the frame's method is
/// not the cipher's; [`Error::Decrypt`] when the ciphertext is wrong (answer 0x07).
pub fn decrypt_raw_frame<'o, C: DataUnitCipher + ?Sized>(
    raw: &RawFrame<'_>,
    cipher: &C,
    out: &'o mut [u8],
) -> Result<RawFrame<'o>> {
    let h = raw.header;
    let len = raw.data.len();
    let needed = HEADER_LEN + len + 1;
    if out.len() < needed {
        return Err(Error::BufferTooSmall { needed });
    }
    let encrypted = h.encryption.is_encrypted(h.edition) && len > 0;
    if encrypted && h.encryption != cipher.encryption() {
        return Err(Error::CipherMismatch {
            frame: h.encryption,
            cipher: cipher.encryption(),
        });
    }
    let header = Header {
        encryption: if encrypted { Encryption::NONE } else { h.encryption },
        ..h
    };
    header.emit(&mut Writer::new(&mut out[..HEADER_LEN]), 0)?;
    out[HEADER_LEN..HEADER_LEN + len].copy_from_slice(raw.data);
    let n = if encrypted {
        cipher.decrypt(&mut out[HEADER_LEN..HEADER_LEN + len])?
    } else {
        len
    };
    out[22..24].copy_from_slice(&(n as u16).to_be_bytes());
    out[HEADER_LEN + n] = bcc(&out[2..HEADER_LEN + n]);
    let out: &'o [u8] = out;
    Ok(RawFrame {
        header,
        data: &out[HEADER_LEN..HEADER_LEN + n],
    })
}

/// [`decrypt_raw_frame`], then decodes the plaintext frame.
pub fn decrypt_frame<'o, C: DataUnitCipher + ?Sized>(
    raw: &RawFrame<'_>,
    cipher: &C,
    out: &'o mut [u8],
) -> Result<Frame<'o>> {
    let plain = decrypt_raw_frame(raw, cipher, out)?;
    Ok(Frame::decode(&plain)?)
}

/// Encrypts the data unit of the plaintext frame at the start of `buf` in place: sets the
/// header's encryption code, the new length and the BCC over the ciphertext (A15), and returns
/// the new frame length. `buf` must have room for the padding after the frame. A frame with an
/// empty data unit is left unchanged (there is nothing to encrypt); one that is already
/// encrypted is an error.
pub fn encrypt_frame_in_place<C: DataUnitCipher + ?Sized>(buf: &mut [u8], cipher: &C) -> Result<usize> {
    let (raw, total) = RawFrame::parse_prefix(buf)?;
    let h = raw.header;
    let len = raw.data.len();
    if len == 0 {
        return Ok(total);
    }
    if h.encryption.is_encrypted(h.edition) {
        return Err(Error::Codec(crate::Error::Unencodable {
            what: "the data unit is already encrypted",
        }));
    }
    let code = cipher.encryption();
    if !code.is_encrypted(h.edition) {
        return Err(Error::Codec(crate::Error::Unencodable {
            what: "encryption method not defined in this edition",
        }));
    }
    let m = cipher.ciphertext_len(len);
    if m > MAX_DATA_UNIT_LEN {
        return Err(Error::Codec(crate::Error::Unencodable {
            what: "data unit longer than 65531 bytes once encrypted",
        }));
    }
    if buf.len() < HEADER_LEN + m + 1 {
        return Err(Error::BufferTooSmall {
            needed: HEADER_LEN + m + 1,
        });
    }
    let end = buf.len() - 1;
    let m = cipher.encrypt(&mut buf[HEADER_LEN..end], len)?;
    if m > MAX_DATA_UNIT_LEN {
        return Err(Error::Encrypt);
    }
    buf[21] = code.0;
    buf[22..24].copy_from_slice(&(m as u16).to_be_bytes());
    buf[HEADER_LEN + m] = bcc(&buf[2..HEADER_LEN + m]);
    Ok(HEADER_LEN + m + 1)
}

/// Copies `raw` into `out` with its data unit encrypted (see [`encrypt_frame_in_place`]).
pub fn encrypt_frame<C: DataUnitCipher + ?Sized>(raw: &RawFrame<'_>, cipher: &C, out: &mut [u8]) -> Result<usize> {
    raw.emit(out)?;
    encrypt_frame_in_place(out, cipher)
}

/// Emits `frame` into `buf` with its data unit encrypted: the frame is written as plaintext
/// (whatever its header's encryption code says) and then encrypted in place.
pub fn emit_encrypted<C: DataUnitCipher + ?Sized>(frame: &Frame<'_>, cipher: &C, buf: &mut [u8]) -> Result<usize> {
    let plain = Frame {
        header: Header {
            encryption: Encryption::NONE,
            ..frame.header
        },
        body: frame.body,
    };
    plain.emit(buf)?;
    encrypt_frame_in_place(buf, cipher)
}

#[cfg(test)]
#[allow(unused_imports, dead_code)] // helpers unused by some feature subsets
mod tests {
    use super::*;
    use crate::frame::Edition;
    #[cfg(feature = "aes")]
    use crate::security::cipher::AesCipher;
    use crate::security::cipher::BlockCipherConfig;
    #[cfg(feature = "sm4")]
    use crate::security::cipher::Sm4Cipher;
    use crate::security::testutil::*;

    #[cfg(all(feature = "sm4", feature = "sm2"))]
    #[test]
    fn encrypted_frame_round_trip_then_verify() {
        use crate::security::{verify_frame, Verification, VerifyingKey};
        let plain = h(REISSUE_HEX);
        let raw = RawFrame::parse(&plain).unwrap();
        let c = Sm4Cipher::new(&[9; 16], BlockCipherConfig::default());
        let mut enc = [0u8; 512];
        let n = encrypt_frame(&raw, &c, &mut enc).unwrap();
        assert_eq!(n, 24 + 112 + 1);
        let enc_raw = RawFrame::parse(&enc[..n]).unwrap();
        assert_eq!(enc_raw.header.encryption, Encryption::SM4);
        // Without the key it is still a frame, with an opaque data unit.
        assert!(matches!(
            Frame::decode(&enc_raw).unwrap().body,
            crate::Body::Encrypted(_)
        ));
        // Decrypted: the original frame, byte for byte, and its signature verifies.
        let mut out = [0u8; 512];
        let back = decrypt_raw_frame(&enc_raw, &c, &mut out).unwrap();
        let key = VerifyingKey::sm2_from_wire(&h(SM2_PUBLIC)).unwrap();
        assert_eq!(verify_frame(&back, Some(&key)), Some(Verification::Valid));
        assert_eq!(back.data, raw.data);
        let mut re = [0u8; 512];
        let m = back.emit(&mut re).unwrap();
        assert_eq!(&re[..m], &plain[..]);
        let mut out2 = [0u8; 512];
        let frame = decrypt_frame(&enc_raw, &c, &mut out2).unwrap();
        assert_eq!(frame, Frame::parse(&plain).unwrap());
        // Another method than the frame's, a wrong key, a short buffer.
        #[cfg(feature = "aes")]
        {
            let aes = AesCipher::aes128(&[9; 16]);
            assert!(matches!(
                decrypt_raw_frame(&enc_raw, &aes, &mut out),
                Err(Error::CipherMismatch { .. })
            ));
        }
        // A wrong key fails the padding check, or (1 time in ~256) yields garbage.
        for k in 0..8u8 {
            let wrong = Sm4Cipher::new(&[k; 16], BlockCipherConfig::default());
            match decrypt_raw_frame(&enc_raw, &wrong, &mut out) {
                Err(e) => assert_eq!(e, Error::Decrypt),
                Ok(f) => assert_ne!(f.data, raw.data),
            }
        }
        assert!(matches!(
            decrypt_raw_frame(&enc_raw, &c, &mut out[..100]),
            Err(Error::BufferTooSmall { .. })
        ));
        // Encrypting twice is refused; a plaintext frame passes through decryption unchanged.
        assert!(encrypt_frame_in_place(&mut enc, &c).is_err());
        let same = decrypt_raw_frame(&raw, &c, &mut out).unwrap();
        assert_eq!(same, raw);
    }

    #[cfg(feature = "sm4")]
    #[test]
    fn emit_encrypted_and_empty_data_units() {
        let keyx = h(KEYX_HEX);
        let frame = Frame::parse(&keyx).unwrap();
        let c = Sm4Cipher::new(&[3; 16], BlockCipherConfig::cbc_pkcs7([4; 16]));
        let mut buf = [0u8; 128];
        let n = emit_encrypted(&frame, &c, &mut buf).unwrap();
        assert_eq!(n, 24 + 32 + 1);
        let mut out = [0u8; 128];
        assert_eq!(
            decrypt_frame(&RawFrame::parse(&buf[..n]).unwrap(), &c, &mut out).unwrap(),
            frame
        );
        // A heartbeat has nothing to encrypt.
        let hb = Frame {
            header: Header::command(Edition::V2025, crate::Command::HEARTBEAT, frame.header.vin),
            body: crate::Body::Heartbeat,
        };
        let n = emit_encrypted(&hb, &c, &mut buf).unwrap();
        assert_eq!(n, 25);
        assert_eq!(buf[21], 0x01);
        // SM4 does not exist in the 2016 edition.
        let old = Frame {
            header: Header {
                edition: Edition::V2016,
                ..frame.header
            },
            body: crate::Body::Other(&[1, 2, 3]),
        };
        assert!(emit_encrypted(&old, &c, &mut buf).is_err());
    }
}
