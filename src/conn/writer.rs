//! The writer task: serializes requests and control frames, owns stream ids, the HPACK
//! encoder and the send windows, and writes in batches (one vectored write per wakeup).

use std::collections::VecDeque;
use std::future::Future;
use std::io::IoSlice;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::recv::{RecvStream, ResponseBuilder};
use super::window::initial_delta;
use super::{
    Assigned, Command, ConnShared, PeerSettings, ReaderMsg, SendControl, Window, WindowOutcome,
};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Origin, Processed, Reason};
use crate::exchange::Exchange;
use crate::frame::{
    Data, GoAway, Headers, Ping, RstStream, Setting, Settings, WindowUpdate,
    DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, MAX_STREAM_ID, PREFACE,
};
use crate::hpack::{Encoder, LastBlock};

/// Stop collecting more work once this much is waiting to be written.
const BATCH_BYTES: usize = 256 << 10;
/// Body chunks at least this large are written from the caller's buffer instead of being
/// copied into the frame buffer.
const ZERO_COPY_MIN: usize = 4096;
/// Most slices handed to one vectored write.
const MAX_IOV: usize = 64;

/// A piece of the next write: a range of the frame buffer, or a body chunk written in place.
enum Seg {
    Buf(usize, usize),
    Body(Bytes),
}

/// Send state of a stream with a request body, kept until the reader says the stream closed
/// so that window overflows are caught after the body is sent too.
struct SendStream {
    window: Window,
    /// Body bytes ready to go out.
    body: VecDeque<Bytes>,
    /// A streaming body is pulled from the caller's exchange as the window allows.
    source: Option<Arc<Exchange>>,
    /// END_STREAM has been written.
    ended: bool,
    /// In the ready queue.
    queued: bool,
    /// Reported a flow-control stall (once per stall).
    stalled: bool,
    /// Trailers to send after the body (streaming uploads).
    trailers: Option<crate::headers::HeaderList>,
    /// The body is streamed by the caller.
    streamed: bool,
    /// The request's exchange (its progress: body bytes and the time the request ended).
    ex: Arc<Exchange>,
}

impl SendStream {
    fn has_data(&self) -> bool {
        !self.body.is_empty()
    }
}

/// Why the writer stops after the current flush.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Keep going.
    No,
    /// Sent our GOAWAY: close.
    Close,
}

/// Everything the writer owns, behind a lock so that a caller's thread can write a new
/// stream's HEADERS itself when the connection is idle (see [`FastSubmit`]); the writer task
/// takes the lock per batch, never across an await.
pub(crate) struct Core<W> {
    /// The socket's write half; taken out by the task while it flushes asynchronously.
    io: Option<W>,
    /// The task is flushing a batch (the fast path must not write around it).
    flushing: bool,
    shared: Arc<ConnShared>,
    rdr: UnboundedSender<ReaderMsg>,
    cfg: Arc<Config>,
    scheme: &'static str,
    authority: Arc<str>,
    enc: Encoder,
    block: Vec<u8>,
    /// The request fields `block` holds the encoding of, when it may be sent again.
    last_block: LastBlock,
    buf: Vec<u8>,
    segs: Vec<Seg>,
    buf_mark: usize,
    /// The time stamp of what the batch being built sends (taken when first needed, cleared
    /// when the batch goes out): one clock read per batch rather than per request.
    send_stamp: Option<u64>,
    next_id: u32,
    peer_max_frame: usize,
    peer_initial_window: i64,
    peer_max_header_list: u64,
    conn_window: Window,
    sending: super::StreamMap<SendStream>,
    ready: VecDeque<u32>,
    draining: bool,
    stop: Stop,
    /// PING/SETTINGS ACKs in the buffer, released from the pending count once written.
    acks_in_buf: u32,
}

fn io_error(e: &std::io::Error, peer: &str) -> Error {
    Error::io(&format!("write to {peer} failed"), e)
}

/// The writer task: waits for commands, handles them under the core's lock, and flushes each
/// batch with one vectored write.
pub(crate) struct Writer<W> {
    core: Arc<Mutex<Core<W>>>,
    rx: UnboundedReceiver<Command>,
}

