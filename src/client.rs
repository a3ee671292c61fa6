//! The client: its pools (one per origin), and the blocking request path.
//!
//! A client made with a base URL holds that origin's pool directly: a request made with a
//! path goes to it without any lookup (the one-origin hot path). Requests made from absolute
//! URLs of other origins find their pool in a map keyed by origin (scheme, host, port) under
//! an `RwLock`: a read lock to find it, the write lock only to insert a new origin. An origin
//! with no connection, no dial and nothing waiting is dropped from the map once it has been
//! so for the idle timeout (90 s if connections never idle out): by a sweep when a new origin
//! is inserted (at most once per idle timeout) and by a timer task that runs while the map is
//! not empty. A dropped origin's counters are folded into the client's totals.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockWriteGuard, Weak};
use std::time::{Duration, Instant};

use once_cell::sync::OnceCell;

use crate::config::Config;
use crate::connect::Connector;
use crate::error::{Error, ErrorKind, Processed, Result};
use crate::events::Gate;
use crate::exchange::{Deadlines, Exchange, Mode, Notify, Pending};
use crate::headers::HeaderList;
use crate::info::RequestInfo;
use crate::pool::{ClientLimits, PoolCounters, PoolInner};
use crate::redirect::Hops;
use crate::request::Request;
use crate::response::Response;
use crate::runtime;
use crate::url::{Scheme, Target};

/// How long closing a client waits for its connections to send GOAWAY and close.
const CLOSE_GRACE: Duration = Duration::from_millis(250);

/// How long an origin without connections stays in the map when connections never idle out.
const ORIGIN_IDLE_DEFAULT: Duration = Duration::from_secs(90);

/// An HTTP/2 client for any number of origins, with an optional base URL for requests that
/// name only a path. Cheap to share between threads (`&Client` is enough).
pub struct Client {
    /// The base URL's pool: path-only requests go here without a lookup.
    base: Option<Arc<PoolInner>>,
    /// The pools of the other origins.
    origins: Arc<Origins>,
    cfg: Arc<Config>,
    /// The gate of the event hook, if one is set: closed by [`Client::close`].
    events: Option<Arc<Gate>>,
    /// The fork generation the client was created in (see `runtime::generation`).
    gen: usize,
    /// `scheme://authority` of the base URL: the URL of a path-only request is this and its
    /// path (shared with calls, which make it only when asked).
    base_prefix: Option<Arc<str>>,
}

/// The pools of the origins other than the base URL's.
struct Origins {
    cfg: Arc<Config>,
    limits: Arc<ClientLimits>,
    /// What connecting shares over the client's origins (the resolver cache).
    connector: Arc<Connector>,
    /// One TLS configuration for every https origin (SNI is each origin's host), made when
    /// the first one needs it unless the base URL is https.
    tls: OnceCell<Arc<rustls::ClientConfig>>,
    map: RwLock<OriginMap>,
    /// Counters of the origins dropped from the map, for the client's totals.
    retired: PoolCounters,
}

#[derive(Default)]
struct OriginMap {
    pools: crate::url::OriginMap<Arc<PoolInner>>,
    closed: bool,
    /// The next sweep on insert is not before this.
    next_sweep: Option<Instant>,
    /// The sweeper task is running.
    sweeper: bool,
}

impl Origins {
    /// How long an origin stays without connections before it is dropped.
    fn idle(&self) -> Duration {
        self.cfg.idle_timeout.unwrap_or(ORIGIN_IDLE_DEFAULT)
    }

    fn write(&self) -> RwLockWriteGuard<'_, OriginMap> {
        self.map.write().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, o: &Target) -> Option<Arc<PoolInner>> {
        let m = self.map.read().unwrap_or_else(|e| e.into_inner());
        m.pools.get(o).cloned()
    }

    /// Every origin's pool now in the map.
    fn pools(&self) -> Vec<Arc<PoolInner>> {
        let m = self.map.read().unwrap_or_else(|e| e.into_inner());
        m.pools.values().cloned().collect()
    }

    /// The pool of origin `o`, created if needed.
    fn pool_for(self: &Arc<Self>, o: &Target) -> Result<Arc<PoolInner>> {
        if let Some(p) = self.get(o) {
            return Ok(p);
        }
        let tls = match o.scheme {
            Scheme::Https => Some(
                self.tls
                    .get_or_try_init(|| crate::tls::client_config(&self.cfg.tls))?
                    .clone(),
            ),
            Scheme::Http => None,
        };
        let mut m = self.write();
        if m.closed {
            return Err(Error::new(ErrorKind::Closed, "the client was closed"));
        }
        if let Some(p) = m.pools.get(o) {
            return Ok(p.clone());
        }
        let now = Instant::now();
        if m.next_sweep.is_none_or(|t| now >= t) {
            self.sweep(&mut m);
            m.next_sweep = Some(now + self.idle());
        }
        let p = PoolInner::new(
            o.clone(),
            self.cfg.clone(),
            tls,
            self.limits.clone(),
            self.connector.clone(),
        );
        m.pools.insert(o.clone(), p.clone());
        if !m.sweeper {
            let me = Arc::downgrade(self);
            let every = self.idle();
            m.sweeper = runtime::spawn(async move { sweeper(me, every).await }).is_ok();
        }
        Ok(p)
    }

    /// Drops the origins idle for the idle timeout that nobody is about to use (the map holds
    /// the only reference: no request is between finding the pool and submitting to it).
    fn sweep(&self, m: &mut OriginMap) {
        let idle = self.idle();
        let mut gone = Vec::new();
        m.pools.retain(|_, p| {
            let keep = Arc::strong_count(p) > 1 || !p.idle_for(idle);
            if !keep {
                gone.push(p.clone());
            }
            keep
        });
        for p in gone {
            self.retired.absorb(&p.counters);
        }
    }
}

