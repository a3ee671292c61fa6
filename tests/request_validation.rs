//! Requests that could smuggle a second message or mislead a server are refused locally with
//! H2_E_INVALID_ARGUMENT, and the server sees none of them: a bad header or trailer is never
//! encoded, and a streamed body that breaks its content-length is reset before END_STREAM.

mod common;

use common::capi::{cs, last_code, last_message};

use std::ptr::{null, null_mut};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use common::rawserver::*;
use common::*;
use h2client::error::ErrorKind;
use h2client::ffi::*;
use h2client::Request;

const WAIT: Duration = Duration::from_secs(10);
const CANCEL: u32 = 8;

/// What the server saw of a stream that the client reset.
struct ResetSeen {
    req: Req,
    body: Vec<u8>,
    ended: bool,
    code: u32,
}

/// A server that reports when the first request's HEADERS arrived, then waits for the
/// client to reset that stream and reports what it saw of it.
fn expect_reset_server() -> (RawServer, mpsc::Receiver<()>, mpsc::Receiver<ResetSeen>) {
    let (started_tx, started) = mpsc::channel();
    let (seen_tx, seen) = mpsc::channel();
    let srv = RawServer::start(move |_, mut c| {
        c.handshake(&[]);
        let Some(req) = c.next_headers() else { return };
        let id = req.stream_id;
        let _ = started_tx.send(());
        let code = c.expect_rst(id);
        let of_stream = || c.seen.iter().filter(|f| f.stream_id == id);
        let body = of_stream()
            .filter(|f| f.kind == DATA)
            .flat_map(|f| f.payload.clone())
            .collect();
        let ended =
            of_stream().any(|f| (f.kind == DATA || f.kind == HEADERS) && f.flags & END_STREAM != 0);
        let _ = seen_tx.send(ResetSeen {
            req,
            body,
            ended,
            code,
        });
    });
    (srv, started, seen)
}

fn streamed_post(content_length: &str) -> Arc<Request> {
    let mut r = Request::new("POST", "/up").unwrap();
    r.add_header(b"content-length", content_length.as_bytes())
        .unwrap();
    r.set_streaming_body(true);
    Arc::new(r)
}

#[test]
fn streamed_body_past_content_length_is_refused_and_reset() {
    let (srv, started, seen) = expect_reset_server();
    let c = client_with(&srv.url(), |_| {});
    let call = c.start(streamed_post("5")).unwrap();
    started.recv_timeout(WAIT).expect("the server saw HEADERS");
    call.write(b"abc").unwrap();
    let e = call.write(b"def").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    assert!(e.message.contains("content-length 5"), "{}", e.message);
    let e = call.wait_headers().unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    assert!(
        call.finish(None).is_err(),
        "the body cannot be ended after that"
    );

    let s = seen.recv_timeout(WAIT).expect("the server saw RST_STREAM");
    assert_eq!(s.req.header("content-length"), Some("5"));
    assert_eq!(s.code, CANCEL);
    assert!(!s.ended, "END_STREAM was sent");
    assert!(b"abc".starts_with(&s.body), "body {:?}", s.body);
    drop(call);
    drop(c);
    srv.finish();
}

#[test]
fn streamed_body_short_of_content_length_is_refused_and_reset() {
    let (srv, started, seen) = expect_reset_server();
    let c = client_with(&srv.url(), |_| {});
    let call = c.start(streamed_post("5")).unwrap();
    started.recv_timeout(WAIT).expect("the server saw HEADERS");
    call.write(b"abc").unwrap();
    let e = call.finish(None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    assert!(e.message.contains("content-length 5"), "{}", e.message);
    let e = call.wait_headers().unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);

    let s = seen.recv_timeout(WAIT).expect("the server saw RST_STREAM");
    assert_eq!(s.code, CANCEL);
    assert!(!s.ended, "END_STREAM was sent");
    assert!(b"abc".starts_with(&s.body), "body {:?}", s.body);
    drop(call);
    drop(c);
    srv.finish();
}

