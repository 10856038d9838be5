//! Building `tbox-firmware` for a board, as `qemu-test` and `boards` both do: the cargo command
//! in the `firmware` profile, where the image lands, and its flash and static RAM.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{Cmd, Result};

/// The cargo features of a board build: the board's own, and `tls` for TLS 1.3.
pub fn features(board: &str, tls: bool) -> String {
    if tls {
        format!("{board},tls")
    } else {
        board.to_owned()
    }
}

/// `cargo SUBCOMMAND -p tbox-firmware --profile firmware --target TARGET --features FEATURES`
/// (`build`, or `clippy` in the same profile, so both share the dependencies' build-script
/// runs: esp-hal's and embassy-stm32's generate much code).
pub fn cargo(subcommand: &str, target: &str, features: &str) -> Cmd {
    Cmd::new("cargo")
        .args([subcommand, "-p", "tbox-firmware", "--profile", "firmware"])
        .args(["--target", target, "--features", features])
}

/// Where cargo puts the firmware image of `target` (every build for a target writes this path,
/// so callers copy each image away).
pub fn elf(root: &Path, target: &str) -> PathBuf {
    root.join("target").join(target).join("firmware").join("tbox-firmware")
}

/// Flash and static RAM of a 32-bit little-endian ELF image, from its program headers: flash is
/// the bytes of every loadable segment (code, read-only data, the initial values of data);
/// static RAM is the memory of the writable ones (data, bss, heaps placed by the linker). This
/// reads the same for every target, whatever its linker script calls its sections; for the
/// Cortex-M images it is `llvm-size -A`'s `.vector_table + .text + .rodata + .data` and
/// `.data + .bss + .uninit`.
pub fn sizes(elf: &Path) -> Result<(u64, u64)> {
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

    #[test]
    fn board_features() {
        assert_eq!(features("esp32c3", false), "esp32c3");
        assert_eq!(features("qemu-mps2-an386", true), "qemu-mps2-an386,tls");
    }
}
