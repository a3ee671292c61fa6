//! `h2_global_cleanup` through the C API: afterwards no thread of the library is left (threads
//! named h2client-* in /proc/self/task), later calls fail with H2_E_CLOSED and nothing
//! crashes; from a callback it is refused with H2_E_WRONG_THREAD; a forked child's cleanup
//! leaves the parent's runtime alone.
//!
//! The shutdown is process-wide, so each scenario runs in a process of its own: the `*_child`
//! tests do nothing unless `H2CLIENT_CLEANUP_SCENARIO` is set, and the other tests run this
//! test binary again with it set, filtered to one of them.

mod common;

use common::capi::{cs, last_code, last_message};

use std::ffi::c_void;
use std::process::Command;
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;
use h2client::ffi::*;

const SCENARIO_ENV: &str = "H2CLIENT_CLEANUP_SCENARIO";
const PASSED: &str = "global_cleanup scenario passed";

/// Runs the test `name` of this binary in a child process with `SCENARIO_ENV` set and 3
/// worker threads, and checks that it passed.
fn run_scenario(name: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(SCENARIO_ENV, "1")
        .env("H2CLIENT_WORKER_THREADS", "3")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(PASSED),
        "{name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // The scenario's own report (thread counts), for the test log.
    for line in stdout.lines().filter(|l| l.starts_with("# ")) {
        println!("{line}");
    }
}

fn in_scenario() -> bool {
    std::env::var_os(SCENARIO_ENV).is_some()
}

/// Threads of this process named h2client-* (the runtimes' home threads and blocking-pool
/// threads).
fn library_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|c| c.starts_with("h2client-"))
        .count()
}

/// GET `path` with `client`; the status, or the error code.
fn get_status(client: *mut h2_client, path: &str) -> Result<u16, h2_result> {
    // SAFETY: client is live; req and resp are ours and freed here.
    unsafe {
        let req = h2_request_new(cs("GET").as_ptr(), cs(path).as_ptr());
        assert!(!req.is_null());
        let mut resp = null_mut();
        let rc = h2_client_do(client, req, &mut resp);
        h2_request_free(req);
        if rc != H2_OK {
            assert!(resp.is_null());
            return Err(rc);
        }
        let status = h2_response_status(resp);
        h2_response_free(resp);
        Ok(status)
    }
}

/// What `h2_global_cleanup` returned inside a completion callback.
static FROM_CALLBACK: AtomicU32 = AtomicU32::new(u32::MAX);

extern "C" fn cleanup_in_callback(_ud: *mut c_void, call: *mut h2_call, _result: h2_result) {
    FROM_CALLBACK.store(h2_global_cleanup(), Ordering::SeqCst);
    // SAFETY: the call is ours, freed once, here.
    unsafe { h2_call_free(call) };
}

/// Runs `f` in a forked child and returns its exit status (as tests/fork.rs does).
fn in_child(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `f` and leaves with _exit, never returning into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(99);
        // SAFETY: terminates the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status), "child did not exit normally");
    libc::WEXITSTATUS(status)
}

#[test]
fn cleanup_joins_threads_and_later_calls_fail() {
    run_scenario("cleanup_joins_threads_and_later_calls_fail_child");
}