/// The same through the C API: the refused write returns H2_E_INVALID_ARGUMENT and the call's
/// error says so.
#[test]
fn c_api_write_past_content_length_fails_the_call() {
    let (srv, started, seen) = expect_reset_server();
    unsafe {
        let client = h2_client_new(cs(&srv.url()).as_ptr(), null());
        let req = h2_request_new(cs("PUT").as_ptr(), cs("/up").as_ptr());
        assert_eq!(
            h2_request_add_header(req, cs("content-length").as_ptr(), cs("2").as_ptr()),
            H2_OK
        );
        assert_eq!(h2_request_set_streaming_body(req, true), H2_OK);
        let mut call = null_mut();
        assert_eq!(h2_client_start(client, req, &mut call), H2_OK);
        started.recv_timeout(WAIT).expect("the server saw HEADERS");
        assert_eq!(
            h2_call_write(call, b"abc".as_ptr(), 3),
            H2_E_INVALID_ARGUMENT
        );
        assert!(
            last_message().contains("content-length 2"),
            "{}",
            last_message()
        );
        assert_eq!(h2_call_wait(call), H2_E_INVALID_ARGUMENT);
        let s = seen.recv_timeout(WAIT).expect("the server saw RST_STREAM");
        assert!(s.body.is_empty(), "body {:?}", s.body);
        assert!(!s.ended);
        h2_call_free(call);
        h2_request_free(req);
        h2_client_free(client);
    }
    srv.finish();
}

