//! The device's identity and factory settings.
//!
//! A production T-Box reads these from its provisioning data; the boards here take them from
//! environment variables at build time ([`DeviceConfig::from_build_env`]), which is how
//! `cargo xtask qemu-test` gives each build its VIN and gateway. What only the board knows (its
//! hardware version, and the gateway to dial when none was given) it passes in.

use gb32960_core::session::params::Parameters;
use gb32960_core::session::tbox::{LoginCodes, TboxConfig};
use gb32960_core::wire::FixedStr;
use gb32960_core::Edition;

/// VIN used when `TBOX_VIN` is not set at build time.
pub const DEFAULT_VIN: &str = "LTBOXQEMU00000001";
/// ICCID used when `TBOX_ICCID` is not set.
pub const DEFAULT_ICCID: &str = "89860000000000000001";
/// Gateway port used when `TBOX_GATEWAY_PORT` is not set.
pub const DEFAULT_GATEWAY_PORT: u16 = 32960;

/// What the firmware knows about itself before it has ever talked to a platform.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// The edition spoken: 2016, or 2025 with feature `edition-2025`.
    pub edition: Edition,
    /// The vehicle's VIN; with TLS, also the CN of the device certificate.
    pub vin: FixedStr<17>,
    /// The SIM's ICCID.
    pub iccid: FixedStr<20>,
    /// Factory platform domain (parameter 0x05): a host name or a dotted IPv4 address.
    pub gateway_host: &'static str,
    /// Factory platform port (parameter 0x06).
    pub gateway_port: u16,
    /// Factory report period, s (parameter 0x02).
    pub report_period_s: u16,
    /// Factory heartbeat period, s (parameter 0x09).
    pub heartbeat_s: u8,
    /// Factory wait for the platform's answers, s (parameter 0x0A, 1-600).
    pub response_timeout_s: u16,
    /// Hardware version (parameter 0x07).
    pub hardware_version: [u8; 5],
    /// 2025: the SM2 private key (32 bytes, big-endian) that signs the activation and every
    /// report, from `TBOX_SM2_KEY` (64 hex digits). A real T-Box keeps it in its security chip;
    /// `cargo xtask qemu-test` makes a throwaway one per run. `None`: nothing can be signed.
    pub sm2_key: Option<[u8; 32]>,
    /// 2025: the security chip's ID the activation carries (16 characters): `CHIP` and the
    /// VIN's last 12 characters.
    pub chip_id: FixedStr<16>,
}

/// The firmware version reported as parameter 0x08: `FW` and the crate's `major.minor`.
pub const FIRMWARE_VERSION: [u8; 5] = firmware_version(env!("CARGO_PKG_VERSION").as_bytes());

const fn firmware_version(v: &[u8]) -> [u8; 5] {
    // "0.1.0" -> "FW0.1"; fixed five bytes whatever the version string.
    let mut out = *b"FW0.0";
    if v.len() >= 3 {
        out[2] = v[0];
        out[3] = v[1];
        out[4] = v[2];
    }
    out
}

impl DeviceConfig {
    /// The configuration of a board with hardware version `hardware_version` (parameter 0x07),
    /// from build-time environment variables (`TBOX_VIN`, `TBOX_ICCID`, `TBOX_GATEWAY_HOST`,
    /// `TBOX_GATEWAY_PORT`, `TBOX_REPORT_PERIOD_S`, `TBOX_RESPONSE_TIMEOUT_S`, `TBOX_SM2_KEY`),
    /// with defaults; the edition is 2025 with feature `edition-2025`, else 2016;
    /// the gateway's is the board's `default_gateway_host`. A value that does not fit falls
    /// back to its default.
    pub fn from_build_env(hardware_version: [u8; 5], default_gateway_host: &'static str) -> Self {
        let vin = option_env!("TBOX_VIN").and_then(FixedStr::new);
        let iccid = option_env!("TBOX_ICCID").and_then(FixedStr::new);
        let port = option_env!("TBOX_GATEWAY_PORT").and_then(|p| p.parse().ok());
        let period = option_env!("TBOX_REPORT_PERIOD_S").and_then(|p| p.parse().ok());
        let answer_wait = option_env!("TBOX_RESPONSE_TIMEOUT_S").and_then(|p| p.parse().ok());
        let vin = vin
            .or_else(|| FixedStr::new(DEFAULT_VIN))
            .unwrap_or(FixedStr([b'0'; 17]));
        DeviceConfig {
            edition: if cfg!(feature = "edition-2025") {
                Edition::V2025
            } else {
                Edition::V2016
            },
            vin,
            iccid: iccid
                .or_else(|| FixedStr::new(DEFAULT_ICCID))
                .unwrap_or(FixedStr([b'0'; 20])),
            gateway_host: option_env!("TBOX_GATEWAY_HOST").unwrap_or(default_gateway_host),
            gateway_port: port.unwrap_or(DEFAULT_GATEWAY_PORT),
            report_period_s: period.filter(|p| (1..=600).contains(p)).unwrap_or(10),
            heartbeat_s: 30,
            response_timeout_s: answer_wait.filter(|s| (1..=600).contains(s)).unwrap_or(30),
            hardware_version,
            sm2_key: option_env!("TBOX_SM2_KEY").and_then(parse_key),
            chip_id: chip_id(vin.trimmed()),
        }
    }

