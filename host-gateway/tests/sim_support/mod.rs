//! The fake platform and fake admin API of the `sim` tests, and the checks of what they saw.

use gb32960_core::frame::{Deframer, Event};
use gb32960_core::message::ParamValue;
use gb32960_core::realtime::{v2016, v2025};
use gb32960_core::session::platform::{PlatformConfig, PlatformEvent, PlatformSession};
use gb32960_core::wire::FixedStr;
use gb32960_core::{Body, Command, Frame, Reading, ResponseFlag, Time};
use host_gateway::sim::report;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command as Process, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

// ---------------------------------------------------------------------------------------------
// Running the binary, bounded

pub fn run_sim(args: &[&str], limit: Duration) -> Output {
    let mut child = Process::new(env!("CARGO_BIN_EXE_host-gateway"))
        .arg("sim")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn host-gateway");
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "sim did not finish within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The fake platform

/// What the fake platform saw and did, over every connection.
#[derive(Default, Debug)]
pub struct Seen {
    pub logins: Vec<String>,
    /// Accepted report frames (0x02 and 0x03), whole, by VIN.
    pub reports: BTreeMap<String, Vec<Vec<u8>>>,
    pub activations: Vec<Vec<u8>>,
    /// Answer frames to our parameter query, by VIN.
    pub query_answers: BTreeMap<String, Vec<u8>>,
    /// Flags of the answers to our control command, by VIN.
    pub control_answers: BTreeMap<String, ResponseFlag>,
    pub logouts: usize,
    pub frames_in: u64,
    pub answers_out: u64,
    pub commands_out: u64,
}

pub struct FakePlatform {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Seen>>,
    pub stop: Arc<AtomicBool>,
    pub acceptor: Option<JoinHandle<Vec<JoinHandle<()>>>>,
}

impl FakePlatform {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&seen), Arc::clone(&stop));
        let acceptor = std::thread::spawn(move || {
            let mut conns = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(120);
            while !st.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let s = Arc::clone(&s);
                        conns.push(std::thread::spawn(move || serve(stream, &s)));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(10)),
                    Err(e) => panic!("accept: {e}"),
                }
            }
            conns
        });
        FakePlatform {
            addr,
            seen,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// Stops accepting, lets every connection end (they end at EOF, bounded), returns the log.
    pub fn finish(mut self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        for c in self.acceptor.take().unwrap().join().unwrap() {
            c.join().unwrap();
        }
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn vin_of(v: &FixedStr<17>) -> String {
    String::from_utf8_lossy(&v.0).into_owned()
}

/// One connection: a `PlatformSession` that accepts every login; after the vehicle's first
/// report it queries parameters 0x02 and 0x09, and after that answer sends a control command
/// (0x82, 0x06 alarm/warning level 1 "HI").
pub fn serve(mut stream: TcpStream, seen: &Mutex<Seen>) {
    stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let origin = Instant::now();
    let now = || origin.elapsed().as_millis() as u64;
    let mut p = PlatformSession::new(PlatformConfig::default(), 0);
    let mut d: Box<Deframer<8192>> = Box::default();
    let mut rbuf = [0u8; 4096];
    let mut out = [0u8; 1024];
    let mut query: Option<u32> = None;
    let mut control: Option<u32> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let mut frames = Vec::new();
        match stream.read(&mut rbuf) {
            Ok(0) => break,
            Ok(n) => {
                let mut input = &rbuf[..n];
                while !input.is_empty() {
                    let k = d.feed(input);
                    input = &input[k..];
                    while let Some(ev) = d.poll() {
                        if let Event::Frame { bytes, .. } = ev {
                            frames.push(bytes.to_vec());
                        }
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        let mut s = seen.lock().unwrap();
        for f in frames.iter().map(Some).chain([None]) {
            if let Some(f) = f {
                s.frames_in += 1;
                p.handle_frame(now(), unix_now(), f);
            } else {
                p.handle_timeout(now());
            }
            while let Some(ev) = p.poll_event() {
                match ev {
                    PlatformEvent::LoginRequest { vin, .. } => {
                        s.logins.push(vin_of(&vin));
                        p.accept_login(now(), unix_now());
                    }
                    PlatformEvent::Report { vin, .. } => {
                        s.reports.entry(vin_of(&vin)).or_default().push(f.unwrap().clone());
                        if query.is_none() {
                            let mut data = Time::from_unix(unix_now()).unwrap().0.to_vec();
                            data.extend([2, 0x02, 0x09]);
                            query = Some(p.queue_downlink(now(), vin, Command::PARAM_QUERY, &data).unwrap());
                        }
                    }
                    PlatformEvent::ActivationRequest { vin } => {
                        s.activations.push(f.unwrap().clone());
                        p.answer_activation(vin, 0x01, 0x00);
                    }
                    PlatformEvent::DownlinkAnswered { id, vin, flag } if Some(id) == query => {
                        s.query_answers.insert(vin_of(&vin), f.unwrap().clone());
                        assert_eq!(flag, ResponseFlag::SUCCESS);
                        let mut data = Time::from_unix(unix_now()).unwrap().0.to_vec();
                        data.extend([0x06, 0x01, b'H', b'I']);
                        control = Some(p.queue_downlink(now(), vin, Command::TERMINAL_CONTROL, &data).unwrap());
                    }
                    PlatformEvent::DownlinkAnswered { id, vin, flag } if Some(id) == control => {
                        s.control_answers.insert(vin_of(&vin), flag);
                    }
                    PlatformEvent::LoggedOut { .. } => s.logouts += 1,
                    _ => {}
                }
            }
        }
        while let Some(n) = p.poll_transmit(now(), &mut out) {
            if out[3] == ResponseFlag::COMMAND.0 {
                s.commands_out += 1;
            } else {
                s.answers_out += 1;
            }
            if stream.write_all(&out[..n]).is_err() {
                return;
            }
        }
        drop(s);
        if p.is_closed() {
            break;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checks of the reports

/// What the checks compare between reports of one vehicle.
#[derive(Debug, PartialEq)]
pub struct Values {
    pub time: i64,
    pub speed: f64,
    pub odometer: f64,
    pub soc: f64,
    pub voltage: f64,
    pub longitude: f64,
    pub latitude: f64,
    pub cells: Vec<u16>,
    pub probes: Vec<u8>,
}

pub fn plausible(v: &Values, what: &str) {
    assert!((0.0..=130.0).contains(&v.speed), "{what}: speed {}", v.speed);
    assert!(v.odometer > 100.0, "{what}: odometer {}", v.odometer);
    assert!((0.0..=100.0).contains(&v.soc), "{what}: soc {}", v.soc);
    assert!((280.0..=440.0).contains(&v.voltage), "{what}: voltage {}", v.voltage);
    assert!(
        (73.0..136.0).contains(&v.longitude),
        "{what}: longitude {}",
        v.longitude
    );
    assert!((18.0..54.0).contains(&v.latitude), "{what}: latitude {}", v.latitude);
    assert_eq!(v.cells.len(), 100, "{what}");
    assert!(
        v.cells.iter().all(|c| (2_500..=4_500).contains(c)),
        "{what}: cells {:?}",
        v.cells
    );
    let sum: f64 = v.cells.iter().map(|&c| f64::from(c)).sum::<f64>() / 1000.0;
    assert!(
        (sum - v.voltage).abs() < 0.2,
        "{what}: cells sum {sum} vs total {}",
        v.voltage
    );
    assert_eq!(v.probes.len(), 16, "{what}");
    assert!(
        v.probes.iter().all(|t| (20..=120).contains(t)),
        "{what}: probes {:?}",
        v.probes
    );
}

pub fn values(frame: &[u8]) -> Values {
    let f = Frame::parse(frame).expect("a report that decodes");
    let mut v = Values {
        time: 0,
        speed: -1.0,
        odometer: -1.0,
        soc: -1.0,
        voltage: -1.0,
        longitude: 0.0,
        latitude: 0.0,
        cells: Vec::new(),
        probes: Vec::new(),
    };
    let temps = |t: &v2016::RessTemperatures<'_>| -> Vec<u8> {
        let Reading::Valid(s) = t.subsystems else {
            panic!("no temperatures")
        };
        let r = s.iter().next().unwrap();
        let Reading::Valid(list) = r.temps else {
            panic!("no probes")
        };
        list.iter().collect()
    };
    match f.body {
        Body::Realtime(r) => {
            v.time = r.time.to_unix().unwrap();
            for b in r.iter() {
                match b {
                    v2016::InfoBlock::Vehicle(x) => {
                        v.speed = x.speed_kmh().valid().unwrap();
                        v.odometer = x.odometer_km().valid().unwrap();
                        v.soc = x.soc_pct().valid().unwrap();
                        v.voltage = x.total_voltage_v().valid().unwrap();
                    }
                    v2016::InfoBlock::Position(p) => {
                        assert!(p.fix_valid());
                        v.longitude = p.longitude_deg();
                        v.latitude = p.latitude_deg();
                    }
                    v2016::InfoBlock::RessVoltages(rv) => {
                        let Reading::Valid(s) = rv.subsystems else {
                            panic!("no subsystems")
                        };
                        v.cells = s.iter().next().unwrap().cells.iter().collect();
                    }
                    v2016::InfoBlock::RessTemperatures(t) => v.probes = temps(&t),
                    _ => {}
                }
            }
        }
        Body::Realtime2025(r) => {
            v.time = r.time.to_unix().unwrap();
            for b in r.iter() {
                match b {
                    v2025::InfoBlock::Vehicle(x) => {
                        use v2025::vehicle::field as fld;
                        v.speed = x.get(&fld::SPEED).valid().unwrap();
                        v.odometer = x.get(&fld::ODOMETER).valid().unwrap();
                        v.soc = x.get(&fld::SOC).valid().unwrap();
                        v.voltage = x.get(&fld::TOTAL_VOLTAGE).valid().unwrap();
                    }
                    v2025::InfoBlock::Position(p) => {
                        assert!(p.fix_valid());
                        v.longitude = p.longitude_deg();
                        v.latitude = p.latitude_deg();
                    }
                    v2025::InfoBlock::PackVoltages(pv) => {
                        let Reading::Valid(packs) = pv.packs else {
                            panic!("no packs")
                        };
                        let Reading::Valid(units) = packs.iter().next().unwrap().units else {
                            panic!("no units")
                        };
                        v.cells = units.iter().collect();
                    }
                    v2025::InfoBlock::Temperatures(t) => v.probes = temps(&t),
                    _ => {}
                }
            }
        }
        other => panic!("not a report: {other:?}"),
    }
    v
}

/// Every vehicle's reports decode to plausible values that change from one to the next.
pub fn check_reports(seen: &Seen, vins: &[String], min_reports: usize) {
    for vin in vins {
        let frames = seen.reports.get(vin).unwrap_or_else(|| panic!("no report from {vin}"));
        assert!(frames.len() >= min_reports, "{vin}: {} report(s)", frames.len());
        let mut all: Vec<Values> = frames.iter().map(|f| values(f)).collect();
        for v in &all {
            plausible(v, vin);
        }
        all.sort_by_key(|v| v.time);
        for w in all.windows(2) {
            assert_ne!(w[0], w[1], "{vin}: two reports with the same values");
            assert!(w[1].odometer >= w[0].odometer, "{vin}: odometer went back");
            assert!((w[1].soc - w[0].soc).abs() <= 1.0, "{vin}: SOC jumped");
        }
        let cells: BTreeSet<&Vec<u16>> = all.iter().map(|v| &v.cells).collect();
        assert!(cells.len() > 1, "{vin}: cell voltages never changed");
    }
}

pub fn param(answer: &[u8], id: u8) -> u32 {
    let f = Frame::parse(answer).unwrap();
    let Body::ParamAnswer(list) = f.body else {
        panic!("not a parameter answer: {f:?}")
    };
    let Reading::Valid(items) = list.params else {
        panic!("no items")
    };
    items
        .iter()
        .find(|p| p.id.0 == id)
        .map(|p| match p.value {
            ParamValue::Number(n) => n,
            other => panic!("{other:?}"),
        })
        .unwrap_or_else(|| panic!("no parameter {id:#04x}"))
}

pub fn stats_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "sim failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The statistics agree with what the platform saw.
pub fn check_stats(stats: &Value, seen: &Seen, n: u64) {
    let get = |k: &str| stats[k].as_u64().unwrap_or_else(|| panic!("no {k} in {stats}"));
    assert_eq!(get("vehicles"), n);
    assert_eq!(get("vehicles_logged_in"), n);
    assert_eq!(get("logins"), n);
    assert_eq!(get("logins_sent"), n);
    assert_eq!(get("logouts_sent"), n);
    assert_eq!(get("frames_sent"), seen.frames_in, "every frame sent was received");
    let reports: usize = seen.reports.values().map(Vec::len).sum();
    assert_eq!(get("reports_sent") + get("reissues_sent"), reports as u64);
    assert_eq!(get("answers_received"), seen.answers_out, "every answer was read");
    assert_eq!(get("downlink_commands_received"), 2 * n);
    assert_eq!(get("downlink_answers_sent"), 2 * n);
    assert_eq!(get("errors"), 0, "{stats}");
    assert!(get("heartbeats_sent") > 0, "heartbeats every second");
    assert_eq!(stats["login_latency"]["count"].as_u64(), Some(n));
    let answers = stats["answer_latency"]["count"].as_u64().unwrap();
    assert!(answers >= 2 * n, "login and logout answers at least: {answers}");
    let p99 = stats["answer_latency"]["p99_ms"].as_f64().unwrap();
    assert!(p99 > 0.0 && p99 < 2_000.0, "{p99}");
    assert_eq!(seen.logouts as u64, n);
}

pub fn fleet_vins(n: u32) -> Vec<String> {
    (0..n).map(|i| report::vin("LGBSIM", i)).collect()
}

// ---------------------------------------------------------------------------------------------
// The tests

/// A one-request HTTP server: returns the request's head and body after answering `status`.
pub fn fake_api(status: &'static str) -> (SocketAddr, JoinHandle<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => panic!("no request: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let (head, body_start) = loop {
            let n = stream.read(&mut chunk).expect("request head");
            assert!(n > 0, "connection closed before the head ended");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break (String::from_utf8_lossy(&buf[..i]).into_owned(), i + 4);
            }
        };
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .expect("a Content-Length");
        let mut body = buf[body_start..].to_vec();
        while body.len() < length {
            let n = stream.read(&mut chunk).expect("request body");
            assert!(n > 0, "connection closed before the body ended");
            body.extend_from_slice(&chunk[..n]);
        }
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        stream.write_all(reply.as_bytes()).unwrap();
        (head, body)
    });
    (addr, handle)
}
