//! 2025-edition real-time decode, with and without signature verification, side by side with
//! the peer crate `gbt32950_2025_decoder_rs` (sic: "32950") in the same run, on the same bytes.
//!
//! ```text
//! cargo bench -p gb32960-core --bench codec2025 --features sm2,p256,rsa > /dev/null
//! ```
//!
//! `sm2` is required; `p256` and `rsa` add the ECDSA P-256 and RSA-2048 rows. The peer prints
//! nothing, but criterion prints its report on stdout, so stdout goes to `/dev/null` and the
//! summary table (time/iter, MB/s, frames/s, ours/peer, cost of verification) is printed on
//! stderr at the end, as in the 2016 bench (`codec`). See docs/BENCHMARKS.md.
//!
//! The frame is built with our encoder and signed with `Sm2Signer`; before measuring, the bench
//! checks that our decoder and the peer's decoder both accept it, agree on the block layout and
//! counts (the peer's block walk must end exactly at the 0xFF signature marker), and that the
//! signature verifies (and that a tampered copy does not).

mod common;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{BenchmarkGroup, Criterion, Throughput};
use gb32960_core::realtime::v2016::{self, AlarmHead, RessTemperature, RessTemperatures};
use gb32960_core::realtime::v2025::{
    self, alarm, fixed, motor, packs, vehicle, Alarm, GeneralAlarm, InfoBlock, Motor, Motors, PackVoltage,
    PackVoltageHead, PackVoltages, Position, Vehicle,
};
use gb32960_core::security::{self, Signer, Sm2Signer, Verification, VerifyingKey};
use gb32960_core::wire::{FixedStr, List, RecordList};
use gb32960_core::{Body, Command, Edition, Frame, Header, RawFrame, Reading, Time};
use gbt32950_2025_decoder_rs::{Gbt32950Decoder, MultiType};

use common::{fields, list_sum, note, rec};

const VIN: &str = "LGBT32960BENCH025";
/// Unit voltages in the 0x07 block and probes in the 0x08 block.
const UNITS: usize = 100;
const PROBES: usize = 32;
/// Test keys: the SM2 key of the shared 2025 vectors, RFC 6979 A.2.5 for P-256, and a 2048-bit
/// RSA key (e = 65537) made with `openssl genpkey` (the same as the crate's unit tests).
const SM2_SECRET: &str = "7F66CFCF4EEF476C27B61D806883DE4B1434994F68803E48FF68B672C4C4413A";
#[cfg(feature = "p256")]
const P256_SECRET: &str = "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721";
#[cfg(feature = "rsa")]
const RSA_P: &str = "C81D9B9DD7442D4CC001C638DC87F429039639350D07BFD34C273D508C4AD53BE6AE985D602EDB3751D7DFC97CA0BC91EC273BB515B665E50FA9373D001795C6C6B63880EEAD1680465D1F65DF3D37107AA949BD00EFB8EDB0DF2E6A4B9E351079811D5915E7F1EE05E048CEEC31ECF9917449C03A84D62C48C06FA8C12BEFAD";
#[cfg(feature = "rsa")]
const RSA_Q: &str = "C66D92DE5B8EAC7519C3E15C69428C63A7559553F5DFA730E61C38EB600106EA155E70DF6382FEE31B1840506DBDAFE75DC9EA83EEF84DFE1644F2B2DA41921CA615E5E3C3AC9C2D70F0E1AF2A0115450C1AB43974A3DA1EBF7672D6C511D21F127FE7E2EEB6AE06498D0BFF37A764409D3AADD6ECA853D7EC37B105278D6067";

// ---------------------------------------------------------------------------------------------
// The test frame, built with our encoder.

/// The fault codes of the alarm block (3 RESS, 2 motor, none for the engine, 2 other) and its
/// general-alarm list: (flag bit, level) for the two flags set.
const RESS_FAULTS: [u32; 3] = [0x0001_0203, 0x0001_0204, 0x0001_0301];
const MOTOR_FAULTS: [u32; 2] = [0x0002_0001, 0x0002_0002];
const OTHER_FAULTS: [u32; 2] = [0x0004_0001, 0x0004_0007];
const ALARM_FLAGS: u32 = 0x11;
const GENERAL: [(u8, u8); 2] = [(0, 1), (4, 1)];