    /// The parameters of a device that has never been configured (and what factory reset
    /// keeps of them: the core keeps the domains and ports).
    pub fn factory_params(&self) -> Parameters {
        let mut p = Parameters::defaults(self.edition);
        p.report_period_s = self.report_period_s;
        p.heartbeat_period_s = self.heartbeat_s;
        p.terminal_response_timeout_s = self.response_timeout_s;
        p.hardware_version = self.hardware_version;
        p.firmware_version = FIRMWARE_VERSION;
        p.platform_domain = heapless::Vec::from_slice(self.gateway_host.as_bytes()).unwrap_or_default();
        p.platform_port = self.gateway_port;
        p
    }

    /// The session configuration: the edition's recommended timings, our identity and one
    /// battery pack code derived from the VIN.
    pub fn tbox_config(&self) -> TboxConfig {
        let mut c = TboxConfig::new(self.edition, self.vin, self.iccid);
        c.login_codes = login_codes(self.edition, self.vin.trimmed());
        c
    }
}

/// 32 bytes from 64 hex digits.
pub fn parse_key(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    let mut key = [0u8; 32];
    for (k, pair) in key.iter_mut().zip(hex.chunks(2)) {
        *k = u8::try_from(digit(pair[0])? << 4 | digit(pair[1])?).ok()?;
    }
    Some(key)
}

/// The chip ID of a device without a security chip to ask: `CHIP` and the VIN's last 12
/// characters, zero-padded.
pub fn chip_id(vin: &[u8]) -> FixedStr<16> {
    let mut id = [b'0'; 16];
    id[..4].copy_from_slice(b"CHIP");
    let tail = &vin[vin.len().saturating_sub(12)..];
    id[16 - tail.len()..].copy_from_slice(tail);
    FixedStr(id)
}

/// Login codes: one rechargeable energy storage subsystem with a 24-byte code (2016: n = 1,
/// m = 24; 2025: one pack of one BMS): `BAT` and the VIN's last 12 characters, zero-padded.
pub fn login_codes(edition: Edition, vin: &[u8]) -> LoginCodes {
    let mut code = [b'0'; 24];
    code[..3].copy_from_slice(b"BAT");
    let tail = &vin[vin.len().saturating_sub(12)..];
    code[24 - tail.len()..].copy_from_slice(tail);
    let mut codes = LoginCodes::default();
    let _ = codes.codes.extend_from_slice(&code);
    match edition {
        Edition::V2016 => {
            codes.subsystem_count = 1;
            codes.code_len = 24;
        }
        Edition::V2025 => {
            let _ = codes.packs_per_bms.push(1);
        }
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_derived_values() {
        let c = DeviceConfig::from_build_env(*b"TEST1", "gateway.test");
        assert_eq!(c.vin.trimmed().len(), 17);
        let p = c.factory_params();
        assert_eq!(p.platform_port, c.gateway_port);
        assert_eq!(p.hardware_version, *b"TEST1");
        assert_eq!(&p.firmware_version[..2], b"FW");
        let codes = login_codes(Edition::V2016, b"LTBOXQEMU00000001");
        assert_eq!(&codes.codes[..], b"BAT000000000QEMU00000001");
        assert_eq!((codes.subsystem_count, codes.code_len), (1, 24));
        assert_eq!(&chip_id(b"LTBOXQEMU00000001").0, b"CHIPQEMU00000001");
        let key = parse_key(&"0aF1".repeat(16)).unwrap();
        assert_eq!(&key[..3], &[0x0A, 0xF1, 0x0A]);
        assert!(parse_key("0a").is_none() && parse_key(&"zz".repeat(32)).is_none());
    }
}
