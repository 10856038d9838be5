//! Sentinel-aware readings and field tables.

use crate::error::{Error, Result};

/// A numeric field's reading: a valid value, or one of the two sentinels the standard reserves
/// at the top of each width (BYTE `0xFE`/`0xFF`, WORD `0xFFFE`/`0xFFFF`, DWORD
/// `0xFFFFFFFE`/`0xFFFFFFFF`; notes §1.2).
///
/// The raw integer stays in the record that the reading came from, so re-encoding is exact.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reading<T> {
    /// A value in the field's physical unit.
    Valid(T),
    /// "异常": the sender reports the quantity as abnormal.
    Abnormal,
    /// "无效": the sender has no valid value.
    Invalid,
}

impl<T> Reading<T> {
    /// The valid value, if any.
    pub fn valid(self) -> Option<T> {
        match self {
            Reading::Valid(v) => Some(v),
            _ => None,
        }
    }

    /// Whether this reading holds a value.
    pub fn is_valid(&self) -> bool {
        matches!(self, Reading::Valid(_))
    }

    /// Maps the valid value, keeping sentinels.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reading<U> {
        match self {
            Reading::Valid(v) => Reading::Valid(f(v)),
            Reading::Abnormal => Reading::Abnormal,
            Reading::Invalid => Reading::Invalid,
        }
    }
}

/// Width of an integer field on the wire (all big-endian, notes §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Width {
    /// BYTE, u8.
    Byte,
    /// WORD, u16.
    Word,
    /// DWORD, u32.
    Dword,
}

impl Width {
    /// Size in bytes.
    pub const fn size(self) -> usize {
        match self {
            Width::Byte => 1,
            Width::Word => 2,
            Width::Dword => 4,
        }
    }

    /// Largest raw value.
    pub const fn max(self) -> u32 {
        match self {
            Width::Byte => 0xFF,
            Width::Word => 0xFFFF,
            Width::Dword => 0xFFFF_FFFF,
        }
    }

    /// The "abnormal" sentinel of this width.
    pub const fn abnormal(self) -> u32 {
        self.max() - 1
    }

    /// The "invalid" sentinel of this width.
    pub const fn invalid(self) -> u32 {
        self.max()
    }

    /// Classifies a raw value of this width.
    #[inline]
    pub const fn classify(self, raw: u32) -> Reading<u32> {
        if raw == self.invalid() {
            Reading::Invalid
        } else if raw == self.abnormal() {
            Reading::Abnormal
        } else {
            Reading::Valid(raw)
        }
    }

    /// Reads a big-endian value at the start of `b`; missing bytes read as zero (records are
    /// fixed-size arrays, so this never happens for a table that matches its record).
    #[inline]
    pub fn read(self, b: &[u8]) -> u32 {
        match self {
            Width::Byte => b.first().map_or(0, |&v| u32::from(v)),
            Width::Word => b.first_chunk::<2>().map_or(0, |a| u32::from(u16::from_be_bytes(*a))),
            Width::Dword => b.first_chunk::<4>().map_or(0, |a| u32::from_be_bytes(*a)),
        }
    }

    /// Writes a big-endian value at the start of `b` (bytes beyond `b` are not written).
    pub fn write(self, b: &mut [u8], v: u32) {
        let n = self.size();
        for i in 0..n {
            if let Some(slot) = b.get_mut(i) {
                *slot = (v >> (8 * (n - 1 - i))) as u8;
            }
        }
    }
}

/// How a field's raw integer relates to what it means.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// An integer in its own unit (a count, an index, a percentage at resolution 1, °C...).
    /// `offset` is subtracted from the raw value (temperatures: 40).
    Number { offset: i64, sentinels: bool },
    /// `physical = (raw - offset) / divisor`, all in integers until the final division so that
    /// the result is the correctly rounded decimal (e.g. raw 9747 → −25.3 A exactly).
    Scaled { divisor: u32, offset: i64, sentinels: bool },
    /// A code from an enumeration; the top two codes are sentinels.
    Code { names: &'static [(u8, &'static str)] },
    /// A bit field, kept as the raw integer; blocks expose decoded bits themselves.
    Bits,
}

/// One field of a fixed-layout record: the single description that both parsing and emitting,
/// and both JSON directions, read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    /// JSON key; carries the unit where the value has one (`speed_kmh`, `total_voltage_v`).
    pub name: &'static str,
    /// Offset inside the record (after the block's type byte).
    pub offset: usize,
    /// Width on the wire.
    pub width: Width,
    /// Meaning of the raw integer.
    pub kind: Kind,
}

impl Field {
    /// An integer with sentinels (counts, indices, numbers at resolution 1).
    pub const fn number(name: &'static str, offset: usize, width: Width) -> Self {
        Field {
            name,
            offset,
            width,
            kind: Kind::Number {
                offset: 0,
                sentinels: true,
            },
        }
    }

