//! `cargo xtask qemu-test`: the T-Box firmware under QEMU against the real gateway.
//!
//! 1. Checks `qemu-system-arm` (`cargo xtask setup` installs it), makes fresh test certificates
//!    ([`certs`]) and a fresh SM2 key, builds `host-gateway` and the firmware four times (TCP,
//!    and TLS with the certificates baked in, each in the 2016 edition and in the 2025 edition
//!    with the key baked in), for `qemu-mps2-an386`.
//! 2. For each build, starts `host-gateway serve` on free 127.0.0.1 ports with a data directory
//!    of its own, imports the device through the admin API, and boots QEMU with user networking
//!    restricted to one forward (the firmware's gateway address, relayed per connection by
//!    `xtask __relay` to the gateway) and instruction-count time, so protocol minutes take
//!    seconds.
//! 3. Runs the checks of [`scenario`] through the API and the firmware's log, prints each,
//!    the figures (boot to first login, stack high-water, sizes) and `N passed, M failed`.
//!
//! Everything is bounded: every wait, and a watchdog over the whole run that kills the
//! children it registered. Logs stay in `target/qemu-test/` for a look after a failure.

mod certs;
mod expect;
mod gateway;
mod guest;
pub mod relay;
mod scenario;

use std::fs;
use std::path::Path;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::{firmware, Cmd, Ctx, Result};

/// The device the test firmware is built as.
const VIN: &str = "LTBOXQEMU00000001";
const ICCID: &str = "89860000000000000001";
/// Target and board of the QEMU firmware.
pub const TARGET: &str = "thumbv7em-none-eabihf";
pub const BOARD_FEATURE: &str = "qemu-mps2-an386";
/// The whole run (builds excluded) must finish within this.
const WATCHDOG: Duration = Duration::from_secs(600);