/// A forbidden trailer is refused when added; the call goes on and the server receives the
/// request with only the allowed trailer.
#[test]
fn forbidden_trailer_is_refused_and_never_sent() {
    let (tx, trailers) = mpsc::channel();
    let srv = RawServer::start(move |_, mut c| {
        c.handshake(&[]);
        let Some(req) = c.next_headers() else { return };
        let id = req.stream_id;
        let Some(t) = c.wait_frame(|f| f.kind == HEADERS && f.stream_id == id) else {
            return;
        };
        assert_ne!(t.flags & END_STREAM, 0, "trailers end the stream");
        assert_ne!(t.flags & END_HEADERS, 0, "small trailers fit one frame");
        let fields = c.dec.decode(&t.payload).expect("trailers decode");
        c.respond(id, 200, b"");
        let _ = tx.send(fields);
        c.expect_eof(WAIT);
    });
    unsafe {
        let client = h2_client_new(cs(&srv.url()).as_ptr(), null());
        let req = h2_request_new(cs("POST").as_ptr(), cs("/up").as_ptr());
        assert_eq!(h2_request_set_streaming_body(req, true), H2_OK);
        let mut call = null_mut();
        assert_eq!(h2_client_start(client, req, &mut call), H2_OK);
        assert_eq!(
            h2_call_add_trailer(call, cs("Content-Length").as_ptr(), cs("3").as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        assert!(
            last_message().contains("content-length"),
            "{}",
            last_message()
        );
        for (n, v) in [
            ("authorization", "x"),
            (":path", "/admin"),
            ("x-a", "a\u{1}"),
        ] {
            assert_eq!(
                h2_call_add_trailer(call, cs(n).as_ptr(), cs(v).as_ptr()),
                H2_E_INVALID_ARGUMENT,
                "{n}"
            );
        }
        assert_eq!(
            h2_call_add_trailer(call, cs("x-sum").as_ptr(), cs("42").as_ptr()),
            H2_OK
        );
        assert_eq!(h2_call_write(call, b"abc".as_ptr(), 3), H2_OK);
        assert_eq!(h2_call_finish(call), H2_OK);
        assert_eq!(h2_call_wait_headers(call), H2_OK);
        assert_eq!(h2_call_status(call), 200);
        h2_call_free(call);
        h2_request_free(req);
        h2_client_free(client);
    }
    let fields = trailers
        .recv_timeout(WAIT)
        .expect("the server got trailers");
    assert_eq!(fields, vec![(b"x-sum".to_vec(), b"42".to_vec())]);
    srv.finish();
}

/// Refused headers leave the request unchanged: sent anyway, it carries none of them.
#[test]
fn refused_headers_never_reach_the_server() {
    let (tx, reqs) = mpsc::channel();
    let srv = RawServer::start(move |_, mut c| {
        c.handshake(&[]);
        while let Some(r) = c.next_request() {
            c.respond(r.stream_id, 200, b"");
            let _ = tx.send(r);
        }
    });
    unsafe {
        let client = h2_client_new(cs(&srv.url()).as_ptr(), null());
        let req = h2_request_new(cs("POST").as_ptr(), cs("/a?q=1#frag").as_ptr());
        assert!(!req.is_null(), "{}", last_message());
        for (name, value, named) in [
            ("content-length", "+3", "content-length"),
            ("host", "user:pw@evil.com", "host"),
            ("host", "a b/c?d#e", "host"),
            ("x-thing", "a\u{1}b", "x-thing"),
        ] {
            assert_eq!(
                h2_request_add_header(req, cs(name).as_ptr(), cs(value).as_ptr()),
                H2_E_INVALID_ARGUMENT,
                "{name}: {value:?}"
            );
            assert!(last_message().contains(named), "{}", last_message());
        }
        assert_eq!(
            h2_request_add_header(req, cs("content-length").as_ptr(), cs("3").as_ptr()),
            H2_OK
        );
        assert_eq!(
            h2_request_add_header(req, cs("content-length").as_ptr(), cs("5").as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        // A body that does not match the content-length: refused before anything is sent.
        assert_eq!(h2_request_set_body(req, b"ab".as_ptr(), 2), H2_OK);
        let mut resp = null_mut();
        assert_eq!(h2_client_do(client, req, &mut resp), H2_E_INVALID_ARGUMENT);
        assert!(
            last_message().contains("content-length"),
            "{}",
            last_message()
        );
        assert_eq!(h2_request_set_body(req, b"abc".as_ptr(), 3), H2_OK);
        assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
        h2_response_free(resp);
        h2_request_free(req);
        h2_client_free(client);
    }
    let r = reqs.recv_timeout(WAIT).expect("the server got the request");
    assert_eq!(r.path(), "/a?q=1", "the fragment is not sent");
    assert_eq!(r.header(":authority"), Some(srv.addr.to_string().as_str()));
    let cls: Vec<_> = r
        .headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .collect();
    assert_eq!(cls, [&("content-length".to_string(), "3".to_string())]);
    assert_eq!(r.header("x-thing"), None);
    assert_eq!(r.body, b"abc");
    assert!(
        reqs.try_recv().is_err(),
        "only one request reached the server"
    );
    srv.finish();
}

#[test]
fn connect_and_oversized_paths_are_refused_at_creation() {
    unsafe {
        assert!(h2_request_new(cs("CONNECT").as_ptr(), cs("/").as_ptr()).is_null());
        assert_eq!(last_code(), H2_E_INVALID_ARGUMENT);
        assert!(
            last_message().contains("CONNECT (RFC 9113 §8.5) is not supported"),
            "{}",
            last_message()
        );
        let path = format!("/{}", "p".repeat(2 << 20));
        assert!(h2_request_new(cs("GET").as_ptr(), cs(&path).as_ptr()).is_null());
        assert_eq!(last_code(), H2_E_HEADERS_TOO_LARGE);
        // Path and headers together.
        let path = format!("/{}", "p".repeat(600 << 10));
        let req = h2_request_new(cs("GET").as_ptr(), cs(&path).as_ptr());
        assert!(!req.is_null());
        let value = "v".repeat(600 << 10);
        assert_eq!(
            h2_request_add_header(req, cs("x-big").as_ptr(), cs(&value).as_ptr()),
            H2_E_HEADERS_TOO_LARGE
        );
        h2_request_free(req);
    }
}

/// Trailers are capped like a request's header list (1 MiB, RFC 7541 sizes): the one that
/// would pass the cap is refused with H2_E_HEADERS_TOO_LARGE and not kept.
#[test]
fn trailers_are_capped_like_a_header_list() {
    let srv = common::server();
    // SAFETY: the C API called as C calls it.
    unsafe {
        let client = h2_client_new(cs(&srv.url()).as_ptr(), null());
        let req = h2_request_new(cs("POST").as_ptr(), cs("/echo").as_ptr());
        assert_eq!(h2_request_set_streaming_body(req, true), H2_OK);
        let mut call = null_mut();
        assert_eq!(h2_client_start(client, req, &mut call), H2_OK);
        let big = "v".repeat(600 << 10);
        assert_eq!(
            h2_call_add_trailer(call, cs("x-big").as_ptr(), cs(&big).as_ptr()),
            H2_OK
        );
        assert_eq!(
            h2_call_add_trailer(call, cs("x-big2").as_ptr(), cs(&big).as_ptr()),
            H2_E_HEADERS_TOO_LARGE
        );
        assert!(
            last_message().contains("trailers would be"),
            "{}",
            last_message()
        );
        // A small one still fits.
        assert_eq!(
            h2_call_add_trailer(call, cs("x-sum").as_ptr(), cs("42").as_ptr()),
            H2_OK
        );
        h2_call_cancel(call);
        h2_call_free(call);
        h2_request_free(req);
        h2_client_free(client);
    }
}
