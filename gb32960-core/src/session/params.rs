//! The terminal's parameters (2016 Table B.12 / 2025 T B.8): what 0x80 reads and 0x81 sets.

use crate::frame::Edition;
use crate::message::{Param, ParamId, ParamItems, ParamValue};
use crate::wire::{Reading, Writer};

/// Longest domain name kept for 0x05 / 0x0E.
pub const DOMAIN_CAPACITY: usize = 64;

/// Why a parameter set was refused (all or nothing, Table B.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SetError {
    /// An ID that cannot be set: read-only (0x07, 0x08), reserved or user-defined.
    NotSettable(u8),
    /// A value outside its range, or a sentinel.
    OutOfRange(u8),
    /// A domain name without its length item, longer than we keep, or of the wrong length.
    BadDomain(u8),
    /// The count was a sentinel.
    NoItems,
}

/// All parameters of the terminal with the standard's units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameters {
    /// 0x01 local storage period, ms.
    pub local_storage_period_ms: u16,
    /// 0x02 report period under normal conditions, s (2016: 1-600; 2025: 1-30).
    pub report_period_s: u16,
    /// 0x03 report period while an alarm is active, in the edition's unit (2016: ms, 0-60000;
    /// 2025: s, 0-1; 0 means "as fast as possible", notes 2025 §13 A9).
    pub alarm_report_period: u16,
    /// 0x04/0x05 remote platform domain.
    pub platform_domain: heapless::Vec<u8, DOMAIN_CAPACITY>,
    /// 0x06 remote platform port.
    pub platform_port: u16,
    /// 0x07 hardware version (read-only).
    pub hardware_version: [u8; 5],
    /// 0x08 firmware version (read-only).
    pub firmware_version: [u8; 5],
    /// 0x09 heartbeat period, s (1-240).
    pub heartbeat_period_s: u8,
    /// 0x0A terminal response timeout, s (1-600): how long the terminal waits for an answer.
    pub terminal_response_timeout_s: u16,
    /// 0x0B platform response timeout, s (1-600).
    pub platform_response_timeout_s: u16,
    /// 0x0C wait after three failed logins, minutes (1-240).
    pub login_retry_interval_min: u8,
    /// 0x0D/0x0E public platform domain.
    pub public_domain: heapless::Vec<u8, DOMAIN_CAPACITY>,
    /// 0x0F public platform port.
    pub public_port: u16,
    /// 0x10 sampling monitoring active: 1 yes, 2 no.
    pub sampling_monitoring: u8,
}

impl Parameters {
    /// Defaults: report every 10 s, alarm period 1 s, heartbeat 30 s, answers awaited 30 s,
    /// 30 minutes after three failed logins (B.1).
    pub fn defaults(edition: Edition) -> Self {
        Parameters {
            local_storage_period_ms: 1000,
            report_period_s: 10,
            alarm_report_period: match edition {
                Edition::V2016 => 1000,
                Edition::V2025 => 1,
            },
            platform_domain: heapless::Vec::new(),
            platform_port: 0,
            hardware_version: *b"HW1.0",
            firmware_version: *b"FW1.0",
            heartbeat_period_s: 30,
            terminal_response_timeout_s: 30,
            platform_response_timeout_s: 30,
            login_retry_interval_min: 30,
            public_domain: heapless::Vec::new(),
            public_port: 0,
            sampling_monitoring: 2,
        }
    }

    /// The alarm-time report period in milliseconds (2025's 0 s reads as 500 ms).
    pub fn alarm_report_period_ms(&self, edition: Edition) -> u64 {
        match edition {
            Edition::V2016 => u64::from(self.alarm_report_period),
            Edition::V2025 if self.alarm_report_period == 0 => 500,
            Edition::V2025 => u64::from(self.alarm_report_period) * 1000,
        }
    }

    /// The numeric value of an ID, if it is numeric.
    pub fn number(&self, id: ParamId) -> Option<u32> {
        Some(match id.0 {
            0x01 => self.local_storage_period_ms.into(),
            0x02 => self.report_period_s.into(),
            0x03 => self.alarm_report_period.into(),
            0x04 => self.platform_domain.len() as u32,
            0x06 => self.platform_port.into(),
            0x09 => self.heartbeat_period_s.into(),
            0x0A => self.terminal_response_timeout_s.into(),
            0x0B => self.platform_response_timeout_s.into(),
            0x0C => self.login_retry_interval_min.into(),
            0x0D => self.public_domain.len() as u32,
            0x0F => self.public_port.into(),
            0x10 => self.sampling_monitoring.into(),
            _ => return None,
        })
    }

