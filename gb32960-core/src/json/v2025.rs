//! The 2025 information blocks, the vehicle signature, activation (0x09/0x0A) and key exchange
//! (0x0B).

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

use super::v2016::RessTemperatureJson;
use super::{cell_v, put_fields, put_fixed_str, temp_c, Hex, Num, Physicals, Raws, RecordsOf, RecordsWith, Text};
use crate::frame::Edition;
use crate::message::{Activation, ActivationResponse, KeyExchange};
use crate::realtime::v2016 as v16;
use crate::realtime::v2025 as v25;
use crate::signature::Signature;
use crate::wire::{List, Reading, RecordList};

pub(super) struct SignatureJson<'a>(pub(super) Signature<'a>);

impl Serialize for SignatureJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("algorithm", &self.0.algorithm.0)?;
        m.serialize_entry("algorithm_name", self.0.algorithm.name())?;
        m.serialize_entry("r_hex", &Hex(self.0.r))?;
        m.serialize_entry("s_hex", &Hex(self.0.s))?;
        m.end()
    }
}

pub(super) fn put_activation<M: SerializeMap>(m: &mut M, a: &Activation<'_>) -> Result<(), M::Error> {
    m.serialize_entry("time", &a.time)?;
    // The chip ID is space-padded by the standard (T B.3): show it trimmed, hex when the
    // padding is anything but spaces.
    m.serialize_entry("chip_id", &Text(a.chip_id.trimmed()))?;
    let t = a.chip_id.trimmed();
    if core::str::from_utf8(t).is_err() || a.chip_id.0[t.len()..].iter().any(|&b| b != b' ') {
        m.serialize_entry("chip_id_hex", &Hex(&a.chip_id.0))?;
    }
    m.serialize_entry("public_key_hex", &Hex(a.public_key))?;
    put_fixed_str(m, "activation_vin", "activation_vin_hex", &a.vin)?;
    m.serialize_entry("signature", &SignatureJson(a.signature))
}

pub(super) fn put_activation_response<M: SerializeMap>(m: &mut M, a: &ActivationResponse) -> Result<(), M::Error> {
    m.serialize_entry("status", &a.status)?;
    m.serialize_entry("status_name", a.status_name())?;
    m.serialize_entry("info", &a.info)?;
    m.serialize_entry("info_name", a.info_name())
}

pub(super) fn put_key_exchange<M: SerializeMap>(m: &mut M, k: &KeyExchange<'_>, e: Edition) -> Result<(), M::Error> {
    m.serialize_entry("key_type", &k.key_type.0)?;
    m.serialize_entry("key_type_name", k.key_type.name(e))?;
    m.serialize_entry("key_hex", &Hex(k.key))?;
    m.serialize_entry("valid_from", &k.valid_from)?;
    m.serialize_entry("valid_until", &k.valid_until)
}

/// The names of the set bits of a 2025 alarm flag word.
struct FlagNames2025(u32);

impl Serialize for FlagNames2025 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.count_ones() as usize))?;
        for bit in 0..32usize {
            if self.0 & (1 << bit) != 0 {
                match v25::alarm::FLAG_NAMES.get(bit) {
                    Some(n) => seq.serialize_element(n)?,
                    None => seq.serialize_element(&format_args!("bit_{bit}"))?,
                }
            }
        }
        seq.end()
    }
}

struct GeneralAlarms<'a>(&'a Reading<List<'a, v25::GeneralAlarm>>);

impl Serialize for GeneralAlarms<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Entry(v25::GeneralAlarm);
        impl Serialize for Entry {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                put_fields(&mut m, v25::alarm::field::ALL, &self.0 .0)?;
                if let Some(n) = v25::alarm::FLAG_NAMES.get(usize::from(self.0 .0[0])) {
                    m.serialize_entry("bit_name", n)?;
                }
                m.end()
            }
        }
        match self.0 {
            Reading::Valid(l) => s.collect_seq(l.iter().map(Entry)),
            other => other.map(|_| ()).serialize(s),
        }
    }
}

struct PackJson<'a>(v25::PackVoltage<'a>);

