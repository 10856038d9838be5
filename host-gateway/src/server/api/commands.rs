//! `POST /api/v1/devices/{vin}/commands`: query (0x80), set (0x81) and control (0x82) built
//! with the widths of the edition the device speaks, sent, and answered by the terminal.
//!
//! Bodies (`timeout_secs` optional everywhere):
//!
//! * `{"command": "query", "params": [2, 9]}`
//! * `{"command": "set", "params": [{"id": 2, "value": 5}, {"id": 5, "value": "gw.example.com"}]}`
//!   (ids by number or name; the length item 0x04/0x0D is inserted before 0x05/0x0E)
//! * `{"command": "control", "control": "alarm", "level": 2, "message": "..."}`; `disconnect`,
//!   `reset`, `shutdown`, `factory_reset`, `start_sampling`; `upgrade` with `apn`, `username`,
//!   `password`, `address` (IPv4), `port`, `manufacturer`, `hardware_version`,
//!   `firmware_version`, `url`, `connect_timeout_min`
//! * set and control also take the raw data unit after the time: `{"command": "set", "data": "hex"}`

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use gb32960_core::message::{
    ControlCommand, Param, ParamId, ParamItems, ParamList, TerminalControl, Upgrade, UpgradeFields,
};
use gb32960_core::wire::Writer;
use gb32960_core::{Edition, Reading, Time};
use serde_json::Value;
use tokio::sync::oneshot;

use super::{ApiError, ApiResult, AppState};
use crate::server::gateway::registry::{ConnCommand, DownlinkOutcome};
use crate::server::model::FieldError;

fn field(name: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: name.into(),
        message: message.into(),
    }
}

/// A parameter id: a number or a name (`report_period_s`).
fn param_id(v: &Value, edition: Edition) -> Result<u8, FieldError> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| field("params", format!("{n} is not a parameter id (1-255)"))),
        Value::String(s) => (1..=0xFEu8)
            .find(|&id| ParamId(id).name(edition) == s)
            .ok_or_else(|| field("params", format!("unknown parameter {s:?}"))),
        other => Err(field("params", format!("{other} is not a parameter id"))),
    }
}

fn emit(len: usize, f: impl FnOnce(&mut Writer<'_>) -> Result<(), gb32960_core::Error>) -> Result<Vec<u8>, FieldError> {
    let mut buf = vec![0u8; len + 16];
    let mut w = Writer::new(&mut buf);
    f(&mut w).map_err(|e| field("params", format!("cannot encode: {e}")))?;
    let n = w.position();
    buf.truncate(n);
    Ok(buf)
}

fn query(body: &Value, edition: Edition, time: Time) -> Result<Vec<u8>, FieldError> {
    let ids = body["params"]
        .as_array()
        .ok_or_else(|| field("params", "give the parameter ids as a list"))?
        .iter()
        .map(|v| param_id(v, edition))
        .collect::<Result<Vec<u8>, _>>()?;
    if ids.is_empty() || ids.len() > 252 {
        return Err(field("params", "give 1-252 parameter ids"));
    }
    let mut d = time.0.to_vec();
    d.push(ids.len() as u8);
    d.extend_from_slice(&ids);
    Ok(d)
}

fn set(body: &Value, edition: Edition, time: Time) -> Result<Vec<u8>, FieldError> {
    let items = body["params"]
        .as_array()
        .ok_or_else(|| field("params", "give a list of {id, value}"))?;
    // (id, number or bytes)
    let mut parsed: Vec<(u8, Result<u32, Vec<u8>>)> = Vec::new();
    for it in items {
        let id = param_id(&it["id"], edition)?;
        let pid = ParamId(id);
        if pid.is_read_only() {
            return Err(field("params", format!("{} is read-only", pid.name(edition))));
        }
        if matches!(id, 0x04 | 0x0D) {
            continue; // computed from the domain that follows
        }
        match (&it["value"], id) {
            (Value::String(s), 0x05 | 0x0E) => {
                if s.is_empty() || s.len() > 255 || !s.is_ascii() {
                    return Err(field(
                        "params",
                        format!("{}: 1-255 ASCII characters", pid.name(edition)),
                    ));
                }
                let len_id = if id == 0x05 { 0x04 } else { 0x0D };
                parsed.push((len_id, Ok(s.len() as u32)));
                parsed.push((id, Err(s.as_bytes().to_vec())));
            }
            (Value::Number(n), _) if pid.width(edition).is_some() => {
                let v = n
                    .as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| field("params", format!("{}: {n} is not a whole number", pid.name(edition))))?;
                parsed.push((id, Ok(v)));
            }
            (v, _) => {
                return Err(field(
                    "params",
                    format!("{} (0x{id:02X}) cannot be set to {v}", pid.name(edition)),
                ))
            }
        }
    }
    if parsed.is_empty() || parsed.len() > 252 {
        return Err(field("params", "give 1-252 parameters"));
    }
    let params: Vec<Param<'_>> = parsed
        .iter()
        .map(|(id, v)| match v {
            Ok(n) => Param::number(ParamId(*id), *n),
            Err(b) => Param::bytes(ParamId(*id), b),
        })
        .collect();
    let list = ParamList {
        time,
        params: Reading::Valid(ParamItems::Items(&params)),
    };
    emit(list.wire_len(edition), |w| list.emit(edition, w))
}