#[test]
fn cleanup_joins_threads_and_later_calls_fail_child() {
    if !in_scenario() {
        return;
    }
    assert_eq!(
        library_threads(),
        0,
        "no library thread before the first client"
    );
    let s = server();
    // A host name, so that the dial's lookup runs on the blocking pool.
    let url = s.url().replace("127.0.0.1", "localhost");
    // SAFETY: the C API called as C calls it; every object is freed once.
    unsafe {
        let client = h2_client_new(cs(&url).as_ptr(), null());
        assert!(!client.is_null(), "{}", last_message());
        // h2_client_new returns once the home threads (3) and the blocking pools' first threads run.
        let started = library_threads();
        println!("# threads after h2_client_new: {started}");
        assert!(started >= 4, "{started} threads after h2_client_new");
        assert_eq!(get_status(client, "/"), Ok(200));
        let before = library_threads();
        println!("# threads after a GET to localhost: {before}");
        assert!(before >= 4, "{before}");

        // From a library thread: refused, nothing shut down.
        let req = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
        let mut call = null_mut();
        let rc = h2_client_submit_cb(
            client,
            req,
            Some(cleanup_in_callback),
            null_mut(),
            &mut call,
        );
        assert_eq!(rc, H2_OK, "{}", last_message());
        let until = Instant::now() + Duration::from_secs(10);
        while FROM_CALLBACK.load(Ordering::SeqCst) == u32::MAX {
            assert!(Instant::now() < until, "the callback never ran");
            std::thread::sleep(Duration::from_millis(5));
        }
        h2_request_free(req);
        assert_eq!(FROM_CALLBACK.load(Ordering::SeqCst), H2_E_WRONG_THREAD);
        assert_eq!(get_status(client, "/"), Ok(200), "still running");

        // A client wrongly kept alive across the cleanup, with an open connection.
        let kept = h2_client_new(cs(&s.url()).as_ptr(), null());
        assert_eq!(get_status(kept, "/"), Ok(200));

        h2_client_free(client);
        let t0 = Instant::now();
        assert_eq!(h2_global_cleanup(), H2_OK, "{}", last_message());
        println!("# h2_global_cleanup took {} ms", t0.elapsed().as_millis());
        // Joined: gone at once, not eventually.
        assert_eq!(library_threads(), 0, "threads left after h2_global_cleanup");

        // Later calls fail with H2_E_CLOSED.
        assert!(h2_client_new(cs(&s.url()).as_ptr(), null()).is_null());
        assert_eq!(last_code(), H2_E_CLOSED);
        assert!(
            last_message().contains("h2_global_cleanup"),
            "{}",
            last_message()
        );
        assert_eq!(get_status(kept, "/"), Err(H2_E_CLOSED));
        let req = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
        let mut call = null_mut();
        assert_eq!(h2_client_start(kept, req, &mut call), H2_E_CLOSED);
        assert!(call.is_null());
        let q = h2_queue_new();
        assert!(!q.is_null(), "a queue needs no runtime");
        assert_eq!(h2_client_submit(kept, req, q, 1, &mut call), H2_E_CLOSED);
        h2_queue_free(q);
        h2_request_free(req);
        h2_client_free(kept);

        // A second call does nothing.
        assert_eq!(h2_global_cleanup(), H2_OK);
        assert_eq!(library_threads(), 0);

        // A child forked after the cleanup starts a runtime of its own.
        let url2 = s.url();
        let code = in_child(move || {
            let c = h2_client_new(cs(&url2).as_ptr(), null());
            if c.is_null() || get_status(c, "/bytes/10") != Ok(200) {
                return 1;
            }
            h2_client_free(c);
            if h2_global_cleanup() != H2_OK || library_threads() != 0 {
                return 2;
            }
            0
        });
        assert_eq!(code, 0, "child forked after the cleanup");
    }
    println!("{PASSED}");
}

#[test]
fn cleanup_in_forked_child_spares_the_parent() {
    run_scenario("cleanup_in_forked_child_spares_the_parent_child");
}

#[test]
fn cleanup_in_forked_child_spares_the_parent_child() {
    if !in_scenario() {
        return;
    }
    let s = server();
    // SAFETY: the C API called as C calls it; every object is freed once.
    unsafe {
        let client = h2_client_new(cs(&s.url()).as_ptr(), null());
        assert_eq!(get_status(client, "/"), Ok(200));
        let parent_threads = library_threads();
        let code = in_child(|| {
            // The parent's runtime exists here only as memory: nothing to join.
            if h2_global_cleanup() != H2_OK {
                return 1;
            }
            if !h2_client_new(cs("http://127.0.0.1:1").as_ptr(), null()).is_null()
                || last_code() != H2_E_CLOSED
            {
                return 2;
            }
            // The parent's client in the child still says H2_E_CLOSED or H2_E_FORKED.
            match get_status(client, "/") {
                Err(H2_E_CLOSED) | Err(H2_E_FORKED) => 0,
                _ => 3,
            }
        });
        assert_eq!(code, 0);
        assert_eq!(library_threads(), parent_threads);
        assert_eq!(get_status(client, "/"), Ok(200), "the parent is unaffected");
        h2_client_free(client);
        assert_eq!(h2_global_cleanup(), H2_OK);
        assert_eq!(library_threads(), 0);
    }
    println!("{PASSED}");
}

#[test]
fn cleanup_before_any_client() {
    run_scenario("cleanup_before_any_client_child");
}

#[test]
fn cleanup_before_any_client_child() {
    if !in_scenario() {
        return;
    }
    assert_eq!(h2_global_cleanup(), H2_OK);
    // SAFETY: the C API called as C calls it.
    unsafe {
        assert!(h2_client_new(cs("http://127.0.0.1:1").as_ptr(), null()).is_null());
    }
    assert_eq!(last_code(), H2_E_CLOSED);
    assert_eq!(library_threads(), 0);
    println!("{PASSED}");
}
