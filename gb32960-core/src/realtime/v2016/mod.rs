//! The 2016 real-time report and its nine information blocks (Tables 7-19, B.4-B.8).

pub mod alarm;
pub mod engine;
pub mod extremes;
pub mod fuel_cell;
pub mod motor;
pub mod position;
pub mod ress;
pub mod vehicle;

pub use alarm::{Alarm, AlarmFlag, AlarmHead};
pub use engine::Engine;
pub use extremes::Extremes;
pub use fuel_cell::{FuelCell, FuelCellHead, FuelCellTail};
pub use motor::{Motor, Motors};
pub use position::{FixStatus, Position};
pub use ress::{RessTemperature, RessTemperatures, RessVoltage, RessVoltageHead, RessVoltages};
pub use vehicle::{Gear, Vehicle};

use crate::error::{Error, Result};
use crate::wire::{
    array, be_u16, be_u8, counted_span, offset_in, records_span, take, PResult, Record, RecordIter, RecordList, Time,
    Width, Writer,
};

/// Block type flags of 2016 (Table 8 / B.3).
pub mod block_type {
    /// Whole-vehicle data.
    pub const VEHICLE: u8 = 0x01;
    /// Drive motors.
    pub const MOTORS: u8 = 0x02;
    /// Fuel cell.
    pub const FUEL_CELL: u8 = 0x03;
    /// Engine.
    pub const ENGINE: u8 = 0x04;
    /// Vehicle position.
    pub const POSITION: u8 = 0x05;
    /// Extreme values.
    pub const EXTREMES: u8 = 0x06;
    /// Alarm data.
    pub const ALARM: u8 = 0x07;
    /// RESS voltages.
    pub const RESS_VOLTAGE: u8 = 0x08;
    /// RESS temperatures.
    pub const RESS_TEMPERATURE: u8 = 0x09;

    /// A stable snake_case name of a 2016 block type.
    pub const fn name(t: u8) -> &'static str {
        match t {
            VEHICLE => "vehicle",
            MOTORS => "drive_motors",
            FUEL_CELL => "fuel_cell",
            ENGINE => "engine",
            POSITION => "position",
            EXTREMES => "extremes",
            ALARM => "alarm",
            RESS_VOLTAGE => "ress_voltage",
            RESS_TEMPERATURE => "ress_temperature",
            0x0A..=0x2F => "platform_custom",
            0x80..=0xFE => "user_defined",
            _ => "reserved",
        }
    }
}