fn text_field<'a>(body: &'a Value, name: &str) -> Result<&'a str, FieldError> {
    match &body[name] {
        Value::Null => Ok(""),
        Value::String(s) if s.is_ascii() && !s.contains(';') => Ok(s),
        _ => Err(field(name, "must be ASCII text without ';'")),
    }
}

fn fixed<const N: usize>(body: &Value, name: &str) -> Result<[u8; N], FieldError> {
    let s = text_field(body, name)?;
    if s.len() > N {
        return Err(field(name, format!("at most {N} characters")));
    }
    let mut out = [b' '; N];
    out[..s.len()].copy_from_slice(s.as_bytes());
    Ok(out)
}

fn number<T: TryFrom<u64>>(body: &Value, name: &str, default: Option<T>) -> Result<T, FieldError> {
    match (&body[name], default) {
        (Value::Null, Some(d)) => Ok(d),
        (v, _) => v
            .as_u64()
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| field(name, "a whole number in range is required")),
    }
}

fn control(body: &Value, edition: Edition, time: Time) -> Result<Vec<u8>, FieldError> {
    let name = body["control"]
        .as_str()
        .ok_or_else(|| field("control", "name the control command (alarm, disconnect, reset, ...)"))?;
    let message;
    let (apn, user, pass, url);
    let command = match name {
        "upgrade" | "remote_upgrade" => {
            apn = text_field(body, "apn")?;
            user = text_field(body, "username")?;
            pass = text_field(body, "password")?;
            url = text_field(body, "url")?;
            let ip: std::net::Ipv4Addr = text_field(body, "address")?
                .parse()
                .map_err(|_| field("address", "an IPv4 address"))?;
            let o = ip.octets();
            ControlCommand::Upgrade(Upgrade::Fields(UpgradeFields {
                apn: apn.as_bytes(),
                username: user.as_bytes(),
                password: pass.as_bytes(),
                address: [0, 0, o[0], o[1], o[2], o[3]],
                port: number(body, "port", None)?,
                manufacturer: fixed::<4>(body, "manufacturer")?,
                hardware_version: fixed::<5>(body, "hardware_version")?,
                firmware_version: fixed::<5>(body, "firmware_version")?,
                url: url.as_bytes(),
                connect_timeout_min: number(body, "connect_timeout_min", Some(10))?,
            }))
        }
        "shutdown" => ControlCommand::Shutdown,
        "reset" => ControlCommand::Reset,
        "factory_reset" => ControlCommand::FactoryReset,
        "disconnect" => ControlCommand::Disconnect,
        "start_sampling" => ControlCommand::StartSampling,
        "alarm" => {
            let level: u8 = number(body, "level", None)?;
            let max = if edition == Edition::V2025 { 4 } else { 3 };
            if level > max && level != 0xFF {
                return Err(field("level", format!("0-{max} (or 255 invalid)")));
            }
            message = body["message"].as_str().unwrap_or("").as_bytes().to_vec();
            ControlCommand::Alarm {
                level,
                message: &message,
            }
        }
        other => return Err(field("control", format!("unknown control command {other:?}"))),
    };
    let c = TerminalControl { time, command };
    emit(c.wire_len(), |w| c.emit(w)).map_err(|e| field("control", e.message))
}

/// The command code and data unit for `body` in `edition`.
pub fn build(body: &Value, edition: Edition, time: Time) -> Result<(u8, Vec<u8>), FieldError> {
    let code = match body["command"].as_str() {
        Some("query") => 0x80,
        Some("set") => 0x81,
        Some("control") => 0x82,
        other => {
            return Err(field(
                "command",
                format!("{} is not query, set or control", other.unwrap_or("(none)")),
            ))
        }
    };
    if code != 0x80 {
        if let Some(data) = body["data"].as_str() {
            let bytes = hex::decode(data.replace(' ', "")).map_err(|e| field("data", format!("not hex: {e}")))?;
            let mut d = time.0.to_vec();
            d.extend_from_slice(&bytes);
            return Ok((code, d));
        }
    }
    let data = match code {
        0x80 => query(body, edition, time)?,
        0x81 => set(body, edition, time)?,
        _ => control(body, edition, time)?,
    };
    Ok((code, data))
}

