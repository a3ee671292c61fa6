//! Flood and abuse defences, each driven from the scripted raw-frame server: the knob, the
//! counter in the client's stats, the event, and the GOAWAY(ENHANCE_YOUR_CALM) or the reaction.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::rawserver::*;
use common::*;
use h2client::conn::defence::Trip;
use h2client::events::{Event, EventHook, EventKind};
use h2client::{Client, Config, ErrorKind, Reason, Request};

const ENHANCE_YOUR_CALM: u32 = 11;

fn client(url: &str, f: impl FnOnce(&mut Config)) -> (Client, Arc<Mutex<Vec<Event>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let c = client_with(url, |cfg| {
        cfg.set_request_timeout_ms(5000);
        cfg.events = Some(EventHook(Arc::new(move |e: &Event| {
            s2.lock().unwrap().push(e.clone())
        })));
        f(cfg);
    });
    (c, seen)
}

fn tripped(c: &Client, t: Trip) -> u64 {
    c.snapshot().limits_tripped[t as usize]
}

fn limit_events(seen: &Mutex<Vec<Event>>) -> usize {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|e| e.kind == EventKind::LimitTripped)
        .count()
}

/// A server that opens a response on the first request, runs `flood`, then expects GOAWAY
/// with ENHANCE_YOUR_CALM.
fn flood_server(flood: impl Fn(&mut RawConn, u32) + Send + Sync + 'static) -> RawServer {
    RawServer::start(move |_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.headers(r.stream_id, &[(":status", "200")], false);
        flood(&mut c, r.stream_id);
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, ENHANCE_YOUR_CALM);
    })
}

#[test]
fn continuation_flood_counter() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.send(HEADERS, 0, r.stream_id, &[0x88]);
        for _ in 0..50 {
            c.send(CONTINUATION, 0, r.stream_id, &[]);
        }
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, ENHANCE_YOUR_CALM);
    });
    let (c, seen) = client(&srv.url(), |cfg| cfg.max_continuation_frames = 20);
    let e = get(&c, "/").unwrap_err();
    assert_eq!(e.reason, Some(Reason::ENHANCE_YOUR_CALM));
    assert!(
        e.message.contains("more than 20 CONTINUATION"),
        "{}",
        e.message
    );
    assert_eq!(tripped(&c, Trip::Continuation), 1);
    assert_eq!(limit_events(&seen), 1);
    srv.finish();
}

#[test]
fn empty_data_flood() {
    let srv = flood_server(|c, id| {
        for _ in 0..30 {
            c.send(DATA, 0, id, &[]);
        }
    });
    let (c, seen) = client(&srv.url(), |cfg| cfg.max_empty_data_frames = 10);
    let e = get(&c, "/").unwrap_err();
    assert!(e.message.contains("empty DATA"), "{}", e.message);
    assert_eq!(tripped(&c, Trip::EmptyData), 1);
    assert!(limit_events(&seen) >= 1);
    srv.finish();
}

#[test]
fn ping_flood_bounded_by_pending_acks() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let _r = c.next_request().unwrap();
        // One burst, read by the client in one go: the ACKs queue up before any is written.
        let mut burst = Vec::new();
        for i in 0..200u64 {
            frame_into(&mut burst, PING, 0, 0, &i.to_be_bytes());
        }
        c.raw(&burst);
        c.auto_ping_ack = false;
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, ENHANCE_YOUR_CALM);
    });
    let (c, _) = client(&srv.url(), |cfg| cfg.max_pending_acks = 20);
    let e = get(&c, "/").unwrap_err();
    assert!(e.message.contains("PING/SETTINGS flood"), "{}", e.message);
    assert_eq!(tripped(&c, Trip::Acks), 1);
    srv.finish();
}

#[test]
fn settings_flood_bounded_by_pending_acks() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let _r = c.next_request().unwrap();
        let mut burst = Vec::new();
        for _ in 0..200 {
            frame_into(&mut burst, SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]);
        }
        c.raw(&burst);
        c.auto_settings_ack = false;
        let (_, code, _) = c.expect_goaway();
        assert_eq!(code, ENHANCE_YOUR_CALM);
    });
    let (c, _) = client(&srv.url(), |cfg| cfg.max_pending_acks = 20);
    assert!(get(&c, "/").is_err());
    assert_eq!(tripped(&c, Trip::Acks), 1);
    srv.finish();
}

