//! A client's connections to one origin, the dialer and the queue of requests waiting for a
//! stream slot. A client holds one such pool per origin (see `client.rs`).
//!
//! A request goes to the first connection that can open another stream. When none can, it
//! waits in the queue and, if fewer than `max_connections_per_origin` connections to the
//! origin exist and no dial is in flight, one connection is dialed (one at a time, so a burst
//! of requests does not open a burst of connections). New connections assume the concurrent
//! stream limit the previous one announced until their own SETTINGS arrive.
//!
//! The whole-client cap `max_connections` is a count shared by the client's pools
//! ([`ClientLimits`]): a dial takes one unit before it starts (compare-and-swap, no lock) and
//! gives it back when it fails or its connection closes. A pool that finds the count full
//! registers as starved and is woken when a unit comes back anywhere in the client.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::conn::{self, Assigned, ConnOwner, ConnParams, ConnShared, Slot};
use crate::connect::{connect, Connector, Transport};
use crate::error::{Error, ErrorKind, Origin, Processed, Reason};
use crate::events::{self, EventKind};
use crate::exchange::Pending;
use crate::runtime;
use crate::url::Target;

pub use crate::counters::PoolCounters;

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

/// The whole-client connection cap, shared by a client's pools.
pub(crate) struct ClientLimits {
    /// `max_connections`.
    max: usize,
    /// Connections open or being dialed, over every pool of the client.
    count: AtomicUsize,
    /// Pools that wanted to dial while the count was full.
    starved: Mutex<Vec<Weak<PoolInner>>>,
    /// `starved` is not empty (read without its lock when a connection goes idle).
    any_starved: AtomicBool,
    /// Idle connections still to close for the starved pools: one per pool that registered,
    /// so that a burst of connections going idle closes one, not all of them.
    evictions_owed: AtomicUsize,
    /// Every pool of the client (set by the client once made), to find an idle connection
    /// to close when the count is full.
    pools: std::sync::OnceLock<Box<dyn Fn() -> Vec<Arc<PoolInner>> + Send + Sync>>,
}

impl ClientLimits {
    /// Limits for at most `max` connections.
    pub(crate) fn new(max: u32) -> Arc<ClientLimits> {
        Arc::new(ClientLimits {
            max: max as usize,
            count: AtomicUsize::new(0),
            starved: Mutex::new(Vec::new()),
            any_starved: AtomicBool::new(false),
            evictions_owed: AtomicUsize::new(0),
            pools: std::sync::OnceLock::new(),
        })
    }

    fn add_starved(&self, p: &Arc<PoolInner>) {
        let mut starved = self.starved();
        starved.push(Arc::downgrade(p));
        self.any_starved.store(true, Ordering::Release);
        self.evictions_owed.fetch_add(1, Ordering::AcqRel);
    }

    /// Closes `c` (idle) for a starved pool if an eviction is still owed.
    fn evict(&self, c: &ConnShared) {
        if c.idle_since().is_none() {
            return;
        }
        let owed = self
            .evictions_owed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if owed.is_ok() {
            c.drain();
        }
    }

    /// Tells the limits how to list the client's pools.
    pub(crate) fn set_pools(&self, f: Box<dyn Fn() -> Vec<Arc<PoolInner>> + Send + Sync>) {
        let _ = self.pools.set(f);
    }

    /// The count is full and a pool wants to dial: closes the client's connection idle
    /// longest, of any origin, as curl does at its total-connection cap; its unit then
    /// comes back and wakes the starved pools. Runs on the runtime (it takes the pools'
    /// locks, which the caller may hold one of).
    fn evict_idle(self: &Arc<Self>) {
        let limits = self.clone();
        let _ = runtime::spawn(async move {
            let Some(pools) = limits.pools.get().map(|f| f()) else {
                return;
            };
            let oldest = pools
                .iter()
                .flat_map(|p| p.connections())
                .filter_map(|c| c.idle_since().map(|t| (t, c)))
                .min_by_key(|(t, _)| *t);
            if let Some((_, c)) = oldest {
                limits.evict(&c);
            }
        });
    }

