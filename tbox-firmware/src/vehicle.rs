//! Where report data comes from: the vehicle's buses on a real T-Box, a deterministic
//! simulation in tests.
//!
//! A source writes the whole data unit of a real-time report (the time, then the information
//! blocks its vehicle has), so that a fuel-cell or hybrid vehicle can add its own blocks without
//! the application knowing them. The core's block types do the encoding. A 2025 data unit is
//! written unsigned (time and blocks): the application signs it (`App`, with the device's SM2
//! key) before it hands it to the machine.

use gb32960_core::realtime::{v2016, v2025};
use gb32960_core::wire::{List, Reading, RecordList, Writer};
use gb32960_core::{Edition, Error, Time};

/// A source of real-time data.
pub trait VehicleSource {
    /// Samples the vehicle now and writes the data unit of a real-time report (`time`, then the
    /// blocks; for 2025 without the signature) for `edition` into `out`; returns its length.
    fn report(&mut self, edition: Edition, time: Time, out: &mut [u8]) -> Result<usize, Error>;

    /// Whether an alarm is active (reports then follow the alarm period, parameter 0x03).
    fn alarm_active(&self) -> bool {
        false
    }
}

/// The values of one sample of [`SimulatedVehicle`], in the 2016 wire's raw units (2025 moves
/// some offsets: [`Sample::raw_2025`]).
///
/// Every value is a function of the sample index `k` alone, so a test can compute what the
/// gateway must have received from the odometer (which carries `k`). `cargo xtask qemu-test`
/// keeps its own copy of these formulas (`xtask/src/qemu/expect.rs`) as the independent
/// oracle: change both together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Speed, 0.1 km/h.
    pub speed: u32,
    /// Odometer, 0.1 km: `100_000 + k`.
    pub odometer: u32,
    /// Total voltage, 0.1 V.
    pub voltage: u32,
    /// Total current, 0.1 A with offset 10 000 (discharging).
    pub current: u32,
    /// State of charge, %.
    pub soc: u32,
    /// Insulation resistance, kΩ.
    pub insulation: u32,
    /// Accelerator pedal, %.
    pub accelerator: u32,
    /// Motor speed, rpm with offset 20 000.
    pub motor_speed: u32,
    /// Motor torque, 0.1 N·m with offset 20 000.
    pub motor_torque: u32,
    /// Longitude, 10⁻⁶ degree.
    pub longitude: u32,
    /// Latitude, 10⁻⁶ degree.
    pub latitude: u32,
}

impl Sample {
    /// The sample with index `k`.
    pub const fn at(k: u32) -> Sample {
        let speed = (k * 37) % 1200;
        Sample {
            speed,
            odometer: 100_000 + k,
            voltage: 3_500 + k % 100,
            current: 10_000 + (k * 13) % 400,
            soc: 90 - k % 60,
            insulation: 5_000 + k % 1000,
            accelerator: k % 100,
            motor_speed: 20_000 + speed * 8,
            motor_torque: 20_000 + (k * 7) % 500,
            longitude: 116_407_400 + k * 20,
            latitude: 39_904_200 + k * 10,
        }
    }

    /// The same physical values in 2025's raw units, where only the offsets differ: the total
    /// current (3000 A, not 1000 A), the motor speed (32 000 rpm, not 20 000) and torque
    /// (20 000 N·m, not 2000 N·m, in a double word). Returns (current, motor speed, torque).
    pub const fn raw_2025(&self) -> (u32, u32, u32) {
        (
            self.current - 10_000 + 30_000,
            self.motor_speed - 20_000 + 32_000,
            self.motor_torque - 20_000 + 200_000,
        )
    }
}

/// A vehicle driving a deterministic cycle: sample `k` is [`Sample::at`]`(k)`, `k` counting
/// from 0 at boot. Reports carry the whole-vehicle, drive-motor, position, extreme-value and
/// (empty) alarm blocks of 2016: about 80 bytes; in 2025 the whole-vehicle, drive-motor,
/// position and (empty) alarm blocks, about 65 bytes before the signature.
#[derive(Debug, Default, Clone)]
pub struct SimulatedVehicle {
    next: u32,
}

impl SimulatedVehicle {
    /// A vehicle whose next sample is `k = 0`.
    pub const fn new() -> Self {
        SimulatedVehicle { next: 0 }
    }

    /// Index of the next sample.
    pub fn next_index(&self) -> u32 {
        self.next
    }
}

impl VehicleSource for SimulatedVehicle {
    fn report(&mut self, edition: Edition, time: Time, out: &mut [u8]) -> Result<usize, Error> {
        let sample = Sample::at(self.next);
        let n = match edition {
            Edition::V2016 => encode_2016(&sample, time, out)?,
            Edition::V2025 => encode_2025(&sample, time, out)?,
        };
        self.next = self.next.wrapping_add(1);
        Ok(n)
    }
}

