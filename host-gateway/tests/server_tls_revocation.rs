//! Certificate revocation on TLS gateways, end to end with a real OCSP responder (Debian's
//! `openssl ocsp` with an index file, on 127.0.0.1) and rcgen CRLs: devices refused when revoked
//! or unknown, a connected device closed once revoked, fail-closed and fail-open for a
//! responder that is down, OCSP stapling seen by `openssl s_client` and refreshed.

mod server_support;
mod tls_support;

use std::time::Duration;

use gb32960_core::ResponseFlag;
use reqwest::Method;
use serde_json::json;
use server_support::*;
use tls_support::pki::{require_openssl, Alg, Ca, Leaf, Validity};
use tls_support::responder::{Entry, Responder};
use tls_support::*;

#[tokio::test(flavor = "multi_thread")]
async fn ocsp_device_checks_refuse_revoked_and_unknown_and_close_a_device_revoked_while_connected() {
    require_openssl();
    let dir = temp_dir("tls-ocsp-client");
    let mut responder = Responder::bind(&dir).await;
    let url = responder.url.clone();
    let ca = Ca::new(&dir, "gateway-ca", Alg::Ecdsa);
    let server = ca.server("server", 0x2001, Alg::Ecdsa, None);
    // An RSA device CA that signs the OCSP responses itself.
    let dca = Ca::new(&dir, "device-ca", Alg::Rsa);
    const V: [&str; 4] = [
        "LGBOCSP0000000001",
        "LGBOCSP0000000002",
        "LGBOCSP0000000003",
        "LGBOCSP0000000004",
    ];
    let device = |file: &str, serial: u64, vin: &str| {
        dca.device(file, serial, Alg::Ecdsa, vin, &[], Some(&url), Validity::Current)
    };
    let good = device("good", 0x1001, V[0]);
    let revoked = device("revoked", 0x1002, V[1]);
    let unknown = device("unknown", 0x1003, V[2]);
    let late = device("late", 0x1004, V[3]);
    responder.set(&good, Entry::Good);
    responder.set(&revoked, Entry::Revoked);
    responder.set(&late, Entry::Good);
    responder.start(&dca, &dca.cert_path, &dca.key_path);

    let tls = format!("client_ca = {:?}\n", dca.cert_path.display().to_string());
    let ocsp = "[gateways.tls.ocsp]\nmode = \"client\"\nclient_cache_secs = 2\ntimeout_ms = 1000\n";
    let config = tls_config(&dir, &server, &tls, ocsp);
    let s = start(temp_dir("tls-ocsp-client-data"), &config).await;
    s.import(&V).await;
    let cfg = |l: &Leaf| client_config(&ca.cert_pem, Some(l), TLS13);

    // Revoked and unknown: refused after the handshake, logged.
    assert_eq!(tls_login(&s.tcp(), cfg(&revoked), V[1]).await, 0);
    assert!(
        wait_log(&s, &["device refused", "client certificate revoked (OCSP)", "1002"], 5).await,
        "{}",
        log(&s)
    );
    assert_eq!(tls_login(&s.tcp(), cfg(&unknown), V[2]).await, 0);
    assert!(
        wait_log(&s, &["device refused", "unknown to its OCSP responder"], 5).await,
        "{}",
        log(&s)
    );
    assert_eq!(
        metric(&s, "gb32960_gateway_tls_handshakes_total{result=\"revoked\"}").await,
        2.0
    );

    // Good: logged in; the responder was asked.
    let asked = responder.request_count();
    let mut l = Link::over(connect(&s.tcp(), cfg(&good)).await.unwrap());
    assert_eq!(l.login(V[0]).await, ResponseFlag::SUCCESS.0);
    assert!(responder.request_count() > asked);

    // Revoked while connected: the device keeps sending, the re-check finds it, the link closes.
    responder.set(&good, Entry::Revoked);
    let t0 = std::time::Instant::now();
    let mut closed = false;
    while t0.elapsed() < Duration::from_secs(20) {
        if l.try_send(&heartbeat(V[0])).await.is_err() {
            closed = true;
            break;
        }
        if let Got::Closed(_) = l.recv(1).await {
            closed = true;
            break;
        }
    }
    assert!(closed, "a revoked device stayed connected");
    assert!(
        wait_log(&s, &["connection closed", "client certificate revoked (OCSP)"], 5).await,
        "{}",
        log(&s)
    );
    assert_eq!(tls_login(&s.tcp(), cfg(&good), V[0]).await, 0);

    // Answers signed by someone the device CA did not authorise are not believed: a responder
    // certificate from another CA, and one from the right CA without id-kp-OCSPSigning.
    let other = Ca::new(&dir, "other-ca", Alg::Ecdsa);
    let foreign = other.ocsp_signer("foreign-signer", 0x3001);
    let no_eku = dca.device(
        "no-eku",
        0x1005,
        Alg::Ecdsa,
        "not-a-responder",
        &[],
        None,
        Validity::Current,
    );
    for (name, signer) in [("foreign", &foreign), ("no-eku", &no_eku)] {
        let mut rogue = Responder::bind(&dir).await;
        rogue.set(&late, Entry::Good);
        rogue.start(&dca, &signer.cert_path, &signer.key_path);
        let (st, v) = s
            .send(
                Method::PATCH,
                "/api/v1/gateways/1",
                Some(json!({ "tls": { "ocsp": { "responder_url": rogue.url } } })),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(tls_login(&s.tcp(), cfg(&late), V[3]).await, 0, "{name}");
        assert_eq!(rogue.request_count(), 1, "{name}");
        assert!(
            wait_log(
                &s,
                &[
                    "device refused",
                    "not signed by the issuer nor by a responder it authorised"
                ],
                5
            )
            .await,
            "{name}: {}",
            log(&s)
        );
    }
    let (st, v) = s
        .send(
            Method::PATCH,
            "/api/v1/gateways/1",
            Some(json!({ "tls": { "ocsp": { "responder_url": null } } })),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert!(v["tls"]["ocsp"]["responder_url"].is_null(), "{v}");

    // The responder down: fail closed by default...
    responder.stop();
    assert_eq!(tls_login(&s.tcp(), cfg(&late), V[3]).await, 0);
    assert!(
        wait_log(
            &s,
            &["device refused", "responder unreachable", "on_unreachable = refuse"],
            5
        )
        .await,
        "{}",
        log(&s)
    );
    // ...and fail open when configured so.
    let (st, v) = s
        .send(
            Method::PATCH,
            "/api/v1/gateways/1",
            Some(json!({ "tls": { "ocsp": { "on_unreachable": "allow" } } })),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["tls"]["ocsp"]["mode"], "client", "{v}");
    assert_eq!(tls_login(&s.tcp(), cfg(&late), V[3]).await, ResponseFlag::SUCCESS.0);
    assert!(wait_log(&s, &["device let in unchecked"], 5).await, "{}", log(&s));
}

#[tokio::test(flavor = "multi_thread")]
async fn ocsp_stapling_is_seen_by_openssl_and_refreshed_before_next_update() {
    require_openssl();
    let dir = temp_dir("tls-staple");
    let mut responder = Responder::bind(&dir).await;
    let ca = Ca::new(&dir, "gateway-ca", Alg::Ecdsa);
    // A delegated responder (id-kp-OCSPSigning) signs the answers.
    let signer = ca.ocsp_signer("ocsp-signer", 0x3001);
    let server = ca.server("server", 0x2001, Alg::Ecdsa, Some(&responder.url));
    responder.set(&server, Entry::Good);
    responder.start(&ca, &signer.cert_path, &signer.key_path);
    let config = tls_config(
        &dir,
        &server,
        "",
        "[gateways.tls.ocsp]\nmode = \"server\"\nstaple_cache_secs = 300\n",
    );
    let s = start(temp_dir("tls-staple-data"), &config).await;

    let staple_state = || async {
        let (_, v) = s.get("/api/v1/gateways/1").await;
        v["tls_status"]["ocsp_staple"].clone()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let first = loop {
        let st = staple_state().await;
        if st["state"] == "good" || tokio::time::Instant::now() > deadline {
            break st;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(first["state"], "good", "{first}");
    assert_eq!(first["stapled"], true, "{first}");
    let out = s_client_status(s.tcp_port, &ca.cert_path);
    assert!(out.contains("OCSP Response Status: successful"), "{out}");
    assert!(out.contains("Cert Status: good"), "{out}");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");

    // The responses say nextUpdate = now + 1 min, so the gateway fetches again 30 s later
    // (before nextUpdate); the new answer says revoked and that is what is stapled.
    responder.set(&server, Entry::Revoked);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let refreshed = loop {
        let st = staple_state().await;
        if st["state"] == "revoked" || tokio::time::Instant::now() > deadline {
            break st;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(refreshed["state"], "revoked", "{refreshed}");
    assert_ne!(refreshed["fetched_at"], first["fetched_at"]);
    let out = s_client_status(s.tcp_port, &ca.cert_path);
    assert!(out.contains("Cert Status: revoked"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn crl_file_refuses_a_revoked_device() {
    require_openssl();
    let dir = temp_dir("tls-crl");
    let ca = Ca::new(&dir, "gateway-ca", Alg::Ecdsa);
    let server = ca.server("server", 0x2001, Alg::Ecdsa, None);
    let dca = Ca::new(&dir, "device-ca", Alg::Ecdsa);
    const V: [&str; 2] = ["LGBCRL00000000001", "LGBCRL00000000002"];
    let good = dca.device("good", 0x1001, Alg::Ecdsa, V[0], &[], None, Validity::Current);
    let revoked = dca.device("revoked", 0x1002, Alg::Ecdsa, V[1], &[], None, Validity::Current);
    let crl = dca.crl("device-ca-crl", &[0x1002]);
    let tls = format!(
        "client_ca = {:?}\ncrl = [{:?}]\n",
        dca.cert_path.display().to_string(),
        crl.display().to_string()
    );
    let s = start(temp_dir("tls-crl-data"), &tls_config(&dir, &server, &tls, "")).await;
    s.import(&V).await;
    let cfg = |l: &Leaf| client_config(&ca.cert_pem, Some(l), TLS12);
    assert_eq!(tls_login(&s.tcp(), cfg(&revoked), V[1]).await, 0);
    assert!(
        wait_log(&s, &["TLS handshake failed", "Revoked"], 5).await,
        "{}",
        log(&s)
    );
    assert_eq!(tls_login(&s.tcp(), cfg(&good), V[0]).await, ResponseFlag::SUCCESS.0);

    // A CRL that is not one: refused at the edit, naming the field.
    let (st, v) = s
        .send(
            Method::PATCH,
            "/api/v1/gateways/1",
            Some(json!({ "tls": { "crl": ["-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"] } })),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    assert_eq!(v["field"], "tls.crl", "{v}");
    assert_eq!(tls_login(&s.tcp(), cfg(&revoked), V[1]).await, 0);
}
