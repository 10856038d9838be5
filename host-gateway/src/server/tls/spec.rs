//! The TLS settings of a gateway (`transport = "tls"`), as the config file and the API give
//! them, and their syntax checks. Loading the PEM material is [`super::material`]'s business.
//!
//! Every certificate, key, CA or CRL field takes either a file path or the PEM text itself: a
//! value that starts with `-----BEGIN` is PEM, anything else is a path. Paths are re-read on
//! SIGHUP and on every edit; inline PEM is stored with the gateway.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::server::model::FieldError;

/// Which certificate field carries the VIN of the device (checked at each login when client
/// certificates are verified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VinMatch {
    /// The subject's common name equals the VIN.
    #[default]
    Cn,
    /// A subjectAltName (DNS name, URI or e-mail address) equals the VIN.
    San,
    /// Either of them.
    CnOrSan,
}

impl VinMatch {
    pub fn as_str(self) -> &'static str {
        match self {
            VinMatch::Cn => "cn",
            VinMatch::San => "san",
            VinMatch::CnOrSan => "cn_or_san",
        }
    }
}

/// Which certificates' revocation status is checked with OCSP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OcspMode {
    #[default]
    Disabled,
    /// Stapling: the gateway fetches its own certificate's status and staples it.
    Server,
    /// The devices' certificates are checked at the handshake and again while they send.
    Client,
    Both,
}

impl OcspMode {
    pub fn server(self) -> bool {
        matches!(self, OcspMode::Server | OcspMode::Both)
    }

    pub fn client(self) -> bool {
        matches!(self, OcspMode::Client | OcspMode::Both)
    }
}

/// What a device check does when the responder cannot be asked (down, timeout, bad answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Unreachable {
    /// Fail closed: the device is refused (or closed, on a re-check). The default.
    #[default]
    Refuse,
    /// Fail open: the device is let in and a warning is logged.
    Allow,
}

/// OCSP settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OcspSpec {
    #[serde(default)]
    pub mode: OcspMode,
    /// How long a stapled response is used before a fresh one is fetched (300-3600 s); it is
    /// refreshed sooner when its nextUpdate comes first.
    #[serde(default = "default_staple_cache")]
    pub staple_cache_secs: u64,
    /// How long a device's status is cached (1-3600 s): a device that keeps sending is
    /// re-checked this often.
    #[serde(default = "default_client_cache")]
    pub client_cache_secs: u64,
    /// Timeout of one OCSP request (100-30000 ms).
    #[serde(default = "default_ocsp_timeout")]
    pub timeout_ms: u64,
    /// The responder to ask instead of the certificates' AIA (authorityInfoAccess) URL.
    #[serde(default)]
    pub responder_url: Option<String>,
    /// Device checks when the responder cannot be asked.
    #[serde(default)]
    pub on_unreachable: Unreachable,
}

fn default_staple_cache() -> u64 {
    1800
}
fn default_client_cache() -> u64 {
    300
}
fn default_ocsp_timeout() -> u64 {
    3000
}

impl Default for OcspSpec {
    fn default() -> Self {
        OcspSpec {
            mode: OcspMode::Disabled,
            staple_cache_secs: default_staple_cache(),
            client_cache_secs: default_client_cache(),
            timeout_ms: default_ocsp_timeout(),
            responder_url: None,
            on_unreachable: Unreachable::Refuse,
        }
    }
}

/// The TLS settings of a gateway.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSpec {
    /// The server certificate chain, leaf first (path or PEM). For OCSP stapling the issuer
    /// must follow the leaf.
    pub cert: String,
    /// The private key of the leaf (path or PEM; PKCS#8, SEC1 or PKCS#1; RSA or ECDSA). Never
    /// shown by the API or logged.
    pub key: String,
    /// TLS versions offered: "1.2" and/or "1.3".
    #[serde(default = "default_versions")]
    pub versions: Vec<String>,
    /// Largest TLS record the gateway sends, header included (512-16389 bytes). Small clients
    /// such as embedded-tls cannot reassemble a handshake message split over records, so keep
    /// the certificate chain below this.
    #[serde(default = "default_fragment")]
    pub max_fragment_size: usize,
    /// A connection that has not finished its handshake by then is closed (1000-60000 ms).
    #[serde(default = "default_handshake_timeout")]
    pub handshake_timeout_ms: u64,
    /// Root CA(s) of the device certificates (path or PEM). Set: every device must present a
    /// certificate issued under it, and the VIN of each login must match it.
    #[serde(default)]
    pub client_ca: Option<String>,
    /// Where the VIN is in a device certificate.
    #[serde(default)]
    pub vin_match: VinMatch,
    /// Certificate revocation lists (paths or PEM) checked for the device certificates, for
    /// closed networks without an OCSP responder.
    #[serde(default)]
    pub crl: Vec<String>,
    #[serde(default)]
    pub ocsp: OcspSpec,
}

fn default_versions() -> Vec<String> {
    vec!["1.2".into(), "1.3".into()]
}
pub const DEFAULT_MAX_FRAGMENT: usize = 4096;
fn default_fragment() -> usize {
    DEFAULT_MAX_FRAGMENT
}
fn default_handshake_timeout() -> u64 {
    10_000
}

/// Whether a field's value is PEM text rather than a path.
pub fn is_inline_pem(value: &str) -> bool {
    value.trim_start().starts_with("-----BEGIN")
}

/// A field value as it may be shown: the path, or a note that PEM was given inline.
fn describe(value: &str) -> Value {
    if is_inline_pem(value) {
        json!("<inline PEM>")
    } else {
        json!(value)
    }
}

