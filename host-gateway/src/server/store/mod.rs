//! Storage: a trait, so that a PostgreSQL backend can follow the embedded SQLite one, and the
//! writer that batches accepted frames into transactions and acknowledges them once committed.

pub mod sqlite;
pub mod writer;

use anyhow::Result;
use serde::Serialize;

use super::model::{Device, DeviceImport, Gateway, GatewaySpec, PlatformAccount};

/// One accepted frame as stored.
#[derive(Debug, Clone)]
pub struct FrameRecord {
    pub vin: String,
    pub gateway_id: i64,
    /// Unix milliseconds.
    pub received_at: i64,
    pub edition: &'static str,
    pub command: u8,
    pub raw: Vec<u8>,
    /// The JSON view (docs/json.md).
    pub json: String,
    /// For reports: the frame time (as the 6 bytes' hex) and the data unit's digest, the
    /// store's unique key with the VIN (a report reissued on a later link is kept once).
    pub report_key: Option<(String, u32)>,
}

/// A session going online or offline.
#[derive(Debug, Clone)]
pub enum SessionChange {
    Online {
        conn_id: u64,
        vin: String,
        gateway_id: i64,
        peer: String,
        at: i64,
    },
    Offline {
        conn_id: u64,
        at: i64,
        reason: String,
    },
}

/// What the writer writes.
#[derive(Debug, Clone)]
pub enum Write {
    Frame(FrameRecord),
    Session(SessionChange),
    /// Nothing: acknowledged once everything sent before it is committed.
    Barrier,
}

/// A stored frame as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct StoredFrame {
    pub id: i64,
    pub command: u8,
    pub received_at: i64,
    pub edition: String,
    pub raw: String,
    pub frame: serde_json::Value,
}

/// A filter over a VIN's frames.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub vin: String,
    pub command: Option<u8>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub limit: u32,
}

/// A stored session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionRow {
    pub conn_id: u64,
    pub vin: String,
    pub gateway_id: i64,
    pub peer: String,
    pub online_at: i64,
    pub offline_at: Option<i64>,
    pub reason: Option<String>,
}

/// What the API shows of a device beyond its import record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeviceActivity {
    pub last_login: Option<i64>,
    pub last_seen: Option<i64>,
    pub latest_realtime: Option<StoredFrame>,
}

/// A gateway store. Calls are blocking; async callers use `spawn_blocking` or the writer.
pub trait Store: Send + Sync + 'static {
    /// Writes a batch in one transaction.
    fn write_batch(&self, batch: &[Write]) -> Result<()>;
    /// Marks sessions left online by a previous process offline.
    fn close_dangling_sessions(&self, at: i64) -> Result<usize>;
    fn meta_get(&self, key: &str) -> Result<Option<String>>;
    fn meta_set(&self, key: &str, value: &str) -> Result<()>;

    fn gateways(&self) -> Result<Vec<Gateway>>;
    /// Inserts a gateway; a taken name is a `FieldError` on `name`.
    fn gateway_insert(&self, spec: &GatewaySpec) -> Result<Gateway>;
    fn gateway_update(&self, id: i64, spec: &GatewaySpec, enabled: bool) -> Result<()>;
    fn gateway_delete(&self, id: i64) -> Result<bool>;

    /// Inserts or updates devices (already validated) in one transaction.
    fn devices_import(&self, gateway_id: i64, rows: &[DeviceImport]) -> Result<()>;
    fn device(&self, vin: &str) -> Result<Option<Device>>;
    fn device_activity(&self, vin: &str) -> Result<DeviceActivity>;
    fn messages(&self, q: &MessageQuery) -> Result<Vec<StoredFrame>>;
    fn sessions(&self, vin: Option<&str>, limit: u32) -> Result<Vec<SessionRow>>;
    /// Deletes frames received before `before` (Unix ms); returns how many.
    fn purge_frames_before(&self, before: i64) -> Result<usize>;

    /// Replaces a device's metadata (the device must exist; false otherwise).
    fn device_set_metadata(&self, vin: &str, metadata: &serde_json::Value) -> Result<bool>;
    /// The VIN whose activation holds chip `chip_id`, if any.
    fn device_with_chip(&self, chip_id: &str) -> Result<Option<String>>;

    /// Creates a platform account or replaces its hash and gateway; true if created.
    fn platform_account_put(&self, username: &str, hash: &str, gateway_id: Option<i64>) -> Result<bool>;
    fn platform_accounts(&self) -> Result<Vec<PlatformAccount>>;
    /// An account with its argon2 hash.
    fn platform_account(&self, username: &str) -> Result<Option<(PlatformAccount, String)>>;
    fn platform_account_delete(&self, username: &str) -> Result<bool>;
}