fn lock<W>(m: &Mutex<Core<W>>) -> MutexGuard<'_, Core<W>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<W: AsyncWrite + Unpin + Send + 'static> Writer<W> {
    pub(crate) fn new(core: Arc<Mutex<Core<W>>>, rx: UnboundedReceiver<Command>) -> Self {
        Writer { core, rx }
    }

    /// Runs until the connection closes; then re-submits every request it never wrote.
    pub(crate) async fn run(mut self) {
        let result = match crate::panics::catch_future(self.run_inner()).await {
            Ok(r) => r,
            Err(msg) => Err(crate::panics::internal("the connection's writer", &msg)),
        };
        let (shared, rdr, peer) = {
            let mut c = lock(&self.core);
            c.stop = Stop::Close;
            (c.shared.clone(), c.rdr.clone(), c.shared.peer.clone())
        };
        // Stop being offered requests before collecting the ones already queued.
        shared.set_going_away();
        let cause = match result {
            Ok(()) => Error::new(
                ErrorKind::Connection,
                format!("connection to {peer} closed before the request was sent"),
            )
            .with_origin(Origin::Transport),
            Err(e) => {
                // The reader fails the open streams with this error and marks the connection
                // closed (which runs the event callback: the writer runs no caller code).
                let _ = rdr.send(ReaderMsg::Close(e.clone()));
                e
            }
        };
        self.rx.close();
        let mut not_sent = Vec::new();
        while let Some(cmd) = self.rx.recv().await {
            shared.command_taken();
            if let Command::Request(a) = cmd {
                not_sent.push(a);
            }
        }
        if !not_sent.is_empty() {
            // The reader knows the real failure (a TLS alert, a GOAWAY): let it re-submit.
            if let Err(e) = rdr.send(ReaderMsg::NotSent(not_sent)) {
                if let ReaderMsg::NotSent(back) = e.0 {
                    let cause = shared.close_reason().unwrap_or(cause);
                    let c = lock(&self.core);
                    for a in back {
                        c.resubmit(a, &cause);
                    }
                }
            }
        }
        let io = lock(&self.core).io.take();
        if let Some(mut io) = io {
            let _ = tokio::time::timeout(Duration::from_millis(100), io.shutdown()).await;
        }
    }

    async fn run_inner(&mut self) -> Result<(), Error> {
        loop {
            let idle = {
                let c = lock(&self.core);
                c.buf.is_empty() && c.segs.is_empty() && !c.can_send_data()
            };
            if idle {
                let shared = lock(&self.core).shared.clone();
                // Registered before looking, so that a command sent in between wakes us.
                let next = std::future::poll_fn(|cx| {
                    shared.register_writer(cx.waker());
                    match self.rx.try_recv() {
                        Ok(cmd) => std::task::Poll::Ready(Some(cmd)),
                        Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                            std::task::Poll::Pending
                        }
                        Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                            std::task::Poll::Ready(None)
                        }
                    }
                })
                .await;
                match next {
                    Some(cmd) => {
                        let mut c = lock(&self.core);
                        c.shared.command_taken();
                        c.handle(cmd);
                    }
                    None => return Ok(()),
                }
            }
            let batch = {
                let mut c = lock(&self.core);
                while c.stop == Stop::No && c.buf.len() < BATCH_BYTES {
                    match self.rx.try_recv() {
                        Ok(cmd) => {
                            c.shared.command_taken();
                            c.handle(cmd);
                        }
                        Err(_) => break,
                    }
                }
                if c.stop == Stop::No {
                    c.send_data();
                }
                c.take_batch()
            };
            let Some(mut batch) = batch else {
                if lock(&self.core).stop == Stop::Close {
                    return Ok(());
                }
                continue;
            };
            let r = batch.write().await;
            let mut c = lock(&self.core);
            c.end_batch(batch, r.is_ok());
            r?;
            if c.stop == Stop::Close {
                return Ok(());
            }
        }
    }
}

/// A batch being flushed by the task, without the core's lock.
struct Batch<W> {
    io: W,
    buf: Vec<u8>,
    segs: Vec<Seg>,
    acks: u32,
    shared: Arc<ConnShared>,
    timeout: Duration,
}

impl<W: AsyncWrite + Unpin> Batch<W> {
    async fn write(&mut self) -> Result<(), Error> {
        write_segs(
            &mut self.io,
            &self.buf,
            &self.segs,
            self.timeout,
            &self.shared,
        )
        .await
    }
}

