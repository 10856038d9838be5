//! 2025 (feature `edition-2025`): the device's SM2 signatures.
//!
//! A 2025 terminal activates (0x09) with the public half of its SM2 key, which the platform
//! verifies and keeps, then signs every real-time report (notes 2025 A1: the time and blocks,
//! not the 0xFF marker). The signature is made when a report is sampled and travels with it:
//! the machine stores the signed data unit for reissue and sends it again unchanged (0x03).
//!
//! The signer here is the core's software [`Sm2Signer`] (deterministic nonces, no RNG, no
//! allocator) over the key the build was given (`TBOX_SM2_KEY`); a T-Box with a security chip
//! would implement [`gb32960_core::security::Signer`] over the chip instead.

use core::ops::Range;

use gb32960_core::message::Activation;
use gb32960_core::realtime::v2025::RealtimeReport;
use gb32960_core::security::{emit_signed_activation, emit_signed_realtime, Error, Sm2Signer};
use gb32960_core::signature::{Signature, SignatureAlgorithm};
use gb32960_core::wire::FixedStr;
use gb32960_core::{Command, Edition, Header, Time, HEADER_LEN};

use crate::config::DeviceConfig;

/// Largest signed data unit: what the machine keeps of a report ([`crate::app::REPORT_SLOT`]).
const SIGNED_MAX: usize = crate::app::REPORT_SLOT;
/// A frame with a signed data unit: header, data unit, BCC.
pub const SIGNED_FRAME: usize = HEADER_LEN + SIGNED_MAX + 1;

/// The device's signing identity: its SM2 key, chip ID and VIN.
pub struct Signing {
    signer: Sm2Signer,
    chip_id: FixedStr<16>,
    vin: FixedStr<17>,
}

impl core::fmt::Debug for Signing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Signing")
            .field("vin", &self.vin)
            .finish_non_exhaustive()
    }
}

impl Signing {
    /// The identity of `device`; `None` without a (valid) key.
    pub fn new(device: &DeviceConfig) -> Option<Self> {
        let signer = Sm2Signer::from_bytes(&device.sm2_key?).ok()?;
        Some(Signing {
            signer,
            chip_id: device.chip_id,
            vin: device.vin,
        })
    }

    /// The public key as the activation carries it (`X ‖ Y`).
    pub fn public_key(&self) -> [u8; 64] {
        self.signer.public_key_wire()
    }

    /// Signs the unsigned 2025 data unit `unsigned` (time and blocks): writes a real-time frame
    /// with the signed data unit into `frame` and returns where the data unit is in it.
    pub fn sign_report(&mut self, unsigned: &[u8], frame: &mut [u8]) -> Result<Range<usize>, Error> {
        let report = RealtimeReport::parse(unsigned)?;
        let header = Header::command(Edition::V2025, Command::REALTIME, self.vin);
        let n = emit_signed_realtime(&header, &report, &mut self.signer, frame)?;
        Ok(HEADER_LEN..n - 1)
    }

    /// Writes a signed activation frame (time, chip ID, public key, VIN, signature) into
    /// `frame` and returns where its data unit is.
    pub fn activation(&mut self, time: Time, frame: &mut [u8]) -> Result<Range<usize>, Error> {
        let public_key = self.public_key();
        let activation = Activation {
            time,
            chip_id: self.chip_id,
            public_key: &public_key,
            vin: self.vin,
            signature: Signature {
                algorithm: SignatureAlgorithm::SM2,
                r: &[],
                s: &[],
            },
        };
        let header = Header::command(Edition::V2025, Command::ACTIVATION, self.vin);
        let n = emit_signed_activation(&header, &activation, &mut self.signer, frame)?;
        Ok(HEADER_LEN..n - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gb32960_core::message::Body;
    use gb32960_core::security::{verify_frame, Verification};
    use gb32960_core::RawFrame;

    use crate::vehicle::{SimulatedVehicle, VehicleSource};

    #[test]
    fn signed_reports_and_the_activation_verify() {
        let mut device = DeviceConfig::from_build_env(*b"TEST1", "gateway.test");
        assert!(Signing::new(&DeviceConfig {
            sm2_key: None,
            ..device.clone()
        })
        .is_none());
        device.sm2_key = Some([7; 32]);
        let mut signing = Signing::new(&device).unwrap();
        let time = Time::from_unix(1_760_000_000).unwrap();
        let mut frame = [0u8; SIGNED_FRAME];

        let range = signing.activation(time, &mut frame).unwrap();
        let n = range.end + 1;
        let raw = RawFrame::parse(&frame[..n]).unwrap();
        assert_eq!(verify_frame(&raw, None), Some(Verification::Valid));
        let Body::Activation(a) = gb32960_core::Frame::parse(&frame[..n]).unwrap().body else {
            panic!("not an activation")
        };
        assert_eq!(a.public_key, &signing.public_key()[..]);
        assert_eq!(a.chip_id, device.chip_id);

        let mut unsigned = [0u8; SIGNED_MAX];
        let len = SimulatedVehicle::new()
            .report(Edition::V2025, time, &mut unsigned)
            .unwrap();
        let range = signing.sign_report(&unsigned[..len], &mut frame).unwrap();
        assert!(range.len() <= crate::boot::STORE_SLOT, "{} bytes", range.len());
        assert_eq!(&frame[range.start..range.start + len], &unsigned[..len]);
        let key =
            gb32960_core::security::VerifyingKey::from_wire(SignatureAlgorithm::SM2, &signing.public_key()).unwrap();
        let raw = RawFrame::parse(&frame[..range.end + 1]).unwrap();
        assert_eq!(verify_frame(&raw, Some(&key)), Some(Verification::Valid));
    }
}
