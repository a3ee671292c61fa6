//! Shared parts of the fuzz targets: the `client_connection` input format and its checks, and
//! a counting global allocator (the memory bound of a session).

pub mod checks;
pub mod session_input;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use h2client::conn::fuzzing::{self, SessionReport};

/// The system allocator, counting live bytes and their peak.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                let now = LIVE.fetch_add(new - l.size(), Relaxed) + (new - l.size());
                PEAK.fetch_max(now, Relaxed);
            } else {
                LIVE.fetch_sub(l.size() - new, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Starts measuring: returns the live bytes now and resets the peak to them.
pub fn mem_mark() -> usize {
    let now = LIVE.load(Relaxed);
    PEAK.store(now, Relaxed);
    now
}

/// Most bytes live at once since `mem_mark` returned `mark`, above `mark`.
pub fn mem_peak_since(mark: usize) -> usize {
    PEAK.load(Relaxed).saturating_sub(mark)
}

/// Most heap a session may use above what was live before it: the read buffer and a frame
/// (64 KiB + 16 KiB), the write buffer, 4 responses with header lists of at most
/// SETTINGS_MAX_HEADER_LIST_SIZE (256 KiB) each for the head and the trailers, a 100 KiB
/// request body, the runtime; and the body bytes, which are at most the input.
pub const SESSION_HEAP_BASE: usize = 8 << 20;

/// Runs one `client_connection` input and checks everything the library promises about it.
/// Panics (so the fuzzer reports a crash) on any violation.
pub fn run_client_input(data: &[u8]) -> SessionReport {
    let (opts, server) = session_input::decode(data);
    let mark = mem_mark();
    let report = fuzzing::run_session(server, &opts);
    let peak = mem_peak_since(mark);
    checks::check_report(&opts, server, &report);
    let heap_limit = SESSION_HEAP_BASE + 4 * server.len();
    assert!(
        peak <= heap_limit,
        "session used {peak} bytes of heap (limit {heap_limit} for {} input bytes)",
        server.len()
    );
    report
}
