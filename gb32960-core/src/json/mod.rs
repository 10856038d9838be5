//! The JSON shape of decoded frames (`serde` feature), documented in `docs/json.md`.
//!
//! This is what the gateway publishes, so it is written for consumers: fixed top-level keys,
//! physical values in the standard's units with the raw integer beside them where the two
//! differ, `"abnormal"`/`"invalid"` for sentinels, names beside codes. Every field of a
//! fixed-layout record comes from its field table, the same table the codec and the gateway's
//! JSON encoder use, so the three cannot disagree. No allocation: hex and times are written
//! through `collect_str`.
//!
//! One file per seam: the shared pieces (hex, text, numbers, field tables, list adapters), the
//! header and the body dispatch live here; `v2016` and `v2025` serialise the information blocks
//! of each edition (and the 2025 signature, activation and key exchange); `messages` the other
//! data units (logins, logout, parameters, control, responses).

mod messages;
mod v2016;
mod v2025;

use core::fmt;

use serde::ser::{Error as _, SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

use crate::frame::{Edition, Header};
use crate::message::{Body, Frame};
use crate::realtime::v2016 as v16;
use crate::wire::{Element, Field, FixedStr, Kind, List, Reading, Record, RecordList, Time};

use messages::{
    put_control, put_login, put_login_2025, put_logout, put_param_list, put_platform_login, put_query, put_response,
};
use v2016::Blocks;
use v2025::{put_activation, put_activation_response, put_key_exchange, Blocks2025, SignatureJson};

/// Bytes as upper-case hex.
pub(crate) struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl Serialize for Hex<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Text of a byte string: the bytes as a string if UTF-8, else escaped.
struct Text<'a>(&'a [u8]);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match core::str::from_utf8(self.0) {
            Ok(s) => f.write_str(s),
            Err(_) => {
                for &b in self.0 {
                    if b.is_ascii_graphic() || b == b' ' {
                        write!(f, "{}", b as char)?;
                    } else {
                        write!(f, "\\x{b:02X}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<T: Serialize> Serialize for Reading<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Reading::Valid(v) => v.serialize(s),
            Reading::Abnormal => s.serialize_str("abnormal"),
            Reading::Invalid => s.serialize_str("invalid"),
        }
    }
}

/// A number that prints as an integer when it is one (JSON consumers see `25`, not `25.0`).
struct Num(f64);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() && v == (v as i64) as f64 && v.abs() < 9.0e15 {
            s.serialize_i64(v as i64)
        } else {
            s.serialize_f64(v)
        }
    }
}

/// Writes a string field that must round-trip: `key` as text, plus `key_hex` when the text
/// does not give the same bytes back (odd padding, non-UTF-8).
fn put_fixed_str<M: SerializeMap, const N: usize>(
    m: &mut M,
    key: &'static str,
    hex_key: &'static str,
    v: &FixedStr<N>,
) -> Result<(), M::Error> {
    m.serialize_entry(key, &Text(v.trimmed()))?;
    if !v.is_canonical() {
        m.serialize_entry(hex_key, &Hex(&v.0))?;
    }
    Ok(())
}

/// Writes a variable byte string: text, plus hex when it is not UTF-8.
fn put_bytes_text<M: SerializeMap>(
    m: &mut M,
    key: &'static str,
    hex_key: &'static str,
    v: &[u8],
) -> Result<(), M::Error> {
    m.serialize_entry(key, &Text(v))?;
    if core::str::from_utf8(v).is_err() {
        m.serialize_entry(hex_key, &Hex(v))?;
    }
    Ok(())
}

/// The `_raw` key of a field: its name with `_raw` appended, from a fixed table of all names.
/// (Names are `'static`, and there is no allocator to build the key at run time.)
pub(crate) fn raw_key(name: &str) -> Option<&'static str> {
    RAW_KEYS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// The `_name` key of a code field.
pub(crate) fn name_key(name: &str) -> Option<&'static str> {
    NAME_KEYS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

macro_rules! key_table {
    ($table:ident, $suffix:literal, [$($n:literal),* $(,)?]) => {
        const $table: &[(&str, &str)] = &[$(($n, concat!($n, $suffix))),*];
    };
}

