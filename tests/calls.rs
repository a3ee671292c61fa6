//! Calls in flight: streaming responses with real backpressure, streaming uploads, cancel,
//! completion queues, per-request timeouts, processed = NO / MAYBE / YES.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::rawserver::*;
use common::*;
use h2client::queue::{Completion, Queue};
use h2client::{ErrorKind, Processed, Request};

fn req(method: &str, path: &str) -> Arc<Request> {
    Arc::new(Request::new(method, path).unwrap())
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn streaming_download() {
    let s = server();
    let c = client_with(&s.url(), |_| {});
    let call = c.start(req("GET", "/bytes/3000000")).unwrap();
    call.wait_headers().unwrap();
    assert_eq!(call.status(), 200);
    assert_eq!(
        call.with_head(|r| r.headers().value(b"content-length").map(|v| v.to_vec())),
        Some(b"3000000".to_vec())
    );
    let body = read_all(&call);
    assert!(body == pattern(3_000_000), "body differs");
    assert!(call.is_done());
    // Trailers after the end.
    let call = c.start(req("GET", "/trailers")).unwrap();
    assert_eq!(read_all(&call), b"body with trailers\n");
    assert_eq!(
        call.with_trailers(|t| t
            .and_then(|t| t.value(b"x-trailer-two"))
            .map(|v| v.to_vec())),
        Some(b"two".to_vec())
    );
}

#[test]
fn streaming_upload_with_trailers() {
    let s = server();
    let c = client_with(&s.url(), |_| {});
    let mut r = Request::new("POST", "/echo").unwrap();
    r.set_streaming_body(true);
    let call = Arc::new(c.start(Arc::new(r)).unwrap());
    let reader = {
        let call = call.clone();
        std::thread::spawn(move || read_all(&call))
    };
    let mut sent = Vec::new();
    for i in 0..500u32 {
        let chunk: Vec<u8> = (0..(i * 37 % 5000)).map(|k| (k ^ i) as u8).collect();
        call.write(&chunk).unwrap();
        sent.extend_from_slice(&chunk);
    }
    let mut t = h2client::headers::HeaderList::new();
    t.push(b"x-checksum", b"abc");
    call.finish(Some(t)).unwrap();
    assert!(call.write(b"late").is_err(), "no writes after finish");
    let got = reader.join().unwrap();
    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "echoed body differs");
    assert_eq!(call.status(), 200);
    assert_eq!(
        call.with_trailers(|t| t
            .and_then(|t| t.value(b"x-echo-trailer-x-checksum"))
            .map(|v| v.to_vec())),
        Some(b"abc".to_vec())
    );
}

#[test]
fn write_requires_a_streaming_request() {
    let s = server();
    let c = client_with(&s.url(), |_| {});
    let call = c.start(req("POST", "/echo")).unwrap();
    assert_eq!(
        call.write(b"x").unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    let mut r = Request::new("POST", "/echo").unwrap();
    r.set_streaming_body(true);
    assert_eq!(
        c.execute(Arc::new(r)).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
}

#[test]
fn cancel_before_headers_during_body_after_and_twice() {
    let s = server();
    let c = Arc::new(client_with(&s.url(), |_| {}));
    // Before headers.
    let call = c.start(req("GET", "/delay/5000")).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    call.cancel();
    call.cancel();
    assert_eq!(call.wait_headers().unwrap_err().kind, ErrorKind::Canceled);
    assert_eq!(call.error().unwrap().kind, ErrorKind::Canceled);
    assert_eq!(call.error().unwrap().processed, Processed::Maybe);
    wait_for("server sees the first reset", || s.resets_received() >= 1);
    // During the body.
    let call = c.start(req("GET", "/slow-bytes/100000/1000/20")).unwrap();
    call.wait_headers().unwrap();
    let mut buf = [0u8; 100];
    assert!(call.read(&mut buf).unwrap() > 0);
    call.cancel();
    let e = call.read(&mut buf).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Canceled);
    assert_eq!(
        e.processed,
        Processed::Yes,
        "cancelled after the response head"
    );
    wait_for("server sees the second reset", || s.resets_received() >= 2);
    // After completion: nothing happens.
    let call = c.start(req("GET", "/")).unwrap();
    assert_eq!(read_all(&call), b"hello from h2testserver\n");
    call.cancel();
    assert!(call.error().is_none());
    // From another thread while this one blocks in read.
    let call = Arc::new(c.start(req("GET", "/wait-reset")).unwrap());
    call.wait_headers().unwrap();
    let c2 = call.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        c2.cancel();
    });
    assert_eq!(call.read(&mut buf).unwrap_err().kind, ErrorKind::Canceled);
    t.join().unwrap();
    wait_for("server sees the third reset", || s.resets_received() >= 3);
    // Dropped without finishing: cancelled.
    let call = c.start(req("GET", "/wait-reset")).unwrap();
    call.wait_headers().unwrap();
    drop(call);
    wait_for("server sees the fourth reset", || s.resets_received() >= 4);
    // The connection is still fine.
    assert_eq!(get(&c, "/").unwrap().status(), 200);
    assert_eq!(s.connections_accepted(), 1);
}

