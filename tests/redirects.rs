//! Following redirects (opt-in): method and body rules, credentials across origins, the
//! maximum, https to http, buffered and submitted requests, and the C API. Two test servers
//! give two origins.

mod common;

use common::capi::cs;

use std::ffi::{c_char, CStr};
use std::ptr::{null, null_mut};
use std::sync::mpsc;
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use h2client::ffi::*;
use h2client::{Client, Config, ErrorKind, Request, Response};
use h2client_testserver::TlsOptions;

/// Percent-encodes everything but unreserved characters (for a `to=` parameter).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `/redirect/CODE?to=...` on `base`.
fn redir(base: &str, code: u16, to: &str) -> String {
    format!("{base}/redirect/{code}?to={}", enc(to))
}

fn following(max: u32) -> Config {
    let mut c = Config::default();
    c.set_follow_redirects(max);
    c.set_request_timeout_ms(10_000);
    c
}

fn header(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .value(name.as_bytes())
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn send(c: &Client, method: &str, url: &str, f: impl FnOnce(&mut Request)) -> Response {
    try_send(c, method, url, f).unwrap_or_else(|e| panic!("{method} {url}: {}", e.message))
}

fn try_send(
    c: &Client,
    method: &str,
    url: &str,
    f: impl FnOnce(&mut Request),
) -> h2client::error::Result<Response> {
    let mut r = Request::from_url(method, url).unwrap();
    f(&mut r);
    c.execute(Arc::new(r))
}

#[test]
fn off_by_default_the_3xx_is_the_response() {
    let s = server();
    let c = Client::without_base(Config::default()).unwrap();
    let url = redir(&s.url(), 302, "/echo");
    let r = send(&c, "GET", &url, |_| {});
    assert_eq!(r.status(), 302);
    assert_eq!(header(&r, "location").as_deref(), Some("/echo"));
    assert_eq!(r.effective_url(), url);
    assert_eq!(r.redirect_count(), 0);
    // A path-only request's URL is on the base URL.
    let c = Client::new(&s.url(), Config::default()).unwrap();
    let r = get(&c, "/echo?x=1").unwrap();
    assert_eq!(r.effective_url(), format!("{}/echo?x=1", s.url()));
}

#[test]
fn relative_location_within_one_origin_keeps_credentials() {
    let s = server();
    let c = Client::new(&s.url(), following(5)).unwrap();
    let url = redir(&s.url(), 301, "../echo?y=2");
    let r = send(&c, "GET", &url, |r| {
        r.add_header(b"authorization", b"Bearer t").unwrap();
        r.add_header(b"cookie", b"a=1").unwrap();
        r.add_header(b"x-custom", b"kept").unwrap();
    });
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-echo-path").as_deref(), Some("/echo?y=2"));
    assert_eq!(
        header(&r, "x-echo-h-authorization").as_deref(),
        Some("Bearer t")
    );
    assert_eq!(header(&r, "x-echo-h-cookie").as_deref(), Some("a=1"));
    assert_eq!(header(&r, "x-echo-h-x-custom").as_deref(), Some("kept"));
    assert_eq!(r.effective_url(), format!("{}/echo?y=2", s.url()));
    assert_eq!(r.redirect_count(), 1);
}

#[test]
fn chain_across_origins_drops_credentials() {
    let (a, b) = (server(), server());
    let c = Client::new(&a.url(), following(5)).unwrap();
    let last = format!("{}/echo", b.url());
    let url = redir(&a.url(), 302, &redir(&a.url(), 308, &last));
    let r = send(&c, "GET", &url, |r| {
        r.add_header(b"authorization", b"Bearer t").unwrap();
        r.add_header(b"cookie", b"a=1").unwrap();
        r.add_header(b"proxy-authorization", b"Basic x").unwrap();
        r.add_header(b"x-custom", b"kept").unwrap();
    });
    assert_eq!(r.status(), 200);
    assert_eq!(r.redirect_count(), 2);
    assert_eq!(r.effective_url(), last);
    let port = b.url().rsplit(':').next().unwrap().to_owned();
    assert_eq!(
        header(&r, "x-echo-authority"),
        Some(format!("127.0.0.1:{port}"))
    );
    for gone in ["authorization", "cookie", "proxy-authorization"] {
        assert_eq!(header(&r, &format!("x-echo-h-{gone}")), None, "{gone}");
    }
    assert_eq!(header(&r, "x-echo-h-x-custom").as_deref(), Some("kept"));
    // Credentials in the first URL's userinfo are not sent to the other origin either, and
    // are not part of the effective URL.
    let with_user = url.replacen("http://", "http://u:p@", 1);
    let r = send(&c, "GET", &with_user, |_| {});
    assert_eq!(header(&r, "x-echo-h-authorization"), None);
    assert_eq!(r.effective_url(), last);
}

#[test]
fn see_other_becomes_get_and_drops_the_body() {
    let s = server();
    let c = Client::new(&s.url(), following(5)).unwrap();
    for code in [301, 302, 303] {
        let r = send(&c, "POST", &redir(&s.url(), code, "/echo"), |r| {
            r.add_header(b"content-type", b"text/plain").unwrap();
            r.add_header(b"content-length", b"5").unwrap();
            r.set_body(Bytes::from_static(b"hello"));
        });
        assert_eq!(r.status(), 200, "{code}");
        assert_eq!(
            header(&r, "x-echo-method").as_deref(),
            Some("GET"),
            "{code}"
        );
        assert!(r.body().is_empty(), "{code}");
        assert_eq!(header(&r, "x-echo-h-content-type"), None, "{code}");
        assert_eq!(header(&r, "x-echo-h-content-length"), None, "{code}");
    }
    // 303 turns PUT into GET too; 301 and 302 keep a PUT.
    let r = send(&c, "PUT", &redir(&s.url(), 303, "/echo"), |_| {});
    assert_eq!(header(&r, "x-echo-method").as_deref(), Some("GET"));
    let r = send(&c, "PUT", &redir(&s.url(), 302, "/echo"), |r| {
        r.set_body(Bytes::from_static(b"put body"));
    });
    assert_eq!(header(&r, "x-echo-method").as_deref(), Some("PUT"));
    assert_eq!(r.body(), b"put body");
    // HEAD stays HEAD on a 303.
    let r = send(&c, "HEAD", &redir(&s.url(), 303, "/bytes/10"), |_| {});
    assert_eq!((r.status(), r.redirect_count()), (200, 1));
    assert!(r.body().is_empty());
}

#[test]
fn temporary_and_permanent_redirects_keep_post_and_body() {
    let (a, b) = (server(), server());
    let c = Client::without_base(following(5)).unwrap();
    for code in [307, 308] {
        let url = redir(&a.url(), code, &format!("{}/echo", b.url()));
        let r = send(&c, "POST", &url, |r| {
            r.add_header(b"content-type", b"text/plain").unwrap();
            r.set_body(Bytes::from_static(b"the body"));
        });
        assert_eq!(r.status(), 200, "{code}");
        assert_eq!(header(&r, "x-echo-method").as_deref(), Some("POST"));
        assert_eq!(r.body(), b"the body", "{code}");
        assert_eq!(
            header(&r, "x-echo-h-content-type").as_deref(),
            Some("text/plain")
        );
    }
}

#[test]
fn too_many_redirects_names_the_chain() {
    let s = server();
    let c = Client::new(&s.url(), following(2)).unwrap();
    let end = format!("{}/echo", s.url());
    let third = redir(&s.url(), 302, &end);
    let second = redir(&s.url(), 302, &third);
    let first = redir(&s.url(), 302, &second);
    let e = try_send(&c, "GET", &first, |_| {}).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooManyRedirects, "{}", e.message);
    let want = format!("{first} -> {second} -> {third} -> {end}");
    assert!(e.message.contains(&want), "{}\nwant {want}", e.message);
    // Exactly the maximum is fine.
    let r = send(&c, "GET", &second, |_| {});
    assert_eq!((r.status(), r.redirect_count()), (200, 2));
}

