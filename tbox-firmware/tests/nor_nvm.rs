//! The hardware boards' flash-backed parameter store ([`tbox_firmware::params::nor::NorNvm`]),
//! run over a RAM model of NOR flash that behaves like the real thing: erase sets whole blocks
//! to `0xFF`, programming needs erased bytes, and a power cut can stop a write halfway.

use embassy_futures::block_on;
use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};
use tbox_firmware::params::nor::{NorNvm, SLOT};
use tbox_firmware::params::{Nvm, NvmError};

const ERASE: usize = 1024;

#[derive(Debug)]
struct FlashError(NorFlashErrorKind);

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        self.0
    }
}

/// NOR flash in RAM, with erase counters and a programmable power cut.
struct RamFlash {
    mem: Vec<u8>,
    erases: Vec<u32>,
    /// Bytes the next write programs before the "power" goes.
    cut_after: Option<usize>,
    /// Worn out: writes and erases report success and change nothing.
    stuck: bool,
}

impl RamFlash {
    fn new(blocks: usize) -> Self {
        RamFlash {
            mem: vec![0xFF; blocks * ERASE],
            erases: vec![0; blocks],
            cut_after: None,
            stuck: false,
        }
    }
}

impl ErrorType for &mut RamFlash {
    type Error = FlashError;
}

impl ReadNorFlash for &mut RamFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        let at = offset as usize;
        let src = self
            .mem
            .get(at..at + bytes.len())
            .ok_or(FlashError(NorFlashErrorKind::OutOfBounds))?;
        bytes.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.mem.len()
    }
}

impl NorFlash for &mut RamFlash {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = ERASE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        let (from, to) = (from as usize, to as usize);
        if self.stuck {
            return Ok(());
        }
        assert!(from.is_multiple_of(ERASE) && to.is_multiple_of(ERASE) && to <= self.mem.len());
        self.mem[from..to].fill(0xFF);
        for block in from / ERASE..to / ERASE {
            self.erases[block] += 1;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        let at = offset as usize;
        assert!(at.is_multiple_of(4) && bytes.len().is_multiple_of(4), "unaligned write");
        if self.stuck {
            return Ok(());
        }
        let n = self.cut_after.take().unwrap_or(bytes.len()).min(bytes.len());
        let dest = &mut self.mem[at..at + n];
        assert!(dest.iter().all(|&b| b == 0xFF), "programming a byte that is not erased");
        dest.copy_from_slice(&bytes[..n]);
        Ok(())
    }
}

fn read(nvm: &mut impl Nvm) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let n = block_on(nvm.read(&mut buf));
    buf[..n].to_vec()
}

fn record(i: u32) -> Vec<u8> {
    // Records of varying length, like parameter records with domains of different lengths.
    let len = 20 + (i as usize * 7) % 150;
    (0..len).map(|k| (i as usize + k) as u8).collect()
}

#[test]
fn empty_flash_reads_nothing_then_keeps_the_last_record() {
    let mut flash = RamFlash::new(2);
    let mut nvm = NorNvm::new(&mut flash, 0, 2);
    assert!(read(&mut nvm).is_empty());
    block_on(nvm.write(b"first")).unwrap();
    assert_eq!(read(&mut nvm), b"first");
    block_on(nvm.write(b"second")).unwrap();
    assert_eq!(read(&mut nvm), b"second");
}

#[test]
fn writes_go_round_the_blocks_and_wear_them_evenly() {
    let per_block = (ERASE / SLOT) as u32;
    let mut flash = RamFlash::new(3);
    {
        let mut nvm = NorNvm::new(&mut flash, 0, 3);
        for i in 0..per_block * 3 * 4 {
            block_on(nvm.write(&record(i))).unwrap();
            assert_eq!(read(&mut nvm), record(i), "after write {i}");
        }
    }
    // Four rounds of three blocks: each erased four times (the first on entering it).
    assert_eq!(flash.erases, vec![4, 4, 4]);
}

