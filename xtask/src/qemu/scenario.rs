//! One run of the firmware against the real gateway, as a list of named checks: login,
//! reported values, reissue after a gateway restart, a report-period change, a disconnect
//! command, a commanded shutdown (logout); over TLS first a gateway certificate from another CA.
//!
//! Every check can fail and every wait is bounded. When a check fails, the later ones of the
//! run are recorded as failed ("not run"), never as passed.

use std::collections::BTreeSet;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::certs::TestPki;
use super::expect::{self, Report};
use super::gateway::Gateway;
use super::guest::{uptime_ms, Guest, GUEST_GATEWAY, GUEST_PORT};
use crate::harness::{free_port, poll};
use crate::Result;

/// The factory report period the test firmware is built with, and the one set through the API.
pub const FACTORY_PERIOD_S: i64 = 5;
const NEW_PERIOD_S: i64 = 3;
/// Reports the firmware must store while the gateway is down.
const OUTAGE_REPORTS: usize = 4;
/// The firmware's wait after a disconnect command (`DISCONNECT_HOLD_MS`).
const DISCONNECT_HOLD_MS: u64 = 10_000;
/// The longest any single wait of a check may take.
const WAIT: Duration = Duration::from_secs(60);

/// A check's outcome: a detail line when it passed.
pub struct Check {
    pub name: String,
    pub result: std::result::Result<String, String>,
}

/// Figures a run measures for docs/BENCHMARKS.md.
#[derive(Default, Clone, Copy)]
pub struct Figures {
    /// Guest milliseconds from reset to the first acknowledged login (warped clock: inflated
    /// by every wait on the host).
    pub login_guest_ms: Option<u64>,
    /// Wall milliseconds from starting QEMU to that login's log line.
    pub login_wall_ms: Option<u64>,
    /// Guest milliseconds from reset to the first acknowledged login on a real-time clock
    /// (no `-icount`): the boot-to-login time.
    pub login_realtime_ms: Option<u64>,
    /// Deepest stack use seen at the commanded power-off.
    pub stack_high_water: Option<u64>,
}

/// What a run needs.
pub struct Setup<'a> {
    pub gateway_bin: &'a Path,
    pub dir: &'a Path,
    pub elf: &'a Path,
    pub vin: &'a str,
    pub iccid: &'a str,
    /// TLS: the test certificates (and so a TLS gateway); `None`: plain TCP.
    pub pki: Option<&'a TestPki>,
    /// The edition the firmware was built for: 2016, or 2025 (feature `edition-2025`).
    pub edition: u16,
    /// What the checks' names start with (`tcp`, `tls`, `tcp-2025`, `tls-2025`).
    pub label: &'static str,
}

struct Run {
    label: &'static str,
    checks: Vec<Check>,
    failed: bool,
    figures: Figures,
}

impl Run {
    fn check(&mut self, name: &str, f: impl FnOnce(&mut Figures) -> std::result::Result<String, String>) {
        let name = format!("{}: {name}", self.label);
        let result = if self.failed {
            Err("not run: an earlier check of this run failed".to_owned())
        } else {
            let started = Instant::now();
            let r = f(&mut self.figures).map(|d| format!("{d} [{:.1} s]", started.elapsed().as_secs_f64()));
            self.failed = r.is_err();
            r
        };
        match &result {
            Ok(detail) => println!("  ok      {name}: {detail}"),
            Err(e) => println!("  FAILED  {name}: {e}"),
        }
        self.checks.push(Check { name, result });
    }
}

/// The TLS gateway's configuration in `dir`, requiring device certificates and serving the
/// server certificate of the firmware's CA, or with `rogue` one from another CA.
fn write_tls_config(dir: &Path, port: u16, pki: &TestPki, rogue: bool) -> Result<PathBuf> {
    let (chain, key) = if rogue {
        (&pki.rogue_chain, &pki.rogue_key)
    } else {
        (&pki.server_chain, &pki.server_key)
    };
    let toml = format!(
        "[[gateways]]\nname = \"qemu_tls\"\nhost = \"127.0.0.1\"\nport = {port}\ntransport = \"tls\"\n\
         auth_type = \"one_way\"\n\n[gateways.tls]\ncert = {chain:?}\nkey = {key:?}\nclient_ca = {ca:?}\n\
         vin_match = \"cn\"\nversions = [\"1.3\"]\nmax_fragment_size = 4096\n",
        chain = chain.display().to_string(),
        key = key.display().to_string(),
        ca = pki.client_ca.display().to_string(),
    );
    let path = dir.join("gateway.toml");
    fs::write(&path, toml)?;
    Ok(path)
}

