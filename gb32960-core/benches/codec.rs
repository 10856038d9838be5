//! Codec benchmarks, side by side with the peer crate `gbt32960_parser` (2016, nom 7).
//!
//! ```text
//! cargo bench -p gb32960-core --bench codec > /dev/null
//! ```
//!
//! The peer prints several lines on stdout for every frame it decodes (`println!` inside its
//! parsers), and criterion prints its report on stdout too, so stdout goes to `/dev/null` and this
//! harness prints a summary table (time/iter, MB/s, frames/s, ours/peer) on stderr at the end,
//! read back from criterion's `estimates.json` files (`common/mod.rs`). See docs/BENCHMARKS.md.
//! The 2025 edition has its own target, `codec2025`.
//!
//! Every test frame is built with our encoder, and checked once before measuring: our decoder
//! and the peer's decoder both accept it (and agree on the counts), so that both crates are
//! measured on identical bytes.

mod common;

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput};
use gb32960_core::frame::{Deframer, Event};
use gb32960_core::message::VehicleLogin;
use gb32960_core::realtime::v2016::{
    alarm, engine, extremes, fuel_cell, motor, position, ress, vehicle, Alarm, AlarmHead, Engine, Extremes, FuelCell,
    FuelCellHead, FuelCellTail, InfoBlock, Motor, Motors, Position, RessTemperature, RessTemperatures, RessVoltage,
    RessVoltageHead, RessVoltages, Vehicle,
};
use gb32960_core::realtime::RealtimeReport;
use gb32960_core::wire::{FixedStr, List, RecordList};
use gb32960_core::{Body, Command, Edition, Frame, Header, Reading, Time};

use common::{fields, list_sum, note, rec};

const VIN: &str = "LGBT32960BENCH001";
/// Cells in the RESS voltage block and probes in the RESS temperature block.
const CELLS: usize = 100;
const PROBES: usize = 32;
/// The deframing input, and the chunk size it is fed in (one TCP segment's payload).
const STREAM_LEN: usize = 1 << 20;
const CHUNK: usize = 1460;

// ---------------------------------------------------------------------------------------------
// Test frames, built with our encoder.

fn header(command: Command) -> Header {
    Header::command(Edition::V2016, command, FixedStr::new(VIN).unwrap())
}

fn emit(frame: &Frame<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; frame.wire_len()];
    let n = frame.emit(&mut buf).expect("emit");
    assert_eq!(n, buf.len());
    buf
}

