//! What [`Tbox`] sends: the transmit queue, reports in flight (pending confirmation or kept in
//! the reissue store) and the encoding of each queued frame.

use super::{push_event, Login, Pending, RawOut, Tbox, TboxEvent, Tx, ANSWER_CAP, EVENTS};
use crate::frame::{emit_frame, Command, Edition, Header, RawFrame, ResponseFlag};
use crate::message::{Logout, VehicleLogin, VehicleLogin2025};
use crate::session::reissue::{PushError, ReissueStore};
use crate::session::{bytes_of, Bytes, Millis};
use crate::Error;

impl<S: ReissueStore, const SLOT: usize, const PENDING: usize> Tbox<S, SLOT, PENDING> {
    pub(super) fn queue_raw(&mut self, command: Command, flag: ResponseFlag, data: Bytes<ANSWER_CAP>) {
        if self.raw_out.is_full() {
            // Answers nobody polled for: the oldest is dropped (its Tx marker then sends the
            // next one), the platform will ask again.
            self.raw_out.pop_front();
        } else {
            self.queue(Tx::Raw);
        }
        let _ = self.raw_out.push_back(RawOut { command, flag, data });
    }

    pub(super) fn queue(&mut self, t: Tx) {
        if let Err(t) = self.tx.push_back(t) {
            // Sixteen frames queued and not polled: the caller is not draining. Drop the oldest
            // control frame rather than grow; reports are never in this queue by value.
            self.tx.pop_front();
            let _ = self.tx.push_back(t);
        }
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

    pub(super) fn add_pending(&mut self, command: Command, data_unit: &[u8], now: Millis) {
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

    pub(super) fn store_report(&mut self, data_unit: &[u8]) {
        store_into(&mut self.store, &mut self.lost, &mut self.events, data_unit);
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
        // Each body through its own emit (not Frame::emit, whose match over every body would
        // link the real-time encoders into a firmware).
        let header = |cmd| self.header(cmd, ResponseFlag::COMMAND);
        let n = match t {
            Tx::Login { serial } => {
                let c = &self.config.login_codes;
                let h = header(Command::VEHICLE_LOGIN);
                match self.config.edition {
                    Edition::V2016 => emit_frame(&h, buf, |w| {
                        VehicleLogin {
                            time,
                            serial: *serial,
                            iccid: self.config.iccid,
                            subsystem_count: c.subsystem_count,
                            code_len: c.code_len,
                            codes: &c.codes,
                        }
                        .emit(w)
                    })?,
                    Edition::V2025 => emit_frame(&h, buf, |w| {
                        VehicleLogin2025 {
                            time,
                            serial: *serial,
                            iccid: self.config.iccid,
                            packs_per_bms: &c.packs_per_bms,
                            pack_codes: &c.codes,
                        }
                        .emit(w)
                    })?,
                }
            }
            Tx::Logout { serial } => emit_frame(&header(Command::VEHICLE_LOGOUT), buf, |w| {
                Logout { time, serial: *serial }.emit(w)
            })?,
            Tx::Heartbeat => emit_frame(&header(Command::HEARTBEAT), buf, |_| Ok(()))?,
            Tx::TimeCalibration => emit_frame(&header(Command::TIME_CALIBRATION), buf, |_| Ok(()))?,
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
}

/// Stores a report, dropping the oldest when the store is full; the loss (of the oldest, or of
/// this one when it is too large) is counted and told.
pub(super) fn store_into<S: ReissueStore>(
    store: &mut S,
    lost: &mut u64,
    events: &mut heapless::Deque<TboxEvent, EVENTS>,
    data_unit: &[u8],
) {
    match store.push(data_unit) {
        Ok(()) => return,
        Err(PushError::Full) => {
            store.pop_oldest();
            let _ = store.push(data_unit);
        }
        Err(PushError::TooLarge) => {}
    }
    *lost += 1;
    push_event(events, TboxEvent::ReportLost { total: *lost });
}
