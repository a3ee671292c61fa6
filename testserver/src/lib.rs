//! `h2client-testserver`: an HTTP/2 server used by h2client's demo, Rust tests
//! and C tests.
//!
//! It is deliberately an *independent* HTTP/2 implementation (the server side
//! of the [`h2`] crate), so that the client under test is checked against
//! somebody else's reading of RFC 9113 rather than against itself.
//!
//! By default the server speaks HTTP/2 with prior knowledge over cleartext
//! TCP ("h2c", RFC 9113 §3.3): no HTTP/1.1, no `Upgrade`. With
//! [`Options::tls`] set it speaks HTTP/2 over TLS instead ("h2", RFC 9113
//! §3.2), with a certificate generated at start-up and signed by a fresh CA
//! ([`Server::tls_ca_pem`]); see [`tls`] and [`TlsOptions`].
//!
//! # Endpoints
//!
//! All endpoints accept any method. `HEAD` gets the same status and headers
//! as `GET` but no body. Apart from `/echo` and `/reset/CODE`, the request
//! body (if any) is read and discarded before the response is produced.
//!
//! | path | response |
//! | --- | --- |
//! | `/` | 200, `text/plain`, `hello from h2testserver\n` |
//! | `/bytes/N` | 200, N bytes, byte `i` is `b'a' + (i % 26)`; streamed in ≤ 64 KiB pieces |
//! | `/echo` | 200, request body streamed back; request metadata as `x-echo-*` headers |
//! | `/status/N` | status N (200..=599), empty body; 1xx or out of range → 400 |
//! | `/delay/MS` | waits MS ms, then 200 `delayed MS\n` |
//! | `/trailers` | 200, `body with trailers\n`, trailers `x-trailer-one: 1`, `x-trailer-two: two` |
//! | `/headers/N` | 200 with N headers `x-header-NNNNN: <100 × 'v'>`, body `ok\n` (N ≤ 100000) |
//! | `/slow-bytes/N/CHUNK/MS` | like `/bytes/N`, in CHUNK-byte pieces MS ms apart |
//! | `/reset/CODE` | `RST_STREAM` with error code CODE, no response |
//! | `/wait-reset` | 200 headers, then waits (≤ 30 s) for the client to reset the stream |
//! | `/redirect/CODE?to=URL` | status CODE (300..=399) with `location: URL` (`to` percent-decoded; no `location` without `to`) |
//! | `/encoded/CODINGS/N` | 200, [`text`]`(N)` (N ≤ 256 MiB) coded with CODINGS (`gzip`, `x-gzip`, `deflate` (zlib), `br`, `zstd` (with its checksum), `identity`; comma-separated, applied in order, e.g. `gzip,br`), `content-encoding: CODINGS`, `content-length` and `x-encoded-length` of the coded body. Query options: `corrupt` (256 bytes of its middle zeroed), `truncate` (its first half only), `empty` (an empty body), `nolength` (no `content-length`), `status=N` (that status; 204 and 304 without a body) |
//! | `/bomb/CODING/MIB` | 200, MIB MiB of zeros coded with CODING (`gzip`, `deflate`, `br`, `zstd`), made as it is sent, no `content-length`: about 1 KiB per MiB for gzip and deflate, a few KiB per GiB for br, 32 KiB per GiB for zstd |
//! | anything else | 404 `not found\n` |
//!
//! A malformed number in a path gives 400 with a `text/plain` explanation.
//!
//! # In-process use
//!
//! ```no_run
//! use h2client_testserver::{Options, Server};
//!
//! let server = Server::start(Options::default()).expect("start test server");
//! let url = format!("{}/bytes/1024", server.url());
//! // ... point the client at `url` ...
//! assert_eq!(server.connections_accepted(), 1);
//! server.stop();
//! ```
//!
//! Over TLS, give the client [`Server::tls_ca_pem`] as its trust root:
//!
//! ```no_run
//! use h2client_testserver::{Options, Server, TlsOptions};
//!
//! let server = Server::start(Options {
//!     tls: Some(TlsOptions::default()),
//!     ..Options::default()
//! })
//! .expect("start test server");
//! assert!(server.url().starts_with("https://"));
//! let ca_pem = server.tls_ca_pem().expect("TLS mode");
//! // ... make the client trust `ca_pem` and connect to `server.url()` ...
//! # let _ = ca_pem;
//! ```
//!
//! Logging to stderr is off unless the environment variable
//! `H2TESTSERVER_LOG` is set to `1`.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// Writes one line to stderr when `H2TESTSERVER_LOG=1`; a no-op otherwise.
macro_rules! log {
    ($($arg:tt)*) => {
        if $crate::logging_enabled() {
            eprintln!("[h2testserver] {}", format_args!($($arg)*));
        }
    };
}

