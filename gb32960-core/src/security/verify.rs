//! Verifying vehicle signatures (T8) over exactly the range the notes give (A1, A2).
//!
//! ```text
//! real-time / reissue data unit:  time | block | ... | block | FF | type | R len | R | S len | S
//!                                 <--------- signed (A1) ----->
//! activation data unit:           time | chip ID | key len | key | VIN | type | R len | R | ...
//!                                 <------------- signed (A2) ---------->
//! ```

#[cfg(feature = "rsa")]
extern crate alloc;
#[cfg(feature = "rsa")]
use alloc::vec::Vec;

use super::{Error, Result, Verification};
use crate::frame::{Command, Edition, RawFrame};
use crate::message::Activation;
use crate::realtime::v2025;
use crate::signature::{Signature, SignatureAlgorithm};

/// A public key that verifies vehicle signatures, one variant per compiled-in algorithm.
///
/// Built from the formats the wire carries (the activation's public-key field, notes 2025 A3)
/// or, with the `pem` feature, from a SubjectPublicKeyInfo PEM/DER.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum VerifyingKey {
    /// SM2 (signature type 0x01), with the user ID baked into its `Z_A`.
    #[cfg(feature = "sm2")]
    Sm2(sm2::dsa::VerifyingKey),
    /// ECDSA over P-256 with SHA-256 (signature type 0x03, our choice for "ECC").
    #[cfg(feature = "p256")]
    P256(p256::ecdsa::VerifyingKey),
    /// RSA, PKCS#1 v1.5 with SHA-256 (signature type 0x02).
    #[cfg(feature = "rsa")]
    Rsa(rsa::PublicKey),
}

impl VerifyingKey {
    /// The signature type this key verifies.
    #[allow(unreachable_patterns, clippy::match_single_binding)]
    pub fn algorithm(&self) -> SignatureAlgorithm {
        match *self {
            #[cfg(feature = "sm2")]
            VerifyingKey::Sm2(_) => SignatureAlgorithm::SM2,
            #[cfg(feature = "p256")]
            VerifyingKey::P256(_) => SignatureAlgorithm::ECC,
            #[cfg(feature = "rsa")]
            VerifyingKey::Rsa(_) => SignatureAlgorithm::RSA,
        }
    }

    /// An SM2 key with the default user ID from the wire format of the activation's public-key
    /// field: 64 bytes `X ‖ Y`, or SEC1 (65 bytes `04 ‖ X ‖ Y`, 33 bytes compressed).
    #[cfg(feature = "sm2")]
    pub fn sm2_from_wire(bytes: &[u8]) -> Result<Self> {
        Self::sm2_from_wire_with_id(bytes, super::DEFAULT_SM2_ID)
    }

    /// As [`Self::sm2_from_wire`] with another user ID (at most 8191 bytes).
    #[cfg(feature = "sm2")]
    pub fn sm2_from_wire_with_id(bytes: &[u8], user_id: &str) -> Result<Self> {
        let mut sec1 = [0u8; 65];
        let sec1: &[u8] = if bytes.len() == 64 {
            sec1[0] = 0x04;
            sec1[1..].copy_from_slice(bytes);
            &sec1
        } else {
            bytes
        };
        sm2::dsa::VerifyingKey::from_sec1_bytes(user_id, sec1)
            .map(VerifyingKey::Sm2)
            .map_err(|_| Error::InvalidKey)
    }

    /// A P-256 key from SEC1 (65 bytes uncompressed, 33 compressed) or 64 bytes `X ‖ Y`.
    #[cfg(feature = "p256")]
    pub fn p256_from_sec1(bytes: &[u8]) -> Result<Self> {
        let mut sec1 = [0u8; 65];
        let sec1: &[u8] = if bytes.len() == 64 {
            sec1[0] = 0x04;
            sec1[1..].copy_from_slice(bytes);
            &sec1
        } else {
            bytes
        };
        p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
            .map(VerifyingKey::P256)
            .map_err(|_| Error::InvalidKey)
    }

    /// An RSA key as rtm_con carries it in the activation: the big-endian modulus followed by a
    /// 3-byte big-endian public exponent (259 bytes for RSA-2048).
    #[cfg(feature = "rsa")]
    pub fn rsa_from_wire(bytes: &[u8]) -> Result<Self> {
        if bytes.len() <= 3 {
            return Err(Error::InvalidKey);
        }
        let (n, e) = bytes.split_at(bytes.len() - 3);
        Self::rsa_from_components(n, e)
    }

