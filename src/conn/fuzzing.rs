//! Test support for fuzzing (`fuzz/`) and its regression tests (`tests/fuzz_regressions.rs`):
//! one client connection, with everything the server sends given as raw bytes. Not part of
//! the API.
//!
//! [`run_session`] starts a connection over an in-memory pipe (`tokio::io::duplex`, through
//! [`super::start`], the generic path TLS takes) or a loopback TCP connection (through
//! [`super::start_tcp`], with the caller-thread fast path) on a current-thread runtime, puts
//! the requests in flight, writes the server's bytes in the given chunks (yielding between
//! chunks, so the reader sees them one read at a time), then either closes the server's side
//! (EOF) or keeps it open, and waits for every request to finish. It then closes the
//! connection and checks that both connection tasks end.
//!
//! It panics, with a message saying which, on what the library must never do:
//! - a connection task panicked (the panic is recorded and re-raised after the session, so a
//!   test sees it even though tokio catches task panics);
//! - a request did not finish before `deadline` (a hang);
//! - the reader or the writer did not end after the connection was closed;
//! - something still holds the connection's shared state after both tasks ended (a leak).
//!
//! Everything else (results, bytes written, what stayed buffered) is in the [`SessionReport`]
//! for the caller to check.

use std::cell::{Cell, RefCell};
use std::sync::{Arc, Once, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Assigned, ConnParams, ConnShared};
use crate::config::Config;
use crate::counters::PoolCounters;
use crate::error::{Error, ErrorKind};
use crate::exchange::{Deadlines, Exchange, Mode, Pending};
use crate::request::Request;
use crate::response::Response;

/// One request put in flight at the start of a session.
#[derive(Clone, Debug)]
pub struct SessionRequest {
    /// Method, e.g. `GET`.
    pub method: String,
    /// Path, e.g. `/`.
    pub path: String,
    /// Body sent with the request (empty: none).
    pub body: Vec<u8>,
    /// A body streamed by the caller instead (`h2_call_write` + `h2_call_finish`), written
    /// before the session starts; at most `exchange::UPLOAD_QUEUE_LIMIT` bytes.
    pub streamed_body: Option<Vec<u8>>,
    /// Receive the response in streaming mode (`h2_client_start`) instead of buffered. The
    /// body is never read, so the stream's receive window is never reopened.
    pub streaming: bool,
    /// Whole-request timeout (a timer task on the session's runtime). A session that keeps
    /// the server's side open needs one on every request, or a silent server is a "hang".
    pub timeout: Option<Duration>,
}

impl SessionRequest {
    /// A buffered `GET path` without a body or a timeout.
    pub fn get(path: &str) -> SessionRequest {
        SessionRequest {
            method: "GET".into(),
            path: path.into(),
            body: Vec::new(),
            streamed_body: None,
            streaming: false,
            timeout: None,
        }
    }
}

/// What carries a session's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// An in-memory pipe (`tokio::io::duplex`), through `conn::start` (the path TLS takes).
    Duplex,
    /// A loopback TCP connection, through `conn::start_tcp` (plain TCP's caller-thread write
    /// path).
    Tcp,
}

/// How a session runs.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// The client's configuration.
    pub config: Config,
    /// What carries the bytes.
    pub transport: Transport,
    /// Requests in flight (submitted in order, before any server byte is written).
    pub requests: Vec<SessionRequest>,
    /// Write a valid server preface first (an empty SETTINGS and a SETTINGS ACK); otherwise the
    /// server's bytes are all there is.
    pub server_preface: bool,
    /// Sizes of the pieces the server's bytes are written in, used in turn (0 counts as 1),
    /// at most [`MAX_PIECES`] pieces (the last takes the rest); empty: one piece.
    pub chunks: Vec<usize>,
    /// Close the server's side (EOF) after its bytes; otherwise keep it open until every
    /// request has finished.
    pub eof: bool,
    /// Once the server's bytes are written (and the client has had a turn to read them),
    /// cancel every unfinished request as `Call::cancel` does (RST_STREAM(CANCEL)).
    pub cancel_after_input: bool,
    /// Wall-clock limit for the whole session; a request still unfinished then is a hang.
    pub deadline: Duration,
}

impl Default for SessionOptions {
    fn default() -> SessionOptions {
        SessionOptions {
            config: Config::default(),
            transport: Transport::Duplex,
            requests: vec![SessionRequest::get("/")],
            server_preface: false,
            chunks: Vec::new(),
            eof: true,
            cancel_after_input: false,
            deadline: Duration::from_secs(10),
        }
    }
}

