//! One HTTP/2 connection: a writer task and a reader task around a shared handle.
//!
//! The writer owns everything that goes out (HPACK encoder, stream ids, send windows, request
//! bodies); the reader owns everything that comes in (HPACK decoder, the stream map, receive
//! windows, responses). They talk through unbounded channels, so the reader never waits on the
//! writer. The writer registers a stream with the reader *before* writing its HEADERS, so any
//! frame the server sends for it finds it registered.
//!
//! Shutdown paths:
//! - graceful (idle, or the server's GOAWAY drained): reader → `Command::Drain`; the writer
//!   stops taking streams (re-submitting queued ones to the pool) and answers
//!   `ReaderMsg::Drained`; once the stream map is empty the reader sends `Command::Close`.
//! - a connection error found by the reader: `Command::GoAway` to the writer, reader exits.
//! - a write failure: `ReaderMsg::Close` to the reader, writer exits.
//! - the client is freed: `Command::Close` and `ReaderMsg::Close(H2_E_CLOSED)`.
//!
//! A request never written is re-submitted to the pool (processed = NO); a stream that was
//! written fails with the connection's error, unless GOAWAY proves the server never saw it.

pub mod defence;
#[cfg(feature = "testing")]
pub mod fuzzing;
mod reader;
mod recv;
pub mod testing;
mod window;
mod writer;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::counters::PoolCounters;
use crate::error::{Error, Reason};
use crate::events::{self, EventHook, EventKind};
use crate::exchange::{Exchange, Pending};
use crate::info::ConnInfo;

pub(crate) use recv::RecvStream;
pub(crate) use window::{Window, WindowOutcome};

/// What the peer's SETTINGS changed on the sending side, applied to the writer's state before
/// they are acknowledged.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PeerSettings {
    pub header_table_size: Option<u32>,
    pub initial_window_size: Option<u32>,
    pub max_frame_size: Option<u32>,
    pub max_header_list_size: Option<u32>,
}

/// The sending side's flow-control and settings state, changed by the reader the moment a
/// frame arrives: a window overflow or a bad SETTINGS change is then found at the frame that
/// caused it, before any frame behind it is processed (a check left to the writer task ran
/// after the reader had already delivered what followed).
pub(crate) trait SendControl: Send + Sync {
    /// Applies the server's SETTINGS and queues their ACK; `Err` is a connection
    /// FLOW_CONTROL_ERROR. `Ok(true)`: the writer has work and must be woken.
    fn apply_settings(&self, s: PeerSettings) -> Result<bool, String>;
    /// Credits a stream's send window (0: the connection's); with whether the writer must be
    /// woken.
    fn open_window(&self, stream_id: u32, increment: u32) -> (WindowOutcome, bool);
}

/// Work for the writer task.
pub(crate) enum Command {
    /// Open a stream for this request.
    Request(Assigned),
    /// Pre-encoded control frames from the reader (PING ACKs, WINDOW_UPDATE), written as
    /// they are; `acks` of them are PING ACKs (counted against the flood limit until written).
    Frames { bytes: Vec<u8>, acks: u32 },
    /// Stop sending this stream's body; if it was still being sent and a reason is given,
    /// reset the stream with it.
    StopSending {
        stream_id: u32,
        rst_if_sending: Option<Reason>,
    },
    /// Reset the stream (and stop sending its body).
    Reset { stream_id: u32, reason: Reason },
    /// Send a keepalive PING.
    Ping([u8; 8]),
    /// Nothing to do but wake the writer: output or streams are waiting (left by a fast-path
    /// write that the socket did not take in full).
    Flush,
    /// The caller read streamed body data: reopen the stream's receive window.
    WindowUpdate { stream_id: u32, increment: u32 },
    /// The caller queued request body data (or finished the body) for this stream.
    UploadReady(u32),
    /// Take no new streams; answer `ReaderMsg::Drained`.
    Drain,
    /// A connection error: send GOAWAY with this code and debug text, then close.
    GoAway { reason: Reason, debug: String },
    /// Close gracefully: GOAWAY(NO_ERROR), flush, close.
    Close,
}