key_table!(
    RAW_KEYS,
    "_raw",
    [
        "speed_kmh",
        "odometer_km",
        "total_voltage_v",
        "total_current_a",
        "controller_temp_c",
        "speed_rpm",
        "torque_nm",
        "temp_c",
        "controller_voltage_v",
        "controller_current_a",
        "voltage_v",
        "current_a",
        "consumption_kg_per_100km",
        "h2_max_temp_c",
        "h2_max_pressure_mpa",
        "fuel_consumption_l_per_100km",
        "longitude_abs_deg",
        "latitude_abs_deg",
        "max_cell_voltage_v",
        "min_cell_voltage_v",
        "max_temp_c",
        "min_temp_c",
        "h2_max_concentration_pct",
        "h2_inlet_pressure_kpa",
        "air_inlet_pressure_kpa",
        "air_inlet_temp_c",
        "hv_dcdc_controller_temp_c",
    ]
);

key_table!(
    NAME_KEYS,
    "_name",
    [
        "vehicle_state",
        "charging_state",
        "operating_mode",
        "dcdc_state",
        "state",
        "hv_dcdc_state",
        "coordinate_system",
    ]
);

/// Serialises every field of a fixed record from its table.
pub(crate) fn put_fields<M: SerializeMap>(m: &mut M, fields: &[Field], record: &[u8]) -> Result<(), M::Error> {
    for f in fields {
        let reading = f.reading_raw(record);
        match f.kind {
            Kind::Code { .. } => {
                m.serialize_entry(f.name, &reading)?;
                if let (Reading::Valid(raw), Some(k)) = (reading, name_key(f.name)) {
                    if let Some(n) = f.code_name(raw) {
                        m.serialize_entry(k, n)?;
                    }
                }
            }
            Kind::Bits => m.serialize_entry(f.name, &f.raw(record))?,
            Kind::Number { offset: 0, .. } => m.serialize_entry(f.name, &reading)?,
            Kind::Number { .. } | Kind::Scaled { .. } => {
                m.serialize_entry(f.name, &reading.map(|r| Num(f.physical_of(r))))?;
                let k = raw_key(f.name).ok_or_else(|| M::Error::custom("field without a raw key"))?;
                m.serialize_entry(k, &f.raw(record))?;
            }
        }
    }
    Ok(())
}

/// A record serialised as a JSON object from its table.
struct Fields<'a>(&'a [Field], &'a [u8]);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        put_fields(&mut m, self.0, self.1)?;
        m.end()
    }
}

/// A list of fixed records, or the sentinel of its count.
struct RecordsOf<'a, T>(&'a Reading<List<'a, T>>, &'static [Field]);

impl<T: Element + crate::wire::FixedRecord> Serialize for RecordsOf<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Reading::Valid(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for r in l.iter() {
                    seq.serialize_element(&Fields(self.1, r.bytes()))?;
                }
                seq.end()
            }
            other => other.map(|_| ()).serialize(s),
        }
    }
}

/// Raw integers of a list, or the sentinel of its count.
struct Raws<'a, T>(&'a Reading<List<'a, T>>);

impl<T: Element + Serialize> Serialize for Raws<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Reading::Valid(l) => s.collect_seq(l.iter()),
            other => other.map(|_| ()).serialize(s),
        }
    }
}

/// Physical values of a list of raw integers: `f(raw)` per element.
struct Physicals<'a, T, F>(&'a Reading<List<'a, T>>, F);

impl<T: Element, F: Fn(T) -> Reading<f64>> Serialize for Physicals<'_, T, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Reading::Valid(l) => s.collect_seq(l.iter().map(|v| (self.1)(v).map(Num))),
            other => other.map(|_| ()).serialize(s),
        }
    }
}

fn temp_c(raw: u8) -> Reading<f64> {
    v16::RessTemperature::temp_c(raw).map(|v| v as f64)
}

fn cell_v(raw: u16) -> Reading<f64> {
    v16::RessVoltage::cell_voltage_v(raw)
}

/// Records of a record list, each by a closure, or the sentinel of the count.
struct RecordsWith<'a, T, F>(&'a Reading<RecordList<'a, T>>, F);

impl<'a, T: Record<'a>, F: Fn(T) -> R, R: Serialize> Serialize for RecordsWith<'a, T, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Reading::Valid(l) => s.collect_seq(l.iter().map(&self.1)),
            other => other.map(|_| ()).serialize(s),
        }
    }
}

/// A serialisable view of a body; the edition decides names and widths.
struct BodyJson<'a>(&'a Body<'a>, Edition);

