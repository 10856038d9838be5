//! The 2025 real-time report (T7, T9): information blocks renumbered and extended, then the
//! vehicle signature after a 0xFF marker.

pub mod alarm;
pub mod fixed;
pub mod motor;
pub mod packs;
pub mod vehicle;

pub use alarm::{Alarm, GeneralAlarm};
pub use fixed::{Engine, FuelCellHydrogen, Position, SupercapExtremes};
pub use motor::{Motor, Motors};
pub use packs::{PackVoltage, PackVoltageHead, PackVoltages, Stack, StackHead, Stacks, Supercap, SupercapHead};
pub use vehicle::Vehicle;

use crate::error::{Error, Result};
use crate::realtime::v2016::RessTemperatures;
use crate::signature::Signature;
use crate::wire::{
    array, be_u16, be_u8, counted_span, offset_in, records_span, take, PResult, Record, RecordIter, RecordList, Time,
    Width, Writer,
};

/// Block type flags of 2025 (T9).
pub mod block_type {
    /// Whole vehicle.
    pub const VEHICLE: u8 = 0x01;
    /// Drive motors.
    pub const MOTORS: u8 = 0x02;
    /// Fuel-cell engine and on-board hydrogen system.
    pub const FUEL_CELL: u8 = 0x03;
    /// Engine.
    pub const ENGINE: u8 = 0x04;
    /// Vehicle position.
    pub const POSITION: u8 = 0x05;
    /// Alarm.
    pub const ALARM: u8 = 0x06;
    /// Minimum-parallel-unit voltages.
    pub const PACK_VOLTAGES: u8 = 0x07;
    /// Battery temperatures.
    pub const TEMPERATURES: u8 = 0x08;
    /// Fuel-cell stacks.
    pub const STACKS: u8 = 0x30;
    /// Super-capacitor.
    pub const SUPERCAP: u8 = 0x31;
    /// Super-capacitor extremes.
    pub const SUPERCAP_EXTREMES: u8 = 0x32;
    /// Signature start.
    pub const SIGNATURE: u8 = 0xFF;

    /// A stable snake_case name of a 2025 block type.
    pub const fn name(t: u8) -> &'static str {
        match t {
            VEHICLE => "vehicle",
            MOTORS => "drive_motors",
            FUEL_CELL => "fuel_cell_hydrogen",
            ENGINE => "engine",
            POSITION => "position",
            ALARM => "alarm",
            PACK_VOLTAGES => "pack_voltages",
            TEMPERATURES => "temperatures",
            STACKS => "fuel_cell_stacks",
            SUPERCAP => "supercapacitor",
            SUPERCAP_EXTREMES => "supercapacitor_extremes",
            0x09..=0x2F => "platform_custom",
            0x80..=0xFE => "user_defined",
            SIGNATURE => "signature",
            _ => "reserved",
        }
    }
}