impl std::fmt::Debug for TlsSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSpec")
            .field("cert", &describe(&self.cert))
            .field("key", &"<redacted>")
            .field("versions", &self.versions)
            .field("max_fragment_size", &self.max_fragment_size)
            .field("client_ca", &self.client_ca.as_deref().map(describe))
            .field("vin_match", &self.vin_match)
            .field("crl", &self.crl.iter().map(|c| describe(c)).collect::<Vec<_>>())
            .field("ocsp", &self.ocsp)
            .finish()
    }
}

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

impl TlsSpec {
    /// Settings with the defaults around a certificate chain and its key.
    pub fn new(cert: impl Into<String>, key: impl Into<String>) -> Self {
        TlsSpec {
            cert: cert.into(),
            key: key.into(),
            versions: default_versions(),
            max_fragment_size: DEFAULT_MAX_FRAGMENT,
            handshake_timeout_ms: default_handshake_timeout(),
            client_ca: None,
            vin_match: VinMatch::Cn,
            crl: Vec::new(),
            ocsp: OcspSpec::default(),
        }
    }

    /// Checks the syntax of every field (not the PEM material: see `material::load`).
    pub fn validate(&self) -> Result<(), FieldError> {
        for (field, v) in [("tls.cert", &self.cert), ("tls.key", &self.key)] {
            if v.trim().is_empty() {
                return Err(err(field, "must be a file path or PEM text"));
            }
        }
        if self.versions.is_empty() {
            return Err(err("tls.versions", "give at least one of \"1.2\", \"1.3\""));
        }
        for v in &self.versions {
            if v != "1.2" && v != "1.3" {
                return Err(err("tls.versions", format!("{v:?} is not one of \"1.2\", \"1.3\"")));
            }
        }
        if !(512..=16389).contains(&self.max_fragment_size) {
            return Err(err("tls.max_fragment_size", "must be 512-16389 (bytes per record)"));
        }
        if !(1000..=60_000).contains(&self.handshake_timeout_ms) {
            return Err(err("tls.handshake_timeout_ms", "must be 1000-60000"));
        }
        if self.client_ca.as_deref().is_some_and(|c| c.trim().is_empty()) {
            return Err(err("tls.client_ca", "must be a file path or PEM text"));
        }
        if !self.crl.is_empty() && self.client_ca.is_none() {
            return Err(err(
                "tls.crl",
                "CRLs are for device certificates: set tls.client_ca too",
            ));
        }
        let o = &self.ocsp;
        if o.mode.client() && self.client_ca.is_none() {
            return Err(err(
                "tls.ocsp.mode",
                "client checks need device certificates: set tls.client_ca too",
            ));
        }
        if !(300..=3600).contains(&o.staple_cache_secs) {
            return Err(err("tls.ocsp.staple_cache_secs", "must be 300-3600 (5 to 60 minutes)"));
        }
        if !(1..=3600).contains(&o.client_cache_secs) {
            return Err(err("tls.ocsp.client_cache_secs", "must be 1-3600"));
        }
        if !(100..=30_000).contains(&o.timeout_ms) {
            return Err(err("tls.ocsp.timeout_ms", "must be 100-30000"));
        }
        if let Some(u) = &o.responder_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(err("tls.ocsp.responder_url", "must be an http:// or https:// URL"));
            }
        }
        Ok(())
    }

    /// The settings as the API shows them: the private key never, inline PEM as a note.
    pub fn redacted(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        v["cert"] = describe(&self.cert);
        v["key"] = if is_inline_pem(&self.key) {
            json!("<inline PEM, redacted>")
        } else {
            json!(self.key)
        };
        if let Some(ca) = &self.client_ca {
            v["client_ca"] = describe(ca);
        }
        v["crl"] = self.crl.iter().map(|c| describe(c)).collect();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";

    #[test]
    fn defaults_and_field_names() {
        let s: TlsSpec = toml::from_str("cert = \"a.pem\"\nkey = \"k.pem\"\n").unwrap();
        assert_eq!(s, TlsSpec::new("a.pem", "k.pem"));
        assert_eq!(s.max_fragment_size, 4096);
        s.validate().unwrap();
        let bad = |f: &dyn Fn(&mut TlsSpec)| {
            let mut s = TlsSpec::new("a.pem", "k.pem");
            f(&mut s);
            s.validate().unwrap_err().field
        };
        assert_eq!(bad(&|s| s.versions = vec!["1.1".into()]), "tls.versions");
        assert_eq!(bad(&|s| s.max_fragment_size = 256), "tls.max_fragment_size");
        assert_eq!(bad(&|s| s.ocsp.mode = OcspMode::Client), "tls.ocsp.mode");
        assert_eq!(bad(&|s| s.ocsp.staple_cache_secs = 60), "tls.ocsp.staple_cache_secs");
        assert_eq!(bad(&|s| s.crl = vec!["x.crl".into()]), "tls.crl");
        assert_eq!(bad(&|s| s.key = " ".into()), "tls.key");
        assert!(toml::from_str::<TlsSpec>("cert = \"a\"\nkey = \"b\"\ntypo = 1\n").is_err());
    }

    #[test]
    fn the_key_is_never_shown() {
        let s = TlsSpec::new("/etc/gw/chain.pem", KEY);
        let shown = s.redacted().to_string();
        assert!(!shown.contains("MIGHAgEA"), "{shown}");
        assert!(shown.contains("/etc/gw/chain.pem"));
        assert!(!format!("{s:?}").contains("MIGHAgEA"));
        let by_path = TlsSpec::new("c.pem", "/etc/gw/key.pem");
        assert_eq!(by_path.redacted()["key"], "/etc/gw/key.pem");
    }
}
