//! Interop tests against real HTTP/2 servers — nghttpd (nghttp2), h2o and nginx, as Debian 12
//! packages them (nghttp2-server 1.52, h2o 2.2.5 and nginx 1.22 with nginx-light's echo module,
//! all on OpenSSL 3.0) — over h2c with prior knowledge and over TLS (h2 by ALPN). The servers
//! must be installed — a missing binary fails the test with an install hint; CI installs them
//! with apt.
//!
//! Every test starts its own server process in its own temporary directory (a fixed-content
//! docroot, a generated config and, for TLS, a certificate made at test time by
//! `h2client_testserver::tls::generate`) and kills it on drop, so tests run in parallel. The h2c
//! cases are at the top level (`static_files::nghttpd`, ...), the same cases over TLS and the
//! TLS-only ones in `tls::` (`tls::static_files::nghttpd`, `tls::by_name::h2o`, ...).
//!
//! What the servers do with the edge cases (observed with the Debian 12 versions):
//!
//! * A 20 KiB request header (a header block larger than the 16 KiB default frame size):
//!   the client sends HEADERS + CONTINUATION (checked by a relay that records the client's
//!   frames). nghttpd and h2o accept the block and answer 200 (nghttpd's `-v` log and h2o's
//!   mruby handler show that the value arrived intact). nginx, with the default
//!   `large_client_header_buffers 4 8k`, logs "client sent too large header field" and closes
//!   the connection with GOAWAY(ENHANCE_YOUR_CALM) whose last stream id *includes* the
//!   request, without answering it; with `large_client_header_buffers 4 64k` it answers 200.
//!   nginx announces SETTINGS_MAX_FRAME_SIZE 16777215: once the client has it, the block goes
//!   out as one HEADERS frame. Over TLS the answers are the same; the frames are not
//!   checked there (the relay cannot read them).
//! * POST of 1 MiB: nghttpd `--echo-upload`, an h2o mruby handler and nginx's echo module
//!   (`echo_read_request_body; echo_request_body;`) echo the body. POST to a static file gets
//!   405 from h2o and from nginx; nginx answers before reading the body and then sends
//!   RST_STREAM(NO_ERROR), which the client must treat as a complete response.
//! * nginx sends GOAWAY(NO_ERROR) after `keepalive_requests` requests on a connection and after
//!   `keepalive_timeout` of idleness; h2o after `http2-idle-timeout`.
//!
//! What each server negotiates with h2client over TLS (their default TLS settings, an ECDSA
//! P-256 certificate; seen once by hand in the plaintext ClientHello/ServerHello through a
//! loopback relay, and in h2o's and nginx's access logs with `%{ssl.protocol-version}x
//! %{ssl.cipher}x %{ssl.session-reused}x` and `$ssl_protocol $ssl_cipher $ssl_session_reused`):
//!
//! * nghttpd: TLS 1.3, TLS_AES_256_GCM_SHA384. nghttpd accepts only the P-256 group, so every
//!   full handshake takes a HelloRetryRequest (rustls offers an X25519 key share first); a
//!   resumed one offers P-256 directly. It issues TLS 1.3 session tickets: a client's second
//!   connection resumes (PSK).
//! * h2o: TLS 1.3, TLS_AES_256_GCM_SHA384, X25519; resumes with TLS 1.3 session tickets.
//!   `ocsp-update-interval: 0` stops it from starting its OCSP fetcher for the test certificate.
//! * nginx 1.22: TLS 1.2 (its default `ssl_protocols` lacks TLSv1.3 before 1.23.4),
//!   ECDHE-ECDSA-AES256-GCM-SHA384, X25519; resumes with TLS 1.2 session tickets. So the
//!   nginx cases are the TLS 1.2 ones.
//!
//! `openssl s_client -alpn h2` (OpenSSL 3.0) negotiates the same with each. With the client
//! limited to TLS 1.2 (`set_versions(TLS_1_2)`), nghttpd picks ECDHE-ECDSA-AES128-GCM-SHA256
//! and resumes by session id, h2o ECDHE-ECDSA-AES256-GCM-SHA384 and resumes by session ticket.
//! Resumption needs the same `Client` (reconnecting): each `Client` has its own rustls session
//! cache, so a new one does a full handshake even with a copy of the same `Config`.

mod common;

use std::fmt;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2client::events::{Event, EventHook, EventKind};
use h2client::{Client, Config, ErrorKind, Processed, Reason, Request, Response};
use h2client_testserver::tls::CertBundle;

const INSTALL_HINT: &str = "the interop tests need real HTTP/2 servers: install them with \
     `apt-get install nghttp2-server h2o nginx-light` (CI installs them)";

/// The largest static file.
const BIG: usize = 64 << 20;

/// The static files every docroot holds (the 64 MiB one only when asked for).
const FILES: [(&str, usize); 4] = [("f0", 0), ("f1", 1), ("f16k", 16 << 10), ("f1m", 1 << 20)];

/// Whole-request timeout: a hang becomes a failure instead of a stuck test run.
const REQUEST_TIMEOUT_MS: u32 = 60_000;

// ---------------------------------------------------------------------------------------------
// Deterministic contents

/// Byte `i` of every static file: `(i * 31 + 7) % 251`. Smaller files are prefixes of this.
fn file_bytes() -> &'static [u8] {
    static DATA: OnceLock<Vec<u8>> = OnceLock::new();
    DATA.get_or_init(|| (0..BIG).map(|i| ((i * 31 + 7) % 251) as u8).collect())
}

/// The POST body pattern (different from the files, so an echo cannot be confused with a file).
fn post_body(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 17 + 3) % 253) as u8).collect()
}

/// A 20 KiB header value made only of characters whose HPACK Huffman codes are 8 bits or
/// longer, so that the encoded header block cannot shrink below 16 KiB.
fn big_header_value() -> Vec<u8> {
    let alphabet = b"XZ&*,;!?()~";
    (0..20 << 10)
        .map(|i| alphabet[(i * 7 + i / 11) % alphabet.len()])
        .collect()
}

/// Why `got` is not `want`, without printing megabytes.
fn bytes_mismatch(got: &[u8], want: &[u8]) -> Option<String> {
    if got == want {
        return None;
    }
    let first = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    Some(format!(
        "body differs: got {} bytes, want {} bytes; first difference at offset {first}",
        got.len(),
        want.len(),
    ))
}

/// Asserts that `got` is `want`.
fn check_bytes(what: &str, got: &[u8], want: &[u8]) {
    if let Some(m) = bytes_mismatch(got, want) {
        panic!("{what}: {m}");
    }
}

// ---------------------------------------------------------------------------------------------
// Servers

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Nghttpd,
    H2o,
    Nginx,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Nghttpd => "nghttpd",
            Kind::H2o => "h2o",
            Kind::Nginx => "nginx",
        })
    }
}

/// How the client reaches a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// HTTP/2 over cleartext TCP, with prior knowledge.
    H2c,
    /// HTTP/2 over TLS, `h2` selected by ALPN.
    Tls,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::H2c => "h2c",
            Mode::Tls => "TLS",
        })
    }
}

/// The names of the servers' TLS certificates (subject alternative names).
const CERT_NAMES: &[&str] = &["localhost", "127.0.0.1"];

/// How to start a server.
#[derive(Default, Clone)]
struct Setup {
    /// Serve TLS (h2 by ALPN) with a certificate made at start for these names, signed by a
    /// fresh CA; h2c when `None`.
    tls: Option<&'static [&'static str]>,
    /// Also write the 64 MiB file.
    big_file: bool,
    /// nghttpd: `-v` (frames and received header fields on stdout).
    verbose: bool,
    /// Extra directives: nginx's `server` block, h2o's top level.
    extra: String,
    /// nginx: a second `server` block on its own port (`ServerProc::port2`) with these
    /// directives instead of `extra`.
    second_server: Option<String>,
    /// More files for the docroot: (name, contents).
    files: Vec<(String, Vec<u8>)>,
}

impl Setup {
    /// The defaults, over `mode` (TLS with a certificate for [`CERT_NAMES`]).
    fn new(mode: Mode) -> Setup {
        Setup {
            tls: (mode == Mode::Tls).then_some(CERT_NAMES),
            ..Setup::default()
        }
    }
}

