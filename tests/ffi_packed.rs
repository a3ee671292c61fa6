//! The `*_packed` functions of the C API, called as C calls them: every header field (or
//! trailer) of a response or a streaming call in one buffer, `name\0value\0...`, the same
//! fields `*_header_at` / `*_trailer_at` give one call each. Many fields, repeated names, empty
//! values, bytes over 0x7f, trailers, decoded responses (whose removed fields must not be
//! left in the buffer), NULL arguments. And the other one-call functions for bindings:
//! `h2_response_get_parts` (every part of a response) and `h2_client_fetch` (a request
//! without fields or body made and sent).

mod common;

use std::ffi::c_char;
use std::ptr::{null, null_mut};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use common::capi::{c_read_all, cs, last_code, last_message};
use common::rawserver::{RawServer, DATA, END_HEADERS, END_STREAM, HEADERS};
use h2client::ffi::*;

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// The response head the raw server sends for `/many`: 200 fields besides these, repeated
/// names, empty values, a value with every byte HTTP/2 allows (all but NUL, CR, LF).
fn many_fields() -> Fields {
    let mut f: Fields = vec![
        (b"content-type".to_vec(), b"text/plain".to_vec()),
        (b"set-cookie".to_vec(), b"a=1; Path=/".to_vec()),
        (b"x-empty".to_vec(), Vec::new()),
        (b"set-cookie".to_vec(), b"b=2".to_vec()),
        (b"x-empty".to_vec(), Vec::new()),
        (
            b"x-bytes".to_vec(),
            (1..=255u8).filter(|b| *b != b'\r' && *b != b'\n').collect(),
        ),
        (
            b"x-utf8".to_vec(),
            "d\u{e9}j\u{e0} vu \u{2713}".as_bytes().to_vec(),
        ),
        (b"set-cookie".to_vec(), b"c=3".to_vec()),
    ];
    for i in 0..200 {
        f.push((
            format!("x-field-{i:03}").into_bytes(),
            "v".repeat(i % 7).into_bytes(),
        ));
    }
    f.push((b"x-last".to_vec(), Vec::new()));
    f
}

/// The trailers sent after `/many`'s body.
fn many_trailers() -> Fields {
    vec![
        (b"grpc-status".to_vec(), b"0".to_vec()),
        (b"x-sum".to_vec(), b"42".to_vec()),
        (b"x-empty-trailer".to_vec(), Vec::new()),
        (b"x-sum".to_vec(), b"43".to_vec()),
    ]
}

const BODY: &[u8] = b"the body";