/// Sweeps `origins` every `every` while its map is not empty.
async fn sweeper(origins: Weak<Origins>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(o) = origins.upgrade() else {
            return;
        };
        let mut m = o.write();
        o.sweep(&mut m);
        if m.pools.is_empty() || m.closed {
            m.sweeper = false;
            return;
        }
    }
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
    /// Connections being dialed (at most one per origin).
    pub dials: usize,
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
    /// writer task (plain TCP, a request alone on its connection). Test builds only.
    #[cfg(feature = "testing")]
    pub fast_submits: u64,
    /// Times a connection's reader task woke up for a message (a stream to register, a
    /// cancel, ...) rather than for the socket or a timer. Test builds only.
    #[cfg(feature = "testing")]
    pub reader_messages: u64,
}

impl Client {
    /// A client whose base URL is `base_url` (`http://host[:port]` or `https://...`; any
    /// path is ignored): requests made with a path go to its origin. Requests made from
    /// absolute URLs may go to any origin.
    pub fn new(base_url: &str, cfg: Config) -> Result<Client> {
        Client::build(Some(base_url), cfg)
    }

    /// A client without a base URL: every request names its origin (an absolute URL).
    pub fn without_base(cfg: Config) -> Result<Client> {
        Client::build(None, cfg)
    }

    fn build(base_url: Option<&str>, mut cfg: Config) -> Result<Client> {
        let target = base_url.map(Target::parse).transpose()?;
        let tls = match target.as_ref().map(|t| t.scheme) {
            Some(Scheme::Https) => Some(crate::tls::client_config(&cfg.tls)?),
            _ => None,
        };
        runtime::get()?;
        cfg.resolve_proxies();
        let events = cfg.events.is_some().then(|| Arc::new(Gate::default()));
        if let (Some(hook), Some(gate)) = (cfg.events.take(), &events) {
            cfg.events = Some(hook.gated(gate.clone()));
        }
        let cfg = Arc::new(cfg);
        let limits = ClientLimits::new(cfg.max_connections);
        let connector = Arc::new(Connector::default());
        let origins = Arc::new(Origins {
            cfg: cfg.clone(),
            limits: limits.clone(),
            connector: connector.clone(),
            tls: OnceCell::new(),
            map: RwLock::new(OriginMap::default()),
            retired: PoolCounters::default(),
        });
        if let Some(t) = &tls {
            let _ = origins.tls.set(t.clone());
        }
        let base_prefix = target
            .as_ref()
            .map(|t| Arc::from(format!("{}://{}", t.scheme.as_str(), t.authority)));
        let base = target.map(|t| PoolInner::new(t, cfg.clone(), tls, limits.clone(), connector));
        let (b, o) = (base.as_ref().map(Arc::downgrade), Arc::downgrade(&origins));
        limits.set_pools(Box::new(move || {
            let mut all: Vec<Arc<PoolInner>> = b.iter().filter_map(Weak::upgrade).collect();
            if let Some(o) = o.upgrade() {
                all.extend(o.pools());
            }
            all
        }));
        Ok(Client {
            base,
            origins,
            cfg,
            events,
            gen: runtime::generation(),
            base_prefix,
        })
    }

