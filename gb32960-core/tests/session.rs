//! Both session machines run against each other in memory with a fake clock: the protocol's
//! rules (login and its retries, heartbeat, reporting, reissue, downlink commands, duplicate VINs,
//! cascade links) are checked end to end, deterministically.

use std::collections::{BTreeMap, VecDeque};

use gb32960_core::frame::{Deframer, Event};
use gb32960_core::message::{Body, ControlCommand, Frame, TerminalControl};
use gb32960_core::realtime::v2016::{InfoBlock, Vehicle};
use gb32960_core::session::params::Parameters;
use gb32960_core::session::platform::{CloseReason, PlatformConfig, PlatformEvent, PlatformSession};
use gb32960_core::session::reissue::MemoryStore;
use gb32960_core::session::tbox::{Tbox, TboxConfig, TboxEvent};
use gb32960_core::session::Millis;
use gb32960_core::wire::{FixedStr, RecordList, Time, Writer};
use gb32960_core::{Command, Edition, Header, ResponseFlag};
use proptest::prelude::*;

/// 2024-05-20 08:00:00 GMT+8.
const EPOCH_UNIX: i64 = 1_716_163_200;

type TestTbox = Tbox<MemoryStore<256, 256>, 256, 8>;

/// The driver's check of an accepted report frame.
type ReportCheck = Box<dyn Fn(&[u8]) -> bool>;

fn vin(s: &str) -> FixedStr<17> {
    FixedStr::new(s).unwrap()
}

/// A real-time data unit at `unix` with a vehicle block whose odometer carries `seq`.
fn report(unix: i64, seq: u32) -> Vec<u8> {
    let mut v = Vehicle::zeroed();
    v.0[5..9].copy_from_slice(&seq.to_be_bytes());
    let blocks = [InfoBlock::Vehicle(v)];
    let r = gb32960_core::realtime::RealtimeReport {
        time: Time::from_unix(unix).unwrap(),
        blocks: RecordList::Items(&blocks),
    };
    let mut buf = vec![0u8; r.wire_len()];
    r.emit(&mut Writer::new(&mut buf)).unwrap();
    buf
}

fn seq_of(data_unit: &[u8]) -> u32 {
    // time(6), type(1), vehicle bytes 5..9 = odometer
    u32::from_be_bytes(data_unit[12..16].try_into().unwrap())
}

/// What the platform driver keeps: accepted reports by sequence number, and how they came.
#[derive(Default, Debug)]
struct Received {
    reports: BTreeMap<u32, Vec<Command>>,
    /// The store's unique key, across connections: (VIN, time, digest).
    keys: std::collections::BTreeSet<(FixedStr<17>, [u8; 6], u32)>,
    duplicates: usize,
    events: Vec<PlatformEvent>,
}

/// The driver's login policy in these tests.
#[derive(Clone, Copy, PartialEq)]
enum Policy {
    Accept,
    Ignore,
}

/// One simulated link between a T-Box and a platform session, with a delay each way.
struct Sim {
    now: Millis,
    tbox: TestTbox,
    platform: Option<PlatformSession>,
    policy: Policy,
    link_up: bool,
    delay: Millis,
    to_platform: VecDeque<(Millis, Vec<u8>)>,
    to_tbox: VecDeque<(Millis, Vec<u8>)>,
    platform_rx: Box<Deframer<4096>>,
    tbox_rx: Box<Deframer<4096>>,
    received: Received,
    tbox_events: Vec<(Millis, TboxEvent)>,
    submitted: u32,
    sampling: bool,
    controls: Vec<TerminalControl<'static>>,
    /// Builds the data unit of report `seq` at `unix` (2016 unsigned by default).
    make_report: Box<dyn FnMut(i64, u32) -> Vec<u8>>,
    /// The driver's check of an accepted report frame (a signature check for 2025).
    check_report: Option<ReportCheck>,
    failed_checks: usize,
}

fn unix_at(now: Millis) -> i64 {
    EPOCH_UNIX + (now / 1000) as i64
}

impl Sim {
    fn new(config: TboxConfig, params: Parameters) -> Self {
        let mut tbox = Tbox::new(config, params, MemoryStore::new(), 0);
        tbox.set_wall_clock(EPOCH_UNIX, 0);
        Sim {
            now: 0,
            tbox,
            platform: None,
            policy: Policy::Accept,
            link_up: false,
            delay: 50,
            to_platform: VecDeque::new(),
            to_tbox: VecDeque::new(),
            platform_rx: Box::default(),
            tbox_rx: Box::default(),
            received: Received::default(),
            tbox_events: Vec::new(),
            submitted: 0,
            sampling: true,
            controls: Vec::new(),
            make_report: Box::new(report),
            check_report: None,
            failed_checks: 0,
        }
    }

    fn default_2016() -> Self {
        Self::new(
            TboxConfig::new(
                Edition::V2016,
                vin("LSIMTEST000000001"),
                FixedStr::new("89860000000000000001").unwrap(),
            ),
            Parameters::defaults(Edition::V2016),
        )
    }

    fn connect(&mut self) {
        self.link_up = true;
        self.platform = Some(PlatformSession::new(PlatformConfig::default(), self.now));
        self.platform_rx.reset();
        self.tbox_rx.reset();
        self.tbox.handle_connected(self.now);
        self.pump();
    }

    fn disconnect(&mut self) {
        self.link_up = false;
        self.platform = None;
        self.to_platform.clear();
        self.to_tbox.clear();
        self.tbox.handle_disconnected(self.now);
        self.pump();
    }

