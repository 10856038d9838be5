//! Gateways at run time: the shared context of every connection, and the manager that starts,
//! rebinds and stops each gateway's listener while the process runs.

pub mod conn;
pub mod listener;
pub mod registry;

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
}

/// Starts and stops gateways; keeps their status.
pub struct Manager {
    ctx: Arc<Ctx>,
    running: Mutex<HashMap<i64, Running>>,
    status: std::sync::Mutex<HashMap<i64, GatewayStatus>>,
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

    /// (Re)starts `gw`'s listener if it is enabled; stops it otherwise. Connections of the old
    /// listener are closed (their devices reconnect to the new settings).
    pub async fn apply(&self, gw: Gateway) -> GatewayStatus {
        self.stop(gw.id).await;
        if !gw.enabled {
            self.set_status(gw.id, GatewayStatus::Stopped);
            return GatewayStatus::Stopped;
        }
        let Some(guard) = self.conn_guard.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return GatewayStatus::Stopped;
        };
        let id = gw.id;
        let status = match listener::bind(&gw).await {
            Ok(l) => {
                let (stop, stop_rx) = watch::channel(false);
                let task = tokio::spawn(listener::run(self.ctx.clone(), Arc::new(gw), l, stop_rx, guard));
                self.running.lock().await.insert(id, Running { stop, task });
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

    /// Stops a gateway's listener and closes its connections.
    pub async fn stop(&self, id: i64) {
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
