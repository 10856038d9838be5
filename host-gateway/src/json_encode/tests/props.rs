//! Property tests: generated real-time frames of both editions round-trip, and no JSON, made up
//! or mutated from a shared frame, makes the encoder panic.

use gb32960_core::frame::{Command, Edition, Header, RawFrame};
use gb32960_core::realtime::v2016::{
    Alarm, AlarmHead, Engine, Extremes, FuelCell, FuelCellHead, FuelCellTail, InfoBlock, Motor, Motors, Position,
    RessTemperatures, RessVoltage, RessVoltageHead, RessVoltages, Vehicle,
};
use gb32960_core::realtime::v2025 as v25;
use gb32960_core::signature::{Signature, SignatureAlgorithm};
use gb32960_core::wire::{FixedStr, List, Reading, Record, RecordList, Writer};
use proptest::prelude::*;
use serde_json::Value;

use super::super::realtime::temperature_records;
use super::super::{each, encode, items};
use super::{decode, physical_only, vectors};

/// Bytes of one block built from the core's types and emitted by the core.
fn emitted(b: InfoBlock<'_>) -> Vec<u8> {
    let mut buf = vec![0; b.wire_len()];
    b.emit(&mut Writer::new(&mut buf)).expect("a generated block emits");
    buf
}

fn counted_vec<T: std::fmt::Debug + Clone>(
    elem: impl Strategy<Value = T>,
    max: usize,
) -> impl Strategy<Value = Reading<Vec<T>>> {
    prop_oneof![
        6 => prop::collection::vec(elem, 0..max).prop_map(Reading::Valid),
        1 => Just(Reading::Abnormal),
        1 => Just(Reading::Invalid),
    ]
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// One information block of any 2016 type except the unsized ones, as emitted bytes.
fn sized_block() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<[u8; 20]>().prop_map(|a| emitted(InfoBlock::Vehicle(Vehicle(a)))),
        counted_vec(any::<[u8; 12]>().prop_map(Motor), 4)
            .prop_map(|m| emitted(InfoBlock::Motors(Motors { motors: items(&m) }))),
        (any::<[u8; 6]>(), counted_vec(any::<u8>(), 6), any::<[u8; 10]>()).prop_map(|(h, t, tail)| {
            emitted(InfoBlock::FuelCell(FuelCell {
                head: FuelCellHead(h),
                probe_temps: items(&t),
                tail: FuelCellTail(tail),
            }))
        }),
        any::<[u8; 5]>().prop_map(|a| emitted(InfoBlock::Engine(Engine(a)))),
        any::<[u8; 9]>().prop_map(|a| emitted(InfoBlock::Position(Position(a)))),
        any::<[u8; 14]>().prop_map(|a| emitted(InfoBlock::Extremes(Extremes(a)))),
        (any::<[u8; 5]>(), [(); 4].map(|_| counted_vec(any::<u32>(), 3))).prop_map(|(h, [a, b, c, d])| {
            emitted(InfoBlock::Alarm(Alarm {
                head: AlarmHead(h),
                ress_faults: items(&a),
                motor_faults: items(&b),
                engine_faults: items(&c),
                other_faults: items(&d),
            }))
        }),
        counted_vec((any::<[u8; 9]>(), prop::collection::vec(any::<u16>(), 0..6)), 3).prop_map(|s| {
            let records: Vec<RessVoltage<'_>> = match &s {
                Reading::Valid(v) => v
                    .iter()
                    .map(|(h, cells)| RessVoltage {
                        head: RessVoltageHead(*h),
                        cells: List::Items(cells),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            emitted(InfoBlock::RessVoltages(RessVoltages {
                subsystems: each(&s, |_| RecordList::Items(&records)),
            }))
        }),
        counted_vec((any::<u8>(), counted_vec(any::<u8>(), 6)), 3).prop_map(|s| {
            let records = temperature_records(&s);
            emitted(InfoBlock::RessTemperatures(RessTemperatures {
                subsystems: each(&s, |_| RecordList::Items(&records)),
            }))
        }),
        (0x80..=0xFEu8, bytes(8)).prop_map(|(t, d)| emitted(InfoBlock::UserDefined {
            block_type: t,
            data: &d
        })),
    ]
}

/// A real-time or reissue frame: random header and time, sized blocks, maybe an unsized last one.
fn realtime_frame() -> impl Strategy<Value = Vec<u8>> {
    let unsized_type = prop_oneof![Just(0u8), 0x0Au8..=0x7F, Just(0xFF)];
    (
        prop_oneof![Just(Command::REALTIME), Just(Command::REISSUE)],
        any::<[u8; 17]>(),
        any::<[u8; 6]>(),
        prop::collection::vec(sized_block(), 0..7),
        prop::option::of((unsized_type, bytes(6))),
    )
        .prop_map(|(command, vin, time, blocks, last)| {
            let mut data = time.to_vec();
            blocks.iter().for_each(|b| data.extend_from_slice(b));
            if let Some((t, d)) = last {
                data.extend_from_slice(&emitted(InfoBlock::Unsized {
                    block_type: t,
                    data: &d,
                }));
            }
            let header = Header::command(Edition::V2016, command, FixedStr(vin));
            let raw = RawFrame { header, data: &data };
            let mut out = vec![0; raw.wire_len()];
            raw.emit(&mut out).expect("a generated frame emits");
            out
        })
}

/// Bytes of one 2025 block built from the core's types and emitted by the core.
fn emitted_2025(b: v25::InfoBlock<'_>) -> Vec<u8> {
    let mut buf = vec![0; b.wire_len()];
    b.emit(&mut Writer::new(&mut buf)).expect("a generated block emits");
    buf
}

/// One 2025 information block of any type except the unsized ones, as emitted bytes.
fn sized_block_2025() -> impl Strategy<Value = Vec<u8>> {
    use v25::InfoBlock as B;
    let fixed = prop_oneof![
        any::<[u8; 18]>().prop_map(|a| emitted_2025(B::Vehicle(v25::Vehicle(a)))),
        counted_vec(any::<[u8; 10]>().prop_map(v25::Motor), 4)
            .prop_map(|m| emitted_2025(B::Motors(v25::Motors { motors: items(&m) }))),
        any::<[u8; 12]>().prop_map(|a| emitted_2025(B::FuelCell(v25::FuelCellHydrogen(a)))),
        any::<[u8; 2]>().prop_map(|a| emitted_2025(B::Engine(v25::Engine(a)))),
        any::<[u8; 10]>().prop_map(|a| emitted_2025(B::Position(v25::Position(a)))),
        any::<[u8; 18]>().prop_map(|a| emitted_2025(B::SupercapExtremes(v25::SupercapExtremes(a)))),
        (0x80..=0xFEu8, bytes(8)).prop_map(|(t, d)| emitted_2025(B::UserDefined {
            block_type: t,
            data: &d
        })),
    ];
    let listed = prop_oneof![
        (
            any::<[u8; 5]>(),
            [(); 4].map(|_| counted_vec(any::<u32>(), 3)),
            counted_vec(any::<[u8; 2]>().prop_map(v25::GeneralAlarm), 3)
        )
            .prop_map(|(h, [a, b, c, d], g)| {
                emitted_2025(B::Alarm(v25::Alarm {
                    head: AlarmHead(h),
                    ress_faults: items(&a),
                    motor_faults: items(&b),
                    engine_faults: items(&c),
                    other_faults: items(&d),
                    general_alarms: items(&g),
                }))
            }),
        counted_vec((any::<[u8; 5]>(), counted_vec(any::<u16>(), 6)), 3).prop_map(|s| {
            let records: Vec<v25::PackVoltage<'_>> = s
                .as_ref_valid()
                .iter()
                .map(|(h, u)| v25::PackVoltage {
                    head: v25::PackVoltageHead(*h),
                    units: items(u),
                })
                .collect();
            emitted_2025(B::PackVoltages(v25::PackVoltages {
                packs: each(&s, |_| RecordList::Items(&records)),
            }))
        }),
        counted_vec((any::<u8>(), counted_vec(any::<u8>(), 6)), 3).prop_map(|s| {
            let records = temperature_records(&s);
            emitted_2025(B::Temperatures(RessTemperatures {
                subsystems: each(&s, |_| RecordList::Items(&records)),
            }))
        }),
        counted_vec((any::<[u8; 10]>(), counted_vec(any::<u8>(), 6)), 3).prop_map(|s| {
            let records: Vec<v25::Stack<'_>> = s
                .as_ref_valid()
                .iter()
                .map(|(h, t)| v25::Stack {
                    head: v25::StackHead(*h),
                    coolant_temps: items(t),
                })
                .collect();
            emitted_2025(B::Stacks(v25::Stacks {
                stacks: each(&s, |_| RecordList::Items(&records)),
            }))
        }),
        (
            any::<[u8; 5]>(),
            counted_vec(any::<u16>(), 6),
            counted_vec(any::<u8>(), 6)
        )
            .prop_map(|(h, c, t)| {
                emitted_2025(B::Supercap(v25::Supercap {
                    head: v25::SupercapHead(h),
                    cells: items(&c),
                    probe_temps: items(&t),
                }))
            }),
    ];
    prop_oneof![fixed, listed]
}

/// The valid items of a generated list, or none.
trait ValidItems<T> {
    fn as_ref_valid(&self) -> &[T];
}

impl<T> ValidItems<T> for Reading<Vec<T>> {
    fn as_ref_valid(&self) -> &[T] {
        match self {
            Reading::Valid(v) => v,
            _ => &[],
        }
    }
}

/// What may end a 2025 report: nothing, an unsized block, or the signature.
#[derive(Debug, Clone)]
enum Ending {
    Nothing,
    Unsized(u8, Vec<u8>),
    Signature(u8, Vec<u8>, Vec<u8>),
}

/// A 2025 real-time or reissue frame: random header and time, sized blocks, then maybe an
/// unsized block or the signature.
fn realtime_frame_2025() -> impl Strategy<Value = Vec<u8>> {
    let unsized_type = prop_oneof![Just(0u8), 0x09u8..=0x2F, 0x33u8..=0x7F];
    let ending = prop_oneof![
        Just(Ending::Nothing),
        (unsized_type, bytes(6)).prop_map(|(t, d)| Ending::Unsized(t, d)),
        (any::<u8>(), bytes(40), bytes(40)).prop_map(|(a, r, s)| Ending::Signature(a, r, s)),
    ];
    (
        prop_oneof![Just(Command::REALTIME), Just(Command::REISSUE)],
        any::<[u8; 17]>(),
        any::<[u8; 6]>(),
        prop::collection::vec(sized_block_2025(), 0..7),
        ending,
    )
        .prop_map(|(command, vin, time, blocks, ending)| {
            let mut data = time.to_vec();
            blocks.iter().for_each(|b| data.extend_from_slice(b));
            match ending {
                Ending::Nothing => {}
                Ending::Unsized(t, d) => data.extend_from_slice(&emitted_2025(v25::InfoBlock::Unsized {
                    block_type: t,
                    data: &d,
                })),
                Ending::Signature(a, r, s) => {
                    let sig = Signature {
                        algorithm: SignatureAlgorithm(a),
                        r: &r,
                        s: &s,
                    };
                    let mut buf = vec![0; 1 + sig.wire_len()];
                    buf[0] = v25::block_type::SIGNATURE;
                    sig.emit(&mut Writer::new(&mut buf[1..]))
                        .expect("a generated signature emits");
                    data.extend_from_slice(&buf);
                }
            }
            let header = Header::command(Edition::V2025, command, FixedStr(vin));
            let raw = RawFrame { header, data: &data };
            let mut out = vec![0; raw.wire_len()];
            raw.emit(&mut out).expect("a generated frame emits");
            out
        })
}

/// Any JSON, with strings and keys that the encoder knows, so that generated values get deep.
fn any_json() -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        Just("abnormal"),
        Just("invalid"),
        Just("2024-05-20 08:30:15"),
        Just("AABB"),
        Just(""),
        Just("2016"),
        Just("2025"),
        Just("realtime"),
        Just("vehicle"),
        Just("alarm"),
        Just("soc_low"),
        Just("0.0.0.0"),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        word.clone().prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    let key = prop_oneof![
        Just("edition"),
        Just("command"),
        Just("vin"),
        Just("body_kind"),
        Just("body"),
        Just("time"),
        Just("blocks"),
        Just("type"),
        Just("params"),
        Just("id"),
        Just("value"),
        Just("data_hex"),
        Just("motors"),
        Just("subsystems"),
        Just("raw"),
        Just("codes"),
        Just("control_id"),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// JSON pointers of every node of `v`.
fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
    out.push(at.to_owned());
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| pointers(x, &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| pointers(x, &format!("{at}/{i}"), out)),
        _ => {}
    }
}