/// A gateway for `setup` keeping its data in `dir`, listening on `listen` (TCP, or TLS with
/// the certificate `write_tls_config` picks by `rogue`), started, the device imported.
fn start_gateway(setup: &Setup<'_>, dir: &Path, listen: SocketAddr, rogue: bool) -> Result<Gateway> {
    let config = match setup.pki {
        Some(pki) => Some(write_tls_config(dir, listen.port(), pki, rogue)?),
        None => None,
    };
    let mut gw = Gateway::new(setup.gateway_bin, dir, listen, free_port()?, config.as_deref())?;
    gw.start()?;
    gw.import(setup.vin, setup.iccid)?;
    Ok(gw)
}

/// Boots the firmware once more on a real-time clock against a fresh gateway (with the right
/// certificate) and measures reset to first acknowledged login.
pub fn login_time(setup: &Setup<'_>) -> Result<(Check, Option<u64>)> {
    let dir = setup.dir.join("login-time");
    fs::create_dir_all(&dir)?;
    let listen = free_port()?;
    let mut gw = start_gateway(setup, &dir, listen, false)?;
    let guest = Guest::start(setup.elf, listen.port(), &dir.join("firmware.log"), false)?;
    let label = setup.label;
    let found = guest.wait_for(0, "login: first acknowledged login", WAIT);
    drop(guest);
    let _ = gw.stop();
    let ms = found.as_ref().and_then(|(_, line, _)| first_login_ms(line));
    let result = match ms {
        Some(ms) => Ok(format!("{ms} ms from reset to the first acknowledged login")),
        None => Err("no acknowledged login on a real-time clock".to_owned()),
    };
    let name = format!("{label}: boots and logs in on a real-time clock (no -icount)");
    match &result {
        Ok(detail) => println!("  ok      {name}: {detail}"),
        Err(e) => println!("  FAILED  {name}: {e}"),
    }
    Ok((Check { name, result }, ms))
}

/// The milliseconds in the firmware's `login: first acknowledged login N ms after boot`.
fn first_login_ms(line: &str) -> Option<u64> {
    line.split("login ").nth(1)?.split(" ms").next()?.trim().parse().ok()
}

/// Runs the whole sequence; returns the checks and the figures.
pub fn run(setup: &Setup<'_>) -> Result<(Vec<Check>, Figures)> {
    let label = setup.label;
    fs::create_dir_all(setup.dir)?;
    let listen = free_port()?;
    // Over TLS, first with a certificate from another CA: the firmware must refuse it.
    let mut gw = start_gateway(setup, setup.dir, listen, true)?;
    let api = gw.api;
    println!(
        "{label}: gateway on {listen} (API {api}), firmware dials {GUEST_GATEWAY}:{GUEST_PORT}, logs in {}",
        setup.dir.display()
    );
    let mut guest = Guest::start(setup.elf, listen.port(), &setup.dir.join("firmware.log"), true)?;
    let mut run = Run {
        label,
        checks: Vec::new(),
        failed: false,
        figures: Figures::default(),
    };
    let vin = setup.vin;

    if let Some(pki) = setup.pki {
        run.check(
            "a gateway certificate from another CA is refused by the firmware",
            |_| wrong_ca(&guest, &gw, vin),
        );
        run.check("the gateway comes back with the right certificate", |_| {
            gw.stop().map_err(|e| e.to_string())?;
            write_tls_config(setup.dir, listen.port(), pki, false).map_err(|e| e.to_string())?;
            gw.start().map_err(|e| e.to_string())?;
            Ok("restarted with the server certificate of the firmware's CA".into())
        });
    }
    run.check("the vehicle logs in", |fig| login(&guest, &gw, vin, setup.edition, fig));
    if setup.edition == 2025 {
        run.check("the vehicle activates with its SM2 public key", |_| {
            activation(&guest, &gw, vin)
        });
    }
    run.check("real-time reports carry the simulated vehicle's values", |_| {
        values(&gw, vin, setup.edition)
    });
    run.check(
        "a cut link (gateway restart) is followed by a reissue, nothing lost or duplicated",
        |_| reissue(&guest, &mut gw, vin, setup.edition),
    );
    run.check("a report-period change from the API takes effect", |_| {
        period(&guest, &gw, vin, setup.edition)
    });
    run.check("a disconnect command is obeyed", |_| disconnect(&guest, &gw, vin));
    run.check("a shutdown command logs out and powers off", |fig| {
        shutdown(&mut guest, &gw, vin, fig)
    });
    let _ = gw.stop();
    Ok((run.checks, run.figures))
}

