//! The terminal's side of a link (2016 Annex B.1-B.2, 2025 B.1-B.2).
//!
//! The machine is one struct, [`Tbox`], with its `impl` spread over the seams of the job:
//!
//! * here: the public types, construction, accessors, the wall clock and link changes;
//! * `timers`: login retries, the report schedule, heartbeats, reissue pacing, resends and
//!   time calibration ([`Tbox::handle_timeout`], [`Tbox::poll_timeout`]);
//! * `transmit`: what goes out: the transmit queue, reports in flight and frame encoding
//!   ([`Tbox::submit_report`], [`Tbox::poll_transmit`]);
//! * `downlink`: what comes in: answers, parameter query/set, control, activation and key
//!   exchange ([`Tbox::handle_frame`]).

mod downlink;
mod timers;
mod transmit;

use transmit::store_into;

use super::params::Parameters;
use super::reissue::ReissueStore;
use super::{frame_time, Bytes, Millis, ResponseStyle};
use crate::frame::{Command, Edition, ResponseFlag};
use crate::wire::{FixedStr, Time};
use crate::Error;

/// Capacity of an answer's data unit (parameter answers with both domains fit).
const ANSWER_CAP: usize = 320;
/// Capacity of a downlink data unit handed to the application (control, key exchange).
pub const DOWNLINK_CAP: usize = 512;

/// Control and key-exchange data units held until their events are polled; a control command
/// arriving while they are all taken is answered with an error (the platform retries).
pub const DOWNLINK_UNITS: usize = 2;

/// The login codes (2016: n subsystems × m bytes; 2025: packs per BMS × 24 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginCodes {
    /// 2016: number of subsystems n.
    pub subsystem_count: u8,
    /// 2016: code length m.
    pub code_len: u8,
    /// 2025: packs per battery-management system.
    pub packs_per_bms: heapless::Vec<u8, 20>,
    /// The code bytes (2016: n·m; 2025: Σ packs × 24).
    pub codes: heapless::Vec<u8, 480>,
}

/// Configuration of a terminal session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TboxConfig {
    /// The edition spoken.
    pub edition: Edition,
    /// The vehicle's VIN.
    pub vin: FixedStr<17>,
    /// The SIM's ICCID.
    pub iccid: FixedStr<20>,
    /// The login codes.
    pub login_codes: LoginCodes,
    /// Wait after an unanswered or refused login before the next one, while fewer than three
    /// have failed. The standard says 1 min (2016 main 5.1, B.1 second paragraph) and 3 min
    /// (2016 B.1 first paragraph, 2025): default per edition.
    pub login_retry_ms: Millis,
    /// Smallest gap between two reissue frames, so live data keeps flowing.
    pub reissue_interval_ms: Millis,
    /// Gap before a report the platform answered with an error is sent again (B.2.1: 1 min).
    pub report_retry_ms: Millis,
    /// How often a rejected report is sent again before it is dropped (B.2.1: 3).
    pub report_retries: u8,
    /// Heartbeats in a row without an answer after which the link is declared lost (B.2.7).
    pub heartbeat_misses: u8,
    /// Retry interval of an unanswered or refused time calibration (B.2.5).
    pub time_calibration_retry_ms: Millis,
    /// Shape of the terminal's answers to 0x81/0x82.
    pub response_style: ResponseStyle,
}

impl TboxConfig {
    /// The recommended configuration for an edition.
    pub fn new(edition: Edition, vin: FixedStr<17>, iccid: FixedStr<20>) -> Self {
        TboxConfig {
            edition,
            vin,
            iccid,
            login_codes: LoginCodes::default(),
            login_retry_ms: match edition {
                Edition::V2016 => 60_000,
                Edition::V2025 => 180_000,
            },
            reissue_interval_ms: 1_000,
            report_retry_ms: 60_000,
            report_retries: 3,
            heartbeat_misses: 3,
            time_calibration_retry_ms: 60_000,
            response_style: ResponseStyle::default_for(edition),
        }
    }
}