/// Calls `f` with a 2016 real-time report, in its builder form (field values set through the
/// field tables, lists as the caller's slices), with all nine blocks: 2 motors, a fuel cell
/// with 4 probes, 7 fault codes, one RESS subsystem with 100 cell voltages and one with 32
/// temperature probes.
fn with_realtime<R>(f: impl FnOnce(&Frame<'_>) -> R) -> R {
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
        (v::ACCELERATOR_PEDAL, 23.0),
        (v::BRAKE_PEDAL, 0.0),
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
            (m::CONTROLLER_VOLTAGE, 358.2),
            (m::CONTROLLER_CURRENT, 22.8),
        ]))
    });

    use fuel_cell::field as fc;
    let fc_probes = [65u8, 66, 67, 64];
    let fuel_cell = FuelCell {
        head: FuelCellHead(rec(&[
            (fc::VOLTAGE, 320.5),
            (fc::CURRENT, 50.1),
            (fc::CONSUMPTION, 1.25),
        ])),
        probe_temps: Reading::Valid(List::Items(&fc_probes)),
        tail: FuelCellTail(rec(&[
            (fc::H2_MAX_TEMP, 35.2),
            (fc::H2_MAX_TEMP_PROBE, 2.0),
            (fc::H2_MAX_CONCENTRATION, 120.0),
            (fc::H2_CONCENTRATION_SENSOR, 1.0),
            (fc::H2_MAX_PRESSURE, 35.0),
            (fc::H2_PRESSURE_SENSOR, 3.0),
            (fc::DCDC_STATE, 1.0),
        ])),
    };

    use engine::field as e;
    let engine = Engine(rec(&[(e::STATE, 1.0), (e::CRANK_SPEED, 1500.0), (e::FUEL_RATE, 6.5)]));

    use position::field as p;
    // `Field::set` refuses every value of a DWORD field without sentinels (`raw_of` computes
    // `width.max() + 1`, which wraps to 0 for a DWORD), so these go in with `set_raw`.
    let mut position = Position(rec(&[(p::STATUS, 0.0)]));
    p::LONGITUDE.set_raw(&mut position.0, 116_397_128).unwrap();
    p::LATITUDE.set_raw(&mut position.0, 39_916_527).unwrap();

    use extremes::field as x;
    let extremes = Extremes(rec(&[
        (x::MAX_V_SUBSYSTEM, 1.0),
        (x::MAX_V_CELL, 17.0),
        (x::MAX_V, 3.612),
        (x::MIN_V_SUBSYSTEM, 1.0),
        (x::MIN_V_CELL, 42.0),
        (x::MIN_V, 3.571),
        (x::MAX_T_SUBSYSTEM, 1.0),
        (x::MAX_T_PROBE, 5.0),
        (x::MAX_T, 31.0),
        (x::MIN_T_SUBSYSTEM, 1.0),
        (x::MIN_T_PROBE, 12.0),
        (x::MIN_T, 27.0),
    ]));

    let ress_faults = [0x0001_0203u32, 0x0001_0204, 0x0001_0301];
    let motor_faults = [0x0002_0001u32, 0x0002_0002];
    let engine_faults: [u32; 0] = [];
    let other_faults = [0x0004_0001u32, 0x0004_0007];
    let mut alarm_head = AlarmHead(rec(&[(alarm::field::LEVEL, 1.0)]));
    alarm::field::FLAGS.set_raw(&mut alarm_head.0, 0x11).unwrap(); // as above: a plain DWORD
    let alarm = Alarm {
        head: alarm_head,
        ress_faults: Reading::Valid(List::Items(&ress_faults)),
        motor_faults: Reading::Valid(List::Items(&motor_faults)),
        engine_faults: Reading::Valid(List::Items(&engine_faults)),
        other_faults: Reading::Valid(List::Items(&other_faults)),
    };

    use ress::field as r;
    let cells: [u16; CELLS] = core::array::from_fn(|i| 3571 + (i * 7 % 42) as u16);
    let voltages = [RessVoltage {
        head: RessVoltageHead(rec(&[
            (r::NUMBER, 1.0),
            (r::VOLTAGE, 358.4),
            (r::CURRENT, 45.6),
            (r::CELL_COUNT, CELLS as f64),
            (r::FIRST_CELL, 1.0),
        ])),
        cells: List::Items(&cells),
    }];
    let probes: [u8; PROBES] = core::array::from_fn(|i| 67 + (i % 5) as u8);
    let temperatures = [RessTemperature {
        number: 1,
        temps: Reading::Valid(List::Items(&probes)),
    }];

    let blocks = [
        InfoBlock::Vehicle(vehicle),
        InfoBlock::Motors(Motors {
            motors: Reading::Valid(List::Items(&motors)),
        }),
        InfoBlock::FuelCell(fuel_cell),
        InfoBlock::Engine(engine),
        InfoBlock::Position(position),
        InfoBlock::Extremes(extremes),
        InfoBlock::Alarm(alarm),
        InfoBlock::RessVoltages(RessVoltages {
            subsystems: Reading::Valid(RecordList::Items(&voltages)),
        }),
        InfoBlock::RessTemperatures(RessTemperatures {
            subsystems: Reading::Valid(RecordList::Items(&temperatures)),
        }),
    ];
    let frame = Frame {
        header: header(Command::REALTIME),
        body: Body::Realtime(RealtimeReport {
            time: Time::new(2024, 5, 20, 8, 30, 15),
            blocks: RecordList::Items(&blocks),
        }),
    };
    f(&frame)
}

const LOGIN_CODE: &[u8; 24] = b"BAT01CATL202405190001234";

