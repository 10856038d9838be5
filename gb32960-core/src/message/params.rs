//! 0x80 parameter query, its answer, and 0x81 parameter set (2016 Tables B.9-B.13; 2025 T B.5-B.9).
//!
//! Items carry no length of their own: the size of each value is fixed by its ID, except the two
//! domain names whose length comes from the item before them (0x04 → 0x05, 0x0D → 0x0E). The
//! length items count as separate items (notes §5.8.2). An ID we cannot size (reserved, or
//! user-defined 0x80-0xFE) ends the list: its value is kept as the rest of the data unit.

use crate::error::{Error, Result};
use crate::frame::Edition;
use crate::wire::{array, be_u8, offset_in, take, List, PResult, Reading, Time, Width, Writer};

/// A parameter ID (2016 Table B.12 / 2025 T B.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParamId(pub u8);

impl ParamId {
    /// 0x01 local storage period (ms; 2025: 0.001 s).
    pub const LOCAL_STORAGE_PERIOD: ParamId = ParamId(0x01);
    /// 0x02 report period under normal conditions (s).
    pub const REPORT_PERIOD: ParamId = ParamId(0x02);
    /// 0x03 report period while an alarm is active (2016: ms; 2025: s, BYTE).
    pub const ALARM_REPORT_PERIOD: ParamId = ParamId(0x03);
    /// 0x04 length of the platform domain name.
    pub const PLATFORM_DOMAIN_LEN: ParamId = ParamId(0x04);
    /// 0x05 platform domain name.
    pub const PLATFORM_DOMAIN: ParamId = ParamId(0x05);
    /// 0x06 platform port.
    pub const PLATFORM_PORT: ParamId = ParamId(0x06);
    /// 0x07 hardware version (read-only).
    pub const HARDWARE_VERSION: ParamId = ParamId(0x07);
    /// 0x08 firmware version (read-only).
    pub const FIRMWARE_VERSION: ParamId = ParamId(0x08);
    /// 0x09 heartbeat period (s).
    pub const HEARTBEAT_PERIOD: ParamId = ParamId(0x09);
    /// 0x0A terminal response timeout (s).
    pub const TERMINAL_RESPONSE_TIMEOUT: ParamId = ParamId(0x0A);
    /// 0x0B platform response timeout (s).
    pub const PLATFORM_RESPONSE_TIMEOUT: ParamId = ParamId(0x0B);
    /// 0x0C wait after three failed logins (min).
    pub const LOGIN_RETRY_INTERVAL: ParamId = ParamId(0x0C);
    /// 0x0D length of the public-platform domain name.
    pub const PUBLIC_DOMAIN_LEN: ParamId = ParamId(0x0D);
    /// 0x0E public-platform domain name.
    pub const PUBLIC_DOMAIN: ParamId = ParamId(0x0E);
    /// 0x0F public-platform port.
    pub const PUBLIC_PORT: ParamId = ParamId(0x0F);
    /// 0x10 whether sampling monitoring is active (0x01 yes, 0x02 no).
    pub const SAMPLING_MONITORING: ParamId = ParamId(0x10);