/// Work for the reader task.
pub(crate) enum ReaderMsg {
    /// A stream whose HEADERS the writer is about to write.
    Register(u32, Box<RecvStream>),
    /// The caller gave up on this exchange (timeout or cancel): reset its stream.
    Cancel(u32, Arc<Exchange>),
    /// The writer takes no more streams.
    Drained,
    /// Stop now and fail every stream with this error.
    Close(Error),
    /// The writer stalled on flow control for this stream (for the event callback).
    Stalled(u32),
    /// Requests the writer never wrote, handed over when it stops: the reader re-submits them
    /// with the connection's real failure as the cause.
    NotSent(Vec<Assigned>),
}

/// A stream slot reserved on a connection; released when dropped.
pub(crate) struct Slot(Arc<ConnShared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// A request assigned to a connection, holding its slot.
pub(crate) struct Assigned {
    pub pending: Pending,
    pub slot: Slot,
}

/// The part of a connection that the pool and callers see.
pub struct ConnShared {
    /// Process-unique connection number (for logs and events).
    pub(crate) id: u64,
    /// The peer address, for messages.
    pub(crate) peer: String,
    /// What is known of the connection (addresses, connect times, TLS), for request info.
    pub(crate) info: Arc<ConnInfo>,
    cmd_tx: mpsc::UnboundedSender<Command>,
    rdr_tx: mpsc::UnboundedSender<ReaderMsg>,
    /// Streams reserved (queued for the writer or open).
    open: AtomicU32,
    /// When the last stream slot was released (`info::stamp_now`), for choosing the connection idle
    /// longest.
    idle_since: AtomicU64,
    /// Effective concurrent stream limit: min(server's, ours).
    limit: AtomicU32,
    going_away: AtomicBool,
    closed: AtomicBool,
    pub(crate) pool: Weak<dyn ConnOwner>,
    pub(crate) events: Option<EventHook>,
    /// Smoothed PING round trip in microseconds (0 until measured).
    rtt_us: AtomicU64,
    /// The client's counters (bytes sent and received).
    pub(crate) counters: Arc<PoolCounters>,
    /// PING/SETTINGS acknowledgements handed to the writer and not yet written.
    pub(crate) pending_acks: AtomicU32,
    /// Why the connection closed, once it has.
    close_reason: std::sync::Mutex<Option<Error>>,
    /// Commands sent to the writer and not yet taken.
    queued_cmds: std::sync::atomic::AtomicUsize,
    /// The caller-thread write path, for plain TCP connections. Weak: the writer core holds
    /// this ConnShared, so a strong reference back would be a cycle (a leaked connection).
    fast: std::sync::OnceLock<Box<dyn FastSubmit>>,
    /// Streams started on the caller-thread path, for the reader to pick up when it next
    /// wakes (it always does before it reads their response): telling it through its channel
    /// would wake the runtime's thread for nothing once per request.
    quiet: std::sync::Mutex<QuietRegistrations>,
    /// The runtime the connection lives on (`usize::MAX`: not one of the engine's).
    rt: usize,
    /// The writer task's waker while it waits for a command. The writer polls its channel
    /// without registering there, so that a command from a program's thread can leave the
    /// wake-up to the runtime's next driver ([`crate::runtime::wake_soon`]).
    writer_waker: std::sync::Mutex<Option<std::task::Waker>>,
}

/// Streams registered without waking the reader; closed when the reader stops.
#[derive(Default)]
pub(crate) struct QuietRegistrations {
    closed: bool,
    streams: Vec<(u32, Box<RecvStream>)>,
}

#[cfg(feature = "testing")]
static LIVE_CONNECTIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Connections whose state is still allocated in this process (for leak tests).
#[cfg(feature = "testing")]
pub fn live_connections() -> usize {
    LIVE_CONNECTIONS.load(Ordering::Acquire)
}

#[cfg(feature = "testing")]
impl Drop for ConnShared {
    fn drop(&mut self) {
        LIVE_CONNECTIONS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Logs one header field sent (`>`) or received (`<`) on a stream, as `curl -v` shows them.
pub(crate) fn log_field(conn: u64, stream: u32, dir: char, name: &[u8], value: &[u8]) {
    crate::log::h2log!(
        crate::log::Level::Debug,
        "conn {conn} stream {stream}: {dir} {}: {}",
        String::from_utf8_lossy(name),
        String::from_utf8_lossy(value)
    );
}

/// What a connection tells the pool that owns it. The connection defines it and the pool
/// implements it, so that the connection depends on no pool code.
pub(crate) trait ConnOwner: Send + Sync {
    /// A stream slot of `c` was released; `idle`: `c` has no stream left.
    fn on_slot_freed(self: Arc<Self>, c: &ConnShared, idle: bool);
    /// A connection takes no new streams any more (GOAWAY, drain, ids exhausted).
    fn on_going_away(self: Arc<Self>);
    /// Connection `c` ended.
    fn on_closed(self: Arc<Self>, c: &Arc<ConnShared>);
    /// A request this connection did not send (or the server provably did not process)
    /// goes again, with `cause` as the reason.
    fn on_retry(self: Arc<Self>, pending: Pending, cause: Error);
    /// The server announced SETTINGS_MAX_CONCURRENT_STREAMS `v` (u32::MAX: none).
    fn on_limit_announced(self: Arc<Self>, v: u32);
}

/// Writing a new stream from the submitting thread when the connection is idle.
pub(crate) trait FastSubmit: Send + Sync {
    /// Starts the stream and writes what the socket takes now; gives the request back when
    /// the connection is busy (the writer task then handles it).
    fn try_submit(&self, a: Assigned) -> Result<(), Assigned>;
}

impl ConnShared {
    /// Reserves a stream slot if the connection can open another stream.
    pub(crate) fn try_reserve(self: &Arc<Self>) -> Option<Slot> {
        if !self.is_usable() {
            return None;
        }
        let limit = self.limit.load(Ordering::Acquire);
        let mut cur = self.open.load(Ordering::Acquire);
        loop {
            if cur >= limit {
                return None;
            }
            match self
                .open
                .compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(Slot(self.clone())),
                Err(v) => cur = v,
            }
        }
    }

    fn release(&self) {
        let prev = self.open.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(prev > 0);
        if prev == 1 {
            self.idle_since
                .store(crate::info::stamp_now(), Ordering::Relaxed);
        }
        if let Some(pool) = self.pool.upgrade() {
            pool.on_slot_freed(self, prev == 1);
        }
    }

    /// Since when (`info::stamp_now`) the connection has had no stream, if it takes new ones and has
    /// none now.
    pub(crate) fn idle_since(&self) -> Option<u64> {
        (self.is_usable() && self.open_streams() == 0)
            .then(|| self.idle_since.load(Ordering::Relaxed))
    }

    /// Streams reserved or open.
    pub(crate) fn open_streams(&self) -> u32 {
        self.open.load(Ordering::Acquire)
    }

    /// The effective concurrent stream limit.
    pub(crate) fn stream_limit(&self) -> u32 {
        self.limit.load(Ordering::Acquire)
    }

    pub(crate) fn set_limit(&self, v: u32) {
        self.limit.store(v, Ordering::Release);
    }

    /// Whether new streams may go to this connection.
    pub(crate) fn is_usable(&self) -> bool {
        !self.going_away.load(Ordering::Acquire) && !self.closed.load(Ordering::Acquire)
    }

    /// Whether the connection is finished.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn set_going_away(&self) {
        if !self.going_away.swap(true, Ordering::AcqRel) {
            if let Some(pool) = self.pool.upgrade() {
                pool.on_going_away();
            }
        }
    }

    /// Sends a command to the writer, counting it until the writer takes it; gives it back if
    /// the writer is gone.
    pub(crate) fn send_cmd(&self, cmd: Command) -> Result<(), Command> {
        self.queued_cmds.fetch_add(1, Ordering::AcqRel);
        self.cmd_tx.send(cmd).map_err(|e| {
            self.queued_cmds.fetch_sub(1, Ordering::AcqRel);
            e.0
        })?;
        let waker = self
            .writer_waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(w) = waker {
            if self.rt == usize::MAX {
                w.wake();
            } else {
                crate::runtime::wake_soon(self.rt, w);
            }
        }
        Ok(())
    }

    /// The writer waits for a command: it is to be woken with `w` when one is sent.
    pub(crate) fn register_writer(&self, w: &std::task::Waker) {
        let mut slot = self.writer_waker.lock().unwrap_or_else(|e| e.into_inner());
        if !slot.as_ref().is_some_and(|s| s.will_wake(w)) {
            *slot = Some(w.clone());
        }
    }

    /// The writer took a command off its channel.
    pub(crate) fn command_taken(&self) {
        self.queued_cmds.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether commands wait in the writer's channel.
    pub(crate) fn has_queued_commands(&self) -> bool {
        self.queued_cmds.load(Ordering::Acquire) != 0
    }

    /// Hands a request to the writer; gives it back if the writer is gone. When the
    /// connection is idle the calling thread writes the HEADERS itself (no wake-up of the
    /// writer task, one thread hand-off less per request).
    pub(crate) fn submit(&self, mut a: Assigned) -> Result<(), Assigned> {
        // Only for a request alone on its connection (its own slot is the one open): with
        // others in flight the writer task batches many HEADERS into one write, where the
        // caller's thread would make a system call (and the server a wake-up) per request.
        if self.open_streams() <= 1 {
            if let Some(f) = self.fast.get() {
                match f.try_submit(a) {
                    Ok(()) => {
                        #[cfg(feature = "testing")]
                        self.counters.fast_submits.fetch_add(1, Ordering::Relaxed);
                        return Ok(());
                    }
                    Err(back) => a = back,
                }
            }
        }
        self.send_cmd(Command::Request(a)).map_err(|c| match c {
            Command::Request(a) => a,
            _ => unreachable!("send returns the command it was given"),
        })
    }

    /// Registers a stream with the reader without waking it (see `quiet`); gives the stream
    /// back if the reader has stopped.
    pub(crate) fn register_quietly(
        &self,
        id: u32,
        s: Box<RecvStream>,
    ) -> Result<(), Box<RecvStream>> {
        let mut q = self.quiet.lock().unwrap_or_else(|e| e.into_inner());
        if q.closed {
            return Err(s);
        }
        q.streams.push((id, s));
        Ok(())
    }

    /// The streams registered quietly since the last call; with `close`, refuses any more.
    pub(crate) fn take_quiet(&self, close: bool) -> Vec<(u32, Box<RecvStream>)> {
        let mut q = self.quiet.lock().unwrap_or_else(|e| e.into_inner());
        q.closed |= close;
        std::mem::take(&mut q.streams)
    }

    /// Reopens a stream's receive window (the caller read that much).
    pub(crate) fn window_update(&self, stream_id: u32, increment: u32) {
        let _ = self.send_cmd(Command::WindowUpdate {
            stream_id,
            increment,
        });
    }

    /// Tells the writer that a streaming upload has data (or its end) to send.
    pub(crate) fn upload_ready(&self, stream_id: u32) {
        let _ = self.send_cmd(Command::UploadReady(stream_id));
    }

    /// Resets the stream of an exchange the caller gave up on.
    pub(crate) fn cancel_stream(&self, ex: Arc<Exchange>, stream_id: u32) {
        let _ = self.rdr_tx.send(ReaderMsg::Cancel(stream_id, ex));
    }

    /// Takes no more streams and closes once the open ones are done, as the idle timeout
    /// does: GOAWAY(NO_ERROR) is sent when the connection closes.
    pub(crate) fn drain(&self) {
        self.set_going_away();
        let _ = self.send_cmd(Command::Drain);
    }

    /// Closes the connection now (client freed): GOAWAY(NO_ERROR), streams fail with `err`.
    pub(crate) fn shutdown(&self, err: Error) {
        self.going_away.store(true, Ordering::Release);
        // The reader hears first, so that the EOF our GOAWAY provokes cannot overtake it.
        let _ = self.rdr_tx.send(ReaderMsg::Close(err));
        let _ = self.send_cmd(Command::Close);
    }

    /// Ends the connection now with `err` (the streams fail with it; unwritten requests are
    /// retried elsewhere), as a fatal I/O error would.
    pub(crate) fn fail(&self, err: Error) {
        self.going_away.store(true, Ordering::Release);
        let _ = self.rdr_tx.send(ReaderMsg::Close(err));
    }

    /// Marks the connection closed (once) and tells the pool.
    fn mark_closed(self: &Arc<Self>, why: &Error) {
        self.going_away.store(true, Ordering::Release);
        if !self.closed.swap(true, Ordering::AcqRel) {
            *self.close_reason.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
            events::emit(&self.events, || {
                let mut ev = events::event(EventKind::Closed, self.id, 0, why.message.to_string());
                ev.h2_error = why.reason.map(|r| r.0).unwrap_or(0);
                ev
            });
            if let Some(pool) = self.pool.upgrade() {
                pool.on_closed(self);
            }
        }
    }

    /// Why the connection closed, if it has.
    pub(crate) fn close_reason(&self) -> Option<Error> {
        self.close_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Folds a PING round trip into the smoothed RTT (RFC 6298 style, alpha = 1/8).
    pub(crate) fn record_rtt(&self, rtt: Duration) {
        let sample = rtt.as_micros().min(u128::from(u32::MAX)) as u64;
        let old = self.rtt_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old * 7 + sample) / 8
        };
        self.rtt_us.store(new.max(1), Ordering::Relaxed);
    }

    /// The smoothed PING round trip in microseconds (0 until measured).
    pub(crate) fn rtt_us(&self) -> u64 {
        self.rtt_us.load(Ordering::Relaxed)
    }
}

/// Everything a new connection needs to know.
pub(crate) struct ConnParams {
    pub id: u64,
    pub peer: String,
    /// What `connect` learnt of the connection.
    pub info: Arc<ConnInfo>,
    pub cfg: Arc<Config>,
    pub pool: Weak<dyn ConnOwner>,
    /// `:scheme`
    pub scheme: &'static str,
    /// `:authority` default
    pub authority: Arc<str>,
    /// Concurrent streams to assume until the server's SETTINGS arrive.
    pub assumed_limit: u32,
    /// The client's counters.
    pub counters: Arc<PoolCounters>,
    /// The runtime the connection lives on (`usize::MAX`: not one of the engine's).
    pub rt: usize,
}

/// Starts a connection over plain TCP, with the caller-thread write path.
pub(crate) fn start_tcp(
    rd: tokio::net::tcp::OwnedReadHalf,
    wr: crate::connect::nosigpipe::TcpWrite,
    p: ConnParams,
) -> Arc<ConnShared> {
    let (shared, core) = start_inner(rd, wr, p);
    let _ = shared.fast.set(Box::new(Arc::downgrade(&core)));
    shared
}

/// Starts the reader and writer tasks on the current runtime over an established transport.
pub(crate) fn start<R, W>(rd: R, wr: W, p: ConnParams) -> Arc<ConnShared>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    start_inner(rd, wr, p).0
}