#[test]
fn a_torn_write_keeps_the_previous_record() {
    let mut flash = RamFlash::new(2);
    let per_block = (ERASE / SLOT) as u32;
    // A record long enough that every cut below lands before its last byte (the padding after
    // a record is erased-state already, so a cut there would not tear anything).
    let torn = vec![0x42; SLOT - 24];
    for cut in [0, 8, 16, SLOT / 2, SLOT - 28] {
        for i in 0..per_block + 1 {
            block_on(NorNvm::new(&mut flash, 0, 2).write(&record(i))).unwrap();
            // Power goes during the next write, wherever it lands (also in a fresh block).
            flash.cut_after = Some(cut);
            let mut nvm = NorNvm::new(&mut flash, 0, 2);
            let _ = block_on(nvm.write(&torn));
            assert_eq!(read(&mut nvm), record(i), "cut after {cut} bytes, write {i}");
            // The next write skips the damaged slot.
            block_on(nvm.write(b"after")).unwrap();
            assert_eq!(read(&mut nvm), b"after");
        }
    }
}

#[test]
fn garbage_in_the_area_reads_as_nothing_and_is_overwritten() {
    let mut flash = RamFlash::new(2);
    flash.mem.iter_mut().enumerate().for_each(|(i, b)| *b = (i * 31) as u8);
    flash.mem[..4].copy_from_slice(b"TBNV"); // a magic without a valid record behind it
    let mut nvm = NorNvm::new(&mut flash, 0, 2);
    assert!(read(&mut nvm).is_empty());
    block_on(nvm.write(b"fresh")).unwrap();
    assert_eq!(read(&mut nvm), b"fresh");
}

#[test]
fn one_block_wraps_and_an_area_at_an_offset_stays_inside_it() {
    let per_block = (ERASE / SLOT) as u32;
    let mut flash = RamFlash::new(3);
    flash.mem[..ERASE].fill(0x5A);
    flash.mem[2 * ERASE..].fill(0xA5);
    {
        let mut nvm = NorNvm::new(&mut flash, ERASE as u32, 1);
        for i in 0..per_block * 2 + 1 {
            block_on(nvm.write(&record(i))).unwrap();
        }
        assert_eq!(read(&mut nvm), record(per_block * 2));
    }
    assert!(flash.mem[..ERASE].iter().all(|&b| b == 0x5A));
    assert!(flash.mem[2 * ERASE..].iter().all(|&b| b == 0xA5));
    assert_eq!(flash.erases, vec![0, 3, 0]);
}

#[test]
fn failing_flash_reports_an_error_and_never_erases_the_newest_record() {
    let mut flash = RamFlash::new(2);
    block_on(NorNvm::new(&mut flash, 0, 2).write(b"kept")).unwrap();
    flash.stuck = true;
    let mut nvm = NorNvm::new(&mut flash, 0, 2);
    assert_eq!(block_on(nvm.write(b"lost")), Err(NvmError::Device));
    assert_eq!(read(&mut nvm), b"kept");
}

#[test]
fn a_record_larger_than_a_slot_is_refused() {
    let mut flash = RamFlash::new(1);
    let mut nvm = NorNvm::new(&mut flash, 0, 1);
    assert_eq!(block_on(nvm.write(&[0; SLOT])), Err(NvmError::TooLarge));
}

#[test]
fn parameters_round_trip_through_flash() {
    use gb32960_core::session::params::Parameters;
    use gb32960_core::Edition;
    let mut p = Parameters::defaults(Edition::V2016);
    p.report_period_s = 5;
    p.platform_domain = heapless::Vec::from_slice(b"gateway.example").unwrap();
    let mut flash = RamFlash::new(2);
    let mut nvm = NorNvm::new(&mut flash, 0, 2);
    block_on(async {
        assert_eq!(tbox_firmware::params::load(&mut nvm).await, None);
        tbox_firmware::params::save(&mut nvm, &p).await.unwrap();
        assert_eq!(tbox_firmware::params::load(&mut nvm).await, Some(p));
    });
}
