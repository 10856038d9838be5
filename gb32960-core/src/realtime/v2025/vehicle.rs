//! 0x01 whole-vehicle data, 2025 (T10, T A.1): 18 bytes, no pedal bytes, current offset 3000 A.

use crate::wire::{fixed_record, Field, Reading, Width};

/// Field table of [`Vehicle`].
pub mod field {
    use super::*;
    use crate::realtime::v2016::vehicle::field as v16;
    /// Vehicle state (codes as 2016).
    pub const VEHICLE_STATE: Field = v16::VEHICLE_STATE;
    /// Charging state (codes as 2016).
    pub const CHARGING_STATE: Field = v16::CHARGING_STATE;
    /// Operating mode (codes as 2016).
    pub const OPERATING_MODE: Field = v16::OPERATING_MODE;
    /// Speed, 0.1 km/h (0-500 km/h).
    pub const SPEED: Field = v16::SPEED;
    /// Odometer, 0.1 km.
    pub const ODOMETER: Field = v16::ODOMETER;
    /// Total voltage, 0.1 V (0-6000 V).
    pub const TOTAL_VOLTAGE: Field = v16::TOTAL_VOLTAGE;
    /// Total current, 0.1 A, offset 3000 A.
    pub const TOTAL_CURRENT: Field = Field::scaled("total_current_a", 11, Width::Word, 10, 30_000);
    /// SOC, %.
    pub const SOC: Field = v16::SOC;
    /// DC-DC state.
    pub const DCDC_STATE: Field = v16::DCDC_STATE;
    /// Gear byte (bit 7: gear invalid).
    pub const GEAR: Field = v16::GEAR;
    /// Insulation resistance, kΩ: the lower of positive- and negative-to-ground; sentinels.
    pub const INSULATION: Field = v16::INSULATION;
    /// All fields in wire order.
    pub const ALL: &[Field] = &[
        VEHICLE_STATE,
        CHARGING_STATE,
        OPERATING_MODE,
        SPEED,
        ODOMETER,
        TOTAL_VOLTAGE,
        TOTAL_CURRENT,
        SOC,
        DCDC_STATE,
        GEAR,
        INSULATION,
    ];
}

fixed_record!(
    /// 0x01 whole-vehicle data, 2025 (18 bytes).
    Vehicle,
    18,
    field::ALL
);

impl Vehicle {
    /// Speed in km/h.
    pub fn speed_kmh(&self) -> Reading<f64> {
        field::SPEED.value(&self.0)
    }
    /// Total voltage in V.
    pub fn total_voltage_v(&self) -> Reading<f64> {
        field::TOTAL_VOLTAGE.value(&self.0)
    }
    /// Total current in A.
    pub fn total_current_a(&self) -> Reading<f64> {
        field::TOTAL_CURRENT.value(&self.0)
    }
    /// SOC in %.
    pub fn soc_pct(&self) -> Reading<f64> {
        field::SOC.value(&self.0)
    }
    /// The gear byte.
    pub fn gear(&self) -> crate::realtime::v2016::Gear {
        crate::realtime::v2016::Gear(self.0[15])
    }
}
