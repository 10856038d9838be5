//! Parameters that survive a reboot: the core's [`Parameters`] as one checksummed record in a
//! board's non-volatile memory.
//!
//! A board gives an [`Nvm`] over whatever it has: [`nor::NorNvm`] over NOR flash (the hardware
//! boards), [`RamNvm`] over a RAM area (QEMU, where it survives a warm reset; tests). The record
//! format, its checksum and versioning live here once. An erased or corrupt record reads as
//! "none", and the factory parameters are used.

mod crc;
pub mod nor;

use gb32960_core::session::params::{Parameters, DOMAIN_CAPACITY};

use crc::crc32;

/// Largest encoded record: the fixed fields plus both domains at full length.
pub const RECORD_CAPACITY: usize = 64 + 2 * DOMAIN_CAPACITY;

/// Record magic and format version (bump the last byte when the layout changes).
const MAGIC: [u8; 4] = *b"GBP\x01";

/// Why the memory could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NvmError {
    /// The record does not fit the memory's area.
    TooLarge,
    /// The device reported a failure (erase or program error).
    Device,
}

/// Non-volatile memory holding one record (the parameters).
#[allow(async_fn_in_trait)] // single-threaded executors: no `Send` bound wanted
pub trait Nvm {
    /// Reads the area into `buf` and returns how many bytes were read (the record checks its
    /// own length and checksum, so reading the whole area is fine).
    async fn read(&mut self, buf: &mut [u8]) -> usize;
    /// Replaces the record.
    async fn write(&mut self, record: &[u8]) -> Result<(), NvmError>;
}

/// A RAM area standing in for flash (QEMU; tests). Where the board places the buffer decides
/// what it survives: a `.uninit` section keeps it through a warm reset.
#[derive(Debug)]
pub struct RamNvm<'a> {
    area: &'a mut [u8],
}

impl<'a> RamNvm<'a> {
    /// Uses `area` as the memory; its current content is whatever was written before (or
    /// garbage, which reads as no record).
    pub fn new(area: &'a mut [u8]) -> Self {
        RamNvm { area }
    }
}

impl Nvm for RamNvm<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.area.len());
        buf[..n].copy_from_slice(&self.area[..n]);
        n
    }

    async fn write(&mut self, record: &[u8]) -> Result<(), NvmError> {
        let area = self.area.get_mut(..record.len()).ok_or(NvmError::TooLarge)?;
        area.copy_from_slice(record);
        Ok(())
    }
}

/// Loads the parameters from `nvm`, or `None` when there is no valid record.
pub async fn load(nvm: &mut impl Nvm) -> Option<Parameters> {
    let mut buf = [0u8; RECORD_CAPACITY];
    let n = nvm.read(&mut buf).await;
    decode(&buf[..n])
}

/// Saves the parameters to `nvm`.
pub async fn save(nvm: &mut impl Nvm, p: &Parameters) -> Result<(), NvmError> {
    let mut buf = [0u8; RECORD_CAPACITY];
    let n = encode(p, &mut buf);
    nvm.write(&buf[..n]).await
}

/// Encodes a record: magic, length, the fields, CRC-32 of everything before it.
pub fn encode(p: &Parameters, out: &mut [u8; RECORD_CAPACITY]) -> usize {
    let mut w = Cursor { buf: out, pos: 0 };
    w.put(&MAGIC);
    w.put(&[0, 0]); // body length, filled in below
    w.u16(p.local_storage_period_ms);
    w.u16(p.report_period_s);
    w.u16(p.alarm_report_period);
    w.domain(&p.platform_domain);
    w.u16(p.platform_port);
    w.put(&p.hardware_version);
    w.put(&p.firmware_version);
    w.put(&[p.heartbeat_period_s]);
    w.u16(p.terminal_response_timeout_s);
    w.u16(p.platform_response_timeout_s);
    w.put(&[p.login_retry_interval_min]);
    w.domain(&p.public_domain);
    w.u16(p.public_port);
    w.put(&[p.sampling_monitoring]);
    let body = (w.pos - 6) as u16;
    w.buf[4..6].copy_from_slice(&body.to_be_bytes());
    let crc = crc32(&w.buf[..w.pos]);
    w.put(&crc.to_be_bytes());
    w.pos
}

