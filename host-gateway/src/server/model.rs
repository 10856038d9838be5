//! Gateways and devices as the operator sees them, and the validation of every field.

use serde::{Deserialize, Serialize};

use super::tls::spec::TlsSpec;

/// How a gateway decides who may log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    /// Only devices imported beforehand (the default: unknown vehicles are refused).
    #[default]
    OneWay,
    /// An HTTP authentication function decides (fail closed).
    ThirdParty,
}

impl AuthType {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::OneWay => "one_way",
            AuthType::ThirdParty => "third_party",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "one_way" => Some(AuthType::OneWay),
            "third_party" => Some(AuthType::ThirdParty),
            _ => None,
        }
    }
}

/// What happens when a VIN logs in while already online (B.2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DuplicatePolicy {
    /// The newcomer wins; the old connection is closed.
    #[default]
    NewWins,
    /// The newcomer is refused with response 0x03 (VIN duplicate).
    RefuseNew,
}

/// Run state of a gateway's listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "reason")]
pub enum GatewayStatus {
    Running,
    Stopped,
    Failed(String),
}

/// The settings of one gateway (what the API and the config file give).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewaySpec {
    pub name: String,
    /// Always "gb32960".
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// Address the listener binds (the port is the gateway's port).
    #[serde(default = "default_host")]
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub auth_type: AuthType,
    /// URL of the HTTP authentication function (third-party).
    #[serde(default)]
    pub auth_url: Option<String>,
    /// Timeout of the authentication call, milliseconds.
    #[serde(default = "default_auth_timeout")]
    pub auth_timeout_ms: u64,
    /// "tcp" or "tls" (then `tls` holds the certificates and the TLS options).
    #[serde(default = "default_transport")]
    pub transport: String,
    #[serde(default)]
    pub duplicate_vin: DuplicatePolicy,
    /// The TLS settings of a `tls` gateway (see `server::tls::spec`).
    #[serde(default)]
    pub tls: Option<TlsSpec>,
}

fn default_protocol() -> String {
    "gb32960".into()
}
fn default_host() -> String {
    "0.0.0.0".into()
}
pub const DEFAULT_PORT: u16 = 8999;
fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_auth_timeout() -> u64 {
    3000
}
fn default_transport() -> String {
    "tcp".into()
}

/// A validation failure naming the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// Whether `c` is a Chinese or Japanese character (CJK ideographs, kana).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x31F0..=0x31FF    // katakana extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width katakana
        | 0x20000..=0x2FA1F) // extensions B-F, compatibility supplement
}

/// Checks a gateway name: 4-30 characters of letters, digits, `_`, Chinese and Japanese; each
/// Chinese or Japanese character counts as two.
pub fn validate_name(name: &str) -> Result<(), FieldError> {
    let mut len = 0usize;
    for c in name.chars() {
        if is_cjk(c) {
            len += 2;
        } else if c.is_ascii_alphanumeric() || c == '_' {
            len += 1;
        } else {
            return Err(err(
                "name",
                format!("character {c:?} is not allowed (letters, digits, underscore, Chinese and Japanese only)"),
            ));
        }
    }
    if !(4..=30).contains(&len) {
        return Err(err(
            "name",
            format!("length {len} is outside 4-30 (a Chinese or Japanese character counts as two)"),
        ));
    }
    Ok(())
}

impl GatewaySpec {
    /// A spec with the defaults and `name`.
    pub fn named(name: &str) -> Self {
        GatewaySpec {
            name: name.into(),
            protocol: default_protocol(),
            host: default_host(),
            port: default_port(),
            auth_type: AuthType::OneWay,
            auth_url: None,
            auth_timeout_ms: default_auth_timeout(),
            transport: default_transport(),
            duplicate_vin: DuplicatePolicy::NewWins,
            tls: None,
        }
    }

    /// Checks every field (uniqueness of the name is the store's business).
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_name(&self.name)?;
        if !self.protocol.eq_ignore_ascii_case("gb32960") {
            return Err(err("protocol", "only \"gb32960\" (GB/T 32960) is supported"));
        }
        if self.port < 1024 {
            return Err(err("port", format!("{} is outside 1024-65535", self.port)));
        }
        if self.host.parse::<std::net::IpAddr>().is_err() {
            return Err(err("host", format!("{:?} is not an IP address", self.host)));
        }
        match (self.transport.as_str(), &self.tls) {
            ("tcp", None) => {}
            ("tcp", Some(_)) => {
                return Err(err("tls", "TLS settings need transport \"tls\" (or set tls to null)"));
            }
            ("tls", None) => {
                return Err(err(
                    "tls",
                    "a \"tls\" gateway needs its TLS settings (at least cert and key)",
                ))
            }
            ("tls", Some(t)) => t.validate()?,
            _ => return Err(err("transport", "must be \"tcp\" or \"tls\"")),
        }
        match (self.auth_type, &self.auth_url) {
            (AuthType::ThirdParty, None) => {
                return Err(err(
                    "auth_url",
                    "a third-party gateway needs the URL of its authentication function",
                ))
            }
            (AuthType::ThirdParty, Some(u)) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                return Err(err("auth_url", "must be an http:// or https:// URL"))
            }
            _ => {}
        }
        if self.auth_timeout_ms == 0 || self.auth_timeout_ms > 60_000 {
            return Err(err("auth_timeout_ms", "must be 1-60000"));
        }
        Ok(())
    }

    pub fn bind_addr(&self) -> Result<std::net::SocketAddr, FieldError> {
        let ip: std::net::IpAddr = self
            .host
            .parse()
            .map_err(|_| err("host", format!("{:?} is not an IP address", self.host)))?;
        Ok(std::net::SocketAddr::new(ip, self.port))
    }
}

