//! Boards: one module each, selected by a cargo feature, compiled only for bare-metal targets.
//!
//! A board module owns everything that differs between boards and nothing else:
//!
//! * the entry point, clocks, and the `embassy-time` driver (or the HAL's);
//! * the network interface as an `embassy-net-driver` plus the `embassy-net` runner task
//!   (tasks cannot be generic, so each board declares its own);
//! * entropy (a hardware RNG; test-only semihosting entropy on QEMU) for TLS and the stack;
//! * where the parameters live ([`tbox_firmware::params::Nvm`]: flash through
//!   [`tbox_firmware::params::nor::NorNvm`], or RAM);
//! * its hardware version and the gateway it dials by default
//!   ([`tbox_firmware::config::DeviceConfig::from_build_env`]);
//! * [`tbox_firmware::app::Platform`]: wall clock, reset, power-off, alarm display;
//! * the log sink ([`tbox_firmware::log::set_sink`]) and the panic handler.
//!
//! Then its main task spawns [`common::address_logger`] and hands over to [`common::run`]
//! (the RAM reissue store, the simulated vehicle, TCP or TLS by the `tls` feature, through
//! [`tbox_firmware::boot`]). Adding a board is adding a module here, a feature in `Cargo.toml`,
//! and its `memory.x` (see `build.rs`).

#[cfg(not(any(
    feature = "qemu-mps2-an386",
    feature = "nucleo-f767zi",
    feature = "nucleo-h743zi",
    feature = "esp32c3"
)))]
compile_error!("choose a board: --features qemu-mps2-an386, nucleo-f767zi, nucleo-h743zi or esp32c3");

mod common;

#[cfg(feature = "qemu-mps2-an386")]
mod qemu_mps2_an386;

// Hardware boards (build-checked in CI, not yet run on hardware).
#[cfg(feature = "esp32c3")]
mod esp32c3;
#[cfg(any(feature = "nucleo-f767zi", feature = "nucleo-h743zi"))]
mod nucleo144;
