//! The non-blocking use of streaming calls through the C API (issue 16): `h2_call_notify`
//! (a one-shot readiness notification posted to a completion queue), `h2_call_try_wait_headers`
//! and `h2_call_try_read` (H2_E_AGAIN while nothing is there).

mod common;

use common::capi::{c_read_all, cs, last_code};

use std::ptr::{null, null_mut};
use std::time::{Duration, Instant};

use common::*;
use h2client::ffi::*;

fn empty() -> h2_completion {
    h2_completion {
        tag: 0,
        call: null_mut(),
        result: 0,
    }
}

/// The next completion of `q`, waiting up to `ms`.
unsafe fn next(q: *mut h2_queue, ms: i32) -> Option<h2_completion> {
    let mut c = empty();
    (h2_queue_poll(q, &mut c, 1, ms) == 1).then_some(c)
}

unsafe fn start(client: *mut h2_client, path: &str) -> *mut h2_call {
    let req = h2_request_new(cs("GET").as_ptr(), cs(path).as_ptr());
    let mut call = null_mut();
    assert_eq!(h2_client_start(client, req, &mut call), H2_OK);
    h2_request_free(req);
    call
}

/// Waits for the head the non-blocking way; returns the notifications it took.
unsafe fn head(call: *mut h2_call, q: *mut h2_queue, tag: u64) -> usize {
    let mut posted = 0;
    loop {
        match h2_call_try_wait_headers(call) {
            H2_E_AGAIN => {
                assert_eq!(last_code(), H2_E_AGAIN);
                assert_eq!(h2_call_notify(call, q, tag), H2_OK);
                let c = next(q, 10_000).expect("a notification");
                assert_eq!((c.tag, c.call), (tag, call));
                posted += 1;
            }
            rc => {
                assert_eq!(rc, H2_OK);
                return posted;
            }
        }
    }
}

/// Reads the whole body the non-blocking way, in `chunk`-byte reads; returns it and the
/// notifications it took.
unsafe fn body(call: *mut h2_call, q: *mut h2_queue, tag: u64, chunk: usize) -> (Vec<u8>, usize) {
    let (mut got, mut posted) = (Vec::new(), 0);
    let mut buf = vec![0u8; chunk];
    loop {
        let mut n = 99;
        match h2_call_try_read(call, buf.as_mut_ptr(), buf.len(), &mut n) {
            H2_E_AGAIN => {
                assert_eq!(n, 0);
                assert_eq!(h2_call_notify(call, q, tag), H2_OK);
                let c = next(q, 10_000).expect("a notification");
                assert_eq!((c.tag, c.call, c.result), (tag, call, H2_OK));
                posted += 1;
            }
            H2_OK if n == 0 => return (got, posted),
            H2_OK => got.extend_from_slice(&buf[..n]),
            rc => panic!("h2_call_try_read: {rc}"),
        }
    }
}

/// Notified for the head, then for body data and the end of a body that comes slowly; the
/// data arrive intact.
#[test]
fn notified_for_head_data_and_end() {
    let s = server();
    unsafe {
        let client = h2_client_new(cs(&s.url()).as_ptr(), null());
        let q = h2_queue_new();
        let call = start(client, "/delay/100");
        assert_eq!(head(call, q, 1), 1, "one notification for the delayed head");
        assert_eq!(h2_call_status(call), 200);
        let (got, _) = body(call, q, 1, 4096);
        assert!(!got.is_empty());
        h2_call_free(call);

        // 50 bytes, 10 every 50 ms: a notification per piece (and maybe the end).
        let call = start(client, "/slow-bytes/50/10/50");
        head(call, q, 2);
        let (got, posted) = body(call, q, 2, 7);
        assert_eq!(got, pattern(50));
        assert!(
            posted >= 4,
            "{posted} notifications for 5 pieces 50 ms apart"
        );
        assert!(h2_call_is_done(call));
        assert!(next(q, 0).is_none(), "one completion per notification");
        h2_call_free(call);
        h2_queue_free(q);
        h2_client_free(client);
    }
}

/// A body far larger than the stream window arrives whole through try_read: the window is
/// reopened as it is read.
#[test]
fn large_body_through_try_read() {
    let s = server();
    unsafe {
        let cfg = h2_config_new();
        assert_eq!(h2_config_set_initial_window_size(cfg, 65_535), H2_OK);
        let client = h2_client_new(cs(&s.url()).as_ptr(), cfg);
        h2_config_free(cfg);
        let q = h2_queue_new();
        let call = start(client, "/bytes/3000000");
        head(call, q, 5);
        let (got, posted) = body(call, q, 5, 1000);
        assert!(got == pattern(3_000_000), "{} bytes", got.len());
        assert!(posted > 0);
        h2_call_free(call);
        h2_queue_free(q);
        h2_client_free(client);
    }
}

