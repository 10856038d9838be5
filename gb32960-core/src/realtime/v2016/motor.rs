//! 0x02 drive motors (Tables 10/11): a count and 12-byte records.

use crate::wire::{fixed_record, Field, Reading, Width};

/// Field table of [`Motor`].
pub mod field {
    use super::*;
    /// Motor sequence number (1-253).
    pub const NUMBER: Field = Field::plain("number", 0, Width::Byte);
    /// Motor state.
    pub const STATE: Field = Field::code(
        "state",
        1,
        &[(1, "consuming"), (2, "generating"), (3, "off"), (4, "ready")],
    );
    /// Controller temperature, °C (offset 40).
    pub const CONTROLLER_TEMP: Field = Field::celsius("controller_temp_c", 2, Width::Byte);
    /// Speed, rpm (offset 20000).
    pub const SPEED: Field = Field::scaled("speed_rpm", 3, Width::Word, 1, 20_000);
    /// Torque, 0.1 N·m (offset 2000 N·m).
    pub const TORQUE: Field = Field::scaled("torque_nm", 5, Width::Word, 10, 20_000);
    /// Motor temperature, °C (offset 40).
    pub const TEMP: Field = Field::celsius("temp_c", 7, Width::Byte);
    /// Controller input voltage, 0.1 V.
    pub const CONTROLLER_VOLTAGE: Field = Field::scaled("controller_voltage_v", 8, Width::Word, 10, 0);
    /// Controller DC bus current, 0.1 A (offset 1000 A).
    pub const CONTROLLER_CURRENT: Field = Field::scaled("controller_current_a", 10, Width::Word, 10, 10_000);

    /// All fields in wire order.
    pub const ALL: &[Field] = &[
        NUMBER,
        STATE,
        CONTROLLER_TEMP,
        SPEED,
        TORQUE,
        TEMP,
        CONTROLLER_VOLTAGE,
        CONTROLLER_CURRENT,
    ];
}

fixed_record!(
    /// One drive motor (12 bytes).
    Motor,
    12,
    field::ALL
);

impl Motor {
    /// Motor sequence number.
    pub fn number(&self) -> u8 {
        self.0[0]
    }
    /// Speed in rpm.
    pub fn speed_rpm(&self) -> Reading<f64> {
        field::SPEED.value(&self.0)
    }
    /// Torque in N·m.
    pub fn torque_nm(&self) -> Reading<f64> {
        field::TORQUE.value(&self.0)
    }
    /// Motor temperature in °C.
    pub fn temp_c(&self) -> Reading<i64> {
        field::TEMP.integer(&self.0)
    }
}

/// 0x02 drive-motor block: the motors, or a sentinel count with none.
pub type Motors<'a> = crate::realtime::MotorBlock<'a, Motor>;
