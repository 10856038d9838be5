//! Messages of the 2025 edition's security and login changes: the new vehicle login (T6),
//! activation 0x09 (T B.3), activation response 0x0A (T B.4), key exchange 0x0B (T31).

use super::malformed;
use crate::error::{Error, Result};
use crate::signature::Signature;
use crate::wire::{array, be_u16, be_u8, take, FixedStr, Time, Writer};

/// 0x01 vehicle login, 2025 layout (T6): BMS count, packs per BMS, 24-byte pack codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VehicleLogin2025<'a> {
    /// Data collection time.
    pub time: Time,
    /// Login serial (1-65531, restarts daily).
    pub serial: u16,
    /// SIM ICCID.
    pub iccid: FixedStr<20>,
    /// Packs per battery-management system, one byte per BMS (n = the slice's length, 0-20).
    pub packs_per_bms: &'a [u8],
    /// The Σ packs × 24 code bytes (GB/T 34014 codes), BMS by BMS.
    pub pack_codes: &'a [u8],
}

impl<'a> VehicleLogin2025<'a> {
    /// Length of one pack code.
    pub const CODE_LEN: usize = 24;

    /// Parses the data unit.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        const WHAT: &str = "vehicle login";
        let (i, time) = array::<6>(data).map_err(|_| malformed(WHAT, data, data))?;
        let (i, serial) = be_u16(i).map_err(|_| malformed(WHAT, data, i))?;
        let (i, iccid) = array::<20>(i).map_err(|_| malformed(WHAT, data, i))?;
        let (i, n) = be_u8(i).map_err(|_| malformed(WHAT, data, i))?;
        let (i, packs_per_bms) = take(usize::from(n))(i).map_err(|_| malformed(WHAT, data, i))?;
        let total: usize = packs_per_bms.iter().map(|&m| usize::from(m)).sum();
        let (i, pack_codes) = take(total * Self::CODE_LEN)(i).map_err(|_| malformed(WHAT, data, i))?;
        if !i.is_empty() {
            return Err(malformed(WHAT, data, i));
        }
        Ok(VehicleLogin2025 {
            time: Time(time),
            serial,
            iccid: FixedStr(iccid),
            packs_per_bms,
            pack_codes,
        })
    }

    /// The pack codes, 24 bytes each.
    pub fn codes(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.pack_codes.chunks(Self::CODE_LEN)
    }

    /// Bytes on the wire.
    pub fn wire_len(&self) -> usize {
        29 + self.packs_per_bms.len() + self.pack_codes.len()
    }

    /// Appends the data unit.
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        let total: usize = self.packs_per_bms.iter().map(|&m| usize::from(m)).sum();
        let n = u8::try_from(self.packs_per_bms.len()).map_err(|_| Error::Unencodable { what: "BMS count" })?;
        if self.pack_codes.len() != total * Self::CODE_LEN {
            return Err(Error::Unencodable {
                what: "pack codes: length is not Σ packs × 24",
            });
        }
        w.bytes(&self.time.0)?;
        w.u16(self.serial)?;
        w.bytes(&self.iccid.0)?;
        w.u8(n)?;
        w.bytes(self.packs_per_bms)?;
        w.bytes(self.pack_codes)
    }
}

/// 0x09 activation (T B.3): the vehicle presents its security chip and public key, signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Activation<'a> {
    /// Data collection time.
    pub time: Time,
    /// Security chip ID (16 characters, space-padded).
    pub chip_id: FixedStr<16>,
    /// The public key (format unspecified: SM2 64 bytes X‖Y or 65 with 0x04; RSA modulus and a
    /// 3-byte exponent as rtm_con does it).
    pub public_key: &'a [u8],
    /// The VIN (also in the header).
    pub vin: FixedStr<17>,
    /// The signature over everything before it (no 0xFF marker; notes 2025 §13 A2).
    pub signature: Signature<'a>,
}