    /// An integer for which the standard defines no sentinel (all values are valid).
    pub const fn plain(name: &'static str, offset: usize, width: Width) -> Self {
        Field {
            name,
            offset,
            width,
            kind: Kind::Number {
                offset: 0,
                sentinels: false,
            },
        }
    }

    /// A temperature at 1 °C with offset 40 (raw 0 = −40 °C).
    pub const fn celsius(name: &'static str, offset: usize, width: Width) -> Self {
        Field {
            name,
            offset,
            width,
            kind: Kind::Number {
                offset: 40,
                sentinels: true,
            },
        }
    }

    /// A scaled value with sentinels: `physical = (raw - raw_offset) / divisor`.
    pub const fn scaled(name: &'static str, offset: usize, width: Width, divisor: u32, raw_offset: i64) -> Self {
        Field {
            name,
            offset,
            width,
            kind: Kind::Scaled {
                divisor,
                offset: raw_offset,
                sentinels: true,
            },
        }
    }

    /// A scaled value without sentinels.
    pub const fn scaled_plain(name: &'static str, offset: usize, width: Width, divisor: u32, raw_offset: i64) -> Self {
        Field {
            name,
            offset,
            width,
            kind: Kind::Scaled {
                divisor,
                offset: raw_offset,
                sentinels: false,
            },
        }
    }