/// The 2016 data unit of one sample.
pub fn encode_2016(s: &Sample, time: Time, out: &mut [u8]) -> Result<usize, Error> {
    use v2016::{Alarm, AlarmHead, Extremes, InfoBlock, Motor, Motors, Position, Vehicle};

    let mut vehicle = Vehicle::zeroed();
    {
        use v2016::vehicle::field as f;
        for (field, raw) in [
            (f::VEHICLE_STATE, 1),  // started
            (f::CHARGING_STATE, 3), // not charging
            (f::OPERATING_MODE, 1), // electric
            (f::SPEED, s.speed),
            (f::ODOMETER, s.odometer),
            (f::TOTAL_VOLTAGE, s.voltage),
            (f::TOTAL_CURRENT, s.current),
            (f::SOC, s.soc),
            (f::DCDC_STATE, 1),
            (f::GEAR, 0x2E), // D with driving force (Annex A.1)
            (f::INSULATION, s.insulation),
            (f::ACCELERATOR_PEDAL, s.accelerator),
            (f::BRAKE_PEDAL, 0),
        ] {
            field.set_raw(&mut vehicle.0, raw)?;
        }
    }

    let mut motor = Motor::zeroed();
    {
        use v2016::motor::field as f;
        for (field, raw) in [
            (f::NUMBER, 1),
            (f::STATE, 1), // consuming
            (f::CONTROLLER_TEMP, 40 + 45),
            (f::SPEED, s.motor_speed),
            (f::TORQUE, s.motor_torque),
            (f::TEMP, 40 + 60),
            (f::CONTROLLER_VOLTAGE, s.voltage),
            (f::CONTROLLER_CURRENT, s.current),
        ] {
            field.set_raw(&mut motor.0, raw)?;
        }
    }
    let motors = [motor];

    let mut position = Position::zeroed();
    {
        use v2016::position::field as f;
        f::STATUS.set_raw(&mut position.0, 0)?; // valid fix, north, east
        f::LONGITUDE.set_raw(&mut position.0, s.longitude)?;
        f::LATITUDE.set_raw(&mut position.0, s.latitude)?;
    }

    let mut extremes = Extremes::zeroed();
    {
        use v2016::extremes::field as f;
        let cell = s.odometer % 96;
        for (field, raw) in [
            (f::MAX_V_SUBSYSTEM, 1),
            (f::MAX_V_CELL, 1 + cell),
            (f::MAX_V, 3_700 + cell),
            (f::MIN_V_SUBSYSTEM, 1),
            (f::MIN_V_CELL, 1 + (cell + 7) % 96),
            (f::MIN_V, 3_600 + cell),
            (f::MAX_T_SUBSYSTEM, 1),
            (f::MAX_T_PROBE, 1 + cell % 16),
            (f::MAX_T, 40 + 35),
            (f::MIN_T_SUBSYSTEM, 1),
            (f::MIN_T_PROBE, 1 + (cell + 3) % 16),
            (f::MIN_T, 40 + 25),
        ] {
            field.set_raw(&mut extremes.0, raw)?;
        }
    }

    let alarm = Alarm {
        head: AlarmHead::zeroed(), // level 0, no general flags
        ress_faults: Reading::Valid(List::Items(&[])),
        motor_faults: Reading::Valid(List::Items(&[])),
        engine_faults: Reading::Valid(List::Items(&[])),
        other_faults: Reading::Valid(List::Items(&[])),
    };

    let blocks = [
        InfoBlock::Vehicle(vehicle),
        InfoBlock::Motors(Motors {
            motors: Reading::Valid(List::Items(&motors)),
        }),
        InfoBlock::Position(position),
        InfoBlock::Extremes(extremes),
        InfoBlock::Alarm(alarm),
    ];
    let report = v2016::RealtimeReport {
        time,
        blocks: RecordList::Items(&blocks),
    };
    let mut w = Writer::new(out);
    report.emit(&mut w)?;
    Ok(w.position())
}

