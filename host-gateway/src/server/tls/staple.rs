//! OCSP stapling: the certificate resolver every handshake asks (so a fresh staple, or a new
//! certificate, reaches the next handshake without touching established connections), and
//! the task that fetches the gateway's own status, caches it for `staple_cache_secs` and
//! refreshes it before the response's nextUpdate.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde::Serialize;

use super::cert::unix_text;
use super::ocsp::{Status, Target};

/// Hands out the certificate chain and key, with the current staple if any.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    pub fn new(certified: Arc<CertifiedKey>) -> Self {
        CertResolver {
            current: RwLock::new(certified),
        }
    }

    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Staples `der` (an OCSPResponse) to the certificate, or removes the staple.
    pub fn set_staple(&self, der: Option<Vec<u8>>) {
        let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
        let mut next = CertifiedKey::clone(&cur);
        next.ocsp = der;
        *cur = Arc::new(next);
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// What the API shows of the staple.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StapleInfo {
    /// "pending" (not fetched yet), "good", "revoked", "unknown", or "error".
    pub state: String,
    /// Whether a response is stapled right now.
    pub stapled: bool,
    pub responder: String,
    pub this_update: Option<String>,
    pub next_update: Option<String>,
    pub fetched_at: Option<String>,
    pub next_fetch_at: Option<String>,
    pub error: Option<String>,
}

/// Aborts the task when dropped (the refresher lives as long as its TLS configuration).
#[derive(Debug)]
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// When to fetch again after an answer at `now`: after the cache time, but before the
/// response's nextUpdate, leaving a quarter of the time left (at least a minute) for retries;
/// never sooner than 30 s.
pub fn next_fetch(now: i64, cache_secs: u64, next_update: Option<i64>) -> i64 {
    let mut at = now + cache_secs as i64;
    if let Some(n) = next_update {
        let margin = ((n - now) / 4).max(60);
        at = at.min(n - margin);
    }
    at.max(now + 30)
}

/// The delay before retry `attempt` (0, 1, ...) after a failed fetch: 15 s doubling to 5 min.
pub fn retry_delay(attempt: u32) -> i64 {
    (15i64 << attempt.min(5)).min(300)
}

/// Fetches and staples until dropped.
pub fn spawn_refresher(
    gateway_id: i64,
    target: Target,
    resolver: Arc<CertResolver>,
    info: Arc<Mutex<StapleInfo>>,
    http: reqwest::Client,
    cache_secs: u64,
    timeout: Duration,
) -> AbortOnDrop {
    let task = tokio::spawn(async move {
        let mut failures = 0u32;
        // The nextUpdate of what is stapled now (None: nothing, or no nextUpdate).
        let mut stapled_until: Option<i64> = None;
        loop {
            let result = target.query(&http, timeout).await;
            let now = chrono::Utc::now().timestamp();
            let wait = match result {
                Ok(answer) => {
                    failures = 0;
                    match &answer.status {
                        Status::Good => tracing::info!(
                            gateway = gateway_id,
                            serial = %target.serial_hex,
                            next_update = ?answer.next_update.map(unix_text),
                            "OCSP staple refreshed: good"
                        ),
                        s => tracing::error!(
                            gateway = gateway_id,
                            serial = %target.serial_hex,
                            status = s.as_str(),
                            "OCSP: the gateway's own certificate is not good; stapling the answer"
                        ),
                    }
                    resolver.set_staple(Some(answer.der.clone()));
                    stapled_until = answer.next_update;
                    let at = next_fetch(now, cache_secs, answer.next_update);
                    let mut i = info.lock().unwrap_or_else(|e| e.into_inner());
                    *i = StapleInfo {
                        state: answer.status.as_str().into(),
                        stapled: true,
                        responder: target.url.clone(),
                        this_update: Some(unix_text(answer.this_update)),
                        next_update: answer.next_update.map(unix_text),
                        fetched_at: Some(unix_text(now)),
                        next_fetch_at: Some(unix_text(at)),
                        error: None,
                    };
                    at - now
                }
                Err(e) => {
                    let delay = retry_delay(failures);
                    failures = failures.saturating_add(1);
                    // An out-of-date staple makes clients fail: better none.
                    let expired = stapled_until.is_some_and(|n| n <= now);
                    if expired {
                        resolver.set_staple(None);
                        stapled_until = None;
                    }
                    let stapled = resolver.current().ocsp.is_some();
                    tracing::warn!(
                        gateway = gateway_id,
                        error = %e,
                        retry_in_secs = delay,
                        stapled,
                        "OCSP staple fetch failed"
                    );
                    let mut i = info.lock().unwrap_or_else(|e| e.into_inner());
                    i.state = "error".into();
                    i.stapled = stapled;
                    i.responder = target.url.clone();
                    i.error = Some(e.to_string());
                    i.next_fetch_at = Some(unix_text(now + delay));
                    delay
                }
            };
            tokio::time::sleep(Duration::from_secs(wait.max(1) as u64)).await;
        }
    });
    AbortOnDrop(task)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_comes_before_next_update() {
        let now = 1_000_000;
        // No nextUpdate: the cache time.
        assert_eq!(next_fetch(now, 1800, None), now + 1800);
        // nextUpdate far away: the cache time.
        assert_eq!(next_fetch(now, 600, Some(now + 86_400)), now + 600);
        // nextUpdate within the cache time: a quarter of the remaining time before it.
        assert_eq!(next_fetch(now, 3600, Some(now + 2000)), now + 1500);
        // Short lifetimes keep a minute of margin, and never less than 30 s from now.
        assert_eq!(next_fetch(now, 3600, Some(now + 100)), now + 40);
        assert_eq!(next_fetch(now, 3600, Some(now + 10)), now + 30);
    }

    #[test]
    fn retries_back_off_to_five_minutes() {
        assert_eq!(retry_delay(0), 15);
        assert_eq!(retry_delay(1), 30);
        assert_eq!(retry_delay(4), 240);
        assert_eq!(retry_delay(5), 300);
        assert_eq!(retry_delay(40), 300);
    }
}