    fn try_acquire(&self) -> bool {
        self.count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok()
    }

    fn starved(&self) -> MutexGuard<'_, Vec<Weak<PoolInner>>> {
        self.starved.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives back one connection's unit and wakes the starved pools. Must be called without
    /// any pool's lock held (it takes the woken pools' locks).
    fn release(&self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
        let woken = {
            let mut starved = self.starved();
            self.any_starved.store(false, Ordering::Release);
            // The unit that came back is what the evictions were for.
            self.evictions_owed.store(0, Ordering::Release);
            std::mem::take(&mut *starved)
        };
        for p in woken.iter().filter_map(Weak::upgrade) {
            p.lock().starved = false;
            p.drain();
        }
    }

    /// Connections open or being dialed in the whole client.
    pub(crate) fn connections(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }
}

struct PoolState {
    conns: Vec<Arc<ConnShared>>,
    /// Since when the pool has had no connection, dial or waiting request (when it last
    /// became empty; meaningless while it is not).
    empty_since: Instant,
    /// Registered in `ClientLimits::starved`.
    starved: bool,
    dialing: bool,
    waiting: VecDeque<Pending>,
    /// MAX_CONCURRENT_STREAMS the latest connection announced (100 before any).
    announced_limit: u32,
    closed: bool,
    /// Dials held back while the server allows no streams (see `NoStreams`).
    no_streams: Option<NoStreams>,
    /// A timer task will run `maybe_dial` again.
    timer_armed: bool,
}

/// While every connection allows no streams (SETTINGS_MAX_CONCURRENT_STREAMS = 0, legal and
/// usually temporary), each new connection would say the same: one more dial is tried at
/// once, later ones back off (doubling from `NO_STREAMS_FIRST_BACKOFF`, capped), and waiting
/// requests fail after the connect timeout, as if no connection could be made.
struct NoStreams {
    since: Instant,
    dials: u32,
    next_dial: Instant,
}

const NO_STREAMS_FIRST_BACKOFF: Duration = Duration::from_millis(100);
const NO_STREAMS_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The pool of one origin of a client.
pub struct PoolInner {
    pub(crate) cfg: Arc<Config>,
    pub(crate) target: Target,
    authority: Arc<str>,
    state: Mutex<PoolState>,
    waiting_len: AtomicUsize,
    pub(crate) counters: Arc<PoolCounters>,
    /// The TLS configuration of an https origin.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The client's connection cap.
    limits: Arc<ClientLimits>,
    /// What the client's connections share to connect (the resolver cache).
    connector: Arc<Connector>,
    /// The proxy this origin's connections go through (`Err`: the environment's is unusable),
    /// decided when the client was created: a pool's connections all use the same one.
    proxy: Option<std::result::Result<Arc<crate::proxy::Proxy>, Error>>,
    /// The runtime this pool's connections live on (callers waiting for them drive it).
    pub(crate) rt: usize,
}

fn closed_error() -> Error {
    Error::new(
        ErrorKind::Closed,
        "client closed while the request was waiting",
    )
}

/// Why a connection ends when its client is freed.
fn client_freed() -> Error {
    Error::new(ErrorKind::Closed, "the client was closed")
}

impl PoolInner {
    /// A pool for `target`, counting its connections in `limits`.
    pub(crate) fn new(
        target: Target,
        cfg: Arc<Config>,
        tls: Option<Arc<rustls::ClientConfig>>,
        limits: Arc<ClientLimits>,
        connector: Arc<Connector>,
    ) -> Arc<PoolInner> {
        Arc::new(PoolInner {
            authority: Arc::from(target.authority.as_str()),
            proxy: cfg.proxy_for(&target),
            cfg,
            target,
            state: Mutex::new(PoolState {
                conns: Vec::new(),
                empty_since: Instant::now(),
                starved: false,
                dialing: false,
                waiting: VecDeque::new(),
                announced_limit: 100,
                closed: false,
                no_streams: None,
                timer_armed: false,
            }),
            waiting_len: AtomicUsize::new(0),
            counters: Arc::new(PoolCounters::default()),
            tls,
            limits,
            connector,
            rt: runtime::pick(),
        })
    }

