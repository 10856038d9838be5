//! What the TLS tests share: certificates ([`pki`]), a real OCSP responder ([`responder`]), a
//! rustls client (tokio-rustls) and `openssl s_client` speaking GB/T 32960 frames, the
//! gateway's config file with a TLS gateway, and its log.
#![allow(dead_code)] // not every test uses every helper

pub mod pki;
pub mod responder;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use gb32960_core::frame::{Deframer, Event};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::server_support::Server;
use pki::Leaf;

/// The config file of a server whose first (and only) gateway is a TLS gateway; `tls` is the
/// TOML of its `[gateways.tls]` table after `cert` and `key`, `extra` more tables (such as
/// `[gateways.tls.ocsp]`).
pub fn tls_config(dir: &Path, server: &Leaf, tls: &str, extra: &str) -> PathBuf {
    let text = format!(
        "[[gateways]]\nname = \"tls_gateway\"\ntransport = \"tls\"\n\n[gateways.tls]\ncert = {:?}\nkey = {:?}\n{tls}\n{extra}\n",
        server.chain_path.display().to_string(),
        server.key_path.display().to_string(),
    );
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts the real binary with the config (`--listen` puts the TLS gateway on the test's port).
pub async fn start(data: PathBuf, config: &Path) -> Server {
    Server::start(data, &["--config", config.to_str().unwrap()]).await
}

/// The server's log so far, without the ANSI colours (`field=value` reads as written).
pub fn log(s: &Server) -> String {
    let raw = std::fs::read_to_string(s.data_dir.join("serve.log")).unwrap_or_default();
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... m
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Waits (bounded) until the log has a line containing every one of `needles`.
pub async fn wait_log(s: &Server, needles: &[&str], secs: u64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if log(s).lines().any(|l| needles.iter().all(|n| l.contains(n))) {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A rustls client configuration trusting `ca_pem`, with an optional client certificate, for
/// the given versions.
pub fn client_config(
    ca_pem: &str,
    client: Option<&Leaf>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some(l) => b
            .with_client_auth_cert(
                vec![l.der.clone()],
                PrivateKeyDer::from_pem_slice(l.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => b.with_no_client_auth(),
    };
    Arc::new(config)
}

pub const TLS13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
pub const TLS12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];

/// Connects and completes the handshake (bounded).
pub async fn connect(addr: &str, config: Arc<rustls::ClientConfig>) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .map_err(|_| std::io::Error::other("handshake timed out"))?
}

/// A T-Box over a TLS stream: the TCP tests' [`Tbox`](crate::server_support::Tbox).
pub type Link<S> = crate::server_support::Tbox<S>;

/// Connects with rustls and logs in: the response flag, or 0 when the handshake or the link
/// failed before an answer (a refused certificate surfaces either way, depending on the TLS
/// version: in 1.3 the client finishes its side before the server has judged its certificate).
pub async fn tls_login(addr: &str, config: Arc<rustls::ClientConfig>, vin: &str) -> u8 {
    match connect(addr, config).await {
        Ok(s) => Link::over(s).login(vin).await,
        Err(_) => 0,
    }
}

/// `openssl s_client` as a T-Box: connects (verifying the server against `ca`), sends `frame`,
/// and returns the first frame answered (or an error with s_client's stderr).
pub fn s_client_exchange(
    port: u16,
    ca: &Path,
    client: Option<&Leaf>,
    version_flag: &str,
    frame: &[u8],
) -> Result<Vec<u8>, String> {
    pki::require_openssl();
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args([
            "-servername",
            "localhost",
            "-verify_hostname",
            "localhost",
            "-verify_return_error",
        ])
        .arg("-CAfile")
        .arg(ca)
        .args(["-quiet", "-nocommands", version_flag]);
    if let Some(l) = client {
        cmd.arg("-cert").arg(&l.cert_path).arg("-key").arg(&l.key_path);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("openssl s_client: {e}"))?;
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let frame = frame.to_vec();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = stdin.write_all(&frame);
        let _ = stdin.flush();
        // Keep stdin open until the answer came (s_client would not wait otherwise).
        std::thread::sleep(Duration::from_secs(12));
        drop(stdin);
    });
    std::thread::spawn(move || {
        let mut d: Box<Deframer<65556>> = Box::default();
        let mut buf = [0u8; 4096];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(None);
                    return;
                }
                Ok(n) => {
                    d.feed(&buf[..n]);
                    while let Some(ev) = d.poll() {
                        if let Event::Frame { bytes, .. } = ev {
                            let _ = tx.send(Some(bytes.to_vec()));
                            return;
                        }
                    }
                }
            }
        }
    });
    let got = rx.recv_timeout(Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    let _ = stderr.read_to_string(&mut err);
    match got {
        Ok(Some(f)) => Ok(f),
        other => Err(format!("no answer through s_client ({other:?}); stderr: {err}")),
    }
}

/// `openssl s_client -status` against the gateway: its whole output (stdout and stderr).
pub fn s_client_status(port: u16, ca: &Path) -> String {
    pki::require_openssl();
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
            "-status",
        ])
        .arg("-CAfile")
        .arg(ca)
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A TCP stream that keeps a copy of every byte read (the server's TLS records).
pub struct Recorder {
    pub inner: tokio::net::TcpStream,
    pub seen: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl tokio::io::AsyncRead for Recorder {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let new = buf.filled()[before..].to_vec();
        self.seen.lock().unwrap().extend(new);
        r
    }
}

impl tokio::io::AsyncWrite for Recorder {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