    /// A stable snake_case name, with the unit where there is one.
    pub const fn name(self, edition: Edition) -> &'static str {
        match (self.0, edition) {
            (0x01, _) => "local_storage_period_ms",
            (0x02, _) => "report_period_s",
            (0x03, Edition::V2016) => "alarm_report_period_ms",
            (0x03, Edition::V2025) => "alarm_report_period_s",
            (0x04, _) => "platform_domain_length",
            (0x05, _) => "platform_domain",
            (0x06, _) => "platform_port",
            (0x07, _) => "hardware_version",
            (0x08, _) => "firmware_version",
            (0x09, _) => "heartbeat_period_s",
            (0x0A, _) => "terminal_response_timeout_s",
            (0x0B, _) => "platform_response_timeout_s",
            (0x0C, _) => "login_retry_interval_min",
            (0x0D, _) => "public_domain_length",
            (0x0E, _) => "public_domain",
            (0x0F, _) => "public_port",
            (0x10, _) => "sampling_monitoring",
            (0x80..=0xFE, _) => "user_defined",
            _ => "reserved",
        }
    }

    /// The numeric width of this ID in `edition`, for IDs whose value is a number.
    /// (2025 narrows 0x02 and 0x03 to a BYTE; notes 2025 §7.2.)
    pub const fn width(self, edition: Edition) -> Option<Width> {
        match (self.0, edition) {
            (0x02 | 0x03, Edition::V2025) => Some(Width::Byte),
            (0x01 | 0x02 | 0x03 | 0x06 | 0x0A | 0x0B | 0x0F, _) => Some(Width::Word),
            (0x04 | 0x09 | 0x0C | 0x0D | 0x10, _) => Some(Width::Byte),
            _ => None,
        }
    }

    /// Whether the top two codes of this numeric ID are sentinels (the length items have none).
    pub const fn has_sentinels(self) -> bool {
        !matches!(self.0, 0x04 | 0x0D)
    }

    /// Whether the standard forbids setting this ID (hardware and firmware versions).
    pub const fn is_read_only(self) -> bool {
        matches!(self.0, 0x07 | 0x08)
    }
}

/// A parameter value, shaped by its ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ParamValue<'a> {
    /// A numeric value (BYTE or WORD, per [`ParamId::width`]).
    Number(u32),
    /// Bytes: a domain name (length from the preceding length item) or a 5-byte version.
    Bytes(&'a [u8]),
    /// An ID that cannot be sized: the rest of the data unit, kept raw. Always the last item.
    Unsized(&'a [u8]),
}

/// One parameter item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Param<'a> {
    /// The ID.
    pub id: ParamId,
    /// The value.
    pub value: ParamValue<'a>,
}

impl<'a> Param<'a> {
    /// A numeric parameter.
    pub const fn number(id: ParamId, value: u32) -> Self {
        Param {
            id,
            value: ParamValue::Number(value),
        }
    }

    /// A byte-string parameter (domain names, versions).
    pub const fn bytes(id: ParamId, value: &'a [u8]) -> Self {
        Param {
            id,
            value: ParamValue::Bytes(value),
        }
    }

    /// The numeric value classified by the sentinels of its width.
    pub fn reading(&self, edition: Edition) -> Option<Reading<u32>> {
        match (self.value, self.id.width(edition)) {
            (ParamValue::Number(v), Some(w)) if self.id.has_sentinels() => Some(w.classify(v)),
            (ParamValue::Number(v), Some(_)) => Some(Reading::Valid(v)),
            _ => None,
        }
    }

    /// Bytes on the wire in `edition`.
    pub fn wire_len(&self, edition: Edition) -> usize {
        1 + match self.value {
            ParamValue::Number(_) => self.id.width(edition).map_or(0, Width::size),
            ParamValue::Bytes(b) | ParamValue::Unsized(b) => b.len(),
        }
    }
}

/// Tracks the length items while walking a list, so that 0x05/0x0E can be sized.
#[derive(Debug, Clone, Copy, Default)]
struct Lengths {
    platform: Option<u8>,
    public: Option<u8>,
}

impl Lengths {
    /// Size of the value of `id`, or `None` when the ID cannot be sized here.
    fn size_of(&self, id: ParamId, edition: Edition) -> Option<usize> {
        match id.0 {
            0x05 => self.platform.map(usize::from),
            0x0E => self.public.map(usize::from),
            0x07 | 0x08 => Some(5),
            _ => id.width(edition).map(Width::size),
        }
    }

    fn note(&mut self, p: &Param<'_>) {
        match (p.id.0, p.value) {
            (0x04, ParamValue::Number(v)) => self.platform = Some(v as u8),
            (0x0D, ParamValue::Number(v)) => self.public = Some(v as u8),
            _ => {}
        }
    }
}