/// What happened in a session.
#[derive(Debug)]
pub struct SessionReport {
    /// Each request's result, in order. Streaming requests: `Ok` with the head and trailers
    /// (no body) if the response ended, `Err` if the exchange failed.
    pub results: Vec<Result<Response, Error>>,
    /// Streaming requests: body bytes received and left unread at the end (0 for others).
    pub unread: Vec<usize>,
    /// Bytes the client wrote (preface, requests, acks, window updates, resets, GOAWAY).
    pub client_bytes: usize,
    /// Bytes of the server's (preface and input) the client took before its side closed.
    pub server_bytes_written: usize,
    /// The client's byte counters: (sent, received).
    pub counters: (u64, u64),
    /// How often each defence tripped (indexed by `conn::defence::Trip`).
    pub limits_tripped: [u64; super::defence::Trip::COUNT],
}

/// Most pieces the server's bytes are written in (each costs a few system calls over TCP).
pub const MAX_PIECES: usize = 64;

/// The frames of a valid server preface: an empty SETTINGS, then the ACK of the client's.
pub const SERVER_PREFACE: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0];

thread_local! {
    /// Set while a session runs on this thread (its runtime polls every task here).
    static IN_SESSION: Cell<bool> = const { Cell::new(false) };
    /// The first panic seen on this thread during the session: message and location.
    static SESSION_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// The loopback listener TCP sessions on this thread connect to.
    static LISTENER: RefCell<Option<std::net::TcpListener>> = const { RefCell::new(None) };
    /// The runtime sessions on this thread run on.
    static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// Records panics of the session's tasks (tokio catches them), then runs the previous hook.
fn install_panic_recorder() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_SESSION.with(Cell::get) {
                SESSION_PANIC.with(|p| {
                    let mut p = p.borrow_mut();
                    if p.is_none() {
                        *p = Some(info.to_string());
                    }
                });
            }
            prev(info);
        }));
    });
}

/// Runs one session; see the module docs. Panics on a task panic, a hang, or a task that
/// does not end.
pub fn run_session(server_bytes: &[u8], opts: &SessionOptions) -> SessionReport {
    install_panic_recorder();
    // One runtime per thread, reused: building one costs more than a whole session. A
    // session leaves no task behind unless it fails, and then the runtime is dropped.
    let rt = RUNTIME.with(|r| r.borrow_mut().take()).unwrap_or_else(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    });
    IN_SESSION.with(|f| f.set(true));
    SESSION_PANIC.with(|p| p.borrow_mut().take());
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(session(server_bytes.to_vec(), opts))
    }));
    if matches!(out, Ok(Ok(_))) {
        RUNTIME.with(|r| *r.borrow_mut() = Some(rt));
    } else {
        // Tasks still alive (a hung connection, the server's feeder) go with the runtime.
        drop(rt);
    }
    IN_SESSION.with(|f| f.set(false));
    if let Some(p) = SESSION_PANIC.with(|p| p.borrow_mut().take()) {
        panic!("a task panicked during the session: {p}");
    }
    match out {
        Ok(Ok(r)) => r,
        Ok(Err(violation)) => panic!("{violation}"),
        Err(e) => std::panic::resume_unwind(e),
    }
}

