//! End to end through the real binary: platform accounts and cascade links, 2025 activation,
//! structured downlink commands, the webhook sink, retention and the metrics families.

mod server_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use gb32960_core::message::Activation;
use gb32960_core::security::{emit_signed_activation, Sm2Signer};
use gb32960_core::session::tbox::TboxEvent;
use gb32960_core::signature::{Signature, SignatureAlgorithm};
use gb32960_core::wire::FixedStr;
use gb32960_core::{Command as Cmd, Edition, Header, ResponseFlag};
use reqwest::Method;
use serde_json::{json, Value};
use server_support::*;

const EDITIONS: [Edition; 2] = [Edition::V2016, Edition::V2025];

fn tag(e: Edition) -> &'static str {
    match e {
        Edition::V2016 => "16",
        Edition::V2025 => "25",
    }
}

async fn messages(s: &Server, vin: &str) -> Vec<Value> {
    let (st, v) = s.get(&format!("/api/v1/devices/{vin}/messages?limit=1000")).await;
    assert_eq!(st, 200, "{v}");
    v["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn platform_accounts_open_cascade_links_in_both_editions() {
    const GOOD: &str = "Casc4de-Pass-77";
    const BAD: &str = "Wr0ng-Pass-99";
    let s = Server::start(temp_dir("cascade"), &[]).await;
    let (st, v) = s
        .send(
            Method::POST,
            "/api/v1/platform-accounts",
            Some(json!({ "username": "upper1", "password": GOOD })),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = s
        .send(
            Method::POST,
            "/api/v1/platform-accounts",
            Some(json!({ "username": "much_too_long_name", "password": "x" })),
        )
        .await;
    assert_eq!((st, v["field"].as_str()), (422, Some("username")));
    let (st, v) = s.get("/api/v1/platform-accounts").await;
    assert_eq!(st, 200);
    assert_eq!(v["items"][0]["username"], "upper1");
    let text = v.to_string();
    assert!(
        !text.contains(GOOD) && !text.contains("argon2") && !text.contains("hash"),
        "{text}"
    );

    for ed in EDITIONS {
        let id = format!("PLATFORM00000{}01", tag(ed));
        // A bad password: refused with 0x02, link closed.
        let mut t = Tbox::connect(&s.tcp()).await;
        t.send(&platform_login(ed, &id, "upper1", BAD)).await;
        let a = t.expect(10).await;
        assert_eq!((a[2], a[3]), (0x05, ResponseFlag::ERROR.0));
        assert!(t.closed_within(5).await);

        // A good one: a cascade link carrying many VINs.
        let mut t = Tbox::connect(&s.tcp()).await;
        t.send(&platform_login(ed, &id, "upper1", GOOD)).await;
        let a = t.expect(10).await;
        assert_eq!((a[2], a[3]), (0x05, ResponseFlag::SUCCESS.0), "{ed:?}");
        let vins: Vec<String> = (1..=3).map(|i| format!("LCASCADE{}0000{i:03}", tag(ed))).collect();
        let now = chrono::Utc::now().timestamp();
        for (i, v) in vins.iter().enumerate() {
            t.send(&login_ed(ed, v)).await;
            let a = t.expect(10).await;
            assert_eq!((a[2], a[3]), (0x01, 0x01), "{ed:?} {v}");
            if ed == Edition::V2016 {
                t.send(&report(Cmd::REALTIME, v, now - i as i64, i as u32)).await;
            }
            t.send(&heartbeat_ed(ed, v)).await;
            let a = t.expect(10).await;
            assert_eq!((a[2], a[3]), (0x07, 0x01));
        }
        for v in &vins {
            let m = messages(&s, v).await;
            let want = if ed == Edition::V2016 { 3 } else { 2 };
            assert_eq!(m.len(), want, "{v}: {m:?}");
        }
        let (_, sessions) = s.get("/api/v1/sessions").await;
        let online: Vec<&Value> = sessions["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["cascade"] == id.as_str())
            .collect();
        assert_eq!(online.len(), 3, "{sessions}");
        assert_eq!(online[0]["edition"], if ed == Edition::V2016 { "2016" } else { "2025" });
        // 0x06 closes the link; its vehicles go offline.
        t.send(&platform_logout(ed, &id)).await;
        let a = t.expect(10).await;
        assert_eq!((a[2], a[3]), (0x06, 0x01));
        assert!(t.closed_within(5).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (_, v) = s.get(&format!("/api/v1/devices/{}", vins[0])).await;
        assert_eq!(v["online"], false, "{v}");
    }

    // An account bound to another gateway, and a deleted account, are refused.
    let (st, _) = s.send(Method::DELETE, "/api/v1/platform-accounts/upper1", None).await;
    assert_eq!(st, 204);
    let (st, _) = s.send(Method::DELETE, "/api/v1/platform-accounts/upper1", None).await;
    assert_eq!(st, 404);
    let mut t = Tbox::connect(&s.tcp()).await;
    t.send(&platform_login(Edition::V2016, "PLATFORM000000001", "upper1", GOOD))
        .await;
    assert_eq!(t.expect(10).await[3], ResponseFlag::ERROR.0);

    let metrics = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("logins_total{result=\"platform_accepted\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("logins_total{result=\"platform_refused\"} 3"),
        "{metrics}"
    );
    // Passwords never reach the log.
    let log = std::fs::read_to_string(s.data_dir.join("serve.log")).unwrap();
    assert!(log.contains("platform login accepted"), "{log}");
    assert!(!log.contains(GOOD) && !log.contains(BAD), "{log}");
}

fn bcc_fix(f: &mut [u8]) {
    let n = f.len();
    f[n - 1] = f[2..n - 1].iter().fold(0, |a, b| a ^ b);
}

fn activation(v: &str, chip: &str, secret: u8) -> Vec<u8> {
    let mut signer = Sm2Signer::from_bytes(&[secret; 32]).unwrap();
    let public = signer.public_key_wire();
    let a = Activation {
        time: now_time(),
        chip_id: FixedStr::new(chip).unwrap(),
        public_key: &public,
        vin: vin(v),
        signature: Signature {
            algorithm: SignatureAlgorithm::SM2,
            r: &[],
            s: &[],
        },
    };
    let header = Header::command(Edition::V2025, Cmd::ACTIVATION, vin(v));
    let mut buf = [0u8; 512];
    let n = emit_signed_activation(&header, &a, &mut signer, &mut buf).unwrap();
    buf[..n].to_vec()
}

/// Sends an activation on a fresh link and returns the 0x0A answer's (status, info).
async fn activate(s: &Server, frame: &[u8]) -> (u8, u8) {
    let mut t = Tbox::connect(&s.tcp()).await;
    t.send(frame).await;
    let a = t.expect(10).await;
    assert_eq!((a[2], a[3]), (0x0A, 0xFE), "{a:02X?}");
    assert_eq!(u16::from_be_bytes([a[22], a[23]]), 2);
    (a[24], a[25])
}

#[tokio::test(flavor = "multi_thread")]
async fn activation_2025_verifies_the_carried_key_and_records_the_chip() {
    const V: &str = "LACTIVATE00000001";
    const V2: &str = "LACTIVATE00000002";
    let s = Server::start(temp_dir("activation"), &[]).await;
    s.import(&[V, V2]).await;

    let good = activation(V, "CHIP000000000001", 7);
    // A broken signature: failure, info 0x01 (the chip did not prove itself).
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 3] ^= 0x01;
    bcc_fix(&mut bad);
    assert_eq!(activate(&s, &bad).await, (0x02, 0x01));
    // Unknown VIN: failure, info 0x02.
    assert_eq!(
        activate(&s, &activation("LUNKNOWN000000001", "CHIP000000000009", 9)).await,
        (0x02, 0x02)
    );
    // Valid signature, imported device: success, the chip and key stored in the metadata.
    assert_eq!(activate(&s, &good).await, (0x01, 0x00));
    let (_, d) = s.get(&format!("/api/v1/devices/{V}")).await;
    let act = &d["device"]["metadata"]["activation"];
    assert_eq!(act["chip_id"], "CHIP000000000001", "{d}");
    let public = hex::encode_upper(Sm2Signer::from_bytes(&[7; 32]).unwrap().public_key_wire());
    assert_eq!(act["public_key"], public.as_str());
    // Again with the same chip: success; with another chip: VIN duplicate; the chip for
    // another VIN: chip already activated.
    assert_eq!(activate(&s, &good).await, (0x01, 0x00));
    assert_eq!(activate(&s, &activation(V, "CHIP000000000002", 8)).await, (0x02, 0x02));
    assert_eq!(activate(&s, &activation(V2, "CHIP000000000001", 7)).await, (0x02, 0x01));
    let (_, m) = s.get(&format!("/api/v1/devices/{V}/messages?command=9")).await;
    assert_eq!(m["items"].as_array().unwrap().len(), 2, "{m}");
    let metrics = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("activations_total{result=\"succeeded\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("activations_total{result=\"failed\"} 4"), "{metrics}");
}

/// A signed 2025 real-time report of `v` (the simulator's builder), signed with `secret`.
fn signed_report(v: &str, secret: u8) -> Vec<u8> {
    use host_gateway::sim::{report, vehicle::SimVehicle};
    let mut signer = Sm2Signer::from_bytes(&[secret; 32]).unwrap();
    let data = report::data_unit_2025(&SimVehicle::new(1, 0), now_time(), vin(v), &mut signer).unwrap();
    frame_ed(Edition::V2025, Cmd::REALTIME, ResponseFlag::COMMAND, v, &data)
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_2025_reports_are_checked_against_the_activated_key() {
    const V: &str = "LSIGNED0000000001";
    const NOT_ACTIVATED: &str = "LSIGNED0000000002";
    let s = Server::start(temp_dir("signed-reports"), &[]).await;
    s.import(&[V, NOT_ACTIVATED]).await;
    assert_eq!(activate(&s, &activation(V, "CHIP000000000011", 7)).await, (0x01, 0x00));

    let mut t = Tbox::connect(&s.tcp()).await;
    t.send(&login_ed(Edition::V2025, V)).await;
    assert_eq!(t.expect(10).await[3], ResponseFlag::SUCCESS.0);
    // Signed with another key: answered 0x05 (signature verification failed), not stored.
    t.send(&signed_report(V, 8)).await;
    let a = t.expect(10).await;
    assert_eq!((a[2], a[3]), (0x02, 0x05), "{a:02X?}");
    // Signed with the activated key: stored, marked valid (the heartbeat's answer comes after
    // the report is stored).
    t.send(&signed_report(V, 7)).await;
    t.send(&heartbeat_ed(Edition::V2025, V)).await;
    assert_eq!(t.expect(10).await[2], 0x07);
    let (_, m) = s.get(&format!("/api/v1/devices/{V}/messages?command=2")).await;
    let items = m["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{m}");
    assert_eq!(items[0]["frame"]["signature_check"], "valid", "{m}");
    assert_eq!(
        metric(&s, "gb32960_gateway_decode_errors_total{kind=\"bad_signature\"}").await,
        1.0
    );

    // A vehicle that never activated: its signed report is stored, marked no_key.
    let mut t = Tbox::connect(&s.tcp()).await;
    t.send(&login_ed(Edition::V2025, NOT_ACTIVATED)).await;
    assert_eq!(t.expect(10).await[3], ResponseFlag::SUCCESS.0);
    t.send(&signed_report(NOT_ACTIVATED, 9)).await;
    t.send(&heartbeat_ed(Edition::V2025, NOT_ACTIVATED)).await;
    assert_eq!(t.expect(10).await[2], 0x07);
    let (_, m) = s
        .get(&format!("/api/v1/devices/{NOT_ACTIVATED}/messages?command=2"))
        .await;
    assert_eq!(m["items"][0]["frame"]["signature_check"], "no_key", "{m}");
}

async fn command(s: &Server, v: &str, body: Value) -> (u16, Value) {
    s.send(Method::POST, &format!("/api/v1/devices/{v}/commands"), Some(body))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_set_query_control_timeout_offline_in_both_editions() {
    let s = Server::start(temp_dir("commands"), &[]).await;
    for ed in EDITIONS {
        let v = format!("LCOMMAND{}0000001", tag(ed));
        let silent = format!("LSILENT{}00000001", tag(ed));
        s.import(&[&v, &silent]).await;
        // Offline: 409; a bad body: 422.
        let (st, _) = command(&s, &v, json!({ "command": "query", "params": [2] })).await;
        assert_eq!(st, 409);
        let (st, e) = command(&s, &v, json!({ "command": "control", "control": "explode" })).await;
        assert_eq!((st, e["field"].as_str()), (422, Some("control")));

        let mut tb = CoreTbox::start(&s.tcp(), ed, &v).await;
        tb.wait_for(10, |e| matches!(e, TboxEvent::LoggedIn { .. })).await;
        let (st, a) = command(
            &s,
            &v,
            json!({ "command": "set", "params": [{ "id": 2, "value": 5 }, { "id": "platform_domain", "value": "gw.example.com" }], "timeout_secs": 10 }),
        )
        .await;
        assert_eq!(st, 200, "{ed:?} {a}");
        assert_eq!(
            (a["status"].as_str(), a["flag"].as_u64()),
            (Some("answered"), Some(1)),
            "{a}"
        );
        tb.wait_for(5, |e| matches!(e, TboxEvent::ParametersChanged)).await;

        let (st, a) = command(
            &s,
            &v,
            json!({ "command": "query", "params": [2, 4, 5], "timeout_secs": 10 }),
        )
        .await;
        assert_eq!(st, 200, "{a}");
        assert_eq!(a["frame"]["body_kind"], "parameter_answer", "{a}");
        let params = a["frame"]["body"]["params"].as_array().unwrap();
        let value = |name: &str| params.iter().find(|p| p["name"] == name).map(|p| p["value"].clone());
        assert_eq!(value("report_period_s"), Some(json!(5)), "{a}");
        assert_eq!(value("platform_domain"), Some(json!("gw.example.com")), "{a}");
        assert_eq!(value("platform_domain_length"), Some(json!(14)), "{a}");

        let (st, a) = command(
            &s,
            &v,
            json!({ "command": "control", "control": "alarm", "level": 2, "message": "check", "timeout_secs": 10 }),
        )
        .await;
        assert_eq!((st, a["flag"].as_u64()), (200, Some(1)), "{a}");
        let (_, data_unit) = tb.wait_for(5, |e| matches!(e, TboxEvent::Control)).await;
        assert_eq!(&data_unit[6..], &[6, 2, b'c', b'h', b'e', b'c', b'k']);

        // A terminal that never answers: 504.
        let mut t = Tbox::connect(&s.tcp()).await;
        t.send(&login_ed(ed, &silent)).await;
        assert_eq!(t.expect(10).await[3], 1);
        let started = std::time::Instant::now();
        let (st, a) = command(
            &s,
            &silent,
            json!({ "command": "control", "control": "reset", "timeout_secs": 1 }),
        )
        .await;
        assert_eq!(st, 504, "{a}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let q = t.expect(5).await;
        assert_eq!((q[2], q[3], q[30]), (0x82, 0xFE, 3));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_sink_batches_and_retries() {
    let posts: Arc<Mutex<Vec<Vec<Value>>>> = Arc::default();
    let app = Router::new().route(
        "/hook",
        post({
            let posts = posts.clone();
            move |Json(body): Json<Vec<Value>>| async move {
                let mut p = posts.lock().unwrap();
                p.push(body);
                if p.len() == 1 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    let dir = temp_dir("webhook");
    let cfg = dir.join("gateway.toml");
    std::fs::write(
        &cfg,
        format!("[sinks]\nwebhook = {{ url = \"http://127.0.0.1:{port}/hook\", batch = 50, retries = 3 }}\n"),
    )
    .unwrap();
    let s = Server::start(dir, &["--config", cfg.to_str().unwrap()]).await;
    const V: &str = "LWEBHOOK000000001";
    s.import(&[V]).await;
    let mut t = Tbox::connect(&s.tcp()).await;
    assert_eq!(t.login(V).await, 1);
    let now = chrono::Utc::now().timestamp();
    for i in 0..3 {
        t.send(&report(Cmd::REALTIME, V, now - 3 + i, i as u32)).await;
    }
    t.send(&heartbeat(V)).await;
    t.expect(5).await;
    drop(t);
    // online, login, 3 reports, heartbeat, offline: delivered after one 500.
    let mut delivered: Vec<Value> = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let p = posts.lock().unwrap();
        delivered = p.iter().skip(1).flatten().cloned().collect();
        if delivered.iter().any(|m| m["kind"] == "offline") {
            break;
        }
    }
    let p = posts.lock().unwrap().clone();
    assert!(p.len() >= 2, "{p:?}");
    assert!(p[0].len() > 1, "batched: {:?}", p[0]);
    assert_eq!(p[1][..p[0].len()], p[0][..], "the failed batch is sent again");
    let kinds: Vec<&str> = delivered.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["online", "frame", "frame", "frame", "frame", "frame", "offline"],
        "{delivered:?}"
    );
    for m in &delivered {
        for k in ["gateway", "product", "vin", "received_at", "kind", "frame"] {
            assert!(m.get(k).is_some(), "{k} in {m}");
        }
        assert_eq!(m["vin"], V);
        assert_eq!(m["gateway"], "default_gateway");
        assert!(m["product"].as_str().unwrap().starts_with("CloudGateway+"));
        assert!(m["received_at"].is_i64());
    }
    assert_eq!(delivered[2]["frame"]["body_kind"], "realtime", "{}", delivered[2]);
    assert!(delivered[0]["frame"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_purges_old_frames_on_demand_and_on_schedule() {
    const V: &str = "LRETAIN0000000001";
    // On demand.
    let s = Server::start(temp_dir("purge"), &[]).await;
    s.import(&[V]).await;
    let mut t = Tbox::connect(&s.tcp()).await;
    assert_eq!(t.login(V).await, 1);
    t.send(&heartbeat(V)).await;
    t.expect(5).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let cut = chrono::Utc::now().timestamp_millis();
    tokio::time::sleep(Duration::from_millis(50)).await;
    t.send(&heartbeat(V)).await;
    t.expect(5).await;
    assert_eq!(messages(&s, V).await.len(), 3);
    let (st, v) = s.send(Method::POST, "/api/v1/maintenance/purge", None).await;
    assert_eq!(st, 400, "no retention configured: {v}");
    let (st, v) = s
        .send(
            Method::POST,
            "/api/v1/maintenance/purge",
            Some(json!({ "before": cut })),
        )
        .await;
    assert_eq!((st, v["deleted"].as_u64()), (200, Some(2)), "{v}");
    assert_eq!(messages(&s, V).await.len(), 1);
    drop(t);
    drop(s);

    // On schedule: keep 2 s, purge every second.
    let dir = temp_dir("retention");
    let cfg = dir.join("gateway.toml");
    std::fs::write(&cfg, "retention_secs = 2\nretention_interval_secs = 1\n").unwrap();
    let s = Server::start(dir, &["--config", cfg.to_str().unwrap()]).await;
    s.import(&[V]).await;
    let mut t = Tbox::connect(&s.tcp()).await;
    assert_eq!(t.login(V).await, 1);
    t.send(&heartbeat(V)).await;
    t.expect(5).await;
    assert!(!messages(&s, V).await.is_empty());
    let mut left = usize::MAX;
    for _ in 0..80 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = messages(&s, V).await.len();
        if left == 0 {
            break;
        }
    }
    assert_eq!(left, 0, "frames older than 2 s are purged");
    assert!(metric(&s, "gb32960_gateway_purged_frames_total").await >= 2.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_families_are_present_and_move() {
    const V16: &str = "LMETRICS160000001";
    const V25: &str = "LMETRICS250000001";
    let s = Server::start(temp_dir("metrics"), &[]).await;
    s.import(&[V16, V25]).await;
    let families = [
        "gb32960_gateway_connections ",
        "gb32960_gateway_connections_accepted_total ",
        "gb32960_gateway_logins_total{result=\"accepted\"}",
        "gb32960_gateway_logins_total{result=\"refused\"}",
        "gb32960_gateway_frames_total{command=\"realtime_report\"}",
        "gb32960_gateway_frames_total{command=\"heartbeat\"}",
        "gb32960_gateway_decode_errors_total{kind=\"garbage\"}",
        "gb32960_gateway_decode_errors_total{kind=\"bad_checksum\"}",
        "gb32960_gateway_store_write_seconds_count ",
        "gb32960_gateway_downlinks_total{outcome=\"success\"}",
        "gb32960_gateway_downlinks_total{outcome=\"api_timeout\"}",
        "gb32960_gateway_downlinks_total{outcome=\"cancelled\"}",
    ];
    let mut before = Vec::new();
    for f in families {
        before.push(metric(&s, f).await);
    }
    let text = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
    for h in [
        "# TYPE gb32960_gateway_connections gauge",
        "# TYPE gb32960_gateway_store_write_seconds histogram",
    ] {
        assert!(text.contains(h), "{h} in {text}");
    }

    let mut bad = Tbox::connect(&s.tcp()).await;
    assert_eq!(bad.login("LUNKNOWN000000001").await, 2);
    let mut a = Tbox::connect(&s.tcp()).await;
    assert_eq!(a.login(V16).await, 1);
    let mut b = Tbox::connect(&s.tcp()).await;
    b.send(&login_ed(Edition::V2025, V25)).await;
    assert_eq!(b.expect(5).await[3], 1);
    let now = chrono::Utc::now().timestamp();
    let mut broken = report(Cmd::REALTIME, V16, now - 5, 9);
    *broken.last_mut().unwrap() ^= 0x55;
    let mut stream = b"garbage".to_vec();
    stream.extend(report(Cmd::REALTIME, V16, now - 1, 1));
    stream.extend(broken);
    stream.extend(heartbeat(V16));
    a.send(&stream).await;
    a.expect(5).await;
    b.send(&heartbeat_ed(Edition::V2025, V25)).await;
    b.expect(5).await;
    // A downlink answered (the raw T-Box answers the query) and one the API gives up on.
    let api = tokio::spawn({
        let url = s.url(&format!("/api/v1/devices/{V16}/commands"));
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(TOKEN)
                .json(&json!({ "command": "query", "params": [1], "timeout_secs": 10 }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let q = a.expect(10).await;
    let mut answer = q[24..30].to_vec();
    answer.extend_from_slice(&[1, 0x01, 0x03, 0xE8]);
    a.send(&frame(Cmd::PARAM_QUERY, ResponseFlag::SUCCESS, V16, &answer))
        .await;
    assert_eq!(api.await.unwrap(), 200);
    let (st, _) = s
        .send(
            Method::POST,
            &format!("/api/v1/devices/{V25}/commands"),
            Some(json!({ "command": "query", "params": [1], "timeout_secs": 1 })),
        )
        .await;
    assert_eq!(st, 504);
    // The connection withdraws the command nobody waits for any more.
    let cancelled = "gb32960_gateway_downlinks_total{outcome=\"cancelled\"}";
    for _ in 0..50 {
        if metric(&s, cancelled).await > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    for (f, b0) in families.iter().zip(&before) {
        let now = metric(&s, f).await;
        assert!(now > *b0, "{f} did not move: {b0} -> {now}");
    }
}