/// Processes the watchdog kills if the run hangs.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Registers a child process with the watchdog.
fn watch(pid: u32) {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

fn start_watchdog(limit: Duration) {
    thread::spawn(move || {
        thread::sleep(limit);
        println!("qemu-test: watchdog: the run exceeded {limit:?}; killing QEMU and the gateway");
        for pid in CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        std::process::exit(1);
    });
}

/// Installs qemu-system-arm when it is missing. On Debian 12 the image's backports
/// `qemu-utils` conflicts with bookworm's QEMU 7.2, so QEMU 10 comes from bookworm-backports
/// (the source is added if needed); elsewhere the distribution's package is used.
pub fn setup_qemu(ctx: &Ctx) -> Result {
    if Cmd::new("qemu-system-arm").arg("--version").probe(ctx) {
        println!("qemu-system-arm already installed");
        return Ok(());
    }
    let os = fs::read_to_string("/etc/os-release").unwrap_or_default();
    let bookworm = os.lines().any(|l| l.trim() == "VERSION_CODENAME=bookworm");
    let apt = |args: &[&str]| {
        Cmd::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .run(ctx)
    };
    if bookworm {
        let source = Path::new("/etc/apt/sources.list.d/backports.sources");
        if !source.exists() {
            fs::write(
                source,
                "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\n\
                 Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
            )
            .map_err(|e| format!("cannot add the bookworm-backports source ({e}); run as root"))?;
            println!("added {}", source.display());
        }
        apt(&["update"])?;
        apt(&[
            "install",
            "-y",
            "--no-install-recommends",
            "-t",
            "bookworm-backports",
            "qemu-system-arm",
        ])?;
    } else {
        apt(&["update"])?;
        apt(&["install", "-y", "--no-install-recommends", "qemu-system-arm"])?;
    }
    Cmd::new("qemu-system-arm").arg("--version").run(ctx)
}

/// A throwaway SM2 private key for one run's 2025 firmware, as 64 hex digits: 32 bytes from
/// the system's RNG, the top bit cleared so the scalar is below the curve order. Nothing is
/// committed; the gateway learns the public key from the firmware's activation.
fn throwaway_sm2_key() -> Result<String> {
    use std::io::Read;
    let mut key = [0u8; 32];
    fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    key[0] &= 0x7F;
    key[31] |= 0x01; // never zero
    Ok(key.iter().map(|b| format!("{b:02x}")).collect())
}

/// Builds the firmware for the QEMU board and copies the ELF to `out` (every build shares one
/// output path, so each is copied away). `sm2_key`: the 2025 edition, signing with that key.
fn build_firmware(ctx: &Ctx, tls_dir: Option<&Path>, sm2_key: Option<&str>, out: &Path) -> Result {
    let mut features = firmware::features(BOARD_FEATURE, tls_dir.is_some());
    if sm2_key.is_some() {
        features.push_str(",edition-2025");
    }
    let mut cmd = firmware::cargo("build", TARGET, &features)
        .env("TBOX_VIN", VIN)
        .env("TBOX_ICCID", ICCID)
        .env("TBOX_GATEWAY_HOST", guest::GUEST_GATEWAY)
        .env("TBOX_GATEWAY_PORT", guest::GUEST_PORT.to_string())
        .env("TBOX_REPORT_PERIOD_S", scenario::FACTORY_PERIOD_S.to_string())
        // Under -icount sleep=off the guest's clock runs ~40 times faster than the host's while
        // it waits on the gateway: the standard's 30 s answer wait (parameter 0x0A) would be
        // under a second of wall time, and one slow SQLite commit a failed login. 300 s of guest
        // time leaves the gateway several wall seconds, as 30 s leave a real platform.
        .env("TBOX_RESPONSE_TIMEOUT_S", "300");
    if let Some(dir) = tls_dir {
        cmd = cmd
            .env("TBOX_TLS_DIR", dir)
            .env("TBOX_TLS_SERVER_NAME", certs::SERVER_NAME);
    }
    if let Some(key) = sm2_key {
        cmd = cmd.env("TBOX_SM2_KEY", key);
    }
    cmd.run(ctx)?;
    fs::copy(firmware::elf(&ctx.root, TARGET), out)?;
    Ok(())
}

/// The subcommand.
pub fn run(ctx: &mut Ctx) -> Result {
    let version = Cmd::new("qemu-system-arm")
        .arg("--version")
        .read(ctx)
        .map_err(|e| format!("qemu-system-arm is missing ({e}); `cargo xtask setup` installs it"))?;
    println!("{}", version.lines().next().unwrap_or("qemu-system-arm"));
    let work = ctx.root.join("target").join("qemu-test");
    if work.exists() {
        fs::remove_dir_all(&work)?;
    }
    fs::create_dir_all(&work)?;
    let pki = certs::generate(&work.join("pki"), VIN)?;
    println!("test certificates (fresh, throwaway) in {}", work.join("pki").display());

    Cmd::new("cargo")
        .args(["build", "-p", "host-gateway", "--bin", "host-gateway"])
        .run(ctx)?;
    let gateway_bin = ctx.root.join("target").join("debug").join("host-gateway");
    let tcp_elf = work.join("tbox-firmware-tcp.elf");
    let tls_elf = work.join("tbox-firmware-tls.elf");
    let tcp_2025_elf = work.join("tbox-firmware-tcp-2025.elf");
    let tls_2025_elf = work.join("tbox-firmware-tls-2025.elf");
    let sm2_key = throwaway_sm2_key()?;
    build_firmware(ctx, None, None, &tcp_elf)?;
    build_firmware(ctx, Some(&pki.firmware_dir), None, &tls_elf)?;
    build_firmware(ctx, None, Some(&sm2_key), &tcp_2025_elf)?;
    build_firmware(ctx, Some(&pki.firmware_dir), Some(&sm2_key), &tls_2025_elf)?;

    start_watchdog(WATCHDOG);
    let started = Instant::now();
    let mut checks = Vec::new();
    let mut figures = Vec::new();
    for (label, elf, tls, edition) in [
        ("tcp", &tcp_elf, None, 2016),
        ("tls", &tls_elf, Some(&pki), 2016),
        ("tcp-2025", &tcp_2025_elf, None, 2025),
        ("tls-2025", &tls_2025_elf, Some(&pki), 2025),
    ] {
        println!("\n--- {label}: {}", elf.display());
        let setup = scenario::Setup {
            gateway_bin: &gateway_bin,
            dir: &work.join(label),
            elf,
            vin: VIN,
            iccid: ICCID,
            pki: tls,
            edition,
            label,
        };
        match scenario::run(&setup) {
            Ok((c, mut f)) => {
                checks.extend(c);
                match scenario::login_time(&setup) {
                    Ok((check, ms)) => {
                        checks.push(check);
                        f.login_realtime_ms = ms;
                    }
                    Err(e) => checks.push(scenario::Check {
                        name: format!("{label}: login-time set-up"),
                        result: Err(e.to_string()),
                    }),
                }
                figures.push((label, elf, f));
            }
            Err(e) => checks.push(scenario::Check {
                name: format!("{label}: set-up"),
                result: Err(e.to_string()),
            }),
        }
    }

    println!("\nfigures (QEMU mps2-an386, -icount shift=auto,sleep=off):");
    for (label, elf, f) in &figures {
        let size = firmware::sizes(elf).map_or_else(
            |e| format!("sizes: {e}"),
            |(flash, ram)| {
                format!(
                    "flash {flash} B ({:.1} KiB), static RAM {ram} B ({:.1} KiB)",
                    kib(flash),
                    kib(ram)
                )
            },
        );
        let ms = |m: Option<u64>| m.map_or("?".to_owned(), |m| m.to_string());
        println!(
            "  {label}: {size}; stack high-water {}; reset to first acknowledged login {} ms \
             (real-time clock), {} ms guest / {} ms wall under -icount",
            f.stack_high_water
                .map_or("?".into(), |s| format!("{s} B ({:.1} KiB)", kib(s))),
            ms(f.login_realtime_ms),
            ms(f.login_guest_ms),
            ms(f.login_wall_ms),
        );
    }
    let passed = checks.iter().filter(|c| c.result.is_ok()).count();
    let failed = checks.len() - passed;
    println!("\nqemu-test ({:.1} s of runs):", started.elapsed().as_secs_f64());
    for c in &checks {
        match &c.result {
            Ok(_) => println!("  ok      {}", c.name),
            Err(e) => println!("  FAILED  {}: {e}", c.name),
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        return Err(format!(
            "{failed} of {} QEMU checks failed (logs in {})",
            checks.len(),
            work.display()
        )
        .into());
    }
    Ok(())
}

fn kib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}
