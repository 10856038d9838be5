//! 0x07 alarm data (Tables 17/18): level, general flags, four fault-code lists.

use crate::error::Result;
use crate::wire::{
    array, counted_len, emit_counted, fixed_record, parse_counted, Field, List, PResult, Reading, Width, Writer,
};

/// Field table of [`AlarmHead`].
pub mod field {
    use super::*;
    /// Highest alarm level (0 none, 1-3).
    pub const LEVEL: Field = Field::number("max_level", 0, Width::Byte);
    /// General alarm flags (bit 0 = LSB of the big-endian DWORD).
    pub const FLAGS: Field = Field::bits("general_flags", 1, Width::Dword);
    /// All fields in wire order.
    pub const ALL: &[Field] = &[LEVEL, FLAGS];
}

fixed_record!(
    /// The alarm block's first five bytes: level and general flags.
    AlarmHead,
    5,
    field::ALL
);

/// General alarm flag bits of 2016 (Table 18), LSB first (notes §5.7.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AlarmFlag;

impl AlarmFlag {
    /// Names of bits 0-18; bits 19-31 are reserved in 2016.
    pub const NAMES: [&'static str; 19] = [
        "temperature_difference",
        "battery_high_temperature",
        "ress_over_voltage",
        "ress_under_voltage",
        "soc_low",
        "cell_over_voltage",
        "cell_under_voltage",
        "soc_too_high",
        "soc_jump",
        "ress_mismatch",
        "cell_consistency_poor",
        "insulation",
        "dcdc_temperature",
        "brake_system",
        "dcdc_state",
        "motor_controller_temperature",
        "high_voltage_interlock",
        "motor_temperature",
        "ress_over_charge",
    ];

    /// The name of a bit, or `None` for a reserved bit.
    pub fn name(bit: u32) -> Option<&'static str> {
        Self::NAMES.get(bit as usize).copied()
    }
}

/// 0x07 alarm block. Length 9 + 4·(N1+N2+N3+N4); a sentinel count means no list.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Alarm<'a> {
    /// Level and general flags.
    pub head: AlarmHead,
    /// RESS fault codes (N1).
    pub ress_faults: Reading<List<'a, u32>>,
    /// Drive-motor fault codes (N2).
    pub motor_faults: Reading<List<'a, u32>>,
    /// Engine fault codes (N3).
    pub engine_faults: Reading<List<'a, u32>>,
    /// Other fault codes (N4).
    pub other_faults: Reading<List<'a, u32>>,
}

impl<'a> Alarm<'a> {
    /// Highest alarm level.
    pub fn max_level(&self) -> Reading<u32> {
        field::LEVEL.reading_raw(&self.head.0)
    }
    /// General alarm flags.
    pub fn flags(&self) -> u32 {
        field::FLAGS.raw(&self.head.0)
    }
    /// The four fault lists in wire order.
    pub fn fault_lists(&self) -> [&Reading<List<'a, u32>>; 4] {
        [
            &self.ress_faults,
            &self.motor_faults,
            &self.engine_faults,
            &self.other_faults,
        ]
    }

    pub(crate) fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, (head, [ress_faults, motor_faults, engine_faults, other_faults])) = parse_faults(i)?;
        Ok((
            i,
            Alarm {
                head,
                ress_faults,
                motor_faults,
                engine_faults,
                other_faults,
            },
        ))
    }
    pub(crate) fn wire_len(&self) -> usize {
        faults_len(self.fault_lists())
    }
    pub(crate) fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        emit_faults(&self.head, self.fault_lists(), w)
    }
}

/// The part of the alarm block both editions share: level and flags, then the four BYTE-counted
/// lists of DWORD fault codes (RESS, drive motor, engine, other). 2025 appends its
/// general-alarm list (`v2025::Alarm`).
pub(crate) fn parse_faults<'a>(i: &'a [u8]) -> PResult<'a, (AlarmHead, [Reading<List<'a, u32>>; 4])> {
    let (i, head) = array(i)?;
    let (i, ress) = parse_counted(Width::Byte, i)?;
    let (i, motor) = parse_counted(Width::Byte, i)?;
    let (i, engine) = parse_counted(Width::Byte, i)?;
    let (i, other) = parse_counted(Width::Byte, i)?;
    Ok((i, (AlarmHead(head), [ress, motor, engine, other])))
}

/// Bytes of the shared part on the wire.
pub(crate) fn faults_len(lists: [&Reading<List<'_, u32>>; 4]) -> usize {
    AlarmHead::LEN + lists.iter().map(|l| counted_len(Width::Byte, *l)).sum::<usize>()
}

/// Appends the shared part.
pub(crate) fn emit_faults(head: &AlarmHead, lists: [&Reading<List<'_, u32>>; 4], w: &mut Writer<'_>) -> Result<()> {
    w.bytes(&head.0)?;
    for l in lists {
        emit_counted(Width::Byte, l, w, "fault count")?;
    }
    Ok(())
}
