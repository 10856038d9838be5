//! The fixed-size 2025 blocks: 0x03 fuel-cell engine and hydrogen system, 0x04 engine,
//! 0x05 position, 0x32 super-capacitor extremes.

use crate::realtime::v2016::FixStatus;
use crate::wire::{fixed_record, Field, Width};

/// Field table of [`FuelCellHydrogen`] (T17).
pub mod fuel_cell_field {
    use super::*;
    /// Highest temperature in the hydrogen system, 1 °C, offset 40 (a WORD).
    pub const H2_MAX_TEMP: Field = Field::celsius("h2_max_temp_c", 0, Width::Word);
    /// Probe code of that temperature.
    pub const H2_MAX_TEMP_PROBE: Field = Field::number("h2_max_temp_probe", 2, Width::Byte);
    /// Highest hydrogen concentration, 0.0001 % by volume.
    pub const H2_MAX_CONCENTRATION: Field = Field::scaled("h2_max_concentration_pct", 3, Width::Word, 10_000, 0);
    /// Concentration sensor code.
    pub const H2_CONCENTRATION_SENSOR: Field = Field::number("h2_max_concentration_sensor", 5, Width::Byte);
    /// Highest hydrogen pressure, 0.1 MPa.
    pub const H2_MAX_PRESSURE: Field = Field::scaled("h2_max_pressure_mpa", 6, Width::Word, 10, 0);
    /// Pressure sensor code.
    pub const H2_PRESSURE_SENSOR: Field = Field::number("h2_max_pressure_sensor", 8, Width::Byte);
    /// High-voltage DC/DC state.
    pub const DCDC_STATE: Field = Field::code("hv_dcdc_state", 9, &[(1, "working"), (2, "disconnected")]);
    /// Remaining hydrogen, %.
    pub const H2_REMAINING: Field = Field::number("h2_remaining_pct", 10, Width::Byte);
    /// DC/DC controller temperature, °C (offset 40).
    pub const DCDC_TEMP: Field = Field::celsius("hv_dcdc_controller_temp_c", 11, Width::Byte);
    /// All fields in wire order.
    pub const ALL: &[Field] = &[
        H2_MAX_TEMP,
        H2_MAX_TEMP_PROBE,
        H2_MAX_CONCENTRATION,
        H2_CONCENTRATION_SENSOR,
        H2_MAX_PRESSURE,
        H2_PRESSURE_SENSOR,
        DCDC_STATE,
        H2_REMAINING,
        DCDC_TEMP,
    ];
}

fixed_record!(
    /// 0x03 fuel-cell engine and on-board hydrogen system, 2025 (12 bytes).
    FuelCellHydrogen,
    12,
    fuel_cell_field::ALL
);

/// Field table of [`Engine`] (T20).
pub mod engine_field {
    use super::*;
    /// Crankshaft speed, r/min.
    pub const CRANK_SPEED: Field = Field::number("crankshaft_speed_rpm", 0, Width::Word);
    /// All fields.
    pub const ALL: &[Field] = &[CRANK_SPEED];
}

fixed_record!(
    /// 0x04 engine, 2025 (2 bytes: crankshaft speed only).
    Engine,
    2,
    engine_field::ALL
);

/// Field table of [`Position`] (T21, T22).
pub mod position_field {
    use super::*;
    /// Status bits: bit 0 invalid fix, bit 1 south, bit 2 west.
    pub const STATUS: Field = Field::bits("status", 0, Width::Byte);
    /// Coordinate system (new in 2025).
    pub const COORDINATE_SYSTEM: Field =
        Field::code("coordinate_system", 1, &[(1, "wgs84"), (2, "gcj02"), (3, "other")]);
    /// Longitude magnitude, 10⁻⁶ degree.
    pub const LONGITUDE: Field = Field::scaled_plain("longitude_abs_deg", 2, Width::Dword, 1_000_000, 0);
    /// Latitude magnitude, 10⁻⁶ degree.
    pub const LATITUDE: Field = Field::scaled_plain("latitude_abs_deg", 6, Width::Dword, 1_000_000, 0);
    /// All fields in wire order.
    pub const ALL: &[Field] = &[STATUS, COORDINATE_SYSTEM, LONGITUDE, LATITUDE];
}

