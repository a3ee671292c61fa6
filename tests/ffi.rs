//! The C API called the way C calls it: NULLs, bad arguments, a full round trip, error
//! details, panics kept inside.

mod common;

use common::capi::{cs, last_code, last_message};

use std::ffi::{c_char, CStr};
use std::ptr::{null, null_mut};

use common::*;
use h2client::ffi::*;

#[test]
fn null_and_invalid_arguments() {
    unsafe {
        // NULL base URL: a client for absolute URLs only.
        let any = h2_client_new(null(), null());
        assert!(!any.is_null());
        h2_client_free(any);
        assert!(h2_client_new(cs("ftp://x").as_ptr(), null()).is_null());
        assert_eq!(last_code(), H2_E_INVALID_URL);
        assert!(
            last_message().contains("unsupported scheme"),
            "{}",
            last_message()
        );
        assert!(h2_request_new(null(), cs("/").as_ptr()).is_null());
        assert!(h2_request_new(cs("GET").as_ptr(), cs("no-slash").as_ptr()).is_null());
        assert_eq!(last_code(), H2_E_INVALID_ARGUMENT);
        assert!(h2_request_new(cs("G T").as_ptr(), cs("/").as_ptr()).is_null());

        let req = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
        assert!(!req.is_null());
        assert_eq!(
            h2_request_add_header(null_mut(), cs("a").as_ptr(), cs("b").as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(
            h2_request_add_header(req, null(), cs("b").as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(
            h2_request_add_header(req, cs("a").as_ptr(), null()),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(
            h2_request_add_header(req, cs("bad name").as_ptr(), cs("v").as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(
            h2_request_add_header(req, cs("x").as_ptr(), cs("a\r\nb").as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(
            h2_request_add_header(req, cs("Connection").as_ptr(), cs("close").as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        assert!(
            last_message().contains("connection-specific"),
            "{}",
            last_message()
        );
        let big = cs(&"v".repeat(2 << 20));
        assert_eq!(
            h2_request_add_header(req, cs("x").as_ptr(), big.as_ptr()),
            H2_E_HEADERS_TOO_LARGE
        );
        assert_eq!(h2_request_set_body(req, null(), 5), H2_E_INVALID_ARGUMENT);
        assert_eq!(h2_request_set_body(req, null(), 0), H2_OK);
        assert_eq!(
            h2_request_set_body(null_mut(), null(), 0),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(
            h2_request_set_timeout_ms(null_mut(), 5),
            H2_E_INVALID_ARGUMENT
        );

        let client = h2_client_new(cs("http://127.0.0.1:9").as_ptr(), null());
        assert!(!client.is_null());
        let mut out: *mut h2_response = std::ptr::dangling_mut::<h2_response>();
        assert_eq!(
            h2_client_do(null_mut(), req, &mut out),
            H2_E_INVALID_ARGUMENT
        );
        assert!(out.is_null(), "out is cleared on failure");
        assert_eq!(
            h2_client_do(client, null(), &mut out),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(h2_client_do(client, req, null_mut()), H2_E_INVALID_ARGUMENT);

        assert_eq!(h2_response_status(null()), 0);
        assert_eq!(h2_response_header_count(null()), 0);
        assert!(h2_response_header(null(), cs("x").as_ptr()).is_null());
        let mut len = 99usize;
        assert!(h2_response_body(null(), &mut len).is_null());
        assert_eq!(len, 0);
        assert_eq!(
            h2_response_header_at(null(), 0, null_mut(), null_mut(), null_mut(), null_mut()),
            H2_E_INVALID_ARGUMENT
        );

        let cfg = h2_config_new();
        assert_eq!(
            h2_config_set_max_frame_size(cfg, 100),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(h2_config_set_max_connections(cfg, 0), H2_E_INVALID_ARGUMENT);
        assert_eq!(
            h2_config_set_initial_window_size(cfg, 1 << 31),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(
            h2_config_set_request_timeout_ms(null_mut(), 1),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(h2_config_set_max_frame_size(cfg, 1 << 20), H2_OK);
        assert_eq!(h2_last_error(null_mut()), H2_E_INVALID_ARGUMENT);

        h2_config_free(cfg);
        h2_request_free(req);
        h2_client_free(client);
        h2_config_free(null_mut());
        h2_request_free(null_mut());
        h2_response_free(null_mut());
        h2_client_free(null_mut());
        assert!(!h2_strerror(999_999).is_null());
        assert_eq!(
            CStr::from_ptr(h2_error_name(H2_E_TIMEOUT))
                .to_str()
                .unwrap(),
            "H2_E_TIMEOUT"
        );
        assert_eq!(
            CStr::from_ptr(h2_error_name(H2_OK)).to_str().unwrap(),
            "H2_OK"
        );
        assert_eq!(
            CStr::from_ptr(h2_version()).to_str().unwrap(),
            env!("CARGO_PKG_VERSION")
        );
    }
}

#[test]
fn round_trip_through_the_c_api() {
    let s = server();
    unsafe {
        let cfg = h2_config_new();
        assert_eq!(h2_config_set_request_timeout_ms(cfg, 5000), H2_OK);
        let client = h2_client_new(cs(&s.url()).as_ptr(), cfg);
        h2_config_free(cfg); // copied by h2_client_new
        assert!(!client.is_null());

        let req = h2_request_new(cs("POST").as_ptr(), cs("/echo").as_ptr());
        assert_eq!(
            h2_request_add_header(req, cs("X-Hello").as_ptr(), cs("world").as_ptr()),
            H2_OK
        );
        let body = b"some bytes\0with a NUL";
        assert_eq!(h2_request_set_body(req, body.as_ptr(), body.len()), H2_OK);
        let mut resp: *mut h2_response = null_mut();
        assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
        assert_eq!(h2_response_status(resp), 200);
        let mut len = 0usize;
        let p = h2_response_body(resp, &mut len);
        assert_eq!(std::slice::from_raw_parts(p, len), body);
        let v = h2_response_header(resp, cs("X-ECHO-H-X-HELLO").as_ptr());
        assert_eq!(CStr::from_ptr(v).to_str().unwrap(), "world");
        assert!(h2_response_header(resp, cs("absent").as_ptr()).is_null());
        let n = h2_response_header_count(resp);
        assert!(n >= 3);
        let (mut name, mut nlen, mut val, mut vlen) = (null(), 0usize, null(), 0usize);
        assert_eq!(
            h2_response_header_at(resp, 0, &mut name, &mut nlen, &mut val, &mut vlen),
            H2_OK
        );
        assert_eq!(
            CStr::from_ptr(name).to_bytes().len(),
            nlen,
            "NUL-terminated at its length"
        );
        assert_eq!(CStr::from_ptr(val).to_bytes().len(), vlen);
        assert_eq!(
            h2_response_header_at(resp, n, &mut name, null_mut(), null_mut(), null_mut()),
            H2_E_INVALID_ARGUMENT
        );
        h2_response_free(resp);

        let req2 = h2_request_new(cs("GET").as_ptr(), cs("/trailers").as_ptr());
        assert_eq!(h2_client_do(client, req2, &mut resp), H2_OK);
        assert_eq!(h2_response_trailer_count(resp), 2);
        let t = h2_response_trailer(resp, cs("x-trailer-two").as_ptr());
        assert_eq!(CStr::from_ptr(t).to_str().unwrap(), "two");
        h2_response_free(resp);

        // Empty body: a valid pointer and length 0.
        let req3 = h2_request_new(cs("GET").as_ptr(), cs("/bytes/0").as_ptr());
        assert_eq!(h2_client_do(client, req3, &mut resp), H2_OK);
        let p = h2_response_body(resp, &mut len);
        assert!(!p.is_null());
        assert_eq!(len, 0);
        h2_response_free(resp);

        h2_request_free(req);
        h2_request_free(req2);
        h2_request_free(req3);
        h2_client_free(client);
    }
}

#[test]
fn error_details_for_a_failed_request() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    unsafe {
        let client = h2_client_new(cs(&format!("http://127.0.0.1:{port}")).as_ptr(), null());
        let req = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
        let mut resp = null_mut();
        assert_eq!(h2_client_do(client, req, &mut resp), H2_E_CONNECT);
        assert!(resp.is_null());
        let mut info = std::mem::MaybeUninit::<h2_error_info>::uninit();
        assert_eq!(h2_last_error(info.as_mut_ptr()), H2_E_CONNECT);
        let info = info.assume_init();
        assert_eq!(info.processed, H2_PROCESSED_NO);
        assert_eq!(info.origin, H2_ORIGIN_TRANSPORT);
        let msg = CStr::from_ptr(info.message.as_ptr()).to_str().unwrap();
        assert!(msg.contains("refused"), "{msg}");
        // snprintf-like: the full length is returned, the copy is truncated and terminated.
        let full = h2_last_error_message(null_mut(), 0);
        assert_eq!(full, msg.len());
        let mut small = [0x7f as c_char; 8];
        assert_eq!(h2_last_error_message(small.as_mut_ptr(), small.len()), full);
        assert_eq!(small[7], 0);
        assert_eq!(
            CStr::from_ptr(small.as_ptr()).to_bytes(),
            &msg.as_bytes()[..7]
        );
        h2_request_free(req);
        h2_client_free(client);
    }
}

#[test]
fn blocking_call_from_a_runtime_thread_is_refused() {
    let s = server();
    let c = std::sync::Arc::new(client_with(&s.url(), |_| {}));
    let c2 = c.clone();
    let r = h2client::runtime::get()
        .unwrap()
        .block_on(async move { tokio::spawn(async move { get(&c2, "/").map(|_| ()) }).await })
        .unwrap();
    assert_eq!(r.unwrap_err().kind, h2client::ErrorKind::WrongThread);
    assert_eq!(get(&c, "/").unwrap().status(), 200);
}

#[test]
fn event_callback_reports_connection_and_streams() {
    use std::sync::Mutex;
    static SEEN: Mutex<Vec<(u32, String)>> = Mutex::new(Vec::new());
    unsafe extern "C" fn on_event(_ud: *mut std::ffi::c_void, ev: *const h2_event) {
        let ev = &*ev;
        let msg = CStr::from_ptr(ev.message).to_string_lossy().into_owned();
        SEEN.lock().unwrap().push((ev.kind, msg));
    }
    let s = server();
    unsafe {
        let cfg = h2_config_new();
        assert_eq!(
            h2_config_set_event_callback(cfg, Some(on_event), null_mut()),
            H2_OK
        );
        let client = h2_client_new(cs(&s.url()).as_ptr(), cfg);
        h2_config_free(cfg);
        let req = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
        let mut resp = null_mut();
        assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
        h2_response_free(resp);
        h2_request_free(req);
        h2_client_free(client);
    }
    let seen = SEEN.lock().unwrap().clone();
    let kinds: Vec<u32> = seen.iter().map(|(k, _)| *k).collect();
    for k in [
        H2_EVENT_CONNECTED,
        H2_EVENT_SETTINGS,
        H2_EVENT_STREAM_OPENED,
        H2_EVENT_STREAM_CLOSED,
        H2_EVENT_CLOSED,
    ] {
        assert!(kinds.contains(&k), "event {k} missing from {seen:?}");
    }
    assert!(
        seen.iter()
            .any(|(k, m)| *k == H2_EVENT_STREAM_OPENED && m == "GET /"),
        "{seen:?}"
    );
}