/// A raw server answering `/many` with `many_fields`, BODY and `many_trailers` (after a
/// message on `go`, if given, between the head and the body), and anything else with a 204
/// that has no fields at all.
fn server(go: Option<mpsc::Receiver<()>>) -> RawServer {
    let go = Arc::new(Mutex::new(go));
    RawServer::start(move |_, mut c| {
        c.handshake(&[]);
        while let Some(req) = c.next_request() {
            let id = req.stream_id;
            if req.path() != "/many" {
                c.headers(id, &[(":status", "204")], true);
                continue;
            }
            let mut head: Fields = vec![(b":status".to_vec(), b"200".to_vec())];
            head.extend(many_fields());
            let block = c
                .enc
                .encode(head.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
            c.send(HEADERS, END_HEADERS, id, &block);
            if let Some(rx) = go.lock().unwrap().as_ref() {
                let _ = rx.recv_timeout(Duration::from_secs(10));
            }
            c.send(DATA, 0, id, BODY);
            let t = many_trailers();
            let block = c
                .enc
                .encode(t.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
            c.send(HEADERS, END_HEADERS | END_STREAM, id, &block);
        }
    })
}

/// What a `*_packed` function handed out: the buffer split back into fields, after checking
/// its layout (every name and value NUL-terminated, the last NUL at `len - 1`, `count`
/// fields, a non-NULL pointer even when empty).
///
/// # Safety
/// `buf` is valid for `len` bytes.
unsafe fn unpack(buf: *const u8, len: usize, count: usize) -> Fields {
    assert!(!buf.is_null(), "a packed buffer is never NULL");
    if len == 0 {
        assert_eq!(count, 0);
        return Vec::new();
    }
    // SAFETY: valid for len bytes (caller contract).
    let bytes = unsafe { std::slice::from_raw_parts(buf, len) };
    assert_eq!(bytes[len - 1], 0, "the buffer ends with a NUL");
    let parts: Vec<&[u8]> = bytes[..len - 1].split(|b| *b == 0).collect();
    assert_eq!(parts.len(), 2 * count, "{count} fields, two strings each");
    parts
        .chunks(2)
        .map(|p| {
            assert!(!p[0].is_empty(), "names are never empty");
            (p[0].to_vec(), p[1].to_vec())
        })
        .collect()
}

/// The fields as `at(i, ...)` (an `*_header_at` / `*_trailer_at` function) gives them.
unsafe fn one_by_one(
    count: usize,
    at: impl Fn(usize, *mut *const c_char, *mut usize, *mut *const c_char, *mut usize) -> h2_result,
) -> Fields {
    (0..count)
        .map(|i| {
            let (mut n, mut nl, mut v, mut vl) = (null(), 0, null(), 0);
            assert_eq!(at(i, &mut n, &mut nl, &mut v, &mut vl), H2_OK);
            // SAFETY: valid for their lengths until the object is freed.
            unsafe {
                (
                    std::slice::from_raw_parts(n.cast::<u8>(), nl).to_vec(),
                    std::slice::from_raw_parts(v.cast::<u8>(), vl).to_vec(),
                )
            }
        })
        .collect()
}

/// Calls a `*_packed` function and returns what it handed out (asserting H2_OK).
fn packed(f: impl Fn(*mut *const u8, *mut usize, *mut usize) -> h2_result) -> Fields {
    let (mut buf, mut len, mut count) = (null(), usize::MAX, usize::MAX);
    assert_eq!(f(&mut buf, &mut len, &mut count), H2_OK);
    // SAFETY: the function hands out len bytes at buf.
    unsafe { unpack(buf, len, count) }
}

#[test]
fn packed_headers_and_trailers_of_a_response() {
    let srv = server(None);
    unsafe {
        let client = h2_client_new(cs(&srv.url()).as_ptr(), null());
        let req = h2_request_new(cs("GET").as_ptr(), cs("/many").as_ptr());
        let mut resp = null_mut();
        assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
        assert_eq!(h2_response_status(resp), 200);

        let headers = packed(|b, l, c| h2_response_headers_packed(resp, b, l, c));
        assert_eq!(headers, many_fields());
        assert_eq!(headers.len(), h2_response_header_count(resp));
        let each = one_by_one(h2_response_header_count(resp), |i, a, b, c, d| {
            h2_response_header_at(resp, i, a, b, c, d)
        });
        assert_eq!(headers, each);

        let trailers = packed(|b, l, c| h2_response_trailers_packed(resp, b, l, c));
        assert_eq!(trailers, many_trailers());
        let each = one_by_one(h2_response_trailer_count(resp), |i, a, b, c, d| {
            h2_response_trailer_at(resp, i, a, b, c, d)
        });
        assert_eq!(trailers, each);

        // The response's own bytes: the same pointer every time, the fields' strings in it.
        let (mut b1, mut b2, mut len) = (null(), null(), 0);
        assert_eq!(
            h2_response_headers_packed(resp, &mut b1, &mut len, null_mut()),
            H2_OK
        );
        assert_eq!(
            h2_response_headers_packed(resp, &mut b2, null_mut(), null_mut()),
            H2_OK
        );
        assert_eq!(b1, b2);
        let first = h2_response_header(resp, cs("content-type").as_ptr());
        assert_eq!(first.cast::<u8>(), b1.add(b"content-type\0".len()));
        // Only the count: every output pointer may be NULL.
        let mut count = 0;
        assert_eq!(
            h2_response_headers_packed(resp, null_mut(), null_mut(), &mut count),
            H2_OK
        );
        assert_eq!(count, many_fields().len());
        assert_eq!(
            h2_response_trailers_packed(resp, null_mut(), null_mut(), null_mut()),
            H2_OK
        );

        let mut blen = 0;
        let body = h2_response_body(resp, &mut blen);
        assert_eq!(std::slice::from_raw_parts(body, blen), BODY);
        h2_response_free(resp);
        h2_request_free(req);
        h2_client_free(client);
    }
    srv.finish();
}

/// No fields: a count and a length of 0 and a pointer to an empty string, not NULL.
#[test]
fn packed_lists_without_fields() {
    let srv = server(None);
    unsafe {
        let client = h2_client_new(cs(&srv.url()).as_ptr(), null());
        let req = h2_request_new(cs("GET").as_ptr(), cs("/nothing").as_ptr());
        let mut resp = null_mut();
        assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
        assert_eq!(h2_response_status(resp), 204);
        for f in [h2_response_headers_packed, h2_response_trailers_packed] {
            let (mut buf, mut len, mut count) = (null(), 9, 9);
            assert_eq!(f(resp, &mut buf, &mut len, &mut count), H2_OK);
            assert!(!buf.is_null());
            assert_eq!((len, count), (0, 0));
            assert_eq!(*buf, 0, "an empty string");
        }
        h2_response_free(resp);

        let mut call = null_mut();
        assert_eq!(h2_client_start(client, req, &mut call), H2_OK);
        assert_eq!(h2_call_wait_headers(call), H2_OK);
        assert!(packed(|b, l, c| h2_call_headers_packed(call, b, l, c)).is_empty());
        assert!(c_read_all(call, 100).is_empty());
        assert!(packed(|b, l, c| h2_call_trailers_packed(call, b, l, c)).is_empty());
        h2_call_free(call);
        h2_request_free(req);
        h2_client_free(client);
    }
    srv.finish();
}

#[test]
fn packed_fields_of_a_streaming_call() {
    let (go, wait) = mpsc::channel();
    let srv = server(Some(wait));
    unsafe {
        let client = h2_client_new(cs(&srv.url()).as_ptr(), null());
        let req = h2_request_new(cs("GET").as_ptr(), cs("/many").as_ptr());
        let mut call = null_mut();
        assert_eq!(h2_client_start(client, req, &mut call), H2_OK);
        assert_eq!(h2_call_wait_headers(call), H2_OK);
        assert_eq!(h2_call_status(call), 200);
        let headers = packed(|b, l, c| h2_call_headers_packed(call, b, l, c));
        assert_eq!(headers, many_fields());
        let each = one_by_one(h2_call_header_count(call), |i, a, b, c, d| {
            h2_call_header_at(call, i, a, b, c, d)
        });
        assert_eq!(headers, each);

        // The server holds the body back: no trailers yet, and the call says so.
        let (mut buf, mut len, mut count) = (null(), 7, 7);
        assert_eq!(
            h2_call_trailers_packed(call, &mut buf, &mut len, &mut count),
            H2_E_INVALID_ARGUMENT
        );
        assert!(buf.is_null());
        assert_eq!((len, count), (0, 0));
        assert_eq!(
            last_message(),
            "h2_call_trailers_packed: no trailers yet: the response body has not ended"
        );

        go.send(()).unwrap();
        assert_eq!(c_read_all(call, 3), BODY);
        let trailers = packed(|b, l, c| h2_call_trailers_packed(call, b, l, c));
        assert_eq!(trailers, many_trailers());
        let each = one_by_one(h2_call_trailer_count(call), |i, a, b, c, d| {
            h2_call_trailer_at(call, i, a, b, c, d)
        });
        assert_eq!(trailers, each);
        // The head's buffer is still the call's after the body ended.
        assert_eq!(
            packed(|b, l, c| h2_call_headers_packed(call, b, l, c)),
            many_fields()
        );
        h2_call_free(call);
        h2_request_free(req);
        h2_client_free(client);
    }
    srv.finish();
}

/// A decoded response loses content-encoding and content-length: the packed buffer holds
/// the remaining fields only, exactly as `h2_response_header_at` gives them.
#[test]
fn packed_headers_of_a_decoded_response() {
    let s = common::server();
    unsafe {
        let cfg = h2_config_new();
        assert_eq!(h2_config_set_accept_encoding(cfg, cs("").as_ptr()), H2_OK);
        let client = h2_client_new(cs(&s.url()).as_ptr(), cfg);
        h2_config_free(cfg);
        let req = h2_request_new(cs("GET").as_ptr(), cs("/encoded/gzip/1000").as_ptr());
        let mut resp = null_mut();
        assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
        assert!(h2_response_decoded(resp));
        let headers = packed(|b, l, c| h2_response_headers_packed(resp, b, l, c));
        let each = one_by_one(h2_response_header_count(resp), |i, a, b, c, d| {
            h2_response_header_at(resp, i, a, b, c, d)
        });
        assert_eq!(headers, each);
        assert!(!headers.is_empty());
        for (n, _) in &headers {
            assert!(
                n != b"content-encoding" && n != b"content-length",
                "{:?} was removed",
                String::from_utf8_lossy(n)
            );
        }
        h2_response_free(resp);

        // A streaming call decodes too; its head is packed the same way.
        let mut call = null_mut();
        assert_eq!(h2_client_start(client, req, &mut call), H2_OK);
        assert_eq!(h2_call_wait_headers(call), H2_OK);
        assert!(h2_call_decoded(call));
        let from_call = packed(|b, l, c| h2_call_headers_packed(call, b, l, c));
        let names = |f: &Fields| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&from_call), names(&headers));
        assert_eq!(c_read_all(call, 4096).len(), 1000);
        h2_call_free(call);
        h2_request_free(req);
        h2_client_free(client);
    }
}

