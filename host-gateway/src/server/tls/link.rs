//! The server side of a TLS connection as the connection driver sees it ([`TlsLink`]).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::JoinHandle;

use super::device::{DeviceChecker, Verdict};

/// The periodic re-check of one connection.
struct Recheck {
    checker: Arc<DeviceChecker>,
    chain: Arc<Vec<CertificateDer<'static>>>,
    next_at: Instant,
    pending: Option<JoinHandle<Verdict>>,
}

/// The server side of a TLS connection as the connection driver sees it:
///
/// * reads fail once the device's certificate is found revoked (when device checks are on);
/// * TLS records the session has buffered are pushed out on every write and read. The driver
///   was written for TCP and never flushes, and tokio-rustls may accept plaintext into its
///   buffer without writing it when the socket is full; this sends it as soon as the socket
///   takes it and the task is polled again.
pub struct TlsLink<S> {
    inner: S,
    recheck: Option<Recheck>,
}

impl<S> TlsLink<S> {
    /// `checker`: re-check `chain` while data comes in (None: no re-checks).
    pub fn new(inner: S, checker: Option<(Arc<DeviceChecker>, Vec<CertificateDer<'static>>)>) -> Self {
        let recheck = checker.map(|(checker, chain)| Recheck {
            next_at: Instant::now() + checker.interval(),
            checker,
            chain: Arc::new(chain),
            pending: None,
        });
        TlsLink { inner, recheck }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsLink<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(r) = this.recheck.as_mut() {
            if let Some(p) = r.pending.as_mut() {
                if let Poll::Ready(done) = Pin::new(p).poll(cx) {
                    r.pending = None;
                    r.next_at = Instant::now() + r.checker.interval();
                    if let Ok(Verdict::Refuse(why)) = done {
                        return Poll::Ready(Err(io::Error::new(io::ErrorKind::PermissionDenied, why)));
                    }
                }
            }
        }
        // Pending output first (a Pending flush has registered the waker for writability).
        let _ = Pin::new(&mut this.inner).poll_flush(cx);
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(r)) = (&res, this.recheck.as_mut()) {
            if buf.filled().len() > before && r.pending.is_none() && Instant::now() >= r.next_at {
                let (checker, chain) = (r.checker.clone(), r.chain.clone());
                // Polled by the next read, which the driver always issues after handling this one.
                r.pending = Some(tokio::spawn(async move { checker.check(&chain).await }));
            }
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TlsLink<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(_))) {
            let _ = Pin::new(&mut self.inner).poll_flush(cx);
        }
        res
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(_))) {
            let _ = Pin::new(&mut self.inner).poll_flush(cx);
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<S> Drop for TlsLink<S> {
    fn drop(&mut self) {
        if let Some(p) = self.recheck.as_ref().and_then(|r| r.pending.as_ref()) {
            p.abort();
        }
    }
}
