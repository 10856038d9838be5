//! TLS listeners (`transport = "tls"`): rustls (ring) with TLS 1.2 and 1.3, optional device
//! certificates (mutual TLS, the VIN bound to the certificate), revocation by OCSP (stapling,
//! device checks, or both) or CRL files, a capped record size for small clients, and hot
//! reload.
//!
//! * [`spec`]: the settings and their checks; [`material`]: PEM files or inline PEM into a
//!   rustls `ServerConfig`; [`cert`]: the certificate fields used (CN, SAN, AIA, serial).
//! * [`ocsp`]: requests and checked responses; [`staple`]: the certificate resolver and the
//!   stapling task; [`device`]: device checks; [`link`]: the stream the connection driver gets
//!   (re-checks while a device sends, pushes buffered TLS records out).
//! * [`accept`]: one accepted socket through the handshake and the checks into the connection
//!   driver.
//!
//! Hot reload: a running gateway's [`TlsSlot`] holds its current [`TlsRuntime`]. An edit that
//! only changes `tls`, or SIGHUP (which re-reads the files), builds a new runtime and swaps it
//! in; handshakes from then on use it, established connections keep theirs. A runtime that
//! does not build (bad PEM, key not matching) leaves the old one in place.

pub mod accept;
pub mod cert;
pub mod device;
pub mod link;
pub mod material;
pub mod ocsp;
pub mod spec;
pub mod staple;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::{json, Value};
use tokio_rustls::TlsAcceptor;

use crate::server::model::FieldError;
use device::DeviceChecker;
use material::Material;
use spec::{TlsSpec, VinMatch};
use staple::{AbortOnDrop, CertResolver, StapleInfo};

pub use spec::DEFAULT_MAX_FRAGMENT;

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// Everything a TLS listener needs for a handshake and what follows it.
pub struct TlsRuntime {
    pub acceptor: TlsAcceptor,
    /// Set when device certificates are verified: where the VIN must be.
    pub vin_match: Option<VinMatch>,
    /// Set in OCSP modes `client` and `both`.
    pub device_check: Option<Arc<DeviceChecker>>,
    pub handshake_timeout: Duration,
    material: Value,
    loaded_at: String,
    staple: Option<Arc<Mutex<StapleInfo>>>,
    /// The stapling task; stopped when this runtime is replaced or dropped.
    _refresher: Option<AbortOnDrop>,
}

impl TlsRuntime {
    /// Loads `spec` (files or inline PEM) and, for stapling, starts fetching. Must run inside
    /// the tokio runtime.
    pub fn start(spec: &TlsSpec, gateway_id: i64, http: &reqwest::Client) -> Result<TlsRuntime, FieldError> {
        let m = material::load(spec, chrono::Utc::now().timestamp())?;
        Self::from_material(spec, m, gateway_id, http)
    }

    fn from_material(
        spec: &TlsSpec,
        m: Material,
        gateway_id: i64,
        http: &reqwest::Client,
    ) -> Result<TlsRuntime, FieldError> {
        let resolver = Arc::new(CertResolver::new(m.certified.clone()));
        let config = m.server_config(spec, resolver.clone())?;
        let timeout = Duration::from_millis(spec.ocsp.timeout_ms);
        let (staple, refresher) = if spec.ocsp.mode.server() {
            let issuer = m.issuer.as_ref().ok_or_else(|| {
                err(
                    "tls.cert",
                    "OCSP stapling needs the issuer's certificate right after the leaf in the chain",
                )
            })?;
            let target = ocsp::Target::new(&m.leaf, issuer, spec.ocsp.responder_url.as_deref()).map_err(|e| {
                let field = match e {
                    ocsp::OcspError::NoResponder => "tls.ocsp.responder_url",
                    _ => "tls.cert",
                };
                err(field, e.to_string())
            })?;
            let info = Arc::new(Mutex::new(StapleInfo {
                state: "pending".into(),
                responder: target.url.clone(),
                ..StapleInfo::default()
            }));
            let task = staple::spawn_refresher(
                gateway_id,
                target,
                resolver,
                info.clone(),
                http.clone(),
                spec.ocsp.staple_cache_secs,
                timeout,
            );
            (Some(info), Some(task))
        } else {
            (None, None)
        };
        let device_check = match (&m.client_ca, spec.ocsp.mode.client()) {
            (Some(ca), true) => Some(Arc::new(DeviceChecker::new(
                gateway_id,
                http.clone(),
                spec.ocsp.clone(),
                ca.certs.clone(),
            ))),
            _ => None,
        };
        Ok(TlsRuntime {
            acceptor: TlsAcceptor::from(config),
            vin_match: m.client_ca.as_ref().map(|_| spec.vin_match),
            device_check,
            handshake_timeout: Duration::from_millis(spec.handshake_timeout_ms),
            material: m.info(),
            loaded_at: chrono::Utc::now().to_rfc3339(),
            staple,
            _refresher: refresher,
        })
    }

    /// What the API shows: the loaded certificate's fingerprint and dates, the staple's state.
    pub fn info(&self) -> Value {
        let mut v = self.material.clone();
        v["loaded_at"] = json!(self.loaded_at);
        v["client_auth"] = json!(self.vin_match.is_some());
        v["vin_match"] = json!(self.vin_match.map(VinMatch::as_str));
        v["ocsp_device_checks"] = json!(self.device_check.is_some());
        if let Some(s) = &self.staple {
            v["ocsp_staple"] =
                serde_json::to_value(&*s.lock().unwrap_or_else(|e| e.into_inner())).unwrap_or(Value::Null);
        }
        v
    }
}

/// The current TLS runtime of a running gateway, swapped on reload.
pub struct TlsSlot {
    current: RwLock<Arc<TlsRuntime>>,
}

impl TlsSlot {
    pub fn new(rt: TlsRuntime) -> Self {
        TlsSlot {
            current: RwLock::new(Arc::new(rt)),
        }
    }

    pub fn get(&self) -> Arc<TlsRuntime> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// New handshakes use `rt` from now on.
    pub fn replace(&self, rt: TlsRuntime) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(rt);
    }
}