proptest! {
    #[test]
    fn generated_realtime_frames_round_trip(frame in realtime_frame()) {
        let json = decode(&frame);
        prop_assert_eq!(hex::encode_upper(encode(&json).unwrap()), hex::encode_upper(&frame));
        let physical = physical_only(&frame);
        prop_assert_eq!(hex::encode_upper(encode(&physical).unwrap()), hex::encode_upper(&frame));
    }

    #[test]
    fn generated_2025_realtime_frames_round_trip(frame in realtime_frame_2025()) {
        let json = decode(&frame);
        prop_assert_eq!(hex::encode_upper(encode(&json).unwrap()), hex::encode_upper(&frame));
        let physical = physical_only(&frame);
        prop_assert_eq!(hex::encode_upper(encode(&physical).unwrap()), hex::encode_upper(&frame));
    }

    #[test]
    fn any_json_is_refused_or_encoded_never_a_panic(v in any_json()) {
        let _ = encode(&v);
    }

    #[test]
    fn mutated_frames_are_refused_or_encoded_never_a_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop::option::of(any_json())), 1..4),
    ) {
        let all = vectors();
        let mut v = decode(&all[pick.index(all.len())].1);
        for (at, new) in edits {
            let mut ptrs = Vec::new();
            pointers(&v, "", &mut ptrs);
            let p = &ptrs[at.index(ptrs.len())];
            match (new, p.rsplit_once('/')) {
                (Some(x), _) => *v.pointer_mut(p).expect("pointer") = x,
                (None, Some((parent, key))) => match v.pointer_mut(parent) {
                    Some(Value::Object(m)) => drop(m.remove(&key.replace("~1", "/").replace("~0", "~"))),
                    Some(Value::Array(a)) => drop(a.remove(key.parse::<usize>().expect("index"))),
                    _ => {}
                },
                (None, None) => {}
            }
        }
        if let Ok(bytes) = encode(&v) {
            // Whatever encodes is a well-formed frame.
            prop_assert!(RawFrame::parse(&bytes).is_ok());
        }
    }
}
