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
use std::fs::{self, File};
use std::io::{Read, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{Cmd, Ctx, Result};

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

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// A child that is killed (and reaped) when dropped, so that an error or a panic in the harness
/// never leaves a gateway or a fleet behind.
struct Guarded {
    name: String,
    child: Child,
}

impl Guarded {
    /// Starts `bin args` with the soft open-file limit raised to the hard one, stdout and stderr
    /// into files.
    fn spawn(name: &str, bin: &Path, args: &[String], stdout: &Path, stderr: &Path) -> Result<Self> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$0\" \"$@\"")
            .arg(bin)
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(File::create(stdout)?)
            .stderr(File::create(stderr)?);
        println!("+ {} {}", bin.display(), args.join(" "));
        let child = cmd.spawn().map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Guarded {
            name: name.to_owned(),
            child,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `deadline`; then kills. Returns the exit status if it exited by itself.
    fn wait_until(&mut self, deadline: Instant) -> Result<Option<ExitStatus>> {
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                println!("{} did not stop in time: killing it", self.name);
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Ok(None);
            }
            sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM (through `kill`, the harness is std only), then SIGKILL after `grace`.
    fn terminate(&mut self, grace: Duration) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
            let _ = self.wait_until(Instant::now() + grace);
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `serve` with its own data directory and ports.
struct Server {
    proc: Guarded,
    dir: PathBuf,
    gateway: SocketAddr,
    api: SocketAddr,
    keep: bool,
    /// The CA the sims trust when the gateway speaks TLS.
    tls_ca: Option<PathBuf>,
}

impl Server {
    /// `tls`: serve the gateway over TLS with a server key of this kind ("ecdsa" or "rsa").
    fn start(bin: &Path, label: &str, keep: bool, tls: Option<&str>) -> Result<Self> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
        let dir = std::env::temp_dir().join(format!("gb32960-load-{label}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(dir.join("data"))?;
        let gateway = free_port()?;
        let api = free_port()?;
        let mut args = vec![
            "serve".to_owned(),
            "--data-dir".into(),
            dir.join("data").display().to_string(),
            "--listen".into(),
            gateway.to_string(),
            "--api-listen".into(),
            api.to_string(),
            "--api-token".into(),
            API_TOKEN.into(),
        ];
        let mut tls_ca = None;
        if let Some(key) = tls {
            // The file's only gateway is the first one, so `--listen` puts it on `gateway`.
            let (ca, config) = tls_files(&dir.join("tls"), key)?;
            args.extend(["--config".into(), config.display().to_string()]);
            tls_ca = Some(ca);
        }
        let proc = Guarded::spawn("serve", bin, &args, &dir.join("serve.out"), &dir.join("serve.log"))?;
        let server = Server {
            proc,
            dir,
            gateway,
            api,
            keep,
            tls_ca,
        };
        let up = wait_until(Duration::from_secs(30), || server.metrics_text().is_ok());
        if !up {
            let log = fs::read_to_string(server.dir.join("serve.log")).unwrap_or_default();
            return Err(format!(
                "serve did not answer on {} within 30 s:\n{}",
                server.api,
                tail(&log, 20)
            )
            .into());
        }
        let (soft, hard) = process_nofile(server.pid()).unwrap_or((0, 0));
        println!(
            "serve up: pid {}, gateway {gateway}, api {api}, open files soft {soft} hard {hard}, dir {}",
            server.pid(),
            server.dir.display()
        );
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.proc.pid()
    }

    fn api_url(&self) -> String {
        format!("http://{}", self.api)
    }

    fn metrics_text(&self) -> Result<String> {
        http_get(self.api, "/metrics", None)
    }

    /// A gauge or counter without labels.
    fn metric(&self, name: &str) -> Option<f64> {
        metric_value(&self.metrics_text().ok()?, name)
    }

    /// Vehicles logged in now (`GET /api/v1/sessions`).
    fn sessions(&self) -> Result<u64> {
        let body = http_get(self.api, "/api/v1/sessions", Some(API_TOKEN))?;
        Ok(body.matches("\"conn_id\":").count() as u64)
    }

    /// Rows of the `frames` table, read from the SQLite file beside the running gateway.
    fn frame_rows(&self) -> Result<u64> {
        self.count("SELECT count(*) FROM frames")
    }

    /// Rows of real-time and reissued reports (0x02, 0x03).
    fn report_rows(&self) -> Result<u64> {
        self.count("SELECT count(*) FROM frames WHERE command IN (2, 3)")
    }

    fn count(&self, sql: &str) -> Result<u64> {
        let db = self.dir.join("data").join("gateway.db");
        let out = Command::new("sqlite3")
            .args(["-readonly", "-cmd", ".timeout 10000"])
            .arg(&db)
            .arg(sql)
            .output();
        let text = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            _ => {
                let py =
                    "import sqlite3,sys; c=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro', uri=True, timeout=10); \
                          print(c.execute(sys.argv[2]).fetchone()[0])";
                let o = Command::new("python3").args(["-c", py]).arg(&db).arg(sql).output()?;
                if !o.status.success() {
                    return Err(format!(
                        "cannot count rows in {}: neither sqlite3 nor python3 worked",
                        db.display()
                    )
                    .into());
                }
                String::from_utf8_lossy(&o.stdout).into_owned()
            }
        };
        text.trim()
            .parse()
            .map_err(|_| format!("unexpected row count `{}`", text.trim()).into())
    }

    fn log_lines_containing(&self, needle: &str) -> usize {
        fs::read_to_string(self.dir.join("serve.log"))
            .map(|t| t.lines().filter(|l| l.contains(needle)).count())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.proc.terminate(Duration::from_secs(15));
        if self.keep {
            println!("kept {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// One `sim` process.
struct SimRun {
    prefix: String,
    vehicles: u32,
    period: u64,
    heartbeat: u32,
    duration: u64,
    ramp: f64,
    source_ips: Option<String>,
}

struct RunningSim {
    child: Guarded,
    stdout: PathBuf,
    stderr: PathBuf,
    duration: u64,
    cpu_s: f64,
}

impl SimRun {
    fn spawn(&self, bin: &Path, server: &Server, edition: &str, index: u32) -> Result<RunningSim> {
        let mut args: Vec<String> = vec![
            "sim".into(),
            "--gateway".into(),
            server.gateway.to_string(),
            "--vehicles".into(),
            self.vehicles.to_string(),
            "--period".into(),
            self.period.to_string(),
            "--duration".into(),
            self.duration.to_string(),
            "--edition".into(),
            edition.into(),
            "--register".into(),
            server.api_url(),
            "--api-token".into(),
            API_TOKEN.into(),
            "--ramp".into(),
            format!("{:.1}", self.ramp),
            "--heartbeat".into(),
            self.heartbeat.to_string(),
            "--vin-prefix".into(),
            self.prefix.clone(),
            "--json".into(),
        ];
        if let Some(ips) = &self.source_ips {
            args.extend(["--source-ip".into(), ips.clone()]);
        }
        if let Some(ca) = &server.tls_ca {
            args.extend(["--tls-ca".into(), ca.display().to_string()]);
        }
        let stdout = server.dir.join(format!("sim{index}.json"));
        let stderr = server.dir.join(format!("sim{index}.log"));
        let child = Guarded::spawn(&format!("sim {index}"), bin, &args, &stdout, &stderr)?;
        Ok(RunningSim {
            child,
            stdout,
            stderr,
            duration: self.duration,
            cpu_s: 0.0,
        })
    }
}

/// Waits for every sim (each gets its duration plus `slack`, registration included) and reads
/// their `--json` summaries.
fn wait_sims(sims: &mut [RunningSim], slack: Duration) -> Result<Vec<String>> {
    let start = Instant::now();
    let mut out = Vec::new();
    for sim in sims.iter_mut() {
        let deadline = start + Duration::from_secs(sim.duration) + slack;
        // The CPU time has to be read while the process exists: poll it until exit.
        let mut ticks = 0;
        let status = loop {
            if let Some(t) = cpu_ticks(sim.child.pid()) {
                ticks = t;
            }
            if let Some(status) = sim.child.child.try_wait()? {
                break Some(status);
            }
            if Instant::now() >= deadline {
                break sim.child.wait_until(deadline)?;
            }
            sleep(Duration::from_millis(200));
        };
        sim.cpu_s = ticks as f64 / clock_ticks();
        let json = fs::read_to_string(&sim.stdout).unwrap_or_default();
        let log = fs::read_to_string(&sim.stderr).unwrap_or_default();
        match status {
            Some(s) if s.success() => {}
            Some(s) => println!(
                "{} exited with {s}; its stderr ends with:\n{}",
                sim.child.name,
                tail(&log, 10)
            ),
            None => println!("{} was killed at its deadline", sim.child.name),
        }
        if json.trim().is_empty() {
            return Err(format!("{} printed no statistics; stderr:\n{}", sim.child.name, tail(&log, 20)).into());
        }
        out.push(json);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Reading the figures
// ---------------------------------------------------------------------------------------------

/// The sims' counters added up; latency quantiles cannot be merged, so with several processes
/// the worst p99 and max are shown.
#[derive(Default)]
struct SimTotals {
    frames_sent: u64,
    reports_sent: u64,
    logins_sent: u64,
    heartbeats_sent: u64,
    logged_in: u64,
    logins: u64,
    login_failures: u64,
    connect_failures: u64,
    disconnects: u64,
    errors: u64,
    login: String,
    answer: String,
}

impl SimTotals {
    fn of(summaries: &[String]) -> Self {
        let mut t = SimTotals::default();
        let (mut login, mut answer) = (Vec::new(), Vec::new());
        for s in summaries {
            let n = |k: &str| json_number(s, k).unwrap_or(0.0) as u64;
            t.frames_sent += n("frames_sent");
            t.reports_sent += n("reports_sent");
            t.logins_sent += n("logins_sent");
            t.heartbeats_sent += n("heartbeats_sent");
            t.logged_in += n("vehicles_logged_in");
            t.logins += n("logins");
            t.login_failures += n("login_failures");
            t.connect_failures += n("connect_failures");
            t.disconnects += n("disconnects");
            t.errors += n("errors");
            login.push(latency(s, "login_latency"));
            answer.push(latency(s, "answer_latency"));
        }
        t.login = login.join(" | ");
        t.answer = answer.join(" | ");
        t
    }
}

fn latency(json: &str, key: &str) -> String {
    let Some(start) = json.find(&format!("\"{key}\":{{")) else {
        return "n/a".into();
    };
    let obj = &json[start..];
    let obj = &obj[..obj.find('}').unwrap_or(obj.len())];
    let f = |k: &str| json_number(obj, k).unwrap_or(f64::NAN);
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n={})",
        f("p50_ms"),
        f("p99_ms"),
        f("max_ms"),
        f("count")
    )
}

/// The first number after `"key":` in a JSON text (enough for the sim's flat summary).
fn json_number(json: &str, key: &str) -> Option<f64> {
    let pat = format!("\"{key}\":");
    let at = json.find(&pat)? + pat.len();
    let rest = json[at..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A sample without labels from the Prometheus text format.
fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let rest = rest.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Count, mean and bucket-bounded quantiles of a Prometheus histogram.
struct HistogramSummary {
    count: f64,
    sum: f64,
    buckets: Vec<(f64, f64)>,
}

impl HistogramSummary {
    fn parse(text: &str, name: &str) -> Self {
        let mut buckets = Vec::new();
        let bucket = format!("{name}_bucket{{le=\"");
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix(&bucket) {
                let Some((le, value)) = rest.split_once("\"}") else {
                    continue;
                };
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap_or(f64::NAN)
                };
                if let Some(v) = value.split_whitespace().next().and_then(|v| v.parse().ok()) {
                    buckets.push((le, v));
                }
            }
        }
        HistogramSummary {
            count: metric_value(text, &format!("{name}_count")).unwrap_or(0.0),
            sum: metric_value(text, &format!("{name}_sum")).unwrap_or(0.0),
            buckets,
        }
    }

    /// The upper bound of the bucket holding quantile `q`.
    fn quantile(&self, q: f64) -> f64 {
        let rank = q * self.count;
        self.buckets
            .iter()
            .find(|(_, c)| *c >= rank)
            .map_or(f64::NAN, |(le, _)| *le)
    }
}

impl std::fmt::Display for HistogramSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.count == 0.0 {
            return write!(f, "n/a (no store_write_seconds in /metrics)");
        }
        write!(
            f,
            "{:.0} transactions, mean {:.2} ms, p50 ≤ {:.2} ms, p99 ≤ {:.2} ms (histogram bucket bounds)",
            self.count,
            self.sum / self.count * 1e3,
            self.quantile(0.5) * 1e3,
            self.quantile(0.99) * 1e3,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers: HTTP, /proc, ports
// ---------------------------------------------------------------------------------------------

/// A bounded `GET` (HTTP/1.0, so the body ends at EOF) returning the body of a 200 answer.
fn http_get(addr: SocketAddr, path: &str, token: Option<&str>) -> Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("malformed HTTP answer")?;
    let status = head.split_whitespace().nth(1).unwrap_or("?");
    if status != "200" {
        return Err(format!("GET {path}: HTTP {status}").into());
    }
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.to_ascii_lowercase().contains("chunked")
    });
    Ok(if chunked { dechunk(body) } else { body.to_owned() })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn free_port() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        sleep(Duration::from_millis(250));
    }
    false
}

fn status_field_kib(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim().trim_end_matches("kB").trim().parse().ok())
}

fn rss_kib(pid: u32) -> Option<u64> {
    status_field_kib(pid, "VmRSS:")
}

fn hwm_kib(pid: u32) -> Option<u64> {
    status_field_kib(pid, "VmHWM:")
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn cpu_s(a: Option<u64>, b: Option<u64>) -> f64 {
    match (a, b) {
        (Some(a), Some(b)) => b.saturating_sub(a) as f64 / clock_ticks(),
        _ => f64::NAN,
    }
}

fn cpu_pct(a: Option<u64>, b: Option<u64>, secs: f64) -> f64 {
    cpu_s(a, b) / secs * 100.0
}

fn limits_line(text: &str) -> Option<(u64, u64)> {
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
fn process_nofile(pid: u32) -> Option<(u64, u64)> {
    limits_line(&fs::read_to_string(format!("/proc/{pid}/limits")).ok()?)
}

/// (soft, hard) open-file limits of this process (the children inherit the hard one).
fn nofile_limits() -> (u64, u64) {
    fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| limits_line(&t))
        .unwrap_or((1024, 1024))
}

fn read_trim(path: &str) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into())
}

/// What limits a load test on this machine, for the record.
fn machine_facts() -> String {
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

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
