//! The client: one authority, its pool, and the blocking request path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{Error, ErrorKind, Processed, Result};
use crate::events::Gate;
use crate::exchange::{Deadlines, Exchange, Mode, Notify, Pending};
use crate::headers::HeaderList;
use crate::pool::PoolInner;
use crate::request::Request;
use crate::response::Response;
use crate::runtime;
use crate::url::{Scheme, Target};

/// How long closing a client waits for its connections to send GOAWAY and close.
const CLOSE_GRACE: Duration = Duration::from_millis(250);

/// An HTTP/2 client for one authority. Cheap to share between threads (`&Client` is enough).
pub struct Client {
    pool: Arc<PoolInner>,
    /// The gate of the event hook, if one is set: closed by [`Client::close`].
    events: Option<Arc<Gate>>,
    /// The fork generation the client was created in (see `runtime::generation`).
    gen: usize,
}

/// A snapshot of a client's state, for tests and statistics.
#[derive(Debug, Clone, Default)]
pub struct ClientSnapshot {
    /// Connections currently in the pool.
    pub connections: usize,
    /// Connections opened since the client was created.
    pub connections_opened: u64,
    /// Requests waiting for a stream slot.
    pub waiting: usize,
    /// Streams reserved or open, summed over connections.
    pub open_streams: u64,
    /// Each connection's effective concurrent stream limit.
    pub stream_limits: Vec<u32>,
    /// Requests retried since creation.
    pub retries: u64,
    /// Each connection's smoothed PING round trip in microseconds (0 until measured).
    pub rtt_us: Vec<u64>,
    /// A connection is being dialed.
    pub dialing: bool,
    /// Connections that take no new streams (GOAWAY received, idle close, ...).
    pub draining: usize,
    /// Requests that got a response.
    pub requests_completed: u64,
    /// Requests that failed.
    pub requests_failed: u64,
    /// Bytes written to the connections.
    pub bytes_sent: u64,
    /// Bytes read from the connections.
    pub bytes_received: u64,
    /// How often each defence tripped (indexed by `conn::defence::Trip`).
    pub limits_tripped: [u64; crate::conn::defence::Trip::COUNT],
    /// Requests whose HEADERS the submitting thread wrote itself instead of the connection's
    /// writer task (plain TCP, a request alone on its connection).
    pub fast_submits: u64,
    /// Times a connection's reader task woke up for a message (a stream to register, a
    /// cancel, ...) rather than for the socket or a timer.
    pub reader_messages: u64,
}

impl Client {
    /// A client for the authority of `base_url` (`http://host[:port]`; any path is ignored).
    pub fn new(base_url: &str, mut cfg: Config) -> Result<Client> {
        let target = Target::parse(base_url)?;
        let tls = match target.scheme {
            Scheme::Https => Some(crate::tls::client_config(&cfg.tls)?),
            Scheme::Http => None,
        };
        runtime::get()?;
        let events = cfg.events.is_some().then(|| Arc::new(Gate::default()));
        if let (Some(hook), Some(gate)) = (cfg.events.take(), &events) {
            cfg.events = Some(hook.gated(gate.clone()));
        }
        Ok(Client {
            pool: PoolInner::new(target, Arc::new(cfg), tls),
            events,
            gen: runtime::generation(),
        })
    }

    /// The client's configuration.
    pub fn config(&self) -> &Config {
        &self.pool.cfg
    }

    /// Builds the exchange for `req`: deadlines from the request or the client, and a timer
    /// task when a timeout is not waited out by a blocked caller.
    fn prepare(
        &self,
        req: Arc<Request>,
        mode: Mode,
        notify: Option<Notify>,
        caller_waits_whole: bool,
    ) -> Result<Arc<Exchange>> {
        runtime::check_fork(self.gen, "this client")?;
        req.check_complete()?;
        let cfg = &self.pool.cfg;
        let now = Instant::now();
        let deadlines = Deadlines {
            whole: req.timeout.or(cfg.request_timeout).map(|t| (now + t, t)),
            headers: req
                .headers_timeout
                .or(cfg.headers_timeout)
                .map(|t| (now + t, t)),
            body_idle: req.body_idle_timeout.or(cfg.body_idle_timeout),
        };
        let ex = Exchange::with(
            req,
            mode,
            deadlines,
            notify,
            Some(self.pool.counters.clone()),
        );
        if ex.needs_timer(caller_waits_whole) {
            let h = runtime::spawn(ex.clone().run_timer())?;
            ex.set_timer(h.abort_handle());
        }
        Ok(ex)
    }

