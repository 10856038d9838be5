//! `cargo xtask load`: a load harness for `host-gateway serve`, driven by the real simulator
//! (`host-gateway sim`) on the same machine, over loopback only.
//!
//! It builds host-gateway in release (unless `--bin` or `--no-build`), then for each scenario
//! starts a fresh `serve` with a temporary data directory on free 127.0.0.1 ports and a known
//! `--api-token`, runs one or more `sim` processes against it and reads the figures from outside
//! the processes:
//!
//! * **throughput**: `--vehicles` vehicles reporting every `--period` s for `--duration` s. The
//!   rows of the `frames` table (`sqlite3 -readonly` on `<data>/gateway.db`, or Python's
//!   `sqlite3` module) are sampled once the ramp is over and again near the end: their growth
//!   over that window is the sustained rate *into SQLite*. Store latency comes from the
//!   `store_write_seconds` histogram of `/metrics`, CPU from `/proc/<pid>/stat`.
//! * **idle**: `--idle` vehicles with a long period spread over the source addresses
//!   127.0.0.2-127.0.0.200, ramped at `--ramp-rate` connections/s, then held for `--idle-hold`
//!   s. The server's `VmRSS` before the fleet and while it is held gives memory per connection;
//!   `GET /api/v1/sessions` gives how many are logged in. Fleets larger than one process's
//!   open-file limit are split over several `sim` processes (distinct VIN prefixes).
//! * **login latency**: the p50/p99/max of each `sim --json` (from login sent to its answer).
//!
//! * **TLS** (`--tls ecdsa|rsa`): the same scenarios against a gateway with `transport = "tls"`
//!   (certificates made here with `openssl`: a P-256 CA and a server key of the given kind), the
//!   sims speaking TLS 1.3 (`sim --tls-ca`). Run it after a plain run with the same flags: the
//!   difference in memory per connection is what TLS costs. Handshake throughput is the
//!   `tls_handshake` bench of host-gateway (docs/BENCHMARKS.md).
//!
//! Every child runs under `sh -c 'ulimit -n $(ulimit -Hn)'` (soft open-file limit raised to
//! the hard one), has a deadline, and is killed when the harness returns or unwinds. Nothing
//! here is part of `cargo xtask ci`.

use std::fmt::Write as _;
use std::fs::{self};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::harness::{free_port, wait_until};
use crate::{harness, Cmd, Ctx, Result};

mod host;
mod procs;
mod report;

use host::*;
use procs::*;
use report::*;

/// The admin API token given to `serve` and to `sim --api-token`.
const API_TOKEN: &str = "load-harness-token";
/// Source addresses of the idle fleet (each gives about 28 000 ephemeral ports).
const IDLE_SOURCE_IPS: &str = "127.0.0.2-127.0.0.200";
/// File descriptors kept free in each process besides one per connection.
const FD_MARGIN: u64 = 200;

pub const USAGE: &str = "  load [OPTIONS]   Load harness: release host-gateway `serve` + the real `sim` on loopback
                     --vehicles N      throughput fleet (default 1000, 0 skips)
                     --period S        its report period (default 1)
                     --duration S      its run time (default 60)
                     --idle N          idle fleet, the aim is 50000 (default 2000, 0 skips)
                     --idle-period S   idle report period (default 120; heartbeat 240)
                     --idle-hold S     seconds the idle fleet is held after the ramp (default 60)
                     --ramp-rate N     new connections per second while ramping (default 1000)
                     --edition E       2016 or 2025 (default 2016)
                     --tls KEY         over TLS: the gateway's key is `ecdsa` (P-256) or `rsa` (2048)
                     --bin PATH        use this host-gateway binary (no build)
                     --no-build        use target/release/host-gateway as it is
                     --keep            keep the temporary data directories
";

/// The parsed flags.
#[derive(Debug, Clone)]
pub struct Opts {
    vehicles: u32,
    period: u64,
    duration: u64,
    idle: u32,
    idle_period: u64,
    idle_hold: u64,
    ramp_rate: u32,
    edition: String,
    /// Over TLS, with this server key type ("ecdsa" or "rsa").
    tls: Option<String>,
    bin: Option<PathBuf>,
    build: bool,
    keep: bool,
}

