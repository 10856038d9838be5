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
