//! The platform's side of one connection (2016 B.1-B.2 and 6.3; 2025 B.1-B.2, 5.1).
//!
//! The machine decides what the standard decides (what comes first, who is answered and how,
//! when a link is dead, how downlink commands are retried); the driver decides what is the
//! operator's business (who may log in, whether a VIN is already online elsewhere, where data
//! goes). A login is an event the driver answers later with [`PlatformSession::accept_login`] or
//! [`PlatformSession::reject_login`], so a slow authentication call never blocks the machine.

mod downlink;

pub use downlink::answers;
use downlink::Downlink;

use super::{bytes_of, frame_time, Bytes, Millis, ResponseStyle};
use crate::frame::{Command, Edition, Encryption, Header, RawFrame, ResponseFlag};
use crate::message::{Body, Frame};
use crate::wire::{FixedStr, Time};
use crate::Error;

/// Capacity of a response or downlink data unit kept by the machine.
pub const DATA_CAP: usize = 512;

/// The longest frame [`PlatformSession::poll_transmit`] writes: a buffer this long always
/// suffices (a shorter one may drop a frame that does not fit).
pub const MAX_TRANSMIT_LEN: usize = crate::HEADER_LEN + DATA_CAP + 1;

/// How heartbeats are answered (notes 2025 §13 A4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HeartbeatReply {
    /// An empty data unit (L = 0).
    Empty,
    /// The platform's time (L = 6); the default, since several servers and rtm_con expect it.
    Timed,
}

/// Reply policy and timers of a platform session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformConfig {
    /// Shape of answers on 2016 links (2025 answers are always time-only). Default: echo, as
    /// Annex B.3.3.2 asks of terminal links.
    pub response_style_2016: ResponseStyle,
    /// Heartbeat answers.
    pub heartbeat_reply: HeartbeatReply,
    /// Answer correct real-time and reissue reports with success (main text 5.2.2). Default
    /// off: Annex B answers only reports that fail the check.
    pub ack_reports: bool,
    /// Answer a vehicle logout with success (the standard is silent; y752321981 answers, EMQX
    /// does not). Default on.
    pub ack_logout: bool,
    /// Refuse logins silently (Annex B.1: "the platform ignores the frame") instead of with
    /// the error flag (main text; 2025 codes 0x03/0x04). Default off (notes 2025 §13 A8).
    pub silent_login_refusal: bool,
    /// A link with no frame for this long is closed (B.2.7; Alibaba and EMQX: 180 s).
    pub idle_timeout_ms: Millis,
    /// How long an answer to a query or set is awaited before the command is sent again.
    pub downlink_timeout_ms: Millis,
    /// Interval between repetitions of a control command (B.2.4: 1 min).
    pub control_retry_ms: Millis,
    /// Attempts per downlink command before it times out (B.2.2-B.2.4: 3).
    pub downlink_attempts: u8,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        PlatformConfig {
            response_style_2016: ResponseStyle::Echo,
            heartbeat_reply: HeartbeatReply::Timed,
            ack_reports: false,
            ack_logout: true,
            silent_login_refusal: false,
            idle_timeout_ms: 180_000,
            downlink_timeout_ms: 30_000,
            control_retry_ms: 60_000,
            downlink_attempts: 3,
        }
    }
}

/// Why a frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Refusal {
    /// The link has no accepted login yet (the first frame must be a vehicle or platform login).
    NotLoggedIn,
    /// A frame for another VIN than the one logged in on this link.
    WrongVin,
    /// The data unit does not decode.
    Malformed(Error),
    /// A command this side does not take here.
    Unexpected(Command),
    /// A login while another one is being decided.
    LoginInProgress,
}

/// Why the driver should close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CloseReason {
    /// Nothing received for the idle timeout.
    IdleTimeout,
    /// The vehicle (or platform) logged out.
    LoggedOut,
    /// The login was refused.
    LoginRefused,
    /// The first frame was not a login.
    NotLoggedIn,
}

