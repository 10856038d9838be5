//! 0x08 RESS voltages and 0x09 RESS temperatures (Tables B.5-B.8).

use crate::error::{Error, Result};
use crate::wire::{
    array, be_u8, counted_len, emit_counted, fixed_record, parse_counted, Field, List, PResult, Reading, Record,
    RecordList, Width, Writer,
};

/// Field table of [`RessVoltageHead`].
pub mod field {
    use super::*;
    /// Subsystem number.
    pub const NUMBER: Field = Field::plain("number", 0, Width::Byte);
    /// Subsystem voltage, 0.1 V.
    pub const VOLTAGE: Field = Field::scaled("voltage_v", 1, Width::Word, 10, 0);
    /// Subsystem current, 0.1 A, offset 1000 A (rtm_con 1.0.4 wrongly uses 3000, notes §9 #5).
    pub const CURRENT: Field = Field::scaled("current_a", 3, Width::Word, 10, 10_000);
    /// Total number of cells in the subsystem.
    pub const CELL_COUNT: Field = Field::number("cell_count", 5, Width::Word);
    /// 1-based index of the first cell in this frame.
    pub const FIRST_CELL: Field = Field::plain("first_cell", 7, Width::Word);
    /// All fields in wire order.
    pub const ALL: &[Field] = &[NUMBER, VOLTAGE, CURRENT, CELL_COUNT, FIRST_CELL];
}

fixed_record!(
    /// The fixed part of a RESS voltage record (9 bytes, before the frame's cell count).
    RessVoltageHead,
    9,
    field::ALL
);

/// One subsystem's record in the 0x08 block: 10 + 2m bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RessVoltage<'a> {
    /// Number, voltage, current, total cells, first-cell index.
    pub head: RessVoltageHead,
    /// This frame's cell voltages in mV (raw; 0xFFFE/0xFFFF are sentinels). The count byte m
    /// (1-200) is the list's length.
    pub cells: List<'a, u16>,
}

impl RessVoltage<'_> {
    /// A cell voltage in volts.
    pub fn cell_voltage_v(raw: u16) -> Reading<f64> {
        Width::Word.classify(u32::from(raw)).map(|v| f64::from(v) / 1000.0)
    }
}

impl<'a> Record<'a> for RessVoltage<'a> {
    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, head) = array(i)?;
        let (i, m) = be_u8(i)?;
        let (i, cells) = List::parse(usize::from(m), i)?;
        Ok((
            i,
            RessVoltage {
                head: RessVoltageHead(head),
                cells,
            },
        ))
    }
    fn wire_len(&self) -> usize {
        RessVoltageHead::LEN + 1 + self.cells.wire_len()
    }
    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        let m = u8::try_from(self.cells.len()).map_err(|_| Error::Unencodable {
            what: "more than 255 cells",
        })?;
        w.bytes(&self.head.0)?;
        w.u8(m)?;
        self.cells.emit(w)
    }
}

/// 0x08 RESS voltage block: subsystem records (count BYTE 1-250, or a sentinel).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RessVoltages<'a> {
    /// The records.
    pub subsystems: Reading<RecordList<'a, RessVoltage<'a>>>,
}

impl<'a> RessVoltages<'a> {
    pub(crate) fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, subsystems) = parse_counted(Width::Byte, i)?;
        Ok((i, RessVoltages { subsystems }))
    }
    pub(crate) fn wire_len(&self) -> usize {
        counted_len(Width::Byte, &self.subsystems)
    }
    pub(crate) fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        emit_counted(Width::Byte, &self.subsystems, w, "RESS subsystem count")
    }
}

/// One subsystem's record in the 0x09 block: number, probe count WORD, temperatures.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RessTemperature<'a> {
    /// Subsystem number.
    pub number: u8,
    /// Probe temperatures, raw (°C + 40; 0xFE/0xFF sentinels); a sentinel probe count means
    /// no list.
    pub temps: Reading<List<'a, u8>>,
}

impl RessTemperature<'_> {
    /// A probe temperature in °C.
    pub fn temp_c(raw: u8) -> Reading<i64> {
        Width::Byte.classify(u32::from(raw)).map(|v| i64::from(v) - 40)
    }
}

impl<'a> Record<'a> for RessTemperature<'a> {
    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, number) = be_u8(i)?;
        let (i, temps) = parse_counted(Width::Word, i)?;
        Ok((i, RessTemperature { number, temps }))
    }
    fn wire_len(&self) -> usize {
        1 + counted_len(Width::Word, &self.temps)
    }
    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(self.number)?;
        emit_counted(Width::Word, &self.temps, w, "probe count")
    }
}

/// 0x09 RESS temperature block.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RessTemperatures<'a> {
    /// The records (count BYTE 1-250, or a sentinel).
    pub subsystems: Reading<RecordList<'a, RessTemperature<'a>>>,
}

impl<'a> RessTemperatures<'a> {
    pub(crate) fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, subsystems) = parse_counted(Width::Byte, i)?;
        Ok((i, RessTemperatures { subsystems }))
    }
    pub(crate) fn wire_len(&self) -> usize {
        counted_len(Width::Byte, &self.subsystems)
    }
    pub(crate) fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        emit_counted(Width::Byte, &self.subsystems, w, "RESS subsystem count")
    }
}