/// The unsigned 2025 data unit of one sample (time and blocks).
pub fn encode_2025(s: &Sample, time: Time, out: &mut [u8]) -> Result<usize, Error> {
    use v2025::{Alarm, InfoBlock, Motor, Motors, Position, Vehicle};
    let (current, motor_speed, motor_torque) = s.raw_2025();

    let mut vehicle = Vehicle::zeroed();
    {
        use v2025::vehicle::field as f;
        for (field, raw) in [
            (f::VEHICLE_STATE, 1),  // started
            (f::CHARGING_STATE, 3), // not charging
            (f::OPERATING_MODE, 1), // electric
            (f::SPEED, s.speed),
            (f::ODOMETER, s.odometer),
            (f::TOTAL_VOLTAGE, s.voltage),
            (f::TOTAL_CURRENT, current),
            (f::SOC, s.soc),
            (f::DCDC_STATE, 1),
            (f::GEAR, 0x2E), // D with driving force (Annex A.1)
            (f::INSULATION, s.insulation),
        ] {
            field.set_raw(&mut vehicle.0, raw)?;
        }
    }

    let mut motor = Motor::zeroed();
    {
        use v2025::motor::field as f;
        for (field, raw) in [
            (f::NUMBER, 1),
            (f::STATE, 1), // consuming
            (f::CONTROLLER_TEMP, 40 + 45),
            (f::SPEED, motor_speed),
            (f::TORQUE, motor_torque),
            (f::TEMP, 40 + 60),
        ] {
            field.set_raw(&mut motor.0, raw)?;
        }
    }
    let motors = [motor];

    let mut position = Position::zeroed();
    {
        use v2025::fixed::position_field as f;
        f::STATUS.set_raw(&mut position.0, 0)?; // valid fix, north, east
        f::COORDINATE_SYSTEM.set_raw(&mut position.0, 1)?; // WGS-84
        f::LONGITUDE.set_raw(&mut position.0, s.longitude)?;
        f::LATITUDE.set_raw(&mut position.0, s.latitude)?;
    }

    let alarm = Alarm {
        head: v2016::AlarmHead::zeroed(), // level 0, no general flags
        ress_faults: Reading::Valid(List::Items(&[])),
        motor_faults: Reading::Valid(List::Items(&[])),
        engine_faults: Reading::Valid(List::Items(&[])),
        other_faults: Reading::Valid(List::Items(&[])),
        general_alarms: Reading::Valid(List::Items(&[])),
    };

    let blocks = [
        InfoBlock::Vehicle(vehicle),
        InfoBlock::Motors(Motors {
            motors: Reading::Valid(List::Items(&motors)),
        }),
        InfoBlock::Position(position),
        InfoBlock::Alarm(alarm),
    ];
    let report = v2025::RealtimeReport {
        time,
        blocks: RecordList::Items(&blocks),
        signature: None,
    };
    let mut w = Writer::new(out);
    report.emit(&mut w)?;
    Ok(w.position())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gb32960_core::message::Body;
    use gb32960_core::wire::FixedStr;
    use gb32960_core::{Command, Header, RawFrame};

    #[test]
    fn reports_decode_to_the_sample_values() {
        let mut v = SimulatedVehicle::new();
        let time = Time::from_unix(1_760_000_000).unwrap();
        let mut data = [0u8; 256];
        for k in 0..3u32 {
            let n = v.report(Edition::V2016, time, &mut data).unwrap();
            let vin = FixedStr::new("LTBOXQEMU00000001").unwrap();
            let raw = RawFrame {
                header: Header::command(Edition::V2016, Command::REALTIME, vin),
                data: &data[..n],
            };
            let mut frame = [0u8; 300];
            let len = raw.emit(&mut frame).unwrap();
            let parsed = gb32960_core::Frame::parse(&frame[..len]).unwrap();
            let Body::Realtime(r) = parsed.body else {
                panic!("{parsed:?}")
            };
            let blocks: std::vec::Vec<_> = r.iter().collect();
            assert_eq!(blocks.len(), 5);
            let v2016::InfoBlock::Vehicle(veh) = blocks[0] else {
                panic!()
            };
            let s = Sample::at(k);
            assert_eq!(v2016::vehicle::field::ODOMETER.raw(&veh.0), 100_000 + k);
            assert_eq!(v2016::vehicle::field::SPEED.raw(&veh.0), s.speed);
            assert_eq!(v2016::vehicle::field::TOTAL_CURRENT.raw(&veh.0), s.current);
        }
        assert_eq!(v.next_index(), 3);
    }

    #[test]
    fn reports_2025_carry_the_same_physical_values() {
        let mut v = SimulatedVehicle::new();
        let time = Time::from_unix(1_760_000_000).unwrap();
        let mut data = [0u8; 256];
        v.report(Edition::V2016, time, &mut data).unwrap();
        let n = v.report(Edition::V2025, time, &mut data).unwrap();
        assert!(n <= 80, "{n} bytes");
        let r = v2025::RealtimeReport::parse(&data[..n]).unwrap();
        assert!(r.signature.is_none());
        let blocks: std::vec::Vec<_> = r.iter().collect();
        assert_eq!(blocks.len(), 4);
        let (v2025::InfoBlock::Vehicle(veh), v2025::InfoBlock::Motors(m)) = (blocks[0], blocks[1]) else {
            panic!("{blocks:?}")
        };
        let s = Sample::at(1);
        assert_eq!(v2025::vehicle::field::ODOMETER.raw(&veh.0), 100_001);
        assert_eq!(v2025::vehicle::field::TOTAL_CURRENT.raw(&veh.0), 30_000 + 13);
        assert!(matches!(m.motors, Reading::Valid(_)), "{m:?}");
        assert_eq!(s.raw_2025(), (30_013, 32_000 + 37 * 8, 200_007));
    }

    #[test]
    fn sample_values_stay_in_their_ranges() {
        for k in 0..10_000 {
            let s = Sample::at(k);
            assert!(s.speed < 2200 && s.soc <= 100 && s.accelerator <= 100, "{k}: {s:?}");
            assert!(s.current >= 10_000 && s.motor_torque >= 20_000);
        }
    }
}
