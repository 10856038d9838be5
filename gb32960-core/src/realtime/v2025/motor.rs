//! 0x02 drive motors, 2025 (T15, T16): 10-byte records, speed offset 32000, torque DWORD.

use crate::error::Result;
use crate::wire::{
    counted_len, emit_counted, fixed_record, parse_counted, Field, List, PResult, Reading, Width, Writer,
};

/// Field table of [`Motor`].
pub mod field {
    use super::*;
    use crate::realtime::v2016::motor::field as v16;
    /// Motor number (1-253).
    pub const NUMBER: Field = Field::number("number", 0, Width::Byte);
    /// State (codes as 2016).
    pub const STATE: Field = v16::STATE;
    /// Controller temperature, °C (offset 40).
    pub const CONTROLLER_TEMP: Field = v16::CONTROLLER_TEMP;
    /// Speed, r/min, offset 32000.
    pub const SPEED: Field = Field::scaled("speed_rpm", 3, Width::Word, 1, 32_000);
    /// Torque, 0.1 N·m DWORD, offset 20000 N·m.
    pub const TORQUE: Field = Field::scaled("torque_nm", 5, Width::Dword, 10, 200_000);
    /// Motor temperature, °C (offset 40).
    pub const TEMP: Field = Field::celsius("temp_c", 9, Width::Byte);
    /// All fields in wire order.
    pub const ALL: &[Field] = &[NUMBER, STATE, CONTROLLER_TEMP, SPEED, TORQUE, TEMP];
}

fixed_record!(
    /// One drive motor, 2025 (10 bytes).
    Motor,
    10,
    field::ALL
);

impl Motor {
    /// Speed in r/min.
    pub fn speed_rpm(&self) -> Reading<f64> {
        field::SPEED.value(&self.0)
    }
    /// Torque in N·m.
    pub fn torque_nm(&self) -> Reading<f64> {
        field::TORQUE.value(&self.0)
    }
}

/// 0x02 drive-motor block, 2025.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Motors<'a> {
    /// The motors (count BYTE 1-253, or a sentinel).
    pub motors: Reading<List<'a, Motor>>,
}

impl<'a> Motors<'a> {
    pub(crate) fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, motors) = parse_counted(Width::Byte, i)?;
        Ok((i, Motors { motors }))
    }
    pub(crate) fn wire_len(&self) -> usize {
        counted_len(Width::Byte, &self.motors)
    }
    pub(crate) fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        emit_counted(Width::Byte, &self.motors, w, "motor count")
    }
}
