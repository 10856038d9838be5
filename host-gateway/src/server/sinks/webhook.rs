//! The HTTP webhook sink: messages are POSTed as JSON arrays of up to `batch`, retried with
//! a growing delay, then dropped with an error in the log.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::server::config::WebhookConfig;

pub async fn run(config: WebhookConfig, http: reqwest::Client, mut rx: mpsc::UnboundedReceiver<Arc<Value>>) {
    let mut batch: Vec<Arc<Value>> = Vec::with_capacity(config.batch);
    while let Some(m) = rx.recv().await {
        batch.push(m);
        // Linger briefly so that a burst goes out as one request.
        let linger = tokio::time::sleep(Duration::from_millis(200));
        tokio::pin!(linger);
        while batch.len() < config.batch {
            tokio::select! {
                m = rx.recv() => match m { Some(m) => batch.push(m), None => break },
                _ = &mut linger => break,
            }
        }
        let body: Vec<&Value> = batch.iter().map(|m| &**m).collect();
        let mut delay = Duration::from_millis(500);
        for attempt in 0..=config.retries {
            let r = http
                .post(&config.url)
                .timeout(Duration::from_secs(10))
                .json(&body)
                .send()
                .await
                .and_then(|r| r.error_for_status());
            match r {
                Ok(_) => break,
                Err(e) if attempt < config.retries => {
                    tracing::warn!(url = %config.url, attempt, error = %e, "webhook failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
                Err(e) => {
                    tracing::error!(url = %config.url, messages = batch.len(), error = %e, "webhook failed, messages dropped")
                }
            }
        }
        batch.clear();
    }
}