impl Opts {
    pub fn parse(args: &[String]) -> Result<Self> {
        let mut o = Opts {
            vehicles: 1000,
            period: 1,
            duration: 60,
            idle: 2000,
            idle_period: 120,
            idle_hold: 60,
            ramp_rate: 1000,
            edition: "2016".into(),
            tls: None,
            bin: None,
            build: true,
            keep: false,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("load: `{flag}` needs a value"))
            };
            match flag.as_str() {
                "--vehicles" => o.vehicles = number(flag, &value()?)?,
                "--period" => o.period = number(flag, &value()?)?,
                "--duration" => o.duration = number(flag, &value()?)?,
                "--idle" => o.idle = number(flag, &value()?)?,
                "--idle-period" => o.idle_period = number(flag, &value()?)?,
                "--idle-hold" => o.idle_hold = number(flag, &value()?)?,
                "--ramp-rate" => o.ramp_rate = number(flag, &value()?)?,
                "--edition" => o.edition = value()?,
                "--tls" => o.tls = Some(value()?),
                "--bin" => o.bin = Some(PathBuf::from(value()?)),
                "--no-build" => o.build = false,
                "--keep" => o.keep = true,
                other => return Err(format!("load: unknown option `{other}`").into()),
            }
        }
        if o.tls.as_deref().is_some_and(|k| k != "ecdsa" && k != "rsa") {
            return Err("load: --tls must be ecdsa or rsa".into());
        }
        if !["2016", "2025"].contains(&o.edition.as_str()) {
            return Err("load: --edition must be 2016 or 2025".into());
        }
        if o.period == 0 || o.duration < 10 || o.idle_period == 0 || o.ramp_rate == 0 {
            return Err(
                "load: --period, --idle-period and --ramp-rate must be positive, --duration at least 10".into(),
            );
        }
        if o.vehicles == 0 && o.idle == 0 {
            return Err("load: nothing to do (--vehicles 0 and --idle 0)".into());
        }
        Ok(o)
    }
}

fn number<T: std::str::FromStr>(flag: &str, s: &str) -> Result<T> {
    s.parse()
        .map_err(|_| format!("load: `{flag}` wants a non-negative integer, got `{s}`").into())
}

