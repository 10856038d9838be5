//! A [`SimVehicle`]'s state as the data unit of a real-time report: the 2016 blocks (Tables
//! 9-19), or the 2025 blocks (T10-T24) signed with the vehicle's SM2 key (notes 2025 A1: the
//! time and blocks are signed, not the 0xFF marker). Also the vehicle's identity: VIN, ICCID,
//! login codes and its SM2 key, all derived from the fleet seed.

use anyhow::{Context, Result};
use gb32960_core::frame::RawFrame;
use gb32960_core::message::Activation;
use gb32960_core::realtime::{v2016, v2025};
use gb32960_core::security::{emit_signed_activation, emit_signed_realtime, Sm2Signer};
use gb32960_core::session::tbox::LoginCodes;
use gb32960_core::signature::{Signature, SignatureAlgorithm};
use gb32960_core::wire::{FixedStr, List, Reading, RecordList, Writer};
use gb32960_core::{Command, Edition, Header, Time};

use super::vehicle::{mix, Phase, Rng, SimVehicle, CELLS};

/// Largest data unit the simulator produces (2025 with its signature is about 380 bytes).
pub const MAX_REPORT: usize = 512;

/// The VIN of vehicle `index` (0-based): `prefix` then the 1-based number, zero-padded to 17.
pub fn vin(prefix: &str, index: u32) -> String {
    let digits = 17usize.saturating_sub(prefix.len());
    format!("{prefix}{:0digits$}", u64::from(index) + 1)
}

/// The ICCID of vehicle `index`: `8986` (China) and the number, zero-padded to 20.
pub fn iccid(index: u32) -> String {
    format!("8986{:016}", u64::from(index) + 1)
}

/// The 32-byte SM2 private key of a vehicle, derived from the fleet seed and its VIN (the same
/// on every run and machine, so a gateway or a test can be given the public keys).
pub fn signing_secret(seed: u64, vin: &str) -> [u8; 32] {
    // FNV-1a of the VIN, then SplitMix64 draws until the scalar is a valid key (1 ≤ d < n-1;
    // a retry is astronomically rare).
    let h = vin.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    });
    let mut rng = Rng::new(mix(seed, h ^ 0x534D_3200));
    loop {
        let mut secret = [0u8; 32];
        for chunk in secret.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_be_bytes());
        }
        if Sm2Signer::from_bytes(&secret).is_ok() {
            return secret;
        }
    }
}

/// The vehicle's SM2 signer (2025 reports and activation).
pub fn signer(seed: u64, vin: &str) -> Sm2Signer {
    // `signing_secret` only returns keys that `from_bytes` accepted.
    Sm2Signer::from_bytes(&signing_secret(seed, vin)).expect("a checked key")
}