async fn session(input: Vec<u8>, opts: &SessionOptions) -> Result<SessionReport, String> {
    let started = Instant::now();
    let hang_at = tokio::time::Instant::now() + opts.deadline;
    let counters = Arc::new(PoolCounters::default());
    let params = ConnParams {
        id: 0,
        peer: "fuzz-server".into(),
        info: Arc::new(crate::info::ConnInfo::new(
            crate::connect::PeerAddr::Ip(([127, 0, 0, 1], 0).into()),
            None,
            started,
            started,
        )),
        cfg: Arc::new(opts.config.clone()),
        pool: Weak::<NoPool>::new(),
        scheme: "http",
        authority: Arc::from("fuzz.test"),
        assumed_limit: 100,
        counters: counters.clone(),
        rt: usize::MAX,
    };
    let (shared, mut srd, mut swr) = connect(opts.transport, params).await?;

    // Everything the client writes is read (and counted), so the writer never stalls.
    let drain = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 << 10];
        let mut n = 0usize;
        while let Ok(k) = srd.read(&mut buf).await {
            if k == 0 {
                break;
            }
            n += k;
        }
        n
    });

    let done = Arc::new(tokio::sync::Notify::new());
    let mut exchanges = Vec::new();
    for r in &opts.requests {
        let mut req = Request::new(&r.method, &r.path).expect("a valid request");
        req.set_body(Bytes::from(r.body.clone()));
        req.set_streaming_body(r.streamed_body.is_some());
        let d = done.clone();
        let notify: crate::exchange::Notify = Arc::new(move |_: &_| d.notify_one());
        let deadlines = Deadlines {
            whole: r.timeout.map(|t| (Instant::now() + t, t)),
            ..Deadlines::default()
        };
        let mode = if r.streaming {
            Mode::Streaming
        } else {
            Mode::Buffered
        };
        let ex = Exchange::with(Arc::new(req), mode, deadlines, Some(notify), None);
        if let Some(b) = &r.streamed_body {
            // `write` blocks beyond the queue limit, and nothing would ever drain it here.
            assert!(
                b.len() <= crate::exchange::UPLOAD_QUEUE_LIMIT,
                "streamed body too long"
            );
            ex.write(b)
                .expect("streamed body within the upload queue limit");
            ex.finish_body(None).expect("finish the streamed body");
        }
        if ex.needs_timer(false) {
            let h = tokio::spawn(ex.clone().run_timer());
            ex.set_timer(h.abort_handle());
        }
        let pending = Pending::new(ex.clone());
        match shared.try_reserve() {
            Some(slot) => {
                if let Err(a) = shared.submit(Assigned { pending, slot }) {
                    a.pending
                        .finish(Err(Error::new(ErrorKind::Closed, "connection gone")));
                }
            }
            None => pending.finish(Err(Error::new(ErrorKind::Closed, "no stream slot"))),
        }
        exchanges.push(ex);
    }

    let preface = opts.server_preface;
    let chunks = opts.chunks.clone();
    let eof = opts.eof;
    let mut feed = tokio::spawn(async move {
        let mut written = 0usize;
        let mut ok = true;
        if preface {
            ok = swr.write_all(SERVER_PREFACE).await.is_ok();
            if ok {
                written += SERVER_PREFACE.len();
            }
        }
        let mut pos = 0usize;
        let mut i = 0usize;
        while ok && pos < input.len() {
            let n = if chunks.is_empty() || i + 1 >= MAX_PIECES {
                input.len()
            } else {
                chunks[i % chunks.len()].max(1)
            };
            i += 1;
            let end = input.len().min(pos + n);
            if swr.write_all(&input[pos..end]).await.is_err() {
                break;
            }
            written += end - pos;
            pos = end;
            tokio::task::yield_now().await;
        }
        if eof {
            let _ = swr.shutdown().await;
            drop(swr);
            (written, None)
        } else {
            (written, Some(swr))
        }
    });

    // The feeder's result: bytes written, and the server's side if kept open.
    let mut fed = None;
    if opts.cancel_after_input {
        match tokio::time::timeout_at(hang_at, &mut feed).await {
            Ok(Ok(x)) => fed = Some(x),
            Ok(Err(e)) => return Err(format!("feed task failed: {e}")),
            Err(_) => return Err("hang: the client did not take the server's bytes".into()),
        }
        // Let the reader see the last bytes before the caller gives up.
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        for ex in &exchanges {
            ex.abort(
                Error::new(ErrorKind::Canceled, "request canceled by the caller")
                    .with_processed(crate::error::Processed::Maybe),
            );
        }
    }

    // Every request must finish: with EOF by itself, otherwise by its timeout or cancel.
    let all_done = async {
        while !exchanges.iter().all(|e| e.is_done()) {
            done.notified().await;
        }
    };
    if tokio::time::timeout_at(hang_at, all_done).await.is_err() {
        let open: Vec<usize> = (0..exchanges.len())
            .filter(|&i| !exchanges[i].is_done())
            .collect();
        return Err(format!(
            "hang: request(s) {open:?} unfinished after {:?} (eof: {eof})",
            started.elapsed()
        ));
    }

    // Close the connection; the writer shuts its side (the drain sees EOF) and the reader
    // marks the connection closed.
    shared.shutdown(Error::new(ErrorKind::Closed, "fuzz session over"));
    let client_bytes = match tokio::time::timeout_at(hang_at, drain).await {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => return Err(format!("drain task failed: {e}")),
        Err(_) => return Err("the writer did not end after the connection was closed".into()),
    };
    // The reader is told to close before the writer: a few turns are plenty (a timer would
    // cost a millisecond per session).
    let mut turns = 0u32;
    while !shared.is_closed() {
        if tokio::time::Instant::now() >= hang_at {
            return Err("the reader did not end after the connection was closed".into());
        }
        turns += 1;
        if turns < 1000 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    // Nothing may keep the connection's state alive once both tasks have ended: a reference
    // cycle would leak its buffers, channels and HPACK tables for every connection made.
    let mut turns = 0u32;
    while Arc::strong_count(&shared) > 1 {
        if turns == 1000 {
            return Err(format!(
                "leak: {} reference(s) to the connection's shared state remain after both \
                 connection tasks ended (a reference cycle?)",
                Arc::strong_count(&shared) - 1
            ));
        }
        turns += 1;
        tokio::task::yield_now().await;
    }
    let fed = match fed {
        Some(x) => x,
        None => match tokio::time::timeout_at(hang_at, feed).await {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => return Err(format!("feed task failed: {e}")),
            Err(_) => {
                return Err(
                    "the server's bytes were not taken after the connection was closed".into(),
                )
            }
        },
    };
    let (server_bytes_written, server_side) = fed;
    drop(server_side);

    let mut results = Vec::new();
    let mut unread = Vec::new();
    for ex in &exchanges {
        if ex.mode == Mode::Streaming {
            unread.push(ex.buffered());
            results.push(match ex.error() {
                Some(e) => Err(e),
                None => Ok(ex.with_head(|r| {
                    let mut head = Response::with_headers(r.headers.clone());
                    head.status = r.status;
                    head.trailers = r.trailers.clone();
                    head
                })),
            });
        } else {
            unread.push(0);
            results.push(ex.take_response());
        }
    }
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    Ok(SessionReport {
        results,
        unread,
        client_bytes,
        server_bytes_written,
        counters: (load(&counters.bytes_sent), load(&counters.bytes_received)),
        limits_tripped: std::array::from_fn(|i| load(&counters.limits_tripped[i])),
    })
}

