//! A gateway's listener: one task per accepted connection, plain TCP or through the TLS
//! handshake (`server::tls::accept`) with the gateway's current TLS configuration.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::{conn, Ctx};
use crate::server::model::Gateway;
use crate::server::tls::{accept, TlsSlot};

pub async fn bind(gw: &Gateway) -> Result<TcpListener, String> {
    let addr = gw.spec.bind_addr().map_err(|e| e.to_string())?;
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
}

pub async fn run(
    ctx: Arc<Ctx>,
    gw: Arc<Gateway>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    guard: mpsc::Sender<()>,
    tls: Option<Arc<TlsSlot>>,
) {
    tracing::info!(gateway = gw.id, name = %gw.spec.name, addr = ?listener.local_addr().ok(), "gateway listening");
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((sock, peer)) => {
                    let _ = sock.set_nodelay(true);
                    let conn_id = ctx.next_conn_id();
                    match &tls {
                        // The configuration current at accept time (a reload affects later handshakes).
                        Some(slot) => tokio::spawn(accept::serve(
                            ctx.clone(), gw.clone(), slot.get(), sock, peer, conn_id, stop.clone(), guard.clone(),
                        )),
                        None => tokio::spawn(conn::run(ctx.clone(), gw.clone(), sock, peer, conn_id, stop.clone(), guard.clone(), None)),
                    };
                }
                Err(e) => {
                    tracing::warn!(gateway = gw.id, error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
    tracing::info!(gateway = gw.id, "gateway stopped");
}
