//! 0x82 terminal control (2016 Tables B.14-B.17; 2025 T B.10-B.13).

use crate::error::{Error, Result};
use crate::wire::{array, be_u8, offset_in, Time, Writer};

/// The remote-upgrade parameter list (command 0x01), in the Table B.16 order (as EMQX and C
/// firmware structs use it; Table B.15 lists the URL first). Parsed positionally (notes §5.8.4):
/// variable strings up to `;`, binary fields by their size, because a port of 59 is `00 3B`
/// and a naive split on `;` breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UpgradeFields<'a> {
    /// Dial-up access point name (APN).
    pub apn: &'a [u8],
    /// Dial-up username.
    pub username: &'a [u8],
    /// Dial-up password.
    pub password: &'a [u8],
    /// Upgrade server address, 6 bytes (IPv4: the first two are zero).
    pub address: [u8; 6],
    /// Upgrade server port.
    pub port: u16,
    /// Terminal manufacturer ID (4 characters).
    pub manufacturer: [u8; 4],
    /// Hardware version (5 characters).
    pub hardware_version: [u8; 5],
    /// Firmware version (5 characters).
    pub firmware_version: [u8; 5],
    /// Upgrade URL.
    pub url: &'a [u8],
    /// Time limit for connecting to the upgrade server, minutes.
    pub connect_timeout_min: u16,
}

impl<'a> UpgradeFields<'a> {
    fn parse(p: &'a [u8]) -> Option<Self> {
        fn text(i: &[u8]) -> Option<(&[u8], &[u8])> {
            let n = i.iter().position(|&b| b == b';')?;
            Some((&i[n + 1..], &i[..n]))
        }
        fn fixed<const N: usize>(i: &[u8]) -> Option<(&[u8], [u8; N])> {
            let (rest, v) = array::<N>(i).ok()?;
            let rest = rest.strip_prefix(b";")?;
            Some((rest, v))
        }
        let (i, apn) = text(p)?;
        let (i, username) = text(i)?;
        let (i, password) = text(i)?;
        let (i, address) = fixed::<6>(i)?;
        let (i, port) = fixed::<2>(i)?;
        let (i, manufacturer) = fixed::<4>(i)?;
        let (i, hardware_version) = fixed::<5>(i)?;
        let (i, firmware_version) = fixed::<5>(i)?;
        let (i, url) = text(i)?;
        let timeout: [u8; 2] = i.try_into().ok()?;
        Some(UpgradeFields {
            apn,
            username,
            password,
            address,
            port: u16::from_be_bytes(port),
            manufacturer,
            hardware_version,
            firmware_version,
            url,
            connect_timeout_min: u16::from_be_bytes(timeout),
        })
    }

    fn wire_len(&self) -> usize {
        self.apn.len() + self.username.len() + self.password.len() + self.url.len() + 6 + 2 + 4 + 5 + 5 + 2 + 9
    }

    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        for s in [self.apn, self.username, self.password, self.url] {
            if s.contains(&b';') {
                return Err(Error::Unencodable {
                    what: "upgrade field containing ';'",
                });
            }
        }
        for s in [self.apn, self.username, self.password] {
            w.bytes(s)?;
            w.u8(b';')?;
        }
        w.bytes(&self.address)?;
        w.u8(b';')?;
        w.u16(self.port)?;
        w.u8(b';')?;
        w.bytes(&self.manufacturer)?;
        w.u8(b';')?;
        w.bytes(&self.hardware_version)?;
        w.u8(b';')?;
        w.bytes(&self.firmware_version)?;
        w.u8(b';')?;
        w.bytes(self.url)?;
        w.u8(b';')?;
        w.u16(self.connect_timeout_min)
    }
}