    /// The client's configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The pool a request goes to: the base URL's for a path-only request or a URL of the
    /// same origin (no lookup), else its origin's from the map.
    fn route(&self, req: &Request) -> Result<Cow<'_, Arc<PoolInner>>> {
        route_in(&self.base, &self.origins, req)
    }

    /// The base URL's origin, if the client has one.
    fn base_target(&self) -> Option<&Target> {
        self.base.as_ref().map(|p| &p.target)
    }

    /// Sends `req` and blocks until the whole response has arrived or the request failed.
    /// Must not be called from a runtime thread.
    ///
    /// Redirects are followed as the client's configuration says (see [`crate::redirect`]):
    /// the response is the last one, with its URL and the number of redirects followed.
    pub fn execute(&self, req: Arc<Request>) -> Result<Response> {
        self.execute_traced(req).map(|(r, _)| r)
    }

    /// [`Client::execute`], with the information of the request that got the response (its
    /// times counted from the first request of a redirect chain).
    pub(crate) fn execute_traced(&self, req: Arc<Request>) -> Result<(Response, RequestInfo)> {
        check_thread("waiting for a whole response")?;
        if req.streaming_body {
            return Err(Error::invalid(
                "a request with a streaming body cannot be sent whole: start it as a call and write its body",
            ));
        }
        runtime::check_fork(self.gen, "this client")?;
        let mut hops = Hops::new(&req, self.base_target(), &self.cfg);
        let mut req = req;
        let mut started = None;
        loop {
            let (mut resp, mut info) = self.execute_once(req.clone())?;
            // The times of the response count from the first request.
            started = started.or(info.started);
            info.call_started = started;
            match hops.next(&req, resp.status, &resp.headers, self.cfg.redirects)? {
                Some(next) => req = Arc::new(next),
                None => {
                    resp.set_url(hops.current(), hops.count());
                    return Ok((resp, info));
                }
            }
        }
    }

    /// Sends `req` (one hop) and blocks until the whole response has arrived.
    fn execute_once(&self, req: Arc<Request>) -> Result<(Response, RequestInfo)> {
        let pool = self.route(&req)?;
        let ex = prepare(&self.cfg, &pool, req, Mode::Buffered, None, true)?;
        let whole = ex.deadlines.whole;
        pool.submit(Pending::new(ex.clone()));
        if let Some(r) = ex.wait_traced(whole.map(|(at, _)| at)) {
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
        ex.wait_traced(None).unwrap_or_else(|| {
            Err(Error::new(
                ErrorKind::Internal,
                "request finished without a result",
            ))
        })
    }

    /// Starts `req` and returns at once. The response is read as it arrives
    /// ([`Call::wait_headers`], [`Call::read`]); a streaming request body is written with
    /// [`Call::write`] and ended with [`Call::finish`]. Redirects are followed (as
    /// [`Client::execute`] follows them) when the caller waits for the head or reads, unless
    /// the request body is streamed: then a 3xx is the call's response.
    pub fn start(&self, req: Arc<Request>) -> Result<Call> {
        runtime::check_fork(self.gen, "this client")?;
        let pool = self.route(&req)?;
        let follows = self.cfg.redirects.max > 0 && !req.streaming_body;
        let hops = follows.then(|| Hops::new(&req, self.base_target(), &self.cfg));
        let ex = prepare(&self.cfg, &pool, req, Mode::Streaming, None, false)?;
        pool.submit(Pending::new(ex.clone()));
        let mut call = self.call(ex.clone(), None);
        if let Some(hops) = hops {
            call.follow = Some(Box::new(Follow {
                cur: Mutex::new(ex),
                hops: Mutex::new(hops),
                base: self.base.clone(),
                origins: self.origins.clone(),
                cfg: self.cfg.clone(),
                count: AtomicU32::new(0),
                settled: std::sync::atomic::AtomicBool::new(false),
                error: OnceCell::new(),
                final_url: OnceCell::new(),
            }));
        }
        Ok(call)
    }

    fn call(&self, ex: Arc<Exchange>, chain: Option<Arc<Chain>>) -> Call {
        // Streamed bodies are decoded as they are read (buffered ones by the reader).
        let decoding = (self.cfg.accept_encoding.is_some()
            && !ex.req.has_accept_encoding
            && ex.mode == Mode::Streaming)
            .then(Box::default);
        Call {
            decoding,
            ex,
            gen: self.gen,
            chain,
            base: self.base_prefix.clone(),
            url: OnceCell::new(),
            follow: None,
        }
    }

    /// Submits `req` and returns at once; `notify` runs once the whole response is buffered
    /// (or the request failed), on the thread that completed it. Redirects are followed as
    /// [`Client::execute`] follows them (a request with a streaming body follows none).
    pub fn submit(&self, req: Arc<Request>, notify: Notify) -> Result<Call> {
        runtime::check_fork(self.gen, "this client")?;
        if self.cfg.redirects.max == 0 || req.streaming_body {
            let pool = self.route(&req)?;
            let ex = prepare(&self.cfg, &pool, req, Mode::Buffered, Some(notify), false)?;
            pool.submit(Pending::new(ex.clone()));
            return Ok(self.call(ex, None));
        }
        req.check_complete()?;
        let outer = Exchange::with(
            req.clone(),
            Mode::Buffered,
            Deadlines::default(),
            Some(notify),
            None,
        );
        let chain = Arc::new(Chain {
            outer: outer.clone(),
            base: self.base.clone(),
            origins: self.origins.clone(),
            cfg: self.cfg.clone(),
            hops: Mutex::new(Hops::new(&req, self.base_target(), &self.cfg)),
            count: AtomicU32::new(0),
            current: Mutex::new(None),
            final_url: OnceCell::new(),
            info: OnceCell::new(),
        });
        chain.launch(req)?;
        Ok(self.call(outer, Some(chain)))
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
        let pools: Vec<Arc<PoolInner>> = {
            let mut m = self.origins.write();
            m.closed = true;
            m.pools.values().cloned().collect()
        };
        let mut conns = Vec::new();
        for p in self.base.iter().chain(&pools) {
            conns.extend(p.begin_close());
        }
        crate::pool::wait_closed(&conns, grace);
        if let Some(gate) = &self.events {
            gate.close();
        }
    }

    /// Closes the connections of every origin that have no request in flight (Go's
    /// `Transport.CloseIdleConnections`); busy ones are left alone. Returns how many.
    pub fn close_idle_connections(&self) -> usize {
        if runtime::check_fork(self.gen, "client").is_err() {
            return 0;
        }
        let pools = self.origins.pools();
        self.base.iter().chain(&pools).map(|p| p.close_idle()).sum()
    }

    /// A snapshot of the client: totals over every origin (those dropped from the map
    /// included, for the counters).
    pub fn snapshot(&self) -> ClientSnapshot {
        let mut s = ClientSnapshot::default();
        if let Some(b) = &self.base {
            add_pool(&mut s, b);
        }
        let pools: Vec<Arc<PoolInner>> = {
            let m = self.origins.map.read().unwrap_or_else(|e| e.into_inner());
            m.pools.values().cloned().collect()
        };
        for p in &pools {
            add_pool(&mut s, p);
        }
        add_counters(&mut s, &self.origins.retired);
        s
    }

    /// A snapshot of one origin (`scheme://host[:port]`): zeros if the client has no pool
    /// for it (never used, or dropped after the idle timeout).
    pub fn origin_snapshot(&self, origin: &str) -> Result<ClientSnapshot> {
        let o = Target::parse_origin(origin)?;
        let mut s = ClientSnapshot::default();
        let pool = match &self.base {
            Some(b) if b.target.same_origin(&o) => Some(b.clone()),
            _ => self.origins.get(&o),
        };
        if let Some(p) = pool {
            add_pool(&mut s, &p);
        }
        Ok(s)
    }

    /// Origins in the map (the base URL's not counted), for tests.
    #[doc(hidden)]
    pub fn origins_held(&self) -> usize {
        self.origins
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .pools
            .len()
    }

    /// Connections open or being dialed over the whole client (the `max_connections` count).
    pub fn connections_counted(&self) -> usize {
        self.origins.limits.connections()
    }
}