fn parse_item<'a>(input: &'a [u8], edition: Edition, lengths: &Lengths) -> PResult<'a, Param<'a>> {
    let (i, id) = be_u8(input)?;
    let id = ParamId(id);
    let Some(size) = lengths.size_of(id, edition) else {
        // 0x05/0x0E without their length item cannot be sized either: keep the rest raw only
        // for IDs that are unknown; a known ID in the wrong place is malformed.
        if matches!(id.0, 0x05 | 0x0E) {
            return Err(nom::Err::Error(()));
        }
        return Ok((
            &[],
            Param {
                id,
                value: ParamValue::Unsized(i),
            },
        ));
    };
    let (i, bytes) = take(size)(i)?;
    let value = match (id.0, id.width(edition)) {
        (0x05 | 0x0E | 0x07 | 0x08, _) | (_, None) => ParamValue::Bytes(bytes),
        (_, Some(w)) => ParamValue::Number(w.read(bytes)),
    };
    Ok((i, Param { id, value }))
}

/// The items of a parameter list.
#[derive(Debug, Clone, Copy)]
pub enum ParamItems<'a> {
    /// Items in a parsed frame (validated).
    Wire {
        /// Number of items.
        count: usize,
        /// Their bytes.
        bytes: &'a [u8],
        /// The edition that sizes them.
        edition: Edition,
    },
    /// Items supplied by the caller.
    Items(&'a [Param<'a>]),
}

impl<'a> ParamItems<'a> {
    /// Number of items.
    pub fn len(&self) -> usize {
        match self {
            ParamItems::Wire { count, .. } => *count,
            ParamItems::Items(i) => i.len(),
        }
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Iterates over the items.
    pub fn iter(&self) -> ParamIter<'a> {
        match *self {
            ParamItems::Wire { count, bytes, edition } => ParamIter {
                inner: IterInner::Wire {
                    left: count,
                    rest: bytes,
                    edition,
                    lengths: Lengths::default(),
                },
            },
            ParamItems::Items(items) => ParamIter {
                inner: IterInner::Items(items.iter()),
            },
        }
    }

    /// Appends the items (without the count byte) with the widths of `edition`.
    pub fn emit_items(&self, edition: Edition, w: &mut Writer<'_>) -> Result<()> {
        match self {
            ParamItems::Wire { bytes, .. } => w.bytes(bytes),
            ParamItems::Items(items) => {
                let mut lengths = Lengths::default();
                for (n, p) in items.iter().enumerate() {
                    w.u8(p.id.0)?;
                    match (p.value, lengths.size_of(p.id, edition)) {
                        (ParamValue::Unsized(b), _) if n + 1 == items.len() => w.bytes(b)?,
                        (ParamValue::Bytes(b), Some(size)) if b.len() == size && !matches!(p.id.0, 0x04 | 0x0D) => {
                            w.bytes(b)?
                        }
                        (ParamValue::Number(v), Some(_)) => match p.id.width(edition) {
                            Some(width) if v <= width.max() => width.write(w.reserve(width.size())?, v),
                            _ => {
                                return Err(Error::Unencodable {
                                    what: "parameter value",
                                })
                            }
                        },
                        _ => {
                            return Err(Error::Unencodable {
                                what: "parameter value",
                            })
                        }
                    }
                    lengths.note(p);
                }
                Ok(())
            }
        }
    }

    fn wire_len(&self, edition: Edition) -> usize {
        match self {
            ParamItems::Wire { bytes, .. } => bytes.len(),
            ParamItems::Items(items) => items.iter().map(|p| p.wire_len(edition)).sum(),
        }
    }
}

impl PartialEq for ParamItems<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ParamItems<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{} parameter(s)", self.len());
    }
}

/// Iterator over [`ParamItems`].
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    inner: IterInner<'a>,
}

#[derive(Debug, Clone)]
enum IterInner<'a> {
    Wire {
        left: usize,
        rest: &'a [u8],
        edition: Edition,
        lengths: Lengths,
    },
    Items(core::slice::Iter<'a, Param<'a>>),
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;
    fn next(&mut self) -> Option<Param<'a>> {
        match &mut self.inner {
            IterInner::Wire {
                left,
                rest,
                edition,
                lengths,
            } => {
                if *left == 0 {
                    return None;
                }
                let (r, p) = parse_item(rest, *edition, lengths).ok()?;
                lengths.note(&p);
                *rest = r;
                *left -= 1;
                Some(p)
            }
            IterInner::Items(it) => it.next().copied(),
        }
    }
}

