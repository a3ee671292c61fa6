//! Servers that misbehave, scripted frame by frame: every case ends in a clear error (and the
//! right GOAWAY or RST_STREAM from us), never a hang or a crash.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::rawserver::*;
use common::*;
use h2client::{ErrorKind, Origin, Processed, Reason, Request};

const PROTOCOL_ERROR: u32 = 1;
const SETTINGS_TIMEOUT: u32 = 4;
const REFUSED_STREAM: u32 = 7;
const CANCEL: u32 = 8;
const COMPRESSION_ERROR: u32 = 9;
const ENHANCE_YOUR_CALM: u32 = 11;

fn quick(url: &str) -> h2client::Client {
    client_with(url, |c| {
        c.set_request_timeout_ms(5000);
    })
}

#[test]
fn goaway_mid_flight_retries_unprocessed_streams() {
    let srv = RawServer::start(|idx, mut c| {
        c.handshake(&[]);
        if idx == 0 {
            let a = c.next_request().unwrap();
            let b = c.next_request().unwrap();
            assert_eq!((a.stream_id, b.stream_id), (1, 3));
            // Only stream 1 will be processed.
            c.goaway(1, 0, b"maintenance");
            c.respond(1, 200, b"one");
            c.expect_eof(Duration::from_secs(5));
        } else {
            let r = c.next_request().unwrap();
            assert_eq!(r.stream_id, 1, "retried on a fresh connection");
            c.respond(1, 200, r.path().as_bytes());
            c.expect_eof(Duration::from_secs(5));
        }
    });
    let c = Arc::new(quick(&srv.url()));
    let c2 = c.clone();
    let t = std::thread::spawn(move || get(&c2, "/a").unwrap());
    std::thread::sleep(Duration::from_millis(50));
    let r2 = get(&c, "/b").unwrap();
    let r1 = t.join().unwrap();
    assert_eq!(r1.body(), b"one");
    assert_eq!(r2.body(), b"/b");
    assert_eq!(c.snapshot().retries, 1);
    drop(c);
    srv.finish();
}

#[test]
fn two_step_graceful_goaway() {
    let srv = RawServer::start(|idx, mut c| {
        c.handshake(&[]);
        if idx == 0 {
            let a = c.next_request().unwrap();
            assert_eq!(a.stream_id, 1);
            // nghttp2's graceful shutdown: announce, wait a round trip, then the real last id.
            c.goaway(0x7fff_ffff, 0, b"");
            std::thread::sleep(Duration::from_millis(200));
            c.goaway(1, 0, b"");
            c.respond(1, 200, b"first");
            // Anything that still arrived here (stream 3) is above the last id: not answered.
            assert!(c.expect_eof(Duration::from_secs(5)), "closed once drained");
        } else {
            let r = c.next_request().unwrap();
            c.respond(r.stream_id, 200, b"second");
            c.expect_eof(Duration::from_secs(5));
        }
    });
    let c = Arc::new(quick(&srv.url()));
    let c2 = c.clone();
    let t = std::thread::spawn(move || get(&c2, "/a").unwrap());
    std::thread::sleep(Duration::from_millis(100));
    let r2 = get(&c, "/b").unwrap();
    assert_eq!(r2.body(), b"second");
    assert_eq!(t.join().unwrap().body(), b"first");
    assert_eq!(srv.accepted(), 2);
    drop(c);
    srv.finish();
}

#[test]
fn refused_stream_is_retried_transparently() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let a = c.next_request().unwrap();
        c.rst(a.stream_id, REFUSED_STREAM);
        let b = c.next_request().unwrap();
        assert_eq!(b.path(), "/x");
        c.respond(b.stream_id, 200, b"ok");
        c.expect_eof(Duration::from_secs(5));
    });
    let c = quick(&srv.url());
    let r = get(&c, "/x").unwrap();
    assert_eq!(r.body(), b"ok");
    assert_eq!(c.snapshot().retries, 1);
    drop(c);
    srv.finish();
}

