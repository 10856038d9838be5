//! The `decode` and `encode` commands, run as a user runs them: the real binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const LOGIN: &str = "232301FE4C47425433323936305445535430303031010026180514081E0F000138393836303031323334353637383930313233340108424154303030303198";
const HEARTBEAT: &str = "232307FE4C47425433323936305445535430303031010000CC";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_host-gateway"))
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = bin()
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

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[track_caller]
fn assert_fails_with_one_line(o: &Output, needle: &str) {
    assert!(!o.status.success(), "expected failure, got success: {}", stdout(o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line on stderr, got: {err}");
    assert!(err.contains(needle), "stderr {err:?} should mention {needle:?}");
}

#[test]
fn decode_prints_the_documented_top_level_keys() {
    let o = run(&["decode", LOGIN], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    for key in [
        "edition",
        "command",
        "command_name",
        "response",
        "response_name",
        "vin",
        "encryption",
        "body",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["edition"], "2016");
    assert_eq!(v["command_name"], "vehicle_login");
    assert_eq!(v["body"]["codes"][0], "BAT00001");
}

#[test]
fn decode_then_encode_gives_the_same_bytes_through_stdin() {
    let decoded = run(&["decode", "-"], Some(format!("{LOGIN}\n").as_bytes()));
    assert!(decoded.status.success());
    let encoded = run(&["encode", "-"], Some(&decoded.stdout));
    assert!(encoded.status.success(), "{}", String::from_utf8_lossy(&encoded.stderr));
    assert_eq!(stdout(&encoded).trim(), LOGIN);
}

#[test]
fn bad_input_exits_non_zero_with_one_clear_line() {
    assert_fails_with_one_line(&run(&["decode", "zz"], None), "invalid hex");
    let mut bad_bcc = LOGIN.to_owned();
    bad_bcc.replace_range(bad_bcc.len() - 2.., "00");
    assert_fails_with_one_line(&run(&["decode", &bad_bcc], None), "bad checksum");
    assert_fails_with_one_line(&run(&["decode", &LOGIN[..40]], None), "truncated");
    assert_fails_with_one_line(&run(&["decode", "2424"], None), "truncated");
    assert_fails_with_one_line(&run(&["decode", "41414141"], None), "bad start");
    assert_fails_with_one_line(&run(&["encode", "{not json"], None), "not valid JSON");
    assert_fails_with_one_line(&run(&["encode", "{}"], None), "cannot encode");
}

#[test]
fn decode_file_prints_one_object_a_line_and_skips_garbage() {
    let dir = std::env::temp_dir().join(format!("gb32960-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("capture.bin");
    let mut capture = b"noise".to_vec();
    capture.extend(hex::decode(LOGIN).unwrap());
    capture.extend(hex::decode(HEARTBEAT).unwrap());
    capture.extend(b"##"); // a stray start symbol with nothing after it
    capture.extend(hex::decode(HEARTBEAT).unwrap());
    std::fs::write(&path, &capture).unwrap();
    let o = run(&["decode", "--file", path.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["command_name"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["vehicle_login", "heartbeat", "heartbeat"]);
    std::fs::write(&path, b"no frames here").unwrap();
    assert_fails_with_one_line(
        &run(&["decode", "--file", path.to_str().unwrap()], None),
        "no frame found",
    );
    std::fs::remove_dir_all(&dir).ok();
}
