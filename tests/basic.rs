//! Round trips against the project's test server (the h2 crate's server).

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use h2client::{ErrorKind, Request};

#[test]
fn get_hello() {
    let s = server();
    let c = client_with(&s.url(), |_| {});
    let r = get(&c, "/").unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.body(), b"hello from h2testserver\n");
    assert_eq!(r.headers().value(b"content-type"), Some(&b"text/plain"[..]));
}

#[test]
fn bodies_of_many_sizes() {
    let s = server();
    let c = client_with(&s.url(), |_| {});
    for n in [0usize, 1, 16 << 10, 65_535, 65_536, 1 << 20, 5 << 20] {
        let r = get(&c, &format!("/bytes/{n}")).unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.body().len(), n);
        assert!(
            r.body() == pattern(n).as_slice(),
            "body of {n} bytes differs"
        );
    }
    assert_eq!(s.connections_accepted(), 1, "one connection reused");
}

#[test]
fn post_echo() {
    let s = server();
    let c = client_with(&s.url(), |_| {});
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut req = Request::new("POST", "/echo?x=1").unwrap();
    req.add_header(b"X-Custom", b"hello").unwrap();
    req.set_body(Bytes::from(body.clone()));
    let r = c.execute(Arc::new(req)).unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.body(), body.as_slice());
    assert_eq!(r.headers().value(b"x-echo-method"), Some(&b"POST"[..]));
    assert_eq!(r.headers().value(b"x-echo-path"), Some(&b"/echo?x=1"[..]));
    assert_eq!(r.headers().value(b"x-echo-h-x-custom"), Some(&b"hello"[..]));
    assert_eq!(
        r.headers().value(b"x-echo-h-content-length"),
        Some(b"300000".as_slice())
    );
}

#[test]
fn trailers_and_many_headers() {
    let s = server();
    let c = client_with(&s.url(), |_| {});
    let r = get(&c, "/trailers").unwrap();
    assert_eq!(r.body(), b"body with trailers\n");
    assert_eq!(r.trailers().value(b"x-trailer-two"), Some(&b"two"[..]));
    let r = get(&c, "/headers/300").unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .iter()
            .filter(|(n, _)| n.starts_with(b"x-header-"))
            .count(),
        300
    );
}

#[test]
fn status_and_reset() {
    let s = server();
    let c = client_with(&s.url(), |_| {});
    assert_eq!(get(&c, "/status/503").unwrap().status(), 503);
    assert_eq!(get(&c, "/nope").unwrap().status(), 404);
    let e = get(&c, "/reset/8").unwrap_err();
    assert_eq!(e.kind, ErrorKind::StreamReset);
    assert_eq!(e.reason, Some(h2client::Reason::CANCEL));
    assert!(e.message.contains("CANCEL"), "{}", e.message);
}

#[test]
fn many_threads_share_one_client() {
    let s = server();
    let c = Arc::new(client_with(&s.url(), |_| {}));
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let n = (t * 7 + i) % 3000;
                    let r = get(&c, &format!("/bytes/{n}")).unwrap();
                    assert_eq!(r.body().len(), n);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.connections_accepted(), 1);
}

#[test]
fn request_timeout() {
    let s = server();
    let c = client_with(&s.url(), |cfg| cfg.set_request_timeout_ms(100));
    let t0 = std::time::Instant::now();
    let e = get(&c, "/delay/5000").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.message.contains("timed out"));
    assert!(t0.elapsed() < std::time::Duration::from_secs(2));
    // the server sees the reset
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while s.resets_received() == 0 && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(s.resets_received(), 1);
    // and the connection still works
    assert_eq!(get(&c, "/").unwrap().status(), 200);
}
