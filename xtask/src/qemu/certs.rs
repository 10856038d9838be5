//! Test certificates for the TLS runs, made fresh for every run with rcgen (nothing secret is
//! committed): a P-256 CA, the gateway's server certificate (`gateway.test`) and the device's
//! client certificate (CN = the VIN), both issued by it, and a second, unrelated CA with its own
//! server certificate for the wrong-CA check.
//!
//! The gateway reads PEM files; the firmware gets DER through `TBOX_TLS_DIR` at build time:
//! `ca.der`, `device.der` and `device-key.der` (SEC1, as `p256::SecretKey::from_sec1_der`
//! reads it; rcgen writes PKCS#8, whose inner key is the SEC1 structure).

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

use crate::Result;

/// The name the gateway's certificate carries and the firmware checks.
pub const SERVER_NAME: &str = "gateway.test";

/// Where the files are.
pub struct TestPki {
    /// For the firmware build (`TBOX_TLS_DIR`).
    pub firmware_dir: PathBuf,
    /// The gateway's chain and key, issued by the device's CA.
    pub server_chain: PathBuf,
    pub server_key: PathBuf,
    /// The CA the gateway checks device certificates against.
    pub client_ca: PathBuf,
    /// A server certificate from another CA, which the firmware must refuse.
    pub rogue_chain: PathBuf,
    pub rogue_key: PathBuf,
}

fn ca(name: &str) -> Result<(Issuer<'static, KeyPair>, String, Vec<u8>)> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key)?;
    Ok((Issuer::new(params, key), cert.pem(), cert.der().to_vec()))
}

fn leaf(
    issuer: &Issuer<'_, KeyPair>,
    cn: &str,
    sans: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
) -> Result<(String, KeyPair, Vec<u8>)> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(sans)?;
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key, cert.der().to_vec()))
}

/// Generates the set into `dir` for a device with `vin`.
pub fn generate(dir: &Path, vin: &str) -> Result<TestPki> {
    let firmware_dir = dir.join("firmware");
    fs::create_dir_all(&firmware_dir)?;
    let (ca_issuer, ca_pem, ca_der) = ca("GB32960 QEMU test CA")?;
    let (server_pem, server_key, _) = leaf(
        &ca_issuer,
        SERVER_NAME,
        vec![SERVER_NAME.to_owned()],
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    let (_, device_key, device_der) = leaf(&ca_issuer, vin, Vec::new(), ExtendedKeyUsagePurpose::ClientAuth)?;
    let (rogue_issuer, rogue_ca_pem, _) = ca("Unrelated test CA")?;
    let (rogue_pem, rogue_key, _) = leaf(
        &rogue_issuer,
        SERVER_NAME,
        vec![SERVER_NAME.to_owned()],
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;

    let pki = TestPki {
        server_chain: dir.join("server-chain.pem"),
        server_key: dir.join("server-key.pem"),
        client_ca: dir.join("device-ca.pem"),
        rogue_chain: dir.join("rogue-chain.pem"),
        rogue_key: dir.join("rogue-key.pem"),
        firmware_dir,
    };
    fs::write(&pki.server_chain, format!("{server_pem}{ca_pem}"))?;
    fs::write(&pki.server_key, server_key.serialize_pem())?;
    fs::write(&pki.client_ca, &ca_pem)?;
    fs::write(&pki.rogue_chain, format!("{rogue_pem}{rogue_ca_pem}"))?;
    fs::write(&pki.rogue_key, rogue_key.serialize_pem())?;
    fs::write(pki.firmware_dir.join("ca.der"), &ca_der)?;
    fs::write(pki.firmware_dir.join("device.der"), &device_der)?;
    fs::write(
        pki.firmware_dir.join("device-key.der"),
        sec1_from_pkcs8(&device_key.serialize_der())?,
    )?;
    Ok(pki)
}

/// The SEC1 `ECPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (RFC 5208: version, algorithm,
/// privateKey OCTET STRING).
fn sec1_from_pkcs8(pkcs8: &[u8]) -> Result<Vec<u8>> {
    let (info, _) = der_item(pkcs8, 0x30)?;
    let (_version, rest) = der_item(info, 0x02)?;
    let (_algorithm, rest) = der_item(rest, 0x30)?;
    let (key, _) = der_item(rest, 0x04)?;
    Ok(key.to_vec())
}

/// One DER item with tag `tag`: its content and what follows.
fn der_item(input: &[u8], tag: u8) -> Result<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first().ok_or("DER: empty")?;
    if t != tag {
        return Err(format!("DER: tag {t:#04x}, expected {tag:#04x}").into());
    }
    let (&first, rest) = rest.split_first().ok_or("DER: no length")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("DER: bad length".into());
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err("DER: truncated".into());
    }
    Ok(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_inside_pkcs8_is_sec1() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let sec1 = sec1_from_pkcs8(&key.serialize_der()).unwrap();
        // ECPrivateKey ::= SEQUENCE { version INTEGER (1), privateKey OCTET STRING (32), ... }
        let (body, _) = der_item(&sec1, 0x30).unwrap();
        let (version, rest) = der_item(body, 0x02).unwrap();
        assert_eq!(version, [1]);
        let (secret, _) = der_item(rest, 0x04).unwrap();
        assert_eq!(secret.len(), 32);
    }
}
