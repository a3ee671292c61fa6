//! The pool: more connections when the server limits streams, the assumed limit before
//! SETTINGS, the connection cap and its queue.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::rawserver::*;
use common::*;
use h2client::{ErrorKind, Processed, Request};

#[test]
fn server_stream_limit_makes_the_pool_open_connections() {
    let s = server_with(|o| o.max_concurrent_streams = Some(10));
    let c = Arc::new(client_with(&s.url(), |_| {}));
    // One request first so the limit is known before the burst.
    get(&c, "/").unwrap();
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || get(&c, "/delay/200").map(|r| r.status()))
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), 200);
    }
    let snap = c.snapshot();
    // 64 concurrent streams at 10 per connection need 7 connections; dialing one at a time
    // may serve some requests from freed slots instead, but never fewer than 2.
    let n = s.connections_accepted();
    assert!((2..=7).contains(&n), "{n} connections");
    assert_eq!(snap.connections_opened as usize, n);
    assert!(
        snap.stream_limits.iter().all(|&l| l == 10),
        "{:?}",
        snap.stream_limits
    );
    assert!(
        s.max_streams_seen() <= 10,
        "server saw {} streams",
        s.max_streams_seen()
    );
}

#[test]
fn new_connection_assumes_the_previous_limit_until_settings() {
    let srv = RawServer::start(|idx, mut c| {
        if idx == 0 {
            c.handshake(&[(3, 2)]);
            let w = c.next_request().unwrap();
            c.respond(w.stream_id, 200, b"warm");
            let a = c.next_request().unwrap();
            let b = c.next_request().unwrap();
            std::thread::sleep(Duration::from_millis(400));
            c.respond(a.stream_id, 200, b"ok");
            c.respond(b.stream_id, 200, b"ok");
            while let Some(r) = c.next_request() {
                c.respond(r.stream_id, 200, b"ok");
            }
        } else {
            c.read_preface();
            // Hold our SETTINGS back and count what the client opens meanwhile.
            let until = Instant::now() + Duration::from_millis(300);
            c.s.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            while Instant::now() < until {
                let _ = c.read_frame();
            }
            let early = c.seen.iter().filter(|f| f.kind == HEADERS).count();
            assert!(
                early <= 2,
                "{early} streams opened before SETTINGS (limit was 2)"
            );
            assert!(early >= 1, "the new connection was used at once");
            c.s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c.settings(&[(3, 2)]);
            c.send(SETTINGS, ACK, 0, &[]);
            // Answer the early ones (their HEADERS are decoded by replaying what we saw).
            let early_frames: Vec<Frame> = c
                .seen
                .iter()
                .filter(|f| f.kind == HEADERS)
                .cloned()
                .collect();
            for f in early_frames {
                c.dec.decode(&f.payload).unwrap();
                c.respond(f.stream_id, 200, b"ok");
            }
            while let Some(r) = c.next_request() {
                c.respond(r.stream_id, 200, b"ok");
            }
        }
    });
    let c = Arc::new(client_with(&srv.url(), |cfg| {
        cfg.set_request_timeout_ms(5000)
    }));
    assert_eq!(get(&c, "/warm").unwrap().body(), b"warm");
    let threads: Vec<_> = (0..5)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || get(&c, "/x").map(|r| r.status()))
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), 200);
    }
    drop(c);
    srv.finish();
}

#[test]
fn connection_cap_queues_requests() {
    let s = server_with(|o| o.max_concurrent_streams = Some(1));
    let c = Arc::new(client_with(&s.url(), |cfg| {
        cfg.set_max_connections(1).unwrap()
    }));
    get(&c, "/").unwrap();
    let t0 = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || get(&c, "/delay/100").map(|r| r.status()))
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), 200);
    }
    assert!(t0.elapsed() >= Duration::from_millis(400), "one at a time");
    assert_eq!(s.connections_accepted(), 1);
    assert_eq!(s.max_streams_seen(), 1);
}

