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
//!
//! The modules follow that path: `read` reads JSON values with their paths and fills records
//! from field tables; `messages` holds the bodies both editions share, `v2016` and `v2025` each
//! edition's own bodies and blocks, and `realtime` what the two editions' reports share. This
//! module dispatches on the header and `body_kind`, builds the body and emits it.

use std::mem::discriminant;

use anyhow::{anyhow, bail, Result};
use gb32960_core::frame::{Command, Edition, Encryption, Header, RawFrame, ResponseFlag};
use gb32960_core::message::{
    Activation, KeyExchange, Param, ParamId, ParamItems, ParamList, ParamQuery, Response, TerminalControl,
    VehicleLogin, VehicleLogin2025,
};
use gb32960_core::realtime::{v2016 as v16, v2025 as v25, RealtimeReport};
use gb32960_core::wire::{List, Reading, Record, RecordList, Time, Width, Writer};
use gb32960_core::{Body, Frame};
use serde_json::{Map, Value};

mod messages;
mod read;
mod realtime;
#[cfg(test)]
mod tests;
mod v2016;
mod v2025;

use messages::{control, logout, param_id, params, platform_login, OwnedCommand, OwnedValue};
use read::{code, counted, fixed_str, type_name, Obj};
use realtime::Records;
use v2016::{realtime_2016, vehicle_login, Block16};
use v2025::{
    activation, activation_response, key_exchange, realtime_2025, vehicle_login_2025, Block25, OwnedSignature,
};

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
        ("realtime", Edition::V2016) => realtime_2016(&b)?,
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
                            value: v.borrow(),
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
            Owned::Control { time, command } => f(Body::Control(TerminalControl {
                time: *time,
                command: command.borrow(),
            })),
            Owned::Response { time, rest } => f(Body::Response(Response { time: *time, rest })),
            Owned::Encrypted(d) => f(Body::Encrypted(d)),
            Owned::Raw(d) => f(Body::Other(d)),
        }
    }
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
