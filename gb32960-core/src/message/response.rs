//! Responses (flag ≠ 0xFE).
//!
//! Three shapes are on the road (notes §3.3, §9 #1): the time only (main text 6.3.2 and all of
//! 2025), the request echoed with a new time (2016 Annex B.3.3.2, EMQX), and an empty data unit
//! (heartbeat answers of some platforms). The decoder accepts all three: an optional time and
//! an opaque remainder.

use crate::wire::{Time, Writer};

/// A response data unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Response<'a> {
    /// The time, when the data unit has at least six bytes.
    pub time: Option<Time>,
    /// What follows the time (the echo), or the whole data unit when it is shorter than a time.
    pub rest: &'a [u8],
}

impl<'a> Response<'a> {
    /// An empty response (L = 0).
    pub const EMPTY: Response<'static> = Response { time: None, rest: &[] };

    /// A time-only response.
    pub const fn time_only(time: Time) -> Response<'static> {
        Response {
            time: Some(time),
            rest: &[],
        }
    }

    /// Parses a response data unit; never fails.
    pub fn parse(data: &'a [u8]) -> Self {
        match data.split_first_chunk::<6>() {
            Some((t, rest)) => Response {
                time: Some(Time(*t)),
                rest,
            },
            None => Response { time: None, rest: data },
        }
    }

    /// Bytes on the wire.
    pub fn wire_len(&self) -> usize {
        self.time.map_or(0, |_| Time::LEN) + self.rest.len()
    }

    /// Appends the data unit.
    pub fn emit(&self, w: &mut Writer<'_>) -> crate::error::Result<()> {
        if let Some(t) = self.time {
            w.bytes(&t.0)?;
        }
        w.bytes(self.rest)
    }
}
