//! 0x05 vehicle position, 9 bytes (Tables 14/15). Longitude first.

use crate::wire::{fixed_record, Field, Width};

/// Field table of [`Position`]. Coordinates are unsigned magnitudes; the hemisphere is in the
/// status bits (notes §5.7.5).
pub mod field {
    use super::*;
    /// Status bits: bit 0 invalid fix, bit 1 south, bit 2 west.
    pub const STATUS: Field = Field::bits("status", 0, Width::Byte);
    /// Longitude magnitude, 10⁻⁶ degree.
    pub const LONGITUDE: Field = Field::scaled_plain("longitude_abs_deg", 1, Width::Dword, 1_000_000, 0);
    /// Latitude magnitude, 10⁻⁶ degree.
    pub const LATITUDE: Field = Field::scaled_plain("latitude_abs_deg", 5, Width::Dword, 1_000_000, 0);
    /// All fields in wire order.
    pub const ALL: &[Field] = &[STATUS, LONGITUDE, LATITUDE];
}

fixed_record!(
    /// 0x05 vehicle position (9 bytes).
    Position,
    9,
    field::ALL
);

/// The positioning status byte of both editions (2016 Table 15, 2025 T22): bit 0 set = no valid
/// fix (the last valid position is sent), bit 1 = south, bit 2 = west. Coordinates are sent as
/// unsigned magnitudes; the sign comes from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FixStatus(pub u8);

impl FixStatus {
    /// Whether the fix is valid (bit 0 clear).
    pub const fn fix_valid(self) -> bool {
        self.0 & 0x01 == 0
    }
    /// Southern latitude (bit 1).
    pub const fn south(self) -> bool {
        self.0 & 0x02 != 0
    }
    /// Western longitude (bit 2).
    pub const fn west(self) -> bool {
        self.0 & 0x04 != 0
    }
    /// A longitude magnitude with its sign (west negative).
    pub fn longitude(self, magnitude: f64) -> f64 {
        if self.west() {
            -magnitude
        } else {
            magnitude
        }
    }
    /// A latitude magnitude with its sign (south negative).
    pub fn latitude(self, magnitude: f64) -> f64 {
        if self.south() {
            -magnitude
        } else {
            magnitude
        }
    }
}

impl Position {
    /// The status byte.
    pub fn status(&self) -> FixStatus {
        FixStatus(self.0[0])
    }
    /// Whether the fix is valid. With no fix, the terminal sends the last valid position.
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
    /// Signed longitude in degrees (west negative).
    pub fn longitude_deg(&self) -> f64 {
        self.status()
            .longitude(field::LONGITUDE.physical_of(field::LONGITUDE.raw(&self.0)))
    }
    /// Signed latitude in degrees (south negative).
    pub fn latitude_deg(&self) -> f64 {
        self.status()
            .latitude(field::LATITUDE.physical_of(field::LATITUDE.raw(&self.0)))
    }
}