#[test]
fn refused_forever_gives_up_with_processed_no() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        while let Some(r) = c.next_request() {
            c.rst(r.stream_id, REFUSED_STREAM);
        }
    });
    let c = quick(&srv.url());
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused);
    assert_eq!(e.processed, Processed::No);
    assert_eq!(e.reason, Some(Reason::REFUSED_STREAM));
    assert_eq!(e.retries, 3);
    assert!(e.message.contains("REFUSED_STREAM"), "{}", e.message);
}

#[test]
fn rst_stream_fails_with_its_code() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let a = c.next_request().unwrap();
        c.rst(a.stream_id, 2);
        let b = c.next_request().unwrap();
        c.respond(b.stream_id, 200, b"still fine");
        c.expect_eof(Duration::from_secs(5));
    });
    let c = quick(&srv.url());
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::StreamReset);
    assert_eq!(e.reason, Some(Reason::INTERNAL_ERROR));
    assert_eq!(e.origin, Origin::Remote);
    assert_eq!(e.processed, Processed::Maybe);
    assert!(e.message.contains("INTERNAL_ERROR"), "{}", e.message);
    assert_eq!(get(&c, "/y").unwrap().body(), b"still fine");
    drop(c);
    srv.finish();
}

#[test]
fn connection_drop_mid_request() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        c.next_request().unwrap();
        // drop the socket
    });
    let c = quick(&srv.url());
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Connection);
    assert_eq!(e.processed, Processed::Maybe);
    assert_eq!(e.origin, Origin::Transport);
    assert!(
        e.message.contains("closed by") || e.message.contains("reset"),
        "{}",
        e.message
    );
    srv.finish();
}

#[test]
fn goaway_with_error_is_kept_as_the_cause() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.goaway(r.stream_id, ENHANCE_YOUR_CALM, b"too many requests");
        c.s.shutdown(std::net::Shutdown::Write).unwrap();
        c.expect_eof(Duration::from_secs(5));
    });
    let c = quick(&srv.url());
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::GoAway);
    assert_eq!(e.reason, Some(Reason::ENHANCE_YOUR_CALM));
    assert_eq!(e.goaway_last_stream_id, 1);
    assert!(
        e.message
            .contains("GOAWAY(ENHANCE_YOUR_CALM, last_stream_id=1)"),
        "{}",
        e.message
    );
    assert!(e.message.contains("too many requests"), "{}", e.message);
    srv.finish();
}

#[test]
fn bad_header_block_is_a_compression_error() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        // Indexed field 70: past the static table and the empty dynamic table.
        c.send(HEADERS, END_HEADERS | END_STREAM, r.stream_id, &[0x80 | 70]);
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, COMPRESSION_ERROR);
    });
    let c = quick(&srv.url());
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert_eq!(e.reason, Some(Reason::COMPRESSION_ERROR));
    assert!(e.message.contains("COMPRESSION_ERROR"), "{}", e.message);
    srv.finish();
}

#[test]
fn truncated_hpack_0x3f_does_not_panic() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.send(HEADERS, END_HEADERS | END_STREAM, r.stream_id, &[0x3f]);
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, COMPRESSION_ERROR);
    });
    let c = quick(&srv.url());
    assert_eq!(
        get(&c, "/x").unwrap_err().reason,
        Some(Reason::COMPRESSION_ERROR)
    );
    srv.finish();
}

#[test]
fn oversized_response_headers_reset_only_that_stream() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        let big = "v".repeat(3000);
        let mut fields: Vec<(&str, &str)> = vec![(":status", "200")];
        fields.push(("x-big", &big));
        let block = c.encode(&fields);
        c.send(HEADERS, END_HEADERS | END_STREAM, r.stream_id, &block);
        assert_eq!(c.expect_rst(r.stream_id), CANCEL);
        // The table still agrees: the next response reuses the indexed entry.
        let r2 = c.next_request().unwrap();
        c.headers(
            r2.stream_id,
            &[(":status", "200"), ("x-big", "small")],
            true,
        );
        c.expect_eof(Duration::from_secs(5));
    });
    let c = client_with(&srv.url(), |cfg| {
        cfg.set_max_header_list_size(2048).unwrap();
        cfg.set_request_timeout_ms(5000);
    });
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::HeadersTooLarge);
    assert_eq!(e.processed, Processed::Maybe);
    let r = get(&c, "/y").unwrap();
    assert_eq!(r.headers().value(b"x-big"), Some(&b"small"[..]));
    drop(c);
    srv.finish();
}