/// One information block of a 2025 report.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InfoBlock<'a> {
    /// 0x01 whole vehicle.
    Vehicle(Vehicle),
    /// 0x02 drive motors.
    Motors(Motors<'a>),
    /// 0x03 fuel-cell engine and hydrogen system.
    FuelCell(FuelCellHydrogen),
    /// 0x04 engine.
    Engine(Engine),
    /// 0x05 position.
    Position(Position),
    /// 0x06 alarm.
    Alarm(Alarm<'a>),
    /// 0x07 minimum-parallel-unit voltages.
    PackVoltages(PackVoltages<'a>),
    /// 0x08 battery temperatures (same layout as 2016's 0x09).
    Temperatures(RessTemperatures<'a>),
    /// 0x30 fuel-cell stacks.
    Stacks(Stacks<'a>),
    /// 0x31 super-capacitor.
    Supercap(Supercap<'a>),
    /// 0x32 super-capacitor extremes.
    SupercapExtremes(SupercapExtremes),
    /// 0x80-0xFE user-defined: type, WORD length, data.
    UserDefined { block_type: u8, data: &'a [u8] },
    /// A type with no length (0x09-0x2F, 0x33-0x7F): it and the rest of the data unit, raw.
    /// The signature, if any, is inside and cannot be found (notes 2025 §6.2).
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
            InfoBlock::Alarm(_) => block_type::ALARM,
            InfoBlock::PackVoltages(_) => block_type::PACK_VOLTAGES,
            InfoBlock::Temperatures(_) => block_type::TEMPERATURES,
            InfoBlock::Stacks(_) => block_type::STACKS,
            InfoBlock::Supercap(_) => block_type::SUPERCAP,
            InfoBlock::SupercapExtremes(_) => block_type::SUPERCAP_EXTREMES,
            InfoBlock::UserDefined { block_type, .. } | InfoBlock::Unsized { block_type, .. } => *block_type,
        }
    }
}

impl<'a> Record<'a> for InfoBlock<'a> {
    fn parse(input: &'a [u8]) -> PResult<'a, Self> {
        let (i, t) = be_u8(input)?;
        Ok(match t {
            block_type::VEHICLE => array(i).map(|(i, a)| (i, InfoBlock::Vehicle(Vehicle(a))))?,
            block_type::MOTORS => Motors::parse(i).map(|(i, b)| (i, InfoBlock::Motors(b)))?,
            block_type::FUEL_CELL => array(i).map(|(i, a)| (i, InfoBlock::FuelCell(FuelCellHydrogen(a))))?,
            block_type::ENGINE => array(i).map(|(i, a)| (i, InfoBlock::Engine(Engine(a))))?,
            block_type::POSITION => array(i).map(|(i, a)| (i, InfoBlock::Position(Position(a))))?,
            block_type::ALARM => Alarm::parse(i).map(|(i, b)| (i, InfoBlock::Alarm(b)))?,
            block_type::PACK_VOLTAGES => PackVoltages::parse(i).map(|(i, b)| (i, InfoBlock::PackVoltages(b)))?,
            block_type::TEMPERATURES => RessTemperatures::parse(i).map(|(i, b)| (i, InfoBlock::Temperatures(b)))?,
            block_type::STACKS => Stacks::parse(i).map(|(i, b)| (i, InfoBlock::Stacks(b)))?,
            block_type::SUPERCAP => Supercap::parse(i).map(|(i, b)| (i, InfoBlock::Supercap(b)))?,
            block_type::SUPERCAP_EXTREMES => {
                array(i).map(|(i, a)| (i, InfoBlock::SupercapExtremes(SupercapExtremes(a))))?
            }
            0x80..=0xFE => {
                let (i, len) = be_u16(i)?;
                let (i, data) = take(usize::from(len))(i)?;
                (i, InfoBlock::UserDefined { block_type: t, data })
            }
            // 0xFF is the signature marker, handled by the report; never a block.
            block_type::SIGNATURE => return Err(nom::Err::Error(())),
            _ => (&i[i.len()..], InfoBlock::Unsized { block_type: t, data: i }),
        })
    }

    fn wire_len(&self) -> usize {
        1 + match self {
            InfoBlock::Vehicle(_) => Vehicle::LEN,
            InfoBlock::Motors(b) => b.wire_len(),
            InfoBlock::FuelCell(_) => FuelCellHydrogen::LEN,
            InfoBlock::Engine(_) => Engine::LEN,
            InfoBlock::Position(_) => Position::LEN,
            InfoBlock::Alarm(b) => b.wire_len(),
            InfoBlock::PackVoltages(b) => b.wire_len(),
            InfoBlock::Temperatures(b) => b.wire_len(),
            InfoBlock::Stacks(b) => b.wire_len(),
            InfoBlock::Supercap(b) => b.wire_len(),
            InfoBlock::SupercapExtremes(_) => SupercapExtremes::LEN,
            InfoBlock::UserDefined { data, .. } => 2 + data.len(),
            InfoBlock::Unsized { data, .. } => data.len(),
        }
    }

    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(self.block_type())?;
        match self {
            InfoBlock::Vehicle(b) => w.bytes(&b.0),
            InfoBlock::Motors(b) => b.emit(w),
            InfoBlock::FuelCell(b) => w.bytes(&b.0),
            InfoBlock::Engine(b) => w.bytes(&b.0),
            InfoBlock::Position(b) => w.bytes(&b.0),
            InfoBlock::Alarm(b) => b.emit(w),
            InfoBlock::PackVoltages(b) => b.emit(w),
            InfoBlock::Temperatures(b) => b.emit(w),
            InfoBlock::Stacks(b) => b.emit(w),
            InfoBlock::Supercap(b) => b.emit(w),
            InfoBlock::SupercapExtremes(b) => w.bytes(&b.0),
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
                if matches!(block_type, 0x01..=0x08 | 0x30..=0x32 | 0x80..=0xFF) {
                    return Err(Error::Unencodable {
                        what: "unsized block with a sized type",
                    });
                }
                w.bytes(data)
            }
        }
    }
}

/// Length of the block at the start of `i`, type byte included, from the length fields alone
/// (validation without building the block; the property tests check agreement with
/// [`InfoBlock::parse`]). `None` when a count is cut off or for the signature marker.
fn block_len(i: &[u8]) -> Option<usize> {
    let (&t, b) = i.split_first()?;
    let n = match t {
        block_type::VEHICLE => Vehicle::LEN,
        block_type::FUEL_CELL => FuelCellHydrogen::LEN,
        block_type::ENGINE => Engine::LEN,
        block_type::POSITION => Position::LEN,
        block_type::SUPERCAP_EXTREMES => SupercapExtremes::LEN,
        block_type::MOTORS => counted_span(b, 0, Width::Byte, Motor::LEN)?,
        block_type::ALARM => {
            let mut at = crate::realtime::v2016::AlarmHead::LEN;
            for _ in 0..4 {
                at += counted_span(b, at, Width::Byte, 4)?;
            }
            at + counted_span(b, at, Width::Byte, GeneralAlarm::LEN)?
        }
        block_type::PACK_VOLTAGES => records_span(b, 0, Width::Byte, |r| {
            Some(PackVoltageHead::LEN + counted_span(r, PackVoltageHead::LEN, Width::Word, 2)?)
        })?,
        block_type::TEMPERATURES => records_span(b, 0, Width::Byte, |r| Some(1 + counted_span(r, 1, Width::Word, 1)?))?,
        block_type::STACKS => records_span(b, 0, Width::Byte, |r| {
            Some(StackHead::LEN + counted_span(r, StackHead::LEN, Width::Word, 1)?)
        })?,
        block_type::SUPERCAP => {
            let cells = counted_span(b, SupercapHead::LEN, Width::Word, 2)?;
            SupercapHead::LEN + cells + counted_span(b, SupercapHead::LEN + cells, Width::Word, 1)?
        }
        0x80..=0xFE => 2 + usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?])),
        block_type::SIGNATURE => return None,
        _ => b.len(),
    };
    Some(1 + n)
}