/// NULL objects are refused as everywhere in the C API: H2_E_INVALID_ARGUMENT, a message
/// naming the function, the outputs cleared (NULL, 0, 0).
#[test]
fn packed_functions_refuse_null() {
    type Resp = unsafe extern "C" fn(
        *const h2_response,
        *mut *const u8,
        *mut usize,
        *mut usize,
    ) -> h2_result;
    type Call =
        unsafe extern "C" fn(*const h2_call, *mut *const u8, *mut usize, *mut usize) -> h2_result;
    let on_response: [(Resp, &str); 2] = [
        (h2_response_headers_packed, "h2_response_headers_packed"),
        (h2_response_trailers_packed, "h2_response_trailers_packed"),
    ];
    let on_call: [(Call, &str); 2] = [
        (h2_call_headers_packed, "h2_call_headers_packed"),
        (h2_call_trailers_packed, "h2_call_trailers_packed"),
    ];
    let mut results = Vec::new();
    unsafe {
        for (f, name) in on_response {
            let (mut buf, mut len, mut count) = (BODY.as_ptr(), 5, 5);
            let rc = f(null(), &mut buf, &mut len, &mut count);
            results.push((name, rc, buf.is_null(), len, count, last_message()));
            assert_eq!(
                f(null(), null_mut(), null_mut(), null_mut()),
                H2_E_INVALID_ARGUMENT
            );
            assert_eq!(last_code(), H2_E_INVALID_ARGUMENT);
        }
        for (f, name) in on_call {
            let (mut buf, mut len, mut count) = (BODY.as_ptr(), 5, 5);
            let rc = f(null(), &mut buf, &mut len, &mut count);
            results.push((name, rc, buf.is_null(), len, count, last_message()));
            assert_eq!(
                f(null(), null_mut(), null_mut(), null_mut()),
                H2_E_INVALID_ARGUMENT
            );
        }
    }
    for (name, rc, null_buf, len, count, msg) in results {
        assert_eq!(rc, H2_E_INVALID_ARGUMENT, "{name}");
        assert!(null_buf, "{name} clears *buf");
        assert_eq!((len, count), (0, 0), "{name} clears the counts");
        let arg = if name.starts_with("h2_call") {
            "c"
        } else {
            "resp"
        };
        assert_eq!(msg, format!("{name}: {arg} is NULL"));
    }
}