fn unit_voltages() -> [u16; UNITS] {
    core::array::from_fn(|i| 3571 + (i * 7 % 42) as u16)
}

fn probe_temps() -> [u8; PROBES] {
    core::array::from_fn(|i| 67 + (i % 5) as u8)
}

fn header() -> Header {
    Header::command(Edition::V2025, Command::REALTIME, FixedStr::new(VIN).unwrap())
}

/// Calls `f` with a 2025 real-time report in its builder form (fields set through the field
/// tables, lists as the caller's slices), unsigned: vehicle (0x01), 2 drive motors (0x02),
/// position (0x05), alarm (0x06) with 7 fault codes and a general-alarm list of 2, one pack of
/// 100 unit voltages (0x07) and one of 32 probe temperatures (0x08).
fn with_report<R>(f: impl FnOnce(&v2025::RealtimeReport<'_>) -> R) -> R {
    use vehicle::field as v;
    let vehicle = Vehicle(rec(&[
        (v::VEHICLE_STATE, 1.0),
        (v::CHARGING_STATE, 3.0),
        (v::OPERATING_MODE, 1.0),
        (v::SPEED, 63.5),
        (v::ODOMETER, 12_345.6),
        (v::TOTAL_VOLTAGE, 358.4),
        (v::TOTAL_CURRENT, 45.6),
        (v::SOC, 78.0),
        (v::DCDC_STATE, 1.0),
        (v::GEAR, f64::from(0x2E_u8)), // driving force, D
        (v::INSULATION, 12_000.0),
    ]));

    use motor::field as m;
    let motors: [Motor; 2] = core::array::from_fn(|k| {
        Motor(rec(&[
            (m::NUMBER, (k + 1) as f64),
            (m::STATE, 1.0),
            (m::CONTROLLER_TEMP, 45.0 + k as f64),
            (m::SPEED, 3200.0 - 10.0 * k as f64),
            (m::TORQUE, 85.5),
            (m::TEMP, 60.0 + k as f64),
        ]))
    });

    use fixed::position_field as p;
    let position = Position(rec(&[
        (p::STATUS, 0.0),
        (p::COORDINATE_SYSTEM, 1.0), // WGS-84
        (p::LONGITUDE, 116.397_128),
        (p::LATITUDE, 39.916_527),
    ]));

    let engine_faults: [u32; 0] = [];
    let general: [GeneralAlarm; 2] = core::array::from_fn(|k| {
        GeneralAlarm(rec(&[
            (alarm::field::BIT, f64::from(GENERAL[k].0)),
            (alarm::field::LEVEL, f64::from(GENERAL[k].1)),
        ]))
    });
    let mut alarm_head = AlarmHead(rec(&[(v2016::alarm::field::LEVEL, 1.0)]));
    v2016::alarm::field::FLAGS
        .set(&mut alarm_head.0, Reading::Valid(f64::from(ALARM_FLAGS)))
        .unwrap();
    let alarm = Alarm {
        head: alarm_head,
        ress_faults: Reading::Valid(List::Items(&RESS_FAULTS)),
        motor_faults: Reading::Valid(List::Items(&MOTOR_FAULTS)),
        engine_faults: Reading::Valid(List::Items(&engine_faults)),
        other_faults: Reading::Valid(List::Items(&OTHER_FAULTS)),
        general_alarms: Reading::Valid(List::Items(&general)),
    };

    use packs::pack_field as pk;
    let units = unit_voltages();
    let pack_voltages = [PackVoltage {
        head: PackVoltageHead(rec(&[(pk::NUMBER, 1.0), (pk::VOLTAGE, 358.4), (pk::CURRENT, 45.6)])),
        units: Reading::Valid(List::Items(&units)),
    }];
    let probes = probe_temps();
    let temperatures = [RessTemperature {
        number: 1,
        temps: Reading::Valid(List::Items(&probes)),
    }];

    let blocks = [
        InfoBlock::Vehicle(vehicle),
        InfoBlock::Motors(Motors {
            motors: Reading::Valid(List::Items(&motors)),
        }),
        InfoBlock::Position(position),
        InfoBlock::Alarm(alarm),
        InfoBlock::PackVoltages(PackVoltages {
            packs: Reading::Valid(RecordList::Items(&pack_voltages)),
        }),
        InfoBlock::Temperatures(RessTemperatures {
            subsystems: Reading::Valid(RecordList::Items(&temperatures)),
        }),
    ];
    f(&v2025::RealtimeReport {
        time: Time::new(2025, 5, 20, 8, 30, 15),
        blocks: RecordList::Items(&blocks),
        signature: None,
    })
}

/// The report, signed by `signer`, as a complete frame.
fn signed_frame(signer: &mut dyn Signer) -> Vec<u8> {
    with_report(|report| {
        let mut buf = vec![0u8; 2048];
        let n = security::emit_signed_realtime(&header(), report, signer, &mut buf).expect("emit signed");
        buf.truncate(n);
        buf
    })
}

fn from_hex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

// ---------------------------------------------------------------------------------------------
// What the benchmarks run.

/// Reads every value of a decoded 2025 real-time frame: every field of every fixed record
/// (through the field tables), every motor, fault code, general-alarm entry, unit voltage and
/// probe temperature, and the signature's type and lengths. The peer does this work eagerly,
/// into `String`s and `HashMap`s.
fn walk(frame: &Frame<'_>) -> u64 {
    let Body::Realtime2025(report) = frame.body else {
        return 0;
    };
    let mut acc = u64::from(frame.header.vin.0[16]) + u64::from(report.time.0[5]);
    for block in report.iter() {
        acc += match block {
            InfoBlock::Vehicle(b) => fields(&b.0, vehicle::field::ALL),
            InfoBlock::Motors(b) => b
                .motors
                .valid()
                .map_or(0, |l| l.iter().map(|m| fields(&m.0, motor::field::ALL)).sum()),
            InfoBlock::FuelCell(b) => fields(&b.0, fixed::fuel_cell_field::ALL),
            InfoBlock::Engine(b) => fields(&b.0, fixed::engine_field::ALL),
            InfoBlock::Position(b) => fields(&b.0, fixed::position_field::ALL),
            InfoBlock::Alarm(b) => {
                fields(&b.head.0, v2016::alarm::field::ALL)
                    + b.fault_lists().iter().map(|l| list_sum(**l)).sum::<u64>()
                    + b.general_alarms
                        .valid()
                        .map_or(0, |l| l.iter().map(|g| fields(&g.0, alarm::field::ALL)).sum())
            }
            InfoBlock::PackVoltages(b) => b.packs.valid().map_or(0, |packs| {
                packs
                    .iter()
                    .map(|p| fields(&p.head.0, packs::pack_field::ALL) + list_sum(p.units))
                    .sum()
            }),
            InfoBlock::Temperatures(b) => b.subsystems.valid().map_or(0, |subs| {
                subs.iter().map(|s| u64::from(s.number) + list_sum(s.temps)).sum()
            }),
            InfoBlock::Stacks(b) => b.stacks.valid().map_or(0, |stacks| {
                stacks
                    .iter()
                    .map(|s| fields(&s.head.0, packs::stack_field::ALL) + list_sum(s.coolant_temps))
                    .sum()
            }),
            InfoBlock::Supercap(b) => {
                fields(&b.head.0, packs::supercap_field::ALL) + list_sum(b.cells) + list_sum(b.probe_temps)
            }
            InfoBlock::SupercapExtremes(b) => fields(&b.0, fixed::supercap_extremes_field::ALL),
            InfoBlock::UserDefined { data, .. } | InfoBlock::Unsized { data, .. } => data.len() as u64,
        };
    }
    if let Some(s) = report.signature {
        acc += u64::from(s.algorithm.0) + s.r.len() as u64 + s.s.len() as u64;
    }
    acc
}

/// What a platform does with a signed report: check the frame (header, length, BCC), decode the
/// data unit, verify the signature with the vehicle's registered key.
fn decode_verify<'a>(bytes: &'a [u8], key: &VerifyingKey) -> (Frame<'a>, Option<Verification>) {
    let raw = RawFrame::parse(bytes).unwrap();
    let frame = Frame::decode(&raw).unwrap();
    (frame, security::verify_frame(&raw, Some(key)))
}

