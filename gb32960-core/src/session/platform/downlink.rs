//! Downlink commands of the platform machine (0x80 query, 0x81 set, 0x82 control): one in
//! flight at a time, retried, timed out or cancelled, and matched with the terminal's answer.

use super::{PlatformEvent, PlatformSession, State};
use crate::frame::{Command, Edition, Header, RawFrame};
use crate::message::{ParamList, ParamQuery};
use crate::session::{bytes_of, Bytes, Millis};
use crate::wire::{FixedStr, Reading};
use crate::Error;

use super::DATA_CAP;

#[derive(Debug, Clone)]
pub(super) struct Downlink {
    id: u32,
    vin: FixedStr<17>,
    command: Command,
    data: Bytes<DATA_CAP>,
    attempts: u8,
    due: Millis,
}

impl PlatformSession {
    /// Queues a downlink command (0x80 query, 0x81 set, 0x82 control or another): its data unit
    /// is sent as is. One command is in flight at a time; returns its id for the outcome event.
    pub fn queue_downlink(
        &mut self,
        now: Millis,
        vin: FixedStr<17>,
        command: Command,
        data_unit: &[u8],
    ) -> Result<u32, Error> {
        let data = bytes_of(data_unit).ok_or(Error::Unencodable {
            what: "downlink data unit too long",
        })?;
        let id = self.next_downlink;
        self.next_downlink = self.next_downlink.wrapping_add(1).max(1);
        self.downlinks
            .push_back(Downlink {
                id,
                vin,
                command,
                data,
                attempts: 0,
                due: now,
            })
            .map_err(|_| Error::Unencodable {
                what: "downlink queue full",
            })?;
        Ok(id)
    }

    /// Withdraws downlink command `id` (queued or in flight) when its requester gave up, so
    /// that it is neither sent again nor reported; true if it was there. A late answer to it
    /// is then ignored rather than taken for the next command's (see [`answers`]).
    pub fn cancel_downlink(&mut self, id: u32) -> bool {
        let before = self.downlinks.len();
        let mut kept = heapless::Deque::new();
        while let Some(d) = self.downlinks.pop_front() {
            if d.id != id {
                // Cannot fail: it holds no more than the queue it is taken from.
                let _ = kept.push_back(d);
            }
        }
        self.downlinks = kept;
        self.downlinks.len() != before
    }

    /// Downlink commands queued or in flight.
    pub fn downlinks_queued(&self) -> usize {
        self.downlinks.len()
    }

    pub(super) fn handle_answer(&mut self, h: &Header, data: &[u8]) {
        let Some(front) = self.downlinks.front() else { return };
        if front.command == h.command
            && front.attempts > 0
            && front.vin == h.vin
            && answers(h.edition, front.command, &front.data, data)
        {
            let (id, vin) = (front.id, front.vin);
            self.downlinks.pop_front();
            self.event(PlatformEvent::DownlinkAnswered {
                id,
                vin,
                flag: h.response,
            });
        }
    }

    /// Times out the command in flight once its last attempt has gone unanswered.
    pub(super) fn downlink_timeout(&mut self, now: Millis) {
        if let Some(d) = self.downlinks.front() {
            if d.attempts >= self.config.downlink_attempts && d.due <= now {
                let (id, vin) = (d.id, d.vin);
                self.downlinks.pop_front();
                self.event(PlatformEvent::DownlinkTimedOut { id, vin });
            }
        }
    }

    /// Writes the command in flight when it is due (first attempt or retry).
    pub(super) fn transmit_downlink(&mut self, now: Millis, buf: &mut [u8]) -> Option<usize> {
        let edition = self.edition()?;
        let logged_in = matches!(self.state, State::Vehicle { .. } | State::Cascade { .. });
        let (timeout, retry, attempts) = (
            self.config.downlink_timeout_ms,
            self.config.control_retry_ms,
            self.config.downlink_attempts,
        );
        let d = self.downlinks.front_mut()?;
        if !logged_in || d.due > now || d.attempts >= attempts {
            return None;
        }
        d.attempts += 1;
        d.due = now.saturating_add(if d.command == Command::TERMINAL_CONTROL {
            retry
        } else {
            timeout
        });
        let header = Header::command(edition, d.command, d.vin);
        RawFrame { header, data: &d.data }.emit(buf).ok()
    }

