//! Gateways at run time: the shared context of every connection, and the manager that starts,
//! rebinds and stops each gateway's listener while the process runs.

pub mod conn;
pub mod listener;
pub mod registry;
mod signature;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch, Mutex};
use tokio::task::JoinHandle;

use super::metrics::Metrics;
use super::model::{Gateway, GatewayStatus};
use super::sinks::Sinks;
use super::store::writer::StoreWriter;
use super::store::Store;
use super::tls::{TlsRuntime, TlsSlot};
use registry::Registry;

/// What every connection shares.
pub struct Ctx {
    pub store: Arc<dyn Store>,
    pub writer: StoreWriter,
    pub registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    pub sinks: Sinks,
    pub http: reqwest::Client,
    pub idle_timeout_ms: u64,
    pub downlink_timeout_ms: u64,
    /// How long frames are kept (None: forever).
    pub retention_ms: Option<i64>,
    clock: Instant,
    next_conn: AtomicU64,
}

impl Ctx {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        writer: StoreWriter,
        metrics: Arc<Metrics>,
        sinks: Sinks,
        http: reqwest::Client,
        idle_timeout_ms: u64,
        downlink_timeout_ms: u64,
        first_conn_id: u64,
    ) -> Self {
        Ctx {
            store,
            writer,
            registry: Arc::default(),
            metrics,
            sinks,
            http,
            idle_timeout_ms,
            downlink_timeout_ms,
            retention_ms: None,
            clock: Instant::now(),
            next_conn: AtomicU64::new(first_conn_id),
        }
    }

    /// Monotonic milliseconds for the session machines.
    pub fn now_ms(&self) -> u64 {
        self.clock.elapsed().as_millis() as u64
    }

    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// The settings the listener runs with.
    gw: Gateway,
}

/// Starts and stops gateways; keeps their status.
pub struct Manager {
    ctx: Arc<Ctx>,
    running: Mutex<HashMap<i64, Running>>,
    status: std::sync::Mutex<HashMap<i64, GatewayStatus>>,
    /// The TLS configuration of each running TLS gateway (swapped on reload).
    tls: std::sync::Mutex<HashMap<i64, Arc<TlsSlot>>>,
    /// Every connection task holds a clone; shutdown waits until all are dropped.
    conn_guard: std::sync::Mutex<Option<mpsc::Sender<()>>>,
    conns_done: Mutex<mpsc::Receiver<()>>,
}

impl Manager {
    pub fn new(ctx: Arc<Ctx>) -> Self {
        let (tx, rx) = mpsc::channel(1);
        Manager {
            ctx,
            running: Mutex::default(),
            status: std::sync::Mutex::default(),
            tls: std::sync::Mutex::default(),
            conn_guard: std::sync::Mutex::new(Some(tx)),
            conns_done: Mutex::new(rx),
        }
    }

    pub fn ctx(&self) -> &Arc<Ctx> {
        &self.ctx
    }