impl Serialize for PackJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        put_fields(&mut m, v25::packs::pack_field::ALL, &self.0.head.0)?;
        m.serialize_entry("unit_voltages_v", &Physicals(&self.0.units, cell_v))?;
        m.serialize_entry("unit_voltages_raw", &Raws(&self.0.units))?;
        m.end()
    }
}

struct StackJson<'a>(v25::Stack<'a>);

impl Serialize for StackJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        put_fields(&mut m, v25::packs::stack_field::ALL, &self.0.head.0)?;
        m.serialize_entry("coolant_temps_c", &Physicals(&self.0.coolant_temps, temp_c))?;
        m.serialize_entry("coolant_temps_raw", &Raws(&self.0.coolant_temps))?;
        m.end()
    }
}

impl Serialize for v25::InfoBlock<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use v25::InfoBlock as B;
        let t = self.block_type();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", &t)?;
        m.serialize_entry("type_name", v25::block_type::name(t))?;
        match self {
            B::Vehicle(v) => {
                put_fields(&mut m, v25::vehicle::field::ALL, &v.0)?;
                let g = v.gear();
                m.serialize_entry("gear_valid", &!g.invalid_flag())?;
                m.serialize_entry("gear_label", g.label())?;
                m.serialize_entry("driving_force", &g.driving_force())?;
                m.serialize_entry("braking_force", &g.braking_force())?;
            }
            B::Motors(b) => m.serialize_entry("motors", &RecordsOf(&b.motors, v25::motor::field::ALL))?,
            B::FuelCell(b) => put_fields(&mut m, v25::fixed::fuel_cell_field::ALL, &b.0)?,
            B::Engine(b) => put_fields(&mut m, v25::fixed::engine_field::ALL, &b.0)?,
            B::Position(p) => {
                put_fields(&mut m, v25::fixed::position_field::ALL, &p.0)?;
                m.serialize_entry("fix_valid", &p.fix_valid())?;
                m.serialize_entry("south", &p.south())?;
                m.serialize_entry("west", &p.west())?;
                m.serialize_entry("longitude_deg", &Num(p.longitude_deg()))?;
                m.serialize_entry("latitude_deg", &Num(p.latitude_deg()))?;
            }
            B::Alarm(a) => {
                put_fields(&mut m, v16::alarm::field::ALL, &a.head.0)?;
                m.serialize_entry("general_flags_set", &FlagNames2025(a.flags()))?;
                m.serialize_entry("ress_faults", &Raws(&a.ress_faults))?;
                m.serialize_entry("motor_faults", &Raws(&a.motor_faults))?;
                m.serialize_entry("engine_faults", &Raws(&a.engine_faults))?;
                m.serialize_entry("other_faults", &Raws(&a.other_faults))?;
                m.serialize_entry("general_alarms", &GeneralAlarms(&a.general_alarms))?;
            }
            B::PackVoltages(b) => m.serialize_entry("packs", &RecordsWith(&b.packs, PackJson))?,
            B::Temperatures(b) => m.serialize_entry("packs", &RecordsWith(&b.subsystems, RessTemperatureJson))?,
            B::Stacks(b) => m.serialize_entry("stacks", &RecordsWith(&b.stacks, StackJson))?,
            B::Supercap(c) => {
                put_fields(&mut m, v25::packs::supercap_field::ALL, &c.head.0)?;
                m.serialize_entry("cell_voltages_v", &Physicals(&c.cells, cell_v))?;
                m.serialize_entry("cell_voltages_raw", &Raws(&c.cells))?;
                m.serialize_entry("probe_temps_c", &Physicals(&c.probe_temps, temp_c))?;
                m.serialize_entry("probe_temps_raw", &Raws(&c.probe_temps))?;
            }
            B::SupercapExtremes(b) => put_fields(&mut m, v25::fixed::supercap_extremes_field::ALL, &b.0)?,
            B::UserDefined { data, .. } | B::Unsized { data, .. } => m.serialize_entry("data_hex", &Hex(data))?,
        }
        m.end()
    }
}

pub(super) struct Blocks2025<'a>(pub(super) &'a RecordList<'a, v25::InfoBlock<'a>>);

impl Serialize for Blocks2025<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}
