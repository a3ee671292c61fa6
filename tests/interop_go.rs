//! Interop with Go's `net/http` HTTPS server (HTTP/2 by ALPN, Go's own HTTP/2 implementation,
//! `tests/interop_go/server.go`, standard library only). The program is built with the
//! installed Go toolchain (Debian's `golang-go`) once per test run into the target directory,
//! offline (`GOPROXY=off`); a missing `go` fails the tests with an install hint.
//!
//! Each test starts its own server in a temporary directory with a certificate for
//! `localhost` and `127.0.0.1` made at test time, and the same files as `tests/interop.rs`
//! (0 B .. 64 MiB, byte `i` = `(i * 31 + 7) % 251`). The cases mirror interop.rs's, and each
//! records PASS/FAIL in `target/interop-matrix/results.tsv` (`scripts/interop-matrix.sh`).
//!
//! What Go 1.19's server does here: it announces SETTINGS_MAX_CONCURRENT_STREAMS 250, a
//! header list limit derived from `MaxHeaderBytes` (1 MiB here) and a 1 MiB initial window
//! for uploads; it takes the 20 KiB header block as HEADERS + CONTINUATION.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Barrier, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::proxy::{file_bytes, find_bin, matrix_record, temp_dir, write_docroot, BIG, FILES};
use h2client::{Client, Config, Request, Response};

const REQUEST_TIMEOUT_MS: u32 = 60_000;

/// Builds `tests/interop_go` once per process; returns the binary.
fn go_server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let go = find_bin("go");
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let out = tmp
            .join("interop-go")
            .join(format!("server-{}", std::process::id()));
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop_go");
        let mut cmd = Command::new(&go);
        cmd.arg("build").arg("-o").arg(&out).arg(".");
        cmd.current_dir(&src)
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local");
        if std::env::var_os("GOCACHE").is_none() {
            cmd.env("GOCACHE", tmp.join("go-cache"));
        }
        if std::env::var_os("GOPATH").is_none() && std::env::var_os("HOME").is_none() {
            cmd.env("GOPATH", tmp.join("gopath"));
        }
        let t0 = Instant::now();
        let o = cmd
            .output()
            .unwrap_or_else(|e| panic!("run {} build: {e}", go.display()));
        assert!(
            o.status.success(),
            "go build of {} failed ({}):\n{}{}",
            src.display(),
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        println!("built the Go server in {:?}", t0.elapsed());
        out
    })
    .clone()
}

/// A running Go server; killed, reaped and its directory removed on drop.
struct GoServer {
    child: Child,
    dir: PathBuf,
    port: u16,
    ca_pem: String,
}

impl GoServer {
    fn start(big_file: bool) -> GoServer {
        let bin = go_server_bin();
        let dir = temp_dir("interop-go");
        let docroot = dir.join("docroot");
        write_docroot(&docroot, big_file);
        let b = h2client_testserver::tls::generate(&["localhost", "127.0.0.1"]);
        std::fs::write(dir.join("cert.pem"), &b.cert_pem).unwrap();
        std::fs::write(dir.join("key.pem"), &b.key_pem).unwrap();
        let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
        let mut child = Command::new(&bin)
            .arg("-cert")
            .arg(dir.join("cert.pem"))
            .arg("-key")
            .arg(dir.join("key.pem"))
            .arg("-docroot")
            .arg(&docroot)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
        let Some(port) = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
            panic!("the Go server did not start: stdout {line:?}, stderr:\n{log}");
        };
        GoServer {
            child,
            dir,
            port,
            ca_pem: b.ca_pem,
        }
    }

    fn client_for(&self, host: &str) -> Client {
        let mut cfg = Config::default();
        cfg.set_request_timeout_ms(REQUEST_TIMEOUT_MS);
        cfg.tls
            .set_ca_pem(self.ca_pem.as_bytes())
            .expect("set_ca_pem");
        Client::new(&format!("https://{host}:{}", self.port), cfg).expect("client")
    }

    fn client(&self) -> Client {
        self.client_for("127.0.0.1")
    }
}

