//! Small helpers: /proc, the machine (HTTP, ports and waits are `crate::harness`'s).

use std::fs::{self};
use std::process::Command;

pub(super) fn status_field_kib(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim().trim_end_matches("kB").trim().parse().ok())
}

pub(super) fn rss_kib(pid: u32) -> Option<u64> {
    status_field_kib(pid, "VmRSS:")
}

pub(super) fn hwm_kib(pid: u32) -> Option<u64> {
    status_field_kib(pid, "VmHWM:")
}

/// utime + stime of a process, in clock ticks.
pub(super) fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

pub(super) fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

pub(super) fn cpu_s(a: Option<u64>, b: Option<u64>) -> f64 {
    match (a, b) {
        (Some(a), Some(b)) => b.saturating_sub(a) as f64 / clock_ticks(),
        _ => f64::NAN,
    }
}

pub(super) fn cpu_pct(a: Option<u64>, b: Option<u64>, secs: f64) -> f64 {
    cpu_s(a, b) / secs * 100.0
}

pub(super) fn limits_line(text: &str) -> Option<(u64, u64)> {
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

/// (soft, hard) open-file limits of a running process.
pub(super) fn process_nofile(pid: u32) -> Option<(u64, u64)> {
    limits_line(&fs::read_to_string(format!("/proc/{pid}/limits")).ok()?)
}

/// (soft, hard) open-file limits of this process (the children inherit the hard one).
pub(super) fn nofile_limits() -> (u64, u64) {
    fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| limits_line(&t))
        .unwrap_or((1024, 1024))
}

pub(super) fn read_trim(path: &str) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into())
}

/// What limits a load test on this machine, for the record.
pub(super) fn machine_facts() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
        })
        .unwrap_or_default();
    let (soft, hard) = nofile_limits();
    format!(
        "machine: {cpus} CPU(s), MemTotal {mem} kB, open files soft {soft} hard {hard}, fs.nr_open {}, \
         fs.file-max {}, ip_local_port_range {}, somaxconn {}, tcp_max_syn_backlog {}, load average {}",
        read_trim("/proc/sys/fs/nr_open"),
        read_trim("/proc/sys/fs/file-max"),
        read_trim("/proc/sys/net/ipv4/ip_local_port_range").replace('\t', "-"),
        read_trim("/proc/sys/net/core/somaxconn"),
        read_trim("/proc/sys/net/ipv4/tcp_max_syn_backlog"),
        read_trim("/proc/loadavg"),
    )
}

pub(super) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