/// What happened, for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformEvent {
    /// A vehicle asks to log in: answer with [`PlatformSession::accept_login`] or
    /// [`PlatformSession::reject_login`] (the login frame itself was fed just before).
    LoginRequest {
        vin: FixedStr<17>,
        edition: Edition,
        serial: u16,
        iccid: FixedStr<20>,
        time: Time,
    },
    /// A platform asks to open a cascade link (0x05): answer the same way.
    PlatformLoginRequest {
        id: FixedStr<17>,
        username: FixedStr<12>,
        password: FixedStr<20>,
        serial: u16,
        encryption: Encryption,
    },
    /// The login was accepted; on a cascade link, a forwarded vehicle's login.
    LoggedIn { vin: FixedStr<17>, cascade: bool },
    /// A vehicle (or the cascade platform) logged out.
    LoggedOut { vin: FixedStr<17> },
    /// A report was accepted (0x02 or 0x03; the driver stores the frame it fed). `duplicate`:
    /// the same report was accepted before on this link. A report can also come again on a
    /// later link (reissued because the link dropped before its arrival was proven): the
    /// driver's store recognises those by (VIN, `time`, `digest`) and keeps one copy.
    Report {
        vin: FixedStr<17>,
        command: Command,
        time: Time,
        digest: u32,
        duplicate: bool,
    },
    /// A heartbeat (answered).
    Heartbeat { vin: FixedStr<17> },
    /// A time calibration (answered with the platform's time).
    TimeCalibration { vin: FixedStr<17> },
    /// An activation (2025 0x09): verify it and answer with
    /// [`PlatformSession::answer_activation`].
    ActivationRequest { vin: FixedStr<17> },
    /// A key exchange (2025 0x0B) from the terminal (answered with success).
    KeyExchange { vin: FixedStr<17> },
    /// The terminal answered downlink command `id` (the answer frame was fed just before).
    DownlinkAnswered {
        id: u32,
        vin: FixedStr<17>,
        flag: ResponseFlag,
    },
    /// Downlink command `id` got no answer after every attempt.
    DownlinkTimedOut { id: u32, vin: FixedStr<17> },
    /// A frame was refused (and answered with an error where the standard allows).
    Refused {
        vin: FixedStr<17>,
        command: Command,
        reason: Refusal,
    },
    /// Close the connection.
    Close { reason: CloseReason },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Nothing accepted yet.
    New,
    /// A login awaits the driver's decision (its data unit is in `login_request`).
    Deciding {
        vin: FixedStr<17>,
        command: Command,
        edition: Edition,
    },
    /// One vehicle is logged in.
    Vehicle { vin: FixedStr<17>, edition: Edition },
    /// A platform forwards many vehicles.
    Cascade { id: FixedStr<17>, edition: Edition },
    /// Closed; nothing more is processed.
    Closed,
}

#[derive(Debug, Clone)]
struct Out {
    header: Header,
    data: Bytes<DATA_CAP>,
}

/// The platform's session on one connection.
#[derive(Debug)]
pub struct PlatformSession {
    config: PlatformConfig,
    state: State,
    login_request: Bytes<DATA_CAP>,
    last_rx: Millis,
    out: heapless::Deque<Out, 16>,
    events: heapless::Deque<PlatformEvent, 32>,
    downlinks: heapless::Deque<Downlink, 8>,
    next_downlink: u32,
    seen: heapless::Deque<(FixedStr<17>, [u8; 6], u32), 64>,
}

