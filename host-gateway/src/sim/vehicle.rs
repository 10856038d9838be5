//! A simulated electric vehicle: deterministic from the seed and its index, stepped in (real)
//! seconds. It drives (speed, odometer and position change, SOC falls), parks, charges (SOC
//! rises, current negative), heats its 100 cells and 16 probes, and now and then raises an
//! alarm. [`super::report`] turns a state into the information blocks of either edition.

/// Cells in series (one RESS subsystem / one pack).
pub const CELLS: usize = 100;
/// Temperature probes.
pub const PROBES: usize = 16;
/// Pack capacity, ampere-hours (~60 kWh at 370 V).
const CAPACITY_AH: f64 = 160.0;
/// Cell internal resistance, ohms.
const CELL_OHMS: f64 = 0.0012;
/// Motor revolutions per minute per km/h (wheel radius 0.33 m, reduction 9.7).
const RPM_PER_KMH: f64 = 78.0;

/// SplitMix64: a tiny, fast generator whose output never changes between crate versions, so
/// that a seed means the same fleet everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Roughly normal (sum of uniforms), mean 0, standard deviation `sd`.
    pub fn noise(&mut self, sd: f64) -> f64 {
        (self.unit() + self.unit() + self.unit() - 1.5) * 2.0 * sd
    }
}

/// Mixes a seed with a number (vehicle index, purpose) into a generator seed.
pub fn mix(seed: u64, n: u64) -> u64 {
    Rng::new(seed ^ n.wrapping_mul(0xD6E8_FEB8_6659_FD93)).next_u64()
}

/// What the vehicle is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Driving,
    Parked,
    Charging,
}

/// An active alarm: a general-flag bit of Table 18 / T24 and its level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActiveAlarm {
    pub bit: u8,
    pub level: u8,
    /// A fault code listed with it (RESS faults).
    pub fault_code: u32,
    remaining_s: f64,
}

/// The alarms the simulator raises at random: (flag bit, level).
const RANDOM_ALARMS: [(u8, u8); 4] = [(0, 1), (1, 2), (10, 1), (11, 2)];
/// Bit 4 of the general flags: SOC low.
const SOC_LOW_BIT: u8 = 4;

/// Where fleets start: a few Chinese cities (latitude, longitude).
const CITIES: [(f64, f64); 6] = [
    (39.9042, 116.4074),
    (31.2304, 121.4737),
    (22.5431, 114.0579),
    (30.5728, 104.0668),
    (30.5928, 114.3055),
    (30.2741, 120.1551),
];

/// The simulated vehicle's state.
#[derive(Debug, Clone)]
pub struct SimVehicle {
    rng: Rng,
    pub phase: Phase,
    phase_left_s: f64,
    charge_target: f64,
    /// Charging finished and the vehicle has not moved since.
    pub charge_complete: bool,
    pub speed_kmh: f64,
    target_kmh: f64,
    /// Speed change over the last step, km/h per second.
    pub accel_kmh_s: f64,
    pub odometer_km: f64,
    /// State of charge, %.
    pub soc: f64,
    /// Pack current, A: positive while discharging, negative while charging.
    pub current_a: f64,
    /// Power drawn from the pack, kW (negative: charging or regenerating).
    pub power_kw: f64,
    pub latitude: f64,
    pub longitude: f64,
    heading_deg: f64,
    cell_offset_v: [f64; CELLS],
    /// Cell voltages, mV.
    pub cells_mv: [u16; CELLS],
    probe_offset_c: [f64; PROBES],
    /// Probe temperatures, °C.
    pub probes_c: [i16; PROBES],
    ambient_c: f64,
    pack_temp_c: f64,
    pub motor_temp_c: f64,
    pub controller_temp_c: f64,
    pub insulation_kohm: f64,
    pub alarm: Option<ActiveAlarm>,
}