#[test]
fn ping_never_acked_detects_a_dead_peer() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        c.auto_ping_ack = false;
        let _ = c.next_request();
        // Silent: no response, no PING ACK.
        c.expect_eof(Duration::from_secs(10));
    });
    let c = client_with(&srv.url(), |cfg| {
        cfg.set_keepalive_interval_ms(200);
        cfg.set_keepalive_timeout_ms(300).unwrap();
    });
    let t0 = Instant::now();
    let e = get(&c, "/hang").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.message.contains("PING"), "{}", e.message);
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    srv.finish();
}

#[test]
fn push_promise_is_a_protocol_error() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        let mut p = 2u32.to_be_bytes().to_vec();
        p.extend(c.encode(&[(":method", "GET"), (":path", "/pushed")]));
        c.send(PUSH_PROMISE, END_HEADERS, r.stream_id, &p);
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, PROTOCOL_ERROR);
    });
    let c = quick(&srv.url());
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(e.message.contains("PUSH_PROMISE"), "{}", e.message);
    srv.finish();
}

#[test]
fn continuation_flood_is_cut_off() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.send(HEADERS, 0, r.stream_id, &[0x88]);
        for _ in 0..100_000 {
            c.send(CONTINUATION, 0, r.stream_id, &[]);
        }
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, ENHANCE_YOUR_CALM);
    });
    let c = quick(&srv.url());
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.reason, Some(Reason::ENHANCE_YOUR_CALM));
    assert!(e.message.contains("CONTINUATION"), "{}", e.message);
    srv.finish();
}

#[test]
fn oversized_header_block_is_cut_off() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.send(HEADERS, 0, r.stream_id, &[0x88]);
        let junk = vec![0x40u8; 16384];
        for _ in 0..200 {
            c.send(CONTINUATION, 0, r.stream_id, &junk);
        }
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, ENHANCE_YOUR_CALM);
    });
    let c = quick(&srv.url());
    assert_eq!(
        get(&c, "/x").unwrap_err().reason,
        Some(Reason::ENHANCE_YOUR_CALM)
    );
    srv.finish();
}

#[test]
fn frame_between_headers_and_continuation() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.send(HEADERS, 0, r.stream_id, &[0x88]);
        c.send(PING, 0, 0, &[0; 8]);
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, PROTOCOL_ERROR);
    });
    let c = quick(&srv.url());
    assert_eq!(
        get(&c, "/x").unwrap_err().reason,
        Some(Reason::PROTOCOL_ERROR)
    );
    srv.finish();
}

#[test]
fn server_that_sends_no_settings() {
    let srv = RawServer::start(|_, mut c| {
        c.auto_settings_ack = false;
        c.read_preface();
        c.expect_eof(Duration::from_secs(5));
    });
    let c = client_with(&srv.url(), |cfg| cfg.set_settings_timeout_ms(300).unwrap());
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.message.contains("no SETTINGS"), "{}", e.message);
    srv.finish();
}

#[test]
fn settings_never_acknowledged() {
    let srv = RawServer::start(|_, mut c| {
        c.auto_settings_ack = false;
        c.read_preface();
        c.settings(&[]);
        let _ = c.next_request();
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, SETTINGS_TIMEOUT);
    });
    let c = client_with(&srv.url(), |cfg| cfg.set_settings_timeout_ms(300).unwrap());
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert_eq!(e.reason, Some(Reason::SETTINGS_TIMEOUT));
    srv.finish();
}