/// The server's halves of a session's transport.
type ServerRead = Box<dyn AsyncRead + Unpin + Send>;
type ServerWrite = Box<dyn AsyncWrite + Unpin + Send>;

/// Starts the client connection over `transport`; returns the server's side.
async fn connect(
    transport: Transport,
    params: ConnParams,
) -> Result<(Arc<ConnShared>, ServerRead, ServerWrite), String> {
    match transport {
        Transport::Duplex => {
            let (client, server) = tokio::io::duplex(64 << 10);
            let (crd, cwr) = tokio::io::split(client);
            let shared = super::start(crd, cwr, params);
            let (srd, swr) = tokio::io::split(server);
            Ok((shared, Box::new(srd), Box::new(swr)))
        }
        Transport::Tcp => {
            // One listening socket per thread, reused: binding a new one scans the kernel's
            // port table, which cost three quarters of a session's time.
            let std_listener = LISTENER.with(|l| -> Result<std::net::TcpListener, String> {
                let mut l = l.borrow_mut();
                if l.is_none() {
                    let s = std::net::TcpListener::bind("127.0.0.1:0")
                        .map_err(|e| format!("bind: {e}"))?;
                    s.set_nonblocking(true)
                        .map_err(|e| format!("nonblocking: {e}"))?;
                    *l = Some(s);
                }
                match l.as_ref() {
                    Some(s) => s.try_clone().map_err(|e| format!("listener: {e}")),
                    None => Err("no listener".into()),
                }
            })?;
            let listener = tokio::net::TcpListener::from_std(std_listener)
                .map_err(|e| format!("listener: {e}"))?;
            let addr = listener.local_addr().map_err(|e| format!("bind: {e}"))?;
            let (client, server) = tokio::try_join!(tokio::net::TcpStream::connect(addr), async {
                listener.accept().await.map(|(s, _)| s)
            })
            .map_err(|e| format!("loopback connection: {e}"))?;
            let _ = client.set_nodelay(true);
            // Each piece goes out at once: with Nagle's algorithm against the client's delayed
            // ACKs, a session of small pieces took seconds now and then (a false hang).
            let _ = server.set_nodelay(true);
            // Closing with RST saves a TIME_WAIT when the client closed first.
            let _ = server.set_zero_linger();
            let (crd, cwr) = client.into_split();
            let shared = super::start_tcp(crd, crate::connect::nosigpipe::TcpWrite(cwr), params);
            let (srd, swr) = server.into_split();
            Ok((shared, Box::new(srd), Box::new(swr)))
        }
    }
}

/// The owner of the fuzz driver's connections: none (its `Weak` never upgrades).
struct NoPool;

impl super::ConnOwner for NoPool {
    fn on_slot_freed(self: Arc<Self>, _: &super::ConnShared, _: bool) {}
    fn on_going_away(self: Arc<Self>) {}
    fn on_closed(self: Arc<Self>, _: &Arc<super::ConnShared>) {}
    fn on_retry(self: Arc<Self>, pending: crate::exchange::Pending, cause: crate::error::Error) {
        pending.finish(Err(cause));
    }
    fn on_limit_announced(self: Arc<Self>, _: u32) {}
}
