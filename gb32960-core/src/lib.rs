//! # gb32960-core
//!
//! A `no_std`, allocation-free codec for GB/T 32960.3, the protocol between an electric vehicle's
//! telematics box (T-Box) and the monitoring platforms.
//!
//! Layers, from the wire up (the shape follows smoltcp's `wire` module: a checked view over bytes,
//! and typed representations with `parse` and `emit` side by side):
//!
//! * [`wire`]: the building blocks every data unit is made of: [`wire::Time`], fixed-width
//!   strings, sentinel-aware [`wire::Reading`]s, field tables ([`wire::Field`]) that read and write
//!   the same offsets in both directions, and zero-copy lists.
//! * [`frame`]: the frame header (`##` 2016 / `$$` 2025), the BCC, [`frame::RawFrame`] (a verified
//!   view of one frame) and the resynchronising stream [`frame::Deframer`].
//! * [`message`]: every data unit ([`message::Body`]) and [`message::Frame`], the decoded frame.
//! * [`realtime`]: real-time (0x02) and reissue (0x03) reports and their information blocks.
//!
//! Nothing here allocates or panics on any input: malformed bytes give a typed [`Error`].
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![warn(missing_debug_implementations)]

pub mod error;
pub mod frame;
pub mod message;
pub mod realtime;
#[cfg(any(feature = "sm2", feature = "p256", feature = "rsa", feature = "aes", feature = "sm4"))]
pub mod security;
pub mod session;
pub mod signature;
pub mod wire;

#[cfg(feature = "serde")]
mod json;

pub use error::Error;
pub use frame::{Command, Deframer, Edition, Encryption, Header, RawFrame, ResponseFlag};
pub use message::{Body, Frame};
pub use wire::{Reading, Time};

/// Largest data-unit length the standard allows (2016 §2 and 2025 §2).
pub const MAX_DATA_UNIT_LEN: usize = 65_531;
/// Header bytes before the data unit: start(2) command(1) response(1) VIN(17) encryption(1) length(2).
pub const HEADER_LEN: usize = 24;
/// Largest legal frame: header, a maximal data unit and the BCC.
pub const MAX_FRAME_LEN: usize = HEADER_LEN + MAX_DATA_UNIT_LEN + 1;
/// Smallest legal frame (an empty data unit, e.g. a heartbeat).
pub const MIN_FRAME_LEN: usize = HEADER_LEN + 1;

/// The README's Rust example, compiled and run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
