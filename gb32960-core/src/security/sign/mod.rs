//! Producing vehicle signatures: the [`Signer`] trait and signed frames.
//!
//! A T-Box normally keeps its private key in a secure element; it implements [`Signer`] over
//! the element's API and hands it to [`emit_signed_realtime`] / [`emit_signed_activation`],
//! which write the frame, sign the bytes just written and append the signature, without
//! allocating. The software signers (`Sm2Signer`, `P256Signer`, `RsaSigner`) serve
//! simulators, tests and platforms.
//!
//! SM2 and ECDSA signatures are deterministic (the nonce comes from RFC 6979's HMAC-DRBG, which
//! the RustCrypto crates use), so no random number generator is needed on the device. RSA
//! PKCS#1 v1.5 signatures are deterministic by construction; `RsaSigner` takes a generator
//! only to blind the private-key operation against timing attacks.

#[cfg(any(feature = "sm2", feature = "p256", feature = "rsa"))]
mod software;

#[cfg(feature = "p256")]
pub use software::P256Signer;
#[cfg(feature = "rsa")]
pub use software::RsaSigner;
#[cfg(feature = "sm2")]
pub use software::Sm2Signer;

use super::{Error, Result};
use crate::frame::{bcc, emit_frame, Command, Edition, Encryption, Header, RawFrame};
use crate::message::Activation;
use crate::realtime::v2025::{self, InfoBlock};
use crate::signature::SignatureAlgorithm;
use crate::wire::Writer;

/// Produces vehicle signatures. Implemented by the software signers of this module and, on a
/// T-Box, over a secure element.
pub trait Signer {
    /// The signature type written before R and S (T8).
    fn algorithm(&self) -> SignatureAlgorithm;

    /// Signs `message` (the exact bytes the signature covers; hashing is the signer's job:
    /// SM3 with `Z_A` for SM2, SHA-256 for RSA and ECDSA P-256), writes R into `r` and S into
    /// `s`, and returns their lengths. SM2 and ECDSA write 32 bytes each (big-endian, left-padded
    /// with zeros); RSA writes the whole signature into `r` and nothing into `s` (notes 2025 A3).
    ///
    /// [`emit_signed_realtime`] passes the rest of the output buffer as `r` and a buffer of
    /// [`MAX_S_LEN`] bytes as `s`. A signer whose output does not fit returns
    /// [`Error::BufferTooSmall`].
    fn sign(&mut self, message: &[u8], r: &mut [u8], s: &mut [u8]) -> Result<(usize, usize)>;
}

impl<T: Signer + ?Sized> Signer for &mut T {
    fn algorithm(&self) -> SignatureAlgorithm {
        (**self).algorithm()
    }

    fn sign(&mut self, message: &[u8], r: &mut [u8], s: &mut [u8]) -> Result<(usize, usize)> {
        (**self).sign(message, r, s)
    }
}

/// The largest S a [`Signer`] may return to the frame helpers (66 bytes are enough for ECDSA
/// over P-521; SM2 and P-256 use 32, RSA none).
pub const MAX_S_LEN: usize = 128;

fn check_header(header: &Header, commands: &[Command]) -> Result<()> {
    if header.edition != Edition::V2025 {
        return Err(Error::Codec(crate::Error::Unencodable {
            what: "vehicle signatures exist only in the 2025 edition",
        }));
    }
    if header.encryption != Encryption::NONE {
        return Err(Error::Codec(crate::Error::Unencodable {
            what: "sign the plaintext frame, then encrypt it (encrypt_frame_in_place, notes A15)",
        }));
    }
    if !commands.contains(&header.command) {
        return Err(Error::Codec(crate::Error::Unencodable {
            what: "only real-time, reissue and activation frames are signed",
        }));
    }
    Ok(())
}

