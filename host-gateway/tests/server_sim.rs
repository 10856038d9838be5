//! The gateway and the simulator together, as a newcomer runs them: `serve`, then `sim
//! --register`; the fleet's data is queryable and a downlink query sent through the API is
//! answered by a simulated T-Box. Both editions.

mod server_support;

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use server_support::*;

async fn fleet_through_the_gateway(edition: &str) {
    let s = Server::start(temp_dir(&format!("sim{edition}")), &[]).await;
    let prefix = if edition == "2016" { "LSIMA" } else { "LSIMB" };
    let sim = Command::new(env!("CARGO_BIN_EXE_host-gateway"))
        .args([
            "sim",
            "--gateway",
            &s.tcp(),
            "--vehicles",
            "2",
            "--period",
            "1",
            "--duration",
            "8",
        ])
        .args([
            "--edition",
            edition,
            "--vin-prefix",
            prefix,
            "--heartbeat",
            "2",
            "--json",
        ])
        .args(["--register", &s.url(""), "--api-token", TOKEN])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sim");
    // Wait (bounded) until both vehicles are online.
    let vin = format!("{prefix}{:0>width$}", 1, width = 17 - prefix.len());
    let mut online = false;
    for _ in 0..100 {
        let (_, v) = s.get("/api/v1/sessions").await;
        if v["items"].as_array().is_some_and(|i| i.len() == 2) {
            online = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(online, "the simulated fleet did not log in");
    // A downlink parameter query is answered by the simulated T-Box (the core machine answers
    // from its parameters: the report period the simulator set, and the heartbeat period).
    let (st, v) = s
        .send(
            Method::POST,
            &format!("/api/v1/devices/{vin}/commands"),
            Some(json!({"command": "query", "params": [2, 9]})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "answered", "{v}");
    let params = v["frame"]["body"]["params"].as_array().expect("parameter answer");
    assert_eq!(params[0]["id"], 2);
    assert_eq!(params[0]["value"], 1, "report period as the simulator runs it: {v}");
    assert_eq!(params[1]["value"], 2, "heartbeat period: {v}");
    // Let the run finish; its reports are stored and queryable, in the fleet's edition.
    let out = tokio::task::spawn_blocking(move || sim.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "sim failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (_, m) = s
        .get(&format!("/api/v1/devices/{vin}/messages?command=2&limit=100"))
        .await;
    let items = m["items"].as_array().expect("messages");
    assert!(items.len() >= 4, "{} real-time reports stored", items.len());
    assert!(items.iter().all(|i| i["frame"]["edition"] == edition));
    // The simulated vehicle's values move (driving or charging): not every report carries the
    // same blocks.
    let blocks: Vec<String> = items.iter().map(|i| i["frame"]["body"]["blocks"].to_string()).collect();
    assert!(blocks.windows(2).any(|w| w[0] != w[1]), "values change between reports");
    if edition == "2025" {
        // The simulator activated with its SM2 key; the gateway recorded it.
        let (_, d) = s.get(&format!("/api/v1/devices/{vin}")).await;
        assert!(d.to_string().contains("public_key"), "{d}");
        // Every stored report verified against that key.
        assert!(
            items.iter().all(|i| i["frame"]["signature_check"] == "valid"),
            "{}",
            items[0]["frame"]
        );
    } else {
        assert!(items.iter().all(|i| i["frame"].get("signature_check").is_none()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_2016_fleet_reports_through_the_gateway_and_answers_a_query() {
    fleet_through_the_gateway("2016").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_2025_fleet_reports_through_the_gateway_and_answers_a_query() {
    fleet_through_the_gateway("2025").await;
}
