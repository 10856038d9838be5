//! The T-Box firmware binary: picks the board and hands over to it.
//!
//! Build for a board, e.g. QEMU's MPS2-AN386 (Cortex-M4F):
//!
//! ```text
//! cargo build -p tbox-firmware --profile firmware --target thumbv7em-none-eabihf \
//!     --features qemu-mps2-an386[,tls]
//! ```
//!
//! On the host this binary only explains that (the library is what host builds test).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod board;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "tbox-firmware runs on a board: build it with --target thumbv7em-none-eabihf --features \
         qemu-mps2-an386 (see tbox-firmware/README.md); `cargo xtask qemu-test` runs it under QEMU"
    );
    std::process::exit(2);
}