/// The parameters of a remote-upgrade command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Upgrade<'a> {
    /// The Table B.16 field list.
    Fields(UpgradeFields<'a>),
    /// Bytes that do not follow Table B.16 (e.g. the B.15 order of JT/T 808-derived firmware),
    /// kept raw.
    Unparsed(&'a [u8]),
}

/// A terminal control command (Table B.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ControlCommand<'a> {
    /// 0x01 remote upgrade.
    Upgrade(Upgrade<'a>),
    /// 0x02 terminal shutdown.
    Shutdown,
    /// 0x03 terminal reset (reboot).
    Reset,
    /// 0x04 factory reset.
    FactoryReset,
    /// 0x05 disconnect the data link.
    Disconnect,
    /// 0x06 terminal alarm/warning: level (0 none, 1-3, 2025 also 4; 0xFF invalid) and a message
    /// that runs to the end of the data unit.
    Alarm { level: u8, message: &'a [u8] },
    /// 0x07 start the sampling-monitoring link.
    StartSampling,
    /// Any other command ID (0x00, reserved, user-defined 0x80-0xFE), or a known ID with
    /// parameters the standard does not give it; parameters kept raw.
    Other { id: u8, params: &'a [u8] },
}

impl ControlCommand<'_> {
    /// The command ID.
    pub const fn id(&self) -> u8 {
        match self {
            ControlCommand::Upgrade(_) => 0x01,
            ControlCommand::Shutdown => 0x02,
            ControlCommand::Reset => 0x03,
            ControlCommand::FactoryReset => 0x04,
            ControlCommand::Disconnect => 0x05,
            ControlCommand::Alarm { .. } => 0x06,
            ControlCommand::StartSampling => 0x07,
            ControlCommand::Other { id, .. } => *id,
        }
    }

    /// A stable snake_case name.
    pub const fn name(&self) -> &'static str {
        match self.id() {
            0x01 => "remote_upgrade",
            0x02 => "shutdown",
            0x03 => "reset",
            0x04 => "factory_reset",
            0x05 => "disconnect",
            0x06 => "alarm",
            0x07 => "start_sampling",
            0x80..=0xFE => "user_defined",
            _ => "reserved",
        }
    }
}

/// 0x82 terminal control: time, one command and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TerminalControl<'a> {
    /// Command time.
    pub time: Time,
    /// The command.
    pub command: ControlCommand<'a>,
}

impl<'a> TerminalControl<'a> {
    /// Parses the data unit.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let err = |rest: &[u8]| Error::Malformed {
            what: "terminal control",
            offset: offset_in(data, rest),
        };
        let (i, time) = array::<6>(data).map_err(|_| err(data))?;
        let (params, id) = be_u8(i).map_err(|_| err(i))?;
        let command = match (id, params) {
            (0x01, p) => ControlCommand::Upgrade(UpgradeFields::parse(p).map_or(Upgrade::Unparsed(p), Upgrade::Fields)),
            (0x02, []) => ControlCommand::Shutdown,
            (0x03, []) => ControlCommand::Reset,
            (0x04, []) => ControlCommand::FactoryReset,
            (0x05, []) => ControlCommand::Disconnect,
            (0x06, [level, message @ ..]) => ControlCommand::Alarm { level: *level, message },
            (0x07, []) => ControlCommand::StartSampling,
            (id, params) => ControlCommand::Other { id, params },
        };
        Ok(TerminalControl {
            time: Time(time),
            command,
        })
    }

    /// Bytes on the wire.
    pub fn wire_len(&self) -> usize {
        7 + match self.command {
            ControlCommand::Upgrade(Upgrade::Fields(f)) => f.wire_len(),
            ControlCommand::Upgrade(Upgrade::Unparsed(p)) => p.len(),
            ControlCommand::Alarm { message, .. } => 1 + message.len(),
            ControlCommand::Other { params, .. } => params.len(),
            _ => 0,
        }
    }

    /// Appends the data unit.
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.time.0)?;
        w.u8(self.command.id())?;
        match self.command {
            ControlCommand::Upgrade(Upgrade::Fields(f)) => f.emit(w),
            ControlCommand::Upgrade(Upgrade::Unparsed(p)) => w.bytes(p),
            ControlCommand::Alarm { level, message } => {
                w.u8(level)?;
                w.bytes(message)
            }
            ControlCommand::Other { params, .. } => w.bytes(params),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_with_semicolon_in_binary_port_parses_positionally() {
        let mut p = std::vec::Vec::new();
        p.extend_from_slice(b"cmnet;;;");
        p.extend_from_slice(&[0, 0, 10, 0, 0, 1, b';', 0x00, 0x3B, b';']); // port 59 = 00 3B
        p.extend_from_slice(b"ABCD;HW1.0;FW2.1;ftp://x/f.bin;");
        p.extend_from_slice(&[0x00, 0x1E]);
        let f = UpgradeFields::parse(&p).expect("parses");
        assert_eq!(f.port, 59);
        assert_eq!(f.url, b"ftp://x/f.bin");
        assert_eq!(f.connect_timeout_min, 30);
        assert_eq!(f.wire_len(), p.len());
    }
}