#[test]
fn ten_thousand_submits_through_one_queue() {
    let s = server_with(|o| o.max_concurrent_streams = Some(100));
    let c = client_with(&s.url(), |_| {});
    let q = Arc::new(Queue::new().unwrap());
    const N: usize = 10_000;
    let mut calls = Vec::with_capacity(N);
    for i in 0..N {
        let q2 = q.clone();
        let notify: h2client::exchange::Notify =
            std::sync::Arc::new(move |ex: &h2client::exchange::Exchange| {
                let code = ex_code(ex);
                q2.push(Completion {
                    tag: i as u64,
                    call: i,
                    result: code,
                });
            });
        calls.push(c.submit(req("GET", "/delay/50"), notify).unwrap());
    }
    let mut seen = vec![false; N];
    let mut got = Vec::new();
    let until = Instant::now() + Duration::from_secs(60);
    while got.len() < N {
        assert!(
            Instant::now() < until,
            "only {} of {N} completed",
            got.len()
        );
        q.poll(1000, Some(Duration::from_millis(100)), &mut got)
            .unwrap();
    }
    for comp in &got {
        assert_eq!(
            comp.result,
            0,
            "call {} failed: {:?}",
            comp.tag,
            calls[comp.call].error()
        );
        assert!(!seen[comp.tag as usize], "completion delivered twice");
        seen[comp.tag as usize] = true;
        assert_eq!(calls[comp.call].response().unwrap().status(), 200);
    }
    let n = s.connections_accepted();
    assert!(
        (2..=100).contains(&n),
        "{n} connections for 10,000 streams at 100 per connection"
    );
    assert!(s.max_streams_seen() <= 100);
}

fn ex_code(ex: &h2client::exchange::Exchange) -> u32 {
    ex.error().map_or(0, |e| e.kind as u32)
}

#[test]
fn each_timeout_has_its_own_message_and_resets() {
    let s = server();
    let c = client_with(&s.url(), |_| {});
    // Whole request, on an async call (no thread waits).
    let mut r = Request::new("GET", "/delay/3000").unwrap();
    r.set_timeout(Some(Duration::from_millis(150)));
    let call = c.start(Arc::new(r)).unwrap();
    let t0 = Instant::now();
    let e = call.wait_headers().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.message.contains("request timeout"), "{}", e.message);
    assert!(t0.elapsed() < Duration::from_secs(2));
    wait_for("reset 1", || s.resets_received() >= 1);
    // Time to response headers.
    let mut r = Request::new("GET", "/delay/3000").unwrap();
    r.set_headers_timeout(Some(Duration::from_millis(150)));
    let e = c.execute(Arc::new(r)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.message.contains("response headers"), "{}", e.message);
    wait_for("reset 2", || s.resets_received() >= 2);
    // Body idle: chunks 400 ms apart, idle limit 150 ms.
    let mut r = Request::new("GET", "/slow-bytes/1000/100/400").unwrap();
    r.set_body_idle_timeout(Some(Duration::from_millis(150)));
    let call = c.start(Arc::new(r)).unwrap();
    call.wait_headers().unwrap();
    let mut buf = [0u8; 1000];
    let e = loop {
        match call.read(&mut buf) {
            Ok(0) => panic!("body completed despite the idle timeout"),
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.message.contains("no DATA"), "{}", e.message);
    wait_for("reset 3", || s.resets_received() >= 3);
    // A body that keeps flowing is not cut by the idle timeout.
    let mut r = Request::new("GET", "/slow-bytes/1000/100/50").unwrap();
    r.set_body_idle_timeout(Some(Duration::from_millis(300)));
    let call = c.start(Arc::new(r)).unwrap();
    assert_eq!(read_all(&call).len(), 1000);
}

