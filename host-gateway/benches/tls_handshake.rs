//! Full TLS handshakes per second of the gateway's own rustls configuration
//! (`server::tls::material`, the one `serve` builds: ring, no resumption), client and server in
//! memory on one thread, no sockets. The server's share is timed on its own: that is what one
//! core of the gateway spends per new device connection.
//!
//! ```sh
//! cargo bench -p host-gateway --bench tls_handshake
//! cargo bench -p host-gateway --bench tls_handshake -- --secs 1   # shorter
//! ```
//!
//! Rows: TLS 1.3 and 1.2, ECDSA P-256 and RSA 2048 server keys, and TLS 1.3 with a device
//! certificate (mutual TLS, ECDSA). Each row runs a bounded loop: warm-up of 20 handshakes,
//! then handshakes until `--secs` (default 3) or 200 000 have passed. RSA keys come from
//! `openssl genpkey` (ring cannot generate them).

use std::sync::Arc;
use std::time::{Duration, Instant};

use host_gateway::server::tls::material;
use host_gateway::server::tls::spec::TlsSpec;
use host_gateway::server::tls::staple::CertResolver;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ServerConnection};

const MAX_HANDSHAKES: u32 = 200_000;
const WARMUP: u32 = 20;

fn key(rsa: bool) -> KeyPair {
    if !rsa {
        return KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    }
    let out = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        .output()
        .unwrap_or_else(|e| panic!("the RSA rows need the `openssl` command (cargo xtask setup installs it): {e}"));
    assert!(out.status.success(), "openssl genpkey failed: {out:?}");
    KeyPair::from_pem(&String::from_utf8(out.stdout).unwrap()).unwrap()
}

struct Pki {
    ca_pem: String,
    server_chain: String,
    server_key: String,
    device_cert: String,
    device_key: String,
}

fn pki(rsa_server: bool) -> Pki {
    let ca_key = key(false);
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, "bench-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let server_key = key(rsa_server);
    let mut s = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    s.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = s.signed_by(&server_key, &issuer).unwrap();
    let device_key = key(false);
    let mut d = CertificateParams::new(Vec::<String>::new()).unwrap();
    d.distinguished_name.push(DnType::CommonName, "LGBBENCH000000001");
    d.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let device = d.signed_by(&device_key, &issuer).unwrap();
    Pki {
        server_chain: format!("{}{ca_pem}", server.pem()),
        ca_pem,
        server_key: server_key.serialize_pem(),
        device_cert: device.pem(),
        device_key: device_key.serialize_pem(),
    }
}

struct Row {
    name: &'static str,
    rsa: bool,
    version: &'static str,
    mtls: bool,
}

fn configs(row: &Row) -> (Arc<rustls::ServerConfig>, Arc<ClientConfig>) {
    let p = pki(row.rsa);
    let mut spec = TlsSpec::new(p.server_chain.clone(), p.server_key.clone());
    spec.versions = vec![row.version.to_string()];
    if row.mtls {
        spec.client_ca = Some(p.ca_pem.clone());
    }
    let m = material::load(&spec, chrono::Utc::now().timestamp()).unwrap();
    let server = m
        .server_config(&spec, Arc::new(CertResolver::new(m.certified.clone())))
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(p.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let version = if row.version == "1.3" {
        &rustls::version::TLS13
    } else {
        &rustls::version::TLS12
    };
    let b = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots);
    let client = if row.mtls {
        b.with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(p.device_cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(p.device_key.as_bytes()).unwrap(),
        )
        .unwrap()
    } else {
        b.with_no_client_auth()
    };
    (server, Arc::new(client))
}

/// One full handshake in memory; returns the time spent in the server's calls.
fn handshake(server: &Arc<rustls::ServerConfig>, client: &Arc<ClientConfig>) -> Duration {
    let name = ServerName::try_from("localhost").unwrap();
    let mut c = ClientConnection::new(client.clone(), name).unwrap();
    let t = Instant::now();
    let mut s = ServerConnection::new(server.clone()).unwrap();
    let mut server_time = t.elapsed();
    let mut to_server = Vec::with_capacity(4096);
    let mut to_client = Vec::with_capacity(8192);
    for _ in 0..10 {
        to_server.clear();
        while c.wants_write() {
            c.write_tls(&mut to_server).unwrap();
        }
        let t = Instant::now();
        let mut rd = &to_server[..];
        while !rd.is_empty() {
            s.read_tls(&mut rd).unwrap();
        }
        s.process_new_packets().unwrap();
        to_client.clear();
        while s.wants_write() {
            s.write_tls(&mut to_client).unwrap();
        }
        server_time += t.elapsed();
        let mut rd = &to_client[..];
        while !rd.is_empty() {
            c.read_tls(&mut rd).unwrap();
        }
        c.process_new_packets().unwrap();
        if !c.is_handshaking() && !s.is_handshaking() && !c.wants_write() {
            return server_time;
        }
    }
    panic!("the handshake did not finish in 10 flights");
}

fn main() {
    let mut secs = 3.0f64;
    // `cargo bench` passes `--bench`; without it (`cargo test --benches`) one handshake per row
    // checks that the bench works.
    let mut smoke = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bench" => smoke = false,
            "--secs" => secs = args.next().and_then(|v| v.parse().ok()).expect("--secs needs a number"),
            _ => {}
        }
    }
    if smoke {
        secs = 0.0;
    }
    let rows = [
        Row {
            name: "TLS 1.3, ECDSA P-256",
            rsa: false,
            version: "1.3",
            mtls: false,
        },
        Row {
            name: "TLS 1.2, ECDSA P-256",
            rsa: false,
            version: "1.2",
            mtls: false,
        },
        Row {
            name: "TLS 1.3, RSA 2048",
            rsa: true,
            version: "1.3",
            mtls: false,
        },
        Row {
            name: "TLS 1.2, RSA 2048",
            rsa: true,
            version: "1.2",
            mtls: false,
        },
        Row {
            name: "TLS 1.3, ECDSA, mutual (device cert)",
            rsa: false,
            version: "1.3",
            mtls: true,
        },
    ];
    println!(
        "{:<38} {:>10} {:>14} {:>16} {:>16}",
        "handshake", "count", "pair µs", "server µs", "server hs/s/core"
    );
    for row in &rows {
        let (server, client) = configs(row);
        for _ in 0..if smoke { 0 } else { WARMUP } {
            handshake(&server, &client);
        }
        let budget = Duration::from_secs_f64(secs);
        let start = Instant::now();
        let mut n = 0u32;
        let mut server_time = Duration::ZERO;
        while (n == 0 || start.elapsed() < budget) && n < MAX_HANDSHAKES {
            server_time += handshake(&server, &client);
            n += 1;
        }
        let total = start.elapsed();
        let pair_us = total.as_secs_f64() * 1e6 / f64::from(n);
        let server_us = server_time.as_secs_f64() * 1e6 / f64::from(n);
        println!(
            "{:<38} {:>10} {:>14.1} {:>16.1} {:>16.0}",
            row.name,
            n,
            pair_us,
            server_us,
            1e6 / server_us
        );
    }
}
