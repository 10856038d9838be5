//! What [`Tbox`] receives: answers to its requests (login, heartbeat, time calibration,
//! reports) and the platform's commands (parameter query/set, control, activation, key exchange).

use super::{Login, Tbox, TboxEvent, ANSWER_CAP};
use crate::frame::{Command, RawFrame, ResponseFlag};
use crate::message::{Body, Frame, Response};
use crate::session::params::{Parameters, SetError};
use crate::session::reissue::ReissueStore;
use crate::session::{bytes_of, Bytes, Millis, ResponseStyle};
use crate::wire::{Time, Writer};
use crate::Error;

impl<S: ReissueStore, const SLOT: usize, const PENDING: usize> Tbox<S, SLOT, PENDING> {
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
        // Only what a terminal receives is decoded (Body::parse_downlink): a firmware then
        // links no uplink parsers.
        let frame = match Body::parse_downlink(&raw.header, raw.data) {
            Ok(body) => Frame {
                header: raw.header,
                body,
            },
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
                let Some(data_unit) = bytes_of(raw.data).filter(|_| !self.downlink_units.is_full()) else {
                    // No room to hand it over (the application has not polled the earlier
                    // ones): refused, so the platform sends it again (B.2.4).
                    self.answer(now, Command::TERMINAL_CONTROL, ResponseFlag::ERROR, raw.data);
                    return;
                };
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
                let _ = self.downlink_units.push_back(data_unit);
                self.event(TboxEvent::Control);
            }
            (Command::ACTIVATION_RESPONSE, Body::ActivationResponse(a)) => self.event(TboxEvent::Activation {
                status: a.status,
                info: a.info,
            }),
            (Command::KEY_EXCHANGE, Body::KeyExchange(_)) => {
                let kept = bytes_of(raw.data).is_some_and(|d| self.downlink_units.push_back(d).is_ok());
                if kept {
                    self.event(TboxEvent::KeyExchange);
                } else {
                    self.event(TboxEvent::BadFrame {
                        error: Error::Malformed {
                            what: "key exchange: no room until earlier ones are polled",
                            offset: 0,
                        },
                    });
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
