//! What the server tests share: the real binary on loopback with a temporary data directory,
//! an HTTP client for the admin API, and a tiny T-Box speaking raw frames.
#![allow(dead_code)] // not every test crate uses every helper

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use gb32960_core::frame::{Deframer, Event};
use gb32960_core::realtime::v2016::{InfoBlock, Vehicle};
use gb32960_core::realtime::RealtimeReport;
use gb32960_core::wire::{FixedStr, RecordList, Time, Writer};
use gb32960_core::{Command as Cmd, Edition, Header, RawFrame, ResponseFlag};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub const TOKEN: &str = "test-token-0123456789";

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "hg-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A running `host-gateway serve`.
pub struct Server {
    pub child: Child,
    pub data_dir: PathBuf,
    pub tcp_port: u16,
    pub api_port: u16,
    pub stdout: mpsc::Receiver<String>,
    pub extra: Vec<String>,
}

impl Server {
    /// Starts the server with `--api-token TOKEN` and `extra` flags, and waits for the API.
    pub async fn start(data_dir: PathBuf, extra: &[&str]) -> Server {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let mut args = vec!["--api-token".to_string(), TOKEN.to_string()];
        args.extend(extra.iter().cloned());
        Self::start_raw(data_dir, free_port(), free_port(), &args).await
    }

