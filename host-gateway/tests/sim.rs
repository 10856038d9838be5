//! `host-gateway sim` end to end: the real binary against a small fake platform on loopback
//! (the core's `PlatformSession` per connection, accepting every login) and a fake admin API.
//! Every loop is bounded; the binary is killed if it outlives its deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use gb32960_core::message::Activation;
use gb32960_core::security::{verify_frame, Verification, VerifyingKey};
use gb32960_core::{Edition, RawFrame, ResponseFlag};
use host_gateway::sim::report;
use serde_json::Value;

mod sim_support;
use sim_support::*;

#[test]
fn a_2016_fleet_logs_in_reports_and_answers_downlink_commands() {
    let platform = FakePlatform::start();
    let addr = platform.addr.to_string();
    let out = run_sim(
        &[
            "--gateway",
            &addr,
            "--vehicles",
            "3",
            "--period",
            "1",
            "--duration",
            "4",
            "--heartbeat",
            "1",
            "--seed",
            "7",
            "--json",
        ],
        Duration::from_secs(40),
    );
    let seen = platform.finish();
    let stats = stats_json(&out);
    let vins = fleet_vins(3);
    let logins: BTreeSet<String> = seen.logins.iter().cloned().collect();
    assert_eq!(logins, vins.iter().cloned().collect(), "every vehicle logged in once");
    assert_eq!(seen.logins.len(), 3);
    check_reports(&seen, &vins, 3);
    for vin in &vins {
        let answer = seen
            .query_answers
            .get(vin)
            .unwrap_or_else(|| panic!("{vin} did not answer 0x80"));
        assert_eq!(param(answer, 0x02), 1, "report period as set by --period");
        assert_eq!(param(answer, 0x09), 1, "heartbeat as set by --heartbeat");
        assert_eq!(
            seen.control_answers.get(vin),
            Some(&ResponseFlag::SUCCESS),
            "{vin} 0x82"
        );
    }
    assert!(seen.activations.is_empty(), "no activation in 2016");
    check_stats(&stats, &seen, 3);
    assert_eq!(stats["edition"], "2016");
}

#[test]
fn a_2025_fleet_signs_its_reports_with_the_key_it_activates() {
    let platform = FakePlatform::start();
    let addr = platform.addr.to_string();
    let out = run_sim(
        &[
            "--gateway",
            &addr,
            "--vehicles",
            "2",
            "--period",
            "1",
            "--duration",
            "4",
            "--heartbeat",
            "1",
            "--edition",
            "2025",
            "--seed",
            "11",
            "--json",
        ],
        Duration::from_secs(40),
    );
    let seen = platform.finish();
    let stats = stats_json(&out);
    let vins = fleet_vins(2);
    check_reports(&seen, &vins, 3);

    // The activation carries the public key; it is the one derived from the seed and VIN.
    let mut keys = BTreeMap::new();
    for a in &seen.activations {
        let raw = RawFrame::parse(a).unwrap();
        assert_eq!(raw.header.edition, Edition::V2025);
        let activation = Activation::parse(raw.data).unwrap();
        let vin = vin_of(&activation.vin);
        let derived = report::signer(11, &vin).public_key_wire();
        assert_eq!(activation.public_key, &derived[..], "{vin}");
        let key = VerifyingKey::sm2_from_wire(activation.public_key).unwrap();
        assert_eq!(
            verify_frame(&raw, Some(&key)),
            Some(Verification::Valid),
            "activation of {vin}"
        );
        keys.insert(vin, key);
    }
    assert_eq!(keys.len(), 2, "one activation per vehicle");
    for vin in &vins {
        for f in &seen.reports[vin] {
            let raw = RawFrame::parse(f).unwrap();
            assert_eq!(
                verify_frame(&raw, Some(&keys[vin])),
                Some(Verification::Valid),
                "{vin}: report {:?}",
                raw.header.command
            );
        }
        let answer = &seen.query_answers[vin];
        assert_eq!(param(answer, 0x02), 1);
        assert_eq!(seen.control_answers.get(vin), Some(&ResponseFlag::SUCCESS));
    }
    check_stats(&stats, &seen, 2);
    assert_eq!(stats["activations_sent"].as_u64(), Some(2));
    assert_eq!(stats["activation_answers"].as_u64(), Some(2));
}

#[test]
fn the_text_summary_and_the_exit_status_when_nobody_can_log_in() {
    let gateway = closed_port().to_string();
    let out = run_sim(
        &[
            "--gateway",
            &gateway,
            "--vehicles",
            "2",
            "--period",
            "1",
            "--duration",
            "1",
        ],
        Duration::from_secs(30),
    );
    assert!(!out.status.success(), "no vehicle logged in: the exit status says so");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no vehicle could log in"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("vehicles logged in  0/2"), "{stdout}");
    assert!(stdout.contains("login latency ms"), "{stdout}");
    let failures = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("connections"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        !failures.contains(" 0 failed"),
        "connection failures counted: {failures}"
    );
}

// ---------------------------------------------------------------------------------------------
// --register

#[test]
fn register_posts_the_fleet_with_the_bearer_token() {
    let (api, server) = fake_api("200 OK");
    let gateway = closed_port().to_string();
    let url = format!("http://{api}/");
    let out = run_sim(
        &[
            "--gateway",
            &gateway,
            "--vehicles",
            "3",
            "--duration",
            "1",
            "--register",
            &url,
            "--api-token",
            "s3cret-token",
        ],
        Duration::from_secs(30),
    );
    let (head, body) = server.join().unwrap();
    let first = head.lines().next().unwrap();
    assert_eq!(first, "POST /api/v1/devices/import HTTP/1.1");
    assert!(
        head.lines()
            .any(|l| l.eq_ignore_ascii_case("authorization: Bearer s3cret-token")),
        "{head}"
    );
    let devices: Value = serde_json::from_slice(&body).unwrap();
    let expected: Vec<Value> = (0..3)
        .map(|i| serde_json::json!({"vin": report::vin("LGBSIM", i), "iccid": report::iccid(i)}))
        .collect();
    assert_eq!(devices, Value::Array(expected));
    // The gateway was not there: registered, then nobody logged in.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("registered 3 vehicle(s)"), "{stderr}");
    assert!(!out.status.success());
}

#[test]
fn a_refused_registration_stops_the_run() {
    let (api, server) = fake_api("401 Unauthorized");
    let platform = FakePlatform::start();
    let addr = platform.addr.to_string();
    let url = format!("http://{api}");
    let out = run_sim(
        &[
            "--gateway",
            &addr,
            "--vehicles",
            "1",
            "--register",
            &url,
            "--api-token",
            "wrong",
        ],
        Duration::from_secs(30),
    );
    server.join().unwrap();
    let seen = platform.finish();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("401"), "{stderr}");
    assert!(seen.logins.is_empty(), "no vehicle started");
}
