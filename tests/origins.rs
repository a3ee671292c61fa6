//! One client for every origin: absolute request URLs, a pool per origin, the whole-client
//! connection cap, per-origin statistics, and origins forgotten after their idle timeout.
//! Through the Rust API and through the C functions (called as C calls them).

mod common;

use common::capi::{cs, last_code, last_message};

use std::ptr::{null, null_mut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::proxy::rss_kib;
use common::*;
use h2client::ffi::*;
use h2client::{Client, Config, ErrorKind, Request, Response};
use h2client_testserver::TlsOptions;

fn url_get(c: &Client, url: &str) -> h2client::error::Result<Response> {
    c.execute(Arc::new(Request::from_url("GET", url).expect("request")))
}

fn header(r: &Response, name: &str) -> String {
    String::from_utf8_lossy(r.headers().value(name.as_bytes()).unwrap_or(b"")).into_owned()
}

fn tls_server() -> Server {
    server_with(|o| o.tls = Some(TlsOptions::default()))
}

fn trusting(tls: &Server) -> Config {
    let mut c = Config::default();
    c.tls
        .set_ca_pem(tls.tls_ca_pem().expect("TLS server").as_bytes())
        .unwrap();
    c.set_request_timeout_ms(10_000);
    c
}

#[test]
fn one_client_without_base_fetches_from_three_origins_at_once() {
    let (a, tls, c) = (server(), tls_server(), server());
    let client = Client::without_base(trusting(&tls)).unwrap();
    let origins = [a.url(), tls.url(), c.url()];
    std::thread::scope(|s| {
        for (i, base) in origins.iter().enumerate() {
            for t in 0..4 {
                let client = &client;
                s.spawn(move || {
                    for n in 0..10 {
                        let len = 1000 * (i + 1) + n + t;
                        let r = url_get(client, &format!("{base}/bytes/{len}")).unwrap();
                        assert_eq!(r.status(), 200);
                        assert_eq!(r.body(), pattern(len).as_slice());
                        let r = url_get(client, &format!("{base}/echo?x=1#frag")).unwrap();
                        let port = base.rsplit(':').next().unwrap();
                        assert_eq!(header(&r, "x-echo-authority"), format!("127.0.0.1:{port}"));
                        assert_eq!(header(&r, "x-echo-path"), "/echo?x=1");
                        let scheme = if i == 1 { "https" } else { "http" };
                        assert_eq!(header(&r, "x-echo-scheme"), scheme);
                    }
                });
            }
        }
    });
    for s in [&a, &tls, &c] {
        assert_eq!(s.connections_accepted(), 1, "one connection per origin");
        assert_eq!(s.requests_served(), 80);
    }
    let total = client.snapshot();
    assert_eq!(total.requests_completed, 240);
    assert_eq!(total.connections, 3);
    assert_eq!(total.connections_opened, 3);
    assert_eq!(client.connections_counted(), 3);
    for base in &origins {
        let o = client.origin_snapshot(base).unwrap();
        assert_eq!((o.requests_completed, o.connections), (80, 1), "{base}");
    }
    assert_eq!(client.origins_held(), 3);
    // A path alone has nowhere to go.
    let e = get(&client, "/").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(e.message.contains("no base URL"), "{}", e.message);
}

#[test]
fn a_client_with_a_base_url_takes_urls_of_other_origins() {
    let (a, b) = (server(), server());
    let client = client_with(&a.url(), |_| {});
    assert_eq!(
        get(&client, "/bytes/10").unwrap().body(),
        pattern(10).as_slice()
    );
    let r = url_get(&client, &format!("{}/bytes/20", b.url())).unwrap();
    assert_eq!(r.body(), pattern(20).as_slice());
    // A URL of the base origin uses the base pool, not a second one.
    url_get(&client, &format!("{}/", a.url())).unwrap();
    assert_eq!((a.connections_accepted(), b.connections_accepted()), (1, 1));
    assert_eq!((a.requests_served(), b.requests_served()), (2, 1));
    assert_eq!(client.origins_held(), 1);
    assert_eq!(
        client.origin_snapshot(&a.url()).unwrap().requests_completed,
        2
    );
    assert_eq!(
        client.origin_snapshot(&b.url()).unwrap().requests_completed,
        1
    );
    assert_eq!(client.snapshot().requests_completed, 3);
    let unknown = client.origin_snapshot("http://127.0.0.1:1").unwrap();
    assert_eq!(unknown.requests_completed, 0);
    assert_eq!(
        client.origin_snapshot("ftp://x").unwrap_err().kind,
        ErrorKind::InvalidUrl
    );
}

#[test]
fn userinfo_becomes_basic_authorization_and_host_does_not_route() {
    let (a, b) = (server(), server());
    let client = client_with(&a.url(), |_| {});
    let port = b.addr().port();
    let r = url_get(
        &client,
        &format!("http://us%65r:p%40ss@127.0.0.1:{port}/echo"),
    )
    .unwrap();
    // base64("user:p@ss")
    assert_eq!(header(&r, "x-echo-h-authorization"), "Basic dXNlcjpwQHNz");
    assert_eq!(header(&r, "x-echo-authority"), format!("127.0.0.1:{port}"));
    // A host header overrides :authority but the connection is still the URL's origin.
    let mut req = Request::from_url("GET", &format!("{}/echo", b.url())).unwrap();
    req.add_header(b"host", b"example.test").unwrap();
    let r = client.execute(Arc::new(req)).unwrap();
    assert_eq!(header(&r, "x-echo-authority"), "example.test");
    assert_eq!((a.requests_served(), b.requests_served()), (0, 2));
}

#[test]
fn the_whole_client_cap_holds_over_origins() {
    let (a, b) = (server(), server());
    let client = Client::without_base({
        let mut c = Config::default();
        c.set_max_connections(1).unwrap();
        // Connections never idle out: only the cap can close a's.
        c.set_idle_timeout_ms(0);
        c.set_request_timeout_ms(10_000);
        c
    })
    .unwrap();
    url_get(&client, &format!("{}/", a.url())).unwrap();
    assert_eq!(client.connections_counted(), 1);
    // b's request closes a's idle connection (as curl at its total cap) and connects.
    url_get(&client, &format!("{}/", b.url())).unwrap();
    assert_eq!(client.connections_counted(), 1);
    assert_eq!(a.connections_accepted() + b.connections_accepted(), 2);
    assert!(client.snapshot().connections <= 1);

    // a busy connection is not closed: a's request waits until b's response has arrived,
    // then b's connection, idle, gives way.
    let call = client
        .start(Arc::new(
            Request::from_url("GET", &format!("{}/slow-bytes/6/2/150", b.url())).unwrap(),
        ))
        .unwrap();
    call.wait_headers().unwrap();
    url_get(&client, &format!("{}/bytes/5", a.url())).unwrap();
    assert_eq!(read_all(&call), pattern(6));
    assert_eq!((a.connections_accepted(), b.connections_accepted()), (2, 1));
}

#[test]
fn ten_thousand_origins_are_forgotten_after_the_idle_timeout() {
    // Nothing listens on 127.x.y.z:PORT but 127.0.0.1: every dial is refused at once.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let client = Client::without_base({
        let mut c = Config::default();
        c.set_idle_timeout_ms(300);
        c
    })
    .unwrap();
    const N: usize = 10_000;
    let rss0 = rss_kib();
    let t = Instant::now();
    for i in 0..N {
        let host = format!("127.{}.{}.{}", 1 + i / 62_500, (i / 250) % 250, 2 + i % 250);
        let e = url_get(&client, &format!("http://{host}:{port}/")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Connect, "{}", e.message);
    }
    let filled = t.elapsed();
    let held_max = client.origins_held();
    let rss1 = rss_kib();
    // Swept by the timer (every idle timeout) once idle for the idle timeout.
    let until = Instant::now() + Duration::from_secs(10);
    while client.origins_held() > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let rss2 = rss_kib();
    let swept = client.origins_held();
    // Another 10,000 origins reuse the memory the first ones gave back.
    for i in 0..N {
        let host = format!(
            "127.{}.{}.{}",
            100 + i / 62_500,
            (i / 250) % 250,
            2 + i % 250
        );
        assert!(url_get(&client, &format!("http://{host}:{port}/")).is_err());
    }
    let rss3 = rss_kib();
    eprintln!(
        "{N} origins in {filled:?}: map held {held_max}, RSS {rss0} KiB before, {rss1} KiB with \
         them, {rss2} KiB after the sweep (map {swept}), {rss3} KiB after {N} more"
    );
    assert!(held_max > 0);
    assert_eq!(swept, 0, "the map shrinks to nothing");
    let s = client.snapshot();
    assert_eq!(
        s.requests_failed,
        2 * N as u64,
        "forgotten origins' counters are kept"
    );
    assert_eq!(client.connections_counted(), 0);
    drop(held);
}

