//! The store writer: one thread that takes writes from every connection, commits them in
//! batched transactions and acknowledges each write once its transaction is committed. A frame
//! counts as accepted only after that acknowledgement.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::{Store, Write};
use crate::server::metrics::Metrics;

/// Most writes per transaction.
const MAX_BATCH: usize = 512;

type Ack = oneshot::Sender<Result<(), String>>;

/// A handle to the writer thread; clone freely. The thread drains what was sent and stops once
/// every handle is dropped.
#[derive(Clone)]
pub struct StoreWriter {
    tx: mpsc::UnboundedSender<(Write, Option<Ack>)>,
}

impl StoreWriter {
    /// Starts the writer thread over `store`.
    pub fn start(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> (StoreWriter, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Write, Option<Ack>)>();
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(MAX_BATCH);
                let mut acks = Vec::with_capacity(MAX_BATCH);
                while let Some((w, ack)) = rx.blocking_recv() {
                    batch.push(w);
                    acks.push(ack);
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok((w, ack)) => {
                                batch.push(w);
                                acks.push(ack);
                            }
                            Err(_) => break,
                        }
                    }
                    let started = Instant::now();
                    let result = store.write_batch(&batch).map_err(|e| format!("{e:#}"));
                    metrics.store_latency(started.elapsed().as_secs_f64());
                    if let Err(e) = &result {
                        tracing::error!(error = %e, writes = batch.len(), "store write failed");
                    }
                    for ack in acks.drain(..).flatten() {
                        let _ = ack.send(result.clone());
                    }
                    batch.clear();
                }
                tracing::info!("store writer drained");
            })
            .expect("spawning the store writer");
        (StoreWriter { tx }, handle)
    }

    /// Writes and waits until the write is committed.
    pub async fn write(&self, w: Write) -> Result<(), String> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send((w, Some(ack)))
            .map_err(|_| "store writer stopped".to_string())?;
        done.await.map_err(|_| "store writer stopped".to_string())?
    }

    /// Waits until everything written before is committed.
    pub async fn flush(&self) -> Result<(), String> {
        self.write(Write::Barrier).await
    }

    /// Writes without waiting (session changes: ordered after earlier writes anyway).
    pub fn write_later(&self, w: Write) {
        let _ = self.tx.send((w, None));
    }
}