/// Decodes a record written by [`encode`]; `None` if absent, corrupt or of another version.
pub fn decode(record: &[u8]) -> Option<Parameters> {
    if record.get(..4)? != MAGIC {
        return None;
    }
    let body = usize::from(u16::from_be_bytes([record[4], record[5]]));
    let end = 6 + body;
    let crc = record.get(end..end + 4)?;
    if crc32(&record[..end]).to_be_bytes() != crc {
        return None;
    }
    let mut r = Reader {
        buf: &record[6..end],
        pos: 0,
    };
    let p = Parameters {
        local_storage_period_ms: r.u16()?,
        report_period_s: r.u16()?,
        alarm_report_period: r.u16()?,
        platform_domain: r.domain()?,
        platform_port: r.u16()?,
        hardware_version: r.array()?,
        firmware_version: r.array()?,
        heartbeat_period_s: r.u8()?,
        terminal_response_timeout_s: r.u16()?,
        platform_response_timeout_s: r.u16()?,
        login_retry_interval_min: r.u8()?,
        public_domain: r.domain()?,
        public_port: r.u16()?,
        sampling_monitoring: r.u8()?,
    };
    (r.pos == r.buf.len()).then_some(p)
}

struct Cursor<'a> {
    buf: &'a mut [u8; RECORD_CAPACITY],
    pos: usize,
}

impl Cursor<'_> {
    // The capacity covers the largest record, so these never run out of room.
    fn put(&mut self, b: &[u8]) {
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }
    fn u16(&mut self, v: u16) {
        self.put(&v.to_be_bytes());
    }
    fn domain(&mut self, d: &[u8]) {
        self.put(&[d.len() as u8]);
        self.put(d);
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.buf.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some(b)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn domain(&mut self) -> Option<heapless::Vec<u8, DOMAIN_CAPACITY>> {
        let n = usize::from(self.u8()?);
        heapless::Vec::from_slice(self.take(n)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gb32960_core::Edition;

    fn sample() -> Parameters {
        let mut p = Parameters::defaults(Edition::V2016);
        p.report_period_s = 3;
        p.platform_domain = heapless::Vec::from_slice(b"gateway.test").unwrap();
        p.platform_port = 32960;
        p.public_domain = heapless::Vec::from_slice(&[b'x'; DOMAIN_CAPACITY]).unwrap();
        p
    }

    #[test]
    fn records_round_trip_and_reject_damage() {
        let p = sample();
        let mut buf = [0u8; RECORD_CAPACITY];
        let n = encode(&p, &mut buf);
        assert_eq!(decode(&buf[..n]), Some(p.clone()));
        // Trailing bytes of the area (erased flash) do not matter.
        let mut area = [0xFFu8; RECORD_CAPACITY + 16];
        area[..n].copy_from_slice(&buf[..n]);
        assert_eq!(decode(&area), Some(p));
        for i in 0..n {
            let mut bad = buf;
            bad[i] ^= 0x40;
            assert_eq!(decode(&bad[..n]), None, "byte {i} flipped");
        }
        assert_eq!(decode(&[0xFF; 32]), None);
    }

    #[test]
    fn ram_nvm_keeps_the_record() {
        let mut area = [0u8; RECORD_CAPACITY];
        let mut nvm = RamNvm::new(&mut area);
        let p = sample();
        embassy_futures::block_on(async {
            assert_eq!(load(&mut nvm).await, None);
            save(&mut nvm, &p).await.unwrap();
            assert_eq!(load(&mut nvm).await, Some(p));
        });
        let mut tiny = [0u8; 8];
        let mut nvm = RamNvm::new(&mut tiny);
        assert_eq!(
            embassy_futures::block_on(save(&mut nvm, &sample())),
            Err(NvmError::TooLarge)
        );
    }
}
