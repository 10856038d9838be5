//! What the CLI tests share: running the binary, the shared sample frames, keys written as PEM
//! by hand (DER built here, not by the crates under test), and OpenSSL where it is installed.
#![allow(dead_code)] // not every test crate uses every helper

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors");

// ---------------------------------------------------------------------------------------------
// Running the binary

pub fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_host-gateway"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn host-gateway");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[track_caller]
pub fn decode(args: &[&str]) -> Value {
    serde_json::from_str(&ok(&run(args, None))).unwrap()
}

#[track_caller]
pub fn encode(args: &[&str], json: &Value) -> String {
    ok(&run(args, Some(json.to_string().as_bytes()))).trim().to_owned()
}

#[track_caller]
pub fn fails_with_one_line(o: &Output, needle: &str) {
    assert!(
        !o.status.success(),
        "expected failure, got: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line on stderr, got: {err}");
    assert!(err.contains(needle), "stderr {err:?} should mention {needle:?}");
}

/// `body.signature` as (algorithm_name, valid, key).
#[track_caller]
pub fn sig(v: &Value) -> (String, Value, Value) {
    let s = &v["body"]["signature"];
    assert!(s.is_object(), "no signature object in {v}");
    (
        s["algorithm_name"].as_str().unwrap().to_owned(),
        s["valid"].clone(),
        s["key"].clone(),
    )
}

// ---------------------------------------------------------------------------------------------
// Frames and vectors

pub fn lines(name: &str) -> Vec<Value> {
    std::fs::read_to_string(format!("{VECTORS}/{name}"))
        .unwrap_or_else(|e| panic!("{VECTORS}/{name}: {e}"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

pub fn hx(b: &[u8]) -> String {
    hex::encode_upper(b)
}

pub fn fix_bcc(frame: &mut [u8]) {
    let n = frame.len();
    frame[n - 1] = frame[2..n - 1].iter().fold(0, |a, b| a ^ b);
}

/// A frame from a header (the first 24 bytes of `like`) and a data unit: length and BCC set.
pub fn frame_with(like: &[u8], encryption: u8, data: &[u8]) -> Vec<u8> {
    let mut f = like[..24].to_vec();
    f[21] = encryption;
    f[22..24].copy_from_slice(&(data.len() as u16).to_be_bytes());
    f.extend_from_slice(data);
    f.push(0);
    fix_bcc(&mut f);
    f
}

// ---------------------------------------------------------------------------------------------
// Keys as PEM, built by hand

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("gb32960-cli-sec-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() {
                A[(n >> (18 - 6 * i)) as usize & 63] as char
            } else {
                '='
            });
        }
    }
    out
}

pub fn pem(label: &str, der: &[u8]) -> String {
    let b = base64(der);
    let body: Vec<&str> = b
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", body.join("\n"))
}

/// A DER TLV.
pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match body.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(body);
    out
}

/// SubjectPublicKeyInfo of an SM2 key (id-ecPublicKey, curve 1.2.156.10197.1.301) from SEC1.
pub fn sm2_public_pem(sec1_hex: &str) -> String {
    let mut der = h("3059301306072A8648CE3D020106082A811CCF5501822D034200");
    der.extend(h(sec1_hex));
    pem("PUBLIC KEY", &der)
}

/// SubjectPublicKeyInfo of a P-256 key (id-ecPublicKey, prime256v1) from SEC1.
pub fn p256_public_pem(sec1_hex: &str) -> String {
    let mut der = h("3059301306072A8648CE3D020106082A8648CE3D030107034200");
    der.extend(h(sec1_hex));
    pem("PUBLIC KEY", &der)
}

/// PKCS#8 of an SM2 private key (ECPrivateKey without the optional public key).
pub fn sm2_private_pem(secret_hex: &str) -> String {
    let mut der = h("3041020100301306072A8648CE3D020106082A811CCF5501822D042730250201010420");
    der.extend(h(secret_hex));
    pem("PRIVATE KEY", &der)
}

