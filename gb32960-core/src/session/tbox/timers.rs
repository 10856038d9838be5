//! The timers of [`Tbox`]: login retries (B.1), the report schedule, heartbeats (B.2.7), reissue
//! pacing, resends of refused reports (B.2.1) and time calibration (B.2.5).

use super::{Login, Tbox, TboxEvent, Tx};
use crate::frame::{Command, ResponseFlag};
use crate::session::reissue::ReissueStore;
use crate::session::{frame_time, Millis};

impl<S: ReissueStore, const SLOT: usize, const PENDING: usize> Tbox<S, SLOT, PENDING> {
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

    pub(super) fn report_period_ms(&self) -> Millis {
        if self.alarm {
            self.params.alarm_report_period_ms(self.config.edition).max(100)
        } else {
            u64::from(self.params.report_period_s.max(1)) * 1000
        }
    }

    pub(super) fn answer_timeout_ms(&self) -> Millis {
        u64::from(self.params.terminal_response_timeout_s.max(1)) * 1000
    }

    fn heartbeat_ms(&self) -> Millis {
        u64::from(self.params.heartbeat_period_s.max(1)) * 1000
    }

    /// Asks the platform for its time (0x08), e.g. when the clock is in doubt.
    pub fn request_time_calibration(&mut self, now: Millis) {
        self.time_calibration_at = Some(now);
        self.poll_time_calibration(now);
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

    pub(super) fn poll_login(&mut self, now: Millis) {
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

    pub(super) fn login_failed(&mut self, now: Millis, _serial: u16, flag: Option<ResponseFlag>) {
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
}
