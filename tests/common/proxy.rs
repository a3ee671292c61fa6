//! Helpers for the robustness tests (`tests/chunking.rs`, `tests/faults.rs`,
//! `tests/interop_go.rs`):
//!
//! * [`Proxy`]: a loopback TCP proxy between the client and a server that re-splits the byte
//!   stream in both directions ([`Split`]: every byte its own write, random split sizes, random
//!   splits with small delays), and can misbehave on command: stop forwarding while keeping the
//!   sockets open (a blackhole), or reset its connections (SO_LINGER 0, so the client gets RST).
//! * [`Nghttpd`]: an nghttpd process (h2c or TLS) serving fixed files, that a test can kill
//!   with SIGKILL and restart on the same port.
//! * [`fd_count`], [`rss_kib`]: what this process holds, for leak checks.
//! * [`matrix_record`]: appends a case's PASS/FAIL to `target/interop-matrix/results.tsv`,
//!   which `scripts/interop-matrix.sh` turns into the README's interop table.
//!
//! A missing server binary fails the test (with an install hint); it never skips it.

use std::io::{ErrorKind as IoKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// A small deterministic PRNG (splitmix64): the tests have no `rand`, and a seed must reproduce
// a failing split.

/// splitmix64.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

// ---------------------------------------------------------------------------------------------
// The proxy

/// How the proxy re-splits the bytes it forwards (each direction on its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Forward each read as one write.
    Whole,
    /// Every byte its own write (TCP_NODELAY on both sides, so each is its own segment).
    OneByte,
    /// Writes of random sizes in `1..=max`.
    Random { seed: u64, max: usize },
    /// Writes of random sizes in `1..=max`, with a random pause of up to `max_delay_us`
    /// before about one write in four.
    Delayed {
        seed: u64,
        max: usize,
        max_delay_us: u64,
    },
}

impl Split {
    fn seed(&self) -> u64 {
        match *self {
            Split::Random { seed, .. } | Split::Delayed { seed, .. } => seed,
            _ => 0,
        }
    }
}

/// Controls of one proxied connection.
#[derive(Default)]
struct ConnCtl {
    /// Stopped forwarding (blackholed): bytes are read and dropped, the sockets stay open.
    frozen: AtomicBool,
    /// Reset both sockets (SO_LINGER 0, then close).
    reset: AtomicBool,
    /// Both pumps ended.
    pumps_done: AtomicUsize,
}

struct Inner {
    upstream: Mutex<SocketAddr>,
    split: Split,
    forwarding: AtomicBool,
    stop: AtomicBool,
    conns: Mutex<Vec<Arc<ConnCtl>>>,
    accepted: AtomicUsize,
    /// Writes and bytes forwarded, both directions.
    writes: AtomicU64,
    bytes: AtomicU64,
}

/// A TCP proxy on 127.0.0.1 (see the module doc). Stops, and closes every socket, on drop.
pub struct Proxy {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    acceptor: Option<JoinHandle<()>>,
}