/// The `load` step.
pub fn run(ctx: &mut Ctx, opts: Opts) -> Result {
    let bin = match &opts.bin {
        Some(bin) => bin.clone(),
        None => {
            if opts.build {
                Cmd::new("cargo")
                    .args(["build", "--release", "-p", "host-gateway"])
                    .run(ctx)?;
            }
            ctx.root.join("target/release/host-gateway")
        }
    };
    if !bin.is_file() {
        return Err(format!("no host-gateway binary at {}", bin.display()).into());
    }
    let machine = machine_facts();
    println!("{machine}");
    let mut report = String::new();
    if opts.vehicles > 0 {
        let t = throughput(&bin, &opts)?;
        let _ = writeln!(report, "{t}");
    }
    if opts.idle > 0 {
        let i = idle(&bin, &opts)?;
        let _ = writeln!(report, "{i}");
    }
    println!("\n==> load results\n{machine}\n{report}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

fn throughput(bin: &Path, o: &Opts) -> Result<String> {
    println!(
        "\n--> throughput: {} vehicles, period {} s, {} s",
        o.vehicles, o.period, o.duration
    );
    let server = Server::start(bin, "throughput", o.keep, o.tls.as_deref())?;
    let ramp = f64::from(o.vehicles) / f64::from(o.ramp_rate);
    let sim = SimRun {
        prefix: "LGBLT".into(),
        vehicles: o.vehicles,
        period: o.period,
        heartbeat: 30,
        duration: o.duration,
        ramp,
        source_ips: None,
    };
    let cpu0 = cpu_ticks(server.pid());
    let mut sims = vec![sim.spawn(bin, &server, &o.edition, 0)?];
    // Registration happens before the sim's clock starts: wait for the first login.
    let registered = wait_until(Duration::from_secs(120), || {
        server.metric("gb32960_gateway_connections").unwrap_or(0.0) > 0.0
    });
    if !registered {
        return Err("throughput: no vehicle connected within 120 s".into());
    }
    let t_start = Instant::now();
    // The window: from the end of the ramp (plus a settling period) to 5 s before the end.
    let settle = (ramp + f64::from(o.period.min(10) as u32) + 3.0).min(o.duration as f64 / 2.0);
    sleep(Duration::from_secs_f64(settle));
    let (rows_a, reports_a, ta) = (server.frame_rows()?, server.report_rows()?, Instant::now());
    let cpu_a = cpu_ticks(server.pid());
    let end_at = t_start + Duration::from_secs(o.duration.saturating_sub(5).max(settle as u64 + 1));
    sleep(end_at.saturating_duration_since(Instant::now()));
    let (rows_b, reports_b, tb) = (server.frame_rows()?, server.report_rows()?, Instant::now());
    let cpu_b = cpu_ticks(server.pid());
    let rss = rss_kib(server.pid()).unwrap_or(0);
    let online = server.sessions().unwrap_or(0);
    let summaries = wait_sims(&mut sims, Duration::from_secs(o.duration + 60))?;
    sleep(Duration::from_secs(2)); // the writer's last batch
    let rows_end = server.frame_rows()?;
    let metrics = server.metrics_text().unwrap_or_default();
    let cpu1 = cpu_ticks(server.pid());
    let sim_cpu: f64 = sims.iter().map(|s| s.cpu_s).sum();
    drop(server);

    let window = (tb - ta).as_secs_f64();
    let rate = (rows_b - rows_a) as f64 / window;
    let report_rate = (reports_b - reports_a) as f64 / window;
    let cpu_window = cpu_pct(cpu_a, cpu_b, window);
    let s = SimTotals::of(&summaries);
    let store = HistogramSummary::parse(&metrics, "gb32960_gateway_store_write_seconds");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "throughput ({} vehicles, period {} s, {} s, edition {}, {})",
        o.vehicles,
        o.period,
        o.duration,
        o.edition,
        transport(o)
    );
    let _ = writeln!(
        out,
        "  offered             {:.0} reports/s",
        f64::from(o.vehicles) / o.period as f64
    );
    let _ = writeln!(
        out,
        "  into SQLite         {rate:.0} frames/s sustained, of which {report_rate:.0} reports/s ({} rows over {window:.1} s after the ramp)",
        rows_b - rows_a
    );
    let _ = writeln!(
        out,
        "  rows in total       {rows_end} (sim sent {} frames: {} reports, {} heartbeats, {} logins)",
        s.frames_sent, s.reports_sent, s.heartbeats_sent, s.logins_sent
    );
    let _ = writeln!(
        out,
        "  logged in           {}/{} (online near the end: {online}); errors {}",
        s.logged_in, o.vehicles, s.errors
    );
    let _ = writeln!(out, "  login latency       {}", s.login);
    let _ = writeln!(out, "  answer latency      {}", s.answer);
    let _ = writeln!(out, "  store transaction   {store}");
    if store.count > 0.0 {
        let _ = writeln!(
            out,
            "  rows per transaction {:.1} on average",
            rows_end as f64 / store.count
        );
    }
    let _ = writeln!(
        out,
        "  server CPU          {cpu_window:.0} % of one core in the window ({:.1} s total); sim {sim_cpu:.1} s; server RSS {} MiB",
        cpu_s(cpu0, cpu1),
        rss / 1024
    );
    Ok(out)
}

fn idle(bin: &Path, o: &Opts) -> Result<String> {
    let (soft, hard) = nofile_limits();
    let per_process = hard.saturating_sub(FD_MARGIN).max(1000).min(u64::from(u32::MAX)) as u32;
    println!(
        "\n--> idle: {} vehicles, period {} s, ramp {} /s, hold {} s (open files: soft {soft}, hard {hard})",
        o.idle, o.idle_period, o.ramp_rate, o.idle_hold
    );
    if u64::from(o.idle) + FD_MARGIN > hard {
        println!(
            "note: the hard open-file limit is {hard}: one serve process cannot hold {} connections",
            o.idle
        );
    }
    let server = Server::start(bin, "idle", o.keep, o.tls.as_deref())?;
    sleep(Duration::from_secs(1));
    let rss0 = rss_kib(server.pid()).unwrap_or(0);

    let processes = o.idle.div_ceil(per_process);
    let ramp_total = f64::from(o.idle) / f64::from(o.ramp_rate);
    let duration = ramp_total.ceil() as u64 + o.idle_hold + 15;
    let mut sims = Vec::new();
    for p in 0..processes {
        let vehicles = (o.idle - p * per_process).min(per_process);
        let sim = SimRun {
            prefix: format!("LGBI{}", (b'A' + p as u8) as char),
            vehicles,
            period: o.idle_period,
            heartbeat: 240,
            duration,
            // Each process ramps its share at its share of the rate.
            ramp: ramp_total,
            source_ips: Some(IDLE_SOURCE_IPS.into()),
        };
        sims.push(sim.spawn(bin, &server, &o.edition, p)?);
    }
    // Registration, then the ramp; sample every 5 s until 5 s before the sims stop.
    let connected = wait_until(Duration::from_secs(300), || {
        server.metric("gb32960_gateway_connections").unwrap_or(0.0) > 0.0
    });
    if !connected {
        return Err("idle: no vehicle connected within 300 s".into());
    }
    let t0 = Instant::now();
    let stop_sampling = t0 + Duration::from_secs(duration.saturating_sub(8));
    let mut best = Sample::default();
    let mut last = Sample::default();
    // (connections, RSS KiB) every second while the ramp lasts: the slope is the marginal memory
    // of one connection, without the fixed costs (threads, allocator arenas, registered devices).
    let mut ramp_points: Vec<(f64, f64)> = Vec::new();
    let ramp_end = t0 + Duration::from_secs_f64(ramp_total + 2.0);
    while Instant::now() < stop_sampling {
        if Instant::now() < ramp_end {
            sleep(Duration::from_secs(1));
            let c = server.metric("gb32960_gateway_connections").unwrap_or(0.0);
            if let Some(r) = rss_kib(server.pid()) {
                ramp_points.push((c, r as f64));
            }
            continue;
        }
        sleep(Duration::from_secs(5).min(stop_sampling.saturating_duration_since(Instant::now())));
        let s = Sample {
            at: t0.elapsed().as_secs_f64(),
            sessions: server.sessions().unwrap_or(0),
            connections: server.metric("gb32960_gateway_connections").unwrap_or(0.0) as u64,
            rss_kib: rss_kib(server.pid()).unwrap_or(0),
            sim_rss_kib: sims.iter().filter_map(|s| rss_kib(s.child.pid())).sum(),
            tcp_mem_kib: tcp_mem_kib(),
        };
        println!(
            "  t={:>5.0}s  sessions {:>6}  connections {:>6}  server RSS {:>7} KiB  sim RSS {:>7} KiB  kernel TCP {:>7} KiB",
            s.at, s.sessions, s.connections, s.rss_kib, s.sim_rss_kib, s.tcp_mem_kib
        );
        if s.sessions >= best.sessions {
            best = s.clone();
        }
        last = s;
    }
    let hwm = hwm_kib(server.pid()).unwrap_or(0);
    let summaries = wait_sims(&mut sims, Duration::from_secs(duration + 120))?;
    let accept_errors = server.log_lines_containing("accept failed");
    drop(server);

    let t = SimTotals::of(&summaries);
    let per_conn = |s: &Sample| {
        if s.sessions == 0 {
            0.0
        } else {
            (s.rss_kib.saturating_sub(rss0)) as f64 * 1024.0 / s.sessions as f64
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "idle ({} vehicles in {processes} sim process(es), period {} s, heartbeat 240 s, ramp {:.0} s, edition {}, {})",
        o.idle,
        o.idle_period,
        ramp_total,
        o.edition,
        transport(o)
    );
    let _ = writeln!(
        out,
        "  held (most, at t={:.0} s)  {} sessions, {} TCP connections",
        best.at, best.sessions, best.connections
    );
    let _ = writeln!(
        out,
        "  held (last sample)       {} sessions, {} TCP connections",
        last.sessions, last.connections
    );
    let _ = writeln!(
        out,
        "  server RSS               {} KiB before, {} KiB held (peak VmHWM {hwm} KiB) → {:.1} KiB per connection",
        rss0,
        best.rss_kib,
        per_conn(&best) / 1024.0
    );
    match slope(&ramp_points) {
        Some(k) => {
            let _ = writeln!(
                out,
                "  server RSS slope         {k:.1} KiB per connection while ramping ({} samples, least squares)",
                ramp_points.len()
            );
        }
        None => {
            let _ = writeln!(out, "  server RSS slope         n/a (ramp too short to sample)");
        }
    }
    let _ = writeln!(
        out,
        "  kernel TCP buffers       {} KiB in use (/proc/net/sockstat, both ends) → {:.1} KiB per connection pair",
        best.tcp_mem_kib,
        best.tcp_mem_kib as f64 / best.sessions.max(1) as f64
    );
    let _ = writeln!(
        out,
        "  sim RSS                  {} KiB for {} vehicles → {:.1} KiB per vehicle",
        best.sim_rss_kib,
        best.sessions.max(1),
        best.sim_rss_kib as f64 / best.sessions.max(1) as f64
    );
    let _ = writeln!(
        out,
        "  sim                      logged in {}/{}, logins {}, login failures {}, connect failures {}, dropped {}, errors {}",
        t.logged_in, o.idle, t.logins, t.login_failures, t.connect_failures, t.disconnects, t.errors
    );
    let _ = writeln!(out, "  login latency            {}", t.login);
    let _ = writeln!(out, "  server `accept failed`   {accept_errors} log line(s)");
    Ok(out)
}

fn transport(o: &Opts) -> String {
    match o.tls.as_deref() {
        None => "plain TCP".into(),
        Some("rsa") => "TLS 1.3, RSA 2048 server key".into(),
        Some(_) => "TLS 1.3, ECDSA P-256 server key".into(),
    }
}

/// A CA and a server certificate for `localhost`/127.0.0.1 (`key`: "ecdsa" or "rsa") in `dir`,
/// made with `openssl`; the gateway's config file naming them. Returns (CA path, config path).
fn tls_files(dir: &Path, key: &str) -> Result<(PathBuf, PathBuf)> {
    fs::create_dir_all(dir)?;
    let openssl = |args: &[&str]| -> Result {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map_err(|e| format!("--tls needs the `openssl` command (cargo xtask setup installs it): {e}"))?;
        if !out.status.success() {
            return Err(format!("openssl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(())
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=gb32960-load-ca",
        "-days",
        "2",
    ])?;
    if key == "rsa" {
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "server.key",
        ])?;
    } else {
        openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "server.key",
        ])?;
    }
    openssl(&[
        "req",
        "-new",
        "-key",
        "server.key",
        "-subj",
        "/CN=localhost",
        "-out",
        "server.csr",
    ])?;
    fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-set_serial",
        "0x2001",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.pem",
    ])?;
    let chain = format!(
        "{}{}",
        fs::read_to_string(dir.join("server.pem"))?,
        fs::read_to_string(dir.join("ca.pem"))?
    );
    fs::write(dir.join("chain.pem"), chain)?;
    let config = dir.join("gateway.toml");
    fs::write(
        &config,
        format!(
            "[[gateways]]\nname = \"load_tls\"\ntransport = \"tls\"\n\n[gateways.tls]\ncert = {:?}\nkey = {:?}\n",
            dir.join("chain.pem").display().to_string(),
            dir.join("server.key").display().to_string()
        ),
    )?;
    Ok((dir.join("ca.pem"), config))
}

#[derive(Debug, Clone, Default)]
struct Sample {
    at: f64,
    sessions: u64,
    connections: u64,
    rss_kib: u64,
    sim_rss_kib: u64,
    tcp_mem_kib: u64,
}

/// Least-squares slope of y over x, if x varies enough.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 3 {
        return None;
    }
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (x, y) in points {
        sxx += (x - mx) * (x - mx);
        sxy += (x - mx) * (y - my);
    }
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Memory of all TCP sockets of the machine (`mem` of /proc/net/sockstat, in pages of 4 KiB).
fn tcp_mem_kib() -> u64 {
    let text = fs::read_to_string("/proc/net/sockstat").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("TCP:"))
        .and_then(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let i = f.iter().position(|w| *w == "mem")?;
            f.get(i + 1)?.parse::<u64>().ok()
        })
        .map_or(0, |pages| pages * 4)
}
