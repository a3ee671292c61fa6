//! Flow control (RFC 9113 §5.2, §6.9), both directions, in one place: receive windows bound
//! what a slow reader holds, send windows pace uploads, every overflow is a FLOW_CONTROL_ERROR
//! found at the frame that causes it, increments are never 0, WINDOW_UPDATE floods cost only
//! their reading. The servers are scripted frame by frame (`common::rawserver`) or the
//! project's test server.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::rawserver::*;
use common::*;
use h2client::{Client, Config, ErrorKind, Processed, Reason, Request};

const FLOW_CONTROL_ERROR: u32 = 3;
const CANCEL: u32 = 8;

fn quick(url: &str) -> Client {
    client_with(url, |c| {
        c.set_request_timeout_ms(5000);
    })
}

fn client(url: &str, f: impl FnOnce(&mut Config)) -> (Client, ()) {
    let c = client_with(url, |cfg| {
        cfg.set_request_timeout_ms(5000);
        f(cfg);
    });
    (c, ())
}

fn req(method: &str, path: &str) -> Arc<Request> {
    Arc::new(Request::new(method, path).unwrap())
}

#[test]
fn slow_reader_holds_at_most_one_window_and_others_flow() {
    let s = server();
    let window = 256 << 10;
    let c = client_with(&s.url(), |cfg| cfg.set_initial_window_size(window).unwrap());
    let slow = c.start(req("GET", "/bytes/67108864")).unwrap();
    slow.wait_headers().unwrap();
    // Never read: the server must stop after one window.
    std::thread::sleep(Duration::from_millis(300));
    let held = slow.buffered();
    assert!(
        held <= window as usize,
        "{held} bytes buffered > window {window}"
    );
    assert!(held > 0);
    // Another stream on the same connection completes meanwhile.
    let other = c.start(req("GET", "/bytes/5000000")).unwrap();
    assert_eq!(read_all(&other).len(), 5_000_000);
    assert_eq!(s.connections_accepted(), 1);
    // Now read the slow one slowly: memory stays bounded the whole way.
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0usize;
    let mut max_held = 0usize;
    let mut i = 0u64;
    loop {
        max_held = max_held.max(slow.buffered());
        let n = slow.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(buf[..n]
            .iter()
            .enumerate()
            .all(|(k, &b)| b == b'a' + ((total + k) % 26) as u8));
        total += n;
        i += 1;
        if i.is_multiple_of(64) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(total, 64 << 20);
    assert!(
        max_held <= window as usize,
        "max buffered {max_held} > window {window}"
    );
}

#[test]
fn window_never_reopened_times_out_and_resets() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[(4, 10)]); // INITIAL_WINDOW_SIZE = 10
        let w = c.next_request().unwrap();
        c.respond(w.stream_id, 200, b"");
        let r = c.next_headers().unwrap();
        // Exactly one window's worth arrives, then nothing.
        let f = c.wait_frame(|f| f.kind == DATA).unwrap();
        assert_eq!(f.payload.len(), 10);
        assert_eq!(c.expect_rst(r.stream_id), CANCEL);
    });
    let c = client_with(&srv.url(), |cfg| cfg.set_request_timeout_ms(300));
    get(&c, "/warm").unwrap();
    let mut req = Request::new("POST", "/up").unwrap();
    req.set_body(Bytes::from(vec![7u8; 100]));
    let t0 = Instant::now();
    let e = c.execute(Arc::new(req)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(t0.elapsed() < Duration::from_secs(3));
    srv.finish();
}

#[test]
fn connection_window_overflow_is_flow_control_error() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let _r = c.next_request().unwrap();
        c.window_update(0, 0x7fff_ffff);
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, FLOW_CONTROL_ERROR);
    });
    let c = quick(&srv.url());
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.reason, Some(Reason::FLOW_CONTROL_ERROR));
    srv.finish();
}

#[test]
fn stream_window_overflow_resets_the_stream() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[(4, 0)]); // no stream window: the body waits
        let r = c.next_headers().unwrap();
        c.window_update(r.stream_id, 0x7fff_ffff);
        c.window_update(r.stream_id, 10);
        assert_eq!(c.expect_rst(r.stream_id), FLOW_CONTROL_ERROR);
        let r2 = c.next_request().unwrap();
        c.respond(r2.stream_id, 200, b"fine");
        c.expect_eof(Duration::from_secs(5));
    });
    let c = quick(&srv.url());
    let mut req = Request::new("POST", "/up").unwrap();
    req.set_body(Bytes::from_static(b"hello"));
    let e = c.execute(Arc::new(req)).unwrap_err();
    assert_eq!(e.reason, Some(Reason::FLOW_CONTROL_ERROR));
    assert_eq!(get(&c, "/y").unwrap().body(), b"fine");
    drop(c);
    srv.finish();
}

