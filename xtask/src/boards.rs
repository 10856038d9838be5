//! `cargo xtask boards`: the hardware boards of `tbox-firmware`, each linted and built for its
//! target in the `firmware` profile, plain TCP and TLS, with the flash and static RAM of each
//! image. Build-checked only: nothing here runs them (that takes the boards; README, "Hardware
//! boards"). The images are copied to `target/boards/` (every build of a target writes the same
//! cargo output path).
//!
//! `ci` runs [`ci`]: the builds CI can afford (NUCLEO-F767ZI with and without TLS and in the 2025
//! edition, ESP32-C3);
//! `cargo xtask boards` builds them all.

use std::fs;
use std::time::Instant;

use crate::{firmware, Ctx, Result};

/// One board build: a cargo feature set for a target.
struct Build {
    /// The board's cargo feature.
    board: &'static str,
    target: &'static str,
    tls: bool,
    /// The 2025 edition (feature `edition-2025`: SM2-signed reports).
    edition_2025: bool,
    /// Part of `cargo xtask ci` (each clean board build costs one to two minutes).
    ci: bool,
}

const ARM: &str = "thumbv7em-none-eabihf";
const RISCV: &str = "riscv32imc-unknown-none-elf";

const BUILDS: &[Build] = &[
    Build {
        board: "nucleo-f767zi",
        target: ARM,
        tls: false,
        edition_2025: false,
        ci: true,
    },
    Build {
        board: "nucleo-f767zi",
        target: ARM,
        tls: true,
        edition_2025: false,
        ci: true,
    },
    Build {
        board: "nucleo-h743zi",
        target: ARM,
        tls: false,
        edition_2025: false,
        ci: false,
    },
    Build {
        board: "nucleo-h743zi",
        target: ARM,
        tls: true,
        edition_2025: false,
        ci: false,
    },
    Build {
        board: "esp32c3",
        target: RISCV,
        tls: false,
        edition_2025: false,
        ci: true,
    },
    Build {
        board: "esp32c3",
        target: RISCV,
        tls: true,
        edition_2025: false,
        ci: false,
    },
    Build {
        board: "nucleo-f767zi",
        target: ARM,
        tls: false,
        edition_2025: true,
        ci: true,
    },
    Build {
        board: "nucleo-f767zi",
        target: ARM,
        tls: true,
        edition_2025: true,
        ci: false,
    },
    Build {
        board: "esp32c3",
        target: RISCV,
        tls: false,
        edition_2025: true,
        ci: false,
    },
];

/// The subcommand: every board.
pub fn run(ctx: &mut Ctx) -> Result {
    build(ctx, BUILDS.iter())
}

/// The CI step: the builds marked `ci`.
pub fn ci(ctx: &mut Ctx) -> Result {
    build(ctx, BUILDS.iter().filter(|b| b.ci))
}

fn build<'a>(ctx: &Ctx, builds: impl Iterator<Item = &'a Build>) -> Result {
    let out_dir = ctx.root.join("target").join("boards");
    fs::create_dir_all(&out_dir)?;
    let mut rows = Vec::new();
    for b in builds {
        let mut features = firmware::features(b.board, b.tls);
        if b.edition_2025 {
            features.push_str(",edition-2025");
        }
        let started = Instant::now();
        firmware::cargo("clippy", b.target, &features)
            .args(["--", "-D", "warnings"])
            .run(ctx)?;
        firmware::cargo("build", b.target, &features).run(ctx)?;
        let elf = out_dir.join(format!(
            "tbox-firmware-{}{}{}.elf",
            b.board,
            if b.tls { "-tls" } else { "" },
            if b.edition_2025 { "-2025" } else { "" }
        ));
        fs::copy(firmware::elf(&ctx.root, b.target), &elf)?;
        let sizes = firmware::sizes(&elf)?;
        rows.push((b, sizes, started.elapsed().as_secs_f64(), elf));
    }

    println!(
        "\n{:<15} {:<4} {:<7} {:>12} {:>16} {:>8}  image",
        "board", "link", "edition", "flash", "static RAM", "time"
    );
    for (b, (flash, ram), secs, elf) in &rows {
        let shown = elf.strip_prefix(&ctx.root).unwrap_or(elf);
        println!(
            "{:<15} {:<4} {:<7} {:>10} B {:>14} B {:>7.1}s  {}",
            b.board,
            if b.tls { "tls" } else { "tcp" },
            if b.edition_2025 { "2025" } else { "2016" },
            flash,
            ram,
            secs,
            shown.display()
        );
    }
    println!(
        "flash: the loadable bytes of the image; static RAM: writable data and bss (on the \
         ESP32-C3 that includes the radio's 100 KiB heap). Build-checked only, not run on hardware."
    );
    Ok(())
}
