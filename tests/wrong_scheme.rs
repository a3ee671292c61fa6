//! The wrong scheme for a port: `https://` to a cleartext server and `http://` to a TLS server
//! must say what the server answered and which scheme to use, not what the TLS library or the
//! frame parser choked on (issue 12 item 6).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use common::*;
use h2client::{ErrorKind, Origin, Processed};
use h2client_testserver::TlsOptions as ServerTls;

/// A listener that answers whatever it first receives with `reply`, then closes: stands for a
/// server that is not a TLS server (HTTP/1.x, or some other protocol).
fn answering(reply: &'static [u8]) -> (String, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let h = thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
        }
    });
    (format!("https://{addr}"), h)
}

fn https_error(url: &str) -> h2client::Error {
    let c = client_with(url, |c| c.set_request_timeout_ms(10_000));
    get(&c, "/").expect_err("the handshake must fail")
}

#[test]
fn https_to_an_h2c_server_says_use_http() {
    let s = server();
    let url = s.url().replacen("http://", "https://", 1);
    let e = https_error(&url);
    // Before: "TLS error with 127.0.0.1: received corrupt message of type InvalidContentType".
    let want = format!(
        "server at {} answered our TLS ClientHello with an HTTP/2 SETTINGS frame in cleartext: \
         it speaks HTTP/2 without TLS (h2c); use http://",
        s.addr()
    );
    assert_eq!(&*e.message, want);
    assert_eq!(e.kind, ErrorKind::Tls);
    assert_eq!(e.origin, Origin::Transport);
    assert_eq!(e.processed, Processed::No);
}

#[test]
fn https_to_an_http1_server_says_http2_only() {
    let (url, h) = answering(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    let e = https_error(&url);
    assert!(
        e.message.ends_with(
            "answered our TLS ClientHello in plain HTTP/1.x: use http://, and note that \
             h2client speaks HTTP/2 only"
        ),
        "{}",
        e.message
    );
    assert_eq!(e.kind, ErrorKind::Tls);
    assert_eq!(e.processed, Processed::No);
    h.join().unwrap();
}

#[test]
fn https_to_something_else_shows_its_bytes() {
    let (url, h) = answering(b"SSH-2.0-OpenSSH_9.2p1\r\n");
    let e = https_error(&url);
    assert!(
        e.message.ends_with(
            "answered our TLS ClientHello with non-TLS bytes \
             (53 53 48 2d 32 2e 30 2d 4f 70 65 6e 53 53 48 5f): is this a TLS port?"
        ),
        "{}",
        e.message
    );
    assert_eq!(e.kind, ErrorKind::Tls);
    h.join().unwrap();
}

#[test]
fn http_to_a_tls_server_says_use_https() {
    let s = server_with(|o| o.tls = Some(ServerTls::default()));
    let url = s.url().replacen("https://", "http://", 1);
    let c = client_with(&url, |c| c.set_request_timeout_ms(10_000));
    let e = get(&c, "/").expect_err("a TLS server cannot answer h2c");
    // Before: "connection closed by 127.0.0.1:PORT (EOF) with 1 stream(s) open". A rustls
    // server answers our preface with a TLS alert record; a server that only closes gets the
    // "may expect TLS" wording: both name the fix.
    assert!(e.message.contains("use https://"), "{}", e.message);
    assert!(e.message.contains(&s.addr().to_string()), "{}", e.message);
}