// ---------------------------------------------------------------------------------------------
// Checks before measuring.

fn check_ours(bytes: &[u8], key: &VerifyingKey) {
    let frame = Frame::parse(bytes).expect("our decoder rejects the frame");
    let Body::Realtime2025(report) = frame.body else {
        panic!("not a 2025 real-time body")
    };
    let types: Vec<u8> = report.iter().map(|b| b.block_type()).collect();
    assert_eq!(types, [0x01, 0x02, 0x05, 0x06, 0x07, 0x08]);
    for b in report.iter() {
        match b {
            InfoBlock::PackVoltages(p) => {
                let packs = p.packs.valid().unwrap();
                let units: Vec<u16> = packs.iter().next().unwrap().units.valid().unwrap().iter().collect();
                assert_eq!(units, unit_voltages());
            }
            InfoBlock::Temperatures(t) => {
                let subs = t.subsystems.valid().unwrap();
                let temps: Vec<u8> = subs.iter().next().unwrap().temps.valid().unwrap().iter().collect();
                assert_eq!(temps, probe_temps());
            }
            InfoBlock::Alarm(a) => assert_eq!(a.general_alarms.valid().unwrap().len(), GENERAL.len()),
            _ => {}
        }
    }
    assert!(report.signature.is_some(), "no signature");
    assert_eq!(decode_verify(bytes, key).1, Some(Verification::Valid), "signature");

    // A tampered copy (one unit voltage changed, BCC fixed) must not verify.
    let mut bad = bytes.to_vec();
    let at = bytes.len() - 200;
    bad[at] ^= 0x01;
    let n = bad.len();
    bad[n - 1] = bad[2..n - 1].iter().fold(0, |a, b| a ^ b);
    assert_eq!(
        decode_verify(&bad, key).1,
        Some(Verification::Invalid),
        "tampered frame"
    );
}

