//! `decode --public-key/--key` and `encode --private-key/--key`, run as a user runs them: the
//! real binary, PEM files in a temporary directory, the shared sample frames.
//!
//! Keys are written as PEM by hand (`support`: DER built there, not by the crates under test).
//! Where OpenSSL 3 is installed (Debian's `openssl`, which `cargo xtask setup` installs) it
//! checks our signatures and encrypts and decrypts data units for us; without it those tests
//! print `SKIPPED`, and fail when `GB32960_REQUIRE_ORACLE=1` (as `cargo xtask ci` sets it).

mod support;

use serde_json::{json, Value};
use support::*;

const SM2_SECRET: &str = "7F66CFCF4EEF476C27B61D806883DE4B1434994F68803E48FF68B672C4C4413A";
const SM2_PUBLIC: &str = "042225E3F2D9014482A6DB1248666A839E272DEA7D4ACA9E5E406963A401CC26E3AC6E9732124BAA46F3EC12E630E8E0CAA2541CFC6B3472A4D234AFBBEFB94147";
/// The generator of the SM2 curve: a valid SM2 public key that signed none of the frames.
const SM2_OTHER: &str = "0432C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0";
/// The generator of P-256: a valid key of another algorithm.
const P256_OTHER: &str = "046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C2964FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5";
const SM4_KEY: &str = "00112233445566778899AABBCCDDEEFF";

/// The SM2-signed frames of the hand-made vectors: (name, frame hex, record public key hex).
fn sm2_signed() -> Vec<(String, String, String)> {
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

/// The signed range and (R, S) of a signed frame, from its decoded JSON (notes A1, A2).
fn signed_range(frame: &[u8], v: &Value) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let r = h(v["body"]["signature"]["r_hex"].as_str().unwrap());
    let s = h(v["body"]["signature"]["s_hex"].as_str().unwrap());
    let data = &frame[24..frame.len() - 1];
    let marker = usize::from(v["body_kind"] == "realtime");
    let n = data.len() - marker - 5 - r.len() - s.len();
    (data[..n].to_vec(), r, s)
}

// ---------------------------------------------------------------------------------------------
// decode --public-key

#[test]
fn handmade_sm2_frames_verify_with_a_pem_of_the_record_key() {
    let dir = TempDir::new("handmade");
    for (name, frame, key) in sm2_signed() {
        let pem = dir.file("sm2.pub.pem", sm2_public_pem(&key));
        let v = decode(&["decode", "--public-key", &pem, &frame]);
        assert_eq!(sig(&v), ("sm2".into(), json!(true), json!("argument")), "{name}");
        // The signature object keeps what decode printed before.
        for k in ["algorithm", "r_hex", "s_hex"] {
            assert!(v["body"]["signature"].get(k).is_some(), "{name}: {k}");
        }
        // The key as hex in its wire form works the same (64 bytes X||Y, as an activation carries it).
        let v = decode(&["decode", "--public-key", &key[2..], &frame]);
        assert_eq!(sig(&v).1, json!(true), "{name}");
        // No key: an activation is checked with the key it carries; a report cannot be checked.
        let v = decode(&["decode", &frame]);
        let expected = if v["body_kind"] == "activation" {
            (json!(true), json!("frame"))
        } else {
            (json!("no_key"), Value::Null)
        };
        assert_eq!((sig(&v).1, sig(&v).2), expected, "{name}");
        // The JSON with `valid` and `key` still encodes to the same frame.
        assert_eq!(encode(&["encode", "-"], &v), frame, "{name}");
        // --marker-included: these frames were signed without the marker (A1), so no longer valid.
        let v = decode(&["decode", "--marker-included", "--public-key", &pem, &frame]);
        let expected = v["body_kind"] == "activation";
        assert_eq!(
            sig(&v).1,
            json!(expected),
            "{name}: the policy leaves activations alone"
        );
    }
}

