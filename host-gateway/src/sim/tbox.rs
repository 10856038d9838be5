//! One simulated T-Box: a tokio task that drives the core's sans-IO [`Tbox`] over a TCP (or
//! TLS, see [`super::link`]) connection. The machine decides everything the standard decides (login and its retries,
//! report schedule, heartbeats, reissue after an outage, answers to 0x80/0x81/0x82); this driver
//! only moves bytes, feeds the clock, samples the [`SimVehicle`] when a report falls due,
//! reconnects, and counts.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use gb32960_core::frame::{Deframer, Event};
use gb32960_core::message::{ControlCommand, TerminalControl};
use gb32960_core::security::Sm2Signer;
use gb32960_core::session::params::Parameters;
use gb32960_core::session::reissue::{PushError, ReissueStore};
use gb32960_core::session::tbox::{Tbox, TboxConfig, TboxEvent};
use gb32960_core::session::Millis;
use gb32960_core::wire::FixedStr;
use gb32960_core::{Command, Edition, ResponseFlag, Time};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::time::{sleep_until, timeout, timeout_at, Instant};

use super::link::{Link, TlsClient};
use super::report::{self, MAX_REPORT};
use super::stats::Stats;
use super::vehicle::{mix, Rng, SimVehicle};

/// The T-Box machine as the simulator runs it: reports of up to 512 bytes, 8 in flight.
type SimTbox = Tbox<VecStore, MAX_REPORT, 8>;

/// Reports kept while offline, on the heap (allocated only while there is something to keep,
/// so that a large fleet costs little while connected).
#[derive(Debug)]
pub struct VecStore {
    items: VecDeque<Vec<u8>>,
    capacity: usize,
}

impl VecStore {
    /// A store of up to `capacity` reports.
    pub fn new(capacity: usize) -> Self {
        VecStore {
            items: VecDeque::new(),
            capacity,
        }
    }
}

impl ReissueStore for VecStore {
    fn push(&mut self, data_unit: &[u8]) -> Result<(), PushError> {
        if data_unit.len() > MAX_REPORT {
            return Err(PushError::TooLarge);
        }
        if self.items.len() >= self.capacity {
            return Err(PushError::Full);
        }
        self.items.push_back(data_unit.to_vec());
        Ok(())
    }

    fn peek_oldest(&self, buf: &mut [u8]) -> Option<usize> {
        let item = self.items.front()?;
        buf.get_mut(..item.len())?.copy_from_slice(item);
        Some(item.len())
    }

