//! The T-Box application: everything that is the same on every board.
//!
//! The protocol itself (login and its retries, heartbeats, report schedule, store-and-forward
//! with reissue, answers to 0x80/0x81/0x82) is the core's sans-IO machine
//! [`gb32960_core::session::tbox::Tbox`]. This crate is its embassy driver, generic over what a
//! board provides:
//!
//! * [`transport`]: how bytes reach the gateway. [`transport::Transport`] opens a connection to
//!   an [`transport::Endpoint`] and runs a [`transport::Session`] over its two halves
//!   (`embedded-io-async` `Read` and `Write`). [`net::TcpTransport`] does TCP (and DNS) over an
//!   `embassy-net` stack; [`tls::TlsTransport`] (feature `tls`) wraps it in TLS 1.3 with
//!   mutual certificates (embedded-tls), verifying the gateway against a CA.
//! * [`params`]: the parameters (0x01-0x10) kept in a board's non-volatile memory
//!   ([`params::Nvm`]): NOR flash through [`params::nor::NorNvm`] (any `embedded-storage`
//!   flash), or RAM ([`params::RamNvm`]).
//! * [`vehicle`]: where report data comes from ([`vehicle::VehicleSource`]), with a deterministic
//!   [`vehicle::SimulatedVehicle`] for tests.
//! * [`app`]: the driver: the service loop (timers, events, sampling, control) and the
//!   connection loop (connect, log in, pump frames, reconnect), and the [`app::Platform`] hooks
//!   (wall clock, reset, power-off, alarm display).
//!
//! * `sign` (feature `edition-2025`): the 2025 activation and report signatures (SM2).
//! * [`config`]: the device's identity and factory settings; [`boot`]: from a network stack to a
//!   running [`app::App`].
//!
//! Boards (`src/board/` of the binary) bring up the clock, the NIC, entropy and storage, then
//! hand over to [`boot::run_tcp`] or [`boot::run_tls`]. Time is `embassy-time`; logging goes
//! through [`log`].
//!
//! The crate builds on the host too (with a mock clock), so the generic parts are unit-tested by
//! `cargo test --workspace`; the board code is only compiled for bare-metal targets.
#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

pub mod log;

pub mod app;
pub mod boot;
pub mod clock;
pub mod config;
pub mod net;
pub mod params;
#[cfg(feature = "edition-2025")]
pub mod sign;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transport;
pub mod vehicle;
