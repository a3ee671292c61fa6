//! `SSLKEYLOGFILE`: with the variable set, TLS secrets are appended to the file in the NSS key
//! log format (what Wireshark reads). Its own test binary: the variable is read once per
//! process, when the first TLS configuration is made, so no other test may run before it here.

mod common;

use common::*;
use h2client::{Client, Config};
use h2client_testserver::TlsOptions;

#[test]
fn tls_secrets_go_to_sslkeylogfile_in_nss_format() {
    let dir = std::env::temp_dir().join(format!("h2c-keylog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keys.log");
    // SAFETY (set_var): this binary's only test sets it before any thread of the library or
    // the test server exists.
    unsafe { std::env::set_var("SSLKEYLOGFILE", &file) };
    let tls = server_with(|o| o.tls = Some(TlsOptions::default()));
    let mut cfg = Config::default();
    cfg.tls
        .set_ca_pem(tls.tls_ca_pem().unwrap().as_bytes())
        .unwrap();
    let c = Client::new(&tls.url(), cfg).unwrap();
    assert_eq!(get(&c, "/bytes/5").unwrap().body(), pattern(5).as_slice());
    let log = std::fs::read_to_string(&file).expect("the key log was written");
    // TLS 1.3 (the test server's default): the five secrets of one connection, each
    // "LABEL <client random, 64 hex digits> <secret in hex>".
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ] {
        let line = log
            .lines()
            .find(|l| l.starts_with(&format!("{label} ")))
            .unwrap_or_else(|| panic!("no {label} in {log}"));
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "{line}");
        assert_eq!(parts[1].len(), 64, "{line}");
        assert!(parts[1..]
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit())));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
