//! The firmware under QEMU: `qemu-system-arm -M mps2-an386` with semihosting output captured
//! line by line, instruction-count time (`-icount shift=auto,sleep=off`: idle guest time is
//! skipped), and user networking restricted to one forward: the gateway address the firmware
//! dials, relayed per connection to the gateway on loopback.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use super::relay;
use crate::Result;

/// What the firmware dials (its factory parameters 0x05/0x06), forwarded by QEMU.
pub const GUEST_GATEWAY: &str = "10.0.2.100";
pub const GUEST_PORT: u16 = 32960;

/// A running QEMU, killed when dropped.
pub struct Guest {
    child: Child,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    pub started: Instant,
}

impl Guest {
    /// Boots `elf` with its network forwarded to `127.0.0.1:gateway_port`; the firmware's
    /// output goes to `log` as well. `warp`: instruction-count time that skips idle periods;
    /// without it the guest's clock is the host's (for timing figures).
    pub fn start(elf: &Path, gateway_port: u16, log: &Path, warp: bool) -> Result<Self> {
        let exe = std::env::current_exe()?;
        let exe = exe.to_str().ok_or("the xtask path is not UTF-8")?;
        if exe.contains(',') || exe.contains(' ') {
            return Err(format!("QEMU's -nic option cannot take this path: {exe}").into());
        }
        let relay = format!("{exe} {} 127.0.0.1:{gateway_port}", relay::COMMAND);
        let nic = format!("user,restrict=on,guestfwd=tcp:{GUEST_GATEWAY}:{GUEST_PORT}-cmd:{relay}");
        let icount: &[&str] = if warp {
            &["-icount", "shift=auto,sleep=off"]
        } else {
            &[]
        };
        let mut child = Command::new("qemu-system-arm")
            .args(["-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none"])
            .args(["-semihosting-config", "enable=on,target=native"])
            .args(icount)
            .args(["-nic", &nic])
            .arg("-kernel")
            .arg(elf)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start qemu-system-arm (run `cargo xtask setup`): {e}"))?;
        super::watch(child.id());
        let started = Instant::now();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut file = File::create(log)?;
        let stdout = child.stdout.take().ok_or("no QEMU stdout")?;
        let stderr = child.stderr.take().ok_or("no QEMU stderr")?;
        let sink = Arc::clone(&lines);
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                let _ = writeln!(file, "{line}");
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((Instant::now(), line));
            }
        });
        let sink = Arc::clone(&lines);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((Instant::now(), format!("qemu: {line}")));
            }
        });
        Ok(Guest { child, lines, started })
    }

    /// Lines so far.
    pub fn len(&self) -> usize {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Lines from index `from` on.
    pub fn lines_from(&self, from: usize) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().skip(from).map(|(_, l)| l.clone()).collect()
    }

    /// Waits for a line at or after index `from` containing `needle`; returns its index, the
    /// line and when it arrived.
    pub fn wait_for(&self, from: usize, needle: &str, timeout: Duration) -> Option<(usize, String, Instant)> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((i, (at, l))) = lines
                    .iter()
                    .enumerate()
                    .skip(from)
                    .find(|(_, (_, l))| l.contains(needle))
                {
                    return Some((i, l.clone(), *at));
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            sleep(Duration::from_millis(20));
        }
    }

    /// Counts lines at or after `from` containing `needle`.
    pub fn count(&self, from: usize, needle: &str) -> usize {
        self.lines_from(from).iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits for QEMU to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The guest's uptime in a log line (`[   12345] ...`), in milliseconds.
pub fn uptime_ms(line: &str) -> Option<u64> {
    let rest = line.trim_start().strip_prefix('[')?;
    rest.split(']').next()?.trim().parse().ok()
}