#[test]
fn http1_server_is_named() {
    let srv = RawServer::start(|_, mut c| {
        c.read_preface();
        c.raw(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        c.expect_eof(Duration::from_secs(5));
    });
    let c = quick(&srv.url());
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(e.message.contains("HTTP/1.x"), "{}", e.message);
    srv.finish();
}

#[test]
fn malformed_responses_reset_the_stream() {
    let cases: Vec<Vec<(&'static str, &'static str)>> = vec![
        vec![(":status", "200"), ("Upper", "x")],
        vec![(":status", "200"), ("connection", "close")],
        vec![(":status", "200"), (":path", "/")],
        vec![("x", "1")],
        vec![(":status", "101")],
    ];
    let n = cases.len();
    let srv = RawServer::start(move |_, mut c| {
        c.handshake(&[]);
        for fields in &cases {
            let r = c.next_request().unwrap();
            c.headers(r.stream_id, fields, true);
            assert_eq!(c.expect_rst(r.stream_id), PROTOCOL_ERROR, "{fields:?}");
        }
        c.expect_eof(Duration::from_secs(5));
    });
    let c = quick(&srv.url());
    for _ in 0..n {
        let e = get(&c, "/x").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol);
        assert_eq!(e.reason, Some(Reason::PROTOCOL_ERROR));
        assert!(e.message.contains("malformed"), "{}", e.message);
    }
    drop(c);
    srv.finish();
}

#[test]
fn content_length_mismatch() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.headers(
            r.stream_id,
            &[(":status", "200"), ("content-length", "10")],
            false,
        );
        c.data(r.stream_id, b"short", true);
        assert_eq!(c.expect_rst(r.stream_id), PROTOCOL_ERROR);
    });
    let c = quick(&srv.url());
    let e = get(&c, "/x").unwrap_err();
    assert!(e.message.contains("content-length"), "{}", e.message);
    assert_eq!(e.processed, Processed::Yes);
    srv.finish();
}

#[test]
fn informational_padding_priority_unknown_frames() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[(0x99, 7)]); // unknown setting
        let r = c.next_request().unwrap();
        let id = r.stream_id;
        c.send(0xfa, 0, 0, b"unknown frame type");
        c.send(PRIORITY, 0, id, &[0, 0, 0, 0, 16]);
        c.headers(id, &[(":status", "103"), ("link", "</style.css>")], false);
        // HEADERS with PADDED and PRIORITY flags.
        let block = c.encode(&[(":status", "200"), ("x-a", "b")]);
        let mut p = vec![3u8, 0, 0, 0, 0, 16];
        p.extend_from_slice(&block);
        p.extend_from_slice(&[0, 0, 0]);
        c.send(HEADERS, END_HEADERS | PADDED | 0x20, id, &p);
        // Padded DATA.
        let mut d = vec![4u8];
        d.extend_from_slice(b"hello");
        d.extend_from_slice(&[0; 4]);
        c.send(DATA, PADDED, id, &d);
        c.send(DATA, END_STREAM, id, b" world");
        c.expect_eof(Duration::from_secs(5));
    });
    let c = quick(&srv.url());
    let r = get(&c, "/x").unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.body(), b"hello world");
    assert_eq!(r.headers().value(b"x-a"), Some(&b"b"[..]));
    assert_eq!(r.headers().value(b"link"), None, "1xx headers are dropped");
    drop(c);
    srv.finish();
}

#[test]
fn frames_on_idle_or_even_streams() {
    for bad_stream in [5u32, 2] {
        let srv = RawServer::start(move |_, mut c| {
            c.handshake(&[]);
            let _r = c.next_request().unwrap();
            c.send(DATA, 0, bad_stream, b"x");
            let (_, code, _) = c.expect_goaway();
            assert_eq!(code, PROTOCOL_ERROR);
        });
        let c = quick(&srv.url());
        assert_eq!(
            get(&c, "/x").unwrap_err().reason,
            Some(Reason::PROTOCOL_ERROR)
        );
        srv.finish();
    }
}