/// The digest of a report's data unit that identifies it with its VIN and time (FNV-1a).
pub fn report_digest(data: &[u8]) -> u32 {
    data.iter()
        .fold(0x811C_9DC5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

impl PlatformSession {
    /// A session for a connection accepted at `now`.
    pub fn new(config: PlatformConfig, now: Millis) -> Self {
        PlatformSession {
            config,
            state: State::New,
            login_request: heapless::Vec::new(),
            last_rx: now,
            out: heapless::Deque::new(),
            events: heapless::Deque::new(),
            downlinks: heapless::Deque::new(),
            next_downlink: 1,
            seen: heapless::Deque::new(),
        }
    }

    /// The VIN (or platform code) logged in on this link, if any.
    pub fn vin(&self) -> Option<FixedStr<17>> {
        match &self.state {
            State::Vehicle { vin, .. } => Some(*vin),
            State::Cascade { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// The edition spoken on this link, once a login was seen.
    pub fn edition(&self) -> Option<Edition> {
        match &self.state {
            State::Vehicle { edition, .. } | State::Cascade { edition, .. } | State::Deciding { edition, .. } => {
                Some(*edition)
            }
            _ => None,
        }
    }

    /// Whether this is a cascade (platform) link.
    pub fn is_cascade(&self) -> bool {
        matches!(self.state, State::Cascade { .. })
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    fn event(&mut self, e: PlatformEvent) {
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(e);
    }

    fn send(&mut self, header: Header, data: &[u8]) {
        let Some(data) = bytes_of(data) else { return };
        if self.out.is_full() {
            self.out.pop_front();
        }
        let _ = self.out.push_back(Out { header, data });
    }

    fn close(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.event(PlatformEvent::Close { reason });
    }

    /// Answers `request` (a data unit) with `flag` in the configured style.
    fn answer(&mut self, header: &Header, flag: ResponseFlag, request: &[u8], unix: i64) {
        let time = frame_time(unix);
        let style = match header.edition {
            Edition::V2016 => self.config.response_style_2016,
            Edition::V2025 => ResponseStyle::TimeOnly,
        };
        let mut data: Bytes<DATA_CAP> = heapless::Vec::new();
        let _ = data.extend_from_slice(&time.0);
        if style == ResponseStyle::Echo && data.extend_from_slice(request.get(Time::LEN..).unwrap_or(&[])).is_err() {
            data.truncate(Time::LEN);
        }
        self.send(header.response(flag), &data);
    }

    /// An error flag for a refused frame in `edition`.
    fn error_flag(edition: Edition, reason: &Refusal) -> ResponseFlag {
        match (edition, reason) {
            (Edition::V2025, Refusal::Malformed(_)) => ResponseFlag::STRUCTURE_ERROR,
            (Edition::V2025, Refusal::WrongVin) => ResponseFlag::VIN_NOT_FOUND,
            _ => ResponseFlag::ERROR,
        }
    }

    fn refuse(&mut self, header: &Header, data: &[u8], reason: Refusal, unix: i64) {
        self.event(PlatformEvent::Refused {
            vin: header.vin,
            command: header.command,
            reason,
        });
        if header.response.is_command() {
            let flag = Self::error_flag(header.edition, &reason);
            self.answer(header, flag, data, unix);
        }
    }

    /// Handles one whole frame from the terminal (as a deframer returns it). `unix` is the wall
    /// clock, for the times in answers.
    pub fn handle_frame(&mut self, now: Millis, unix: i64, bytes: &[u8]) {
        if self.state == State::Closed {
            return;
        }
        self.last_rx = now;
        let raw = match RawFrame::parse(bytes) {
            Ok(r) => r,
            // A frame that fails the check is ignored (B.2.x "if the check fails ... ignores").
            Err(e) => {
                return self.event(PlatformEvent::Refused {
                    vin: FixedStr([0; 17]),
                    command: Command(bytes.get(2).copied().unwrap_or(0)),
                    reason: Refusal::Malformed(e),
                })
            }
        };
        let h = raw.header;
        let frame = match Frame::decode(&raw) {
            Ok(f) => f,
            Err(e) => return self.refuse(&h, raw.data, Refusal::Malformed(e), unix),
        };
        if !h.response.is_command() {
            return self.handle_answer(&h, raw.data);
        }
        match self.state.clone() {
            State::New => match (&frame.body, h.command) {
                (Body::VehicleLogin(_) | Body::VehicleLogin2025(_), _) | (Body::PlatformLogin(_), _) => {
                    self.begin_login(&frame, raw.data)
                }
                // 2025: activation may come before the first login.
                (Body::Activation(_), _) => self.event(PlatformEvent::ActivationRequest { vin: h.vin }),
                _ => {
                    self.refuse(&h, raw.data, Refusal::NotLoggedIn, unix);
                    self.close(CloseReason::NotLoggedIn);
                }
            },
            // The terminal repeats its login while the driver is still deciding (a slow
            // authentication call): the newest login is the one that gets the answer.
            State::Deciding { vin, command, .. }
                if h.vin == vin
                    && h.command == command
                    && matches!(
                        frame.body,
                        Body::VehicleLogin(_) | Body::VehicleLogin2025(_) | Body::PlatformLogin(_)
                    ) =>
            {
                if let Some(request) = bytes_of(raw.data) {
                    self.login_request = request;
                }
            }
            // An activation does not depend on the login: a 2025 terminal may send it right
            // after its login, before the driver has decided.
            State::Deciding { .. } if matches!(frame.body, Body::Activation(_)) => {
                self.event(PlatformEvent::ActivationRequest { vin: h.vin })
            }
            State::Deciding { .. } => self.refuse(&h, raw.data, Refusal::LoginInProgress, unix),
            State::Vehicle { vin, .. } => {
                if h.vin != vin {
                    return self.refuse(&h, raw.data, Refusal::WrongVin, unix);
                }
                self.handle_vehicle_frame(&frame, raw.data, unix, false);
            }
            State::Cascade { .. } => self.handle_vehicle_frame(&frame, raw.data, unix, true),
            State::Closed => {}
        }
    }

    fn begin_login(&mut self, frame: &Frame<'_>, data: &[u8]) {
        let h = frame.header;
        // An echo answer needs the request; one too long to keep is answered with its time.
        self.login_request =
            bytes_of(data).unwrap_or_else(|| bytes_of(data.get(..Time::LEN).unwrap_or(&[])).unwrap_or_default());
        self.state = State::Deciding {
            vin: h.vin,
            command: h.command,
            edition: h.edition,
        };
        let e = match frame.body {
            Body::VehicleLogin(l) => PlatformEvent::LoginRequest {
                vin: h.vin,
                edition: h.edition,
                serial: l.serial,
                iccid: l.iccid,
                time: l.time,
            },
            Body::VehicleLogin2025(l) => PlatformEvent::LoginRequest {
                vin: h.vin,
                edition: h.edition,
                serial: l.serial,
                iccid: l.iccid,
                time: l.time,
            },
            Body::PlatformLogin(l) => PlatformEvent::PlatformLoginRequest {
                id: h.vin,
                username: l.username,
                password: l.password,
                serial: l.serial,
                encryption: l.encryption,
            },
            _ => return,
        };
        self.event(e);
    }

    fn handle_vehicle_frame(&mut self, frame: &Frame<'_>, data: &[u8], unix: i64, cascade: bool) {
        let h = frame.header;
        let vin = h.vin;
        match &frame.body {
            Body::Realtime(_) | Body::Realtime2025(_) => {
                let time = Time(data.get(..6).and_then(|t| t.try_into().ok()).unwrap_or_default());
                let key = (vin, time.0, report_digest(data));
                let duplicate = self.seen.iter().any(|k| *k == key);
                if !duplicate {
                    if self.seen.is_full() {
                        self.seen.pop_front();
                    }
                    let _ = self.seen.push_back(key);
                }
                self.event(PlatformEvent::Report {
                    vin,
                    command: h.command,
                    time,
                    digest: key.2,
                    duplicate,
                });
                if self.config.ack_reports {
                    self.send(h.response(ResponseFlag::SUCCESS), &time.0);
                }
            }
            Body::Heartbeat => {
                match self.config.heartbeat_reply {
                    HeartbeatReply::Empty => self.send(h.response(ResponseFlag::SUCCESS), &[]),
                    HeartbeatReply::Timed => self.send(h.response(ResponseFlag::SUCCESS), &frame_time(unix).0),
                }
                self.event(PlatformEvent::Heartbeat { vin });
            }
            Body::TimeCalibration => {
                // The point of 0x08 is the platform's time: always a 6-byte time (A4).
                self.send(h.response(ResponseFlag::SUCCESS), &frame_time(unix).0);
                self.event(PlatformEvent::TimeCalibration { vin });
            }
            Body::VehicleLogout(_) => {
                if self.config.ack_logout {
                    self.answer(&h, ResponseFlag::SUCCESS, data, unix);
                }
                self.event(PlatformEvent::LoggedOut { vin });
                if !cascade {
                    self.close(CloseReason::LoggedOut);
                }
            }
            Body::PlatformLogout(_) if cascade => {
                self.answer(&h, ResponseFlag::SUCCESS, data, unix);
                self.event(PlatformEvent::LoggedOut { vin });
                self.close(CloseReason::LoggedOut);
            }
            Body::VehicleLogin(_) | Body::VehicleLogin2025(_) if cascade => {
                // A vehicle forwarded by an authenticated platform.
                self.answer(&h, ResponseFlag::SUCCESS, data, unix);
                self.event(PlatformEvent::LoggedIn { vin, cascade: true });
            }
            Body::VehicleLogin(_) | Body::VehicleLogin2025(_) => {
                // A second login on the same link (after a terminal restart, or a battery swap
                // in 2025): decided again like the first.
                self.begin_login(frame, data);
            }
            Body::Activation(_) => self.event(PlatformEvent::ActivationRequest { vin }),
            Body::KeyExchange(_) => {
                self.send(h.response(ResponseFlag::SUCCESS), &[]);
                self.event(PlatformEvent::KeyExchange { vin });
            }
            _ => self.refuse(&h, data, Refusal::Unexpected(h.command), unix),
        }
    }

    /// Accepts the login awaiting a decision; answers it with success.
    pub fn accept_login(&mut self, now: Millis, unix: i64) {
        let _ = now;
        let State::Deciding { vin, command, edition } = self.state.clone() else {
            return;
        };
        let header = Header::command(edition, command, vin);
        let request = core::mem::take(&mut self.login_request);
        self.answer(&header, ResponseFlag::SUCCESS, &request, unix);
        if command == Command::PLATFORM_LOGIN {
            self.state = State::Cascade { id: vin, edition };
            self.event(PlatformEvent::LoggedIn { vin, cascade: true });
        } else {
            self.state = State::Vehicle { vin, edition };
            self.event(PlatformEvent::LoggedIn { vin, cascade: false });
        }
    }

    /// Refuses the login awaiting a decision with `flag` (0x02 error, 0x03 VIN duplicate, 2025
    /// also 0x04-0x07) and closes the session.
    pub fn reject_login(&mut self, unix: i64, flag: ResponseFlag) {
        let State::Deciding { vin, command, edition } = self.state.clone() else {
            return;
        };
        let request = core::mem::take(&mut self.login_request);
        if !self.config.silent_login_refusal {
            let header = Header::command(edition, command, vin);
            self.answer(&header, flag, &request, unix);
        }
        self.close(CloseReason::LoginRefused);
    }

    /// Answers an activation request with a 0x0A command (2025; A5).
    pub fn answer_activation(&mut self, vin: FixedStr<17>, status: u8, info: u8) {
        let header = Header::command(Edition::V2025, Command::ACTIVATION_RESPONSE, vin);
        self.send(header, &[status, info]);
    }

    /// Answers a report the driver found wrong (e.g. a failed signature: 0x05) with an error;
    /// the terminal resends it (B.2.1).
    pub fn reject_report(&mut self, header: &Header, time: Time, flag: ResponseFlag) {
        self.send(header.response(flag), &time.0);
    }

    /// Runs the timers.
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.state == State::Closed {
            return;
        }
        if now.saturating_sub(self.last_rx) >= self.config.idle_timeout_ms {
            self.close(CloseReason::IdleTimeout);
            return;
        }
        self.downlink_timeout(now);
    }

    /// When [`PlatformSession::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.state == State::Closed {
            return None;
        }
        let idle = self.last_rx.saturating_add(self.config.idle_timeout_ms);
        let logged_in = matches!(self.state, State::Vehicle { .. } | State::Cascade { .. });
        Some(match self.downlink_due() {
            Some(due) if logged_in => idle.min(due),
            _ => idle,
        })
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<PlatformEvent> {
        self.events.pop_front()
    }

    /// Writes the next frame to send into `buf` and returns its length. `buf` should hold
    /// [`MAX_TRANSMIT_LEN`] bytes: a queued answer that does not fit is dropped.
    pub fn poll_transmit(&mut self, now: Millis, buf: &mut [u8]) -> Option<usize> {
        while let Some(o) = self.out.pop_front() {
            if let Ok(n) = (RawFrame {
                header: o.header,
                data: &o.data,
            })
            .emit(buf)
            {
                return Some(n);
            }
        }
        self.transmit_downlink(now, buf)
    }
}
