//! `cargo xtask boards`: the hardware boards of `tbox-firmware`, each linted and built for its
//! target in the `firmware` profile, plain TCP and TLS, with the flash and static RAM of each
//! image. Build-checked only: nothing here runs them (that takes the boards; README, "Hardware
//! boards"). The images are copied to `target/boards/` (every build of a target writes the same
//! cargo output path).
//!
//! `ci` runs [`ci`]: the builds CI can afford (NUCLEO-F767ZI with and without TLS, ESP32-C3);
//! `cargo xtask boards` builds them all.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::{Cmd, Ctx, Result};

/// One board build: a cargo feature set for a target.
struct Build {
    /// The board's cargo feature.
    board: &'static str,
    target: &'static str,
    tls: bool,
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
        ci: true,
    },
    Build {
        board: "nucleo-f767zi",
        target: ARM,
        tls: true,
        ci: true,
    },
    Build {
        board: "nucleo-h743zi",
        target: ARM,
        tls: false,
        ci: false,
    },
    Build {
        board: "nucleo-h743zi",
        target: ARM,
        tls: true,
        ci: false,
    },
    Build {
        board: "esp32c3",
        target: RISCV,
        tls: false,
        ci: true,
    },
    Build {
        board: "esp32c3",
        target: RISCV,
        tls: true,
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
        let features = if b.tls {
            format!("{},tls", b.board)
        } else {
            b.board.to_owned()
        };
        let started = Instant::now();
        Cmd::new("cargo")
            // The build's profile, so both share the dependencies' build-script runs (esp-hal's
            // and embassy-stm32's generate much code).
            .args(["clippy", "-p", "tbox-firmware", "--profile", "firmware"])
            .args(["--target", b.target, "--features", &features])
            .args(["--", "-D", "warnings"])
            .run(ctx)?;
        Cmd::new("cargo")
            .args([
                "build",
                "-p",
                "tbox-firmware",
                "--profile",
                "firmware",
                "--target",
                b.target,
            ])
            .args(["--features", &features])
            .run(ctx)?;
        let elf = out_dir.join(format!(
            "tbox-firmware-{}{}.elf",
            b.board,
            if b.tls { "-tls" } else { "" }
        ));
        fs::copy(cargo_elf(ctx, b.target), &elf)?;
        let sizes = elf_sizes(&elf)?;
        rows.push((b, sizes, started.elapsed().as_secs_f64(), elf));
    }

    println!(
        "\n{:<15} {:<4} {:>12} {:>16} {:>8}  image",
        "board", "link", "flash", "static RAM", "time"
    );
    for (b, (flash, ram), secs, elf) in &rows {
        let shown = elf.strip_prefix(&ctx.root).unwrap_or(elf);
        println!(
            "{:<15} {:<4} {:>10} B {:>14} B {:>7.1}s  {}",
            b.board,
            if b.tls { "tls" } else { "tcp" },
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

/// Where cargo puts the firmware of `target`.
fn cargo_elf(ctx: &Ctx, target: &str) -> PathBuf {
    ctx.root
        .join("target")
        .join(target)
        .join("firmware")
        .join("tbox-firmware")
}

/// Flash and static RAM of a 32-bit little-endian ELF image, from its program headers: flash is
/// the bytes of every loadable segment (code, read-only data, the initial values of data);
/// static RAM is the memory of the writable ones (data, bss, heaps placed by the linker). This
/// reads the same for every target, whatever its linker script calls its sections.
fn elf_sizes(elf: &Path) -> Result<(u64, u64)> {
    let bytes = fs::read(elf)?;
    program_sizes(&bytes).ok_or_else(|| format!("{}: not a 32-bit little-endian ELF", elf.display()).into())
}

fn program_sizes(elf: &[u8]) -> Option<(u64, u64)> {
    const PT_LOAD: u32 = 1;
    const PF_W: u32 = 2;
    let u16_at = |at: usize| Some(u16::from_le_bytes(elf.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(elf.get(at..at + 4)?.try_into().ok()?));
    // Magic, ELFCLASS32, ELFDATA2LSB.
    if elf.get(..6)? != b"\x7fELF\x01\x01" {
        return None;
    }
    let phoff = u32_at(28)? as usize;
    let phentsize = usize::from(u16_at(42)?);
    let phnum = usize::from(u16_at(44)?);
    let (mut flash, mut ram) = (0u64, 0u64);
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(ph)? != PT_LOAD {
            continue;
        }
        flash += u64::from(u32_at(ph + 16)?);
        if u32_at(ph + 24)? & PF_W != 0 {
            ram += u64::from(u32_at(ph + 20)?);
        }
    }
    Some((flash, ram))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF header and program headers: (type, file size, memory size, flags) each.
    fn elf(segments: &[(u32, u32, u32, u32)]) -> Vec<u8> {
        let mut b = vec![0u8; 52];
        b[..6].copy_from_slice(b"\x7fELF\x01\x01");
        b[28..32].copy_from_slice(&52u32.to_le_bytes());
        b[42..44].copy_from_slice(&32u16.to_le_bytes());
        b[44..46].copy_from_slice(&(segments.len() as u16).to_le_bytes());
        for &(kind, file, mem, flags) in segments {
            let mut ph = [0u8; 32];
            ph[..4].copy_from_slice(&kind.to_le_bytes());
            ph[16..20].copy_from_slice(&file.to_le_bytes());
            ph[20..24].copy_from_slice(&mem.to_le_bytes());
            ph[24..28].copy_from_slice(&flags.to_le_bytes());
            b.extend_from_slice(&ph);
        }
        b
    }

    #[test]
    fn loadable_bytes_are_flash_and_writable_memory_is_ram() {
        // Code (R E), data with its bss (RW), a stack reservation (R, no bytes), a note.
        let image = elf(&[(1, 1000, 1000, 5), (1, 80, 5080, 6), (1, 0, 4096, 4), (4, 32, 32, 4)]);
        assert_eq!(program_sizes(&image), Some((1080, 5080)));
        assert_eq!(program_sizes(b"\x7fELF\x02\x01"), None, "64-bit");
        assert_eq!(program_sizes(&image[..60]), None, "truncated");
    }
}
