//! 0x07 minimum-parallel-unit voltages (T11, T12), 0x30 fuel-cell stacks (T18, T19) and 0x31
//! super-capacitor (T25): blocks made of a fixed head and WORD-counted lists.

use crate::error::Result;
use crate::wire::{
    array, counted_len, emit_counted, fixed_record, parse_counted, Field, List, PResult, Reading, Record, RecordList,
    Width, Writer,
};

/// Field table of [`PackVoltageHead`].
pub mod pack_field {
    use super::*;
    /// Pack number (1-50).
    pub const NUMBER: Field = Field::number("number", 0, Width::Byte);
    /// Pack voltage, 0.1 V.
    pub const VOLTAGE: Field = Field::scaled("voltage_v", 1, Width::Word, 10, 0);
    /// Pack current, 0.1 A, offset 3000 A.
    pub const CURRENT: Field = Field::scaled("current_a", 3, Width::Word, 10, 30_000);
    /// All fields in wire order.
    pub const ALL: &[Field] = &[NUMBER, VOLTAGE, CURRENT];
}

fixed_record!(
    /// The fixed part of a pack record in 0x07 (5 bytes).
    PackVoltageHead,
    5,
    pack_field::ALL
);

/// One pack of the 0x07 block: number, voltage, current and its unit voltages (raw mV).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PackVoltage<'a> {
    /// Number, voltage, current.
    pub head: PackVoltageHead,
    /// Unit voltages, 0.001 V raw (count WORD; a sentinel count means no list).
    pub units: Reading<List<'a, u16>>,
}

impl<'a> Record<'a> for PackVoltage<'a> {
    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, head) = array(i)?;
        let (i, units) = parse_counted(Width::Word, i)?;
        Ok((
            i,
            PackVoltage {
                head: PackVoltageHead(head),
                units,
            },
        ))
    }
    fn wire_len(&self) -> usize {
        PackVoltageHead::LEN + counted_len(Width::Word, &self.units)
    }
    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.head.0)?;
        emit_counted(Width::Word, &self.units, w, "unit count")
    }
}

/// 0x07 minimum-parallel-unit voltage block.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PackVoltages<'a> {
    /// The packs (count BYTE 0-50, or a sentinel).
    pub packs: Reading<RecordList<'a, PackVoltage<'a>>>,
}

impl<'a> PackVoltages<'a> {
    pub(crate) fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, packs) = parse_counted(Width::Byte, i)?;
        Ok((i, PackVoltages { packs }))
    }
    pub(crate) fn wire_len(&self) -> usize {
        counted_len(Width::Byte, &self.packs)
    }
    pub(crate) fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        emit_counted(Width::Byte, &self.packs, w, "pack count")
    }
}

/// Field table of [`StackHead`].
pub mod stack_field {
    use super::*;
    /// Stack number (1-253).
    pub const NUMBER: Field = Field::number("number", 0, Width::Byte);
    /// Stack voltage, 0.1 V.
    pub const VOLTAGE: Field = Field::scaled("voltage_v", 1, Width::Word, 10, 0);
    /// Stack current, 0.1 A, no offset.
    pub const CURRENT: Field = Field::scaled("current_a", 3, Width::Word, 10, 0);
    /// Hydrogen inlet pressure, 0.1 kPa, offset 100 kPa.
    pub const H2_INLET_PRESSURE: Field = Field::scaled("h2_inlet_pressure_kpa", 5, Width::Word, 10, 1000);
    /// Air inlet pressure, 0.1 kPa, offset 100 kPa.
    pub const AIR_INLET_PRESSURE: Field = Field::scaled("air_inlet_pressure_kpa", 7, Width::Word, 10, 1000);
    /// Air inlet temperature, °C (offset 40).
    pub const AIR_INLET_TEMP: Field = Field::celsius("air_inlet_temp_c", 9, Width::Byte);
    /// All fields in wire order.
    pub const ALL: &[Field] = &[
        NUMBER,
        VOLTAGE,
        CURRENT,
        H2_INLET_PRESSURE,
        AIR_INLET_PRESSURE,
        AIR_INLET_TEMP,
    ];
}