/// Armed when the call already has news: posted at once (head, data, end, failure).
#[test]
fn posted_at_once_when_already_ready() {
    let s = server();
    unsafe {
        let client = h2_client_new(cs(&s.url()).as_ptr(), null());
        let q = h2_queue_new();
        let call = start(client, "/bytes/100");
        assert_eq!(h2_call_wait(call), H2_OK);
        // Before taking the head: posted for the head.
        assert_eq!(h2_call_notify(call, q, 9), H2_OK);
        let c = next(q, 0).expect("posted at once");
        assert_eq!((c.tag, c.call, c.result), (9, call, H2_OK));
        assert_eq!(h2_call_try_wait_headers(call), H2_OK);
        // After it: posted for the data.
        assert_eq!(h2_call_notify(call, q, 10), H2_OK);
        assert_eq!(next(q, 0).expect("posted at once").tag, 10);
        let mut buf = [0u8; 200];
        let mut n = 0;
        assert_eq!(h2_call_try_read(call, buf.as_mut_ptr(), 200, &mut n), H2_OK);
        assert_eq!(&buf[..n], &pattern(100)[..]);
        // At the end: posted for the end.
        assert_eq!(h2_call_notify(call, q, 11), H2_OK);
        assert_eq!(next(q, 0).expect("posted at once").tag, 11);
        assert_eq!(h2_call_try_read(call, buf.as_mut_ptr(), 200, &mut n), H2_OK);
        assert_eq!(n, 0);
        h2_call_free(call);

        // A failed call: posted at once with its code.
        let call = start(client, "/delay/5000");
        assert_eq!(h2_call_cancel(call), H2_OK);
        assert_eq!(h2_call_notify(call, q, 12), H2_OK);
        let c = next(q, 0).expect("posted at once");
        assert_eq!((c.tag, c.result), (12, H2_E_CANCELED));
        assert_eq!(h2_call_try_wait_headers(call), H2_E_CANCELED);
        h2_call_free(call);
        h2_queue_free(q);
        h2_client_free(client);
    }
}

/// A failure while armed is posted with its code: a cancel from another thread, the body
/// idle timeout of a server that stalls mid-body.
#[test]
fn posted_for_a_failure() {
    let s = server();
    unsafe {
        let cfg = h2_config_new();
        assert_eq!(h2_config_set_body_idle_timeout_ms(cfg, 150), H2_OK);
        let client = h2_client_new(cs(&s.url()).as_ptr(), cfg);
        h2_config_free(cfg);
        let q = h2_queue_new();
        let call = start(client, "/delay/5000");
        assert_eq!(h2_call_try_wait_headers(call), H2_E_AGAIN);
        assert_eq!(h2_call_notify(call, q, 3), H2_OK);
        let addr = call as usize;
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            h2_call_cancel(addr as *mut h2_call);
        });
        let c = next(q, 5_000).expect("notified of the cancel");
        assert_eq!((c.tag, c.result), (3, H2_E_CANCELED));
        t.join().unwrap();
        h2_call_free(call);

        // 10 bytes, then nothing for 2 s: the idle timeout fails the armed read.
        let call = start(client, "/slow-bytes/1000/10/2000");
        head(call, q, 4);
        let mut buf = [0u8; 100];
        let mut got = 0;
        let started = Instant::now();
        let rc = loop {
            let mut n = 0;
            match h2_call_try_read(call, buf.as_mut_ptr(), buf.len(), &mut n) {
                H2_OK => got += n,
                H2_E_AGAIN => {
                    assert_eq!(h2_call_notify(call, q, 4), H2_OK);
                    next(q, 5_000).expect("a notification");
                }
                rc => break rc,
            }
        };
        assert_eq!(rc, H2_E_TIMEOUT);
        assert_eq!(got, 10);
        assert!(started.elapsed() < Duration::from_millis(1500));
        h2_call_free(call);
        h2_queue_free(q);
        h2_client_free(client);
    }
}

/// h2_call_free disarms: nothing is posted for a freed call, and a notification posted and
/// not yet collected is removed.
#[test]
fn nothing_posted_after_free() {
    let s = server();
    unsafe {
        let client = h2_client_new(cs(&s.url()).as_ptr(), null());
        let q = h2_queue_new();
        let fd = h2_queue_fd(q);
        // Armed, then freed (the free cancels the call, which would post).
        let call = start(client, "/delay/200");
        assert_eq!(h2_call_notify(call, q, 1), H2_OK);
        h2_call_free(call);
        std::thread::sleep(Duration::from_millis(400));
        assert!(next(q, 0).is_none(), "posted for a freed call");

        // Posted, not collected, then freed.
        let call = start(client, "/bytes/10");
        assert_eq!(h2_call_wait(call), H2_OK);
        assert_eq!(h2_call_notify(call, q, 2), H2_OK);
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        assert_eq!(
            libc::poll(&mut p, 1, 0),
            1,
            "the fd is readable once posted"
        );
        h2_call_free(call);
        assert!(
            next(q, 0).is_none(),
            "the completion of a freed call stayed"
        );
        p.revents = 0;
        assert_eq!(libc::poll(&mut p, 1, 0), 0, "the fd stayed readable");
        h2_queue_free(q);
        h2_client_free(client);
    }
}