#[test]
fn abandoned_streams_keep_hpack_and_windows_in_sync() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r1 = c.next_request().unwrap();
        assert_eq!(c.expect_rst(r1.stream_id), CANCEL);
        // Answer the cancelled stream anyway: its header block inserts into the table and
        // its DATA uses most of the connection window.
        c.headers(
            r1.stream_id,
            &[(":status", "200"), ("x-table", "entry-from-abandoned")],
            false,
        );
        c.data(r1.stream_id, &vec![0u8; 60_000], true);
        let r2 = c.next_request().unwrap();
        // The client must return the abandoned DATA to the connection window (it credits in
        // steps of half the window): 5535 left + at least 32768 credited.
        let credited = |c: &RawConn| -> u32 {
            c.seen
                .iter()
                .filter(|f| f.kind == WINDOW_UPDATE && f.stream_id == 0)
                .map(|f| f.u32_at(0))
                .sum()
        };
        while credited(&c) < 32_768 {
            c.wait_frame(|f| f.kind == WINDOW_UPDATE && f.stream_id == 0)
                .expect("connection WINDOW_UPDATE for the abandoned stream's DATA");
        }
        c.headers(
            r2.stream_id,
            &[(":status", "200"), ("x-table", "entry-from-abandoned")],
            false,
        );
        c.data(r2.stream_id, &vec![1u8; 30_000], true);
        c.expect_eof(Duration::from_secs(5));
    });
    let c = client_with(&srv.url(), |cfg| {
        cfg.set_connection_window_size(65_535).unwrap();
        cfg.set_request_timeout_ms(200);
    });
    assert_eq!(get(&c, "/slow").unwrap_err().kind, ErrorKind::Timeout);
    std::thread::sleep(Duration::from_millis(100));
    let mut req = Request::new("GET", "/next").unwrap();
    req.set_timeout(Some(Duration::from_secs(5)));
    let r = c.execute(Arc::new(req)).unwrap();
    assert_eq!(
        r.headers().value(b"x-table"),
        Some(&b"entry-from-abandoned"[..])
    );
    assert_eq!(r.body().len(), 30_000);
    drop(c);
    srv.finish();
}

#[test]
fn request_larger_than_servers_header_list_limit_is_not_sent() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[(6, 300)]); // MAX_HEADER_LIST_SIZE = 300
        let r = c.next_request().unwrap();
        assert_eq!(
            r.path(),
            "/small",
            "the oversized request never reached the server"
        );
        c.respond(r.stream_id, 200, b"");
        c.expect_eof(Duration::from_secs(5));
    });
    let c = quick(&srv.url());
    // Let the SETTINGS arrive first.
    let _ = get(&c, "/small").unwrap();
    let mut req = Request::new("GET", "/big").unwrap();
    req.add_header(b"x-big", "v".repeat(400).as_bytes())
        .unwrap();
    let e = c.execute(Arc::new(req)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::HeadersTooLarge);
    assert_eq!(e.processed, Processed::No);
    drop(c);
    srv.finish();
}

#[test]
fn lowered_header_table_size_is_signalled() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        for _ in 0..2 {
            let r = c.next_request().unwrap();
            c.respond(r.stream_id, 200, b"");
        }
        // Shrink our decoder's table to 0: the client must start its next block with a
        // size update, which the independent decoder applies.
        c.settings(&[(1, 0)]);
        c.wait_frame(|f| f.kind == SETTINGS && f.flags & ACK != 0)
            .unwrap();
        let r = c.next_request().unwrap();
        assert_eq!(r.header("x-repeat"), Some("same value"));
        assert_eq!(r.path(), "/3");
        c.respond(r.stream_id, 200, b"");
        c.expect_eof(Duration::from_secs(5));
    });
    let c = quick(&srv.url());
    for i in 1..=3 {
        let mut req = Request::new("GET", &format!("/{i}")).unwrap();
        req.add_header(b"x-repeat", b"same value").unwrap();
        c.execute(Arc::new(req)).unwrap();
        if i == 2 {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    drop(c);
    srv.finish();
}

#[test]
fn large_request_headers_use_continuation() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        assert_eq!(r.header("x-big").map(str::len), Some(40_000));
        let n_cont = c.seen.iter().filter(|f| f.kind == CONTINUATION).count();
        assert!(n_cont >= 2, "{n_cont} CONTINUATION frames");
        c.respond(r.stream_id, 200, b"ok");
        c.expect_eof(Duration::from_secs(5));
    });
    let c = quick(&srv.url());
    let mut req = Request::new("GET", "/").unwrap();
    // Random-ish bytes so Huffman cannot shrink it below the frame size.
    let v: String = (0..40_000u32)
        .map(|i| (b'!' + (i * 7919 % 90) as u8) as char)
        .collect();
    req.add_header(b"x-big", v.as_bytes()).unwrap();
    assert_eq!(c.execute(Arc::new(req)).unwrap().body(), b"ok");
    drop(c);
    srv.finish();
}