/// Login codes: one rechargeable energy storage subsystem (2016: n = 1, m = 24) or one pack of
/// one BMS (2025: 24-byte pack code), made from the VIN.
pub fn login_codes(edition: Edition, vin: &str) -> LoginCodes {
    let code = format!("BAT{:0>21}", &vin[vin.len().saturating_sub(12)..]);
    let mut codes = LoginCodes::default();
    let _ = codes.codes.extend_from_slice(&code.as_bytes()[..24]);
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

/// Codes of the vehicle block shared by both editions: (vehicle state, charging state, gear).
fn states(v: &SimVehicle) -> (f64, f64, f64) {
    let vehicle_state = if v.phase == Phase::Driving { 1.0 } else { 2.0 };
    let charging = match v.phase {
        Phase::Charging => 1.0,
        _ if v.charge_complete => 4.0,
        _ => 3.0,
    };
    // Gear byte (Annex A.1): D = 0x0E with bit 5 driving force / bit 4 braking force; P = 0x0F.
    let gear = match v.phase {
        Phase::Driving => {
            let drive = if v.power_kw > 1.5 { 0x20 } else { 0 };
            let brake = if v.brake_pct() > 0.0 { 0x10 } else { 0 };
            0x0E | drive | brake
        }
        _ => 0x0F,
    };
    (vehicle_state, charging, f64::from(gear))
}

/// The general alarm flags and level of the active alarm, if any.
fn alarm_head(v: &SimVehicle) -> Result<v2016::AlarmHead> {
    use v2016::alarm::field as f;
    let mut head = v2016::AlarmHead::zeroed();
    let (level, flags) = v.alarm.map_or((0, 0), |a| (a.level, 1u32 << a.bit));
    head.set(&f::LEVEL, Reading::Valid(level.into()))?;
    head.set(&f::FLAGS, Reading::Valid(flags.into()))?;
    Ok(head)
}

/// Cell temperatures as the wire carries them (°C + 40).
fn probes_raw(v: &SimVehicle) -> Vec<u8> {
    v.probes_c.iter().map(|&t| (t + 40).clamp(0, 250) as u8).collect()
}

/// Fills the whole-vehicle fields both editions share (same offsets; 2016 adds the pedal bytes,
/// and the total current's offset is the edition's, hence `total_current`).
fn set_vehicle(record: &mut [u8], total_current: gb32960_core::wire::Field, v: &SimVehicle) -> Result<()> {
    use v2016::vehicle::field as f;
    let (vehicle_state, charging, gear) = states(v);
    for (field, value) in [
        (f::VEHICLE_STATE, vehicle_state),
        (f::CHARGING_STATE, charging),
        (f::OPERATING_MODE, 1.0),
        (f::SPEED, v.speed_kmh),
        (f::ODOMETER, v.odometer_km),
        (f::TOTAL_VOLTAGE, v.pack_voltage_v()),
        (total_current, v.current_a),
        (f::SOC, v.soc.round()),
        (f::DCDC_STATE, 1.0),
        (f::GEAR, gear),
        (f::INSULATION, v.insulation_kohm),
    ] {
        field.set(record, Reading::Valid(value))?;
    }
    Ok(())
}

/// The 2016 data unit of a real-time report: time, vehicle, motor, position, extremes, alarm,
/// RESS voltages (100 cells) and RESS temperatures (16 probes).
pub fn data_unit_2016(v: &SimVehicle, time: Time) -> Result<Vec<u8>> {
    use v2016::{Extremes, Motor, Motors, Position, RessTemperature, RessTemperatures, RessVoltage};
    use v2016::{RessVoltageHead, RessVoltages, Vehicle};
    let ok = Reading::Valid;
    let pack_v = v.pack_voltage_v();

    let mut vehicle = Vehicle::zeroed();
    {
        use v2016::vehicle::field as f;
        set_vehicle(&mut vehicle.0, f::TOTAL_CURRENT, v)?;
        vehicle.set(&f::ACCELERATOR_PEDAL, ok(v.accelerator_pct().round()))?;
        vehicle.set(&f::BRAKE_PEDAL, ok(v.brake_pct().round()))?;
    }

    let mut motor = Motor::zeroed();
    {
        use v2016::motor::field as f;
        motor.set(&f::NUMBER, ok(1.0))?;
        motor.set(&f::STATE, ok(motor_state(v)))?;
        motor.set(&f::CONTROLLER_TEMP, ok(v.controller_temp_c.round()))?;
        motor.set(&f::SPEED, ok(v.motor_rpm().round()))?;
        motor.set(&f::TORQUE, ok(v.motor_torque_nm()))?;
        motor.set(&f::TEMP, ok(v.motor_temp_c.round()))?;
        motor.set(&f::CONTROLLER_VOLTAGE, ok(pack_v))?;
        let motor_current = if v.phase == Phase::Driving { v.current_a } else { 0.0 };
        motor.set(&f::CONTROLLER_CURRENT, ok(motor_current))?;
    }
    let motors = [motor];

    let mut position = Position::zeroed();
    {
        use v2016::position::field as f;
        position.set(&f::STATUS, ok(position_status(v)))?;
        position.set(&f::LONGITUDE, ok(v.longitude.abs()))?;
        position.set(&f::LATITUDE, ok(v.latitude.abs()))?;
    }

    let mut extremes = Extremes::zeroed();
    {
        use v2016::extremes::field as f;
        let (max_cell, min_cell) = extreme_indices(&v.cells_mv);
        let (max_probe, min_probe) = extreme_indices(&v.probes_c);
        extremes.set(&f::MAX_V_SUBSYSTEM, ok(1.0))?;
        extremes.set(&f::MAX_V_CELL, ok(max_cell as f64 + 1.0))?;
        extremes.set(&f::MAX_V, ok(f64::from(v.cells_mv[max_cell]) / 1000.0))?;
        extremes.set(&f::MIN_V_SUBSYSTEM, ok(1.0))?;
        extremes.set(&f::MIN_V_CELL, ok(min_cell as f64 + 1.0))?;
        extremes.set(&f::MIN_V, ok(f64::from(v.cells_mv[min_cell]) / 1000.0))?;
        extremes.set(&f::MAX_T_SUBSYSTEM, ok(1.0))?;
        extremes.set(&f::MAX_T_PROBE, ok(max_probe as f64 + 1.0))?;
        extremes.set(&f::MAX_T, ok(f64::from(v.probes_c[max_probe])))?;
        extremes.set(&f::MIN_T_SUBSYSTEM, ok(1.0))?;
        extremes.set(&f::MIN_T_PROBE, ok(min_probe as f64 + 1.0))?;
        extremes.set(&f::MIN_T, ok(f64::from(v.probes_c[min_probe])))?;
    }

    let faults: Vec<u32> = v.alarm.map(|a| a.fault_code).into_iter().collect();
    let alarm = v2016::Alarm {
        head: alarm_head(v)?,
        ress_faults: Reading::Valid(List::Items(&faults)),
        motor_faults: Reading::Valid(List::Items(&[])),
        engine_faults: Reading::Valid(List::Items(&[])),
        other_faults: Reading::Valid(List::Items(&[])),
    };

    let mut head = RessVoltageHead::zeroed();
    {
        use v2016::ress::field as f;
        head.set(&f::NUMBER, ok(1.0))?;
        head.set(&f::VOLTAGE, ok(pack_v))?;
        head.set(&f::CURRENT, ok(v.current_a))?;
        head.set(&f::CELL_COUNT, ok(CELLS as f64))?;
        head.set(&f::FIRST_CELL, ok(1.0))?;
    }
    let voltages = [RessVoltage {
        head,
        cells: List::Items(&v.cells_mv),
    }];
    let probes = probes_raw(v);
    let temperatures = [RessTemperature {
        number: 1,
        temps: Reading::Valid(List::Items(&probes)),
    }];

    let blocks = [
        v2016::InfoBlock::Vehicle(vehicle),
        v2016::InfoBlock::Motors(Motors {
            motors: Reading::Valid(List::Items(&motors)),
        }),
        v2016::InfoBlock::Position(position),
        v2016::InfoBlock::Extremes(extremes),
        v2016::InfoBlock::Alarm(alarm),
        v2016::InfoBlock::RessVoltages(RessVoltages {
            subsystems: Reading::Valid(RecordList::Items(&voltages)),
        }),
        v2016::InfoBlock::RessTemperatures(RessTemperatures {
            subsystems: Reading::Valid(RecordList::Items(&temperatures)),
        }),
    ];
    let report = v2016::RealtimeReport {
        time,
        blocks: RecordList::Items(&blocks),
    };
    let mut buf = vec![0u8; report.wire_len()];
    report.emit(&mut Writer::new(&mut buf))?;
    Ok(buf)
}

/// The 2025 data unit of a real-time report, signed by `signer`: time, vehicle, motor,
/// position, alarm (with the general-alarm level list), pack voltages (100 units) and
/// temperatures (16 probes), then 0xFF and the SM2 signature.
pub fn data_unit_2025(v: &SimVehicle, time: Time, vin: FixedStr<17>, signer: &mut Sm2Signer) -> Result<Vec<u8>> {
    use v2025::{GeneralAlarm, Motor, Motors, PackVoltage, PackVoltageHead, PackVoltages, Position, Vehicle};
    let ok = Reading::Valid;
    let pack_v = v.pack_voltage_v();

    let mut vehicle = Vehicle::zeroed();
    set_vehicle(&mut vehicle.0, v2025::vehicle::field::TOTAL_CURRENT, v)?;

    let mut motor = Motor::zeroed();
    {
        use v2025::motor::field as f;
        motor.set(&f::NUMBER, ok(1.0))?;
        motor.set(&f::STATE, ok(motor_state(v)))?;
        motor.set(&f::CONTROLLER_TEMP, ok(v.controller_temp_c.round()))?;
        motor.set(&f::SPEED, ok(v.motor_rpm().round()))?;
        motor.set(&f::TORQUE, ok(v.motor_torque_nm()))?;
        motor.set(&f::TEMP, ok(v.motor_temp_c.round()))?;
    }
    let motors = [motor];

    let mut position = Position::zeroed();
    {
        use v2025::fixed::position_field as f;
        position.set(&f::STATUS, ok(position_status(v)))?;
        position.set(&f::COORDINATE_SYSTEM, ok(1.0))?; // WGS-84
        position.set(&f::LONGITUDE, ok(v.longitude.abs()))?;
        position.set(&f::LATITUDE, ok(v.latitude.abs()))?;
    }

    let faults: Vec<u32> = v.alarm.map(|a| a.fault_code).into_iter().collect();
    let mut general = Vec::new();
    if let Some(a) = v.alarm {
        use v2025::alarm::field as f;
        let mut g = GeneralAlarm::zeroed();
        g.set(&f::BIT, ok(a.bit.into()))?;
        g.set(&f::LEVEL, ok(a.level.into()))?;
        general.push(g);
    }
    let alarm = v2025::Alarm {
        head: alarm_head(v)?,
        ress_faults: Reading::Valid(List::Items(&faults)),
        motor_faults: Reading::Valid(List::Items(&[])),
        engine_faults: Reading::Valid(List::Items(&[])),
        other_faults: Reading::Valid(List::Items(&[])),
        general_alarms: Reading::Valid(List::Items(&general)),
    };

    let mut head = PackVoltageHead::zeroed();
    {
        use v2025::packs::pack_field as f;
        head.set(&f::NUMBER, ok(1.0))?;
        head.set(&f::VOLTAGE, ok(pack_v))?;
        head.set(&f::CURRENT, ok(v.current_a))?;
    }
    let packs = [PackVoltage {
        head,
        units: Reading::Valid(List::Items(&v.cells_mv)),
    }];
    let probes = probes_raw(v);
    let temperatures = [v2016::RessTemperature {
        number: 1,
        temps: Reading::Valid(List::Items(&probes)),
    }];

    let blocks = [
        v2025::InfoBlock::Vehicle(vehicle),
        v2025::InfoBlock::Motors(Motors {
            motors: Reading::Valid(List::Items(&motors)),
        }),
        v2025::InfoBlock::Position(position),
        v2025::InfoBlock::Alarm(alarm),
        v2025::InfoBlock::PackVoltages(PackVoltages {
            packs: Reading::Valid(RecordList::Items(&packs)),
        }),
        v2025::InfoBlock::Temperatures(v2016::RessTemperatures {
            subsystems: Reading::Valid(RecordList::Items(&temperatures)),
        }),
    ];
    let report = v2025::RealtimeReport {
        time,
        blocks: RecordList::Items(&blocks),
        signature: None,
    };
    let header = Header::command(Edition::V2025, Command::REALTIME, vin);
    let mut buf = [0u8; gb32960_core::HEADER_LEN + MAX_REPORT + 1];
    let n = emit_signed_realtime(&header, &report, signer, &mut buf).context("signing a 2025 report")?;
    Ok(RawFrame::parse(&buf[..n])?.data.to_vec())
}

/// The data unit of a signed 2025 activation (0x09): time, chip ID, the SM2 public key, VIN.
pub fn activation_2025(index: u32, time: Time, vin: FixedStr<17>, signer: &mut Sm2Signer) -> Result<Vec<u8>> {
    let public = signer.public_key_wire();
    let chip = format!("SIMCHIP{:09}", u64::from(index) + 1);
    let activation = Activation {
        time,
        chip_id: FixedStr::new(&chip[chip.len() - 16..]).context("chip ID")?,
        public_key: &public,
        vin,
        signature: Signature {
            algorithm: SignatureAlgorithm::SM2,
            r: &[],
            s: &[],
        },
    };
    let header = Header::command(Edition::V2025, Command::ACTIVATION, vin);
    let mut buf = [0u8; 256];
    let n = emit_signed_activation(&header, &activation, signer, &mut buf).context("signing the activation")?;
    Ok(RawFrame::parse(&buf[..n])?.data.to_vec())
}

/// Motor state code: 1 consuming, 2 generating, 4 ready (standing), 3 off.
fn motor_state(v: &SimVehicle) -> f64 {
    match v.phase {
        Phase::Driving if v.motor_torque_nm() < 0.0 => 2.0,
        Phase::Driving if v.speed_kmh > 0.5 => 1.0,
        Phase::Driving => 4.0,
        _ => 3.0,
    }
}

/// Position status bits: fix valid (bit 0 clear), south (bit 1), west (bit 2).
fn position_status(v: &SimVehicle) -> f64 {
    let south = if v.latitude < 0.0 { 0x02 } else { 0 };
    let west = if v.longitude < 0.0 { 0x04 } else { 0 };
    f64::from(south | west)
}

/// Indices of the largest and the smallest value (the first of equals).
fn extreme_indices<T: PartialOrd + Copy>(values: &[T]) -> (usize, usize) {
    let mut max = 0;
    let mut min = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[max] {
            max = i;
        }
        if *v < values[min] {
            min = i;
        }
    }
    (max, min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gb32960_core::message::Body;
    use gb32960_core::security::{verify_frame, Verification};

    fn time() -> Time {
        Time::from_unix(1_716_163_200).unwrap()
    }

    #[test]
    fn identities_are_seventeen_and_twenty_characters() {
        assert_eq!(vin("LGBSIM", 0), "LGBSIM00000000001");
        assert_eq!(vin("LGBSIM", 41), "LGBSIM00000000042");
        assert_eq!(iccid(0), "89860000000000000001");
        let codes = login_codes(Edition::V2016, "LGBSIM00000000001");
        assert_eq!(codes.codes.len(), 24);
    }

    #[test]
    fn both_editions_round_trip_through_the_decoder() {
        let mut v = SimVehicle::new(3, 0);
        v.step(1.0);
        let data = data_unit_2016(&v, time()).unwrap();
        let header = Header::command(
            Edition::V2016,
            Command::REALTIME,
            FixedStr::new("LGBSIM00000000001").unwrap(),
        );
        let raw = RawFrame { header, data: &data };
        let mut frame = vec![0; raw.wire_len()];
        raw.emit(&mut frame).unwrap();
        let parsed = gb32960_core::Frame::parse(&frame).unwrap();
        let Body::Realtime(r) = parsed.body else {
            panic!("{parsed:?}")
        };
        assert_eq!(r.iter().count(), 7);

        let id = FixedStr::new("LGBSIM00000000001").unwrap();
        let mut signer = signer(3, "LGBSIM00000000001");
        let data = data_unit_2025(&v, time(), id, &mut signer).unwrap();
        let raw = RawFrame {
            header: Header::command(Edition::V2025, Command::REISSUE, id),
            data: &data,
        };
        let mut frame = vec![0; raw.wire_len()];
        raw.emit(&mut frame).unwrap();
        let parsed = gb32960_core::Frame::parse(&frame).unwrap();
        let Body::Realtime2025(r) = parsed.body else {
            panic!("{parsed:?}")
        };
        assert_eq!(r.iter().count(), 6);
        let key = signer.verifying_key();
        assert_eq!(
            verify_frame(&RawFrame::parse(&frame).unwrap(), Some(&key)),
            Some(Verification::Valid)
        );
        assert_eq!(
            signing_secret(3, "LGBSIM00000000001"),
            signing_secret(3, "LGBSIM00000000001")
        );
        assert_ne!(
            signing_secret(3, "LGBSIM00000000001"),
            signing_secret(4, "LGBSIM00000000001")
        );
    }
}
