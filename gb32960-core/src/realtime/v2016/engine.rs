//! 0x04 engine data, 5 bytes (Table 13).

use crate::wire::{fixed_record, Field, Reading, Width};

/// Field table of [`Engine`].
pub mod field {
    use super::*;
    /// Engine state.
    pub const STATE: Field = Field::code("state", 0, &[(1, "running"), (2, "stopped")]);
    /// Crankshaft speed, rpm.
    pub const CRANK_SPEED: Field = Field::number("crankshaft_speed_rpm", 1, Width::Word);
    /// Fuel consumption rate, 0.01 L/100 km.
    pub const FUEL_RATE: Field = Field::scaled("fuel_consumption_l_per_100km", 3, Width::Word, 100, 0);
    /// All fields in wire order.
    pub const ALL: &[Field] = &[STATE, CRANK_SPEED, FUEL_RATE];
}

fixed_record!(
    /// 0x04 engine data (5 bytes).
    Engine,
    5,
    field::ALL
);

impl Engine {
    /// Crankshaft speed in rpm.
    pub fn crankshaft_speed_rpm(&self) -> Reading<f64> {
        field::CRANK_SPEED.value(&self.0)
    }
    /// Fuel consumption in L/100 km.
    pub fn fuel_consumption(&self) -> Reading<f64> {
        field::FUEL_RATE.value(&self.0)
    }
}
