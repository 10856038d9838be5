//! A real OCSP responder on 127.0.0.1: Debian's `openssl ocsp` in responder mode with an
//! index file, behind a minimal HTTP front end in the test.
//!
//! Why the front end: `openssl ocsp -port` in OpenSSL 3.0 takes only a port number and binds
//! every interface (`[::]:PORT`), and these tests stay on loopback. So the test listens on
//! 127.0.0.1 itself and answers each POST by running
//! `openssl ocsp -index index.txt -CA ca.pem -rsigner R -rkey K -reqin req.der -respout resp.der
//! -nmin 1`: openssl builds and signs every response from the index (re-read on each request, so
//! a revocation written to the index shows at the next request; responses carry nextUpdate =
//! now + 1 minute).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::pki::{Ca, Leaf};

/// A status line of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Good,
    Revoked,
}

pub struct Responder {
    pub url: String,
    dir: PathBuf,
    index: PathBuf,
    entries: std::sync::Mutex<Vec<(String, String, Entry)>>,
    /// POSTs answered so far.
    pub requests: Arc<AtomicUsize>,
    listener: Option<TcpListener>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Responder {
    /// Binds 127.0.0.1:0 (so the URL can go into certificates before the responder runs).
    pub async fn bind(dir: &Path) -> Responder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}/", listener.local_addr().unwrap().port());
        let dir = dir.join(format!("ocsp-{}", listener.local_addr().unwrap().port()));
        std::fs::create_dir_all(&dir).unwrap();
        let index = dir.join("index.txt");
        std::fs::write(&index, "").unwrap();
        Responder {
            url,
            dir,
            index,
            entries: Default::default(),
            requests: Arc::default(),
            listener: Some(listener),
            task: None,
        }
    }

    /// Sets `leaf`'s line of the index (added if new).
    pub fn set(&self, leaf: &Leaf, e: Entry) {
        let mut entries = self.entries.lock().unwrap();
        let serial = leaf.serial_hex();
        entries.retain(|(s, _, _)| *s != serial);
        entries.push((serial, leaf.subject_cn.clone(), e));
        // Fields: status, expiry, revocation date, serial, file name, subject (tab-separated).
        let text: String = entries
            .iter()
            .map(|(serial, cn, e)| match e {
                Entry::Good => format!("V\t301231235959Z\t\t{serial}\tunknown\t/CN={cn}\n"),
                Entry::Revoked => {
                    format!("R\t301231235959Z\t240601000000Z,keyCompromise\t{serial}\tunknown\t/CN={cn}\n")
                }
            })
            .collect();
        let tmp = self.index.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &self.index).unwrap();
    }

    /// Starts answering, signing with `signer` (the CA itself or a delegated responder).
    pub fn start(&mut self, ca: &Ca, signer_cert: &Path, signer_key: &Path) {
        let listener = self.listener.take().expect("started twice");
        let (dir, index, requests) = (self.dir.clone(), self.index.clone(), self.requests.clone());
        let ca_path = ca.cert_path.clone();
        let (rsigner, rkey) = (signer_cert.to_path_buf(), signer_key.to_path_buf());
        self.task = Some(tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    continue;
                };
                n += 1;
                let body = match read_request(&mut sock).await {
                    Some(b) => b,
                    None => continue,
                };
                let req = dir.join(format!("req-{n}.der"));
                let resp = dir.join(format!("resp-{n}.der"));
                std::fs::write(&req, body).unwrap();
                let out = tokio::process::Command::new("openssl")
                    .arg("ocsp")
                    .arg("-index")
                    .arg(&index)
                    .arg("-CA")
                    .arg(&ca_path)
                    .arg("-rsigner")
                    .arg(&rsigner)
                    .arg("-rkey")
                    .arg(&rkey)
                    .arg("-reqin")
                    .arg(&req)
                    .arg("-respout")
                    .arg(&resp)
                    .args(["-nmin", "1"])
                    .output()
                    .await
                    .expect("running openssl ocsp");
                let answer = std::fs::read(&resp).unwrap_or_default();
                let head = if out.status.success() && !answer.is_empty() {
                    format!(
                        "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        answer.len()
                    )
                } else {
                    eprintln!("openssl ocsp failed: {out:?}");
                    "HTTP/1.0 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
                };
                requests.fetch_add(1, Ordering::SeqCst);
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&answer).await;
                let _ = sock.shutdown().await;
            }
        }));
    }

    /// Stops answering: the port refuses connections from now on.
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// The body of one HTTP POST (bounded in size and time).
async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some(buf[end + 4..end + 4 + len].to_vec());
            }
        }
        if buf.len() > 65_536 {
            return None;
        }
        let n = tokio::time::timeout_at(deadline, sock.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
