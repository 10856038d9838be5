//! The terminal's side of a link (2016 Annex B.1-B.2, 2025 B.1-B.2).

use super::params::{Parameters, SetError};
use super::reissue::{PushError, ReissueStore};
use super::{bytes_of, frame_time, Bytes, Millis, ResponseStyle};
use crate::frame::{Command, Edition, Header, RawFrame, ResponseFlag};
use crate::message::{Body, Frame, Logout, Response, VehicleLogin, VehicleLogin2025};
use crate::wire::{FixedStr, Time, Writer};
use crate::Error;

/// Capacity of an answer's data unit (parameter answers with both domains fit).
const ANSWER_CAP: usize = 320;
/// Capacity of a downlink data unit handed to the application (control, key exchange).
pub const DOWNLINK_CAP: usize = 512;

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
    /// A control command, already acknowledged: its data unit, to parse with
    /// [`crate::message::TerminalControl::parse`]. Factory reset (0x04) has been applied to the
    /// parameters already.
    Control { data_unit: Bytes<DOWNLINK_CAP> },
    /// The platform's time, from a time-calibration answer.
    TimeCalibrated { time: Time },
    /// The answer to an activation (2025 0x0A).
    Activation { status: u8, info: u8 },
    /// A key exchange (2025 0x0B) data unit.
    KeyExchange { data_unit: Bytes<DOWNLINK_CAP> },
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
    events: heapless::Deque<TboxEvent, 32>,
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

    /// Enters or leaves alarm reporting (period 0x03 instead of 0x02).
    pub fn set_alarm(&mut self, active: bool, now: Millis) {
        if self.alarm != active {
            self.alarm = active;
            self.next_report = now.saturating_add(self.report_period_ms()).min(self.next_report);
            if active {
                self.next_report = now;
            }
        }
    }

    fn report_period_ms(&self) -> Millis {
        if self.alarm {
            self.params.alarm_report_period_ms(self.config.edition).max(100)
        } else {
            u64::from(self.params.report_period_s.max(1)) * 1000
        }
    }

    fn answer_timeout_ms(&self) -> Millis {
        u64::from(self.params.terminal_response_timeout_s.max(1)) * 1000
    }

    fn heartbeat_ms(&self) -> Millis {
        u64::from(self.params.heartbeat_period_s.max(1)) * 1000
    }

    fn event(&mut self, e: TboxEvent) {
        if self.events.is_full() {
            // The application drains events after every call; keep the newest.
            self.events.pop_front();
        }
        let _ = self.events.push_back(e);
    }

    fn queue_raw(&mut self, command: Command, flag: ResponseFlag, data: Bytes<ANSWER_CAP>) {
        if self.raw_out.is_full() {
            // Answers nobody polled for: the oldest is dropped (its Tx marker then sends the
            // next one), the platform will ask again.
            self.raw_out.pop_front();
        } else {
            self.queue(Tx::Raw);
        }
        let _ = self.raw_out.push_back(RawOut { command, flag, data });
    }

    fn queue(&mut self, t: Tx) {
        if let Err(t) = self.tx.push_back(t) {
            // Sixteen frames queued and not polled: the caller is not draining. Drop the oldest
            // control frame rather than grow; reports are never in this queue by value.
            self.tx.pop_front();
            let _ = self.tx.push_back(t);
        }
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
        let pending = core::mem::take(&mut self.pending);
        for p in pending.iter() {
            self.store_report(&p.data);
        }
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

    /// Asks the platform for its time (0x08), e.g. when the clock is in doubt.
    pub fn request_time_calibration(&mut self, now: Millis) {
        self.time_calibration_at = Some(now);
        self.poll_time_calibration(now);
    }

    /// Queues a frame the application built (activation 0x09, key exchange 0x0B, a vendor
    /// command): the data unit is sent as is, as a command.
    pub fn send_raw(&mut self, command: Command, data_unit: &[u8]) -> Result<(), Error> {
        let data = bytes_of(data_unit).ok_or(Error::Unencodable {
            what: "data unit too long for the queue",
        })?;
        self.queue_raw(command, ResponseFlag::COMMAND, data);
        Ok(())
    }

    /// Hands over a sampled report (the data unit of a 0x02: time and blocks, signed for 2025).
    /// It is sent now when logged in, else kept for reissue.
    pub fn submit_report(&mut self, now: Millis, data_unit: &[u8]) -> Result<(), Error> {
        if data_unit.len() > SLOT {
            return Err(Error::Unencodable {
                what: "report larger than a store slot",
            });
        }
        if self.is_logged_in() && !self.pending.is_full() && self.store.is_empty() {
            self.add_pending(Command::REALTIME, data_unit, now);
        } else if self.is_logged_in() && !self.pending.is_full() {
            // Reissue is catching up: the live report still goes first (it is current data),
            // the store keeps draining at its own pace.
            self.add_pending(Command::REALTIME, data_unit, now);
        } else {
            self.store_report(data_unit);
        }
        Ok(())
    }

    fn add_pending(&mut self, command: Command, data_unit: &[u8], now: Millis) {
        let Some(data) = bytes_of(data_unit) else { return };
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let p = Pending {
            id,
            command,
            data,
            sent: None,
            sent_at: now,
            errors: 0,
            resend_at: None,
        };
        if self.pending.push(p).is_ok() {
            self.queue(Tx::Report { id });
        }
    }

    fn store_report(&mut self, data_unit: &[u8]) {
        match self.store.push(data_unit) {
            Ok(()) => {}
            Err(PushError::Full) => {
                self.store.pop_oldest();
                self.lost += 1;
                let total = self.lost;
                self.event(TboxEvent::ReportLost { total });
                let _ = self.store.push(data_unit);
            }
            Err(PushError::TooLarge) => {
                self.lost += 1;
                let total = self.lost;
                self.event(TboxEvent::ReportLost { total });
            }
        }
    }

    fn next_serial(&mut self, now: Millis) -> u16 {
        // The wall clock decides the day: serials restart at 1 each day and wrap after 65531
        // (notes §4). Without a wall clock, day "unknown" counts as one day.
        let today = self
            .unix(now)
            .and_then(|u| frame_time(u).day_number())
            .unwrap_or(i64::MIN);
        let serial = match self.serial {
            Some((day, last)) if day == today && last < 65_531 => last + 1,
            _ => 1,
        };
        self.serial = Some((today, serial));
        serial
    }

    fn poll_login(&mut self, now: Millis) {
        if !self.link_up {
            return;
        }
        match self.login {
            Login::Idle { next } if next <= now => {
                let serial = self.next_serial(now);
                self.login = Login::Awaiting {
                    serial,
                    deadline: Millis::MAX,
                };
                self.queue(Tx::Login { serial });
            }
            Login::Awaiting { serial, deadline } if deadline <= now => self.login_failed(now, serial, None),
            _ => {}
        }
    }

    fn login_failed(&mut self, now: Millis, _serial: u16, flag: Option<ResponseFlag>) {
        self.failures = self.failures.saturating_add(1);
        let attempt = self.failures;
        self.event(TboxEvent::LoginFailed { attempt, flag });
        if self.failures >= 3 {
            // B.1: after three failed logins wait parameter 0x0C minutes.
            let until = now.saturating_add(u64::from(self.params.login_retry_interval_min.max(1)) * 60_000);
            self.failures = 0;
            self.login = Login::Idle { next: until };
            self.event(TboxEvent::LoginBackoff { until });
        } else {
            self.login = Login::Idle {
                next: now.saturating_add(self.config.login_retry_ms),
            };
        }
    }

    fn poll_time_calibration(&mut self, now: Millis) {
        if let Some(at) = self.time_calibration_at {
            let waiting = self.awaiting.iter().any(|(c, ..)| *c == Command::TIME_CALIBRATION);
            if at <= now && self.is_logged_in() && !waiting {
                self.queue(Tx::TimeCalibration);
                self.time_calibration_at = Some(now.saturating_add(self.config.time_calibration_retry_ms));
            }
        }
    }

    /// Runs the timers: call when [`Tbox::poll_timeout`] is reached (calling early is harmless).
    pub fn handle_timeout(&mut self, now: Millis) {
        self.poll_login(now);
        if now >= self.next_report {
            let alarm = self.alarm;
            self.event(TboxEvent::ReportDue { alarm });
            let period = self.report_period_ms();
            self.next_report = self.next_report.saturating_add(period).max(now.saturating_add(1));
            if self.next_report + period <= now {
                self.next_report = now + period;
            }
        }
        // Answers overdue: a heartbeat without an answer is a miss; three misses end the link.
        while let Some(&(command, _, deadline)) = self.awaiting.front() {
            if deadline > now {
                break;
            }
            self.awaiting.pop_front();
            if command == Command::HEARTBEAT {
                self.heartbeat_missed = self.heartbeat_missed.saturating_add(1);
                if self.heartbeat_missed >= self.config.heartbeat_misses {
                    self.event(TboxEvent::ConnectionLost);
                    self.handle_disconnected(now);
                    return;
                }
            }
        }
        if self.is_logged_in() {
            self.poll_heartbeat(now);
            self.poll_reissue(now);
            self.poll_resends(now);
            self.poll_time_calibration(now);
        }
    }

    fn poll_heartbeat(&mut self, now: Millis) {
        let period = self.heartbeat_ms();
        let waiting = self.awaiting.iter().any(|(c, ..)| *c == Command::HEARTBEAT)
            || self.tx.iter().any(|t| matches!(t, Tx::Heartbeat));
        let quiet = now.saturating_sub(self.last_tx) >= period;
        let unproven = self
            .pending
            .iter()
            .any(|p| p.sent.is_some() && now.saturating_sub(p.sent_at) >= period);
        let full = self.pending.is_full() && self.pending.iter().all(|p| p.sent.is_some());
        if !waiting && (quiet || unproven || full) {
            self.queue(Tx::Heartbeat);
        }
    }

    fn poll_reissue(&mut self, now: Millis) {
        if self.store.is_empty() || now < self.next_reissue || self.pending.is_full() {
            return;
        }
        let Some(n) = self.store.peek_oldest(&mut self.scratch) else {
            // Unreadable entry (larger than our slot): drop it, counted.
            self.store.pop_oldest();
            self.lost += 1;
            return;
        };
        self.store.pop_oldest();
        let data = self.scratch;
        self.add_pending(Command::REISSUE, &data[..n], now);
        self.next_reissue = now.saturating_add(self.config.reissue_interval_ms);
    }

    fn poll_resends(&mut self, now: Millis) {
        let due: heapless::Vec<u32, PENDING> = self
            .pending
            .iter()
            .filter(|p| p.resend_at.is_some_and(|t| t <= now))
            .map(|p| p.id)
            .collect();
        for id in due {
            if let Some(p) = self.pending.iter_mut().find(|p| p.id == id) {
                p.resend_at = None;
                p.sent = None;
            }
            self.queue(Tx::Report { id });
        }
    }

    /// When [`Tbox::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let mut t = self.next_report;
        let mut at = |x: Millis| t = t.min(x);
        if let Login::Idle { next } = self.login {
            if self.link_up {
                at(next);
            }
        }
        if let Login::Awaiting { deadline, .. } = self.login {
            at(deadline);
        }
        if let Some(&(_, _, d)) = self.awaiting.front() {
            at(d);
        }
        if self.is_logged_in() {
            let heartbeat_busy = self.awaiting.iter().any(|(c, ..)| *c == Command::HEARTBEAT)
                || self.tx.iter().any(|t| matches!(t, Tx::Heartbeat));
            if !heartbeat_busy {
                at(self.last_tx.saturating_add(self.heartbeat_ms()));
                if let Some(p) = self
                    .pending
                    .iter()
                    .filter(|p| p.sent.is_some())
                    .map(|p| p.sent_at)
                    .min()
                {
                    at(p.saturating_add(self.heartbeat_ms()));
                }
            }
            if !self.store.is_empty() && !self.pending.is_full() {
                at(self.next_reissue);
            }
            for p in self.pending.iter() {
                if let Some(r) = p.resend_at {
                    at(r);
                }
            }
            if let Some(c) = self.time_calibration_at {
                if !self.awaiting.iter().any(|(c, ..)| *c == Command::TIME_CALIBRATION) {
                    at(c);
                }
            }
        }
        Some(t)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<TboxEvent> {
        self.events.pop_front()
    }

    /// Writes the next frame to send into `buf` and returns its length.
    pub fn poll_transmit(&mut self, now: Millis, buf: &mut [u8]) -> Option<usize> {
        if !self.link_up {
            return None;
        }
        loop {
            let t = self.tx.pop_front()?;
            match self.encode(now, &t, buf) {
                Ok(Some(n)) => {
                    self.tx_seq = self.tx_seq.wrapping_add(1);
                    self.last_tx = now;
                    self.after_transmit(now, &t);
                    return Some(n);
                }
                // Nothing to send for this entry (a report confirmed meanwhile) or it could not
                // be encoded into `buf` (too small): skip it.
                Ok(None) | Err(_) => continue,
            }
        }
    }

    fn header(&self, command: Command, flag: ResponseFlag) -> Header {
        Header {
            response: flag,
            ..Header::command(self.config.edition, command, self.config.vin)
        }
    }

    fn encode(&self, now: Millis, t: &Tx, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        let time = self.frame_time(now);
        let frame = |cmd, body| command_frame(self.header(cmd, ResponseFlag::COMMAND), body);
        let n = match t {
            Tx::Login { serial } => {
                let c = &self.config.login_codes;
                let body = match self.config.edition {
                    Edition::V2016 => Body::VehicleLogin(VehicleLogin {
                        time,
                        serial: *serial,
                        iccid: self.config.iccid,
                        subsystem_count: c.subsystem_count,
                        code_len: c.code_len,
                        codes: &c.codes,
                    }),
                    Edition::V2025 => Body::VehicleLogin2025(VehicleLogin2025 {
                        time,
                        serial: *serial,
                        iccid: self.config.iccid,
                        packs_per_bms: &c.packs_per_bms,
                        pack_codes: &c.codes,
                    }),
                };
                frame(Command::VEHICLE_LOGIN, body).emit(buf)?
            }
            Tx::Logout { serial } => frame(
                Command::VEHICLE_LOGOUT,
                Body::VehicleLogout(Logout { time, serial: *serial }),
            )
            .emit(buf)?,
            Tx::Heartbeat => frame(Command::HEARTBEAT, Body::Heartbeat).emit(buf)?,
            Tx::TimeCalibration => frame(Command::TIME_CALIBRATION, Body::TimeCalibration).emit(buf)?,
            Tx::Report { id } => {
                let Some(p) = self.pending.iter().find(|p| p.id == *id) else {
                    return Ok(None);
                };
                RawFrame {
                    header: self.header(p.command, ResponseFlag::COMMAND),
                    data: &p.data,
                }
                .emit(buf)?
            }
            Tx::Raw => {
                let Some(r) = self.raw_out.front() else { return Ok(None) };
                RawFrame {
                    header: self.header(r.command, r.flag),
                    data: &r.data,
                }
                .emit(buf)?
            }
        };
        Ok(Some(n))
    }

    fn after_transmit(&mut self, now: Millis, t: &Tx) {
        let seq = self.tx_seq;
        let deadline = now.saturating_add(self.answer_timeout_ms());
        let expect = |s: &mut Self, c: Command| {
            if s.awaiting.is_full() {
                s.awaiting.pop_front();
            }
            let _ = s.awaiting.push_back((c, seq, deadline));
        };
        match t {
            Tx::Login { serial } => {
                self.login = Login::Awaiting {
                    serial: *serial,
                    deadline,
                };
                expect(self, Command::VEHICLE_LOGIN);
            }
            Tx::Heartbeat => expect(self, Command::HEARTBEAT),
            Tx::TimeCalibration => expect(self, Command::TIME_CALIBRATION),
            Tx::Logout { serial } => {
                let serial = *serial;
                self.event(TboxEvent::LoggedOut { serial });
            }
            Tx::Report { id } => {
                if let Some(p) = self.pending.iter_mut().find(|p| p.id == *id) {
                    p.sent = Some(seq);
                    p.sent_at = now;
                }
            }
            Tx::Raw => {
                self.raw_out.pop_front();
            }
        }
    }

    /// Everything sent before transmit `seq` has arrived (TCP keeps order): drop those reports.
    fn confirm_before(&mut self, seq: u32) {
        self.pending.retain(|p| !matches!(p.sent, Some(s) if s < seq));
    }

    /// Takes the awaited request for `command`, returning its transmit sequence.
    fn answered(&mut self, command: Command) -> Option<u32> {
        let i = self.awaiting.iter().position(|(c, ..)| *c == command)?;
        let mut seq = None;
        let n = self.awaiting.len();
        for k in 0..n {
            let item = self.awaiting.pop_front()?;
            if k == i {
                seq = Some(item.1);
            } else {
                let _ = self.awaiting.push_back(item);
            }
        }
        seq
    }

    /// Handles one whole frame from the platform (as a deframer returns it).
    pub fn handle_frame(&mut self, now: Millis, bytes: &[u8]) {
        let raw = match RawFrame::parse(bytes) {
            Ok(r) => r,
            Err(error) => return self.event(TboxEvent::BadFrame { error }),
        };
        if raw.header.vin != self.config.vin {
            return self.event(TboxEvent::BadFrame {
                error: Error::Malformed {
                    what: "frame for another VIN",
                    offset: 0,
                },
            });
        }
        let frame = match Frame::decode(&raw) {
            Ok(f) => f,
            Err(error) => return self.event(TboxEvent::BadFrame { error }),
        };
        let h = frame.header;
        if !h.response.is_command() {
            return self.handle_answer(now, &frame);
        }
        match (h.command, &frame.body) {
            (Command::PARAM_QUERY, Body::ParamQuery(q)) => {
                let mut ids: heapless::Vec<u8, 64> = heapless::Vec::new();
                if let crate::Reading::Valid(list) = q.ids {
                    for id in list.iter() {
                        let _ = ids.push(id);
                    }
                }
                let mut data = [0u8; ANSWER_CAP];
                let mut w = Writer::new(&mut data);
                let written = w
                    .bytes(&self.frame_time(now).0)
                    .and_then(|()| self.params.emit_answer(&ids, self.config.edition, &mut w))
                    .map(|()| w.position());
                if let Ok(n) = written {
                    if let Some(data) = bytes_of(&data[..n]) {
                        self.queue_raw(Command::PARAM_QUERY, ResponseFlag::SUCCESS, data);
                    }
                }
            }
            (Command::PARAM_SET, Body::ParamSet(set)) => {
                let before_period = self.report_period_ms();
                let result = self.params.apply(&set.params, self.config.edition);
                let flag = if result.is_ok() {
                    ResponseFlag::SUCCESS
                } else {
                    ResponseFlag::ERROR
                };
                self.answer(now, Command::PARAM_SET, flag, raw.data);
                if result.is_ok() {
                    self.event(TboxEvent::ParametersChanged);
                    if self.report_period_ms() != before_period {
                        // A new report period takes effect from now.
                        self.next_report = now.saturating_add(self.report_period_ms());
                    }
                }
                let _: Option<SetError> = result.err();
            }
            (Command::TERMINAL_CONTROL, Body::Control(c)) => {
                self.answer(now, Command::TERMINAL_CONTROL, ResponseFlag::SUCCESS, raw.data);
                if c.command.id() == 0x04 {
                    self.params = Parameters {
                        platform_domain: self.params.platform_domain.clone(),
                        platform_port: self.params.platform_port,
                        public_domain: self.params.public_domain.clone(),
                        public_port: self.params.public_port,
                        ..Parameters::defaults(self.config.edition)
                    };
                    self.event(TboxEvent::ParametersChanged);
                }
                if let Some(data_unit) = bytes_of(raw.data) {
                    self.event(TboxEvent::Control { data_unit });
                }
            }
            (Command::ACTIVATION_RESPONSE, Body::ActivationResponse(a)) => self.event(TboxEvent::Activation {
                status: a.status,
                info: a.info,
            }),
            (Command::KEY_EXCHANGE, Body::KeyExchange(_)) => {
                if let Some(data_unit) = bytes_of(raw.data) {
                    self.event(TboxEvent::KeyExchange { data_unit });
                }
            }
            _ => self.event(TboxEvent::BadFrame {
                error: Error::Malformed {
                    what: "command a terminal does not take",
                    offset: 0,
                },
            }),
        }
    }

    /// Queues an answer to a downlink command in the configured style.
    fn answer(&mut self, now: Millis, command: Command, flag: ResponseFlag, request: &[u8]) {
        let time = self.frame_time(now);
        let rest = match self.config.response_style {
            ResponseStyle::Echo => request.get(Time::LEN..).unwrap_or(&[]),
            ResponseStyle::TimeOnly => &[],
        };
        let mut data: Bytes<ANSWER_CAP> = heapless::Vec::new();
        if data.extend_from_slice(&time.0).is_ok() && data.extend_from_slice(rest).is_err() {
            data.truncate(Time::LEN);
        }
        self.queue_raw(command, flag, data);
    }

    fn handle_answer(&mut self, now: Millis, frame: &Frame<'_>) {
        let h = frame.header;
        let ok = h.response == ResponseFlag::SUCCESS;
        let time = match frame.body {
            Body::Response(Response { time, .. }) => time,
            _ => None,
        };
        match h.command {
            Command::VEHICLE_LOGIN => {
                let Login::Awaiting { serial, .. } = self.login else {
                    return;
                };
                if let Some(seq) = self.answered(Command::VEHICLE_LOGIN) {
                    self.confirm_before(seq);
                }
                if ok {
                    self.login = Login::Active { serial };
                    self.failures = 0;
                    self.heartbeat_missed = 0;
                    self.next_reissue = now;
                    self.event(TboxEvent::LoggedIn { serial });
                    if self.wall.is_none() {
                        self.time_calibration_at = Some(now);
                    }
                } else {
                    self.login_failed(now, serial, Some(h.response));
                }
            }
            Command::HEARTBEAT => {
                if let Some(seq) = self.answered(Command::HEARTBEAT) {
                    self.confirm_before(seq);
                }
                self.heartbeat_missed = 0;
            }
            Command::TIME_CALIBRATION => {
                if let Some(seq) = self.answered(Command::TIME_CALIBRATION) {
                    self.confirm_before(seq);
                }
                match (ok, time.and_then(|t| t.to_unix())) {
                    (true, Some(unix)) => {
                        self.wall = Some((unix, now));
                        self.time_calibration_at = None;
                        self.event(TboxEvent::TimeCalibrated {
                            time: time.unwrap_or_default(),
                        });
                    }
                    // An error, or no usable time: retry later (B.2.5).
                    _ => self.time_calibration_at = Some(now.saturating_add(self.config.time_calibration_retry_ms)),
                }
            }
            Command::REALTIME | Command::REISSUE => {
                // Main-text platforms answer every report; Annex B platforms only errors. The
                // time names the report.
                let Some(t) = time else { return };
                let Some(i) = self
                    .pending
                    .iter()
                    .position(|p| p.command == h.command && p.data.get(..6) == Some(&t.0[..]))
                else {
                    return;
                };
                if let Some(seq) = self.pending[i].sent {
                    self.confirm_before(seq);
                }
                let Some(i) = self
                    .pending
                    .iter()
                    .position(|p| p.command == h.command && p.data.get(..6) == Some(&t.0[..]))
                else {
                    return;
                };
                if ok {
                    self.pending.remove(i);
                } else {
                    let retries = self.config.report_retries;
                    let p = &mut self.pending[i];
                    p.errors = p.errors.saturating_add(1);
                    if p.errors > retries {
                        let time = t;
                        self.pending.remove(i);
                        self.event(TboxEvent::ReportRejected { time });
                    } else {
                        p.resend_at = Some(now.saturating_add(self.config.report_retry_ms));
                    }
                }
            }
            _ => {}
        }
    }
}

fn command_frame(header: Header, body: Body<'_>) -> Frame<'_> {
    Frame { header, body }
}
