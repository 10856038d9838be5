//! Conformance with the shared 2025 sample frames: the hand-made frames (built from the
//! standard's tables for what rtm_con cannot build or gets wrong) and the rtm_con-built ones,
//! through the published JSON, with byte-exact round trips.

use gb32960_core::Frame;
use serde_json::{json, Value};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors");

fn lines(name: &str) -> Vec<Value> {
    std::fs::read_to_string(format!("{VECTORS}/{name}"))
        .unwrap_or_else(|e| panic!("{VECTORS}/{name}: {e}"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn decode(hex_str: &str) -> Value {
    let bytes = hex::decode(hex_str).expect("hex");
    let frame = Frame::parse(&bytes).unwrap_or_else(|e| panic!("{hex_str}: {e}"));
    let mut out = vec![0; frame.wire_len()];
    let n = frame.emit(&mut out).expect("emit");
    assert_eq!(&out[..n], &bytes[..], "round trip");
    serde_json::to_value(frame).unwrap()
}

fn norm(v: &Value) -> Value {
    match v {
        Value::String(s) if s.starts_with("0x") => json!(u64::from_str_radix(&s[2..], 16).unwrap()),
        Value::Array(a) => Value::Array(a.iter().map(norm).collect()),
        other => other.clone(),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-9,
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        _ => a == b,
    }
}

#[track_caller]
fn expect_keys(ctx: &str, ours: &Value, theirs: &Value, map: &[(&str, &str)]) {
    for (t, o) in map {
        let exp = norm(theirs.get(*t).unwrap_or_else(|| panic!("{ctx}: vector lacks {t}")));
        let act = ours
            .get(*o)
            .unwrap_or_else(|| panic!("{ctx}: our JSON lacks {o}: {ours}"));
        assert!(same(act, &exp), "{ctx}.{o}: ours {act}, expected {exp}");
    }
}

fn check_block(ctx: &str, o: &Value, t: &Value) {
    let ty = norm(&t["type"]).as_u64().unwrap();
    assert_eq!(o["type"], ty, "{ctx}: type");
    match ty {
        0x01 => expect_keys(
            ctx,
            o,
            t,
            &[
                ("vehicle_state", "vehicle_state"),
                ("charging_state", "charging_state"),
                ("operating_mode", "operating_mode"),
                ("speed_kmh", "speed_kmh"),
                ("odometer_km", "odometer_km"),
                ("total_voltage_v", "total_voltage_v"),
                ("total_current_a", "total_current_a"),
                ("soc_pct", "soc_pct"),
                ("dcdc_state", "dcdc_state"),
                ("gear_byte", "gear"),
                ("gear_valid", "gear_valid"),
                ("driving_force", "driving_force"),
                ("braking_force", "braking_force"),
                ("gear", "gear_label"),
                ("insulation_resistance_kohm", "insulation_resistance_kohm"),
            ],
        ),
        0x03 => expect_keys(
            ctx,
            o,
            t,
            &[
                ("h2_max_temp_c", "h2_max_temp_c"),
                ("h2_max_temp_probe_no", "h2_max_temp_probe"),
                ("h2_max_concentration_pct_vol", "h2_max_concentration_pct"),
                ("h2_max_concentration_sensor_no", "h2_max_concentration_sensor"),
                ("h2_max_pressure_mpa", "h2_max_pressure_mpa"),
                ("h2_max_pressure_sensor_no", "h2_max_pressure_sensor"),
                ("hv_dcdc_state", "hv_dcdc_state"),
                ("h2_remaining_pct", "h2_remaining_pct"),
                ("hv_dcdc_controller_temp_c", "hv_dcdc_controller_temp_c"),
            ],
        ),
        0x05 => expect_keys(
            ctx,
            o,
            t,
            &[
                ("status_byte", "status"),
                ("fix_valid", "fix_valid"),
                ("south", "south"),
                ("west", "west"),
                ("coordinate_system", "coordinate_system"),
                ("longitude_deg", "longitude_deg"),
                ("latitude_deg", "latitude_deg"),
            ],
        ),
        0x06 => {
            expect_keys(
                ctx,
                o,
                t,
                &[
                    ("max_alarm_level", "max_level"),
                    ("general_alarm_flags", "general_flags"),
                    ("ress_fault_codes", "ress_faults"),
                    ("motor_fault_codes", "motor_faults"),
                    ("engine_fault_codes", "engine_faults"),
                    ("other_fault_codes", "other_faults"),
                ],
            );
            let bits: Vec<u64> = t["general_alarm_bits_set"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap())
                .collect();
            let flags = o["general_flags"].as_u64().unwrap();
            assert_eq!(
                bits,
                (0..32).filter(|b| flags & (1 << b) != 0).collect::<Vec<_>>(),
                "{ctx}: bits"
            );
            assert_eq!(
                o["general_flags_set"].as_array().unwrap().len(),
                bits.len(),
                "{ctx}: names"
            );
            let list = o["general_alarms"].as_array().unwrap();
            let exp = t["general_alarm_list"].as_array().unwrap();
            assert_eq!(list.len(), exp.len(), "{ctx}: general alarm count");
            for (a, b) in list.iter().zip(exp) {
                expect_keys(ctx, a, b, &[("bit", "bit"), ("level", "level")]);
            }
        }
        0x08 => {
            let (packs, exp) = (o["packs"].as_array().unwrap(), t["packs"].as_array().unwrap());
            assert_eq!(packs.len(), exp.len());
            for (a, b) in packs.iter().zip(exp) {
                expect_keys(ctx, a, b, &[("pack_no", "number"), ("temps_c", "probe_temps_c")]);
            }
        }
        0x30 => {
            let (stacks, exp) = (o["stacks"].as_array().unwrap(), t["stacks"].as_array().unwrap());
            assert_eq!(stacks.len(), t["stack_count"].as_u64().unwrap() as usize);
            for (a, b) in stacks.iter().zip(exp) {
                expect_keys(
                    ctx,
                    a,
                    b,
                    &[
                        ("stack_no", "number"),
                        ("voltage_v", "voltage_v"),
                        ("current_a", "current_a"),
                        ("h2_inlet_pressure_kpa", "h2_inlet_pressure_kpa"),
                        ("air_inlet_pressure_kpa", "air_inlet_pressure_kpa"),
                        ("air_inlet_temp_c", "air_inlet_temp_c"),
                        ("coolant_outlet_temps_c", "coolant_temps_c"),
                    ],
                );
            }
        }
        0x31 => expect_keys(
            ctx,
            o,
            t,
            &[
                ("system_no", "system_number"),
                ("total_voltage_v", "total_voltage_v"),
                ("total_current_a", "total_current_a"),
                ("cell_voltages_v", "cell_voltages_v"),
                ("probe_temps_c", "probe_temps_c"),
            ],
        ),
        0x32 => expect_keys(
            ctx,
            o,
            t,
            &[
                ("max_voltage_system_no", "max_voltage_system"),
                ("max_voltage_cell_no", "max_voltage_cell"),
                ("max_cell_voltage_v", "max_cell_voltage_v"),
                ("min_voltage_system_no", "min_voltage_system"),
                ("min_voltage_cell_no", "min_voltage_cell"),
                ("min_cell_voltage_v", "min_cell_voltage_v"),
                ("max_temp_system_no", "max_temp_system"),
                ("max_temp_probe_no", "max_temp_probe"),
                ("max_temp_c", "max_temp_c"),
                ("min_temp_system_no", "min_temp_system"),
                ("min_temp_probe_no", "min_temp_probe"),
                ("min_temp_c", "min_temp_c"),
            ],
        ),
        other => panic!("{ctx}: no check for block {other:#x}"),
    }
}

#[test]
fn hand_made_2025_frames_decode_to_the_standards_values() {
    let recs = lines("handmade-2025.jsonl");
    assert_eq!(recs.len(), 12);
    for rec in &recs {
        let name = rec["name"].as_str().unwrap();
        let d = &rec["decoded"];
        let ours = decode(rec["hex"].as_str().unwrap());
        let body = &ours["body"];
        assert_eq!(ours["edition"], "2025", "{name}");
        expect_keys(
            name,
            &ours,
            d,
            &[
                ("command", "command"),
                ("response_flag", "response"),
                ("vin", "vin"),
                ("encryption", "encryption"),
            ],
        );
        if let Some(t) = d.get("time") {
            assert_eq!(&body["time"], t, "{name}: time");
        }
        if let Some(blocks) = d.get("blocks") {
            let ob = body["blocks"].as_array().unwrap();
            let tb = blocks.as_array().unwrap();
            assert_eq!(ob.len(), tb.len(), "{name}: block count");
            for (i, (o, t)) in ob.iter().zip(tb).enumerate() {
                check_block(&format!("{name}.blocks[{i}]"), o, t);
            }
        }
        if let Some(sig) = d.get("signature") {
            let s = &body["signature"];
            assert_eq!(s["algorithm"], norm(&sig["algorithm"]), "{name}");
            assert_eq!(s["r_hex"], sig["r_hex"], "{name}");
            assert_eq!(s["s_hex"], sig["s_hex"], "{name}");
        }
        match ours["body_kind"].as_str().unwrap() {
            "activation" => expect_keys(
                name,
                body,
                d,
                &[
                    ("chip_id", "chip_id"),
                    ("public_key_hex", "public_key_hex"),
                    ("vin_in_data_unit", "activation_vin"),
                ],
            ),
            "activation_response" => {
                expect_keys(name, body, d, &[("activation_status", "status"), ("info", "info")]);
            }
            "key_exchange" => expect_keys(
                name,
                body,
                d,
                &[
                    ("key_type", "key_type"),
                    ("key_hex", "key_hex"),
                    ("valid_from", "valid_from"),
                    ("valid_until", "valid_until"),
                ],
            ),
            "parameter_answer" | "parameter_set" => {
                let ps = body["params"].as_array().unwrap();
                let exp = d["parameters"].as_array().unwrap();
                assert_eq!(ps.len(), d["parameter_count"].as_u64().unwrap() as usize, "{name}");
                for (p, e) in ps.iter().zip(exp) {
                    assert_eq!(p["id"], norm(&e["id"]), "{name}");
                    let (key, val) = e
                        .as_object()
                        .unwrap()
                        .iter()
                        .find(|(k, _)| *k != "id" && !k.ends_with("_name"))
                        .unwrap();
                    let val = if key == "local_storage_period_s" {
                        json!(val.as_f64().unwrap() * 1000.0)
                    } else {
                        val.clone()
                    };
                    assert!(
                        same(&p["value"], &val),
                        "{name}: parameter {key}: ours {}, expected {val}",
                        p["value"]
                    );
                }
            }
            "parameter_query" => {
                let ids: Vec<Value> = body["params"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["id"].clone())
                    .collect();
                assert_eq!(Value::Array(ids), norm(&d["parameter_ids"]), "{name}");
            }
            "terminal_control" => {
                expect_keys(
                    name,
                    body,
                    d,
                    &[("control_command", "control_id"), ("warning_level", "level")],
                );
                assert_eq!(body["message"], "", "{name}");
            }
            "realtime" => {}
            other => panic!("{name}: unexpected body kind {other}"),
        }
    }
}

#[test]
fn rtm_con_built_2025_frames_decode_and_round_trip() {
    let mut n = 0;
    for rec in lines("rtm_con-built.jsonl").iter().filter(|r| r["version"] == "2025") {
        let name = rec["name"].as_str().unwrap();
        let ours = decode(rec["hex"].as_str().unwrap());
        let flat = &rec["flat"];
        assert_eq!(ours["vin"], flat["vin"], "{name}");
        if let Some(t) = flat.get("timestamp") {
            assert_eq!(ours["body"]["time"], *t, "{name}");
        }
        let issues = rec["rtm_con_issues"].as_array().unwrap();
        if issues.iter().any(|i| {
            i.as_str()
                .unwrap()
                .starts_with("activation_response_info_code_off_by_one")
        }) {
            // Per T B.4 the info byte 0x01 is "chip already activated", not rtm_con's "ok".
            let info = ours["body"]["info"].as_u64().unwrap();
            assert_eq!(
                ours["body"]["info_name"],
                ["succeeded", "chip_already_activated", "vin_duplicate", "reserved"][info.min(3) as usize]
            );
        }
        if let Some(blocks) = ours["body"]["blocks"].as_array() {
            // Blocks rtm_con cannot decode come back whole here (0x03/0x30/0x31 as typed blocks).
            assert!(!blocks.is_empty(), "{name}");
            for b in blocks {
                assert_ne!(b["type_name"], "reserved", "{name}: {b}");
            }
        }
        n += 1;
    }
    assert_eq!(n, 25);
}