/// Writes a signed 2025 real-time (0x02) or reissue (0x03) frame into `buf` and returns its
/// length: the header, `report`'s time and blocks, the 0xFF marker and the signature `signer`
/// makes over the time and blocks as written (marker not signed, notes 2025 §13 A1), the length
/// and the BCC. Any signature already in `report` is ignored.
///
/// The header must be of the 2025 edition with encryption 0x01: to send the frame encrypted,
/// pass the result to [`super::encrypt_frame_in_place`] (sign, then encrypt, A15).
pub fn emit_signed_realtime<S: Signer + ?Sized>(
    header: &Header,
    report: &v2025::RealtimeReport<'_>,
    signer: &mut S,
    buf: &mut [u8],
) -> Result<usize> {
    check_header(header, &[Command::REALTIME, Command::REISSUE])?;
    if report.iter().any(|b| matches!(b, InfoBlock::Unsized { .. })) {
        return Err(Error::Codec(crate::Error::Unencodable {
            what: "a block without a length cannot precede the signature",
        }));
    }
    let unsigned = v2025::RealtimeReport {
        signature: None,
        ..*report
    };
    emit_signed(header, buf, true, signer, |w| unsigned.emit_signed_part(w))
}

/// Writes a signed 2025 activation (0x09) frame into `buf` and returns its length: the
/// signature covers the time through the last VIN byte and follows the VIN without a marker
/// (T B.3, notes A2). Any signature already in `activation` is ignored. The public key in
/// `activation` should be the signer's (e.g. `public_key_wire`).
pub fn emit_signed_activation<S: Signer + ?Sized>(
    header: &Header,
    activation: &Activation<'_>,
    signer: &mut S,
    buf: &mut [u8],
) -> Result<usize> {
    check_header(header, &[Command::ACTIVATION])?;
    emit_signed(header, buf, false, signer, |w| activation.emit_signed_part(w))
}