/// A 2025 real-time (0x02) or reissue (0x03) report.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RealtimeReport<'a> {
    /// Data collection time.
    pub time: Time,
    /// The information blocks, in wire order.
    pub blocks: RecordList<'a, InfoBlock<'a>>,
    /// The vehicle signature after the 0xFF marker. `None`: an unsigned frame, which the
    /// standard does not allow but the field has (accepted and flagged, notes 2025 §13 A14).
    pub signature: Option<Signature<'a>>,
}

impl<'a> RealtimeReport<'a> {
    /// Parses the data unit, validating every block and the signature.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let (mut rest, time) = array::<6>(data).map_err(|_| Error::Malformed {
            what: "real-time report time",
            offset: 0,
        })?;
        let blocks_start = rest;
        let mut count = 0;
        let mut signature = None;
        while let Some(&t) = rest.first() {
            let offset = offset_in(data, rest);
            if t == block_type::SIGNATURE {
                match Signature::parse(&rest[1..]) {
                    Ok(([], s)) => signature = Some(s),
                    _ => return Err(Error::MalformedBlock { block_type: t, offset }),
                }
                break;
            }
            match block_len(rest) {
                Some(n) if n <= rest.len() => rest = &rest[n..],
                _ => return Err(Error::MalformedBlock { block_type: t, offset }),
            }
            count += 1;
        }
        let used = offset_in(blocks_start, rest);
        Ok(RealtimeReport {
            time: Time(time),
            blocks: RecordList::Wire {
                count,
                bytes: &blocks_start[..used],
            },
            signature,
        })
    }

    /// Iterates over the blocks.
    pub fn iter(&self) -> RecordIter<'a, InfoBlock<'a>> {
        self.blocks.iter()
    }

    /// Bytes of the signed part: the time and every block (notes 2025 §4.3; the 0xFF marker is
    /// not signed, A1).
    pub fn signed_len(&self) -> usize {
        Time::LEN + self.blocks.wire_len()
    }

    /// Bytes on the wire.
    pub fn wire_len(&self) -> usize {
        self.signed_len() + self.signature.map_or(0, |s| 1 + s.wire_len())
    }

    /// Appends the data unit: time, blocks and (if present) the marker and signature.
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        self.emit_signed_part(w)?;
        if let Some(s) = &self.signature {
            w.u8(block_type::SIGNATURE)?;
            s.emit(w)?;
        }
        Ok(())
    }

    /// Appends the part that the signature covers: time and blocks.
    pub fn emit_signed_part(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.time.0)?;
        let n = self.blocks.len();
        for (k, b) in self.blocks.iter().enumerate() {
            if matches!(b, InfoBlock::Unsized { .. }) && (k + 1 != n || self.signature.is_some()) {
                return Err(Error::Unencodable {
                    what: "an unsized block must be the last thing in the data unit",
                });
            }
            b.emit(w)?;
        }
        Ok(())
    }
}