impl<W> Core<W> {
    pub(crate) fn new(
        io: W,
        shared: Arc<ConnShared>,
        rdr: UnboundedSender<ReaderMsg>,
        cfg: Arc<Config>,
        scheme: &'static str,
        authority: Arc<str>,
    ) -> Self {
        let mut c = Core {
            io: Some(io),
            flushing: false,
            shared,
            rdr,
            cfg,
            scheme,
            authority,
            enc: Encoder::new(),
            block: Vec::with_capacity(256),
            last_block: LastBlock::default(),
            buf: Vec::with_capacity(16 << 10),
            segs: Vec::new(),
            buf_mark: 0,
            send_stamp: None,
            next_id: 1,
            peer_max_frame: DEFAULT_MAX_FRAME_SIZE as usize,
            peer_initial_window: i64::from(DEFAULT_WINDOW_SIZE),
            peer_max_header_list: u64::MAX,
            conn_window: Window::new(i64::from(DEFAULT_WINDOW_SIZE)),
            sending: super::StreamMap::default(),
            ready: VecDeque::new(),
            draining: false,
            stop: Stop::No,
            acks_in_buf: 0,
        };
        c.write_preface();
        c
    }

    /// Hands the collected output to the task for an asynchronous flush (with the socket).
    /// The time stamp of the batch being built (see `send_stamp`).
    fn batch_stamp(&mut self) -> u64 {
        *self.send_stamp.get_or_insert_with(crate::info::stamp_now)
    }

    fn take_batch(&mut self) -> Option<Batch<W>> {
        self.send_stamp = None;
        if self.buf.is_empty() && self.segs.is_empty() {
            return None;
        }
        self.close_buf_seg();
        let io = self.io.take()?;
        self.flushing = true;
        self.buf_mark = 0;
        Some(Batch {
            io,
            buf: std::mem::take(&mut self.buf),
            segs: std::mem::take(&mut self.segs),
            acks: std::mem::take(&mut self.acks_in_buf),
            shared: self.shared.clone(),
            timeout: self.cfg.write_timeout,
        })
    }

    /// Takes the socket back after a flush and recycles the buffers.
    fn end_batch(&mut self, mut b: Batch<W>, ok: bool) {
        self.io = Some(b.io);
        self.flushing = false;
        if ok && b.acks > 0 {
            self.shared
                .pending_acks
                .fetch_sub(b.acks, std::sync::atomic::Ordering::AcqRel);
        }
        if self.buf.is_empty() {
            b.buf.clear();
            self.buf = b.buf;
        }
        b.segs.clear();
        if self.segs.is_empty() {
            self.segs = b.segs;
        }
    }

    /// Ends the current frame-buffer segment (before a body chunk or a write).
    fn close_buf_seg(&mut self) {
        if self.buf_mark < self.buf.len() {
            self.segs.push(Seg::Buf(self.buf_mark, self.buf.len()));
        }
        self.buf_mark = self.buf.len();
    }

    fn write_preface(&mut self) {
        self.buf.extend_from_slice(PREFACE);
        let cfg = &self.cfg;
        let mut params = vec![
            Setting::EnablePush(0),
            Setting::InitialWindowSize(cfg.initial_window_size),
            Setting::MaxHeaderListSize(cfg.max_header_list_size),
        ];
        if cfg.max_frame_size != DEFAULT_MAX_FRAME_SIZE {
            params.push(Setting::MaxFrameSize(cfg.max_frame_size));
        }
        if cfg.header_table_size != 4096 {
            params.push(Setting::HeaderTableSize(cfg.header_table_size));
        }
        Settings::encode(&params, &mut self.buf);
        let extra = cfg
            .connection_window_size
            .saturating_sub(DEFAULT_WINDOW_SIZE);
        if extra > 0 {
            WindowUpdate::encode(0, extra, &mut self.buf);
        }
    }

    fn handle(&mut self, cmd: Command) {
        super::testing::maybe_panic(super::testing::Task::Writer);
        match cmd {
            Command::Request(a) => self.start_stream(a),
            Command::Frames { bytes, acks } => {
                self.buf.extend_from_slice(&bytes);
                self.acks_in_buf += acks;
            }
            Command::StopSending {
                stream_id,
                rst_if_sending,
            } => {
                if let Some(st) = self.sending.remove(&stream_id) {
                    if let (Some(r), false) = (rst_if_sending, st.ended) {
                        RstStream::encode(stream_id, r, &mut self.buf);
                    }
                }
            }
            Command::Reset { stream_id, reason } => {
                self.sending.remove(&stream_id);
                RstStream::encode(stream_id, reason, &mut self.buf);
            }
            Command::Ping(p) => Ping::encode(false, p, &mut self.buf),
            Command::Flush => {}
            Command::WindowUpdate {
                stream_id,
                increment,
            } => WindowUpdate::encode(stream_id, increment, &mut self.buf),
            Command::UploadReady(id) => {
                if let Some(st) = self.sending.get_mut(&id) {
                    if !st.queued && !st.ended && st.window.is_open() {
                        st.queued = true;
                        self.ready.push_back(id);
                    }
                }
            }
            Command::Drain => {
                self.draining = true;
                let _ = self.rdr.send(ReaderMsg::Drained);
            }
            Command::GoAway { reason, debug } => {
                let d = debug.as_bytes();
                GoAway::encode(0, reason, &d[..d.len().min(256)], &mut self.buf);
                self.stop = Stop::Close;
            }
            Command::Close => {
                GoAway::encode(0, Reason::NO_ERROR, b"", &mut self.buf);
                self.stop = Stop::Close;
            }
        }
    }

