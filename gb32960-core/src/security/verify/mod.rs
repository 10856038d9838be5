//! Verifying vehicle signatures (T8) over exactly the range the notes give (A1, A2).
//!
//! ```text
//! real-time / reissue data unit:  time | block | ... | block | FF | type | R len | R | S len | S
//!                                 <--------- signed (A1) ----->
//! activation data unit:           time | chip ID | key len | key | VIN | type | R len | R | ...
//!                                 <------------- signed (A2) ---------->
//! ```

mod key;
mod range;

pub use key::VerifyingKey;
pub use range::{signed_parts, MarkerPolicy, SignedParts};

#[cfg(feature = "rsa")]
extern crate alloc;
#[cfg(feature = "rsa")]
use alloc::vec::Vec;

use super::Verification;
use crate::frame::RawFrame;
use crate::signature::Signature;

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
    use super::*;
    use crate::security::testutil::*;
    use crate::security::Error;
    use crate::signature::SignatureAlgorithm;

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
