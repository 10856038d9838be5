//! Boards: one module each, selected by a cargo feature, compiled only for bare-metal targets.
//!
//! A board module owns everything that differs between boards and nothing else:
//!
//! * the entry point, clocks, and the `embassy-time` driver (or the HAL's);
//! * the network interface as an `embassy-net-driver` plus the `embassy-net` runner task
//!   (tasks cannot be generic, so each board declares its own);
//! * entropy (a hardware RNG; test-only semihosting entropy on QEMU) for TLS and the stack;
//! * non-volatile memory for the parameters ([`tbox_firmware::params::Nvm`]) and a reissue
//!   store ([`gb32960_core::session::reissue::ReissueStore`]);
//! * [`tbox_firmware::app::Platform`]: wall clock, reset, power-off, alarm display;
//! * the log sink ([`tbox_firmware::log::set_sink`]) and the panic handler.
//!
//! Then its main task calls [`tbox_firmware::boot::run_tcp`] or
//! [`tbox_firmware::boot::run_tls`]. Adding a board is adding a module here, a feature in
//! `Cargo.toml`, and its `memory.x` (see `build.rs`).

#[cfg(not(any(
    feature = "qemu-mps2-an386",
    feature = "nucleo-f767zi",
    feature = "nucleo-h743zi",
    feature = "esp32c3"
)))]
compile_error!("choose a board: --features qemu-mps2-an386, nucleo-f767zi, nucleo-h743zi or esp32c3");

#[cfg(feature = "qemu-mps2-an386")]
mod qemu_mps2_an386;

// Hardware boards (build-checked in CI, not yet run on hardware), and what they share.
#[cfg(feature = "esp32c3")]
mod esp32c3;
#[cfg(any(feature = "nucleo-f767zi", feature = "nucleo-h743zi", feature = "esp32c3"))]
mod hardware;
#[cfg(any(feature = "nucleo-f767zi", feature = "nucleo-h743zi", feature = "esp32c3"))]
mod nor_nvm;
#[cfg(any(feature = "nucleo-f767zi", feature = "nucleo-h743zi"))]
mod nucleo144;