/// One information block of a 2016 report.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InfoBlock<'a> {
    /// 0x01 whole-vehicle data.
    Vehicle(Vehicle),
    /// 0x02 drive motors.
    Motors(Motors<'a>),
    /// 0x03 fuel cell.
    FuelCell(FuelCell<'a>),
    /// 0x04 engine.
    Engine(Engine),
    /// 0x05 vehicle position.
    Position(Position),
    /// 0x06 extreme values.
    Extremes(Extremes),
    /// 0x07 alarm data.
    Alarm(Alarm<'a>),
    /// 0x08 RESS voltages.
    RessVoltages(RessVoltages<'a>),
    /// 0x09 RESS temperatures.
    RessTemperatures(RessTemperatures<'a>),
    /// 0x80-0xFE user-defined block: type, WORD length, data (Table 19).
    UserDefined { block_type: u8, data: &'a [u8] },
    /// A type with no length field (platform custom 0x0A-0x2F, reserved): it and the rest of
    /// the data unit, kept raw. Always the last block.
    Unsized { block_type: u8, data: &'a [u8] },
}

impl InfoBlock<'_> {
    /// The type flag.
    pub const fn block_type(&self) -> u8 {
        match self {
            InfoBlock::Vehicle(_) => block_type::VEHICLE,
            InfoBlock::Motors(_) => block_type::MOTORS,
            InfoBlock::FuelCell(_) => block_type::FUEL_CELL,
            InfoBlock::Engine(_) => block_type::ENGINE,
            InfoBlock::Position(_) => block_type::POSITION,
            InfoBlock::Extremes(_) => block_type::EXTREMES,
            InfoBlock::Alarm(_) => block_type::ALARM,
            InfoBlock::RessVoltages(_) => block_type::RESS_VOLTAGE,
            InfoBlock::RessTemperatures(_) => block_type::RESS_TEMPERATURE,
            InfoBlock::UserDefined { block_type, .. } | InfoBlock::Unsized { block_type, .. } => *block_type,
        }
    }
}

impl<'a> Record<'a> for InfoBlock<'a> {
    fn parse(input: &'a [u8]) -> PResult<'a, Self> {
        let (i, t) = be_u8(input)?;
        Ok(match t {
            block_type::VEHICLE => {
                let (i, a) = array(i)?;
                (i, InfoBlock::Vehicle(Vehicle(a)))
            }
            block_type::MOTORS => Motors::parse(i).map(|(i, b)| (i, InfoBlock::Motors(b)))?,
            block_type::FUEL_CELL => FuelCell::parse(i).map(|(i, b)| (i, InfoBlock::FuelCell(b)))?,
            block_type::ENGINE => {
                let (i, a) = array(i)?;
                (i, InfoBlock::Engine(Engine(a)))
            }
            block_type::POSITION => {
                let (i, a) = array(i)?;
                (i, InfoBlock::Position(Position(a)))
            }
            block_type::EXTREMES => {
                let (i, a) = array(i)?;
                (i, InfoBlock::Extremes(Extremes(a)))
            }
            block_type::ALARM => Alarm::parse(i).map(|(i, b)| (i, InfoBlock::Alarm(b)))?,
            block_type::RESS_VOLTAGE => RessVoltages::parse(i).map(|(i, b)| (i, InfoBlock::RessVoltages(b)))?,
            block_type::RESS_TEMPERATURE => {
                RessTemperatures::parse(i).map(|(i, b)| (i, InfoBlock::RessTemperatures(b)))?
            }
            0x80..=0xFE => {
                let (i, len) = be_u16(i)?;
                let (i, data) = take(usize::from(len))(i)?;
                (i, InfoBlock::UserDefined { block_type: t, data })
            }
            _ => (&i[i.len()..], InfoBlock::Unsized { block_type: t, data: i }),
        })
    }

    fn wire_len(&self) -> usize {
        1 + match self {
            InfoBlock::Vehicle(_) => Vehicle::LEN,
            InfoBlock::Motors(b) => b.wire_len(),
            InfoBlock::FuelCell(b) => b.wire_len(),
            InfoBlock::Engine(_) => Engine::LEN,
            InfoBlock::Position(_) => Position::LEN,
            InfoBlock::Extremes(_) => Extremes::LEN,
            InfoBlock::Alarm(b) => b.wire_len(),
            InfoBlock::RessVoltages(b) => b.wire_len(),
            InfoBlock::RessTemperatures(b) => b.wire_len(),
            InfoBlock::UserDefined { data, .. } => 2 + data.len(),
            InfoBlock::Unsized { data, .. } => data.len(),
        }
    }

    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(self.block_type())?;
        match self {
            InfoBlock::Vehicle(b) => w.bytes(&b.0),
            InfoBlock::Motors(b) => b.emit(w),
            InfoBlock::FuelCell(b) => b.emit(w),
            InfoBlock::Engine(b) => w.bytes(&b.0),
            InfoBlock::Position(b) => w.bytes(&b.0),
            InfoBlock::Extremes(b) => w.bytes(&b.0),
            InfoBlock::Alarm(b) => b.emit(w),
            InfoBlock::RessVoltages(b) => b.emit(w),
            InfoBlock::RessTemperatures(b) => b.emit(w),
            InfoBlock::UserDefined { block_type, data } => {
                if !(0x80..=0xFE).contains(block_type) || data.len() > usize::from(u16::MAX) {
                    return Err(Error::Unencodable {
                        what: "user-defined block",
                    });
                }
                w.u16(data.len() as u16)?;
                w.bytes(data)
            }
            InfoBlock::Unsized { block_type, data } => {
                if matches!(block_type, 0x01..=0x09 | 0x80..=0xFE) {
                    return Err(Error::Unencodable {
                        what: "unsized block with a sized type",
                    });
                }
                w.bytes(data)
            }
        }
    }
}

/// Length of the block at the start of `i`, type byte included, from the length fields alone:
/// validation without building the block (iteration builds it later with [`InfoBlock::parse`];
/// the property tests check that both agree on every shape). `None` when a count is cut off.
fn block_len(i: &[u8]) -> Option<usize> {
    let (&t, b) = i.split_first()?;
    let n = match t {
        block_type::VEHICLE => Vehicle::LEN,
        block_type::ENGINE => Engine::LEN,
        block_type::POSITION => Position::LEN,
        block_type::EXTREMES => Extremes::LEN,
        block_type::MOTORS => counted_span(b, 0, Width::Byte, Motor::LEN)?,
        block_type::FUEL_CELL => {
            FuelCellHead::LEN + counted_span(b, FuelCellHead::LEN, Width::Word, 1)? + FuelCellTail::LEN
        }
        block_type::ALARM => {
            let mut at = AlarmHead::LEN;
            for _ in 0..4 {
                at += counted_span(b, at, Width::Byte, 4)?;
            }
            at
        }
        block_type::RESS_VOLTAGE => records_span(b, 0, Width::Byte, |r| {
            let m = usize::from(*r.get(RessVoltageHead::LEN)?);
            Some(RessVoltageHead::LEN + 1 + 2 * m)
        })?,
        block_type::RESS_TEMPERATURE => {
            records_span(b, 0, Width::Byte, |r| Some(1 + counted_span(r, 1, Width::Word, 1)?))?
        }
        0x80..=0xFE => 2 + usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?])),
        _ => b.len(),
    };
    Some(1 + n)
}

/// A 2016 real-time (0x02) or reissue (0x03) report.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RealtimeReport<'a> {
    /// Data collection time (for a reissue, the original sampling time).
    pub time: Time,
    /// The information blocks, in wire order.
    pub blocks: RecordList<'a, InfoBlock<'a>>,
}