#[test]
fn missing_or_bad_location_returns_the_3xx() {
    let s = server();
    let c = Client::new(&s.url(), following(5)).unwrap();
    let r = get(&c, "/redirect/302").unwrap();
    assert_eq!((r.status(), r.redirect_count()), (302, 0));
    let r = send(&c, "GET", &redir(&s.url(), 307, "http://[::1"), |_| {});
    assert_eq!((r.status(), r.redirect_count()), (307, 0));
    let r = send(&c, "GET", &redir(&s.url(), 301, "ftp://x/"), |_| {});
    assert_eq!(r.status(), 301);
    // Resolved by the URL parser, but not a URL a request can use.
    let r = send(
        &c,
        "GET",
        &redir(&s.url(), 302, "http://127.0.0.1:0/"),
        |_| {},
    );
    assert_eq!((r.status(), r.redirect_count()), (302, 0));
    // 300 and 304 are not redirects to follow.
    let r = send(&c, "GET", &redir(&s.url(), 300, "/echo"), |_| {});
    assert_eq!(r.status(), 300);
}

#[test]
fn https_to_http_is_refused_unless_allowed() {
    let (plain, tls) = (
        server(),
        server_with(|o| o.tls = Some(TlsOptions::default())),
    );
    let ca = tls.tls_ca_pem().unwrap();
    let target = format!("{}/echo", plain.url());
    let url = redir(&tls.url(), 302, &target);
    let mut cfg = following(5);
    cfg.tls.set_ca_pem(ca.as_bytes()).unwrap();
    let c = Client::without_base(cfg).unwrap();
    let r = send(&c, "GET", &url, |_| {});
    assert_eq!((r.status(), r.redirect_count()), (302, 0));
    assert_eq!(header(&r, "location"), Some(target.clone()));
    assert_eq!(r.effective_url(), url);
    let mut cfg = following(5);
    cfg.tls.set_ca_pem(ca.as_bytes()).unwrap();
    cfg.set_redirect_https_to_http(true);
    let c = Client::without_base(cfg).unwrap();
    let r = send(&c, "GET", &url, |_| {});
    assert_eq!((r.status(), r.redirect_count()), (200, 1));
    assert_eq!(r.effective_url(), target);
    // http to https is always followed.
    let r = send(
        &c,
        "GET",
        &redir(&plain.url(), 301, &format!("{}/echo", tls.url())),
        |_| {},
    );
    assert_eq!(header(&r, "x-echo-scheme").as_deref(), Some("https"));
}