impl<'a> Activation<'a> {
    /// Parses the data unit.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        const WHAT: &str = "activation";
        let (i, time) = array::<6>(data).map_err(|_| malformed(WHAT, data, data))?;
        let (i, chip_id) = array::<16>(i).map_err(|_| malformed(WHAT, data, i))?;
        let (i, n) = be_u16(i).map_err(|_| malformed(WHAT, data, i))?;
        let (i, public_key) = take(usize::from(n))(i).map_err(|_| malformed(WHAT, data, i))?;
        let (i, vin) = array::<17>(i).map_err(|_| malformed(WHAT, data, i))?;
        let (rest, signature) = Signature::parse(i).map_err(|_| malformed(WHAT, data, i))?;
        if !rest.is_empty() {
            return Err(malformed(WHAT, data, rest));
        }
        Ok(Activation {
            time: Time(time),
            chip_id: FixedStr(chip_id),
            public_key,
            vin: FixedStr(vin),
            signature,
        })
    }

    /// Bytes covered by the signature: time through the last VIN byte.
    pub fn signed_len(&self) -> usize {
        6 + 16 + 2 + self.public_key.len() + 17
    }

    /// Bytes on the wire.
    pub fn wire_len(&self) -> usize {
        self.signed_len() + self.signature.wire_len()
    }

    /// Appends the part the signature covers.
    pub fn emit_signed_part(&self, w: &mut Writer<'_>) -> Result<()> {
        let n = u16::try_from(self.public_key.len()).map_err(|_| Error::Unencodable { what: "public key" })?;
        w.bytes(&self.time.0)?;
        w.bytes(&self.chip_id.0)?;
        w.u16(n)?;
        w.bytes(self.public_key)?;
        w.bytes(&self.vin.0)
    }

    /// Appends the data unit.
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        self.emit_signed_part(w)?;
        self.signature.emit(w)
    }
}

/// 0x0A activation response (T B.4), a downlink command with two bytes and no time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ActivationResponse {
    /// 0x01 activation succeeded, 0x02 failed.
    pub status: u8,
    /// 0x00 succeeded, 0x01 chip already activated, 0x02 VIN duplicate (the standard's codes;
    /// rtm_con's are one off, notes 2025 §12 #1).
    pub info: u8,
}

impl ActivationResponse {
    /// Bytes on the wire.
    pub const LEN: usize = 2;

    /// Parses the data unit.
    pub fn parse(data: &[u8]) -> Result<Self> {
        match data {
            [status, info] => Ok(ActivationResponse {
                status: *status,
                info: *info,
            }),
            _ => Err(Error::Malformed {
                what: "activation response",
                offset: data.len().min(2),
            }),
        }
    }

    /// Name of the status code.
    pub const fn status_name(&self) -> &'static str {
        match self.status {
            0x01 => "succeeded",
            0x02 => "failed",
            _ => "reserved",
        }
    }

    /// Name of the information code.
    pub const fn info_name(&self) -> &'static str {
        match self.info {
            0x00 => "succeeded",
            0x01 => "chip_already_activated",
            0x02 => "vin_duplicate",
            _ => "reserved",
        }
    }

    /// Appends the data unit.
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(self.status)?;
        w.u8(self.info)
    }
}

/// 0x0B data-unit encryption key exchange (T31), both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KeyExchange<'a> {
    /// Key type: 0x02 RSA, 0x03 AES, 0x04 SM2, 0x05 SM4 (header encryption codes).
    pub key_type: crate::frame::Encryption,
    /// The key.
    pub key: &'a [u8],
    /// Valid from.
    pub valid_from: Time,
    /// Valid until.
    pub valid_until: Time,
}

impl<'a> KeyExchange<'a> {
    /// Parses the data unit.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        const WHAT: &str = "key exchange";
        let (i, key_type) = be_u8(data).map_err(|_| malformed(WHAT, data, data))?;
        let (i, n) = be_u16(i).map_err(|_| malformed(WHAT, data, i))?;
        let (i, key) = take(usize::from(n))(i).map_err(|_| malformed(WHAT, data, i))?;
        let (i, from) = array::<6>(i).map_err(|_| malformed(WHAT, data, i))?;
        let (i, until) = array::<6>(i).map_err(|_| malformed(WHAT, data, i))?;
        if !i.is_empty() {
            return Err(malformed(WHAT, data, i));
        }
        Ok(KeyExchange {
            key_type: crate::frame::Encryption(key_type),
            key,
            valid_from: Time(from),
            valid_until: Time(until),
        })
    }

    /// Bytes on the wire.
    pub fn wire_len(&self) -> usize {
        15 + self.key.len()
    }

    /// Appends the data unit.
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        let n = u16::try_from(self.key.len()).map_err(|_| Error::Unencodable { what: "key" })?;
        w.u8(self.key_type.0)?;
        w.u16(n)?;
        w.bytes(self.key)?;
        w.bytes(&self.valid_from.0)?;
        w.bytes(&self.valid_until.0)
    }
}
