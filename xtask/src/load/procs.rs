//! The processes of a load run: the gateway and the sims, killed when dropped.

use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::*;

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// A child that is killed (and reaped) when dropped, so that an error or a panic in the harness
/// never leaves a gateway or a fleet behind.
pub(super) struct Guarded {
    pub(super) name: String,
    pub(super) child: Child,
}

impl Guarded {
    /// Starts `bin args` with the soft open-file limit raised to the hard one, stdout and stderr
    /// into files.
    pub(super) fn spawn(name: &str, bin: &Path, args: &[String], stdout: &Path, stderr: &Path) -> Result<Self> {
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

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `deadline`; then kills. Returns the exit status if it exited by itself.
    pub(super) fn wait_until(&mut self, deadline: Instant) -> Result<Option<ExitStatus>> {
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
    pub(super) fn terminate(&mut self, grace: Duration) {
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
pub(super) struct Server {
    pub(super) proc: Guarded,
    pub(super) dir: PathBuf,
    pub(super) gateway: SocketAddr,
    pub(super) api: SocketAddr,
    pub(super) keep: bool,
    /// The CA the sims trust when the gateway speaks TLS.
    pub(super) tls_ca: Option<PathBuf>,
}

impl Server {
    /// `tls`: serve the gateway over TLS with a server key of this kind ("ecdsa" or "rsa").
    pub(super) fn start(bin: &Path, label: &str, keep: bool, tls: Option<&str>) -> Result<Self> {
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

    pub(super) fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub(super) fn api_url(&self) -> String {
        format!("http://{}", self.api)
    }

    pub(super) fn metrics_text(&self) -> Result<String> {
        harness::get(self.api, "/metrics", None)
    }

    /// A gauge or counter without labels.
    pub(super) fn metric(&self, name: &str) -> Option<f64> {
        metric_value(&self.metrics_text().ok()?, name)
    }

    /// Vehicles logged in now (`GET /api/v1/sessions`).
    pub(super) fn sessions(&self) -> Result<u64> {
        let body = harness::get(self.api, "/api/v1/sessions", Some(API_TOKEN))?;
        Ok(body.matches("\"conn_id\":").count() as u64)
    }

    /// Rows of the `frames` table, read from the SQLite file beside the running gateway.
    pub(super) fn frame_rows(&self) -> Result<u64> {
        self.count("SELECT count(*) FROM frames")
    }

    /// Rows of real-time and reissued reports (0x02, 0x03).
    pub(super) fn report_rows(&self) -> Result<u64> {
        self.count("SELECT count(*) FROM frames WHERE command IN (2, 3)")
    }

    pub(super) fn count(&self, sql: &str) -> Result<u64> {
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

    pub(super) fn log_lines_containing(&self, needle: &str) -> usize {
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
pub(super) struct SimRun {
    pub(super) prefix: String,
    pub(super) vehicles: u32,
    pub(super) period: u64,
    pub(super) heartbeat: u32,
    pub(super) duration: u64,
    pub(super) ramp: f64,
    pub(super) source_ips: Option<String>,
}

pub(super) struct RunningSim {
    pub(super) child: Guarded,
    pub(super) stdout: PathBuf,
    pub(super) stderr: PathBuf,
    pub(super) duration: u64,
    pub(super) cpu_s: f64,
}

impl SimRun {
    pub(super) fn spawn(&self, bin: &Path, server: &Server, edition: &str, index: u32) -> Result<RunningSim> {
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
pub(super) fn wait_sims(sims: &mut [RunningSim], slack: Duration) -> Result<Vec<String>> {
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