/// The pool `req` goes to: `base`'s for a path-only request or a URL of the same origin (no
/// lookup), else its origin's from `origins`.
fn route_in<'a>(
    base: &'a Option<Arc<PoolInner>>,
    origins: &Arc<Origins>,
    req: &Request,
) -> Result<Cow<'a, Arc<PoolInner>>> {
    match (&req.origin, base) {
        (None, Some(b)) => Ok(Cow::Borrowed(b)),
        (None, None) => Err(Error::invalid(
            "this client has no base URL: a request made with a path alone needs one; make the request from an absolute URL",
        )),
        (Some(o), Some(b)) if b.target.same_origin(o) => Ok(Cow::Borrowed(b)),
        (Some(o), _) => origins.pool_for(o).map(Cow::Owned),
    }
}

/// Builds the exchange for `req`: deadlines from the request or the client, and a timer
/// task when a timeout is not waited out by a blocked caller.
fn prepare(
    cfg: &Config,
    pool: &PoolInner,
    req: Arc<Request>,
    mode: Mode,
    notify: Option<Notify>,
    caller_waits_whole: bool,
) -> Result<Arc<Exchange>> {
    req.check_complete()?;
    let now = Instant::now();
    let deadlines = Deadlines {
        whole: req.timeout.or(cfg.request_timeout).map(|t| (now + t, t)),
        headers: req
            .headers_timeout
            .or(cfg.headers_timeout)
            .map(|t| (now + t, t)),
        body_idle: req.body_idle_timeout.or(cfg.body_idle_timeout),
    };
    let counters = Some(pool.counters.clone());
    let ex = Exchange::made_at(req, mode, deadlines, notify, counters, now);
    ex.set_runtime(pool.rt);
    if ex.needs_timer(caller_waits_whole) {
        let h = runtime::spawn_on(pool.rt, ex.clone().run_timer())?;
        ex.set_timer(h.abort_handle());
    }
    Ok(ex)
}

