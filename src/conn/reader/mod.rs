//! The reader task: parses every frame from the server, handles connection-level frames itself
//! and dispatches stream frames to the stream map it owns.

mod goaway;
mod header_block;
mod ping;
mod read_space;
mod settings;
mod window_update;

use goaway::GoAwayInfo;
use header_block::{Continuing, LastHead};

use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc::UnboundedReceiver;

use super::defence::{Defences, Trip};
use super::recv::{Progress, RecvStream, StreamFault};
use super::{Command, ConnShared, PeerSettings, ReaderMsg, SendControl, WindowOutcome};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Origin, Processed, Reason};
use crate::events::{self, EventKind};
use crate::exchange::Exchange;
use crate::frame::{
    flag, kind, kind_name, priority, Continuation, Data, FrameError, FrameHeader, GoAway, Headers,
    Ping, PushPromise, RstStream, Setting, Settings, WindowUpdate, HEADER_LEN,
};
use crate::hpack::Decoder;

pub(crate) struct Reader<R> {
    io: R,
    shared: Arc<ConnShared>,
    rx: UnboundedReceiver<ReaderMsg>,
    cfg: Arc<Config>,
    buf: BytesMut,
    /// Earlier read buffers that streaming calls' DATA still shared when room was needed.
    set_aside: read_space::SetAside,
    dec: Decoder,
    streams: super::StreamMap<Box<RecvStream>>,
    /// Highest stream id registered by the writer; higher ids are idle.
    max_id: u32,
    cont: Option<Continuing>,
    block: Vec<u8>,
    /// The last head block decoded into a fresh response, for a server that repeats it.
    last_head: LastHead,
    conn_window: i64,
    conn_unacked: u32,
    /// Control frames to hand to the writer at the end of the batch.
    out: Vec<u8>,
    got_settings: bool,
    settings_acked: bool,
    started: Instant,
    last_read: Instant,
    /// `last_read` as a request-info stamp (what this read brought arrived then).
    read_stamp: u64,
    idle_since: Instant,
    /// Outstanding PING: payload, when it was sent, ack deadline.
    ping: Option<([u8; 8], Instant, Instant)>,
    ping_count: u64,
    goaway: Option<GoAwayInfo>,
    drain_requested: bool,
    drained: bool,
    /// GOAWAY to send because we found a connection error.
    send_goaway: Option<(Reason, String)>,
    /// The server's SETTINGS_INITIAL_WINDOW_SIZE (for streams without a body).
    peer_initial_window: i64,
    /// Flood and abuse budgets.
    defences: Defences,
    /// PING ACKs in `out` (counted against the pending-ack limit).
    out_acks: u32,
    /// Requests the writer never wrote (re-submitted at teardown).
    not_sent: Vec<super::Assigned>,
    /// The sending side's windows and settings, changed as their frames arrive.
    send: Arc<dyn SendControl>,
    /// The writer has work from a window or SETTINGS change: wake it at the end of the read.
    wake_writer: bool,
    /// Streams the server ended (END_STREAM) most recently: a frame on one of them is a
    /// STREAM_CLOSED error, where a frame on a stream we reset is expected and ignored.
    remote_closed: RecentIds,
    /// Streamed responses that received data in this read, to wake once at its end.
    data_for: Vec<Arc<Exchange>>,
}

/// The last few stream ids added, in a fixed ring (no allocation per stream, none sized by
/// the peer). An id that fell out of the ring is treated as unknown: lenient, never wrong.
#[derive(Default)]
struct RecentIds {
    ids: [u32; 32],
    next: usize,
}

impl RecentIds {
    fn add(&mut self, id: u32) {
        self.ids[self.next % self.ids.len()] = id;
        self.next = self.next.wrapping_add(1);
    }

    fn contains(&self, id: u32) -> bool {
        id != 0 && self.ids.contains(&id)
    }
}

