//! 0x01 whole-vehicle data, 20 bytes (Table 9 / Table B.4).

use crate::wire::{fixed_record, Field, Reading, Width};

/// Field table of [`Vehicle`]. Bytes 18-19 follow Annex B (two pedal bytes; Table 9 of the main
/// text calls them a reserved WORD, notes §9 #3): every decoder of note reads pedals.
pub mod field {
    use super::*;
    /// Vehicle state.
    pub const VEHICLE_STATE: Field = Field::code("vehicle_state", 0, &[(1, "started"), (2, "stalled"), (3, "other")]);
    /// Charging state.
    pub const CHARGING_STATE: Field = Field::code(
        "charging_state",
        1,
        &[
            (1, "parked_charging"),
            (2, "driving_charging"),
            (3, "not_charging"),
            (4, "charging_complete"),
        ],
    );
    /// Running mode.
    pub const OPERATING_MODE: Field = Field::code("operating_mode", 2, &[(1, "electric"), (2, "hybrid"), (3, "fuel")]);
    /// Speed, 0.1 km/h.
    pub const SPEED: Field = Field::scaled("speed_kmh", 3, Width::Word, 10, 0);
    /// Accumulated mileage, 0.1 km.
    pub const ODOMETER: Field = Field::scaled("odometer_km", 5, Width::Dword, 10, 0);
    /// Total voltage, 0.1 V.
    pub const TOTAL_VOLTAGE: Field = Field::scaled("total_voltage_v", 9, Width::Word, 10, 0);
    /// Total current, 0.1 A, offset 1000 A.
    pub const TOTAL_CURRENT: Field = Field::scaled("total_current_a", 11, Width::Word, 10, 10_000);
    /// State of charge, %.
    pub const SOC: Field = Field::number("soc_pct", 13, Width::Byte);
    /// DC-DC state.
    pub const DCDC_STATE: Field = Field::code("dcdc_state", 14, &[(1, "working"), (2, "disconnected")]);
    /// Gear byte (Annex A.1), see [`super::Gear`].
    pub const GEAR: Field = Field::bits("gear", 15, Width::Byte);
    /// Insulation resistance, kΩ. The 2016 text states no sentinel, but the valid range ends at
    /// 60000, so 0xFFFE/0xFFFF can only be sentinels (2025 makes them so; the shared vectors
    /// count rtm_con's plain 65535 as a fault).
    pub const INSULATION: Field = Field::number("insulation_resistance_kohm", 16, Width::Word);
    /// Accelerator pedal travel, %.
    pub const ACCELERATOR_PEDAL: Field = Field::number("accelerator_pedal_pct", 18, Width::Byte);
    /// Brake pedal state, % (0 off; 101 = applied, travel unknown).
    pub const BRAKE_PEDAL: Field = Field::number("brake_pedal_pct", 19, Width::Byte);

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
        ACCELERATOR_PEDAL,
        BRAKE_PEDAL,
    ];
}

fixed_record!(
    /// 0x01 whole-vehicle data (20 bytes).
    Vehicle,
    20,
    field::ALL
);

impl Vehicle {
    /// Vehicle state code (1 started, 2 stalled, 3 other).
    pub fn vehicle_state(&self) -> Reading<u32> {
        field::VEHICLE_STATE.reading_raw(&self.0)
    }
    /// Charging state code.
    pub fn charging_state(&self) -> Reading<u32> {
        field::CHARGING_STATE.reading_raw(&self.0)
    }
    /// Running mode code.
    pub fn operating_mode(&self) -> Reading<u32> {
        field::OPERATING_MODE.reading_raw(&self.0)
    }
    /// Speed in km/h.
    pub fn speed_kmh(&self) -> Reading<f64> {
        field::SPEED.value(&self.0)
    }
    /// Accumulated mileage in km.
    pub fn odometer_km(&self) -> Reading<f64> {
        field::ODOMETER.value(&self.0)
    }
    /// Total voltage in V.
    pub fn total_voltage_v(&self) -> Reading<f64> {
        field::TOTAL_VOLTAGE.value(&self.0)
    }
    /// Total current in A (negative while charging).
    pub fn total_current_a(&self) -> Reading<f64> {
        field::TOTAL_CURRENT.value(&self.0)
    }
    /// State of charge in %.
    pub fn soc_pct(&self) -> Reading<f64> {
        field::SOC.value(&self.0)
    }
    /// The gear byte, decoded.
    pub fn gear(&self) -> Gear {
        Gear(self.0[15])
    }
    /// Insulation resistance in kΩ.
    pub fn insulation_kohm(&self) -> Reading<f64> {
        field::INSULATION.value(&self.0)
    }
}

/// The gear byte (Annex A, Table A.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Gear(pub u8);

impl Gear {
    /// Bit 5: driving force present.
    pub const fn driving_force(self) -> bool {
        self.0 & 0x20 != 0
    }
    /// Bit 4: braking force present.
    pub const fn braking_force(self) -> bool {
        self.0 & 0x10 != 0
    }
    /// Bits 0-3: the gear code.
    pub const fn code(self) -> u8 {
        self.0 & 0x0F
    }
    /// Bit 7 (2025 only): the gear is invalid.
    pub const fn invalid_flag(self) -> bool {
        self.0 & 0x80 != 0
    }
    /// The gear as text: "N", "1".."12", "R", "D", "P".
    pub const fn label(self) -> &'static str {
        const LABELS: [&str; 16] = [
            "N", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "R", "D", "P",
        ];
        LABELS[(self.0 & 0x0F) as usize]
    }
}