    fn pop_oldest(&mut self) {
        self.items.pop_front();
        if self.items.is_empty() {
            self.items.shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// What every vehicle of the fleet shares.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    pub gateway: SocketAddr,
    pub edition: Edition,
    pub seed: u64,
    /// Report period, s (parameter 0x02).
    pub period_s: u16,
    /// Heartbeat period, s (parameter 0x09).
    pub heartbeat_s: u8,
    /// Reports kept while offline, per vehicle.
    pub store_capacity: usize,
    /// Send a signed activation (2025 0x09) after the first login.
    pub activation: bool,
    /// Speak TLS (a gateway with `transport = "tls"`).
    pub tls: Option<TlsClient>,
}

/// One vehicle of the fleet.
#[derive(Debug, Clone)]
pub struct VehicleSpec {
    pub index: u32,
    pub vin: String,
    pub iccid: String,
    /// Local address to connect from (many 127.x addresses give a large fleet enough ports).
    pub source_ip: Option<IpAddr>,
    /// When to connect first.
    pub start_at: Instant,
}

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write may block before the link is declared dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the logout's answer (and the platform's close) when stopping.
const LOGOUT_WAIT: Duration = Duration::from_secs(2);

/// What the driver must do after handling the machine's events.
#[derive(Debug, Clone, Copy, PartialEq)]
enum LinkAction {
    Keep,
    /// Close the connection and connect again no sooner than this (and no sooner than the
    /// machine's next login time).
    Reconnect(Duration),
}

/// The driver of one vehicle.
struct Driver {
    fleet: Arc<FleetConfig>,
    spec: VehicleSpec,
    stats: Arc<Stats>,
    tbox: Box<SimTbox>,
    vehicle: SimVehicle,
    signer: Option<Sm2Signer>,
    vin: FixedStr<17>,
    rng: Rng,
    origin: Instant,
    last_sample: Option<Millis>,
    deframer: Box<Deframer<8192>>,
    /// Requests sent and awaiting an answer, for the latency figures.
    in_flight: VecDeque<(Command, Instant)>,
    ever_logged_in: bool,
    online: bool,
    activation_sent: bool,
    connect_failures: u32,
    tx: Box<[u8; 2048]>,
}

/// Runs one vehicle until `stop` turns true, then logs out and closes.
pub async fn run_vehicle(
    fleet: Arc<FleetConfig>,
    spec: VehicleSpec,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut d = Driver::new(fleet, spec, stats)?;
    let mut conn: Option<Link> = None;
    let mut reconnect_at = d.spec.start_at;
    let mut rbuf = vec![0u8; 4096];
    loop {
        if *stop.borrow() {
            break;
        }
        if let Some(s) = conn.as_mut() {
            if let LinkAction::Reconnect(after) = d.pump(Some(s)).await {
                conn = None;
                reconnect_at = d.link_down(after);
            }
        } else {
            d.pump(None).await;
        }
        let wake = d.at(d.tbox.poll_timeout().unwrap_or(Millis::MAX));
        tokio::select! {
            r = stop.changed() => if r.is_err() { break },
            r = read_some(&mut conn, &mut rbuf) => match r {
                Ok(n) if n > 0 => {
                    if let LinkAction::Reconnect(after) = d.receive(&rbuf[..n]) {
                        conn = None;
                        reconnect_at = d.link_down(after);
                    }
                }
                // The platform closed the link or it broke: the machine stores what was in
                // flight and logs in again on the next connection.
                _ => {
                    conn = None;
                    let after = d.retry_delay(1.0, 3.0);
                    reconnect_at = d.link_down(after);
                }
            },
            _ = sleep_until(reconnect_at), if conn.is_none() => {
                conn = d.connect().await;
                if conn.is_none() {
                    let after = d.connect_backoff();
                    reconnect_at = d.link_down_wait(after);
                }
            }
            _ = sleep_until(wake) => {
                let now = d.now();
                d.tbox.handle_timeout(now);
            }
        }
    }
    if let Some(s) = conn {
        d.stop(s, &mut rbuf).await;
    }
    Ok(())
}

async fn read_some(conn: &mut Option<Link>, buf: &mut [u8]) -> std::io::Result<usize> {
    match conn {
        Some(s) => s.read(buf).await,
        None => std::future::pending().await,
    }
}

impl Driver {
    fn new(fleet: Arc<FleetConfig>, spec: VehicleSpec, stats: Arc<Stats>) -> anyhow::Result<Self> {
        let vin = FixedStr::new(&spec.vin).ok_or_else(|| anyhow::anyhow!("bad VIN {:?}", spec.vin))?;
        let iccid = FixedStr::new(&spec.iccid).ok_or_else(|| anyhow::anyhow!("bad ICCID {:?}", spec.iccid))?;
        let mut config = TboxConfig::new(fleet.edition, vin, iccid);
        config.login_codes = report::login_codes(fleet.edition, &spec.vin);
        let mut params = Parameters::defaults(fleet.edition);
        params.report_period_s = fleet.period_s;
        params.heartbeat_period_s = fleet.heartbeat_s;
        let origin = Instant::now();
        let mut tbox = Box::new(SimTbox::new(config, params, VecStore::new(fleet.store_capacity), 0));
        tbox.set_wall_clock(chrono::Utc::now().timestamp(), 0);
        let signer = (fleet.edition == Edition::V2025).then(|| report::signer(fleet.seed, &spec.vin));
        Ok(Driver {
            vehicle: SimVehicle::new(fleet.seed, spec.index),
            rng: Rng::new(mix(fleet.seed ^ 0x4E45_5457, u64::from(spec.index))),
            fleet,
            spec,
            stats,
            tbox,
            signer,
            vin,
            origin,
            last_sample: None,
            deframer: Box::default(),
            in_flight: VecDeque::new(),
            ever_logged_in: false,
            online: false,
            activation_sent: false,
            connect_failures: 0,
            tx: Box::new([0u8; 2048]),
        })
    }

    fn now(&self) -> Millis {
        self.origin.elapsed().as_millis() as Millis
    }

