//! Reading JSON with paths: a [`Node`] or [`Obj`] knows where it sits, so that every error names
//! the JSON path. Fields are read through their tables, fixed strings and byte strings through
//! their widths, and lists behind count fields through the count's width and sentinels.

use std::fmt::Display;

use anyhow::{anyhow, Result};
use gb32960_core::wire::{Field, FixedStr, Kind, Reading, Time, Width};
use serde_json::{Map, Value};

/// A JSON value and where it sits, for error messages.
pub(super) struct Node<'a> {
    pub(super) v: &'a Value,
    path: String,
}

impl<'a> Node<'a> {
    pub(super) fn err(&self, msg: impl Display) -> anyhow::Error {
        anyhow!("{}: {msg}", self.path)
    }

    pub(super) fn obj(&self) -> Result<Obj<'a>> {
        match self.v {
            Value::Object(m) => Ok(Obj {
                m,
                path: self.path.clone(),
            }),
            other => Err(self.err(format_args!("expected an object, found {}", type_name(other)))),
        }
    }

    pub(super) fn array(&self) -> Result<Vec<Node<'a>>> {
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

    pub(super) fn str(&self) -> Result<&'a str> {
        self.v
            .as_str()
            .ok_or_else(|| self.err(format_args!("expected a string, found {}", type_name(self.v))))
    }

    /// An integer from 0 to `max`.
    pub(super) fn uint(&self, max: u32) -> Result<u32> {
        match self.v.as_u64() {
            Some(x) if x <= u64::from(max) => Ok(x as u32),
            _ => Err(self.err(format_args!("expected an integer from 0 to {max}"))),
        }
    }

    pub(super) fn hex(&self) -> Result<Vec<u8>> {
        hex::decode(self.str()?).map_err(|e| self.err(format_args!("expected hex: {e}")))
    }

    pub(super) fn time(&self) -> Result<Time> {
        self.v
            .as_str()
            .and_then(Time::parse_str)
            .ok_or_else(|| self.err("expected a time \"YYYY-MM-DD hh:mm:ss\""))
    }
}

/// A JSON object and where it sits.
pub(super) struct Obj<'a> {
    pub(super) m: &'a Map<String, Value>,
    pub(super) path: String,
}

impl<'a> Obj<'a> {
    pub(super) fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<Node<'a>> {
        self.m.get(key).map(|v| Node { v, path: self.at(key) })
    }

    pub(super) fn req(&self, key: &str) -> Result<Node<'a>> {
        self.get(key).ok_or_else(|| anyhow!("{}: missing", self.at(key)))
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.m.contains_key(key)
    }

    /// Whether the field `name` is given, as a value or as `<name>_raw`.
    pub(super) fn has_field(&self, name: &str) -> bool {
        self.has(name) || self.has(&format!("{name}_raw"))
    }
}

pub(super) fn type_name(v: &Value) -> &'static str {
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

/// A one-byte code: a number, or a name that exactly one code has (`"realtime_report"`).
pub(super) fn code(n: &Node<'_>, name_of: impl Fn(u8) -> &'static str) -> Result<u8> {
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
pub(super) fn field_raw(f: &Field, n: &Node<'_>) -> Result<u32> {
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
pub(super) fn record<const N: usize>(obj: &Obj<'_>, fields: &[Field]) -> Result<[u8; N]> {
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
pub(super) fn record_with<const N: usize>(
    obj: &Obj<'_>,
    added: Vec<(&str, Value)>,
    fields: &[Field],
) -> Result<[u8; N]> {
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
pub(super) fn fixed_str<const N: usize>(obj: &Obj<'_>, key: &str, pad: u8) -> Result<FixedStr<N>> {
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
pub(super) fn bytes_text(obj: &Obj<'_>, key: &str) -> Result<Vec<u8>> {
    match obj.get(&format!("{key}_hex")) {
        Some(n) => n.hex(),
        None => Ok(obj.req(key)?.str()?.as_bytes().to_vec()),
    }
}

/// A byte array of exactly `N` bytes, or text of at most `N` bytes padded with NULs.
pub(super) fn padded<const N: usize>(obj: &Obj<'_>, key: &str) -> Result<[u8; N]> {
    let b = bytes_text(obj, key)?;
    FixedStr::<N>::from_bytes_padded(&b)
        .map(|s| s.0)
        .ok_or_else(|| anyhow!("{}: longer than {N} bytes", obj.at(key)))
}

/// Login codes (`codes`, `pack_codes`): each text padded with NULs to `width`, concatenated.
pub(super) fn padded_codes(nodes: &[Node<'_>], width: usize) -> Result<Vec<u8>> {
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
pub(super) fn counted<'a, T>(
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
pub(super) fn values<T: TryFrom<u32>>(
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