impl Serialize for BodyJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        let e = self.1;
        match self.0 {
            Body::VehicleLogin(l) => put_login(&mut m, l)?,
            Body::VehicleLogin2025(l) => put_login_2025(&mut m, l)?,
            Body::Realtime(r) => {
                m.serialize_entry("time", &r.time)?;
                m.serialize_entry("blocks", &Blocks(&r.blocks))?;
            }
            Body::Realtime2025(r) => {
                m.serialize_entry("time", &r.time)?;
                m.serialize_entry("blocks", &Blocks2025(&r.blocks))?;
                m.serialize_entry("signature", &r.signature.map(SignatureJson))?;
            }
            Body::Activation(a) => put_activation(&mut m, a)?,
            Body::ActivationResponse(a) => put_activation_response(&mut m, a)?,
            Body::KeyExchange(k) => put_key_exchange(&mut m, k, e)?,
            Body::VehicleLogout(l) | Body::PlatformLogout(l) => put_logout(&mut m, l)?,
            Body::PlatformLogin(l) => put_platform_login(&mut m, l, e)?,
            Body::Heartbeat | Body::TimeCalibration => {}
            Body::ParamQuery(q) => put_query(&mut m, q, e)?,
            Body::ParamSet(l) | Body::ParamAnswer(l) => put_param_list(&mut m, l, e)?,
            Body::Control(c) => put_control(&mut m, c)?,
            Body::Response(r) => put_response(&mut m, r)?,
            Body::Encrypted(d) => m.serialize_entry("ciphertext_hex", &Hex(d))?,
            Body::Other(d) => m.serialize_entry("data_hex", &Hex(d))?,
        }
        m.end()
    }
}

/// The body kind as a stable name (`"realtime"`, `"response"`...), so that consumers and the
/// encoder know which shape `body` has without re-deriving the dispatch rules.
pub(crate) fn body_kind(b: &Body<'_>) -> &'static str {
    match b {
        Body::VehicleLogin(_) | Body::VehicleLogin2025(_) => "vehicle_login",
        Body::Realtime(_) | Body::Realtime2025(_) => "realtime",
        Body::Activation(_) => "activation",
        Body::ActivationResponse(_) => "activation_response",
        Body::KeyExchange(_) => "key_exchange",
        Body::VehicleLogout(_) => "vehicle_logout",
        Body::PlatformLogin(_) => "platform_login",
        Body::PlatformLogout(_) => "platform_logout",
        Body::Heartbeat => "heartbeat",
        Body::TimeCalibration => "time_calibration",
        Body::ParamQuery(_) => "parameter_query",
        Body::ParamSet(_) => "parameter_set",
        Body::Control(_) => "terminal_control",
        Body::ParamAnswer(_) => "parameter_answer",
        Body::Response(_) => "response",
        Body::Encrypted(_) => "encrypted",
        Body::Other(_) => "raw",
    }
}

fn put_header<M: SerializeMap>(m: &mut M, h: &Header) -> Result<(), M::Error> {
    let e = h.edition;
    m.serialize_entry("edition", e.as_str())?;
    m.serialize_entry("command", &h.command.0)?;
    m.serialize_entry("command_name", h.command.name(e))?;
    m.serialize_entry("response", &h.response.0)?;
    m.serialize_entry("response_name", h.response.name(e))?;
    put_fixed_str(m, "vin", "vin_hex", &h.vin)?;
    m.serialize_entry("encryption", &h.encryption.0)?;
    m.serialize_entry("encryption_name", h.encryption.name(e))
}

impl Serialize for Frame<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        put_header(&mut m, &self.header)?;
        m.serialize_entry("body_kind", body_kind(&self.body))?;
        m.serialize_entry("body", &BodyJson(&self.body, self.header.edition))?;
        m.end()
    }
}

impl Serialize for Header {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        put_header(&mut m, self)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::v2025 as v25;

    #[test]
    fn every_scaled_field_has_a_raw_key_and_every_code_a_name_key() {
        let tables: &[&[Field]] = &[
            v16::vehicle::field::ALL,
            v16::motor::field::ALL,
            v16::fuel_cell::field::HEAD,
            v16::fuel_cell::field::TAIL,
            v16::engine::field::ALL,
            v16::position::field::ALL,
            v16::extremes::field::ALL,
            v16::alarm::field::ALL,
            v16::ress::field::ALL,
            v25::vehicle::field::ALL,
            v25::motor::field::ALL,
            v25::fixed::fuel_cell_field::ALL,
            v25::fixed::engine_field::ALL,
            v25::fixed::position_field::ALL,
            v25::fixed::supercap_extremes_field::ALL,
            v25::alarm::field::ALL,
            v25::packs::pack_field::ALL,
            v25::packs::stack_field::ALL,
            v25::packs::supercap_field::ALL,
        ];
        for t in tables {
            for f in *t {
                if f.shows_raw() {
                    assert!(raw_key(f.name).is_some(), "{} has no raw key", f.name);
                }
                if matches!(f.kind, Kind::Code { .. }) {
                    assert!(name_key(f.name).is_some(), "{} has no name key", f.name);
                }
            }
        }
    }
}
