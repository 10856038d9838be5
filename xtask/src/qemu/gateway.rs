//! The real `host-gateway serve` as the QEMU tests use it: a child process on loopback ports
//! with a data directory of its own, restartable on the same ports and data (the "cut link"),
//! and its admin API.

use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{self, Response};
use crate::Result;

/// The API token of every test gateway (loopback only, throwaway data).
pub const API_TOKEN: &str = "qemu-test-token";
/// How long the gateway has to come up, and to stop after SIGTERM.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// One gateway: the command line to (re)start it and the running child.
pub struct Gateway {
    bin: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    pub api: SocketAddr,
    child: Option<Child>,
}

impl Gateway {
    /// A gateway keeping its store in `dir/data` and logging to `dir/gateway.log`. `config`
    /// (a TOML file) declares the TLS gateway; without it, `--listen` makes the default TCP
    /// gateway listen on `listen`.
    pub fn new(bin: &Path, dir: &Path, listen: SocketAddr, api: SocketAddr, config: Option<&Path>) -> Result<Self> {
        let data = dir.join("data");
        fs::create_dir_all(&data)?;
        let mut args = vec![
            "serve".to_owned(),
            "--data-dir".into(),
            data.display().to_string(),
            "--api-listen".into(),
            api.to_string(),
            "--api-token".into(),
            API_TOKEN.into(),
        ];
        match config {
            Some(c) => args.extend(["--config".into(), c.display().to_string()]),
            None => args.extend(["--listen".into(), listen.to_string()]),
        }
        Ok(Gateway {
            bin: bin.to_owned(),
            args,
            log: dir.join("gateway.log"),
            api,
            child: None,
        })
    }

    /// Starts it and waits for the API to answer.
    pub fn start(&mut self) -> Result {
        let log = File::options().create(true).append(true).open(&self.log)?;
        let child = Command::new(&self.bin)
            .args(&self.args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        super::watch(child.id());
        self.child = Some(child);
        let (api, child, log) = (self.api, &mut self.child, &self.log);
        let started = harness::poll(START_TIMEOUT, || {
            if let Some(status) = child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Some(Err(format!(
                    "the gateway exited at start ({status}); see {}",
                    log.display()
                )));
            }
            harness::get(api, "/api/v1/openapi.json", Some(API_TOKEN)).ok().map(Ok)
        });
        match started {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => {
                self.child = None;
                Err(e.into())
            }
            None => Err(format!("the gateway's API did not answer within {START_TIMEOUT:?}").into()),
        }
    }

    /// SIGTERM (a graceful stop: connections closed, store drained), then a kill if it hangs.
    pub fn stop(&mut self) -> Result {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        if let Some(exited) = harness::poll(STOP_TIMEOUT, || child.try_wait().transpose()) {
            return exited.map(drop).map_err(Into::into);
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(format!("the gateway did not stop within {STOP_TIMEOUT:?} of SIGTERM").into())
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Response> {
        harness::request(self.api, method, path, Some(API_TOKEN), body)
    }

    /// `GET path`, which must answer 200 with JSON.
    pub fn get(&self, path: &str) -> Result<Value> {
        let body = harness::get(self.api, path, Some(API_TOKEN))?;
        Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// Registers the device (one-way authentication admits imported VINs only).
    pub fn import(&self, vin: &str, iccid: &str) -> Result {
        let r = self.call(
            "POST",
            "/api/v1/devices/import",
            Some(&json!([{ "vin": vin, "iccid": iccid }])),
        )?;
        if r.status != 200 || r.json()["imported"] != 1 {
            return Err(format!("device import: HTTP {}: {}", r.status, r.body).into());
        }
        Ok(())
    }

    /// A downlink command through `POST /devices/{vin}/commands`; returns the status and the
    /// outcome (`{"status": "answered", "flag": 1, "frame": ...}` when answered).
    pub fn command(&self, vin: &str, body: &Value) -> Result<(u16, Value)> {
        let r = self.call("POST", &format!("/api/v1/devices/{vin}/commands"), Some(body))?;
        Ok((r.status, r.json()))
    }

    /// The device's live session (`None` while offline).
    pub fn session(&self, vin: &str) -> Result<Option<Value>> {
        let d = self.get(&format!("/api/v1/devices/{vin}"))?;
        Ok(if d["online"] == true {
            Some(d["session"].clone())
        } else {
            None
        })
    }

    /// The device's stored sessions, newest first.
    pub fn session_history(&self, vin: &str) -> Result<Vec<Value>> {
        let v = self.get(&format!("/api/v1/sessions?history=true&vin={vin}"))?;
        Ok(v["history"].as_array().cloned().unwrap_or_default())
    }

    /// Stored frames of one command (at most 10 000, newest first).
    pub fn messages(&self, vin: &str, command: u8) -> Result<Vec<Value>> {
        let v = self.get(&format!("/api/v1/devices/{vin}/messages?command={command}&limit=10000"))?;
        Ok(v["items"].as_array().cloned().unwrap_or_default())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
