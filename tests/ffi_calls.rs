//! The C API of calls in flight: queues and their fd, callbacks, streaming calls, freeing
//! early, statistics.

mod common;

use common::capi::{c_read_all, cs};

use std::ffi::{c_void, CStr};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use h2client::ffi::*;

fn readable(fd: i32, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, timeout_ms) == 1 }
}

#[test]
fn queue_fd_and_poll() {
    let s = server();
    unsafe {
        let client = h2_client_new(cs(&s.url()).as_ptr(), null());
        let q = h2_queue_new();
        let fd = h2_queue_fd(q);
        assert!(fd >= 0);
        assert!(!readable(fd, 0));
        let mut calls = Vec::new();
        for i in 0..20u64 {
            let req = h2_request_new(
                cs("GET").as_ptr(),
                cs(&format!("/bytes/{}", i * 100)).as_ptr(),
            );
            let mut call = null_mut();
            assert_eq!(h2_client_submit(client, req, q, i, &mut call), H2_OK);
            assert!(!call.is_null());
            calls.push(call);
            h2_request_free(req);
        }
        let mut done = 0;
        let mut out: Vec<h2_completion> = (0..8)
            .map(|_| h2_completion {
                tag: 0,
                call: null_mut(),
                result: 99,
            })
            .collect();
        while done < 20 {
            assert!(
                readable(fd, 5000),
                "fd readable while completions are pending"
            );
            let n = h2_queue_poll(q, out.as_mut_ptr(), out.len(), 0);
            assert!(n > 0);
            for c in &out[..n] {
                assert_eq!(c.result, H2_OK);
                assert_eq!(c.call, calls[c.tag as usize]);
                let mut resp = null_mut();
                assert_eq!(h2_call_response(c.call, &mut resp), H2_OK);
                let mut len = 0;
                h2_response_body(resp, &mut len);
                assert_eq!(len as u64, c.tag * 100);
                assert_eq!(
                    h2_call_response(c.call, &mut resp),
                    H2_E_INVALID_ARGUMENT,
                    "only once"
                );
                h2_response_free(resp);
                h2_call_free(c.call);
            }
            done += n;
        }
        assert!(!readable(fd, 0), "drained: not readable");
        assert_eq!(
            h2_queue_poll(q, out.as_mut_ptr(), out.len(), 50),
            0,
            "timeout"
        );
        assert_eq!(h2_queue_poll(null_mut(), out.as_mut_ptr(), 1, 0), 0);
        assert_eq!(h2_queue_poll(q, null_mut(), 1, 0), 0);
        h2_queue_free(q);
        h2_client_free(client);
    }
}

#[test]
fn freeing_a_call_early_removes_its_completion() {
    let s = server();
    unsafe {
        let client = h2_client_new(cs(&s.url()).as_ptr(), null());
        let q = h2_queue_new();
        let req = h2_request_new(cs("GET").as_ptr(), cs("/delay/100").as_ptr());
        let mut call = null_mut();
        assert_eq!(h2_client_submit(client, req, q, 1, &mut call), H2_OK);
        h2_call_free(call); // cancels it
        let req2 = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
        let mut call2 = null_mut();
        assert_eq!(h2_client_submit(client, req2, q, 2, &mut call2), H2_OK);
        let mut out = [h2_completion {
            tag: 0,
            call: null_mut(),
            result: 0,
        }];
        assert_eq!(h2_queue_poll(q, out.as_mut_ptr(), 1, 5000), 1);
        assert_eq!(out[0].tag, 2, "no completion for the freed call");
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(h2_queue_poll(q, out.as_mut_ptr(), 1, 0), 0);
        h2_call_free(call2);
        h2_request_free(req);
        h2_request_free(req2);
        h2_queue_free(q);
        h2_client_free(client);
    }
}

