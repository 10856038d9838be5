//! The JSON shape of decoded frames (`serde` feature), documented in `docs/json.md`.
//!
//! This is what the gateway publishes, so it is written for consumers: fixed top-level keys,
//! physical values in the standard's units with the raw integer beside them where the two
//! differ, `"abnormal"`/`"invalid"` for sentinels, names beside codes. Every field of a
//! fixed-layout record comes from its field table, the same table the codec and the gateway's
//! JSON encoder use, so the three cannot disagree. No allocation: hex and times are written
//! through `collect_str`.

use core::fmt;

use serde::ser::{Error as _, SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

use crate::frame::{Edition, Header};
use crate::message::{
    Activation, ActivationResponse, Body, ControlCommand, Frame, KeyExchange, Logout, Param, ParamItems, ParamList,
    ParamQuery, ParamValue, PlatformLogin, Response, TerminalControl, Upgrade, UpgradeFields, VehicleLogin,
    VehicleLogin2025,
};
use crate::realtime::v2016::{self as v16, block_type, AlarmFlag, InfoBlock};
use crate::realtime::v2025 as v25;
use crate::signature::Signature;
use crate::wire::{Element, Field, FixedStr, Kind, List, Reading, Record, RecordList, Time};

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

struct RessVoltageJson<'a>(v16::RessVoltage<'a>);

impl Serialize for RessVoltageJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        put_fields(&mut m, v16::ress::field::ALL, &self.0.head.0)?;
        let cells = Reading::Valid(self.0.cells);
        m.serialize_entry("frame_cell_count", &self.0.cells.len())?;
        m.serialize_entry("cell_voltages_v", &Physicals(&cells, cell_v))?;
        m.serialize_entry("cell_voltages_raw", &Raws(&cells))?;
        m.end()
    }
}

struct RessTemperatureJson<'a>(v16::RessTemperature<'a>);

impl Serialize for RessTemperatureJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("number", &self.0.number)?;
        m.serialize_entry("probe_temps_c", &Physicals(&self.0.temps, temp_c))?;
        m.serialize_entry("probe_temps_raw", &Raws(&self.0.temps))?;
        m.end()
    }
}

/// The names of the set bits of an alarm flag word; reserved bits as `bit_N`.
struct FlagNames(u32);

impl Serialize for FlagNames {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.count_ones() as usize))?;
        for bit in 0..32 {
            if self.0 & (1 << bit) != 0 {
                match AlarmFlag::name(bit) {
                    Some(n) => seq.serialize_element(n)?,
                    None => seq.serialize_element(&format_args!("bit_{bit}"))?,
                }
            }
        }
        seq.end()
    }
}

impl Serialize for InfoBlock<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.block_type();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", &t)?;
        m.serialize_entry("type_name", block_type::name(t))?;
        match self {
            InfoBlock::Vehicle(v) => {
                put_fields(&mut m, v16::vehicle::field::ALL, &v.0)?;
                let g = v.gear();
                m.serialize_entry("gear_label", g.label())?;
                m.serialize_entry("driving_force", &g.driving_force())?;
                m.serialize_entry("braking_force", &g.braking_force())?;
            }
            InfoBlock::Motors(b) => m.serialize_entry("motors", &RecordsOf(&b.motors, v16::motor::field::ALL))?,
            InfoBlock::FuelCell(b) => {
                put_fields(&mut m, v16::fuel_cell::field::HEAD, &b.head.0)?;
                m.serialize_entry("probe_temps_c", &Physicals(&b.probe_temps, temp_c))?;
                m.serialize_entry("probe_temps_raw", &Raws(&b.probe_temps))?;
                put_fields(&mut m, v16::fuel_cell::field::TAIL, &b.tail.0)?;
            }
            InfoBlock::Engine(b) => put_fields(&mut m, v16::engine::field::ALL, &b.0)?,
            InfoBlock::Position(p) => {
                put_fields(&mut m, v16::position::field::ALL, &p.0)?;
                m.serialize_entry("fix_valid", &p.fix_valid())?;
                m.serialize_entry("south", &p.south())?;
                m.serialize_entry("west", &p.west())?;
                m.serialize_entry("longitude_deg", &Num(p.longitude_deg()))?;
                m.serialize_entry("latitude_deg", &Num(p.latitude_deg()))?;
            }
            InfoBlock::Extremes(b) => put_fields(&mut m, v16::extremes::field::ALL, &b.0)?,
            InfoBlock::Alarm(a) => {
                put_fields(&mut m, v16::alarm::field::ALL, &a.head.0)?;
                m.serialize_entry("general_flags_set", &FlagNames(a.flags()))?;
                m.serialize_entry("ress_faults", &Raws(&a.ress_faults))?;
                m.serialize_entry("motor_faults", &Raws(&a.motor_faults))?;
                m.serialize_entry("engine_faults", &Raws(&a.engine_faults))?;
                m.serialize_entry("other_faults", &Raws(&a.other_faults))?;
            }
            InfoBlock::RessVoltages(b) => {
                m.serialize_entry("subsystems", &RecordsWith(&b.subsystems, RessVoltageJson))?
            }
            InfoBlock::RessTemperatures(b) => {
                m.serialize_entry("subsystems", &RecordsWith(&b.subsystems, RessTemperatureJson))?
            }
            InfoBlock::UserDefined { data, .. } | InfoBlock::Unsized { data, .. } => {
                m.serialize_entry("data_hex", &Hex(data))?
            }
        }
        m.end()
    }
}