#[test]
fn processed_no_maybe_yes() {
    // NO: a streamed body the server refused cannot be replayed: not retried, processed NO.
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_headers().unwrap();
        c.wait_frame(|f| f.kind == DATA).unwrap();
        c.rst(r.stream_id, 7);
        // MAYBE: the connection dies with the request sent.
        let _ = c.next_headers();
    });
    let c = client_with(&srv.url(), |_| {});
    let mut r = Request::new("POST", "/up").unwrap();
    r.set_streaming_body(true);
    let call = c.start(Arc::new(r)).unwrap();
    call.write(b"some body").unwrap();
    let e = call.wait_headers().unwrap_err();
    assert_eq!(e.processed, Processed::No);
    assert_eq!(e.retries, 0);
    assert!(e.message.contains("cannot be replayed"), "{}", e.message);
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.processed, Processed::Maybe);
    drop(c);
    srv.finish();
    // YES: reset after the response head.
    let srv = RawServer::start(|_, mut c| {
        c.handshake(&[]);
        let r = c.next_request().unwrap();
        c.headers(r.stream_id, &[(":status", "200")], false);
        c.rst(r.stream_id, 2);
        c.expect_eof(Duration::from_secs(5));
    });
    let c = client_with(&srv.url(), |_| {});
    let e = get(&c, "/x").unwrap_err();
    assert_eq!(e.processed, Processed::Yes);
    assert_eq!(e.kind, ErrorKind::StreamReset);
    drop(c);
    srv.finish();
}

#[test]
fn retry_budget_stops_a_refusing_server() {
    let refused = Arc::new(AtomicUsize::new(0));
    let r2 = refused.clone();
    let srv = RawServer::start(move |_, mut c| {
        c.handshake(&[]);
        while let Some(r) = c.next_request() {
            r2.fetch_add(1, Ordering::SeqCst);
            c.rst(r.stream_id, 7);
        }
    });
    let c = client_with(&srv.url(), |_| {});
    // 200 requests, each allowed 3 retries: without a budget that is 800 refusals.
    for _ in 0..200 {
        let e = get(&c, "/x").unwrap_err();
        assert_eq!(e.processed, Processed::No);
    }
    let n = refused.load(Ordering::SeqCst);
    assert!(n <= 200 + 110, "{n} requests reached the server");
    drop(c);
}

#[test]
fn many_streaming_calls_from_threads() {
    let s = server();
    let c = Arc::new(client_with(&s.url(), |_| {}));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let c = c.clone();
            let errors = errors.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let n = (t * 977 + i * 131) % 200_000;
                    let call = c.start(req("GET", &format!("/bytes/{n}"))).unwrap();
                    let body = read_all(&call);
                    if body != pattern(n) {
                        errors.lock().unwrap().push(n);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(errors.lock().unwrap().is_empty());
}

/// Requests submitted by a thread that then waits without driving the runtime (it blocks on
/// a channel, not in the library) still go out and complete: a submit that found nobody
/// driving (the thread had just left it, the home thread lingering) left the writer's wake-up
/// to the next driver (`runtime::wake_soon`), here the home thread taking over. Several in a
/// row, so that all but the first go through the writer.
#[test]
fn submits_complete_while_the_submitter_waits_elsewhere() {
    let s = server_with(|o| o.max_concurrent_streams = Some(100));
    let c = client_with(&s.url(), |_| {});
    for round in 0..20 {
        // A blocking request first: this thread drives the runtime and leaves it, so that
        // the home thread lingers (nobody drives) when the submits come.
        assert_eq!(get(&c, "/").unwrap().status(), 200);
        let (tx, rx) = std::sync::mpsc::channel();
        const N: usize = 8;
        let mut calls = Vec::new();
        for _ in 0..N {
            let tx = tx.clone();
            let notify: h2client::exchange::Notify =
                std::sync::Arc::new(move |ex: &h2client::exchange::Exchange| {
                    let _ = tx.send(ex_code(ex));
                });
            calls.push(c.submit(req("GET", "/"), notify).unwrap());
        }
        for i in 0..N {
            let code = rx
                .recv_timeout(Duration::from_secs(5))
                .unwrap_or_else(|_| panic!("round {round}: only {i} of {N} completed"));
            assert_eq!(code, 0);
        }
        // Let the home thread go back to sleep sometimes, take over other times.
        std::thread::sleep(Duration::from_millis(round % 3));
    }
}