fn wrong_ca(guest: &Guest, gw: &Gateway, vin: &str) -> std::result::Result<String, String> {
    let (_, line, _) = guest
        .wait_for(0, "tls: handshake failed", WAIT)
        .ok_or("the firmware never reported a failed handshake")?;
    if !line.contains("InvalidCertificate") {
        return Err(format!("the handshake failed for another reason: {line}"));
    }
    // A second refusal: it keeps refusing, it did not get in between.
    guest
        .wait_for(guest.len(), "tls: handshake failed: InvalidCertificate", WAIT)
        .ok_or("no second refusal")?;
    let logins = gw.messages(vin, 1).map_err(|e| e.to_string())?;
    if !logins.is_empty() || guest.count(0, "login: acknowledged") > 0 {
        return Err(format!("{} logins reached the gateway", logins.len()));
    }
    Ok(format!(
        "firmware: \"{}\"; no login reached the gateway",
        line.split("] ").nth(1).unwrap_or(&line)
    ))
}

fn login(guest: &Guest, gw: &Gateway, vin: &str, ed: u16, fig: &mut Figures) -> std::result::Result<String, String> {
    let (_, line, at) = guest
        .wait_for(0, "login: first acknowledged login", WAIT)
        .ok_or("no acknowledged login")?;
    let guest_ms = first_login_ms(&line).ok_or(format!("cannot read the time in {line:?}"))?;
    fig.login_guest_ms = Some(guest_ms);
    fig.login_wall_ms = Some(at.duration_since(guest.started).as_millis() as u64);
    let session = poll(WAIT, || gw.session(vin).ok().flatten()).ok_or("the gateway never showed the vehicle online")?;
    let logins = gw.messages(vin, 1).map_err(|e| e.to_string())?;
    if logins.is_empty() {
        return Err("no login frame stored".into());
    }
    if let Some(other) = logins
        .iter()
        .find(|l| l["frame"]["edition"].as_str().and_then(|e| e.parse().ok()) != Some(ed))
    {
        return Err(format!("a login of edition {}, not {ed}", other["frame"]["edition"]));
    }
    Ok(format!(
        "online as conn {} from {}; first login acknowledged {guest_ms} ms after reset (guest), {} ms wall",
        session["conn_id"],
        session["peer"].as_str().unwrap_or("?"),
        fig.login_wall_ms.unwrap_or(0)
    ))
}

/// 2025: the activation (0x09) reached the gateway, which verified its signature with the key
/// it carries, answered success and recorded chip and key for the reports' signatures.
fn activation(guest: &Guest, gw: &Gateway, vin: &str) -> std::result::Result<String, String> {
    guest
        .wait_for(0, "activation: answered (status 1", WAIT)
        .ok_or("the firmware saw no successful activation answer")?;
    let frames = gw.messages(vin, 9).map_err(|e| e.to_string())?;
    let first = frames.last().ok_or("no activation frame stored")?;
    if first["frame"]["edition"] != "2025" {
        return Err(format!("an activation of edition {}", first["frame"]["edition"]));
    }
    let device = gw.get(&format!("/api/v1/devices/{vin}")).map_err(|e| e.to_string())?;
    let act = &device["device"]["metadata"]["activation"];
    let key = act["public_key"]
        .as_str()
        .ok_or(format!("no activation recorded: {device}"))?;
    if key.len() != 128 || act["signature_algorithm"] != 1 {
        return Err(format!("recorded activation {act}"));
    }
    Ok(format!(
        "0x09 signed, verified and answered 0x0A success; the gateway holds chip {} and SM2 key {}…",
        act["chip_id"].as_str().unwrap_or("?").trim(),
        &key[..16]
    ))
}

/// Every stored report (0x02 and 0x03), each checked against the oracle.
fn reports(gw: &Gateway, vin: &str, edition: u16) -> std::result::Result<Vec<Report>, String> {
    let mut out = Vec::new();
    for command in [2, 3] {
        for item in gw.messages(vin, command).map_err(|e| e.to_string())? {
            out.push(expect::report(&item, edition)?);
        }
    }
    out.sort_by_key(|r| (r.k, r.command));
    Ok(out)
}

fn values(gw: &Gateway, vin: &str, ed: u16) -> std::result::Result<String, String> {
    poll(WAIT, || {
        let r = reports(gw, vin, ed).ok()?;
        (r.iter().filter(|r| r.command == 2).count() >= 4).then_some(())
    })
    .ok_or("fewer than 4 real-time reports arrived")?;
    // Checked again, so that a mismatch is reported rather than waited out.
    let all = reports(gw, vin, ed)?;
    let live = all.iter().filter(|r| r.command == 2).count();
    Ok(format!(
        "{} reports ({live} real-time, {} reissued), every field as sample k of the vehicle (k = {}..={})",
        all.len(),
        all.len() - live,
        all.first().map_or(0, |r| r.k),
        all.last().map_or(0, |r| r.k)
    ))
}

