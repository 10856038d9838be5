//! [`VerifyingKey`]: the public keys that verify vehicle signatures, read from the wire formats
//! an activation carries or from PEM/DER.

#[cfg(any(feature = "sm2", feature = "p256"))]
use crate::security::sec1_from_wire;
use crate::security::{Error, Result};
use crate::signature::SignatureAlgorithm;

/// The body of [`VerifyingKey::from_public_key_pem`] and [`VerifyingKey::from_public_key_der`]:
/// tries each compiled-in algorithm's SubjectPublicKeyInfo decoder on `$input` (SM2 with the
/// default user ID, P-256, RSA), then RSA's PKCS#1 one, and returns the first key that decodes.
/// `$spki` and `$pkcs1` name the PEM or the DER form of those decoders.
#[cfg(feature = "pem")]
macro_rules! public_key_from {
    ($input:ident, $spki:ident, $pkcs1:ident) => {{
        #[cfg(feature = "sm2")]
        {
            use sm2::pkcs8::DecodePublicKey;
            if let Ok(pk) = sm2::PublicKey::$spki($input) {
                return sm2::dsa::VerifyingKey::new(crate::security::DEFAULT_SM2_ID, pk)
                    .map(VerifyingKey::Sm2)
                    .map_err(|_| Error::InvalidKey);
            }
        }
        #[cfg(feature = "p256")]
        {
            use p256::pkcs8::DecodePublicKey;
            if let Ok(pk) = p256::PublicKey::$spki($input) {
                return Ok(VerifyingKey::P256(pk.into()));
            }
        }
        #[cfg(feature = "rsa")]
        {
            use rsa::pkcs1::DecodeRsaPublicKey;
            use rsa::pkcs8::DecodePublicKey;
            if let Ok(k) = rsa::PublicKey::$spki($input) {
                return Ok(VerifyingKey::Rsa(k));
            }
            if let Ok(k) = rsa::PublicKey::$pkcs1($input) {
                return Ok(VerifyingKey::Rsa(k));
            }
        }
        let _ = $input;
        Err(Error::InvalidKey)
    }};
}

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
        Self::sm2_from_wire_with_id(bytes, crate::security::DEFAULT_SM2_ID)
    }

    /// As [`Self::sm2_from_wire`] with another user ID (at most 8191 bytes).
    #[cfg(feature = "sm2")]
    pub fn sm2_from_wire_with_id(bytes: &[u8], user_id: &str) -> Result<Self> {
        let mut sec1 = [0u8; 65];
        let sec1 = sec1_from_wire(bytes, &mut sec1);
        sm2::dsa::VerifyingKey::from_sec1_bytes(user_id, sec1)
            .map(VerifyingKey::Sm2)
            .map_err(|_| Error::InvalidKey)
    }

    /// A P-256 key from SEC1 (65 bytes uncompressed, 33 compressed) or 64 bytes `X ‖ Y`.
    #[cfg(feature = "p256")]
    pub fn p256_from_sec1(bytes: &[u8]) -> Result<Self> {
        let mut sec1 = [0u8; 65];
        let sec1 = sec1_from_wire(bytes, &mut sec1);
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
        if r.is_err() && crate::security::is_supported(algorithm) {
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
    /// 1.2.156.10197.1.301, with the default user ID). Any base64 line width is read.
    #[cfg(feature = "pem")]
    pub fn from_public_key_pem(pem: &str) -> Result<Self> {
        let normalized = crate::security::pem::normalize(pem);
        let pem = normalized.as_str();
        public_key_from!(pem, from_public_key_pem, from_pkcs1_pem)
    }

    /// As [`Self::from_public_key_pem`], from DER bytes.
    #[cfg(feature = "pem")]
    pub fn from_public_key_der(der: &[u8]) -> Result<Self> {
        public_key_from!(der, from_public_key_der, from_pkcs1_der)
    }
}

#[cfg(test)]
#[allow(unused_imports, dead_code)] // helpers unused by some feature subsets
mod tests {
    use super::*;
    use crate::security::testutil::*;
    #[cfg(feature = "pem")]
    use crate::security::{verify_frame, Verification};

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
}
