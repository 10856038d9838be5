//! What the real-time reports of both editions share: the report's frame of time and blocks, the
//! element tables of listed values, and the alarm, position and temperature parts that the
//! 2025 blocks read as the 2016 ones do. The blocks themselves are in `v2016` and `v2025`.

use anyhow::Result;
use gb32960_core::realtime::v2016::{self as v16, AlarmHead, RessTemperature, RessVoltage};
use gb32960_core::realtime::v2025 as v25;
use gb32960_core::wire::{Field, List, Reading, Time, Width};

use super::items;
use super::read::{counted, record_with, values, Node, Obj};

/// Element tables of the lists whose JSON shows physical values beside the raw integers. They
/// read exactly as the decoder's `RessTemperature::temp_c` and `RessVoltage::cell_voltage_v`
/// (a test checks every raw value), so list elements convert like record fields.
pub(super) const TEMPERATURE: Field = Field::celsius("temperature", 0, Width::Byte);
pub(super) const CELL_VOLTAGE: Field = Field::scaled("cell_voltage", 0, Width::Word, 1000, 0);
/// Fault codes are raw DWORDs.
const FAULT_CODE: Field = Field::plain("fault_code", 0, Width::Dword);

/// A report's time and blocks (either edition). A block without a length field runs to the end
/// of the data unit (notes §5.7.10): nothing may follow it, not even a signature.
pub(super) fn report<T>(
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

/// Probe temperatures (`probe_temps_c`/`probe_temps_raw`), behind a WORD count.
pub(super) fn probe_temps(obj: &Obj<'_>) -> Result<Reading<Vec<u8>>> {
    values(
        obj,
        "probe_temps_raw",
        Some("probe_temps_c"),
        &TEMPERATURE,
        Width::Word,
        true,
    )
}

/// The alarm's level and flags, and its four fault lists (both editions).
pub(super) type AlarmParts = (AlarmHead, [Reading<Vec<u32>>; 4]);
/// RESS temperature records: number and probe temperatures (2016 0x09, 2025 0x08).
pub(super) type TemperatureRecords = ListedRecords<u8, u8>;
/// A counted list of records that each hold a head and a counted list of elements.
pub(super) type ListedRecords<H, T> = Reading<Vec<(H, Reading<Vec<T>>)>>;

/// The second-level records of a block (records that hold lists), which borrow its lists.
#[derive(Default)]
pub(super) struct Records<'a> {
    pub(super) voltages: Vec<RessVoltage<'a>>,
    pub(super) temperatures: Vec<RessTemperature<'a>>,
    pub(super) packs: Vec<v25::PackVoltage<'a>>,
    pub(super) stacks: Vec<v25::Stack<'a>>,
}

/// The records of a counted list of `(head, list)` pairs, each list borrowed as items (none
/// behind a sentinel count): RESS temperatures, and the 2025 packs and stacks.
pub(super) fn records_of<'a, H: Copy, T, R>(
    r: &'a ListedRecords<H, T>,
    record: impl Fn(H, Reading<List<'a, T>>) -> R,
) -> Vec<R> {
    match r {
        Reading::Valid(s) => s.iter().map(|(head, list)| record(*head, items(list))).collect(),
        _ => Vec::new(),
    }
}

pub(super) fn temperature_records(r: &TemperatureRecords) -> Vec<RessTemperature<'_>> {
    records_of(r, |number, temps| RessTemperature { number, temps })
}

pub(super) fn alarm_lists(faults: &[Reading<Vec<u32>>; 4]) -> [Reading<List<'_, u32>>; 4] {
    [
        items(&faults[0]),
        items(&faults[1]),
        items(&faults[2]),
        items(&faults[3]),
    ]
}

/// RESS temperature records (2016 `subsystems`, 2025 `packs`): `number` and probe temperatures.
pub(super) fn temperatures(n: &Node<'_>) -> Result<TemperatureRecords> {
    counted(n, Width::Byte, true, |n| {
        let s = n.obj()?;
        Ok((s.req("number")?.uint(0xFF)? as u8, probe_temps(&s)?))
    })
}

/// The alarm head and fault lists. Without `general_flags`, the flag word is built from
/// `general_flags_set`: the edition's `flag_names`, or `bit_N`.
pub(super) fn alarm_parts(b: &Obj<'_>, flag_names: &[&str]) -> Result<AlarmParts> {
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
pub(super) fn position_record<const N: usize>(b: &Obj<'_>, fields: &[Field]) -> Result<[u8; N]> {
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