    /// When the command in flight wants the timers to run.
    pub(super) fn downlink_due(&self) -> Option<Millis> {
        self.downlinks.front().map(|d| d.due)
    }
}

/// Whether `answer` (a data unit the terminal sent with a response flag) can answer `request`,
/// the data unit of `command`. Only one command is in flight, but the answer to an earlier
/// command of the same code that timed out or was cancelled may still arrive; the content
/// tells them apart where the standard lets it:
/// - 0x80: the answer lists values, so every ID the query asked for must be among them (the
///   order is not fixed by the standard, and a terminal may add 0x04 with 0x05);
/// - any other command: an answer longer than its 6-byte time is the request echoed with a
///   new time (Annex B.3.3.2), so the bytes after the time must be the request's.
///
/// A time-only or empty answer (the main text's form, and every error answer) cannot be told
/// apart and is taken.
pub fn answers(edition: Edition, command: Command, request: &[u8], answer: &[u8]) -> bool {
    if answer.len() <= 6 {
        return true;
    }
    if command == Command::PARAM_QUERY {
        let (Ok(q), Ok(list)) = (ParamQuery::parse(request), ParamList::parse(edition, answer)) else {
            return true;
        };
        let (Reading::Valid(asked), Reading::Valid(items)) = (q.ids, list.params) else {
            return true;
        };
        return asked.iter().all(|id| items.iter().any(|p| p.id.0 == id));
    }
    request.get(6..) == answer.get(6..)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: [u8; 6] = [25, 1, 2, 3, 4, 5];
    const T2: [u8; 6] = [25, 1, 2, 3, 4, 9];

    fn unit(time: [u8; 6], rest: &[u8]) -> std::vec::Vec<u8> {
        let mut v = time.to_vec();
        v.extend_from_slice(rest);
        v
    }

    #[test]
    fn a_query_answer_must_carry_every_id_asked_for() {
        let query = unit(T, &[2, 0x01, 0x02]);
        // 0x01 and 0x02 are WORD parameters (local storage period, report period).
        let both = unit(T2, &[2, 0x02, 0x00, 0x0A, 0x01, 0x03, 0xE8]);
        let only_one = unit(T2, &[1, 0x01, 0x03, 0xE8]);
        assert!(answers(Edition::V2016, Command::PARAM_QUERY, &query, &both));
        assert!(!answers(Edition::V2016, Command::PARAM_QUERY, &query, &only_one));
        // An error answer with the time only is taken.
        assert!(answers(Edition::V2016, Command::PARAM_QUERY, &query, &T2));
    }

    #[test]
    fn an_echoed_answer_must_echo_this_request() {
        let set = unit(T, &[1, 0x02, 0x00, 0x0A]);
        let echo = unit(T2, &[1, 0x02, 0x00, 0x0A]);
        let other = unit(T2, &[1, 0x02, 0x00, 0x1E]);
        assert!(answers(Edition::V2016, Command::PARAM_SET, &set, &echo));
        assert!(!answers(Edition::V2016, Command::PARAM_SET, &set, &other));
        let control = unit(T, &[0x05]);
        assert!(answers(
            Edition::V2025,
            Command::TERMINAL_CONTROL,
            &control,
            &unit(T2, &[0x05])
        ));
        assert!(!answers(
            Edition::V2025,
            Command::TERMINAL_CONTROL,
            &control,
            &unit(T2, &[0x03])
        ));
        assert!(answers(Edition::V2025, Command::TERMINAL_CONTROL, &control, &T2));
    }
}