#[test]
fn server_answers_early_and_resets_with_no_error() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[(4, 1000)]);
        let r = c.next_headers().unwrap();
        c.respond(r.stream_id, 413, b"too big");
        c.rst(r.stream_id, 0);
        c.expect_eof(Duration::from_secs(5));
    });
    let c = quick(&srv.url());
    let mut req = Request::new("POST", "/up").unwrap();
    req.set_body(Bytes::from(vec![0u8; 100_000]));
    let r = c.execute(Arc::new(req)).unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.body(), b"too big");
    drop(c);
    srv.finish();
}

#[test]
fn idle_connection_is_closed_with_goaway() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.respond(r.stream_id, 200, b"x");
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, 0);
        assert!(c.expect_eof(Duration::from_secs(5)));
    });
    let c = client_with(&srv.url(), |cfg| cfg.set_idle_timeout_ms(200));
    get(&c, "/").unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(c.snapshot().connections, 0);
    get(&c, "/").unwrap();
    assert_eq!(srv.accepted(), 2);
    drop(c);
    srv.finish();
}

#[test]
fn trailers_without_end_stream_are_malformed() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.headers(r.stream_id, &[(":status", "200")], false);
        c.headers(r.stream_id, &[("x-t", "1")], false);
        assert_eq!(c.expect_rst(r.stream_id), PROTOCOL_ERROR);
    });
    let c = quick(&srv.url());
    assert_eq!(get(&c, "/x").unwrap_err().kind, ErrorKind::Protocol);
    srv.finish();
}

#[test]
fn client_close_fails_waiting_requests_with_closed() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let _ = c.next_request();
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, 0);
    });
    let c = Arc::new(client_with(&srv.url(), |_| {}));
    let c2 = c.clone();
    let t = std::thread::spawn(move || get(&c2, "/forever"));
    std::thread::sleep(Duration::from_millis(200));
    c.close();
    let e = t.join().unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Closed);
    assert_eq!(get(&c, "/after").unwrap_err().kind, ErrorKind::Closed);
    srv.finish();
}

#[test]
fn connect_refused_is_clear() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = quick(&format!("http://127.0.0.1:{port}"));
    let e = get(&c, "/").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Connect);
    assert_eq!(e.processed, Processed::No);
    assert!(e.message.contains("refused"), "{}", e.message);
}

#[test]
fn bad_priority_on_an_idle_stream_is_not_answered_with_rst() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.send(PRIORITY, 0, 99, &[0, 0, 0, 0]); // wrong length, idle stream
        c.respond(r.stream_id, 200, b"ok");
        let r2 = c.next_request().unwrap();
        c.respond(r2.stream_id, 200, b"ok");
        assert!(
            !c.seen
                .iter()
                .any(|f| f.kind == RST_STREAM && f.stream_id == 99),
            "RST_STREAM sent for an idle stream"
        );
        c.expect_eof(Duration::from_secs(5));
    });
    let c = quick(&srv.url());
    assert_eq!(get(&c, "/a").unwrap().body(), b"ok");
    assert_eq!(get(&c, "/b").unwrap().body(), b"ok");
    drop(c);
    srv.finish();
}

