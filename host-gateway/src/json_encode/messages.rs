//! The bodies both editions share: the logouts and the platform login, and the platform's
//! commands to the terminal (parameter query, set and answer, terminal control).

use anyhow::{anyhow, Result};
use gb32960_core::frame::{Edition, Encryption};
use gb32960_core::message::{ControlCommand, Logout, ParamId, ParamValue, PlatformLogin, Upgrade, UpgradeFields};
use gb32960_core::wire::{Field, Reading, Width};
use serde_json::Value;

use super::read::{bytes_text, code, counted, field_raw, fixed_str, padded, Node, Obj};
use super::Owned;

pub(super) fn logout(b: &Obj<'_>) -> Result<Logout> {
    Ok(Logout {
        time: b.req("time")?.time()?,
        serial: b.req("serial")?.uint(0xFFFF)? as u16,
    })
}

pub(super) fn platform_login(b: &Obj<'_>, edition: Edition) -> Result<PlatformLogin> {
    Ok(PlatformLogin {
        time: b.req("time")?.time()?,
        serial: b.req("serial")?.uint(0xFFFF)? as u16,
        username: fixed_str(b, "username", 0)?,
        password: fixed_str(b, "password", 0)?,
        encryption: Encryption(code(&b.req("encryption_rule")?, |c| Encryption(c).name(edition))?),
    })
}

/// A parameter ID: `{"id": ..}` (the query's shape), or the ID itself; a number or its name.
pub(super) fn param_id(n: &Node<'_>, edition: Edition) -> Result<u8> {
    match n.v {
        Value::Object(_) => code(&n.obj()?.req("id")?, |c| ParamId(c).name(edition)),
        _ => code(n, |c| ParamId(c).name(edition)),
    }
}

/// A parameter set or answer. A numeric ID takes a number (or a sentinel); any other takes
/// text or `value_hex`; `value_hex` alone is a value the core cannot size, kept raw.
pub(super) fn params(b: &Obj<'_>, edition: Edition, answer: bool) -> Result<Owned> {
    let params = counted(&b.req("params")?, Width::Byte, true, |n| {
        let o = n.obj()?;
        let id = ParamId(param_id(n, edition)?);
        let value = match id.width(edition) {
            Some(w) => {
                let f = if id.has_sentinels() {
                    Field::number("value", 0, w)
                } else {
                    Field::plain("value", 0, w)
                };
                OwnedValue::Number(field_raw(&f, &o.req("value")?)?)
            }
            None if o.has("value") => OwnedValue::Bytes(bytes_text(&o, "value")?),
            None => OwnedValue::Unsized(o.req("value_hex")?.hex()?),
        };
        Ok((id, value))
    })?;
    if let Reading::Valid(p) = &params {
        let last = p.len().saturating_sub(1);
        if let Some(k) = p[..last].iter().position(|(_, v)| matches!(v, OwnedValue::Unsized(_))) {
            return Err(anyhow!(
                "{}[{k}]: a value of unknown size must be the last parameter",
                b.at("params")
            ));
        }
    }
    Ok(Owned::Params {
        answer,
        time: b.req("time")?.time()?,
        params,
    })
}

/// A terminal control command. `params_hex` gives the parameters exactly (an upgrade that does
/// not follow Table B.16, or parameters the standard does not give the command).
pub(super) fn control(b: &Obj<'_>) -> Result<Owned> {
    let id = code(&b.req("control_id")?, |id| {
        ControlCommand::Other { id, params: &[] }.name()
    })?;
    let command = match (id, b.get("params_hex")) {
        (0x01, Some(p)) => OwnedCommand::Unparsed(p.hex()?),
        (_, Some(p)) => OwnedCommand::Other { id, params: p.hex()? },
        (0x01, None) => upgrade(b)?,
        (0x02, None) => OwnedCommand::Plain(ControlCommand::Shutdown),
        (0x03, None) => OwnedCommand::Plain(ControlCommand::Reset),
        (0x04, None) => OwnedCommand::Plain(ControlCommand::FactoryReset),
        (0x05, None) => OwnedCommand::Plain(ControlCommand::Disconnect),
        (0x06, None) => OwnedCommand::Alarm {
            level: b.req("level")?.uint(0xFF)? as u8,
            message: bytes_text(b, "message")?,
        },
        (0x07, None) => OwnedCommand::Plain(ControlCommand::StartSampling),
        (_, None) => OwnedCommand::Other { id, params: Vec::new() },
    };
    Ok(Owned::Control {
        time: b.req("time")?.time()?,
        command,
    })
}

fn upgrade(b: &Obj<'_>) -> Result<OwnedCommand> {
    let address = match b.get("address_hex") {
        Some(n) => {
            let a = n.hex()?;
            <[u8; 6]>::try_from(a.as_slice()).map_err(|_| n.err(format_args!("expected 6 bytes, found {}", a.len())))?
        }
        None => {
            let n = b.req("address")?;
            let ip: std::net::Ipv4Addr = n
                .str()?
                .parse()
                .map_err(|_| n.err("expected an IPv4 address a.b.c.d"))?;
            let [p, q, r, s] = ip.octets();
            [0, 0, p, q, r, s]
        }
    };
    let fields = UpgradeFields {
        apn: &[],
        username: &[],
        password: &[],
        address,
        port: b.req("port")?.uint(0xFFFF)? as u16,
        manufacturer: padded(b, "manufacturer")?,
        hardware_version: padded(b, "hardware_version")?,
        firmware_version: padded(b, "firmware_version")?,
        url: &[],
        connect_timeout_min: b.req("connect_timeout_min")?.uint(0xFFFF)? as u16,
    };
    let strings = [
        bytes_text(b, "apn")?,
        bytes_text(b, "username")?,
        bytes_text(b, "password")?,
        bytes_text(b, "url")?,
    ];
    Ok(OwnedCommand::Upgrade(fields, strings))
}

pub(super) enum OwnedValue {
    Number(u32),
    Bytes(Vec<u8>),
    Unsized(Vec<u8>),
}

pub(super) enum OwnedCommand {
    Plain(ControlCommand<'static>),
    /// The upgrade fields (their strings empty), and apn, username, password, url.
    Upgrade(UpgradeFields<'static>, [Vec<u8>; 4]),
    Unparsed(Vec<u8>),
    Alarm {
        level: u8,
        message: Vec<u8>,
    },
    Other {
        id: u8,
        params: Vec<u8>,
    },
}

impl OwnedValue {
    pub(super) fn borrow(&self) -> ParamValue<'_> {
        match self {
            OwnedValue::Number(n) => ParamValue::Number(*n),
            OwnedValue::Bytes(b) => ParamValue::Bytes(b),
            OwnedValue::Unsized(b) => ParamValue::Unsized(b),
        }
    }
}

impl OwnedCommand {
    pub(super) fn borrow(&self) -> ControlCommand<'_> {
        match self {
            OwnedCommand::Plain(c) => *c,
            OwnedCommand::Upgrade(fields, [apn, username, password, url]) => {
                ControlCommand::Upgrade(Upgrade::Fields(UpgradeFields {
                    apn,
                    username,
                    password,
                    url,
                    ..*fields
                }))
            }
            OwnedCommand::Unparsed(p) => ControlCommand::Upgrade(Upgrade::Unparsed(p)),
            OwnedCommand::Alarm { level, message } => ControlCommand::Alarm { level: *level, message },
            OwnedCommand::Other { id, params } => ControlCommand::Other { id: *id, params },
        }
    }
}