#[test]
fn submitted_calls_follow_and_report_where_they_ended() {
    let (a, b) = (server(), server());
    let c = Client::new(&a.url(), following(5)).unwrap();
    let last = format!("{}/echo", b.url());
    let url = redir(&a.url(), 307, &redir(&b.url(), 302, "/echo"));
    let mut r = Request::from_url("POST", &url).unwrap();
    r.set_body(Bytes::from_static(b"sub"));
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let call = c
        .submit(
            Arc::new(r),
            std::sync::Arc::new(move |_: &h2client::exchange::Exchange| {
                let _ = tx.lock().unwrap().send(());
            }),
        )
        .unwrap();
    assert_eq!(call.effective_url(), url);
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("notified");
    assert!(call.is_done());
    assert_eq!(call.redirect_count(), 2);
    assert_eq!(call.effective_url(), last);
    let resp = call.response().unwrap();
    assert_eq!(resp.status(), 200);
    // 307 kept POST and its body, then 302 turned POST into GET.
    assert_eq!(header(&resp, "x-echo-method").as_deref(), Some("GET"));
    assert_eq!((resp.effective_url(), resp.redirect_count()), (&*last, 2));

    // Too many, through submit.
    let c1 = Client::new(&a.url(), following(1)).unwrap();
    let url = redir(&a.url(), 302, &redir(&a.url(), 302, "/echo"));
    let call = c1
        .submit(
            Arc::new(Request::from_url("GET", &url).unwrap()),
            std::sync::Arc::new(|_: &h2client::exchange::Exchange| {}),
        )
        .unwrap();
    let e = call.wait().unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooManyRedirects);
    assert!(call.response().is_err());

    // Without following, the call's URL is the request's.
    let c0 = Client::new(&a.url(), Config::default()).unwrap();
    let call = c0
        .submit(
            Arc::new(Request::new("GET", "/echo").unwrap()),
            std::sync::Arc::new(|_: &h2client::exchange::Exchange| {}),
        )
        .unwrap();
    call.wait().unwrap();
    assert_eq!(call.effective_url(), format!("{}/echo", a.url()));
    let resp = call.response().unwrap();
    assert_eq!(
        (resp.effective_url(), resp.redirect_count()),
        (call.effective_url(), 0)
    );
}

