//! The encoder against the shared vectors, hand-written JSON and bad JSON; the property tests
//! are in `props`.

use gb32960_core::realtime::v2016::{RessTemperature, RessVoltage};
use gb32960_core::Frame;
use serde_json::{json, Map, Value};

use super::encode;
use super::realtime::{CELL_VOLTAGE, TEMPERATURE};

mod props;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors");

/// Every shared frame: the 2016 examples, both editions of the rtm_con-built lines, and the
/// hand-made 2025 frames.
fn vectors() -> Vec<(String, Vec<u8>)> {
    let read = |name: &str| {
        std::fs::read_to_string(format!("{VECTORS}/{name}")).unwrap_or_else(|e| panic!("{VECTORS}/{name}: {e}"))
    };
    let hex_of = |v: &Value| hex::decode(v["hex"].as_str().expect("hex")).expect("valid hex");
    let examples: Map<String, Value> = serde_json::from_str(&read("examples-2016.json")).expect("examples");
    let mut out: Vec<_> = examples.iter().map(|(name, v)| (name.clone(), hex_of(v))).collect();
    for file in ["rtm_con-built.jsonl", "handmade-2025.jsonl"] {
        for line in read(file).lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).expect("jsonl line");
            out.push((v["name"].as_str().expect("name").to_owned(), hex_of(&v)));
        }
    }
    assert!(
        out.len() >= 75,
        "only {} shared frames found under {VECTORS}",
        out.len()
    );
    out
}

fn vector(name: &str) -> Vec<u8> {
    vectors()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
        .1
}

fn decode(bytes: &[u8]) -> Value {
    serde_json::to_value(Frame::parse(bytes).expect("decodes")).expect("serialises")
}

/// Removes, at every depth, the keys `drop` selects.
fn strip(v: &mut Value, drop: &dyn Fn(&str) -> bool) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !drop(k));
            m.values_mut().for_each(|x| strip(x, drop));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| strip(x, drop)),
        _ => {}
    }
}

fn raw_and_names(k: &str) -> bool {
    k.ends_with("_raw") || k.ends_with("_name")
}

fn physical_only(bytes: &[u8]) -> Value {
    let mut v = decode(bytes);
    strip(&mut v, &raw_and_names);
    v
}

/// Keys the decoder derives from others: an encoder input may leave them all out.
const DERIVED: &[&str] = &[
    "gear_label",
    "gear_valid",
    "driving_force",
    "braking_force",
    "fix_valid",
    "south",
    "west",
    "longitude_deg",
    "latitude_deg",
    "general_flags_set",
    "bit_name",
    "frame_cell_count",
    "name",
    "address",
];

fn encode_err(v: &Value) -> String {
    match encode(v) {
        Ok(b) => panic!("encoded to {}", hex::encode_upper(b)),
        Err(e) => format!("{e:#}"),
    }
}

fn assert_encodes(name: &str, v: &Value, bytes: &[u8]) {
    let out = encode(v).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    assert_eq!(hex::encode_upper(out), hex::encode_upper(bytes), "{name}");
}

#[test]
fn every_shared_frame_round_trips_byte_for_byte() {
    for (name, bytes) in vectors() {
        assert_encodes(&name, &decode(&bytes), &bytes);
    }
}

#[test]
fn physical_values_without_raw_or_name_keys_give_the_same_frames() {
    let e3 = physical_only(&vector("E3_realtime_all9"));
    assert!(!e3.to_string().contains("_raw") && !e3.to_string().contains("_name"));
    assert_eq!(encode(&e3).unwrap(), vector("E3_realtime_all9"));
    for (name, bytes) in vectors() {
        assert_encodes(&name, &physical_only(&bytes), &bytes);
    }
}

#[test]
fn derived_keys_are_not_needed() {
    for (name, bytes) in vectors() {
        let mut v = decode(&bytes);
        strip(&mut v, &|k| raw_and_names(k) || DERIVED.contains(&k));
        assert_encodes(&name, &v, &bytes);
    }
}

#[test]
fn undecodable_lines_of_decode_file_encode_to_their_raw_bytes() {
    let bytes = vector("E1_vehicle_login");
    let line = json!({"header": {"edition": "2016"}, "raw": hex::encode_upper(&bytes), "error": "x"});
    assert_eq!(encode(&line).unwrap(), bytes);
    let broken = json!({"raw": hex::encode_upper(&bytes[..bytes.len() - 1])});
    assert!(encode_err(&broken).starts_with("raw: not a frame"));
}

