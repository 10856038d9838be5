//! Sans-IO session state machines for both ends of a link, in the style of quinn-proto: no
//! sockets, no clock. The caller feeds whole frames (from a [`crate::frame::Deframer`]), link
//! changes and the current time, then drains what to send (`poll_transmit`), when to wake up
//! (`poll_timeout`) and what happened (`poll_event`).
//!
//! * [`tbox`]: the terminal: login with the daily serial and its retry rules, heartbeat,
//!   reporting at the parameter periods, store-and-forward with reissue, answers to parameter
//!   query/set and control, time calibration, logout.
//! * [`platform`]: the platform's side of one connection: the login decision (handed to the
//!   driver as an event), cascade links, liveness, reply policy, refusals and the downlink queue.
//!
//! Every rule of the standard that decides who sends what and when lives here, once, so that the
//! firmware (embassy) and the gateway (tokio) behave the same.
//!
//! Time comes in two forms, both from the caller: a monotonic [`Millis`] for timers, and the wall
//! clock as Unix seconds for the times written into frames and the daily login serial.

pub mod params;
pub mod platform;
pub mod reissue;
pub mod tbox;

/// Monotonic milliseconds from an arbitrary origin, supplied by the caller.
pub type Millis = u64;

/// What a response's data unit carries (notes 2016 §3.3, 2025 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ResponseStyle {
    /// The request's data unit with the time replaced by the responder's (2016 Annex B.3.3.2,
    /// EMQX). The default for 2016 terminal links.
    Echo,
    /// The time only (2016 main text 6.3.2; the only rule of 2025).
    TimeOnly,
}

impl ResponseStyle {
    /// The style the notes recommend for an edition.
    pub const fn default_for(edition: crate::Edition) -> Self {
        match edition {
            crate::Edition::V2016 => ResponseStyle::Echo,
            crate::Edition::V2025 => ResponseStyle::TimeOnly,
        }
    }
}

/// Fixed-capacity byte buffer used for data units kept by the machines.
pub type Bytes<const N: usize> = heapless::Vec<u8, N>;

/// Copies `src` into a fixed-capacity buffer; `None` if it does not fit.
pub(crate) fn bytes_of<const N: usize>(src: &[u8]) -> Option<Bytes<N>> {
    heapless::Vec::from_slice(src).ok()
}

/// The GMT+8 frame time for a Unix timestamp, or a zero time outside 2000-2099.
pub(crate) fn frame_time(unix: i64) -> crate::Time {
    crate::Time::from_unix(unix).unwrap_or_default()
}