    /// An RSA key from its big-endian modulus and public exponent.
    #[cfg(feature = "rsa")]
    pub fn rsa_from_components(modulus: &[u8], exponent: &[u8]) -> Result<Self> {
        use rsa::BoxedUint;
        let n = BoxedUint::from_be_slice_vartime(modulus);
        let e = BoxedUint::from_be_slice_vartime(exponent);
        rsa::PublicKey::new(n, e)
            .map(VerifyingKey::Rsa)
            .map_err(|_| Error::InvalidKey)
    }

    /// The key of `algorithm` from the wire format an activation carries (notes 2025 A3): SM2
    /// `sm2_from_wire`, ECC `p256_from_sec1`, RSA `rsa_from_wire`
    /// (and, with the `pem` feature, a DER SubjectPublicKeyInfo for any of them).
    /// [`Error::Unsupported`] for a reserved type or one not compiled in.
    pub fn from_wire(algorithm: SignatureAlgorithm, bytes: &[u8]) -> Result<Self> {
        let r = match algorithm.0 {
            #[cfg(feature = "sm2")]
            0x01 => Self::sm2_from_wire(bytes),
            #[cfg(feature = "rsa")]
            0x02 => Self::rsa_from_wire(bytes),
            #[cfg(feature = "p256")]
            0x03 => Self::p256_from_sec1(bytes),
            _ => Err(Error::Unsupported),
        };
        #[cfg(feature = "pem")]
        if r.is_err() && super::is_supported(algorithm) {
            if let Ok(k) = Self::from_public_key_der(bytes) {
                if k.algorithm() == algorithm {
                    return Ok(k);
                }
            }
        }
        let _ = bytes;
        r
    }

    /// A key from a PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`), as OpenSSL writes
    /// it: RSA (`rsaEncryption`, also `-----BEGIN RSA PUBLIC KEY-----`), P-256
    /// (`id-ecPublicKey` + `prime256v1`) or SM2 (`id-ecPublicKey` + curve OID
    /// 1.2.156.10197.1.301, with the default user ID).
    #[cfg(feature = "pem")]
    pub fn from_public_key_pem(pem: &str) -> Result<Self> {
        #[cfg(feature = "sm2")]
        {
            use sm2::pkcs8::DecodePublicKey;
            if let Ok(pk) = sm2::PublicKey::from_public_key_pem(pem) {
                return sm2::dsa::VerifyingKey::new(super::DEFAULT_SM2_ID, pk)
                    .map(VerifyingKey::Sm2)
                    .map_err(|_| Error::InvalidKey);
            }
        }
        #[cfg(feature = "p256")]
        {
            use p256::pkcs8::DecodePublicKey;
            if let Ok(pk) = p256::PublicKey::from_public_key_pem(pem) {
                return Ok(VerifyingKey::P256(pk.into()));
            }
        }
        #[cfg(feature = "rsa")]
        {
            use rsa::pkcs1::DecodeRsaPublicKey;
            use rsa::pkcs8::DecodePublicKey;
            if let Ok(k) = rsa::PublicKey::from_public_key_pem(pem) {
                return Ok(VerifyingKey::Rsa(k));
            }
            if let Ok(k) = rsa::PublicKey::from_pkcs1_pem(pem) {
                return Ok(VerifyingKey::Rsa(k));
            }
        }
        let _ = pem;
        Err(Error::InvalidKey)
    }

    /// As [`Self::from_public_key_pem`], from DER bytes.
    #[cfg(feature = "pem")]
    pub fn from_public_key_der(der: &[u8]) -> Result<Self> {
        #[cfg(feature = "sm2")]
        {
            use sm2::pkcs8::DecodePublicKey;
            if let Ok(pk) = sm2::PublicKey::from_public_key_der(der) {
                return sm2::dsa::VerifyingKey::new(super::DEFAULT_SM2_ID, pk)
                    .map(VerifyingKey::Sm2)
                    .map_err(|_| Error::InvalidKey);
            }
        }
        #[cfg(feature = "p256")]
        {
            use p256::pkcs8::DecodePublicKey;
            if let Ok(pk) = p256::PublicKey::from_public_key_der(der) {
                return Ok(VerifyingKey::P256(pk.into()));
            }
        }
        #[cfg(feature = "rsa")]
        {
            use rsa::pkcs1::DecodeRsaPublicKey;
            use rsa::pkcs8::DecodePublicKey;
            if let Ok(k) = rsa::PublicKey::from_public_key_der(der) {
                return Ok(VerifyingKey::Rsa(k));
            }
            if let Ok(k) = rsa::PublicKey::from_pkcs1_der(der) {
                return Ok(VerifyingKey::Rsa(k));
            }
        }
        let _ = der;
        Err(Error::InvalidKey)
    }
}