    /// Moves frames and events until nothing happens at `now`.
    fn pump(&mut self) {
        let mut buf = [0u8; 2048];
        loop {
            let mut progressed = false;
            while let Some(ev) = self.tbox.poll_event() {
                progressed = true;
                if let (TboxEvent::ReportDue { .. }, true) = (&ev, self.sampling) {
                    self.submitted += 1;
                    let data = (self.make_report)(unix_at(self.now), self.submitted);
                    self.tbox.submit_report(self.now, &data).unwrap();
                }
                if let TboxEvent::Control = &ev {
                    let leaked: &'static [u8] = Box::leak(self.tbox.downlink_data().to_vec().into_boxed_slice());
                    self.controls.push(TerminalControl::parse(leaked).unwrap());
                }
                self.tbox_events.push((self.now, ev));
            }
            while let Some(n) = self.tbox.poll_transmit(self.now, &mut buf) {
                progressed = true;
                if self.link_up {
                    self.to_platform.push_back((self.now + self.delay, buf[..n].to_vec()));
                }
            }
            if self.drain_platform_events(None) {
                progressed = true;
            }
            if let Some(p) = self.platform.as_mut() {
                while let Some(n) = p.poll_transmit(self.now, &mut buf) {
                    progressed = true;
                    if self.link_up {
                        self.to_tbox.push_back((self.now + self.delay, buf[..n].to_vec()));
                    }
                }
            }
            while self.to_platform.front().is_some_and(|(t, _)| *t <= self.now) {
                progressed = true;
                let (_, bytes) = self.to_platform.pop_front().unwrap();
                let mut frames = Vec::new();
                feed(&mut self.platform_rx, &bytes, &mut frames);
                for f in frames {
                    self.deliver_to_platform(&f);
                }
            }
            while self.to_tbox.front().is_some_and(|(t, _)| *t <= self.now) {
                progressed = true;
                let (_, bytes) = self.to_tbox.pop_front().unwrap();
                let mut frames = Vec::new();
                feed(&mut self.tbox_rx, &bytes, &mut frames);
                for f in frames {
                    self.tbox.handle_frame(self.now, &f);
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// The driver: answers logins by the policy, and stores what the session accepted, once per
    /// (VIN, time, digest) across connections. `frame` is the frame just fed, if any.
    fn drain_platform_events(&mut self, frame: Option<&[u8]>) -> bool {
        let Some(p) = self.platform.as_mut() else { return false };
        let mut any = false;
        while let Some(ev) = p.poll_event() {
            any = true;
            match &ev {
                PlatformEvent::LoginRequest { .. } if self.policy == Policy::Accept => {
                    p.accept_login(self.now, unix_at(self.now))
                }
                PlatformEvent::ActivationRequest { vin } => p.answer_activation(*vin, 0x01, 0x00),
                PlatformEvent::Report {
                    vin,
                    command,
                    time,
                    digest,
                    duplicate,
                } => {
                    let f = frame.expect("a report event follows its frame");
                    if let Some(check) = &self.check_report {
                        if !check(f) {
                            self.failed_checks += 1;
                        }
                    }
                    let data = &f[24..f.len() - 1];
                    if *duplicate || !self.received.keys.insert((*vin, time.0, *digest)) {
                        self.received.duplicates += 1;
                    } else {
                        self.received.reports.entry(seq_of(data)).or_default().push(*command);
                    }
                }
                _ => {}
            }
            self.received.events.push(ev);
        }
        any
    }

    fn deliver_to_platform(&mut self, f: &[u8]) {
        let Some(p) = self.platform.as_mut() else { return };
        p.handle_frame(self.now, unix_at(self.now), f);
        self.drain_platform_events(Some(f));
        let Some(p) = self.platform.as_ref() else { return };
        if p.is_closed() && self.link_up {
            // The driver closes the socket when the session says so.
            self.disconnect();
        }
    }

    fn next_wake(&self) -> Millis {
        let mut t = self.tbox.poll_timeout().unwrap_or(Millis::MAX);
        if let Some(p) = &self.platform {
            t = t.min(p.poll_timeout().unwrap_or(Millis::MAX));
        }
        if let Some((d, _)) = self.to_platform.front() {
            t = t.min(*d);
        }
        if let Some((d, _)) = self.to_tbox.front() {
            t = t.min(*d);
        }
        t
    }

    /// Runs until `until` (bounded: time only moves forward).
    fn run_until(&mut self, until: Millis) {
        self.pump();
        let mut stuck = 0;
        loop {
            let t = self.next_wake().max(self.now);
            // A machine whose timeout stays at `now` after handling it would spin here: fail
            // loudly instead of hanging.
            stuck = if t == self.now { stuck + 1 } else { 0 };
            assert!(
                stuck < 1000,
                "no progress at {} ms: timeouts {:?} / {:?}",
                self.now,
                self.tbox.poll_timeout(),
                self.platform.as_ref().map(|p| p.poll_timeout())
            );
            if t > until {
                self.now = until;
                self.pump();
                break;
            }
            self.now = t;
            self.tbox.handle_timeout(self.now);
            if let Some(p) = self.platform.as_mut() {
                p.handle_timeout(self.now);
                if p.is_closed() && self.link_up {
                    self.pump();
                    self.disconnect();
                }
            }
            self.pump();
            if self.now == until {
                break;
            }
        }
    }

    fn tbox_events(&self) -> impl Iterator<Item = &TboxEvent> {
        self.tbox_events.iter().map(|(_, e)| e)
    }

    /// Stops sampling and lets everything in flight or pending arrive (three minutes).
    fn settle(&mut self) {
        self.sampling = false;
        let until = self.now + 3 * 60_000;
        self.run_until(until);
    }

    /// Every submitted report arrived exactly once (and passed the driver's check, if any).
    fn assert_all_delivered_once(&self) {
        assert_eq!(self.failed_checks, 0, "reports failed the driver's check");
        let missing: Vec<u32> = (1..=self.submitted)
            .filter(|s| !self.received.reports.contains_key(s))
            .collect();
        assert!(
            missing.is_empty(),
            "missing reports {missing:?} (stored {}, pending {})",
            self.tbox.stored(),
            self.tbox.unconfirmed()
        );
        for (s, cmds) in &self.received.reports {
            assert_eq!(cmds.len(), 1, "report {s} stored {} times", cmds.len());
        }
    }
}

fn feed<const N: usize>(d: &mut Deframer<N>, mut bytes: &[u8], out: &mut Vec<Vec<u8>>) {
    while !bytes.is_empty() {
        let n = d.feed(bytes);
        bytes = &bytes[n..];
        while let Some(ev) = d.poll() {
            if let Event::Frame { bytes, .. } = ev {
                out.push(bytes.to_vec());
            }
        }
    }
}

const MIN: Millis = 60_000;

#[test]
fn a_day_of_driving_and_charging_delivers_every_report_once() {
    let mut sim = Sim::default_2016();
    sim.connect();
    sim.run_until(60 * MIN);
    assert!(sim.tbox.is_logged_in());
    assert!(matches!(
        sim.tbox_events().find(|e| matches!(e, TboxEvent::LoggedIn { .. })),
        Some(TboxEvent::LoggedIn { serial: 1 })
    ));
    // One report every 10 s for an hour.
    assert!((360..=361).contains(&sim.submitted), "{}", sim.submitted);
    sim.settle();
    sim.assert_all_delivered_once();
    // Only the report sampled before the login was accepted is a reissue.
    let reissued: Vec<u32> = sim
        .received
        .reports
        .iter()
        .filter(|(_, c)| c[0] == Command::REISSUE)
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(reissued, [1], "no other reissue without a link drop");
    assert_eq!(sim.tbox.stored(), 0);
    assert!(sim.tbox.unconfirmed() <= 1);
    // Heartbeats were sent to prove delivery, and answered.
    assert!(sim
        .received
        .events
        .iter()
        .any(|e| matches!(e, PlatformEvent::Heartbeat { .. })));
    assert!(!sim.tbox_events().any(|e| matches!(e, TboxEvent::ConnectionLost)));
}

#[test]
fn a_link_drop_is_followed_by_a_reissue_of_what_was_stored() {
    let mut sim = Sim::default_2016();
    sim.connect();
    sim.run_until(5 * MIN);
    sim.disconnect();
    sim.run_until(15 * MIN);
    assert!(
        sim.tbox.stored() >= 59,
        "ten minutes offline stored {} reports",
        sim.tbox.stored()
    );
    sim.connect();
    sim.run_until(30 * MIN);
    sim.settle();
    sim.assert_all_delivered_once();
    let reissued = sim
        .received
        .reports
        .values()
        .filter(|c| c[0] == Command::REISSUE)
        .count();
    assert!(reissued >= 59, "{reissued} reissued");
    assert_eq!(sim.tbox.stored(), 0);
    // Oldest first: the reissues arrived in sequence order.
    let order: Vec<u32> = sim
        .received
        .reports
        .iter()
        .filter(|(_, c)| c[0] == Command::REISSUE)
        .map(|(s, _)| *s)
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]));
    // The second login of the day has serial 2.
    assert!(sim
        .tbox_events()
        .any(|e| matches!(e, TboxEvent::LoggedIn { serial: 2 })));
}

#[test]
fn three_failed_logins_then_the_long_wait() {
    let mut sim = Sim::default_2016();
    sim.policy = Policy::Ignore;
    sim.connect();
    sim.run_until(10 * MIN);
    let failed: Vec<Millis> = sim
        .tbox_events
        .iter()
        .filter(|(_, e)| matches!(e, TboxEvent::LoginFailed { .. }))
        .map(|(t, _)| *t)
        .collect();
    // Answers are awaited 30 s (0x0A), retries come 1 min later (2016), then 30 min (0x0C).
    assert_eq!(failed.len(), 3, "{:?}", sim.tbox_events);
    assert_eq!(failed, [30_000, 120_000, 210_000]);
    let backoff = sim.tbox_events().find_map(|e| match e {
        TboxEvent::LoginBackoff { until } => Some(*until),
        _ => None,
    });
    assert_eq!(backoff, Some(210_000 + 30 * MIN));
    // Nothing is tried during the wait; reports are kept meanwhile.
    sim.policy = Policy::Accept;
    sim.run_until(30 * MIN);
    // The platform closed the silent link meanwhile (idle timeout); the application reconnects,
    // and the session still waits out the 30 minutes before its next login.
    assert!(sim.received.events.iter().any(|e| matches!(
        e,
        PlatformEvent::Close {
            reason: CloseReason::IdleTimeout
        }
    )));
    assert!(!sim.link_up);
    assert!(!sim.tbox.is_logged_in());
    // The application reconnects when the wait is over.
    let at = sim.tbox.next_login_at().unwrap();
    assert_eq!(at, 210_000 + 30 * MIN);
    sim.run_until(at);
    sim.connect();
    assert!(sim.tbox.stored() >= 170, "{}", sim.tbox.stored());
    sim.run_until(45 * MIN);
    assert!(sim.tbox.is_logged_in());
    sim.run_until(80 * MIN);
    sim.settle();
    sim.assert_all_delivered_once();
}

fn query_set(sim: &mut Sim, command: Command, items: &[u8]) -> u32 {
    let mut data = Time::from_unix(unix_at(sim.now)).unwrap().0.to_vec();
    data.extend_from_slice(items);
    let v = sim.tbox.config().vin;
    let id = sim
        .platform
        .as_mut()
        .unwrap()
        .queue_downlink(sim.now, v, command, &data)
        .unwrap();
    sim.pump();
    id
}

#[test]
fn a_report_period_change_by_0x81_takes_effect() {
    let mut sim = Sim::default_2016();
    sim.connect();
    sim.run_until(2 * MIN);
    let before = sim.submitted;
    // 0x81: one item, 0x02 = 5 s.
    let id = query_set(&mut sim, Command::PARAM_SET, &[1, 0x02, 0x00, 0x05]);
    sim.run_until(2 * MIN + 1000);
    assert!(sim
        .received
        .events
        .iter()
        .any(|e| matches!(e, PlatformEvent::DownlinkAnswered { id: i, flag: ResponseFlag::SUCCESS, .. } if *i == id)));
    assert_eq!(sim.tbox.params().report_period_s, 5);
    assert!(sim.tbox_events().any(|e| matches!(e, TboxEvent::ParametersChanged)));
    sim.run_until(12 * MIN + 1000);
    let after = sim.submitted - before;
    assert!((119..=122).contains(&after), "ten minutes at 5 s gave {after} reports");
    // An invalid set is refused whole: 0x02 = 5 s with 0x09 = 0 (out of range).
    let id = query_set(&mut sim, Command::PARAM_SET, &[2, 0x02, 0x00, 0x07, 0x09, 0x00]);
    sim.run_until(13 * MIN);
    assert!(sim
        .received
        .events
        .iter()
        .any(|e| matches!(e, PlatformEvent::DownlinkAnswered { id: i, flag: ResponseFlag::ERROR, .. } if *i == id)));
    assert_eq!(sim.tbox.params().report_period_s, 5, "all or nothing");
    // A query is answered from the parameters.
    let id = query_set(&mut sim, Command::PARAM_QUERY, &[2, 0x02, 0x09]);
    sim.run_until(14 * MIN);
    assert!(sim
        .received
        .events
        .iter()
        .any(|e| matches!(e, PlatformEvent::DownlinkAnswered { id: i, .. } if *i == id)));
}

#[test]
fn control_commands_are_acknowledged_and_handed_to_the_application() {
    let mut sim = Sim::default_2016();
    sim.connect();
    sim.run_until(MIN);
    let id = query_set(&mut sim, Command::TERMINAL_CONTROL, &[0x06, 0x02, b'H', b'I']);
    sim.run_until(MIN + 1000);
    assert!(sim
        .received
        .events
        .iter()
        .any(|e| matches!(e, PlatformEvent::DownlinkAnswered { id: i, flag: ResponseFlag::SUCCESS, .. } if *i == id)));
    assert!(matches!(
        sim.controls[0].command,
        ControlCommand::Alarm {
            level: 2,
            message: b"HI"
        }
    ));
    let id = query_set(&mut sim, Command::TERMINAL_CONTROL, &[0x05]);
    sim.run_until(MIN + 2000);
    assert!(sim
        .received
        .events
        .iter()
        .any(|e| matches!(e, PlatformEvent::DownlinkAnswered { id: i, .. } if *i == id)));
    assert!(matches!(sim.controls[1].command, ControlCommand::Disconnect));
}

#[test]
fn an_unanswered_downlink_is_retried_three_times_then_times_out() {
    let mut sim = Sim::default_2016();
    sim.connect();
    sim.run_until(MIN);
    // Queue a control command for a VIN that is not on this link's terminal: it is sent, the
    // terminal drops it (another VIN), and the platform retries every minute.
    let other = vin("LOTHERVIN00000001");
    let mut data = Time::from_unix(unix_at(sim.now)).unwrap().0.to_vec();
    data.push(0x03);
    let id = sim
        .platform
        .as_mut()
        .unwrap()
        .queue_downlink(sim.now, other, Command::TERMINAL_CONTROL, &data)
        .unwrap();
    sim.run_until(5 * MIN);
    assert!(sim
        .received
        .events
        .iter()
        .any(|e| matches!(e, PlatformEvent::DownlinkTimedOut { id: i, .. } if *i == id)));
    let bad: usize = sim
        .tbox_events()
        .filter(|e| matches!(e, TboxEvent::BadFrame { .. }))
        .count();
    assert_eq!(bad, 3, "three attempts reached the terminal");
}

#[test]
fn the_idle_timeout_closes_a_silent_link() {
    let mut p = PlatformSession::new(PlatformConfig::default(), 0);
    p.handle_timeout(179_999);
    assert!(!p.is_closed());
    p.handle_timeout(180_000);
    assert_eq!(
        p.poll_event(),
        Some(PlatformEvent::Close {
            reason: CloseReason::IdleTimeout
        })
    );
}

fn frame_bytes(header: Header, body: Body<'_>) -> Vec<u8> {
    let f = Frame { header, body };
    let mut b = vec![0; f.wire_len()];
    f.emit(&mut b).unwrap();
    b
}

#[test]
fn anything_but_a_login_first_is_refused_and_closes() {
    let mut p = PlatformSession::new(PlatformConfig::default(), 0);
    let hb = frame_bytes(
        Header::command(Edition::V2016, Command::HEARTBEAT, vin("LNOLOGIN000000001")),
        Body::Heartbeat,
    );
    p.handle_frame(0, EPOCH_UNIX, &hb);
    let events: Vec<_> = std::iter::from_fn(|| p.poll_event()).collect();
    assert!(matches!(
        events[0],
        PlatformEvent::Refused {
            reason: gb32960_core::session::platform::Refusal::NotLoggedIn,
            ..
        }
    ));
    assert_eq!(
        events[1],
        PlatformEvent::Close {
            reason: CloseReason::NotLoggedIn
        }
    );
    let mut buf = [0u8; 128];
    let n = p.poll_transmit(0, &mut buf).expect("an error answer");
    let answer = Frame::parse(&buf[..n]).unwrap();
    assert_eq!(answer.header.response, ResponseFlag::ERROR);
}

#[test]
fn frames_for_another_vin_are_refused_on_a_vehicle_link() {
    let mut sim = Sim::default_2016();
    sim.connect();
    sim.run_until(MIN);
    let other = frame_bytes(
        Header::command(Edition::V2016, Command::HEARTBEAT, vin("LOTHERVIN00000001")),
        Body::Heartbeat,
    );
    sim.deliver_to_platform(&other);
    sim.pump();
    assert!(sim.received.events.iter().any(|e| matches!(
        e,
        PlatformEvent::Refused {
            reason: gb32960_core::session::platform::Refusal::WrongVin,
            ..
        }
    )));
}

/// The gateway's rule for duplicate VINs (B.2.7: the new connection wins), expressed with two
/// sessions and a registry keyed by VIN.
#[test]
fn duplicate_vin_new_connection_wins_or_newcomer_refused() {
    for newcomer_wins in [true, false] {
        let login = |serial| {
            let l = gb32960_core::message::VehicleLogin {
                time: Time::from_unix(EPOCH_UNIX).unwrap(),
                serial,
                iccid: FixedStr::new("89860000000000000001").unwrap(),
                subsystem_count: 0,
                code_len: 0,
                codes: &[],
            };
            frame_bytes(
                Header::command(Edition::V2016, Command::VEHICLE_LOGIN, vin("LDUPVIN0000000001")),
                Body::VehicleLogin(l),
            )
        };
        let mut registry: BTreeMap<FixedStr<17>, usize> = BTreeMap::new();
        let mut sessions = [
            PlatformSession::new(PlatformConfig::default(), 0),
            PlatformSession::new(PlatformConfig::default(), 0),
        ];
        let mut closed = [false, false];
        for (i, serial) in [(0usize, 1u16), (1, 2)] {
            sessions[i].handle_frame(1000, EPOCH_UNIX, &login(serial));
            while let Some(ev) = sessions[i].poll_event() {
                if let PlatformEvent::LoginRequest { vin, .. } = ev {
                    match registry.get(&vin) {
                        Some(&old) if newcomer_wins => {
                            closed[old] = true; // the driver closes the old connection
                            sessions[i].accept_login(1000, EPOCH_UNIX);
                            registry.insert(vin, i);
                        }
                        Some(_) => sessions[i].reject_login(EPOCH_UNIX, ResponseFlag::VIN_DUPLICATE),
                        None => {
                            sessions[i].accept_login(1000, EPOCH_UNIX);
                            registry.insert(vin, i);
                        }
                    }
                }
            }
        }
        let mut buf = [0u8; 256];
        let n = sessions[1].poll_transmit(1000, &mut buf).unwrap();
        let answer = Frame::parse(&buf[..n]).unwrap();
        if newcomer_wins {
            assert!(closed[0] && !sessions[1].is_closed());
            assert_eq!(answer.header.response, ResponseFlag::SUCCESS);
        } else {
            assert!(!closed[0] && sessions[1].is_closed());
            assert_eq!(answer.header.response, ResponseFlag::VIN_DUPLICATE);
        }
    }
}

#[test]
fn a_cascade_link_carries_many_vins() {
    let mut p = PlatformSession::new(PlatformConfig::default(), 0);
    let login = gb32960_core::message::PlatformLogin {
        time: Time::from_unix(EPOCH_UNIX).unwrap(),
        serial: 1,
        username: FixedStr::new("enterprise01").unwrap(),
        password: FixedStr::new("secret").unwrap(),
        encryption: gb32960_core::Encryption::NONE,
    };
    let id = vin("PLATFORM000000001");
    p.handle_frame(
        0,
        EPOCH_UNIX,
        &frame_bytes(
            Header::command(Edition::V2016, Command::PLATFORM_LOGIN, id),
            Body::PlatformLogin(login),
        ),
    );
    assert!(matches!(
        p.poll_event(),
        Some(PlatformEvent::PlatformLoginRequest { .. })
    ));
    p.accept_login(0, EPOCH_UNIX);
    assert!(p.is_cascade());
    for (k, v) in ["LCASCADE000000001", "LCASCADE000000002", "LCASCADE000000003"]
        .iter()
        .enumerate()
    {
        let data = report(EPOCH_UNIX + k as i64, k as u32);
        let raw = gb32960_core::RawFrame {
            header: Header::command(Edition::V2016, Command::REALTIME, vin(v)),
            data: &data,
        };
        let mut b = vec![0u8; raw.wire_len()];
        raw.emit(&mut b).unwrap();
        p.handle_frame(1000, EPOCH_UNIX, &b);
    }
    let reports: Vec<_> = std::iter::from_fn(|| p.poll_event())
        .filter_map(|e| match e {
            PlatformEvent::Report {
                vin, duplicate: false, ..
            } => Some(vin),
            _ => None,
        })
        .collect();
    assert_eq!(reports.len(), 3);
    assert_ne!(reports[0], reports[1]);
}

#[test]
fn a_full_store_counts_its_losses() {
    let mut sim = Sim::default_2016();
    // Offline for 50 minutes: 300 reports into a 256-slot store.
    sim.run_until(50 * MIN - 1);
    assert_eq!(sim.tbox.stored(), 256);
    assert_eq!(sim.tbox.lost(), u64::from(sim.submitted) - 256);
    assert!(sim.tbox_events().any(|e| matches!(e, TboxEvent::ReportLost { .. })));
    sim.connect();
    sim.run_until(90 * MIN);
    sim.settle();
    let delivered = sim.received.reports.len() as u64;
    assert_eq!(
        delivered + sim.tbox.lost(),
        u64::from(sim.submitted),
        "every report delivered or counted lost"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random link drops and delays: every report reaches the platform exactly once (as 0x02
    /// or 0x03) while the store has room.
    #[test]
    fn every_report_arrives_exactly_once_through_random_drops(
        outages in proptest::collection::vec((1u64..20, 1u64..8), 1..6),
        delay in 1u64..3000,
    ) {
        let mut sim = Sim::default_2016();
        sim.delay = delay;
        sim.connect();
        let mut t = 0;
        for (up_min, down_min) in outages {
            t += up_min * MIN;
            sim.run_until(t);
            sim.disconnect();
            t += down_min * MIN;
            sim.run_until(t);
            sim.connect();
        }
        sim.run_until(t + 30 * MIN);
        sim.settle();
        prop_assert_eq!(sim.tbox.lost(), 0);
        let missing: Vec<u32> = (1..=sim.submitted).filter(|s| !sim.received.reports.contains_key(s)).collect();
        prop_assert!(missing.is_empty(), "missing {:?}", missing);
        for (s, c) in &sim.received.reports {
            prop_assert_eq!(c.len(), 1, "report {} twice", s);
        }
    }
}

/// 2025: activation, then SM2-signed reports, through a link drop: every report (live or
/// reissued, whose header changes from 0x02 to 0x03 outside the signed range) verifies.
#[cfg(feature = "sm2")]
#[test]
fn signed_2025_reports_and_activation() {
    use gb32960_core::message::Activation;
    use gb32960_core::realtime::v2025;
    use gb32960_core::security::{self, Sm2Signer, Verification, VerifyingKey};
    use gb32960_core::signature::{Signature, SignatureAlgorithm};

    const SECRET: [u8; 32] = [0x11; 32];
    let id = vin("LSIGNED2025000001");
    let mut sim = Sim::new(
        TboxConfig::new(Edition::V2025, id, FixedStr::new("89860000000000000002").unwrap()),
        Parameters::defaults(Edition::V2025),
    );
    sim.make_report = Box::new(move |unix, seq| {
        let mut v = v2025::Vehicle::zeroed();
        v.0[5..9].copy_from_slice(&seq.to_be_bytes());
        let blocks = [v2025::InfoBlock::Vehicle(v)];
        let report = v2025::RealtimeReport {
            time: Time::from_unix(unix).unwrap(),
            blocks: RecordList::Items(&blocks),
            signature: None,
        };
        let mut signer = Sm2Signer::from_bytes(&SECRET).unwrap();
        let mut buf = vec![0u8; 512];
        let header = Header::command(Edition::V2025, Command::REALTIME, id);
        let n = security::emit_signed_realtime(&header, &report, &mut signer, &mut buf).unwrap();
        buf[24..n - 1].to_vec()
    });
    let public = Sm2Signer::from_bytes(&SECRET).unwrap().public_key_wire();
    let key = VerifyingKey::sm2_from_wire(&public).unwrap();
    sim.check_report = Some(Box::new(move |f| {
        let raw = gb32960_core::RawFrame::parse(f).unwrap();
        security::verify_frame(&raw, Some(&key)) == Some(Verification::Valid)
    }));

    // Activation first: the platform answers 0x0A and the terminal reports the outcome.
    sim.connect();
    let activation = Activation {
        time: Time::from_unix(EPOCH_UNIX).unwrap(),
        chip_id: FixedStr(*b"CHIP0001        "),
        public_key: &public,
        vin: id,
        signature: Signature {
            algorithm: SignatureAlgorithm::SM2,
            r: &[],
            s: &[],
        },
    };
    let mut buf = vec![0u8; 512];
    let header = Header::command(Edition::V2025, Command::ACTIVATION, id);
    let n = security::emit_signed_activation(
        &header,
        &activation,
        &mut Sm2Signer::from_bytes(&SECRET).unwrap(),
        &mut buf,
    )
    .unwrap();
    sim.tbox.send_raw(Command::ACTIVATION, &buf[24..n - 1]).unwrap();
    sim.run_until(MIN);
    assert!(sim
        .tbox_events()
        .any(|e| matches!(e, TboxEvent::Activation { status: 1, info: 0 })));
    assert!(sim.tbox_events().any(|e| matches!(e, TboxEvent::LoggedIn { .. })));

    sim.run_until(5 * MIN);
    sim.disconnect();
    sim.run_until(8 * MIN);
    sim.connect();
    sim.run_until(20 * MIN);
    sim.settle();
    sim.assert_all_delivered_once();
    assert!(
        sim.received.reports.values().any(|c| c[0] == Command::REISSUE),
        "the outage was reissued"
    );
    assert_eq!(
        sim.failed_checks, 0,
        "every report's signature verifies, reissues included"
    );
    assert!(sim.submitted > 100);
}

/// Bad real-time data is answered with an error (2016 0x02; 2025 0x06 "data structure error"),
/// so that the terminal resends it (B.2.1), and the link stays up.
#[test]
fn bad_realtime_data_gets_an_error_answer() {
    for (edition, expected) in [
        (Edition::V2016, ResponseFlag::ERROR),
        (Edition::V2025, ResponseFlag::STRUCTURE_ERROR),
    ] {
        let id = vin("LBADDATA000000001");
        let mut p = PlatformSession::new(PlatformConfig::default(), 0);
        let login_bytes = match edition {
            Edition::V2016 => frame_bytes(
                Header::command(edition, Command::VEHICLE_LOGIN, id),
                Body::VehicleLogin(gb32960_core::message::VehicleLogin {
                    time: Time::from_unix(EPOCH_UNIX).unwrap(),
                    serial: 1,
                    iccid: FixedStr::new("89860000000000000001").unwrap(),
                    subsystem_count: 0,
                    code_len: 0,
                    codes: &[],
                }),
            ),
            Edition::V2025 => frame_bytes(
                Header::command(edition, Command::VEHICLE_LOGIN, id),
                Body::VehicleLogin2025(gb32960_core::message::VehicleLogin2025 {
                    time: Time::from_unix(EPOCH_UNIX).unwrap(),
                    serial: 1,
                    iccid: FixedStr::new("89860000000000000001").unwrap(),
                    packs_per_bms: &[],
                    pack_codes: &[],
                }),
            ),
        };
        p.handle_frame(0, EPOCH_UNIX, &login_bytes);
        p.accept_login(0, EPOCH_UNIX);
        let mut buf = [0u8; 512];
        while p.poll_transmit(0, &mut buf).is_some() {}
        // A motor block announcing three motors but carrying one.
        let mut data = Time::from_unix(EPOCH_UNIX).unwrap().0.to_vec();
        data.extend([0x02, 0x03]);
        data.extend([0u8; 12]);
        let raw = gb32960_core::RawFrame {
            header: Header::command(edition, Command::REALTIME, id),
            data: &data,
        };
        let mut f = vec![0u8; raw.wire_len()];
        raw.emit(&mut f).unwrap();
        p.handle_frame(1000, EPOCH_UNIX, &f);
        let n = p.poll_transmit(1000, &mut buf).expect("an error answer");
        let answer = Frame::parse(&buf[..n]).unwrap();
        assert_eq!(answer.header.command, Command::REALTIME);
        assert_eq!(answer.header.response, expected, "{edition}");
        assert!(!p.is_closed());
        assert!(std::iter::from_fn(|| p.poll_event()).any(|e| matches!(
            e,
            PlatformEvent::Refused {
                reason: gb32960_core::session::platform::Refusal::Malformed(_),
                ..
            }
        )));
    }
}

/// A 2025 activation sent while the login is still being decided is not refused: it is handed
/// to the driver like one sent before or after the login.
#[test]
fn an_activation_while_the_login_is_decided_is_handed_over() {
    let id = vin("LACTIVATE00000001");
    let mut p = PlatformSession::new(PlatformConfig::default(), 0);
    let login = gb32960_core::message::VehicleLogin2025 {
        time: Time::from_unix(EPOCH_UNIX).unwrap(),
        serial: 1,
        iccid: FixedStr::new("89860000000000000001").unwrap(),
        packs_per_bms: &[],
        pack_codes: &[],
    };
    p.handle_frame(
        0,
        EPOCH_UNIX,
        &frame_bytes(
            Header::command(Edition::V2025, Command::VEHICLE_LOGIN, id),
            Body::VehicleLogin2025(login),
        ),
    );
    let activation = gb32960_core::message::Activation {
        time: Time::from_unix(EPOCH_UNIX).unwrap(),
        chip_id: FixedStr(*b"CHIP0001        "),
        public_key: &[0x04; 64],
        vin: id,
        signature: gb32960_core::signature::Signature {
            algorithm: gb32960_core::signature::SignatureAlgorithm::SM2,
            r: &[1; 32],
            s: &[2; 32],
        },
    };
    p.handle_frame(
        10,
        EPOCH_UNIX,
        &frame_bytes(
            Header::command(Edition::V2025, Command::ACTIVATION, id),
            Body::Activation(activation),
        ),
    );
    let events: Vec<_> = std::iter::from_fn(|| p.poll_event()).collect();
    assert!(matches!(events[0], PlatformEvent::LoginRequest { .. }));
    assert_eq!(events[1], PlatformEvent::ActivationRequest { vin: id });
    assert_eq!(events.len(), 2, "nothing refused: {events:?}");
}

/// A late answer to a command the platform gave up on must not complete the next command of
/// the same code: the answer's content ties it to its request (the IDs of a 0x80 query).
#[test]
fn a_late_answer_to_a_cancelled_query_does_not_complete_the_next_one() {
    let v = vin("LLATEANSWER000001");
    let login = frame_bytes(
        Header::command(Edition::V2016, Command::VEHICLE_LOGIN, v),
        Body::VehicleLogin(gb32960_core::message::VehicleLogin {
            time: Time::from_unix(EPOCH_UNIX).unwrap(),
            serial: 1,
            iccid: FixedStr::new("89860000000000000001").unwrap(),
            subsystem_count: 0,
            code_len: 0,
            codes: &[],
        }),
    );
    let mut p = PlatformSession::new(PlatformConfig::default(), 0);
    p.handle_frame(0, EPOCH_UNIX, &login);
    while p.poll_event().is_some() {}
    p.accept_login(0, EPOCH_UNIX);
    let mut buf = [0u8; 600];
    while p.poll_transmit(0, &mut buf).is_some() {}

    let time = Time::from_unix(EPOCH_UNIX).unwrap().0;
    let query = |id: u8| [&time[..], &[1, id]].concat();
    // The answer to a query of `id`: the report period (0x02) or the local storage period (0x01),
    // both WORDs.
    let answer = |id: u8| {
        let data = [&time[..], &[1, id, 0x00, 0x0A]].concat();
        let header = Header::command(Edition::V2016, Command::PARAM_QUERY, v).response(ResponseFlag::SUCCESS);
        let mut b = vec![0u8; 64];
        let n = gb32960_core::RawFrame { header, data: &data }.emit(&mut b).unwrap();
        b.truncate(n);
        b
    };
    let first = p.queue_downlink(10, v, Command::PARAM_QUERY, &query(0x01)).unwrap();
    assert!(p.poll_transmit(10, &mut buf).is_some(), "the first query is sent");
    // The requester gives up: the query is withdrawn, the next one goes out.
    assert!(p.cancel_downlink(first));
    assert!(!p.cancel_downlink(first), "already gone");
    let second = p.queue_downlink(20, v, Command::PARAM_QUERY, &query(0x02)).unwrap();
    assert!(p.poll_transmit(20, &mut buf).is_some(), "the second query is sent");
    // The late answer to the first query arrives: not an answer to the second.
    p.handle_frame(30, EPOCH_UNIX, &answer(0x01));
    let mut events = Vec::new();
    while let Some(e) = p.poll_event() {
        events.push(e);
    }
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, PlatformEvent::DownlinkAnswered { .. })),
        "{events:?}"
    );
    assert_eq!(p.downlinks_queued(), 1);
    // Its own answer completes it.
    p.handle_frame(40, EPOCH_UNIX, &answer(0x02));
    let answered: Vec<u32> = std::iter::from_fn(|| p.poll_event())
        .filter_map(|e| match e {
            PlatformEvent::DownlinkAnswered { id, .. } => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(answered, [second]);
    assert_eq!(p.downlinks_queued(), 0);
}

/// Control data units wait beside the events, not inside them: two are held until polled, a
/// third is refused with an error answer (the platform sends it again), and each event is
/// followed by its own data unit.
#[test]
fn control_commands_are_held_in_order_and_a_third_unpolled_one_is_refused() {
    let v = vin("LCONTROLQUEUE0001");
    let mut t = TestTbox::new(
        TboxConfig::new(Edition::V2016, v, FixedStr::new("89860000000000000001").unwrap()),
        Parameters::defaults(Edition::V2016),
        MemoryStore::new(),
        0,
    );
    t.handle_connected(0);
    let mut buf = [0u8; 1024];
    while t.poll_transmit(0, &mut buf).is_some() {}
    while t.poll_event().is_some() {}
    let time = Time::from_unix(EPOCH_UNIX).unwrap().0;
    let control = |id: u8| {
        let data = [&time[..], &[id]].concat();
        let header = Header::command(Edition::V2016, Command::TERMINAL_CONTROL, v);
        let mut b = vec![0u8; 64];
        let n = gb32960_core::RawFrame { header, data: &data }.emit(&mut b).unwrap();
        b.truncate(n);
        b
    };
    // Disconnect (0x05), shutdown (0x02), then a reset (0x03) before any poll.
    for id in [0x05, 0x02, 0x03] {
        t.handle_frame(10, &control(id));
    }
    let mut flags = Vec::new();
    while let Some(n) = t.poll_transmit(10, &mut buf) {
        let f = Frame::parse(&buf[..n]).unwrap();
        assert_eq!(f.header.command, Command::TERMINAL_CONTROL);
        flags.push(f.header.response);
    }
    assert_eq!(
        flags,
        [ResponseFlag::SUCCESS, ResponseFlag::SUCCESS, ResponseFlag::ERROR]
    );
    let mut got = Vec::new();
    while let Some(e) = t.poll_event() {
        if e == TboxEvent::Control {
            got.push(TerminalControl::parse(t.downlink_data()).unwrap().command.id());
        }
    }
    assert_eq!(got, [0x05, 0x02], "disconnect, then shutdown");
    // Polled: room again.
    t.handle_frame(20, &control(0x03));
    let n = t.poll_transmit(20, &mut buf).unwrap();
    assert_eq!(Frame::parse(&buf[..n]).unwrap().header.response, ResponseFlag::SUCCESS);
    assert_eq!(t.poll_event(), Some(TboxEvent::Control));
    assert_eq!(
        TerminalControl::parse(t.downlink_data()).unwrap().command,
        ControlCommand::Reset
    );
}