    /// Whether the pool has had no connection, dial or waiting request for `idle` or more.
    pub(crate) fn idle_for(&self, idle: Duration) -> bool {
        let st = self.lock();
        st.conns.is_empty()
            && !st.dialing
            && st.waiting.is_empty()
            && st.empty_since.elapsed() >= idle
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn reserve(st: &PoolState) -> Option<(Arc<ConnShared>, Slot)> {
        st.conns
            .iter()
            .find_map(|c| c.try_reserve().map(|s| (c.clone(), s)))
    }

    /// Sends a request to a connection, or queues it (dialing if the rules allow).
    pub(crate) fn submit(self: &Arc<Self>, mut p: Pending) {
        loop {
            let mut st = self.lock();
            if st.closed {
                drop(st);
                p.finish(Err(closed_error()));
                return;
            }
            let Some((c, slot)) = Self::reserve(&st) else {
                st.waiting.push_back(p);
                self.prune(&mut st);
                self.waiting_len.store(st.waiting.len(), Ordering::Release);
                self.maybe_dial(&mut st);
                return;
            };
            drop(st);
            match c.submit(Assigned { pending: p, slot }) {
                Ok(()) => return,
                Err(a) => {
                    // The writer is gone: the connection is closing.
                    c.set_going_away();
                    let Assigned { pending, slot } = a;
                    drop(slot);
                    p = pending;
                }
            }
        }
    }

    /// Drops cancelled requests from a long queue so that a stalled pool does not grow.
    fn prune(&self, st: &mut PoolState) {
        let n = st.waiting.len();
        if n >= 1024 && n.is_power_of_two() {
            let (keep, gone): (VecDeque<_>, VecDeque<_>) =
                st.waiting.drain(..).partition(|p| !p.ex().is_done());
            st.waiting = keep;
            gone.into_iter().for_each(Pending::discard);
        }
    }

    /// Re-submits a request the server provably did not process, within the per-request cap
    /// and the client's retry budget. A streamed request body cannot be replayed: once part
    /// of it went out, the request fails instead (still with processed = NO).
    pub(crate) fn retry(self: &Arc<Self>, p: Pending, mut err: Error) {
        let ex = p.ex();
        if ex.is_done() {
            p.discard();
            return;
        }
        let n = ex.retries();
        let give_up = if ex.streaming_body && ex.upload_started() {
            Some("a streamed request body cannot be replayed")
        } else if n >= self.cfg.max_retries || self.lock().closed {
            Some("")
        } else if charges_budget(&err) && !self.counters.spend_retry() {
            Some("the client's retry budget is exhausted")
        } else {
            None
        };
        if let Some(why) = give_up {
            let mut msg = err.message.to_string();
            if n > 0 {
                msg.push_str(&format!(" (gave up after {n} retries)"));
            }
            if !why.is_empty() {
                msg.push_str(&format!(" (not retried: {why})"));
            }
            err.message = msg.into();
            if err.reason == Some(Reason::REFUSED_STREAM) && n > 0 {
                err.kind = ErrorKind::Refused;
            }
            p.finish(Err(err));
            return;
        }
        // Not on a stream any more (a timeout now must not blame the old one).
        ex.clear_location();
        let attempt = ex.add_retry();
        ex.detach_upload();
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        events::emit(&self.cfg.events, || {
            let mut ev = events::event(EventKind::Retry, 0, 0, err.message.to_string());
            ev.value = u64::from(attempt);
            ev.h2_error = err.reason.map(|r| r.0).unwrap_or(0);
            ev
        });
        self.submit(p);
    }

    /// Moves waiting requests to connections with free slots.
    fn drain(self: &Arc<Self>) {
        let mut out = Vec::new();
        {
            let mut st = self.lock();
            while let Some(front) = st.waiting.front() {
                if front.ex().is_done() {
                    if let Some(p) = st.waiting.pop_front() {
                        p.discard();
                    }
                    continue;
                }
                let Some((c, slot)) = Self::reserve(&st) else {
                    break;
                };
                match st.waiting.pop_front() {
                    Some(p) => out.push((c, Assigned { pending: p, slot })),
                    None => break,
                }
            }
            self.waiting_len.store(st.waiting.len(), Ordering::Release);
            self.maybe_dial(&mut st);
        }
        // Slots are dropped (and may re-enter the pool) only with the lock released.
        for (c, a) in out {
            if let Err(a) = c.submit(a) {
                c.set_going_away();
                let Assigned { pending, slot } = a;
                drop(slot);
                self.submit(pending);
            }
        }
    }

    /// A stream slot was released somewhere.
    pub(crate) fn slot_freed(self: &Arc<Self>) {
        if self.waiting_len.load(Ordering::Acquire) > 0 {
            self.drain();
        }
    }

    /// Connection `c` has no stream left: if another origin waits for the whole-client cap,
    /// `c` closes so that it can connect.
    pub(crate) fn conn_idle(&self, c: &ConnShared) {
        if !self.limits.any_starved.load(Ordering::Acquire) || c.idle_since().is_none() {
            return;
        }
        // Only for a pool that still has requests waiting (a registration can outlive them).
        let waiting_elsewhere = self.limits.starved().iter().any(|p| {
            p.upgrade().is_some_and(|p| {
                !std::ptr::eq(&*p, self) && p.waiting_len.load(Ordering::Acquire) > 0
            })
        });
        if waiting_elsewhere {
            self.limits.evict(c);
        }
    }

    /// A connection takes no new streams any more.
    pub(crate) fn conn_going_away(self: &Arc<Self>) {
        self.drain();
    }

    /// A connection ended.
    pub(crate) fn conn_closed(self: &Arc<Self>, c: &Arc<ConnShared>) {
        let removed = {
            let mut st = self.lock();
            let before = st.conns.len();
            st.conns.retain(|x| !Arc::ptr_eq(x, c));
            if st.conns.is_empty() {
                st.empty_since = Instant::now();
            }
            before != st.conns.len()
        };
        if removed {
            // Wakes the starved pools (this one too, if it is).
            self.limits.release();
        }
        self.drain();
    }

    /// A connection's server announced its MAX_CONCURRENT_STREAMS (u32::MAX: none).
    pub(crate) fn limit_announced(self: &Arc<Self>, v: u32) {
        self.lock().announced_limit = v;
        self.drain();
    }

    fn maybe_dial(self: &Arc<Self>, st: &mut PoolState) {
        if st.dialing || st.closed || st.waiting.is_empty() {
            return;
        }
        // A connection that can open a stream now takes the waiting requests in `drain`; a
        // dial for them would open a connection nobody needs (a new connection joins the pool
        // before `drain` hands it the queue, and a connection closing in between came here).
        if st
            .conns
            .iter()
            .any(|c| c.is_usable() && c.open_streams() < c.stream_limit())
        {
            return;
        }
        let mut usable = st.conns.iter().filter(|c| c.is_usable()).peekable();
        let no_streams = usable.peek().is_some() && usable.all(|c| c.stream_limit() == 0);
        if !no_streams {
            st.no_streams = None;
        } else {
            let now = Instant::now();
            let ns = st.no_streams.get_or_insert(NoStreams {
                since: now,
                dials: 0,
                next_dial: now,
            });
            let give_up = ns.since + self.cfg.connect_timeout;
            if now >= give_up {
                let failed: Vec<_> = st.waiting.drain(..).collect();
                self.waiting_len.store(0, Ordering::Release);
                let err = self.no_streams_error();
                for p in failed {
                    p.finish(Err(err.clone()));
                }
                return;
            }
            let next_dial = ns.next_dial;
            if now < next_dial || st.conns.len() >= self.cfg.max_connections_per_origin as usize {
                self.arm_timer(st, next_dial.max(now).min(give_up));
                return;
            }
            let backoff = NO_STREAMS_FIRST_BACKOFF
                .saturating_mul(1 << ns.dials.min(10))
                .min(NO_STREAMS_MAX_BACKOFF);
            ns.dials += 1;
            ns.next_dial = now + backoff;
            let wake = ns.next_dial.min(give_up);
            self.arm_timer(st, wake);
        }
        if st.conns.len() >= self.cfg.max_connections_per_origin as usize {
            return;
        }
        if !self.limits.try_acquire() {
            // Register first, then try again: a unit given back in between finds us.
            if !st.starved {
                st.starved = true;
                self.limits.add_starved(self);
                self.limits.evict_idle();
            }
            if !self.limits.try_acquire() {
                return;
            }
        }
        st.dialing = true;
        let assumed = st.announced_limit;
        let pool = self.clone();
        if let Err(e) = runtime::spawn_on(self.rt, async move { pool.dial(assumed).await }) {
            st.dialing = false;
            // The runtime is gone: nobody will dial again, no pool needs waking.
            self.limits.count.fetch_sub(1, Ordering::AcqRel);
            let failed: Vec<_> = st.waiting.drain(..).collect();
            self.waiting_len.store(0, Ordering::Release);
            for p in failed {
                p.finish(Err(e.clone()));
            }
        }
    }

    /// Runs `maybe_dial` again at `at` (one timer at a time; it re-arms itself as needed).
    fn arm_timer(self: &Arc<Self>, st: &mut PoolState, at: Instant) {
        if st.timer_armed {
            return;
        }
        st.timer_armed = true;
        let pool = Arc::downgrade(self);
        let spawned = runtime::spawn_on(self.rt, async move {
            tokio::time::sleep_until(at.into()).await;
            if let Some(pool) = pool.upgrade() {
                pool.lock().timer_armed = false;
                pool.drain();
            }
        });
        if spawned.is_err() {
            st.timer_armed = false;
        }
    }

    fn no_streams_error(&self) -> Error {
        Error::new(
            ErrorKind::Refused,
            format!(
                "the server allows no streams: every connection to {} announced SETTINGS_MAX_CONCURRENT_STREAMS = 0 for {} ms (the connect timeout); the request was not sent",
                self.authority,
                self.cfg.connect_timeout.as_millis()
            ),
        )
        .with_origin(Origin::Remote)
        .with_processed(Processed::No)
    }

    async fn dial(self: Arc<Self>, assumed_limit: u32) {
        let proxy = match &self.proxy {
            Some(Err(e)) => {
                self.dial_failed(e.clone());
                return;
            }
            Some(Ok(p)) => Some(&**p),
            None => None,
        };
        let (t, cfg, via) = (&self.target, &self.cfg, &self.connector);
        match connect(t, cfg, via, self.tls.clone(), proxy).await {
            Ok((stream, mut info)) => {
                info.id = NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed);
                let addr = info.remote.to_string();
                let params = ConnParams {
                    id: info.id,
                    peer: addr.clone(),
                    info: Arc::new(info),
                    cfg: self.cfg.clone(),
                    pool: Arc::downgrade(&self) as Weak<dyn ConnOwner>,
                    scheme: self.target.scheme.as_str(),
                    authority: self.authority.clone(),
                    assumed_limit,
                    counters: self.counters.clone(),
                    rt: self.rt,
                };
                let conn = match stream {
                    Transport::Tcp(tcp) => {
                        let (rd, wr) = tcp.into_split();
                        conn::start_tcp(rd, crate::connect::nosigpipe::TcpWrite(wr), params)
                    }
                    Transport::Tls(tls) => {
                        let (rd, wr) = tokio::io::split(*tls);
                        conn::start(rd, wr, params)
                    }
                    Transport::Other(io) => {
                        let (rd, wr) = tokio::io::split(io);
                        conn::start(rd, wr, params)
                    }
                };
                self.counters
                    .connections_opened
                    .fetch_add(1, Ordering::Relaxed);
                events::emit(&self.cfg.events, || {
                    events::event(
                        EventKind::Connected,
                        conn.id,
                        0,
                        format!("connected to {addr}"),
                    )
                });
                {
                    let mut st = self.lock();
                    st.dialing = false;
                    if st.closed {
                        drop(st);
                        conn.shutdown(client_freed());
                        self.limits.release();
                        return;
                    }
                    st.conns.push(conn);
                }
                self.drain();
            }
            Err(e) => self.dial_failed(e),
        }
    }

