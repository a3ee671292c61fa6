//! Per-request information through the C API, as C calls it: `h2_response_info`,
//! `h2_call_info` and the peer certificates, against the test server over h2c, TLS and a Unix
//! socket (a relay in front of it). The TLS 1.2 case is in `interop.rs` (nginx), the proxy
//! case in `proxies.rs` (tinyproxy).

mod common;

use std::ffi::{c_char, CStr};
use std::ptr::{null, null_mut};

use common::capi::{c_read_all, cs, last_code, last_message};
use common::*;
use h2client::ffi::*;
use h2client_testserver::TlsOptions as ServerTls;

/// A zeroed `h2_request_info` with `struct_size` set, as C does.
fn blank() -> h2_request_info {
    // SAFETY: every field of h2_request_info is valid zeroed (integers, bools, pointers).
    let mut i: h2_request_info = unsafe { std::mem::zeroed() };
    i.struct_size = std::mem::size_of::<h2_request_info>();
    i
}

/// A C string field as text, `None` for NULL.
fn text(p: *const c_char) -> Option<String> {
    // SAFETY: the library's strings are NUL-terminated and live as long as their owner.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string())
}

fn response_info(resp: *const h2_response) -> h2_request_info {
    let mut i = blank();
    // SAFETY: resp is live; i is a writable h2_request_info.
    assert_eq!(unsafe { h2_response_info(resp, &mut i) }, H2_OK);
    assert_eq!(i.struct_size, std::mem::size_of::<h2_request_info>());
    i
}

fn call_info(c: *const h2_call) -> h2_request_info {
    let mut i = blank();
    // SAFETY: c is live; i is a writable h2_request_info.
    assert_eq!(
        unsafe { h2_call_info(c, &mut i) },
        H2_OK,
        "{}",
        last_message()
    );
    i
}

/// The times of a completed request, in the order they happen (TLS only over TLS; the
/// request's end comes before the response's for a GET).
fn check_order(i: &h2_request_info) {
    let mut steps = vec![i.time_namelookup_us, i.time_connect_us];
    if i.tls_version != 0 {
        steps.push(i.time_tls_us);
    }
    steps.extend([
        i.time_headers_sent_us,
        i.time_request_sent_us,
        i.time_first_byte_us,
        i.time_total_us,
    ]);
    assert!(
        steps.windows(2).all(|w| w[0] <= w[1]),
        "times out of order: {steps:?}"
    );
    assert!(i.time_headers_sent_us > 0 && i.time_first_byte_us > 0);
}

/// A client for `url` (NULL config: defaults) or with `cfg`.
fn client(url: &str, cfg: *const h2_config) -> *mut h2_client {
    // SAFETY: a C string and a live config or NULL.
    let c = unsafe { h2_client_new(cs(url).as_ptr(), cfg) };
    assert!(!c.is_null(), "{}", last_message());
    c
}

/// `method path` (with `body` if any) through `h2_client_do`.
fn fetch(c: *mut h2_client, method: &str, path: &str, body: &[u8]) -> *mut h2_response {
    // SAFETY: live client; C strings; body valid for its length.
    unsafe {
        let req = h2_request_new(cs(method).as_ptr(), cs(path).as_ptr());
        if !body.is_empty() {
            assert_eq!(h2_request_set_body(req, body.as_ptr(), body.len()), H2_OK);
        }
        let mut resp = null_mut();
        let rc = h2_client_do(c, req, &mut resp);
        h2_request_free(req);
        assert_eq!(rc, H2_OK, "{method} {path}: {}", last_message());
        resp
    }
}

/// The response's body length.
fn body_len(resp: *const h2_response) -> usize {
    let mut n = 0;
    // SAFETY: live response, writable n.
    unsafe { h2_response_body(resp, &mut n) };
    n
}

/// A config trusting the test server's CA.
fn tls_config(s: &Server) -> *mut h2_config {
    let pem = s.tls_ca_pem().expect("TLS server");
    // SAFETY: a new config; pem valid for its length.
    unsafe {
        let cfg = h2_config_new();
        assert_eq!(h2_config_set_ca_pem(cfg, pem.as_ptr(), pem.len()), H2_OK);
        cfg
    }
}