/// `h2_response_parts` as `h2_response_get_parts` fills it, for a caller whose struct is
/// `struct_size` bytes (the rest of the returned value is zero); the result code.
unsafe fn get_parts(
    resp: *const h2_response,
    struct_size: usize,
) -> (h2_result, h2_response_parts) {
    // SAFETY: a zeroed h2_response_parts is valid (NULL pointers, zeros, false).
    let mut p: h2_response_parts = unsafe { std::mem::zeroed() };
    p.struct_size = struct_size;
    // SAFETY: p is a live, writable h2_response_parts.
    let rc = unsafe { h2_response_get_parts(resp, &mut p) };
    (rc, p)
}

/// Everything `h2_response_get_parts` hands out in one call is what the one-part functions
/// give: the same pointers (the response's own bytes), lengths and counts.
#[test]
fn parts_of_a_response_in_one_call() {
    let srv = server(None);
    unsafe {
        let client = h2_client_new(cs(&srv.url()).as_ptr(), null());
        let mut resp = null_mut();
        assert_eq!(
            h2_client_fetch(client, cs("GET").as_ptr(), cs("/many").as_ptr(), &mut resp),
            H2_OK
        );
        let (rc, p) = get_parts(resp, std::mem::size_of::<h2_response_parts>());
        assert_eq!(rc, H2_OK);
        assert_eq!(p.struct_size, std::mem::size_of::<h2_response_parts>());
        assert_eq!(p.status, 200);
        assert_eq!(
            unpack(p.headers, p.headers_len, p.header_count),
            many_fields()
        );
        assert_eq!(
            unpack(p.trailers, p.trailers_len, p.trailer_count),
            many_trailers()
        );
        let (mut hb, mut tb) = (null(), null());
        h2_response_headers_packed(resp, &mut hb, null_mut(), null_mut());
        h2_response_trailers_packed(resp, &mut tb, null_mut(), null_mut());
        assert_eq!(
            (p.headers, p.trailers),
            (hb, tb),
            "the response's own bytes"
        );
        let mut blen = 0;
        assert_eq!(h2_response_body(resp, &mut blen), p.body);
        assert_eq!(std::slice::from_raw_parts(p.body, p.body_len), BODY);
        let url = format!("{}/many", srv.url().trim_end_matches('/'));
        assert_eq!(p.effective_url, h2_response_effective_url(resp));
        assert_eq!(p.effective_url_len, url.len());
        assert_eq!(
            std::ffi::CStr::from_ptr(p.effective_url).to_str().unwrap(),
            url
        );
        assert_eq!((p.redirect_count, p.decoded), (0, false));

        // A caller built against the first version gets that much (here: all of it); one
        // whose struct is smaller than that is refused and its struct left as it was.
        let first = std::mem::offset_of!(h2_response_parts, decoded) + 1;
        let (rc, p) = get_parts(resp, first);
        assert_eq!((rc, p.struct_size, p.status), (H2_OK, first, 200));
        let (rc, p) = get_parts(resp, first - 1);
        assert_eq!(
            (rc, p.struct_size, p.status),
            (H2_E_INVALID_ARGUMENT, first - 1, 0)
        );
        assert!(last_message().contains("struct_size"), "{}", last_message());
        assert_eq!(
            h2_response_get_parts(resp, null_mut()),
            H2_E_INVALID_ARGUMENT
        );
        let (rc, p) = get_parts(null(), std::mem::size_of::<h2_response_parts>());
        assert_eq!((rc, p.status), (H2_E_INVALID_ARGUMENT, 0));
        assert_eq!(last_message(), "h2_response_get_parts: resp is NULL");

        // No fields, no body, no trailers: empty but never NULL.
        h2_response_free(resp);
        let mut resp = null_mut();
        assert_eq!(
            h2_client_fetch(client, cs("HEAD").as_ptr(), cs("/none").as_ptr(), &mut resp),
            H2_OK
        );
        let (rc, p) = get_parts(resp, std::mem::size_of::<h2_response_parts>());
        assert_eq!((rc, p.status), (H2_OK, 204));
        assert!(!p.headers.is_null() && !p.body.is_null() && !p.trailers.is_null());
        assert_eq!((p.headers_len, p.header_count, p.body_len), (0, 0, 0));
        assert_eq!((p.trailers_len, p.trailer_count), (0, 0));
        h2_response_free(resp);
        h2_client_free(client);
    }
    srv.finish();
}