impl<'a> RealtimeReport<'a> {
    /// Parses the data unit, validating every block.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let (mut rest, time) = array::<6>(data).map_err(|_| Error::Malformed {
            what: "real-time report time",
            offset: 0,
        })?;
        let blocks_start = rest;
        let mut count = 0;
        while !rest.is_empty() {
            let offset = offset_in(data, rest);
            match block_len(rest) {
                Some(n) if n <= rest.len() => rest = &rest[n..],
                _ => {
                    return Err(Error::MalformedBlock {
                        block_type: rest[0],
                        offset,
                    })
                }
            }
            count += 1;
        }
        Ok(RealtimeReport {
            time: Time(time),
            blocks: RecordList::Wire {
                count,
                bytes: blocks_start,
            },
        })
    }

    /// Iterates over the blocks.
    pub fn iter(&self) -> RecordIter<'a, InfoBlock<'a>> {
        self.blocks.iter()
    }

    /// Bytes on the wire.
    pub fn wire_len(&self) -> usize {
        Time::LEN + self.blocks.wire_len()
    }

    /// Appends the data unit.
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.time.0)?;
        let n = self.blocks.len();
        for (k, b) in self.blocks.iter().enumerate() {
            if matches!(b, InfoBlock::Unsized { .. }) && k + 1 != n {
                return Err(Error::Unencodable {
                    what: "an unsized block must be the last block",
                });
            }
            b.emit(w)?;
        }
        Ok(())
    }
}