pub async fn command(
    State(s): State<AppState>,
    Path(vin): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let ctx = s.manager.ctx();
    let online = ctx.registry.get(&vin);
    let edition = match online.as_ref().map(|o| o.edition) {
        Some("2025") => Edition::V2025,
        _ => Edition::V2016,
    };
    let time = Time::from_unix(chrono::Utc::now().timestamp()).unwrap_or_default();
    // The body is checked before the device's state, so a bad body is a 422 either way.
    let (code, data_unit) = build(&body, edition, time)?;
    let online = online.ok_or_else(|| ApiError::new(StatusCode::CONFLICT, format!("{vin} is not online")))?;
    let (reply, answer) = oneshot::channel();
    online
        .tx
        .send(ConnCommand::Downlink {
            vin: vin.clone(),
            command: code,
            data_unit,
            reply,
        })
        .map_err(|_| ApiError::new(StatusCode::CONFLICT, format!("{vin} went offline")))?;
    let default_wait = ctx.downlink_timeout_ms / 1000 * 3 + 5;
    let wait = Duration::from_secs(body["timeout_secs"].as_u64().unwrap_or(default_wait));
    let outcome = match tokio::time::timeout(wait, answer).await {
        Ok(Ok(o)) => o,
        Ok(Err(_)) => DownlinkOutcome::Failed {
            reason: "connection closed".into(),
        },
        Err(_) => {
            ctx.metrics.downlink("api_timeout");
            // The answer channel is closed now: the connection withdraws the command.
            let _ = online.tx.send(ConnCommand::CallerGaveUp);
            DownlinkOutcome::TimedOut
        }
    };
    let status = match &outcome {
        DownlinkOutcome::Answered { .. } => StatusCode::OK,
        DownlinkOutcome::TimedOut => StatusCode::GATEWAY_TIMEOUT,
        DownlinkOutcome::Failed { .. } => StatusCode::CONFLICT,
    };
    let mut v = serde_json::to_value(outcome).map_err(anyhow::Error::from)?;
    v["edition"] = Value::from(online.edition);
    v["command"] = Value::from(code);
    Ok((status, Json(v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t() -> Time {
        Time([24, 5, 20, 8, 30, 15])
    }

    #[test]
    fn set_inserts_the_length_item_and_uses_edition_widths() {
        let body = json!({ "command": "set", "params": [{ "id": 2, "value": 5 }, { "id": 5, "value": "gw.x" }] });
        let (c, d) = build(&body, Edition::V2016, t()).unwrap();
        assert_eq!(c, 0x81);
        assert_eq!(&d[6..], &[3, 0x02, 0, 5, 0x04, 4, 0x05, b'g', b'w', b'.', b'x']);
        let (_, d) = build(&body, Edition::V2025, t()).unwrap();
        assert_eq!(&d[6..], &[3, 0x02, 5, 0x04, 4, 0x05, b'g', b'w', b'.', b'x']);
        let bad = json!({ "command": "set", "params": [{ "id": 7, "value": "HW2.0" }] });
        assert_eq!(build(&bad, Edition::V2016, t()).unwrap_err().field, "params");
    }

    #[test]
    fn control_commands() {
        let (c, d) = build(
            &json!({ "command": "control", "control": "alarm", "level": 2, "message": "hi" }),
            Edition::V2016,
            t(),
        )
        .unwrap();
        assert_eq!((c, &d[6..]), (0x82, &[6u8, 2, b'h', b'i'][..]));
        let (_, d) = build(
            &json!({ "command": "control", "control": "reset" }),
            Edition::V2025,
            t(),
        )
        .unwrap();
        assert_eq!(&d[6..], &[3]);
        let up = json!({ "command": "control", "control": "upgrade", "address": "10.0.0.1", "port": 59,
            "manufacturer": "ABCD", "hardware_version": "HW1.0", "firmware_version": "FW2.1", "url": "ftp://x/f.bin" });
        let (_, d) = build(&up, Edition::V2016, t()).unwrap();
        let parsed = TerminalControl::parse(&d).unwrap();
        assert!(matches!(parsed.command, ControlCommand::Upgrade(Upgrade::Fields(f)) if f.port == 59));
        let raw = json!({ "command": "control", "data": "05" });
        assert_eq!(&build(&raw, Edition::V2016, t()).unwrap().1[6..], &[5]);
    }
}