impl SimVehicle {
    /// Vehicle `index` of the fleet of `seed`.
    pub fn new(seed: u64, index: u32) -> Self {
        let mut rng = Rng::new(mix(seed, u64::from(index) + 1));
        let (lat, lon) = CITIES[(rng.next_u64() % CITIES.len() as u64) as usize];
        let soc = rng.range(25.0, 95.0);
        let phase = match rng.unit() {
            p if p < 0.7 => Phase::Driving,
            p if p < 0.9 || soc > 80.0 => Phase::Parked,
            _ => Phase::Charging,
        };
        let ambient_c = rng.range(5.0, 30.0);
        let mut cell_offset_v = [0.0; CELLS];
        for o in cell_offset_v.iter_mut() {
            *o = rng.noise(0.004);
        }
        let mut probe_offset_c = [0.0; PROBES];
        for o in probe_offset_c.iter_mut() {
            *o = rng.noise(1.0);
        }
        let mut v = SimVehicle {
            phase,
            phase_left_s: rng.range(300.0, 1800.0),
            charge_target: rng.range(90.0, 100.0),
            charge_complete: false,
            speed_kmh: if phase == Phase::Driving {
                rng.range(20.0, 80.0)
            } else {
                0.0
            },
            target_kmh: rng.range(30.0, 90.0),
            accel_kmh_s: 0.0,
            odometer_km: rng.range(1_000.0, 80_000.0),
            soc,
            current_a: 0.0,
            power_kw: 0.0,
            latitude: lat + rng.range(-0.2, 0.2),
            longitude: lon + rng.range(-0.2, 0.2),
            heading_deg: rng.range(0.0, 360.0),
            cell_offset_v,
            cells_mv: [0; CELLS],
            probe_offset_c,
            probes_c: [0; PROBES],
            ambient_c,
            pack_temp_c: ambient_c + rng.range(0.0, 8.0),
            motor_temp_c: ambient_c + 10.0,
            controller_temp_c: ambient_c + 5.0,
            insulation_kohm: 5_000.0,
            alarm: None,
            rng,
        };
        v.step(0.0);
        v
    }

    /// Pack voltage, V (the sum of the cells).
    pub fn pack_voltage_v(&self) -> f64 {
        self.cells_mv.iter().map(|&c| f64::from(c)).sum::<f64>() / 1000.0
    }

    /// Motor speed, r/min.
    pub fn motor_rpm(&self) -> f64 {
        self.speed_kmh * RPM_PER_KMH
    }

    /// Motor torque, N·m (negative while regenerating).
    pub fn motor_torque_nm(&self) -> f64 {
        let rpm = self.motor_rpm();
        if rpm < 50.0 || self.phase != Phase::Driving {
            return 0.0;
        }
        ((self.power_kw - 1.0) * 0.9 * 9550.0 / rpm).clamp(-400.0, 400.0)
    }

    /// Accelerator pedal travel, %.
    pub fn accelerator_pct(&self) -> f64 {
        if self.phase == Phase::Driving && self.accel_kmh_s > 0.0 {
            (15.0 + self.accel_kmh_s * 20.0).min(100.0)
        } else if self.phase == Phase::Driving && self.speed_kmh > 1.0 && self.accel_kmh_s > -0.2 {
            12.0
        } else {
            0.0
        }
    }

    /// Brake pedal travel, %.
    pub fn brake_pct(&self) -> f64 {
        if self.phase == Phase::Driving && self.accel_kmh_s < -0.5 {
            (self.accel_kmh_s.abs() * 15.0).min(100.0)
        } else {
            0.0
        }
    }

    /// Advances the simulation by `dt` seconds.
    pub fn step(&mut self, dt: f64) {
        let dt = dt.clamp(0.0, 600.0);
        self.phase_left_s -= dt;
        self.next_phase();
        let before = self.speed_kmh;
        self.power_kw = match self.phase {
            Phase::Driving => self.drive(dt),
            Phase::Parked => {
                self.speed_kmh = 0.0;
                0.3
            }
            Phase::Charging => {
                self.speed_kmh = 0.0;
                // DC fast charging that tapers above 80 %.
                let kw = if self.soc < 80.0 {
                    50.0
                } else {
                    50.0 - (self.soc - 80.0) * 2.25
                };
                -kw.max(5.0)
            }
        };
        self.accel_kmh_s = if dt > 0.0 { (self.speed_kmh - before) / dt } else { 0.0 };
        self.electrics(dt);
        self.thermals(dt);
        self.alarms(dt);
    }