#[test]
fn cancel_stops_a_chain() {
    let s = server();
    let c = Client::new(&s.url(), following(5)).unwrap();
    let url = redir(&s.url(), 302, "/delay/5000");
    let call = c
        .submit(
            Arc::new(Request::from_url("GET", &url).unwrap()),
            std::sync::Arc::new(|_: &h2client::exchange::Exchange| {}),
        )
        .unwrap();
    // Cancel once the redirect is followed: the first hop done, the second one open.
    assert!(eventually(std::time::Duration::from_secs(5), || {
        let st = c.snapshot();
        st.requests_completed >= 1 && st.open_streams == 1
    }));
    call.cancel();
    let e = call.wait().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Canceled);
    // The hop in flight was reset too: the stream does not stay open.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while c.snapshot().open_streams > 0 {
        assert!(std::time::Instant::now() < deadline, "hop still open");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn streamed_request_bodies_get_the_3xx() {
    let s = server();
    let c = Client::new(&s.url(), following(5)).unwrap();
    let mut r = Request::from_url("POST", &redir(&s.url(), 307, "/echo")).unwrap();
    r.set_streaming_body(true);
    let call = c.start(Arc::new(r)).unwrap();
    call.write(b"abc").unwrap();
    call.finish(None).unwrap();
    call.wait_headers().unwrap();
    assert_eq!(call.status(), 307);
    assert_eq!(call.redirect_count(), 0);
}

#[test]
fn streaming_calls_follow_when_waited_on() {
    let (a, b) = (server(), server());
    let c = Client::new(&a.url(), following(3)).unwrap();
    let last = format!("{}/bytes/300000", b.url());
    let url = redir(&a.url(), 302, &redir(&b.url(), 308, "/bytes/300000"));
    let call = c
        .start(Arc::new(Request::from_url("GET", &url).unwrap()))
        .unwrap();
    assert_eq!(call.effective_url(), url);
    call.wait_headers().unwrap();
    assert_eq!(call.status(), 200);
    assert_eq!(call.redirect_count(), 2);
    assert_eq!(call.effective_url(), last);
    assert_eq!(read_all(&call), pattern(300_000));
    call.wait().unwrap();
    assert!(call.is_done());

    // Reading without waiting for the head follows too.
    let call = c
        .start(Arc::new(
            Request::from_url("GET", &redir(&a.url(), 301, "/bytes/10")).unwrap(),
        ))
        .unwrap();
    assert_eq!(read_all(&call), pattern(10));
    assert_eq!((call.status(), call.redirect_count()), (200, 1));

    // One too many fails the call.
    let four = redir(
        &a.url(),
        302,
        &redir(&a.url(), 302, &redir(&a.url(), 302, &url)),
    );
    let call = c
        .start(Arc::new(Request::from_url("GET", &four).unwrap()))
        .unwrap();
    let e = call.wait_headers().unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooManyRedirects, "{}", e.message);
    assert!(call.is_done());
    assert_eq!(call.error().unwrap().kind, ErrorKind::TooManyRedirects);
    assert_eq!(call.wait().unwrap_err().kind, ErrorKind::TooManyRedirects);
    let mut buf = [0u8; 10];
    assert_eq!(
        call.read(&mut buf).unwrap_err().kind,
        ErrorKind::TooManyRedirects
    );

    // Cancelled before being waited on.
    let call = c
        .start(Arc::new(Request::from_url("GET", &url).unwrap()))
        .unwrap();
    call.cancel();
    assert!(call.is_done());
    assert_eq!(call.wait_headers().unwrap_err().kind, ErrorKind::Canceled);
    drop(call);
    // Every redirect's stream was reset: none stays open.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while c.snapshot().open_streams > 0 {
        assert!(std::time::Instant::now() < deadline, "a stream stayed open");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn the_whole_request_timeout_covers_every_hop() {
    let s = server();
    let mut cfg = following(5);
    cfg.set_request_timeout_ms(300);
    let c = Client::new(&s.url(), cfg).unwrap();
    let start = std::time::Instant::now();
    let url = redir(&s.url(), 302, &redir(&s.url(), 302, "/delay/2000"));
    let e = try_send(&c, "GET", &url, |_| {}).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
    // Not the 2 s delay (with room for a loaded machine).
    assert!(start.elapsed() < std::time::Duration::from_millis(1900));
}

// ---- the C API ---------------------------------------------------------------------------