/// A submitted request that follows redirects: the caller's exchange (`outer`, completed with
/// the final result) and the hop in flight. Each hop is its own exchange; when one completes
/// with a redirect to follow, the next is launched from a runtime task (never from inside the
/// completion, which may run under a connection's locks).
struct Chain {
    outer: Arc<Exchange>,
    base: Option<Arc<PoolInner>>,
    origins: Arc<Origins>,
    cfg: Arc<Config>,
    hops: Mutex<Hops>,
    /// Redirects followed so far.
    count: AtomicU32,
    /// The hop in flight (cleared when it completes, which breaks the reference cycle through
    /// its notification).
    current: Mutex<Option<Arc<Exchange>>>,
    /// The final URL, NUL-terminated, once the chain has ended with a response.
    final_url: OnceCell<Arc<str>>,
    /// The information of the last request, once the chain has ended.
    info: OnceCell<RequestInfo>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Chain {
    /// Submits `req` as the next hop.
    fn launch(self: &Arc<Self>, req: Arc<Request>) -> Result<()> {
        let pool = route_in(&self.base, &self.origins, &req)?;
        self.outer.set_runtime(pool.rt);
        let me = self.clone();
        let notify: Notify = Arc::new(move |inner: &Exchange| me.hop_done(inner));
        let ex = prepare(&self.cfg, &pool, req, Mode::Buffered, Some(notify), false)?;
        *lock(&self.current) = Some(ex.clone());
        pool.submit(Pending::new(ex.clone()));
        if self.outer.is_done() {
            // Cancelled while this hop was being made.
            ex.abort(Error::new(
                ErrorKind::Canceled,
                "request canceled by the caller",
            ));
        }
        Ok(())
    }

    /// Ends the chain with `result`.
    fn finish(&self, result: Result<Response>) {
        if let Err(e) = &result {
            for _ in 0..e.retries {
                self.outer.add_retry();
            }
        }
        self.outer.complete(result);
    }

    /// A hop completed: follow its redirect, or end the chain with it.
    fn hop_done(self: &Arc<Self>, inner: &Exchange) {
        lock(&self.current).take();
        if self.outer.is_done() {
            return;
        }
        let (mut resp, info) = match inner.take_traced() {
            Ok(r) => r,
            Err(e) => {
                self.ended_with(inner.info());
                return self.finish(Err(e));
            }
        };
        let mut hops = lock(&self.hops);
        match hops.next(&inner.req, resp.status, &resp.headers, self.cfg.redirects) {
            Ok(None) => {
                resp.set_url(hops.current(), hops.count());
                let _ = self.final_url.set(resp.url_nul_shared());
                self.ended_with(info);
                drop(hops);
                self.finish(Ok(resp));
            }
            Ok(Some(next)) => {
                self.count.store(hops.count(), Ordering::Relaxed);
                drop(hops);
                let me = self.clone();
                let req = Arc::new(next);
                let spawned = runtime::spawn(async move {
                    if let Err(e) = me.launch(req) {
                        me.finish(Err(e));
                    }
                });
                if let Err(e) = spawned {
                    self.finish(Err(e));
                }
            }
            Err(e) => {
                drop(hops);
                self.ended_with(info);
                self.finish(Err(e));
            }
        }
    }

    /// Keeps the information of the chain's last request (times from the chain's start).
    fn ended_with(&self, mut info: RequestInfo) {
        info.call_started = Some(self.outer.created);
        let _ = self.info.set(info);
    }
}

/// Adds a pool's state and counters to `s`.
fn add_pool(s: &mut ClientSnapshot, pool: &PoolInner) {
    let conns = pool.connections();
    let dialing = pool.dialing();
    s.dialing |= dialing;
    s.dials += usize::from(dialing);
    s.draining += conns.iter().filter(|c| !c.is_usable()).count();
    s.connections += conns.len();
    s.waiting += pool.waiting();
    s.open_streams += conns
        .iter()
        .map(|c| u64::from(c.open_streams()))
        .sum::<u64>();
    s.stream_limits
        .extend(conns.iter().map(|c| c.stream_limit()));
    s.rtt_us.extend(conns.iter().map(|c| c.rtt_us()));
    add_counters(s, &pool.counters);
}

/// Adds counters to `s`.
fn add_counters(s: &mut ClientSnapshot, c: &PoolCounters) {
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    s.requests_completed += load(&c.requests_completed);
    s.requests_failed += load(&c.requests_failed);
    s.bytes_sent += load(&c.bytes_sent);
    s.bytes_received += load(&c.bytes_received);
    for (i, t) in s.limits_tripped.iter_mut().enumerate() {
        *t += load(&c.limits_tripped[i]);
    }
    #[cfg(feature = "testing")]
    {
        s.fast_submits += load(&c.fast_submits);
        s.reader_messages += load(&c.reader_messages);
    }
    s.connections_opened += load(&c.connections_opened);
    s.retries += load(&c.retries);
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
    /// The caller's exchange (with redirects followed, the chain's outer one).
    ex: Arc<Exchange>,
    gen: usize,
    /// The redirect chain of a submitted call that follows redirects.
    chain: Option<Arc<Chain>>,
    /// The client's base URL as `scheme://authority` (for the URL of a path-only request).
    base: Option<Arc<str>>,
    /// The request's URL, NUL-terminated, made when first asked for.
    url: OnceCell<Arc<str>>,
    /// The redirects of a streaming call that follows them.
    follow: Option<Box<Follow>>,
    /// The decoding of a streamed body, on a client that decodes (`accept_encoding`).
    decoding: Option<Box<crate::decode::StreamDecoding>>,
}

/// A streaming call that follows redirects: the hop whose response the caller reads. The
/// next hop is started when the caller waits for the head (or reads) and the current one
/// answered with a redirect to follow; the redirect's stream is reset.
struct Follow {
    cur: Mutex<Arc<Exchange>>,
    /// Held while settling (waiting for heads, starting hops).
    hops: Mutex<Hops>,
    base: Option<Arc<PoolInner>>,
    origins: Arc<Origins>,
    cfg: Arc<Config>,
    count: AtomicU32,
    /// The head of the final response has arrived (or the call failed).
    settled: std::sync::atomic::AtomicBool,
    /// Why following failed (too many redirects, the next hop could not start...).
    error: OnceCell<Error>,
    final_url: OnceCell<Arc<str>>,
}

impl Follow {
    fn cur(&self) -> Arc<Exchange> {
        lock(&self.cur).clone()
    }

