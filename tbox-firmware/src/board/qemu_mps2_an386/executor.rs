//! A thread-mode executor that sleeps with WFI.
//!
//! embassy's cortex-m executor sleeps with WFE, which QEMU emulates as a busy spin: a host core
//! burns and `-icount sleep=off` cannot warp time. WFI halts the emulated core until an
//! interrupt, so QEMU idles and jumps its virtual clock to the next timer.

use core::sync::atomic::{AtomicBool, Ordering};

use embassy_executor::{raw, Spawner};
use static_cell::StaticCell;

/// Set by the pender when a task was woken; cleared before deciding to sleep.
static WORK: AtomicBool = AtomicBool::new(true);

/// Called by embassy when a task becomes ready (from a task or an interrupt handler).
// SAFETY (export_name): the one `__pender` of the program (no embassy platform feature is on),
// with the signature embassy-executor's raw executor declares.
#[unsafe(export_name = "__pender")]
fn pender(_context: *mut ()) {
    WORK.store(true, Ordering::Release);
}

/// Spawns the first tasks with `init`, then polls forever, sleeping whenever nothing is ready.
pub fn run(init: impl FnOnce(Spawner)) -> ! {
    static EXECUTOR: StaticCell<raw::Executor> = StaticCell::new();
    let executor: &'static raw::Executor = EXECUTOR.init(raw::Executor::new(core::ptr::null_mut()));
    init(executor.spawner());
    loop {
        // SAFETY: `poll` is only ever called here, in thread mode, never re-entrantly (the
        // pender above only sets a flag).
        unsafe { executor.poll() };
        // Interrupts masked between the check and WFI: a wake-up in between leaves its
        // interrupt pending, and WFI returns at once for a pending interrupt even when masked.
        cortex_m::interrupt::free(|_| {
            if !WORK.swap(false, Ordering::AcqRel) {
                cortex_m::asm::wfi();
            }
        });
    }
}