    fn at(&self, t: Millis) -> Instant {
        // Far-off timers (or none) wake us in an hour; the loop just computes them again.
        self.origin + Duration::from_millis(t.min(self.now() + 3_600_000))
    }

    /// A random delay between `lo` and `hi` seconds (so a fleet does not reconnect in step).
    fn retry_delay(&mut self, lo: f64, hi: f64) -> Duration {
        Duration::from_secs_f64(self.rng.range(lo, hi))
    }

    /// 1, 2, 4 ... 60 s after failed connection attempts, with jitter.
    fn connect_backoff(&mut self) -> Duration {
        let base = 2f64.powi(self.connect_failures.min(6) as i32 - 1).min(60.0);
        self.retry_delay(base * 0.75, base * 1.25)
    }

    /// The link is gone: tell the machine, and say when to connect again.
    fn link_down(&mut self, after: Duration) -> Instant {
        let now = self.now();
        self.tbox.handle_disconnected(now);
        self.in_flight.clear();
        self.set_offline();
        self.link_down_wait(after)
    }

    /// No sooner than `after`, and not before the machine wants to log in again (B.1).
    fn link_down_wait(&self, after: Duration) -> Instant {
        let mut at = Instant::now() + after;
        if let Some(next) = self.tbox.next_login_at() {
            at = at.max(self.origin + Duration::from_millis(next));
        }
        at
    }

    fn set_offline(&mut self) {
        if self.online {
            self.online = false;
            self.stats.online.fetch_sub(1, Relaxed);
        }
    }

    async fn connect(&mut self) -> Option<Link> {
        match open(self.fleet.gateway, self.spec.source_ip, self.fleet.tls.as_ref()).await {
            Ok(s) => {
                self.stats.inc(|c| &c.connects);
                self.connect_failures = 0;
                self.deframer.reset();
                self.in_flight.clear();
                let now = self.now();
                self.tbox.handle_connected(now);
                Some(s)
            }
            Err(e) => {
                tracing::debug!(vin = %self.spec.vin, "connect: {e}");
                self.stats.inc(|c| &c.connect_failures);
                self.connect_failures += 1;
                None
            }
        }
    }

    /// Drains the machine: handles its events (sampling reports when due) and writes what it
    /// wants to send, until neither has anything left.
    async fn pump(&mut self, mut conn: Option<&mut Link>) -> LinkAction {
        let mut action = LinkAction::Keep;
        loop {
            let mut progressed = false;
            while let Some(ev) = self.tbox.poll_event() {
                progressed = true;
                if let LinkAction::Reconnect(d) = self.handle_event(ev) {
                    action = LinkAction::Reconnect(d);
                }
            }
            if action != LinkAction::Keep {
                return action;
            }
            let now = self.now();
            while let Some(n) = self.tbox.poll_transmit(now, &mut self.tx[..]) {
                progressed = true;
                let Some(s) = conn.as_deref_mut() else { break };
                let frame = &self.tx[..n];
                match timeout(WRITE_TIMEOUT, s.write_all(frame)).await {
                    Ok(Ok(())) => {}
                    _ => {
                        self.stats.inc(|c| &c.disconnects);
                        return LinkAction::Reconnect(self.retry_delay(1.0, 3.0));
                    }
                }
                let (command, flag) = (Command(frame[2]), ResponseFlag(frame[3]));
                self.count_sent(command, flag);
            }
            if !progressed {
                return action;
            }
        }
    }

    fn count_sent(&mut self, command: Command, flag: ResponseFlag) {
        let stats = Arc::clone(&self.stats);
        stats.inc(|c| &c.frames_sent);
        if flag != ResponseFlag::COMMAND {
            if matches!(command.0, 0x80..=0x82) {
                stats.inc(|c| &c.downlink_answers_sent);
            }
            return;
        }
        let awaited = match command {
            Command::VEHICLE_LOGIN => {
                stats.inc(|c| &c.logins_sent);
                true
            }
            Command::REALTIME => {
                stats.inc(|c| &c.reports_sent);
                false
            }
            Command::REISSUE => {
                stats.inc(|c| &c.reissues_sent);
                false
            }
            Command::HEARTBEAT => {
                stats.inc(|c| &c.heartbeats_sent);
                true
            }
            Command::VEHICLE_LOGOUT => {
                stats.inc(|c| &c.logouts_sent);
                true
            }
            Command::TIME_CALIBRATION => {
                stats.inc(|c| &c.time_calibrations_sent);
                true
            }
            Command::ACTIVATION => {
                stats.inc(|c| &c.activations_sent);
                false
            }
            _ => false,
        };
        if awaited {
            self.in_flight.push_back((command, Instant::now()));
            if self.in_flight.len() > 64 {
                self.in_flight.pop_front();
            }
        }
    }

