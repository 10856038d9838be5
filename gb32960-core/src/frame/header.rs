//! The 24-byte header and its typed fields.

use core::fmt;

use crate::error::{Error, Result};
use crate::wire::{FixedStr, Writer};
use crate::{HEADER_LEN, MAX_DATA_UNIT_LEN};

/// The edition of the standard a frame follows, selected by its start symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Edition {
    /// GB/T 32960.3-2016, start symbol `##`.
    V2016,
    /// GB/T 32960.3-2025, start symbol `$$`.
    V2025,
}

impl Edition {
    /// The two start bytes.
    pub const fn start(self) -> [u8; 2] {
        match self {
            Edition::V2016 => *b"##",
            Edition::V2025 => *b"$$",
        }
    }

    /// The edition a start symbol selects.
    pub const fn from_start(b: [u8; 2]) -> Option<Self> {
        match b {
            [b'#', b'#'] => Some(Edition::V2016),
            [b'$', b'$'] => Some(Edition::V2025),
            _ => None,
        }
    }

    /// "2016" or "2025".
    pub const fn as_str(self) -> &'static str {
        match self {
            Edition::V2016 => "2016",
            Edition::V2025 => "2025",
        }
    }
}

impl fmt::Display for Edition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Command identifier (2016 Table 3 / B.2; 2025 T3 / T B.2). Unknown and vendor codes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Command(pub u8);

impl Command {
    /// 0x01 vehicle login (up).
    pub const VEHICLE_LOGIN: Command = Command(0x01);
    /// 0x02 real-time information report (up).
    pub const REALTIME: Command = Command(0x02);
    /// 0x03 reissue (supplementary) report (up).
    pub const REISSUE: Command = Command(0x03);
    /// 0x04 vehicle logout (up).
    pub const VEHICLE_LOGOUT: Command = Command(0x04);
    /// 0x05 platform login (up, cascade links).
    pub const PLATFORM_LOGIN: Command = Command(0x05);
    /// 0x06 platform logout (up).
    pub const PLATFORM_LOGOUT: Command = Command(0x06);
    /// 0x07 heartbeat (up).
    pub const HEARTBEAT: Command = Command(0x07);
    /// 0x08 terminal time calibration (up).
    pub const TIME_CALIBRATION: Command = Command(0x08);
    /// 0x09 activation (2025, up).
    pub const ACTIVATION: Command = Command(0x09);
    /// 0x0A activation response (2025, down).
    pub const ACTIVATION_RESPONSE: Command = Command(0x0A);
    /// 0x0B data-unit key exchange (2025, both directions).
    pub const KEY_EXCHANGE: Command = Command(0x0B);
    /// 0x80 parameter query (down).
    pub const PARAM_QUERY: Command = Command(0x80);
    /// 0x81 parameter set (down).
    pub const PARAM_SET: Command = Command(0x81);
    /// 0x82 terminal control (down).
    pub const TERMINAL_CONTROL: Command = Command(0x82);

    /// A stable snake_case name for this command in `edition`.
    pub const fn name(self, edition: Edition) -> &'static str {
        match (self.0, edition) {
            (0x01, _) => "vehicle_login",
            (0x02, _) => "realtime_report",
            (0x03, _) => "reissue_report",
            (0x04, _) => "vehicle_logout",
            (0x05, _) => "platform_login",
            (0x06, _) => "platform_logout",
            (0x07, _) => "heartbeat",
            (0x08, _) => "time_calibration",
            (0x09, Edition::V2025) => "activation",
            (0x0A, Edition::V2025) => "activation_response",
            (0x0B, Edition::V2025) => "key_exchange",
            (0x80, _) => "parameter_query",
            (0x81, _) => "parameter_set",
            (0x82, _) => "terminal_control",
            (0x00..=0x7F, _) => "reserved_uplink",
            (0x83..=0xBF, _) => "reserved_downlink",
            (0xC0..=0xFE, _) => "platform_custom",
            (0xFF, _) => "reserved",
        }
    }

    /// Whether the platform sends this command to the terminal (0x80-0x82, and 0x0A in 2025).
    pub const fn is_downlink(self) -> bool {
        matches!(self.0, 0x80..=0xBF | 0x0A)
    }
}

/// Response flag (2016 Table 4; 2025 T4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ResponseFlag(pub u8);

impl ResponseFlag {
    /// 0x01: success.
    pub const SUCCESS: ResponseFlag = ResponseFlag(0x01);
    /// 0x02: error (2016: "error / setting failed"; 2025: "other error").
    pub const ERROR: ResponseFlag = ResponseFlag(0x02);
    /// 0x03: VIN duplicate.
    pub const VIN_DUPLICATE: ResponseFlag = ResponseFlag(0x03);
    /// 0x04: VIN does not exist (2025).
    pub const VIN_NOT_FOUND: ResponseFlag = ResponseFlag(0x04);
    /// 0x05: signature verification failed (2025).
    pub const SIGNATURE_FAILED: ResponseFlag = ResponseFlag(0x05);
    /// 0x06: data structure error (2025).
    pub const STRUCTURE_ERROR: ResponseFlag = ResponseFlag(0x06);
    /// 0x07: decryption error (2025).
    pub const DECRYPTION_FAILED: ResponseFlag = ResponseFlag(0x07);
    /// 0xFE: this frame is a command (request).
    pub const COMMAND: ResponseFlag = ResponseFlag(0xFE);