fn last_message() -> String {
    let mut buf = [0 as c_char; 1024];
    // SAFETY: buf is writable for its length.
    unsafe { h2_last_error_message(buf.as_mut_ptr(), buf.len()) };
    // SAFETY: NUL-terminated by h2_last_error_message.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// # Safety
/// `p` must be NULL or NUL-terminated.
unsafe fn string(p: *const c_char) -> Option<String> {
    // SAFETY: p is NULL or NUL-terminated (caller contract).
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

#[test]
fn c_api_follows_and_reports() {
    let (a, b) = (server(), server());
    let last = format!("{}/echo", b.url());
    let url = redir(&a.url(), 301, &last);
    // SAFETY: every pointer passed is live or NULL as each function allows.
    unsafe {
        assert_eq!(
            h2_config_set_follow_redirects(null_mut(), 3),
            H2_E_INVALID_ARGUMENT
        );
        let cfg = h2_config_new();
        assert_eq!(h2_config_set_follow_redirects(cfg, 1), H2_OK);
        assert_eq!(h2_config_set_redirect_https_to_http(cfg, 0), H2_OK);
        let client = h2_client_new(null(), cfg);
        h2_config_free(cfg);
        assert!(!client.is_null(), "{}", last_message());

        let req = h2_request_new_url(cs("GET").as_ptr(), cs(&url).as_ptr());
        let mut resp = null_mut();
        assert_eq!(
            h2_client_do(client, req, &mut resp),
            H2_OK,
            "{}",
            last_message()
        );
        assert_eq!(h2_response_status(resp), 200);
        assert_eq!(string(h2_response_effective_url(resp)), Some(last.clone()));
        assert_eq!(h2_response_redirect_count(resp), 1);
        h2_response_free(resp);
        assert!(h2_response_effective_url(null()).is_null());
        assert_eq!(h2_response_redirect_count(null()), 0);

        // Submitted through a queue.
        let q = h2_queue_new();
        let mut call = null_mut();
        assert_eq!(h2_client_submit(client, req, q, 7, &mut call), H2_OK);
        assert_eq!(string(h2_call_effective_url(call)), Some(url.clone()));
        assert_eq!(h2_call_wait(call), H2_OK, "{}", last_message());
        assert_eq!(string(h2_call_effective_url(call)), Some(last.clone()));
        assert_eq!(h2_call_redirect_count(call), 1);
        let mut resp = null_mut();
        assert_eq!(h2_call_response(call, &mut resp), H2_OK);
        assert_eq!(string(h2_response_effective_url(resp)), Some(last.clone()));
        h2_response_free(resp);
        h2_call_free(call);
        h2_queue_free(q);
        assert!(h2_call_effective_url(null()).is_null());
        assert_eq!(h2_call_redirect_count(null()), 0);

        // Streamed: followed when the head is waited for.
        let mut call = null_mut();
        assert_eq!(h2_client_start(client, req, &mut call), H2_OK);
        assert_eq!(h2_call_wait_headers(call), H2_OK, "{}", last_message());
        assert_eq!(h2_call_status(call), 200);
        assert_eq!(h2_call_redirect_count(call), 1);
        assert_eq!(string(h2_call_effective_url(call)), Some(last.clone()));
        assert_eq!(h2_call_wait(call), H2_OK);
        h2_call_free(call);
        h2_request_free(req);

        // One more than the maximum.
        let two = redir(&a.url(), 302, &url);
        let req = h2_request_new_url(cs("GET").as_ptr(), cs(&two).as_ptr());
        let mut resp = null_mut();
        assert_eq!(
            h2_client_do(client, req, &mut resp),
            H2_E_TOO_MANY_REDIRECTS
        );
        assert!(resp.is_null());
        let m = last_message();
        assert!(m.contains(&format!("{two} -> {url} -> {last}")), "{m}");
        assert_eq!(
            string(h2_error_name(H2_E_TOO_MANY_REDIRECTS)).as_deref(),
            Some("H2_E_TOO_MANY_REDIRECTS")
        );
        h2_request_free(req);
        h2_client_free(client);

        // Off by default: the 3xx, and the request's URL.
        let client = h2_client_new(null(), null());
        let req = h2_request_new_url(cs("GET").as_ptr(), cs(&url).as_ptr());
        let mut resp = null_mut();
        assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
        assert_eq!(h2_response_status(resp), 301);
        assert_eq!(string(h2_response_effective_url(resp)), Some(url.clone()));
        assert_eq!(h2_response_redirect_count(resp), 0);
        h2_response_free(resp);
        h2_request_free(req);
        h2_client_free(client);
    }
}