#[test]
fn hand_written_json_encodes_to_the_expected_frames() {
    let vin = "LGBT32960TEST0001";
    // Names for codes, derived counts and lengths, defaults for the response flag and encryption.
    let login = json!({
        "edition": "2016", "command": "vehicle_login", "vin": vin, "body_kind": "vehicle_login",
        "body": {"time": "2024-05-20 08:30:15", "serial": 1, "iccid": "89860012345678901234", "codes": ["BAT00001"]}
    });
    assert_eq!(encode(&login).unwrap(), vector("E1_vehicle_login"));

    let reissue = json!({
        "edition": 2016, "command": 3, "response": "command", "vin": vin, "encryption": "none",
        "body_kind": "realtime",
        "body": {"time": "2024-05-20 07:59:58", "blocks": [
            {"type": "vehicle", "vehicle_state": "started", "charging_state": "not_charging",
             "operating_mode": "electric", "speed_kmh": 60.5, "odometer_km": 12345.6, "total_voltage_v": 350.2,
             "total_current_a": -25.3, "soc_pct": 78, "dcdc_state": "working", "gear": 0x2E,
             "insulation_resistance_kohm": 5000, "accelerator_pedal_pct": 30, "brake_pedal_pct": 0},
            {"type": 0x80, "data_hex": "AABBCC"}
        ]}
    });
    assert_eq!(encode(&reissue).unwrap(), vector("E4_reissue_with_user_block"));

    // Signed degrees instead of the status byte and magnitudes; flag names instead of the word.
    let gnss = json!({
        "edition": "2016", "command": "realtime_report", "vin": "LTEST2016VIN00001", "body_kind": "realtime",
        "body": {"time": "2025-11-03 09:30:15", "blocks": [
            {"type": 5, "longitude_deg": 116.397128, "latitude_deg": 39.916527}
        ]}
    });
    assert_eq!(encode(&gnss).unwrap(), vector("2016_realtime_gnss_valid_NE"));
    let alarm = json!({
        "edition": "2016", "command": 2, "vin": "LTEST2016VIN00001", "body_kind": "realtime",
        "body": {"time": "2025-11-03 09:30:15", "blocks": [
            {"type": "alarm", "max_level": 2, "general_flags_set": ["soc_low", "insulation"],
             "ress_faults": [65537], "motor_faults": [], "engine_faults": [], "other_faults": [168496141, 1]}
        ]}
    });
    assert_eq!(encode(&alarm).unwrap(), vector("2016_realtime_warnings_some"));

    let set = json!({
        "edition": "2016", "command": "parameter_set", "vin": vin, "body_kind": "parameter_set",
        "body": {"time": "2024-05-20 08:30:15", "params": [
            {"id": "report_period_s", "value": 10}, {"id": 3, "value": 1000}, {"id": 9, "value": 60}
        ]}
    });
    assert_eq!(encode(&set).unwrap(), vector("E9c_param_set"));
    let query = json!({
        "edition": "2016", "command": 0x80, "vin": vin, "body_kind": "parameter_query",
        "body": {"time": "2024-05-20 08:30:15", "params": [2, "heartbeat_period_s", {"id": 4}, {"id": 5}]}
    });
    assert_eq!(encode(&query).unwrap(), vector("E9a_param_query"));

    let control = json!({
        "edition": "2016", "command": "terminal_control", "vin": vin, "body_kind": "terminal_control",
        "body": {"time": "2024-05-20 08:30:15", "control_id": "alarm", "level": 2, "message": "CHECK BATTERY"}
    });
    assert_eq!(encode(&control).unwrap(), vector("E10a_ctrl_alarm"));

    let heartbeat_ack = json!({
        "edition": "2016", "command": "heartbeat", "response": "success", "vin": vin, "body_kind": "response"
    });
    assert_eq!(encode(&heartbeat_ack).unwrap(), vector("E5b_heartbeat_resp_empty"));
    let heartbeat = json!({"edition": "2016", "command": 7, "vin": vin, "body_kind": "heartbeat"});
    assert_eq!(encode(&heartbeat).unwrap(), vector("E5a_heartbeat"));
}