    fn resubmit(&self, a: Assigned, cause: &Error) {
        let Assigned { pending, slot } = a;
        drop(slot);
        if pending.ex().is_done() {
            pending.discard();
            return;
        }
        match self.shared.pool.upgrade() {
            Some(pool) => pool.on_retry(pending, cause.clone().with_processed(Processed::No)),
            None => pending.finish(Err(Error::new(ErrorKind::Closed, "client closed"))),
        }
    }

    fn start_stream(&mut self, a: Assigned) {
        if a.pending.ex().is_done() {
            a.pending.discard();
            return;
        }
        if self.draining || self.stop != Stop::No || !self.shared.is_usable() {
            let cause = self.shared.close_reason().unwrap_or_else(|| {
                Error::new(
                    ErrorKind::GoAway,
                    format!("connection to {} is going away", self.shared.peer),
                )
            });
            self.resubmit(a, &cause);
            return;
        }
        if self.next_id > MAX_STREAM_ID {
            // Stream ids are exhausted: this connection takes no more streams.
            self.draining = true;
            self.shared.set_going_away();
            let cause = Error::new(ErrorKind::Connection, "stream ids exhausted");
            self.resubmit(a, &cause);
            return;
        }
        let ex = a.pending.ex().clone();
        let req = &ex.req;
        let authority: &str = req.authority.as_deref().unwrap_or(&self.authority);
        let body_len = req.body.len();
        let streaming = ex.streaming_body;
        let has_body = body_len > 0 || streaming;
        let cl_buf = itoa_buf(body_len as u64);
        let add_cl = body_len > 0 && !req.has_content_length;
        let cl: &[u8] = if add_cl { cl_buf.as_slice() } else { &[] };
        let ua: &[u8] = match &self.cfg.user_agent {
            Some(ua) if !req.has_user_agent => ua.as_bytes(),
            _ => &[],
        };
        // Transparent decompression: only for requests that did not ask for codings.
        let ae: &[u8] = match &self.cfg.accept_encoding {
            Some(ae) if !req.has_accept_encoding => ae.as_bytes(),
            _ => &[],
        };
        // RFC 7541 §4.1 sizes, checked against the server's limit before the encoder's
        // table is touched.
        let mut size = (7 + req.method.len() + 32)
            + (7 + self.scheme.len() + 32)
            + (10 + authority.len() + 32)
            + (5 + req.path.len() + 32);
        for (n, v) in req.headers.iter() {
            size += n.len() + v.len() + 32;
        }
        if add_cl {
            size += 14 + cl.len() + 32;
        }
        if !ua.is_empty() {
            size += 10 + ua.len() + 32;
        }
        if !ae.is_empty() {
            size += 15 + ae.len() + 32;
        }
        if size as u64 > self.peer_max_header_list {
            let limit = self.peer_max_header_list;
            a.pending.finish(Err(Error::new(
                ErrorKind::HeadersTooLarge,
                format!(
                    "request header list ({size} bytes) exceeds the server's SETTINGS_MAX_HEADER_LIST_SIZE ({limit})"
                ),
            )));
            return;
        }
        let fields: [&[u8]; 8] = [
            req.method.as_bytes(),
            self.scheme.as_bytes(),
            authority.as_bytes(),
            req.path.as_bytes(),
            req.headers.packed(),
            cl,
            ua,
            ae,
        ];
        if !self.last_block.is_for(&self.enc, &fields) {
            let before = self.enc.generation();
            self.block.clear();
            self.enc.begin_block(&mut self.block);
            self.enc
                .encode_field(b":method", req.method.as_bytes(), &mut self.block);
            self.enc
                .encode_field(b":scheme", self.scheme.as_bytes(), &mut self.block);
            self.enc
                .encode_field(b":authority", authority.as_bytes(), &mut self.block);
            self.enc
                .encode_field(b":path", req.path.as_bytes(), &mut self.block);
            for (n, v) in req.headers.iter() {
                self.enc.encode_field(n, v, &mut self.block);
            }
            if add_cl {
                self.enc
                    .encode_field(b"content-length", cl, &mut self.block);
            }
            if !ua.is_empty() {
                self.enc.encode_field(b"user-agent", ua, &mut self.block);
            }
            if !ae.is_empty() {
                self.enc
                    .encode_field(b"accept-encoding", ae, &mut self.block);
            }
            self.last_block.remember(before, &self.enc, &fields);
        }

        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(2);
        let initial = self.cfg.initial_window_size;
        ex.initial_window
            .store(initial, std::sync::atomic::Ordering::Relaxed);
        ex.recv_window
            .store(i64::from(initial), std::sync::atomic::Ordering::Release);
        ex.set_location(&self.shared, id);
        if crate::log::enabled(crate::log::Level::Debug) {
            let conn = self.shared.id;
            super::log_field(conn, id, '>', b":method", req.method.as_bytes());
            super::log_field(conn, id, '>', b":scheme", self.scheme.as_bytes());
            super::log_field(conn, id, '>', b":authority", authority.as_bytes());
            super::log_field(conn, id, '>', b":path", req.path.as_bytes());
            for (n, v) in req.headers.iter() {
                super::log_field(conn, id, '>', n, v);
            }
            if add_cl {
                super::log_field(conn, id, '>', b"content-length", cl);
            }
            if !ua.is_empty() {
                super::log_field(conn, id, '>', b"user-agent", ua);
            }
            if !ae.is_empty() {
                super::log_field(conn, id, '>', b"accept-encoding", ae);
            }
        }
        let Assigned { pending, slot } = a;
        let mut stream = Box::new(RecvStream {
            pending,
            slot,
            builder: ResponseBuilder::new(
                &req.method,
                self.cfg.max_response_body,
                self.cfg.max_header_list_size as usize,
                ex.mode,
            ),
            window: i64::from(initial),
            unacked: 0,
            has_body,
            send_window: Window::new(self.peer_initial_window),
        });
        stream.builder.configure(
            self.cfg.max_informational_responses,
            req.informational
                .clone()
                .or_else(|| self.cfg.informational.clone()),
            !ae.is_empty(),
        );
        // Made known to the reader without waking it: it picks new streams up whenever it
        // wakes (a read, a message, its timer), and nothing can arrive for this stream before
        // its HEADERS are written. A message would cost a channel send and a wake-up per
        // request.
        if let Err(s) = self.shared.register_quietly(id, stream) {
            // The reader is gone, so the connection is closing; nothing was written for this
            // stream, but the encoder's table now differs from the server's: stop writing.
            let cause = Error::new(
                ErrorKind::Connection,
                format!("connection to {} closed", self.shared.peer),
            );
            self.resubmit(
                Assigned {
                    pending: s.pending,
                    slot: s.slot,
                },
                &cause,
            );
            self.stop = Stop::Close;
            return;
        }
        Headers::encode(
            id,
            &self.block,
            !has_body,
            self.peer_max_frame,
            &mut self.buf,
        );
        let now = self.batch_stamp();
        ex.progress
            .headers_sent(now, id, self.block.len(), !has_body);
        if has_body {
            let mut body = VecDeque::new();
            if body_len > 0 {
                body.push_back(req.body.clone());
            }
            let source = streaming.then(|| {
                ex.attach_upload();
                ex.clone()
            });
            self.sending.insert(
                id,
                SendStream {
                    window: Window::new(self.peer_initial_window),
                    body,
                    source,
                    ended: false,
                    queued: true,
                    stalled: false,
                    trailers: None,
                    streamed: streaming,
                    ex,
                },
            );
            self.ready.push_back(id);
        }
    }