type SharedCore<W> = Arc<std::sync::Mutex<writer::Core<W>>>;

fn start_inner<R, W>(rd: R, wr: W, p: ConnParams) -> (Arc<ConnShared>, SharedCore<W>)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (rdr_tx, rdr_rx) = mpsc::unbounded_channel();
    #[cfg(feature = "testing")]
    LIVE_CONNECTIONS.fetch_add(1, Ordering::AcqRel);
    let shared = Arc::new(ConnShared {
        id: p.id,
        peer: p.peer,
        info: p.info,
        cmd_tx: cmd_tx.clone(),
        rdr_tx: rdr_tx.clone(),
        open: AtomicU32::new(0),
        idle_since: AtomicU64::new(crate::info::stamp_now()),
        limit: AtomicU32::new(p.assumed_limit.min(p.cfg.max_concurrent_streams)),
        going_away: AtomicBool::new(false),
        closed: AtomicBool::new(false),
        pool: p.pool,
        events: p.cfg.events.clone(),
        rtt_us: AtomicU64::new(0),
        counters: p.counters,
        pending_acks: AtomicU32::new(0),
        queued_cmds: std::sync::atomic::AtomicUsize::new(0),
        close_reason: std::sync::Mutex::new(None),
        fast: std::sync::OnceLock::new(),
        quiet: std::sync::Mutex::new(QuietRegistrations::default()),
        rt: p.rt,
        writer_waker: std::sync::Mutex::new(None),
    });
    let core = Arc::new(std::sync::Mutex::new(writer::Core::new(
        wr,
        shared.clone(),
        rdr_tx,
        p.cfg.clone(),
        p.scheme,
        p.authority,
    )));
    let w = writer::Writer::new(core.clone(), cmd_rx);
    let send: Arc<dyn SendControl> = core.clone();
    let r = reader::Reader::new(rd, shared.clone(), rdr_rx, p.cfg, send);
    tokio::spawn(w.run());
    tokio::spawn(r.run());
    (shared, core)
}

/// Hashes stream ids (small odd integers chosen by us, never by the peer) with one multiply:
/// SipHash's protection against chosen keys buys nothing here and costs on every frame.
#[derive(Default, Clone, Copy)]
pub(crate) struct StreamIdHasher(u64);

impl std::hash::Hasher for StreamIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = u64::from(v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by stream id.
pub(crate) type StreamMap<V> =
    std::collections::HashMap<u32, V, std::hash::BuildHasherDefault<StreamIdHasher>>;