/// Looks for a server binary in PATH and the sbin directories (which a non-root PATH lacks).
fn find_bin(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(
        [
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/usr/local/sbin",
            "/usr/local/bin",
        ]
        .iter()
        .map(PathBuf::from),
    );
    for d in dirs {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` not found in PATH or /usr/sbin: {INSTALL_HINT}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .unwrap()
        .port()
}

fn unique_dir(kind: Kind) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "h2client-interop-{kind}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// A server process in its own temporary directory; killed, reaped and removed on drop.
struct ServerProc {
    kind: Kind,
    child: Child,
    dir: PathBuf,
    port: u16,
    port2: Option<u16>,
    /// The CA and the certificate it serves, when it serves TLS.
    tls: Option<CertBundle>,
}

impl ServerProc {
    fn start(kind: Kind, setup: Setup) -> ServerProc {
        let bin = find_bin(match kind {
            Kind::Nghttpd => "nghttpd",
            Kind::H2o => "h2o",
            Kind::Nginx => "nginx",
        });
        let dir = unique_dir(kind);
        let docroot = dir.join("docroot");
        std::fs::create_dir_all(&docroot).unwrap();
        let data = file_bytes();
        for (name, n) in FILES {
            std::fs::write(docroot.join(name), &data[..n]).unwrap();
        }
        if setup.big_file {
            std::fs::write(docroot.join("f64m"), data).unwrap();
        }
        for (name, contents) in &setup.files {
            std::fs::write(docroot.join(name), contents).unwrap();
        }
        // TLS: cert.pem and key.pem for the server (ca.pem only for a person debugging).
        let tls = setup.tls.map(|names| {
            let b = h2client_testserver::tls::generate(names);
            std::fs::write(dir.join("cert.pem"), &b.cert_pem).unwrap();
            std::fs::write(dir.join("key.pem"), &b.key_pem).unwrap();
            std::fs::write(dir.join("ca.pem"), &b.ca_pem).unwrap();
            b
        });
        // A port can be taken between probing and binding: retry a few times. Servers start
        // one at a time, so that two tests running at once cannot probe the same free port
        // and both believe the server listening there is theirs (a test then talked to the
        // other test's TLS server: "closed the connection before sending its SETTINGS").
        static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let port2 = setup.second_server.as_ref().map(|_| free_port());
            let mut cmd = Command::new(&bin);
            match kind {
                Kind::Nghttpd => {
                    // TLS unless --no-tls: `nghttpd [options] PORT KEY CERT`, h2 by ALPN.
                    if tls.is_none() {
                        cmd.arg("--no-tls");
                    }
                    cmd.args(["-a", "127.0.0.1", "-n", "1", "--echo-upload", "-d"])
                        .arg(&docroot);
                    if setup.verbose {
                        cmd.arg("-v");
                    }
                    cmd.arg(port.to_string());
                    if tls.is_some() {
                        cmd.arg(dir.join("key.pem")).arg(dir.join("cert.pem"));
                    }
                }
                Kind::H2o => {
                    let conf = dir.join("h2o.conf");
                    std::fs::write(&conf, h2o_config(&dir, &docroot, port, &setup)).unwrap();
                    cmd.arg("-c").arg(&conf);
                }
                Kind::Nginx => {
                    let conf = dir.join("nginx.conf");
                    std::fs::write(&conf, nginx_config(&dir, &docroot, port, port2, &setup))
                        .unwrap();
                    cmd.arg("-p")
                        .arg(&dir)
                        .arg("-c")
                        .arg(&conf)
                        .arg("-e")
                        .arg(dir.join("error.log"));
                }
            }
            let stdout = std::fs::File::create(dir.join("stdout.log")).unwrap();
            let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
            let child = cmd
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}: {INSTALL_HINT}", bin.display()));
            let mut s = ServerProc {
                kind,
                child,
                dir: dir.clone(),
                port,
                port2,
                tls: tls.clone(),
            };
            if s.wait_ready() {
                return s;
            }
            last_log = s.logs();
            // Dropping `s` would remove the directory; kill only.
            let _ = s.child.kill();
            let _ = s.child.wait();
            std::mem::forget(s);
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("{kind} did not start listening within 10 s; its logs:\n{last_log}");
    }

    /// Waits until every port accepts TCP; false if the process exited or 10 s passed.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        let ports: Vec<u16> = std::iter::once(self.port).chain(self.port2).collect();
        for p in ports {
            loop {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return false;
                }
                // Ours listening there, not merely something (see `wait_listening`).
                if common::proxy::listening_in_tree(self.child.id(), p) {
                    break;
                }
                if Instant::now() > deadline {
                    return false;
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        true
    }

    /// The base URL: `http://127.0.0.1:PORT`, `https://` when the server serves TLS.
    fn url(&self) -> String {
        self.url_to("127.0.0.1", self.port)
    }

    /// The base URL for `host` (a name or an address of the server) and `port`.
    fn url_to(&self, host: &str, port: u16) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{host}:{port}")
    }

    /// The PEM of the CA that signed the server's certificate (TLS only).
    fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|b| b.ca_pem.as_str())
    }

    /// A client for [`ServerProc::url`], trusting the server's CA only.
    fn client(&self) -> (Client, EventLog) {
        new_client(&self.url(), self.ca_pem())
    }

    /// The server's stdout, stderr and error log.
    fn logs(&self) -> String {
        let mut out = String::new();
        for f in ["stdout.log", "stderr.log", "error.log"] {
            if let Ok(b) = std::fs::read(self.dir.join(f)) {
                let tail = &b[b.len().saturating_sub(8192)..];
                out += &format!(
                    "--- {} {f} (last 8 KiB)\n{}\n",
                    self.kind,
                    String::from_utf8_lossy(tail)
                );
            }
        }
        out
    }

    /// Waits up to 5 s for `needle` to appear in the server's stdout.
    fn stdout_contains(&self, needle: &[u8]) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let b = std::fs::read(self.dir.join("stdout.log")).unwrap_or_default();
            if b.windows(needle.len()).any(|w| w == needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!("{}", self.logs());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn h2o_config(dir: &Path, docroot: &Path, port: u16, setup: &Setup) -> String {
    // h2o drops privileges to `nobody` when started as root unless told otherwise.
    let user = if is_root() { "user: root\n" } else { "" };
    // TLS: no OCSP stapling, which would start h2o's OCSP fetcher for the test certificate.
    let ssl = if setup.tls.is_some() {
        format!(
            "  ssl:\n    certificate-file: {d}/cert.pem\n    key-file: {d}/key.pem\n    \
             ocsp-update-interval: 0\n",
            d = dir.display()
        )
    } else {
        String::new()
    };
    format!(
        r#"listen:
  host: 127.0.0.1
  port: {port}
{ssl}{user}num-threads: 1
pid-file: {dir}/h2o.pid
error-log: {dir}/error.log
access-log: /dev/null
{extra}
hosts:
  "*":
    paths:
      /echo:
        mruby.handler: |
          Proc.new do |env|
            body = env["rack.input"] ? env["rack.input"].read : ""
            [200, {{"content-type" => "application/octet-stream"}}, [body]]
          end
      /header:
        mruby.handler: |
          Proc.new do |env|
            [200, {{"content-type" => "application/octet-stream"}}, [env["HTTP_X_BIG"].to_s]]
          end
      /:
        file.dir: {docroot}
"#,
        dir = dir.display(),
        docroot = docroot.display(),
        extra = setup.extra,
    )
}

fn nginx_config(
    dir: &Path,
    docroot: &Path,
    port: u16,
    port2: Option<u16>,
    setup: &Setup,
) -> String {
    let echo_module = Path::new("/usr/lib/nginx/modules/ngx_http_echo_module.so");
    assert!(
        echo_module.is_file(),
        "{} is missing (package libnginx-mod-http-echo, a dependency of nginx-light): {INSTALL_HINT}",
        echo_module.display()
    );
    let d = dir.display();
    // TLS with nginx's defaults otherwise (TLS 1.2 only, in 1.22).
    let (ssl, tls) = if setup.tls.is_some() {
        (
            " ssl",
            format!("\n    ssl_certificate {d}/cert.pem;\n    ssl_certificate_key {d}/key.pem;"),
        )
    } else {
        ("", String::new())
    };
    let server = |port: u16, extra: &str| {
        format!(
            r#"  server {{
    listen 127.0.0.1:{port}{ssl} http2;{tls}
    root {docroot};
    client_max_body_size 8m;
    client_body_buffer_size 2m;
    {extra}
    location /echo {{ echo_read_request_body; echo_request_body; }}
    location /header {{ echo -n $http_x_big; }}
  }}
"#,
            docroot = docroot.display()
        )
    };
    let mut servers = server(port, &setup.extra);
    if let (Some(p2), Some(extra2)) = (port2, &setup.second_server) {
        servers += &server(p2, extra2);
    }
    // `sendfile off`: with sendfile, nginx 1.22's HTTP/2 responses stall ~40 ms each.
    format!(
        r#"load_module {module};
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile off;
  default_type application/octet-stream;
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
{servers}}}
"#,
        module = echo_module.display(),
    )
}

// ---------------------------------------------------------------------------------------------
// A TCP relay that records the frames the client sends

#[derive(Clone, Copy, Debug)]
struct FrameHead {
    len: u32,
    kind: u8,
    flags: u8,
    stream: u32,
}

const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_HEADERS: u8 = 0x4;

/// Relays 127.0.0.1:`port` to a server and records the header of every frame the client sends.
struct FrameSpy {
    port: u16,
    frames: Arc<Mutex<Vec<FrameHead>>>,
    stop: Arc<AtomicBool>,
}

