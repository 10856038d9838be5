//! TLS gateways end to end: the real `host-gateway serve` on loopback with rcgen certificates,
//! rustls (tokio-rustls) and `openssl s_client` as T-Boxes. TLS 1.2 and 1.3 with ECDSA and RSA
//! keys, certificates replaced through the API and on SIGHUP with connections kept, mutual TLS
//! with the VIN bound to the certificate, garbage, silence and the record size cap.
//! Revocation (OCSP, CRL) is in `server_tls_revocation.rs`.

mod server_support;
mod tls_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gb32960_core::{Command as Cmd, Edition, ResponseFlag};
use reqwest::Method;
use serde_json::json;
use server_support::*;
use tls_support::pki::{require_openssl, Alg, Ca, Leaf, Validity};
use tls_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn peer_cert(s: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> Vec<u8> {
    s.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

fn version(s: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> Option<rustls::ProtocolVersion> {
    s.get_ref().1.protocol_version()
}

/// Logs in over a fresh rustls connection and checks the answer and the negotiated version.
async fn login_over(addr: &str, ca: &Ca, versions: &[&'static rustls::SupportedProtocolVersion], vin: &str) -> Vec<u8> {
    let s = connect(addr, client_config(&ca.cert_pem, None, versions))
        .await
        .unwrap();
    assert_eq!(version(&s), Some(versions[0].version), "{vin}");
    let cert = peer_cert(&s);
    let mut l = Link::over(s);
    assert_eq!(l.login(vin).await, ResponseFlag::SUCCESS.0, "{vin}");
    cert
}

#[tokio::test(flavor = "multi_thread")]
async fn tls12_and_tls13_with_ecdsa_and_rsa_keys_for_rustls_and_openssl_clients() {
    require_openssl();
    let dir = temp_dir("tls-versions");
    let ca = Ca::new(&dir, "gateway-ca", Alg::Ecdsa);
    let ecdsa = ca.server("server-ecdsa", 0x2001, Alg::Ecdsa, None);
    let rsa = ca.server("server-rsa", 0x2002, Alg::Rsa, None);
    let config = tls_config(&dir, &ecdsa, "", "");
    let s = start(temp_dir("tls-versions-data"), &config).await;
    // Devices belong to one gateway: 0-5 to the ECDSA one, 6-9 to the RSA one.
    let vins: Vec<String> = (0..10).map(|i| format!("LGBTLS0000000000{i}")).collect();
    s.import(&vins[..6].iter().map(String::as_str).collect::<Vec<_>>())
        .await;

    // A second gateway, created through the API, with the RSA key.
    let rsa_port = free_port();
    let (st, v) = s
        .send(
            Method::POST,
            "/api/v1/gateways",
            Some(json!({
                "name": "tls_rsa", "host": "127.0.0.1", "port": rsa_port, "transport": "tls",
                "tls": { "cert": rsa.chain_path, "key": rsa.key_path },
            })),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["status"]["state"], "running", "{v}");
    assert_eq!(v["tls_status"]["key_type"], "RSA", "{v}");
    assert_eq!(v["url"], format!("tls://127.0.0.1:{rsa_port}"));
    let rsa_id = v["id"].as_i64().unwrap();
    let rows: Vec<_> = vins[6..].iter().map(|v| json!({ "vin": v })).collect();
    let (st, v) = s
        .send(
            Method::POST,
            &format!("/api/v1/devices/import?gateway={rsa_id}"),
            Some(json!(rows)),
        )
        .await;
    assert_eq!((st, v["imported"].as_u64()), (200, Some(4)), "{v}");
    let rsa_addr = format!("127.0.0.1:{rsa_port}");

    // rustls, both versions, both keys: the certificate served is the configured one.
    assert_eq!(login_over(&s.tcp(), &ca, TLS13, &vins[0]).await, ecdsa.der.to_vec());
    assert_eq!(login_over(&s.tcp(), &ca, TLS12, &vins[1]).await, ecdsa.der.to_vec());
    assert_eq!(login_over(&rsa_addr, &ca, TLS13, &vins[6]).await, rsa.der.to_vec());
    assert_eq!(login_over(&rsa_addr, &ca, TLS12, &vins[7]).await, rsa.der.to_vec());

    // Reports over TLS are stored and answered like over TCP.
    let mut l = Link::over(
        connect(&s.tcp(), client_config(&ca.cert_pem, None, TLS13))
            .await
            .unwrap(),
    );
    assert_eq!(l.login(&vins[4]).await, ResponseFlag::SUCCESS.0);
    let now = chrono::Utc::now().timestamp();
    l.send(&report(Cmd::REALTIME, &vins[4], now - 1, 7)).await;
    l.send(&heartbeat(&vins[4])).await;
    let a = l.expect(10).await;
    assert_eq!((a[2], a[3]), (0x07, 0x01));
    let (_, v) = s.get(&format!("/api/v1/devices/{}/messages?command=2", vins[4])).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");

    // openssl s_client: both versions against both keys.
    for (port, flag, vin) in [
        (s.tcp_port, "-tls1_3", &vins[2]),
        (s.tcp_port, "-tls1_2", &vins[3]),
        (rsa_port, "-tls1_2", &vins[8]),
        (rsa_port, "-tls1_3", &vins[9]),
    ] {
        let answer = s_client_exchange(port, &ca.cert_path, None, flag, &login(vin, "89860012345678901234"))
            .unwrap_or_else(|e| panic!("{port} {flag}: {e}"));
        assert_eq!((answer[2], answer[3]), (0x01, ResponseFlag::SUCCESS.0), "{port} {flag}");
    }
    // A gateway restricted to TLS 1.3 refuses a 1.2-only client.
    let (st, v) = s
        .send(
            Method::PATCH,
            &format!("/api/v1/gateways/{rsa_id}"),
            Some(json!({ "tls": { "versions": ["1.3"] } })),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["tls"]["versions"], json!(["1.3"]), "{v}");
    assert!(connect(&rsa_addr, client_config(&ca.cert_pem, None, TLS12))
        .await
        .is_err());
    assert!(
        wait_log(&s, &["TLS handshake failed", &format!("gateway={rsa_id}")], 5).await,
        "{}",
        log(&s)
    );
    assert_eq!(login_over(&rsa_addr, &ca, TLS13, &vins[6]).await, rsa.der.to_vec());
}

/// Sends a heartbeat and expects its answer: the connection is still up.
async fn alive<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(l: &mut Link<S>, vin: &str) {
    l.send(&heartbeat(vin)).await;
    let f = l.expect(10).await;
    assert_eq!((f[2], f[3]), (0x07, 0x01));
}

/// The key's base64 body lines (to look for in logs and API answers).
fn key_lines(l: &Leaf) -> Vec<String> {
    l.key_pem
        .lines()
        .filter(|x| !x.starts_with("-----") && x.len() > 20)
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn certificates_replaced_by_api_and_sighup_keep_established_connections() {
    require_openssl();
    let dir = temp_dir("tls-reload");
    let ca = Ca::new(&dir, "gateway-ca", Alg::Ecdsa);
    let a = ca.server("server-a", 0x2001, Alg::Ecdsa, None);
    let b = ca.server("server-b", 0x2002, Alg::Rsa, None);
    let c = ca.server("server-c", 0x2003, Alg::Ecdsa, None);
    let config = tls_config(&dir, &a, "", "");
    let mut s = start(temp_dir("tls-reload-data"), &config).await;
    const V1: &str = "LGBRELOAD00000001";
    s.import(&[V1, "LGBRELOAD00000002"]).await;
    let cfg = || client_config(&ca.cert_pem, None, TLS13);
    let served = || async { peer_cert(&connect(&s.tcp(), cfg()).await.unwrap()) };

    let mut kept = Link::over(connect(&s.tcp(), cfg()).await.unwrap());
    assert_eq!(kept.login(V1).await, ResponseFlag::SUCCESS.0);

    // API: inline PEM for B (RSA). The answer shows the new fingerprint, never the key.
    let (st, v) = s
        .send(
            Method::PATCH,
            "/api/v1/gateways/1",
            Some(json!({ "tls": { "cert": b.chain_pem, "key": b.key_pem } })),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["tls"]["key"], "<inline PEM, redacted>");
    assert_eq!(v["tls_status"]["key_type"], "RSA");
    assert_eq!(
        v["tls_status"]["cert_sha256"],
        hex::encode(ring::digest::digest(&ring::digest::SHA256, &b.der))
    );
    assert_eq!(served().await, b.der.to_vec());
    alive(&mut kept, V1).await;

    // Bad PEM, an unreadable file, a key of another certificate: 422 naming the field, B stays.
    for (patch, field, words) in [
        (
            json!({ "key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }),
            "tls.key",
            "key",
        ),
        (json!({ "key": a.key_pem }), "tls.key", "does not match"),
        (
            json!({ "cert": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }),
            "tls.cert",
            "PEM",
        ),
        (json!({ "cert": dir.join("missing.pem") }), "tls.cert", "cannot read"),
    ] {
        let (st, v) = s
            .send(Method::PATCH, "/api/v1/gateways/1", Some(json!({ "tls": patch })))
            .await;
        assert_eq!(st, 422, "{v}");
        assert_eq!(v["field"], field, "{v}");
        assert!(v["error"].as_str().unwrap().contains(words), "{v}");
    }
    assert_eq!(served().await, b.der.to_vec());
    let (_, v) = s.get("/api/v1/gateways/1").await;
    assert_eq!(v["tls_status"]["key_type"], "RSA", "{v}");

    // Back to files (A), then SIGHUP after the files were replaced by C.
    let (st, v) = s
        .send(
            Method::PATCH,
            "/api/v1/gateways/1",
            Some(json!({ "tls": { "cert": a.chain_path, "key": a.key_path } })),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["tls"]["key"], a.key_path.display().to_string());
    assert_eq!(served().await, a.der.to_vec());
    std::fs::write(&a.chain_path, &c.chain_pem).unwrap();
    std::fs::write(&a.key_path, &c.key_pem).unwrap();
    assert_eq!(
        served().await,
        a.der.to_vec(),
        "files are only re-read on an edit or SIGHUP"
    );
    let hup = || {
        let st = std::process::Command::new("kill")
            .args(["-HUP", &s.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    };
    hup();
    assert!(wait_log(&s, &["TLS files reloaded"], 10).await, "{}", log(&s));
    assert_eq!(served().await, c.der.to_vec());
    alive(&mut kept, V1).await;

    // A broken key file: SIGHUP keeps C and says why.
    std::fs::write(
        &a.key_path,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    hup();
    assert!(
        wait_log(&s, &["TLS reload failed", "field=tls.key"], 10).await,
        "{}",
        log(&s)
    );
    assert_eq!(served().await, c.der.to_vec());
    alive(&mut kept, V1).await;

    // No key material in any API answer or log line.
    let (_, all) = s.get("/api/v1/gateways").await;
    let text = format!("{all}{}", log(&s));
    for k in [&a, &b, &c] {
        for line in key_lines(k) {
            assert!(!text.contains(&line), "key material leaked: {line}");
        }
    }
    assert!(s.terminate());
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_binds_the_vin_and_refuses_expired_untrusted_and_wrong_vin_certificates() {
    require_openssl();
    let dir = temp_dir("tls-mtls");
    let ca = Ca::new(&dir, "gateway-ca", Alg::Ecdsa);
    let server = ca.server("server", 0x2001, Alg::Ecdsa, None);
    let dca = Ca::new(&dir, "device-ca", Alg::Rsa);
    let other = Ca::new(&dir, "other-ca", Alg::Ecdsa);
    const V: [&str; 6] = [
        "LGBMTLS0000000001",
        "LGBMTLS0000000002",
        "LGBMTLS0000000003",
        "LGBMTLS0000000004",
        "LGBMTLS0000000005",
        "LGBMTLS0000000006",
    ];
    let ecdsa_dev = dca.device("dev1", 0x1001, Alg::Ecdsa, V[0], &[], None, Validity::Current);
    let rsa_dev = dca.device("dev2", 0x1002, Alg::Rsa, V[1], &[], None, Validity::Current);
    let san_dev = dca.device("dev3", 0x1003, Alg::Ecdsa, "device-3", &[V[2]], None, Validity::Current);
    let expired = dca.device("dev4", 0x1004, Alg::Ecdsa, V[3], &[], None, Validity::Expired);
    let untrusted = other.device("dev5", 0x1005, Alg::Ecdsa, V[4], &[], None, Validity::Current);
    let tls = format!("client_ca = {:?}\n", dca.cert_path.display().to_string());
    let config = tls_config(&dir, &server, &tls, "");
    let s = start(temp_dir("tls-mtls-data"), &config).await;
    s.import(&V).await;
    let cfg = |l: Option<&Leaf>| client_config(&ca.cert_pem, l, TLS13);

    // Good certificates, ECDSA and RSA, log in as their own VIN.
    assert_eq!(
        tls_login(&s.tcp(), cfg(Some(&ecdsa_dev)), V[0]).await,
        ResponseFlag::SUCCESS.0
    );
    assert_eq!(
        tls_login(&s.tcp(), client_config(&ca.cert_pem, Some(&rsa_dev), TLS12), V[1]).await,
        ResponseFlag::SUCCESS.0
    );
    // ...and through openssl s_client.
    let answer = s_client_exchange(s.tcp_port, &ca.cert_path, Some(&rsa_dev), "-tls1_3", &login(V[1], "1")).unwrap();
    assert_eq!(answer[3], ResponseFlag::SUCCESS.0);

    // Another VIN with a good certificate: refused with 0x02 and logged.
    assert_eq!(
        tls_login(&s.tcp(), cfg(Some(&ecdsa_dev)), V[5]).await,
        ResponseFlag::ERROR.0
    );
    assert!(
        wait_log(
            &s,
            &["login refused: VIN does not match the client certificate", V[5], V[0]],
            5
        )
        .await,
        "{}",
        log(&s)
    );
    assert_eq!(
        metric(&s, "gb32960_gateway_logins_total{result=\"certificate_mismatch\"}").await,
        1.0
    );

    // The 2025 edition (`$$` frames): the same binding.
    let mut l = Link::over(connect(&s.tcp(), cfg(Some(&ecdsa_dev))).await.unwrap());
    l.send(&login_ed(Edition::V2025, V[0])).await;
    let a = l.expect(10).await;
    assert_eq!((&a[..2], a[2], a[3]), (&b"$$"[..], 0x01, ResponseFlag::SUCCESS.0));
    drop(l);
    let mut l = Link::over(connect(&s.tcp(), cfg(Some(&ecdsa_dev))).await.unwrap());
    l.send(&login_ed(Edition::V2025, V[5])).await;
    let a = l.expect(10).await;
    assert_eq!((&a[..2], a[2], a[3]), (&b"$$"[..], 0x01, ResponseFlag::ERROR.0));
    assert_eq!(
        metric(&s, "gb32960_gateway_logins_total{result=\"certificate_mismatch\"}").await,
        2.0
    );

    // The VIN only in a SAN: refused under vin_match = "cn", accepted after switching to
    // "cn_or_san" (a TLS-only edit: the first device stays connected meanwhile).
    let mut kept = Link::over(connect(&s.tcp(), cfg(Some(&ecdsa_dev))).await.unwrap());
    assert_eq!(kept.login(V[0]).await, ResponseFlag::SUCCESS.0);
    assert_eq!(
        tls_login(&s.tcp(), cfg(Some(&san_dev)), V[2]).await,
        ResponseFlag::ERROR.0
    );
    let (st, v) = s
        .send(
            Method::PATCH,
            "/api/v1/gateways/1",
            Some(json!({ "tls": { "vin_match": "cn_or_san" } })),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["tls_status"]["vin_match"], "cn_or_san");
    assert_eq!(
        tls_login(&s.tcp(), cfg(Some(&san_dev)), V[2]).await,
        ResponseFlag::SUCCESS.0
    );
    kept.send(&heartbeat(V[0])).await;
    assert_eq!(kept.expect(10).await[2], 0x07);

    // Expired, untrusted, none: the handshake fails and the log says why.
    assert_eq!(tls_login(&s.tcp(), cfg(Some(&expired)), V[3]).await, 0);
    assert!(
        wait_log(&s, &["TLS handshake failed", "expired"], 5).await,
        "{}",
        log(&s)
    );
    assert_eq!(tls_login(&s.tcp(), cfg(Some(&untrusted)), V[4]).await, 0);
    assert!(
        wait_log(&s, &["TLS handshake failed", "UnknownIssuer"], 5).await,
        "{}",
        log(&s)
    );
    assert_eq!(tls_login(&s.tcp(), cfg(None), V[4]).await, 0);
    assert!(
        wait_log(&s, &["TLS handshake failed", "peer sent no certificates"], 5).await,
        "{}",
        log(&s)
    );
    let expired_openssl = s_client_exchange(s.tcp_port, &ca.cert_path, Some(&expired), "-tls1_2", &login(V[3], "1"));
    assert!(expired_openssl.is_err(), "{expired_openssl:?}");
    assert!(metric(&s, "gb32960_gateway_tls_handshakes_total{result=\"failed\"}").await >= 4.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_silence_and_the_record_size_cap_on_a_tls_port() {
    require_openssl();
    let dir = temp_dir("tls-edges");
    let ca = Ca::new(&dir, "gateway-ca", Alg::Ecdsa);
    // An RSA chain (about 1.3 kB) so the Certificate message cannot fit one 512-byte record.
    let server = ca.server("server", 0x2001, Alg::Rsa, None);
    let config = tls_config(
        &dir,
        &server,
        "max_fragment_size = 512\nhandshake_timeout_ms = 1000\n",
        "",
    );
    let s = start(temp_dir("tls-edges-data"), &config).await;
    const V1: &str = "LGBEDGE0000000001";
    s.import(&[V1]).await;

    // Plain text on the TLS port: closed, logged.
    let mut raw = tokio::net::TcpStream::connect(s.tcp()).await.unwrap();
    raw.write_all(b"##\x01\xfe plain GB/T 32960 on a TLS port\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let r = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match raw.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue, // a TLS alert
            }
        }
    })
    .await;
    assert!(r.is_ok(), "the gateway kept a garbage connection open");
    assert!(wait_log(&s, &["TLS handshake failed"], 5).await, "{}", log(&s));

    // Silence: closed after the handshake timeout (1 s).
    let mut idle = tokio::net::TcpStream::connect(s.tcp()).await.unwrap();
    let t0 = std::time::Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf)).await;
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
    assert!(t0.elapsed() >= Duration::from_millis(900), "{:?}", t0.elapsed());
    assert!(wait_log(&s, &["TLS handshake timed out"], 5).await, "{}", log(&s));

    // Every record the gateway sends fits 512 bytes (header included), and a client that
    // reassembles still completes the handshake and logs in.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let tcp = tokio::net::TcpStream::connect(s.tcp()).await.unwrap();
    let stream = tokio_rustls::TlsConnector::from(client_config(&ca.cert_pem, None, TLS12))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            Recorder {
                inner: tcp,
                seen: seen.clone(),
            },
        )
        .await
        .unwrap();
    let mut l = Link::over(stream);
    assert_eq!(l.login(V1).await, ResponseFlag::SUCCESS.0);
    let bytes = seen.lock().unwrap().clone();
    let mut records = Vec::new();
    let mut at = 0;
    while at + 5 <= bytes.len() {
        let len = u16::from_be_bytes([bytes[at + 3], bytes[at + 4]]) as usize;
        records.push(len + 5);
        at += 5 + len;
    }
    assert_eq!(at, bytes.len(), "the bytes read are whole TLS records");
    assert!(records.len() >= 4, "{records:?}");
    assert!(records.iter().all(|&n| n <= 512), "{records:?}");
    assert!(
        records.iter().filter(|&&n| n == 512).count() >= 2,
        "the chain was split: {records:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulator_reports_over_tls() {
    require_openssl();
    let dir = temp_dir("tls-sim");
    let ca = Ca::new(&dir, "gateway-ca", Alg::Ecdsa);
    let server = ca.server("server", 0x2001, Alg::Ecdsa, None);
    let s = start(
        temp_dir("tls-sim-data"),
        &tls_config(&dir, &server, "versions = [\"1.3\"]\n", ""),
    )
    .await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_host-gateway"))
        .args([
            "sim",
            "--gateway",
            &s.tcp(),
            "--vehicles",
            "3",
            "--period",
            "1",
            "--duration",
            "4",
        ])
        .args([
            "--vin-prefix",
            "LTLSSIM",
            "--json",
            "--register",
            &s.url(""),
            "--api-token",
            TOKEN,
        ])
        .arg("--tls-ca")
        .arg(&ca.cert_path)
        .output()
        .expect("sim");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["vehicles_logged_in"], 3, "{summary}");
    let (_, v) = s.get("/api/v1/devices/LTLSSIM0000000001/messages?command=2").await;
    assert!(!v["items"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(
        metric(&s, "gb32960_gateway_tls_handshakes_total{result=\"ok\"}").await,
        3.0
    );

    // The 2025 edition over the same TLS gateway: activated, signed reports stored.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_host-gateway"))
        .args([
            "sim",
            "--gateway",
            &s.tcp(),
            "--vehicles",
            "2",
            "--period",
            "1",
            "--duration",
            "4",
        ])
        .args([
            "--edition",
            "2025",
            "--vin-prefix",
            "LTLS25",
            "--json",
            "--register",
            &s.url(""),
        ])
        .args(["--api-token", TOKEN])
        .arg("--tls-ca")
        .arg(&ca.cert_path)
        .output()
        .expect("sim");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["vehicles_logged_in"], 2, "{summary}");
    let (_, v) = s.get("/api/v1/devices/LTLS2500000000001/messages?command=2").await;
    let items = v["items"].as_array().unwrap();
    assert!(!items.is_empty(), "{v}");
    assert!(
        items.iter().all(|i| i["raw"].as_str().unwrap().starts_with("2424")),
        "{v}"
    );

    // A CA the gateway's certificate does not chain to: no vehicle gets in.
    let other = Ca::new(&dir, "other-ca", Alg::Ecdsa);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_host-gateway"))
        .args([
            "sim",
            "--gateway",
            &s.tcp(),
            "--vehicles",
            "1",
            "--period",
            "1",
            "--duration",
            "2",
        ])
        .args(["--vin-prefix", "LTLSSIM", "--json"])
        .arg("--tls-ca")
        .arg(&other.cert_path)
        .output()
        .expect("sim");
    assert!(!out.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_whose_material_does_not_load_fails_with_the_field_named() {
    let dir = temp_dir("tls-fail");
    let ca = Ca::new(&dir, "gateway-ca", Alg::Ecdsa);
    let server = ca.server("server", 0x2001, Alg::Ecdsa, None);
    std::fs::remove_file(&server.chain_path).unwrap();
    let s = start(temp_dir("tls-fail-data"), &tls_config(&dir, &server, "", "")).await;
    let (_, v) = s.get("/api/v1/gateways/1").await;
    assert_eq!(v["status"]["state"], "failed", "{v}");
    let reason = v["status"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("tls.cert: cannot read"), "{reason}");
    assert!(
        tokio::net::TcpStream::connect(s.tcp()).await.is_err(),
        "nothing listens"
    );

    // Through the API: refused before anything is stored.
    let (st, v) = s
        .send(
            Method::POST,
            "/api/v1/gateways",
            Some(json!({ "name": "tls_two", "port": free_port(), "transport": "tls",
                         "tls": { "cert": server.cert_path, "key": dir.join("nope.pem") } })),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    assert_eq!(v["field"], "tls.key", "{v}");
    let (st, v) = s
        .send(
            Method::POST,
            "/api/v1/gateways",
            Some(json!({ "name": "tls_two", "port": free_port(), "transport": "tls" })),
        )
        .await;
    assert_eq!((st, v["field"].as_str()), (422, Some("tls")), "{v}");
    let (_, v) = s.get("/api/v1/gateways").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
}
