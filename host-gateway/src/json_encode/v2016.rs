//! The 2016 edition's own bodies: the vehicle login with its subsystem codes, and the
//! information blocks of the real-time report.

use anyhow::{anyhow, Result};
use gb32960_core::message::VehicleLogin;
use gb32960_core::realtime::v2016::{
    self as v16, AlarmFlag, FuelCell, FuelCellHead, FuelCellTail, Motors, RessTemperatures, RessVoltage,
    RessVoltageHead, RessVoltages,
};
use gb32960_core::wire::{List, Reading, RecordList, Width};

use super::read::{code, counted, fixed_str, padded_codes, record, values, Obj};
use super::realtime::{
    alarm_lists, alarm_parts, position_record, probe_temps, report, temperature_records, temperatures, AlarmParts,
    Records, TemperatureRecords, CELL_VOLTAGE,
};
use super::{each, items, Owned};

/// A 2016 vehicle login. `codes_hex` gives the code bytes exactly; else each code of `codes` is
/// padded with NULs to `code_length` (which, like `subsystem_count`, may be left out).
pub(super) fn vehicle_login(b: &Obj<'_>) -> Result<Owned> {
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

/// A 2016 real-time report or reissue: its time and blocks.
pub(super) fn realtime_2016(b: &Obj<'_>) -> Result<Owned> {
    let (time, blocks) = report(b, block, |b| matches!(b, Block16::Unsized(..)), false)?;
    Ok(Owned::Realtime(time, blocks))
}

/// A 2016 information block.
pub(super) enum Block16 {
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

impl Block16 {
    pub(super) fn records(&self) -> Records<'_> {
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

    pub(super) fn borrow<'a>(&'a self, r: &'a Records<'a>) -> v16::InfoBlock<'a> {
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