/// Verifies `sig` over `signed` with `key`.
///
/// * [`Verification::Unsupported`]: the signature type is reserved (not 0x01-0x03) or its
///   algorithm's cargo feature is off. Checked first, so a missing key does not hide it.
/// * [`Verification::NoKey`]: `key` is `None`.
/// * [`Verification::Invalid`]: the key is of another algorithm than the signature, R or S do
///   not fit (SM2/ECC: at most 32 significant bytes each; RSA: S must be empty), or the
///   signature does not verify.
pub fn verify(key: Option<&VerifyingKey>, signed: &[u8], sig: &Signature<'_>) -> Verification {
    if !super::is_supported(sig.algorithm) {
        return Verification::Unsupported;
    }
    let Some(key) = key else {
        return Verification::NoKey;
    };
    if key.algorithm() != sig.algorithm {
        return Verification::Invalid;
    }
    if verify_with(key, signed, sig) {
        Verification::Valid
    } else {
        Verification::Invalid
    }
}

fn verify_with(key: &VerifyingKey, signed: &[u8], sig: &Signature<'_>) -> bool {
    let _ = (signed, sig); // unused when no signature algorithm is compiled in
    match *key {
        #[cfg(feature = "sm2")]
        VerifyingKey::Sm2(ref k) => verify_sm2(k, signed, sig),
        #[cfg(feature = "p256")]
        VerifyingKey::P256(ref k) => verify_p256(k, signed, sig),
        #[cfg(feature = "rsa")]
        VerifyingKey::Rsa(ref k) => verify_rsa(k, signed, sig),
    }
}

#[cfg(feature = "sm2")]
fn verify_sm2(key: &sm2::dsa::VerifyingKey, signed: &[u8], sig: &Signature<'_>) -> bool {
    use sm2::dsa::signature::Verifier;
    let (Some(r), Some(s)) = (super::fixed_be::<32>(sig.r), super::fixed_be::<32>(sig.s)) else {
        return false;
    };
    match sm2::dsa::Signature::from_scalars(r, s) {
        Ok(sig) => key.verify(signed, &sig).is_ok(),
        Err(_) => false,
    }
}

#[cfg(feature = "p256")]
fn verify_p256(key: &p256::ecdsa::VerifyingKey, signed: &[u8], sig: &Signature<'_>) -> bool {
    use p256::ecdsa::signature::Verifier;
    let (Some(r), Some(s)) = (super::fixed_be::<32>(sig.r), super::fixed_be::<32>(sig.s)) else {
        return false;
    };
    match p256::ecdsa::Signature::from_scalars(r, s) {
        Ok(sig) => key.verify(signed, &sig).is_ok(),
        Err(_) => false,
    }
}

#[cfg(feature = "rsa")]
fn verify_rsa(key: &rsa::PublicKey, signed: &[u8], sig: &Signature<'_>) -> bool {
    use rsa::traits::PublicKeyParts;
    if !sig.s.is_empty() {
        return false;
    }
    // Some senders drop leading zero bytes of the signature integer: pad back to the modulus size.
    let k = key.size();
    let first = sig.r.iter().position(|&b| b != 0).unwrap_or(sig.r.len());
    let r = &sig.r[first..];
    if r.len() > k {
        return false;
    }
    let mut padded = Vec::with_capacity(k);
    padded.resize(k - r.len(), 0);
    padded.extend_from_slice(r);
    key.pkcs1v15_verify::<rsa::sha2::Sha256>(signed, &padded).is_ok()
}

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

