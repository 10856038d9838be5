//! The sessions online right now, by VIN: who holds a VIN, kicking, and downlink commands.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

/// The result of a downlink command.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DownlinkOutcome {
    /// The terminal answered: its response flag, the answer frame decoded and as hex.
    Answered {
        flag: u8,
        response_name: String,
        raw: String,
        frame: serde_json::Value,
    },
    /// No answer after every attempt.
    TimedOut,
    /// Not sent.
    Failed { reason: String },
}

/// What a connection task is asked to do.
#[derive(Debug)]
pub enum ConnCommand {
    /// Close the connection.
    Kick { reason: String },
    /// Send a downlink command (0x80-0x82) with this data unit and report the outcome.
    Downlink {
        /// The addressed VIN (on a cascade link, one of the forwarded vehicles).
        vin: String,
        command: u8,
        data_unit: Vec<u8>,
        reply: oneshot::Sender<DownlinkOutcome>,
    },
    /// A downlink's caller stopped waiting: withdraw what nobody waits for.
    CallerGaveUp,
}

/// One online session.
#[derive(Debug, Clone, Serialize)]
pub struct Online {
    pub vin: String,
    pub conn_id: u64,
    pub gateway_id: i64,
    pub peer: String,
    /// Unix ms of the login.
    pub online_since: i64,
    /// The edition spoken ("2016" or "2025").
    pub edition: &'static str,
    /// On a cascade (0x05 platform) link: the platform's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cascade: Option<String>,
    #[serde(skip)]
    pub tx: mpsc::UnboundedSender<ConnCommand>,
}

/// Online sessions by VIN.
#[derive(Default)]
pub struct Registry {
    by_vin: Mutex<HashMap<String, Online>>,
}

impl Registry {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Online>> {
        self.by_vin.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, vin: &str) -> Option<Online> {
        self.map().get(vin).cloned()
    }

    /// Registers `online`, returning the session it replaces.
    pub fn register(&self, online: Online) -> Option<Online> {
        self.map().insert(online.vin.clone(), online)
    }

    /// Removes the VIN's session if it is still `conn_id`'s.
    pub fn unregister(&self, vin: &str, conn_id: u64) {
        let mut m = self.map();
        if m.get(vin).is_some_and(|o| o.conn_id == conn_id) {
            m.remove(vin);
        }
    }

    pub fn list(&self) -> Vec<Online> {
        let mut v: Vec<Online> = self.map().values().cloned().collect();
        v.sort_by(|a, b| a.vin.cmp(&b.vin));
        v
    }

    /// Asks the VIN's connection to close; false if it is not online.
    pub fn kick(&self, vin: &str, reason: &str) -> bool {
        match self.get(vin) {
            Some(o) => {
                o.tx.send(ConnCommand::Kick {
                    reason: reason.to_string(),
                })
                .is_ok()
            }
            None => false,
        }
    }
}