/// The server certificate's DER.
fn server_cert_der(s: &Server) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    let pem = s.tls_cert_pem().expect("TLS server");
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

#[test]
fn h2c_times_bytes_addresses_and_reuse() {
    let s = server();
    let port = s.addr().port();
    let c = client(&s.url(), null());
    // SAFETY: live objects, freed once at the end.
    unsafe {
        let r1 = fetch(c, "GET", "/bytes/1000", b"");
        let i = response_info(r1);
        check_order(&i);
        assert!(i.time_connect_us > 0, "a new connection");
        assert_eq!(i.time_tls_us, 0, "h2c");
        assert_eq!(i.time_redirect_us, 0);
        assert!(!i.reused);
        assert_eq!((i.stream_id, i.retries, i.redirect_count), (1, 0, 0));
        assert_ne!(i.connection_id, 0);
        assert_eq!(i.body_bytes_received, 1000);
        assert_eq!(body_len(r1), 1000);
        assert_eq!(i.body_bytes_sent, 0);
        assert!(i.header_bytes_sent > 0 && i.header_bytes_received > 0);
        assert_eq!(text(i.remote_address).as_deref(), Some("127.0.0.1"));
        assert_eq!(i.remote_port, port);
        assert_eq!(text(i.local_address).as_deref(), Some("127.0.0.1"));
        assert!(i.local_port != 0 && i.local_port != port);
        assert!(!i.unix_socket);
        assert_eq!(
            text(i.effective_url),
            Some(format!("{}/bytes/1000", s.url()))
        );
        // No TLS over h2c.
        assert_eq!((i.tls_version, i.tls_cipher_suite), (0, 0));
        assert!(i.tls_version_name.is_null() && i.tls_cipher_suite_name.is_null());
        assert!(i.alpn.is_null() && i.tls_server_name.is_null());
        assert_eq!(i.peer_certificate_count, 0);
        assert!(!i.tls_resumed);
        let mut len = 7;
        assert!(h2_response_peer_certificate(r1, 0, &mut len).is_null());
        assert_eq!(len, 0);

        // The same request again: the open connection, its next stream, no connect phase,
        // and a smaller header block (HPACK indexed what repeats).
        let r2 = fetch(c, "GET", "/bytes/1000", b"");
        let j = response_info(r2);
        check_order(&j);
        assert!(j.reused);
        assert_eq!(j.stream_id, 3);
        assert_eq!(j.connection_id, i.connection_id);
        assert_eq!(
            (j.time_namelookup_us, j.time_connect_us, j.time_tls_us),
            (0, 0, 0)
        );
        assert!(
            j.header_bytes_sent < i.header_bytes_sent,
            "{} then {}",
            i.header_bytes_sent,
            j.header_bytes_sent
        );
        assert_eq!(j.body_bytes_received, 1000);
        assert_eq!(text(j.remote_address).as_deref(), Some("127.0.0.1"));
        assert_eq!(j.local_port, i.local_port);

        // A body both ways (the server echoes it).
        let body = pattern(50_000);
        let r3 = fetch(c, "POST", "/echo", &body);
        let k = response_info(r3);
        assert_eq!(k.body_bytes_sent, 50_000);
        assert_eq!(k.body_bytes_received, 50_000);
        assert_eq!(body_len(r3), 50_000);
        assert!(k.time_request_sent_us >= k.time_headers_sent_us);
        assert!(k.time_first_byte_us >= k.time_headers_sent_us);
        assert!(k.time_total_us >= k.time_request_sent_us);

        for r in [r1, r2, r3] {
            h2_response_free(r);
        }
        h2_client_free(c);
    }
}