/// Samples 0..=max each exactly once, with sampling times rising with k.
fn complete(reports: &[Report]) -> std::result::Result<u64, String> {
    let ks: BTreeSet<u64> = reports.iter().map(|r| r.k).collect();
    if ks.len() != reports.len() {
        return Err(format!(
            "{} reports for {} samples: duplicates",
            reports.len(),
            ks.len()
        ));
    }
    let max = ks.last().copied().ok_or("no reports")?;
    if ks.len() as u64 != max + 1 {
        let missing: Vec<u64> = (0..=max).filter(|k| !ks.contains(k)).take(10).collect();
        return Err(format!("samples missing: {missing:?}"));
    }
    if let Some(w) = reports.windows(2).find(|w| w[1].time <= w[0].time) {
        return Err(format!("sample {} is not later than sample {}", w[1].k, w[0].k));
    }
    Ok(max)
}

fn reissue(guest: &Guest, gw: &mut Gateway, vin: &str, ed: u16) -> std::result::Result<String, String> {
    let before = reports(gw, vin, ed)?;
    let cut_k = before.iter().map(|r| r.k).max().ok_or("no reports before the cut")?;
    let mark = guest.len();
    let down = Instant::now();
    gw.stop().map_err(|e| e.to_string())?;
    guest
        .wait_for(mark, "link: ", WAIT)
        .ok_or("the firmware did not notice the cut")?;
    poll(WAIT, || {
        (guest.count(mark, "report: sampled, stored") >= OUTAGE_REPORTS).then_some(())
    })
    .ok_or("the firmware did not store reports while the gateway was down")?;
    let stored = guest.count(mark, "report: sampled, stored");
    gw.start().map_err(|e| e.to_string())?;
    let outage = down.elapsed();
    guest
        .wait_for(mark, "login: acknowledged", WAIT)
        .ok_or("no login after the gateway came back")?;
    let mut last = String::new();
    let done = poll(WAIT, || match reports(gw, vin, ed) {
        Ok(all) => {
            let reissued = all.iter().filter(|r| r.command == 3 && r.k > cut_k).count();
            match complete(&all) {
                Ok(max) if reissued >= stored => Some((all, max, reissued)),
                Ok(_) => {
                    last = format!("{reissued} of {stored} stored reports reissued");
                    None
                }
                Err(e) => {
                    last = e;
                    None
                }
            }
        }
        Err(e) => {
            last = e;
            None
        }
    });
    let (all, max, reissued) = done.ok_or(format!("after the restart: {last}"))?;
    // Once more after a pause: nothing arrives twice late.
    sleep(Duration::from_millis(500));
    complete(&reports(gw, vin, ed)?)?;
    Ok(format!(
        "gateway down {:.1} s; {stored} reports stored meanwhile, {reissued} reissued as 0x03; samples 0..={max} \
         stored once each ({} frames), sampling times rising",
        outage.as_secs_f64(),
        all.len()
    ))
}

fn answered(status: u16, outcome: &Value, what: &str) -> std::result::Result<(), String> {
    if status != 200 || outcome["status"] != "answered" || outcome["flag"] != 1 {
        return Err(format!("{what}: HTTP {status}, {outcome}"));
    }
    Ok(())
}

