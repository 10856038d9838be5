//! What a signature covers: locating it and the signed bytes in a frame's data unit (notes 2025
//! §13 A1, A2), and whether the 0xFF marker is part of them ([`MarkerPolicy`]).

use crate::frame::{Command, Edition, RawFrame};
use crate::message::Activation;
use crate::realtime::v2025;
use crate::signature::Signature;

/// Whether the 0xFF marker of a real-time/reissue report is inside the signed range (notes 2025
/// §13 A1). Activation frames have no marker; the policy does not affect them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MarkerPolicy {
    /// The recommendation (rtm_con, sunsky74, the shared vectors): the marker is not signed.
    #[default]
    Excluded,
    /// The literal reading of T7 against T8: the marker is the last signed byte.
    Included,
    /// Try without the marker; if that is invalid, try with it (A1: "verifiers may retry with
    /// 0xFF included before reporting 0x05").
    ExcludedThenIncluded,
}

/// What a frame's signature covers, located in its data unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedParts<'a> {
    /// The bytes the signature covers under the recommended conventions (A1 without the marker;
    /// A2 for activation).
    pub signed: &'a [u8],
    /// The same bytes followed by the 0xFF marker (real-time and reissue only).
    pub signed_with_marker: Option<&'a [u8]>,
    /// The signature.
    pub signature: Signature<'a>,
    /// The public key an activation carries (activation only).
    pub activation_key: Option<&'a [u8]>,
}

/// Locates the signature of a frame and the bytes it covers.
///
/// `Ok(None)` for frames that carry no signature: the 2016 edition, responses (flag ≠ 0xFE),
/// commands other than 0x02/0x03/0x09, an unsigned 2025 real-time report (A14), and an
/// encrypted data unit (decrypt it first with [`super::decrypt_raw_frame`], A15). A platform
/// that requires signed reports must treat `None` for a 2025 0x02/0x03/0x09 request as a
/// failure: stripping a signature is as easy as forging one.
///
/// When the blocks parse without a signature, the data unit is searched for `FF type Rlen R
/// Slen S` ending exactly at its end: a block without a length (types 0x09-0x2F and 0x33-0x7F,
/// notes §6.2) swallows the signature, and an altered block byte can move the marker inside a
/// block; such frames then verify (or fail) instead of passing as unsigned. An unsigned report
/// that happens to end in such a pattern (e.g. `FF FF 00 00 00 00`) is then reported as signed
/// and fails verification: unsigned reports do not conform anyway (A14).
/// `Err` when the data unit does not parse.
///
/// [`super::decrypt_raw_frame`]: crate::security::decrypt_raw_frame
pub fn signed_parts<'a>(frame: &RawFrame<'a>) -> crate::error::Result<Option<SignedParts<'a>>> {
    let h = &frame.header;
    let data = frame.data;
    if h.edition != Edition::V2025 || !h.response.is_command() || h.encryption.is_encrypted(h.edition) {
        return Ok(None);
    }
    match h.command {
        Command::REALTIME | Command::REISSUE => {
            let report = v2025::RealtimeReport::parse(data)?;
            let (n, signature) = match report.signature {
                Some(s) => (report.signed_len(), s),
                None => match trailing_signature(data) {
                    Some(found) => found,
                    None => return Ok(None),
                },
            };
            Ok(Some(SignedParts {
                signed: &data[..n],
                signed_with_marker: Some(&data[..n + 1]),
                signature,
                activation_key: None,
            }))
        }
        Command::ACTIVATION => {
            let a = Activation::parse(data)?;
            Ok(Some(SignedParts {
                signed: &data[..a.signed_len()],
                signed_with_marker: None,
                signature: a.signature,
                activation_key: Some(a.public_key),
            }))
        }
        _ => Ok(None),
    }
}

/// When parsing the blocks finds no signature, look for `FF | signature` ending exactly at the
/// end of the data unit. That finds a signature a block without a length swallowed (types
/// 0x09-0x2F, 0x33-0x7F, notes §6.2), and keeps a frame whose block bytes were altered (so that
/// the marker now sits inside a block) from passing as unsigned. A wrong guess can only fail to
/// verify.
fn trailing_signature(data: &[u8]) -> Option<(usize, Signature<'_>)> {
    (crate::wire::Time::LEN..data.len()).find_map(|p| {
        if data[p] != v2025::block_type::SIGNATURE {
            return None;
        }
        match Signature::parse(&data[p + 1..]) {
            Ok(([], s)) => Some((p, s)),
            _ => None,
        }
    })
}

#[cfg(test)]
#[allow(unused_imports, dead_code)] // helpers unused by some feature subsets
mod tests {
    use super::*;
    use crate::security::testutil::*;
    use crate::security::verify::{verify_frame, verify_frame_with};
    use crate::security::Verification;