/// try_* return H2_E_AGAIN while nothing is there (and a notification is not needed for
/// that), the data once it is; they work alongside the blocking functions.
#[test]
fn try_functions_return_again_then_data() {
    let s = server();
    unsafe {
        let client = h2_client_new(cs(&s.url()).as_ptr(), null());
        let call = start(client, "/slow-bytes/1000/10/2000");
        let mut buf = [0u8; 64];
        let mut n = 7;
        // Nothing yet: not even the head (the body cannot be read before it either).
        assert_eq!(
            h2_call_try_read(call, buf.as_mut_ptr(), 64, &mut n),
            H2_E_AGAIN
        );
        assert_eq!(n, 0);
        assert_eq!(h2_call_wait_headers(call), H2_OK);
        assert_eq!(h2_call_try_wait_headers(call), H2_OK);
        assert_eq!(h2_call_read(call, buf.as_mut_ptr(), 10, &mut n), H2_OK);
        assert_eq!(&buf[..n], &pattern(10)[..n]);
        let t0 = Instant::now();
        assert_eq!(
            h2_call_try_read(call, buf.as_mut_ptr(), 64, &mut n),
            H2_E_AGAIN
        );
        assert!(t0.elapsed() < Duration::from_millis(100), "try_read waited");
        assert_eq!(last_code(), H2_E_AGAIN);
        assert_eq!(h2_call_try_read(call, buf.as_mut_ptr(), 0, &mut n), H2_OK);
        h2_call_free(call);

        // The head of a delayed response: AGAIN until it comes.
        let call = start(client, "/delay/100");
        assert_eq!(h2_call_try_wait_headers(call), H2_E_AGAIN);
        assert_eq!(h2_call_status(call), 0);
        assert!(eventually(Duration::from_secs(5), || {
            h2_call_try_wait_headers(call) == H2_OK
        }));
        assert_eq!(h2_call_status(call), 200);
        assert_eq!(c_read_all(call, 100), b"delayed 100\n");
        h2_call_free(call);
        h2_client_free(client);
    }
}

/// A decoded body (content-encoding gzip) through try_read: the same bytes as the blocking
/// read gives.
#[test]
fn decoded_body_through_try_read() {
    let s = server();
    unsafe {
        let cfg = h2_config_new();
        assert_eq!(
            h2_config_set_accept_encoding(cfg, cs("gzip").as_ptr()),
            H2_OK
        );
        let client = h2_client_new(cs(&s.url()).as_ptr(), cfg);
        h2_config_free(cfg);
        let q = h2_queue_new();
        let path = "/encoded/gzip/300000";
        let call = start(client, path);
        assert_eq!(h2_call_wait_headers(call), H2_OK);
        assert!(h2_call_decoded(call));
        let want = c_read_all(call, 4096);
        h2_call_free(call);
        assert_eq!(want.len(), 300_000);

        let call = start(client, path);
        head(call, q, 8);
        assert!(h2_call_decoded(call));
        let (got, _) = body(call, q, 8, 1000);
        assert!(got == want);
        h2_call_free(call);
        h2_queue_free(q);
        h2_client_free(client);
    }
}

/// NULL arguments and calls the functions do not serve.
#[test]
fn arguments_are_checked() {
    let s = server();
    unsafe {
        let client = h2_client_new(cs(&s.url()).as_ptr(), null());
        let q = h2_queue_new();
        let call = start(client, "/bytes/10");
        let mut buf = [0u8; 16];
        let mut n = 5;
        assert_eq!(h2_call_notify(null_mut(), q, 1), H2_E_INVALID_ARGUMENT);
        assert_eq!(h2_call_notify(call, null_mut(), 1), H2_E_INVALID_ARGUMENT);
        assert_eq!(h2_call_try_wait_headers(null_mut()), H2_E_INVALID_ARGUMENT);
        assert_eq!(
            h2_call_try_read(null_mut(), buf.as_mut_ptr(), 16, &mut n),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(n, 0);
        assert_eq!(
            h2_call_try_read(call, null_mut(), 16, &mut n),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(
            h2_call_try_read(call, buf.as_mut_ptr(), 16, null_mut()),
            H2_E_INVALID_ARGUMENT
        );
        h2_call_free(call);

        // A submitted call has its own completion: none of these serve it.
        let req = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
        let mut sub = null_mut();
        assert_eq!(h2_client_submit(client, req, q, 77, &mut sub), H2_OK);
        h2_request_free(req);
        assert_eq!(h2_call_notify(sub, q, 1), H2_E_INVALID_ARGUMENT);
        assert_eq!(h2_call_try_wait_headers(sub), H2_E_INVALID_ARGUMENT);
        assert_eq!(
            h2_call_try_read(sub, buf.as_mut_ptr(), 16, &mut n),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(next(q, 10_000).expect("its completion").tag, 77);
        h2_call_free(sub);

        let name = std::ffi::CStr::from_ptr(h2_error_name(H2_E_AGAIN));
        assert_eq!(name.to_str().unwrap(), "H2_E_AGAIN");
        h2_queue_free(q);
        h2_client_free(client);
    }
}