fn peer_get<'m>(map: &'m HashMap<String, MultiType>, key: &str) -> &'m MultiType {
    map.get(key)
        .unwrap_or_else(|| panic!("peer: no {key:?} in {:?}", map.keys()))
}

fn peer_map<'m>(map: &'m HashMap<String, MultiType>, key: &str) -> &'m HashMap<String, MultiType> {
    match peer_get(map, key) {
        MultiType::Map(m) => m,
        other => panic!("peer: {key:?} is {other:?}"),
    }
}

fn peer_vec<'m>(map: &'m HashMap<String, MultiType>, key: &str) -> &'m [MultiType] {
    match peer_get(map, key) {
        MultiType::Vec(v) => v,
        other => panic!("peer: {key:?} is {other:?}"),
    }
}

fn peer_str<'m>(map: &'m HashMap<String, MultiType>, key: &str) -> &'m str {
    match peer_get(map, key) {
        MultiType::Str(s) => s,
        other => panic!("peer: {key:?} is {other:?}"),
    }
}

fn peer_int(map: &HashMap<String, MultiType>, key: &str) -> i64 {
    match peer_get(map, key) {
        MultiType::Int(i) => *i,
        other => panic!("peer: {key:?} is {other:?}"),
    }
}

fn as_map(m: &MultiType) -> &HashMap<String, MultiType> {
    match m {
        MultiType::Map(m) => m,
        other => panic!("peer: {other:?} is not a map"),
    }
}