#[test]
fn a_changed_signed_byte_or_another_key_is_invalid() {
    let dir = TempDir::new("invalid");
    let good = dir.file("good.pem", sm2_public_pem(SM2_PUBLIC));
    let other_sm2 = dir.file("other-sm2.pem", sm2_public_pem(SM2_OTHER));
    let p256 = dir.file("p256.pem", p256_public_pem(P256_OTHER));
    for (name, frame, _) in sm2_signed() {
        let bytes = h(&frame);
        // The first byte of the collection time (the year): signed, and the frame still decodes.
        let mut bad = bytes.clone();
        bad[24] ^= 0x01;
        fix_bcc(&mut bad);
        let v = decode(&["decode", "--public-key", &good, &hx(&bad)]);
        assert_eq!(sig(&v), ("sm2".into(), json!(false), json!("argument")), "{name}");
        if v["body_kind"] == "activation" {
            // Also checked with the key the activation carries.
            assert_eq!(sig(&decode(&["decode", &hx(&bad)])).1, json!(false), "{name}");
        }
        // One bit of S.
        let mut bad = bytes.clone();
        let n = bad.len();
        bad[n - 2] ^= 0x80;
        fix_bcc(&mut bad);
        assert_eq!(
            sig(&decode(&["decode", "--public-key", &good, &hx(&bad)])).1,
            json!(false),
            "{name}"
        );
        // Another SM2 key, a P-256 key: invalid, whichever key the activation carries.
        for key in [&other_sm2, &p256] {
            let v = decode(&["decode", "--public-key", key, &frame]);
            assert_eq!(sig(&v), ("sm2".into(), json!(false), json!("argument")), "{name} {key}");
        }
        assert_eq!(
            sig(&decode(&["decode", "--public-key", &SM2_OTHER[2..], &frame])).1,
            json!(false)
        );
    }
}

#[test]
fn a_reserved_signature_type_is_unsupported() {
    let (_, frame, _) = sm2_signed().into_iter().find(|(n, ..)| n.contains("reissue")).unwrap();
    let mut bytes = h(&frame);
    let at = bytes.len() - 1 - 69; // FF | type | 00 20 | R | 00 20 | S | BCC
    assert_eq!(bytes[at - 1], 0xFF);
    bytes[at] = 0x07;
    fix_bcc(&mut bytes);
    let dir = TempDir::new("reserved");
    let key = dir.file("k.pem", sm2_public_pem(SM2_PUBLIC));
    let hex = hx(&bytes);
    for v in [
        decode(&["decode", &hex]),
        decode(&["decode", "--public-key", &key, &hex]),
    ] {
        assert_eq!(sig(&v), ("reserved".into(), json!("unsupported"), Value::Null));
    }
}