#[test]
fn time_waiting_for_a_slot_counts_against_the_timeout() {
    let s = server_with(|o| o.max_concurrent_streams = Some(1));
    let c = Arc::new(client_with(&s.url(), |cfg| {
        cfg.set_max_connections(1).unwrap()
    }));
    get(&c, "/").unwrap();
    let c2 = c.clone();
    let hog = std::thread::spawn(move || get(&c2, "/delay/1000"));
    std::thread::sleep(Duration::from_millis(100));
    let mut req = Request::new("GET", "/").unwrap();
    req.set_timeout(Some(Duration::from_millis(200)));
    let t0 = Instant::now();
    let e = c.execute(Arc::new(req)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert_eq!(e.processed, Processed::No, "never left the queue");
    assert!(t0.elapsed() < Duration::from_millis(800));
    assert_eq!(hog.join().unwrap().unwrap().status(), 200);
    // The queue is not left holding the abandoned request.
    assert_eq!(get(&c, "/").unwrap().status(), 200);
}

#[test]
fn write_stall_fails_the_connection() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[(4, 0x7fff_ffff)]);
        c.window_update(0, 0x7fff_ffff - 65_535);
        let w = c.next_request().unwrap();
        c.respond(w.stream_id, 200, b"");
        // Stop reading: the client's writes fill the socket buffers and stall.
        std::thread::sleep(Duration::from_secs(4));
    });
    let c = client_with(&srv.url(), |cfg| cfg.set_write_timeout_ms(300).unwrap());
    get(&c, "/warm").unwrap();
    let mut req = Request::new("POST", "/up").unwrap();
    req.set_body(Bytes::from(vec![0u8; 128 << 20]));
    let t0 = Instant::now();
    let e = c.execute(Arc::new(req)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    assert!(e.message.contains("write stalled"), "{}", e.message);
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    drop(c);
    srv.finish();
}

/// Every connection answers SETTINGS_MAX_CONCURRENT_STREAMS = 0 and refuses what it got
/// before: the pool does not storm (153 dials in 8 s before), and the waiting request fails
/// after the connect timeout saying that the server allows no streams.
#[test]
fn zero_stream_limit_does_not_storm_and_fails_clearly() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[(3, 0)]);
        while let Some(f) = c.wait_frame(|f| f.kind == HEADERS || f.kind == GOAWAY) {
            if f.kind == GOAWAY {
                break;
            }
            c.rst(f.stream_id, 7); // REFUSED_STREAM
        }
    });
    let c = client_with(&srv.url(), |c| {
        c.set_connect_timeout_ms(1500).unwrap();
    });
    let t0 = Instant::now();
    let e = get(&c, "/").unwrap_err();
    let took = t0.elapsed();
    assert_eq!(e.kind, ErrorKind::Refused, "{}", e.message);
    assert_eq!(e.processed, Processed::No);
    assert!(e.message.contains("allows no streams"), "{}", e.message);
    assert!(took < Duration::from_secs(4), "{took:?}");
    // The first connection, one more at once, then 100, 200, 400, 800 ms of backoff.
    let dials = srv.accepted();
    assert!((2..=7).contains(&dials), "{dials} connections in {took:?}");
    drop(c);
    srv.finish();
}

/// With a request timeout shorter than that, the timeout says why the request waited.
#[test]
fn zero_stream_limit_timeout_names_the_cause() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[(3, 0)]);
        while let Some(f) = c.wait_frame(|f| f.kind == HEADERS || f.kind == GOAWAY) {
            if f.kind == GOAWAY {
                break;
            }
            c.rst(f.stream_id, 7);
        }
    });
    let c = client_with(&srv.url(), |c| c.set_request_timeout_ms(500));
    let e = get(&c, "/").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
    assert!(
        e.message.contains("SETTINGS_MAX_CONCURRENT_STREAMS"),
        "{}",
        e.message
    );
    assert_eq!(e.processed, Processed::No);
    assert!(srv.accepted() <= 5, "{} connections", srv.accepted());
    drop(c);
    srv.finish();
}

/// A later SETTINGS that raises the limit starts the waiting request at once.
#[test]
fn raised_stream_limit_starts_waiting_requests() {
    let srv = RawServer::start(|idx, mut c| {
        c.handshake(&[(3, 0)]);
        if idx > 0 {
            // Extra dials while the first connection allows nothing: stay silent.
            c.expect_eof(Duration::from_secs(10));
            return;
        }
        let early = c.next_headers().unwrap();
        c.rst(early.stream_id, 7);
        std::thread::sleep(Duration::from_millis(300));
        c.settings(&[(3, 100)]);
        let r = c.next_request().unwrap();
        c.respond(r.stream_id, 200, b"now");
        c.expect_eof(Duration::from_secs(10));
    });
    let c = client_with(&srv.url(), |c| c.set_request_timeout_ms(5000));
    let t0 = Instant::now();
    assert_eq!(get(&c, "/").unwrap().body(), b"now");
    assert!(
        t0.elapsed() < Duration::from_millis(1000),
        "{:?}",
        t0.elapsed()
    );
    drop(c);
    srv.finish();
}
