//! End to end: the real `host-gateway serve` on loopback, T-Boxes speaking raw frames, the admin
//! API over HTTP.

mod server_support;

use std::time::Duration;

use gb32960_core::{Command as Cmd, ResponseFlag};
use reqwest::Method;
use serde_json::{json, Value};
use server_support::*;

const V1: &str = "LGBT32960TEST0001";

#[tokio::test(flavor = "multi_thread")]
async fn unknown_vin_refused_then_imported_vin_reports_stored_and_queryable() {
    let s = Server::start(temp_dir("flow"), &[]).await;

    // Unknown VIN: refused with 0x02, link closed.
    let mut t = Tbox::connect(&s.tcp()).await;
    assert_eq!(t.login(V1).await, ResponseFlag::ERROR.0);
    assert!(t.closed_within(5).await);

    // Import: JSON with one bad row, CSV with one bad row; valid rows kept.
    let (st, v) = s
        .send(
            Method::POST,
            "/api/v1/devices/import",
            Some(json!([{ "vin": V1, "iccid": "89860012345678901234" }, { "vin": "B@D" }])),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["imported"], 1);
    assert_eq!(v["errors"][0]["row"], 2);
    assert!(v["errors"][0]["error"].as_str().unwrap().contains("vin"));
    let r = reqwest::Client::new()
        .post(s.url("/api/v1/devices/import"))
        .bearer_auth(TOKEN)
        .header("content-type", "text/csv")
        .body("vin,iccid,color\nLCSV0000000000001,,red\nX1\n")
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["imported"], 1, "{v}");
    assert_eq!(v["errors"].as_array().unwrap().len(), 1);
    // No token: 401.
    let r = reqwest::get(s.url("/api/v1/sessions")).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // Accepted login; garbage and a bad checksum between valid frames.
    let mut t = Tbox::connect(&s.tcp()).await;
    assert_eq!(t.login(V1).await, ResponseFlag::SUCCESS.0);
    let now = chrono::Utc::now().timestamp();
    let mut bad = report(Cmd::REALTIME, V1, now - 100, 99);
    *bad.last_mut().unwrap() ^= 0x55;
    let mut stream = b"noise##\x00garbage".to_vec();
    stream.extend(report(Cmd::REALTIME, V1, now - 2, 1));
    stream.extend(&bad);
    stream.extend(b"\xff\xfe##");
    stream.extend(report(Cmd::REISSUE, V1, now - 60, 2));
    // A frame larger than what a connection keeps while idle (4 KiB): the buffer grows for it.
    let big = report_of(Cmd::REISSUE, V1, now - 50, 4, 300);
    assert!(big.len() > 6000);
    stream.extend(&big);
    stream.extend(report(Cmd::REALTIME, V1, now - 1, 3));
    t.send(&stream).await;
    // Heartbeat: answered with the platform's time (6 bytes), after the reports are stored.
    t.send(&heartbeat(V1)).await;
    let a = t.expect(10).await;
    assert_eq!((a[2], a[3]), (0x07, 0x01));
    assert_eq!(u16::from_be_bytes([a[22], a[23]]), 6);
    // Time calibration.
    t.send(&frame(Cmd::TIME_CALIBRATION, ResponseFlag::COMMAND, V1, &[]))
        .await;
    let a = t.expect(10).await;
    assert_eq!((a[2], a[3], a[23]), (0x08, 0x01, 6));
    // 300 heartbeats in one write: every one is answered (the machine's answer queue holds 16).
    t.send(&heartbeat(V1).repeat(300)).await;
    for i in 0..300 {
        let a = t.expect(10).await;
        assert_eq!((a[2], a[3]), (0x07, 0x01), "answer {i}");
    }

    let (st, v) = s.get(&format!("/api/v1/devices/{V1}/messages?command=2")).await;
    assert_eq!(st, 200);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{v}");
    assert_eq!(items[0]["command"], 2);
    assert_eq!(items[0]["frame"]["body_kind"], "realtime");
    assert!(items[0]["raw"].as_str().unwrap().starts_with("232302FE"));
    assert!(items[0]["received_at"].as_i64().unwrap() >= items[1]["received_at"].as_i64().unwrap());
    let (_, v) = s
        .get(&format!("/api/v1/devices/{V1}/messages?command=reissue_report"))
        .await;
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let big_hex = hex::encode_upper(&big);
    assert!(
        items.iter().any(|i| i["raw"].as_str() == Some(big_hex.as_str())),
        "large reissue not stored"
    );
    let (_, v) = s.get(&format!("/api/v1/devices/{V1}/messages?limit=100")).await;
    // login, 4 reports, heartbeat, time calibration, 300 heartbeats
    assert_eq!(v["items"].as_array().unwrap().len(), 100, "{v}");
    let (_, v) = s
        .get(&format!("/api/v1/devices/{V1}/messages?command=heartbeat&limit=1000"))
        .await;
    assert_eq!(v["items"].as_array().unwrap().len(), 301, "{v}");

    let (st, v) = s.get(&format!("/api/v1/devices/{V1}")).await;
    assert_eq!(st, 200);
    assert_eq!(v["online"], true);
    assert!(v["last_login"].is_i64() && v["last_seen"].is_i64(), "{v}");
    assert_eq!(v["latest_realtime"]["frame"]["body_kind"], "realtime");
    assert_eq!(v["device"]["iccid"], "89860012345678901234");
    let (_, v) = s.get("/api/v1/sessions").await;
    assert_eq!(v["items"][0]["vin"], V1);

    // Downlink query answered by the terminal.
    let api = tokio::spawn({
        let url = s.url(&format!("/api/v1/devices/{V1}/commands"));
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(TOKEN)
                .json(&json!({ "command": "query", "params": [1], "timeout_secs": 10 }))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    });
    let q = t.expect(10).await;
    assert_eq!((q[2], q[3]), (0x80, 0xFE));
    let mut answer = q[24..30].to_vec(); // the query's time
    answer.extend_from_slice(&[1, 0x01, 0x03, 0xE8]); // local storage period = 1000 ms
    t.send(&frame(Cmd::PARAM_QUERY, ResponseFlag::SUCCESS, V1, &answer))
        .await;
    let (st, v) = api.await.unwrap();
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "answered");
    assert_eq!(v["flag"], 1);
    assert_eq!(v["frame"]["body_kind"], "parameter_answer", "{v}");

    // Kick: the link is closed, the session offline.
    let (st, _) = s.send(Method::DELETE, &format!("/api/v1/sessions/{V1}"), None).await;
    assert_eq!(st, 204);
    assert!(t.closed_within(5).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, v) = s.get(&format!("/api/v1/devices/{V1}")).await;
    assert_eq!(v["online"], false);
    let (_, v) = s.get("/api/v1/sessions?history=true").await;
    assert!(v["history"][0]["offline_at"].is_i64(), "{v}");

    let metrics = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("logins_total{result=\"refused\"} 1"), "{metrics}");
    assert!(metrics.contains("bad_checksum"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_vin_new_connection_wins_and_idle_links_close() {
    let s = Server::start(temp_dir("dup"), &["--idle-timeout", "2"]).await;
    s.import(&[V1]).await;
    let mut a = Tbox::connect(&s.tcp()).await;
    assert_eq!(a.login(V1).await, 1);
    let mut b = Tbox::connect(&s.tcp()).await;
    assert_eq!(b.login(V1).await, 1);
    assert!(a.closed_within(5).await, "the old link stays open");
    let (_, v) = s.get("/api/v1/sessions").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    // Idle: closed after 2 s without a frame (and not before 1 s).
    let started = std::time::Instant::now();
    assert!(b.closed_within(6).await);
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn gateways_created_validated_edited_and_refuse_duplicates() {
    let s = Server::start(temp_dir("gw"), &[]).await;
    let (_, v) = s.get("/api/v1/gateways").await;
    let first = &v["items"][0];
    assert_eq!(first["status"]["state"], "running", "{v}");
    assert_eq!(first["product"], format!("CloudGateway+{}", first["id"]));

    // Validation names the field.
    for (body, field) in [
        (json!({ "name": "ab", "port": 9100 }), "name"),
        (json!({ "name": "gate-1", "port": 9100 }), "name"),
        (json!({ "name": "gate_1", "port": 80 }), "port"),
        (
            json!({ "name": "gate_1", "port": 9100, "auth_type": "third_party" }),
            "auth_url",
        ),
        (json!({ "name": "default_gateway", "port": 9100 }), "name"),
    ] {
        let (st, v) = s.send(Method::POST, "/api/v1/gateways", Some(body.clone())).await;
        assert_eq!(st, 422, "{body} -> {v}");
        assert_eq!(v["field"], field, "{body} -> {v}");
    }

    // A second gateway refusing duplicate VINs, CJK name (两 counts two: 2+2+2+1 = 7).
    let port = free_port();
    let (st, g) = s
        .send(
            Method::POST,
            "/api/v1/gateways",
            Some(json!({ "name": "网关二_", "host": "127.0.0.1", "port": port, "duplicate_vin": "refuse_new" })),
        )
        .await;
    assert_eq!(st, 201, "{g}");
    assert_eq!(g["status"]["state"], "running");
    let id = g["id"].as_i64().unwrap();
    let (st, v) = s
        .send(
            Method::POST,
            &format!("/api/v1/devices/import?gateway={id}"),
            Some(json!([{ "vin": V1 }])),
        )
        .await;
    assert_eq!((st, v["imported"].as_u64()), (200, Some(1)));
    let addr = format!("127.0.0.1:{port}");
    let mut a = Tbox::connect(&addr).await;
    assert_eq!(a.login(V1).await, 1);
    let mut b = Tbox::connect(&addr).await;
    assert_eq!(b.login(V1).await, ResponseFlag::VIN_DUPLICATE.0);
    assert!(b.closed_within(5).await);
    // The device belongs to the new gateway: the default one refuses it.
    let mut c = Tbox::connect(&s.tcp()).await;
    assert_eq!(c.login(V1).await, ResponseFlag::ERROR.0);

    // Edit: rebind to another port without a restart.
    let port2 = free_port();
    let (st, v) = s
        .send(
            Method::PATCH,
            &format!("/api/v1/gateways/{id}"),
            Some(json!({ "port": port2 })),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["port"], port2);
    assert!(a.closed_within(5).await, "connections of the old listener are closed");
    let mut d = Tbox::connect(&format!("127.0.0.1:{port2}")).await;
    assert_eq!(d.login(V1).await, 1);
    let (st, v) = s
        .send(
            Method::PATCH,
            &format!("/api/v1/gateways/{id}"),
            Some(json!({ "port": 1 })),
        )
        .await;
    assert_eq!((st, v["field"].as_str()), (422, Some("port")));
    // Stop, then delete.
    let (_, v) = s.send(Method::POST, &format!("/api/v1/gateways/{id}/stop"), None).await;
    assert_eq!(v["status"]["state"], "stopped");
    assert!(d.closed_within(5).await);
    assert!(tokio::net::TcpStream::connect(format!("127.0.0.1:{port2}"))
        .await
        .is_err());
    let (st, _) = s.send(Method::DELETE, &format!("/api/v1/gateways/{id}"), None).await;
    assert_eq!(st, 204);
    let (_, v) = s.get("/api/v1/gateways").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);

    let (st, v) = s.get("/api/v1/openapi.json").await;
    assert_eq!(st, 200);
    assert!(v["paths"]["/api/v1/devices/{vin}/messages"].is_object());
}

/// Sends `n` reports and proves they were accepted: the heartbeat after them is answered only
/// once they are committed.
async fn send_acknowledged(t: &mut Tbox, from: u32, n: u32) {
    let now = chrono::Utc::now().timestamp();
    for i in 0..n {
        t.send(&report(Cmd::REALTIME, V1, now - 1000 + i64::from(from + i), from + i))
            .await;
    }
    t.send(&heartbeat(V1)).await;
    let a = t.expect(10).await;
    assert_eq!(a[2], 0x07);
}

async fn count(s: &Server) -> usize {
    let (_, v) = s
        .get(&format!("/api/v1/devices/{V1}/messages?command=2&limit=10000"))
        .await;
    v["items"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_data_survives_sigterm_restart_and_kill_9() {
    let dir = temp_dir("durable");
    let mut s = Server::start(dir.clone(), &[]).await;
    s.import(&[V1]).await;
    let mut t = Tbox::connect(&s.tcp()).await;
    assert_eq!(t.login(V1).await, 1);
    send_acknowledged(&mut t, 0, 50).await;
    assert!(s.terminate(), "SIGTERM exits cleanly");
    assert!(t.closed_within(5).await);

    let (tcp, api) = (s.tcp_port, s.api_port);
    drop(s);
    let args = vec!["--api-token".to_string(), TOKEN.to_string()];
    let mut s = Server::start_raw(dir.clone(), tcp, api, &args).await;
    assert_eq!(count(&s).await, 50);
    let (_, v) = s.get("/api/v1/sessions?history=true").await;
    assert!(v["history"][0]["offline_at"].is_i64(), "{v}");

    let mut t = Tbox::connect(&s.tcp()).await;
    assert_eq!(t.login(V1).await, 1);
    send_acknowledged(&mut t, 50, 100).await;
    s.kill9();
    drop(s);
    let s = Server::start_raw(dir, tcp, api, &args).await;
    assert_eq!(count(&s).await, 150);
    // The session the crash left online is closed at start.
    let (_, v) = s.get("/api/v1/sessions?history=true").await;
    assert!(
        v["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["offline_at"].is_i64()),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_token_is_printed_once_and_works_after_restart() {
    let dir = temp_dir("token");
    let (tcp, api) = (free_port(), free_port());
    let s = Server::start_raw(dir.clone(), tcp, api, &[]).await;
    let line = s.stdout.recv_timeout(Duration::from_secs(5)).expect("the token line");
    let token = line.rsplit(' ').next().unwrap().to_string();
    assert!(line.starts_with("API token"), "{line}");
    let ok = |token: String, url: String| async move {
        reqwest::Client::new()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ok(token.clone(), s.url("/api/v1/gateways")).await, 200);
    assert_eq!(ok("wrong".into(), s.url("/api/v1/gateways")).await, 401);
    drop(s);
    let s = Server::start_raw(dir.clone(), tcp, api, &[]).await;
    let lines: Vec<String> = std::iter::from_fn(|| s.stdout.recv_timeout(Duration::from_millis(300)).ok()).collect();
    assert!(lines.iter().all(|l| !l.starts_with("API token")), "{lines:?}");
    assert_eq!(ok(token, s.url("/api/v1/gateways")).await, 200);
    let db = std::fs::read(dir.join("gateway.db")).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains(&line[line.len() - 48..]));
}
