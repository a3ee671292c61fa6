//! Test-only fault injection: makes one of a connection's tasks panic, so that tests can prove
//! that a dead task takes its connection down cleanly. Built only with the `testing` feature
//! (the tests' build); in the library users get, the checks compile to nothing.

#[cfg(feature = "testing")]
use std::sync::atomic::{AtomicU8, Ordering};

/// The code that panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Task {
    /// The reader task, at the top of its loop.
    Reader = 1,
    /// The writer task, handling its next command.
    Writer = 2,
    /// A caller's thread writing a new stream's HEADERS (plain TCP, idle connection).
    CallerWrite = 3,
}

#[cfg(feature = "testing")]
static NEXT_PANIC: AtomicU8 = AtomicU8::new(0);

#[cfg(feature = "testing")]
/// Makes the next check by `task` (in any connection of the process) panic, once.
pub fn inject_panic(task: Task) {
    NEXT_PANIC.store(task as u8, Ordering::Release);
}

#[cfg(feature = "testing")]
/// Whether an injected panic has not happened yet (no code path of its kind ran since).
pub fn injection_pending() -> bool {
    NEXT_PANIC.load(Ordering::Acquire) != 0
}

#[cfg(feature = "testing")]
/// Withdraws an injected panic that has not happened.
pub fn clear_injection() {
    NEXT_PANIC.store(0, Ordering::Release);
}

/// Panics if a panic was injected for `task`.
#[inline(always)]
pub(crate) fn maybe_panic(task: Task) {
    #[cfg(feature = "testing")]
    if NEXT_PANIC.load(Ordering::Relaxed) == task as u8
        && NEXT_PANIC
            .compare_exchange(task as u8, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    {
        panic!("injected panic in {task:?} (test hook)");
    }
    #[cfg(not(feature = "testing"))]
    let _ = task;
}