    /// The parameter item for an ID (`None` for IDs we do not hold).
    pub fn item(&self, id: ParamId) -> Option<Param<'_>> {
        match id.0 {
            0x05 => Some(Param::bytes(id, &self.platform_domain)),
            0x0E => Some(Param::bytes(id, &self.public_domain)),
            0x07 => Some(Param::bytes(id, &self.hardware_version)),
            0x08 => Some(Param::bytes(id, &self.firmware_version)),
            _ => self.number(id).map(|v| Param::number(id, v)),
        }
    }

    /// Writes the answer items for the queried IDs: the count and the items. A domain asked for
    /// without its length item gets the length item first (the decoder needs it); IDs we do not
    /// hold are left out.
    pub fn emit_answer(&self, ids: &[u8], edition: Edition, w: &mut Writer<'_>) -> crate::error::Result<()> {
        let mut items: heapless::Vec<Param<'_>, 40> = heapless::Vec::new();
        for &id in ids {
            let id = ParamId(id);
            let len_id = match id.0 {
                0x05 => Some(ParamId::PLATFORM_DOMAIN_LEN),
                0x0E => Some(ParamId::PUBLIC_DOMAIN_LEN),
                _ => None,
            };
            if let Some(l) = len_id {
                if !items.iter().any(|p| p.id == l) {
                    if let Some(p) = self.item(l) {
                        let _ = items.push(p);
                    }
                }
            }
            if let Some(p) = self.item(id) {
                let _ = items.push(p);
            }
        }
        w.u8(items.len() as u8)?;
        ParamItems::Items(&items).emit_items(edition, w)
    }

    /// Applies a parameter set all-or-nothing (Table B.13): every item is checked first, then
    /// all are applied.
    pub fn apply(&mut self, items: &Reading<ParamItems<'_>>, edition: Edition) -> Result<(), SetError> {
        let Reading::Valid(items) = items else {
            return Err(SetError::NoItems);
        };
        let mut next = self.clone();
        let mut pending_len: [Option<u32>; 2] = [None, None];
        for p in items.iter() {
            let id = p.id.0;
            match (id, p.value) {
                (0x04 | 0x0D, ParamValue::Number(n)) => pending_len[usize::from(id == 0x0D)] = Some(n),
                (0x05 | 0x0E, ParamValue::Bytes(b)) => {
                    let slot = usize::from(id == 0x0E);
                    if pending_len[slot] != Some(b.len() as u32) {
                        return Err(SetError::BadDomain(id));
                    }
                    let v = heapless::Vec::from_slice(b).map_err(|_| SetError::BadDomain(id))?;
                    if id == 0x05 {
                        next.platform_domain = v;
                    } else {
                        next.public_domain = v;
                    }
                }
                (_, ParamValue::Number(n)) => {
                    let ok = |lo: u32, hi: u32| {
                        if (lo..=hi).contains(&n) {
                            Ok(n)
                        } else {
                            Err(SetError::OutOfRange(id))
                        }
                    };
                    match id {
                        0x01 => next.local_storage_period_ms = ok(0, 60_000)? as u16,
                        0x02 => {
                            next.report_period_s = match edition {
                                Edition::V2016 => ok(1, 600)?,
                                Edition::V2025 => ok(1, 30)?,
                            } as u16
                        }
                        0x03 => {
                            next.alarm_report_period = match edition {
                                Edition::V2016 => ok(0, 60_000)?,
                                Edition::V2025 => ok(0, 1)?,
                            } as u16
                        }
                        0x06 => next.platform_port = ok(0, 65_531)? as u16,
                        0x09 => next.heartbeat_period_s = ok(1, 240)? as u8,
                        0x0A => next.terminal_response_timeout_s = ok(1, 600)? as u16,
                        0x0B => next.platform_response_timeout_s = ok(1, 600)? as u16,
                        0x0C => next.login_retry_interval_min = ok(1, 240)? as u8,
                        0x0F => next.public_port = ok(0, 65_531)? as u16,
                        0x10 => next.sampling_monitoring = ok(1, 2)? as u8,
                        _ => return Err(SetError::NotSettable(id)),
                    }
                }
                _ => return Err(SetError::NotSettable(id)),
            }
        }
        // A length item without its domain changes nothing and is refused: it cannot be applied.
        for (slot, id) in [(0, 0x04u8), (1, 0x0D)] {
            if let Some(n) = pending_len[slot] {
                let actual = if slot == 0 {
                    next.platform_domain.len()
                } else {
                    next.public_domain.len()
                };
                if n as usize != actual {
                    return Err(SetError::BadDomain(id));
                }
            }
        }
        *self = next;
        Ok(())
    }
}