/// How often a blocked pump looks at its controls.
const POLL: Duration = Duration::from_millis(20);

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) and forwards every accepted connection to
    /// `upstream`.
    pub fn start(upstream: SocketAddr, split: Split) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").expect("proxy: bind");
        let addr = l.local_addr().unwrap();
        let inner = Arc::new(Inner {
            upstream: Mutex::new(upstream),
            split,
            forwarding: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            writes: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        });
        let i = inner.clone();
        let acceptor = thread::spawn(move || {
            for c in l.incoming() {
                if i.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = c else { continue };
                let n = i.accepted.fetch_add(1, Ordering::SeqCst);
                let up = *i.upstream.lock().unwrap();
                let Ok(server) = TcpStream::connect(up) else {
                    // Upstream down: the client sees the connection reset.
                    set_linger0(&client);
                    continue;
                };
                let ctl = Arc::new(ConnCtl::default());
                if !i.forwarding.load(Ordering::SeqCst) {
                    ctl.frozen.store(true, Ordering::SeqCst);
                }
                i.conns.lock().unwrap().push(ctl.clone());
                for s in [&client, &server] {
                    let _ = s.set_nodelay(true);
                    let _ = s.set_read_timeout(Some(POLL));
                    let _ = s.set_write_timeout(Some(POLL));
                }
                let (client, server) = (Arc::new(client), Arc::new(server));
                let seed = i.split.seed() ^ (n as u64).wrapping_mul(0x1000_0000_01b3);
                for (dir, from, to) in [(0u64, &client, &server), (1, &server, &client)] {
                    let (from, to, ctl, i) = (from.clone(), to.clone(), ctl.clone(), i.clone());
                    let (a, b) = (client.clone(), server.clone());
                    let rng = Rng::new(seed ^ (dir << 63) ^ dir);
                    thread::spawn(move || {
                        pump(&from, &to, &ctl, &i, rng);
                        drop((from, to));
                        if ctl.pumps_done.fetch_add(1, Ordering::SeqCst) == 1
                            && ctl.reset.load(Ordering::SeqCst)
                        {
                            // The last pump out: closing with SO_LINGER 0 sends RST.
                            set_linger0(&a);
                            set_linger0(&b);
                        }
                        drop((a, b));
                    });
                }
            }
        });
        Proxy {
            addr,
            inner,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT` (or `https://` for `scheme` "https").
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    /// Stops (false) or resumes (true) forwarding. Connections that were open while it was
    /// stopped stay blackholed (their bytes were dropped, so their streams are broken) with
    /// their sockets open; connections accepted after resuming are forwarded.
    pub fn set_forwarding(&self, on: bool) {
        self.inner.forwarding.store(on, Ordering::SeqCst);
        if !on {
            for c in self.inner.conns.lock().unwrap().iter() {
                c.frozen.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Resets every open connection: both sockets are closed with SO_LINGER 0 (RST) within
    /// a few tens of milliseconds.
    pub fn reset_all(&self) {
        for c in self.inner.conns.lock().unwrap().iter() {
            c.reset.store(true, Ordering::SeqCst);
        }
    }

    /// Points new connections at another upstream.
    pub fn set_upstream(&self, a: SocketAddr) {
        *self.inner.upstream.lock().unwrap() = a;
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.inner.accepted.load(Ordering::SeqCst)
    }

    /// (writes, bytes) forwarded so far, both directions.
    pub fn writes_and_bytes(&self) -> (u64, u64) {
        (
            self.inner.writes.load(Ordering::SeqCst),
            self.inner.bytes.load(Ordering::SeqCst),
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

/// SO_LINGER {on, 0}: close() then sends RST instead of FIN.
pub fn set_linger0(s: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a linger struct of the size passed.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        r,
        0,
        "setsockopt(SO_LINGER): {}",
        std::io::Error::last_os_error()
    );
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), IoKind::WouldBlock | IoKind::TimedOut)
}

/// Forwards `from` to `to` until EOF, an error, the proxy stops or the connection is reset.
fn pump(from: &TcpStream, to: &TcpStream, ctl: &ConnCtl, i: &Inner, mut rng: Rng) {
    let mut buf = vec![0u8; 64 << 10];
    let quit = || i.stop.load(Ordering::SeqCst) || ctl.reset.load(Ordering::SeqCst);
    loop {
        if quit() {
            return;
        }
        let n = match (&*from).read(&mut buf) {
            Ok(0) => {
                if !ctl.frozen.load(Ordering::SeqCst) {
                    let _ = to.shutdown(Shutdown::Write);
                }
                return;
            }
            Ok(n) => n,
            Err(e) if timed_out(&e) || e.kind() == IoKind::Interrupted => continue,
            Err(_) => {
                // A reset (or another failure) on one side resets the other.
                if !ctl.frozen.load(Ordering::SeqCst) {
                    ctl.reset.store(true, Ordering::SeqCst);
                }
                return;
            }
        };
        if !i.forwarding.load(Ordering::SeqCst) {
            ctl.frozen.store(true, Ordering::SeqCst);
        }
        if ctl.frozen.load(Ordering::SeqCst) {
            continue; // blackholed: dropped
        }
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let k = match i.split {
                Split::Whole => rest.len(),
                Split::OneByte => 1,
                Split::Random { max, .. } => rng.range(1, max as u64) as usize,
                Split::Delayed {
                    max, max_delay_us, ..
                } => {
                    if rng.range(0, 3) == 0 {
                        thread::sleep(Duration::from_micros(rng.range(0, max_delay_us)));
                    }
                    rng.range(1, max as u64) as usize
                }
            }
            .min(rest.len());
            if !write_all(to, &rest[..k], &quit) {
                ctl.reset.store(true, Ordering::SeqCst);
                return;
            }
            i.writes.fetch_add(1, Ordering::Relaxed);
            i.bytes.fetch_add(k as u64, Ordering::Relaxed);
            rest = &rest[k..];
        }
    }
}

/// Writes all of `b` (one `write` call when the socket takes it); false on an error or when
/// `quit` says so while blocked.
fn write_all(mut to: &TcpStream, mut b: &[u8], quit: &dyn Fn() -> bool) -> bool {
    while !b.is_empty() {
        match to.write(b) {
            Ok(0) => return false,
            Ok(n) => b = &b[n..],
            Err(e) if timed_out(&e) || e.kind() == IoKind::Interrupted => {
                if quit() {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Process state

/// Open file descriptors of this process (`/proc/self/fd`, less the one reading it).
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
        .saturating_sub(1)
}

/// The first number of a `/proc/self/status` field (`VmRSS` and `VmHWM` are in KiB).
pub fn status_value(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Resident set size in KiB.
pub fn rss_kib() -> u64 {
    status_value("VmRSS")
}

/// Threads of this process.
pub fn thread_count() -> u64 {
    status_value("Threads")
}

// ---------------------------------------------------------------------------------------------
// Real peers

/// What CI installs for these tests.
pub const INSTALL_HINT: &str = "the robustness and interop tests need real HTTP/2 servers: \
     `apt-get install nghttp2-server golang-go` (CI installs them)";

/// Looks for a binary in PATH and the sbin directories (which a non-root PATH lacks); panics
/// with an install hint if it is missing.
pub fn find_bin(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = [
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/lib/go/bin",
    ];
    for d in std::env::split_paths(&path).chain(extra.iter().map(PathBuf::from)) {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` not found in PATH or /usr/sbin: {INSTALL_HINT}");
}

/// The largest static file the peers serve.
pub const BIG: usize = 64 << 20;

/// Byte `i` of every static file: `(i * 31 + 7) % 251` (as in `tests/interop.rs`); smaller
/// files are prefixes.
pub fn file_bytes() -> &'static [u8] {
    static DATA: OnceLock<Vec<u8>> = OnceLock::new();
    DATA.get_or_init(|| (0..BIG).map(|i| ((i * 31 + 7) % 251) as u8).collect())
}

/// The static files of a docroot: name and size (`f64m` only when asked for).
pub const FILES: [(&str, usize); 4] = [("f0", 0), ("f1", 1), ("f16k", 16 << 10), ("f1m", 1 << 20)];

/// A fresh temporary directory.
pub fn temp_dir(what: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "h2client-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// Writes the static files (and `index.html`, 1 KiB of them) into `docroot`.
pub fn write_docroot(docroot: &Path, big_file: bool) {
    std::fs::create_dir_all(docroot).unwrap();
    let data = file_bytes();
    for (name, n) in FILES {
        std::fs::write(docroot.join(name), &data[..n]).unwrap();
    }
    std::fs::write(docroot.join("index.html"), &data[..1024]).unwrap();
    if big_file {
        std::fs::write(docroot.join("f64m"), data).unwrap();
    }
}

/// A free TCP port on 127.0.0.1 (free when probed).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `child` (or a process it started) listens on TCP `port`; false if `child`
/// exited or `within` passed.
///
/// "Something accepts on the port" is not enough: a port probed as free can be taken by
/// another test's server before `child` binds it (`child` then fails to bind, and the test
/// talked to the other server until it went away: "connection refused" in the middle of a
/// test), and a connect to a port nobody listens on can even succeed by connecting to itself.
pub fn wait_listening(child: &mut Child, port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if listening_in_tree(child.id(), port) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Whether process `root` or one of its descendants holds a socket listening on TCP `port`
/// (any address, IPv4 or IPv6), from `/proc`.
pub fn listening_in_tree(root: u32, port: u16) -> bool {
    let want = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 9 && cols[1].ends_with(&want) && cols[3] == "0A" {
                inodes.push(format!("socket:[{}]", cols[9]));
            }
        }
    }
    if inodes.is_empty() {
        return false;
    }
    process_tree(root).into_iter().any(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .any(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
    })
}

/// `root` and every process descended from it, from the parent ids in `/proc/*/stat`.
fn process_tree(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after
        // the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(
            parent_of
                .iter()
                .filter(|&&(_, pp)| pp == p)
                .map(|&(c, _)| c),
        );
        i += 1;
    }
    tree
}

/// How to start nghttpd.
#[derive(Clone, Debug, Default)]
pub struct NghttpdOpts {
    /// TLS (h2 by ALPN) with a certificate for localhost and 127.0.0.1; h2c when false.
    pub tls: bool,
    /// `--trailer 'x-trailer-one: 1'`: every response with a body gets that trailer.
    pub trailer: bool,
    /// Also serve the 64 MiB file.
    pub big_file: bool,
    /// `-n WORKERS` (1 when 0).
    pub workers: u32,
}

/// An nghttpd process serving [`FILES`] (and `index.html`) from its own temporary directory,
/// with `--echo-upload` (POST bodies are echoed). Killed, reaped and removed on drop.
pub struct Nghttpd {
    child: Option<Child>,
    dir: PathBuf,
    pub port: u16,
    opts: NghttpdOpts,
    /// The CA that signed its certificate (TLS only).
    pub ca_pem: Option<String>,
}

impl Nghttpd {
    /// Starts nghttpd on a free port.
    pub fn start(opts: NghttpdOpts) -> Nghttpd {
        let dir = temp_dir("nghttpd");
        write_docroot(&dir.join("docroot"), opts.big_file);
        let ca_pem = opts.tls.then(|| {
            let b = h2client_testserver::tls::generate(&["localhost", "127.0.0.1"]);
            std::fs::write(dir.join("cert.pem"), &b.cert_pem).unwrap();
            std::fs::write(dir.join("key.pem"), &b.key_pem).unwrap();
            b.ca_pem
        });
        let mut s = Nghttpd {
            child: None,
            dir,
            port: 0,
            opts,
            ca_pem,
        };
        // A port can be taken between probing and binding: retry a few times.
        for _ in 0..3 {
            s.port = free_port();
            if s.spawn() {
                return s;
            }
        }
        panic!("nghttpd did not start listening; its log:\n{}", s.log());
    }

    /// Starts the process on `self.port`; false if it did not listen within 10 s.
    fn spawn(&mut self) -> bool {
        let bin = find_bin("nghttpd");
        let mut cmd = Command::new(&bin);
        if !self.opts.tls {
            cmd.arg("--no-tls");
        }
        let workers = self.opts.workers.max(1).to_string();
        cmd.args(["-a", "127.0.0.1", "-n", &workers, "--echo-upload", "-d"])
            .arg(self.dir.join("docroot"));
        if self.opts.trailer {
            cmd.arg("--trailer=x-trailer-one: 1");
        }
        cmd.arg(self.port.to_string());
        if self.opts.tls {
            cmd.arg(self.dir.join("key.pem"))
                .arg(self.dir.join("cert.pem"));
        }
        let log = std::fs::File::create(self.dir.join("nghttpd.log")).unwrap();
        let mut child = cmd
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}: {INSTALL_HINT}", bin.display()));
        let ok = wait_listening(&mut child, self.port, Duration::from_secs(10));
        if !ok {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        self.child = Some(child);
        true
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the process again on the same port (after [`Nghttpd::kill`]).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "nghttpd is still running");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.spawn() {
            assert!(
                Instant::now() < deadline,
                "nghttpd did not restart on port {}; its log:\n{}",
                self.port,
                self.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The process id (while running).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// `http://127.0.0.1:PORT` or `https://...`.
    pub fn url(&self) -> String {
        let scheme = if self.opts.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The last 8 KiB of its output.
    pub fn log(&self) -> String {
        let b = std::fs::read(self.dir.join("nghttpd.log")).unwrap_or_default();
        String::from_utf8_lossy(&b[b.len().saturating_sub(8192)..]).into_owned()
    }
}

impl Drop for Nghttpd {
    fn drop(&mut self) {
        self.kill();
        if thread::panicking() {
            eprintln!("--- nghttpd log (last 8 KiB)\n{}", self.log());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------------
// The interop matrix

/// `<target dir>/interop-matrix`, where interop results are collected.
pub fn matrix_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("interop-matrix")
}

/// Records one interop case's outcome when dropped: PASS, or FAIL if the test is panicking.
pub struct MatrixRecord {
    line: String,
}

/// Records `case` against `peer` over `mode` (e.g. "go", "TLS", "static_files") in
/// `target/interop-matrix/results.tsv` when the returned guard is dropped.
pub fn matrix_record(peer: &str, mode: &str, case: &str) -> MatrixRecord {
    MatrixRecord {
        line: format!("{peer}\t{mode}\t{case}"),
    }
}

impl Drop for MatrixRecord {
    fn drop(&mut self) {
        let verdict = if thread::panicking() { "FAIL" } else { "PASS" };
        let dir = matrix_dir();
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("results.tsv"))
        {
            let _ = f.write_all(format!("{}\t{verdict}\n", self.line).as_bytes());
        }
    }
}
