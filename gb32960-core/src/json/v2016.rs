//! The 2016 information blocks of real-time (0x02) and reissue (0x03) reports.

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

use super::{cell_v, put_fields, temp_c, Hex, Num, Physicals, Raws, RecordsOf, RecordsWith};
use crate::realtime::v2016::{self as v16, block_type, AlarmFlag, InfoBlock};
use crate::wire::{Reading, RecordList};

struct RessVoltageJson<'a>(v16::RessVoltage<'a>);

impl Serialize for RessVoltageJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        put_fields(&mut m, v16::ress::field::ALL, &self.0.head.0)?;
        let cells = Reading::Valid(self.0.cells);
        m.serialize_entry("frame_cell_count", &self.0.cells.len())?;
        m.serialize_entry("cell_voltages_v", &Physicals(&cells, cell_v))?;
        m.serialize_entry("cell_voltages_raw", &Raws(&cells))?;
        m.end()
    }
}

pub(super) struct RessTemperatureJson<'a>(pub(super) v16::RessTemperature<'a>);

impl Serialize for RessTemperatureJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("number", &self.0.number)?;
        m.serialize_entry("probe_temps_c", &Physicals(&self.0.temps, temp_c))?;
        m.serialize_entry("probe_temps_raw", &Raws(&self.0.temps))?;
        m.end()
    }
}

/// The names of the set bits of an alarm flag word; reserved bits as `bit_N`.
struct FlagNames(u32);

impl Serialize for FlagNames {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.count_ones() as usize))?;
        for bit in 0..32 {
            if self.0 & (1 << bit) != 0 {
                match AlarmFlag::name(bit) {
                    Some(n) => seq.serialize_element(n)?,
                    None => seq.serialize_element(&format_args!("bit_{bit}"))?,
                }
            }
        }
        seq.end()
    }
}

impl Serialize for InfoBlock<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.block_type();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", &t)?;
        m.serialize_entry("type_name", block_type::name(t))?;
        match self {
            InfoBlock::Vehicle(v) => {
                put_fields(&mut m, v16::vehicle::field::ALL, &v.0)?;
                let g = v.gear();
                m.serialize_entry("gear_label", g.label())?;
                m.serialize_entry("driving_force", &g.driving_force())?;
                m.serialize_entry("braking_force", &g.braking_force())?;
            }
            InfoBlock::Motors(b) => m.serialize_entry("motors", &RecordsOf(&b.motors, v16::motor::field::ALL))?,
            InfoBlock::FuelCell(b) => {
                put_fields(&mut m, v16::fuel_cell::field::HEAD, &b.head.0)?;
                m.serialize_entry("probe_temps_c", &Physicals(&b.probe_temps, temp_c))?;
                m.serialize_entry("probe_temps_raw", &Raws(&b.probe_temps))?;
                put_fields(&mut m, v16::fuel_cell::field::TAIL, &b.tail.0)?;
            }
            InfoBlock::Engine(b) => put_fields(&mut m, v16::engine::field::ALL, &b.0)?,
            InfoBlock::Position(p) => {
                put_fields(&mut m, v16::position::field::ALL, &p.0)?;
                m.serialize_entry("fix_valid", &p.fix_valid())?;
                m.serialize_entry("south", &p.south())?;
                m.serialize_entry("west", &p.west())?;
                m.serialize_entry("longitude_deg", &Num(p.longitude_deg()))?;
                m.serialize_entry("latitude_deg", &Num(p.latitude_deg()))?;
            }
            InfoBlock::Extremes(b) => put_fields(&mut m, v16::extremes::field::ALL, &b.0)?,
            InfoBlock::Alarm(a) => {
                put_fields(&mut m, v16::alarm::field::ALL, &a.head.0)?;
                m.serialize_entry("general_flags_set", &FlagNames(a.flags()))?;
                m.serialize_entry("ress_faults", &Raws(&a.ress_faults))?;
                m.serialize_entry("motor_faults", &Raws(&a.motor_faults))?;
                m.serialize_entry("engine_faults", &Raws(&a.engine_faults))?;
                m.serialize_entry("other_faults", &Raws(&a.other_faults))?;
            }
            InfoBlock::RessVoltages(b) => {
                m.serialize_entry("subsystems", &RecordsWith(&b.subsystems, RessVoltageJson))?
            }
            InfoBlock::RessTemperatures(b) => {
                m.serialize_entry("subsystems", &RecordsWith(&b.subsystems, RessTemperatureJson))?
            }
            InfoBlock::UserDefined { data, .. } | InfoBlock::Unsized { data, .. } => {
                m.serialize_entry("data_hex", &Hex(data))?
            }
        }
        m.end()
    }
}

pub(super) struct Blocks<'a>(pub(super) &'a RecordList<'a, InfoBlock<'a>>);

impl Serialize for Blocks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}