#[test]
fn hand_written_2025_json_encodes_to_the_expected_frames() {
    let names = |name: &str, edit: &dyn Fn(&mut Value)| {
        let bytes = vector(name);
        let mut v = decode(&bytes);
        strip(&mut v, &raw_and_names);
        edit(&mut v);
        assert_encodes(name, &v, &bytes);
    };
    names("2025_activation_response_0x0A_fail_vin_duplicate", &|v| {
        v["command"] = json!("activation_response");
        v["body"] = json!({"status": "failed", "info": "vin_duplicate"});
    });
    names("2025_key_exchange_0x0B_sm4_downlink", &|v| {
        v["body"]["key_type"] = json!("sm4")
    });
    // Signed degrees and a coordinate-system name instead of the status byte and magnitudes.
    names("2025_realtime_gnss_wgs84", &|v| {
        let p = v["body"]["blocks"][0].as_object_mut().expect("position");
        for key in [
            "status",
            "longitude_abs_deg",
            "latitude_abs_deg",
            "fix_valid",
            "south",
            "west",
        ] {
            p.remove(key);
        }
        p.insert("coordinate_system".into(), json!("wgs84"));
        v["body"]["signature"]["algorithm"] = json!("rsa");
    });
    // Alarm flags by their 2025 names.
    names("2025_realtime_alarm_bits_19_27_with_general_alarm_list", &|v| {
        v["body"]["blocks"][0]
            .as_object_mut()
            .expect("alarm")
            .remove("general_flags");
    });
}

