//! Who may log in: one-way (devices imported beforehand) or third-party (an HTTP function).
//! Both fail closed: an error or a timeout refuses the login, and the log says why.

use std::time::Duration;

use gb32960_core::message::Body;
use gb32960_core::Frame;
use serde::{Deserialize, Serialize};

use super::gateway::Ctx;
use super::model::{AuthType, DeviceImport, Gateway};

/// What the authentication function receives (the exact body).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuthRequest {
    pub vin: String,
    pub iccid: String,
    pub serial_no: u16,
    pub sub_system_number: u8,
    pub system_encode_length: u8,
    pub system_encode: Vec<String>,
    pub action: &'static str,
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub protocol: &'static str,
}

#[derive(Debug, Deserialize)]
struct AuthAnswer {
    result: serde_json::Value,
    #[serde(default)]
    message: Option<String>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end_matches(['\0', ' ']).to_string()
}

impl AuthRequest {
    /// The request for a login frame; `None` if it is not one.
    pub fn from_login(bytes: &[u8]) -> Option<Self> {
        let f = Frame::parse(bytes).ok()?;
        let vin = text(f.header.vin.trimmed());
        let (time, serial, iccid, n, m, codes) = match f.body {
            Body::VehicleLogin(l) => (
                l.time,
                l.serial,
                l.iccid,
                l.subsystem_count,
                l.code_len,
                l.codes().map(text).collect(),
            ),
            Body::VehicleLogin2025(l) => (
                l.time,
                l.serial,
                l.iccid,
                u8::try_from(l.packs_per_bms.len()).unwrap_or(u8::MAX),
                0,
                Vec::new(),
            ),
            _ => return None,
        };
        Some(AuthRequest {
            vin,
            iccid: text(iccid.trimmed()),
            serial_no: serial,
            sub_system_number: n,
            system_encode_length: m,
            system_encode: codes,
            action: "auth",
            year: time.year(),
            month: time.month(),
            day: time.day(),
            hour: time.hour(),
            minute: time.minute(),
            second: time.second(),
            protocol: "gb32960",
        })
    }
}

/// Decides a login: `Ok(())` accepts, `Err(why)` refuses.
pub async fn authenticate(ctx: &Ctx, gw: &Gateway, req: &AuthRequest) -> Result<(), String> {
    match gw.spec.auth_type {
        AuthType::OneWay => one_way(ctx, gw, req).await,
        AuthType::ThirdParty => third_party(ctx, gw, req).await,
    }
}

async fn one_way(ctx: &Ctx, gw: &Gateway, req: &AuthRequest) -> Result<(), String> {
    let store = ctx.store.clone();
    let vin = req.vin.clone();
    let device = tokio::task::spawn_blocking(move || store.device(&vin))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("store error: {e:#}"))?;
    let Some(d) = device else {
        return Err("unknown VIN (not imported)".into());
    };
    if d.gateway_id != gw.id {
        return Err(format!("VIN is imported into gateway {}, not this one", d.gateway_id));
    }
    match d.iccid {
        Some(bound) if !bound.is_empty() && bound != req.iccid => {
            Err(format!("ICCID {} is not the bound {}", req.iccid, bound))
        }
        _ => Ok(()),
    }
}

async fn third_party(ctx: &Ctx, gw: &Gateway, req: &AuthRequest) -> Result<(), String> {
    let url = gw.spec.auth_url.as_deref().ok_or("no auth_url configured")?;
    let resp = ctx
        .http
        .post(url)
        .timeout(Duration::from_millis(gw.spec.auth_timeout_ms))
        .json(req)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                format!("authentication function timed out after {} ms", gw.spec.auth_timeout_ms)
            } else {
                format!("authentication function unreachable: {e}")
            }
        })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("authentication function answered HTTP {status}"));
    }
    let answer: AuthAnswer = resp
        .json()
        .await
        .map_err(|e| format!("authentication function answered something else than {{result, message}}: {e}"))?;
    let ok = match &answer.result {
        serde_json::Value::String(s) => s == "true",
        serde_json::Value::Bool(b) => *b,
        _ => false,
    };
    if !ok {
        return Err(format!(
            "authentication function refused: {}",
            answer.message.as_deref().unwrap_or("(no message)")
        ));
    }
    // A device named by the VIN is created on success.
    let store = ctx.store.clone();
    let row = DeviceImport {
        vin: req.vin.clone(),
        iccid: Some(req.iccid.clone()).filter(|s| !s.is_empty()),
        metadata: None,
    };
    let gid = gw.id;
    tokio::task::spawn_blocking(move || store.devices_import(gid, &[row]))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("store error: {e:#}"))?;
    Ok(())
}

/// Hashes a platform account's password (argon2, random salt).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?
        .to_string())
}

