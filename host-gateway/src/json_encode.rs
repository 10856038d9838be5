//! `encode`: a frame's JSON (as the core's `json.rs` writes it, documented in `docs/json.md`)
//! back to the frame's bytes, for every data unit of both editions.
//!
//! The JSON is read into owned storage (a `Vec` for every list and byte string), the core's
//! borrowed types are built over that storage, and [`Frame::emit`] writes the bytes: the
//! encoder never lays out a field itself, so it cannot drift from the codec. Fixed-layout
//! records are filled generically from their field tables, the same tables the decoder's JSON
//! comes from: `<name>_raw` when present (exact), else the physical value, a sentinel string,
//! or (for codes) a code name.
//!
//! Errors name the JSON path (`body.blocks[1].motors[0].speed_rpm: ...`), and no input panics.
//! The encoded frame is decoded once more, so that a `body_kind` that does not fit the header
//! (a heartbeat under command 0x02, a response under flag 0xFE) is an error rather than a
//! frame that reads back as something else.

use std::fmt::Display;
use std::mem::discriminant;

use anyhow::{anyhow, bail, Result};
use gb32960_core::frame::{Command, Edition, Encryption, Header, RawFrame, ResponseFlag};
use gb32960_core::message::{
    Activation, ActivationResponse, ControlCommand, KeyExchange, Logout, Param, ParamId, ParamItems, ParamList,
    ParamQuery, ParamValue, PlatformLogin, Response, TerminalControl, Upgrade, UpgradeFields, VehicleLogin,
    VehicleLogin2025,
};
use gb32960_core::realtime::v2016::{
    self as v16, AlarmFlag, AlarmHead, FuelCell, FuelCellHead, FuelCellTail, Motors, RessTemperature, RessTemperatures,
    RessVoltage, RessVoltageHead, RessVoltages,
};
use gb32960_core::realtime::{v2025 as v25, RealtimeReport};
use gb32960_core::signature::{Signature, SignatureAlgorithm};
use gb32960_core::wire::{Field, FixedStr, Kind, List, Reading, Record, RecordList, Time, Width, Writer};
use gb32960_core::{Body, Frame};
use serde_json::{Map, Value};

/// Element tables of the lists whose JSON shows physical values beside the raw integers. They
/// read exactly as the decoder's `RessTemperature::temp_c` and `RessVoltage::cell_voltage_v`
/// (a test checks every raw value), so list elements convert like record fields.
const TEMPERATURE: Field = Field::celsius("temperature", 0, Width::Byte);
const CELL_VOLTAGE: Field = Field::scaled("cell_voltage", 0, Width::Word, 1000, 0);
/// Fault codes are raw DWORDs.
const FAULT_CODE: Field = Field::plain("fault_code", 0, Width::Dword);

/// Encodes a frame from its JSON: the inverse of the core's JSON for every `body_kind`.
///
/// Also accepts the objects `decode --file` prints for frames whose data unit does not decode
/// (`header`, `raw`, `error`): their `raw` bytes, checked to be a frame, are the result.
pub fn encode(value: &Value) -> Result<Vec<u8>> {
    let Value::Object(m) = value else {
        bail!("expected a JSON object (a decoded frame), found {}", type_name(value));
    };
    let top = Obj { m, path: String::new() };
    if let (None, Some(raw)) = (top.get("body_kind"), top.get("raw")) {
        let bytes = raw.hex()?;
        RawFrame::parse(&bytes).map_err(|e| raw.err(format_args!("not a frame: {e}")))?;
        return Ok(bytes);
    }
    let header = header(&top)?;
    let e = header.edition;
    let kind_node = top.req("body_kind")?;
    let kind = kind_node.str()?;
    let empty = Map::new();
    let b = match top.get("body") {
        Some(n) => n.obj()?,
        None => Obj {
            m: &empty,
            path: "body".into(),
        },
    };
    let owned = match (kind, e) {
        ("vehicle_login", Edition::V2016) => vehicle_login(&b)?,
        ("vehicle_login", Edition::V2025) => vehicle_login_2025(&b)?,
        ("realtime", Edition::V2016) => {
            let (time, blocks) = report(&b, block, |b| matches!(b, Block16::Unsized(..)), false)?;
            Owned::Realtime(time, blocks)
        }
        ("realtime", Edition::V2025) => realtime_2025(&b)?,
        ("activation", _) => activation(&b)?,
        ("activation_response", _) => Owned::Plain(Body::ActivationResponse(activation_response(&b)?)),
        ("key_exchange", _) => key_exchange(&b, e)?,
        ("vehicle_logout", _) => Owned::Plain(Body::VehicleLogout(logout(&b)?)),
        ("platform_logout", _) => Owned::Plain(Body::PlatformLogout(logout(&b)?)),
        ("platform_login", _) => Owned::Plain(Body::PlatformLogin(platform_login(&b, e)?)),
        ("heartbeat", _) => Owned::Plain(Body::Heartbeat),
        ("time_calibration", _) => Owned::Plain(Body::TimeCalibration),
        ("parameter_query", _) => Owned::Query {
            time: b.req("time")?.time()?,
            ids: counted(&b.req("params")?, Width::Byte, true, |n| param_id(n, e))?,
        },
        ("parameter_set", _) => params(&b, e, false)?,
        ("parameter_answer", _) => params(&b, e, true)?,
        ("terminal_control", _) => control(&b)?,
        ("response", _) => Owned::Response {
            time: match b.get("time") {
                Some(n) if !n.v.is_null() => Some(n.time()?),
                _ => None,
            },
            rest: b.get("rest_hex").map_or(Ok(Vec::new()), |n| n.hex())?,
        },
        ("encrypted", _) => Owned::Encrypted(b.req("ciphertext_hex")?.hex()?),
        ("raw", _) => Owned::Raw(b.req("data_hex")?.hex()?),
        _ => return Err(kind_node.err(format_args!("unknown body kind {kind:?}"))),
    };
    owned.with_body(|body| {
        let bytes = emit(header, body)?;
        check_reads_back(&bytes, &header, &body, kind)?;
        Ok(bytes)
    })
}

// ---------------------------------------------------------------------------------------------
// Reading JSON with paths

/// A JSON value and where it sits, for error messages.
struct Node<'a> {
    v: &'a Value,
    path: String,
}

impl<'a> Node<'a> {
    fn err(&self, msg: impl Display) -> anyhow::Error {
        anyhow!("{}: {msg}", self.path)
    }

    fn obj(&self) -> Result<Obj<'a>> {
        match self.v {
            Value::Object(m) => Ok(Obj {
                m,
                path: self.path.clone(),
            }),
            other => Err(self.err(format_args!("expected an object, found {}", type_name(other)))),
        }
    }

    fn array(&self) -> Result<Vec<Node<'a>>> {
        match self.v {
            Value::Array(a) => Ok(a
                .iter()
                .enumerate()
                .map(|(i, v)| Node {
                    v,
                    path: format!("{}[{i}]", self.path),
                })
                .collect()),
            other => Err(self.err(format_args!("expected a list, found {}", type_name(other)))),
        }
    }

    fn str(&self) -> Result<&'a str> {
        self.v
            .as_str()
            .ok_or_else(|| self.err(format_args!("expected a string, found {}", type_name(self.v))))
    }

    /// An integer from 0 to `max`.
    fn uint(&self, max: u32) -> Result<u32> {
        match self.v.as_u64() {
            Some(x) if x <= u64::from(max) => Ok(x as u32),
            _ => Err(self.err(format_args!("expected an integer from 0 to {max}"))),
        }
    }

    fn hex(&self) -> Result<Vec<u8>> {
        hex::decode(self.str()?).map_err(|e| self.err(format_args!("expected hex: {e}")))
    }

    fn time(&self) -> Result<Time> {
        self.v
            .as_str()
            .and_then(Time::parse_str)
            .ok_or_else(|| self.err("expected a time \"YYYY-MM-DD hh:mm:ss\""))
    }
}

/// A JSON object and where it sits.
struct Obj<'a> {
    m: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&self, key: &str) -> Option<Node<'a>> {
        self.m.get(key).map(|v| Node { v, path: self.at(key) })
    }

    fn req(&self, key: &str) -> Result<Node<'a>> {
        self.get(key).ok_or_else(|| anyhow!("{}: missing", self.at(key)))
    }

    fn has(&self, key: &str) -> bool {
        self.m.contains_key(key)
    }

    /// Whether the field `name` is given, as a value or as `<name>_raw`.
    fn has_field(&self, name: &str) -> bool {
        self.has(name) || self.has(&format!("{name}_raw"))
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `"abnormal"` / `"invalid"` as a reading.
fn sentinel<T>(v: &Value) -> Option<Reading<T>> {
    match v.as_str()? {
        "abnormal" => Some(Reading::Abnormal),
        "invalid" => Some(Reading::Invalid),
        _ => None,
    }
}

/// Maps the value of a borrowed reading, keeping sentinels.
fn each<'a, T, U>(r: &'a Reading<T>, f: impl FnOnce(&'a T) -> U) -> Reading<U> {
    match r {
        Reading::Valid(v) => Reading::Valid(f(v)),
        Reading::Abnormal => Reading::Abnormal,
        Reading::Invalid => Reading::Invalid,
    }
}

/// A list reading over owned items.
fn items<T>(r: &Reading<Vec<T>>) -> Reading<List<'_, T>> {
    each(r, |v| List::Items(v))
}