    fn settled(&self) -> bool {
        self.settled.load(Ordering::Acquire)
    }

    /// Waits for the final response head, following redirects.
    fn settle(&self) -> Result<()> {
        let mut hops = lock(&self.hops);
        loop {
            if self.settled() {
                return match self.error.get() {
                    Some(e) => Err(e.clone()),
                    None => Ok(()),
                };
            }
            let ex = self.cur();
            let step = ex.wait_head().and_then(|()| {
                let (status, headers) = ex.with_head(|r| (r.status, r.headers.clone()));
                hops.next(&ex.req, status, &headers, self.cfg.redirects)
            });
            let next = match step {
                Ok(Some(next)) => Arc::new(next),
                Ok(None) => {
                    let _ = self.final_url.set(format!("{}\0", hops.current()).into());
                    self.settled.store(true, Ordering::Release);
                    continue;
                }
                Err(e) => {
                    // The hop's own failure, or ours (which then fails the hop too).
                    let _ = self.error.set(e.clone());
                    ex.abort(e);
                    self.settled.store(true, Ordering::Release);
                    continue;
                }
            };
            // The redirect's body is not wanted.
            ex.abort(Error::new(
                ErrorKind::Canceled,
                "redirect followed: the rest of its response is not wanted",
            ));
            let started = route_in(&self.base, &self.origins, &next).and_then(|pool| {
                let hop = prepare(&self.cfg, &pool, next, Mode::Streaming, None, false)?;
                *lock(&self.cur) = hop.clone();
                pool.submit(Pending::new(hop));
                Ok(())
            });
            if let Some(e) = self.error.get() {
                // Cancelled while the hop was being started.
                self.cur().abort(e.clone());
            }
            match started {
                Ok(()) => self.count.store(hops.count(), Ordering::Relaxed),
                Err(e) => {
                    let _ = self.error.set(e);
                    self.settled.store(true, Ordering::Release);
                }
            }
        }
    }
}

impl Call {
    /// The runtime the call's connection lives on (for a queue's poller to drive).
    pub(crate) fn runtime(&self) -> Option<usize> {
        self.ex.runtime()
    }

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

    /// The exchange whose response the caller reads: the current hop of a streaming call
    /// that follows redirects, else the call's own.
    fn cur(&self) -> Cow<'_, Arc<Exchange>> {
        match &self.follow {
            Some(f) => Cow::Owned(f.cur()),
            None => Cow::Borrowed(&self.ex),
        }
    }

    /// Whether the head the caller may see is that of the final response: always, unless
    /// redirects are still being followed.
    fn head_final(&self) -> bool {
        self.follow.as_ref().is_none_or(|f| f.settled())
    }

    /// Follows redirects until the final response head (streaming calls that follow them).
    fn settle(&self) -> Result<()> {
        match &self.follow {
            Some(f) => f.settle(),
            None => Ok(()),
        }
    }