struct Blocks<'a>(&'a RecordList<'a, InfoBlock<'a>>);

impl Serialize for Blocks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

/// A serialisable view of a body; the edition decides names and widths.
struct BodyJson<'a>(&'a Body<'a>, Edition);

fn put_login<M: SerializeMap>(m: &mut M, l: &VehicleLogin<'_>) -> Result<(), M::Error> {
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

fn put_logout<M: SerializeMap>(m: &mut M, l: &Logout) -> Result<(), M::Error> {
    m.serialize_entry("time", &l.time)?;
    m.serialize_entry("serial", &l.serial)
}

fn put_platform_login<M: SerializeMap>(m: &mut M, l: &PlatformLogin, e: Edition) -> Result<(), M::Error> {
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

fn put_query<M: SerializeMap>(m: &mut M, q: &ParamQuery<'_>, e: Edition) -> Result<(), M::Error> {
    m.serialize_entry("time", &q.time)?;
    m.serialize_entry("params", &QueryIds(q.ids, e))
}

fn put_param_list<M: SerializeMap>(m: &mut M, l: &ParamList<'_>, e: Edition) -> Result<(), M::Error> {
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

fn put_control<M: SerializeMap>(m: &mut M, c: &TerminalControl<'_>) -> Result<(), M::Error> {
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

fn put_response<M: SerializeMap>(m: &mut M, r: &Response<'_>) -> Result<(), M::Error> {
    m.serialize_entry("time", &r.time)?;
    m.serialize_entry("rest_hex", &Hex(r.rest))
}

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

struct SignatureJson<'a>(Signature<'a>);

impl Serialize for SignatureJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("algorithm", &self.0.algorithm.0)?;
        m.serialize_entry("algorithm_name", self.0.algorithm.name())?;
        m.serialize_entry("r_hex", &Hex(self.0.r))?;
        m.serialize_entry("s_hex", &Hex(self.0.s))?;
        m.end()
    }
}

struct PackCodes<'a>(&'a VehicleLogin2025<'a>);

impl Serialize for PackCodes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.codes().map(|c| Text(trim(c))))
    }
}

fn put_login_2025<M: SerializeMap>(m: &mut M, l: &VehicleLogin2025<'_>) -> Result<(), M::Error> {
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

fn put_activation<M: SerializeMap>(m: &mut M, a: &Activation<'_>) -> Result<(), M::Error> {
    m.serialize_entry("time", &a.time)?;
    // The chip ID is space-padded by the standard (T B.3): show it trimmed, hex when the
    // padding is anything but spaces.
    m.serialize_entry("chip_id", &Text(a.chip_id.trimmed()))?;
    let t = a.chip_id.trimmed();
    if core::str::from_utf8(t).is_err() || a.chip_id.0[t.len()..].iter().any(|&b| b != b' ') {
        m.serialize_entry("chip_id_hex", &Hex(&a.chip_id.0))?;
    }
    m.serialize_entry("public_key_hex", &Hex(a.public_key))?;
    put_fixed_str(m, "activation_vin", "activation_vin_hex", &a.vin)?;
    m.serialize_entry("signature", &SignatureJson(a.signature))
}

fn put_activation_response<M: SerializeMap>(m: &mut M, a: &ActivationResponse) -> Result<(), M::Error> {
    m.serialize_entry("status", &a.status)?;
    m.serialize_entry("status_name", a.status_name())?;
    m.serialize_entry("info", &a.info)?;
    m.serialize_entry("info_name", a.info_name())
}

fn put_key_exchange<M: SerializeMap>(m: &mut M, k: &KeyExchange<'_>, e: Edition) -> Result<(), M::Error> {
    m.serialize_entry("key_type", &k.key_type.0)?;
    m.serialize_entry("key_type_name", k.key_type.name(e))?;
    m.serialize_entry("key_hex", &Hex(k.key))?;
    m.serialize_entry("valid_from", &k.valid_from)?;
    m.serialize_entry("valid_until", &k.valid_until)
}

/// The names of the set bits of a 2025 alarm flag word.
struct FlagNames2025(u32);

impl Serialize for FlagNames2025 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.count_ones() as usize))?;
        for bit in 0..32usize {
            if self.0 & (1 << bit) != 0 {
                match v25::alarm::FLAG_NAMES.get(bit) {
                    Some(n) => seq.serialize_element(n)?,
                    None => seq.serialize_element(&format_args!("bit_{bit}"))?,
                }
            }
        }
        seq.end()
    }
}