#[test]
fn tripped_limits_are_reported_as_events() {
    use h2client::events::{Event, EventHook, EventKind};
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.send(HEADERS, 0, r.stream_id, &[0x88]);
        for _ in 0..100_000 {
            c.send(CONTINUATION, 0, r.stream_id, &[]);
        }
        c.expect_goaway();
    });
    let seen = Arc::new(std::sync::Mutex::new(Vec::<Event>::new()));
    let s2 = seen.clone();
    let c = client_with(&srv.url(), |cfg| {
        cfg.events = Some(EventHook(Arc::new(move |e: &Event| {
            s2.lock().unwrap().push(e.clone())
        })));
    });
    assert!(get(&c, "/x").is_err());
    srv.finish();
    let seen = seen.lock().unwrap();
    let ev = seen
        .iter()
        .find(|e| e.kind == EventKind::LimitTripped)
        .expect("a LimitTripped event");
    assert_eq!(ev.h2_error, ENHANCE_YOUR_CALM);
    assert!(ev.message.contains("CONTINUATION"), "{}", ev.message);
}

/// DATA or HEADERS on a stream the server already ended is a connection error of type
/// STREAM_CLOSED (RFC 9113 §5.1); the next request goes to a new connection.
#[test]
fn frames_after_end_stream_are_stream_closed() {
    for kind in [DATA, HEADERS] {
        let srv = RawServer::start(move |idx, mut c| {
            c.handshake(&[]);
            let r = c.next_request().unwrap();
            if idx > 0 {
                c.respond(r.stream_id, 200, b"fresh");
                c.expect_eof(Duration::from_secs(5));
                return;
            }
            c.respond(r.stream_id, 200, b"first");
            if kind == DATA {
                c.data(r.stream_id, b"more", true);
            } else {
                c.headers(r.stream_id, &[("x-late", "1")], true);
            }
            let (_, code, debug) = c.expect_goaway();
            assert_eq!(
                code,
                5,
                "STREAM_CLOSED: {}",
                String::from_utf8_lossy(&debug)
            );
        });
        let c = quick(&srv.url());
        assert_eq!(get(&c, "/a").unwrap().body(), b"first");
        let t0 = Instant::now();
        while c.snapshot().connections > 0 && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(get(&c, "/b").unwrap().body(), b"fresh");
        drop(c);
        srv.finish();
    }
}

/// A declared content-length sizes nothing: with no body limit (u64::MAX) a response claiming
/// u64::MAX bytes (capacity overflow before) or a GiB (a GiB reserved before) and sending one
/// byte fails as malformed, and the connection keeps serving.
#[test]
fn declared_content_length_allocates_nothing() {
    for claimed in ["18446744073709551615", "1073741824"] {
        let srv = RawServer::start(move |_, mut c| {
            c.handshake(&[]);
            let r = c.next_request().unwrap();
            c.headers(
                r.stream_id,
                &[(":status", "200"), ("content-length", claimed)],
                false,
            );
            c.data(r.stream_id, b"x", true);
            let r = c.next_request().unwrap();
            c.respond(r.stream_id, 200, b"next");
            c.expect_eof(Duration::from_secs(5));
        });
        let c = client_with(&srv.url(), |c| {
            c.set_request_timeout_ms(5000);
            c.set_max_response_body(u64::MAX);
        });
        let e = get(&c, "/big").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{}", e.message);
        assert!(e.message.contains("content-length"), "{}", e.message);
        assert_eq!(get(&c, "/next").unwrap().body(), b"next");
        drop(c);
        srv.finish();
    }
}

/// A SETTINGS acknowledgement before the server's own SETTINGS is named as such (it was
/// "expected SETTINGS ..., got SETTINGS").
#[test]
fn settings_ack_first_is_named() {
    let srv = RawServer::start(|_, mut c| {
        c.read_preface();
        c.send(SETTINGS, ACK, 0, &[]);
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, PROTOCOL_ERROR);
    });
    let c = quick(&srv.url());
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.reason, Some(Reason::PROTOCOL_ERROR), "{}", e.message);
    assert!(
        e.message
            .contains("SETTINGS acknowledgement (ACK flag set)"),
        "{}",
        e.message
    );
    srv.finish();
}