fn login(codes: &[u8]) -> Frame<'_> {
    Frame {
        header: header(Command::VEHICLE_LOGIN),
        body: Body::VehicleLogin(VehicleLogin {
            time: Time::new(2024, 5, 20, 8, 30, 0),
            serial: 17,
            iccid: FixedStr::new("89860123456789012345").unwrap(),
            subsystem_count: 1,
            code_len: codes.len() as u8,
            codes,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// What the benchmarks run.

/// Reads every value of a decoded real-time frame: every field of every fixed record (through
/// the field tables), every motor, fault code, cell voltage and temperature probe. This is the
/// work the peer does eagerly when it builds its `Vec`s.
fn walk(frame: &Frame<'_>) -> u64 {
    let Body::Realtime(report) = frame.body else {
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
            InfoBlock::FuelCell(b) => {
                fields(&b.head.0, fuel_cell::field::HEAD)
                    + list_sum(b.probe_temps)
                    + fields(&b.tail.0, fuel_cell::field::TAIL)
            }
            InfoBlock::Engine(b) => fields(&b.0, engine::field::ALL),
            InfoBlock::Position(b) => fields(&b.0, position::field::ALL),
            InfoBlock::Extremes(b) => fields(&b.0, extremes::field::ALL),
            InfoBlock::Alarm(b) => {
                fields(&b.head.0, alarm::field::ALL) + b.fault_lists().iter().map(|l| list_sum(**l)).sum::<u64>()
            }
            InfoBlock::RessVoltages(b) => b.subsystems.valid().map_or(0, |subs| {
                subs.iter()
                    .map(|s| fields(&s.head.0, ress::field::ALL) + s.cells.iter().map(u64::from).sum::<u64>())
                    .sum()
            }),
            InfoBlock::RessTemperatures(b) => b.subsystems.valid().map_or(0, |subs| {
                subs.iter().map(|s| u64::from(s.number) + list_sum(s.temps)).sum()
            }),
            InfoBlock::UserDefined { data, .. } | InfoBlock::Unsized { data, .. } => data.len() as u64,
        };
    }
    acc
}

/// 1 MiB of back-to-back copies of `frame`, with 1-16 bytes of pseudo-random garbage before
/// every 7th frame, padded at the end with garbage that holds no start symbol. Returns the
/// stream and the number of frames in it.
fn stream(frame: &[u8]) -> (Vec<u8>, u64) {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut s = Vec::with_capacity(STREAM_LEN);
    let mut frames = 0u64;
    loop {
        let garbage = if frames % 7 == 3 { 1 + (rnd() % 16) as usize } else { 0 };
        if s.len() + garbage + frame.len() > STREAM_LEN {
            break;
        }
        s.extend((0..garbage).map(|_| rnd() as u8));
        s.extend_from_slice(frame);
        frames += 1;
    }
    s.resize(STREAM_LEN, 0x55);
    (s, frames)
}

fn deframe(d: &mut Deframer<65556>, stream: &[u8]) -> u64 {
    d.reset();
    let mut frames = 0u64;
    for chunk in stream.chunks(CHUNK) {
        let mut chunk = chunk;
        while !chunk.is_empty() {
            let n = d.feed(chunk);
            chunk = &chunk[n..];
            while let Some(ev) = d.poll() {
                if let Event::Frame { bytes, .. } = ev {
                    frames += 1;
                    black_box(bytes);
                }
            }
        }
    }
    frames
}

// ---------------------------------------------------------------------------------------------
// Checks before measuring: both decoders accept the frames.

fn peer_parse(bytes: &[u8]) -> gbt32960_parser::Frame {
    let (rest, f) = gbt32960_parser::Frame::parse_from_bytes(bytes).expect("peer rejects the frame");
    assert!(rest.is_empty(), "peer left {} bytes", rest.len());
    assert_eq!(f.check_code, bytes[bytes.len() - 1]);
    f
}

fn check_realtime(bytes: &[u8]) {
    let ours = Frame::parse(bytes).expect("our decoder rejects the real-time frame");
    let Body::Realtime(report) = ours.body else {
        panic!("not a real-time body")
    };
    let types: Vec<u8> = report.iter().map(|b| b.block_type()).collect();
    assert_eq!(types, (1..=9).collect::<Vec<u8>>());

    let peer = std::panic::catch_unwind(|| peer_parse(bytes)).expect("the peer panics on the real-time frame");
    let gbt32960_parser::Command::RealTimeReport { reports, .. } = &peer.payload else {
        panic!("peer: not a real-time report")
    };
    assert_eq!(reports.len(), 9, "peer: block count");
    // Report's fields are private: check the counts through its Debug output.
    let dbg = format!("{reports:?}");
    for needle in [
        "count: 2,".to_string(),
        "probe_count: 4,".into(),
        format!("frame_battery_count: {CELLS},"),
        format!("probe_count: {PROBES},"),
        "ress_len: 3,".into(),
        "other_len: 2,".into(),
    ] {
        assert!(dbg.contains(&needle), "peer: {needle} not in its decoding");
    }
}

fn check_login(bytes: &[u8]) {
    let ours = Frame::parse(bytes).expect("our decoder rejects the login");
    assert!(matches!(ours.body, Body::VehicleLogin(l) if l.codes == LOGIN_CODE));
    let peer = std::panic::catch_unwind(|| peer_parse(bytes)).expect("the peer panics on the login");
    let gbt32960_parser::Command::VehicleLogin { subsystem_code, .. } = &peer.payload else {
        panic!("peer: not a login")
    };
    assert_eq!(subsystem_code.as_bytes(), LOGIN_CODE);
}

// ---------------------------------------------------------------------------------------------
// Benchmarks.

fn benches(c: &mut Criterion) {
    let rt = with_realtime(emit);
    check_realtime(&rt);
    let rt_len = rt.len() as u64;

    let mut g = c.benchmark_group("realtime");
    g.throughput(Throughput::Bytes(rt_len));
    let id = "decode/gb32960-core";
    note(&format!("realtime/{id}"), 1, rt_len);
    g.bench_function(id, |b| b.iter(|| Frame::parse(black_box(&rt)).unwrap()));
    let id = "decode+walk/gb32960-core";
    note(&format!("realtime/{id}"), 1, rt_len);
    g.bench_function(id, |b| b.iter(|| walk(&Frame::parse(black_box(&rt)).unwrap())));
    let id = "decode/gbt32960_parser";
    note(&format!("realtime/{id}"), 1, rt_len);
    g.bench_function(id, |b| {
        b.iter(|| gbt32960_parser::Frame::parse_from_bytes(black_box(&rt)).unwrap().1)
    });
    // Encoding from the builder form (what a T-Box does), into a reused buffer.
    let id = "encode/gb32960-core";
    note(&format!("realtime/{id}"), 1, rt_len);
    let mut buf = vec![0u8; rt.len()];
    with_realtime(|frame| {
        frame.emit(&mut buf).unwrap();
        assert_eq!(buf, rt);
        g.bench_function(id, |b| b.iter(|| black_box(frame).emit(black_box(&mut buf)).unwrap()));
    });
    g.finish();

    let codes = *LOGIN_CODE;
    let login_frame = login(&codes);
    let li = emit(&login_frame);
    check_login(&li);
    let li_len = li.len() as u64;
    let mut g = c.benchmark_group("login");
    g.throughput(Throughput::Bytes(li_len));
    let id = "decode/gb32960-core";
    note(&format!("login/{id}"), 1, li_len);
    g.bench_function(id, |b| b.iter(|| Frame::parse(black_box(&li)).unwrap()));
    let id = "decode/gbt32960_parser";
    note(&format!("login/{id}"), 1, li_len);
    g.bench_function(id, |b| {
        b.iter(|| gbt32960_parser::Frame::parse_from_bytes(black_box(&li)).unwrap().1)
    });
    let id = "encode/gb32960-core";
    note(&format!("login/{id}"), 1, li_len);
    let mut buf = vec![0u8; li.len()];
    g.bench_function(id, |b| {
        b.iter(|| black_box(&login_frame).emit(black_box(&mut buf)).unwrap())
    });
    g.finish();

    let (s, frames) = stream(&rt);
    eprintln!(
        "real-time frame {} bytes, login {} bytes, stream {} bytes with {frames} frames",
        rt.len(),
        li.len(),
        s.len()
    );
    let mut d: Box<Deframer<65556>> = Box::new(Deframer::new());
    assert_eq!(deframe(&mut d, &s), frames, "deframer frame count");
    let mut g = c.benchmark_group("deframe");
    g.throughput(Throughput::Bytes(s.len() as u64));
    g.sample_size(30);
    note("deframe/1MiB", frames, s.len() as u64);
    g.bench_function("1MiB", |b| b.iter(|| deframe(&mut d, black_box(&s))));
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
    common::summary(
        since,
        &[
            ("realtime/decode/gb32960-core", "realtime/decode/gbt32960_parser"),
            ("realtime/decode+walk/gb32960-core", "realtime/decode/gbt32960_parser"),
            ("login/decode/gb32960-core", "login/decode/gbt32960_parser"),
        ],
    );
}