    /// A dial failed with `e`: the waiting requests fail with it unless a connection remains
    /// to take them, and the connection's unit of the client cap goes back.
    fn dial_failed(&self, e: Error) {
        events::emit(&self.cfg.events, || {
            events::event(EventKind::ConnectFailed, 0, 0, e.message.to_string())
        });
        let failed: Vec<_> = {
            let mut st = self.lock();
            st.dialing = false;
            st.empty_since = Instant::now();
            if st.conns.iter().any(|c| c.is_usable()) {
                // Busy connections will take the waiting requests as slots free up.
                Vec::new()
            } else {
                self.waiting_len.store(0, Ordering::Release);
                st.waiting.drain(..).collect()
            }
        };
        // The unit goes back before the callers hear of the failure, so that a caller that
        // sees its request fail also sees the connection count without it.
        self.limits.release();
        for p in failed {
            p.finish(Err(e.clone()));
        }
    }

    /// Closes every connection (GOAWAY(NO_ERROR)) and fails every waiting request; returns the
    /// connections, for [`wait_closed`].
    pub(crate) fn begin_close(&self) -> Vec<Arc<ConnShared>> {
        let (conns, waiting) = {
            let mut st = self.lock();
            st.closed = true;
            self.waiting_len.store(0, Ordering::Release);
            (st.conns.clone(), std::mem::take(&mut st.waiting))
        };
        for p in waiting {
            p.finish(Err(closed_error()));
        }
        for c in &conns {
            c.shutdown(client_freed());
        }
        conns
    }