    /// Whether this frame is a request (flag 0xFE). Anything else is a response, never answered.
    pub const fn is_command(self) -> bool {
        self.0 == 0xFE
    }

    /// A stable snake_case name for this flag in `edition`.
    pub const fn name(self, edition: Edition) -> &'static str {
        match (self.0, edition) {
            (0x01, _) => "success",
            (0x02, Edition::V2016) => "error",
            (0x02, Edition::V2025) => "other_error",
            (0x03, _) => "vin_duplicate",
            (0x04, Edition::V2025) => "vin_not_found",
            (0x05, Edition::V2025) => "signature_failed",
            (0x06, Edition::V2025) => "data_structure_error",
            (0x07, Edition::V2025) => "decryption_failed",
            (0xFE, _) => "command",
            _ => "reserved",
        }
    }
}

/// Data-unit encryption method (header byte 21, also the platform login's encryption rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Encryption(pub u8);

impl Encryption {
    /// 0x01: not encrypted.
    pub const NONE: Encryption = Encryption(0x01);
    /// 0x02: RSA.
    pub const RSA: Encryption = Encryption(0x02);
    /// 0x03: AES-128 (2016) / AES (2025).
    pub const AES: Encryption = Encryption(0x03);
    /// 0x04: SM2 (2025).
    pub const SM2: Encryption = Encryption(0x04);
    /// 0x05: SM4 (2025).
    pub const SM4: Encryption = Encryption(0x05);
    /// 0xFE: abnormal.
    pub const ABNORMAL: Encryption = Encryption(0xFE);
    /// 0xFF: invalid.
    pub const INVALID: Encryption = Encryption(0xFF);

    /// Whether a data unit with this flag is ciphertext in `edition`. Abnormal, invalid and
    /// reserved codes are read as plaintext: there is no cipher to apply, and a decoder that
    /// fails on them would lose data that is usually readable.
    pub const fn is_encrypted(self, edition: Edition) -> bool {
        matches!((self.0, edition), (0x02 | 0x03, _) | (0x04 | 0x05, Edition::V2025))
    }

    /// A stable snake_case name for this method in `edition`.
    pub const fn name(self, edition: Edition) -> &'static str {
        match (self.0, edition) {
            (0x01, _) => "none",
            (0x02, _) => "rsa",
            (0x03, Edition::V2016) => "aes128",
            (0x03, Edition::V2025) => "aes",
            (0x04, Edition::V2025) => "sm2",
            (0x05, Edition::V2025) => "sm4",
            (0xFE, _) => "abnormal",
            (0xFF, _) => "invalid",
            _ => "reserved",
        }
    }
}

/// The frame header: everything before the data unit except its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// Edition, from the start symbol.
    pub edition: Edition,
    /// Command identifier.
    pub command: Command,
    /// Response flag.
    pub response: ResponseFlag,
    /// The 17-byte unique identifier: the VIN, or a platform's code on platform links.
    pub vin: FixedStr<17>,
    /// Data-unit encryption.
    pub encryption: Encryption,
}

impl Header {
    /// A request header (flag 0xFE, no encryption).
    pub const fn command(edition: Edition, command: Command, vin: FixedStr<17>) -> Self {
        Header {
            edition,
            command,
            response: ResponseFlag::COMMAND,
            vin,
            encryption: Encryption::NONE,
        }
    }

    /// The header of a response to this request: same edition, command and VIN, the given flag,
    /// no encryption.
    pub const fn response(&self, flag: ResponseFlag) -> Self {
        Header {
            response: flag,
            encryption: Encryption::NONE,
            ..*self
        }
    }

    /// Parses the header and returns it with the declared data-unit length.
    pub fn parse(bytes: &[u8]) -> Result<(Self, usize)> {
        let start = [bytes.first().copied().unwrap_or(0), bytes.get(1).copied().unwrap_or(0)];
        let edition = match bytes.len() {
            0 => return Err(Error::Truncated { needed: HEADER_LEN + 1 }),
            1 if bytes[0] == b'#' || bytes[0] == b'$' => return Err(Error::Truncated { needed: HEADER_LEN }),
            _ => Edition::from_start(start).ok_or(Error::BadStart { found: start })?,
        };
        let Some(h) = bytes.first_chunk::<HEADER_LEN>() else {
            return Err(Error::Truncated {
                needed: HEADER_LEN + 1 - bytes.len(),
            });
        };
        let len = usize::from(u16::from_be_bytes([h[22], h[23]]));
        if len > MAX_DATA_UNIT_LEN {
            return Err(Error::LengthTooLarge { length: len });
        }
        let mut vin = [0u8; 17];
        vin.copy_from_slice(&h[4..21]);
        Ok((
            Header {
                edition,
                command: Command(h[2]),
                response: ResponseFlag(h[3]),
                vin: FixedStr(vin),
                encryption: Encryption(h[21]),
            },
            len,
        ))
    }

    /// Writes the header with the given data-unit length.
    pub fn emit(&self, w: &mut Writer<'_>, data_len: u16) -> Result<()> {
        w.bytes(&self.edition.start())?;
        w.u8(self.command.0)?;
        w.u8(self.response.0)?;
        w.bytes(&self.vin.0)?;
        w.u8(self.encryption.0)?;
        w.u16(data_len)
    }
}