    fn next_phase(&mut self) {
        match self.phase {
            Phase::Driving if self.soc < 20.0 => self.enter(Phase::Charging),
            Phase::Driving if self.phase_left_s <= 0.0 => self.enter(Phase::Parked),
            Phase::Parked if self.phase_left_s <= 0.0 => {
                if self.soc < 50.0 {
                    self.enter(Phase::Charging)
                } else {
                    self.enter(Phase::Driving)
                }
            }
            Phase::Charging if self.soc >= self.charge_target => {
                self.charge_complete = true;
                self.enter(Phase::Parked)
            }
            _ => {}
        }
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.phase_left_s = match phase {
            Phase::Driving => {
                self.charge_complete = false;
                self.rng.range(600.0, 2400.0)
            }
            Phase::Parked => self.rng.range(60.0, 600.0),
            Phase::Charging => {
                self.charge_target = self.rng.range(90.0, 100.0);
                f64::INFINITY
            }
        };
    }

    /// Speed, distance, heading and position; returns the power drawn, kW.
    fn drive(&mut self, dt: f64) -> f64 {
        // A new target every ~20 s: a stop (lights, traffic) one time in five.
        if self.rng.chance((dt / 20.0).min(1.0)) {
            self.target_kmh = if self.rng.chance(0.2) {
                0.0
            } else {
                self.rng.range(20.0, 110.0)
            };
        }
        let v0 = self.speed_kmh;
        let gap = self.target_kmh - v0;
        let dv = gap.clamp(-4.0 * dt, 2.5 * dt) + self.rng.noise(0.3) * dt.min(1.0);
        let v1 = (v0 + dv).clamp(0.0, 130.0);
        self.speed_kmh = v1;
        let km = (v0 + v1) / 2.0 * dt / 3600.0;
        self.odometer_km += km;
        self.heading_deg = (self.heading_deg + self.rng.noise(4.0) * dt.sqrt()).rem_euclid(360.0);
        let h = self.heading_deg.to_radians();
        self.latitude += km * h.cos() / 111.32;
        self.longitude += km * h.sin() / (111.32 * self.latitude.to_radians().cos());
        // Auxiliaries, rolling and air resistance, and acceleration of 1800 kg (60 % recovered
        // when slowing down).
        let v = (v0 + v1) / 2.0;
        let a = if dt > 0.0 { (v1 - v0) / 3.6 / dt } else { 0.0 };
        let inertial = 1800.0 * a * v / 3.6 / 1000.0;
        let inertial = if inertial < 0.0 { inertial * 0.6 } else { inertial };
        1.0 + 0.12 * v + 0.000_03 * v * v * v + inertial
    }

    /// Current, SOC and cell voltages.
    fn electrics(&mut self, dt: f64) {
        let ocv = 3.3 + 0.9 * self.soc / 100.0;
        self.current_a = self.power_kw * 1000.0 / (ocv * CELLS as f64);
        self.soc = (self.soc - self.current_a * dt / 3600.0 / CAPACITY_AH * 100.0).clamp(0.0, 100.0);
        let ocv = 3.3 + 0.9 * self.soc / 100.0;
        for (cell, offset) in self.cells_mv.iter_mut().zip(self.cell_offset_v) {
            let v = ocv + offset - self.current_a * CELL_OHMS + self.rng.noise(0.0015);
            *cell = (v * 1000.0).round().clamp(2500.0, 4500.0) as u16;
        }
    }