    /// Applies the server's SETTINGS to the sending side and queues their acknowledgement.
    /// Fails (a connection FLOW_CONTROL_ERROR, RFC 9113 §6.9.2) if the new initial window
    /// overflows a stream's send window; nothing is acknowledged then.
    fn apply_settings(&mut self, s: PeerSettings) -> Result<(), String> {
        if let Some(v) = s.initial_window_size {
            let delta = initial_delta(self.peer_initial_window, v);
            if let Some((id, _)) = self
                .sending
                .iter()
                .find(|(_, st)| st.window.would_overflow(delta))
            {
                return Err(format!(
                    "SETTINGS_INITIAL_WINDOW_SIZE change overflows the send window of stream {id}"
                ));
            }
            self.peer_initial_window = i64::from(v);
            for (id, st) in self.sending.iter_mut() {
                st.window.adjust(delta);
                if st.window.is_open() && !st.queued && !st.ended {
                    st.queued = true;
                    self.ready.push_back(*id);
                }
            }
        }
        if let Some(v) = s.header_table_size {
            self.enc.set_max_table_size(v as usize);
        }
        if let Some(v) = s.max_frame_size {
            self.peer_max_frame = v as usize;
        }
        if let Some(v) = s.max_header_list_size {
            self.peer_max_header_list = u64::from(v);
        }
        Settings::encode_ack(&mut self.buf);
        self.acks_in_buf += 1;
        Ok(())
    }

