//! Proxies (issue 14): HTTP CONNECT tunnels through tinyproxy and SOCKS5 through microsocks,
//! both started here on free loopback ports, to the test server in h2c and TLS modes; with,
//! without and with wrong credentials; and the environment variables, read by a child process
//! (this test binary run again) so that no test changes this process's environment.
//!
//! tinyproxy and microsocks must be installed (scripts/check-deps.sh installs them): a test
//! that cannot find them fails with the command that installs them.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use h2client::{Client, Config, ErrorKind, Processed, Request};
use h2client_testserver::TlsOptions as ServerTls;

/// The path of `name`, looked for in PATH and the sbin directories; fails with the install
/// hint if it is missing.
fn find(name: &str, package: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    for d in path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"])
    {
        let p = Path::new(d).join(name);
        if !d.is_empty() && p.is_file() {
            return p;
        }
    }
    panic!(
        "{name} is not installed: these tests need it (run scripts/check-deps.sh, or: sudo apt-get install --no-install-recommends {package})"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A proxy process, killed (by its own pid) when dropped.
struct Proxy {
    child: Child,
    port: u16,
    _dir: Option<TempDir>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `make(port)` on a free port until one of the tries is still running once its port
/// answers (a port probed as free may be taken by someone else in between).
fn start(mut make: impl FnMut(u16) -> (Command, Option<TempDir>)) -> Proxy {
    for _ in 0..5 {
        let port = free_port();
        let (mut cmd, dir) = make(port);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn proxy");
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            // Listening in the child's process tree, not merely "something answers there".
            if common::proxy::listening_in_tree(child.id(), port) {
                return Proxy {
                    child,
                    port,
                    _dir: dir,
                };
            }
            if Instant::now() > until {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("the proxy did not start");
}

fn tinyproxy(auth: Option<(&str, &str)>) -> Proxy {
    let bin = find("tinyproxy", "tinyproxy-bin");
    start(|port| {
        let dir =
            std::env::temp_dir().join(format!("h2client-tinyproxy-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 30\nMaxClients 100\nLogLevel Error\nLogFile \"{}\"\n",
            dir.join("log").display()
        );
        if let Some((u, p)) = auth {
            conf.push_str(&format!("BasicAuth {u} {p}\n"));
        }
        let path = dir.join("tinyproxy.conf");
        std::fs::write(&path, conf).unwrap();
        let mut c = Command::new(&bin);
        c.arg("-d").arg("-c").arg(&path);
        (c, Some(TempDir(dir)))
    })
}

fn microsocks(auth: Option<(&str, &str)>) -> Proxy {
    let bin = find("microsocks", "microsocks");
    start(|port| {
        let mut c = Command::new(&bin);
        c.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
        if let Some((u, p)) = auth {
            c.args(["-u", u, "-P", p]);
        }
        (c, None)
    })
}

fn tls_server() -> Server {
    server_with(|o| o.tls = Some(ServerTls::default()))
}

fn config(proxy: &str, s: &Server) -> Config {
    let mut c = Config::default();
    c.set_proxy(Some(proxy)).unwrap();
    if let Some(pem) = s.tls_ca_pem() {
        c.tls.set_ca_pem(pem.as_bytes()).unwrap();
    }
    c.set_connect_timeout_ms(5_000).unwrap();
    c.set_request_timeout_ms(10_000);
    c
}

/// Requests through `proxy` to `url` (the test server's origin, or a name for it), checking
/// the bodies and that one tunnel carries them all.
fn round_trips(proxy: &str, s: &Server, url: &str) {
    let c = Client::without_base(config(proxy, s)).unwrap();
    for n in [0usize, 100, 100_000] {
        let r = c
            .execute(Arc::new(
                Request::from_url("GET", &format!("{url}/bytes/{n}")).unwrap(),
            ))
            .unwrap_or_else(|e| panic!("via {proxy} to {url}: {e:?}"));
        assert_eq!(r.status(), 200);
        assert_eq!(r.body(), pattern(n).as_slice());
    }
    assert_eq!(
        s.connections_accepted(),
        1,
        "one connection through the tunnel"
    );
}

fn fails(proxy: &str, s: &Server) -> h2client::Error {
    let c = Client::without_base(config(proxy, s)).unwrap();
    c.execute(Arc::new(
        Request::from_url("GET", &format!("{}/", s.url())).unwrap(),
    ))
    .unwrap_err()
}

#[test]
fn http_connect_tunnel_to_h2c_and_tls_origins() {
    let p = tinyproxy(None);
    let proxy = format!("http://127.0.0.1:{}", p.port);
    let s = server();
    round_trips(&proxy, &s, &s.url());
    let s = tls_server();
    round_trips(&proxy, &s, &s.url());
    // By name: the proxy resolves it, TLS checks the certificate for it.
    let s = tls_server();
    round_trips(
        &proxy,
        &s,
        &format!("https://localhost:{}", s.addr().port()),
    );
}

#[test]
fn http_connect_with_credentials() {
    let p = tinyproxy(Some(("alice", "s3cret")));
    let s = tls_server();
    round_trips(
        &format!("http://alice:s3cret@127.0.0.1:{}", p.port),
        &s,
        &s.url(),
    );

    let s = server();
    let e = fails(&format!("http://127.0.0.1:{}", p.port), &s);
    assert_eq!(e.kind, ErrorKind::Proxy, "{e:?}");
    assert_eq!(e.processed, Processed::No);
    // 407 (tinyproxy 1.11.1 answers 401).
    assert!(
        e.message.contains("407") || e.message.contains("401"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("proxy authentication is required"),
        "{}",
        e.message
    );

    let e = fails(&format!("http://alice:wrong@127.0.0.1:{}", p.port), &s);
    assert_eq!(e.kind, ErrorKind::Proxy, "{e:?}");
    assert!(
        e.message.contains("407") || e.message.contains("401"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("refused the credentials"),
        "{}",
        e.message
    );
    assert!(
        !e.message.contains("wrong"),
        "no password in messages: {}",
        e.message
    );
    assert_eq!(s.connections_accepted(), 0);
}

#[test]
fn socks5_to_h2c_and_tls_origins() {
    let p = microsocks(None);
    let s = server();
    round_trips(&format!("socks5://127.0.0.1:{}", p.port), &s, &s.url());
    let s = tls_server();
    round_trips(&format!("socks5://127.0.0.1:{}", p.port), &s, &s.url());
    // socks5h: the proxy resolves the name.
    let s = tls_server();
    round_trips(
        &format!("socks5h://127.0.0.1:{}", p.port),
        &s,
        &format!("https://localhost:{}", s.addr().port()),
    );
    let s = server();
    round_trips(
        &format!("socks5://127.0.0.1:{}", p.port),
        &s,
        &format!("http://localhost:{}", s.addr().port()),
    );
}

#[test]
fn socks5_with_credentials() {
    let p = microsocks(Some(("bob", "pw")));
    let s = tls_server();
    round_trips(
        &format!("socks5h://bob:pw@127.0.0.1:{}", p.port),
        &s,
        &s.url(),
    );

    let s = server();
    let e = fails(&format!("socks5://127.0.0.1:{}", p.port), &s);
    assert_eq!(e.kind, ErrorKind::Proxy, "{e:?}");
    assert!(
        e.message.contains("requires authentication"),
        "{}",
        e.message
    );
    let e = fails(&format!("socks5://bob:nope@127.0.0.1:{}", p.port), &s);
    assert_eq!(e.kind, ErrorKind::Proxy, "{e:?}");
    assert!(
        e.message.contains("rejected the user name"),
        "{}",
        e.message
    );
    assert_eq!(e.processed, Processed::No);
    assert_eq!(s.connections_accepted(), 0);
}

#[test]
fn proxy_that_is_not_listening_is_a_connect_error() {
    let port = free_port();
    let s = server();
    let e = fails(&format!("http://127.0.0.1:{port}"), &s);
    assert_eq!(e.kind, ErrorKind::Connect, "{e:?}");
    assert!(
        e.message.contains("proxy http://127.0.0.1"),
        "{}",
        e.message
    );
}

#[test]
fn proxy_that_does_not_answer_times_out_within_the_connect_timeout() {
    // Accepts, never answers.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let s = server();
    let mut cfg = config(&format!("http://127.0.0.1:{port}"), &s);
    cfg.set_connect_timeout_ms(300).unwrap();
    let c = Client::without_base(cfg).unwrap();
    let t = Instant::now();
    let e = c
        .execute(Arc::new(
            Request::from_url("GET", &format!("{}/", s.url())).unwrap(),
        ))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    assert!(e.message.contains("tunnel"), "{}", e.message);
    assert!(t.elapsed() < Duration::from_secs(5));
    drop(l);
}

#[test]
fn empty_proxy_and_no_proxy_list_go_direct() {
    // A proxy that would fail everything: nothing may go through it.
    let port = free_port();
    let s = server();
    let mut cfg = config(&format!("http://127.0.0.1:{port}"), &s);
    cfg.set_no_proxy(Some("example.test, 127.0.0.0/8"));
    let c = Client::new(&s.url(), cfg).unwrap();
    assert_eq!(get(&c, "/").unwrap().status(), 200);
    let mut cfg = Config::default();
    cfg.set_proxy(Some("")).unwrap();
    let c = Client::new(&s.url(), cfg).unwrap();
    assert_eq!(get(&c, "/").unwrap().status(), 200);
}

/// The child half of `environment_variables_choose_the_proxy`: does nothing unless the parent
/// ran it (with H2CLIENT_PROXY_CHILD_URL set).
#[test]
fn env_child() {
    let Ok(url) = std::env::var("H2CLIENT_PROXY_CHILD_URL") else {
        return;
    };
    let mut cfg = Config::default();
    if let Ok(pem) = std::env::var("H2CLIENT_PROXY_CHILD_CA") {
        cfg.tls.set_ca_pem(pem.as_bytes()).unwrap();
    }
    cfg.set_connect_timeout_ms(5_000).unwrap();
    let c = Client::without_base(cfg).unwrap();
    match c.execute(Arc::new(Request::from_url("GET", &url).unwrap())) {
        Ok(r) => println!("CHILD-RESULT status {}", r.status()),
        Err(e) => println!("CHILD-RESULT error {} {}", e.kind.c_name(), e.message),
    }
}

fn run_child(url: &str, ca: Option<&str>, env: &[(&str, String)]) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "env_child", "--nocapture", "--test-threads=1"]);
    for v in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        cmd.env_remove(v);
    }
    cmd.env("H2CLIENT_PROXY_CHILD_URL", url);
    if let Some(ca) = ca {
        cmd.env("H2CLIENT_PROXY_CHILD_CA", ca);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.split_once("CHILD-RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| {
            panic!(
                "child said nothing: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .to_owned()
}

#[test]
fn environment_variables_choose_the_proxy() {
    let p = tinyproxy(Some(("env", "pw")));
    let good = format!("http://env:pw@127.0.0.1:{}", p.port);
    let bad = format!("http://127.0.0.1:{}", p.port);
    let s = tls_server();
    let ca = s.tls_ca_pem();
    // https_proxy for https origins: the authenticated one works, the other gets 407.
    let r = run_child(&s.url(), ca, &[("https_proxy", good.clone())]);
    assert_eq!(r, "status 200");
    let r = run_child(&s.url(), ca, &[("HTTPS_PROXY", bad.clone())]);
    assert!(
        r.starts_with("error H2_E_PROXY") && r.contains("proxy authentication is required"),
        "{r}"
    );
    // http_proxy is not for https origins; all_proxy is.
    let r = run_child(&s.url(), ca, &[("http_proxy", bad.clone())]);
    assert_eq!(r, "status 200", "direct");
    let r = run_child(&s.url(), ca, &[("ALL_PROXY", bad.clone())]);
    assert!(r.starts_with("error H2_E_PROXY"), "{r}");
    // no_proxy exempts the origin.
    let r = run_child(
        &s.url(),
        ca,
        &[
            ("https_proxy", bad.clone()),
            ("no_proxy", "127.0.0.1".into()),
        ],
    );
    assert_eq!(r, "status 200");
    // http origins: http_proxy, never HTTP_PROXY.
    let h = server();
    let r = run_child(&h.url(), None, &[("http_proxy", bad.clone())]);
    assert!(r.starts_with("error H2_E_PROXY"), "{r}");
    let r = run_child(&h.url(), None, &[("HTTP_PROXY", bad.clone())]);
    assert_eq!(r, "status 200", "HTTP_PROXY is ignored");
    let r = run_child(&h.url(), None, &[("http_proxy", good)]);
    assert_eq!(r, "status 200");
}

/// A fake proxy on loopback that answers the first CONNECT with `answer`.
fn fake_proxy(answer: Vec<u8>) -> (u16, std::thread::JoinHandle<String>) {
    use std::io::{Read, Write};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut req = Vec::new();
        let mut b = [0u8; 1];
        while !req.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap_or(0) == 1 {
            req.push(b[0]);
        }
        let _ = s.write_all(&answer);
        std::thread::sleep(Duration::from_millis(100));
        String::from_utf8_lossy(&req).into_owned()
    });
    (port, t)
}

#[test]
fn connect_answers_407_oversized_and_garbage() {
    let s = server();
    let (port, t) = fake_proxy(
        b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n".to_vec(),
    );
    let e = fails(&format!("http://u:p@127.0.0.1:{port}"), &s);
    assert_eq!(e.kind, ErrorKind::Proxy, "{e:?}");
    assert_eq!(e.processed, Processed::No);
    assert!(
        e.message.contains("407 Proxy Authentication Required"),
        "{}",
        e.message
    );
    let req = t.join().unwrap();
    let want = format!(
        "CONNECT 127.0.0.1:{p} HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nProxy-Authorization: Basic dTpw\r\n\r\n",
        p = s.addr().port()
    );
    assert_eq!(req, want);

    let (port, t) = fake_proxy(b"HTTP/1.1 403 Forbidden\r\n\r\n".to_vec());
    let e = fails(&format!("http://127.0.0.1:{port}"), &s);
    assert!(e.message.contains("403 Forbidden"), "{}", e.message);
    t.join().unwrap();

    // A head that never ends: refused at 16 KiB.
    let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 40 << 10));
    let (port, t) = fake_proxy(big);
    let e = fails(&format!("http://127.0.0.1:{port}"), &s);
    assert_eq!(e.kind, ErrorKind::Proxy, "{e:?}");
    assert!(
        e.message.contains("longer than 16384 bytes"),
        "{}",
        e.message
    );
    t.join().unwrap();

    let (port, t) = fake_proxy(b"SSH-2.0-OpenSSH\r\n\r\n".to_vec());
    let e = fails(&format!("http://127.0.0.1:{port}"), &s);
    assert!(
        e.message.contains("not an HTTP/1.x answer"),
        "{}",
        e.message
    );
    t.join().unwrap();
    assert_eq!(s.connections_accepted(), 0);
}

/// The C API: h2_config_set_proxy (NULL, "", a URL, a bad URL) and h2_config_set_no_proxy.
#[test]
fn c_api_set_proxy_and_no_proxy() {
    use h2client::ffi::*;
    use std::ffi::CString;
    use std::ptr::{null, null_mut};
    let cs = |s: &str| CString::new(s).unwrap();
    let p = microsocks(Some(("c", "api")));
    let s = server();
    let url = cs(&format!("{}/bytes/10", s.url()));
    // SAFETY: every pointer passed is live or NULL as each function allows.
    unsafe {
        let fetch = |cfg: *mut h2_config| -> h2_result {
            let client = h2_client_new(null(), cfg);
            assert!(!client.is_null());
            let req = h2_request_new_url(cs("GET").as_ptr(), url.as_ptr());
            let mut resp = null_mut();
            let rc = h2_client_do(client, req, &mut resp);
            if rc == H2_OK {
                assert_eq!(h2_response_status(resp), 200);
                h2_response_free(resp);
            }
            h2_request_free(req);
            h2_client_free(client);
            rc
        };
        assert_eq!(
            h2_config_set_proxy(null_mut(), null()),
            H2_E_INVALID_ARGUMENT
        );
        assert_eq!(
            h2_config_set_no_proxy(null_mut(), null()),
            H2_E_INVALID_ARGUMENT
        );
        let cfg = h2_config_new();
        assert_eq!(
            h2_config_set_proxy(cfg, cs("gopher://x").as_ptr()),
            H2_E_INVALID_URL
        );
        let good = cs(&format!("socks5://c:api@127.0.0.1:{}", p.port));
        assert_eq!(h2_config_set_proxy(cfg, good.as_ptr()), H2_OK);
        assert_eq!(fetch(cfg), H2_OK);
        let bad = cs(&format!("socks5://c:no@127.0.0.1:{}", p.port));
        assert_eq!(h2_config_set_proxy(cfg, bad.as_ptr()), H2_OK);
        assert_eq!(fetch(cfg), H2_E_PROXY);
        // The no-proxy list exempts the origin; then NULL gives the environment's back.
        assert_eq!(h2_config_set_no_proxy(cfg, cs("127.0.0.1").as_ptr()), H2_OK);
        assert_eq!(fetch(cfg), H2_OK);
        assert_eq!(h2_config_set_no_proxy(cfg, null()), H2_OK);
        assert_eq!(h2_config_set_proxy(cfg, cs("").as_ptr()), H2_OK);
        assert_eq!(fetch(cfg), H2_OK);
        assert_eq!(h2_config_set_proxy(cfg, null()), H2_OK);
        h2_config_free(cfg);
    }
    assert_eq!(s.connections_accepted(), 3);
}

/// Through a CONNECT tunnel, `h2_response_info` names the proxy as the remote address (as
/// curl's CURLINFO_PRIMARY_IP) and describes the origin's TLS session inside the tunnel.
#[test]
fn request_info_names_the_proxy_and_the_origins_tls() {
    use h2client::ffi::*;
    use std::ffi::{CStr, CString};
    use std::ptr::{null, null_mut};
    let p = tinyproxy(None);
    let s = tls_server();
    let cs = |s: &str| CString::new(s).unwrap();
    // SAFETY: live objects, freed once; the out struct has struct_size set.
    unsafe {
        let cfg = h2_config_new();
        let ca = s.tls_ca_pem().unwrap();
        assert_eq!(h2_config_set_ca_pem(cfg, ca.as_ptr(), ca.len()), H2_OK);
        let proxy = cs(&format!("http://127.0.0.1:{}", p.port));
        assert_eq!(h2_config_set_proxy(cfg, proxy.as_ptr()), H2_OK);
        let client = h2_client_new(null(), cfg);
        let url = cs(&format!("{}/bytes/100", s.url()));
        let req = h2_request_new_url(cs("GET").as_ptr(), url.as_ptr());
        let mut resp = null_mut();
        assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
        let mut i: h2_request_info = std::mem::zeroed();
        i.struct_size = std::mem::size_of::<h2_request_info>();
        assert_eq!(h2_response_info(resp, &mut i), H2_OK);
        assert_eq!(CStr::from_ptr(i.remote_address).to_str(), Ok("127.0.0.1"));
        assert_eq!(i.remote_port, p.port, "the proxy's port");
        assert_ne!(i.remote_port, s.addr().port());
        assert_eq!(i.tls_version, 0x0304, "the origin's TLS, inside the tunnel");
        assert_eq!(CStr::from_ptr(i.alpn).to_str(), Ok("h2"));
        assert_eq!(i.peer_certificate_count, 1);
        assert!(i.time_connect_us > 0 && i.time_tls_us > i.time_connect_us);
        assert!(i.time_tls_us <= i.time_headers_sent_us);
        assert_eq!(i.body_bytes_received, 100);
        h2_response_free(resp);
        h2_request_free(req);
        h2_client_free(client);
        h2_config_free(cfg);
    }
}

/// An https proxy: TLS (a certificate for 127.0.0.1 and localhost from its own CA, ALPN
/// http/1.1) in front of `backend` (tinyproxy), on a free loopback port. Returns the port
/// and the CA.
fn tls_front(backend: u16) -> (u16, String) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bundle = h2client_testserver::tls::generate(&["127.0.0.1", "localhost"]);
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(bundle.cert_pem.as_bytes())
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_slice(bundle.key_pem.as_bytes()).unwrap();
    let mut sc = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    sc.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(sc));
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            loop {
                let Ok((s, _)) = l.accept().await else { return };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(s).await else {
                        return;
                    };
                    let Ok(mut back) = tokio::net::TcpStream::connect(("127.0.0.1", backend)).await
                    else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut back).await;
                });
            }
        });
    });
    (port, bundle.ca_pem)
}