/// The peer decodes `hex` (the frame `bytes`, hex-encoded: its only input format) into the same
/// blocks and counts as ours, and its block walk ends exactly at our signature marker (the peer
/// has no signature support: it keeps the marker and signature as `未知数据`, unknown data).
fn check_peer(decoder: &Gbt32950Decoder, hex: &str, bytes: &[u8], sig_len: usize) {
    let out = decoder.decode(hex);
    assert_eq!(peer_str(&out, "起始符"), "$$");
    assert_eq!(peer_str(&out, "唯一识别码"), VIN);
    assert_eq!(peer_int(&out, "数据单元长度"), (bytes.len() - 25) as i64);
    let rt = peer_map(peer_map(&out, "数据单元内容"), "实时信息上报");

    let vehicle = peer_map(rt, "整车数据");
    assert_eq!(peer_str(vehicle, "车速"), "63.5");
    assert_eq!(peer_str(vehicle, "累计里程"), "12345.6");
    assert_eq!(peer_str(vehicle, "SOC"), "78");
    assert_eq!(peer_str(vehicle, "档位"), "自动D档");

    let motors = peer_map(rt, "驱动电机数据");
    assert_eq!(peer_int(motors, "驱动电机个数"), 2);
    let list = peer_vec(motors, "驱动电机总成信息");
    assert_eq!(list.len(), 2);
    assert_eq!(peer_int(as_map(&list[1]), "驱动电机序号"), 2);
    assert_eq!(peer_int(as_map(&list[1]), "驱动电机温度"), 61);

    let position = peer_map(rt, "车辆位置数据");
    assert_eq!(peer_str(position, "坐标系"), "WGS84坐标系");
    assert_eq!(peer_str(position, "定位状态"), "有效");

    let alarm = peer_map(rt, "报警数据");
    assert_eq!(peer_str(alarm, "最高报警等级"), "一级");
    assert_eq!(peer_vec(alarm, "可充电储能装置故障码列表").len(), RESS_FAULTS.len());
    assert_eq!(peer_vec(alarm, "驱动电机故障码列表").len(), MOTOR_FAULTS.len());
    assert_eq!(peer_vec(alarm, "发动机故障码列表").len(), 0);
    assert_eq!(peer_vec(alarm, "其他故障码列表").len(), OTHER_FAULTS.len());
    let general = peer_vec(alarm, "通用报警故障等级列表");
    assert_eq!(general.len(), GENERAL.len());
    assert!(matches!(&general[1], MultiType::Str(s) if s == "0401"));

    let packs = peer_map(rt, "动力蓄电池最小并联单元电压数据");
    assert_eq!(peer_int(packs, "动力蓄电池包个数"), 1);
    let pack = as_map(&peer_vec(packs, "动力蓄电池最小并联单元电压信息列表")[0]);
    assert_eq!(peer_str(pack, "最小并联单元总数"), UNITS.to_string());
    assert_eq!(peer_vec(pack, "本帧最小并联单元电压").len(), UNITS);

    let temps = peer_map(rt, "动力蓄电池温度数据");
    assert_eq!(peer_int(temps, "动力蓄电池包个数"), 1);
    let pack = as_map(&peer_vec(temps, "动力蓄电池温度信息列表")[0]);
    let probes = peer_vec(pack, "各温度探针检测到的温度值");
    assert_eq!(probes.len(), PROBES);
    let want: Vec<String> = probe_temps().iter().map(|&t| (i32::from(t) - 40).to_string()).collect();
    let got: Vec<&str> = probes
        .iter()
        .map(|p| match p {
            MultiType::Str(s) => s.as_str(),
            other => panic!("peer: probe {other:?}"),
        })
        .collect();
    assert_eq!(got, want);

    // Its walk stopped at our 0xFF marker: the rest is the marker and the signature, kept raw.
    let rest = peer_vec(rt, "未知数据");
    assert_eq!(rest.len(), 1 + sig_len, "peer: bytes left after its last block");
    assert!(matches!(&rest[0], MultiType::Str(s) if s == "FF"));
    assert_eq!(rt.len(), 8, "peer: time, 6 blocks and the rest {:?}", rt.keys());
}

// ---------------------------------------------------------------------------------------------
// Benchmarks.