    #[cfg(feature = "sm2")]
    #[test]
    fn marker_policy() {
        use crate::security::{Signer, Sm2Signer};
        let key = sm2_key();
        let frame = h(REISSUE_HEX);
        let r = raw(&frame);
        assert_eq!(
            verify_frame_with(&r, Some(&key), MarkerPolicy::Included),
            Some(Verification::Invalid)
        );
        assert_eq!(
            verify_frame_with(&r, Some(&key), MarkerPolicy::ExcludedThenIncluded),
            Some(Verification::Valid)
        );
        // A frame whose signature covers the marker too (the literal reading of T7).
        let mut signer = Sm2Signer::from_bytes(&h(SM2_SECRET)).unwrap();
        let signed_with_marker = &frame[24..24 + 41];
        let (mut rb, mut sb) = ([0u8; 32], [0u8; 32]);
        signer.sign(signed_with_marker, &mut rb, &mut sb).unwrap();
        let mut other = frame.clone();
        let n = other.len();
        other[n - 1 - 64 - 2..n - 1 - 32 - 2].copy_from_slice(&rb);
        other[n - 1 - 32..n - 1].copy_from_slice(&sb);
        fix_bcc(&mut other);
        let r = raw(&other);
        assert_eq!(verify_frame(&r, Some(&key)), Some(Verification::Invalid));
        assert_eq!(
            verify_frame_with(&r, Some(&key), MarkerPolicy::Included),
            Some(Verification::Valid)
        );
        assert_eq!(
            verify_frame_with(&r, Some(&key), MarkerPolicy::ExcludedThenIncluded),
            Some(Verification::Valid)
        );
    }

    #[cfg(feature = "sm2")]
    #[test]
    fn frames_without_a_signature_give_none() {
        let key = sm2_key();
        // Key exchange: never signed.
        let keyx = h(KEYX_HEX);
        assert_eq!(verify_frame(&raw(&keyx), Some(&key)), None);
        // A 2016 frame with the same bytes after the start symbol.
        let mut old = h(REISSUE_HEX);
        old[0] = b'#';
        old[1] = b'#';
        assert_eq!(verify_frame(&raw(&old), Some(&key)), None);
        // A response (flag 0x01).
        let mut resp = h(REISSUE_HEX);
        resp[3] = 0x01;
        fix_bcc(&mut resp);
        assert_eq!(verify_frame(&raw(&resp), Some(&key)), None);
        // Encrypted: the signature cannot be seen before decryption.
        let mut enc = h(REISSUE_HEX);
        enc[21] = 0x05;
        fix_bcc(&mut enc);
        assert_eq!(verify_frame(&raw(&enc), Some(&key)), None);
        // An unsigned report (time and blocks only, A14).
        let signed = h(REISSUE_HEX);
        let mut unsigned = signed[..24 + 40].to_vec();
        unsigned[22..24].copy_from_slice(&40u16.to_be_bytes());
        unsigned.push(0);
        fix_bcc(&mut unsigned);
        assert_eq!(verify_frame(&raw(&unsigned), Some(&key)), None);
        // A truncated signature: the data unit does not parse, which fails closed.
        let mut broken = signed[..signed.len() - 2].to_vec();
        let l = broken.len() - 24;
        broken[22..24].copy_from_slice(&(l as u16).to_be_bytes());
        broken.push(0);
        fix_bcc(&mut broken);
        assert!(signed_parts(&raw(&broken)).is_err());
        assert_eq!(verify_frame(&raw(&broken), Some(&key)), Some(Verification::Invalid));
    }

    #[cfg(feature = "sm2")]
    #[test]
    fn a_signature_inside_a_block_without_length_is_found() {
        use crate::security::{Signer, Sm2Signer};
        extern crate std;
        // Time, a platform-custom block 0x10 (no length on the wire), then FF and the signature.
        let mut data = std::vec![0x19, 0x0B, 0x03, 0x09, 0x1D, 0x32, 0x10, 0xFF, 0x01, 0x02];
        let mut signer = Sm2Signer::from_bytes(&h(SM2_SECRET)).unwrap();
        let (mut r, mut s) = ([0u8; 32], [0u8; 32]);
        signer.sign(&data, &mut r, &mut s).unwrap();
        data.extend_from_slice(&[0xFF, 0x01, 0x00, 0x20]);
        data.extend_from_slice(&r);
        data.extend_from_slice(&[0x00, 0x20]);
        data.extend_from_slice(&s);
        let mut frame = h(REISSUE_HEX)[..24].to_vec();
        frame[22..24].copy_from_slice(&(data.len() as u16).to_be_bytes());
        frame.extend_from_slice(&data);
        frame.push(0);
        fix_bcc(&mut frame);
        let r = raw(&frame);
        assert!(v2025::RealtimeReport::parse(r.data).unwrap().signature.is_none());
        assert_eq!(verify_frame(&r, Some(&sm2_key())), Some(Verification::Valid));
        assert_eq!(signed_parts(&r).unwrap().unwrap().signed.len(), 10);
    }
}
