//! 0x03 fuel-cell data (Table 12): 6 fixed bytes, a WORD-counted probe list, 10 fixed bytes.

use crate::error::Result;
use crate::wire::{
    array, counted_len, emit_counted, fixed_record, parse_counted, Field, List, PResult, Reading, Width, Writer,
};

/// Field tables of the fuel-cell block's two fixed parts.
pub mod field {
    use super::*;
    /// Fuel-cell voltage, 0.1 V.
    pub const VOLTAGE: Field = Field::scaled("voltage_v", 0, Width::Word, 10, 0);
    /// Fuel-cell current, 0.1 A (no offset).
    pub const CURRENT: Field = Field::scaled("current_a", 2, Width::Word, 10, 0);
    /// Fuel consumption rate, 0.01 kg/100 km.
    pub const CONSUMPTION: Field = Field::scaled("consumption_kg_per_100km", 4, Width::Word, 100, 0);
    /// The head (before the probe list).
    pub const HEAD: &[Field] = &[VOLTAGE, CURRENT, CONSUMPTION];

    /// Maximum temperature in the hydrogen system, 0.1 °C (offset 40 °C).
    pub const H2_MAX_TEMP: Field = Field::scaled("h2_max_temp_c", 0, Width::Word, 10, 400);
    /// Probe code of that maximum.
    pub const H2_MAX_TEMP_PROBE: Field = Field::number("h2_max_temp_probe", 2, Width::Byte);
    /// Maximum hydrogen concentration, read as mg/kg (raw value, as EMQX, sunsky74 and
    /// y752321981 do; the standard's text is self-contradictory and bcd subtracts 10000, notes
    /// §5.7.3).
    pub const H2_MAX_CONCENTRATION: Field = Field::number("h2_max_concentration_mg_per_kg", 3, Width::Word);
    /// Concentration sensor code.
    pub const H2_CONCENTRATION_SENSOR: Field = Field::number("h2_max_concentration_sensor", 5, Width::Byte);
    /// Maximum hydrogen pressure, 0.1 MPa. No sentinel is stated, but the range ends at raw
    /// 1000, so the top two codes are read as sentinels like everywhere else.
    pub const H2_MAX_PRESSURE: Field = Field::scaled("h2_max_pressure_mpa", 6, Width::Word, 10, 0);
    /// Pressure sensor code.
    pub const H2_PRESSURE_SENSOR: Field = Field::number("h2_max_pressure_sensor", 8, Width::Byte);
    /// High-voltage DC/DC state.
    pub const DCDC_STATE: Field = Field::code("hv_dcdc_state", 9, &[(1, "working"), (2, "disconnected")]);
    /// The tail (after the probe list).
    pub const TAIL: &[Field] = &[
        H2_MAX_TEMP,
        H2_MAX_TEMP_PROBE,
        H2_MAX_CONCENTRATION,
        H2_CONCENTRATION_SENSOR,
        H2_MAX_PRESSURE,
        H2_PRESSURE_SENSOR,
        DCDC_STATE,
    ];
}

fixed_record!(
    /// The fuel-cell block's first six bytes: voltage, current, consumption.
    FuelCellHead,
    6,
    field::HEAD
);

fixed_record!(
    /// The fuel-cell block's last ten bytes: hydrogen-system maxima and DC/DC state.
    FuelCellTail,
    10,
    field::TAIL
);

/// 0x03 fuel-cell block. Length 18 + N (N = probe count; none if the count is a sentinel).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FuelCell<'a> {
    /// Voltage, current and consumption.
    pub head: FuelCellHead,
    /// Probe temperatures, raw (°C + 40); count WORD.
    pub probe_temps: Reading<List<'a, u8>>,
    /// Hydrogen-system maxima and DC/DC state.
    pub tail: FuelCellTail,
}

impl<'a> FuelCell<'a> {
    pub(crate) fn parse(i: &'a [u8]) -> PResult<'a, Self> {
        let (i, head) = array(i)?;
        let (i, probe_temps) = parse_counted(Width::Word, i)?;
        let (i, tail) = array(i)?;
        Ok((
            i,
            FuelCell {
                head: FuelCellHead(head),
                probe_temps,
                tail: FuelCellTail(tail),
            },
        ))
    }
    pub(crate) fn wire_len(&self) -> usize {
        FuelCellHead::LEN + counted_len(Width::Word, &self.probe_temps) + FuelCellTail::LEN
    }
    pub(crate) fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.head.0)?;
        emit_counted(Width::Word, &self.probe_temps, w, "fuel-cell probe count")?;
        w.bytes(&self.tail.0)
    }
}