#[test]
fn rtm_con_rsa_frames_verify_with_the_activation_key_line_by_line() {
    let recs: Vec<Value> = lines("rtm_con-built.jsonl")
        .into_iter()
        .filter(|r| r["version"] == "2025" || r["version"] == 2025)
        .collect();
    let act = recs.iter().find(|r| r["name"] == "2025_activation_rsa").unwrap();
    let act = decode(&["decode", act["hex"].as_str().unwrap()]);
    assert_eq!(sig(&act), ("rsa".into(), json!(true), json!("frame")));
    let wire = act["body"]["public_key_hex"].as_str().unwrap().to_owned();
    assert_eq!(wire.len(), 2 * 259, "modulus and 3-byte exponent");

    let dir = TempDir::new("rsa");
    let pem = dir.file("rsa.pub.pem", rsa_public_pem(&h(&wire)));
    let capture: Vec<u8> = recs.iter().flat_map(|r| h(r["hex"].as_str().unwrap())).collect();
    let path = dir.file("rtm_con.bin", &capture);
    for key in [&pem, &wire] {
        let out = ok(&run(&["decode", "--file", &path, "--public-key", key], None));
        let (mut rsa, mut ecc) = (0, 0);
        for line in out.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            match v["body"].get("signature") {
                Some(s) if s.is_object() => match sig(&v) {
                    (a, valid, k) if a == "rsa" => {
                        assert_eq!((valid, k), (json!(true), json!("argument")), "{line}");
                        rsa += 1;
                    }
                    (a, valid, _) if a == "ecc" => {
                        // rtm_con's ECC placeholder: random bytes, and an RSA key anyway.
                        assert_eq!(valid, json!(false));
                        ecc += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                },
                _ => assert!(v["body"]["signature"].is_null(), "{line}"),
            }
        }
        assert_eq!(
            (rsa, ecc),
            (13, 1),
            "12 real-time frames and the activation are RSA-signed"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// encode --private-key

#[test]
fn encode_with_private_key_then_decode_with_public_key_is_valid() {
    let dir = TempDir::new("sign");
    let private = dir.file("sm2.pem", sm2_private_pem(SM2_SECRET));
    let public = dir.file("sm2.pub.pem", sm2_public_pem(SM2_PUBLIC));
    for (name, frame, _) in sm2_signed() {
        let mut json = decode(&["decode", &frame]);
        // Whatever signature the JSON has is replaced: a fresh one, not a copy.
        json["body"]["signature"]["r_hex"] = json!("00");
        let signed = encode(&["encode", "--private-key", &private, "-"], &json);
        let v = decode(&["decode", "--public-key", &public, &signed]);
        assert_eq!(sig(&v), ("sm2".into(), json!(true), json!("argument")), "{name}");
        // The same frame but for R and S (SM2 signatures are randomised by k).
        let (a, b) = (h(&frame), h(&signed));
        assert_eq!(a.len(), b.len(), "{name}");
        let (signed_part, _, _) = signed_range(&a, &v);
        let head = 24 + signed_part.len() + 3;
        assert_eq!(a[..head], b[..head], "{name}");
    }
}

#[test]
fn encode_fills_in_and_checks_the_activation_key() {
    let (_, frame, _) = sm2_signed()
        .into_iter()
        .find(|(n, ..)| n.contains("activation"))
        .unwrap();
    let dir = TempDir::new("activation");
    let private = dir.file("sm2.pem", sm2_private_pem(SM2_SECRET));
    let mut json = decode(&["decode", &frame]);
    json["body"].as_object_mut().unwrap().remove("public_key_hex");
    json["body"].as_object_mut().unwrap().remove("signature");
    let signed = encode(&["encode", "--private-key", &private, "-"], &json);
    let v = decode(&["decode", &signed]);
    assert_eq!(sig(&v), ("sm2".into(), json!(true), json!("frame")));
    assert_eq!(v["body"]["public_key_hex"].as_str().unwrap(), &SM2_PUBLIC[2..]);
    // A carried key that is not the signer's: refused, the frame would be rejected.
    json["body"]["public_key_hex"] = json!(&SM2_OTHER[2..]);
    fails_with_one_line(
        &run(
            &["encode", "--private-key", &private, "-"],
            Some(json.to_string().as_bytes()),
        ),
        "is not the public key of --private-key",
    );
}

#[test]
fn encode_refuses_to_sign_frames_without_a_signature() {
    let dir = TempDir::new("nothing");
    let private = dir.file("sm2.pem", sm2_private_pem(SM2_SECRET));
    let heartbeat = json!({"edition": "2025", "command": 7, "vin": "LFCV2025TEST00001", "body_kind": "heartbeat"});
    fails_with_one_line(
        &run(&["encode", "--private-key", &private, &heartbeat.to_string()], None),
        "nothing to sign in a heartbeat frame",
    );
    let login_2016 = "232301FE4C47425433323936305445535430303031010026180514081E0F000138393836303031323334353637383930313233340108424154303030303198";
    let json = decode(&["decode", login_2016]);
    fails_with_one_line(
        &run(&["encode", "--private-key", &private, &json.to_string()], None),
        "nothing to sign in a vehicle_login frame",
    );
    let mut realtime_2016 = decode(&["decode", &sm2_signed()[0].1]);
    realtime_2016["edition"] = json!("2016");
    fails_with_one_line(
        &run(&["encode", "--private-key", &private, &realtime_2016.to_string()], None),
        "nothing to sign in a 2016 realtime frame",
    );
    // Keys of the wrong kind, or no key at all.
    let public = dir.file("sm2.pub.pem", sm2_public_pem(SM2_PUBLIC));
    fails_with_one_line(
        &run(&["encode", "--private-key", &public, "{}"], None),
        "this is a public key",
    );
    fails_with_one_line(
        &run(&["decode", "--public-key", &private, "00"], None),
        "this is a private key",
    );
    let junk = dir.file(
        "junk.pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    fails_with_one_line(
        &run(&["encode", "--private-key", &junk, "{}"], None),
        "not an SM2, P-256 or RSA private key",
    );
    fails_with_one_line(
        &run(&["decode", "--public-key", "no/such/key.pem", "00"], None),
        "no such file",
    );
    fails_with_one_line(&run(&["decode", "--public-key", "0011", "00"], None), "not an SM2");
}

#[test]
fn signatures_made_by_encode_verify_in_openssl() {
    if !have_openssl() {
        return;
    }
    let dir = TempDir::new("openssl-sign");
    let d = &dir.0;
    let frames = sm2_signed();
    let realtime = decode(&["decode", &frames[0].1]);
    let mut activation = decode(&["decode", &frames.iter().find(|f| f.0.contains("activation")).unwrap().1]);
    activation["body"].as_object_mut().unwrap().remove("public_key_hex");
    for alg in ["SM2", "P-256", "RSA"] {
        let key = d.join(format!("{alg}.pem"));
        let gen: &[&str] = match alg {
            "SM2" => &["genpkey", "-algorithm", "SM2"],
            "P-256" => &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            _ => &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        };
        assert!(openssl(&[gen, &["-out", p(&key)]].concat(), b"").0, "{alg} key");
        let public = d.join(format!("{alg}.pub.pem"));
        assert!(openssl(&["pkey", "-in", p(&key), "-pubout", "-out", p(&public)], b"").0);
        for json in [&realtime, &activation] {
            let signed = encode(&["encode", "--private-key", p(&key), "-"], json);
            let v = decode(&["decode", "--public-key", p(&public), &signed]);
            assert_eq!(sig(&v).1, json!(true), "{alg} {}", v["body_kind"]);
            let (msg, r, s) = signed_range(&h(&signed), &v);
            let msg_path = dir.file("msg.bin", &msg);
            let sig_path = dir.file("sig.bin", if alg == "RSA" { r.clone() } else { der_sig(&r, &s) });
            let verified = if alg == "SM2" {
                openssl(
                    &[
                        "pkeyutl",
                        "-verify",
                        "-pubin",
                        "-inkey",
                        p(&public),
                        "-rawin",
                        "-digest",
                        "sm3",
                        "-pkeyopt",
                        "distid:1234567812345678",
                        "-in",
                        &msg_path,
                        "-sigfile",
                        &sig_path,
                    ],
                    b"",
                )
                .0
            } else {
                openssl(
                    &[
                        "dgst",
                        "-sha256",
                        "-verify",
                        p(&public),
                        "-signature",
                        &sig_path,
                        &msg_path,
                    ],
                    b"",
                )
                .0
            };
            assert!(
                verified,
                "OpenSSL rejects our {alg} signature of a {} frame",
                v["body_kind"]
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// decode --key, encode --key

/// `decode` of the plaintext frame, as `decode --key` of its encrypted copy should print it.
fn as_decrypted(mut plain: Value, encryption: u8, name: &str) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in std::mem::take(plain.as_object_mut().unwrap()) {
        match k.as_str() {
            "encryption" => drop(out.insert(k, json!(encryption))),
            "encryption_name" => {
                out.insert(k, json!(name));
                out.insert("decrypted".into(), json!(true));
            }
            _ => drop(out.insert(k, v)),
        }
    }
    Value::Object(out)
}

#[test]
fn data_units_encrypted_by_openssl_decode_with_the_key() {
    if !have_openssl() {
        return;
    }
    let dir = TempDir::new("openssl-enc");
    let public = dir.file("sm2.pub.pem", sm2_public_pem(SM2_PUBLIC));
    let iv = "0F0E0D0C0B0A09080706050403020100";
    let aes256 = "603DEB1015CA71BE2B73AEF0857D77811F352C073B6108D72D9810A30914DFF4";
    let cases: &[(&str, &str, u8, &str, &[&str])] = &[
        ("-sm4-ecb", SM4_KEY, 0x05, "sm4", &[]),
        ("-sm4-cbc", SM4_KEY, 0x05, "sm4", &["--cipher-mode", "cbc", "--iv", iv]),
        ("-aes-128-ecb", SM4_KEY, 0x03, "aes", &[]),
        (
            "-aes-256-cbc",
            aes256,
            0x03,
            "aes",
            &["--cipher-mode", "cbc", "--iv", iv],
        ),
    ];
    for (name, frame, _) in sm2_signed() {
        let plain = h(&frame);
        let data_path = dir.file("data.bin", &plain[24..plain.len() - 1]);
        let expected = decode(&["decode", "--public-key", &public, &frame]);
        for &(cipher, key, code, code_name, extra) in cases {
            let mut args = vec!["enc", "-e", cipher, "-K", key, "-nosalt", "-in", &data_path];
            if extra.contains(&"cbc") {
                args.extend(["-iv", iv]);
            }
            let (done, ct) = openssl(&args, b"");
            assert!(done, "openssl enc {cipher}");
            let encrypted = hx(&frame_with(&plain, code, &ct));
            // Without the key it stays opaque, as before.
            assert_eq!(decode(&["decode", &encrypted])["body_kind"], "encrypted");
            let mut a = vec!["decode", "--key", key, "--public-key", &public];
            a.extend(extra);
            a.push(&encrypted);
            let v = decode(&a);
            assert_eq!(v, as_decrypted(expected.clone(), code, code_name), "{name} {cipher}");
            assert_eq!(sig(&v).1, json!(true), "signed before encryption (A15)");
            // And back: encode --key gives OpenSSL's bytes again (ECB and a fixed IV are deterministic).
            let mut a = vec!["encode", "--key", key];
            a.extend(extra);
            a.push("-");
            assert_eq!(encode(&a, &v), encrypted, "{name} {cipher}");
        }
    }
}

#[test]
fn encode_signs_then_encrypts_and_openssl_decrypts() {
    if !have_openssl() {
        return;
    }
    let dir = TempDir::new("openssl-dec");
    let private = dir.file("sm2.pem", sm2_private_pem(SM2_SECRET));
    let public = dir.file("sm2.pub.pem", sm2_public_pem(SM2_PUBLIC));
    let (_, frame, _) = &sm2_signed()[0];
    let mut json = decode(&["decode", frame]);
    json["encryption"] = json!("sm4");
    let out = h(&encode(
        &["encode", "--private-key", &private, "--key", SM4_KEY, "-"],
        &json,
    ));
    assert_eq!(out[21], 0x05);
    let ct = dir.file("ct.bin", &out[24..out.len() - 1]);
    let (done, data) = openssl(&["enc", "-d", "-sm4-ecb", "-K", SM4_KEY, "-nosalt", "-in", &ct], b"");
    assert!(done, "OpenSSL cannot decrypt our SM4 data unit");
    let plain = hx(&frame_with(&out, 0x01, &data));
    let v = decode(&["decode", "--public-key", &public, &plain]);
    assert_eq!(sig(&v).1, json!(true), "the plaintext carries the signature (A15)");
    assert_eq!(v["body"]["blocks"], json["body"]["blocks"]);
}

/// The body without its signature (which signing changes) and the check's keys.
fn unsigned_body(v: &Value) -> Value {
    let mut b = v["body"].clone();
    b.as_object_mut().unwrap().remove("signature");
    b
}

#[test]
fn encode_key_and_decode_key_round_trip() {
    let dir = TempDir::new("roundtrip");
    let private = dir.file("sm2.pem", sm2_private_pem(SM2_SECRET));
    let public = dir.file("sm2.pub.pem", sm2_public_pem(SM2_PUBLIC));
    let aes192 = "000102030405060708090A0B0C0D0E0F1011121314151617";
    let prefix_iv = "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF";
    // (encryption, key, encode's options, decode's options)
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        ("sm4", SM4_KEY, &[], &[]),
        ("aes", aes192, &["--padding", "zero"], &["--padding", "zero"]),
        (
            "sm4",
            SM4_KEY,
            &["--cipher-mode", "cbc", "--iv", "key"],
            &["--cipher-mode", "cbc", "--iv", "key"],
        ),
        // The IV travels in the data unit: decryption reads it from there.
        (
            "aes",
            SM4_KEY,
            &["--cipher-mode", "cbc-iv-prefix", "--iv", prefix_iv],
            &["--cipher-mode", "cbc-iv-prefix"],
        ),
    ];
    for (name, frame, _) in sm2_signed() {
        let plain = decode(&["decode", &frame]);
        for &(enc, key, enc_opts, dec_opts) in cases {
            let mut json = plain.clone();
            json["encryption"] = json!(enc);
            let hex = encode(
                &[&["encode", "--private-key", &private, "--key", key], enc_opts, &["-"]].concat(),
                &json,
            );
            let v = decode(&[&["decode", "--public-key", &public, "--key", key], dec_opts, &[&hex]].concat());
            assert_eq!(v["decrypted"], json!(true), "{name} {enc} {enc_opts:?}");
            assert_eq!(v["encryption_name"], json!(enc));
            assert_eq!(unsigned_body(&v), unsigned_body(&plain), "{name} {enc} {enc_opts:?}");
            assert_eq!(sig(&v).1, json!(true), "{name} {enc} {enc_opts:?}");
        }
    }
    // A fresh IV is the caller's to give.
    fails_with_one_line(
        &run(
            &["encode", "--key", SM4_KEY, "--cipher-mode", "cbc-iv-prefix", &{
                let mut j = decode(&["decode", &sm2_signed()[0].1]);
                j["encryption"] = json!("sm4");
                j.to_string()
            }],
            None,
        ),
        "give a fresh random --iv",
    );
    // A frame with an empty data unit has nothing to encrypt: the header as the JSON says.
    let hb = json!({"edition": "2025", "command": 7, "vin": "LFCV2025TEST00001", "encryption": "sm4", "body_kind": "heartbeat"});
    let hex = encode(&["encode", "--key", SM4_KEY, "-"], &hb);
    assert_eq!(h(&hex)[21..24], [0x05, 0, 0]);
}

#[test]
fn decode_file_decrypts_and_checks_every_frame() {
    let dir = TempDir::new("file");
    let private = dir.file("sm2.pem", sm2_private_pem(SM2_SECRET));
    let public = dir.file("sm2.pub.pem", sm2_public_pem(SM2_PUBLIC));
    let mut capture = Vec::new();
    let mut expected = Vec::new();
    for (_, frame, _) in sm2_signed() {
        let mut json = decode(&["decode", &frame]);
        json["encryption"] = json!("sm4");
        capture.extend(h(&encode(
            &["encode", "--private-key", &private, "--key", SM4_KEY, "-"],
            &json,
        )));
        capture.extend(h(&frame));
        expected.extend([true, false]);
    }
    let path = dir.file("capture.bin", &capture);
    let out = ok(&run(
        &["decode", "--file", &path, "--key", SM4_KEY, "--public-key", &public],
        None,
    ));
    let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), expected.len());
    for (v, was_encrypted) in lines.iter().zip(expected) {
        assert_eq!(v.get("decrypted").is_some(), was_encrypted, "{v}");
        assert_eq!(sig(v).1, json!(true), "{v}");
    }
    // With a wrong key the encrypted frames are kept as error lines (header, raw, error).
    let out = run(&["decode", "--file", &path, "--key", &"00".repeat(16)], None);
    let lines: Vec<Value> = ok(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let errors: Vec<&Value> = lines.iter().filter(|l| l.get("error").is_some()).collect();
    assert_eq!(errors.len(), 5);
    assert!(errors
        .iter()
        .all(|e| e["error_kind"] == "decrypt" && e["raw"].is_string()));
    assert!(String::from_utf8_lossy(&out.stderr).contains("5 frame(s) with an undecodable data unit"));
}

#[test]
fn bad_keys_fail_with_one_clear_line() {
    let (_, frame, _) = &sm2_signed()[0];
    let mut json = decode(&["decode", frame]);
    json["encryption"] = json!("sm4");
    let encrypted = encode(&["encode", "--key", SM4_KEY, "-"], &json);
    let wrong = "FFEEDDCCBBAA99887766554433221100";
    fails_with_one_line(
        &run(&["decode", "--key", wrong, &encrypted], None),
        "cannot decrypt the SM4 data unit",
    );
    fails_with_one_line(&run(&["decode", "--key", "0011", &encrypted], None), "--key: 2 byte(s)");
    fails_with_one_line(
        &run(&["decode", "--key", &"00".repeat(24), &encrypted], None),
        "do not make an SM4 key",
    );
    fails_with_one_line(&run(&["decode", "--key", "zz", &encrypted], None), "--key: invalid hex");
    fails_with_one_line(
        &run(&["decode", "--key", SM4_KEY, "--cipher-mode", "cbc", &encrypted], None),
        "--cipher-mode cbc needs --iv",
    );
    // The right key with the wrong padding: the plaintext does not decode.
    fails_with_one_line(
        &run(&["decode", "--key", SM4_KEY, "--padding", "none", &encrypted], None),
        "the decrypted data unit does not decode",
    );
    // A data unit that is not a whole number of blocks.
    let mut short = h(&encrypted);
    short.remove(24);
    let short = frame_with(&short, 0x05, &short[24..short.len() - 1]);
    fails_with_one_line(
        &run(&["decode", "--key", SM4_KEY, &hx(&short)], None),
        "not a whole number of 16-byte blocks",
    );
    // RSA or SM2 data units need a private key, not a data-unit key.
    let sm2_encrypted = hx(&frame_with(
        &h(&encrypted),
        0x04,
        &h(&encrypted)[24..h(&encrypted).len() - 1],
    ));
    fails_with_one_line(
        &run(&["decode", "--key", SM4_KEY, &sm2_encrypted], None),
        "encrypted with SM2 (0x04)",
    );
    // encode: a decrypted JSON without its key, a key for a frame that names no cipher.
    let decrypted = decode(&["decode", "--key", SM4_KEY, &encrypted]);
    fails_with_one_line(&run(&["encode", &decrypted.to_string()], None), "give --key to encrypt");
    json["encryption"] = json!(1);
    fails_with_one_line(
        &run(&["encode", "--key", SM4_KEY, &json.to_string()], None),
        "set it to \"sm4\" (5) or \"aes\" (3)",
    );
    let opaque = decode(&["decode", &encrypted]);
    fails_with_one_line(
        &run(&["encode", "--key", SM4_KEY, &opaque.to_string()], None),
        "already encrypted",
    );
}

#[test]
fn a_signature_inside_a_block_without_length_is_checked_as_trailing_signature() {
    // Time, a platform-custom block 0x10 (no length on the wire, notes §6.2), FF and a signature:
    // the codec keeps it all in the block's data; the verifier finds the signature at the end.
    let (_, frame, _) = &sm2_signed()[0];
    let mut data = h("190B03091D32");
    data.extend([0x10, 0xAB, 0xFF, 0x01, 0x00, 0x20]);
    data.extend([0x11; 32]);
    data.extend([0x00, 0x20]);
    data.extend([0x22; 32]);
    let hex = hx(&frame_with(&h(frame), 0x01, &data));
    let dir = TempDir::new("trailing");
    let public = dir.file("sm2.pub.pem", sm2_public_pem(SM2_PUBLIC));
    let v = decode(&["decode", "--public-key", &public, &hex]);
    assert!(v["body"]["signature"].is_null());
    let t = &v["body"]["trailing_signature"];
    assert_eq!(t["algorithm_name"], "sm2");
    assert_eq!(t["r_hex"], hx(&[0x11; 32]));
    assert_eq!((&t["valid"], &t["key"]), (&json!(false), &json!("argument")));
    assert_eq!(encode(&["encode", "-"], &v), hex, "the JSON still encodes to the frame");
}

#[test]
fn pem_files_as_other_tools_write_them_are_read() {
    let dir = TempDir::new("pem-forms");
    let (_, frame, _) = sm2_signed().into_iter().find(|(n, ..)| n.contains("reissue")).unwrap();
    // 76 columns (Python's base64.encodebytes, MIME) and CRLF line ends: OpenSSL reads them, and
    // so do we, although the core's reader takes RFC 7468's strict 64 columns only.
    let der = {
        let mut d = h("3059301306072A8648CE3D020106082A811CCF5501822D034200");
        d.extend(h(SM2_PUBLIC));
        d
    };
    let b = base64(&der);
    let wide: Vec<&str> = b
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let wide = format!(
        "-----BEGIN PUBLIC KEY-----\r\n{}\r\n-----END PUBLIC KEY-----\r\n",
        wide.join("\r\n")
    );
    let public = dir.file("wide.pub.pem", wide);
    assert_eq!(
        sig(&decode(&["decode", "--public-key", &public, &frame])).1,
        json!(true)
    );
    // DER on its own.
    let public_der = dir.file("key.der", &der);
    assert_eq!(
        sig(&decode(&["decode", "--public-key", &public_der, &frame])).1,
        json!(true)
    );
    // SEC1 under OpenSSL's `SM2 PRIVATE KEY` label (`openssl ec -in SM2KEY`).
    let mut sec1 = h("30310201010420");
    sec1.extend(h(SM2_SECRET));
    sec1.extend(h("A00A06082A811CCF5501822D"));
    let private = dir.file("sm2-sec1.pem", pem("SM2 PRIVATE KEY", &sec1));
    let json = decode(&["decode", &frame]);
    let signed = encode(&["encode", "--private-key", &private, "-"], &json);
    assert_eq!(
        sig(&decode(&["decode", "--public-key", &public, &signed])).1,
        json!(true)
    );
}
