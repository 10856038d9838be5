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

impl Position {
    /// Whether the fix is valid (status bit 0 clear). With no fix, the terminal sends the last
    /// valid position with the bit set.
    pub fn fix_valid(&self) -> bool {
        self.0[0] & 0x01 == 0
    }
    /// Southern latitude (status bit 1).
    pub fn south(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
    /// Western longitude (status bit 2).
    pub fn west(&self) -> bool {
        self.0[0] & 0x04 != 0
    }
    /// Signed longitude in degrees (west negative).
    pub fn longitude_deg(&self) -> f64 {
        let v = field::LONGITUDE.physical_of(field::LONGITUDE.raw(&self.0));
        if self.west() {
            -v
        } else {
            v
        }
    }
    /// Signed latitude in degrees (south negative).
    pub fn latitude_deg(&self) -> f64 {
        let v = field::LATITUDE.physical_of(field::LATITUDE.raw(&self.0));
        if self.south() {
            -v
        } else {
            v
        }
    }
}
