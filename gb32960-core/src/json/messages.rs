//! The data units other than reports: vehicle logins of both editions, logout, platform login,
//! parameter query/set/answer, terminal control and generic responses.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::{put_bytes_text, put_fixed_str, Hex, Text};
use crate::frame::Edition;
use crate::message::{
    ControlCommand, Logout, Param, ParamItems, ParamList, ParamQuery, ParamValue, PlatformLogin, Response,
    TerminalControl, Upgrade, UpgradeFields, VehicleLogin, VehicleLogin2025,
};
use crate::wire::{List, Reading};

pub(super) fn put_login<M: SerializeMap>(m: &mut M, l: &VehicleLogin<'_>) -> Result<(), M::Error> {
    m.serialize_entry("time", &l.time)?;
    m.serialize_entry("serial", &l.serial)?;
    put_fixed_str(m, "iccid", "iccid_hex", &l.iccid)?;
    m.serialize_entry("subsystem_count", &l.subsystem_count)?;
    m.serialize_entry("code_length", &l.code_len)?;
    m.serialize_entry("codes", &CodeList(l))?;
    let canonical = l.codes().all(|c| {
        let t = trim(c);
        core::str::from_utf8(t).is_ok() && c[t.len()..].iter().all(|&b| b == 0)
    });
    if !canonical || l.codes.len() != usize::from(l.subsystem_count) * usize::from(l.code_len) {
        m.serialize_entry("codes_hex", &Hex(l.codes))?;
    }
    Ok(())
}

fn trim(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], 0 | b' ') {
        end -= 1;
    }
    &b[..end]
}

struct CodeList<'a, 'b>(&'b VehicleLogin<'a>);

impl Serialize for CodeList<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.codes().map(|c| Text(trim(c))))
    }
}

struct PackCodes<'a>(&'a VehicleLogin2025<'a>);

impl Serialize for PackCodes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.codes().map(|c| Text(trim(c))))
    }
}

pub(super) fn put_login_2025<M: SerializeMap>(m: &mut M, l: &VehicleLogin2025<'_>) -> Result<(), M::Error> {
    m.serialize_entry("time", &l.time)?;
    m.serialize_entry("serial", &l.serial)?;
    put_fixed_str(m, "iccid", "iccid_hex", &l.iccid)?;
    m.serialize_entry("packs_per_bms", l.packs_per_bms)?;
    m.serialize_entry("pack_codes", &PackCodes(l))?;
    let canonical = l.codes().all(|c| {
        let t = trim(c);
        core::str::from_utf8(t).is_ok() && c[t.len()..].iter().all(|&b| b == 0)
    });
    if !canonical {
        m.serialize_entry("pack_codes_hex", &Hex(l.pack_codes))?;
    }
    Ok(())
}

pub(super) fn put_logout<M: SerializeMap>(m: &mut M, l: &Logout) -> Result<(), M::Error> {
    m.serialize_entry("time", &l.time)?;
    m.serialize_entry("serial", &l.serial)
}

pub(super) fn put_platform_login<M: SerializeMap>(m: &mut M, l: &PlatformLogin, e: Edition) -> Result<(), M::Error> {
    m.serialize_entry("time", &l.time)?;
    m.serialize_entry("serial", &l.serial)?;
    put_fixed_str(m, "username", "username_hex", &l.username)?;
    put_fixed_str(m, "password", "password_hex", &l.password)?;
    m.serialize_entry("encryption_rule", &l.encryption.0)?;
    m.serialize_entry("encryption_rule_name", l.encryption.name(e))
}

struct ParamJson<'a>(Param<'a>, Edition);

impl Serialize for ParamJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Self(p, e) = self;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &p.id.0)?;
        m.serialize_entry("name", p.id.name(*e))?;
        match p.value {
            ParamValue::Number(_) => m.serialize_entry("value", &p.reading(*e))?,
            ParamValue::Bytes(b) => put_bytes_text(&mut m, "value", "value_hex", b)?,
            ParamValue::Unsized(b) => m.serialize_entry("value_hex", &Hex(b))?,
        }
        m.end()
    }
}

struct ParamsJson<'a>(Reading<ParamItems<'a>>, Edition);

impl Serialize for ParamsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Reading::Valid(items) => s.collect_seq(items.iter().map(|p| ParamJson(p, self.1))),
            other => other.map(|_| ()).serialize(s),
        }
    }
}

struct QueryIds<'a>(Reading<List<'a, u8>>, Edition);

impl Serialize for QueryIds<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Id(u8, Edition);
        impl Serialize for Id {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("id", &self.0)?;
                m.serialize_entry("name", crate::message::ParamId(self.0).name(self.1))?;
                m.end()
            }
        }
        match self.0 {
            Reading::Valid(ids) => s.collect_seq(ids.iter().map(|id| Id(id, self.1))),
            other => other.map(|_| ()).serialize(s),
        }
    }
}

pub(super) fn put_query<M: SerializeMap>(m: &mut M, q: &ParamQuery<'_>, e: Edition) -> Result<(), M::Error> {
    m.serialize_entry("time", &q.time)?;
    m.serialize_entry("params", &QueryIds(q.ids, e))
}

pub(super) fn put_param_list<M: SerializeMap>(m: &mut M, l: &ParamList<'_>, e: Edition) -> Result<(), M::Error> {
    m.serialize_entry("time", &l.time)?;
    m.serialize_entry("params", &ParamsJson(l.params, e))
}

fn put_upgrade<M: SerializeMap>(m: &mut M, u: &UpgradeFields<'_>) -> Result<(), M::Error> {
    put_bytes_text(m, "apn", "apn_hex", u.apn)?;
    put_bytes_text(m, "username", "username_hex", u.username)?;
    put_bytes_text(m, "password", "password_hex", u.password)?;
    if u.address[..2] == [0, 0] {
        let a = &u.address;
        m.serialize_entry("address", &format_args!("{}.{}.{}.{}", a[2], a[3], a[4], a[5]))?;
    }
    m.serialize_entry("address_hex", &Hex(&u.address))?;
    m.serialize_entry("port", &u.port)?;
    put_bytes_text(m, "manufacturer", "manufacturer_hex", &u.manufacturer)?;
    put_bytes_text(m, "hardware_version", "hardware_version_hex", &u.hardware_version)?;
    put_bytes_text(m, "firmware_version", "firmware_version_hex", &u.firmware_version)?;
    put_bytes_text(m, "url", "url_hex", u.url)?;
    m.serialize_entry("connect_timeout_min", &u.connect_timeout_min)
}

pub(super) fn put_control<M: SerializeMap>(m: &mut M, c: &TerminalControl<'_>) -> Result<(), M::Error> {
    m.serialize_entry("time", &c.time)?;
    m.serialize_entry("control_id", &c.command.id())?;
    m.serialize_entry("control_name", c.command.name())?;
    match c.command {
        ControlCommand::Upgrade(Upgrade::Fields(f)) => put_upgrade(m, &f)?,
        ControlCommand::Upgrade(Upgrade::Unparsed(p)) | ControlCommand::Other { params: p, .. } => {
            m.serialize_entry("params_hex", &Hex(p))?
        }
        ControlCommand::Alarm { level, message } => {
            m.serialize_entry("level", &level)?;
            put_bytes_text(m, "message", "message_hex", message)?;
        }
        _ => {}
    }
    Ok(())
}

pub(super) fn put_response<M: SerializeMap>(m: &mut M, r: &Response<'_>) -> Result<(), M::Error> {
    m.serialize_entry("time", &r.time)?;
    m.serialize_entry("rest_hex", &Hex(r.rest))
}
