//! 0x02 drive motors, 2025 (T15, T16): 10-byte records, speed offset 32000, torque DWORD.

use crate::wire::{fixed_record, Field, Reading, Width};

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
pub type Motors<'a> = crate::realtime::MotorBlock<'a, Motor>;