/// Decides a 0x05 platform login against the stored accounts. The error never contains the
/// password.
pub async fn platform_account(ctx: &Ctx, gw: &Gateway, username: &str, password: String) -> Result<(), String> {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let store = ctx.store.clone();
    let user = username.to_string();
    let gid = gw.id;
    tokio::task::spawn_blocking(move || {
        let (account, hash) = store
            .platform_account(&user)
            .map_err(|e| format!("store error: {e:#}"))?
            .ok_or("unknown platform account")?;
        if account.gateway_id.is_some_and(|g| g != gid) {
            return Err(format!(
                "the account is bound to gateway {}",
                account.gateway_id.unwrap_or(0)
            ));
        }
        let parsed = PasswordHash::new(&hash).map_err(|e| format!("stored hash: {e}"))?;
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .map_err(|_| "wrong password".to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Decides a 2025 activation (0x09) and returns the 0x0A answer `(status, info, why)`.
///
/// * Success `01 00`: the signature verifies with the public key the frame carries, the VIN is a
///   device imported into this gateway, and it is not activated with another chip (activating
///   again with the same chip and key succeeds again). The chip ID, the public key (hex) and the
///   signature algorithm are stored in the device's metadata under `activation`.
/// * Failure `02 01` ("chip already activated"): the chip is the problem - the signature does
///   not verify (the chip did not prove it holds the key), or the chip is activated for another
///   VIN, or with another key.
/// * Failure `02 02` ("VIN duplicate"): the VIN is the problem - not imported here, or already
///   activated with another chip.
///
/// The standard has no code for "bad signature" or "unknown vehicle"; these are the closest
/// (notes 2025 §5.5; A5: the platform answers 0x09 only with 0x0A).
pub async fn activation(ctx: &Ctx, gw: &Gateway, vin: &str, bytes: &[u8]) -> (u8, u8, String) {
    use gb32960_core::security::{verify_frame, Verification};
    let Ok(raw) = gb32960_core::RawFrame::parse(bytes) else {
        return (0x02, 0x01, "frame does not parse".into());
    };
    let Ok(Frame {
        body: Body::Activation(a),
        ..
    }) = Frame::decode(&raw)
    else {
        return (0x02, 0x01, "not an activation".into());
    };
    match verify_frame(&raw, None) {
        Some(Verification::Valid) => {}
        other => {
            let what = other.map_or("absent", Verification::name);
            return (0x02, 0x01, format!("signature {what}"));
        }
    }
    if a.vin != raw.header.vin {
        return (0x02, 0x02, "the VIN in the data unit is not the header's".into());
    }
    let chip = text(a.chip_id.trimmed());
    let public_key = hex::encode_upper(a.public_key);
    let algorithm = a.signature.algorithm.0;
    let store = ctx.store.clone();
    let vin = vin.to_string();
    let gid = gw.id;
    let r = tokio::task::spawn_blocking(move || -> anyhow::Result<(u8, u8, String)> {
        let Some(device) = store.device(&vin)? else {
            return Ok((0x02, 0x02, "unknown VIN (not imported)".into()));
        };
        if device.gateway_id != gid {
            return Ok((
                0x02,
                0x02,
                format!("VIN is imported into gateway {}", device.gateway_id),
            ));
        }
        let mut meta = match device.metadata {
            Some(serde_json::Value::Object(m)) => m,
            Some(other) => {
                let mut m = serde_json::Map::new();
                m.insert("imported".into(), other);
                m
            }
            None => serde_json::Map::new(),
        };
        if let Some(prev) = meta.get("activation") {
            if prev["chip_id"] != chip.as_str() {
                return Ok((0x02, 0x02, "VIN already activated with another chip".into()));
            }
            if prev["public_key"] != public_key.as_str() {
                return Ok((0x02, 0x01, "chip already activated with another key".into()));
            }
        }
        if let Some(other) = store.device_with_chip(&chip)?.filter(|v| *v != vin) {
            return Ok((0x02, 0x01, format!("chip already activated for {other}")));
        }
        meta.insert(
            "activation".into(),
            serde_json::json!({
                "chip_id": chip,
                "public_key": public_key,
                "signature_algorithm": algorithm,
                "activated_at": chrono::Utc::now().timestamp_millis(),
            }),
        );
        store.device_set_metadata(&vin, &serde_json::Value::Object(meta))?;
        Ok((0x01, 0x00, "activated".into()))
    })
    .await;
    match r {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => (0x02, 0x02, format!("store error: {e:#}")),
        Err(e) => (0x02, 0x02, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_from_the_readme_login() {
        let bytes = hex::decode("232301FE4C47425433323936305445535430303031010026180514081E0F000138393836303031323334353637383930313233340108424154303030303198").unwrap();
        let r = AuthRequest::from_login(&bytes).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["vin"], "LGBT32960TEST0001");
        assert_eq!(v["serialNo"], 1);
        assert_eq!(v["subSystemNumber"], 1);
        assert_eq!(v["systemEncodeLength"], 8);
        assert_eq!(v["systemEncode"][0], "BAT00001");
        assert_eq!(v["action"], "auth");
        assert_eq!(v["protocol"], "gb32960");
        assert_eq!(v["year"], 2024);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 14);
    }
}