    /// Credits a send window (0: the connection's). An overflow (RFC 9113 §6.9.1) is reported,
    /// not acted on: the reader answers it at the frame that caused it.
    fn open_window(&mut self, stream_id: u32, inc: u32) -> WindowOutcome {
        if stream_id == 0 {
            let was_blocked = !self.conn_window.is_open();
            if self.conn_window.credit(inc) == WindowOutcome::Overflow {
                return WindowOutcome::Overflow;
            }
            if was_blocked && self.conn_window.is_open() {
                self.requeue_blocked();
            }
            return WindowOutcome::Ok;
        }
        let Some(st) = self.sending.get_mut(&stream_id) else {
            return WindowOutcome::Ok;
        };
        if st.window.credit(inc) == WindowOutcome::Overflow {
            return WindowOutcome::Overflow;
        }
        if st.window.is_open() && !st.queued && !st.ended {
            st.queued = true;
            self.ready.push_back(stream_id);
        }
        WindowOutcome::Ok
    }

    /// Whether the writer task has output or sendable data waiting (it must be woken).
    fn has_work(&self) -> bool {
        !self.buf.is_empty() || !self.segs.is_empty() || self.can_send_data()
    }

    fn can_send_data(&self) -> bool {
        self.conn_window.is_open() && !self.ready.is_empty() && self.stop == Stop::No
    }

    /// Writes DATA for ready streams, round robin, one frame per stream per turn; pulls
    /// streaming bodies from their callers as the windows allow; ends each body with
    /// END_STREAM (on the last DATA, an empty DATA, or trailers).
    fn send_data(&mut self) {
        while self.buf.len() < BATCH_BYTES {
            let Some(id) = self.ready.pop_front() else {
                break;
            };
            let Some(st) = self.sending.get_mut(&id) else {
                continue;
            };
            if st.ended {
                st.queued = false;
                continue;
            }
            if !st.has_data() {
                if let Some(src) = &st.source {
                    let room = st
                        .window
                        .get()
                        .min(self.conn_window.get())
                        .clamp(0, BATCH_BYTES as i64);
                    let t = src.take_upload(room as usize);
                    st.body.extend(t.chunks);
                    if t.end {
                        st.source = None;
                        st.trailers = t.trailers;
                    }
                }
            }
            if !st.has_data() {
                st.queued = false;
                if st.source.is_some() {
                    // Waiting for the caller's data (UploadReady) or for window.
                    continue;
                }
                st.ended = true;
                match st.trailers.take() {
                    Some(t) => {
                        self.last_block.forget();
                        self.block.clear();
                        self.enc.begin_block(&mut self.block);
                        for (n, v) in t.iter() {
                            self.enc.encode_field(n, v, &mut self.block);
                        }
                        Headers::encode(id, &self.block, true, self.peer_max_frame, &mut self.buf);
                        st.ex.progress.trailers_sent(self.block.len());
                    }
                    None => Data::encode(id, &[], true, &mut self.buf),
                }
                st.ex
                    .progress
                    .request_sent(*self.send_stamp.get_or_insert_with(crate::info::stamp_now));
                continue;
            }
            if !st.window.is_open() || !self.conn_window.is_open() {
                // Requeued by a WINDOW_UPDATE for the stream or the connection.
                st.queued = false;
                if !st.stalled {
                    st.stalled = true;
                    let _ = self.rdr.send(ReaderMsg::Stalled(id));
                }
                continue;
            }
            st.stalled = false;
            let Some(front) = st.body.front_mut() else {
                continue;
            };
            let n = (front.len() as i64)
                .min(st.window.get())
                .min(self.conn_window.get())
                .min(self.peer_max_frame as i64) as usize;
            let chunk = front.split_to(n);
            if front.is_empty() {
                st.body.pop_front();
            }
            st.window.spend(n);
            self.conn_window.spend(n);
            let last = st.body.is_empty() && st.source.is_none() && st.trailers.is_none();
            Data::encode_header(id, n, last, &mut self.buf);
            st.ex.progress.body_sent(n);
            if last {
                st.ex
                    .progress
                    .request_sent(*self.send_stamp.get_or_insert_with(crate::info::stamp_now));
            }
            // Streamed bodies are always written in place: the caller's bytes are copied once.
            if n >= ZERO_COPY_MIN || st.streamed {
                if self.buf_mark < self.buf.len() {
                    self.segs.push(Seg::Buf(self.buf_mark, self.buf.len()));
                }
                self.segs.push(Seg::Body(chunk));
                self.buf_mark = self.buf.len();
            } else {
                self.buf.extend_from_slice(&chunk);
            }
            if last {
                st.ended = true;
                st.queued = false;
            } else {
                self.ready.push_back(id);
            }
        }
    }