#[test]
fn data_beyond_stream_window() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.headers(r.stream_id, &[(":status", "200")], false);
        c.data(r.stream_id, &vec![1u8; 2000], true);
        assert_eq!(c.expect_rst(r.stream_id), FLOW_CONTROL_ERROR);
    });
    let c = client_with(&srv.url(), |cfg| {
        cfg.set_initial_window_size(1000).unwrap();
        cfg.set_request_timeout_ms(5000);
    });
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.reason, Some(Reason::FLOW_CONTROL_ERROR));
    assert_eq!(e.processed, Processed::Yes);
    srv.finish();
}

#[test]
fn data_beyond_connection_window() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.headers(r.stream_id, &[(":status", "200")], false);
        // One frame larger than the whole connection window.
        c.send(DATA, END_STREAM, r.stream_id, &vec![1u8; 70_000]);
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, FLOW_CONTROL_ERROR);
    });
    let c = client_with(&srv.url(), |cfg| {
        cfg.set_max_frame_size(1 << 20).unwrap();
        cfg.set_connection_window_size(65_535).unwrap();
        cfg.set_request_timeout_ms(5000);
    });
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.reason, Some(Reason::FLOW_CONTROL_ERROR));
    srv.finish();
}

#[test]
fn window_shrinks_below_zero_then_recovers() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[(4, 20_000)]);
        let w = c.next_request().unwrap();
        c.respond(w.stream_id, 200, b"");
        let r = c.next_headers().unwrap();
        let sent = |c: &RawConn| -> usize {
            c.seen
                .iter()
                .filter(|f| f.kind == DATA && f.stream_id == r.stream_id)
                .map(|f| f.payload.len())
                .sum()
        };
        while sent(&c) < 20_000 {
            c.wait_frame(|f| f.kind == DATA).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(sent(&c), 20_000, "the client respects the stream window");
        // Lower the initial window below what was already sent: the stream's window goes
        // to -10000 (legal) and must be replenished beyond that before more DATA.
        c.settings(&[(4, 10_000)]);
        c.wait_frame(|f| f.kind == SETTINGS && f.flags & ACK != 0)
            .unwrap();
        c.window_update(r.stream_id, 10_000);
        c.window_update(0, 1 << 20);
        std::thread::sleep(Duration::from_millis(100));
        while c.s.set_nonblocking(true).is_ok() {
            let more = c.read_frame();
            c.s.set_nonblocking(false).unwrap();
            if more.is_none() {
                break;
            }
        }
        assert_eq!(sent(&c), 20_000, "window still at 0 after +10000");
        c.window_update(r.stream_id, 100_000);
        let _ = c.finish_body(r.stream_id).unwrap();
        assert_eq!(sent(&c), 100_000);
        c.respond(r.stream_id, 200, b"got it");
        c.expect_eof(Duration::from_secs(5));
    });
    let c = quick(&srv.url());
    get(&c, "/warm").unwrap();
    let mut req = Request::new("POST", "/up").unwrap();
    req.set_body(Bytes::from(vec![5u8; 100_000]));
    assert_eq!(c.execute(Arc::new(req)).unwrap().body(), b"got it");
    drop(c);
    srv.finish();
}

/// HEADERS, a WINDOW_UPDATE that overflows the connection's send window, then DATA with
/// END_STREAM, in one write: processing stops at the overflow (the response is not delivered).
#[test]
fn frames_behind_a_connection_window_overflow_are_not_processed() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        let head = c.encode(&[(":status", "200")]);
        let mut burst = Vec::new();
        frame_into(&mut burst, HEADERS, END_HEADERS, r.stream_id, &head);
        frame_into(
            &mut burst,
            WINDOW_UPDATE,
            0,
            0,
            &0x7fff_ffffu32.to_be_bytes(),
        );
        frame_into(&mut burst, DATA, END_STREAM, r.stream_id, b"ok");
        c.raw(&burst);
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, FLOW_CONTROL_ERROR);
    });
    let c = quick(&srv.url());
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.reason, Some(Reason::FLOW_CONTROL_ERROR), "{}", e.message);
    drop(c);
    srv.finish();
}

/// The same with a stream's send window: the stream is reset at the overflow and the DATA
/// behind it does not complete the request.
#[test]
fn frames_behind_a_stream_window_overflow_are_not_processed() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[(4, 0)]); // no stream window: the body waits
        let r = c.next_headers().unwrap();
        let head = c.encode(&[(":status", "200")]);
        let mut burst = Vec::new();
        frame_into(&mut burst, HEADERS, END_HEADERS, r.stream_id, &head);
        // The body may have gone out before our SETTINGS arrived: overflow whatever is left.
        for _ in 0..2 {
            frame_into(
                &mut burst,
                WINDOW_UPDATE,
                0,
                r.stream_id,
                &0x7fff_fff0u32.to_be_bytes(),
            );
        }
        frame_into(&mut burst, DATA, END_STREAM, r.stream_id, b"ok");
        c.raw(&burst);
        assert_eq!(c.expect_rst(r.stream_id), FLOW_CONTROL_ERROR);
    });
    let c = quick(&srv.url());
    let mut req = Request::new("POST", "/up").unwrap();
    req.set_body(Bytes::from_static(b"hello"));
    let e = c.execute(Arc::new(req)).unwrap_err();
    assert_eq!(e.reason, Some(Reason::FLOW_CONTROL_ERROR), "{}", e.message);
    drop(c);
    srv.finish();
}

