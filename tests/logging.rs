//! `h2_set_log_callback`: the library's diagnostics and rustls's (through the `log` facade)
//! reach the caller at the level asked for, and nothing after logging is turned off. One
//! test, steps in order: the log sink is process-wide.

mod common;

use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use common::*;
use h2client::ffi::*;
use h2client::{Client, Config};
use h2client_testserver::TlsOptions;

static LINES: Mutex<Vec<(u32, String, String)>> = Mutex::new(Vec::new());
static ENTERED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static RELEASE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Holds the first thread that logs until RELEASE (at most 10 s).
unsafe extern "C" fn hold(_: *mut c_void, _: u32, _: *const c_char, _: *const c_char) {
    if ENTERED.swap(true, Ordering::SeqCst) {
        return;
    }
    let t = std::time::Instant::now();
    while !RELEASE.load(Ordering::SeqCst) && t.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
static CALLS_AFTER_OFF: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn collect(
    _: *mut c_void,
    level: u32,
    target: *const c_char,
    msg: *const c_char,
) {
    // SAFETY: the library passes NUL-terminated strings valid during the call.
    let (t, m) = unsafe { (CStr::from_ptr(target), CStr::from_ptr(msg)) };
    let line = (
        level,
        t.to_string_lossy().into_owned(),
        m.to_string_lossy().into_owned(),
    );
    LINES.lock().unwrap().push(line);
}

unsafe extern "C" fn count(_: *mut c_void, _: u32, _: *const c_char, _: *const c_char) {
    CALLS_AFTER_OFF.fetch_add(1, Ordering::SeqCst);
}

/// Turns logging off from inside the callback (must not deadlock).
unsafe extern "C" fn turn_off(_: *mut c_void, _: u32, _: *const c_char, _: *const c_char) {
    // SAFETY: plain C call.
    unsafe { h2_set_log_callback(H2_LOG_OFF, None, std::ptr::null_mut()) };
    CALLS_AFTER_OFF.fetch_add(1, Ordering::SeqCst);
}

fn take() -> Vec<(u32, String, String)> {
    std::mem::take(&mut *LINES.lock().unwrap())
}

fn has(lines: &[(u32, String, String)], level: u32, needle: &str) -> bool {
    lines
        .iter()
        .any(|(l, _, m)| *l == level && m.contains(needle))
}

#[test]
fn log_callback_levels_sources_and_off() {
    let tls = server_with(|o| o.tls = Some(TlsOptions::default()));
    let client = || {
        let mut cfg = Config::default();
        cfg.tls
            .set_ca_pem(tls.tls_ca_pem().unwrap().as_bytes())
            .unwrap();
        Client::new(&tls.url(), cfg).unwrap()
    };
    // SAFETY (whole test): the C API called as C calls it.
    unsafe {
        // Debug: events, the handshake, every header field, and rustls's own messages.
        assert_eq!(
            h2_set_log_callback(H2_LOG_DEBUG, Some(collect), std::ptr::null_mut()),
            H2_OK
        );
        let c = client();
        assert_eq!(get(&c, "/bytes/5").unwrap().status(), 200);
        drop(c);
        // Switched before the lines are taken: the dropped connection still logs its end
        // on the runtime for a moment, and a line the old sink delivers after the take would
        // be counted in the next phase. When the switch returns, the old sink is done.
        assert_eq!(
            h2_set_log_callback(H2_LOG_INFO, Some(collect), std::ptr::null_mut()),
            H2_OK
        );
        let lines = take();
        let dump = format!("{lines:#?}");
        assert!(
            has(&lines, H2_LOG_INFO, ": connected to 127.0.0.1:"),
            "{dump}"
        );
        assert!(
            has(&lines, H2_LOG_INFO, "TLS handshake with 127.0.0.1")
                && has(&lines, H2_LOG_INFO, "done: TLSv1.3 / TLS13_")
                && has(&lines, H2_LOG_INFO, ", ALPN h2"),
            "{dump}"
        );
        assert!(
            has(&lines, H2_LOG_DEBUG, "stream 1: > :method: GET"),
            "{dump}"
        );
        assert!(
            has(&lines, H2_LOG_DEBUG, "stream 1: > :path: /bytes/5"),
            "{dump}"
        );
        assert!(
            has(&lines, H2_LOG_DEBUG, "stream 1: < :status: 200"),
            "{dump}"
        );
        assert!(has(&lines, H2_LOG_DEBUG, "SETTINGS"), "{dump}");
        assert!(
            lines.iter().any(|(_, t, _)| t.starts_with("rustls")),
            "{dump}"
        );
        assert!(lines.iter().all(|(l, _, _)| *l <= H2_LOG_DEBUG), "{dump}");

        // Info (set above): no header fields.
        let c = client();
        get(&c, "/").unwrap();
        drop(c);
        // Off, from inside the callback: the first message turns it off; nothing after.
        // Switched before the info lines are taken, as above.
        assert_eq!(
            h2_set_log_callback(H2_LOG_TRACE, Some(turn_off), std::ptr::null_mut()),
            H2_OK
        );
        let lines = take();
        assert!(
            has(&lines, H2_LOG_INFO, ": connected to 127.0.0.1:"),
            "{lines:#?}"
        );
        assert!(
            lines.iter().all(|(l, _, _)| *l <= H2_LOG_INFO),
            "{lines:#?}"
        );

        let c = client();
        get(&c, "/").unwrap();
        get(&c, "/").unwrap();
        drop(c);
        assert_eq!(CALLS_AFTER_OFF.load(Ordering::SeqCst), 1);

        // Level 0 with a function is off too.
        assert_eq!(
            h2_set_log_callback(H2_LOG_OFF, Some(count), std::ptr::null_mut()),
            H2_OK
        );
        let c = client();
        get(&c, "/").unwrap();
        drop(c);
        assert_eq!(CALLS_AFTER_OFF.load(Ordering::SeqCst), 1);
        assert!(take().is_empty());

        // fork() while another thread is inside the callback: in the child that thread does
        // not exist, and turning logging off there must not wait for it.
        // (The client first: making its TLS configuration logs on this thread.)
        let c = client();
        assert_eq!(
            h2_set_log_callback(H2_LOG_TRACE, Some(hold), std::ptr::null_mut()),
            H2_OK
        );
        let busy = std::thread::scope(|s| {
            let h = s.spawn(|| get(&c, "/").map(|r| r.status()));
            while !ENTERED.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            let code = in_child(|| {
                // A hang is killed by the alarm and fails the test.
                libc::alarm(5);
                h2_set_log_callback(H2_LOG_OFF, None, std::ptr::null_mut());
                0
            });
            RELEASE.store(true, Ordering::SeqCst);
            assert_eq!(
                code, 0,
                "the child's h2_set_log_callback waited for the parent's thread"
            );
            h.join().unwrap()
        });
        assert_eq!(busy.unwrap(), 200);
        assert_eq!(
            h2_set_log_callback(H2_LOG_OFF, None, std::ptr::null_mut()),
            H2_OK
        );
    }
}

/// Runs `f` in a forked child; its exit status (`-1` if it did not exit normally).
unsafe fn in_child(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child runs only `f` and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = f();
        // SAFETY: ends the child without the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    }
}