    /// Blocks until the final response head arrives (1xx skipped) or the call fails. A
    /// streaming call that follows redirects follows them here.
    pub fn wait_headers(&self) -> Result<()> {
        check_thread("waiting for the response head")?;
        self.check_fork()?;
        self.settle()?;
        self.cur().wait_head()
    }

    /// The status (0 until the head arrived; for a streaming call that follows redirects,
    /// until the final head arrived and [`Call::wait_headers`] or a read saw it).
    pub fn status(&self) -> u16 {
        self.with_head(|r| r.status)
    }

    /// Runs `f` on the response head (status and headers; empty until it arrived).
    pub fn with_head<T>(&self, f: impl FnOnce(&Response) -> T) -> T {
        if !self.head_final() {
            return f(&Response::default());
        }
        self.cur().with_head(f)
    }

    /// Runs `f` on the trailers once the body has ended (`None` before).
    pub fn with_trailers<T>(&self, f: impl FnOnce(Option<&HeaderList>) -> T) -> T {
        if !self.head_final() {
            return f(None);
        }
        self.cur().with_trailers(f)
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
        self.settle()?;
        match &self.decoding {
            Some(d) => d.read(&self.cur(), buf),
            None => self.cur().read(buf),
        }
    }

    /// Moves up to `max` pieces of the response body to `out` without copying them (each a
    /// DATA frame's payload), blocking until there is one; none at the end of the body.
    /// Reopens the stream's window as [`Call::read`] does. A decoded body comes in pieces of
    /// up to 64 KiB (at most 4) decoded into a buffer of the call, reused once they are
    /// dropped.
    pub fn read_chunks(&self, max: usize, out: &mut Vec<bytes::Bytes>) -> Result<()> {
        if self.ex.mode != Mode::Streaming {
            return Err(Error::invalid(
                "a submitted call buffers its response: take it whole once the call completed",
            ));
        }
        check_thread("reading the response body")?;
        self.check_fork()?;
        self.settle()?;
        match &self.decoding {
            Some(d) => d.read_chunks(&self.cur(), max, out),
            None => self.cur().read_chunks(max, out),
        }
    }

    /// Whether the response body is decoded from its content codings as it is read (known
    /// once the final head has arrived).
    pub fn decoded(&self) -> bool {
        self.with_head(|r| r.decoded())
    }

    /// Cancels the exchange (RST_STREAM(CANCEL) if its stream is open); waiting calls return
    /// `Canceled`. Harmless after the end.
    pub fn cancel(&self) {
        if self.check_fork().is_err() {
            return;
        }
        let e = Error::new(ErrorKind::Canceled, "request canceled by the caller")
            .with_processed(Processed::Maybe);
        self.ex.abort(e.clone());
        if let Some(c) = &self.chain {
            let hop = lock(&c.current).clone();
            if let Some(hop) = hop {
                hop.abort(e);
            }
        } else if let Some(f) = &self.follow {
            let _ = f.error.set(e.clone());
            f.settled.store(true, Ordering::Release);
            f.cur().abort(e);
        }
    }

    /// The URL of the response: the request's, or once a call that follows redirects has
    /// its final response (a submitted call completed; a streaming call's final head seen)
    /// the last one redirected to. Without credentials.
    pub fn effective_url(&self) -> &str {
        self.effective_url_nul().trim_end_matches('\0')
    }

    /// [`Call::effective_url_nul`], shared (a response of the call keeps it).
    fn effective_url_shared(&self) -> Arc<str> {
        // A call that follows no redirects to a URL request: the request's own URL, without
        // the once-cell (its synchronisation costs more than the clone).
        if let (None, None, Some(_), Some(u)) = (
            &self.chain,
            &self.follow,
            self.ex.req.origin(),
            &self.ex.req.url_nul,
        ) {
            return u.clone();
        }
        self.effective_url_nul();
        let cell = self
            .chain
            .as_ref()
            .and_then(|c| c.final_url.get())
            .or_else(|| self.follow.as_ref().and_then(|f| f.final_url.get()))
            .or_else(|| self.url.get());
        cell.cloned().unwrap_or_default()
    }

    /// [`Call::effective_url`], NUL-terminated.
    pub(crate) fn effective_url_nul(&self) -> &str {
        if let Some(u) = self.chain.as_ref().and_then(|c| c.final_url.get()) {
            return u;
        }
        if let Some(u) = self.follow.as_ref().and_then(|f| f.final_url.get()) {
            return u;
        }
        self.url.get_or_init(|| {
            let req = &self.ex.req;
            match (req.origin(), &self.base, &req.url_nul) {
                (Some(_), _, Some(u)) => u.clone(),
                (None, Some(b), _) => crate::redirect::shared_str(&[b, req.path(), "\0"]),
                _ => crate::redirect::url_shared(req, None, "\0"),
            }
        })
    }

