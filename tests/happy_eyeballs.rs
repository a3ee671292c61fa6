//! Happy Eyeballs v2 (RFC 8305) when a name has several addresses: the next address is tried
//! 250 ms after the previous one while it is still pending, or at once when it fails; the
//! first to connect wins; the connect timeout bounds the race. The addresses come from a
//! `--resolve` override, so the order is known and no DNS is involved.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use h2client::overrides::Resolve;
use h2client::{Client, Config, ErrorKind};

/// A listener at `ip:port` that never answers a new connection: its accept queue (backlog 0)
/// is full with one connection nobody accepts, so the kernel drops further SYNs and connects
/// to it hang.
struct BlackHole {
    _listener: tokio::net::TcpListener,
    _queued: TcpStream,
    _rt: tokio::runtime::Runtime,
}

impl BlackHole {
    fn at(addr: SocketAddr) -> BlackHole {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let _g = rt.enter();
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(addr).expect("bind the black hole");
        let listener = sock.listen(0).unwrap();
        let queued = TcpStream::connect(addr).unwrap();
        // The premise: a connect now hangs.
        let probe = TcpStream::connect_timeout(&addr, Duration::from_millis(300));
        assert!(
            probe.is_err(),
            "the black hole at {addr} accepted a connection"
        );
        BlackHole {
            _listener: listener,
            _queued: queued,
            _rt: rt,
        }
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

/// A client whose `he.invalid:port` resolves to `addrs`, in that order.
fn client(port: u16, addrs: &str, connect_timeout_ms: u32) -> Client {
    let mut cfg = Config::default();
    cfg.set_connect_timeout_ms(connect_timeout_ms).unwrap();
    cfg.set_request_timeout_ms(10_000);
    let r = Resolve::parse(&format!("he.invalid:{port}:{addrs}")).unwrap();
    cfg.overrides.resolve.push(r);
    Client::new(&format!("http://he.invalid:{port}"), cfg).unwrap()
}

#[test]
fn the_second_address_wins_when_the_first_never_answers() {
    let srv = server();
    let port = port_of(&srv.url());
    let _hole = BlackHole::at(format!("127.0.0.2:{port}").parse().unwrap());
    // Trying the addresses one after the other would spend the whole 5 s on the first.
    let c = client(port, "127.0.0.2,127.0.0.1", 5000);
    let t = Instant::now();
    let r = get(&c, "/bytes/10").unwrap();
    let took = t.elapsed();
    assert_eq!(r.body(), pattern(10).as_slice());
    assert!(
        took >= Duration::from_millis(240),
        "started early: {took:?}"
    );
    assert!(took < Duration::from_secs(3), "no race: {took:?}");
    assert_eq!(c.snapshot().connections_opened, 1);
    assert_eq!(srv.connections_accepted(), 1);
}

#[test]
fn a_refused_address_hands_over_to_the_next_at_once() {
    let srv = server();
    let port = port_of(&srv.url());
    // Nothing listens on 127.0.0.3:port: refused, then 127.0.0.1 answers.
    let c = client(port, "127.0.0.3,127.0.0.1", 5000);
    let r = get(&c, "/bytes/3").unwrap();
    assert_eq!(r.body(), pattern(3).as_slice());
    assert_eq!(c.snapshot().connections_opened, 1);
}

#[test]
fn the_connect_timeout_bounds_the_whole_race() {
    let srv = server();
    let port = port_of(&srv.url());
    let _hole = BlackHole::at(format!("127.0.0.2:{port}").parse().unwrap());
    let c = client(port, "127.0.0.2,127.0.0.2", 700);
    let t = Instant::now();
    let e = get(&c, "/").expect_err("every address hangs");
    let took = t.elapsed();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    let want = format!("tried 127.0.0.2:{port}, 127.0.0.2:{port}");
    assert!(e.message.contains(&want), "both attempts started: {e:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(srv.connections_accepted(), 0);
}

#[test]
fn every_address_refused_names_them_all() {
    let c = client(1, "127.0.0.3,127.0.0.4", 2000);
    let e = get(&c, "/").expect_err("nothing listens");
    assert_eq!(e.kind, ErrorKind::Connect, "{e:?}");
    assert!(
        e.message.contains(
            "connection to he.invalid:1 refused at every address (127.0.0.3:1, 127.0.0.4:1)"
        ),
        "{e:?}"
    );
}

#[test]
fn ip_version_filters_the_addresses() {
    let srv = server();
    let port = port_of(&srv.url());
    let with = |family: h2client::IpFamily, addrs: &str| {
        let mut cfg = Config::default();
        cfg.set_connect_timeout_ms(5000).unwrap();
        cfg.overrides.ip_family = family;
        let r = Resolve::parse(&format!("he.invalid:{port}:{addrs}")).unwrap();
        cfg.overrides.resolve.push(r);
        Client::new(&format!("http://he.invalid:{port}"), cfg).unwrap()
    };
    // IPv4 only: [::1] (nothing listens there) is never tried.
    let c = with(h2client::IpFamily::V4, "[::1],127.0.0.1");
    assert_eq!(get(&c, "/bytes/2").unwrap().body(), pattern(2).as_slice());
    // Nothing of the version asked for: a clear error, nothing dialled.
    let c = with(h2client::IpFamily::V6, "127.0.0.1");
    let e = get(&c, "/").expect_err("no IPv6 address");
    assert_eq!(e.kind, ErrorKind::Resolve);
    assert!(e.message.contains("it has no IPv6 address"), "{e:?}");
    let c = with(h2client::IpFamily::V4, "[::1]");
    let e = get(&c, "/").expect_err("no IPv4 address");
    assert!(e.message.contains("it has no IPv4 address"), "{e:?}");
    assert_eq!(srv.connections_accepted(), 1);
}

#[test]
fn c_api_ip_version() {
    use h2client::ffi::*;
    // SAFETY: the C API called as C calls it.
    unsafe {
        let cfg = h2_config_new();
        for v in [H2_IP_ANY, H2_IP_V4, H2_IP_V6] {
            assert_eq!(h2_config_set_ip_version(cfg, v), H2_OK);
        }
        assert_eq!(h2_config_set_ip_version(cfg, 5), H2_E_INVALID_ARGUMENT);
        assert_eq!(
            h2_config_set_ip_version(std::ptr::null_mut(), H2_IP_V4),
            H2_E_INVALID_ARGUMENT
        );
        h2_config_free(cfg);
    }
}

#[test]
fn a_name_that_does_not_resolve_is_h2_e_resolve() {
    // RFC 6761: .invalid never resolves.
    // A resolver that cannot reach its server may take a while to say so.
    let mut cfg = Config::default();
    cfg.set_connect_timeout_ms(60_000).unwrap();
    let c = Client::new("http://no-such-host.invalid", cfg).unwrap();
    let e = get(&c, "/").expect_err("no such host");
    assert_eq!(e.kind, ErrorKind::Resolve, "{e:?}");
    assert!(
        e.message
            .contains("could not resolve host 'no-such-host.invalid'"),
        "{e:?}"
    );
    assert_eq!(e.processed, h2client::error::Processed::No);
    assert_eq!(h2client::ffi::H2_E_RESOLVE, ErrorKind::Resolve as u32);
}
