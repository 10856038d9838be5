//! The NDJSON file sink: one message a line, appended.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

pub async fn run(path: PathBuf, mut rx: mpsc::UnboundedReceiver<Arc<Value>>) {
    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .await;
    let mut file = match file {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot open the NDJSON sink");
            return;
        }
    };
    let mut buf = Vec::new();
    while let Some(m) = rx.recv().await {
        buf.clear();
        let _ = serde_json::to_writer(&mut buf, &*m);
        buf.push(b'\n');
        while let Ok(m) = rx.try_recv() {
            let _ = serde_json::to_writer(&mut buf, &*m);
            buf.push(b'\n');
        }
        if let Err(e) = async {
            file.write_all(&buf).await?;
            file.flush().await
        }
        .await
        {
            tracing::error!(path = %path.display(), error = %e, "NDJSON sink write failed");
        }
    }
}