#[test]
fn tls_version_cipher_alpn_and_certificate() {
    let s = server_with(|o| o.tls = Some(ServerTls::default()));
    let cfg = tls_config(&s);
    let c = client(&s.url(), cfg);
    let der = server_cert_der(&s);
    // SAFETY: live objects, freed once at the end.
    unsafe {
        let r1 = fetch(c, "GET", "/bytes/10", b"");
        let i = response_info(r1);
        check_order(&i);
        assert!(
            i.time_connect_us < i.time_tls_us,
            "the handshake takes time"
        );
        assert_eq!(i.tls_version, 0x0304);
        assert_eq!(text(i.tls_version_name).as_deref(), Some("TLSv1.3"));
        let names = [
            (0x1301, "TLS_AES_128_GCM_SHA256"),
            (0x1302, "TLS_AES_256_GCM_SHA384"),
            (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
        ];
        let (_, name) = names
            .iter()
            .find(|(id, _)| *id == i.tls_cipher_suite)
            .unwrap_or_else(|| panic!("a TLS 1.3 suite: {:#06x}", i.tls_cipher_suite));
        assert_eq!(text(i.tls_cipher_suite_name).as_deref(), Some(*name));
        assert_eq!(text(i.alpn).as_deref(), Some("h2"));
        assert_eq!(i.tls_server_name, null(), "no SNI for an IP literal");
        assert!(!i.tls_resumed, "a first connection");
        assert_eq!(text(i.remote_address).as_deref(), Some("127.0.0.1"));
        assert_eq!(i.remote_port, s.addr().port());
        assert_eq!(i.body_bytes_received, 10);

        // The certificate chain: the test server sends its leaf only.
        assert_eq!(i.peer_certificate_count, 1);
        let mut len = 0;
        let p = h2_response_peer_certificate(r1, 0, &mut len);
        assert!(!p.is_null());
        let got = std::slice::from_raw_parts(p, len);
        assert_eq!(got[0], 0x30, "a DER SEQUENCE");
        assert_eq!(got, der.as_slice());
        assert!(
            h2_response_peer_certificate(r1, 0, null_mut()) == p,
            "len may be NULL"
        );
        let mut len = 7;
        assert!(h2_response_peer_certificate(r1, 1, &mut len).is_null());
        assert_eq!(len, 0, "past the end");

        // Reused: the TLS session is still described, the handshake is not this request's.
        let r2 = fetch(c, "GET", "/bytes/10", b"");
        let j = response_info(r2);
        assert!(j.reused);
        assert_eq!((j.time_connect_us, j.time_tls_us), (0, 0));
        assert_eq!(j.tls_version, 0x0304);
        assert_eq!(j.tls_cipher_suite, i.tls_cipher_suite);
        assert_eq!(j.peer_certificate_count, 1);

        // A new connection of the same client resumes the session.
        let mut closed = 0;
        assert_eq!(h2_client_close_idle_connections(c, &mut closed), H2_OK);
        assert_eq!(closed, 1);
        let r3 = fetch(c, "GET", "/bytes/10", b"");
        let k = response_info(r3);
        check_order(&k);
        assert!(!k.reused && k.time_tls_us > 0);
        assert_ne!(k.connection_id, i.connection_id);
        assert!(k.tls_resumed, "TLS 1.3 resumption");
        assert_eq!(
            k.peer_certificate_count, 1,
            "the chain of the first handshake"
        );
        for r in [r1, r2, r3] {
            h2_response_free(r);
        }
        h2_client_free(c);
        h2_config_free(cfg);
    }
}

/// By name, the name goes in SNI.
#[test]
fn tls_server_name_is_the_urls_host() {
    let s = server_with(|o| o.tls = Some(ServerTls::default()));
    let port = s.addr().port();
    let cfg = tls_config(&s);
    // SAFETY: live objects, freed once at the end.
    unsafe {
        let pin = cs(&format!("localhost:{port}:127.0.0.1"));
        assert_eq!(h2_config_add_resolve(cfg, pin.as_ptr()), H2_OK);
        let c = client(&format!("https://localhost:{port}"), cfg);
        let r = fetch(c, "GET", "/", b"");
        let i = response_info(r);
        assert_eq!(text(i.tls_server_name).as_deref(), Some("localhost"));
        assert_eq!(text(i.remote_address).as_deref(), Some("127.0.0.1"));
        assert_eq!(
            text(i.effective_url),
            Some(format!("https://localhost:{port}/"))
        );
        h2_response_free(r);
        h2_client_free(c);
        h2_config_free(cfg);
    }
}

#[test]
fn null_arguments_and_struct_size() {
    let s = server();
    let c = client(&s.url(), null());
    // SAFETY: NULL where the test says so, else live objects.
    unsafe {
        let mut i = blank();
        assert_eq!(h2_response_info(null(), &mut i), H2_E_INVALID_ARGUMENT);
        assert_eq!(last_message(), "h2_response_info: resp is NULL");
        assert_eq!(h2_call_info(null(), &mut i), H2_E_INVALID_ARGUMENT);
        assert_eq!(last_message(), "h2_call_info: c is NULL");
        let mut len = 7;
        assert!(h2_response_peer_certificate(null(), 0, &mut len).is_null());
        assert_eq!((len, last_code()), (0, H2_E_INVALID_ARGUMENT));
        assert!(h2_call_peer_certificate(null(), 0, null_mut()).is_null());
        assert_eq!(last_message(), "h2_call_peer_certificate: c is NULL");

        let r = fetch(c, "GET", "/", b"");
        assert_eq!(h2_response_info(r, null_mut()), H2_E_INVALID_ARGUMENT);
        assert_eq!(last_message(), "h2_response_info: out is NULL");
        // struct_size left at 0 (forgotten): refused, nothing written.
        let mut z: h2_request_info = std::mem::zeroed();
        assert_eq!(h2_response_info(r, &mut z), H2_E_INVALID_ARGUMENT);
        assert!(last_message().contains("set it to sizeof(h2_request_info)"));
        assert_eq!((z.struct_size, z.stream_id), (0, 0));

        // A caller built against a later, larger struct: its extra bytes are left alone and
        // struct_size says how much was filled.
        let size = std::mem::size_of::<h2_request_info>();
        let mut big = vec![0xAAu8; size + 64];
        big[..size].fill(0);
        let out = big.as_mut_ptr().cast::<h2_request_info>();
        out.cast::<usize>().write_unaligned(size + 64);
        assert_eq!(h2_response_info(r, out), H2_OK);
        assert_eq!(out.cast::<usize>().read_unaligned(), size);
        assert!(big[size..].iter().all(|&b| b == 0xAA));
        let filled = out.read_unaligned();
        assert_eq!(filled.stream_id, 1);
        assert_eq!(
            filled.body_bytes_received,
            response_info(r).body_bytes_received
        );
        h2_response_free(r);
        h2_client_free(c);
    }
}

/// A call's information while its response has not come (the server holds it for a minute),
/// then after the cancel.
#[test]
fn a_call_before_its_response_head() {
    let s = server();
    let c = client(&s.url(), null());
    // SAFETY: live objects, freed once at the end.
    unsafe {
        let r = fetch(c, "GET", "/", b"");
        let first = response_info(r);
        h2_response_free(r);
        let req = h2_request_new(cs("GET").as_ptr(), cs("/delay/60000").as_ptr());
        let mut call = null_mut();
        assert_eq!(h2_client_start(c, req, &mut call), H2_OK);
        h2_request_free(req);
        // Its HEADERS go out on the open connection.
        assert!(eventually(std::time::Duration::from_secs(10), || {
            call_info(call).stream_id != 0
        }));
        let i = call_info(call);
        assert_eq!(i.stream_id, 3);
        assert!(i.reused);
        assert_eq!(i.connection_id, first.connection_id);
        assert_eq!(text(i.remote_address).as_deref(), Some("127.0.0.1"));
        assert!(i.time_headers_sent_us > 0 && i.header_bytes_sent > 0);
        assert_eq!(i.time_request_sent_us, i.time_headers_sent_us, "no body");
        assert_eq!(
            (
                i.time_first_byte_us,
                i.time_total_us,
                i.header_bytes_received
            ),
            (0, 0, 0),
            "no response yet"
        );
        assert_eq!(h2_call_status(call), 0);
        assert_eq!(
            text(i.effective_url),
            Some(format!("{}/delay/60000", s.url()))
        );
        let mut len = 7;
        assert!(h2_call_peer_certificate(call, 0, &mut len).is_null());
        assert_eq!(len, 0);

        assert_eq!(h2_call_cancel(call), H2_OK);
        assert_eq!(h2_call_wait(call), H2_E_CANCELED);
        let j = call_info(call);
        assert!(
            j.time_total_us >= j.time_headers_sent_us,
            "ended by the cancel"
        );
        assert_eq!(j.time_first_byte_us, 0);
        h2_call_free(call);
        h2_client_free(c);
    }
}

/// A streaming call read to its end, and a submitted call whose response says what the call
/// says.
#[test]
fn streaming_and_submitted_calls() {
    let s = server_with(|o| o.tls = Some(ServerTls::default()));
    let cfg = tls_config(&s);
    let c = client(&s.url(), cfg);
    // SAFETY: live objects, freed once at the end.
    unsafe {
        let req = h2_request_new(cs("GET").as_ptr(), cs("/bytes/300000").as_ptr());
        let mut call = null_mut();
        assert_eq!(h2_client_start(c, req, &mut call), H2_OK);
        assert_eq!(h2_call_wait_headers(call), H2_OK);
        let head = call_info(call);
        assert!(head.time_first_byte_us > 0);
        assert_eq!(text(head.alpn).as_deref(), Some("h2"));
        assert_eq!(c_read_all(call, 1 << 16).len(), 300_000);
        let i = call_info(call);
        check_order(&i);
        assert_eq!(i.body_bytes_received, 300_000);
        assert_eq!(i.time_first_byte_us, head.time_first_byte_us);
        // The certificate stays readable as long as the call.
        let mut len = 0;
        let p = h2_call_peer_certificate(call, 0, &mut len);
        assert_eq!(std::slice::from_raw_parts(p, len), server_cert_der(&s));
        h2_call_free(call);

        let q = h2_queue_new();
        let mut call = null_mut();
        assert_eq!(h2_client_submit(c, req, q, 7, &mut call), H2_OK);
        let mut done: [h2_completion; 1] = std::mem::zeroed();
        assert_eq!(h2_queue_poll(q, done.as_mut_ptr(), 1, -1), 1);
        assert_eq!((done[0].tag, done[0].result), (7, H2_OK));
        let from_call = call_info(call);
        let mut resp = null_mut();
        assert_eq!(h2_call_response(call, &mut resp), H2_OK);
        let from_resp = response_info(resp);
        // The call still answers once its response is taken.
        let again = call_info(call);
        for i in [&from_resp, &again] {
            assert_eq!(i.time_first_byte_us, from_call.time_first_byte_us);
            assert_eq!(i.time_total_us, from_call.time_total_us);
            assert_eq!(i.body_bytes_received, 300_000);
            assert_eq!(i.connection_id, from_call.connection_id);
            assert_eq!(i.stream_id, 3);
            assert!(i.reused);
        }
        h2_response_free(resp);
        h2_call_free(call);
        h2_queue_free(q);
        h2_request_free(req);
        h2_client_free(c);
        h2_config_free(cfg);
    }
}

/// After a redirect the information is the final request's, its times from the first one.
#[test]
fn redirects_count_from_the_first_request() {
    let s = server();
    // SAFETY: live objects, freed once at the end.
    unsafe {
        let cfg = h2_config_new();
        assert_eq!(h2_config_set_follow_redirects(cfg, 3), H2_OK);
        let c = client(&s.url(), cfg);
        let r = fetch(c, "GET", "/redirect/302?to=/bytes/10", b"");
        let i = response_info(r);
        check_order(&i);
        assert_eq!(i.redirect_count, 1);
        assert_eq!(text(i.effective_url), Some(format!("{}/bytes/10", s.url())));
        assert!(i.time_redirect_us > 0);
        assert!(i.time_redirect_us <= i.time_headers_sent_us);
        assert!(
            i.reused && i.stream_id == 3,
            "the second request on the connection"
        );
        assert_eq!(i.body_bytes_received, 10);

        // The same through a submitted call and a streaming call.
        let req = h2_request_new(
            cs("GET").as_ptr(),
            cs("/redirect/307?to=/bytes/20").as_ptr(),
        );
        let q = h2_queue_new();
        let mut call = null_mut();
        assert_eq!(h2_client_submit(c, req, q, 1, &mut call), H2_OK);
        let mut done: [h2_completion; 1] = std::mem::zeroed();
        assert_eq!(h2_queue_poll(q, done.as_mut_ptr(), 1, -1), 1);
        let j = call_info(call);
        assert_eq!((j.redirect_count, j.body_bytes_received), (1, 20));
        assert!(j.time_redirect_us > 0 && j.time_redirect_us <= j.time_headers_sent_us);
        assert_eq!(text(j.effective_url), Some(format!("{}/bytes/20", s.url())));
        h2_call_free(call);
        let mut call = null_mut();
        assert_eq!(h2_client_start(c, req, &mut call), H2_OK);
        assert_eq!(h2_call_wait(call), H2_OK);
        let k = call_info(call);
        assert_eq!((k.redirect_count, k.body_bytes_received), (1, 20));
        assert!(k.time_redirect_us > 0 && k.time_redirect_us <= k.time_first_byte_us);
        h2_call_free(call);
        h2_queue_free(q);
        h2_request_free(req);
        h2_response_free(r);
        h2_client_free(c);
        h2_config_free(cfg);
    }
}

/// Over a Unix socket (a relay to the test server): the socket's path is the remote address.
#[test]
fn unix_socket_is_the_remote_address() {
    use std::os::unix::net::UnixListener;
    let s = server();
    let path = std::env::temp_dir().join(format!("h2c-info-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let upstream = s.addr();
    let relay = std::thread::spawn(move || {
        let (a, _) = listener.accept().unwrap();
        let b = std::net::TcpStream::connect(upstream).unwrap();
        let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
        let up = std::thread::spawn(move || {
            let _ = std::io::copy(&mut a2, &mut b2);
            let _ = b2.shutdown(std::net::Shutdown::Write);
        });
        let (mut a, mut b) = (a, b);
        let _ = std::io::copy(&mut b, &mut a);
        let _ = a.shutdown(std::net::Shutdown::Write);
        let _ = up.join();
    });
    // SAFETY: live objects, freed once at the end.
    unsafe {
        let cfg = h2_config_new();
        let p = cs(path.to_str().unwrap());
        assert_eq!(h2_config_set_unix_socket(cfg, p.as_ptr()), H2_OK);
        let c = client("http://unix.h2client.invalid", cfg);
        let r = fetch(c, "GET", "/bytes/5", b"");
        let i = response_info(r);
        check_order(&i);
        assert!(i.unix_socket);
        assert_eq!(
            text(i.remote_address),
            Some(path.to_str().unwrap().to_string())
        );
        assert_eq!((i.remote_port, i.local_port), (0, 0));
        assert!(i.local_address.is_null());
        assert!(i.time_connect_us > 0 && !i.reused);
        assert_eq!(i.body_bytes_received, 5);
        h2_response_free(r);
        h2_client_free(c);
        h2_config_free(cfg);
    }
    relay.join().unwrap();
    let _ = std::fs::remove_file(&path);
}

/// A request the server refuses every time: the information counts the retries and describes
/// the last attempt (its stream, its header block), with no response.
#[test]
fn retries_are_counted_and_the_last_attempt_described() {
    let s = server();
    // SAFETY: live objects, freed once at the end.
    unsafe {
        let cfg = h2_config_new();
        assert_eq!(h2_config_set_max_retries(cfg, 2), H2_OK);
        let c = client(&s.url(), cfg);
        let req = h2_request_new(cs("GET").as_ptr(), cs("/reset/7").as_ptr());
        let mut call = null_mut();
        assert_eq!(h2_client_start(c, req, &mut call), H2_OK);
        assert_eq!(h2_call_wait(call), H2_E_REFUSED, "{}", last_message());
        let i = call_info(call);
        assert_eq!(i.retries, 2);
        assert_eq!(i.stream_id, 5, "the third attempt, on the same connection");
        assert!(i.reused && i.header_bytes_sent > 0);
        assert!(i.time_headers_sent_us > 0 && i.time_total_us >= i.time_headers_sent_us);
        assert_eq!((i.time_first_byte_us, i.header_bytes_received), (0, 0));
        h2_call_free(call);
        h2_request_free(req);
        h2_client_free(c);
        h2_config_free(cfg);
    }
}