struct GeneralAlarms<'a>(&'a Reading<List<'a, v25::GeneralAlarm>>);

impl Serialize for GeneralAlarms<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Entry(v25::GeneralAlarm);
        impl Serialize for Entry {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                put_fields(&mut m, v25::alarm::field::ALL, &self.0 .0)?;
                if let Some(n) = v25::alarm::FLAG_NAMES.get(usize::from(self.0 .0[0])) {
                    m.serialize_entry("bit_name", n)?;
                }
                m.end()
            }
        }
        match self.0 {
            Reading::Valid(l) => s.collect_seq(l.iter().map(Entry)),
            other => other.map(|_| ()).serialize(s),
        }
    }
}

struct PackJson<'a>(v25::PackVoltage<'a>);

impl Serialize for PackJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        put_fields(&mut m, v25::packs::pack_field::ALL, &self.0.head.0)?;
        m.serialize_entry("unit_voltages_v", &Physicals(&self.0.units, cell_v))?;
        m.serialize_entry("unit_voltages_raw", &Raws(&self.0.units))?;
        m.end()
    }
}

struct StackJson<'a>(v25::Stack<'a>);

impl Serialize for StackJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        put_fields(&mut m, v25::packs::stack_field::ALL, &self.0.head.0)?;
        m.serialize_entry("coolant_temps_c", &Physicals(&self.0.coolant_temps, temp_c))?;
        m.serialize_entry("coolant_temps_raw", &Raws(&self.0.coolant_temps))?;
        m.end()
    }
}

impl Serialize for v25::InfoBlock<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use v25::InfoBlock as B;
        let t = self.block_type();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", &t)?;
        m.serialize_entry("type_name", v25::block_type::name(t))?;
        match self {
            B::Vehicle(v) => {
                put_fields(&mut m, v25::vehicle::field::ALL, &v.0)?;
                let g = v.gear();
                m.serialize_entry("gear_valid", &!g.invalid_flag())?;
                m.serialize_entry("gear_label", g.label())?;
                m.serialize_entry("driving_force", &g.driving_force())?;
                m.serialize_entry("braking_force", &g.braking_force())?;
            }
            B::Motors(b) => m.serialize_entry("motors", &RecordsOf(&b.motors, v25::motor::field::ALL))?,
            B::FuelCell(b) => put_fields(&mut m, v25::fixed::fuel_cell_field::ALL, &b.0)?,
            B::Engine(b) => put_fields(&mut m, v25::fixed::engine_field::ALL, &b.0)?,
            B::Position(p) => {
                put_fields(&mut m, v25::fixed::position_field::ALL, &p.0)?;
                m.serialize_entry("fix_valid", &p.fix_valid())?;
                m.serialize_entry("south", &p.south())?;
                m.serialize_entry("west", &p.west())?;
                m.serialize_entry("longitude_deg", &Num(p.longitude_deg()))?;
                m.serialize_entry("latitude_deg", &Num(p.latitude_deg()))?;
            }
            B::Alarm(a) => {
                put_fields(&mut m, v16::alarm::field::ALL, &a.head.0)?;
                m.serialize_entry("general_flags_set", &FlagNames2025(a.flags()))?;
                m.serialize_entry("ress_faults", &Raws(&a.ress_faults))?;
                m.serialize_entry("motor_faults", &Raws(&a.motor_faults))?;
                m.serialize_entry("engine_faults", &Raws(&a.engine_faults))?;
                m.serialize_entry("other_faults", &Raws(&a.other_faults))?;
                m.serialize_entry("general_alarms", &GeneralAlarms(&a.general_alarms))?;
            }
            B::PackVoltages(b) => m.serialize_entry("packs", &RecordsWith(&b.packs, PackJson))?,
            B::Temperatures(b) => m.serialize_entry("packs", &RecordsWith(&b.subsystems, RessTemperatureJson))?,
            B::Stacks(b) => m.serialize_entry("stacks", &RecordsWith(&b.stacks, StackJson))?,
            B::Supercap(c) => {
                put_fields(&mut m, v25::packs::supercap_field::ALL, &c.head.0)?;
                m.serialize_entry("cell_voltages_v", &Physicals(&c.cells, cell_v))?;
                m.serialize_entry("cell_voltages_raw", &Raws(&c.cells))?;
                m.serialize_entry("probe_temps_c", &Physicals(&c.probe_temps, temp_c))?;
                m.serialize_entry("probe_temps_raw", &Raws(&c.probe_temps))?;
            }
            B::SupercapExtremes(b) => put_fields(&mut m, v25::fixed::supercap_extremes_field::ALL, &b.0)?,
            B::UserDefined { data, .. } | B::Unsized { data, .. } => m.serialize_entry("data_hex", &Hex(data))?,
        }
        m.end()
    }
}

struct Blocks2025<'a>(&'a RecordList<'a, v25::InfoBlock<'a>>);

impl Serialize for Blocks2025<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
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
