//! The T-Box firmware binary: picks the board and hands over to it.
//!
//! Build for a board, one feature each (`src/board/`):
//!
//! ```text
//! cargo build -p tbox-firmware --profile firmware --target thumbv7em-none-eabihf \
//!     --features qemu-mps2-an386[,tls]                # or nucleo-f767zi, nucleo-h743zi
//! cargo build -p tbox-firmware --profile firmware --target riscv32imc-unknown-none-elf \
//!     --features esp32c3[,tls]
//! ```
//!
//! On the host this binary only explains that (the library is what host builds test).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod board;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "tbox-firmware runs on a board: build it for one with its feature (add `tls` for TLS 1.3):\n\
         \x20 qemu-mps2-an386, nucleo-f767zi, nucleo-h743zi   --target thumbv7em-none-eabihf\n\
         \x20 esp32c3                                         --target riscv32imc-unknown-none-elf\n\
         e.g. cargo build -p tbox-firmware --profile firmware --target thumbv7em-none-eabihf \
         --features qemu-mps2-an386,tls\n\
         `cargo xtask qemu-test` runs it under QEMU; `cargo xtask boards` builds the hardware boards \
         (tbox-firmware/README.md)"
    );
    std::process::exit(2);
}