/// Verifies the signature of a frame with the recommended signed range (marker excluded, A1).
///
/// `None` when the frame carries no signature (see [`signed_parts`]). A data unit that does not
/// parse gives `Some(Invalid)`: what was signed cannot be found, and accepting it would fail
/// open. [`signed_parts`] gives the parse error itself.
///
/// **Activation (0x09):** with `key` = `None`, the signature is checked with the public key the
/// activation carries, read according to the signature type (SM2 64/65 bytes, RSA modulus +
/// 3-byte exponent, ECC SEC1). That proves the sender holds the matching private key (the point
/// of activation), not that the key belongs to this vehicle: compare the key with the vehicle's
/// registered one (T A.2) before trusting it. A carried key that cannot be read gives
/// `Some(Invalid)`; a reserved or disabled type gives `Some(Unsupported)`. With `Some(key)`, that
/// key is used and the carried one is ignored.
pub fn verify_frame(frame: &RawFrame<'_>, key: Option<&VerifyingKey>) -> Option<Verification> {
    verify_frame_with(frame, key, MarkerPolicy::Excluded)
}

/// As [`verify_frame`], with a choice of signed range for real-time and reissue reports.
pub fn verify_frame_with(
    frame: &RawFrame<'_>,
    key: Option<&VerifyingKey>,
    policy: MarkerPolicy,
) -> Option<Verification> {
    let parts = match signed_parts(frame) {
        Ok(Some(p)) => p,
        Ok(None) => return None,
        Err(_) => return Some(Verification::Invalid),
    };
    let carried;
    let key = match (key, parts.activation_key) {
        (Some(k), _) => Some(k),
        (None, Some(bytes)) if super::is_supported(parts.signature.algorithm) => {
            match VerifyingKey::from_wire(parts.signature.algorithm, bytes) {
                Ok(k) => {
                    carried = k;
                    Some(&carried)
                }
                Err(_) => return Some(Verification::Invalid),
            }
        }
        (None, _) => None,
    };
    let first = match policy {
        MarkerPolicy::Included => parts.signed_with_marker.unwrap_or(parts.signed),
        MarkerPolicy::Excluded | MarkerPolicy::ExcludedThenIncluded => parts.signed,
    };
    let v = verify(key, first, &parts.signature);
    Some(match (policy, v, parts.signed_with_marker) {
        (MarkerPolicy::ExcludedThenIncluded, Verification::Invalid, Some(with)) => verify(key, with, &parts.signature),
        _ => v,
    })
}