    /// Requeues every stream that waits only for window.
    fn requeue_blocked(&mut self) {
        for (id, st) in self.sending.iter_mut() {
            if !st.queued && !st.ended && st.window.is_open() {
                st.queued = true;
                self.ready.push_back(*id);
            }
        }
    }
}

impl<W: Send> SendControl for Mutex<Core<W>> {
    fn apply_settings(&self, s: PeerSettings) -> Result<bool, String> {
        let mut c = lock(self);
        c.apply_settings(s)?;
        Ok(c.has_work())
    }

    fn open_window(&self, stream_id: u32, increment: u32) -> (WindowOutcome, bool) {
        let mut c = lock(self);
        let o = c.open_window(stream_id, increment);
        (o, c.has_work())
    }
}

impl super::FastSubmit for std::sync::Weak<Mutex<Core<crate::connect::nosigpipe::TcpWrite>>> {
    fn try_submit(&self, a: Assigned) -> Result<(), Assigned> {
        let Some(core) = self.upgrade() else {
            return Err(a);
        };
        // Never wait for the lock: a busy writer takes the request through its channel.
        let Ok(mut c) = core.try_lock() else {
            return Err(a);
        };
        let idle = !c.flushing
            && c.io.is_some()
            && c.buf.is_empty()
            && c.segs.is_empty()
            && c.ready.is_empty()
            && c.stop == Stop::No
            && !c.draining
            && !c.shared.has_queued_commands();
        if !idle {
            return Err(a);
        }
        // The reader picks the stream up when it next wakes: waking it now costs the
        // runtime's thread a sleep and a wake-up per request.
        let mut request = Some(a);
        let started = crate::panics::catch(|| {
            super::testing::maybe_panic(super::testing::Task::CallerWrite);
            if let Some(a) = request.take() {
                c.start_stream(a);
            }
            c.send_data();
            c.write_now();
        });
        let shared = c.shared.clone();
        if let Err(msg) = started {
            // The connection's state is suspect: end it like a failed task. A request the
            // panic dropped fails as abandoned.
            c.stop = Stop::Close;
            drop(c);
            let err = crate::panics::internal("a connection's caller-thread write", &msg);
            if let Some(a) = request {
                let Assigned { pending, slot } = a;
                drop(slot);
                pending.finish(Err(err.clone()));
            }
            shared.fail(err);
            return Ok(());
        }
        let wake = c.has_work();
        drop(c);
        if wake {
            let _ = shared.send_cmd(Command::Flush);
        }
        Ok(())
    }
}

impl Core<crate::connect::nosigpipe::TcpWrite> {
    /// Writes what the socket takes without blocking; the rest stays for the writer task.
    fn write_now(&mut self) {
        self.send_stamp = None;
        self.close_buf_seg();
        let Some(io) = &self.io else {
            return;
        };
        let (mut idx, mut off) = (0usize, 0usize);
        while idx < self.segs.len() {
            let mut iov = [IoSlice::new(&[]); MAX_IOV];
            let n = fill_iov(&self.buf, &self.segs[idx..], off, &mut iov);
            match io.try_write_vectored(&iov[..n]) {
                Ok(0) => break,
                Ok(w) => {
                    self.shared
                        .counters
                        .bytes_sent
                        .fetch_add(w as u64, std::sync::atomic::Ordering::Relaxed);
                    advance(&self.segs, &mut idx, &mut off, w);
                }
                // WouldBlock: the task waits for the socket; any other error the task meets
                // again on its next write and reports.
                Err(_) => break,
            }
        }
        if idx >= self.segs.len() {
            self.buf.clear();
            self.segs.clear();
            self.buf_mark = 0;
            if self.acks_in_buf > 0 {
                let n = std::mem::take(&mut self.acks_in_buf);
                self.shared
                    .pending_acks
                    .fetch_sub(n, std::sync::atomic::Ordering::AcqRel);
            }
            return;
        }
        self.segs.drain(..idx);
        if off > 0 {
            match &mut self.segs[0] {
                Seg::Buf(a, _) => *a += off,
                Seg::Body(b) => bytes::Buf::advance(b, off),
            }
        }
    }
}

