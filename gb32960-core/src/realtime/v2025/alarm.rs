//! 0x06 alarm, 2025 (T23, T24): level 0-4, flags, four fault lists and the general-alarm list.

use crate::error::Result;
use crate::realtime::v2016::alarm::{emit_faults, faults_len, parse_faults};
use crate::realtime::v2016::AlarmHead;
use crate::wire::{
    counted_len, emit_counted, fixed_record, parse_counted, Field, List, PResult, Reading, Width, Writer,
};

/// Field table of [`GeneralAlarm`].
pub mod field {
    use super::*;
    /// The general-alarm flag bit this entry is about (0-31, meaning from T24).
    pub const BIT: Field = Field::plain("bit", 0, Width::Byte);
    /// Its alarm level.
    pub const LEVEL: Field = Field::number("level", 1, Width::Byte);
    /// All fields in wire order.
    pub const ALL: &[Field] = &[BIT, LEVEL];
}

fixed_record!(
    /// One entry of the general-alarm level list: flag bit and level.
    GeneralAlarm,
    2,
    field::ALL
);

/// General alarm flag bits of 2025 (T24), LSB first.
pub const FLAG_NAMES: [&str; 28] = [
    "temperature_difference",
    "battery_high_temperature",
    "ress_over_voltage",
    "ress_under_voltage",
    "soc_low",
    "unit_over_voltage",
    "unit_under_voltage",
    "soc_too_high",
    "soc_jump",
    "ress_mismatch",
    "unit_consistency_poor",
    "insulation_failure",
    "dcdc_temperature",
    "brake_system",
    "dcdc_state",
    "motor_controller_temperature",
    "high_voltage_interlock",
    "motor_temperature",
    "ress_over_charge",
    "motor_over_speed",
    "motor_over_current",
    "supercap_over_temperature",
    "supercap_over_voltage",
    "thermal_event",
    "hydrogen_leak",
    "hydrogen_pressure_abnormal",
    "hydrogen_temperature_abnormal",
    "stack_over_temperature",
];

/// 0x06 alarm block, 2025. Length 10 + 4·(N1+N2+N3+N4) + 2·N5.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Alarm<'a> {
    /// Highest level (0-4; 4 = thermal event) and general flags.
    pub head: AlarmHead,
    /// RESS fault codes (N1).
    pub ress_faults: Reading<List<'a, u32>>,
    /// Drive-motor fault codes (N2).
    pub motor_faults: Reading<List<'a, u32>>,
    /// Engine fault codes (N3).
    pub engine_faults: Reading<List<'a, u32>>,
    /// Other fault codes (N4).
    pub other_faults: Reading<List<'a, u32>>,
    /// The general-alarm level list (N5). Not checked against the flags when decoding (A11).
    pub general_alarms: Reading<List<'a, GeneralAlarm>>,
}

impl<'a> Alarm<'a> {
    /// Highest alarm level.
    pub fn max_level(&self) -> Reading<u32> {
        crate::realtime::v2016::alarm::field::LEVEL.reading_raw(&self.head.0)
    }
    /// General alarm flags.
    pub fn flags(&self) -> u32 {
        crate::realtime::v2016::alarm::field::FLAGS.raw(&self.head.0)
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
        let (i, general_alarms) = parse_counted(Width::Byte, i)?;
        Ok((
            i,
            Alarm {
                head,
                ress_faults,
                motor_faults,
                engine_faults,
                other_faults,
                general_alarms,
            },
        ))
    }
    pub(crate) fn wire_len(&self) -> usize {
        faults_len(self.fault_lists()) + counted_len(Width::Byte, &self.general_alarms)
    }
    pub(crate) fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        emit_faults(&self.head, self.fault_lists(), w)?;
        emit_counted(Width::Byte, &self.general_alarms, w, "general-alarm count")
    }
}