static CB_CALLS: AtomicUsize = AtomicUsize::new(0);
static CB_WRONG_THREAD: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn on_done(ud: *mut c_void, call: *mut h2_call, result: h2_result) {
    assert_eq!(ud as usize, 0x5eed);
    // Blocking from here is refused rather than deadlocking.
    if h2_call_wait(call) == H2_E_WRONG_THREAD {
        CB_WRONG_THREAD.fetch_add(1, Ordering::SeqCst);
    }
    if result == H2_OK {
        let mut resp = null_mut();
        if h2_call_response(call, &mut resp) == H2_OK && h2_response_status(resp) == 200 {
            CB_CALLS.fetch_add(1, Ordering::SeqCst);
        }
        h2_response_free(resp);
    }
    h2_call_free(call);
}

#[test]
fn callbacks_run_on_a_library_thread() {
    let s = server();
    unsafe {
        let client = h2_client_new(cs(&s.url()).as_ptr(), null());
        for _ in 0..10 {
            let req = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
            let mut call = null_mut();
            assert_eq!(
                h2_client_submit_cb(client, req, Some(on_done), 0x5eed as *mut c_void, &mut call),
                H2_OK
            );
            h2_request_free(req);
        }
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while CB_CALLS.load(Ordering::SeqCst) < 10 && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(CB_CALLS.load(Ordering::SeqCst), 10);
        assert_eq!(CB_WRONG_THREAD.load(Ordering::SeqCst), 10);
        assert_eq!(
            h2_client_submit_cb(client, null(), Some(on_done), null_mut(), &mut null_mut()),
            H2_E_INVALID_ARGUMENT
        );
        h2_client_free(client);
    }
}

