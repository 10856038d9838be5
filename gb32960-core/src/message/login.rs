//! Session messages: vehicle login/logout, platform login/logout.

use super::malformed;
use crate::error::{Error, Result};
use crate::frame::Encryption;
use crate::wire::{array, be_u16, be_u8, take, FixedStr, Time, Writer};

/// 0x01 vehicle login, 2016 layout (Table 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VehicleLogin<'a> {
    /// Data collection time.
    pub time: Time,
    /// Login serial number (1-65531, restarts daily).
    pub serial: u16,
    /// SIM ICCID.
    pub iccid: FixedStr<20>,
    /// Number of rechargeable energy storage subsystems, n (0-250).
    pub subsystem_count: u8,
    /// Length of each subsystem code, m (0-50; 0 means no codes follow, even if n > 0).
    pub code_len: u8,
    /// The n·m code bytes, concatenated (see [`VehicleLogin::codes`]).
    pub codes: &'a [u8],
}

impl<'a> VehicleLogin<'a> {
    /// Parses the data unit.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        const WHAT: &str = "vehicle login";
        let (i, time) = array::<6>(data).map_err(|_| malformed(WHAT, data, data))?;
        let (i, serial) = be_u16(i).map_err(|_| malformed(WHAT, data, i))?;
        let (i, iccid) = array::<20>(i).map_err(|_| malformed(WHAT, data, i))?;
        let (i, n) = be_u8(i).map_err(|_| malformed(WHAT, data, i))?;
        let (i, m) = be_u8(i).map_err(|_| malformed(WHAT, data, i))?;
        let (i, codes) = take(usize::from(n) * usize::from(m))(i).map_err(|_| malformed(WHAT, data, i))?;
        if !i.is_empty() {
            return Err(malformed(WHAT, data, i));
        }
        Ok(VehicleLogin {
            time: Time(time),
            serial,
            iccid: FixedStr(iccid),
            subsystem_count: n,
            code_len: m,
            codes,
        })
    }

    /// The subsystem codes, each `code_len` bytes (none when `code_len` is 0).
    pub fn codes(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let m = usize::from(self.code_len);
        let codes = if m == 0 { &[][..] } else { self.codes };
        codes.chunks(m.max(1))
    }

    /// Bytes on the wire.
    pub fn wire_len(&self) -> usize {
        30 + self.codes.len()
    }

    /// Appends the data unit.
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        if self.codes.len() != usize::from(self.subsystem_count) * usize::from(self.code_len) {
            return Err(Error::Unencodable {
                what: "login codes: length is not count × code length",
            });
        }
        w.bytes(&self.time.0)?;
        w.u16(self.serial)?;
        w.bytes(&self.iccid.0)?;
        w.u8(self.subsystem_count)?;
        w.u8(self.code_len)?;
        w.bytes(self.codes)
    }
}

/// 0x04 vehicle logout and 0x06 platform logout: time and the serial of the login they close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Logout {
    /// Logout time.
    pub time: Time,
    /// Serial number of the login this closes.
    pub serial: u16,
}

impl Logout {
    /// Bytes on the wire.
    pub const LEN: usize = 8;

    /// Parses the data unit.
    pub fn parse(data: &[u8], what: &'static str) -> Result<Self> {
        match data {
            [t @ .., s0, s1] if t.len() == 6 => Ok(Logout {
                time: Time(t.try_into().unwrap_or_default()),
                serial: u16::from_be_bytes([*s0, *s1]),
            }),
            _ => Err(Error::Malformed {
                what,
                offset: data.len().min(Self::LEN),
            }),
        }
    }

    /// Appends the data unit.
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.time.0)?;
        w.u16(self.serial)
    }
}

/// 0x05 platform login (Table 21): opens a link on which a platform forwards many vehicles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PlatformLogin {
    /// Login time.
    pub time: Time,
    /// Login serial (1-65531, daily cycle).
    pub serial: u16,
    /// Username.
    pub username: FixedStr<12>,
    /// Password.
    pub password: FixedStr<20>,
    /// Encryption rule (same codes as the header's encryption byte).
    pub encryption: Encryption,
}

impl PlatformLogin {
    /// Bytes on the wire.
    pub const LEN: usize = 41;

    /// Parses the data unit.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let Some(d) = data.first_chunk::<41>().filter(|_| data.len() == Self::LEN) else {
            return Err(Error::Malformed {
                what: "platform login",
                offset: data.len().min(Self::LEN),
            });
        };
        let mut t = [0u8; 6];
        t.copy_from_slice(&d[0..6]);
        let mut user = [0u8; 12];
        user.copy_from_slice(&d[8..20]);
        let mut pass = [0u8; 20];
        pass.copy_from_slice(&d[20..40]);
        Ok(PlatformLogin {
            time: Time(t),
            serial: u16::from_be_bytes([d[6], d[7]]),
            username: FixedStr(user),
            password: FixedStr(pass),
            encryption: Encryption(d[40]),
        })
    }

    /// Appends the data unit.
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.time.0)?;
        w.u16(self.serial)?;
        w.bytes(&self.username.0)?;
        w.bytes(&self.password.0)?;
        w.u8(self.encryption.0)
    }
}