/// What happened, for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TboxEvent {
    /// The platform accepted the login.
    LoggedIn { serial: u16 },
    /// A login was refused (`flag`) or not answered in time (`None`).
    LoginFailed { attempt: u8, flag: Option<ResponseFlag> },
    /// Three logins failed in a row: no login before `until` (parameter 0x0C).
    LoginBackoff { until: Millis },
    /// The logout was sent (and the session ended).
    LoggedOut { serial: u16 },
    /// Time to sample and [`Tbox::submit_report`] (period 0x02, or 0x03 while an alarm is active).
    ReportDue { alarm: bool },
    /// The reissue store was full: the oldest report was dropped. `total` counts all losses.
    ReportLost { total: u64 },
    /// A report the platform kept refusing was dropped after the retries (B.2.1).
    ReportRejected { time: Time },
    /// Parameters changed through 0x81 (persist them).
    ParametersChanged,
    /// A control command, already acknowledged: its data unit is [`Tbox::downlink_data`] until
    /// the next [`Tbox::poll_event`], to parse with [`crate::message::TerminalControl::parse`].
    /// Factory reset (0x04) has been applied to the parameters already.
    Control,
    /// The platform's time, from a time-calibration answer.
    TimeCalibrated { time: Time },
    /// The answer to an activation (2025 0x0A).
    Activation { status: u8, info: u8 },
    /// A key exchange (2025 0x0B): its data unit is [`Tbox::downlink_data`] until the next
    /// [`Tbox::poll_event`].
    KeyExchange,
    /// Heartbeats went unanswered: the link is dead; reconnect (the session already treats it
    /// as down).
    ConnectionLost,
    /// A frame that could not be used (bad checksum, malformed, another VIN).
    BadFrame { error: Error },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Login {
    /// Not logged in; next attempt at this time.
    Idle { next: Millis },
    /// Login sent, answer awaited.
    Awaiting { serial: u16, deadline: Millis },
    /// Logged in.
    Active { serial: u16 },
    /// Logged out by the application.
    Off,
}

#[derive(Debug, Clone)]
enum Tx {
    Login {
        serial: u16,
    },
    Logout {
        serial: u16,
    },
    Heartbeat,
    TimeCalibration,
    Report {
        id: u32,
    },
    /// The front entry of `raw_out`.
    Raw,
}

/// A frame whose data unit is already built: answers, and frames the application hands over.
#[derive(Debug, Clone)]
struct RawOut {
    command: Command,
    flag: ResponseFlag,
    data: Bytes<ANSWER_CAP>,
}

#[derive(Debug, Clone)]
struct Pending<const SLOT: usize> {
    id: u32,
    command: Command,
    data: Bytes<SLOT>,
    /// Transmit sequence number once sent.
    sent: Option<u32>,
    sent_at: Millis,
    errors: u8,
    resend_at: Option<Millis>,
}

/// The terminal's session: feed it link changes, frames and time; drain transmits and events.
///
/// `S` keeps reports while they cannot be sent; `SLOT` bounds one report's data unit;
/// `PENDING` bounds the reports sent and not yet known to have arrived.
///
/// Time: every call takes the monotonic `now`; the wall clock (for frame times and the daily
/// login serial) is set with [`Tbox::set_wall_clock`] and then follows `now`. A time
/// calibration answer sets it too.
///
/// Delivery without acknowledgements (Annex B: a correct report gets no answer): TCP delivers
/// in order, so when the platform answers a request sent after a report, the report has
/// arrived. Reports stay pending until then (a heartbeat is sent to find out when one has been
/// pending for a heartbeat period); on a lost link they go back to the store and are reissued.
/// A report may then reach the platform twice (sent, arrived, link lost before the proof); the
/// platform session recognises and drops such duplicates. A platform that acknowledges every
/// report (main text 5.2.2) confirms them directly.
#[derive(Debug)]
pub struct Tbox<S: ReissueStore, const SLOT: usize = 1024, const PENDING: usize = 8> {
    config: TboxConfig,
    params: Parameters,
    store: S,
    wall: Option<(i64, Millis)>,
    link_up: bool,
    login: Login,
    failures: u8,
    serial: Option<(i64, u16)>,
    tx: heapless::Deque<Tx, 16>,
    raw_out: heapless::Deque<RawOut, 4>,
    events: heapless::Deque<TboxEvent, EVENTS>,
    /// The data units of the Control and KeyExchange events not yet polled, in their order
    /// (kept apart so that every event slot does not carry 512 bytes).
    downlink_units: heapless::Deque<Bytes<DOWNLINK_CAP>, DOWNLINK_UNITS>,
    /// The data unit of the last polled Control or KeyExchange event.
    downlink_unit: Bytes<DOWNLINK_CAP>,
    pending: heapless::Vec<Pending<SLOT>, PENDING>,
    next_id: u32,
    tx_seq: u32,
    /// Requests awaiting an answer: command, transmit sequence, deadline.
    awaiting: heapless::Deque<(Command, u32, Millis), 8>,
    last_tx: Millis,
    next_report: Millis,
    alarm: bool,
    next_reissue: Millis,
    heartbeat_missed: u8,
    time_calibration_at: Option<Millis>,
    lost: u64,
    scratch: [u8; SLOT],
}

