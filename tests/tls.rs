//! HTTP/2 over TLS against the test server in TLS mode: success, trust options, every kind of
//! TLS failure with its own message, mutual TLS.

mod common;

use std::time::Instant;

use common::*;
use h2client::{Client, Config, ErrorKind};
use h2client_testserver::tls::{generate, generate_client};
use h2client_testserver::TlsOptions as ServerTls;

fn tls_server(f: impl FnOnce(&mut ServerTls)) -> Server {
    let mut t = ServerTls::default();
    f(&mut t);
    server_with(|o| o.tls = Some(t))
}

fn trusting(s: &Server) -> Config {
    let mut c = Config::default();
    c.tls
        .set_ca_pem(s.tls_ca_pem().expect("TLS server").as_bytes())
        .unwrap();
    c.set_request_timeout_ms(10_000);
    c
}

fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("h2client-tls-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

#[test]
fn https_round_trip_with_the_servers_ca() {
    let s = tls_server(|_| {});
    assert!(s.url().starts_with("https://"));
    let c = Client::new(&s.url(), trusting(&s)).unwrap();
    let r = get(&c, "/bytes/100000").unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.body(), pattern(100_000).as_slice());
    for n in [0usize, 1, 16 << 10, 1 << 20] {
        assert_eq!(get(&c, &format!("/bytes/{n}")).unwrap().body().len(), n);
    }
    assert_eq!(s.connections_accepted(), 1, "connection reused as for h2c");
}

#[test]
fn https_by_name_and_ca_file() {
    let s = tls_server(|_| {});
    let ca = temp_file("ca.pem", s.tls_ca_pem().unwrap());
    let mut cfg = Config::default();
    cfg.tls.set_ca_file(ca.to_str().unwrap()).unwrap();
    let url = format!("https://localhost:{}", s.addr().port());
    let c = Client::new(&url, cfg).unwrap();
    assert_eq!(get(&c, "/").unwrap().status(), 200);
}

#[test]
fn unknown_ca_is_rejected() {
    let s = tls_server(|_| {});
    let mut cfg = Config::default();
    // Some other CA.
    cfg.tls
        .set_ca_pem(generate(&["x.test"]).ca_pem.as_bytes())
        .unwrap();
    let c = Client::new(&s.url(), cfg).unwrap();
    let e = get(&c, "/").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Tls);
    assert!(e.message.contains("unknown CA"), "{}", e.message);
    assert_eq!(e.processed, h2client::Processed::No);
}

#[test]
fn system_store_does_not_trust_a_test_ca() {
    let s = tls_server(|_| {});
    let c = Client::new(&s.url(), Config::default()).unwrap();
    let e = get(&c, "/").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Tls);
    assert!(e.message.contains("unknown CA"), "{}", e.message);
}

#[test]
fn name_mismatch_is_rejected() {
    let s = tls_server(|t| t.names = vec!["example.test".into()]);
    let c = Client::new(&s.url(), trusting(&s)).unwrap();
    let e = get(&c, "/").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Tls);
    assert!(e.message.contains("name mismatch"), "{}", e.message);
    assert!(e.message.contains("127.0.0.1"), "{}", e.message);
}

#[test]
fn expired_certificate_is_rejected() {
    let s = tls_server(|t| t.expired = true);
    let c = Client::new(&s.url(), trusting(&s)).unwrap();
    let e = get(&c, "/").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Tls);
    assert!(e.message.contains("expired"), "{}", e.message);
}

#[test]
fn insecure_skip_verify_accepts_anything() {
    let s = tls_server(|t| {
        t.names = vec!["example.test".into()];
        t.expired = true;
    });
    let mut cfg = Config::default();
    cfg.tls.insecure_skip_verify = true;
    let c = Client::new(&s.url(), cfg).unwrap();
    assert_eq!(get(&c, "/").unwrap().status(), 200);
}

#[test]
fn server_without_h2_in_alpn() {
    let s = tls_server(|t| t.alpn = vec![b"http/1.1".to_vec()]);
    let c = Client::new(&s.url(), trusting(&s)).unwrap();
    let e = get(&c, "/").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Tls);
    // A rustls server with no protocol in common answers no_application_protocol.
    assert!(
        e.message
            .contains("server did not negotiate h2 over ALPN (offered: h2; selected: none"),
        "{}",
        e.message
    );
    let s = tls_server(|t| t.alpn = vec![]);
    let c = Client::new(&s.url(), trusting(&s)).unwrap();
    let e = get(&c, "/").unwrap_err();
    assert!(
        e.message
            .contains("server did not negotiate h2 over ALPN (offered: h2; selected: none)"),
        "{}",
        e.message
    );
}

#[test]
fn version_mismatch_is_a_handshake_failure() {
    let s = tls_server(|t| t.versions = vec![0x0303]);
    let mut cfg = trusting(&s);
    cfg.tls.set_versions(h2client::tls::TLS_1_3).unwrap();
    let c = Client::new(&s.url(), cfg).unwrap();
    let e = get(&c, "/").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Tls);
    assert!(e.message.contains("handshake failure"), "{}", e.message);
    // TLS 1.2 alone works.
    let mut cfg = trusting(&s);
    cfg.tls.set_versions(h2client::tls::TLS_1_2).unwrap();
    let c = Client::new(&s.url(), cfg).unwrap();
    assert_eq!(get(&c, "/").unwrap().status(), 200);
}

#[test]
fn client_certificates() {
    let id = generate_client("h2client test");
    let s = tls_server(|t| t.client_ca_pem = Some(id.ca_pem.clone()));
    // Without a certificate: refused.
    let c = Client::new(&s.url(), trusting(&s)).unwrap();
    let e = get(&c, "/").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Tls, "{e:?}");
    // With one: accepted.
    let cert = temp_file("client-cert.pem", &id.cert_pem);
    let key = temp_file("client-key.pem", &id.key_pem);
    let mut cfg = trusting(&s);
    cfg.tls
        .set_client_cert_files(cert.to_str().unwrap(), key.to_str().unwrap())
        .unwrap();
    let c = Client::new(&s.url(), cfg).unwrap();
    assert_eq!(get(&c, "/").unwrap().status(), 200);
}

#[test]
fn bad_pem_files_name_the_path() {
    let mut cfg = Config::default();
    let e = cfg.tls.set_ca_file("/no/such/ca.pem").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Tls);
    assert!(e.message.contains("/no/such/ca.pem"), "{}", e.message);
    let junk = temp_file("junk.pem", "hello\n");
    let e = cfg.tls.set_ca_file(junk.to_str().unwrap()).unwrap_err();
    assert!(e.message.contains(junk.to_str().unwrap()), "{}", e.message);
    let id = generate_client("x");
    let cert = temp_file("c.pem", &id.cert_pem);
    let e = cfg
        .tls
        .set_client_cert_files(cert.to_str().unwrap(), junk.to_str().unwrap())
        .unwrap_err();
    assert!(e.message.contains("junk.pem"), "{}", e.message);
}

#[test]
fn handshake_counts_against_the_connect_timeout() {
    // A TCP listener that never speaks TLS.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://127.0.0.1:{}", l.local_addr().unwrap().port());
    let mut cfg = Config::default();
    cfg.set_connect_timeout_ms(300).unwrap();
    let c = Client::new(&url, cfg).unwrap();
    let t0 = Instant::now();
    let e = get(&c, "/").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.message.contains("TLS handshake"), "{}", e.message);
    assert!(t0.elapsed().as_millis() < 2000);
    drop(l);
}
