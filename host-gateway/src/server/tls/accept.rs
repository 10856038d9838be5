//! One accepted socket on a TLS gateway: the handshake (bounded in time), the device's
//! identity and its OCSP check, then the connection driver over the encrypted stream.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::cert::{CertInfo, ClientIdentity};
use super::device::Verdict;
use super::link::TlsLink;
use super::TlsRuntime;
use crate::server::gateway::{conn, Ctx};
use crate::server::model::Gateway;

fn version_name(v: Option<rustls::ProtocolVersion>) -> &'static str {
    match v {
        Some(rustls::ProtocolVersion::TLSv1_3) => "1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "1.2",
        _ => "?",
    }
}

/// Runs the handshake and the checks, then the connection until it closes. `guard` is held
/// throughout (the shutdown drain waits for it).
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    ctx: Arc<Ctx>,
    gw: Arc<Gateway>,
    rt: Arc<TlsRuntime>,
    sock: TcpStream,
    peer: SocketAddr,
    conn_id: u64,
    mut stop: watch::Receiver<bool>,
    guard: mpsc::Sender<()>,
) {
    let handshake = tokio::time::timeout(rt.handshake_timeout, rt.acceptor.accept(sock));
    let tls = tokio::select! {
        r = handshake => match r {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                ctx.metrics.tls_handshake("failed");
                tracing::warn!(gateway = gw.id, conn_id, %peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                ctx.metrics.tls_handshake("timeout");
                tracing::warn!(gateway = gw.id, conn_id, %peer, timeout_ms = rt.handshake_timeout.as_millis() as u64,
                    "TLS handshake timed out");
                return;
            }
        },
        _ = stop.changed() => return,
    };
    let (_, session) = tls.get_ref();
    let version = version_name(session.protocol_version());
    let suite = session
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    let chain: Vec<_> = session
        .peer_certificates()
        .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
        .unwrap_or_default();
    let identity = match (rt.vin_match, chain.first()) {
        (Some(mode), Some(leaf)) => match CertInfo::parse(leaf) {
            Ok(info) => Some(ClientIdentity::new(&info, mode)),
            Err(e) => {
                // webpki accepted it, so this should not happen; refuse rather than guess.
                ctx.metrics.tls_handshake("failed");
                tracing::warn!(gateway = gw.id, conn_id, %peer, error = %e, "client certificate does not parse");
                return;
            }
        },
        _ => None,
    };
    tracing::debug!(gateway = gw.id, conn_id, %peer, version, suite, client = ?identity.as_ref().map(|i| &i.subject),
        "TLS handshake done");

    let mut recheck = None;
    if let Some(checker) = &rt.device_check {
        let verdict = tokio::select! {
            v = checker.check(&chain) => v,
            _ = stop.changed() => return,
        };
        if let Verdict::Refuse(why) = verdict {
            ctx.metrics.tls_handshake("revoked");
            tracing::warn!(gateway = gw.id, conn_id, %peer, reason = %why, "TLS connection closed: device certificate refused");
            let mut tls = tls;
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), tls.shutdown()).await;
            return;
        }
        recheck = Some((checker.clone(), chain));
    }
    ctx.metrics.tls_handshake("ok");
    let stream = TlsLink::new(tls, recheck);
    drop(rt);
    conn::run(ctx, gw, stream, peer, conn_id, stop, guard, identity).await;
}
