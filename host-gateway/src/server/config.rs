//! The configuration: one typed struct from an optional TOML file, then the flags on top,
//! validated once.
//!
//! ```toml
//! data_dir = "./data"
//! api_listen = "127.0.0.1:8998"
//! # api_token = "secret"        # otherwise generated, printed once, stored hashed
//! idle_timeout_secs = 180
//! downlink_timeout_secs = 10     # per attempt; 3 attempts
//! retention_days = 0             # 0 keeps frames forever
//! # retention_secs = 0           # overrides retention_days in seconds (tests, short-lived data)
//! retention_interval_secs = 3600 # how often the retention purge runs
//! # POST /api/v1/maintenance/purge purges on demand.
//!
//! [[gateways]]
//! name = "default_gateway"
//! host = "0.0.0.0"
//! port = 8999
//! auth_type = "one_way"          # or "third_party" with auth_url (and auth_timeout_ms = 3000)
//! duplicate_vin = "new_wins"     # or "refuse_new" (answered 0x03)
//!
//! [[gateways]]                   # a TLS gateway with device certificates (docs/tls.md)
//! name = "tls_gateway"
//! port = 8443
//! transport = "tls"
//! [gateways.tls]                 # belongs to the [[gateways]] just above
//! cert = "/etc/gb32960/server-chain.pem"  # a path, or the PEM text itself
//! key = "/etc/gb32960/server-key.pem"
//! client_ca = "/etc/gb32960/device-ca.pem" # optional: device certificates required
//! vin_match = "cn"               # or "san", "cn_or_san"
//! max_fragment_size = 4096
//! [gateways.tls.ocsp]
//! mode = "disabled"              # or "server" (stapling), "client" (devices), "both"
//!
//! [sinks]
//! ndjson = "./data/messages.ndjson"
//! webhook = { url = "http://127.0.0.1:9000/hook", batch = 100, retries = 3 }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Deserialize;

use super::model::GatewaySpec;
use super::ServeArgs;

/// A webhook sink.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// Messages per POST (a JSON array).
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Attempts after the first failure.
    #[serde(default = "default_retries")]
    pub retries: u32,
}

fn default_batch() -> usize {
    100
}
fn default_retries() -> u32 {
    3
}

/// Where messages go besides the store.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SinksConfig {
    /// A file that gets one JSON message a line.
    pub ndjson: Option<PathBuf>,
    pub webhook: Option<WebhookConfig>,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default = "default_api_listen")]
    pub api_listen: SocketAddr,
    #[serde(default)]
    pub api_token: Option<String>,
    #[serde(default = "default_idle")]
    pub idle_timeout_secs: u64,
    #[serde(default = "default_downlink_timeout")]
    pub downlink_timeout_secs: u64,
    #[serde(default)]
    pub retention_days: u32,
    /// Retention in seconds; overrides `retention_days` when set (mostly for tests).
    #[serde(default)]
    pub retention_secs: Option<u64>,
    /// Interval of the retention purge.
    #[serde(default = "default_retention_interval")]
    pub retention_interval_secs: u64,
    #[serde(default)]
    pub gateways: Vec<GatewaySpec>,
    #[serde(default)]
    pub sinks: SinksConfig,
    /// Set by `--listen`: the address of the first gateway (created if none exists).
    #[serde(skip)]
    pub listen_override: Option<SocketAddr>,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}
fn default_api_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8998))
}
fn default_idle() -> u64 {
    180
}
fn default_retention_interval() -> u64 {
    3600
}
fn default_downlink_timeout() -> u64 {
    10
}

/// Name of the gateway created when neither the store nor the file has one.
pub const DEFAULT_GATEWAY_NAME: &str = "default_gateway";