    /// Starts closing every connection with no stream open (GOAWAY(NO_ERROR), then close):
    /// requests that pick one of them in the meantime are sent on another connection.
    /// Returns how many it closes.
    pub(crate) fn close_idle(&self) -> usize {
        let conns = self.lock().conns.clone();
        let mut n = 0;
        for c in conns {
            if c.is_usable() && c.open_streams() == 0 {
                c.drain();
                n += 1;
            }
        }
        n
    }

    /// The connections now in the pool.
    pub(crate) fn connections(&self) -> Vec<Arc<ConnShared>> {
        self.lock().conns.clone()
    }

    /// Whether a connection is being dialed.
    pub(crate) fn dialing(&self) -> bool {
        self.lock().dialing
    }

    /// Requests waiting for a stream slot.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting_len.load(Ordering::Acquire)
    }
}

impl ConnOwner for PoolInner {
    fn on_slot_freed(self: Arc<Self>, c: &ConnShared, idle: bool) {
        self.slot_freed();
        if idle {
            self.conn_idle(c);
        }
    }

    fn on_going_away(self: Arc<Self>) {
        self.conn_going_away();
    }

    fn on_closed(self: Arc<Self>, c: &Arc<ConnShared>) {
        self.conn_closed(c);
    }

    fn on_retry(self: Arc<Self>, pending: Pending, cause: Error) {
        self.retry(pending, cause);
    }

    fn on_limit_announced(self: Arc<Self>, v: u32) {
        self.limit_announced(v);
    }
}

/// Waits up to `grace` for `conns` to finish closing.
pub(crate) fn wait_closed(conns: &[Arc<ConnShared>], grace: Duration) {
    if grace.is_zero() {
        return;
    }
    let until = Instant::now() + grace;
    while Instant::now() < until && conns.iter().any(|c| !c.is_closed()) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether a retry caused by `err` is paid from the retry budget. A graceful GOAWAY(NO_ERROR)
/// after the server made progress, and requests moved off a draining connection, are normal
/// operation (nginx does it every `keepalive_requests`); refusals, GOAWAYs with an error or
/// with nothing processed, and failed connections are what a retry storm is made of.
fn charges_budget(err: &Error) -> bool {
    match (err.kind, err.reason) {
        (_, Some(Reason::REFUSED_STREAM)) => true,
        (ErrorKind::GoAway, Some(r)) => r != Reason::NO_ERROR || err.goaway_last_stream_id == 0,
        (ErrorKind::GoAway, None) => false,
        _ => true,
    }
}
