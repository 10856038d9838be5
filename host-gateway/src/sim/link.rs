//! The simulator's link to the gateway: plain TCP, or TLS (rustls) for a gateway with
//! `transport = "tls"` (`sim --tls-ca`, optionally with a client certificate).

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::{Context as _, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// One connection.
pub enum Link {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// How the fleet speaks TLS.
#[derive(Clone)]
pub struct TlsClient {
    pub connector: TlsConnector,
    pub server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TlsClient {
    /// Trusts the CA certificates in `ca` (PEM); presents `cert` + `key` if given; checks the
    /// gateway's certificate against `server_name`.
    pub fn new(ca: &Path, client: Option<(&Path, &Path)>, server_name: &str) -> Result<TlsClient> {
        let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&read(ca)?) {
            roots
                .add(c.with_context(|| format!("--tls-ca {}", ca.display()))?)
                .with_context(|| format!("--tls-ca {}", ca.display()))?;
        }
        anyhow::ensure!(!roots.is_empty(), "--tls-ca {}: no certificate", ca.display());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let config = match client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = CertificateDer::pem_slice_iter(&read(cert)?)
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("--tls-cert {}", cert.display()))?;
                let key = PrivateKeyDer::from_pem_slice(&read(key)?)
                    .map_err(|_| anyhow::anyhow!("--tls-key {}: no private key", key.display()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .context("--tls-cert/--tls-key")?
            }
        };
        let server_name = ServerName::try_from(server_name.to_string())
            .map_err(|_| anyhow::anyhow!("--tls-server-name {server_name:?}: not a DNS name or IP address"))?;
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }
}

// The driver never flushes (TCP needs none); for TLS, records buffered by the session are
// pushed out on every write and read, as the gateway's `TlsLink` does.
impl AsyncRead for Link {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Link::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Link::Tls(s) => {
                let _ = Pin::new(s.as_mut()).poll_flush(cx);
                Pin::new(s.as_mut()).poll_read(cx, buf)
            }
        }
    }
}

impl AsyncWrite for Link {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Link::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Link::Tls(s) => {
                let res = Pin::new(s.as_mut()).poll_write(cx, buf);
                if matches!(res, Poll::Ready(Ok(_))) {
                    let _ = Pin::new(s.as_mut()).poll_flush(cx);
                }
                res
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Link::Tcp(s) => Pin::new(s).poll_flush(cx),
            Link::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Link::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Link::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