/// `h2_client_fetch` takes a path for the base URL or an absolute URL for any origin, and
/// refuses what the request constructors refuse, with their codes.
#[test]
fn fetch_takes_a_path_or_a_url() {
    let srv = server(None);
    let status = |client: *mut h2_client, method: &str, target: &str| unsafe {
        let mut resp = null_mut();
        let rc = h2_client_fetch(client, cs(method).as_ptr(), cs(target).as_ptr(), &mut resp);
        let got = if rc == H2_OK {
            let s = h2_response_status(resp);
            h2_response_free(resp);
            Ok(s)
        } else {
            assert!(resp.is_null(), "*out is NULL on failure");
            Err((rc, last_message()))
        };
        got
    };
    let url = format!("{}/many", srv.url().trim_end_matches('/'));
    unsafe {
        let based = h2_client_new(cs(&srv.url()).as_ptr(), null());
        let unbased = h2_client_new(null(), null());
        assert_eq!(status(based, "GET", "/many"), Ok(200));
        assert_eq!(status(based, "GET", &url), Ok(200));
        assert_eq!(status(unbased, "GET", &url), Ok(200));
        // A path needs a base URL; a scheme the library does not speak is an invalid URL.
        let (rc, _) = status(unbased, "GET", "/many").unwrap_err();
        assert_eq!(rc, H2_E_INVALID_ARGUMENT);
        let (rc, msg) = status(based, "GET", "ftp://example.com/").unwrap_err();
        assert_eq!(rc, H2_E_INVALID_URL, "{msg}");
        let (rc, _) = status(based, "GET", "no-slash").unwrap_err();
        assert_eq!(rc, H2_E_INVALID_ARGUMENT, "not a scheme, not a path");
        let (rc, _) = status(based, "G T", "/many").unwrap_err();
        assert_eq!(rc, H2_E_INVALID_ARGUMENT, "the method is checked");

        let mut resp = BODY.as_ptr() as *mut h2_response;
        assert_eq!(
            h2_client_fetch(based, null(), cs("/").as_ptr(), &mut resp),
            H2_E_INVALID_ARGUMENT
        );
        assert!(resp.is_null());
        assert_eq!(last_message(), "h2_client_fetch: method is NULL");
        assert_eq!(
            h2_client_fetch(based, cs("GET").as_ptr(), null(), &mut resp),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(last_message(), "h2_client_fetch: target is NULL");
        assert_eq!(
            h2_client_fetch(based, cs("GET").as_ptr(), cs("/").as_ptr(), null_mut()),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(
            h2_client_fetch(null_mut(), cs("GET").as_ptr(), cs("/").as_ptr(), &mut resp),
            H2_E_INVALID_ARGUMENT
        );
        h2_client_free(based);
        h2_client_free(unbased);
    }
    srv.finish();
}

/// `h2_client_fetch_into` calls `f` with the parts, the buffer and the response it handed
/// out; returns the result code.
unsafe fn fetch_into(
    client: *mut h2_client,
    target: &str,
    buf: &mut [u8],
    cap: usize,
    f: impl FnOnce(&h2_response_parts, *mut h2_response),
) -> h2_result {
    // SAFETY: a zeroed h2_response_parts is valid (NULL pointers, zeros, false).
    let mut p: h2_response_parts = unsafe { std::mem::zeroed() };
    p.struct_size = std::mem::size_of::<h2_response_parts>();
    let mut resp = BODY.as_ptr() as *mut h2_response; // garbage: must be overwritten
    let buf_ptr = if buf.is_empty() {
        null_mut()
    } else {
        buf.as_mut_ptr()
    };
    // SAFETY: p is writable, buf holds cap bytes (callers pass cap <= buf.len()).
    let rc = unsafe {
        h2_client_fetch_into(
            client,
            cs("GET").as_ptr(),
            cs(target).as_ptr(),
            &mut p,
            buf_ptr,
            cap,
            &mut resp,
        )
    };
    if rc == H2_OK {
        f(&p, resp);
    } else {
        assert!(resp.is_null(), "*out is NULL on failure");
    }
    if !resp.is_null() {
        // SAFETY: a response handed out by the call.
        unsafe { h2_response_free(resp) };
    }
    rc
}

/// The header fields, body, trailers and URL the parts describe, checked for layout.
unsafe fn contents(p: &h2_response_parts) -> (Fields, Vec<u8>, Fields, Vec<u8>) {
    // SAFETY: the parts are valid for their lengths (caller contract).
    unsafe {
        assert!(!p.body.is_null() && !p.effective_url.is_null());
        assert_eq!(
            *p.effective_url.add(p.effective_url_len),
            0,
            "the URL's NUL"
        );
        (
            unpack(p.headers, p.headers_len, p.header_count),
            std::slice::from_raw_parts(p.body, p.body_len).to_vec(),
            unpack(p.trailers, p.trailers_len, p.trailer_count),
            std::slice::from_raw_parts(p.effective_url.cast::<u8>(), p.effective_url_len).to_vec(),
        )
    }
}

/// `h2_client_fetch_into` copies a response that fits into the caller's buffer, one part
/// after the other, and frees it: `*out` is NULL; one that does not fit by a byte is handed
/// out as `h2_client_fetch` does, the parts pointing into it. Both describe the same
/// response; bad arguments are refused before anything is sent.
#[test]
fn fetch_into_copies_what_fits() {
    let srv = server(None);
    let url = format!("{}/many", srv.url().trim_end_matches('/'));
    unsafe {
        let client = h2_client_new(cs(&srv.url()).as_ptr(), null());
        let want = (
            many_fields(),
            BODY.to_vec(),
            many_trailers(),
            url.clone().into_bytes(),
        );
        let mut buf = vec![0xAAu8; 64 * 1024];
        let base = buf.as_ptr() as usize;
        let mut total = 0;
        let rc = fetch_into(client, "/many", &mut buf, 64 * 1024, |p, resp| {
            assert!(resp.is_null(), "copied: nothing to free");
            assert_eq!((p.status, p.redirect_count, p.decoded), (200, 0, false));
            assert_eq!(contents(p), want);
            // In order, back to back, from the buffer's start.
            assert_eq!(p.headers as usize, base);
            assert_eq!(p.body as usize, base + p.headers_len);
            assert_eq!(p.trailers as usize, base + p.headers_len + p.body_len);
            assert_eq!(
                p.effective_url as usize,
                base + p.headers_len + p.body_len + p.trailers_len
            );
            total = p.headers_len + p.body_len + p.trailers_len + p.effective_url_len + 1;
        });
        assert_eq!(rc, H2_OK);
        assert_eq!(buf[total], 0xAA, "nothing written past the copy");

        // Exactly the room needed: copied. A byte less: handed out.
        let rc = fetch_into(client, "/many", &mut buf, total, |p, resp| {
            assert!(resp.is_null());
            assert_eq!(contents(p), want);
        });
        assert_eq!(rc, H2_OK);
        buf.fill(0xAA);
        let rc = fetch_into(client, "/many", &mut buf, total - 1, |p, resp| {
            assert!(!resp.is_null(), "too big: the response is handed out");
            assert_eq!(contents(p), want);
            let (rc, own) = get_parts(resp, std::mem::size_of::<h2_response_parts>());
            assert_eq!(rc, H2_OK);
            assert_eq!(
                (p.headers, p.body, p.trailers, p.effective_url),
                (own.headers, own.body, own.trailers, own.effective_url),
                "the parts point into the response"
            );
        });
        assert_eq!(rc, H2_OK);
        assert!(buf.iter().all(|b| *b == 0xAA), "the buffer is left alone");
        let rc = fetch_into(client, "/many", &mut [], 0, |p, resp| {
            assert!(!resp.is_null(), "no buffer: handed out");
            assert_eq!(contents(p), want);
        });
        assert_eq!(rc, H2_OK);

        // Nothing but a status: the URL alone is copied, no pointer is NULL.
        let rc = fetch_into(client, "/none", &mut buf, 64 * 1024, |p, resp| {
            assert!(resp.is_null());
            assert_eq!(
                (p.status, p.headers_len, p.body_len, p.trailers_len),
                (204, 0, 0, 0)
            );
            assert!(!p.headers.is_null() && !p.trailers.is_null());
            let none = format!("{}/none", srv.url().trim_end_matches('/'));
            assert_eq!(contents(p).3, none.into_bytes());
        });
        assert_eq!(rc, H2_OK);

        // Refused before a request is made: each leaves *out NULL and the parts as they were.
        let requests = || {
            let mut st = std::mem::zeroed::<h2_stats>();
            assert_eq!(h2_client_stats(client, &mut st), H2_OK);
            st.requests_completed + st.requests_failed
        };
        let sent = requests();
        let mut p: h2_response_parts = std::mem::zeroed();
        p.struct_size = std::mem::size_of::<h2_response_parts>();
        p.status = 999; // a mark: left as it was by every refusal
        let garbage = BODY.as_ptr() as *mut h2_response;
        let (get, target) = (cs("GET"), cs("/many"));
        let refused = |client: *mut h2_client,
                       parts: *mut h2_response_parts,
                       buf: *mut u8,
                       cap: usize,
                       with_out: bool| {
            let mut resp = garbage;
            let out = if with_out {
                &mut resp as *mut _
            } else {
                null_mut()
            };
            let rc =
                h2_client_fetch_into(client, get.as_ptr(), target.as_ptr(), parts, buf, cap, out);
            assert!(resp.is_null() || !with_out, "*out is set to NULL");
            (rc, last_message())
        };
        let b = buf.as_mut_ptr();
        let bad = H2_E_INVALID_ARGUMENT;
        let msg = |m: &str| format!("h2_client_fetch_into: {m}");
        assert_eq!(
            refused(client, null_mut(), b, 10, true),
            (bad, msg("parts is NULL"))
        );
        assert_eq!(
            refused(client, &mut p, null_mut(), 10, true),
            (bad, msg("buf is NULL but cap is not 0"))
        );
        assert_eq!(
            refused(client, &mut p, b, 10, false),
            (bad, msg("out is NULL"))
        );
        assert_eq!(
            refused(null_mut(), &mut p, b, 10, true),
            (bad, msg("client is NULL"))
        );
        p.struct_size = std::mem::offset_of!(h2_response_parts, decoded);
        let (rc, m) = refused(client, &mut p, b, 10, true);
        assert_eq!(rc, bad);
        assert!(m.contains("parts->struct_size"), "{m}");
        assert_eq!(
            (p.status, p.struct_size),
            (999, std::mem::offset_of!(h2_response_parts, decoded))
        );
        assert_eq!(requests(), sent, "nothing was sent");

        // Failed requests, in the making and in the exchange: *out NULL, the parts untouched.
        p.struct_size = std::mem::size_of::<h2_response_parts>();
        let mut failed = |client: *mut h2_client, target: &str| {
            let mut resp = garbage;
            let rc = h2_client_fetch_into(
                client,
                get.as_ptr(),
                cs(target).as_ptr(),
                &mut p,
                buf.as_mut_ptr(),
                buf.len(),
                &mut resp,
            );
            assert!(resp.is_null(), "*out is NULL on failure");
            assert_eq!(p.status, 999, "the parts are left as they were");
            rc
        };
        assert_eq!(failed(client, "no-slash"), H2_E_INVALID_ARGUMENT);
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let nobody = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        let rc = failed(client, &nobody);
        assert_eq!(
            rc,
            H2_E_CONNECT,
            "nothing listens at {nobody}: {}",
            last_message()
        );
        h2_client_free(client);
    }
    srv.finish();
}
