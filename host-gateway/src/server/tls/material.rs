//! Loading a gateway's TLS material (certificate chain, private key, device CA, CRLs) from
//! files or inline PEM, and building the rustls `ServerConfig` from it. Every error names the
//! field; none repeats the content of a key.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, SigningKey};
use rustls::{RootCertStore, ServerConfig, SignatureAlgorithm};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use serde_json::{json, Value};

use super::cert::{sha256_hex, CertInfo};
use super::spec::{is_inline_pem, TlsSpec};
use crate::server::model::FieldError;

/// The crypto provider of every TLS listener (ring, as reqwest already uses).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// The bytes of a field: the PEM text itself, or the file it names.
fn read(field: &str, value: &str) -> Result<Vec<u8>, FieldError> {
    if is_inline_pem(value) {
        return Ok(value.as_bytes().to_vec());
    }
    std::fs::read(value).map_err(|e| err(field, format!("cannot read {value}: {e}")))
}

/// Where a field's material came from, for messages: the path, or "the inline PEM".
fn origin(value: &str) -> String {
    if is_inline_pem(value) {
        "the inline PEM".into()
    } else {
        value.to_string()
    }
}

fn certs(field: &str, value: &str) -> Result<Vec<CertificateDer<'static>>, FieldError> {
    let bytes = read(field, value)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(field, format!("bad PEM in {}: {e}", origin(value))))?;
    if certs.is_empty() {
        return Err(err(field, format!("no CERTIFICATE block in {}", origin(value))));
    }
    for (i, c) in certs.iter().enumerate() {
        CertInfo::parse(c).map_err(|e| err(field, format!("certificate {} of {}: {e}", i + 1, origin(value))))?;
    }
    Ok(certs)
}

/// The device CA(s) and the certificates themselves (OCSP needs the issuers).
#[derive(Debug, Clone)]
pub struct ClientCa {
    pub roots: Arc<RootCertStore>,
    pub certs: Vec<CertificateDer<'static>>,
}

/// A gateway's loaded TLS material.
pub struct Material {
    /// The chain and key, checked to match.
    pub certified: Arc<CertifiedKey>,
    pub leaf: CertInfo,
    /// The leaf's issuer when the chain carries it (stapling needs it).
    pub issuer: Option<CertificateDer<'static>>,
    pub key_type: &'static str,
    pub client_ca: Option<ClientCa>,
    pub crls: Vec<CertificateRevocationListDer<'static>>,
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("leaf", &self.leaf.subject)
            .field("key", &self.key_type)
            .finish_non_exhaustive()
    }
}

