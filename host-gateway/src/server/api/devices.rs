//! `/api/v1/devices`: import (JSON list or CSV), a device with its activity, its messages, and
//! downlink commands answered by the terminal.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{blocking, ApiError, ApiResult, AppState};
use crate::server::model::DeviceImport;
use crate::server::store::MessageQuery;

/// Most devices per import call.
pub const MAX_IMPORT: usize = 10_000;

#[derive(Deserialize)]
pub struct ImportQuery {
    gateway: Option<i64>,
}

/// Splits one CSV line (RFC 4180 quoting: `"a,b"`, `""` inside quotes).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|f| f.trim().to_string()).collect()
}

/// Rows of a CSV with a header line naming `vin`, optionally `iccid`, and other columns that
/// become metadata (a `metadata` column is taken as JSON).
fn parse_csv(body: &str) -> Result<Vec<Result<DeviceImport, String>>, ApiError> {
    let mut lines = body.lines().filter(|l| !l.trim().is_empty());
    let header = csv_fields(lines.next().ok_or_else(|| ApiError::bad_request("empty CSV"))?);
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let vin_col = col("vin").ok_or_else(|| ApiError::bad_request("the CSV header has no `vin` column"))?;
    let iccid_col = col("iccid");
    let meta_col = col("metadata");
    Ok(lines
        .map(|line| {
            let f = csv_fields(line);
            let get = |i: usize| f.get(i).cloned().unwrap_or_default();
            let mut meta = serde_json::Map::new();
            for (i, h) in header.iter().enumerate() {
                if i != vin_col && Some(i) != iccid_col && Some(i) != meta_col && !get(i).is_empty() {
                    meta.insert(h.clone(), Value::String(get(i)));
                }
            }
            let mut metadata = (!meta.is_empty()).then_some(Value::Object(meta));
            if let Some(m) = meta_col.map(get).filter(|m| !m.is_empty()) {
                metadata = Some(serde_json::from_str(&m).map_err(|e| format!("metadata: not JSON: {e}"))?);
            }
            Ok(DeviceImport {
                vin: get(vin_col),
                iccid: iccid_col.map(get).filter(|s| !s.is_empty()),
                metadata,
            })
        })
        .collect())
}

fn parse_json(body: &str) -> Result<Vec<Result<DeviceImport, String>>, ApiError> {
    let v: Value = serde_json::from_str(body).map_err(|e| ApiError::bad_request(format!("body: not JSON: {e}")))?;
    let Value::Array(rows) = v else {
        return Err(ApiError::bad_request("body: expected a JSON list of devices"));
    };
    Ok(rows
        .into_iter()
        .map(|r| serde_json::from_value::<DeviceImport>(r).map_err(|e| e.to_string()))
        .collect())
}

pub async fn import(
    State(s): State<AppState>,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    body: String,
) -> ApiResult<Json<Value>> {
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("csv"))
        || !body.trim_start().starts_with('[');
    let rows = if is_csv { parse_csv(&body)? } else { parse_json(&body)? };
    if rows.len() > MAX_IMPORT {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{} devices; at most {MAX_IMPORT} per call", rows.len()),
        ));
    }
    let store = s.manager.ctx().store.clone();
    let gateways = blocking(move || store.gateways()).await?;
    let gw = match q.gateway {
        Some(id) => gateways.iter().find(|g| g.id == id),
        None => gateways.first(),
    }
    .ok_or_else(|| ApiError::not_found("no such gateway"))?
    .clone();
    let mut valid = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, r) in rows.into_iter().enumerate() {
        let checked = r.and_then(|d| {
            d.validate().map_err(|e| e.to_string())?;
            if !seen.insert(d.vin.clone()) {
                return Err(format!("vin: {} appears twice in this import", d.vin));
            }
            Ok(d)
        });
        match checked {
            Ok(d) => valid.push(d),
            Err(message) => errors.push(json!({ "row": i + 1, "error": message })),
        }
    }
    let n = valid.len();
    let store = s.manager.ctx().store.clone();
    let gid = gw.id;
    blocking(move || store.devices_import(gid, &valid)).await?;
    Ok(Json(json!({ "gateway_id": gw.id, "imported": n, "errors": errors })))
}

pub async fn get_one(State(s): State<AppState>, Path(vin): Path<String>) -> ApiResult<Json<Value>> {
    let store = s.manager.ctx().store.clone();
    let v = vin.clone();
    let (device, activity) = blocking(move || Ok((store.device(&v)?, store.device_activity(&v)?))).await?;
    let online = s.manager.ctx().registry.get(&vin);
    if device.is_none() && activity.last_seen.is_none() && online.is_none() {
        return Err(ApiError::not_found(format!("no device {vin}")));
    }
    Ok(Json(json!({
        "vin": vin,
        "device": device,
        "online": online.is_some(),
        "session": online,
        "last_login": activity.last_login,
        "last_seen": activity.last_seen,
        "latest_realtime": activity.latest_realtime,
    })))
}

#[derive(Deserialize)]
pub struct MessagesQuery {
    command: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
}

/// A time bound: Unix milliseconds or RFC 3339.
fn time_bound(field: &str, v: Option<String>) -> ApiResult<Option<i64>> {
    let Some(v) = v else { return Ok(None) };
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(Some(ms));
    }
    chrono::DateTime::parse_from_rfc3339(&v)
        .map(|t| Some(t.timestamp_millis()))
        .map_err(|_| ApiError::bad_request(format!("{field}: expected Unix milliseconds or an RFC 3339 time")))
}

/// A command: a number (2, 0x02) or a name (`realtime_report`).
pub(super) fn command_of(s: &str) -> Option<u8> {
    if let Some(h) = s.strip_prefix("0x") {
        return u8::from_str_radix(h, 16).ok();
    }
    if let Ok(n) = s.parse() {
        return Some(n);
    }
    (0..=255u8).find(|&c| gb32960_core::Command(c).name(gb32960_core::Edition::V2016) == s)
}

pub async fn messages(
    State(s): State<AppState>,
    Path(vin): Path<String>,
    Query(q): Query<MessagesQuery>,
) -> ApiResult<Json<Value>> {
    let command = match q.command.as_deref() {
        Some(c) => Some(command_of(c).ok_or_else(|| ApiError::bad_request(format!("command: unknown {c:?}")))?),
        None => None,
    };
    let mq = MessageQuery {
        vin,
        command,
        from: time_bound("from", q.from)?,
        to: time_bound("to", q.to)?,
        limit: q.limit.unwrap_or(100).clamp(1, 10_000),
    };
    let store = s.manager.ctx().store.clone();
    let items = blocking(move || store.messages(&mq)).await?;
    Ok(Json(json!({ "items": items })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_with_quotes_and_metadata() {
        let rows = parse_csv("vin,iccid,color\nLGBT32960TEST0001,8986,\"red, dark\"\nX\n").unwrap();
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.iccid.as_deref(), Some("8986"));
        assert_eq!(first.metadata.as_ref().unwrap()["color"], "red, dark");
        assert_eq!(rows[1].as_ref().unwrap().vin, "X");
        assert!(parse_csv("iccid\n1\n").is_err());
    }

    #[test]
    fn commands_by_number_or_name() {
        assert_eq!(command_of("2"), Some(2));
        assert_eq!(command_of("0x03"), Some(3));
        assert_eq!(command_of("realtime_report"), Some(2));
        assert_eq!(command_of("nope"), None);
    }
}