impl Drop for GoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            let log = std::fs::read(self.dir.join("stderr.log")).unwrap_or_default();
            eprintln!(
                "--- Go server stderr (last 8 KiB)\n{}",
                String::from_utf8_lossy(&log[log.len().saturating_sub(8192)..])
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn get(c: &Client, path: &str) -> h2client::error::Result<Response> {
    c.execute(Arc::new(Request::new("GET", path).unwrap()))
}

/// GET `/name`: 200, content-length `n` and the exact bytes.
fn try_get_file(c: &Client, name: &str, n: usize) -> Result<(), String> {
    let what = format!("go: GET /{name}");
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
    if r.body() != &file_bytes()[..n] {
        let first = r
            .body()
            .iter()
            .zip(&file_bytes()[..n])
            .position(|(a, b)| a != b)
            .unwrap_or(r.body().len().min(n));
        return Err(format!(
            "{what}: body differs: {} bytes, want {n}; first difference at {first}",
            r.body().len()
        ));
    }
    Ok(())
}

fn get_file(c: &Client, name: &str, n: usize) {
    if let Err(e) = try_get_file(c, name, n) {
        panic!("{e}");
    }
}

/// Sequential GETs of 0 B, 1 B, 16 KiB, 1 MiB and 64 MiB, byte-exact, on one connection.
#[test]
fn static_files() {
    let _r = matrix_record("go", "TLS", "static_files");
    let s = GoServer::start(true);
    let c = s.client();
    let t0 = Instant::now();
    for (name, n) in FILES.into_iter().chain([("f64m", BIG)]) {
        get_file(&c, name, n);
    }
    let snap = c.snapshot();
    println!(
        "go: static files 0 B..64 MiB in {:?}, connections opened {}",
        t0.elapsed(),
        snap.connections_opened
    );
    assert_eq!(
        snap.connections_opened, 1,
        "one connection for sequential GETs"
    );
}

/// 100 threads share one client: two rounds of 100 simultaneous GETs (16 KiB and 1 MiB).
#[test]
fn concurrent_100() {
    let _r = matrix_record("go", "TLS", "concurrent_100");
    let s = GoServer::start(false);
    let c = Arc::new(s.client());
    let barrier = Arc::new(Barrier::new(100));
    let t0 = Instant::now();
    let threads: Vec<_> = (0..100)
        .map(|t| {
            let (c, barrier) = (c.clone(), barrier.clone());
            thread::spawn(move || {
                let mut errors = Vec::new();
                for round in 0..2 {
                    barrier.wait();
                    let (name, n) = if (t + round) % 2 == 0 {
                        FILES[2]
                    } else {
                        FILES[3]
                    };
                    errors.extend(try_get_file(&c, name, n).err());
                }
                errors
            })
        })
        .collect();
    let errors: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("request thread"))
        .collect();
    let snap = c.snapshot();
    println!(
        "go: 200 concurrent GETs in {:?}: connections opened {}, stream limits {:?}, retries {}",
        t0.elapsed(),
        snap.connections_opened,
        snap.stream_limits,
        snap.retries
    );
    assert!(
        errors.is_empty(),
        "{} of 200 failed; first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert!(snap.connections_opened <= 2, "{snap:?}");
}

/// POST 1 MiB to /echo three times (3 MiB, beyond every initial window), with and without
/// content-length: echoed byte for byte on one connection.
#[test]
fn post_1mib() {
    let _r = matrix_record("go", "TLS", "post_1mib");
    let s = GoServer::start(false);
    let c = s.client();
    let body: Vec<u8> = (0..1 << 20).map(|i| ((i * 17 + 3) % 253) as u8).collect();
    for (i, with_cl) in [(0, true), (1, false), (2, true)] {
        let what = format!("go: POST /echo #{i} (content-length: {with_cl})");
        let mut req = Request::new("POST", "/echo").unwrap();
        req.add_header(b"content-type", b"application/octet-stream")
            .unwrap();
        if with_cl {
            req.add_header(b"content-length", body.len().to_string().as_bytes())
                .unwrap();
        }
        req.set_body(Bytes::from(body.clone()));
        let r = c
            .execute(Arc::new(req))
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
        assert_eq!(r.status(), 200, "{what}");
        assert!(
            r.body() == body.as_slice(),
            "{what}: echo differs ({} bytes)",
            r.body().len()
        );
    }
    get_file(&c, "f16k", 16 << 10);
    assert_eq!(c.snapshot().connections_opened, 1);
}

/// A 20 KiB header (a header block over the 16 KiB frame size: HEADERS + CONTINUATION),
/// echoed back by /header; then the client still works.
#[test]
fn big_header_block() {
    let _r = matrix_record("go", "TLS", "big_header_block");
    let s = GoServer::start(false);
    let c = s.client();
    let alphabet = b"XZ&*,;!?()~";
    let value: Vec<u8> = (0..20 << 10)
        .map(|i| alphabet[(i * 7 + i / 11) % alphabet.len()])
        .collect();
    let mut req = Request::new("GET", "/header").unwrap();
    req.add_header(b"x-big", &value).unwrap();
    let req = Arc::new(req);
    for i in 0..2 {
        let r = c
            .execute(req.clone())
            .unwrap_or_else(|e| panic!("go: big header #{i}: {e:?}"));
        assert_eq!(r.status(), 200, "go: big header #{i}");
        assert!(r.body() == value.as_slice(), "go: echoed x-big differs");
    }
    get_file(&c, "f16k", 16 << 10);
    assert_eq!(c.snapshot().connections_opened, 1);
}

/// By name (`https://localhost:PORT`): SNI and the certificate's DNS name.
#[test]
fn by_name() {
    let _r = matrix_record("go", "TLS", "by_name");
    let s = GoServer::start(false);
    let c = s.client_for("localhost");
    get_file(&c, "f16k", 16 << 10);
    get_file(&c, "f1m", 1 << 20);
    assert_eq!(c.snapshot().connections_opened, 1);
}