    pub async fn start_raw(data_dir: PathBuf, tcp_port: u16, api_port: u16, args: &[String]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_host-gateway"))
            .arg("serve")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{tcp_port}"))
            .arg("--api-listen")
            .arg(format!("127.0.0.1:{api_port}"))
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(data_dir.join("serve.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .expect("spawn host-gateway serve");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let s = Server {
            child,
            data_dir,
            tcp_port,
            api_port,
            stdout: rx,
            extra: args.to_vec(),
        };
        let c = reqwest::Client::new();
        for _ in 0..200 {
            if c.get(s.url("/api/v1/openapi.json")).send().await.is_ok() {
                // The TCP listener starts before the API.
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not come up");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.api_port, path)
    }

    pub fn tcp(&self) -> String {
        format!("127.0.0.1:{}", self.tcp_port)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rq = reqwest::Client::new()
            .request(method, self.url(path))
            .bearer_auth(TOKEN)
            .timeout(Duration::from_secs(30));
        if let Some(b) = body {
            rq = rq.json(&b);
        }
        let r = rq.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn import(&self, vins: &[&str]) {
        let body: Vec<Value> = vins.iter().map(|v| serde_json::json!({ "vin": v })).collect();
        let (st, v) = self
            .send(
                reqwest::Method::POST,
                "/api/v1/devices/import",
                Some(Value::Array(body)),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["imported"], vins.len(), "{v}");
    }

    /// SIGTERM, then waits (bounded) for the exit.
    pub fn terminate(&mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..200 {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        false
    }

    /// kill -9.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// A raw T-Box

pub fn vin(s: &str) -> FixedStr<17> {
    FixedStr::new(s).unwrap()
}

pub fn now_time() -> Time {
    Time::from_unix(chrono::Utc::now().timestamp()).unwrap()
}

/// A 2016 frame.
pub fn frame(cmd: Cmd, flag: ResponseFlag, v: &str, data: &[u8]) -> Vec<u8> {
    frame_ed(Edition::V2016, cmd, flag, v, data)
}

/// A frame of either edition.
pub fn frame_ed(edition: Edition, cmd: Cmd, flag: ResponseFlag, v: &str, data: &[u8]) -> Vec<u8> {
    let header = Header::command(edition, cmd, vin(v)).response(flag);
    let mut buf = vec![0u8; 64 + data.len()];
    let n = RawFrame { header, data }.emit(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

pub fn login(v: &str, iccid: &str) -> Vec<u8> {
    let mut d = now_time().0.to_vec();
    d.extend_from_slice(&1u16.to_be_bytes());
    let mut ic = [b'0'; 20];
    ic[..iccid.len()].copy_from_slice(iccid.as_bytes());
    d.extend_from_slice(&ic);
    d.extend_from_slice(&[1, 8]);
    d.extend_from_slice(b"BAT00001");
    frame(Cmd::VEHICLE_LOGIN, ResponseFlag::COMMAND, v, &d)
}

/// A real-time (or reissue) report at `unix` whose odometer carries `seq`.
pub fn report(cmd: Cmd, v: &str, unix: i64, seq: u32) -> Vec<u8> {
    report_of(cmd, v, unix, seq, 1)
}

/// The same with `copies` vehicle blocks (a large frame: 21 bytes per block).
pub fn report_of(cmd: Cmd, v: &str, unix: i64, seq: u32, copies: usize) -> Vec<u8> {
    let mut veh = Vehicle::zeroed();
    veh.0[5..9].copy_from_slice(&seq.to_be_bytes());
    let blocks = vec![InfoBlock::Vehicle(veh); copies];
    let r = RealtimeReport {
        time: Time::from_unix(unix).unwrap(),
        blocks: RecordList::Items(&blocks),
    };
    let mut buf = vec![0u8; r.wire_len()];
    r.emit(&mut Writer::new(&mut buf)).unwrap();
    frame(cmd, ResponseFlag::COMMAND, v, &buf)
}

/// A vehicle login of `edition` (2025: one BMS with one pack code).
pub fn login_ed(edition: Edition, v: &str) -> Vec<u8> {
    if edition == Edition::V2016 {
        return login(v, "89860012345678901234");
    }
    let mut d = now_time().0.to_vec();
    d.extend_from_slice(&1u16.to_be_bytes());
    d.extend_from_slice(b"89860012345678901234");
    d.extend_from_slice(&[1, 1]);
    d.extend_from_slice(&[b'P'; 24]);
    frame_ed(edition, Cmd::VEHICLE_LOGIN, ResponseFlag::COMMAND, v, &d)
}

/// A 0x05 platform login (username and password NUL-padded).
pub fn platform_login(edition: Edition, id: &str, user: &str, pass: &str) -> Vec<u8> {
    let mut d = now_time().0.to_vec();
    d.extend_from_slice(&1u16.to_be_bytes());
    let mut u = [0u8; 12];
    u[..user.len()].copy_from_slice(user.as_bytes());
    let mut p = [0u8; 20];
    p[..pass.len()].copy_from_slice(pass.as_bytes());
    d.extend_from_slice(&u);
    d.extend_from_slice(&p);
    d.push(0x01);
    frame_ed(edition, Cmd::PLATFORM_LOGIN, ResponseFlag::COMMAND, id, &d)
}

/// A 0x06 platform logout.
pub fn platform_logout(edition: Edition, id: &str) -> Vec<u8> {
    let mut d = now_time().0.to_vec();
    d.extend_from_slice(&1u16.to_be_bytes());
    frame_ed(edition, Cmd::PLATFORM_LOGOUT, ResponseFlag::COMMAND, id, &d)
}

pub fn heartbeat_ed(edition: Edition, v: &str) -> Vec<u8> {
    frame_ed(edition, Cmd::HEARTBEAT, ResponseFlag::COMMAND, v, &[])
}

/// Scrapes `/metrics` and returns the value of the sample line starting with `prefix`
/// (0 if absent).
pub async fn metric(s: &Server, prefix: &str) -> f64 {
    let text = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------------------
// The core's T-Box machine over TCP (answers 0x80/0x81/0x82 itself)

pub struct CoreTbox {
    /// Each event, with the data unit of a Control or KeyExchange event (empty otherwise).
    pub events: tokio::sync::mpsc::UnboundedReceiver<(gb32960_core::session::tbox::TboxEvent, Vec<u8>)>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CoreTbox {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CoreTbox {
    /// Connects a T-Box of `edition` for `v` and drives it until dropped.
    pub async fn start(addr: &str, edition: Edition, v: &str) -> CoreTbox {
        use gb32960_core::session::params::Parameters;
        use gb32960_core::session::reissue::MemoryStore;
        use gb32960_core::session::tbox::{Tbox as Machine, TboxConfig};
        let mut sock = TcpStream::connect(addr).await.unwrap();
        let mut config = TboxConfig::new(edition, vin(v), FixedStr::new("89860012345678901234").unwrap());
        if edition == Edition::V2025 {
            config.login_codes.packs_per_bms.push(1).unwrap();
            config.login_codes.codes.extend_from_slice(&[b'P'; 24]).unwrap();
        } else {
            config.login_codes.subsystem_count = 1;
            config.login_codes.code_len = 8;
            config.login_codes.codes.extend_from_slice(b"BAT00001").unwrap();
        }
        let mut params = Parameters::defaults(edition);
        params.report_period_s = if edition == Edition::V2025 { 30 } else { 600 };
        let origin = tokio::time::Instant::now();
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let now = move || origin.elapsed().as_millis() as u64;
            let mut m = Box::new(Machine::<MemoryStore<4, 1024>, 1024, 8>::new(
                config,
                params,
                MemoryStore::new(),
                now(),
            ));
            m.set_wall_clock(chrono::Utc::now().timestamp(), now());
            m.handle_connected(now());
            let mut deframer: Box<Deframer<65556>> = Box::default();
            let mut out = vec![0u8; 4096];
            let mut buf = vec![0u8; 4096];
            loop {
                m.handle_timeout(now());
                while let Some(e) = m.poll_event() {
                    let _ = tx.send((e, m.downlink_data().to_vec()));
                }
                while let Some(n) = m.poll_transmit(now(), &mut out) {
                    if sock.write_all(&out[..n]).await.is_err() {
                        return;
                    }
                }
                let wait = m
                    .poll_timeout()
                    .unwrap_or(now() + 1000)
                    .saturating_sub(now())
                    .clamp(1, 200);
                match tokio::time::timeout(Duration::from_millis(wait), sock.read(&mut buf)).await {
                    Err(_) => {}
                    Ok(Ok(0)) | Ok(Err(_)) => return,
                    Ok(Ok(n)) => {
                        let mut input = &buf[..n];
                        while !input.is_empty() {
                            let k = deframer.feed(input);
                            input = &input[k..];
                            while let Some(ev) = deframer.poll() {
                                if let Event::Frame { bytes, .. } = ev {
                                    let f = bytes.to_vec();
                                    m.handle_frame(now(), &f);
                                }
                            }
                        }
                    }
                }
            }
        });
        CoreTbox { events, task }
    }

    /// Waits (bounded) for an event matching `f`.
    pub async fn wait_for(
        &mut self,
        secs: u64,
        f: impl Fn(&gb32960_core::session::tbox::TboxEvent) -> bool,
    ) -> (gb32960_core::session::tbox::TboxEvent, Vec<u8>) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) if f(&e.0) => return e,
                Ok(Some(_)) => continue,
                other => panic!("event not seen within {secs} s: {other:?}"),
            }
        }
    }
}

pub fn heartbeat(v: &str) -> Vec<u8> {
    frame(Cmd::HEARTBEAT, ResponseFlag::COMMAND, v, &[])
}

/// A T-Box connection over TCP, or over any stream (a TLS client's) with [`Tbox::over`].
pub struct Tbox<S = TcpStream> {
    pub sock: S,
    rx: Box<Deframer<65556>>,
    pending: std::collections::VecDeque<Vec<u8>>,
}

/// What came back.
#[derive(Debug)]
pub enum Got {
    Frame(Vec<u8>),
    /// The link ended (end of stream, or the error).
    Closed(String),
    Nothing,
}

impl Tbox {
    pub async fn connect(addr: &str) -> Tbox {
        Tbox::over(TcpStream::connect(addr).await.unwrap())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Tbox<S> {
    pub fn over(sock: S) -> Self {
        Tbox {
            sock,
            rx: Box::default(),
            pending: Default::default(),
        }
    }

    /// Sends, which must succeed.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes).await.unwrap();
    }

    pub async fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.sock.write_all(bytes).await?;
        self.sock.flush().await
    }

    /// The next frame from the gateway within `secs`.
    pub async fn recv(&mut self, secs: u64) -> Got {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut buf = [0u8; 4096];
        loop {
            if let Some(f) = self.pending.pop_front() {
                return Got::Frame(f);
            }
            match tokio::time::timeout_at(deadline, self.sock.read(&mut buf)).await {
                Err(_) => return Got::Nothing,
                Ok(Ok(0)) => return Got::Closed("eof".into()),
                Ok(Err(e)) => return Got::Closed(e.to_string()),
                Ok(Ok(n)) => {
                    self.rx.feed(&buf[..n]);
                    while let Some(ev) = self.rx.poll() {
                        if let Event::Frame { bytes, .. } = ev {
                            self.pending.push_back(bytes.to_vec());
                        }
                    }
                }
            }
        }
    }

    /// The next frame, which must come.
    pub async fn expect(&mut self, secs: u64) -> Vec<u8> {
        match self.recv(secs).await {
            Got::Frame(f) => f,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// Logs in and returns the answer's response flag (0 if the link closed without one).
    pub async fn login(&mut self, v: &str) -> u8 {
        if self.try_send(&login(v, "89860012345678901234")).await.is_err() {
            return 0;
        }
        match self.recv(10).await {
            Got::Frame(f) => f[3],
            _ => 0,
        }
    }

    /// Whether the gateway closes the link within `secs` (frames before are skipped).
    pub async fn closed_within(&mut self, secs: u64) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .as_secs()
                .max(1);
            match self.recv(left).await {
                Got::Closed(_) => return true,
                Got::Nothing => return false,
                Got::Frame(_) => {
                    if tokio::time::Instant::now() >= deadline {
                        return false;
                    }
                }
            }
        }
    }
}