#[cfg(test)]
#[allow(unused_imports, dead_code)] // helpers unused by some feature subsets
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn raw(bytes: &[u8]) -> RawFrame<'_> {
        RawFrame::parse(bytes).expect("frame")
    }

    #[cfg(feature = "sm2")]
    fn sm2_key() -> VerifyingKey {
        VerifyingKey::sm2_from_wire(&h(SM2_PUBLIC)).unwrap()
    }

    #[cfg(feature = "sm2")]
    #[test]
    fn handmade_sm2_frames_verify() {
        let key = sm2_key();
        let reissue = h(REISSUE_HEX);
        assert_eq!(verify_frame(&raw(&reissue), Some(&key)), Some(Verification::Valid));
        let activation = h(ACTIVATION_HEX);
        assert_eq!(verify_frame(&raw(&activation), Some(&key)), Some(Verification::Valid));
        // Activation without a key: checked with the key it carries.
        assert_eq!(verify_frame(&raw(&activation), None), Some(Verification::Valid));
        // The signed range is the data unit before the marker (A1) / through the VIN (A2).
        let parts = signed_parts(&raw(&reissue)).unwrap().unwrap();
        assert_eq!(parts.signed.len(), 40);
        assert_eq!(parts.signed_with_marker.unwrap().last(), Some(&0xFF));
        let parts = signed_parts(&raw(&activation)).unwrap().unwrap();
        assert_eq!(parts.signed.len(), 105);
        assert_eq!(parts.activation_key.unwrap().len(), 64);
    }

    #[cfg(feature = "sm2")]
    #[test]
    fn tampering_anywhere_in_the_signed_range_is_invalid() {
        let key = sm2_key();
        let good = h(REISSUE_HEX);
        for i in 24..24 + 40 {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            fix_bcc(&mut bad);
            // A flipped byte may also make the data unit unparsable: still Invalid.
            assert_eq!(
                verify_frame(&raw(&bad), Some(&key)),
                Some(Verification::Invalid),
                "byte {i}"
            );
        }
        // The header is not signed (A20): a real-time copy of the reissue frame still verifies.
        let mut realtime = good.clone();
        realtime[2] = 0x02;
        fix_bcc(&mut realtime);
        assert_eq!(verify_frame(&raw(&realtime), Some(&key)), Some(Verification::Valid));
    }

    #[cfg(feature = "sm2")]
    #[test]
    fn outcomes_for_missing_reserved_and_wrong_keys() {
        let frame = h(REISSUE_HEX);
        assert_eq!(verify_frame(&raw(&frame), None), Some(Verification::NoKey));
        // Another SM2 key.
        let other = crate::security::Sm2Signer::from_bytes(&[7u8; 32])
            .unwrap()
            .verifying_key();
        assert_eq!(verify_frame(&raw(&frame), Some(&other)), Some(Verification::Invalid));
        // A reserved signature type (T8 "others reserved").
        let mut reserved = frame.clone();
        let at = reserved.len() - 1 - 70 + 1; // the type byte after the 0xFF marker
        assert_eq!(reserved[at - 1], 0xFF);
        reserved[at] = 0x07;
        fix_bcc(&mut reserved);
        assert_eq!(
            verify_frame(&raw(&reserved), Some(&sm2_key())),
            Some(Verification::Unsupported)
        );
        assert_eq!(verify_frame(&raw(&reserved), None), Some(Verification::Unsupported));
        // The frame's SM2 signature relabelled as RSA: the key does not match the type.
        let mut relabelled = frame.clone();
        relabelled[at] = 0x02;
        fix_bcc(&mut relabelled);
        let expect = if cfg!(feature = "rsa") {
            Verification::Invalid
        } else {
            Verification::Unsupported
        };
        assert_eq!(verify_frame(&raw(&relabelled), Some(&sm2_key())), Some(expect));
    }

    #[cfg(all(feature = "sm2", feature = "p256"))]
    #[test]
    fn a_key_of_another_algorithm_is_invalid() {
        let p256 = VerifyingKey::p256_from_sec1(
            &crate::security::P256Signer::from_bytes(&h(P256_SECRET))
                .unwrap()
                .public_key_sec1(),
        )
        .unwrap();
        assert_eq!(
            verify_frame(&raw(&h(REISSUE_HEX)), Some(&p256)),
            Some(Verification::Invalid)
        );
    }

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
    fn short_r_and_s_are_left_padded() {
        use crate::security::{Signer, Sm2Signer};
        let key = sm2_key();
        let mut signer = Sm2Signer::from_bytes(&h(SM2_SECRET)).unwrap();
        // Find a message whose R or S starts with a zero byte, and send it one byte shorter.
        let mut found = false;
        for i in 0u32..4000 {
            let msg = i.to_be_bytes();
            let (mut r, mut s) = ([0u8; 32], [0u8; 32]);
            signer.sign(&msg, &mut r, &mut s).unwrap();
            if r[0] != 0 && s[0] != 0 {
                continue;
            }
            let (rr, ss) = (&r[usize::from(r[0] == 0)..], &s[usize::from(s[0] == 0)..]);
            let sig = Signature {
                algorithm: SignatureAlgorithm::SM2,
                r: rr,
                s: ss,
            };
            assert_eq!(verify(Some(&key), &msg, &sig), Verification::Valid);
            found = true;
            break;
        }
        assert!(found, "no signature with a leading zero byte in 4000 tries");
        // 33 bytes with a leading zero are accepted, 33 significant bytes are not.
        let (mut r, mut s) = ([0u8; 33], [0u8; 32]);
        signer.sign(b"x", &mut r[1..], &mut s).unwrap();
        let sig = Signature {
            algorithm: SignatureAlgorithm::SM2,
            r: &r,
            s: &s,
        };
        assert_eq!(verify(Some(&key), b"x", &sig), Verification::Valid);
        r[0] = 1;
        let sig = Signature {
            algorithm: SignatureAlgorithm::SM2,
            r: &r,
            s: &s,
        };
        assert_eq!(verify(Some(&key), b"x", &sig), Verification::Invalid);
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

    #[cfg(feature = "sm2")]
    #[test]
    fn sm2_key_formats() {
        let pk = h(SM2_PUBLIC);
        assert!(VerifyingKey::sm2_from_wire(&pk).is_ok());
        assert!(VerifyingKey::sm2_from_wire(&pk[1..]).is_ok());
        let mut off_curve = pk.clone();
        off_curve[64] ^= 1;
        assert_eq!(VerifyingKey::sm2_from_wire(&off_curve).unwrap_err(), Error::InvalidKey);
        assert_eq!(VerifyingKey::sm2_from_wire(&pk[..40]).unwrap_err(), Error::InvalidKey);
        assert_eq!(
            VerifyingKey::from_wire(SignatureAlgorithm(0x09), &pk).unwrap_err(),
            Error::Unsupported
        );
    }

    #[cfg(all(feature = "sm2", feature = "pem"))]
    #[test]
    fn sm2_key_from_openssl_pem() {
        let key = VerifyingKey::from_public_key_pem(SM2_PUBLIC_PEM).unwrap();
        assert_eq!(key.algorithm(), SignatureAlgorithm::SM2);
        assert_eq!(
            verify_frame(&raw(&h(REISSUE_HEX)), Some(&key)),
            Some(Verification::Valid)
        );
        assert_eq!(
            VerifyingKey::from_public_key_pem("junk").unwrap_err(),
            Error::InvalidKey
        );
    }

    #[cfg(feature = "p256")]
    #[test]
    fn p256_rfc6979_known_answer_and_round_trip() {
        use crate::security::{P256Signer, Signer};
        // RFC 6979 A.2.5, ECDSA P-256 with SHA-256, message "sample".
        let mut signer = P256Signer::from_bytes(&h(P256_SECRET)).unwrap();
        let (mut r, mut s) = ([0u8; 32], [0u8; 32]);
        assert_eq!(signer.sign(b"sample", &mut r, &mut s).unwrap(), (32, 32));
        assert_eq!(
            r.to_vec(),
            h("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716")
        );
        assert_eq!(
            s.to_vec(),
            h("F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8")
        );
        let key = signer.verifying_key();
        let sig = Signature {
            algorithm: SignatureAlgorithm::ECC,
            r: &r,
            s: &s,
        };
        assert_eq!(verify(Some(&key), b"sample", &sig), Verification::Valid);
        assert_eq!(verify(Some(&key), b"samplE", &sig), Verification::Invalid);
        assert_eq!(verify(None, b"sample", &sig), Verification::NoKey);
        let sec1 = signer.public_key_sec1();
        assert!(VerifyingKey::p256_from_sec1(&sec1).is_ok());
        assert!(VerifyingKey::p256_from_sec1(&sec1[1..]).is_ok());
    }

    #[cfg(feature = "rsa")]
    #[test]
    fn rsa_round_trip_and_s_must_be_empty() {
        use crate::security::{RsaSigner, Signer};
        let mut signer = RsaSigner::new(rsa_key(), rng());
        let mut r = [0u8; 256];
        assert_eq!(signer.sign(b"message", &mut r, &mut []).unwrap(), (256, 0));
        let wire = signer.public_key_wire().unwrap();
        assert_eq!(wire.len(), 259);
        assert_eq!(&wire[256..], &[0x01, 0x00, 0x01]);
        let key = VerifyingKey::rsa_from_wire(&wire).unwrap();
        let sig = Signature {
            algorithm: SignatureAlgorithm::RSA,
            r: &r,
            s: &[],
        };
        assert_eq!(verify(Some(&key), b"message", &sig), Verification::Valid);
        assert_eq!(verify(Some(&key), b"massage", &sig), Verification::Invalid);
        let sig_s = Signature { s: &[0], ..sig };
        assert_eq!(verify(Some(&key), b"message", &sig_s), Verification::Invalid);
        // Deterministic: the same signature again.
        let mut r2 = [0u8; 256];
        signer.sign(b"message", &mut r2, &mut []).unwrap();
        assert_eq!(r, r2);
        // Too small a buffer for R.
        assert!(matches!(
            signer.sign(b"message", &mut [0u8; 100], &mut []),
            Err(Error::BufferTooSmall { .. })
        ));
    }

    #[cfg(not(feature = "p256"))]
    #[test]
    fn disabled_algorithms_are_unsupported() {
        let sig = Signature {
            algorithm: SignatureAlgorithm::ECC,
            r: &[1; 32],
            s: &[1; 32],
        };
        assert_eq!(verify(None, b"m", &sig), Verification::Unsupported);
    }
}