    /// Bytes from the platform: whole frames go to the machine.
    fn receive(&mut self, mut bytes: &[u8]) -> LinkAction {
        let mut frames: Vec<Vec<u8>> = Vec::new();
        while !bytes.is_empty() {
            let n = self.deframer.feed(bytes);
            bytes = &bytes[n..];
            while let Some(ev) = self.deframer.poll() {
                match ev {
                    Event::Frame { bytes, .. } => frames.push(bytes.to_vec()),
                    Event::Discarded(d) => self.stats.add(d.len as u64, |c| &c.discarded_bytes),
                }
            }
        }
        let mut action = LinkAction::Keep;
        for f in frames {
            self.count_received(&f);
            let now = self.now();
            self.tbox.handle_frame(now, &f);
            // Events are handled now rather than at the next pump, so that a disconnect
            // command takes effect before anything else is written.
            while let Some(ev) = self.tbox.poll_event() {
                if let LinkAction::Reconnect(d) = self.handle_event(ev) {
                    action = LinkAction::Reconnect(d);
                }
            }
        }
        action
    }

    fn count_received(&mut self, frame: &[u8]) {
        self.stats.inc(|c| &c.frames_received);
        let (command, flag) = (Command(frame[2]), ResponseFlag(frame[3]));
        if flag == ResponseFlag::COMMAND {
            match command.0 {
                0x80..=0x82 => self.stats.inc(|c| &c.downlink_commands_received),
                0x0A => self.stats.inc(|c| &c.activation_answers),
                _ => {}
            }
            return;
        }
        self.stats.inc(|c| &c.answers_received);
        if flag != ResponseFlag::SUCCESS {
            self.stats.inc(|c| &c.error_answers_received);
        }
        if let Some(i) = self.in_flight.iter().position(|(c, _)| *c == command) {
            let (_, sent) = self.in_flight.remove(i).unwrap_or((command, Instant::now()));
            let latency = sent.elapsed();
            self.stats.answer_latency.record(latency);
            if command == Command::VEHICLE_LOGIN && flag == ResponseFlag::SUCCESS {
                self.stats.login_latency.record(latency);
            }
        }
    }

    fn handle_event(&mut self, ev: TboxEvent) -> LinkAction {
        let stats = Arc::clone(&self.stats);
        match ev {
            TboxEvent::LoggedIn { .. } => {
                stats.inc(|c| &c.logins);
                if !self.ever_logged_in {
                    self.ever_logged_in = true;
                    stats.inc(|c| &c.vehicles_logged_in);
                }
                if !self.online {
                    self.online = true;
                    stats.online.fetch_add(1, Relaxed);
                }
                self.send_activation();
            }
            TboxEvent::LoginFailed { attempt, flag } => {
                tracing::debug!(vin = %self.spec.vin, attempt, ?flag, "login failed");
                stats.inc(|c| &c.login_failures);
            }
            TboxEvent::LoginBackoff { .. } => {
                // Three failures: the machine waits parameter 0x0C minutes; hang up meanwhile.
                stats.inc(|c| &c.login_backoffs);
                return LinkAction::Reconnect(Duration::ZERO);
            }
            TboxEvent::ReportDue { .. } => self.sample(),
            TboxEvent::ReportLost { .. } => stats.inc(|c| &c.reports_lost),
            TboxEvent::ReportRejected { .. } => stats.inc(|c| &c.reports_rejected),
            TboxEvent::Control => {
                stats.inc(|c| &c.controls_received);
                if let Ok(control) = TerminalControl::parse(self.tbox.downlink_data()) {
                    tracing::debug!(vin = %self.spec.vin, command = ?control.command, "control");
                    // Already acknowledged by the machine; give the answer a moment to leave.
                    match control.command {
                        ControlCommand::Disconnect | ControlCommand::Reset | ControlCommand::Shutdown => {
                            return LinkAction::Reconnect(self.retry_delay(2.0, 5.0));
                        }
                        _ => {}
                    }
                }
            }
            TboxEvent::ConnectionLost => {
                stats.inc(|c| &c.disconnects);
                return LinkAction::Reconnect(self.retry_delay(1.0, 3.0));
            }
            TboxEvent::BadFrame { error } => {
                tracing::debug!(vin = %self.spec.vin, "bad frame: {error}");
                stats.inc(|c| &c.bad_frames);
            }
            TboxEvent::LoggedOut { .. }
            | TboxEvent::ParametersChanged
            | TboxEvent::TimeCalibrated { .. }
            | TboxEvent::Activation { .. }
            | TboxEvent::KeyExchange => {}
        }
        LinkAction::Keep
    }