impl FrameSpy {
    fn start(upstream: u16) -> FrameSpy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, st) = (frames.clone(), stop.clone());
        thread::spawn(move || {
            for conn in l.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = conn else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                Self::relay(client, server, f.clone());
            }
        });
        FrameSpy { port, frames, stop }
    }

    fn relay(client: TcpStream, server: TcpStream, frames: Arc<Mutex<Vec<FrameHead>>>) {
        let (mut c_rd, mut c_wr) = (client.try_clone().unwrap(), client);
        let (mut s_rd, mut s_wr) = (server.try_clone().unwrap(), server);
        thread::spawn(move || {
            let _ = std::io::copy(&mut s_rd, &mut c_wr);
            let _ = c_wr.shutdown(Shutdown::Write);
        });
        thread::spawn(move || {
            let mut buf = vec![0u8; 64 << 10];
            let mut preface = 24usize;
            let mut head = Vec::with_capacity(9);
            let mut skip = 0usize;
            loop {
                let n = match c_rd.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                // Record first, then forward: once the server has the bytes it may answer,
                // and the test may look at the frames as soon as the client has the answer.
                let mut b = &buf[..n];
                while !b.is_empty() {
                    if preface > 0 {
                        let k = preface.min(b.len());
                        preface -= k;
                        b = &b[k..];
                    } else if skip > 0 {
                        let k = skip.min(b.len());
                        skip -= k;
                        b = &b[k..];
                    } else {
                        let k = (9 - head.len()).min(b.len());
                        head.extend_from_slice(&b[..k]);
                        b = &b[k..];
                        if head.len() == 9 {
                            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]);
                            let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]])
                                & !(1 << 31);
                            frames.lock().unwrap().push(FrameHead {
                                len,
                                kind: head[3],
                                flags: head[4],
                                stream,
                            });
                            skip = len as usize;
                            head.clear();
                        }
                    }
                }
                if s_wr.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = s_wr.shutdown(Shutdown::Write);
        });
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The frames the client sent on `stream`.
    fn frames_on(&self, stream: u32) -> Vec<FrameHead> {
        self.frames
            .lock()
            .unwrap()
            .iter()
            .filter(|f| f.stream == stream)
            .copied()
            .collect()
    }
}

impl Drop for FrameSpy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

// ---------------------------------------------------------------------------------------------
// Client helpers

type EventLog = Arc<Mutex<Vec<Event>>>;

/// The tests' client configuration: a request timeout, an event log and, for `https://`, trust
/// in the CA `ca_pem` only.
fn client_config(ca_pem: Option<&str>) -> (Config, EventLog) {
    let log: EventLog = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let mut cfg = Config::default();
    cfg.set_request_timeout_ms(REQUEST_TIMEOUT_MS);
    cfg.events = Some(EventHook(Arc::new(move |e: &Event| {
        if e.kind != EventKind::StreamOpened && e.kind != EventKind::StreamClosed {
            l.lock().unwrap().push(e.clone());
        }
    })));
    if let Some(pem) = ca_pem {
        cfg.tls.set_ca_pem(pem.as_bytes()).expect("set_ca_pem");
    }
    (cfg, log)
}

/// A client of [`client_config`].
fn new_client(url: &str, ca_pem: Option<&str>) -> (Client, EventLog) {
    let (cfg, log) = client_config(ca_pem);
    (Client::new(url, cfg).expect("client"), log)
}

fn count_events(log: &EventLog, kind: EventKind) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|e| e.kind == kind)
        .count()
}

fn get(c: &Client, path: &str) -> h2client::error::Result<Response> {
    c.execute(Arc::new(Request::new("GET", path).unwrap()))
}

/// GET `/name`, expecting 200 and the file's exact contents.
fn try_get_file(kind: Kind, c: &Client, name: &str, n: usize) -> Result<(), String> {
    let what = format!("{kind}: GET /{name}");
    let r = get(c, &format!("/{name}")).map_err(|e| format!("{what}: {e:?}"))?;
    if r.status() != 200 {
        return Err(format!("{what}: status {}", r.status()));
    }
    let cl = r.headers().value(b"content-length");
    if cl != Some(n.to_string().as_bytes()) {
        return Err(format!(
            "{what}: content-length {:?}, want {n}",
            cl.map(String::from_utf8_lossy)
        ));
    }
    match bytes_mismatch(r.body(), &file_bytes()[..n]) {
        Some(m) => Err(format!("{what}: {m}")),
        None => Ok(()),
    }
}

/// [`try_get_file`], panicking on failure.
fn get_file(kind: Kind, c: &Client, name: &str, n: usize) {
    if let Err(e) = try_get_file(kind, c, name, n) {
        panic!("{e}");
    }
}

fn post(
    c: &Client,
    path: &str,
    body: &[u8],
    content_length: bool,
) -> h2client::error::Result<Response> {
    let mut req = Request::new("POST", path).unwrap();
    req.add_header(b"content-type", b"application/octet-stream")
        .unwrap();
    if content_length {
        req.add_header(b"content-length", body.len().to_string().as_bytes())
            .unwrap();
    }
    req.set_body(Bytes::copy_from_slice(body));
    c.execute(Arc::new(req))
}

// ---------------------------------------------------------------------------------------------
// Cases run against every server

/// Sequential GETs of 0 B .. 64 MiB files, byte-exact, over one connection.
fn static_files(kind: Kind, mode: Mode) {
    let s = ServerProc::start(
        kind,
        Setup {
            big_file: true,
            ..Setup::new(mode)
        },
    );
    let (c, _) = s.client();
    let t0 = Instant::now();
    for (name, n) in FILES.into_iter().chain([("f64m", BIG)]) {
        get_file(kind, &c, name, n);
    }
    let snap = c.snapshot();
    println!(
        "{kind} ({mode}): static files 0 B..64 MiB in {:?}, connections opened {}",
        t0.elapsed(),
        snap.connections_opened
    );
    assert_eq!(
        snap.connections_opened, 1,
        "{kind}: one connection for sequential GETs"
    );
}