    /// Sends `req` and blocks until the whole response has arrived or the request failed.
    /// Must not be called from a runtime thread.
    pub fn execute(&self, req: Arc<Request>) -> Result<Response> {
        check_thread("waiting for a whole response")?;
        if req.streaming_body {
            return Err(Error::invalid(
                "a request with a streaming body cannot be sent whole: start it as a call and write its body",
            ));
        }
        let ex = self.prepare(req, Mode::Buffered, None, true)?;
        let whole = ex.deadlines.whole;
        self.pool.submit(Pending::new(ex.clone()));
        if let Some(r) = ex.wait(whole.map(|(at, _)| at)) {
            return r;
        }
        let ms = whole.map(|(_, t)| t.as_millis()).unwrap_or(0);
        ex.abort(
            Error::new(
                ErrorKind::Timeout,
                format!("timed out: no complete response within {ms} ms (request timeout)"),
            )
            .with_processed(Processed::Maybe),
        );
        ex.wait(None).unwrap_or_else(|| {
            Err(Error::new(
                ErrorKind::Internal,
                "request finished without a result",
            ))
        })
    }

    /// Starts `req` and returns at once. The response is read as it arrives
    /// ([`Call::wait_headers`], [`Call::read`]); a streaming request body is written with
    /// [`Call::write`] and ended with [`Call::finish`].
    pub fn start(&self, req: Arc<Request>) -> Result<Call> {
        let ex = self.prepare(req, Mode::Streaming, None, false)?;
        self.pool.submit(Pending::new(ex.clone()));
        Ok(Call { ex, gen: self.gen })
    }

    /// Submits `req` and returns at once; `notify` runs once the whole response is buffered
    /// (or the request failed), on the thread that completed it.
    pub fn submit(&self, req: Arc<Request>, notify: Notify) -> Result<Call> {
        let ex = self.prepare(req, Mode::Buffered, Some(notify), false)?;
        self.pool.submit(Pending::new(ex.clone()));
        Ok(Call { ex, gen: self.gen })
    }

    /// Closes every connection (GOAWAY(NO_ERROR)); requests still waiting fail with
    /// `H2_E_CLOSED`. Waits briefly for the GOAWAY to be written unless called from a runtime
    /// thread. Then shuts the event hook off: when this returns, no event callback of this
    /// client is running (but one that called this, on its own thread) and none will start.
    pub fn close(&self) {
        if runtime::check_fork(self.gen, "client").is_err() {
            // The connections belong to the parent process; touching them here could
            // deadlock on locks held by threads that do not exist in this process.
            return;
        }
        let grace = if runtime::on_runtime_thread() {
            Duration::ZERO
        } else {
            CLOSE_GRACE
        };
        self.pool.close(grace);
        if let Some(gate) = &self.events {
            gate.close();
        }
    }