/// Writes the segments, with a stall deadline on each write.
async fn write_segs<W: AsyncWrite + Unpin>(
    io: &mut W,
    buf: &[u8],
    segs: &[Seg],
    timeout: Duration,
    shared: &ConnShared,
) -> Result<(), Error> {
    let (mut idx, mut off) = (0usize, 0usize);
    while idx < segs.len() {
        let mut iov = [IoSlice::new(&[]); MAX_IOV];
        let n = fill_iov(buf, &segs[idx..], off, &mut iov);
        let written = write_with_deadline(io, &iov[..n], timeout)
            .await
            .map_err(|e| match e {
                WriteFail::Io(e) => io_error(&e, &shared.peer),
                WriteFail::Stalled => Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "timed out: {} accepted no data for {} ms (write stalled)",
                        shared.peer,
                        timeout.as_millis()
                    ),
                )
                .with_origin(Origin::Transport)
                .with_processed(Processed::Maybe),
            })?;
        shared
            .counters
            .bytes_sent
            .fetch_add(written as u64, std::sync::atomic::Ordering::Relaxed);
        advance(segs, &mut idx, &mut off, written);
    }
    Ok(())
}

/// Points `iov` at the segments from `segs[0]` (skipping `off` bytes of it); returns how many.
fn fill_iov<'a>(
    buf: &'a [u8],
    segs: &'a [Seg],
    off: usize,
    iov: &mut [IoSlice<'a>; MAX_IOV],
) -> usize {
    let mut n = 0;
    for (i, seg) in segs.iter().take(MAX_IOV).enumerate() {
        let s: &[u8] = match seg {
            Seg::Buf(a, b) => &buf[*a..*b],
            Seg::Body(b) => b,
        };
        iov[n] = IoSlice::new(if i == 0 { &s[off..] } else { s });
        n += 1;
    }
    n
}

/// Moves the position (`idx`, `off`) past `written` bytes.
fn advance(segs: &[Seg], idx: &mut usize, off: &mut usize, mut written: usize) {
    while written > 0 && *idx < segs.len() {
        let len = match &segs[*idx] {
            Seg::Buf(a, b) => b - a,
            Seg::Body(b) => b.len(),
        };
        let rem = len - *off;
        if written >= rem {
            written -= rem;
            *idx += 1;
            *off = 0;
        } else {
            *off += written;
            written = 0;
        }
    }
}

enum WriteFail {
    Io(std::io::Error),
    Stalled,
}

/// One vectored write; a deadline is armed only if the socket is not writable right away, so
/// the common case costs no timer.
async fn write_with_deadline<W: AsyncWrite + Unpin>(
    io: &mut W,
    iov: &[IoSlice<'_>],
    limit: Duration,
) -> Result<usize, WriteFail> {
    let mut fut = pin!(io.write_vectored(iov));
    let first = std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        Poll::Ready(r) => Poll::Ready(Some(r)),
        Poll::Pending => Poll::Ready(None),
    })
    .await;
    let r = match first {
        Some(r) => r,
        None => match tokio::time::timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => return Err(WriteFail::Stalled),
        },
    };
    match r {
        Ok(0) => Err(WriteFail::Io(std::io::ErrorKind::WriteZero.into())),
        Ok(n) => Ok(n),
        Err(e) => Err(WriteFail::Io(e)),
    }
}

/// Decimal digits of `n` without allocating a String per request.
fn itoa_buf(n: u64) -> ArrayBuf {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let mut v = n;
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let mut out = ArrayBuf {
        data: [0; 20],
        len: 0,
    };
    let digits = &tmp[i..];
    out.data[..digits.len()].copy_from_slice(digits);
    out.len = digits.len();
    out
}

struct ArrayBuf {
    data: [u8; 20],
    len: usize,
}

impl ArrayBuf {
    fn as_slice(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::itoa_buf;

    #[test]
    fn itoa() {
        assert_eq!(itoa_buf(0).as_slice(), b"0");
        assert_eq!(itoa_buf(1234567890).as_slice(), b"1234567890");
        assert_eq!(itoa_buf(u64::MAX).as_slice(), b"18446744073709551615");
    }
}