// ---- the C API ---------------------------------------------------------------------------

/// Sends `req` with `h2_client_do`; the status, or the error code.
unsafe fn c_do(client: *mut h2_client, req: *const h2_request) -> Result<u16, h2_result> {
    let mut resp = null_mut();
    let rc = h2_client_do(client, req, &mut resp);
    if rc != H2_OK {
        return Err(rc);
    }
    let status = h2_response_status(resp);
    h2_response_free(resp);
    Ok(status)
}

unsafe fn c_stats(client: *const h2_client, origin: Option<&str>) -> Result<h2_stats, h2_result> {
    let mut st = h2_stats::default();
    let rc = match origin {
        None => h2_client_stats(client, &mut st),
        Some(o) => h2_client_origin_stats(client, cs(o).as_ptr(), &mut st),
    };
    if rc == H2_OK {
        Ok(st)
    } else {
        Err(rc)
    }
}

#[test]
fn c_api_null_base_url_client_and_absolute_urls() {
    let (a, tls, c) = (server(), tls_server(), server());
    // SAFETY: every pointer passed is live or NULL as each function allows.
    unsafe {
        let cfg = h2_config_new();
        let ca = tls.tls_ca_pem().unwrap();
        assert_eq!(h2_config_set_ca_pem(cfg, ca.as_ptr(), ca.len()), H2_OK);
        assert_eq!(
            h2_config_set_max_connections_per_origin(cfg, 0),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(h2_config_set_max_connections_per_origin(cfg, 2), H2_OK);
        assert_eq!(
            h2_config_set_max_connections_per_origin(null_mut(), 2),
            H2_E_INVALID_ARGUMENT
        );
        let client = h2_client_new(null(), cfg);
        h2_config_free(cfg);
        assert!(!client.is_null(), "{}", last_message());

        // A path needs a base URL.
        let path_req = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
        assert_eq!(c_do(client, path_req), Err(H2_E_INVALID_ARGUMENT));
        assert!(last_message().contains("no base URL"), "{}", last_message());
        h2_request_free(path_req);

        for (s, n) in [(&a, 1), (&tls, 2), (&c, 3)] {
            let req = h2_request_new_url(
                cs("GET").as_ptr(),
                cs(&format!("{}/bytes/{n}", s.url())).as_ptr(),
            );
            assert!(!req.is_null(), "{}", last_message());
            for _ in 0..n {
                assert_eq!(c_do(client, req), Ok(200));
            }
            h2_request_free(req);
        }
        let total = c_stats(client, None).unwrap();
        assert_eq!(total.requests_completed, 6);
        assert_eq!(total.connections_open, 3);
        for (s, n) in [(&a, 1), (&tls, 2), (&c, 3)] {
            let st = c_stats(client, Some(&s.url())).unwrap();
            assert_eq!((st.requests_completed, st.connections_open), (n, 1));
        }
        // The same origin spelled with the default port left out: zeros for one never used.
        let st = c_stats(client, Some("https://localhost")).unwrap();
        assert_eq!(st.requests_completed, 0);
        assert_eq!(
            c_stats(client, Some("gopher://x")).err(),
            Some(H2_E_INVALID_URL)
        );
        assert_eq!(
            h2_client_origin_stats(client, null(), &mut h2_stats::default()),
            H2_E_INVALID_ARGUMENT
        );
        h2_client_free(client);
    }
}

#[test]
fn c_api_bad_urls_name_the_part() {
    // SAFETY: every pointer passed is live or NULL as each function allows.
    unsafe {
        for (url, part) in [
            ("ftp://x/", "scheme 'ftp'"),
            ("http://x:70000/", "port"),
            ("http://[::1/", "IPv6"),
            ("relative/path", "missing scheme"),
        ] {
            assert!(h2_request_new_url(cs("GET").as_ptr(), cs(url).as_ptr()).is_null());
            assert_eq!(last_code(), H2_E_INVALID_URL, "{url}");
            assert!(last_message().contains(part), "{url}: {}", last_message());
        }
        assert!(h2_request_new_url(null(), cs("http://x/").as_ptr()).is_null());
        assert_eq!(last_code(), H2_E_INVALID_ARGUMENT);
        assert!(h2_request_new_url(cs("GET").as_ptr(), null()).is_null());
        assert_eq!(last_code(), H2_E_INVALID_ARGUMENT);
        assert!(h2_request_new_url(cs("CONNECT").as_ptr(), cs("http://x/").as_ptr()).is_null());
        assert_eq!(last_code(), H2_E_INVALID_ARGUMENT);
    }
}

#[test]
fn c_api_base_url_client_takes_another_origin() {
    let (a, b) = (server(), server());
    // SAFETY: every pointer passed is live or NULL as each function allows.
    unsafe {
        let client = h2_client_new(cs(&a.url()).as_ptr(), null());
        assert!(!client.is_null());
        let here = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
        let there = h2_request_new_url(cs("GET").as_ptr(), cs(&format!("{}/", b.url())).as_ptr());
        assert_eq!(c_do(client, here), Ok(200));
        assert_eq!(c_do(client, there), Ok(200));
        assert_eq!((a.requests_served(), b.requests_served()), (1, 1));
        assert_eq!(c_stats(client, None).unwrap().connections_open, 2);
        h2_request_free(here);
        h2_request_free(there);
        h2_client_free(client);
    }
}

#[test]
fn close_idle_connections_closes_only_the_idle_ones_of_every_origin() {
    let (a, b) = (server(), server());
    let client = Client::without_base(Config::default()).unwrap();
    url_get(&client, &format!("{}/", a.url())).unwrap();
    url_get(&client, &format!("{}/", b.url())).unwrap();
    // b's only connection is busy with a response that takes a while.
    let call = client
        .start(Arc::new(
            Request::from_url("GET", &format!("{}/slow-bytes/8/2/100", b.url())).unwrap(),
        ))
        .unwrap();
    call.wait_headers().unwrap();
    assert_eq!(client.snapshot().connections, 2);

    assert_eq!(client.close_idle_connections(), 1, "a's connection only");
    assert!(
        eventually(Duration::from_secs(5), || client.snapshot().connections
            == 1),
        "a's connection closes"
    );
    // The busy one was left alone: the response arrives whole.
    let mut body = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match call.read(&mut buf).unwrap() {
            0 => break,
            n => body.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(body, pattern(8));
    // The next request to a dials again; b's connection is still the first one.
    url_get(&client, &format!("{}/", a.url())).unwrap();
    url_get(&client, &format!("{}/", b.url())).unwrap();
    assert_eq!((a.connections_accepted(), b.connections_accepted()), (2, 1));
    assert_eq!(client.close_idle_connections(), 2);
    assert!(eventually(Duration::from_secs(5), || client
        .snapshot()
        .connections
        == 0));
    assert_eq!(client.close_idle_connections(), 0);
}

#[test]
fn c_api_close_idle_connections() {
    let a = server();
    // SAFETY: every pointer passed is live or NULL as each function allows.
    unsafe {
        assert_eq!(
            h2_client_close_idle_connections(null(), null_mut()),
            H2_E_INVALID_ARGUMENT
        );
        let client = h2_client_new(cs(&a.url()).as_ptr(), null());
        assert!(!client.is_null(), "{}", last_message());
        let req = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
        assert_eq!(c_do(client, req), Ok(200));
        let mut closed = usize::MAX;
        assert_eq!(h2_client_close_idle_connections(client, &mut closed), H2_OK);
        assert_eq!(closed, 1);
        assert_eq!(h2_client_close_idle_connections(client, null_mut()), H2_OK);
        // The request after it opens a new connection and succeeds.
        assert_eq!(c_do(client, req), Ok(200));
        assert_eq!(a.connections_accepted(), 2);
        h2_request_free(req);
        h2_client_free(client);
    }
}
