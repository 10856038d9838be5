//! The 2025 edition's own bodies: the vehicle login with its pack codes, the activation, its
//! response and the key exchange, the signature, and the information blocks of the real-time
//! report.

use anyhow::Result;
use gb32960_core::frame::{Edition, Encryption};
use gb32960_core::message::{Activation, ActivationResponse, KeyExchange, VehicleLogin2025};
use gb32960_core::realtime::v2016::RessTemperatures;
use gb32960_core::realtime::v2025 as v25;
use gb32960_core::signature::{Signature, SignatureAlgorithm};
use gb32960_core::wire::{Field, Reading, RecordList, Width};

use super::read::{code, counted, fixed_str, padded_codes, record, values, Node, Obj};
use super::realtime::{
    alarm_lists, alarm_parts, position_record, probe_temps, records_of, report, temperature_records, temperatures,
    AlarmParts, ListedRecords, Records, TemperatureRecords, CELL_VOLTAGE, TEMPERATURE,
};
use super::{each, items, Owned};

/// A 2025 vehicle login: `packs_per_bms`, and `pack_codes` (24 bytes each, NUL-padded) or
/// `pack_codes_hex`.
pub(super) fn vehicle_login_2025(b: &Obj<'_>) -> Result<Owned> {
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

/// A 2025 activation. The chip ID is space-padded (T B.3).
pub(super) fn activation(b: &Obj<'_>) -> Result<Owned> {
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

pub(super) fn activation_response(b: &Obj<'_>) -> Result<ActivationResponse> {
    Ok(ActivationResponse {
        status: code(&b.req("status")?, |status| {
            ActivationResponse { status, info: 0 }.status_name()
        })?,
        info: code(&b.req("info")?, |info| {
            ActivationResponse { status: 0, info }.info_name()
        })?,
    })
}

pub(super) fn key_exchange(b: &Obj<'_>, edition: Edition) -> Result<Owned> {
    let head = KeyExchange {
        key_type: Encryption(code(&b.req("key_type")?, |c| Encryption(c).name(edition))?),
        key: &[],
        valid_from: b.req("valid_from")?.time()?,
        valid_until: b.req("valid_until")?.time()?,
    };
    Ok(Owned::KeyExchange(head, b.req("key_hex")?.hex()?))
}

pub(super) fn realtime_2025(b: &Obj<'_>) -> Result<Owned> {
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

pub(super) struct OwnedSignature {
    algorithm: SignatureAlgorithm,
    r: Vec<u8>,
    s: Vec<u8>,
}

impl OwnedSignature {
    pub(super) fn borrow(&self) -> Signature<'_> {
        Signature {
            algorithm: self.algorithm,
            r: &self.r,
            s: &self.s,
        }
    }
}

fn signature(n: &Node<'_>) -> Result<OwnedSignature> {
    let o = n.obj()?;
    Ok(OwnedSignature {
        algorithm: SignatureAlgorithm(code(&o.req("algorithm")?, |c| SignatureAlgorithm(c).name())?),
        r: o.req("r_hex")?.hex()?,
        s: o.req("s_hex")?.hex()?,
    })
}

/// A 2025 information block.
pub(super) enum Block25 {
    Vehicle(v25::Vehicle),
    Motors(Reading<Vec<v25::Motor>>),
    FuelCell(v25::FuelCellHydrogen),
    Engine(v25::Engine),
    Position(v25::Position),
    Alarm(AlarmParts, Reading<Vec<v25::GeneralAlarm>>),
    PackVoltages(ListedRecords<v25::PackVoltageHead, u16>),
    Temperatures(TemperatureRecords),
    Stacks(ListedRecords<v25::StackHead, u8>),
    Supercap(v25::SupercapHead, Reading<Vec<u16>>, Reading<Vec<u8>>),
    SupercapExtremes(v25::SupercapExtremes),
    UserDefined(u8, Vec<u8>),
    Unsized(u8, Vec<u8>),
}

impl Block25 {
    pub(super) fn records(&self) -> Records<'_> {
        let mut r = Records::default();
        match self {
            Block25::PackVoltages(p) => r.packs = records_of(p, |head, units| v25::PackVoltage { head, units }),
            Block25::Temperatures(t) => r.temperatures = temperature_records(t),
            Block25::Stacks(s) => r.stacks = records_of(s, |head, coolant_temps| v25::Stack { head, coolant_temps }),
            _ => {}
        }
        r
    }

    pub(super) fn borrow<'a>(&'a self, r: &'a Records<'a>) -> v25::InfoBlock<'a> {
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
        t::PACK_VOLTAGES => Block25::PackVoltages(headed_values(
            &b.req("packs")?,
            ("unit_voltages_raw", "unit_voltages_v", &CELL_VOLTAGE),
            v25::PackVoltageHead,
            packs::pack_field::ALL,
        )?),
        t::TEMPERATURES => Block25::Temperatures(temperatures(&b.req("packs")?)?),
        t::STACKS => Block25::Stacks(headed_values(
            &b.req("stacks")?,
            ("coolant_temps_raw", "coolant_temps_c", &TEMPERATURE),
            v25::StackHead,
            packs::stack_field::ALL,
        )?),
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

/// The packs of the pack-voltage block (0x07) and the stacks of the fuel-cell stack block
/// (0x30): each a record head and a list of values behind a WORD count with sentinels, given as
/// `(raw key, physical key, element table)`. The list is read before the head.
fn headed_values<const N: usize, H, T: TryFrom<u32>>(
    n: &Node<'_>,
    (raw_key, physical_key, elem): (&str, &str, &Field),
    head: fn([u8; N]) -> H,
    fields: &[Field],
) -> Result<ListedRecords<H, T>> {
    counted(n, Width::Byte, true, |n| {
        let o = n.obj()?;
        let list = values(&o, raw_key, Some(physical_key), elem, Width::Word, true)?;
        Ok((head(record(&o, fields)?), list))
    })
}
