//! The oracle: what the firmware's simulated vehicle must have reported.
//!
//! Sample `k` of `tbox_firmware::vehicle::SimulatedVehicle` is a pure function of `k`, and the
//! odometer carries `k` (`100_000 + k` in 0.1 km). This is an independent copy of those
//! formulas (`tbox-firmware/src/vehicle.rs`, `Sample::at`): a stored report is checked field by
//! field, in raw wire units, against it, through the gateway's JSON (docs/json.md). In 2025 the
//! same physical values have other offsets (`Sample::raw_2025`), there is no pedal, and every
//! report must carry a signature the gateway found valid against the key the vehicle activated
//! with (`signature_check`).

use serde_json::Value;

/// Raw values of sample `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    speed: u64,
    voltage: u64,
    current: u64,
    soc: u64,
    insulation: u64,
    accelerator: u64,
    motor_speed: u64,
    motor_torque: u64,
    longitude: u64,
    latitude: u64,
}

fn sample(k: u64) -> Sample {
    let speed = (k * 37) % 1200;
    Sample {
        speed,
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

/// A stored report, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Sample index.
    pub k: u64,
    /// 2 real-time, 3 reissue.
    pub command: u8,
    /// The frame's sampling time, seconds (GMT+8 wall clock, as a count from 1970).
    pub time: i64,
}

fn block(blocks: &[Value], kind: u64) -> Result<&Value, String> {
    blocks
        .iter()
        .find(|b| b["type"].as_u64() == Some(kind))
        .ok_or_else(|| format!("no block of type {kind}"))
}

fn field(v: &Value, key: &str) -> Result<u64, String> {
    v[key].as_u64().ok_or_else(|| format!("no number `{key}`"))
}

/// Checks one item of `GET /devices/{vin}/messages` that is a report of `edition` (2016 or
/// 2025): every value must be the one sample `k` (read from the odometer) has.
pub fn report(item: &Value, edition: u16) -> Result<Report, String> {
    let command = item["command"].as_u64().ok_or("no command")? as u8;
    let frame = &item["frame"];
    if frame["edition"].as_str().and_then(|e| e.parse().ok()) != Some(edition) {
        return Err(format!("a report of edition {}, not {edition}", frame["edition"]));
    }
    let body = &frame["body"];
    let blocks = body["blocks"].as_array().ok_or("no blocks")?;
    let vehicle = block(blocks, 1)?;
    let odometer = field(vehicle, "odometer_km_raw")?;
    let k = odometer
        .checked_sub(100_000)
        .ok_or(format!("odometer {odometer} below the cycle's start"))?;
    let mut s = sample(k);
    let v2025 = edition == 2025;
    if v2025 {
        s.current += 20_000;
        s.motor_speed += 12_000;
        s.motor_torque += 180_000;
        let check = &frame["signature_check"];
        if check != "valid" {
            return Err(format!("sample {k} (command {command}): signature_check {check}"));
        }
    }
    let motor = block(blocks, 2)?["motors"].get(0).cloned().ok_or("no motor")?;
    let position = block(blocks, 5)?;
    let checks = [
        ("speed_kmh_raw", field(vehicle, "speed_kmh_raw")?, s.speed),
        ("total_voltage_v_raw", field(vehicle, "total_voltage_v_raw")?, s.voltage),
        ("total_current_a_raw", field(vehicle, "total_current_a_raw")?, s.current),
        ("soc_pct", field(vehicle, "soc_pct")?, s.soc),
        (
            "insulation_resistance_kohm",
            field(vehicle, "insulation_resistance_kohm")?,
            s.insulation,
        ),
        (
            "accelerator_pedal_pct",
            if v2025 {
                s.accelerator // no pedal bytes in 2025
            } else {
                field(vehicle, "accelerator_pedal_pct")?
            },
            s.accelerator,
        ),
        ("motor speed_rpm_raw", field(&motor, "speed_rpm_raw")?, s.motor_speed),
        ("motor torque_nm_raw", field(&motor, "torque_nm_raw")?, s.motor_torque),
        (
            "longitude_abs_deg_raw",
            field(position, "longitude_abs_deg_raw")?,
            s.longitude,
        ),
        (
            "latitude_abs_deg_raw",
            field(position, "latitude_abs_deg_raw")?,
            s.latitude,
        ),
    ];
    for (name, got, want) in checks {
        if got != want {
            return Err(format!("sample {k}: {name} is {got}, the vehicle produced {want}"));
        }
    }
    let time = body["time"].as_str().ok_or("no time")?;
    let time = parse_time(time).ok_or(format!("sample {k}: bad time {time:?}"))?;
    Ok(Report { k, command, time })
}

/// `YYYY-MM-DD HH:MM:SS` as seconds since 1970-01-01 00:00:00 of the same clock.
pub fn parse_time(s: &str) -> Option<i64> {
    let (date, clock) = s.split_once(' ')?;
    let d: Vec<i64> = date.split('-').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let c: Vec<i64> = clock.split(':').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let ([y, m, day], [hh, mm, ss]) = (d.as_slice(), c.as_slice()) else {
        return None;
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if *m <= 2 { y - 1 } else { *y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_the_oracle() {
        assert_eq!(parse_time("1970-01-01 00:00:00"), Some(0));
        assert_eq!(parse_time("2025-10-09 16:53:20"), Some(1_760_028_800));
        assert_eq!(parse_time("2025-10-09"), None);
        // Sample 7 as the firmware's unit test and `host-gateway decode` show it.
        let s = sample(7);
        assert_eq!(
            (s.speed, s.current, s.motor_speed, s.longitude),
            (259, 10_091, 22_072, 116_407_540)
        );
    }
}