#[test]
fn glitch_flood() {
    let srv = flood_server(|c, id| {
        for _ in 0..50 {
            c.send(PRIORITY, 0, id, &[0, 0, 0, 0, 16]);
        }
    });
    let (c, _) = client(&srv.url(), |cfg| cfg.max_glitches = 20);
    let e = get(&c, "/").unwrap_err();
    assert!(e.message.contains("pointless frames"), "{}", e.message);
    assert_eq!(tripped(&c, Trip::Glitches), 1);
    srv.finish();
}

#[test]
fn oversized_headers_are_counted() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        let big = "v".repeat(3000);
        c.headers(r.stream_id, &[(":status", "200"), ("x-big", &big)], true);
        c.expect_rst(r.stream_id);
        c.expect_eof(Duration::from_secs(5));
    });
    let (c, seen) = client(&srv.url(), |cfg| {
        cfg.set_max_header_list_size(2048).unwrap()
    });
    assert_eq!(get(&c, "/").unwrap_err().kind, ErrorKind::HeadersTooLarge);
    assert_eq!(tripped(&c, Trip::HeaderList), 1);
    assert_eq!(limit_events(&seen), 1);
    drop(c);
    srv.finish();
}

#[test]
fn bulk_cancels_do_not_make_us_a_rapid_reset_source() {
    let srv = RawServer::start(|idx, mut c| {
        c.handshake(&[]);
        if idx == 0 {
            // Hold every request open; count the resets.
            let mut resets = 0;
            while let Some(f) = c.wait_frame(|f| f.kind == RST_STREAM || f.kind == GOAWAY) {
                if f.kind == RST_STREAM {
                    resets += 1;
                } else {
                    break;
                }
            }
            assert_eq!(resets, 20, "every cancelled stream is still reset");
        } else {
            while let Some(r) = c.next_request() {
                c.respond(r.stream_id, 200, b"fresh connection");
            }
        }
    });
    let (c, seen) = client(&srv.url(), |cfg| cfg.max_resets_per_second = 5);
    let calls: Vec<_> = (0..20)
        .map(|_| {
            c.start(Arc::new(Request::new("GET", "/hold").unwrap()))
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    for call in &calls {
        call.cancel();
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(tripped(&c, Trip::Resets), 1);
    assert!(limit_events(&seen) >= 1);
    // The churned connection takes no new streams: the next request uses a new one.
    assert_eq!(get(&c, "/next").unwrap().body(), b"fresh connection");
    drop(calls);
    drop(c);
    srv.finish();
}

/// A server that sends informational responses without end (200,000 `103`s were accepted
/// before) is cut off at `max_informational_responses`: RST_STREAM(ENHANCE_YOUR_CALM), the
/// counter, the event; the connection keeps serving.
#[test]
fn informational_response_flood_is_cut_off() {
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        let mut burst = Vec::new();
        let early = c.encode(&[(":status", "103"), ("link", "</s.css>; rel=preload")]);
        for _ in 0..1000 {
            frame_into(&mut burst, HEADERS, END_HEADERS, r.stream_id, &early);
        }
        c.raw(&burst);
        assert_eq!(c.expect_rst(r.stream_id), ENHANCE_YOUR_CALM);
        let r = c.next_request().unwrap();
        c.headers(r.stream_id, &[(":status", "103")], false);
        c.respond(r.stream_id, 200, b"ok");
        c.expect_eof(Duration::from_secs(5));
    });
    let (c, seen) = client(&srv.url(), |cfg| cfg.max_informational_responses = 8);
    let e = get(&c, "/").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol, "{}", e.message);
    assert_eq!(e.reason, Some(Reason::ENHANCE_YOUR_CALM));
    assert!(
        e.message.contains("more than 8 informational"),
        "{}",
        e.message
    );
    assert_eq!(tripped(&c, Trip::Informational), 1);
    assert_eq!(limit_events(&seen), 1);
    assert_eq!(get(&c, "/").unwrap().body(), b"ok");
    drop(c);
    srv.finish();
}
