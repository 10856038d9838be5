//! The open-file limit of the simulator: one socket per vehicle, so a large fleet needs more
//! descriptors than the usual soft limit of 1024.
//!
//! The workspace forbids `unsafe` and host-gateway has no `libc`/`rustix` dependency, so the soft
//! limit is raised with util-linux's `prlimit(1)` on our own pid (an unprivileged process may
//! raise its soft limit up to the hard one). Where that tool is missing, or the hard limit is too
//! low, a warning says how many vehicles can be connected at most.

use std::process::{Command, Stdio};

/// Descriptors kept for everything that is not a vehicle's socket (runtime, HTTP client, stdio).
const MARGIN: u64 = 64;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit if a fleet of `vehicles` needs it, and warns
/// on stderr when the fleet still does not fit. Returns the soft limit in force afterwards.
pub fn raise_nofile_limit(vehicles: u32) -> Option<u64> {
    let needed = u64::from(vehicles) + MARGIN;
    let (soft, hard) = nofile()?;
    if soft >= needed {
        return Some(soft);
    }
    if hard > soft {
        let pid = std::process::id().to_string();
        let _ = Command::new("prlimit")
            .args(["--pid", &pid, &format!("--nofile={hard}:{hard}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let (soft, hard) = nofile()?;
    if soft < needed {
        eprintln!(
            "warning: {vehicles} vehicle(s) need about {needed} open files, the limit is {soft} (hard {hard}): \
             at most about {} can be connected; raise it with `ulimit -n` or split the fleet over several sims",
            soft.saturating_sub(MARGIN)
        );
    }
    Some(soft)
}

/// (soft, hard) `Max open files` of this process, from /proc/self/limits (Linux only).
fn nofile() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let f: Vec<&str> = line.split_whitespace().collect();
    let parse = |s: &str| {
        if s == "unlimited" {
            Some(u64::MAX)
        } else {
            s.parse().ok()
        }
    };
    Some((parse(f.get(3)?)?, parse(f.get(4)?)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_read_and_small_fleets_fit() {
        if let Some((soft, hard)) = nofile() {
            assert!(soft <= hard);
            assert_eq!(raise_nofile_limit(1), Some(soft));
        }
    }
}