    /// A snapshot of the pool.
    pub fn snapshot(&self) -> ClientSnapshot {
        let conns = self.pool.connections();
        let c = &self.pool.counters;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        ClientSnapshot {
            dialing: self.pool.dialing(),
            draining: conns.iter().filter(|c| !c.is_usable()).count(),
            requests_completed: load(&c.requests_completed),
            requests_failed: load(&c.requests_failed),
            bytes_sent: load(&c.bytes_sent),
            bytes_received: load(&c.bytes_received),
            limits_tripped: std::array::from_fn(|i| load(&c.limits_tripped[i])),
            fast_submits: load(&c.fast_submits),
            reader_messages: load(&c.reader_messages),
            connections: conns.len(),
            connections_opened: self
                .pool
                .counters
                .connections_opened
                .load(std::sync::atomic::Ordering::Relaxed),
            waiting: self.pool.waiting(),
            open_streams: conns.iter().map(|c| u64::from(c.open_streams())).sum(),
            stream_limits: conns.iter().map(|c| c.stream_limit()).collect(),
            rtt_us: conns.iter().map(|c| c.rtt_us()).collect(),
            retries: self
                .pool
                .counters
                .retries
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// Refuses a blocking call on a runtime thread (a library callback), where it would
/// deadlock.
pub(crate) fn check_thread(what: &str) -> Result<()> {
    if runtime::on_runtime_thread() {
        return Err(Error::new(
            ErrorKind::WrongThread,
            format!("cannot block ({what}) on a library thread (a callback): it would deadlock"),
        ));
    }
    Ok(())
}

/// A request/response exchange in flight. Dropping it cancels the exchange if it has not
/// ended.
pub struct Call {
    ex: Arc<Exchange>,
    gen: usize,
}

impl Call {
    /// Writes request body bytes (copied once); blocks while the upload queue is full (flow
    /// control). Only for requests marked with a streaming body. A write that would exceed
    /// the request's content-length is refused (`InvalidArgument`) and fails the call.
    pub fn write(&self, data: &[u8]) -> Result<()> {
        if !self.ex.streaming_body {
            return Err(Error::invalid(
                "the request was not marked with a streaming body",
            ));
        }
        check_thread("writing the request body")?;
        self.check_fork()?;
        self.ex.write(data)
    }

    /// Ends the request body (END_STREAM), with trailers if given. Trailers that are invalid
    /// or frame, route or authenticate the message are refused (`InvalidArgument`, the body
    /// stays open); a body short of the request's content-length fails the call.
    pub fn finish(&self, trailers: Option<HeaderList>) -> Result<()> {
        if !self.ex.streaming_body {
            return Err(Error::invalid(
                "the request was not marked with a streaming body",
            ));
        }
        self.check_fork()?;
        self.ex.finish_body(trailers)
    }

    fn check_fork(&self) -> Result<()> {
        runtime::check_fork(self.gen, "this call")
    }

    /// Blocks until the final response head arrives (1xx skipped) or the call fails.
    pub fn wait_headers(&self) -> Result<()> {
        check_thread("waiting for the response head")?;
        self.check_fork()?;
        self.ex.wait_head()
    }

    /// The status (0 until the head arrived).
    pub fn status(&self) -> u16 {
        self.ex.with_head(|r| r.status)
    }

    /// Runs `f` on the response head (status and headers; empty until it arrived).
    pub fn with_head<T>(&self, f: impl FnOnce(&Response) -> T) -> T {
        self.ex.with_head(f)
    }

    /// Runs `f` on the trailers once the body has ended (`None` before).
    pub fn with_trailers<T>(&self, f: impl FnOnce(Option<&HeaderList>) -> T) -> T {
        self.ex.with_trailers(f)
    }

    /// Reads body bytes as they arrive; blocks until some are available; `Ok(0)` at the end.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        if self.ex.mode != Mode::Streaming {
            return Err(Error::invalid(
                "a submitted call buffers its response: take it whole once the call completed",
            ));
        }
        check_thread("reading the response body")?;
        self.check_fork()?;
        self.ex.read(buf)
    }

    /// Moves up to `max` pieces of the response body to `out` without copying them (each a
    /// DATA frame's payload), blocking until there is one; none at the end of the body.
    /// Reopens the stream's window as [`Call::read`] does.
    pub fn read_chunks(&self, max: usize, out: &mut Vec<bytes::Bytes>) -> Result<()> {
        if self.ex.mode != Mode::Streaming {
            return Err(Error::invalid(
                "a submitted call buffers its response: take it whole once the call completed",
            ));
        }
        check_thread("reading the response body")?;
        self.check_fork()?;
        self.ex.read_chunks(max, out)
    }

    /// Cancels the exchange (RST_STREAM(CANCEL) if its stream is open); waiting calls return
    /// `Canceled`. Harmless after the end.
    pub fn cancel(&self) {
        if self.check_fork().is_err() {
            return;
        }
        self.ex.abort(
            Error::new(ErrorKind::Canceled, "request canceled by the caller")
                .with_processed(Processed::Maybe),
        );
    }

    /// The error the call ended with, if it failed.
    pub fn error(&self) -> Option<Error> {
        self.ex.error()
    }

    /// Whether the call has ended (response complete, failed, or cancelled).
    pub fn is_done(&self) -> bool {
        self.ex.is_done()
    }

    /// Blocks until the call has ended.
    pub fn wait(&self) -> Result<()> {
        check_thread("waiting for the call to end")?;
        self.check_fork()?;
        self.ex.wait_done(None);
        match self.ex.error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Takes the buffered response of a completed submitted call (once).
    pub fn response(&self) -> Result<Response> {
        self.ex.take_response()
    }

    /// Response body bytes received and not yet read (streaming calls).
    pub fn buffered(&self) -> usize {
        self.ex.buffered()
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if self.check_fork().is_err() {
            // Leak what belongs to the parent process rather than run its teardown here.
            std::mem::forget(self.ex.clone());
            return;
        }
        if !self.ex.is_done() {
            self.cancel();
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if runtime::check_fork(self.gen, "client").is_err() {
            // Leak the parent's pool: its teardown would touch the parent's runtime.
            std::mem::forget(self.pool.clone());
            return;
        }
        self.close();
    }
}
