//! The wall clock as the firmware knows it: Unix seconds at a monotonic instant, set from the
//! board's clock (RTC, GNSS) or the platform's time calibration. Certificate validity checks
//! (TLS) read it; the T-Box machine keeps its own copy for frame times.

use core::cell::Cell;

use critical_section::Mutex;
use embassy_time::Instant;

/// Unix seconds at monotonic millisecond `at`.
static WALL: Mutex<Cell<Option<(i64, u64)>>> = Mutex::new(Cell::new(None));

/// Records that it is `unix` seconds at monotonic millisecond `at_ms`.
pub fn set(unix: i64, at_ms: u64) {
    critical_section::with(|cs| WALL.borrow(cs).set(Some((unix, at_ms))));
}

/// Unix seconds now, if known.
pub fn unix_now() -> Option<i64> {
    let (unix, at) = critical_section::with(|cs| WALL.borrow(cs).get())?;
    let elapsed = Instant::now().as_millis().saturating_sub(at) / 1000;
    Some(unix + elapsed as i64)
}
