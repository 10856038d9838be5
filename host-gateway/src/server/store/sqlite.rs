//! The embedded store: SQLite in WAL mode, one connection for writes and one for reads.

use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};

use super::{DeviceActivity, MessageQuery, SessionChange, SessionRow, Store, StoredFrame, Write};
use crate::server::model::{Device, DeviceImport, FieldError, Gateway, GatewaySpec, PlatformAccount};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gateways (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS devices (
    vin TEXT PRIMARY KEY,
    gateway_id INTEGER NOT NULL,
    iccid TEXT,
    metadata TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    conn_id INTEGER PRIMARY KEY,
    vin TEXT NOT NULL,
    gateway_id INTEGER NOT NULL,
    peer TEXT NOT NULL,
    online_at INTEGER NOT NULL,
    offline_at INTEGER,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS sessions_vin ON sessions (vin, online_at);
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    vin TEXT NOT NULL,
    gateway_id INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    edition TEXT NOT NULL,
    command INTEGER NOT NULL,
    raw BLOB NOT NULL,
    json TEXT NOT NULL,
    report_time TEXT,
    digest INTEGER
);
CREATE INDEX IF NOT EXISTS frames_vin ON frames (vin, received_at);
CREATE INDEX IF NOT EXISTS frames_received ON frames (received_at);
CREATE UNIQUE INDEX IF NOT EXISTS frames_report ON frames (vin, report_time, digest);
CREATE TABLE IF NOT EXISTS platform_accounts (
    username TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    gateway_id INTEGER,
    created_at INTEGER NOT NULL
);
";

/// SQLite store in `<data_dir>/gateway.db`.
pub struct SqliteStore {
    write: Mutex<Connection>,
    read: Mutex<Connection>,
}

fn open(path: &Path) -> Result<Connection> {
    let c = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mode: String = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    anyhow::ensure!(mode.eq_ignore_ascii_case("wal"), "SQLite refused WAL mode ({mode})");
    // FULL: a committed (acknowledged) frame survives a crash of the machine too.
    c.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(c)
}

impl SqliteStore {
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
        let path = data_dir.join("gateway.db");
        let write = open(&path)?;
        write.execute_batch(SCHEMA)?;
        let read = open(&path)?;
        Ok(SqliteStore {
            write: Mutex::new(write),
            read: Mutex::new(read),
        })
    }

    fn w(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.write.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn r(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.read.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn stored_frame(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredFrame> {
    let raw: Vec<u8> = r.get(5)?;
    let json: String = r.get(4)?;
    Ok(StoredFrame {
        id: r.get(0)?,
        command: r.get(1)?,
        received_at: r.get(2)?,
        edition: r.get(3)?,
        frame: serde_json::from_str(&json).unwrap_or(serde_json::Value::Null),
        raw: hex::encode_upper(raw),
    })
}

const FRAME_COLS: &str = "id, command, received_at, edition, json, raw";

fn gateway_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, bool)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn to_gateway((id, spec, enabled): (i64, String, bool)) -> Result<Gateway> {
    let spec: GatewaySpec = serde_json::from_str(&spec).context("a stored gateway does not parse")?;
    Ok(Gateway {
        id,
        spec,
        product: Gateway::product_name(id),
        enabled,
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

impl Store for SqliteStore {
    fn write_batch(&self, batch: &[Write]) -> Result<()> {
        let mut c = self.w();
        let tx = c.transaction()?;
        {
            let mut frame = tx.prepare_cached(
                "INSERT OR IGNORE INTO frames (vin, gateway_id, received_at, edition, command, raw, json, report_time, digest)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for w in batch {
                match w {
                    Write::Frame(f) => {
                        let (time, digest) = match &f.report_key {
                            Some((t, d)) => (Some(t.as_str()), Some(i64::from(*d))),
                            None => (None, None),
                        };
                        frame.execute(params![
                            f.vin,
                            f.gateway_id,
                            f.received_at,
                            f.edition,
                            f.command,
                            f.raw,
                            f.json,
                            time,
                            digest
                        ])?;
                    }
                    Write::Session(SessionChange::Online {
                        conn_id,
                        vin,
                        gateway_id,
                        peer,
                        at,
                    }) => {
                        tx.execute(
                            "INSERT OR REPLACE INTO sessions (conn_id, vin, gateway_id, peer, online_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![*conn_id as i64, vin, gateway_id, peer, at],
                        )?;
                    }
                    Write::Barrier => {}
                    Write::Session(SessionChange::Offline { conn_id, at, reason }) => {
                        tx.execute(
                            "UPDATE sessions SET offline_at = ?2, reason = ?3 WHERE conn_id = ?1 AND offline_at IS NULL",
                            params![*conn_id as i64, at, reason],
                        )?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn close_dangling_sessions(&self, at: i64) -> Result<usize> {
        Ok(self.w().execute(
            "UPDATE sessions SET offline_at = ?1, reason = 'gateway restarted' WHERE offline_at IS NULL",
            [at],
        )?)
    }

    fn meta_get(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .r()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    fn meta_set(&self, key: &str, value: &str) -> Result<()> {
        self.w().execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    fn gateways(&self) -> Result<Vec<Gateway>> {
        let c = self.r();
        let mut s = c.prepare("SELECT id, spec, enabled FROM gateways ORDER BY id")?;
        let rows = s.query_map([], gateway_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(to_gateway).collect()
    }

    fn gateway_insert(&self, spec: &GatewaySpec) -> Result<Gateway> {
        let c = self.w();
        match c.execute(
            "INSERT INTO gateways (name, spec, enabled) VALUES (?1, ?2, 1)",
            params![spec.name, serde_json::to_string(spec)?],
        ) {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(FieldError {
                    field: "name".into(),
                    message: format!("a gateway named {:?} exists already", spec.name),
                }
                .into())
            }
            Err(e) => return Err(e.into()),
        }
        let id = c.last_insert_rowid();
        Ok(Gateway {
            id,
            spec: spec.clone(),
            product: Gateway::product_name(id),
            enabled: true,
        })
    }

    fn gateway_update(&self, id: i64, spec: &GatewaySpec, enabled: bool) -> Result<()> {
        match self.w().execute(
            "UPDATE gateways SET name = ?2, spec = ?3, enabled = ?4 WHERE id = ?1",
            params![id, spec.name, serde_json::to_string(spec)?, enabled],
        ) {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(FieldError {
                field: "name".into(),
                message: format!("a gateway named {:?} exists already", spec.name),
            }
            .into()),
            Err(e) => Err(e.into()),
        }
    }

    fn gateway_delete(&self, id: i64) -> Result<bool> {
        Ok(self.w().execute("DELETE FROM gateways WHERE id = ?1", [id])? > 0)
    }

    fn devices_import(&self, gateway_id: i64, rows: &[DeviceImport]) -> Result<()> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut c = self.w();
        let tx = c.transaction()?;
        {
            let mut s = tx.prepare_cached(
                "INSERT INTO devices (vin, gateway_id, iccid, metadata, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(vin) DO UPDATE SET gateway_id = excluded.gateway_id, iccid = excluded.iccid,
                 metadata = excluded.metadata",
            )?;
            for d in rows {
                let meta = d.metadata.as_ref().map(|m| m.to_string());
                s.execute(params![d.vin, gateway_id, d.iccid, meta, now])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn device(&self, vin: &str) -> Result<Option<Device>> {
        Ok(self
            .r()
            .query_row(
                "SELECT vin, gateway_id, iccid, metadata, created_at FROM devices WHERE vin = ?1",
                [vin],
                |r| {
                    let meta: Option<String> = r.get(3)?;
                    Ok(Device {
                        vin: r.get(0)?,
                        gateway_id: r.get(1)?,
                        iccid: r.get(2)?,
                        metadata: meta.and_then(|m| serde_json::from_str(&m).ok()),
                        created_at: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    fn device_activity(&self, vin: &str) -> Result<DeviceActivity> {
        let c = self.r();
        let last_login = c.query_row("SELECT MAX(online_at) FROM sessions WHERE vin = ?1", [vin], |r| {
            r.get(0)
        })?;
        let last_seen = c.query_row("SELECT MAX(received_at) FROM frames WHERE vin = ?1", [vin], |r| {
            r.get(0)
        })?;
        let latest_realtime = c
            .query_row(
                &format!("SELECT {FRAME_COLS} FROM frames WHERE vin = ?1 AND command = 2 ORDER BY received_at DESC, id DESC LIMIT 1"),
                [vin],
                stored_frame,
            )
            .optional()?;
        Ok(DeviceActivity {
            last_login,
            last_seen,
            latest_realtime,
        })
    }

    fn messages(&self, q: &MessageQuery) -> Result<Vec<StoredFrame>> {
        let c = self.r();
        let mut s = c.prepare_cached(&format!(
            "SELECT {FRAME_COLS} FROM frames WHERE vin = ?1 AND (?2 IS NULL OR command = ?2)
             AND (?3 IS NULL OR received_at >= ?3) AND (?4 IS NULL OR received_at <= ?4)
             ORDER BY received_at DESC, id DESC LIMIT ?5"
        ))?;
        let rows = s
            .query_map(params![q.vin, q.command, q.from, q.to, q.limit], stored_frame)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn sessions(&self, vin: Option<&str>, limit: u32) -> Result<Vec<SessionRow>> {
        let c = self.r();
        let mut s = c.prepare_cached(
            "SELECT conn_id, vin, gateway_id, peer, online_at, offline_at, reason FROM sessions
             WHERE (?1 IS NULL OR vin = ?1) ORDER BY online_at DESC, conn_id DESC LIMIT ?2",
        )?;
        let rows = s
            .query_map(params![vin, limit], |r| {
                Ok(SessionRow {
                    conn_id: r.get::<_, i64>(0)? as u64,
                    vin: r.get(1)?,
                    gateway_id: r.get(2)?,
                    peer: r.get(3)?,
                    online_at: r.get(4)?,
                    offline_at: r.get(5)?,
                    reason: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn purge_frames_before(&self, before: i64) -> Result<usize> {
        Ok(self
            .w()
            .execute("DELETE FROM frames WHERE received_at < ?1", [before])?)
    }

    fn device_set_metadata(&self, vin: &str, metadata: &serde_json::Value) -> Result<bool> {
        Ok(self.w().execute(
            "UPDATE devices SET metadata = ?2 WHERE vin = ?1",
            params![vin, metadata.to_string()],
        )? > 0)
    }

    fn device_with_chip(&self, chip_id: &str) -> Result<Option<String>> {
        Ok(self
            .r()
            .query_row(
                "SELECT vin FROM devices WHERE json_valid(metadata) AND json_extract(metadata, '$.activation.chip_id') = ?1 LIMIT 1",
                [chip_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn platform_account_put(&self, username: &str, hash: &str, gateway_id: Option<i64>) -> Result<bool> {
        let now = chrono::Utc::now().timestamp_millis();
        let c = self.w();
        let existed: bool = c
            .query_row(
                "SELECT 1 FROM platform_accounts WHERE username = ?1",
                [username],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        c.execute(
            "INSERT INTO platform_accounts (username, hash, gateway_id, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(username) DO UPDATE SET hash = excluded.hash, gateway_id = excluded.gateway_id",
            params![username, hash, gateway_id, now],
        )?;
        Ok(!existed)
    }

    fn platform_accounts(&self) -> Result<Vec<PlatformAccount>> {
        let c = self.r();
        let mut s = c.prepare("SELECT username, gateway_id, created_at FROM platform_accounts ORDER BY username")?;
        let rows = s
            .query_map([], |r| {
                Ok(PlatformAccount {
                    username: r.get(0)?,
                    gateway_id: r.get(1)?,
                    created_at: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn platform_account(&self, username: &str) -> Result<Option<(PlatformAccount, String)>> {
        Ok(self
            .r()
            .query_row(
                "SELECT username, gateway_id, created_at, hash FROM platform_accounts WHERE username = ?1",
                [username],
                |r| {
                    Ok((
                        PlatformAccount {
                            username: r.get(0)?,
                            gateway_id: r.get(1)?,
                            created_at: r.get(2)?,
                        },
                        r.get(3)?,
                    ))
                },
            )
            .optional()?)
    }

    fn platform_account_delete(&self, username: &str) -> Result<bool> {
        Ok(self
            .w()
            .execute("DELETE FROM platform_accounts WHERE username = ?1", [username])?
            > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::FrameRecord;

    #[test]
    fn frames_round_trip_and_reports_dedupe() {
        let dir = std::env::temp_dir().join(format!("hg-sqlite-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = SqliteStore::open(&dir).unwrap();
        let f = FrameRecord {
            vin: "V1234".into(),
            gateway_id: 1,
            received_at: 10,
            edition: "2016",
            command: 2,
            raw: vec![1, 2, 3],
            json: "{\"a\":1}".into(),
            report_key: Some(("180514081E0F".into(), 7)),
        };
        s.write_batch(&[Write::Frame(f.clone()), Write::Frame(f)]).unwrap();
        let q = MessageQuery {
            vin: "V1234".into(),
            limit: 10,
            ..Default::default()
        };
        let m = s.messages(&q).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].raw, "010203");
        let g = s.gateway_insert(&GatewaySpec::named("gate_one")).unwrap();
        assert_eq!(g.product, format!("CloudGateway+{}", g.id));
        let e = s.gateway_insert(&GatewaySpec::named("gate_one")).unwrap_err();
        assert_eq!(e.downcast_ref::<FieldError>().unwrap().field, "name");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