#[test]
fn bad_json_is_an_error_that_names_the_path() {
    let e3 = decode(&vector("E3_realtime_all9"));
    let with = |edits: &[(&str, Option<Value>)]| {
        let mut v = e3.clone();
        for (pointer, new) in edits {
            let (parent, key) = pointer.rsplit_once('/').expect("pointer");
            let slot = v.pointer_mut(parent).unwrap_or_else(|| panic!("{parent}"));
            match (slot, new) {
                (Value::Object(m), Some(x)) => drop(m.insert(key.to_owned(), x.clone())),
                (Value::Object(m), None) => drop(m.remove(key)),
                (Value::Array(a), Some(x)) => a[key.parse::<usize>().expect("index")] = x.clone(),
                _ => panic!("{pointer}"),
            }
        }
        encode_err(&v)
    };
    let speed = "/body/blocks/1/motors/0/speed_rpm";
    assert_eq!(
        with(&[
            (speed, Some(json!("fast"))),
            ("/body/blocks/1/motors/0/speed_rpm_raw", None)
        ]),
        "body.blocks[1].motors[0].speed_rpm: expected a number or \"abnormal\"/\"invalid\""
    );
    assert_eq!(with(&[("/body/time", None)]), "body.time: missing");
    assert_eq!(
        with(&[("/body/time", Some(json!("yesterday")))]),
        "body.time: expected a time \"YYYY-MM-DD hh:mm:ss\""
    );
    assert_eq!(
        with(&[
            ("/body/blocks/0/speed_kmh", Some(json!(7000))),
            ("/body/blocks/0/speed_kmh_raw", None)
        ]),
        "body.blocks[0].speed_kmh: 7000 is out of range (0 to 6553.3)"
    );
    assert_eq!(
        with(&[("/body/blocks/0/speed_kmh_raw", Some(json!(70000)))]),
        "body.blocks[0].speed_kmh_raw: expected an integer from 0 to 65535"
    );
    assert_eq!(
        with(&[("/body/blocks/0/vehicle_state", Some(json!("flying")))]),
        "body.blocks[0].vehicle_state: expected a code (number or name) or \"abnormal\"/\"invalid\""
    );
    assert_eq!(
        with(&[("/body/blocks/0/gear", Some(json!(1.5)))]),
        "body.blocks[0].gear: expected an integer"
    );
    assert_eq!(
        with(&[("/body/blocks/7/subsystems/0/first_cell", Some(json!("abnormal")))]),
        "body.blocks[7].subsystems[0].first_cell: expected a number"
    );
    assert_eq!(
        with(&[
            ("/body/blocks/7/subsystems/0/cell_voltages_v", Some(json!([3.7, "x"]))),
            ("/body/blocks/7/subsystems/0/cell_voltages_raw", None)
        ]),
        "body.blocks[7].subsystems[0].cell_voltages_v[1]: expected a number or \"abnormal\"/\"invalid\""
    );
    assert_eq!(
        with(&[("/body/blocks/7/subsystems/0/cell_voltages_raw", Some(json!("abnormal")))]),
        "body.blocks[7].subsystems[0].cell_voltages_raw: expected a list, found a string"
    );
    assert_eq!(
        with(&[("/body/blocks/7/subsystems/0/frame_cell_count", Some(json!(5)))]),
        "body.blocks[7].subsystems[0].frame_cell_count: does not match the 4 cell voltages"
    );
    assert_eq!(
        with(&[
            ("/body/blocks/8/subsystems/0/probe_temps_c", Some(json!([300]))),
            ("/body/blocks/8/subsystems/0/probe_temps_raw", None)
        ]),
        "body.blocks[8].subsystems[0].probe_temps_c[0]: 300 is out of range (-40 to 213)"
    );
    assert_eq!(
        with(&[("/body/blocks/1/motors", Some(Value::Array(vec![json!({}); 254])))]),
        "body.blocks[1].motors: 254 items, at most 253 fit the count field"
    );
    assert_eq!(
        with(&[("/body/blocks/1/motors", Some(json!(7)))]),
        "body.blocks[1].motors: expected a list or \"abnormal\"/\"invalid\", found a number"
    );
    assert_eq!(
        with(&[
            ("/body/blocks/6/general_flags", None),
            ("/body/blocks/6/general_flags_set", Some(json!(["boom"])))
        ]),
        "body.blocks[6].general_flags_set[0]: unknown alarm flag \"boom\""
    );
    assert_eq!(
        with(&[("/body/blocks/3", Some(json!({"type": 0x0A, "data_hex": "00"})))]),
        "body.blocks[3]: a block of this type has no length field, so it must end the data unit"
    );
    assert_eq!(
        with(&[("/body/blocks/3", Some(json!({"type": 0x90, "data_hex": "0G"})))]),
        "body.blocks[3].data_hex: expected hex: Invalid character 'G' at position 1"
    );
    assert_eq!(
        with(&[("/body/blocks/3", Some(json!({"type": "user_defined"})))]),
        "body.blocks[3].type: \"user_defined\" names several codes: give the number"
    );
    assert_eq!(
        with(&[("/body/blocks/2", Some(json!([])))]),
        "body.blocks[2]: expected an object, found a list"
    );
    assert_eq!(
        with(&[("/vin", Some(json!("VIN LONGER THAN 17")))]),
        "vin: longer than 17 bytes"
    );
    assert_eq!(
        with(&[("/vin_hex", Some(json!("00")))]),
        "vin_hex: expected 17 bytes, found 1"
    );
    assert_eq!(
        with(&[("/edition", Some(json!("2020")))]),
        "edition: expected \"2016\" or \"2025\""
    );
    assert_eq!(with(&[("/command", None)]), "command: missing");
    assert_eq!(
        with(&[("/command", Some(json!(300)))]),
        "command: expected an integer from 0 to 255"
    );
    assert_eq!(
        with(&[("/body_kind", Some(json!("telemetry")))]),
        "body_kind: unknown body kind \"telemetry\""
    );
    assert_eq!(
        with(&[("/body", Some(json!(null)))]),
        "body: expected an object, found null"
    );
    assert_eq!(
        with(&[("/body_kind", Some(json!("heartbeat")))]),
        "body_kind \"heartbeat\" does not fit command 0x02 (realtime_report) with response flag 0xFE \
         (command) and encryption 0x01 (none) in edition 2016: such a frame does not decode \
         (malformed real-time report time at data-unit offset 0)"
    );
    assert_eq!(
        with(&[("/response", Some(json!(1)))]),
        "body_kind \"realtime\" does not fit command 0x02 (realtime_report) with response flag 0x01 \
         (success) and encryption 0x01 (none) in edition 2016: such a frame decodes as \"response\""
    );
    assert_eq!(
        with(&[("/edition", Some(json!("2025")))]),
        // The 2025 tables read the 2016-shaped blocks: the first key they lack is the error.
        "body.blocks[2].h2_max_concentration_pct: missing"
    );

    let top = |v: Value| encode_err(&v);
    assert_eq!(
        top(json!([1, 2])),
        "expected a JSON object (a decoded frame), found a list"
    );
    assert_eq!(top(json!(null)), "expected a JSON object (a decoded frame), found null");
    assert_eq!(top(json!({})), "edition: missing");

    let mut set = decode(&vector("E9c_param_set"));
    set["body"]["params"][0]["value"] = json!(70000);
    assert_eq!(
        encode_err(&set),
        "body.params[0].value: 70000 is out of range (0 to 65533)"
    );
    let mut answer = decode(&vector("E9b_param_query_answer"));
    answer["body"]["params"][2]["value"] = json!(3);
    assert_eq!(encode_err(&answer), "body.params[3]: cannot encode parameter value");
    let mut upgrade = decode(&vector("E10b_ctrl_upgrade"));
    upgrade["body"]["apn"] = json!("cm;net");
    assert_eq!(encode_err(&upgrade), "body: cannot encode upgrade field containing ';'");
    let mut login = decode(&vector("E1_vehicle_login"));
    login["body"]["codes"] = json!(["BAT000001"]);
    assert_eq!(encode_err(&login), "body.codes[0]: longer than the code length 8");

    // 2025 shapes.
    let mut sig = decode(&vector("2025_realtime_engine"));
    sig["body"]["signature"]["r_hex"] = json!(7);
    assert_eq!(
        encode_err(&sig),
        "body.signature.r_hex: expected a string, found a number"
    );
    let mut marker = decode(&vector("2025_realtime_engine"));
    marker["body"]["blocks"][0] = json!({"type": 0xFF});
    assert_eq!(
        encode_err(&marker),
        "body.blocks[0].type: 0xFF marks the signature: give it as body.signature"
    );
    let mut unsized_signed = decode(&vector("2025_realtime_engine"));
    unsized_signed["body"]["blocks"][0] = json!({"type": 0x40, "data_hex": ""});
    assert_eq!(
        encode_err(&unsized_signed),
        "body.blocks[0]: a block of this type has no length field, so it must end the data unit"
    );
    let mut packs = decode(&vector("2025_login_2bms_4packs"));
    packs["body"]["packs_per_bms"] = json!([1, 2]);
    assert_eq!(
        encode_err(&packs),
        "body.pack_codes: 4 codes, packs_per_bms adds up to 3"
    );
    let mut activation = decode(&vector("2025_activation_rsa"));
    activation["body"]["chip_id"] = json!("A CHIP ID LONGER THAN 16");
    assert_eq!(encode_err(&activation), "body.chip_id: longer than 16 bytes");
    let mut activation_in_2016 = decode(&vector("2025_activation_rsa"));
    activation_in_2016["edition"] = json!("2016");
    assert!(encode_err(&activation_in_2016).ends_with("in edition 2016: such a frame decodes as \"raw\""));
}

