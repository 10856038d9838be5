//! 0x06 extreme values, 14 bytes (Table 16).

use crate::wire::{fixed_record, Field, Width};

/// Field table of [`Extremes`].
pub mod field {
    use super::*;
    /// Subsystem of the highest-voltage cell.
    pub const MAX_V_SUBSYSTEM: Field = Field::number("max_voltage_subsystem", 0, Width::Byte);
    /// Code of the highest-voltage cell.
    pub const MAX_V_CELL: Field = Field::number("max_voltage_cell", 1, Width::Byte);
    /// Highest cell voltage, mV.
    pub const MAX_V: Field = Field::scaled("max_cell_voltage_v", 2, Width::Word, 1000, 0);
    /// Subsystem of the lowest-voltage cell.
    pub const MIN_V_SUBSYSTEM: Field = Field::number("min_voltage_subsystem", 4, Width::Byte);
    /// Code of the lowest-voltage cell.
    pub const MIN_V_CELL: Field = Field::number("min_voltage_cell", 5, Width::Byte);
    /// Lowest cell voltage, mV.
    pub const MIN_V: Field = Field::scaled("min_cell_voltage_v", 6, Width::Word, 1000, 0);
    /// Subsystem of the highest temperature.
    pub const MAX_T_SUBSYSTEM: Field = Field::number("max_temp_subsystem", 8, Width::Byte);
    /// Probe of the highest temperature.
    pub const MAX_T_PROBE: Field = Field::number("max_temp_probe", 9, Width::Byte);
    /// Highest temperature, °C (offset 40).
    pub const MAX_T: Field = Field::celsius("max_temp_c", 10, Width::Byte);
    /// Subsystem of the lowest temperature.
    pub const MIN_T_SUBSYSTEM: Field = Field::number("min_temp_subsystem", 11, Width::Byte);
    /// Probe of the lowest temperature.
    pub const MIN_T_PROBE: Field = Field::number("min_temp_probe", 12, Width::Byte);
    /// Lowest temperature, °C (offset 40).
    pub const MIN_T: Field = Field::celsius("min_temp_c", 13, Width::Byte);
    /// All fields in wire order.
    pub const ALL: &[Field] = &[
        MAX_V_SUBSYSTEM,
        MAX_V_CELL,
        MAX_V,
        MIN_V_SUBSYSTEM,
        MIN_V_CELL,
        MIN_V,
        MAX_T_SUBSYSTEM,
        MAX_T_PROBE,
        MAX_T,
        MIN_T_SUBSYSTEM,
        MIN_T_PROBE,
        MIN_T,
    ];
}

fixed_record!(
    /// 0x06 extreme values (14 bytes).
    Extremes,
    14,
    field::ALL
);