fixed_record!(
    /// 0x05 vehicle position, 2025 (10 bytes).
    Position,
    10,
    position_field::ALL
);

impl Position {
    /// The status byte (same bits as 2016).
    pub fn status(&self) -> FixStatus {
        FixStatus(self.0[0])
    }
    /// Whether the fix is valid (status bit 0 clear).
    pub fn fix_valid(&self) -> bool {
        self.status().fix_valid()
    }
    /// Southern latitude.
    pub fn south(&self) -> bool {
        self.status().south()
    }
    /// Western longitude.
    pub fn west(&self) -> bool {
        self.status().west()
    }
    /// Signed longitude in degrees.
    pub fn longitude_deg(&self) -> f64 {
        let f = position_field::LONGITUDE;
        self.status().longitude(f.physical_of(f.raw(&self.0)))
    }
    /// Signed latitude in degrees.
    pub fn latitude_deg(&self) -> f64 {
        let f = position_field::LATITUDE;
        self.status().latitude(f.physical_of(f.raw(&self.0)))
    }
}

/// Field table of [`SupercapExtremes`] (T26). Codes are WORDs; their top two codes are read as
/// sentinels like every other WORD (notes 2025 §13 A17).
pub mod supercap_extremes_field {
    use super::*;
    /// System of the highest cell voltage.
    pub const MAX_V_SYSTEM: Field = Field::number("max_voltage_system", 0, Width::Byte);
    /// Cell code of the highest voltage.
    pub const MAX_V_CELL: Field = Field::number("max_voltage_cell", 1, Width::Word);
    /// Highest cell voltage, mV.
    pub const MAX_V: Field = Field::scaled("max_cell_voltage_v", 3, Width::Word, 1000, 0);
    /// System of the lowest cell voltage.
    pub const MIN_V_SYSTEM: Field = Field::number("min_voltage_system", 5, Width::Byte);
    /// Cell code of the lowest voltage.
    pub const MIN_V_CELL: Field = Field::number("min_voltage_cell", 6, Width::Word);
    /// Lowest cell voltage, mV.
    pub const MIN_V: Field = Field::scaled("min_cell_voltage_v", 8, Width::Word, 1000, 0);
    /// System of the highest temperature.
    pub const MAX_T_SYSTEM: Field = Field::number("max_temp_system", 10, Width::Byte);
    /// Probe code of the highest temperature.
    pub const MAX_T_PROBE: Field = Field::number("max_temp_probe", 11, Width::Word);
    /// Highest temperature, °C.
    pub const MAX_T: Field = Field::celsius("max_temp_c", 13, Width::Byte);
    /// System of the lowest temperature.
    pub const MIN_T_SYSTEM: Field = Field::number("min_temp_system", 14, Width::Byte);
    /// Probe code of the lowest temperature.
    pub const MIN_T_PROBE: Field = Field::number("min_temp_probe", 15, Width::Word);
    /// Lowest temperature, °C.
    pub const MIN_T: Field = Field::celsius("min_temp_c", 17, Width::Byte);
    /// All fields in wire order.
    pub const ALL: &[Field] = &[
        MAX_V_SYSTEM,
        MAX_V_CELL,
        MAX_V,
        MIN_V_SYSTEM,
        MIN_V_CELL,
        MIN_V,
        MAX_T_SYSTEM,
        MAX_T_PROBE,
        MAX_T,
        MIN_T_SYSTEM,
        MIN_T_PROBE,
        MIN_T,
    ];
}

fixed_record!(
    /// 0x32 super-capacitor extreme values (18 bytes).
    SupercapExtremes,
    18,
    supercap_extremes_field::ALL
);