    /// The information of the request whose response the caller gets (the current one while
    /// redirects are followed), times counted from the call's start: what is not known yet
    /// is 0 or absent.
    pub(crate) fn info(&self) -> RequestInfo {
        let mut info = match &self.chain {
            Some(c) => match c.info.get() {
                Some(i) => i.clone(),
                None => lock(&c.current)
                    .clone()
                    .map(|hop| hop.info())
                    .unwrap_or_default(),
            },
            None => self.cur().info(),
        };
        info.call_started = Some(self.ex.created);
        info
    }

    /// Redirects followed so far.
    pub fn redirect_count(&self) -> u32 {
        if let Some(f) = &self.follow {
            return f.count.load(Ordering::Relaxed);
        }
        self.chain
            .as_ref()
            .map_or(0, |c| c.count.load(Ordering::Relaxed))
    }

    /// The error the call ended with, if it failed.
    pub fn error(&self) -> Option<Error> {
        if let Some(e) = self.follow.as_ref().and_then(|f| f.error.get()) {
            return Some(e.clone());
        }
        if let Some(e) = self.decoding.as_ref().and_then(|d| d.error()) {
            return Some(e);
        }
        if !self.head_final() {
            return None;
        }
        self.cur().error()
    }

    /// Whether the call has ended (response complete, failed, or cancelled). A streaming
    /// call that follows redirects has not ended before its final head was waited for.
    pub fn is_done(&self) -> bool {
        if self
            .follow
            .as_ref()
            .is_some_and(|f| f.error.get().is_some())
        {
            return true;
        }
        self.head_final() && self.cur().is_done()
    }

    /// Blocks until the call has ended.
    pub fn wait(&self) -> Result<()> {
        check_thread("waiting for the call to end")?;
        self.check_fork()?;
        self.settle()?;
        let ex = self.cur();
        ex.wait_done(None);
        match ex.error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Takes the buffered response of a completed submitted call (once).
    pub fn response(&self) -> Result<Response> {
        self.response_traced().map(|(r, _)| r)
    }

    /// [`Call::response`], with the information of the request that got it.
    pub(crate) fn response_traced(&self) -> Result<(Response, RequestInfo)> {
        let (mut r, mut info) = self.ex.take_traced()?;
        match &self.chain {
            None => r.set_url_nul(self.effective_url_shared(), 0),
            Some(c) => info = c.info.get().cloned().unwrap_or_default(),
        }
        info.call_started = Some(self.ex.created);
        Ok((r, info))
    }

    /// Response body bytes received and not yet read (streaming calls); of a decoded body,
    /// the compressed bytes not yet decoded.
    pub fn buffered(&self) -> usize {
        if !self.head_final() {
            return 0;
        }
        self.cur().buffered() + self.decoding.as_ref().map_or(0, |d| d.held())
    }

    /// The exchange whose response the caller reads (where `h2_call_notify` arms its
    /// notification: the final hop once redirects were followed).
    pub(crate) fn exchange(&self) -> Arc<Exchange> {
        self.cur().into_owned()
    }

    /// Checks a non-blocking call (`h2_call_try_*`, `h2_call_notify`): a streaming call,
    /// not forked, not still following redirects (those need the blocking wait for the
    /// head, which starts the next hops).
    pub(crate) fn check_nonblocking(&self) -> Result<()> {
        if self.ex.mode != Mode::Streaming {
            return Err(Error::invalid(
                "a submitted call buffers its response: take it whole once the call completed",
            ));
        }
        self.check_fork()?;
        if !self.head_final() {
            return Err(Error::invalid(
                "a call that follows redirects needs the blocking wait for its final head",
            ));
        }
        Ok(())
    }

    /// [`Call::wait_headers`] without waiting: `None` while the head has not arrived.
    pub(crate) fn try_wait_headers(&self) -> Option<Result<()>> {
        self.check_nonblocking()
            .err()
            .map(Err)
            .or_else(|| self.cur().try_head())
    }

    /// [`Call::read`] without waiting: `None` while nothing can be read yet.
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> Option<Result<usize>> {
        if let Err(e) = self.check_nonblocking() {
            return Some(Err(e));
        }
        match &self.decoding {
            Some(d) => d.try_read(&self.cur(), buf),
            None => self.cur().try_read(buf),
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if self.check_fork().is_err() {
            // Keep what belongs to the parent process rather than run its teardown here.
            runtime::keep_from_parent(self.ex.clone());
            return;
        }
        if !self.is_done() {
            self.cancel();
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if runtime::check_fork(self.gen, "client").is_err() {
            // Keep the parent's pools: their teardown would touch the parent's runtime.
            runtime::keep_from_parent((self.base.clone(), self.origins.clone()));
            return;
        }
        self.close();
    }
}
