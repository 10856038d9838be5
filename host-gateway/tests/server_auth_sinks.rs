//! Third-party authentication against a local HTTP function (true, false, timeout), and the
//! NDJSON sink declared in a config file.

mod server_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use reqwest::Method;
use serde_json::{json, Value};
use server_support::*;

#[tokio::test(flavor = "multi_thread")]
async fn third_party_auth_true_false_timeout() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let app = Router::new().route(
        "/auth",
        post({
            let seen = seen.clone();
            move |Json(body): Json<Value>| async move {
                seen.lock().unwrap().push(body.clone());
                match body["vin"].as_str().unwrap() {
                    "LTRUE000000000001" => Json(json!({ "result": "true", "message": "ok" })),
                    "LSLOW000000000001" => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        Json(json!({ "result": "true", "message": "late" }))
                    }
                    _ => Json(json!({ "result": "false", "message": "unknown vehicle" })),
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let auth_port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    let s = Server::start(temp_dir("tp"), &[]).await;
    let port = free_port();
    let (st, g) = s
        .send(
            Method::POST,
            "/api/v1/gateways",
            Some(json!({
                "name": "third_party_gw", "host": "127.0.0.1", "port": port, "auth_type": "third_party",
                "auth_url": format!("http://127.0.0.1:{auth_port}/auth"), "auth_timeout_ms": 1000
            })),
        )
        .await;
    assert_eq!(st, 201, "{g}");
    let addr = format!("127.0.0.1:{port}");

    let mut t = Tbox::connect(&addr).await;
    assert_eq!(t.login("LTRUE000000000001").await, 1);
    let body = seen.lock().unwrap()[0].clone();
    assert_eq!(body["action"], "auth");
    assert_eq!(body["protocol"], "gb32960");
    assert_eq!(body["iccid"], "89860012345678901234");
    assert_eq!(body["systemEncode"][0], "BAT00001");
    for k in [
        "serialNo",
        "subSystemNumber",
        "systemEncodeLength",
        "year",
        "month",
        "day",
        "hour",
        "minute",
        "second",
    ] {
        assert!(body[k].is_u64(), "{k} in {body}");
    }
    // The device was created, named by the VIN, in that gateway.
    let (st, v) = s.get("/api/v1/devices/LTRUE000000000001").await;
    assert_eq!(st, 200);
    assert_eq!(v["device"]["gateway_id"], g["id"]);

    let mut f = Tbox::connect(&addr).await;
    assert_eq!(f.login("LFALSE00000000001").await, 2);
    assert!(f.closed_within(5).await);

    let started = std::time::Instant::now();
    let mut slow = Tbox::connect(&addr).await;
    assert_eq!(slow.login("LSLOW000000000001").await, 2, "a timeout fails closed");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test(flavor = "multi_thread")]
async fn config_file_gateway_and_ndjson_sink() {
    let dir = temp_dir("sink");
    let sink = dir.join("out.ndjson");
    let port = free_port();
    let cfg = dir.join("gateway.toml");
    std::fs::write(
        &cfg,
        format!(
            "idle_timeout_secs = 60\n[[gateways]]\nname = \"from_file\"\nhost = \"127.0.0.1\"\nport = {port}\n\n[sinks]\nndjson = {:?}\n",
            sink.display().to_string()
        ),
    )
    .unwrap();
    let s = Server::start(dir.clone(), &["--config", cfg.to_str().unwrap()]).await;
    let (_, v) = s.get("/api/v1/gateways").await;
    assert_eq!(v["items"][0]["name"], "from_file", "{v}");
    s.import(&["LSINK000000000001"]).await;
    let mut t = Tbox::connect(&s.tcp()).await;
    assert_eq!(t.login("LSINK000000000001").await, 1);
    t.send(&heartbeat("LSINK000000000001")).await;
    t.expect(5).await;
    drop(t);
    let mut lines = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        lines = std::fs::read_to_string(&sink)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        if lines.len() >= 4 {
            break;
        }
    }
    let types: Vec<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(types, ["online", "frame", "frame", "offline"], "{lines:?}");

    // A bad config value names the field.
    std::fs::write(&cfg, "[[gateways]]\nname = \"x\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_host-gateway"))
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("name"));
}
