//! What the harnesses (`load`, `qemu-test`) share: a minimal blocking HTTP/1.0 client for the
//! gateway's admin API on loopback (one request per connection, the body ends at EOF, bearer
//! token, bounded by timeouts; enough for harnesses, not a general client), free loopback
//! ports for the gateways they start, and bounded polling.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::Result;

/// How long an admin API call may take to answer.
const API_TIMEOUT: Duration = Duration::from_secs(60);
/// How often [`poll`] asks.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// An answer: the status code and the body (de-chunked).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// `GET path`, which must answer 200: its body.
pub fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Result<String> {
    let r = request(addr, "GET", path, token, None)?;
    if r.status != 200 {
        return Err(format!("GET {path}: HTTP {}: {}", r.status, r.body).into());
    }
    Ok(r.body)
}

/// Sends `method path` with an optional JSON body and returns the answer.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(API_TIMEOUT))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let content = if body.is_some() {
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            payload.len()
        )
    } else {
        String::new()
    };
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}{content}Connection: close\r\n\r\n{payload}"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("malformed HTTP answer")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("HTTP answer without a status")?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked { dechunk(body) } else { body.to_owned() };
    Ok(Response { status, body })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A loopback address with a port that was free a moment ago, for a server to listen on.
pub fn free_port() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Asks `f` until it returns `Some`, or `None` once `timeout` has passed.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        sleep(POLL_INTERVAL);
    }
}

/// Whether `ready` became true within `timeout` ([`poll`] for a condition).
pub fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    poll(timeout, || ready().then_some(())).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"), "hello, world");
        assert_eq!(dechunk("zz\r\n"), "");
    }

    #[test]
    fn polling_gives_up_after_the_timeout() {
        let mut asked = 0;
        assert_eq!(
            poll(Duration::ZERO, || {
                asked += 1;
                None::<()>
            }),
            None
        );
        assert_eq!(asked, 1);
        assert!(wait_until(Duration::from_secs(5), || true));
    }
}