fn emit_signed<S: Signer + ?Sized>(
    header: &Header,
    buf: &mut [u8],
    marker: bool,
    signer: &mut S,
    signed_part: impl FnOnce(&mut Writer<'_>) -> crate::error::Result<()>,
) -> Result<usize> {
    let mut failure = None;
    let written = emit_frame(header, buf, |w| {
        let start = w.position();
        signed_part(w)?;
        let end = w.position();
        match sign_into(w.buffer_mut(), start, end, marker, signer) {
            Ok(n) => w.reserve(n).map(|_| ()),
            Err(e) => {
                failure = Some(e);
                Err(crate::Error::Unencodable { what: "signature" })
            }
        }
    });
    match (written, failure) {
        (_, Some(e)) => Err(e),
        (Ok(n), None) => Ok(n),
        (Err(e), None) => Err(e.into()),
    }
}

/// Signs `buf[start..end]` and writes `[FF] type Rlen R Slen S` from `end`; returns its length.
fn sign_into<S: Signer + ?Sized>(
    buf: &mut [u8],
    start: usize,
    end: usize,
    marker: bool,
    signer: &mut S,
) -> Result<usize> {
    let (done, rest) = buf.split_at_mut(end);
    let message = &done[start..];
    let head = usize::from(marker) + 3;
    if rest.len() < head + 2 {
        return Err(Error::BufferTooSmall {
            needed: end + head + 2 + 1,
        });
    }
    let algorithm = signer.algorithm();
    let r_end = rest.len() - 2;
    let mut s_buf = [0u8; MAX_S_LEN];
    let (rl, sl) = signer.sign(message, &mut rest[head..r_end], &mut s_buf)?;
    if rl > r_end - head || sl > MAX_S_LEN {
        return Err(Error::Signer);
    }
    let rl16 = u16::try_from(rl).map_err(|_| Error::SignatureTooLong)?;
    let sl16 = u16::try_from(sl).map_err(|_| Error::SignatureTooLong)?;
    let total = head + rl + 2 + sl;
    if total > rest.len() {
        return Err(Error::BufferTooSmall {
            needed: end + total + 1,
        });
    }
    let mut i = 0;
    if marker {
        rest[0] = v2025::block_type::SIGNATURE;
        i = 1;
    }
    rest[i] = algorithm.0;
    rest[i + 1..i + 3].copy_from_slice(&rl16.to_be_bytes());
    let s_at = head + rl;
    rest[s_at..s_at + 2].copy_from_slice(&sl16.to_be_bytes());
    rest[s_at + 2..s_at + 2 + sl].copy_from_slice(&s_buf[..sl]);
    Ok(total)
}

/// Turns a real-time frame (0x02) at the start of `frame` into a reissue frame (0x03) in place:
/// only the command byte and the BCC change. The data unit, and with it the signature made
/// when the record was sampled, stays as it is (notes 2025 §13 A20). Works on encrypted frames
/// too. Returns the frame's length.
pub fn make_reissue(frame: &mut [u8]) -> Result<usize> {
    let (raw, len) = RawFrame::parse_prefix(frame)?;
    if raw.header.command != Command::REALTIME {
        return Err(Error::Codec(crate::Error::Unencodable {
            what: "only a real-time frame (0x02) becomes a reissue frame",
        }));
    }
    frame[2] = Command::REISSUE.0;
    frame[len - 1] = bcc(&frame[2..len - 1]);
    Ok(len)
}

#[cfg(test)]
#[allow(unused_imports, dead_code)] // helpers unused by some feature subsets
mod tests {
    extern crate std;
    use std::vec;

    use super::super::testutil::*;
    use super::super::{verify_frame, Verification, VerifyingKey};
    use super::*;
    use crate::message::{Body, Frame};

    fn report_of<'a>(frame: &Frame<'a>) -> v2025::RealtimeReport<'a> {
        match frame.body {
            Body::Realtime2025(r) => r,
            ref other => panic!("not a 2025 report: {other:?}"),
        }
    }

    /// A secure element that fails, or claims more bytes than it was given.
    struct Faulty {
        lie: bool,
    }

    impl Signer for Faulty {
        fn algorithm(&self) -> SignatureAlgorithm {
            SignatureAlgorithm::SM2
        }

        fn sign(&mut self, _m: &[u8], r: &mut [u8], _s: &mut [u8]) -> Result<(usize, usize)> {
            if self.lie {
                Ok((r.len() + 1, 0))
            } else {
                Err(Error::Signer)
            }
        }
    }

    #[cfg(feature = "sm2")]
    #[test]
    fn signed_realtime_frame_matches_the_vector_but_for_the_signature() {
        let original = h(REISSUE_HEX);
        let frame = Frame::parse(&original).unwrap();
        let mut signer = Sm2Signer::from_bytes(&h(SM2_SECRET)).unwrap();
        let mut buf = [0u8; 512];
        let n = emit_signed_realtime(&frame.header, &report_of(&frame), &mut signer, &mut buf).unwrap();
        assert_eq!(n, original.len());
        // Header, time, blocks, marker, type and R length are the same; R and S differ (k).
        assert_eq!(&buf[..24 + 40 + 4], &original[..24 + 40 + 4]);
        let out = RawFrame::parse(&buf[..n]).unwrap();
        let key = VerifyingKey::sm2_from_wire(&h(SM2_PUBLIC)).unwrap();
        assert_eq!(verify_frame(&out, Some(&key)), Some(Verification::Valid));
        // Deterministic nonce: the same frame again.
        let mut again = [0u8; 512];
        let m = emit_signed_realtime(&frame.header, &report_of(&frame), &mut signer, &mut again).unwrap();
        assert_eq!(&buf[..n], &again[..m]);
        // It decodes, and re-emits byte for byte.
        let decoded = Frame::parse(&buf[..n]).unwrap();
        let mut round = [0u8; 512];
        assert_eq!(decoded.emit(&mut round).unwrap(), n);
        assert_eq!(&round[..n], &buf[..n]);
    }

    #[cfg(feature = "sm2")]
    #[test]
    fn every_short_buffer_is_an_error_not_a_panic() {
        let original = h(REISSUE_HEX);
        let frame = Frame::parse(&original).unwrap();
        let mut signer = Sm2Signer::from_bytes(&h(SM2_SECRET)).unwrap();
        for len in 0..original.len() {
            let mut buf = vec![0u8; len];
            let r = emit_signed_realtime(&frame.header, &report_of(&frame), &mut signer, &mut buf);
            assert!(matches!(r, Err(Error::BufferTooSmall { .. })), "len {len}: {r:?}");
        }
    }

    #[cfg(feature = "sm2")]
    #[test]
    fn signed_activation_verifies_with_its_own_key() {
        let original = h(ACTIVATION_HEX);
        let frame = Frame::parse(&original).unwrap();
        let Body::Activation(act) = frame.body else {
            panic!("not an activation")
        };
        let mut signer = Sm2Signer::from_bytes(&h(SM2_SECRET)).unwrap();
        assert_eq!(&signer.public_key_wire()[..], act.public_key);
        assert_eq!(signer.public_key_sec1().to_vec(), h(SM2_PUBLIC));
        let mut buf = [0u8; 512];
        let n = emit_signed_activation(&frame.header, &act, &mut signer, &mut buf).unwrap();
        assert_eq!(n, original.len());
        assert_eq!(&buf[..24 + 105 + 3], &original[..24 + 105 + 3]);
        assert_eq!(
            verify_frame(&RawFrame::parse(&buf[..n]).unwrap(), None),
            Some(Verification::Valid)
        );
    }

    #[cfg(feature = "sm2")]
    #[test]
    fn headers_that_cannot_carry_a_signature_are_refused() {
        let original = h(REISSUE_HEX);
        let frame = Frame::parse(&original).unwrap();
        let report = report_of(&frame);
        let mut signer = Sm2Signer::from_bytes(&h(SM2_SECRET)).unwrap();
        let mut buf = [0u8; 512];
        for header in [
            Header {
                edition: Edition::V2016,
                ..frame.header
            },
            Header {
                encryption: Encryption::SM4,
                ..frame.header
            },
            Header {
                command: Command::VEHICLE_LOGIN,
                ..frame.header
            },
        ] {
            assert!(matches!(
                emit_signed_realtime(&header, &report, &mut signer, &mut buf),
                Err(Error::Codec(crate::Error::Unencodable { .. }))
            ));
        }
    }

    #[test]
    fn signer_failures_surface() {
        let original = h(REISSUE_HEX);
        let frame = Frame::parse(&original).unwrap();
        let mut buf = [0u8; 512];
        for lie in [false, true] {
            let r = emit_signed_realtime(&frame.header, &report_of(&frame), &mut Faulty { lie }, &mut buf);
            assert_eq!(r, Err(Error::Signer));
        }
    }

    #[test]
    fn reissue_keeps_the_data_unit() {
        let mut frame = h(REISSUE_HEX);
        frame[2] = 0x02;
        let n = frame.len();
        frame[n - 1] = bcc(&frame[2..n - 1]);
        assert_eq!(make_reissue(&mut frame).unwrap(), n);
        assert_eq!(frame, h(REISSUE_HEX));
        assert!(make_reissue(&mut frame).is_err(), "already a reissue frame");
    }

    #[cfg(feature = "p256")]
    #[test]
    fn p256_signed_frame() {
        let original = h(REISSUE_HEX);
        let frame = Frame::parse(&original).unwrap();
        let mut signer = P256Signer::from_bytes(&h(P256_SECRET)).unwrap();
        let mut buf = [0u8; 512];
        let n = emit_signed_realtime(&frame.header, &report_of(&frame), &mut signer, &mut buf).unwrap();
        assert_eq!(buf[24 + 40 + 1], 0x03);
        let out = RawFrame::parse(&buf[..n]).unwrap();
        assert_eq!(
            verify_frame(&out, Some(&signer.verifying_key())),
            Some(Verification::Valid)
        );
    }

    #[cfg(feature = "rsa")]
    #[test]
    fn rsa_signed_frame_through_dyn_signer() {
        let original = h(REISSUE_HEX);
        let frame = Frame::parse(&original).unwrap();
        let mut rsa = RsaSigner::new(rsa_key(), rng());
        let key = rsa.verifying_key();
        let signer: &mut dyn Signer = &mut rsa;
        let mut buf = [0u8; 512];
        let n = emit_signed_realtime(&frame.header, &report_of(&frame), signer, &mut buf).unwrap();
        // FF 02 01 00 <256> 00 00, as rtm_con writes it.
        assert_eq!(n, 24 + 40 + 262 + 1);
        assert_eq!(&buf[24 + 40..24 + 44], &[0xFF, 0x02, 0x01, 0x00]);
        assert_eq!(&buf[n - 3..n - 1], &[0x00, 0x00]);
        let out = RawFrame::parse(&buf[..n]).unwrap();
        assert_eq!(verify_frame(&out, Some(&key)), Some(Verification::Valid));
    }
}