    /// A report fell due: step the vehicle to now, encode, hand it to the machine.
    fn sample(&mut self) {
        let now = self.now();
        let dt = self.last_sample.map_or(0.0, |t| now.saturating_sub(t) as f64 / 1000.0);
        self.last_sample = Some(now);
        self.vehicle.step(dt);
        self.tbox.set_alarm(self.vehicle.alarm.is_some(), now);
        let unix = self.tbox.unix(now).unwrap_or_else(|| chrono::Utc::now().timestamp());
        let time = Time::from_unix(unix).unwrap_or_default();
        let data = match self.signer.as_mut() {
            Some(signer) => report::data_unit_2025(&self.vehicle, time, self.vin, signer),
            None => report::data_unit_2016(&self.vehicle, time),
        };
        match data.map(|d| self.tbox.submit_report(now, &d)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(vin = %self.spec.vin, "report not accepted: {e}"),
            Err(e) => tracing::warn!(vin = %self.spec.vin, "report not encoded: {e:#}"),
        }
    }

    /// 2025: after the first accepted login, a signed activation carrying the public key.
    fn send_activation(&mut self) {
        if self.activation_sent || !self.fleet.activation {
            return;
        }
        let Some(signer) = self.signer.as_mut() else { return };
        self.activation_sent = true;
        let unix = self.tbox.unix(self.origin.elapsed().as_millis() as Millis).unwrap_or(0);
        let time = Time::from_unix(unix).unwrap_or_default();
        match report::activation_2025(self.spec.index, time, self.vin, signer) {
            Ok(data) => {
                if let Err(e) = self.tbox.send_raw(Command::ACTIVATION, &data) {
                    tracing::warn!(vin = %self.spec.vin, "activation: {e}");
                }
            }
            Err(e) => tracing::warn!(vin = %self.spec.vin, "activation: {e:#}"),
        }
    }

    /// The run is over: log out (0x04), wait briefly for the answer and the platform's close.
    async fn stop(&mut self, mut s: Link, rbuf: &mut [u8]) {
        if self.tbox.is_logged_in() {
            let now = self.now();
            self.tbox.logout(now);
            self.pump(Some(&mut s)).await;
            let deadline = Instant::now() + LOGOUT_WAIT;
            while let Ok(Ok(n @ 1..)) = timeout_at(deadline, s.read(rbuf)).await {
                self.receive(&rbuf[..n]);
            }
        }
        let _ = timeout(Duration::from_secs(1), s.shutdown()).await;
        let now = self.now();
        self.tbox.handle_disconnected(now);
        self.set_offline();
    }
}

/// Connects to the gateway, from `source` if given, and completes the TLS handshake if `tls`.
async fn open(gateway: SocketAddr, source: Option<IpAddr>, tls: Option<&TlsClient>) -> std::io::Result<Link> {
    let tcp = open_tcp(gateway, source).await?;
    let _ = tcp.set_nodelay(true);
    let Some(tls) = tls else {
        return Ok(Link::Tcp(tcp));
    };
    match timeout(CONNECT_TIMEOUT, tls.connector.connect(tls.server_name.clone(), tcp)).await {
        Ok(Ok(s)) => Ok(Link::Tls(Box::new(s))),
        Ok(Err(e)) => Err(std::io::Error::new(e.kind(), format!("TLS handshake: {e}"))),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "TLS handshake timed out",
        )),
    }
}

async fn open_tcp(gateway: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let socket = if gateway.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    match timeout(CONNECT_TIMEOUT, socket.connect(gateway)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")),
    }
}