impl Config {
    /// Reads the file (if any), applies the flags and validates.
    pub fn load(args: &ServeArgs) -> Result<Self> {
        let mut c: Config = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("in {}", path.display()))?
            }
            None => toml::from_str("")?,
        };
        if let Some(d) = &args.data_dir {
            c.data_dir = d.clone();
        }
        if let Some(a) = args.api_listen {
            c.api_listen = a;
        }
        if let Some(t) = &args.api_token {
            c.api_token = Some(t.clone());
        }
        if let Some(s) = args.idle_timeout {
            c.idle_timeout_secs = s;
        }
        if let Some(d) = args.retention_days {
            c.retention_days = d;
        }
        c.listen_override = args.listen;
        c.validate()?;
        Ok(c)
    }

    /// How long frames are kept, in ms (None: forever).
    pub fn retention_ms(&self) -> Option<i64> {
        match (self.retention_secs, self.retention_days) {
            (Some(0), _) | (None, 0) => None,
            (Some(s), _) => Some(i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX / 2)),
            (None, d) => Some(i64::from(d) * 86_400_000),
        }
    }

    fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            self.retention_interval_secs > 0,
            "retention_interval_secs: must be at least 1"
        );
        anyhow::ensure!(self.idle_timeout_secs > 0, "idle_timeout_secs: must be at least 1");
        anyhow::ensure!(
            self.downlink_timeout_secs > 0,
            "downlink_timeout_secs: must be at least 1"
        );
        if let Some(t) = &self.api_token {
            anyhow::ensure!(t.len() >= 8, "api_token: must be at least 8 characters");
        }
        for (i, g) in self.gateways.iter().enumerate() {
            g.validate().with_context(|| format!("gateways[{i}]"))?;
        }
        if let Some(w) = &self.sinks.webhook {
            anyhow::ensure!(
                w.url.starts_with("http://") || w.url.starts_with("https://"),
                "sinks.webhook.url: must be an http:// or https:// URL"
            );
            anyhow::ensure!(w.batch >= 1, "sinks.webhook.batch: must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_parses_and_names_bad_fields() {
        let c: Config = toml::from_str(
            "idle_timeout_secs = 5\n[[gateways]]\nname = \"gate_a\"\nport = 9100\nduplicate_vin = \"refuse_new\"\n",
        )
        .unwrap();
        assert_eq!(c.gateways[0].port, 9100);
        c.validate().unwrap();
        let c: Config = toml::from_str("[[gateways]]\nname = \"ab\"\n").unwrap();
        assert!(format!("{:#}", c.validate().unwrap_err()).contains("name"));
        assert!(toml::from_str::<Config>("bogus = 1").is_err());
    }

    #[test]
    fn tls_gateway_in_the_file() {
        let c: Config = toml::from_str(
            r#"
[[gateways]]
name = "plain_gw"
port = 9100

[[gateways]]
name = "tls_gateway"
host = "127.0.0.1"
port = 8443
transport = "tls"

[gateways.tls]
cert = "/etc/gb32960/server-chain.pem"
key = "/etc/gb32960/server-key.pem"
client_ca = "/etc/gb32960/device-ca.pem"
versions = ["1.3"]
max_fragment_size = 2048

[gateways.tls.ocsp]
mode = "client"
client_cache_secs = 60
"#,
        )
        .unwrap();
        c.validate().unwrap();
        assert!(c.gateways[0].tls.is_none());
        let tls = c.gateways[1].tls.as_ref().unwrap();
        assert_eq!(tls.client_ca.as_deref(), Some("/etc/gb32960/device-ca.pem"));
        assert_eq!((tls.max_fragment_size, tls.ocsp.client_cache_secs), (2048, 60));
        let bad: Config = toml::from_str(
            "[[gateways]]\nname = \"tls_gateway\"\ntransport = \"tls\"\n[gateways.tls]\ncert = \"c\"\nkey = \"k\"\nversions = [\"1.0\"]\n",
        )
        .unwrap();
        let e = format!("{:#}", bad.validate().unwrap_err());
        assert!(e.contains("gateways[0]") && e.contains("tls.versions"), "{e}");
    }
}
