//! Build script: the board's linker script on bare-metal targets, and the TLS test material.
//!
//! * `memory.x` of the selected board goes to `OUT_DIR` (cortex-m-rt's `link.x` includes it).
//!   Link arguments are given here, per board, rather than per target in `.cargo/config.toml`:
//!   the Nucleo boards add `-Tdefmt.x` on the same target as QEMU; the ESP32-C3 links with
//!   esp-hal's `-Tlinkall.x`.
//! * `TBOX_TLS_DIR`, if set, names a directory with `ca.der` (the CA the gateway's certificate
//!   must chain to), `device.der` (our certificate) and `device-key.der` (our P-256 key, SEC1
//!   DER); they are copied to `OUT_DIR/tls/` for `include_bytes!`. `cargo xtask qemu-test`
//!   generates a fresh test set per run. Unset, empty files are used and TLS refuses to start.

use std::env;
use std::fs;
use std::path::PathBuf;

const TLS_FILES: [&str; 3] = ["ca.der", "device.der", "device-key.der"];

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    println!("cargo:rerun-if-env-changed=TBOX_TLS_DIR");
    let tls_out = out.join("tls");
    fs::create_dir_all(&tls_out).expect("creating OUT_DIR/tls");
    let tls_dir = env::var_os("TBOX_TLS_DIR").map(PathBuf::from);
    for name in TLS_FILES {
        let dest = tls_out.join(name);
        match &tls_dir {
            Some(dir) => {
                let src = dir.join(name);
                println!("cargo:rerun-if-changed={}", src.display());
                fs::copy(&src, &dest).unwrap_or_else(|e| panic!("TBOX_TLS_DIR: cannot copy {}: {e}", src.display()));
            }
            None => fs::write(&dest, []).expect("writing an empty placeholder"),
        }
    }

    let bare_metal_arm = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none")
        && env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("arm");
    if bare_metal_arm {
        let board = if env::var_os("CARGO_FEATURE_QEMU_MPS2_AN386").is_some() {
            Some("src/board/qemu_mps2_an386/memory.x")
        } else if env::var_os("CARGO_FEATURE_NUCLEO_F767ZI").is_some() {
            Some("src/board/nucleo144/memory-f767zi.x")
        } else if env::var_os("CARGO_FEATURE_NUCLEO_H743ZI").is_some() {
            Some("src/board/nucleo144/memory-h743zi.x")
        } else {
            None
        };
        if let Some(memory) = board {
            println!("cargo:rerun-if-changed={memory}");
            fs::copy(memory, out.join("memory.x")).expect("copying memory.x");
        }
        println!("cargo:rustc-link-search={}", out.display());
        println!("cargo:rustc-link-arg-bins=-Tlink.x");
        // The Nucleo boards log with defmt (RTT), whose frames need its linker script.
        if env::var_os("CARGO_FEATURE__NUCLEO144").is_some() {
            println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
        }
    }

    // ESP32-C3: esp-hal's linker script (memory map, ROM functions, the radio's sections).
    let bare_metal_riscv = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none")
        && env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("riscv32");
    if bare_metal_riscv && env::var_os("CARGO_FEATURE_ESP32C3").is_some() {
        println!("cargo:rustc-link-arg-bins=-Tlinkall.x");
    }
}