/// 100 threads share one client; two rounds of 100 simultaneous GETs of the 16 KiB and 1 MiB
/// files.
fn concurrent_100(kind: Kind, mode: Mode) {
    let s = ServerProc::start(kind, Setup::new(mode));
    let (c, log) = s.client();
    let c = Arc::new(c);
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let monitor = {
        let (c, done, peak) = (c.clone(), done.clone(), peak.clone());
        thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(c.snapshot().open_streams, Ordering::Relaxed);
                thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let barrier = Arc::new(Barrier::new(100));
    let t0 = Instant::now();
    let threads: Vec<_> = (0..100)
        .map(|t| {
            let (c, barrier) = (c.clone(), barrier.clone());
            // No panics here: a thread missing the second round's barrier would hang the rest.
            thread::spawn(move || {
                let mut errors = Vec::new();
                for round in 0..2 {
                    barrier.wait();
                    let (name, n) = if (t + round) % 2 == 0 {
                        FILES[2]
                    } else {
                        FILES[3]
                    };
                    errors.extend(try_get_file(kind, &c, name, n).err());
                }
                errors
            })
        })
        .collect();
    let errors: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("request thread"))
        .collect();
    done.store(true, Ordering::Relaxed);
    monitor.join().unwrap();
    let snap = c.snapshot();
    println!(
        "{kind} ({mode}): 200 concurrent GETs in {:?}: connections opened {}, peak open \
         streams {}, stream limits {:?}, retries {}, GOAWAYs {}",
        t0.elapsed(),
        snap.connections_opened,
        peak.load(Ordering::Relaxed),
        snap.stream_limits,
        snap.retries,
        count_events(&log, EventKind::GoAway)
    );
    assert!(
        errors.is_empty(),
        "{kind}: {} of 200 requests failed; first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    // Each server allows at least 100 concurrent streams: one connection carries them all; a
    // second one is tolerated for a request that raced the first connection's SETTINGS.
    assert!(
        snap.connections_opened <= 2,
        "{kind}: {} connections opened for 100 concurrent streams",
        snap.connections_opened
    );
}

/// A request whose header block (20 KiB) exceeds the 16 KiB default frame size. Over h2c a
/// relay checks the frames the client sends; over TLS only the outcome is checked.
fn big_header_block(kind: Kind, mode: Mode) {
    let setup = match kind {
        Kind::Nghttpd => Setup {
            verbose: true,
            ..Setup::new(mode)
        },
        Kind::H2o => Setup::new(mode),
        Kind::Nginx => Setup {
            second_server: Some("large_client_header_buffers 4 64k;".into()),
            ..Setup::new(mode)
        },
    };
    let s = ServerProc::start(kind, setup);
    let value = big_header_value();
    let spy = (mode == Mode::H2c).then(|| FrameSpy::start(s.port));
    let (c, log) = match &spy {
        Some(spy) => new_client(&spy.url(), None),
        None => s.client(),
    };
    let path = if kind == Kind::Nghttpd {
        "/f16k"
    } else {
        "/header"
    };
    let mut req = Request::new("GET", path).unwrap();
    req.add_header(b"x-big", &value).unwrap();
    let req = Arc::new(req);
    let t0 = Instant::now();
    let res = c.execute(req.clone());
    let mut goaway_error = None;
    let outcome = match &res {
        Ok(r) => format!("status {} body {} bytes", r.status(), r.body().len()),
        Err(e) => format!("error {e:?}"),
    };
    println!(
        "{kind} ({mode}): 20 KiB header block -> {outcome} in {:?}",
        t0.elapsed()
    );

    // What went on the wire: the request is the client's first stream. nghttpd and h2o
    // announce no SETTINGS_MAX_FRAME_SIZE, so the block must be split into frames of at most
    // 16 KiB. nginx announces 16777215, but the request normally goes out before nginx's
    // SETTINGS have arrived (and then must be split too); should the SETTINGS win the race,
    // one HEADERS frame is right.
    if let Some(spy) = &spy {
        let head = header_frames(spy, 1);
        println!("{kind}: header block frames {head:?}");
        if kind == Kind::Nginx && head.len() == 1 {
            assert_eq!(head[0].kind, HEADERS, "{kind}: {head:?}");
            assert_eq!(head[0].flags & END_HEADERS, END_HEADERS, "{kind}: {head:?}");
            assert!(head[0].len > 20 << 10, "{kind}: {head:?}");
        } else {
            check_split_header_block(kind, &head);
        }
    }

    match kind {
        Kind::Nghttpd => {
            let r = res.unwrap_or_else(|e| panic!("{kind}: big header block: {e:?}"));
            assert_eq!(r.status(), 200, "{kind}");
            check_bytes(
                &format!("{kind}: /f16k"),
                r.body(),
                &file_bytes()[..16 << 10],
            );
            let mut line = b"x-big: ".to_vec();
            line.extend_from_slice(&value);
            assert!(
                s.stdout_contains(&line),
                "{kind}: the -v log does not show the x-big value intact"
            );
        }
        Kind::H2o => {
            let r = res.unwrap_or_else(|e| panic!("{kind}: big header block: {e:?}"));
            assert_eq!(r.status(), 200, "{kind}");
            check_bytes(&format!("{kind}: echoed x-big"), r.body(), &value);
        }
        Kind::Nginx => {
            // Default large_client_header_buffers (4 8k): "client sent too large header field",
            // GOAWAY(ENHANCE_YOUR_CALM) with last stream id 1, no response.
            let e = res.expect_err("nginx with 8k header buffers accepted a 20 KiB field");
            assert_eq!(e.kind, ErrorKind::GoAway, "{kind}: {e:?}");
            assert_eq!(e.reason, Some(Reason::ENHANCE_YOUR_CALM), "{kind}: {e:?}");
            assert!(e.message.contains("ENHANCE_YOUR_CALM"), "{kind}: {e:?}");
            assert!(count_events(&log, EventKind::GoAway) >= 1, "{kind}");
            goaway_error = Some(e);
        }
    }

    // The client still works: a plain GET, and the big header again.
    get_file(kind, &c, "f16k", 16 << 10);
    let again = c.execute(req.clone());
    match kind {
        Kind::Nginx => assert!(again.is_err(), "{kind}: second big header: {again:?}"),
        _ => assert_eq!(
            again.map(|r| r.status()).ok(),
            Some(200),
            "{kind}: second big header"
        ),
    }
    get_file(kind, &c, "f1", 1);
    let snap = c.snapshot();
    let expect_conns = if kind == Kind::Nginx { 3 } else { 1 };
    assert_eq!(
        snap.connections_opened, expect_conns,
        "{kind}: connections opened"
    );

    // nginx with 64 KiB header buffers takes the block and echoes it. After a first response
    // the client knows nginx's SETTINGS_MAX_FRAME_SIZE (16777215), so the block goes out as a
    // single HEADERS frame.
    if let Some(p2) = s.port2 {
        let spy2 = (mode == Mode::H2c).then(|| FrameSpy::start(p2));
        let (c2, _) = match &spy2 {
            Some(spy2) => new_client(&spy2.url(), None),
            None => new_client(&s.url_to("127.0.0.1", p2), s.ca_pem()),
        };
        get_file(kind, &c2, "f1", 1);
        let r = c2
            .execute(req)
            .unwrap_or_else(|e| panic!("{kind} (64k header buffers): {e:?}"));
        assert_eq!(r.status(), 200, "{kind} (64k header buffers)");
        check_bytes(&format!("{kind}: echoed x-big"), r.body(), &value);
        if let Some(spy2) = &spy2 {
            let head = header_frames(spy2, 3);
            println!("{kind} (64k header buffers, after SETTINGS): header block frames {head:?}");
            assert_eq!(
                head.len(),
                1,
                "{kind}: expected one HEADERS frame: {head:?}"
            );
            assert_eq!(head[0].kind, HEADERS, "{kind}: {head:?}");
            assert_eq!(head[0].flags & END_HEADERS, END_HEADERS, "{kind}: {head:?}");
            assert!(head[0].len > 20 << 10, "{kind}: {head:?}");
        }
        get_file(kind, &c2, "f16k", 16 << 10);
        assert_eq!(c2.snapshot().connections_opened, 1);
    }

    // Checked last so that a wrong field does not hide the checks above.
    if let Some(e) = goaway_error {
        assert_eq!(
            e.goaway_last_stream_id, 1,
            "{kind}: Error::goaway_last_stream_id must hold the GOAWAY's last stream id: {e:?}"
        );
    }
}

/// The HEADERS and CONTINUATION frames the client sent on `stream`.
fn header_frames(spy: &FrameSpy, stream: u32) -> Vec<FrameHead> {
    spy.frames_on(stream)
        .into_iter()
        .filter(|f| f.kind == HEADERS || f.kind == CONTINUATION)
        .collect()
}

/// Asserts that a >16 KiB header block went out as HEADERS + CONTINUATION frames of at most
/// 16384 bytes, END_HEADERS on the last one only.
fn check_split_header_block(kind: Kind, head: &[FrameHead]) {
    let block: u32 = head.iter().map(|f| f.len).sum();
    assert!(
        block > 20 << 10,
        "{kind}: header block of only {block} bytes: {head:?}"
    );
    assert!(
        head.len() >= 2,
        "{kind}: expected HEADERS + CONTINUATION: {head:?}"
    );
    assert_eq!(head[0].kind, HEADERS, "{kind}: {head:?}");
    assert!(
        head[1..].iter().all(|f| f.kind == CONTINUATION),
        "{kind}: {head:?}"
    );
    assert!(head.iter().all(|f| f.len <= 16384), "{kind}: {head:?}");
    let (last, rest) = head.split_last().unwrap();
    assert_eq!(
        last.flags & END_HEADERS,
        END_HEADERS,
        "{kind}: no END_HEADERS: {head:?}"
    );
    assert!(
        rest.iter().all(|f| f.flags & END_HEADERS == 0),
        "{kind}: END_HEADERS before the last frame: {head:?}"
    );
}

/// POST 1 MiB bodies: echoed back by each server; POST to a static file where the server refuses
/// it.
fn post_1mib(kind: Kind, mode: Mode) {
    let s = ServerProc::start(kind, Setup::new(mode));
    let (c, _) = s.client();
    let body = post_body(1 << 20);
    let t0 = Instant::now();
    // Three in a row (3 MiB in total: beyond every initial window), with and without
    // content-length.
    for (i, with_cl) in [(0, true), (1, false), (2, true)] {
        let what = format!("{kind}: POST /echo #{i} (content-length: {with_cl})");
        let r = post(&c, "/echo", &body, with_cl).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        assert_eq!(r.status(), 200, "{what}");
        check_bytes(&what, r.body(), &body);
    }
    if kind != Kind::Nghttpd {
        // nghttpd --echo-upload echoes every POST; h2o and nginx refuse POST to a file.
        let what = format!("{kind}: POST /f16k");
        let r = post(&c, "/f16k", &body, true).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        assert_eq!(r.status(), 405, "{what}");
    }
    get_file(kind, &c, "f16k", 16 << 10);
    let snap = c.snapshot();
    println!(
        "{kind} ({mode}): POSTs done in {:?}, connections opened {}",
        t0.elapsed(),
        snap.connections_opened
    );
    assert_eq!(
        snap.connections_opened, 1,
        "{kind}: the connection survives"
    );
}

/// A module per case with a test per server: `per_server!(Tls: static_files)` makes
/// `static_files::{nghttpd, h2o, nginx}` calling `static_files(Kind::..., Mode::Tls)`.
macro_rules! per_server {
    ($mode:ident: $($case:ident),*) => {$(
        mod $case {
            use crate::{Kind, Mode};
            #[test]
            fn nghttpd() {
                crate::$case(Kind::Nghttpd, Mode::$mode)
            }
            #[test]
            fn h2o() {
                crate::$case(Kind::H2o, Mode::$mode)
            }
            #[test]
            fn nginx() {
                crate::$case(Kind::Nginx, Mode::$mode)
            }
        }
    )*};
}

per_server!(H2c: static_files, concurrent_100, big_header_block, post_1mib);

// ---------------------------------------------------------------------------------------------
// Server-specific cases

/// nginx sends GOAWAY after every 50 requests on a connection; 1000 sequential and 1000
/// concurrent GETs must all succeed on fresh connections.
#[test]
fn nginx_goaway_after_keepalive_requests() {
    nginx_keepalive_requests(Mode::H2c);
}

fn nginx_keepalive_requests(mode: Mode) {
    let kind = Kind::Nginx;
    let s = ServerProc::start(
        kind,
        Setup {
            extra: "keepalive_requests 50;".into(),
            ..Setup::new(mode)
        },
    );
    let (c, log) = s.client();
    let c = Arc::new(c);
    let one = move |c: &Client, i: usize| {
        try_get_file(kind, c, "f16k", 16 << 10).map_err(|e| format!("#{i}: {e}"))
    };

    let t0 = Instant::now();
    let mut errors: Vec<String> = (0..1000).filter_map(|i| one(&c, i).err()).collect();
    let seq = c.snapshot();
    let seq_goaways = count_events(&log, EventKind::GoAway);
    println!(
        "nginx ({mode}) keepalive_requests 50: 1000 sequential GETs in {:?}: {} errors, \
         connections opened {}, GOAWAYs {}, retries {}",
        t0.elapsed(),
        errors.len(),
        seq.connections_opened,
        seq_goaways,
        seq.retries
    );
    assert!(
        errors.is_empty(),
        "sequential: {} errors, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert!(
        seq.connections_opened >= 20,
        "sequential: {} connections",
        seq.connections_opened
    );
    assert!(
        seq.connections_opened <= 22,
        "sequential: {} connections",
        seq.connections_opened
    );
    assert!(seq_goaways >= 19, "sequential: {seq_goaways} GOAWAYs");

    let t0 = Instant::now();
    let threads: Vec<_> = (0..20)
        .map(|t| {
            let c = c.clone();
            thread::spawn(move || {
                (0..50)
                    .filter_map(|i| one(&c, t * 50 + i).err())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        errors.extend(t.join().expect("thread"));
    }
    let conc = c.snapshot();
    println!(
        "nginx ({mode}) keepalive_requests 50: 1000 GETs from 20 threads in {:?}: {} errors, \
         connections opened {}, GOAWAYs {}, retries {}",
        t0.elapsed(),
        errors.len(),
        conc.connections_opened - seq.connections_opened,
        count_events(&log, EventKind::GoAway) - seq_goaways,
        conc.retries - seq.retries
    );
    assert!(
        errors.is_empty(),
        "20 threads: {} errors, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    // Every GOAWAY is the graceful NO_ERROR kind.
    let codes: Vec<u32> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.kind == EventKind::GoAway)
        .map(|e| e.h2_error)
        .collect();
    assert!(codes.iter().all(|&c| c == 0), "GOAWAY codes {codes:?}");
    assert!(
        conc.connections_opened - seq.connections_opened >= 20,
        "20 threads: {} connections",
        conc.connections_opened - seq.connections_opened
    );
}

/// The server closes an idle connection (GOAWAY after 1 s); the next request reconnects.
fn idle_close(kind: Kind, mode: Mode, extra: &str) {
    let s = ServerProc::start(
        kind,
        Setup {
            extra: extra.into(),
            ..Setup::new(mode)
        },
    );
    let (c, log) = s.client();
    get_file(kind, &c, "f16k", 16 << 10);
    thread::sleep(Duration::from_millis(2500));
    let goaways = count_events(&log, EventKind::GoAway);
    let closed = count_events(&log, EventKind::Closed);
    get_file(kind, &c, "f16k", 16 << 10);
    let snap = c.snapshot();
    println!(
        "{kind} ({mode}) idle close ({extra}): GOAWAYs {goaways}, closes {closed} while idle; \
         connections opened {}, retries {}",
        snap.connections_opened, snap.retries
    );
    assert!(
        closed >= 1,
        "{kind}: the server did not close the idle connection: {:?}",
        log.lock().unwrap()
    );
    assert_eq!(snap.connections_opened, 2, "{kind}: reconnected once");
    get_file(kind, &c, "f1", 1);
}

#[test]
fn nginx_idle_close() {
    idle_close(Kind::Nginx, Mode::H2c, "keepalive_timeout 1s;");
}

#[test]
fn h2o_idle_close() {
    idle_close(Kind::H2o, Mode::H2c, "http2-idle-timeout: 1");
}

/// nginx also listening on a Unix socket (`listen unix:PATH http2`): a client with
/// `unix_socket` set reaches it for a URL whose host no resolver knows (no DNS, no TCP);
/// over TLS the URL's host is the SNI name and the name checked in the certificate.
fn unix_socket(mode: Mode) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // A short path: a socket address holds 107 bytes.
    let sock = std::env::temp_dir().join(format!("h2c-{}-{n}.sock", std::process::id()));
    let _ = std::fs::remove_file(&sock);
    let ssl = if mode == Mode::Tls { " ssl" } else { "" };
    let s = ServerProc::start(
        Kind::Nginx,
        Setup {
            extra: format!("listen unix:{}{ssl} http2;", sock.display()),
            ..Setup::new(mode)
        },
    );
    let (mut cfg, _) = client_config(s.ca_pem());
    cfg.overrides.unix_socket = Some(sock.clone());
    // Over TLS the name must be one the certificate has; h2c takes any name.
    let url = match mode {
        Mode::Tls => "https://localhost",
        Mode::H2c => "http://unix-socket.h2client.invalid",
    };
    let c = Client::new(url, cfg).expect("client");
    get_file(Kind::Nginx, &c, "f16k", 16 << 10);
    get_file(Kind::Nginx, &c, "f1m", 1 << 20);
    let snap = c.snapshot();
    assert_eq!(snap.connections_opened, 1);
    let _ = std::fs::remove_file(&sock);
    // The socket gone: a clear connect error naming it, nothing sent.
    let (mut cfg, _) = client_config(s.ca_pem());
    cfg.overrides.unix_socket = Some(sock.clone());
    let c = Client::new(url, cfg).expect("client");
    let e = get(&c, "/f1").expect_err("no socket");
    assert_eq!(e.kind, h2client::ErrorKind::Connect, "{e:?}");
    assert!(
        e.message
            .contains(&format!("no Unix socket at {}", sock.display())),
        "{e:?}"
    );
    assert_eq!(e.processed, h2client::error::Processed::No);
}

#[test]
fn nginx_unix_socket() {
    unix_socket(Mode::H2c);
}

/// One client without a base URL fetches from three real servers at once: nghttpd over h2c,
/// h2o and nginx over TLS (each with its own CA, both trusted), one pool and one connection
/// per origin.
#[test]
fn one_client_three_servers_at_once() {
    let ng = ServerProc::start(Kind::Nghttpd, Setup::new(Mode::H2c));
    let h2o = ServerProc::start(Kind::H2o, Setup::new(Mode::Tls));
    let nginx = ServerProc::start(Kind::Nginx, Setup::new(Mode::Tls));
    let (mut cfg, _) = client_config(None);
    let cas = format!("{}{}", h2o.ca_pem().unwrap(), nginx.ca_pem().unwrap());
    cfg.tls.set_ca_pem(cas.as_bytes()).expect("both CAs");
    let c = Client::without_base(cfg).expect("client");
    let servers = [
        (Kind::Nghttpd, &ng),
        (Kind::H2o, &h2o),
        (Kind::Nginx, &nginx),
    ];
    std::thread::scope(|scope| {
        for (kind, s) in servers {
            for t in 0..3 {
                let c = &c;
                scope.spawn(move || {
                    for (name, n) in FILES.into_iter().skip(t % 2) {
                        let url = format!("{}/{name}", s.url());
                        let r = c
                            .execute(Arc::new(Request::from_url("GET", &url).unwrap()))
                            .unwrap_or_else(|e| panic!("{kind}: {url}: {e:?}"));
                        assert_eq!(r.status(), 200, "{kind}: {url}");
                        if let Some(m) = bytes_mismatch(r.body(), &file_bytes()[..n]) {
                            panic!("{kind}: {url}: {m}");
                        }
                    }
                });
            }
        }
    });
    let total = c.snapshot();
    assert_eq!(total.connections_opened, 3, "one connection per origin");
    for (kind, s) in servers {
        let o = c.origin_snapshot(&s.url()).unwrap();
        assert_eq!(
            (o.connections_opened, o.requests_completed),
            (1, 11),
            "{kind}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Transparent decompression (issue 15): real servers' codings, decoded byte for byte

/// A client that decodes every coding (`accept_encoding ""`) for `s`.
fn decoding_client(s: &ServerProc) -> Client {
    let (mut cfg, _) = client_config(s.ca_pem());
    cfg.set_accept_encoding(Some("")).unwrap();
    Client::new(&s.url(), cfg).expect("client")
}

/// `data` coded with `coding` by the encoders the test server uses (zstd with its checksum,
/// as the `zstd` program writes it; br at quality 9).
fn encode(coding: &str, data: &[u8]) -> Vec<u8> {
    match coding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            let p = brotli::enc::BrotliEncoderParams {
                quality: 9,
                lgwin: 22,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &data[..], &mut out, &p).unwrap();
            out
        }
        "zstd" => {
            let mut e = zstd::stream::Encoder::new(Vec::new(), 6).unwrap();
            e.include_checksum(true).unwrap();
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        _ => panic!("no encoder for {coding}"),
    }
}

/// Reads a streaming call's whole body in 16 KiB reads.
fn read_call(call: &h2client::client::Call) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = call.read(&mut buf).expect("read");
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// nginx with `gzip on` compresses what it serves for a client that accepts gzip: the 1 MiB
/// text buffered and the 64 MiB file streamed decode to the files byte for byte, with fewer
/// bytes on the wire than the files hold; the head has no `content-encoding` nor
/// `content-length`. A request with its own `accept-encoding` gets the gzip bytes, a client
/// that does not decode gets the file, and HEAD keeps nginx's `content-encoding`.
fn nginx_gzip(mode: Mode) {
    let kind = Kind::Nginx;
    let text = h2client_testserver::text(1 << 20);
    let s = ServerProc::start(
        kind,
        Setup {
            big_file: true,
            extra: "gzip on; gzip_types *; gzip_comp_level 6;".into(),
            files: vec![("t1m.txt".into(), text.clone())],
            ..Setup::new(mode)
        },
    );
    let c = decoding_client(&s);
    let before = c.snapshot().bytes_received;
    let r = get(&c, "/t1m.txt").expect("GET /t1m.txt");
    assert_eq!(r.status(), 200);
    assert!(r.decoded(), "nginx did not gzip /t1m.txt");
    check_bytes("nginx gzip, buffered", r.body(), &text);
    assert_eq!(r.headers().value(b"content-encoding"), None);
    assert_eq!(r.headers().value(b"content-length"), None);
    let wire = c.snapshot().bytes_received - before;
    assert!(wire < text.len() as u64 / 2, "{wire} bytes on the wire");

    let before = c.snapshot().bytes_received;
    let call = c
        .start(Arc::new(Request::new("GET", "/f64m").unwrap()))
        .expect("start");
    call.wait_headers().expect("head");
    assert!(call.decoded());
    check_bytes("nginx gzip, streamed", &read_call(&call), file_bytes());
    let wire = c.snapshot().bytes_received - before;
    println!("{kind} ({mode}) gzip on: 64 MiB file streamed, {wire} bytes on the wire");
    assert!(wire < (BIG / 4) as u64, "{wire} bytes on the wire");

    // The caller's own accept-encoding: nginx's gzip, as sent.
    let mut own = Request::new("GET", "/t1m.txt").unwrap();
    own.add_header(b"accept-encoding", b"gzip").unwrap();
    let r = c.execute(Arc::new(own)).expect("own accept-encoding");
    assert!(!r.decoded());
    assert_eq!(r.headers().value(b"content-encoding"), Some(&b"gzip"[..]));
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(r.body())
        .read_to_end(&mut plain)
        .unwrap();
    check_bytes("nginx gzip, decoded by the caller", &plain, &text);

    // HEAD: nothing to decode, nginx's head as sent.
    let r = c
        .execute(Arc::new(Request::new("HEAD", "/t1m.txt").unwrap()))
        .expect("HEAD");
    assert_eq!(r.status(), 200);
    assert!(!r.decoded() && r.body().is_empty());
    assert_eq!(r.headers().value(b"content-encoding"), Some(&b"gzip"[..]));

    // A client that does not decode sends no accept-encoding: nginx sends the file.
    let (plain_client, _) = s.client();
    let r = get(&plain_client, "/t1m.txt").expect("GET");
    assert!(!r.decoded());
    assert_eq!(r.headers().value(b"content-encoding"), None);
    check_bytes("nginx, identity", r.body(), &text);
}

#[test]
fn nginx_gzip_on() {
    nginx_gzip(Mode::H2c);
}

/// Precompressed files that nginx serves with the `content-encoding` of their suffix
/// (`add_header`): br, zstd, gzip and gzip-then-br, each decoding to the original byte for
/// byte, buffered and streamed; a truncated one is `H2_E_DECODE` naming its coding.
#[test]
fn nginx_precompressed_files() {
    let kind = Kind::Nginx;
    let text = h2client_testserver::text(3 << 20);
    let gz = encode("gzip", &text);
    let gzbr = encode("br", &gz);
    let br = encode("br", &text);
    let truncated = br[..br.len() - 100].to_vec();
    let s = ServerProc::start(
        kind,
        Setup {
            extra: r#"location ~ \.br$ { add_header Content-Encoding br; }
    location ~ \.zst$ { add_header Content-Encoding zstd; }
    location ~ \.gz$ { add_header Content-Encoding gzip; }
    location ~ \.gzbr$ { add_header Content-Encoding "gzip, br"; }"#
                .into(),
            files: vec![
                ("t.txt.br".into(), br),
                ("t.txt.zst".into(), encode("zstd", &text)),
                ("t.txt.gz".into(), gz),
                ("t.txt.gzbr".into(), gzbr),
                ("cut.br".into(), truncated),
            ],
            ..Setup::new(Mode::H2c)
        },
    );
    let c = decoding_client(&s);
    for (file, codings) in [
        ("t.txt.br", "br"),
        ("t.txt.zst", "zstd"),
        ("t.txt.gz", "gzip"),
        ("t.txt.gzbr", "gzip, br"),
    ] {
        let r = get(&c, &format!("/{file}")).unwrap_or_else(|e| panic!("GET /{file}: {e}"));
        assert_eq!(r.status(), 200, "{file}");
        let names: Vec<&str> = r.decoded_from().iter().map(|c| c.name()).collect();
        assert_eq!(names.join(", "), codings, "{file}");
        check_bytes(&format!("nginx {file}, buffered"), r.body(), &text);
        let call = c
            .start(Arc::new(Request::new("GET", &format!("/{file}")).unwrap()))
            .expect("start");
        check_bytes(&format!("nginx {file}, streamed"), &read_call(&call), &text);
        assert!(call.decoded());
    }
    let e = get(&c, "/cut.br").expect_err("a truncated br file");
    assert_eq!(e.kind, ErrorKind::Decode, "{e}");
    assert!(
        e.message.contains("br") && e.message.contains("truncated"),
        "{e}"
    );
}

/// h2o's `file.send-compressed`: for `/t.txt` it serves `t.txt.br` (or `.gz`) to a client
/// that accepts them, which decodes it to `t.txt`.
#[test]
fn h2o_send_compressed() {
    let kind = Kind::H2o;
    let text = h2client_testserver::text(1 << 20);
    let s = ServerProc::start(
        kind,
        Setup {
            extra: "file.send-compressed: ON".into(),
            files: vec![
                ("t.txt".into(), text.clone()),
                ("t.txt.br".into(), encode("br", &text)),
                ("t.txt.gz".into(), encode("gzip", &text)),
            ],
            ..Setup::new(Mode::H2c)
        },
    );
    let c = decoding_client(&s);
    let before = c.snapshot().bytes_received;
    let r = get(&c, "/t.txt").expect("GET /t.txt");
    let wire = c.snapshot().bytes_received - before;
    let names: Vec<&str> = r.decoded_from().iter().map(|c| c.name()).collect();
    println!("h2o send-compressed: served {names:?}, {wire} bytes on the wire");
    assert!(r.decoded(), "h2o sent /t.txt uncompressed");
    check_bytes("h2o send-compressed", r.body(), &text);
    assert!(wire < text.len() as u64 / 2, "{wire} bytes on the wire");
}

// ---------------------------------------------------------------------------------------------
// TLS

/// The server by name (`https://localhost:PORT`): SNI `localhost`, the certificate's DNS name
/// checked.
fn by_name(kind: Kind, mode: Mode) {
    assert_eq!(mode, Mode::Tls, "by_name is a TLS case");
    let s = ServerProc::start(kind, Setup::new(mode));
    let (c, _) = new_client(&s.url_to("localhost", s.port), s.ca_pem());
    get_file(kind, &c, "f16k", 16 << 10);
    get_file(kind, &c, "f1m", 1 << 20);
    assert_eq!(
        c.snapshot().connections_opened,
        1,
        "{kind}: one connection by name"
    );
}

/// The cases over TLS (h2 by ALPN, the server's certificate verified against the CA made for
/// it), and the TLS-only ones.
mod tls {
    use super::*;

    per_server!(Tls: static_files, concurrent_100, big_header_block, post_1mib, by_name);

    #[test]
    fn nginx_goaway_after_keepalive_requests() {
        nginx_keepalive_requests(Mode::Tls);
    }

    #[test]
    fn nginx_idle_close() {
        idle_close(Kind::Nginx, Mode::Tls, "keepalive_timeout 1s;");
    }

    #[test]
    fn h2o_idle_close() {
        idle_close(Kind::H2o, Mode::Tls, "http2-idle-timeout: 1");
    }

    #[test]
    fn nginx_unix_socket() {
        unix_socket(Mode::Tls);
    }

    /// `h2_response_info` through the C API, as C calls it, on nginx 1.22's TLS 1.2 (the
    /// version and suite it negotiates: see the top of this file), by name: the SNI, ALPN,
    /// the certificate nginx presents, a second request on the same connection.
    #[test]
    fn nginx_request_info_tls12() {
        use h2client::ffi::*;
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        use std::ffi::{CStr, CString};
        use std::ptr::null_mut;
        let s = ServerProc::start(Kind::Nginx, Setup::new(Mode::Tls));
        let bundle = s.tls.as_ref().expect("TLS");
        let cert = CertificateDer::from_pem_slice(bundle.cert_pem.as_bytes()).unwrap();
        let text = |p: *const std::ffi::c_char| {
            // SAFETY: NULL or a NUL-terminated string living as long as the response.
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned())
        };
        let cs = |s: &str| CString::new(s).unwrap();
        // SAFETY: live objects, freed once; out structs with struct_size set.
        unsafe {
            let cfg = h2_config_new();
            let ca = &bundle.ca_pem;
            assert_eq!(h2_config_set_ca_pem(cfg, ca.as_ptr(), ca.len()), H2_OK);
            let pin = cs(&format!("localhost:{}:127.0.0.1", s.port));
            assert_eq!(h2_config_add_resolve(cfg, pin.as_ptr()), H2_OK);
            let url = cs(&s.url_to("localhost", s.port));
            let client = h2_client_new(url.as_ptr(), cfg);
            assert!(!client.is_null());
            let req = h2_request_new(cs("GET").as_ptr(), cs("/f16k").as_ptr());
            let mut infos = Vec::new();
            for _ in 0..2 {
                let mut resp = null_mut();
                assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
                assert_eq!(h2_response_status(resp), 200);
                let mut i: h2_request_info = std::mem::zeroed();
                i.struct_size = std::mem::size_of::<h2_request_info>();
                assert_eq!(h2_response_info(resp, &mut i), H2_OK);
                assert_eq!(i.tls_version, 0x0303, "nginx 1.22 speaks TLS 1.2");
                assert_eq!(text(i.tls_version_name).as_deref(), Some("TLSv1.2"));
                assert_eq!(i.tls_cipher_suite, 0xc02c, "ECDHE-ECDSA-AES256-GCM-SHA384");
                assert_eq!(
                    text(i.tls_cipher_suite_name).as_deref(),
                    Some("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
                );
                assert_eq!(text(i.alpn).as_deref(), Some("h2"));
                assert_eq!(text(i.tls_server_name).as_deref(), Some("localhost"));
                assert_eq!(text(i.remote_address).as_deref(), Some("127.0.0.1"));
                assert_eq!(i.remote_port, s.port);
                assert_eq!(i.body_bytes_received, 16 << 10);
                assert!(i.peer_certificate_count >= 1);
                let mut len = 0;
                let p = h2_response_peer_certificate(resp, 0, &mut len);
                assert!(!p.is_null());
                assert_eq!(
                    std::slice::from_raw_parts(p, len),
                    &cert[..],
                    "nginx's leaf"
                );
                infos.push(i);
                h2_response_free(resp);
            }
            let (a, b) = (&infos[0], &infos[1]);
            assert!(!a.reused && b.reused);
            assert!(a.time_connect_us > 0 && a.time_tls_us > a.time_connect_us);
            assert!(a.time_tls_us <= a.time_headers_sent_us);
            assert!(a.time_first_byte_us <= a.time_total_us);
            assert_eq!((b.time_connect_us, b.time_tls_us), (0, 0));
            assert_eq!(a.connection_id, b.connection_id);
            h2_request_free(req);
            h2_client_free(client);
            h2_config_free(cfg);
        }
    }

    #[test]
    fn nginx_gzip_on() {
        nginx_gzip(Mode::Tls);
    }

    /// A client trusting another CA: `ErrorKind::Tls` with "unknown CA", by address and by
    /// name; a client trusting the server's CA gets the file.
    #[test]
    fn nghttpd_unknown_ca() {
        let kind = Kind::Nghttpd;
        let s = ServerProc::start(kind, Setup::new(Mode::Tls));
        let other = h2client_testserver::tls::generate(CERT_NAMES);
        for host in ["127.0.0.1", "localhost"] {
            let (c, _) = new_client(&s.url_to(host, s.port), Some(&other.ca_pem));
            for attempt in 0..2 {
                let what = format!("{kind}: {host}, another CA, request #{attempt}");
                let e = get(&c, "/f16k")
                    .map(|r| r.status())
                    .expect_err(&format!("{what}: an untrusted certificate was accepted"));
                println!("{what}: {:?}: {}", e.kind, e.message);
                assert_eq!(e.kind, ErrorKind::Tls, "{what}: {e:?}");
                assert!(e.message.contains("unknown CA"), "{what}: {e:?}");
                assert_eq!(e.processed, Processed::No, "{what}: {e:?}");
            }
        }
        let (c, _) = s.client();
        get_file(kind, &c, "f16k", 16 << 10);
    }

    /// A certificate for `localhost` only: by address (127.0.0.1) the client fails with
    /// `ErrorKind::Tls` and "name mismatch"; by name it gets the file.
    #[test]
    fn nghttpd_name_mismatch() {
        let kind = Kind::Nghttpd;
        let s = ServerProc::start(
            kind,
            Setup {
                tls: Some(&["localhost"]),
                ..Setup::default()
            },
        );
        let (c, _) = s.client();
        let e = get(&c, "/f16k")
            .map(|r| r.status())
            .expect_err("127.0.0.1 accepted with a certificate for localhost only");
        println!(
            "{kind}: 127.0.0.1, certificate for localhost: {:?}: {}",
            e.kind, e.message
        );
        assert_eq!(e.kind, ErrorKind::Tls, "{kind}: {e:?}");
        assert!(e.message.contains("name mismatch"), "{kind}: {e:?}");
        assert!(e.message.contains("127.0.0.1"), "{kind}: {e:?}");
        assert_eq!(e.processed, Processed::No, "{kind}: {e:?}");
        let (c, _) = new_client(&s.url_to("localhost", s.port), s.ca_pem());
        get_file(kind, &c, "f16k", 16 << 10);
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements, by hand only (ignored by `cargo test`):
//
//   cargo test --release --test interop -- --ignored --nocapture measure_tls_cost
//   cargo test --release --test interop -- --ignored --nocapture measure_decompression

/// h2c and TLS side by side against nghttpd (`-n 1`) and h2o (`num-threads: 1`), an h2c and a
/// TLS server of each, otherwise configured alike. Prints figures; asserts only that the
/// requests succeed.
///
/// 1. Connection setup: `Client::new` + a first GET of the 1-byte file (a fresh client: TCP,
///    for TLS a full handshake, the HTTP/2 preface); the same client reconnecting after its
///    idle timeout (10 ms) closed its connection (TLS may resume the session); and, for
///    reference, a GET on an open connection. Alternating the variants, 20 warm-up rounds,
///    then [`SETUP_ROUNDS`]; median and p90.
/// 2. Bulk: [`BULK_REQUESTS`] GETs of the 1 MiB file from [`BULK_THREADS`] threads on one
///    client; MiB/s and the CPU time of this process (getrusage) and of the server
///    (/proc/PID/stat); h2c and TLS alternating, [`BULK_ROUNDS`] rounds each after a warm-up
///    round; medians.
#[test]
#[ignore = "measurement, by hand: --ignored --nocapture, in release"]
fn measure_tls_cost() {
    for kind in [Kind::Nghttpd, Kind::H2o] {
        let servers = [Mode::H2c, Mode::Tls].map(|m| ServerProc::start(kind, Setup::new(m)));
        measure_setup(kind, &servers);
        measure_bulk(kind, &servers);
    }
}

const SETUP_ROUNDS: usize = 200;
const BULK_REQUESTS: usize = 1000;
const BULK_THREADS: usize = 8;
const BULK_ROUNDS: usize = 3;

/// A plain configuration for `s` (no event hook).
fn measure_config(s: &ServerProc) -> Config {
    let (mut cfg, _) = client_config(s.ca_pem());
    cfg.events = None;
    cfg
}

/// GET /f1, which must be the 1-byte file.
fn small_get(c: &Client) {
    let r = get(c, "/f1").unwrap_or_else(|e| panic!("GET /f1: {e:?}"));
    assert_eq!(r.status(), 200);
    assert_eq!(r.body(), &file_bytes()[..1]);
}

fn micros(d: Duration) -> u64 {
    d.as_micros().try_into().unwrap_or(u64::MAX)
}

/// Median and 90th percentile.
fn median_p90(v: &mut [u64]) -> (u64, u64) {
    v.sort_unstable();
    (v[v.len() / 2], v[v.len() * 9 / 10])
}

fn measure_setup(kind: Kind, servers: &[ServerProc; 2]) {
    const WARMUP: usize = 20;
    let cfgs = servers.each_ref().map(measure_config);
    let reconnecting = servers.each_ref().map(|s| {
        let mut cfg = measure_config(s);
        cfg.set_idle_timeout_ms(10);
        Client::new(&s.url(), cfg).expect("client")
    });
    let open = servers
        .each_ref()
        .map(|s| Client::new(&s.url(), measure_config(s)).expect("client"));
    // [mode] -> samples in µs
    let (mut fresh, mut again, mut warm) = ([vec![], vec![]], [vec![], vec![]], [vec![], vec![]]);
    for round in 0..WARMUP + SETUP_ROUNDS {
        for m in 0..2 {
            let t0 = Instant::now();
            let c = Client::new(&servers[m].url(), cfgs[m].clone()).expect("client");
            small_get(&c);
            let t_fresh = t0.elapsed();
            drop(c);

            let rc = &reconnecting[m];
            let deadline = Instant::now() + Duration::from_secs(5);
            while rc.snapshot().connections > 0 {
                assert!(Instant::now() < deadline, "the idle connection stays open");
                thread::sleep(Duration::from_millis(1));
            }
            let t0 = Instant::now();
            small_get(rc);
            let t_again = t0.elapsed();

            let t0 = Instant::now();
            small_get(&open[m]);
            let t_warm = t0.elapsed();

            if round >= WARMUP {
                fresh[m].push(micros(t_fresh));
                again[m].push(micros(t_again));
                warm[m].push(micros(t_warm));
            }
        }
    }
    for m in 0..2 {
        let opened = reconnecting[m].snapshot().connections_opened;
        assert_eq!(
            opened,
            (WARMUP + SETUP_ROUNDS) as u64,
            "{kind}: the reconnecting client opened {opened} connections"
        );
        assert_eq!(open[m].snapshot().connections_opened, 1);
    }
    // Where the time goes: CPU per connection of this process and of the server, the variants
    // one after the other this time.
    let mut cpu = [[(0u64, 0u64); 2]; 2];
    for m in 0..2 {
        let (u0, s0) = process_cpu();
        let srv0 = server_cpu(&servers[m]);
        for _ in 0..SETUP_ROUNDS {
            let c = Client::new(&servers[m].url(), cfgs[m].clone()).expect("client");
            small_get(&c);
        }
        let (u1, s1) = process_cpu();
        let n = SETUP_ROUNDS as u64;
        cpu[m][0] = (
            micros((u1 + s1) - (u0 + s0)) / n,
            micros(server_cpu(&servers[m]) - srv0) / n,
        );
        let rc = &reconnecting[m];
        let (u0, s0) = process_cpu();
        let srv0 = server_cpu(&servers[m]);
        for _ in 0..SETUP_ROUNDS {
            // One sleep past the idle timeout, so that polling adds next to no CPU time.
            thread::sleep(Duration::from_millis(15));
            while rc.snapshot().connections > 0 {
                thread::sleep(Duration::from_millis(1));
            }
            small_get(rc);
        }
        let (u1, s1) = process_cpu();
        cpu[m][1] = (
            micros((u1 + s1) - (u0 + s0)) / n,
            micros(server_cpu(&servers[m]) - srv0) / n,
        );
    }
    println!("{kind}: connection setup on loopback, {SETUP_ROUNDS} runs, µs (median / p90)");
    for (m, mode) in [Mode::H2c, Mode::Tls].into_iter().enumerate() {
        let (f50, f90) = median_p90(&mut fresh[m]);
        let (a50, a90) = median_p90(&mut again[m]);
        let (w50, w90) = median_p90(&mut warm[m]);
        println!(
            "  {mode:<3}  new client + first GET {f50:>6} / {f90:>6}   same client reconnect + \
             GET {a50:>6} / {a90:>6}   GET on open connection {w50:>5} / {w90:>5}"
        );
        println!(
            "       CPU µs per connection (client / server): new client {} / {}, same client \
             reconnect {} / {}",
            cpu[m][0].0, cpu[m][0].1, cpu[m][1].0, cpu[m][1].1
        );
    }
}

/// User and system CPU time of this process.
fn process_cpu() -> (Duration, Duration) {
    // SAFETY: getrusage fills the struct it is given; an all-zero rusage is a valid value.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut ru), 0, "getrusage");
        ru
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

/// User + system CPU time of a server process, from /proc/PID/stat (clock-tick resolution).
fn server_cpu(s: &ServerProc) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", s.child.id())).expect("stat");
    // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_secs_f64(ticks as f64 / hz as f64)
}

struct Bulk {
    mib_s: f64,
    user: Duration,
    sys: Duration,
    server: Duration,
}

/// [`BULK_REQUESTS`] GETs of /f1m from [`BULK_THREADS`] threads on one client.
fn bulk_round(s: &ServerProc) -> Bulk {
    let c = Client::new(&s.url(), measure_config(s)).expect("client");
    small_get(&c);
    let (u0, s0) = process_cpu();
    let srv0 = server_cpu(s);
    let t0 = Instant::now();
    thread::scope(|sc| {
        for _ in 0..BULK_THREADS {
            sc.spawn(|| {
                for _ in 0..BULK_REQUESTS / BULK_THREADS {
                    let r = get(&c, "/f1m").unwrap_or_else(|e| panic!("GET /f1m: {e:?}"));
                    assert_eq!(r.status(), 200);
                    assert_eq!(r.body().len(), 1 << 20);
                }
            });
        }
    });
    let wall = t0.elapsed();
    let (u1, s1) = process_cpu();
    assert_eq!(c.snapshot().connections_opened, 1);
    Bulk {
        mib_s: BULK_REQUESTS as f64 / wall.as_secs_f64(),
        user: u1 - u0,
        sys: s1 - s0,
        server: server_cpu(s) - srv0,
    }
}

fn measure_bulk(kind: Kind, servers: &[ServerProc; 2]) {
    for s in servers {
        bulk_round(s);
    }
    let mut rounds: [Vec<Bulk>; 2] = [vec![], vec![]];
    for _ in 0..BULK_ROUNDS {
        for m in 0..2 {
            rounds[m].push(bulk_round(&servers[m]));
        }
    }
    println!(
        "{kind}: {BULK_REQUESTS} GETs of 1 MiB from {BULK_THREADS} threads, one client \
         ({BULK_ROUNDS} rounds each, alternating)"
    );
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (m, mode) in [Mode::H2c, Mode::Tls].into_iter().enumerate() {
        let r = &rounds[m];
        let each: Vec<String> = r
            .iter()
            .map(|b| {
                format!(
                    "{:.0} MiB/s cpu {:.2}+{:.2} s server {:.2} s",
                    b.mib_s,
                    b.user.as_secs_f64(),
                    b.sys.as_secs_f64(),
                    b.server.as_secs_f64()
                )
            })
            .collect();
        let mib_s = median(r.iter().map(|b| b.mib_s).collect());
        let user = median(r.iter().map(|b| b.user.as_secs_f64()).collect());
        let sys = median(r.iter().map(|b| b.sys.as_secs_f64()).collect());
        let cpu = median(r.iter().map(|b| (b.user + b.sys).as_secs_f64()).collect());
        let server = median(r.iter().map(|b| b.server.as_secs_f64()).collect());
        println!(
            "  {mode:<3}  median {mib_s:.0} MiB/s, client CPU {cpu:.2} s (user {user:.2}, sys \
             {sys:.2}; {:.2} ms per MiB), server CPU {server:.2} s   [rounds: {}]",
            cpu * 1000.0 / BULK_REQUESTS as f64,
            each.join("; ")
        );
    }
}

/// The cost of decoding: a 64 MiB text ([`h2client_testserver::text`]) from nginx (h2c, one
/// worker), as the file and precompressed with gzip (-6), zstd (-3, with its checksum) and br
/// (quality 6), served with their `content-encoding`; fetched buffered (`execute`) and
/// streamed (`read`, 64 KiB buffer) by a client that decodes. [`DECODE_ROUNDS`] rounds after a
/// warm-up, the variants alternating; prints the median wall-clock rate of decoded bytes, the
/// median CPU time of this process per decoded MiB, and that time less the file's (the cost
/// of decoding). Asserts only that every body decodes to the text.
#[test]
#[ignore = "measurement, by hand: --ignored --nocapture, in release"]
fn measure_decompression() {
    const SIZE: usize = 64 << 20;
    let text = h2client_testserver::text(SIZE);
    let variants: [(&str, &str, Vec<u8>); 4] = [
        ("identity", "t.txt", Vec::new()),
        ("gzip", "t.txt.gz", encode("gzip", &text)),
        ("zstd", "t.txt.zst", {
            let mut e = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
            e.include_checksum(true).unwrap();
            e.write_all(&text).unwrap();
            e.finish().unwrap()
        }),
        ("br", "t.txt.br", {
            let mut out = Vec::new();
            let p = brotli::enc::BrotliEncoderParams {
                quality: 6,
                lgwin: 22,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &text[..], &mut out, &p).unwrap();
            out
        }),
    ];
    let mut files: Vec<(String, Vec<u8>)> = vec![("t.txt".into(), text.clone())];
    for (_, name, data) in &variants[1..] {
        files.push((name.to_string(), data.clone()));
    }
    let s = ServerProc::start(
        Kind::Nginx,
        Setup {
            extra: r#"location ~ \.br$ { add_header Content-Encoding br; }
    location ~ \.zst$ { add_header Content-Encoding zstd; }
    location ~ \.gz$ { add_header Content-Encoding gzip; }"#
                .into(),
            files,
            ..Setup::new(Mode::H2c)
        },
    );
    let c = decoding_client(&s);
    let mib = (SIZE >> 20) as f64;
    let fetch = |name: &str, streamed: bool| -> (f64, f64) {
        let (u0, s0) = process_cpu();
        let t0 = Instant::now();
        let body = if streamed {
            let call = c
                .start(Arc::new(Request::new("GET", &format!("/{name}")).unwrap()))
                .expect("start");
            let mut buf = vec![0u8; 64 << 10];
            let mut n = 0;
            let mut first = Vec::new();
            loop {
                let k = call.read(&mut buf).expect("read");
                if k == 0 {
                    break;
                }
                if first.len() < 4096 {
                    first.extend_from_slice(&buf[..k.min(4096 - first.len())]);
                }
                n += k;
            }
            assert_eq!(n, SIZE, "{name} streamed");
            first
        } else {
            let r = get(&c, &format!("/{name}")).expect("GET");
            check_bytes(name, r.body(), &text);
            r.body()[..4096].to_vec()
        };
        let wall = t0.elapsed().as_secs_f64();
        let (u1, s1) = process_cpu();
        check_bytes(name, &body, &text[..4096]);
        (
            mib / wall,
            ((u1 - u0) + (s1 - s0)).as_secs_f64() * 1000.0 / mib,
        )
    };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "64 MiB text from nginx (h2c), {DECODE_ROUNDS} rounds: decoded MiB/s (wall), client CPU ms \
         per MiB, and that less the file's"
    );
    for streamed in [false, true] {
        for (_, name, _) in &variants {
            fetch(name, streamed);
        }
        let mut rates = vec![vec![]; variants.len()];
        let mut cpus = vec![vec![]; variants.len()];
        for _ in 0..DECODE_ROUNDS {
            for (i, (_, name, _)) in variants.iter().enumerate() {
                let (r, cpu) = fetch(name, streamed);
                rates[i].push(r);
                cpus[i].push(cpu);
            }
        }
        let base = median(cpus[0].clone());
        for (i, (coding, name, data)) in variants.iter().enumerate() {
            let cpu = median(cpus[i].clone());
            let wire = if data.is_empty() { SIZE } else { data.len() };
            println!(
                "  {:<8} {coding:<8} {name:<10} {:>9} bytes on the wire: {:>6.0} MiB/s, CPU {cpu:.2} ms/MiB \
                 (decoding {:+.2} ms/MiB, {:.0} MiB/s of CPU)",
                if streamed { "streamed" } else { "buffered" },
                wire,
                median(rates[i].clone()),
                cpu - base,
                if cpu > base { 1000.0 / (cpu - base) } else { f64::INFINITY },
            );
        }
    }
}

const DECODE_ROUNDS: usize = 5;