mod conn;
mod encoded;
mod handlers;
pub mod tls;

pub use encoded::text;
pub use tls::TlsOptions;

/// Whether `H2TESTSERVER_LOG=1` was set (read once).
fn logging_enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os("H2TESTSERVER_LOG").is_some_and(|v| v == "1"))
}

/// Default stream and connection receive window: 1 GiB, so that uploads of
/// hundreds of MiB are never throttled by the server's flow control unless a
/// test asks for a small window on purpose.
pub const DEFAULT_INITIAL_WINDOW_SIZE: u32 = 1 << 30;
/// Default `SETTINGS_MAX_CONCURRENT_STREAMS` advertised to clients.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 1000;
/// Default `SETTINGS_MAX_HEADER_LIST_SIZE` (16 MiB): large header lists are
/// part of what the tests exercise.
pub const DEFAULT_MAX_HEADER_LIST_SIZE: u32 = 16 << 20;

/// Largest legal `SETTINGS_INITIAL_WINDOW_SIZE` (RFC 9113 §6.5.2).
const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;
/// Legal range of `SETTINGS_MAX_FRAME_SIZE` (RFC 9113 §6.5.2).
const MIN_MAX_FRAME_SIZE: u32 = 1 << 14;
const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;

/// How long a stopping server lets each connection flush its GOAWAY.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Configuration of a [`Server`]. `None` fields use the server's defaults,
/// which are deliberately generous (see each field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Address or host name to bind (default `127.0.0.1`).
    pub host: String,
    /// TCP port; 0 (the default) lets the OS pick a free one.
    pub port: u16,
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` to advertise and enforce
    /// (default [`DEFAULT_MAX_CONCURRENT_STREAMS`]).
    pub max_concurrent_streams: Option<u32>,
    /// Receive window for each stream (`SETTINGS_INITIAL_WINDOW_SIZE`) *and*
    /// for the connection as a whole, at most 2^31-1
    /// (default [`DEFAULT_INITIAL_WINDOW_SIZE`]).
    pub initial_window_size: Option<u32>,
    /// `SETTINGS_MAX_FRAME_SIZE`, 16384..=16777215 (default 16384).
    pub max_frame_size: Option<u32>,
    /// `SETTINGS_MAX_HEADER_LIST_SIZE` (default [`DEFAULT_MAX_HEADER_LIST_SIZE`]).
    pub max_header_list_size: Option<u32>,
    /// `None` (the default): cleartext HTTP/2 with prior knowledge (h2c).
    /// `Some`: HTTP/2 over TLS, configured as given.
    pub tls: Option<TlsOptions>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: "127.0.0.1".to_string(),
            port: 0,
            max_concurrent_streams: None,
            initial_window_size: None,
            max_frame_size: None,
            max_header_list_size: None,
            tls: None,
        }
    }
}

/// Validated HTTP/2 settings, shared by every connection of one server.
#[derive(Debug)]
struct Settings {
    max_concurrent_streams: u32,
    initial_window_size: u32,
    max_frame_size: Option<u32>,
    max_header_list_size: u32,
}

impl Settings {
    /// Checks the ranges `h2` would otherwise `assert!` on, so that a bad
    /// command line is an error instead of a panic.
    fn from_options(opts: &Options) -> io::Result<Settings> {
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        let initial_window_size = opts
            .initial_window_size
            .unwrap_or(DEFAULT_INITIAL_WINDOW_SIZE);
        if initial_window_size > MAX_WINDOW_SIZE {
            return Err(invalid(format!(
                "initial window size {initial_window_size} exceeds {MAX_WINDOW_SIZE}"
            )));
        }
        if let Some(size) = opts.max_frame_size {
            if !(MIN_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&size) {
                return Err(invalid(format!(
                    "max frame size {size} is outside {MIN_MAX_FRAME_SIZE}..={MAX_MAX_FRAME_SIZE}"
                )));
            }
        }
        Ok(Settings {
            max_concurrent_streams: opts
                .max_concurrent_streams
                .unwrap_or(DEFAULT_MAX_CONCURRENT_STREAMS),
            initial_window_size,
            max_frame_size: opts.max_frame_size,
            max_header_list_size: opts
                .max_header_list_size
                .unwrap_or(DEFAULT_MAX_HEADER_LIST_SIZE),
        })
    }

    /// An `h2` server builder for one new connection.
    fn builder(&self) -> h2::server::Builder {
        let mut builder = h2::server::Builder::new();
        builder
            .initial_window_size(self.initial_window_size)
            .initial_connection_window_size(self.initial_window_size)
            .max_concurrent_streams(self.max_concurrent_streams)
            .max_header_list_size(self.max_header_list_size)
            // Test suites cancel and reset streams far more often than real
            // traffic does; h2's anti-abuse defaults (50 remembered resets,
            // 20 reset-before-accept streams, 1024 error resets before
            // GOAWAY(ENHANCE_YOUR_CALM)) would turn that into spurious
            // connection errors. This server only ever listens for tests.
            .max_concurrent_reset_streams(10_000)
            .max_pending_accept_reset_streams(10_000)
            .max_local_error_reset_streams(None)
            // Let more response data be queued per stream than the 400 KB
            // default so big downloads need fewer wake-ups.
            .max_send_buffer_size(1 << 20);
        if let Some(size) = self.max_frame_size {
            builder.max_frame_size(size);
        }
        builder
    }
}

/// Counters shared between the server thread and the [`Server`] handle.
#[derive(Debug, Default)]
struct Stats {
    connections_accepted: AtomicUsize,
    connections_open: AtomicUsize,
    requests_served: AtomicUsize,
    resets_received: AtomicUsize,
    max_streams_seen: AtomicUsize,
    tls_handshake_failures: AtomicUsize,
}

/// Keeps `connections_open` right however a connection task ends (normal
/// return, panic, or being dropped when the runtime shuts down).
struct OpenConnection(Arc<Stats>);

impl OpenConnection {
    fn new(stats: Arc<Stats>) -> OpenConnection {
        stats.connections_accepted.fetch_add(1, Ordering::SeqCst);
        stats.connections_open.fetch_add(1, Ordering::SeqCst);
        OpenConnection(stats)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Resolves once `stop` is signalled (or the [`Server`] handle is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// A running test server: one OS thread owning its own tokio runtime, so it
/// works the same whether or not (and whichever) runtime the client uses.
///
/// The counters are updated from the server thread and may lag the client's
/// view by a moment (e.g. a reset the client just sent): poll them with a
/// deadline rather than reading them once.
///
/// Dropping the handle stops the server, like [`Server::stop`].
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    /// The CA that signed the server certificate, in TLS mode.
    tls_ca_pem: Option<String>,
    /// The server certificate, in TLS mode.
    tls_cert_pem: Option<String>,
    stats: Arc<Stats>,
    stop: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `opts.host:opts.port`, starts serving on a new thread and
    /// returns once the socket is listening (connections made from then on
    /// are queued even before the first `accept`).
    ///
    /// In TLS mode the server certificate (and its CA) is generated here.
    ///
    /// Fails if an option is out of its legal range (including invalid
    /// [`TlsOptions`]), the address cannot be bound, or the thread or runtime
    /// cannot be created.
    pub fn start(opts: Options) -> io::Result<Server> {
        let settings = Arc::new(Settings::from_options(&opts)?);
        let tls = opts.tls.as_ref().map(tls::server_tls).transpose()?;
        let tls_ca_pem = tls.as_ref().map(|tls| tls.ca_pem.clone());
        let tls_cert_pem = tls.as_ref().map(|tls| tls.cert_pem.clone());
        let acceptor = tls.map(|tls| tls.acceptor);
        let std_listener = std::net::TcpListener::bind((opts.host.as_str(), opts.port))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let stats = Arc::new(Stats::default());
        let (stop_tx, stop_rx) = watch::channel(false);
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();

        let thread_stats = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("h2testserver".to_string())
            .spawn(move || {
                // The runtime is created, used and dropped on this thread
                // only: dropping a runtime from inside someone else's async
                // context would panic.
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("h2testserver-worker")
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let listener = {
                    let _entered = runtime.enter();
                    match TcpListener::from_std(std_listener) {
                        Ok(listener) => listener,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    }
                };
                let _ = ready_tx.send(Ok(()));
                runtime.block_on(accept_loop(
                    listener,
                    acceptor,
                    settings,
                    thread_stats,
                    stop_rx,
                ));
                // Anything still running after the grace period (e.g. a
                // handler stuck in a long /delay) is simply dropped.
                runtime.shutdown_timeout(Duration::from_millis(200));
            })?;

        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Server {
                addr,
                tls_ca_pem,
                tls_cert_pem,
                stats,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(io::Error::other(
                    "test server thread exited during start-up",
                ))
            }
        }
    }

    /// The address the server listens on (with the actual port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL, e.g. `http://127.0.0.1:40123`, or `https://...` in TLS
    /// mode (IPv6 hosts are bracketed).
    pub fn url(&self) -> String {
        let scheme = if self.tls_ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// In TLS mode, the PEM certificate of the CA that signed the server
    /// certificate: what the client should trust. `None` in h2c mode.
    pub fn tls_ca_pem(&self) -> Option<&str> {
        self.tls_ca_pem.as_deref()
    }

    /// In TLS mode, the PEM certificate the server presents (only the leaf:
    /// the server sends no chain). `None` in h2c mode.
    pub fn tls_cert_pem(&self) -> Option<&str> {
        self.tls_cert_pem.as_deref()
    }

    /// Total TCP connections accepted so far (in TLS mode, whether or not
    /// their TLS handshake then succeeds).
    pub fn connections_accepted(&self) -> usize {
        self.stats.connections_accepted.load(Ordering::SeqCst)
    }

    /// TCP connections currently open (accepted and not yet closed).
    pub fn connections_open(&self) -> usize {
        self.stats.connections_open.load(Ordering::SeqCst)
    }

    /// Requests the server finished: it queued the response's last frame
    /// (`END_STREAM`), or, for `/reset/CODE`, its `RST_STREAM`. Counted just
    /// before that frame is written, so it is never behind a client that has
    /// seen the complete response.
    pub fn requests_served(&self) -> usize {
        self.stats.requests_served.load(Ordering::SeqCst)
    }

    /// Streams the client reset (`RST_STREAM` with any error code) while the
    /// server was still working on them: reading the body, waiting in
    /// `/delay` or `/wait-reset`, or sending a response.
    pub fn resets_received(&self) -> usize {
        self.stats.resets_received.load(Ordering::SeqCst)
    }

    /// The highest number of simultaneously active streams seen on any single
    /// connection. A stream counts from the moment its request headers are
    /// accepted until the server queues its last frame for it or learns that
    /// the client reset it.
    pub fn max_streams_seen(&self) -> usize {
        self.stats.max_streams_seen.load(Ordering::SeqCst)
    }

    /// TLS handshakes that failed (always 0 in h2c mode): e.g. the client
    /// rejected the certificate, offered no acceptable version or ALPN
    /// protocol, presented no (or a bad) certificate when one is required,
    /// or closed the connection before finishing the handshake. Counted after
    /// the server has sent its alert, so a client may see the failure first:
    /// poll with a deadline.
    pub fn tls_handshake_failures(&self) -> usize {
        self.stats.tls_handshake_failures.load(Ordering::SeqCst)
    }

    /// Stops accepting, closes every connection (after sending
    /// `GOAWAY(NO_ERROR)`, with a grace of about a second) and joins the
    /// server thread. Blocks the caller meanwhile.
    pub fn stop(self) {
        // Drop does the work.
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Accepts TCP connections until stopped, one task per connection (which
/// runs the TLS handshake first when `tls` is set).
async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    settings: Arc<Settings>,
    stats: Arc<Stats>,
    stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let mut next_id: u64 = 0;
    let stop_signal = stopped(stop.clone());
    tokio::pin!(stop_signal);
    loop {
        // Reap finished connection tasks; a panicked one is just logged.
        while let Some(result) = connections.try_join_next() {
            if let Err(e) = result {
                log!("connection task failed: {e}");
            }
        }
        tokio::select! {
            _ = &mut stop_signal => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    next_id += 1;
                    log!("conn {next_id}: accepted from {peer}");
                    // Small frames (SETTINGS ACKs, WINDOW_UPDATEs, short
                    // responses) must not wait for Nagle.
                    let _ = tcp.set_nodelay(true);
                    let open = OpenConnection::new(Arc::clone(&stats));
                    match &tls {
                        None => connections.spawn(conn::serve_connection(
                            tcp,
                            next_id,
                            Arc::clone(&settings),
                            Arc::clone(&stats),
                            stop.clone(),
                            open,
                        )),
                        Some(acceptor) => connections.spawn(tls::serve_tls_connection(
                            tcp,
                            acceptor.clone(),
                            next_id,
                            Arc::clone(&settings),
                            Arc::clone(&stats),
                            stop.clone(),
                            open,
                        )),
                    };
                }
                Err(e) => {
                    // E.g. EMFILE: back off instead of spinning, keep serving.
                    log!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    drop(listener);
    // Every connection saw the same stop signal and is sending GOAWAY; wait
    // for them a little longer than their own grace period.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_millis(500), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}