/// A SETTINGS_INITIAL_WINDOW_SIZE change that overflows a request body's send window is a
/// connection error at the SETTINGS frame: what follows it is not processed.
#[test]
fn frames_behind_an_overflowing_settings_change_are_not_processed() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[(4, 0)]);
        let r = c.next_headers().unwrap();
        let head = c.encode(&[(":status", "200")]);
        let mut burst = Vec::new();
        frame_into(&mut burst, HEADERS, END_HEADERS, r.stream_id, &head);
        frame_into(
            &mut burst,
            WINDOW_UPDATE,
            0,
            r.stream_id,
            &0x7fff_fff0u32.to_be_bytes(),
        );
        let mut setting = 4u16.to_be_bytes().to_vec();
        setting.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
        frame_into(&mut burst, SETTINGS, 0, 0, &setting);
        frame_into(&mut burst, DATA, END_STREAM, r.stream_id, b"ok");
        c.raw(&burst);
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, FLOW_CONTROL_ERROR);
    });
    let c = quick(&srv.url());
    let mut req = Request::new("POST", "/up").unwrap();
    req.set_body(Bytes::from_static(b"hello"));
    let e = c.execute(Arc::new(req)).unwrap_err();
    assert_eq!(e.reason, Some(Reason::FLOW_CONTROL_ERROR), "{}", e.message);
    assert!(
        e.message.contains("SETTINGS_INITIAL_WINDOW_SIZE"),
        "{}",
        e.message
    );
    drop(c);
    srv.finish();
}

/// With our initial window at its smallest legal value (1), half of it rounds down to 0:
/// empty DATA frames must not make us send WINDOW_UPDATE with an increment of 0 (a
/// PROTOCOL_ERROR at the server, RFC 9113 §6.9).
#[test]
fn smallest_window_never_sends_a_zero_increment() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.headers(r.stream_id, &[(":status", "200")], false);
        c.data(r.stream_id, b"", false);
        c.data(r.stream_id, b"", false);
        c.data(r.stream_id, b"x", false);
        c.data(r.stream_id, b"", false);
        c.data(r.stream_id, b"", true);
        while let Some(f) = c.read_frame() {
            if f.kind == WINDOW_UPDATE {
                assert_ne!(f.u32_at(0) & 0x7fff_ffff, 0, "WINDOW_UPDATE of 0: {f:?}");
            }
            if f.kind == GOAWAY {
                break;
            }
        }
    });
    let c = client_with(&srv.url(), |c| {
        c.set_request_timeout_ms(5000);
        c.set_initial_window_size(1).unwrap();
    });
    assert_eq!(get(&c, "/").unwrap().body(), b"x");
    drop(c);
    srv.finish();
}

/// 100,000 one-byte WINDOW_UPDATEs on a stream (in one burst, so many share a read) open
/// exactly 100,000 bytes of window: increments are coalesced per read, none is lost, and the
/// flood costs no more than reading it (no GOAWAY: such a flood is legal, only wasteful).
#[test]
fn window_update_flood_is_coalesced_exactly() {
    const BODY: usize = 100_000;
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[(4, 0)]); // no stream window: the body waits for the updates
        let r = c.next_headers().unwrap();
        c.window_update(0, 1 << 20);
        let mut burst = Vec::with_capacity(13 * BODY);
        for _ in 0..BODY {
            frame_into(
                &mut burst,
                WINDOW_UPDATE,
                0,
                r.stream_id,
                &1u32.to_be_bytes(),
            );
        }
        c.raw(&burst);
        let body = c.finish_body(r.stream_id).unwrap();
        assert_eq!(body.len(), BODY);
        c.respond(r.stream_id, 200, b"ok");
        c.expect_eof(Duration::from_secs(5));
    });
    let (c, _) = client(&srv.url(), |_| {});
    let mut req = Request::new("POST", "/up").unwrap();
    req.set_body(bytes::Bytes::from(vec![3u8; BODY]));
    let r = c.execute(Arc::new(req)).unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.body(), b"ok");
    drop(c);
    srv.finish();
}

/// Two connection WINDOW_UPDATEs in one write whose sum overflows the window: coalescing
/// must not hide the overflow (GOAWAY FLOW_CONTROL_ERROR).
#[test]
fn coalesced_window_updates_still_overflow() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.headers(r.stream_id, &[(":status", "200")], false);
        let mut two = Vec::new();
        for _ in 0..2 {
            frame_into(&mut two, WINDOW_UPDATE, 0, 0, &0x4000_0000u32.to_be_bytes());
        }
        c.raw(&two);
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, 3, "FLOW_CONTROL_ERROR");
    });
    let (c, _) = client(&srv.url(), |_| {});
    let e = get(&c, "/").unwrap_err();
    assert!(e.message.contains("overflows"), "{}", e.message);
    drop(c);
    srv.finish();
}