fixed_record!(
    /// The fixed part of a fuel-cell stack record (10 bytes).
    StackHead,
    10,
    stack_field::ALL
);

/// One fuel-cell stack: the fixed part and its coolant-outlet temperatures.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stack<'a> {
    /// Number, voltage, current, pressures, air temperature.
    pub head: StackHead,
    /// Coolant-outlet temperatures, raw (°C + 40); count WORD (may be 0).
    pub coolant_temps: Reading<List<'a, u8>>,
}

impl<'a> Record<'a> for Stack<'a> {
    fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, head) = array(i)?;
        let (i, coolant_temps) = parse_counted(Width::Word, i)?;
        Ok((
            i,
            Stack {
                head: StackHead(head),
                coolant_temps,
            },
        ))
    }
    fn wire_len(&self) -> usize {
        StackHead::LEN + counted_len(Width::Word, &self.coolant_temps)
    }
    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.head.0)?;
        emit_counted(Width::Word, &self.coolant_temps, w, "coolant probe count")
    }
}

/// 0x30 fuel-cell stack block.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stacks<'a> {
    /// The stacks (count BYTE 1-253, or a sentinel).
    pub stacks: Reading<RecordList<'a, Stack<'a>>>,
}

impl<'a> Stacks<'a> {
    pub(crate) fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, stacks) = parse_counted(Width::Byte, i)?;
        Ok((i, Stacks { stacks }))
    }
    pub(crate) fn wire_len(&self) -> usize {
        counted_len(Width::Byte, &self.stacks)
    }
    pub(crate) fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        emit_counted(Width::Byte, &self.stacks, w, "stack count")
    }
}

/// Field table of [`SupercapHead`].
pub mod supercap_field {
    use super::*;
    /// Super-capacitor management system number.
    pub const NUMBER: Field = Field::number("system_number", 0, Width::Byte);
    /// Total voltage, 0.1 V.
    pub const VOLTAGE: Field = Field::scaled("total_voltage_v", 1, Width::Word, 10, 0);
    /// Total current, 0.1 A, offset 3000 A.
    pub const CURRENT: Field = Field::scaled("total_current_a", 3, Width::Word, 10, 30_000);
    /// All fields in wire order.
    pub const ALL: &[Field] = &[NUMBER, VOLTAGE, CURRENT];
}

fixed_record!(
    /// The fixed part of the super-capacitor block (5 bytes).
    SupercapHead,
    5,
    supercap_field::ALL
);

/// 0x31 super-capacitor block: one system, its cell voltages and probe temperatures.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Supercap<'a> {
    /// System number, voltage, current.
    pub head: SupercapHead,
    /// Cell voltages, 0.001 V raw (count WORD).
    pub cells: Reading<List<'a, u16>>,
    /// Probe temperatures, raw (°C + 40; count WORD).
    pub probe_temps: Reading<List<'a, u8>>,
}

impl<'a> Supercap<'a> {
    pub(crate) fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, head) = array(i)?;
        let (i, cells) = parse_counted(Width::Word, i)?;
        let (i, probe_temps) = parse_counted(Width::Word, i)?;
        Ok((
            i,
            Supercap {
                head: SupercapHead(head),
                cells,
                probe_temps,
            },
        ))
    }
    pub(crate) fn wire_len(&self) -> usize {
        SupercapHead::LEN + counted_len(Width::Word, &self.cells) + counted_len(Width::Word, &self.probe_temps)
    }
    pub(crate) fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.head.0)?;
        emit_counted(Width::Word, &self.cells, w, "cell count")?;
        emit_counted(Width::Word, &self.probe_temps, w, "probe count")
    }
}