impl<R: AsyncRead + Unpin + Send + 'static> Reader<R> {
    pub(crate) fn new(
        io: R,
        shared: Arc<ConnShared>,
        rx: UnboundedReceiver<ReaderMsg>,
        cfg: Arc<Config>,
        send: Arc<dyn SendControl>,
    ) -> Self {
        let now = Instant::now();
        let limits = cfg.defence_limits();
        Reader {
            io,
            shared,
            rx,
            // Until the server acknowledges our SETTINGS it may use the default table size.
            dec: Decoder::new((cfg.header_table_size as usize).max(4096)),
            conn_window: i64::from(cfg.connection_window_size),
            cfg,
            buf: BytesMut::new(),
            set_aside: read_space::SetAside::default(),
            streams: super::StreamMap::default(),
            max_id: 0,
            cont: None,
            last_head: LastHead::default(),
            block: Vec::new(),
            conn_unacked: 0,
            out: Vec::new(),
            got_settings: false,
            settings_acked: false,
            started: now,
            last_read: now,
            read_stamp: crate::info::stamp(now),
            idle_since: now,
            ping: None,
            ping_count: 0,
            goaway: None,
            drain_requested: false,
            drained: false,
            send_goaway: None,
            peer_initial_window: i64::from(crate::frame::DEFAULT_WINDOW_SIZE),
            defences: Defences::new(limits, now),
            out_acks: 0,
            not_sent: Vec::new(),
            send,
            wake_writer: false,
            remote_closed: RecentIds::default(),
            data_for: Vec::new(),
        }
    }

    /// Reads until the connection ends, then tears it down. Whatever ends the task (a
    /// panic included) ends the connection: out of the pool, every stream failed with the
    /// cause, unwritten requests retried elsewhere, the socket closed.
    pub(crate) async fn run(mut self) {
        let result = match crate::panics::catch_future(self.run_inner()).await {
            Ok(r) => r,
            Err(msg) => Err(crate::panics::internal("the connection's reader", &msg)),
        };
        let shared = self.shared.clone();
        if let Err(msg) = crate::panics::catch(|| self.teardown(result)) {
            // The streams left in the reader fail as abandoned when it is dropped.
            shared.mark_closed(&crate::panics::internal("the connection's teardown", &msg));
        }
    }

    async fn run_inner(&mut self) -> Result<(), Error> {
        let mut timer = pin!(tokio::time::sleep_until(self.next_deadline().into()));
        loop {
            super::testing::maybe_panic(super::testing::Task::Reader);
            self.make_read_space();
            tokio::select! {
                biased;
                msg = self.rx.recv() => {
                    #[cfg(feature = "testing")]
                    self.shared.counters.reader_messages.fetch_add(1, Ordering::Relaxed);
                    // A message may concern a stream started on the caller's thread.
                    self.pick_up_quiet();
                    match msg {
                        Some(ReaderMsg::Close(e)) => return Err(self.last_words(e).await),
                        Some(m) => self.on_msg(m)?,
                        None => return Err(Error::new(ErrorKind::Closed, "connection dropped")),
                    }
                }
                r = self.io.read_buf(&mut self.buf) => {
                    match r {
                        Ok(0) => return Err(self.eof_error()),
                        Ok(n) => {
                            self.shared.counters.bytes_received.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        Err(e) => return Err(self.read_error(&e)),
                    }
                    self.last_read = Instant::now();
                    self.read_stamp = crate::info::stamp(self.last_read);
                    // Completions of this read wake their queues once, at the end.
                    crate::queue::batch(|| -> Result<(), Error> {
                        // Registrations made before the HEADERS were written must be seen
                        // before any response frame is.
                        self.pick_up_quiet();
                        while let Ok(m) = self.rx.try_recv() {
                            self.on_msg(m)?;
                        }
                        self.process()?;
                        self.flush_out();
                        Ok(())
                    })?;
                }
                _ = &mut timer => {
                    self.pick_up_quiet();
                    self.on_timer()?;
                    self.flush_out();
                    timer.as_mut().reset(self.next_deadline().into());
                }
            }
            if self.drained && self.streams.is_empty() {
                return Ok(());
            }
        }
    }

    /// Takes the streams the caller-thread path registered since the last wake-up.
    fn pick_up_quiet(&mut self) {
        for (id, s) in self.shared.take_quiet(false) {
            let _ = self.on_msg(ReaderMsg::Register(id, s));
        }
    }

    /// Room for the next read (see `read_space`).
    fn make_read_space(&mut self) {
        let busy = !self.streams.is_empty();
        self.set_aside.make_room(&mut self.buf, busy);
    }

    /// The writer failed (say, EPIPE): the server probably said why before closing (a TLS
    /// alert, a GOAWAY). Read briefly for it and report that instead of the bare write error.
    async fn last_words(&mut self, e: Error) -> Error {
        if e.origin != Origin::Transport || e.kind != ErrorKind::Connection {
            return e;
        }
        let until = tokio::time::Instant::now() + Duration::from_millis(50);
        loop {
            self.make_read_space();
            match tokio::time::timeout_at(until, self.io.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) | Err(_) => {
                    return if self.goaway.is_some() {
                        self.eof_error()
                    } else {
                        e
                    };
                }
                Ok(Ok(_)) => {
                    if let Err(pe) = self.process() {
                        return pe;
                    }
                }
                Ok(Err(re)) => return self.read_error(&re),
            }
        }
    }

    fn flush_out(&mut self) {
        for ex in self.data_for.drain(..) {
            ex.wake_readers();
        }
        if crate::frame::update_due(self.conn_unacked, self.cfg.connection_window_size) {
            crate::frame::WindowUpdate::encode(0, self.conn_unacked, &mut self.out);
            self.conn_window += i64::from(self.conn_unacked);
            self.conn_unacked = 0;
        }
        if !self.out.is_empty() {
            let _ = self.shared.send_cmd(Command::Frames {
                bytes: std::mem::take(&mut self.out),
                acks: std::mem::take(&mut self.out_acks),
            });
        } else if std::mem::take(&mut self.wake_writer) {
            let _ = self.shared.send_cmd(Command::Flush);
        }
        self.wake_writer = false;
    }

    fn on_msg(&mut self, m: ReaderMsg) -> Result<(), Error> {
        match m {
            ReaderMsg::Register(id, s) => {
                self.max_id = self.max_id.max(id);
                if s.pending.ex().is_done() {
                    // Cancelled while the writer was starting it.
                    let _ = self.shared.send_cmd(Command::Reset {
                        stream_id: id,
                        reason: Reason::CANCEL,
                    });
                    s.pending.discard();
                } else {
                    events::emit(&self.cfg.events, || {
                        let req = &s.pending.ex().req;
                        events::event(
                            EventKind::StreamOpened,
                            self.shared.id,
                            id,
                            format!("{} {}", req.method, req.path),
                        )
                    });
                    self.streams.insert(id, s);
                }
            }
            ReaderMsg::Cancel(id, ex) => {
                if self
                    .streams
                    .get(&id)
                    .is_some_and(|s| Arc::ptr_eq(s.pending.ex(), &ex))
                {
                    if let Some(s) = self.remove(id) {
                        self.reset_budget();
                        self.closed_event(id, 0, Reason::CANCEL, "cancelled");
                        let _ = self.shared.send_cmd(Command::Reset {
                            stream_id: id,
                            reason: Reason::CANCEL,
                        });
                        s.pending.discard();
                    }
                }
            }
            ReaderMsg::Drained => self.drained = true,
            ReaderMsg::Stalled(id) => {
                events::emit(&self.cfg.events, || {
                    events::event(
                        EventKind::FlowStall,
                        self.shared.id,
                        id,
                        "request body waits for the server's flow-control window",
                    )
                });
            }
            ReaderMsg::Close(e) => return Err(e),
            ReaderMsg::NotSent(v) => self.not_sent.extend(v),
        }
        Ok(())
    }

    /// Takes stream `id` out (still boxed: a stream is a few hundred bytes to copy).
    fn remove(&mut self, id: u32) -> Option<Box<RecvStream>> {
        let s = self.streams.remove(&id)?;
        if self.streams.is_empty() {
            self.idle_since = Instant::now();
        }
        Some(s)
    }

    fn read_error(&self, e: &std::io::Error) -> Error {
        match &self.goaway {
            // The server said why it is closing; a reset that follows is part of that.
            Some(g) => g.error(
                &format!("; then the connection failed: {e}"),
                Processed::Maybe,
            ),
            None => match crate::tls::rustls_error(e) {
                Some(te) => Error::new(
                    ErrorKind::Tls,
                    crate::tls::describe(te, &self.shared.peer, false),
                )
                .with_origin(Origin::Transport)
                .with_processed(Processed::Maybe),
                None => Error::io(&format!("read from {} failed", self.shared.peer), e),
            },
        }
    }

    fn eof_error(&self) -> Error {
        match &self.goaway {
            Some(g) => g.error("; the server then closed the connection", Processed::Maybe),
            // Closed before its SETTINGS: say what it sent, and what that suggests (a TLS
            // server answering our cleartext preface, say).
            None if !self.got_settings => Error::new(
                ErrorKind::Connection,
                crate::diagnose::before_settings(&self.buf, true, &self.shared.peer),
            )
            .with_origin(Origin::Transport)
            .with_processed(Processed::Maybe),
            None => Error::new(
                ErrorKind::Connection,
                format!(
                    "connection closed by {} (EOF) with {} stream(s) open",
                    self.shared.peer,
                    self.streams.len()
                ),
            )
            .with_origin(Origin::Transport)
            .with_processed(Processed::Maybe),
        }
    }

    /// Records a connection error to answer with GOAWAY.
    fn conn_error(&mut self, reason: Reason, what: impl Into<String>) -> Error {
        let what = what.into();
        if reason == Reason::ENHANCE_YOUR_CALM {
            self.limit_event(0, reason, &what);
        }
        let e = Error::protocol(reason, &what);
        if self.send_goaway.is_none() {
            self.send_goaway = Some((reason, what));
        }
        e
    }

    fn frame_error(&mut self, stream_id: u32, fe: FrameError) -> Result<(), Error> {
        if fe.stream_only {
            self.stream_error(stream_id, fe.reason, fe.what);
            Ok(())
        } else {
            Err(self.conn_error(fe.reason, fe.what))
        }
    }

    /// A stream error we detected: reset the stream and fail its request.
    /// Streams no longer in the map were already reset or finished: a second RST_STREAM is
    /// pointless, and an idle stream must never get one (§5.1).
    fn stream_error(&mut self, id: u32, reason: Reason, what: &str) {
        if let Some(s) = self.remove(id) {
            self.closed_event(id, 0, reason, what);
            let _ = self.shared.send_cmd(Command::Reset {
                stream_id: id,
                reason,
            });
            let e = Error::protocol(reason, what).with_processed(s.builder.processed());
            s.pending.finish(Err(e));
        }
    }

    fn closed_event(&self, id: u32, status: u16, h2_error: Reason, why: &str) {
        events::emit(&self.cfg.events, || {
            let mut ev = events::event(EventKind::StreamClosed, self.shared.id, id, why);
            ev.value = u64::from(status);
            ev.h2_error = h2_error.0;
            ev
        });
    }

    /// We are about to reset a stream the caller gave up on. Past the rate limit the
    /// connection takes no new streams, so bulk cancels cannot churn streams on it.
    fn reset_budget(&mut self) {
        if self.defences.reset_sent(Instant::now()).is_err() && self.shared.is_usable() {
            self.count_trip(Trip::Resets);
            let what = format!(
                "more than {} stream resets per second: no new streams on this connection",
                self.cfg.max_resets_per_second
            );
            self.limit_event(0, Reason::CANCEL, &what);
            self.shared.set_going_away();
            self.request_drain();
        }
    }

    /// Reports a tripped defence limit to the event callback.
    fn limit_event(&self, stream_id: u32, reason: Reason, what: &str) {
        events::emit(&self.cfg.events, || {
            let mut ev = events::event(EventKind::LimitTripped, self.shared.id, stream_id, what);
            ev.h2_error = reason.0;
            ev
        });
    }

    fn fault(&mut self, id: u32, f: StreamFault) {
        if matches!(
            f.error.kind,
            ErrorKind::HeadersTooLarge | ErrorKind::BodyTooLarge
        ) {
            if f.error.kind == ErrorKind::HeadersTooLarge {
                self.count_trip(Trip::HeaderList);
            }
            self.limit_event(id, f.reason, &f.error.message);
        } else if f.reason == Reason::ENHANCE_YOUR_CALM {
            self.count_trip(Trip::Informational);
            self.limit_event(id, f.reason, &f.error.message);
        }
        self.closed_event(id, 0, f.reason, &f.error.message);
        let _ = self.shared.send_cmd(Command::Reset {
            stream_id: id,
            reason: f.reason,
        });
        if let Some(s) = self.remove(id) {
            s.pending.finish(Err(f.error));
        }
    }

    fn complete(&mut self, id: u32) {
        if let Some(s) = self.remove(id) {
            if s.has_body {
                // The server answered before reading the whole body: stop sending it.
                let _ = self.shared.send_cmd(Command::StopSending {
                    stream_id: id,
                    rst_if_sending: Some(Reason::CANCEL),
                });
            }
            self.remote_closed.add(id);
            let RecvStream {
                pending,
                slot,
                builder,
                ..
            } = *s;
            let resp = builder.into_response();
            pending.ex().progress.ended(self.read_stamp);
            self.closed_event(id, resp.status, Reason::NO_ERROR, "complete");
            // Free the stream's slot before waking the caller: a caller that submits its next
            // request at once must find the connection empty (and take the fast path).
            drop(slot);
            pending.finish(Ok(resp));
        }
    }

    fn retry(&mut self, s: Box<RecvStream>, err: Error) {
        let RecvStream { pending, slot, .. } = *s;
        drop(slot);
        match self.shared.pool.upgrade() {
            Some(pool) => pool.on_retry(pending, err),
            None => pending.finish(Err(err)),
        }
    }

    /// Fails a stream when the connection ends, or retries it if GOAWAY proved it unprocessed.
    fn end_stream_with(&mut self, id: u32, s: Box<RecvStream>, err: &Error) {
        if let Some(g) = &self.goaway {
            if id > g.last_stream_id {
                let e = g.error(&format!(" (stream {id} was not processed)"), Processed::No);
                self.retry(s, e);
                return;
            }
        }
        let p = s.builder.processed();
        s.pending.finish(Err(err.at_least(p)));
    }

    fn teardown(&mut self, result: Result<(), Error>) {
        let err = match result {
            // A graceful close: nothing failed (re-submissions spend no retry budget).
            Ok(()) => Error::new(
                ErrorKind::GoAway,
                format!("connection to {} closed gracefully", self.shared.peer),
            ),
            Err(e) => e,
        };
        match self.send_goaway.take() {
            Some((reason, debug)) => {
                let _ = self.shared.send_cmd(Command::GoAway { reason, debug });
            }
            None => {
                let _ = self.shared.send_cmd(Command::Close);
            }
        }
        for ex in self.data_for.drain(..) {
            ex.wake_readers();
        }
        self.shared.mark_closed(&err);
        self.rx.close();
        for (id, s) in self.shared.take_quiet(true) {
            self.end_stream_with(id, s, &err);
        }
        let streams: Vec<_> = self.streams.drain().collect();
        for (id, s) in streams {
            self.end_stream_with(id, s, &err);
        }
        while let Ok(m) = self.rx.try_recv() {
            match m {
                ReaderMsg::Register(id, s) => self.end_stream_with(id, s, &err),
                ReaderMsg::NotSent(v) => self.not_sent.extend(v),
                _ => {}
            }
        }
        let cause = err.clone().with_processed(Processed::No);
        for a in std::mem::take(&mut self.not_sent) {
            let super::Assigned { pending, slot } = a;
            drop(slot);
            if pending.ex().is_done() {
                pending.discard();
                continue;
            }
            match self.shared.pool.upgrade() {
                Some(pool) => pool.on_retry(pending, cause.clone()),
                None => pending.finish(Err(cause.clone())),
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        let now = Instant::now();
        let mut d = now + Duration::from_secs(3600);
        if !self.settings_acked {
            d = d.min(self.started + self.cfg.settings_timeout);
        }
        match (&self.ping, self.cfg.keepalive_interval) {
            (Some((_, _, deadline)), _) => d = d.min(*deadline),
            (None, Some(iv)) => d = d.min(self.last_read + iv),
            (None, None) => {}
        }
        if let Some(idle) = self.cfg.idle_timeout {
            let base = if self.streams.is_empty() {
                self.idle_since
            } else {
                now
            };
            d = d.min(base + idle);
        }
        d.max(now + Duration::from_millis(1))
    }

    fn on_timer(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        let peer = &self.shared.peer;
        if !self.settings_acked && now >= self.started + self.cfg.settings_timeout {
            let ms = self.cfg.settings_timeout.as_millis();
            let msg = if self.got_settings {
                format!("timed out: {peer} did not acknowledge our SETTINGS within {ms} ms")
            } else {
                format!(
                    "timed out: {peer} sent no SETTINGS within {ms} ms (does it speak HTTP/2 with prior knowledge?)"
                )
            };
            self.send_goaway = Some((Reason::SETTINGS_TIMEOUT, "SETTINGS not acknowledged".into()));
            return Err(Error::new(ErrorKind::Timeout, msg)
                .with_reason(Reason::SETTINGS_TIMEOUT)
                .with_processed(Processed::Maybe));
        }
        if let Some((_, _, deadline)) = self.ping {
            if now >= deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "timed out: no PING ACK from {peer} within {} ms (connection considered dead)",
                        self.cfg.keepalive_timeout.as_millis()
                    ),
                )
                .with_origin(Origin::Transport)
                .with_processed(Processed::Maybe));
            }
        } else if let Some(iv) = self.cfg.keepalive_interval {
            if now >= self.last_read + iv {
                self.send_ping(now);
            }
        }
        if let Some(idle) = self.cfg.idle_timeout {
            if self.streams.is_empty()
                && self.shared.open_streams() == 0
                && now >= self.idle_since + idle
                && !self.drain_requested
            {
                self.shared.set_going_away();
                self.request_drain();
            }
        }
        Ok(())
    }

    fn request_drain(&mut self) {
        if !self.drain_requested {
            self.drain_requested = true;
            let _ = self.shared.send_cmd(Command::Drain);
        }
    }

    /// Parses every complete frame in the read buffer. Each frame is split off as its own
    /// `Bytes`, so streamed DATA reaches the caller without a copy.
    fn process(&mut self) -> Result<(), Error> {
        // Frames are handled as slices of the buffer, which is advanced past them once at
        // the end: splitting each frame off as `Bytes` cost two atomic reference count
        // changes per frame. Only DATA that a streaming call receives is split off, since
        // the caller gets it without a copy.
        let mut buf = std::mem::take(&mut self.buf);
        let r = self.process_in(&mut buf);
        self.buf = buf;
        r
    }

    fn process_in(&mut self, buf: &mut BytesMut) -> Result<(), Error> {
        let mut at = 0;
        let r = loop {
            let Some(head) = buf.get(at..).and_then(FrameHeader::parse) else {
                break Ok(());
            };
            if let Err(e) = self.check_frame_head(&head, &buf[at..]) {
                break Err(e);
            }
            let total = HEADER_LEN + head.len as usize;
            if buf.len() - at < total {
                // The rest of the frame comes with the next reads, each given room by
                // `make_read_space` (not all that the header claims at once: the buffer
                // grows as the bytes arrive).
                bytes::Buf::advance(buf, at);
                at = 0;
                break Ok(());
            }
            let r = if head.kind == kind::DATA && self.is_streaming(head.stream_id) {
                bytes::Buf::advance(buf, at);
                at = 0;
                let frame = buf.split_to(total).freeze();
                self.on_frame(&head, &frame, Some(&frame))
            } else {
                let r = self.on_frame(&head, &buf[at..at + total], None);
                at += total;
                r
            };
            if let Err(e) = r {
                break Err(e);
            }
        };
        bytes::Buf::advance(buf, at);
        r
    }

    /// Whether stream `id` is a streaming call's (its DATA goes to the caller as it is).
    fn is_streaming(&self, id: u32) -> bool {
        self.streams
            .get(&id)
            .is_some_and(|s| s.builder.is_streaming())
    }

    /// The checks of a frame's header before its payload is looked at; `rest` is the buffer
    /// from the frame on (for the diagnosis of a server that is not speaking HTTP/2).
    fn check_frame_head(&mut self, head: &FrameHeader, rest: &[u8]) -> Result<(), Error> {
        if !self.got_settings && (head.kind != kind::SETTINGS || head.has(flag::ACK)) {
            let what = crate::diagnose::before_settings(rest, false, &self.shared.peer);
            return Err(self.conn_error(Reason::PROTOCOL_ERROR, what));
        }
        if head.len > self.cfg.max_frame_size {
            return Err(self.conn_error(
                Reason::FRAME_SIZE_ERROR,
                format!(
                    "{} frame of {} bytes exceeds our SETTINGS_MAX_FRAME_SIZE ({})",
                    kind_name(head.kind),
                    head.len,
                    self.cfg.max_frame_size
                ),
            ));
        }
        Ok(())
    }

    /// Ids of streams we never opened are idle: frames on them are connection errors (§5.1).
    fn check_stream(&mut self, head: &FrameHeader) -> Result<(), Error> {
        let id = head.stream_id;
        if id.is_multiple_of(2) {
            return Err(self.conn_error(
                Reason::PROTOCOL_ERROR,
                format!(
                    "{} on server-initiated stream {id} (push is disabled)",
                    kind_name(head.kind)
                ),
            ));
        }
        if id > self.max_id {
            return Err(self.conn_error(
                Reason::PROTOCOL_ERROR,
                format!("{} on idle stream {id}", kind_name(head.kind)),
            ));
        }
        Ok(())
    }

    /// One whole frame (header and payload); `shared` is the same bytes as `Bytes` when they
    /// were split off for a streaming call's DATA.
    fn on_frame(
        &mut self,
        head: &FrameHeader,
        frame: &[u8],
        shared: Option<&Bytes>,
    ) -> Result<(), Error> {
        let payload = &frame[HEADER_LEN..];
        if let Some(c) = &self.cont {
            if head.kind != kind::CONTINUATION || head.stream_id != c.stream_id {
                let what = format!(
                    "{} on stream {} while a header block on stream {} awaits CONTINUATION",
                    kind_name(head.kind),
                    head.stream_id,
                    c.stream_id
                );
                return Err(self.conn_error(Reason::PROTOCOL_ERROR, what));
            }
        }
        match head.kind {
            kind::DATA => self.on_data(head, frame, shared),
            kind::HEADERS => self.on_headers(head, payload),
            kind::CONTINUATION => self.on_continuation(head, payload),
            kind::PRIORITY => match priority::validate(head) {
                Ok(()) => self.glitch("PRIORITY"),
                Err(fe) => self.frame_error(head.stream_id, fe),
            },
            kind::RST_STREAM => self.on_rst(head, payload),
            kind::SETTINGS => self.on_settings(head, payload),
            kind::PUSH_PROMISE => {
                let fe = PushPromise::reject(head);
                Err(self.conn_error(fe.reason, fe.what))
            }
            kind::PING => self.on_ping(head, payload),
            kind::GOAWAY => self.on_goaway(head, payload),
            kind::WINDOW_UPDATE => self.on_window_update(head, payload),
            // Unknown frame types are ignored (§4.1, §5.5), within the glitch budget.
            _ => self.glitch("unknown frame type"),
        }
    }

    fn on_data(
        &mut self,
        head: &FrameHeader,
        frame: &[u8],
        shared: Option<&Bytes>,
    ) -> Result<(), Error> {
        let d = match Data::decode(head, &frame[HEADER_LEN..]) {
            Ok(d) => d,
            Err(fe) => return self.frame_error(head.stream_id, fe),
        };
        self.check_stream(head)?;
        let flow = i64::from(d.flow_len);
        if flow > self.conn_window {
            return Err(self.conn_error(
                Reason::FLOW_CONTROL_ERROR,
                format!(
                    "DATA of {flow} bytes exceeds the connection receive window ({})",
                    self.conn_window
                ),
            ));
        }
        // The connection window is reopened as data arrives (frames for streams we no longer
        // track included: no slow leak of the window); what each stream may hold unread is
        // bounded by its own window, reopened only as its data is consumed.
        self.conn_window -= flow;
        self.conn_unacked += d.flow_len;
        if d.data.is_empty() && !d.end_stream && self.defences.empty_data(Instant::now()).is_err() {
            return Err(self.trip(
                Trip::EmptyData,
                format!(
                    "flood of empty DATA frames (more than {} per minute)",
                    self.cfg.max_empty_data_frames
                ),
            ));
        }
        let id = d.stream_id;
        let Some(s) = self.streams.get_mut(&id) else {
            self.check_not_ended(id, "DATA")?;
            // Frames for streams we reset keep coming until the server sees the reset: normal,
            // and cheap (the data is credited back), so not a glitch.
            return Ok(());
        };
        let streaming = s.builder.is_streaming();
        let left = if streaming {
            s.pending.ex().recv_window.fetch_sub(flow, Ordering::AcqRel)
        } else {
            s.window
        };
        if flow > left {
            let what = format!("DATA of {flow} bytes exceeds the stream receive window ({left})");
            self.stream_error(id, Reason::FLOW_CONTROL_ERROR, &what);
            return Ok(());
        }
        s.pending.ex().progress.body_received(d.data.len());
        let progress = s.builder.on_data(d.data, d.end_stream);
        if streaming {
            // `process` splits a streaming call's DATA off as `Bytes`; a copy otherwise.
            let chunk = match shared {
                Some(b) => b.slice_ref(d.data),
                None => Bytes::copy_from_slice(d.data),
            };
            if progress.is_ok() && s.pending.ex().deliver_data(chunk) {
                let ex = s.pending.ex();
                if !self.data_for.last().is_some_and(|l| Arc::ptr_eq(l, ex)) {
                    self.data_for.push(ex.clone());
                }
            }
            // Padding is never read by the caller: credit it now.
            let pad = d.flow_len - d.data.len() as u32;
            if pad > 0 && !d.end_stream {
                s.pending
                    .ex()
                    .recv_window
                    .fetch_add(i64::from(pad), Ordering::AcqRel);
                crate::frame::WindowUpdate::encode(id, pad, &mut self.out);
            }
        } else {
            s.window -= flow;
            s.unacked += d.flow_len;
            s.pending.ex().touch_data();
        }
        match progress {
            Ok(Progress::More) => {
                if !streaming && crate::frame::update_due(s.unacked, self.cfg.initial_window_size) {
                    crate::frame::WindowUpdate::encode(id, s.unacked, &mut self.out);
                    s.window += i64::from(s.unacked);
                    s.unacked = 0;
                }
            }
            Ok(Progress::Complete) => self.complete(id),
            Err(f) => self.fault(id, f),
        }
        Ok(())
    }

    /// A defence tripped on the server's behaviour: count it and close the connection with
    /// GOAWAY(ENHANCE_YOUR_CALM).
    fn trip(&mut self, t: Trip, what: String) -> Error {
        self.count_trip(t);
        self.conn_error(Reason::ENHANCE_YOUR_CALM, what)
    }

    fn count_trip(&self, t: Trip) {
        self.shared.counters.limits_tripped[t as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a pointless frame against the glitch budget.
    fn glitch(&mut self, what: &str) -> Result<(), Error> {
        match self.defences.glitch(Instant::now()) {
            Ok(()) => Ok(()),
            Err(t) => Err(self.trip(
                t,
                format!(
                    "too many pointless frames ({what} and others: more than {} per minute)",
                    self.cfg.max_glitches
                ),
            )),
        }
    }

    fn on_rst(&mut self, head: &FrameHeader, payload: &[u8]) -> Result<(), Error> {
        let r = match RstStream::decode(head, payload) {
            Ok(r) => r,
            Err(fe) => return self.frame_error(head.stream_id, fe),
        };
        self.check_stream(head)?;
        self.glitch("RST_STREAM")?;
        let Some(s) = self.remove(r.stream_id) else {
            return Ok(());
        };
        if s.has_body {
            let _ = self.shared.send_cmd(Command::StopSending {
                stream_id: r.stream_id,
                rst_if_sending: None,
            });
        }
        self.closed_event(r.stream_id, 0, r.reason, "reset by the server");
        if r.reason == Reason::REFUSED_STREAM && !s.builder.has_head() {
            let e = Error::new(
                ErrorKind::StreamReset,
                "stream refused by the server: REFUSED_STREAM (not processed)",
            )
            .with_reason(r.reason)
            .with_origin(Origin::Remote)
            .with_processed(Processed::No);
            self.retry(s, e);
            return Ok(());
        }
        let e = Error::new(
            ErrorKind::StreamReset,
            format!("stream reset by the server: {}", r.reason),
        )
        .with_reason(r.reason)
        .with_origin(Origin::Remote)
        .with_processed(s.builder.processed());
        s.pending.finish(Err(e));
        Ok(())
    }
}