/// Loads and checks everything `spec` names. `now` is Unix seconds (an expired server
/// certificate is refused).
pub fn load(spec: &TlsSpec, now: i64) -> Result<Material, FieldError> {
    spec.validate()?;
    let provider = provider();
    let chain = certs("tls.cert", &spec.cert)?;
    let leaf = CertInfo::parse(&chain[0]).map_err(|e| err("tls.cert", e))?;
    if leaf.not_after < now {
        return Err(err(
            "tls.cert",
            format!("the certificate {} expired on {}", leaf.subject, leaf.not_after_text()),
        ));
    }
    let issuer = chain
        .get(1)
        .filter(|c| CertInfo::parse(c).is_ok_and(|i| leaf.issued_by(&i)))
        .cloned();

    let key_bytes = read("tls.key", &spec.key)?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|_| {
        err(
            "tls.key",
            format!(
                "no private key (a PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY PEM block) in {}",
                origin(&spec.key)
            ),
        )
    })?;
    let key: Arc<dyn SigningKey> = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| err("tls.key", format!("not a usable RSA or ECDSA key ({e})")))?;
    let key_type = match key.algorithm() {
        SignatureAlgorithm::RSA => "RSA",
        SignatureAlgorithm::ECDSA => "ECDSA",
        SignatureAlgorithm::ED25519 => "Ed25519",
        _ => "other",
    };
    let certified = CertifiedKey::new(chain, key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(_) => {
            return Err(err(
                "tls.key",
                format!("does not match the certificate of tls.cert ({})", leaf.subject),
            ))
        }
    }

    let client_ca = match &spec.client_ca {
        None => None,
        Some(v) => {
            let certs = certs("tls.client_ca", v)?;
            let mut roots = RootCertStore::empty();
            for c in &certs {
                roots
                    .add(c.clone())
                    .map_err(|e| err("tls.client_ca", format!("not usable as a trust anchor: {e}")))?;
            }
            Some(ClientCa {
                roots: Arc::new(roots),
                certs,
            })
        }
    };
    let mut crls = Vec::new();
    for v in &spec.crl {
        let bytes = read("tls.crl", v)?;
        if bytes.windows(10).any(|w| w == b"-----BEGIN") {
            let found = CertificateRevocationListDer::pem_slice_iter(&bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err("tls.crl", format!("bad PEM in {}: {e}", origin(v))))?;
            if found.is_empty() {
                return Err(err("tls.crl", format!("no X509 CRL block in {}", origin(v))));
            }
            crls.extend(found);
        } else {
            crls.push(CertificateRevocationListDer::from(bytes));
        }
    }
    let m = Material {
        certified: Arc::new(certified),
        leaf,
        issuer,
        key_type,
        client_ca,
        crls,
    };
    // Builds the verifier once so that a bad CRL is refused here, not at the first handshake.
    m.client_verifier()?;
    Ok(m)
}

impl Material {
    fn client_verifier(&self) -> Result<Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>, FieldError> {
        let Some(ca) = &self.client_ca else {
            return Ok(None);
        };
        let mut b = WebPkiClientVerifier::builder_with_provider(ca.roots.clone(), provider());
        if !self.crls.is_empty() {
            // Revocation of the device's own certificate; a device whose issuer has no CRL
            // is refused (rustls's default: unknown status denied).
            b = b.with_crls(self.crls.clone()).only_check_end_entity_revocation();
        }
        b.build().map(Some).map_err(|e| {
            err(
                if self.crls.is_empty() {
                    "tls.client_ca"
                } else {
                    "tls.crl"
                },
                e.to_string(),
            )
        })
    }

    /// The rustls configuration: `resolver` hands out the (possibly stapled) certificate.
    pub fn server_config(
        &self,
        spec: &TlsSpec,
        resolver: Arc<dyn ResolvesServerCert>,
    ) -> Result<Arc<ServerConfig>, FieldError> {
        let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
        if spec.versions.iter().any(|v| v == "1.3") {
            versions.push(&rustls::version::TLS13);
        }
        if spec.versions.iter().any(|v| v == "1.2") {
            versions.push(&rustls::version::TLS12);
        }
        let builder = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&versions)
            .map_err(|e| err("tls.versions", e.to_string()))?;
        let builder = match self.client_verifier()? {
            Some(v) => builder.with_client_cert_verifier(v),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(resolver);
        config.max_fragment_size = Some(spec.max_fragment_size);
        // Devices hold one long connection; no resumption state is worth keeping per device.
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok(Arc::new(config))
    }

    /// What the API shows of the loaded material (fingerprints, never key material).
    pub fn info(&self) -> Value {
        json!({
            "cert_subject": self.leaf.subject,
            "cert_sha256": sha256_hex(&self.certified.cert[0]),
            "cert_not_after": self.leaf.not_after_text(),
            "chain_len": self.certified.cert.len(),
            "key_type": self.key_type,
            "client_ca_subjects": self.client_ca.as_ref().map(|ca| ca.certs.iter()
                .filter_map(|c| CertInfo::parse(c).ok().map(|i| i.subject))
                .collect::<Vec<_>>()),
            "crls": self.crls.len(),
        })
    }
}