#[test]
fn streaming_call_through_the_c_api() {
    let s = server();
    unsafe {
        let client = h2_client_new(cs(&s.url()).as_ptr(), null());
        let req = h2_request_new(cs("PUT").as_ptr(), cs("/echo").as_ptr());
        assert_eq!(h2_request_set_streaming_body(req, true), H2_OK);
        let mut call = null_mut();
        assert_eq!(h2_client_start(client, req, &mut call), H2_OK);
        let mut sent = Vec::new();
        for i in 0..100u32 {
            let chunk = vec![(i % 250) as u8; 10_000];
            assert_eq!(h2_call_write(call, chunk.as_ptr(), chunk.len()), H2_OK);
            sent.extend_from_slice(&chunk);
        }
        assert_eq!(
            h2_call_add_trailer(call, cs("X-Sum").as_ptr(), cs("42").as_ptr()),
            H2_OK
        );
        assert_eq!(
            h2_call_add_trailer(call, cs("bad name").as_ptr(), cs("1").as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(h2_call_finish(call), H2_OK);
        assert_eq!(h2_call_wait_headers(call), H2_OK);
        assert_eq!(h2_call_status(call), 200);
        assert!(h2_call_header_count(call) > 0);
        let m = h2_call_header(call, cs("x-echo-method").as_ptr());
        assert_eq!(CStr::from_ptr(m).to_str().unwrap(), "PUT");
        let got = c_read_all(call, 7000);
        assert!(got == sent);
        assert_eq!(h2_call_trailer_count(call), 1);
        let t = h2_call_trailer(call, cs("x-echo-trailer-x-sum").as_ptr());
        assert_eq!(CStr::from_ptr(t).to_str().unwrap(), "42");
        let mut info = std::mem::zeroed::<h2_error_info>();
        assert_eq!(h2_call_error(call, &mut info), H2_OK);
        assert!(h2_call_is_done(call));
        let mut n = 0;
        assert_eq!(
            h2_call_read(call, null_mut(), 10, &mut n),
            H2_E_INVALID_ARGUMENT
        );
        h2_call_free(call);

        // Cancel: blocked functions return H2_E_CANCELED and the error says so.
        let req2 = h2_request_new(cs("GET").as_ptr(), cs("/delay/5000").as_ptr());
        assert_eq!(h2_client_start(client, req2, &mut call), H2_OK);
        assert_eq!(h2_call_cancel(call), H2_OK);
        assert_eq!(h2_call_wait_headers(call), H2_E_CANCELED);
        assert_eq!(h2_call_error(call, &mut info), H2_E_CANCELED);
        h2_call_free(call);

        let mut st = std::mem::zeroed::<h2_stats>();
        assert_eq!(h2_client_stats(client, &mut st), H2_OK);
        assert_eq!(st.connections_open, 1);
        assert!(st.requests_completed >= 1);
        assert!(st.requests_failed >= 1);
        assert!(st.bytes_sent > 1_000_000 && st.bytes_received > 1_000_000);
        assert_eq!(st.peer_max_concurrent_streams_max, 1000);
        assert_eq!(h2_client_stats(client, null_mut()), H2_E_INVALID_ARGUMENT);
        h2_request_free(req);
        h2_request_free(req2);
        h2_client_free(client);
        h2_call_free(null_mut());
        assert_eq!(h2_call_cancel(null_mut()), H2_E_INVALID_ARGUMENT);
        assert_eq!(h2_call_status(null()), 0);
    }
}

/// `h2_call_read_view` lends the received pieces in order, reopens the window as they are
/// taken (a 1 MiB body through a 64 KiB stream window completes), ends with a count of 0,
/// and checks its arguments.
#[test]
fn read_view_lends_the_body_in_pieces() {
    let s = server();
    unsafe {
        let cfg = h2_config_new();
        assert_eq!(h2_config_set_initial_window_size(cfg, 64 << 10), H2_OK);
        let client = h2_client_new(cs(&s.url()).as_ptr(), cfg);
        h2_config_free(cfg);
        assert!(!client.is_null());
        let len = 1usize << 20;
        let req = h2_request_new(cs("GET").as_ptr(), cs(&format!("/bytes/{len}")).as_ptr());
        let mut call = null_mut();
        assert_eq!(h2_client_start(client, req, &mut call), H2_OK);
        h2_request_free(req);
        assert_eq!(h2_call_wait_headers(call), H2_OK);
        let mut pieces: [h2_piece; 4] = std::mem::zeroed();
        let mut count = 99;
        assert_eq!(
            h2_call_read_view(call, pieces.as_mut_ptr(), 0, &mut count),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(count, 0);
        assert_eq!(
            h2_call_read_view(call, null_mut(), 4, &mut count),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(
            h2_call_read_view(call, pieces.as_mut_ptr(), 4, null_mut()),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(
            h2_call_read_view(null_mut(), pieces.as_mut_ptr(), 4, &mut count),
            H2_E_INVALID_ARGUMENT
        );
        let mut got = Vec::with_capacity(len);
        let mut reads = 0;
        loop {
            assert_eq!(
                h2_call_read_view(call, pieces.as_mut_ptr(), pieces.len(), &mut count),
                H2_OK
            );
            assert!(count <= pieces.len());
            if count == 0 {
                break;
            }
            reads += 1;
            for p in &pieces[..count] {
                assert!(p.len > 0 && !p.data.is_null());
                got.extend_from_slice(std::slice::from_raw_parts(p.data, p.len));
            }
        }
        assert_eq!(got.len(), len);
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, &b)| b == b'a' + (i % 26) as u8));
        assert!(
            reads >= len / (4 * 16384),
            "{reads} reads of at most 4 frames"
        );
        // At the end it stays at the end; a plain read agrees.
        assert_eq!(
            h2_call_read_view(call, pieces.as_mut_ptr(), 4, &mut count),
            H2_OK
        );
        assert_eq!(count, 0);
        let mut buf = [0u8; 8];
        let mut n = 1;
        assert_eq!(
            h2_call_read(call, buf.as_mut_ptr(), buf.len(), &mut n),
            H2_OK
        );
        assert_eq!(n, 0);
        h2_call_free(call);

        // A submitted call buffers its response: no view.
        let q = h2_queue_new();
        let req = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
        let mut call = null_mut();
        assert_eq!(h2_client_submit(client, req, q, 1, &mut call), H2_OK);
        assert_eq!(
            h2_call_read_view(call, pieces.as_mut_ptr(), 4, &mut count),
            H2_E_INVALID_ARGUMENT
        );
        h2_call_free(call);
        h2_queue_free(q);
        h2_request_free(req);
        h2_client_free(client);
    }
}

fn last_message() -> String {
    let mut buf = [0 as std::ffi::c_char; 512];
    // SAFETY: buf is writable for its length.
    unsafe { h2_last_error_message(buf.as_mut_ptr(), buf.len()) };
    // SAFETY: NUL-terminated by h2_last_error_message.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// Reading a call's trailers before its body ended is refused with a message that says so
/// (it used to say "response is NULL").
#[test]
fn trailers_before_the_body_ended_say_so() {
    let s = server();
    unsafe {
        let client = h2_client_new(cs(&s.url()).as_ptr(), null());
        let req = h2_request_new(cs("GET").as_ptr(), cs("/slow-bytes/10/5/300").as_ptr());
        let mut call = null_mut();
        assert_eq!(h2_client_start(client, req, &mut call), H2_OK);
        assert_eq!(h2_call_wait_headers(call), H2_OK);
        let (mut name, mut value) = (null(), null());
        let r = h2_call_trailer_at(call, 0, &mut name, null_mut(), &mut value, null_mut());
        assert_eq!(r, H2_E_INVALID_ARGUMENT);
        let msg = last_message();
        assert_eq!(
            msg,
            "h2_call_trailer_at: no trailers yet: the response body has not ended"
        );
        assert!(name.is_null() && value.is_null());
        // A NULL call is named as such.
        assert_eq!(
            h2_call_trailer_at(null(), 0, null_mut(), null_mut(), null_mut(), null_mut()),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(last_message(), "h2_call_trailer_at: c is NULL");
        h2_call_free(call);
        h2_request_free(req);
        h2_client_free(client);
    }
}

/// Misuse messages name the C function that was called, and the C function to use instead;
/// the core's own messages name none.
#[test]
fn misuse_messages_name_c_functions() {
    let s = server();
    unsafe {
        let client = h2_client_new(cs(&s.url()).as_ptr(), null());
        let req = h2_request_new(cs("GET").as_ptr(), cs("/bytes/10").as_ptr());

        // A submitted call is not read piecewise.
        let q = h2_queue_new();
        let mut call = null_mut();
        assert_eq!(h2_client_submit(client, req, q, 1, &mut call), H2_OK);
        let mut buf = [0u8; 16];
        let mut n = 0;
        assert_eq!(
            h2_call_read(call, buf.as_mut_ptr(), buf.len(), &mut n),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(
            last_message(),
            "h2_call_read: a submitted call buffers its response: take it with h2_call_response"
        );
        h2_call_free(call);
        h2_queue_free(q);

        // A started call has no buffered response.
        let mut call = null_mut();
        assert_eq!(h2_client_start(client, req, &mut call), H2_OK);
        let mut resp = null_mut();
        assert_eq!(h2_call_response(call, &mut resp), H2_E_INVALID_ARGUMENT);
        assert_eq!(
            last_message(),
            "h2_call_response: a call from h2_client_start has no buffered response: use \
             h2_call_read"
        );
        // Writing a body the request did not announce: the core's message, named.
        assert_eq!(h2_call_write(call, b"x".as_ptr(), 1), H2_E_INVALID_ARGUMENT);
        assert_eq!(
            last_message(),
            "h2_call_write: the request was not marked with a streaming body"
        );
        h2_call_free(call);

        // A streaming request is not sent whole.
        assert_eq!(h2_request_set_streaming_body(req, true), H2_OK);
        assert_eq!(h2_client_do(client, req, &mut resp), H2_E_INVALID_ARGUMENT);
        assert_eq!(
            last_message(),
            "h2_client_do: a request with a streaming body must be started with h2_client_start"
        );
        assert_eq!(
            h2_client_do(client, null(), &mut resp),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(last_message(), "h2_client_do: req is NULL");

        h2_request_free(req);
        h2_client_free(client);
    }
}