    /// An enumerated code (a BYTE); unknown codes are kept and shown as numbers.
    pub const fn code(name: &'static str, offset: usize, names: &'static [(u8, &'static str)]) -> Self {
        Field {
            name,
            offset,
            width: Width::Byte,
            kind: Kind::Code { names },
        }
    }

    /// A bit field kept raw.
    pub const fn bits(name: &'static str, offset: usize, width: Width) -> Self {
        Field {
            name,
            offset,
            width,
            kind: Kind::Bits,
        }
    }

    /// Whether the top two raw codes are sentinels for this field.
    pub const fn has_sentinels(&self) -> bool {
        match self.kind {
            Kind::Number { sentinels, .. } | Kind::Scaled { sentinels, .. } => sentinels,
            Kind::Code { .. } => true,
            Kind::Bits => false,
        }
    }

    /// Whether the JSON shows the raw integer beside the value (it differs from it).
    pub const fn shows_raw(&self) -> bool {
        matches!(self.kind, Kind::Scaled { .. } | Kind::Number { offset: 1.., .. })
            || matches!(self.kind, Kind::Number { offset: ..=-1, .. })
    }

    /// The raw integer of this field in `record`.
    #[inline]
    pub fn raw(&self, record: &[u8]) -> u32 {
        self.width.read(record.get(self.offset..).unwrap_or(&[]))
    }

    /// The raw integer, classified by the sentinels (if the field has any).
    #[inline]
    pub fn reading_raw(&self, record: &[u8]) -> Reading<u32> {
        let raw = self.raw(record);
        if self.has_sentinels() {
            self.width.classify(raw)
        } else {
            Reading::Valid(raw)
        }
    }

    /// The physical value of a raw integer.
    #[inline]
    pub fn physical_of(&self, raw: u32) -> f64 {
        match self.kind {
            Kind::Scaled { divisor, offset, .. } => (i64::from(raw) - offset) as f64 / f64::from(divisor),
            Kind::Number { offset, .. } => (i64::from(raw) - offset) as f64,
            Kind::Code { .. } | Kind::Bits => f64::from(raw),
        }
    }

    /// The physical value of this field in `record`.
    #[inline]
    pub fn value(&self, record: &[u8]) -> Reading<f64> {
        self.reading_raw(record).map(|raw| self.physical_of(raw))
    }

    /// An integer-valued field (numbers with offset, e.g. °C) in `record`.
    pub fn integer(&self, record: &[u8]) -> Reading<i64> {
        let off = match self.kind {
            Kind::Number { offset, .. } | Kind::Scaled { offset, .. } => offset,
            _ => 0,
        };
        self.reading_raw(record).map(|raw| i64::from(raw) - off)
    }

    /// The name of a code, if this is a code field and the code is known.
    pub fn code_name(&self, raw: u32) -> Option<&'static str> {
        match self.kind {
            Kind::Code { names } => names.iter().find(|(c, _)| u32::from(*c) == raw).map(|(_, n)| *n),
            _ => None,
        }
    }

    /// The raw integer that represents `physical` (rounded to the field's resolution).
    ///
    /// Fails when the value falls outside the width, or onto a sentinel code.
    pub fn raw_of(&self, physical: f64) -> Result<u32> {
        let scaled = match self.kind {
            Kind::Scaled { divisor, offset, .. } => round(physical * f64::from(divisor)) + offset as f64,
            Kind::Number { offset, .. } => round(physical) + offset as f64,
            Kind::Code { .. } | Kind::Bits => round(physical),
        };
        // Exclusive upper bound, in f64 so that a DWORD without sentinels does not overflow.
        let top = if self.has_sentinels() {
            f64::from(self.width.abnormal())
        } else {
            f64::from(self.width.max()) + 1.0
        };
        if !(0.0..top).contains(&scaled) {
            return Err(Error::Unencodable { what: self.name });
        }
        Ok(scaled as u32)
    }

    /// The raw integer for a reading (sentinels map to their codes).
    pub fn raw_of_reading(&self, reading: Reading<f64>) -> Result<u32> {
        match reading {
            Reading::Valid(v) => self.raw_of(v),
            Reading::Abnormal if self.has_sentinels() => Ok(self.width.abnormal()),
            Reading::Invalid if self.has_sentinels() => Ok(self.width.invalid()),
            _ => Err(Error::Unencodable { what: self.name }),
        }
    }

    /// Writes a raw integer into `record`, refusing one wider than the field.
    pub fn set_raw(&self, record: &mut [u8], raw: u32) -> Result<()> {
        if raw > self.width.max() {
            return Err(Error::Unencodable { what: self.name });
        }
        match record.get_mut(self.offset..) {
            Some(b) if b.len() >= self.width.size() => {
                self.width.write(b, raw);
                Ok(())
            }
            _ => Err(Error::Unencodable { what: self.name }),
        }
    }

    /// Writes a reading (in physical units) into `record`.
    pub fn set(&self, record: &mut [u8], reading: Reading<f64>) -> Result<()> {
        let raw = self.raw_of_reading(reading)?;
        self.set_raw(record, raw)
    }
}

/// `f64::round` needs `std`; this is the same for the magnitudes a field can hold.
fn round(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let t = (x as i64) as f64; // truncates toward zero; fields are far below 2^53
    let frac = x - t;
    if frac >= 0.5 {
        t + 1.0
    } else if frac <= -0.5 {
        t - 1.0
    } else {
        t
    }
}

/// A fixed-layout record: a byte array described by a field table. Used generically by the JSON
/// mapping (both directions) and by tests that walk every field.
pub trait FixedRecord: Sized {
    /// Size on the wire.
    const LEN: usize;
    /// The record's fields, in wire order.
    const FIELDS: &'static [Field];
    /// The record's bytes.
    fn bytes(&self) -> &[u8];
    /// Builds the record from exactly `LEN` bytes (`None` for another length).
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
}

/// Declares a fixed-size record type: a newtype over `[u8; LEN]` with `FixedRecord`, parsing and
/// emission. Field accessors are written beside each type, one line each, from its table.
macro_rules! fixed_record {
    ($(#[$meta:meta])* $name:ident, $len:expr, $fields:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub struct $name(pub [u8; $len]);

        impl $crate::wire::FixedRecord for $name {
            const LEN: usize = $len;
            const FIELDS: &'static [$crate::wire::Field] = $fields;
            fn bytes(&self) -> &[u8] {
                &self.0
            }
            fn from_bytes(bytes: &[u8]) -> Option<Self> {
                <[u8; $len]>::try_from(bytes).ok().map($name)
            }
        }

        impl $crate::wire::Element for $name {
            const SIZE: usize = $len;
            fn read(b: &[u8]) -> Self {
                let mut a = [0u8; $len];
                let n = b.len().min($len);
                a[..n].copy_from_slice(&b[..n]);
                $name(a)
            }
            fn write(&self, out: &mut [u8]) {
                let n = out.len().min($len);
                out[..n].copy_from_slice(&self.0[..n]);
            }
        }

        impl $name {
            /// Size on the wire, in bytes.
            pub const LEN: usize = $len;

            /// A record with every byte zero (to fill in with the setters).
            pub const fn zeroed() -> Self {
                $name([0u8; $len])
            }

            /// The value of a field of this record's table.
            pub fn get(&self, field: &$crate::wire::Field) -> $crate::wire::Reading<f64> {
                field.value(&self.0)
            }

            /// Sets a field of this record's table from a physical value or sentinel.
            pub fn set(
                &mut self,
                field: &$crate::wire::Field,
                value: $crate::wire::Reading<f64>,
            ) -> $crate::error::Result<()> {
                field.set(&mut self.0, value)
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                let mut s = f.debug_struct(stringify!($name));
                for field in <$name as $crate::wire::FixedRecord>::FIELDS {
                    s.field(field.name, &field.value(&self.0));
                }
                s.finish()
            }
        }
    };
}
pub(crate) use fixed_record;