impl<S: ReissueStore, const SLOT: usize, const PENDING: usize> Tbox<S, SLOT, PENDING> {
    /// A session that has not connected yet. The first report falls due at `now`.
    pub fn new(config: TboxConfig, params: Parameters, store: S, now: Millis) -> Self {
        Tbox {
            config,
            params,
            store,
            wall: None,
            link_up: false,
            login: Login::Idle { next: now },
            failures: 0,
            serial: None,
            tx: heapless::Deque::new(),
            raw_out: heapless::Deque::new(),
            events: heapless::Deque::new(),
            downlink_units: heapless::Deque::new(),
            downlink_unit: Bytes::new(),
            pending: heapless::Vec::new(),
            next_id: 0,
            tx_seq: 0,
            awaiting: heapless::Deque::new(),
            last_tx: now,
            next_report: now,
            alarm: false,
            next_reissue: now,
            heartbeat_missed: 0,
            time_calibration_at: None,
            lost: 0,
            scratch: [0; SLOT],
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TboxConfig {
        &self.config
    }

    /// The parameters (as changed by 0x81).
    pub fn params(&self) -> &Parameters {
        &self.params
    }

    /// Whether the platform has accepted our login on the current link.
    pub fn is_logged_in(&self) -> bool {
        matches!(self.login, Login::Active { .. }) && self.link_up
    }

    /// When the next login may be sent, while not logged in (after three failures, the end of
    /// the 0x0C wait): the moment to (re)connect (B.1).
    pub fn next_login_at(&self) -> Option<Millis> {
        match self.login {
            Login::Idle { next } => Some(next),
            _ => None,
        }
    }

    /// Reports held for reissue.
    pub fn stored(&self) -> usize {
        self.store.len()
    }

    /// Reports sent and not yet known to have arrived.
    pub fn unconfirmed(&self) -> usize {
        self.pending.len()
    }

    /// Reports lost because the store was full.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// The reissue store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Sets the wall clock: `unix` seconds at monotonic `now` (from GNSS, RTC or NTP).
    pub fn set_wall_clock(&mut self, unix: i64, now: Millis) {
        self.wall = Some((unix, now));
    }

    /// Unix seconds at `now`, if the wall clock was set.
    pub fn unix(&self, now: Millis) -> Option<i64> {
        self.wall.map(|(u, at)| u + (now.saturating_sub(at) / 1000) as i64)
    }

    fn frame_time(&self, now: Millis) -> Time {
        self.unix(now).map(frame_time).unwrap_or_default()
    }

    fn event(&mut self, e: TboxEvent) {
        push_event(&mut self.events, e);
    }

    /// The link came up (TCP connected): log in now, or when the retry timer allows.
    pub fn handle_connected(&mut self, now: Millis) {
        self.link_up = true;
        self.tx.clear();
        self.raw_out.clear();
        self.awaiting.clear();
        self.heartbeat_missed = 0;
        self.last_tx = now;
        if self.login == Login::Off {
            self.login = Login::Idle { next: now };
        }
        self.poll_login(now);
    }

    /// The link went down: everything not known to have arrived goes back to the store.
    pub fn handle_disconnected(&mut self, now: Millis) {
        self.link_up = false;
        self.tx.clear();
        self.raw_out.clear();
        self.awaiting.clear();
        if matches!(self.login, Login::Awaiting { .. } | Login::Active { .. }) {
            self.login = Login::Idle { next: now };
        }
        // Field by field, not through `self`, so that the reports are not copied out first
        // (PENDING × SLOT bytes of stack on a small MCU).
        for p in self.pending.iter() {
            store_into(&mut self.store, &mut self.lost, &mut self.events, &p.data);
        }
        self.pending.clear();
    }

    /// Sends the logout (0x04 with the login's serial); reports are stored from now on. The
    /// next [`Tbox::handle_connected`] logs in again.
    pub fn logout(&mut self, now: Millis) {
        let _ = now;
        if let Login::Active { serial } = self.login {
            self.queue(Tx::Logout { serial });
            self.login = Login::Off;
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<TboxEvent> {
        let e = self.events.pop_front()?;
        if matches!(e, TboxEvent::Control | TboxEvent::KeyExchange) {
            self.downlink_unit = self.downlink_units.pop_front().unwrap_or_default();
        }
        Some(e)
    }

    /// The data unit of the Control or KeyExchange event [`Tbox::poll_event`] returned last.
    pub fn downlink_data(&self) -> &[u8] {
        &self.downlink_unit
    }

    /// Replaces the parameters (the application restoring saved ones, or undoing a change of
    /// platform endpoint whose login failed, B.3.3). Timers follow from the next report on.
    pub fn set_params(&mut self, params: Parameters) {
        self.params = params;
    }
}

/// Events held between two polls.
const EVENTS: usize = 32;

/// Queues an event; the application drains events after every call, so when full the oldest
/// gives way to the newest.
fn push_event(events: &mut heapless::Deque<TboxEvent, EVENTS>, e: TboxEvent) {
    if events.is_full() {
        events.pop_front();
    }
    let _ = events.push_back(e);
}
