//! Logging: one line per event, prefixed with the uptime in milliseconds.
//!
//! The board installs a sink at start-up ([`set_sink`]): semihosting stdout on QEMU (the
//! `qemu-test` harness reads these lines), RTT or a UART on hardware. Without a sink, lines are
//! dropped. Messages use only `{}` with integers and `&str`, so that a board may later map
//! [`info!`](crate::info) onto `defmt` without touching the call sites.

use core::cell::Cell;
use core::fmt;

use critical_section::Mutex;

/// Where log lines go: called once per line, with the formatted message (no newline).
pub type Sink = fn(fmt::Arguments<'_>);

static SINK: Mutex<Cell<Option<Sink>>> = Mutex::new(Cell::new(None));

/// Installs the sink (the board does this first thing).
pub fn set_sink(sink: Sink) {
    critical_section::with(|cs| SINK.borrow(cs).set(Some(sink)));
}

/// Writes one line: `[uptime ms] message`.
pub fn write(args: fmt::Arguments<'_>) {
    if let Some(sink) = critical_section::with(|cs| SINK.borrow(cs).get()) {
        let ms = embassy_time::Instant::now().as_millis();
        sink(format_args!("[{ms:>8}] {args}"));
    }
}

/// Logs a line (`format_args!` syntax).
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => {
        $crate::log::write(core::format_args!($($arg)*))
    };
}

/// A `Display` for byte strings that are ASCII on the wire (domains, VINs): other bytes as `?`.
pub struct Ascii<'a>(pub &'a [u8]);

impl fmt::Display for Ascii<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            let c = if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            };
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_masks_what_is_not_printable() {
        assert_eq!(std::format!("{}", Ascii(b"gw.test\x00\xff")), "gw.test??");
    }
}