fn period(guest: &Guest, gw: &Gateway, vin: &str, ed: u16) -> std::result::Result<String, String> {
    let mark = guest.len();
    let (status, outcome) = gw
        .command(
            vin,
            &json!({ "command": "set", "params": [{ "id": 2, "value": NEW_PERIOD_S }] }),
        )
        .map_err(|e| e.to_string())?;
    answered(status, &outcome, "parameter set")?;
    guest
        .wait_for(mark, &format!("params: saved (report period {NEW_PERIOD_S} s"), WAIT)
        .ok_or("the firmware did not save the new period")?;
    let mut last = String::new();
    let intervals = poll(WAIT, || {
        let all = reports(gw, vin, ed).ok()?;
        let deltas: Vec<i64> = all.windows(2).map(|w| w[1].time - w[0].time).collect();
        let tail = deltas.iter().rev().take_while(|&&d| d == NEW_PERIOD_S).count();
        last = format!("intervals {:?}", &deltas[deltas.len().saturating_sub(8)..]);
        (tail >= 3).then_some((deltas, tail))
    })
    .ok_or(format!("no run of {NEW_PERIOD_S} s intervals: {last}"))?;
    let (deltas, tail) = intervals;
    // Before the switch (one interval of any length), every interval is the factory period.
    let before = &deltas[..deltas.len() - tail - 1];
    if let Some(d) = before.iter().find(|&&d| d != FACTORY_PERIOD_S) {
        return Err(format!("an interval of {d} s before the change (intervals {deltas:?})"));
    }
    let (status, outcome) = gw
        .command(vin, &json!({ "command": "query", "params": [2] }))
        .map_err(|e| e.to_string())?;
    answered(status, &outcome, "parameter query")?;
    let value = outcome["frame"]["body"]["params"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["id"] == 2))
        .map(|p| p["value"].clone())
        .ok_or(format!("no parameter 2 in the answer: {outcome}"))?;
    if value != NEW_PERIOD_S {
        return Err(format!("the query answers period {value}"));
    }
    Ok(format!(
        "0x81 answered; {} intervals of {FACTORY_PERIOD_S} s, then {tail} of {NEW_PERIOD_S} s; 0x80 reads {value}",
        before.len()
    ))
}

fn disconnect(guest: &Guest, gw: &Gateway, vin: &str) -> std::result::Result<String, String> {
    let session = gw.session(vin).map_err(|e| e.to_string())?.ok_or("not online")?;
    let conn = session["conn_id"].as_u64().ok_or("no conn_id")?;
    let mark = guest.len();
    let (status, outcome) = gw
        .command(vin, &json!({ "command": "control", "control": "disconnect" }))
        .map_err(|e| e.to_string())?;
    answered(status, &outcome, "disconnect")?;
    guest
        .wait_for(mark, "control: disconnect", WAIT)
        .ok_or("the firmware did not see the command")?;
    let (hung, hung_line, _) = guest
        .wait_for(mark, "link: hung up", WAIT)
        .ok_or("the firmware did not hang up")?;
    let reason = poll(WAIT, || {
        let rows = gw.session_history(vin).ok()?;
        let row = rows.iter().find(|r| r["conn_id"] == conn)?;
        row["offline_at"]
            .as_i64()
            .map(|_| row["reason"].as_str().unwrap_or("").to_owned())
    })
    .ok_or("the gateway never recorded the session's end")?;
    if reason != "peer closed" {
        return Err(format!("the session ended with {reason:?}, not closed by the vehicle"));
    }
    let (_, again, _) = guest
        .wait_for(hung, "link: connecting", WAIT)
        .ok_or("the firmware did not reconnect")?;
    let held = uptime_ms(&again)
        .unwrap_or(0)
        .saturating_sub(uptime_ms(&hung_line).unwrap_or(0));
    if held < DISCONNECT_HOLD_MS {
        return Err(format!(
            "reconnected after {held} ms, before the {DISCONNECT_HOLD_MS} ms hold"
        ));
    }
    let back = poll(WAIT, || gw.session(vin).ok().flatten().filter(|s| s["conn_id"] != conn))
        .ok_or("the vehicle did not come back")?;
    Ok(format!(
        "0x82 answered; conn {conn} closed by the vehicle; it stayed off {held} ms (guest) and logged in again as conn {}",
        back["conn_id"]
    ))
}

fn shutdown(guest: &mut Guest, gw: &Gateway, vin: &str, fig: &mut Figures) -> std::result::Result<String, String> {
    let mark = guest.len();
    let logouts_before = gw.messages(vin, 4).map_err(|e| e.to_string())?.len();
    let (status, outcome) = gw
        .command(vin, &json!({ "command": "control", "control": "shutdown" }))
        .map_err(|e| e.to_string())?;
    answered(status, &outcome, "shutdown")?;
    guest.wait_for(mark, "logout: sent", WAIT).ok_or("no logout")?;
    let exit = guest.wait_exit(WAIT).ok_or("QEMU did not exit")?;
    if !exit.success() {
        return Err(format!("QEMU exited with {exit}"));
    }
    let (_, line, _) = guest
        .wait_for(mark, "stack high-water", Duration::from_secs(1))
        .ok_or("no stack figure")?;
    fig.stack_high_water = line
        .split("high-water ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    poll(WAIT, || {
        let n = gw.messages(vin, 4).ok()?.len();
        (n > logouts_before).then_some(())
    })
    .ok_or("no logout frame stored")?;
    Ok(format!(
        "0x82 answered, 0x04 logout stored, QEMU exited 0; stack high-water {} bytes",
        fig.stack_high_water.unwrap_or(0)
    ))
}