    pub fn status(&self, id: i64) -> GatewayStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
            .unwrap_or(GatewayStatus::Stopped)
    }

    fn set_status(&self, id: i64, s: GatewayStatus) {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).insert(id, s);
    }

    /// The loaded TLS material and staple state of a running TLS gateway (for the API).
    pub fn tls_info(&self, id: i64) -> Option<serde_json::Value> {
        let slot = self.tls.lock().unwrap_or_else(|e| e.into_inner()).get(&id).cloned();
        slot.map(|s| s.get().info())
    }

    /// (Re)starts `gw`'s listener if it is enabled; stops it otherwise. Connections of the old
    /// listener are closed (their devices reconnect to the new settings), except when only the
    /// TLS settings of a running TLS gateway change: then the certificates are swapped for new
    /// handshakes and every established connection stays.
    pub async fn apply(&self, gw: Gateway) -> GatewayStatus {
        if let Some(status) = self.reload_tls_in_place(&gw).await {
            return status;
        }
        self.stop(gw.id).await;
        if !gw.enabled {
            self.set_status(gw.id, GatewayStatus::Stopped);
            return GatewayStatus::Stopped;
        }
        let Some(guard) = self.conn_guard.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return GatewayStatus::Stopped;
        };
        let id = gw.id;
        let tls = match gw.spec.tls.as_ref().filter(|_| gw.spec.transport == "tls") {
            None => None,
            Some(spec) => match TlsRuntime::start(spec, id, &self.ctx.http) {
                Ok(rt) => Some(Arc::new(TlsSlot::new(rt))),
                Err(e) => {
                    tracing::error!(gateway = id, field = %e.field, error = %e, "gateway failed to start");
                    let status = GatewayStatus::Failed(e.to_string());
                    self.set_status(id, status.clone());
                    return status;
                }
            },
        };
        let status = match listener::bind(&gw).await {
            Ok(l) => {
                let (stop, stop_rx) = watch::channel(false);
                if let Some(slot) = &tls {
                    self.tls
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id, slot.clone());
                }
                let task = tokio::spawn(listener::run(
                    self.ctx.clone(),
                    Arc::new(gw.clone()),
                    l,
                    stop_rx,
                    guard,
                    tls,
                ));
                self.running.lock().await.insert(id, Running { stop, task, gw });
                GatewayStatus::Running
            }
            Err(e) => {
                tracing::error!(gateway = id, error = %e, "gateway failed to start");
                GatewayStatus::Failed(e)
            }
        };
        self.set_status(id, status.clone());
        status
    }

    /// When `gw` differs from the running gateway only in its TLS settings: loads them and
    /// swaps them in (Some(status)); None when a restart is needed instead.
    async fn reload_tls_in_place(&self, gw: &Gateway) -> Option<GatewayStatus> {
        if !gw.enabled || gw.spec.transport != "tls" {
            return None;
        }
        let spec = gw.spec.tls.as_ref()?;
        let mut running = self.running.lock().await;
        let r = running.get_mut(&gw.id)?;
        let mut same_but_tls = r.gw.spec.clone();
        same_but_tls.tls = gw.spec.tls.clone();
        if same_but_tls != gw.spec || r.gw.spec.transport != "tls" {
            return None;
        }
        let slot = self
            .tls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&gw.id)
            .cloned()?;
        match TlsRuntime::start(spec, gw.id, &self.ctx.http) {
            Ok(rt) => {
                slot.replace(rt);
                r.gw = gw.clone();
                tracing::info!(gateway = gw.id, "TLS settings reloaded; established connections kept");
            }
            Err(e) => tracing::error!(
                gateway = gw.id,
                field = %e.field,
                error = %e,
                "TLS reload failed; the previous certificates stay in use"
            ),
        }
        Some(self.status(gw.id))
    }

    /// Re-reads the certificate, key, CA and CRL files of every running TLS gateway (SIGHUP).
    /// A gateway whose new material does not load keeps the old; returns (reloaded, failed).
    pub async fn reload_tls(&self) -> (usize, usize) {
        let gws: Vec<Gateway> = self.running.lock().await.values().map(|r| r.gw.clone()).collect();
        let (mut ok, mut failed) = (0, 0);
        for gw in gws {
            let (Some(spec), Some(slot)) = (
                gw.spec.tls.as_ref(),
                self.tls.lock().unwrap_or_else(|e| e.into_inner()).get(&gw.id).cloned(),
            ) else {
                continue;
            };
            match TlsRuntime::start(spec, gw.id, &self.ctx.http) {
                Ok(rt) => {
                    slot.replace(rt);
                    ok += 1;
                    tracing::info!(gateway = gw.id, name = %gw.spec.name, "TLS files reloaded");
                }
                Err(e) => {
                    failed += 1;
                    tracing::error!(
                        gateway = gw.id,
                        name = %gw.spec.name,
                        field = %e.field,
                        error = %e,
                        "TLS reload failed; the previous certificates stay in use"
                    );
                }
            }
        }
        (ok, failed)
    }

    /// Stops a gateway's listener and closes its connections.
    pub async fn stop(&self, id: i64) {
        self.tls.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        let r = self.running.lock().await.remove(&id);
        if let Some(r) = r {
            let _ = r.stop.send(true);
            let _ = r.task.await;
        }
        self.set_status(id, GatewayStatus::Stopped);
    }

    /// Stops every gateway and waits (bounded) until every connection task has ended.
    pub async fn shutdown(&self, wait: std::time::Duration) {
        let ids: Vec<i64> = self.running.lock().await.keys().copied().collect();
        for id in ids {
            self.stop(id).await;
        }
        self.conn_guard.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut rx = self.conns_done.lock().await;
        if tokio::time::timeout(wait, rx.recv()).await.is_err() {
            tracing::warn!("connections still open after the drain timeout");
        }
    }
}