/// A one-byte code: a number, or a name that exactly one code has (`"realtime_report"`).
fn code(n: &Node<'_>, name_of: impl Fn(u8) -> &'static str) -> Result<u8> {
    let Value::String(s) = n.v else {
        return n.uint(0xFF).map(|c| c as u8);
    };
    let mut hits = (0..=u8::MAX).filter(|&c| name_of(c) == s);
    match (hits.next(), hits.next()) {
        (Some(c), None) => Ok(c),
        (Some(_), Some(_)) => Err(n.err(format_args!("{s:?} names several codes: give the number"))),
        (None, _) => Err(n.err(format_args!("expected a number or a code name, not {s:?}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// Fields, strings and lists

/// The raw integer of field `f` from its JSON value: a physical number, a sentinel string, or
/// (codes) a code name.
fn field_raw(f: &Field, n: &Node<'_>) -> Result<u32> {
    let expected = || match (f.kind, f.has_sentinels()) {
        (Kind::Code { .. }, _) => n.err("expected a code (number or name) or \"abnormal\"/\"invalid\""),
        (_, true) => n.err("expected a number or \"abnormal\"/\"invalid\""),
        (_, false) => n.err("expected a number"),
    };
    let reading = match n.v {
        Value::Number(x) => {
            let x = x.as_f64().ok_or_else(expected)?;
            if matches!(f.kind, Kind::Code { .. } | Kind::Bits) && x.fract() != 0.0 {
                return Err(n.err("expected an integer"));
            }
            Reading::Valid(x)
        }
        Value::String(s) => {
            let names = match f.kind {
                Kind::Code { names } => names,
                _ => &[],
            };
            match (sentinel(n.v), names.iter().find(|(_, name)| name == s)) {
                (Some(r), _) if f.has_sentinels() => r,
                (_, Some(&(c, _))) => Reading::Valid(f64::from(c)),
                _ => return Err(expected()),
            }
        }
        _ => return Err(expected()),
    };
    let raw = match reading {
        Reading::Valid(x) => f.raw_of(x).ok(),
        sentinel => f.raw_of_reading(sentinel).ok(),
    };
    raw.ok_or_else(|| match reading {
        Reading::Valid(x) => {
            let top = if f.has_sentinels() {
                f.width.abnormal() - 1
            } else {
                f.width.max()
            };
            n.err(format_args!(
                "{x} is out of range ({} to {})",
                f.physical_of(0),
                f.physical_of(top)
            ))
        }
        _ => expected(),
    })
}

/// A fixed record filled from `obj` through its field table: `<name>_raw` when present (exact),
/// else `<name>` (see [`field_raw`]). Other keys (`_name`, derived flags) are not read.
fn record<const N: usize>(obj: &Obj<'_>, fields: &[Field]) -> Result<[u8; N]> {
    let mut r = [0u8; N];
    for f in fields {
        let raw = match obj.get(&format!("{}_raw", f.name)) {
            Some(n) => n.uint(f.width.max())?,
            None => field_raw(f, &obj.req(f.name)?)?,
        };
        f.set_raw(&mut r, raw).map_err(|e| anyhow!("{}: {e}", obj.at(f.name)))?;
    }
    Ok(r)
}

/// [`record`] of `obj` with keys added: for inputs that give a field in a derived form (the
/// alarm flag names, signed coordinates).
fn record_with<const N: usize>(obj: &Obj<'_>, added: Vec<(&str, Value)>, fields: &[Field]) -> Result<[u8; N]> {
    if added.is_empty() {
        return record(obj, fields);
    }
    let mut m = obj.m.clone();
    m.extend(added.into_iter().map(|(k, v)| (k.to_owned(), v)));
    record(
        &Obj {
            m: &m,
            path: obj.path.clone(),
        },
        fields,
    )
}

/// A fixed-width string: `<key>_hex` (exactly `N` bytes) when present, else the text padded
/// with `pad` (NULs; the 2025 chip ID uses spaces).
fn fixed_str<const N: usize>(obj: &Obj<'_>, key: &str, pad: u8) -> Result<FixedStr<N>> {
    if let Some(n) = obj.get(&format!("{key}_hex")) {
        let b = n.hex()?;
        let len = b.len();
        return <[u8; N]>::try_from(b)
            .map(FixedStr)
            .map_err(|_| n.err(format_args!("expected {N} bytes, found {len}")));
    }
    let n = obj.req(key)?;
    let text = n.str()?;
    let mut s = FixedStr::<N>::new(text).ok_or_else(|| n.err(format_args!("longer than {N} bytes")))?;
    s.0[text.len()..].fill(pad);
    Ok(s)
}

/// A byte string: `<key>_hex` when present (exact bytes), else the text.
fn bytes_text(obj: &Obj<'_>, key: &str) -> Result<Vec<u8>> {
    match obj.get(&format!("{key}_hex")) {
        Some(n) => n.hex(),
        None => Ok(obj.req(key)?.str()?.as_bytes().to_vec()),
    }
}

/// A byte array of exactly `N` bytes, or text of at most `N` bytes padded with NULs.
fn padded<const N: usize>(obj: &Obj<'_>, key: &str) -> Result<[u8; N]> {
    let b = bytes_text(obj, key)?;
    FixedStr::<N>::from_bytes_padded(&b)
        .map(|s| s.0)
        .ok_or_else(|| anyhow!("{}: longer than {N} bytes", obj.at(key)))
}

/// Login codes (`codes`, `pack_codes`): each text padded with NULs to `width`, concatenated.
fn padded_codes(nodes: &[Node<'_>], width: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(nodes.len() * width);
    for n in nodes {
        let text = n.str()?;
        if text.len() > width {
            return Err(n.err(format_args!("longer than the code length {width}")));
        }
        out.extend_from_slice(text.as_bytes());
        out.resize(out.len() + width - text.len(), 0);
    }
    Ok(out)
}

/// A list behind a count field of `width`: a JSON list, or (when the count has sentinels)
/// `"abnormal"`/`"invalid"` for a sentinel count with no elements.
fn counted<'a, T>(
    n: &Node<'a>,
    width: Width,
    sentinels: bool,
    each: impl FnMut(&Node<'a>) -> Result<T>,
) -> Result<Reading<Vec<T>>> {
    if let Some(r) = sentinel(n.v).filter(|_| sentinels) {
        return Ok(r);
    }
    let items = n.array().map_err(|e| match sentinels {
        true => n.err(format_args!(
            "expected a list or \"abnormal\"/\"invalid\", found {}",
            type_name(n.v)
        )),
        false => e,
    })?;
    let max = if sentinels { width.abnormal() - 1 } else { width.max() };
    if items.len() > max as usize {
        return Err(n.err(format_args!("{} items, at most {max} fit the count field", items.len())));
    }
    items.iter().map(each).collect::<Result<Vec<_>>>().map(Reading::Valid)
}

/// A counted list of integers with elements like `elem`: the raw integers under `raw_key` when
/// present, else the physical values under `physical_key` (when the list has one).
fn values<T: TryFrom<u32>>(
    obj: &Obj<'_>,
    raw_key: &str,
    physical_key: Option<&str>,
    elem: &Field,
    count: Width,
    sentinels: bool,
) -> Result<Reading<Vec<T>>> {
    let physical = physical_key.filter(|_| !obj.has(raw_key));
    let node = obj.req(physical.unwrap_or(raw_key))?;
    counted(&node, count, sentinels, |e| {
        let raw = match physical {
            Some(_) => field_raw(elem, e)?,
            None => e.uint(elem.width.max())?,
        };
        T::try_from(raw).map_err(|_| e.err("out of range"))
    })
}

/// Probe temperatures (`probe_temps_c`/`probe_temps_raw`), behind a WORD count.
fn probe_temps(obj: &Obj<'_>) -> Result<Reading<Vec<u8>>> {
    values(
        obj,
        "probe_temps_raw",
        Some("probe_temps_c"),
        &TEMPERATURE,
        Width::Word,
        true,
    )
}

// ---------------------------------------------------------------------------------------------
// Header and bodies

fn header(top: &Obj<'_>) -> Result<Header> {
    let ed = top.req("edition")?;
    let edition = match (ed.v.as_str(), ed.v.as_u64()) {
        (Some("2016"), _) | (_, Some(2016)) => Edition::V2016,
        (Some("2025"), _) | (_, Some(2025)) => Edition::V2025,
        _ => return Err(ed.err("expected \"2016\" or \"2025\"")),
    };
    let optional = |key: &str, default: u8, name_of: fn(u8, Edition) -> &'static str| {
        top.get(key).map_or(Ok(default), |n| code(&n, |c| name_of(c, edition)))
    };
    Ok(Header {
        edition,
        command: Command(code(&top.req("command")?, |c| Command(c).name(edition))?),
        response: ResponseFlag(optional("response", ResponseFlag::COMMAND.0, |c, e| {
            ResponseFlag(c).name(e)
        })?),
        vin: fixed_str(top, "vin", 0)?,
        encryption: Encryption(optional("encryption", Encryption::NONE.0, |c, e| {
            Encryption(c).name(e)
        })?),
    })
}

/// A data unit read from JSON, owning what the core's types borrow. Where a core type borrows
/// only a few slices, it is kept with those slices empty, beside the owned bytes.
enum Owned {
    /// Bodies that borrow nothing.
    Plain(Body<'static>),
    Login(VehicleLogin<'static>, Vec<u8>),
    /// The login, its packs per BMS and its pack codes.
    Login2025(VehicleLogin2025<'static>, Vec<u8>, Vec<u8>),
    Realtime(Time, Vec<Block16>),
    Realtime2025(Time, Vec<Block25>, Option<OwnedSignature>),
    /// The activation, its public key and signature.
    Activation(Activation<'static>, Vec<u8>, OwnedSignature),
    KeyExchange(KeyExchange<'static>, Vec<u8>),
    Query {
        time: Time,
        ids: Reading<Vec<u8>>,
    },
    Params {
        answer: bool,
        time: Time,
        params: Reading<Vec<(ParamId, OwnedValue)>>,
    },
    Control {
        time: Time,
        command: OwnedCommand,
    },
    Response {
        time: Option<Time>,
        rest: Vec<u8>,
    },
    Encrypted(Vec<u8>),
    Raw(Vec<u8>),
}

enum OwnedValue {
    Number(u32),
    Bytes(Vec<u8>),
    Unsized(Vec<u8>),
}

enum OwnedCommand {
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

struct OwnedSignature {
    algorithm: SignatureAlgorithm,
    r: Vec<u8>,
    s: Vec<u8>,
}

impl OwnedSignature {
    fn borrow(&self) -> Signature<'_> {
        Signature {
            algorithm: self.algorithm,
            r: &self.r,
            s: &self.s,
        }
    }
}

/// The alarm's level and flags, and its four fault lists (both editions).
type AlarmParts = (AlarmHead, [Reading<Vec<u32>>; 4]);
/// RESS temperature records: number and probe temperatures (2016 0x09, 2025 0x08).
type TemperatureRecords = Reading<Vec<(u8, Reading<Vec<u8>>)>>;

/// A 2016 information block.
enum Block16 {
    Vehicle(v16::Vehicle),
    Motors(Reading<Vec<v16::Motor>>),
    FuelCell(FuelCellHead, Reading<Vec<u8>>, FuelCellTail),
    Engine(v16::Engine),
    Position(v16::Position),
    Extremes(v16::Extremes),
    Alarm(AlarmParts),
    RessVoltages(Reading<Vec<(RessVoltageHead, Vec<u16>)>>),
    RessTemperatures(TemperatureRecords),
    UserDefined(u8, Vec<u8>),
    Unsized(u8, Vec<u8>),
}

/// A 2025 information block.
enum Block25 {
    Vehicle(v25::Vehicle),
    Motors(Reading<Vec<v25::Motor>>),
    FuelCell(v25::FuelCellHydrogen),
    Engine(v25::Engine),
    Position(v25::Position),
    Alarm(AlarmParts, Reading<Vec<v25::GeneralAlarm>>),
    PackVoltages(Reading<Vec<(v25::PackVoltageHead, Reading<Vec<u16>>)>>),
    Temperatures(TemperatureRecords),
    Stacks(Reading<Vec<(v25::StackHead, Reading<Vec<u8>>)>>),
    Supercap(v25::SupercapHead, Reading<Vec<u16>>, Reading<Vec<u8>>),
    SupercapExtremes(v25::SupercapExtremes),
    UserDefined(u8, Vec<u8>),
    Unsized(u8, Vec<u8>),
}

/// The second-level records of a block (records that hold lists), which borrow its lists.
#[derive(Default)]
struct Records<'a> {
    voltages: Vec<RessVoltage<'a>>,
    temperatures: Vec<RessTemperature<'a>>,
    packs: Vec<v25::PackVoltage<'a>>,
    stacks: Vec<v25::Stack<'a>>,
}

fn temperature_records(r: &TemperatureRecords) -> Vec<RessTemperature<'_>> {
    match r {
        Reading::Valid(s) => s
            .iter()
            .map(|(number, t)| RessTemperature {
                number: *number,
                temps: items(t),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn alarm_lists(faults: &[Reading<Vec<u32>>; 4]) -> [Reading<List<'_, u32>>; 4] {
    [
        items(&faults[0]),
        items(&faults[1]),
        items(&faults[2]),
        items(&faults[3]),
    ]
}

impl Block16 {
    fn records(&self) -> Records<'_> {
        let mut r = Records::default();
        match self {
            Block16::RessVoltages(Reading::Valid(s)) => {
                r.voltages = s
                    .iter()
                    .map(|(head, cells)| RessVoltage {
                        head: *head,
                        cells: List::Items(cells),
                    })
                    .collect();
            }
            Block16::RessTemperatures(t) => r.temperatures = temperature_records(t),
            _ => {}
        }
        r
    }

    fn borrow<'a>(&'a self, r: &'a Records<'a>) -> v16::InfoBlock<'a> {
        use v16::InfoBlock as B;
        match self {
            Block16::Vehicle(v) => B::Vehicle(*v),
            Block16::Motors(m) => B::Motors(Motors { motors: items(m) }),
            Block16::FuelCell(head, t, tail) => B::FuelCell(FuelCell {
                head: *head,
                probe_temps: items(t),
                tail: *tail,
            }),
            Block16::Engine(e) => B::Engine(*e),
            Block16::Position(p) => B::Position(*p),
            Block16::Extremes(x) => B::Extremes(*x),
            Block16::Alarm((head, faults)) => {
                let [ress_faults, motor_faults, engine_faults, other_faults] = alarm_lists(faults);
                B::Alarm(v16::Alarm {
                    head: *head,
                    ress_faults,
                    motor_faults,
                    engine_faults,
                    other_faults,
                })
            }
            Block16::RessVoltages(s) => B::RessVoltages(RessVoltages {
                subsystems: each(s, |_| RecordList::Items(&r.voltages)),
            }),
            Block16::RessTemperatures(s) => B::RessTemperatures(RessTemperatures {
                subsystems: each(s, |_| RecordList::Items(&r.temperatures)),
            }),
            Block16::UserDefined(t, data) => B::UserDefined { block_type: *t, data },
            Block16::Unsized(t, data) => B::Unsized { block_type: *t, data },
        }
    }
}

impl Block25 {
    fn records(&self) -> Records<'_> {
        let mut r = Records::default();
        match self {
            Block25::PackVoltages(Reading::Valid(s)) => {
                r.packs = s
                    .iter()
                    .map(|(head, units)| v25::PackVoltage {
                        head: *head,
                        units: items(units),
                    })
                    .collect();
            }
            Block25::Temperatures(t) => r.temperatures = temperature_records(t),
            Block25::Stacks(Reading::Valid(s)) => {
                r.stacks = s
                    .iter()
                    .map(|(head, temps)| v25::Stack {
                        head: *head,
                        coolant_temps: items(temps),
                    })
                    .collect();
            }
            _ => {}
        }
        r
    }

    fn borrow<'a>(&'a self, r: &'a Records<'a>) -> v25::InfoBlock<'a> {
        use v25::InfoBlock as B;
        match self {
            Block25::Vehicle(v) => B::Vehicle(*v),
            Block25::Motors(m) => B::Motors(v25::Motors { motors: items(m) }),
            Block25::FuelCell(f) => B::FuelCell(*f),
            Block25::Engine(e) => B::Engine(*e),
            Block25::Position(p) => B::Position(*p),
            Block25::Alarm((head, faults), general) => {
                let [ress_faults, motor_faults, engine_faults, other_faults] = alarm_lists(faults);
                B::Alarm(v25::Alarm {
                    head: *head,
                    ress_faults,
                    motor_faults,
                    engine_faults,
                    other_faults,
                    general_alarms: items(general),
                })
            }
            Block25::PackVoltages(s) => B::PackVoltages(v25::PackVoltages {
                packs: each(s, |_| RecordList::Items(&r.packs)),
            }),
            Block25::Temperatures(s) => B::Temperatures(RessTemperatures {
                subsystems: each(s, |_| RecordList::Items(&r.temperatures)),
            }),
            Block25::Stacks(s) => B::Stacks(v25::Stacks {
                stacks: each(s, |_| RecordList::Items(&r.stacks)),
            }),
            Block25::Supercap(head, cells, temps) => B::Supercap(v25::Supercap {
                head: *head,
                cells: items(cells),
                probe_temps: items(temps),
            }),
            Block25::SupercapExtremes(x) => B::SupercapExtremes(*x),
            Block25::UserDefined(t, data) => B::UserDefined { block_type: *t, data },
            Block25::Unsized(t, data) => B::Unsized { block_type: *t, data },
        }
    }
}

impl Owned {
    /// Builds the core's body over the owned storage and hands it to `f`.
    fn with_body<R>(&self, f: impl FnOnce(Body<'_>) -> R) -> R {
        match self {
            Owned::Plain(b) => f(*b),
            Owned::Login(head, codes) => f(Body::VehicleLogin(VehicleLogin { codes, ..*head })),
            Owned::Login2025(head, packs_per_bms, pack_codes) => f(Body::VehicleLogin2025(VehicleLogin2025 {
                packs_per_bms,
                pack_codes,
                ..*head
            })),
            Owned::Realtime(time, blocks) => {
                let records: Vec<Records<'_>> = blocks.iter().map(Block16::records).collect();
                let items: Vec<v16::InfoBlock<'_>> = blocks.iter().zip(&records).map(|(b, r)| b.borrow(r)).collect();
                f(Body::Realtime(RealtimeReport {
                    time: *time,
                    blocks: RecordList::Items(&items),
                }))
            }
            Owned::Realtime2025(time, blocks, signature) => {
                let records: Vec<Records<'_>> = blocks.iter().map(Block25::records).collect();
                let items: Vec<v25::InfoBlock<'_>> = blocks.iter().zip(&records).map(|(b, r)| b.borrow(r)).collect();
                f(Body::Realtime2025(v25::RealtimeReport {
                    time: *time,
                    blocks: RecordList::Items(&items),
                    signature: signature.as_ref().map(OwnedSignature::borrow),
                }))
            }
            Owned::Activation(head, public_key, signature) => f(Body::Activation(Activation {
                public_key,
                signature: signature.borrow(),
                ..*head
            })),
            Owned::KeyExchange(head, key) => f(Body::KeyExchange(KeyExchange { key, ..*head })),
            Owned::Query { time, ids } => f(Body::ParamQuery(ParamQuery {
                time: *time,
                ids: items(ids),
            })),
            Owned::Params { answer, time, params } => {
                let items: Vec<Param<'_>> = match params {
                    Reading::Valid(p) => p
                        .iter()
                        .map(|(id, v)| Param {
                            id: *id,
                            value: match v {
                                OwnedValue::Number(n) => ParamValue::Number(*n),
                                OwnedValue::Bytes(b) => ParamValue::Bytes(b),
                                OwnedValue::Unsized(b) => ParamValue::Unsized(b),
                            },
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let list = ParamList {
                    time: *time,
                    params: each(params, |_| ParamItems::Items(&items)),
                };
                f(if *answer {
                    Body::ParamAnswer(list)
                } else {
                    Body::ParamSet(list)
                })
            }
            Owned::Control { time, command } => {
                let command = match command {
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
                };
                f(Body::Control(TerminalControl { time: *time, command }))
            }
            Owned::Response { time, rest } => f(Body::Response(Response { time: *time, rest })),
            Owned::Encrypted(d) => f(Body::Encrypted(d)),
            Owned::Raw(d) => f(Body::Other(d)),
        }
    }
}

fn logout(b: &Obj<'_>) -> Result<Logout> {
    Ok(Logout {
        time: b.req("time")?.time()?,
        serial: b.req("serial")?.uint(0xFFFF)? as u16,
    })
}

fn platform_login(b: &Obj<'_>, edition: Edition) -> Result<PlatformLogin> {
    Ok(PlatformLogin {
        time: b.req("time")?.time()?,
        serial: b.req("serial")?.uint(0xFFFF)? as u16,
        username: fixed_str(b, "username", 0)?,
        password: fixed_str(b, "password", 0)?,
        encryption: Encryption(code(&b.req("encryption_rule")?, |c| Encryption(c).name(edition))?),
    })
}

/// A 2016 vehicle login. `codes_hex` gives the code bytes exactly; else each code of `codes` is
/// padded with NULs to `code_length` (which, like `subsystem_count`, may be left out).
fn vehicle_login(b: &Obj<'_>) -> Result<Owned> {
    let count = b.get("subsystem_count").map(|n| n.uint(0xFF)).transpose()?;
    let len = b.get("code_length").map(|n| n.uint(0xFF)).transpose()?;
    let (n, m, codes) = if let Some(h) = b.get("codes_hex") {
        let codes = h.hex()?;
        let (Some(n), Some(m)) = (count, len) else {
            return Err(h.err("needs subsystem_count and code_length beside it"));
        };
        if codes.len() != (n * m) as usize {
            return Err(h.err(format_args!(
                "{} bytes, subsystem_count × code_length is {}",
                codes.len(),
                n * m
            )));
        }
        (n, m, codes)
    } else {
        let list = b.req("codes")?.array()?;
        let longest = list
            .iter()
            .map(|c| c.str().map(str::len))
            .try_fold(0, |a, l| l.map(|l| a.max(l)))?;
        let m = match len {
            Some(m) => m,
            None => u32::try_from(longest)
                .ok()
                .filter(|&m| m <= 0xFF)
                .ok_or_else(|| anyhow!("{}: a code longer than 255 bytes", b.at("codes")))?,
        };
        let n = count.unwrap_or(list.len() as u32);
        // With m = 0 no codes follow, whatever n says (notes §5.1).
        if m == 0 && longest > 0 {
            return Err(anyhow!("{}: codes given with code_length 0", b.at("codes")));
        }
        if m > 0 && list.len() != n as usize {
            return Err(anyhow!(
                "{}: {} codes, subsystem_count is {n}",
                b.at("codes"),
                list.len()
            ));
        }
        (
            n,
            m,
            if m == 0 {
                Vec::new()
            } else {
                padded_codes(&list, m as usize)?
            },
        )
    };
    let head = VehicleLogin {
        time: b.req("time")?.time()?,
        serial: b.req("serial")?.uint(0xFFFF)? as u16,
        iccid: fixed_str(b, "iccid", 0)?,
        subsystem_count: n as u8,
        code_len: m as u8,
        codes: &[],
    };
    Ok(Owned::Login(head, codes))
}

/// A 2025 vehicle login: `packs_per_bms`, and `pack_codes` (24 bytes each, NUL-padded) or
/// `pack_codes_hex`.
fn vehicle_login_2025(b: &Obj<'_>) -> Result<Owned> {
    let packs_node = b.req("packs_per_bms")?;
    let packs = packs_node
        .array()?
        .iter()
        .map(|n| n.uint(0xFF).map(|m| m as u8))
        .collect::<Result<Vec<_>>>()?;
    if packs.len() > 0xFF {
        return Err(packs_node.err(format_args!("{} BMS, at most 255", packs.len())));
    }
    let total: usize = packs.iter().map(|&m| usize::from(m)).sum();
    const LEN: usize = VehicleLogin2025::CODE_LEN;
    let codes = match b.get("pack_codes_hex") {
        Some(h) => {
            let codes = h.hex()?;
            if codes.len() != total * LEN {
                return Err(h.err(format_args!(
                    "{} bytes, {total} packs take {}",
                    codes.len(),
                    total * LEN
                )));
            }
            codes
        }
        None => {
            let node = b.req("pack_codes")?;
            let list = node.array()?;
            if list.len() != total {
                return Err(node.err(format_args!("{} codes, packs_per_bms adds up to {total}", list.len())));
            }
            padded_codes(&list, LEN)?
        }
    };
    let head = VehicleLogin2025 {
        time: b.req("time")?.time()?,
        serial: b.req("serial")?.uint(0xFFFF)? as u16,
        iccid: fixed_str(b, "iccid", 0)?,
        packs_per_bms: &[],
        pack_codes: &[],
    };
    Ok(Owned::Login2025(head, packs, codes))
}

fn signature(n: &Node<'_>) -> Result<OwnedSignature> {
    let o = n.obj()?;
    Ok(OwnedSignature {
        algorithm: SignatureAlgorithm(code(&o.req("algorithm")?, |c| SignatureAlgorithm(c).name())?),
        r: o.req("r_hex")?.hex()?,
        s: o.req("s_hex")?.hex()?,
    })
}

/// A 2025 activation. The chip ID is space-padded (T B.3).
fn activation(b: &Obj<'_>) -> Result<Owned> {
    let head = Activation {
        time: b.req("time")?.time()?,
        chip_id: fixed_str(b, "chip_id", b' ')?,
        public_key: &[],
        vin: fixed_str(b, "activation_vin", 0)?,
        signature: Signature {
            algorithm: SignatureAlgorithm(0),
            r: &[],
            s: &[],
        },
    };
    Ok(Owned::Activation(
        head,
        b.req("public_key_hex")?.hex()?,
        signature(&b.req("signature")?)?,
    ))
}

fn realtime_2025(b: &Obj<'_>) -> Result<Owned> {
    let signature = b
        .get("signature")
        .filter(|n| !n.v.is_null())
        .map(|n| signature(&n))
        .transpose()?;
    let (time, blocks) = report(
        b,
        block_2025,
        |b| matches!(b, Block25::Unsized(..)),
        signature.is_some(),
    )?;
    Ok(Owned::Realtime2025(time, blocks, signature))
}

fn activation_response(b: &Obj<'_>) -> Result<ActivationResponse> {
    Ok(ActivationResponse {
        status: code(&b.req("status")?, |status| {
            ActivationResponse { status, info: 0 }.status_name()
        })?,
        info: code(&b.req("info")?, |info| {
            ActivationResponse { status: 0, info }.info_name()
        })?,
    })
}

fn key_exchange(b: &Obj<'_>, edition: Edition) -> Result<Owned> {
    let head = KeyExchange {
        key_type: Encryption(code(&b.req("key_type")?, |c| Encryption(c).name(edition))?),
        key: &[],
        valid_from: b.req("valid_from")?.time()?,
        valid_until: b.req("valid_until")?.time()?,
    };
    Ok(Owned::KeyExchange(head, b.req("key_hex")?.hex()?))
}

/// A report's time and blocks (either edition). A block without a length field runs to the end
/// of the data unit (notes §5.7.10): nothing may follow it, not even a signature.
fn report<T>(
    b: &Obj<'_>,
    block: fn(&Obj<'_>) -> Result<T>,
    is_unsized: fn(&T) -> bool,
    signed: bool,
) -> Result<(Time, Vec<T>)> {
    let time = b.req("time")?.time()?;
    let nodes = b.req("blocks")?.array()?;
    let blocks = nodes.iter().map(|n| block(&n.obj()?)).collect::<Result<Vec<_>>>()?;
    let may_be_unsized = if signed {
        blocks.len()
    } else {
        blocks.len().saturating_sub(1)
    };
    if let Some(k) = blocks[..may_be_unsized].iter().position(is_unsized) {
        return Err(nodes[k].err("a block of this type has no length field, so it must end the data unit"));
    }
    Ok((time, blocks))
}

fn block(b: &Obj<'_>) -> Result<Block16> {
    use v16::{block_type as t, engine, extremes, fuel_cell, motor, position, ress, vehicle};
    let ty = code(&b.req("type")?, t::name)?;
    Ok(match ty {
        t::VEHICLE => Block16::Vehicle(v16::Vehicle(record(b, vehicle::field::ALL)?)),
        t::MOTORS => Block16::Motors(counted(&b.req("motors")?, Width::Byte, true, |n| {
            Ok(v16::Motor(record(&n.obj()?, motor::field::ALL)?))
        })?),
        t::FUEL_CELL => Block16::FuelCell(
            FuelCellHead(record(b, fuel_cell::field::HEAD)?),
            probe_temps(b)?,
            FuelCellTail(record(b, fuel_cell::field::TAIL)?),
        ),
        t::ENGINE => Block16::Engine(v16::Engine(record(b, engine::field::ALL)?)),
        t::POSITION => Block16::Position(v16::Position(position_record(b, position::field::ALL)?)),
        t::EXTREMES => Block16::Extremes(v16::Extremes(record(b, extremes::field::ALL)?)),
        t::ALARM => Block16::Alarm(alarm_parts(b, &AlarmFlag::NAMES)?),
        t::RESS_VOLTAGE => Block16::RessVoltages(counted(&b.req("subsystems")?, Width::Byte, true, |n| {
            let s = n.obj()?;
            let cells = match values(
                &s,
                "cell_voltages_raw",
                Some("cell_voltages_v"),
                &CELL_VOLTAGE,
                Width::Byte,
                false,
            )? {
                Reading::Valid(c) => c,
                _ => Vec::new(), // a count without sentinels is always a list
            };
            if let Some(c) = s.get("frame_cell_count") {
                if c.v.as_u64() != Some(cells.len() as u64) {
                    return Err(c.err(format_args!("does not match the {} cell voltages", cells.len())));
                }
            }
            Ok((RessVoltageHead(record(&s, ress::field::ALL)?), cells))
        })?),
        t::RESS_TEMPERATURE => Block16::RessTemperatures(temperatures(&b.req("subsystems")?)?),
        0x80..=0xFE => Block16::UserDefined(ty, b.req("data_hex")?.hex()?),
        _ => Block16::Unsized(ty, b.req("data_hex")?.hex()?),
    })
}

fn block_2025(b: &Obj<'_>) -> Result<Block25> {
    use v25::{alarm, block_type as t, fixed, motor, packs, vehicle};
    let ty = code(&b.req("type")?, t::name)?;
    Ok(match ty {
        t::VEHICLE => Block25::Vehicle(v25::Vehicle(record(b, vehicle::field::ALL)?)),
        t::MOTORS => Block25::Motors(counted(&b.req("motors")?, Width::Byte, true, |n| {
            Ok(v25::Motor(record(&n.obj()?, motor::field::ALL)?))
        })?),
        t::FUEL_CELL => Block25::FuelCell(v25::FuelCellHydrogen(record(b, fixed::fuel_cell_field::ALL)?)),
        t::ENGINE => Block25::Engine(v25::Engine(record(b, fixed::engine_field::ALL)?)),
        t::POSITION => Block25::Position(v25::Position(position_record(b, fixed::position_field::ALL)?)),
        t::ALARM => Block25::Alarm(
            alarm_parts(b, &alarm::FLAG_NAMES)?,
            counted(&b.req("general_alarms")?, Width::Byte, true, |n| {
                Ok(v25::GeneralAlarm(record(&n.obj()?, alarm::field::ALL)?))
            })?,
        ),
        t::PACK_VOLTAGES => Block25::PackVoltages(counted(&b.req("packs")?, Width::Byte, true, |n| {
            let p = n.obj()?;
            let units = values(
                &p,
                "unit_voltages_raw",
                Some("unit_voltages_v"),
                &CELL_VOLTAGE,
                Width::Word,
                true,
            )?;
            Ok((v25::PackVoltageHead(record(&p, packs::pack_field::ALL)?), units))
        })?),
        t::TEMPERATURES => Block25::Temperatures(temperatures(&b.req("packs")?)?),
        t::STACKS => Block25::Stacks(counted(&b.req("stacks")?, Width::Byte, true, |n| {
            let s = n.obj()?;
            let temps = values(
                &s,
                "coolant_temps_raw",
                Some("coolant_temps_c"),
                &TEMPERATURE,
                Width::Word,
                true,
            )?;
            Ok((v25::StackHead(record(&s, packs::stack_field::ALL)?), temps))
        })?),
        t::SUPERCAP => Block25::Supercap(
            v25::SupercapHead(record(b, packs::supercap_field::ALL)?),
            values(
                b,
                "cell_voltages_raw",
                Some("cell_voltages_v"),
                &CELL_VOLTAGE,
                Width::Word,
                true,
            )?,
            probe_temps(b)?,
        ),
        t::SUPERCAP_EXTREMES => {
            Block25::SupercapExtremes(v25::SupercapExtremes(record(b, fixed::supercap_extremes_field::ALL)?))
        }
        t::SIGNATURE => {
            return Err(b
                .req("type")?
                .err("0xFF marks the signature: give it as body.signature"))
        }
        0x80..=0xFE => Block25::UserDefined(ty, b.req("data_hex")?.hex()?),
        _ => Block25::Unsized(ty, b.req("data_hex")?.hex()?),
    })
}

/// RESS temperature records (2016 `subsystems`, 2025 `packs`): `number` and probe temperatures.
fn temperatures(n: &Node<'_>) -> Result<TemperatureRecords> {
    counted(n, Width::Byte, true, |n| {
        let s = n.obj()?;
        Ok((s.req("number")?.uint(0xFF)? as u8, probe_temps(&s)?))
    })
}

/// The alarm head and fault lists. Without `general_flags`, the flag word is built from
/// `general_flags_set`: the edition's `flag_names`, or `bit_N`.
fn alarm_parts(b: &Obj<'_>, flag_names: &[&str]) -> Result<AlarmParts> {
    let mut added = Vec::new();
    if let Some(names) = b.get("general_flags_set").filter(|_| !b.has_field("general_flags")) {
        let bits = names.array()?.iter().try_fold(0u32, |acc, e| {
            let s = e.str()?;
            let bit = flag_names
                .iter()
                .position(|name| *name == s)
                .or_else(|| {
                    s.strip_prefix("bit_")
                        .and_then(|d| d.parse::<usize>().ok())
                        .filter(|&b| b < 32)
                })
                .ok_or_else(|| e.err(format_args!("unknown alarm flag {s:?}")))?;
            Ok::<_, anyhow::Error>(acc | 1 << bit)
        })?;
        added.push(("general_flags", bits.into()));
    }
    let head = AlarmHead(record_with(b, added, v16::alarm::field::ALL)?);
    let faults = |key| values(b, key, None, &FAULT_CODE, Width::Byte, true);
    Ok((
        head,
        [
            faults("ress_faults")?,
            faults("motor_faults")?,
            faults("engine_faults")?,
            faults("other_faults")?,
        ],
    ))
}

/// A position record (either edition). Besides the decoder's keys, hand-written JSON may give
/// the signed `longitude_deg`/`latitude_deg` and the `fix_valid`/`south`/`west` flags instead of
/// the status byte and the magnitudes; the decoder's own keys win where both are present.
fn position_record<const N: usize>(b: &Obj<'_>, fields: &[Field]) -> Result<[u8; N]> {
    let signed = |key: &str| -> Result<Option<f64>> {
        b.get(key)
            .map(|n| n.v.as_f64().ok_or_else(|| n.err("expected a number")))
            .transpose()
    };
    let flag = |key: &str, default: bool| -> Result<bool> {
        b.get(key).map_or(Ok(default), |n| {
            n.v.as_bool().ok_or_else(|| n.err("expected true or false"))
        })
    };
    let (lon, lat) = (signed("longitude_deg")?, signed("latitude_deg")?);
    let mut added = Vec::new();
    if !b.has_field("status") {
        let status = u8::from(!flag("fix_valid", true)?)
            | u8::from(flag("south", lat.is_some_and(|v| v < 0.0))?) << 1
            | u8::from(flag("west", lon.is_some_and(|v| v < 0.0))?) << 2;
        added.push(("status", status.into()));
    }
    for (key, signed) in [("longitude_abs_deg", lon), ("latitude_abs_deg", lat)] {
        if let Some(v) = signed.filter(|_| !b.has_field(key)) {
            added.push((key, v.abs().into()));
        }
    }
    record_with(b, added, fields)
}

/// A parameter ID: `{"id": ..}` (the query's shape), or the ID itself; a number or its name.
fn param_id(n: &Node<'_>, edition: Edition) -> Result<u8> {
    match n.v {
        Value::Object(_) => code(&n.obj()?.req("id")?, |c| ParamId(c).name(edition)),
        _ => code(n, |c| ParamId(c).name(edition)),
    }
}

/// A parameter set or answer. A numeric ID takes a number (or a sentinel); any other takes
/// text or `value_hex`; `value_hex` alone is a value the core cannot size, kept raw.
fn params(b: &Obj<'_>, edition: Edition, answer: bool) -> Result<Owned> {
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
fn control(b: &Obj<'_>) -> Result<Owned> {
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

// ---------------------------------------------------------------------------------------------
// Emitting

/// Emits the frame. Where the core refuses, the error names the block or parameter refused.
fn emit(header: Header, body: Body<'_>) -> Result<Vec<u8>> {
    let frame = Frame { header, body };
    let mut out = vec![0; frame.wire_len()];
    match frame.emit(&mut out) {
        Ok(n) => {
            out.truncate(n);
            Ok(out)
        }
        Err(e) => Err(locate(&body, header.edition).unwrap_or_else(|| anyhow!("body: {e}"))),
    }
}

/// The first block or parameter that the core refuses to emit on its own.
fn locate(body: &Body<'_>, edition: Edition) -> Option<anyhow::Error> {
    fn first_refused<'a, T: Record<'a>>(blocks: &RecordList<'a, T>) -> Option<anyhow::Error> {
        blocks.iter().enumerate().find_map(|(i, b)| {
            let mut buf = vec![0; b.wire_len()];
            b.emit(&mut Writer::new(&mut buf))
                .err()
                .map(|e| anyhow!("body.blocks[{i}]: {e}"))
        })
    }
    match body {
        Body::Realtime(r) => first_refused(&r.blocks),
        Body::Realtime2025(r) => first_refused(&r.blocks),
        Body::ParamSet(l) | Body::ParamAnswer(l) => {
            let Reading::Valid(ParamItems::Items(items)) = l.params else {
                return None;
            };
            // Items are sized by those before them (domain-name lengths): try growing prefixes.
            (1..=items.len()).find_map(|k| {
                let prefix = ParamList {
                    time: l.time,
                    params: Reading::Valid(ParamItems::Items(&items[..k])),
                };
                let mut buf = vec![0; prefix.wire_len(edition)];
                prefix
                    .emit(edition, &mut Writer::new(&mut buf))
                    .err()
                    .map(|e| anyhow!("body.params[{}]: {e}", k - 1))
            })
        }
        _ => None,
    }
}

/// Checks that the frame decodes again as the kind it was built from (raw and encrypted data
/// units are exact bytes under any header, and are not checked).
fn check_reads_back(bytes: &[u8], h: &Header, built: &Body<'_>, kind: &str) -> Result<()> {
    if matches!(built, Body::Encrypted(_) | Body::Other(_)) {
        return Ok(());
    }
    let outcome = match Frame::parse(bytes) {
        Ok(back) if discriminant(&back.body) == discriminant(built) => return Ok(()),
        Ok(back) => format!("decodes as {}", serde_json::to_value(back)?["body_kind"]),
        Err(e) => format!("does not decode ({e})"),
    };
    bail!(
        "body_kind {kind:?} does not fit command 0x{:02X} ({}) with response flag 0x{:02X} ({}) and \
         encryption 0x{:02X} ({}) in edition {}: such a frame {outcome}",
        h.command.0,
        h.command.name(h.edition),
        h.response.0,
        h.response.name(h.edition),
        h.encryption.0,
        h.encryption.name(h.edition),
        h.edition,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use gb32960_core::realtime::v2016::{
        Alarm, Engine, Extremes, InfoBlock, Motor, Motors, Position, RessTemperature, RessTemperatures, Vehicle,
    };
    use proptest::prelude::*;
    use serde_json::json;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors");

    /// Every shared frame: the 2016 examples, both editions of the rtm_con-built lines, and the
    /// hand-made 2025 frames.
    fn vectors() -> Vec<(String, Vec<u8>)> {
        let read = |name: &str| {
            std::fs::read_to_string(format!("{VECTORS}/{name}")).unwrap_or_else(|e| panic!("{VECTORS}/{name}: {e}"))
        };
        let hex_of = |v: &Value| hex::decode(v["hex"].as_str().expect("hex")).expect("valid hex");
        let examples: Map<String, Value> = serde_json::from_str(&read("examples-2016.json")).expect("examples");
        let mut out: Vec<_> = examples.iter().map(|(name, v)| (name.clone(), hex_of(v))).collect();
        for file in ["rtm_con-built.jsonl", "handmade-2025.jsonl"] {
            for line in read(file).lines().filter(|l| !l.trim().is_empty()) {
                let v: Value = serde_json::from_str(line).expect("jsonl line");
                out.push((v["name"].as_str().expect("name").to_owned(), hex_of(&v)));
            }
        }
        assert!(
            out.len() >= 75,
            "only {} shared frames found under {VECTORS}",
            out.len()
        );
        out
    }

    fn vector(name: &str) -> Vec<u8> {
        vectors()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no vector {name}"))
            .1
    }

    fn decode(bytes: &[u8]) -> Value {
        serde_json::to_value(Frame::parse(bytes).expect("decodes")).expect("serialises")
    }

    /// Removes, at every depth, the keys `drop` selects.
    fn strip(v: &mut Value, drop: &dyn Fn(&str) -> bool) {
        match v {
            Value::Object(m) => {
                m.retain(|k, _| !drop(k));
                m.values_mut().for_each(|x| strip(x, drop));
            }
            Value::Array(a) => a.iter_mut().for_each(|x| strip(x, drop)),
            _ => {}
        }
    }

    fn raw_and_names(k: &str) -> bool {
        k.ends_with("_raw") || k.ends_with("_name")
    }

    fn physical_only(bytes: &[u8]) -> Value {
        let mut v = decode(bytes);
        strip(&mut v, &raw_and_names);
        v
    }

    /// Keys the decoder derives from others: an encoder input may leave them all out.
    const DERIVED: &[&str] = &[
        "gear_label",
        "gear_valid",
        "driving_force",
        "braking_force",
        "fix_valid",
        "south",
        "west",
        "longitude_deg",
        "latitude_deg",
        "general_flags_set",
        "bit_name",
        "frame_cell_count",
        "name",
        "address",
    ];

    fn encode_err(v: &Value) -> String {
        match encode(v) {
            Ok(b) => panic!("encoded to {}", hex::encode_upper(b)),
            Err(e) => format!("{e:#}"),
        }
    }

    fn assert_encodes(name: &str, v: &Value, bytes: &[u8]) {
        let out = encode(v).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(hex::encode_upper(out), hex::encode_upper(bytes), "{name}");
    }

    #[test]
    fn every_shared_frame_round_trips_byte_for_byte() {
        for (name, bytes) in vectors() {
            assert_encodes(&name, &decode(&bytes), &bytes);
        }
    }

    #[test]
    fn physical_values_without_raw_or_name_keys_give_the_same_frames() {
        let e3 = physical_only(&vector("E3_realtime_all9"));
        assert!(!e3.to_string().contains("_raw") && !e3.to_string().contains("_name"));
        assert_eq!(encode(&e3).unwrap(), vector("E3_realtime_all9"));
        for (name, bytes) in vectors() {
            assert_encodes(&name, &physical_only(&bytes), &bytes);
        }
    }

    #[test]
    fn derived_keys_are_not_needed() {
        for (name, bytes) in vectors() {
            let mut v = decode(&bytes);
            strip(&mut v, &|k| raw_and_names(k) || DERIVED.contains(&k));
            assert_encodes(&name, &v, &bytes);
        }
    }

    #[test]
    fn undecodable_lines_of_decode_file_encode_to_their_raw_bytes() {
        let bytes = vector("E1_vehicle_login");
        let line = json!({"header": {"edition": "2016"}, "raw": hex::encode_upper(&bytes), "error": "x"});
        assert_eq!(encode(&line).unwrap(), bytes);
        let broken = json!({"raw": hex::encode_upper(&bytes[..bytes.len() - 1])});
        assert!(encode_err(&broken).starts_with("raw: not a frame"));
    }

    #[test]
    fn hand_written_json_encodes_to_the_expected_frames() {
        let vin = "LGBT32960TEST0001";
        // Names for codes, derived counts and lengths, defaults for the response flag and encryption.
        let login = json!({
            "edition": "2016", "command": "vehicle_login", "vin": vin, "body_kind": "vehicle_login",
            "body": {"time": "2024-05-20 08:30:15", "serial": 1, "iccid": "89860012345678901234", "codes": ["BAT00001"]}
        });
        assert_eq!(encode(&login).unwrap(), vector("E1_vehicle_login"));

        let reissue = json!({
            "edition": 2016, "command": 3, "response": "command", "vin": vin, "encryption": "none",
            "body_kind": "realtime",
            "body": {"time": "2024-05-20 07:59:58", "blocks": [
                {"type": "vehicle", "vehicle_state": "started", "charging_state": "not_charging",
                 "operating_mode": "electric", "speed_kmh": 60.5, "odometer_km": 12345.6, "total_voltage_v": 350.2,
                 "total_current_a": -25.3, "soc_pct": 78, "dcdc_state": "working", "gear": 0x2E,
                 "insulation_resistance_kohm": 5000, "accelerator_pedal_pct": 30, "brake_pedal_pct": 0},
                {"type": 0x80, "data_hex": "AABBCC"}
            ]}
        });
        assert_eq!(encode(&reissue).unwrap(), vector("E4_reissue_with_user_block"));

        // Signed degrees instead of the status byte and magnitudes; flag names instead of the word.
        let gnss = json!({
            "edition": "2016", "command": "realtime_report", "vin": "LTEST2016VIN00001", "body_kind": "realtime",
            "body": {"time": "2025-11-03 09:30:15", "blocks": [
                {"type": 5, "longitude_deg": 116.397128, "latitude_deg": 39.916527}
            ]}
        });
        assert_eq!(encode(&gnss).unwrap(), vector("2016_realtime_gnss_valid_NE"));
        let alarm = json!({
            "edition": "2016", "command": 2, "vin": "LTEST2016VIN00001", "body_kind": "realtime",
            "body": {"time": "2025-11-03 09:30:15", "blocks": [
                {"type": "alarm", "max_level": 2, "general_flags_set": ["soc_low", "insulation"],
                 "ress_faults": [65537], "motor_faults": [], "engine_faults": [], "other_faults": [168496141, 1]}
            ]}
        });
        assert_eq!(encode(&alarm).unwrap(), vector("2016_realtime_warnings_some"));

        let set = json!({
            "edition": "2016", "command": "parameter_set", "vin": vin, "body_kind": "parameter_set",
            "body": {"time": "2024-05-20 08:30:15", "params": [
                {"id": "report_period_s", "value": 10}, {"id": 3, "value": 1000}, {"id": 9, "value": 60}
            ]}
        });
        assert_eq!(encode(&set).unwrap(), vector("E9c_param_set"));
        let query = json!({
            "edition": "2016", "command": 0x80, "vin": vin, "body_kind": "parameter_query",
            "body": {"time": "2024-05-20 08:30:15", "params": [2, "heartbeat_period_s", {"id": 4}, {"id": 5}]}
        });
        assert_eq!(encode(&query).unwrap(), vector("E9a_param_query"));

        let control = json!({
            "edition": "2016", "command": "terminal_control", "vin": vin, "body_kind": "terminal_control",
            "body": {"time": "2024-05-20 08:30:15", "control_id": "alarm", "level": 2, "message": "CHECK BATTERY"}
        });
        assert_eq!(encode(&control).unwrap(), vector("E10a_ctrl_alarm"));

        let heartbeat_ack = json!({
            "edition": "2016", "command": "heartbeat", "response": "success", "vin": vin, "body_kind": "response"
        });
        assert_eq!(encode(&heartbeat_ack).unwrap(), vector("E5b_heartbeat_resp_empty"));
        let heartbeat = json!({"edition": "2016", "command": 7, "vin": vin, "body_kind": "heartbeat"});
        assert_eq!(encode(&heartbeat).unwrap(), vector("E5a_heartbeat"));
    }

    #[test]
    fn hand_written_2025_json_encodes_to_the_expected_frames() {
        let names = |name: &str, edit: &dyn Fn(&mut Value)| {
            let bytes = vector(name);
            let mut v = decode(&bytes);
            strip(&mut v, &raw_and_names);
            edit(&mut v);
            assert_encodes(name, &v, &bytes);
        };
        names("2025_activation_response_0x0A_fail_vin_duplicate", &|v| {
            v["command"] = json!("activation_response");
            v["body"] = json!({"status": "failed", "info": "vin_duplicate"});
        });
        names("2025_key_exchange_0x0B_sm4_downlink", &|v| {
            v["body"]["key_type"] = json!("sm4")
        });
        // Signed degrees and a coordinate-system name instead of the status byte and magnitudes.
        names("2025_realtime_gnss_wgs84", &|v| {
            let p = v["body"]["blocks"][0].as_object_mut().expect("position");
            for key in [
                "status",
                "longitude_abs_deg",
                "latitude_abs_deg",
                "fix_valid",
                "south",
                "west",
            ] {
                p.remove(key);
            }
            p.insert("coordinate_system".into(), json!("wgs84"));
            v["body"]["signature"]["algorithm"] = json!("rsa");
        });
        // Alarm flags by their 2025 names.
        names("2025_realtime_alarm_bits_19_27_with_general_alarm_list", &|v| {
            v["body"]["blocks"][0]
                .as_object_mut()
                .expect("alarm")
                .remove("general_flags");
        });
    }

    #[test]
    fn bad_json_is_an_error_that_names_the_path() {
        let e3 = decode(&vector("E3_realtime_all9"));
        let with = |edits: &[(&str, Option<Value>)]| {
            let mut v = e3.clone();
            for (pointer, new) in edits {
                let (parent, key) = pointer.rsplit_once('/').expect("pointer");
                let slot = v.pointer_mut(parent).unwrap_or_else(|| panic!("{parent}"));
                match (slot, new) {
                    (Value::Object(m), Some(x)) => drop(m.insert(key.to_owned(), x.clone())),
                    (Value::Object(m), None) => drop(m.remove(key)),
                    (Value::Array(a), Some(x)) => a[key.parse::<usize>().expect("index")] = x.clone(),
                    _ => panic!("{pointer}"),
                }
            }
            encode_err(&v)
        };
        let speed = "/body/blocks/1/motors/0/speed_rpm";
        assert_eq!(
            with(&[
                (speed, Some(json!("fast"))),
                ("/body/blocks/1/motors/0/speed_rpm_raw", None)
            ]),
            "body.blocks[1].motors[0].speed_rpm: expected a number or \"abnormal\"/\"invalid\""
        );
        assert_eq!(with(&[("/body/time", None)]), "body.time: missing");
        assert_eq!(
            with(&[("/body/time", Some(json!("yesterday")))]),
            "body.time: expected a time \"YYYY-MM-DD hh:mm:ss\""
        );
        assert_eq!(
            with(&[
                ("/body/blocks/0/speed_kmh", Some(json!(7000))),
                ("/body/blocks/0/speed_kmh_raw", None)
            ]),
            "body.blocks[0].speed_kmh: 7000 is out of range (0 to 6553.3)"
        );
        assert_eq!(
            with(&[("/body/blocks/0/speed_kmh_raw", Some(json!(70000)))]),
            "body.blocks[0].speed_kmh_raw: expected an integer from 0 to 65535"
        );
        assert_eq!(
            with(&[("/body/blocks/0/vehicle_state", Some(json!("flying")))]),
            "body.blocks[0].vehicle_state: expected a code (number or name) or \"abnormal\"/\"invalid\""
        );
        assert_eq!(
            with(&[("/body/blocks/0/gear", Some(json!(1.5)))]),
            "body.blocks[0].gear: expected an integer"
        );
        assert_eq!(
            with(&[("/body/blocks/7/subsystems/0/first_cell", Some(json!("abnormal")))]),
            "body.blocks[7].subsystems[0].first_cell: expected a number"
        );
        assert_eq!(
            with(&[
                ("/body/blocks/7/subsystems/0/cell_voltages_v", Some(json!([3.7, "x"]))),
                ("/body/blocks/7/subsystems/0/cell_voltages_raw", None)
            ]),
            "body.blocks[7].subsystems[0].cell_voltages_v[1]: expected a number or \"abnormal\"/\"invalid\""
        );
        assert_eq!(
            with(&[("/body/blocks/7/subsystems/0/cell_voltages_raw", Some(json!("abnormal")))]),
            "body.blocks[7].subsystems[0].cell_voltages_raw: expected a list, found a string"
        );
        assert_eq!(
            with(&[("/body/blocks/7/subsystems/0/frame_cell_count", Some(json!(5)))]),
            "body.blocks[7].subsystems[0].frame_cell_count: does not match the 4 cell voltages"
        );
        assert_eq!(
            with(&[
                ("/body/blocks/8/subsystems/0/probe_temps_c", Some(json!([300]))),
                ("/body/blocks/8/subsystems/0/probe_temps_raw", None)
            ]),
            "body.blocks[8].subsystems[0].probe_temps_c[0]: 300 is out of range (-40 to 213)"
        );
        assert_eq!(
            with(&[("/body/blocks/1/motors", Some(Value::Array(vec![json!({}); 254])))]),
            "body.blocks[1].motors: 254 items, at most 253 fit the count field"
        );
        assert_eq!(
            with(&[("/body/blocks/1/motors", Some(json!(7)))]),
            "body.blocks[1].motors: expected a list or \"abnormal\"/\"invalid\", found a number"
        );
        assert_eq!(
            with(&[
                ("/body/blocks/6/general_flags", None),
                ("/body/blocks/6/general_flags_set", Some(json!(["boom"])))
            ]),
            "body.blocks[6].general_flags_set[0]: unknown alarm flag \"boom\""
        );
        assert_eq!(
            with(&[("/body/blocks/3", Some(json!({"type": 0x0A, "data_hex": "00"})))]),
            "body.blocks[3]: a block of this type has no length field, so it must end the data unit"
        );
        assert_eq!(
            with(&[("/body/blocks/3", Some(json!({"type": 0x90, "data_hex": "0G"})))]),
            "body.blocks[3].data_hex: expected hex: Invalid character 'G' at position 1"
        );
        assert_eq!(
            with(&[("/body/blocks/3", Some(json!({"type": "user_defined"})))]),
            "body.blocks[3].type: \"user_defined\" names several codes: give the number"
        );
        assert_eq!(
            with(&[("/body/blocks/2", Some(json!([])))]),
            "body.blocks[2]: expected an object, found a list"
        );
        assert_eq!(
            with(&[("/vin", Some(json!("VIN LONGER THAN 17")))]),
            "vin: longer than 17 bytes"
        );
        assert_eq!(
            with(&[("/vin_hex", Some(json!("00")))]),
            "vin_hex: expected 17 bytes, found 1"
        );
        assert_eq!(
            with(&[("/edition", Some(json!("2020")))]),
            "edition: expected \"2016\" or \"2025\""
        );
        assert_eq!(with(&[("/command", None)]), "command: missing");
        assert_eq!(
            with(&[("/command", Some(json!(300)))]),
            "command: expected an integer from 0 to 255"
        );
        assert_eq!(
            with(&[("/body_kind", Some(json!("telemetry")))]),
            "body_kind: unknown body kind \"telemetry\""
        );
        assert_eq!(
            with(&[("/body", Some(json!(null)))]),
            "body: expected an object, found null"
        );
        assert_eq!(
            with(&[("/body_kind", Some(json!("heartbeat")))]),
            "body_kind \"heartbeat\" does not fit command 0x02 (realtime_report) with response flag 0xFE \
             (command) and encryption 0x01 (none) in edition 2016: such a frame does not decode \
             (malformed real-time report time at data-unit offset 0)"
        );
        assert_eq!(
            with(&[("/response", Some(json!(1)))]),
            "body_kind \"realtime\" does not fit command 0x02 (realtime_report) with response flag 0x01 \
             (success) and encryption 0x01 (none) in edition 2016: such a frame decodes as \"response\""
        );
        assert_eq!(
            with(&[("/edition", Some(json!("2025")))]),
            // The 2025 tables read the 2016-shaped blocks: the first key they lack is the error.
            "body.blocks[2].h2_max_concentration_pct: missing"
        );

        let top = |v: Value| encode_err(&v);
        assert_eq!(
            top(json!([1, 2])),
            "expected a JSON object (a decoded frame), found a list"
        );
        assert_eq!(top(json!(null)), "expected a JSON object (a decoded frame), found null");
        assert_eq!(top(json!({})), "edition: missing");

        let mut set = decode(&vector("E9c_param_set"));
        set["body"]["params"][0]["value"] = json!(70000);
        assert_eq!(
            encode_err(&set),
            "body.params[0].value: 70000 is out of range (0 to 65533)"
        );
        let mut answer = decode(&vector("E9b_param_query_answer"));
        answer["body"]["params"][2]["value"] = json!(3);
        assert_eq!(encode_err(&answer), "body.params[3]: cannot encode parameter value");
        let mut upgrade = decode(&vector("E10b_ctrl_upgrade"));
        upgrade["body"]["apn"] = json!("cm;net");
        assert_eq!(encode_err(&upgrade), "body: cannot encode upgrade field containing ';'");
        let mut login = decode(&vector("E1_vehicle_login"));
        login["body"]["codes"] = json!(["BAT000001"]);
        assert_eq!(encode_err(&login), "body.codes[0]: longer than the code length 8");

        // 2025 shapes.
        let mut sig = decode(&vector("2025_realtime_engine"));
        sig["body"]["signature"]["r_hex"] = json!(7);
        assert_eq!(
            encode_err(&sig),
            "body.signature.r_hex: expected a string, found a number"
        );
        let mut marker = decode(&vector("2025_realtime_engine"));
        marker["body"]["blocks"][0] = json!({"type": 0xFF});
        assert_eq!(
            encode_err(&marker),
            "body.blocks[0].type: 0xFF marks the signature: give it as body.signature"
        );
        let mut unsized_signed = decode(&vector("2025_realtime_engine"));
        unsized_signed["body"]["blocks"][0] = json!({"type": 0x40, "data_hex": ""});
        assert_eq!(
            encode_err(&unsized_signed),
            "body.blocks[0]: a block of this type has no length field, so it must end the data unit"
        );
        let mut packs = decode(&vector("2025_login_2bms_4packs"));
        packs["body"]["packs_per_bms"] = json!([1, 2]);
        assert_eq!(
            encode_err(&packs),
            "body.pack_codes: 4 codes, packs_per_bms adds up to 3"
        );
        let mut activation = decode(&vector("2025_activation_rsa"));
        activation["body"]["chip_id"] = json!("A CHIP ID LONGER THAN 16");
        assert_eq!(encode_err(&activation), "body.chip_id: longer than 16 bytes");
        let mut activation_in_2016 = decode(&vector("2025_activation_rsa"));
        activation_in_2016["edition"] = json!("2016");
        assert!(encode_err(&activation_in_2016).ends_with("in edition 2016: such a frame decodes as \"raw\""));
    }

    #[test]
    fn element_tables_read_as_the_decoder_reads_lists() {
        for raw in 0..=u8::MAX {
            assert_eq!(
                TEMPERATURE.value(&[raw]),
                RessTemperature::temp_c(raw).map(|c| c as f64),
                "{raw}"
            );
        }
        for raw in 0..=u16::MAX {
            assert_eq!(
                CELL_VOLTAGE.value(&raw.to_be_bytes()),
                RessVoltage::cell_voltage_v(raw),
                "{raw}"
            );
        }
    }

    #[test]
    fn dword_fields_without_sentinels_take_their_whole_width() {
        let mut v = physical_only(&vector("2016_realtime_gnss_valid_NE"));
        v["body"]["blocks"][0]["longitude_abs_deg"] = json!(4294.967295);
        v["body"]["blocks"][0]["latitude_abs_deg"] = json!(0);
        let back = decode(&encode(&v).unwrap());
        assert_eq!(back["body"]["blocks"][0]["longitude_abs_deg_raw"], json!(u32::MAX));
        v["body"]["blocks"][0]["longitude_abs_deg"] = json!(4294.967296);
        assert_eq!(
            encode_err(&v),
            "body.blocks[0].longitude_abs_deg: 4294.967296 is out of range (0 to 4294.967295)"
        );
        let mut alarm = decode(&vector("2016_realtime_warnings_some"));
        alarm["body"]["blocks"][0]["general_flags"] = json!(u32::MAX);
        let back = decode(&encode(&alarm).unwrap());
        assert_eq!(back["body"]["blocks"][0]["general_flags"], json!(u32::MAX));
    }

    // --- Property tests -----------------------------------------------------------------------

    /// Bytes of one block built from the core's types and emitted by the core.
    fn emitted(b: InfoBlock<'_>) -> Vec<u8> {
        let mut buf = vec![0; b.wire_len()];
        b.emit(&mut Writer::new(&mut buf)).expect("a generated block emits");
        buf
    }

    fn counted_vec<T: std::fmt::Debug + Clone>(
        elem: impl Strategy<Value = T>,
        max: usize,
    ) -> impl Strategy<Value = Reading<Vec<T>>> {
        prop_oneof![
            6 => prop::collection::vec(elem, 0..max).prop_map(Reading::Valid),
            1 => Just(Reading::Abnormal),
            1 => Just(Reading::Invalid),
        ]
    }

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(any::<u8>(), 0..max)
    }

    /// One information block of any 2016 type except the unsized ones, as emitted bytes.
    fn sized_block() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            any::<[u8; 20]>().prop_map(|a| emitted(InfoBlock::Vehicle(Vehicle(a)))),
            counted_vec(any::<[u8; 12]>().prop_map(Motor), 4)
                .prop_map(|m| emitted(InfoBlock::Motors(Motors { motors: items(&m) }))),
            (any::<[u8; 6]>(), counted_vec(any::<u8>(), 6), any::<[u8; 10]>()).prop_map(|(h, t, tail)| {
                emitted(InfoBlock::FuelCell(FuelCell {
                    head: FuelCellHead(h),
                    probe_temps: items(&t),
                    tail: FuelCellTail(tail),
                }))
            }),
            any::<[u8; 5]>().prop_map(|a| emitted(InfoBlock::Engine(Engine(a)))),
            any::<[u8; 9]>().prop_map(|a| emitted(InfoBlock::Position(Position(a)))),
            any::<[u8; 14]>().prop_map(|a| emitted(InfoBlock::Extremes(Extremes(a)))),
            (any::<[u8; 5]>(), [(); 4].map(|_| counted_vec(any::<u32>(), 3))).prop_map(|(h, [a, b, c, d])| {
                emitted(InfoBlock::Alarm(Alarm {
                    head: AlarmHead(h),
                    ress_faults: items(&a),
                    motor_faults: items(&b),
                    engine_faults: items(&c),
                    other_faults: items(&d),
                }))
            }),
            counted_vec((any::<[u8; 9]>(), prop::collection::vec(any::<u16>(), 0..6)), 3).prop_map(|s| {
                let records: Vec<RessVoltage<'_>> = match &s {
                    Reading::Valid(v) => v
                        .iter()
                        .map(|(h, cells)| RessVoltage {
                            head: RessVoltageHead(*h),
                            cells: List::Items(cells),
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                emitted(InfoBlock::RessVoltages(RessVoltages {
                    subsystems: each(&s, |_| RecordList::Items(&records)),
                }))
            }),
            counted_vec((any::<u8>(), counted_vec(any::<u8>(), 6)), 3).prop_map(|s| {
                let records = temperature_records(&s);
                emitted(InfoBlock::RessTemperatures(RessTemperatures {
                    subsystems: each(&s, |_| RecordList::Items(&records)),
                }))
            }),
            (0x80..=0xFEu8, bytes(8)).prop_map(|(t, d)| emitted(InfoBlock::UserDefined {
                block_type: t,
                data: &d
            })),
        ]
    }

    /// A real-time or reissue frame: random header and time, sized blocks, maybe an unsized last one.
    fn realtime_frame() -> impl Strategy<Value = Vec<u8>> {
        let unsized_type = prop_oneof![Just(0u8), 0x0Au8..=0x7F, Just(0xFF)];
        (
            prop_oneof![Just(Command::REALTIME), Just(Command::REISSUE)],
            any::<[u8; 17]>(),
            any::<[u8; 6]>(),
            prop::collection::vec(sized_block(), 0..7),
            prop::option::of((unsized_type, bytes(6))),
        )
            .prop_map(|(command, vin, time, blocks, last)| {
                let mut data = time.to_vec();
                blocks.iter().for_each(|b| data.extend_from_slice(b));
                if let Some((t, d)) = last {
                    data.extend_from_slice(&emitted(InfoBlock::Unsized {
                        block_type: t,
                        data: &d,
                    }));
                }
                let header = Header::command(Edition::V2016, command, FixedStr(vin));
                let raw = RawFrame { header, data: &data };
                let mut out = vec![0; raw.wire_len()];
                raw.emit(&mut out).expect("a generated frame emits");
                out
            })
    }

    /// Bytes of one 2025 block built from the core's types and emitted by the core.
    fn emitted_2025(b: v25::InfoBlock<'_>) -> Vec<u8> {
        let mut buf = vec![0; b.wire_len()];
        b.emit(&mut Writer::new(&mut buf)).expect("a generated block emits");
        buf
    }

    /// One 2025 information block of any type except the unsized ones, as emitted bytes.
    fn sized_block_2025() -> impl Strategy<Value = Vec<u8>> {
        use v25::InfoBlock as B;
        let fixed = prop_oneof![
            any::<[u8; 18]>().prop_map(|a| emitted_2025(B::Vehicle(v25::Vehicle(a)))),
            counted_vec(any::<[u8; 10]>().prop_map(v25::Motor), 4)
                .prop_map(|m| emitted_2025(B::Motors(v25::Motors { motors: items(&m) }))),
            any::<[u8; 12]>().prop_map(|a| emitted_2025(B::FuelCell(v25::FuelCellHydrogen(a)))),
            any::<[u8; 2]>().prop_map(|a| emitted_2025(B::Engine(v25::Engine(a)))),
            any::<[u8; 10]>().prop_map(|a| emitted_2025(B::Position(v25::Position(a)))),
            any::<[u8; 18]>().prop_map(|a| emitted_2025(B::SupercapExtremes(v25::SupercapExtremes(a)))),
            (0x80..=0xFEu8, bytes(8)).prop_map(|(t, d)| emitted_2025(B::UserDefined {
                block_type: t,
                data: &d
            })),
        ];
        let listed = prop_oneof![
            (
                any::<[u8; 5]>(),
                [(); 4].map(|_| counted_vec(any::<u32>(), 3)),
                counted_vec(any::<[u8; 2]>().prop_map(v25::GeneralAlarm), 3)
            )
                .prop_map(|(h, [a, b, c, d], g)| {
                    emitted_2025(B::Alarm(v25::Alarm {
                        head: AlarmHead(h),
                        ress_faults: items(&a),
                        motor_faults: items(&b),
                        engine_faults: items(&c),
                        other_faults: items(&d),
                        general_alarms: items(&g),
                    }))
                }),
            counted_vec((any::<[u8; 5]>(), counted_vec(any::<u16>(), 6)), 3).prop_map(|s| {
                let records: Vec<v25::PackVoltage<'_>> = s
                    .as_ref_valid()
                    .iter()
                    .map(|(h, u)| v25::PackVoltage {
                        head: v25::PackVoltageHead(*h),
                        units: items(u),
                    })
                    .collect();
                emitted_2025(B::PackVoltages(v25::PackVoltages {
                    packs: each(&s, |_| RecordList::Items(&records)),
                }))
            }),
            counted_vec((any::<u8>(), counted_vec(any::<u8>(), 6)), 3).prop_map(|s| {
                let records = temperature_records(&s);
                emitted_2025(B::Temperatures(RessTemperatures {
                    subsystems: each(&s, |_| RecordList::Items(&records)),
                }))
            }),
            counted_vec((any::<[u8; 10]>(), counted_vec(any::<u8>(), 6)), 3).prop_map(|s| {
                let records: Vec<v25::Stack<'_>> = s
                    .as_ref_valid()
                    .iter()
                    .map(|(h, t)| v25::Stack {
                        head: v25::StackHead(*h),
                        coolant_temps: items(t),
                    })
                    .collect();
                emitted_2025(B::Stacks(v25::Stacks {
                    stacks: each(&s, |_| RecordList::Items(&records)),
                }))
            }),
            (
                any::<[u8; 5]>(),
                counted_vec(any::<u16>(), 6),
                counted_vec(any::<u8>(), 6)
            )
                .prop_map(|(h, c, t)| {
                    emitted_2025(B::Supercap(v25::Supercap {
                        head: v25::SupercapHead(h),
                        cells: items(&c),
                        probe_temps: items(&t),
                    }))
                }),
        ];
        prop_oneof![fixed, listed]
    }

    /// The valid items of a generated list, or none.
    trait ValidItems<T> {
        fn as_ref_valid(&self) -> &[T];
    }

    impl<T> ValidItems<T> for Reading<Vec<T>> {
        fn as_ref_valid(&self) -> &[T] {
            match self {
                Reading::Valid(v) => v,
                _ => &[],
            }
        }
    }

    /// What may end a 2025 report: nothing, an unsized block, or the signature.
    #[derive(Debug, Clone)]
    enum Ending {
        Nothing,
        Unsized(u8, Vec<u8>),
        Signature(u8, Vec<u8>, Vec<u8>),
    }

    /// A 2025 real-time or reissue frame: random header and time, sized blocks, then maybe an
    /// unsized block or the signature.
    fn realtime_frame_2025() -> impl Strategy<Value = Vec<u8>> {
        let unsized_type = prop_oneof![Just(0u8), 0x09u8..=0x2F, 0x33u8..=0x7F];
        let ending = prop_oneof![
            Just(Ending::Nothing),
            (unsized_type, bytes(6)).prop_map(|(t, d)| Ending::Unsized(t, d)),
            (any::<u8>(), bytes(40), bytes(40)).prop_map(|(a, r, s)| Ending::Signature(a, r, s)),
        ];
        (
            prop_oneof![Just(Command::REALTIME), Just(Command::REISSUE)],
            any::<[u8; 17]>(),
            any::<[u8; 6]>(),
            prop::collection::vec(sized_block_2025(), 0..7),
            ending,
        )
            .prop_map(|(command, vin, time, blocks, ending)| {
                let mut data = time.to_vec();
                blocks.iter().for_each(|b| data.extend_from_slice(b));
                match ending {
                    Ending::Nothing => {}
                    Ending::Unsized(t, d) => data.extend_from_slice(&emitted_2025(v25::InfoBlock::Unsized {
                        block_type: t,
                        data: &d,
                    })),
                    Ending::Signature(a, r, s) => {
                        let sig = Signature {
                            algorithm: SignatureAlgorithm(a),
                            r: &r,
                            s: &s,
                        };
                        let mut buf = vec![0; 1 + sig.wire_len()];
                        buf[0] = v25::block_type::SIGNATURE;
                        sig.emit(&mut Writer::new(&mut buf[1..]))
                            .expect("a generated signature emits");
                        data.extend_from_slice(&buf);
                    }
                }
                let header = Header::command(Edition::V2025, command, FixedStr(vin));
                let raw = RawFrame { header, data: &data };
                let mut out = vec![0; raw.wire_len()];
                raw.emit(&mut out).expect("a generated frame emits");
                out
            })
    }

    /// Any JSON, with strings and keys that the encoder knows, so that generated values get deep.
    fn any_json() -> impl Strategy<Value = Value> {
        let word = prop_oneof![
            Just("abnormal"),
            Just("invalid"),
            Just("2024-05-20 08:30:15"),
            Just("AABB"),
            Just(""),
            Just("2016"),
            Just("2025"),
            Just("realtime"),
            Just("vehicle"),
            Just("alarm"),
            Just("soc_low"),
            Just("0.0.0.0"),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u32>().prop_map(Value::from),
            (-1e12f64..1e12).prop_map(Value::from),
            word.clone().prop_map(Value::from),
            ".{0,20}".prop_map(Value::from),
        ];
        let key = prop_oneof![
            Just("edition"),
            Just("command"),
            Just("vin"),
            Just("body_kind"),
            Just("body"),
            Just("time"),
            Just("blocks"),
            Just("type"),
            Just("params"),
            Just("id"),
            Just("value"),
            Just("data_hex"),
            Just("motors"),
            Just("subsystems"),
            Just("raw"),
            Just("codes"),
            Just("control_id"),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..8)
                    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
            ]
        })
    }

    /// JSON pointers of every node of `v`.
    fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
        out.push(at.to_owned());
        match v {
            Value::Object(m) => m
                .iter()
                .for_each(|(k, x)| pointers(x, &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| pointers(x, &format!("{at}/{i}"), out)),
            _ => {}
        }
    }

    proptest! {
        #[test]
        fn generated_realtime_frames_round_trip(frame in realtime_frame()) {
            let json = decode(&frame);
            prop_assert_eq!(hex::encode_upper(encode(&json).unwrap()), hex::encode_upper(&frame));
            let physical = physical_only(&frame);
            prop_assert_eq!(hex::encode_upper(encode(&physical).unwrap()), hex::encode_upper(&frame));
        }

        #[test]
        fn generated_2025_realtime_frames_round_trip(frame in realtime_frame_2025()) {
            let json = decode(&frame);
            prop_assert_eq!(hex::encode_upper(encode(&json).unwrap()), hex::encode_upper(&frame));
            let physical = physical_only(&frame);
            prop_assert_eq!(hex::encode_upper(encode(&physical).unwrap()), hex::encode_upper(&frame));
        }

        #[test]
        fn any_json_is_refused_or_encoded_never_a_panic(v in any_json()) {
            let _ = encode(&v);
        }

        #[test]
        fn mutated_frames_are_refused_or_encoded_never_a_panic(
            pick in any::<prop::sample::Index>(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), prop::option::of(any_json())), 1..4),
        ) {
            let all = vectors();
            let mut v = decode(&all[pick.index(all.len())].1);
            for (at, new) in edits {
                let mut ptrs = Vec::new();
                pointers(&v, "", &mut ptrs);
                let p = &ptrs[at.index(ptrs.len())];
                match (new, p.rsplit_once('/')) {
                    (Some(x), _) => *v.pointer_mut(p).expect("pointer") = x,
                    (None, Some((parent, key))) => match v.pointer_mut(parent) {
                        Some(Value::Object(m)) => drop(m.remove(&key.replace("~1", "/").replace("~0", "~"))),
                        Some(Value::Array(a)) => drop(a.remove(key.parse::<usize>().expect("index"))),
                        _ => {}
                    },
                    (None, None) => {}
                }
            }
            if let Ok(bytes) = encode(&v) {
                // Whatever encodes is a well-formed frame.
                prop_assert!(RawFrame::parse(&bytes).is_ok());
            }
        }
    }
}
