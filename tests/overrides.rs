//! curl's `--resolve`, `--connect-to` and `--interface` (an address): the URL still names the
//! origin (`:authority`), only the address dialled changes.

mod common;

use std::ffi::CString;

use common::rawserver::*;
use common::*;
use h2client::overrides::{ConnectTo, Resolve};
use h2client::{Client, Config, ErrorKind};

/// A scripted server that answers each request with its `:authority`.
fn authority_echo() -> RawServer {
    RawServer::start(|_, mut c| {
        c.handshake(&[]);
        while let Some(r) = c.next_request() {
            let a = r.header(":authority").unwrap_or("").to_string();
            c.respond(r.stream_id, 200, a.as_bytes());
        }
    })
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

fn client(base: &str, f: impl FnOnce(&mut Config)) -> Client {
    let mut cfg = Config::default();
    cfg.set_request_timeout_ms(5000);
    cfg.set_connect_timeout_ms(2000).unwrap();
    f(&mut cfg);
    Client::new(base, cfg).unwrap()
}

#[test]
fn resolve_dials_the_given_address_and_keeps_the_authority() {
    let srv = authority_echo();
    let port = port_of(&srv.url());
    // A name that DNS does not know (RFC 6761 .invalid): only the override can reach it.
    let base = format!("http://h2client.invalid:{port}");
    let c = client(&base, |cfg| {
        let r = Resolve::parse(&format!("h2client.invalid:{port}:127.0.0.1")).unwrap();
        cfg.overrides.resolve.push(r);
    });
    let r = get(&c, "/").unwrap();
    assert_eq!(r.body(), format!("h2client.invalid:{port}").as_bytes());
}

#[test]
fn connect_to_redirects_the_connection_only() {
    let srv = authority_echo();
    let port = port_of(&srv.url());
    let c = client("http://h2client.invalid", |cfg| {
        let e = ConnectTo::parse(&format!("h2client.invalid:80:127.0.0.1:{port}")).unwrap();
        cfg.overrides.connect_to.push(e);
    });
    let r = get(&c, "/").unwrap();
    assert_eq!(r.body(), b"h2client.invalid");
}

#[test]
fn local_address_binds_before_connecting() {
    let s = server();
    let c = client(&s.url(), |cfg| {
        cfg.overrides.local_address = Some("127.0.0.1".parse().unwrap());
    });
    assert_eq!(get(&c, "/").unwrap().status(), 200);
    // An address this machine does not have (TEST-NET-1): nothing is sent anywhere.
    let c = client(&s.url(), |cfg| {
        cfg.overrides.local_address = Some("192.0.2.1".parse().unwrap());
    });
    let e = get(&c, "/").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Connect, "{}", e.message);
    assert!(
        e.message.contains("cannot bind to local address 192.0.2.1"),
        "{}",
        e.message
    );
}

#[test]
fn c_api_refuses_malformed_entries() {
    use h2client::ffi::*;
    // SAFETY (whole test): the C API called as C calls it, with live objects and C strings.
    unsafe {
        let cfg = h2_config_new();
        let ok = CString::new("a.test:443:127.0.0.1,[::1]").unwrap();
        assert_eq!(h2_config_add_resolve(cfg, ok.as_ptr()), H2_OK);
        for bad in ["a.test:443", "a.test:x:127.0.0.1", "a.test:443:nope"] {
            let b = CString::new(bad).unwrap();
            assert_eq!(
                h2_config_add_resolve(cfg, b.as_ptr()),
                H2_E_INVALID_ARGUMENT,
                "{bad}"
            );
        }
        assert_eq!(
            h2_config_add_resolve(cfg, std::ptr::null()),
            H2_E_INVALID_ARGUMENT
        );
        let ok = CString::new("a.test:443:b.test:").unwrap();
        assert_eq!(h2_config_add_connect_to(cfg, ok.as_ptr()), H2_OK);
        let bad = CString::new("a.test:443:b.test").unwrap();
        assert_eq!(
            h2_config_add_connect_to(cfg, bad.as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        let ip = CString::new("::1").unwrap();
        assert_eq!(h2_config_set_local_address(cfg, ip.as_ptr()), H2_OK);
        let name = CString::new("eth0").unwrap();
        assert_eq!(
            h2_config_set_local_address(cfg, name.as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(h2_config_set_local_address(cfg, std::ptr::null()), H2_OK);
        let long = CString::new(vec![b'x'; 108]).unwrap();
        assert_eq!(
            h2_config_set_unix_socket(cfg, long.as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(
            h2_config_set_unix_socket(std::ptr::null_mut(), long.as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(h2_config_set_unix_socket(cfg, std::ptr::null()), H2_OK);
        assert_eq!(
            h2_config_add_resolve(std::ptr::null_mut(), ok.as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        h2_config_free(cfg);
    }
}

#[test]
fn c_api_unix_socket_nobody_listens_on() {
    use h2client::ffi::*;
    let dir = std::env::temp_dir().join(format!("h2c-us-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.sock");
    // A socket file nobody listens on any more (bound, then the listener dropped).
    let stale = dir.join("stale.sock");
    let _ = std::fs::remove_file(&stale);
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    for (path, want) in [(&missing, "no Unix socket at"), (&stale, "refused")] {
        // SAFETY: the C API called as C calls it, with live objects and C strings.
        unsafe {
            let cfg = h2_config_new();
            let p = CString::new(path.to_str().unwrap()).unwrap();
            assert_eq!(h2_config_set_unix_socket(cfg, p.as_ptr()), H2_OK);
            let base = CString::new("http://h2client.invalid").unwrap();
            let client = h2_client_new(base.as_ptr(), cfg);
            h2_config_free(cfg);
            assert!(!client.is_null());
            let (m, slash) = (CString::new("GET").unwrap(), CString::new("/").unwrap());
            let req = h2_request_new(m.as_ptr(), slash.as_ptr());
            let mut resp = std::ptr::null_mut();
            assert_eq!(h2_client_do(client, req, &mut resp), H2_E_CONNECT);
            let msg = common::capi::last_message();
            assert!(msg.contains(want), "{msg}");
            assert!(msg.contains(path.to_str().unwrap()), "{msg}");
            h2_request_free(req);
            h2_client_free(client);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