/// 0x80 parameter query: the time and the IDs asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParamQuery<'a> {
    /// Query time.
    pub time: Time,
    /// The IDs; the count byte may be a sentinel, and then no IDs follow.
    pub ids: Reading<List<'a, u8>>,
}

impl<'a> ParamQuery<'a> {
    /// Parses the data unit.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let err = |rest: &[u8]| Error::Malformed {
            what: "parameter query",
            offset: offset_in(data, rest),
        };
        let (i, time) = array::<6>(data).map_err(|_| err(data))?;
        let (i, count) = be_u8(i).map_err(|_| err(i))?;
        let (i, ids) = match Width::Byte.classify(u32::from(count)) {
            Reading::Valid(n) => {
                let (i, l) = List::parse(n as usize, i).map_err(|_| err(i))?;
                (i, Reading::Valid(l))
            }
            Reading::Abnormal => (i, Reading::Abnormal),
            Reading::Invalid => (i, Reading::Invalid),
        };
        if !i.is_empty() {
            return Err(err(i));
        }
        Ok(ParamQuery { time: Time(time), ids })
    }

    /// Bytes on the wire.
    pub fn wire_len(&self) -> usize {
        7 + self.ids.valid().map_or(0, |l| l.len())
    }

    /// Appends the data unit.
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.time.0)?;
        match self.ids {
            Reading::Valid(l) if l.len() < 0xFE => {
                w.u8(l.len() as u8)?;
                l.emit(w)
            }
            Reading::Valid(_) => Err(Error::Unencodable {
                what: "parameter query: more than 253 IDs",
            }),
            Reading::Abnormal => w.u8(0xFE),
            Reading::Invalid => w.u8(0xFF),
        }
    }
}

/// The time and a list of parameter items: 0x81 parameter set, and the terminal's answer to 0x80.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParamList<'a> {
    /// Time of the set, or of the answer.
    pub time: Time,
    /// The items; the count byte may be a sentinel, and then no items follow.
    pub params: Reading<ParamItems<'a>>,
}

impl<'a> ParamList<'a> {
    /// Parses the data unit with the parameter widths of `edition`.
    pub fn parse(edition: Edition, data: &'a [u8]) -> Result<Self> {
        let err = |rest: &[u8]| Error::Malformed {
            what: "parameter list",
            offset: offset_in(data, rest),
        };
        let (i, time) = array::<6>(data).map_err(|_| err(data))?;
        let (items, count) = be_u8(i).map_err(|_| err(i))?;
        let params = match Width::Byte.classify(u32::from(count)) {
            Reading::Valid(n) => {
                let mut rest = items;
                let mut lengths = Lengths::default();
                for _ in 0..n {
                    let (r, p) = parse_item(rest, edition, &lengths).map_err(|_| err(rest))?;
                    lengths.note(&p);
                    rest = r;
                }
                if !rest.is_empty() {
                    return Err(err(rest));
                }
                Reading::Valid(ParamItems::Wire {
                    count: n as usize,
                    bytes: items,
                    edition,
                })
            }
            Reading::Abnormal if items.is_empty() => Reading::Abnormal,
            Reading::Invalid if items.is_empty() => Reading::Invalid,
            _ => return Err(err(items)),
        };
        Ok(ParamList {
            time: Time(time),
            params,
        })
    }

    /// Bytes on the wire in `edition` (item widths differ between editions).
    pub fn wire_len(&self, edition: Edition) -> usize {
        7 + match self.params {
            Reading::Valid(p) => p.wire_len(edition),
            _ => 0,
        }
    }

    /// Appends the data unit with the parameter widths of `edition`.
    pub fn emit(&self, edition: Edition, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self.time.0)?;
        match self.params {
            Reading::Valid(p) if p.len() < 0xFE => {
                w.u8(p.len() as u8)?;
                p.emit_items(edition, w)
            }
            Reading::Valid(_) => Err(Error::Unencodable {
                what: "parameter list: more than 253 items",
            }),
            Reading::Abnormal => w.u8(0xFE),
            Reading::Invalid => w.u8(0xFF),
        }
    }
}
