//! The caller-thread write path is for a request alone on its connection only: with other
//! requests in flight, HEADERS go through the writer task, which writes many in one system
//! call. (Taking the fast path for every request cut h2bench's `-c1 -m100` throughput from
//! ~260k to ~54k requests/s: a write per request, and a server wake-up per request.)

mod common;

use std::sync::Arc;

use common::server;
use h2client::{Client, Config, Request};

#[test]
fn requests_in_flight_go_through_the_writer() {
    let s = server();
    let c = Client::new(&s.url(), Config::default()).unwrap();
    // The connection exists and is idle: a lone request may take the fast path.
    let r = c
        .execute(Arc::new(Request::new("GET", "/").unwrap()))
        .unwrap();
    assert_eq!(r.status(), 200);
    let before = c.snapshot().fast_submits;
    assert!(before <= 1, "one request, {before} fast submissions");

    // 50 requests started back to back while the first ones are still in flight (the server
    // holds each response for 300 ms): at most the first finds its connection empty.
    let calls: Vec<_> = (0..50)
        .map(|_| {
            c.start(Arc::new(Request::new("GET", "/delay/300").unwrap()))
                .unwrap()
        })
        .collect();
    for call in &calls {
        call.wait().unwrap();
        assert_eq!(call.status(), 200);
    }
    let fast = c.snapshot().fast_submits - before;
    assert!(
        fast <= 1,
        "{fast} of 50 concurrent requests were written by the submitting thread"
    );
}

/// A request written by the submitting thread registers its stream with the reader without
/// waking the reader's task: that wake-up cost the runtime's thread a second sleep and wake
/// per request at `-c1 -m1` (the response read picks the registration up).
#[test]
fn a_lone_request_does_not_wake_the_reader() {
    let s = server();
    let c = Client::new(&s.url(), Config::default()).unwrap();
    let get = Arc::new(Request::new("GET", "/").unwrap());
    // Connect and settle (SETTINGS exchange).
    assert_eq!(c.execute(get.clone()).unwrap().status(), 200);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let before = c.snapshot();
    for _ in 0..100 {
        assert_eq!(c.execute(get.clone()).unwrap().status(), 200);
    }
    let after = c.snapshot();
    let fast = after.fast_submits - before.fast_submits;
    let woken = after.reader_messages - before.reader_messages;
    assert!(
        fast >= 90,
        "only {fast} of 100 lone requests took the fast path"
    );
    // A request that found the writer busy went through its channel (and registered with a
    // message); the fast ones must not have woken the reader.
    assert!(
        woken <= 100 - fast + 3,
        "the reader woke for {woken} messages during 100 sequential requests ({fast} fast)"
    );
}