/// One signed frame per algorithm compiled in: (name, frame, verifying key).
fn signed_frames() -> Vec<(&'static str, Vec<u8>, VerifyingKey)> {
    let mut out = Vec::new();
    let mut sm2 = Sm2Signer::from_bytes(&from_hex(SM2_SECRET)).unwrap();
    let key = VerifyingKey::sm2_from_wire(&sm2.public_key_wire()).unwrap();
    out.push(("sm2", signed_frame(&mut sm2), key));
    #[cfg(feature = "p256")]
    {
        let mut p256 = security::P256Signer::from_bytes(&from_hex(P256_SECRET)).unwrap();
        let key = p256.verifying_key();
        out.push(("p256", signed_frame(&mut p256), key));
    }
    #[cfg(feature = "rsa")]
    {
        use rsa::BoxedUint;
        let p = BoxedUint::from_be_slice_vartime(&from_hex(RSA_P));
        let q = BoxedUint::from_be_slice_vartime(&from_hex(RSA_Q));
        let private = rsa::PrivateKey::from_p_q(p, q, BoxedUint::from(65537u32)).unwrap();
        let mut rsa = security::RsaSigner::new(private, getrandom::SysRng);
        let key = rsa.verifying_key();
        out.push(("rsa2048", signed_frame(&mut rsa), key));
    }
    out
}

fn bench<O>(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: &str,
    bytes: usize,
    f: impl FnMut() -> O,
) {
    note(&format!("realtime2025/{id}"), 1, bytes as u64);
    g.throughput(Throughput::Bytes(bytes as u64));
    let mut f = f;
    g.bench_function(id, |b| b.iter(&mut f));
}

fn benches(c: &mut Criterion) {
    let frames = signed_frames();
    let decoder = Gbt32950Decoder::new();
    for (name, bytes, key) in &frames {
        check_ours(bytes, key);
        let Body::Realtime2025(report) = Frame::parse(bytes).unwrap().body else {
            unreachable!()
        };
        let sig_len = report.signature.unwrap().wire_len();
        check_peer(&decoder, &hex::encode_upper(bytes), bytes, sig_len);
        eprintln!(
            "2025 real-time frame signed with {name}: {} bytes ({sig_len} of signature after the marker)",
            bytes.len()
        );
    }
    let (_, rt, _) = &frames[0];
    let hex = hex::encode_upper(rt);
    let n = rt.len();

    let mut g = c.benchmark_group("realtime2025");
    bench(&mut g, "decode/gb32960-core", n, || {
        Frame::parse(black_box(rt)).unwrap()
    });
    bench(&mut g, "decode+walk/gb32960-core", n, || {
        walk(&Frame::parse(black_box(rt)).unwrap())
    });
    for (name, bytes, key) in &frames {
        bench(
            &mut g,
            &format!("decode+verify-{name}/gb32960-core"),
            bytes.len(),
            || decode_verify(black_box(bytes), key),
        );
    }
    // The peer takes a hex string (`decode(&str)`); the first row starts from the string, built
    // once outside the loop; the second includes encoding the frame's bytes.
    bench(&mut g, "decode/gbt32950_2025_decoder_rs", n, || {
        decoder.decode(black_box(&hex))
    });
    bench(&mut g, "hex+decode/gbt32950_2025_decoder_rs", n, || {
        decoder.decode(&hex::encode_upper(black_box(rt)))
    });
    g.finish();
}

fn main() {
    let since = SystemTime::now();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    benches(&mut c);
    c.final_summary();

    const PEER: &str = "realtime2025/decode/gbt32950_2025_decoder_rs";
    let mut ratios = vec![
        ("realtime2025/decode/gb32960-core".to_string(), PEER),
        ("realtime2025/decode+walk/gb32960-core".to_string(), PEER),
    ];
    let algorithms = ["sm2", "p256", "rsa2048"];
    ratios.extend(algorithms.map(|a| (format!("realtime2025/decode+verify-{a}/gb32960-core"), PEER)));
    let pairs: Vec<(&str, &str)> = ratios.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    let times = common::summary(since, &pairs);

    // The cost of verification: (decode + verify) - decode.
    if let Some(&decode) = times.get("realtime2025/decode/gb32960-core") {
        for a in algorithms {
            if let Some(&t) = times.get(&format!("realtime2025/decode+verify-{a}/gb32960-core")) {
                eprintln!(
                    "verify-{a}: {} per frame on top of decode ({:.0}x the decode alone)",
                    common::fmt_ns(t - decode),
                    (t - decode) / decode
                );
            }
        }
    }
}