#[test]
fn element_tables_read_as_the_decoder_reads_lists() {
    for raw in 0..=u8::MAX {
        assert_eq!(
            TEMPERATURE.value(&[raw]),
            RessTemperature::temp_c(raw).map(|c| c as f64),
            "{raw}"
        );
    }
    for raw in 0..=u16::MAX {
        assert_eq!(
            CELL_VOLTAGE.value(&raw.to_be_bytes()),
            RessVoltage::cell_voltage_v(raw),
            "{raw}"
        );
    }
}

#[test]
fn dword_fields_without_sentinels_take_their_whole_width() {
    let mut v = physical_only(&vector("2016_realtime_gnss_valid_NE"));
    v["body"]["blocks"][0]["longitude_abs_deg"] = json!(4294.967295);
    v["body"]["blocks"][0]["latitude_abs_deg"] = json!(0);
    let back = decode(&encode(&v).unwrap());
    assert_eq!(back["body"]["blocks"][0]["longitude_abs_deg_raw"], json!(u32::MAX));
    v["body"]["blocks"][0]["longitude_abs_deg"] = json!(4294.967296);
    assert_eq!(
        encode_err(&v),
        "body.blocks[0].longitude_abs_deg: 4294.967296 is out of range (0 to 4294.967295)"
    );
    let mut alarm = decode(&vector("2016_realtime_warnings_some"));
    alarm["body"]["blocks"][0]["general_flags"] = json!(u32::MAX);
    let back = decode(&encode(&alarm).unwrap());
    assert_eq!(back["body"]["blocks"][0]["general_flags"], json!(u32::MAX));
}