/// SubjectPublicKeyInfo (rsaEncryption) from rtm_con's wire key: modulus, then a 3-byte exponent.
pub fn rsa_public_pem(wire: &[u8]) -> String {
    let int = |v: &[u8]| {
        let v = &v[v.iter().position(|&b| b != 0).unwrap()..];
        let mut body = if v[0] & 0x80 != 0 { vec![0] } else { vec![] };
        body.extend_from_slice(v);
        tlv(0x02, &body)
    };
    let (n, e) = wire.split_at(wire.len() - 3);
    let rsa_key = tlv(0x30, &[int(n), int(e)].concat());
    let mut bits = vec![0];
    bits.extend(rsa_key);
    let alg = h("300D06092A864886F70D0101010500");
    pem("PUBLIC KEY", &tlv(0x30, &[alg, tlv(0x03, &bits)].concat()))
}

// ---------------------------------------------------------------------------------------------
// OpenSSL, where installed

pub fn openssl(args: &[&str], stdin: &[u8]) -> (bool, Vec<u8>) {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn openssl");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), out.stdout)
}

/// Whether OpenSSL 3 with SM2 and SM4 is there; says so loudly when it is not.
pub fn have_openssl() -> bool {
    let sm = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"OpenSSL 3"))
        && {
            let (a, algs) = openssl(&["list", "-public-key-algorithms"], b"");
            let (b, ciphers) = openssl(&["list", "-cipher-algorithms"], b"");
            a && b
                && String::from_utf8_lossy(&algs).contains("SM2")
                && String::from_utf8_lossy(&ciphers).contains("SM4")
        };
    if !sm {
        let msg = "OpenSSL 3 with SM2/SM4 (Debian package `openssl`) unavailable";
        if std::env::var("GB32960_REQUIRE_ORACLE").as_deref() == Ok("1") {
            panic!("{msg} (GB32960_REQUIRE_ORACLE=1)");
        }
        eprintln!("SKIPPED: {msg}; set GB32960_REQUIRE_ORACLE=1 to make this an error");
    }
    sm
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }`, as OpenSSL wants an SM2 or ECDSA signature.
pub fn der_sig(r: &[u8], s: &[u8]) -> Vec<u8> {
    let int = |v: &[u8]| {
        let v = &v[v.iter().position(|&b| b != 0).unwrap_or(v.len() - 1)..];
        let mut body = if v[0] & 0x80 != 0 { vec![0] } else { vec![] };
        body.extend_from_slice(v);
        tlv(0x02, &body)
    };
    tlv(0x30, &[int(r), int(s)].concat())
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Keys and signed frames of the shared vectors

pub const SM2_SECRET: &str = "7F66CFCF4EEF476C27B61D806883DE4B1434994F68803E48FF68B672C4C4413A";
pub const SM2_PUBLIC: &str = "042225E3F2D9014482A6DB1248666A839E272DEA7D4ACA9E5E406963A401CC26E3AC6E9732124BAA46F3EC12E630E8E0CAA2541CFC6B3472A4D234AFBBEFB94147";
/// The generator of the SM2 curve: a valid SM2 public key that signed none of the frames.
pub const SM2_OTHER: &str = "0432C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0";
/// The generator of P-256: a valid key of another algorithm.
pub const P256_OTHER: &str = "046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C2964FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5";
pub const SM4_KEY: &str = "00112233445566778899AABBCCDDEEFF";

/// The SM2-signed frames of the hand-made vectors: (name, frame hex, record public key hex).
pub fn sm2_signed() -> Vec<(String, String, String)> {
    let v: Vec<_> = lines("handmade-2025.jsonl")
        .into_iter()
        .filter_map(|r| {
            let key = r["decoded"]["signature"]["sm2_test_public_key_hex"]
                .as_str()?
                .to_owned();
            assert_eq!(r["decoded"]["signature"]["sm2_test_private_key_hex"], SM2_SECRET);
            Some((r["name"].as_str()?.to_owned(), r["hex"].as_str()?.to_uppercase(), key))
        })
        .collect();
    assert_eq!(v.len(), 5, "three real-time, one reissue, one activation frame");
    v
}
