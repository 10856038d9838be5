//! Test certificates built with rcgen: CAs, server and device certificates (ECDSA P-256 or RSA
//! 2048), an OCSP responder certificate and CRLs, written as PEM files into a directory.
//!
//! ring (rcgen's backend here) cannot generate RSA keys, so RSA keys come from
//! `openssl genpkey`; openssl is required by these tests anyway.

use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CustomExtension, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber,
};
use rustls_pki_types::CertificateDer;

/// Key algorithm of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Ecdsa,
    Rsa,
}

/// Whether a certificate is current or expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Current,
    Expired,
}

/// Fails the test with a clear message when openssl is missing (never skipped silently).
pub fn require_openssl() {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => {}
        other => panic!(
            "the TLS tests need the `openssl` command (Debian package openssl; `cargo xtask setup` installs it): {other:?}"
        ),
    }
}

fn key_pair(alg: Alg, dir: &Path) -> KeyPair {
    match alg {
        Alg::Ecdsa => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
        Alg::Rsa => {
            require_openssl();
            let path = dir.join(format!("rsa-{}.key", rand_suffix()));
            let st = Command::new("openssl")
                .args([
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                    "-out",
                ])
                .arg(&path)
                .output()
                .unwrap();
            assert!(st.status.success(), "openssl genpkey: {st:?}");
            let pem = std::fs::read_to_string(&path).unwrap();
            let _ = std::fs::remove_file(&path);
            KeyPair::from_pem(&pem).unwrap()
        }
    }
}

fn rand_suffix() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// DER length.
fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else if n < 0x100 {
        vec![0x81, n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend(der_len(content.len()));
    v.extend_from_slice(content);
    v
}

/// authorityInfoAccess with one OCSP responder URL (rcgen has no helper for it).
fn aia_ocsp(url: &str) -> CustomExtension {
    let oid_ocsp = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    let mut access = oid_ocsp.to_vec();
    access.extend(tlv(0x86, url.as_bytes()));
    let content = tlv(0x30, &tlv(0x30, &access));
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], content)
}

/// A certificate and its key, as PEM and as files.
pub struct Leaf {
    pub serial: u64,
    pub subject_cn: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    /// The leaf followed by its issuer.
    pub chain_path: PathBuf,
    pub chain_pem: String,
}

impl Leaf {
    /// The serial as openssl's index files write it.
    pub fn serial_hex(&self) -> String {
        format!("{:04X}", self.serial)
    }
}

/// A certificate authority.
pub struct Ca {
    pub name: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    dir: PathBuf,
}

impl Ca {
    pub fn new(dir: &Path, name: &str, alg: Alg) -> Ca {
        let key = key_pair(alg, dir);
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        p.serial_number = Some(SerialNumber::from_slice(&[0x01]));
        let cert = p.self_signed(&key).unwrap();
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        let cert_path = dir.join(format!("{name}.pem"));
        let key_path = dir.join(format!("{name}-key.pem"));
        std::fs::write(&cert_path, &cert_pem).unwrap();
        std::fs::write(&key_path, &key_pem).unwrap();
        Ca {
            name: name.into(),
            cert_pem,
            key_pem,
            cert_path,
            key_path,
            issuer: Issuer::new(p, key),
            dir: dir.to_path_buf(),
        }
    }

    fn issue(&self, file: &str, mut p: CertificateParams, serial: u64, alg: Alg, cn: &str) -> Leaf {
        let key = key_pair(alg, &self.dir);
        p.distinguished_name.push(DnType::CommonName, cn);
        p.serial_number = Some(SerialNumber::from_slice(&(serial as u16).to_be_bytes()));
        p.use_authority_key_identifier_extension = true;
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        let cert_path = self.dir.join(format!("{file}.pem"));
        let key_path = self.dir.join(format!("{file}-key.pem"));
        let chain_path = self.dir.join(format!("{file}-chain.pem"));
        let chain_pem = format!("{cert_pem}{}", self.cert_pem);
        std::fs::write(&cert_path, &cert_pem).unwrap();
        std::fs::write(&key_path, &key_pem).unwrap();
        std::fs::write(&chain_path, &chain_pem).unwrap();
        Leaf {
            serial,
            subject_cn: cn.into(),
            cert_pem,
            key_pem,
            der: cert.der().clone(),
            cert_path,
            key_path,
            chain_path,
            chain_pem,
        }
    }

    /// A server certificate for `localhost` and 127.0.0.1.
    pub fn server(&self, file: &str, serial: u64, alg: Alg, ocsp_url: Option<&str>) -> Leaf {
        let mut p = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if let Some(u) = ocsp_url {
            p.custom_extensions.push(aia_ocsp(u));
        }
        self.issue(file, p, serial, alg, "gateway.test")
    }

    /// A device certificate whose subject CN is `cn` (a VIN), with optional SANs.
    #[allow(clippy::too_many_arguments)]
    pub fn device(
        &self,
        file: &str,
        serial: u64,
        alg: Alg,
        cn: &str,
        sans: &[&str],
        ocsp_url: Option<&str>,
        validity: Validity,
    ) -> Leaf {
        let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if validity == Validity::Expired {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        if let Some(u) = ocsp_url {
            p.custom_extensions.push(aia_ocsp(u));
        }
        self.issue(file, p, serial, alg, cn)
    }

    /// A delegated OCSP responder certificate (id-kp-OCSPSigning).
    pub fn ocsp_signer(&self, file: &str, serial: u64) -> Leaf {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.issue(file, p, serial, Alg::Ecdsa, &format!("{} OCSP responder", self.name))
    }

    /// A CRL revoking `serials`, written to `file`.pem; returns its path.
    pub fn crl(&self, file: &str, serials: &[u64]) -> PathBuf {
        let params = CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2024, 1, 1),
            next_update: rcgen::date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from_slice(&[1]),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&(*s as u16).to_be_bytes()),
                    revocation_time: rcgen::date_time_ymd(2024, 6, 1),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.issuer).unwrap();
        let path = self.dir.join(format!("{file}.pem"));
        std::fs::write(&path, crl.pem().unwrap()).unwrap();
        path
    }
}