#[test]
fn https_proxy_to_h2c_and_tls_origins() {
    let p = tinyproxy(Some(("tls", "pw")));
    let (port, proxy_ca) = tls_front(p.port);
    let proxy = format!("https://tls:pw@localhost:{port}");
    // TLS inside TLS: the origin's certificate checked against its CA, the proxy's against
    // its own (both trusted here).
    let s = tls_server();
    let c = Client::without_base({
        let mut c = config(&proxy, &s);
        let both = format!("{}\n{proxy_ca}", s.tls_ca_pem().unwrap());
        c.tls.set_ca_pem(both.as_bytes()).unwrap();
        c
    })
    .unwrap();
    let r = c
        .execute(Arc::new(
            Request::from_url("GET", &format!("{}/bytes/100000", s.url())).unwrap(),
        ))
        .unwrap();
    assert_eq!(r.body(), pattern(100_000).as_slice());
    // h2c inside TLS to the proxy.
    let h = server();
    let mut cfg = config(&proxy, &h);
    cfg.tls.set_ca_pem(proxy_ca.as_bytes()).unwrap();
    let c = Client::without_base(cfg).unwrap();
    let r = c
        .execute(Arc::new(
            Request::from_url("GET", &format!("{}/bytes/100", h.url())).unwrap(),
        ))
        .unwrap();
    assert_eq!(r.body(), pattern(100).as_slice());
    // A proxy certificate nobody trusts: H2_E_TLS naming the proxy.
    let e = fails(&proxy, &h);
    assert_eq!(e.kind, ErrorKind::Tls, "{e:?}");
    assert!(
        e.message.contains("proxy https://localhost"),
        "{}",
        e.message
    );
    assert_eq!(h.connections_accepted(), 1);
}

/// A port probed as free can be taken by another test's server before the child binds it;
/// the start-up check must then not believe the child is up (it did: "connection refused"
/// from nghttpd in the middle of a test, once the other server went away).
#[test]
fn a_port_another_process_listens_on_is_not_the_childs() {
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = other.local_addr().unwrap().port();
    let mut child = Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("spawn sleep");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "something answers on the port (what the old check looked at)"
    );
    let childs = common::proxy::listening_in_tree(child.id(), port);
    let ours = common::proxy::listening_in_tree(std::process::id(), port);
    let _ = child.kill();
    let _ = child.wait();
    assert!(!childs, "the child does not listen there");
    assert!(ours, "this process does");
    drop(other);
    assert!(!common::proxy::listening_in_tree(std::process::id(), port));
}
