//! OCSP checks of the devices' certificates: at the handshake, and again while a device keeps
//! sending (at most every `client_cache_secs`, the lifetime of a cached status). A revoked or
//! unknown certificate is refused; a responder that cannot be asked follows `on_unreachable`
//! (refuse by default).
//!
//! The re-check lives in [`super::link::TlsLink`], the wrapper of every server-side TLS stream:
//! when a check says no, the next read fails with the reason, so the connection driver closes
//! the link the way it closes any broken link, without knowing about certificates.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustls_pki_types::CertificateDer;

use super::cert::{unix_text, CertInfo};
use super::ocsp::{Status, Target};
use super::spec::{OcspSpec, Unreachable};

/// What a check decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Good.
    Allow,
    /// No status could be had, and the policy is fail-open (the reason is logged).
    AllowUnchecked(String),
    Refuse(String),
}

impl Verdict {
    pub fn allowed(&self) -> bool {
        !matches!(self, Verdict::Refuse(_))
    }
}

/// A certificate: its issuer's name (DER) and its serial.
type CacheKey = (Vec<u8>, Vec<u8>);

struct Cached {
    status: Status,
    until: Instant,
}

/// Checks device certificates with OCSP, with a cache per certificate.
pub struct DeviceChecker {
    gateway_id: i64,
    http: reqwest::Client,
    spec: OcspSpec,
    /// The device CA certificates (issuers when the device sends no intermediate).
    ca: Vec<CertificateDer<'static>>,
    cache: Mutex<HashMap<CacheKey, Cached>>,
}

impl DeviceChecker {
    pub fn new(gateway_id: i64, http: reqwest::Client, spec: OcspSpec, ca: Vec<CertificateDer<'static>>) -> Self {
        DeviceChecker {
            gateway_id,
            http,
            spec,
            ca,
            cache: Mutex::default(),
        }
    }

    /// How often a device that keeps sending is checked again.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.spec.client_cache_secs)
    }

    /// The leaf's issuer: the next certificate the device sent, or a device CA.
    fn issuer(&self, chain: &[CertificateDer<'static>], leaf: &CertInfo) -> Option<CertificateDer<'static>> {
        chain
            .iter()
            .skip(1)
            .chain(self.ca.iter())
            .find(|c| CertInfo::parse(c).is_ok_and(|i| leaf.issued_by(&i)))
            .cloned()
    }

    /// The status of `chain[0]` (cached), turned into a verdict, with a log line when it is not
    /// a plain yes.
    pub async fn check(&self, chain: &[CertificateDer<'static>]) -> Verdict {
        let Some(first) = chain.first() else {
            return Verdict::Refuse("no client certificate".into());
        };
        let leaf = match CertInfo::parse(first) {
            Ok(l) => l,
            Err(e) => return Verdict::Refuse(format!("client certificate does not parse: {e}")),
        };
        let key = (leaf.issuer_name_der.clone(), leaf.serial.clone());
        let cached = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            cache.retain(|_, c| c.until > now);
            cache.get(&key).map(|c| c.status.clone())
        };
        let status = match cached {
            Some(s) => Ok(s),
            None => self.fetch(chain, &leaf).await,
        };
        let subject = &leaf.subject;
        let serial = leaf.serial_hex();
        match status {
            Ok(Status::Good) => Verdict::Allow,
            Ok(Status::Revoked { at, reason }) => {
                let why = format!(
                    "client certificate revoked (OCSP) since {}{}",
                    unix_text(at),
                    reason.map(|r| format!(", reason {r}")).unwrap_or_default()
                );
                tracing::warn!(gateway = self.gateway_id, %subject, %serial, reason = %why, "device refused");
                Verdict::Refuse(why)
            }
            Ok(Status::Unknown) => {
                let why = "client certificate unknown to its OCSP responder".to_string();
                tracing::warn!(gateway = self.gateway_id, %subject, %serial, reason = %why, "device refused");
                Verdict::Refuse(why)
            }
            Err(e) => match self.spec.on_unreachable {
                Unreachable::Refuse => {
                    let why = format!("OCSP check failed ({e}); on_unreachable = refuse");
                    tracing::warn!(gateway = self.gateway_id, %subject, %serial, reason = %why, "device refused");
                    Verdict::Refuse(why)
                }
                Unreachable::Allow => {
                    let why = format!("OCSP check failed ({e}); on_unreachable = allow");
                    tracing::warn!(gateway = self.gateway_id, %subject, %serial, reason = %why, "device let in unchecked");
                    Verdict::AllowUnchecked(why)
                }
            },
        }
    }

    async fn fetch(
        &self,
        chain: &[CertificateDer<'static>],
        leaf: &CertInfo,
    ) -> Result<Status, super::ocsp::OcspError> {
        let issuer = self.issuer(chain, leaf).ok_or(super::ocsp::OcspError::NoIssuer)?;
        let target = Target::new(leaf, &issuer, self.spec.responder_url.as_deref())?;
        let answer = target
            .query(&self.http, Duration::from_millis(self.spec.timeout_ms))
            .await?;
        let mut life = self.interval();
        if let Some(n) = answer.next_update {
            let left = n - chrono::Utc::now().timestamp();
            life = life.min(Duration::from_secs(left.max(0) as u64));
        }
        tracing::debug!(
            gateway = self.gateway_id,
            serial = %leaf.serial_hex(),
            status = answer.status.as_str(),
            "OCSP status of a device certificate"
        );
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(
            (leaf.issuer_name_der.clone(), leaf.serial.clone()),
            Cached {
                status: answer.status.clone(),
                until: Instant::now() + life,
            },
        );
        Ok(answer.status)
    }
}
