//! Sinks: every accepted frame and every online/offline change also goes out as a JSON message
//! to the configured sinks (an NDJSON file, an HTTP webhook). Sinks run in their own tasks and
//! never slow a connection down.

pub mod ndjson;
pub mod webhook;

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::config::SinksConfig;
use super::model::Gateway;

/// A sink message (docs/json.md, "Sink messages"): `kind` is `frame`, `online` or `offline`;
/// `frame` is the decoded frame (null for online/offline). `type` and `gateway_id` are kept
/// from the first version of the shape; `extra` fields are appended.
pub fn message(gw: &Gateway, kind: &str, vin: &str, received_at: i64, frame: Value, extra: Value) -> Value {
    let mut m = serde_json::json!({
        "gateway": gw.spec.name,
        "gateway_id": gw.id,
        "product": gw.product,
        "vin": vin,
        "received_at": received_at,
        "kind": kind,
        "type": kind,
        "frame": frame,
    });
    if let (Some(o), Value::Object(e)) = (m.as_object_mut(), extra) {
        o.extend(e);
    }
    m
}

/// The configured sinks.
#[derive(Clone, Default)]
pub struct Sinks {
    txs: Vec<mpsc::UnboundedSender<Arc<Value>>>,
}

impl Sinks {
    /// Starts a task per configured sink; they stop (after draining) once every `Sinks` is dropped.
    pub fn start(config: &SinksConfig, http: reqwest::Client) -> anyhow::Result<(Sinks, Vec<JoinHandle<()>>)> {
        let mut sinks = Sinks::default();
        let mut tasks = Vec::new();
        if let Some(path) = &config.ndjson {
            let (tx, rx) = mpsc::unbounded_channel();
            tasks.push(tokio::spawn(ndjson::run(path.clone(), rx)));
            sinks.txs.push(tx);
        }
        if let Some(w) = &config.webhook {
            let (tx, rx) = mpsc::unbounded_channel();
            tasks.push(tokio::spawn(webhook::run(w.clone(), http, rx)));
            sinks.txs.push(tx);
        }
        Ok((sinks, tasks))
    }

    /// Publishes a message to every sink.
    pub fn publish(&self, message: Value) {
        if self.txs.is_empty() {
            return;
        }
        let m = Arc::new(message);
        for tx in &self.txs {
            let _ = tx.send(m.clone());
        }
    }
}