/// A stored gateway.
#[derive(Debug, Clone, Serialize)]
pub struct Gateway {
    pub id: i64,
    #[serde(flatten)]
    pub spec: GatewaySpec,
    /// The automatically created product, `CloudGateway+<id>`.
    pub product: String,
    pub enabled: bool,
}

impl Gateway {
    pub fn product_name(id: i64) -> String {
        format!("CloudGateway+{id}")
    }
}

/// Checks a VIN: 4-17 ASCII letters and digits.
pub fn validate_vin(vin: &str) -> Result<(), FieldError> {
    if !(4..=17).contains(&vin.len()) || !vin.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(err("vin", "must be 4-17 letters and digits"));
    }
    Ok(())
}

/// Checks an ICCID: up to 20 letters and digits.
pub fn validate_iccid(iccid: &str) -> Result<(), FieldError> {
    if iccid.len() > 20 || !iccid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(err("iccid", "must be at most 20 letters and digits"));
    }
    Ok(())
}

/// A device to import.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceImport {
    pub vin: String,
    #[serde(default)]
    pub iccid: Option<String>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

impl DeviceImport {
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_vin(&self.vin)?;
        if let Some(i) = &self.iccid {
            validate_iccid(i)?;
        }
        Ok(())
    }
}

/// A stored device.
#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub vin: String,
    pub gateway_id: i64,
    pub iccid: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub created_at: i64,
}

/// A platform account for 0x05 cascade links, as the API shows it (never the password or its
/// hash).
#[derive(Debug, Clone, Serialize)]
pub struct PlatformAccount {
    pub username: String,
    /// The only gateway the account may log in on; `None`: any.
    pub gateway_id: Option<i64>,
    pub created_at: i64,
}

/// An account to create (or whose password to replace).
#[derive(Clone, Deserialize)]
pub struct PlatformAccountCreate {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub gateway: Option<i64>,
}

impl std::fmt::Debug for PlatformAccountCreate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformAccountCreate")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("gateway", &self.gateway)
            .finish()
    }
}

impl PlatformAccountCreate {
    /// The 0x05 frame carries a 12-byte username and a 20-byte password (ASCII, padded).
    pub fn validate(&self) -> Result<(), FieldError> {
        let ok = |s: &str, max: usize| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
        if !ok(&self.username, 12) {
            return Err(err("username", "must be 1-12 printable ASCII characters (no spaces)"));
        }
        if !ok(&self.password, 20) {
            return Err(err("password", "must be 1-20 printable ASCII characters (no spaces)"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_count_cjk_as_two() {
        assert!(validate_name("abcd").is_ok());
        assert!(validate_name("abc").is_err());
        assert!(validate_name("网关").is_ok()); // 4
        assert!(validate_name("网a").is_err()); // 3
        assert!(validate_name("ゲートウェイ").is_ok());
        assert!(validate_name(&"网".repeat(15)).is_ok()); // 30
        assert!(validate_name(&"网".repeat(16)).is_err()); // 32
        assert!(validate_name(&"a".repeat(31)).is_err());
        assert_eq!(validate_name("ab-cd").unwrap_err().field, "name");
    }

    #[test]
    fn spec_checks_fields() {
        let mut s = GatewaySpec::named("gateway_1");
        assert!(s.validate().is_ok());
        s.port = 80;
        assert_eq!(s.validate().unwrap_err().field, "port");
        s.port = 9000;
        s.auth_type = AuthType::ThirdParty;
        assert_eq!(s.validate().unwrap_err().field, "auth_url");
        s.auth_type = AuthType::OneWay;
        s.transport = "tls".into();
        assert_eq!(s.validate().unwrap_err().field, "tls");
        s.tls = Some(TlsSpec::new("chain.pem", "key.pem"));
        assert!(s.validate().is_ok());
        s.tls.as_mut().unwrap().max_fragment_size = 100;
        assert_eq!(s.validate().unwrap_err().field, "tls.max_fragment_size");
        s.transport = "udp".into();
        assert_eq!(s.validate().unwrap_err().field, "transport");
        s.transport = "tcp".into();
        assert_eq!(s.validate().unwrap_err().field, "tls");
    }

    #[test]
    fn vins() {
        assert!(validate_vin("LGBT32960TEST0001").is_ok());
        assert!(validate_vin("ABC").is_err());
        assert!(validate_vin("LGBT32960TEST00011").is_err());
        assert!(validate_vin("LGBT-3296").is_err());
    }
}
