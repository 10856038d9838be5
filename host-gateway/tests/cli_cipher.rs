//! `decode --key` and `encode --key` (AES and SM4 data units), key handling and PEM files, run
//! as a user runs them: the real binary, keys in a temporary directory, the shared sample
//! frames. OpenSSL 3 (Debian's `openssl`, which `cargo xtask setup` installs) encrypts and
//! decrypts for us; without it those tests print `SKIPPED`, and fail when
//! `GB32960_REQUIRE_ORACLE=1` (as `cargo xtask ci` sets it).

mod support;

use serde_json::{json, Value};
use support::*;

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