    /// Pack, probe, motor and controller temperatures (first-order lags).
    fn thermals(&mut self, dt: f64) {
        let lag = |t: f64, target: f64, tau: f64| t + (target - t) * (1.0 - (-dt / tau).exp());
        let pack_target = self.ambient_c + 0.0008 * self.current_a * self.current_a;
        self.pack_temp_c = lag(self.pack_temp_c, pack_target, 600.0);
        for (p, offset) in self.probes_c.iter_mut().zip(self.probe_offset_c) {
            *p = (self.pack_temp_c + offset + self.rng.noise(0.3)).round() as i16;
        }
        let load = self.power_kw.max(0.0);
        let driving = self.phase == Phase::Driving;
        let motor_target = self.ambient_c + if driving { 15.0 + 0.6 * load } else { 0.0 };
        self.motor_temp_c = lag(self.motor_temp_c, motor_target, 300.0);
        let controller_target = self.ambient_c + if driving { 8.0 + 0.3 * load } else { 0.0 };
        self.controller_temp_c = lag(self.controller_temp_c, controller_target, 200.0);
        self.insulation_kohm = (5_000.0 + self.rng.noise(50.0)).round();
    }

    /// Now and then an alarm for a few seconds; SOC low while below 10 %.
    fn alarms(&mut self, dt: f64) {
        if let Some(a) = &mut self.alarm {
            a.remaining_s -= dt;
            let soc_low_over = a.bit == SOC_LOW_BIT && self.soc >= 12.0;
            if (a.bit != SOC_LOW_BIT && a.remaining_s <= 0.0) || soc_low_over {
                self.alarm = None;
            }
        }
        if self.alarm.is_none() {
            if self.soc < 10.0 {
                self.alarm = Some(ActiveAlarm {
                    bit: SOC_LOW_BIT,
                    level: 1,
                    fault_code: 0x0000_0104,
                    remaining_s: f64::INFINITY,
                });
            } else if dt > 0.0 && self.rng.chance((dt / 900.0).min(1.0)) {
                let (bit, level) = RANDOM_ALARMS[(self.rng.next_u64() % RANDOM_ALARMS.len() as u64) as usize];
                self.alarm = Some(ActiveAlarm {
                    bit,
                    level,
                    fault_code: 0x0000_0100 | u32::from(bit),
                    remaining_s: self.rng.range(5.0, 30.0),
                });
            }
        }
        if let Some(a) = &self.alarm {
            if a.bit == 11 {
                // An insulation fault is a low insulation resistance.
                self.insulation_kohm = 80.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_vehicle() {
        let mut a = SimVehicle::new(7, 3);
        let mut b = SimVehicle::new(7, 3);
        for _ in 0..100 {
            a.step(1.0);
            b.step(1.0);
        }
        assert_eq!(a.cells_mv, b.cells_mv);
        assert_eq!(a.odometer_km, b.odometer_km);
        assert_ne!(SimVehicle::new(8, 3).cells_mv, SimVehicle::new(7, 3).cells_mv);
    }

    #[test]
    fn a_day_stays_plausible_and_visits_every_phase() {
        for index in 0..20 {
            let mut v = SimVehicle::new(1, index);
            let start_km = v.odometer_km;
            let mut seen = [false; 3];
            let mut alarms = 0;
            for _ in 0..(24 * 3600 / 10) {
                let odo = v.odometer_km;
                let soc = v.soc;
                let phase = v.phase;
                v.step(10.0);
                seen[v.phase as usize] = true;
                alarms += usize::from(v.alarm.is_some());
                assert!(v.odometer_km >= odo);
                assert!((0.0..=100.0).contains(&v.soc));
                assert!((0.0..=130.0).contains(&v.speed_kmh));
                match phase {
                    Phase::Charging if v.phase == Phase::Charging => assert!(v.soc >= soc),
                    Phase::Driving if v.phase == Phase::Driving => assert!(v.soc <= soc + 0.05),
                    _ => {}
                }
                let pack = v.pack_voltage_v();
                assert!((280.0..=440.0).contains(&pack), "{pack}");
                assert!(v.probes_c.iter().all(|t| (-20..=80).contains(t)), "{:?}", v.probes_c);
                assert!((18.0..54.0).contains(&v.latitude) && (73.0..136.0).contains(&v.longitude));
            }
            assert!(v.odometer_km > start_km + 50.0, "a day of driving");
            assert!(seen.iter().all(|s| *s), "vehicle {index} phases {seen:?}");
            assert!(alarms > 0, "vehicle {index} never alarmed");
        }
    }
}
