//! The runtimes that host every connection of every client, who drives them, and their
//! shutdown (`h2_global_cleanup`).
//!
//! A set of tokio `current_thread` runtimes (one per CPU by default), each with a home thread.
//! A program's thread that waits for the library drives the runtime its work lives on (see
//! [`drive`]), as gRPC's pollers and libcurl's multi interface use the threads of the
//! application; the home thread drives it when no caller waits.

use std::future::Future;

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once, PoisonError, RwLock};
use std::time::{Duration, Instant};

use once_cell::sync::OnceCell;
use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinHandle;

use crate::error::{Error, ErrorKind, Result};

/// How long building the runtime waits for its threads to be running (see [`Threads`]).
const START_WAIT: Duration = Duration::from_secs(5);
/// How long [`shutdown`] waits for the runtime's threads to finish (a host-name lookup in
/// `getaddrinfo` cannot be interrupted and may take this long).
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);
/// How long an idle blocking-pool thread (host-name lookups) stays for the next lookup.
const BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(3600);

/// How long a runtime's home thread leaves it to callers after the last one left, before it
/// drives the runtime again itself. A caller that comes back within this (the next request of
/// a loop) finds the runtime free and drives it without waking anyone; what arrives for
/// nobody's waiting caller in the meantime (a callback-mode response, a PING) waits at most
/// this long.
const HOME_LINGER: Duration = Duration::from_millis(1);

/// How often a home thread looks whether the callers driving its runtime have all left. A
/// leaving caller does not wake it: at a round trip of some microseconds a program's loop
/// leaves and comes back many times per millisecond, and waking the home thread each time it
/// was waiting cost a futex wake and two context switches per millisecond (0.05 per request
/// at `-c1 -m1`). So once the callers are gone, the home thread takes over within this plus
/// [`HOME_LINGER`]; work that no caller waits for asks for it at once ([`ensure_driven`]).
const HOME_POLL: Duration = Duration::from_millis(5);

/// One runtime of the engine: a tokio `current_thread` runtime and the coordination between
/// its home thread and the callers that drive it.
///
/// A thread blocked in the library (`h2_client_do`, a read, a queue poll) runs the runtime its
/// work lives on (`Runtime::block_on` of its own wait): its connections' reads, frame
/// handling, writes and timers run on that thread, so that a response reaches the waiting
/// thread without a hand-off to another thread. While callers are in, one of them drives and
/// the others wait for their work or for the runtime (tokio hands it to one of them when the
/// driver leaves). When no caller has been in for [`HOME_LINGER`], the home thread drives it
/// (timers, keepalive, callback and queue-fd requests, idle connections) until a caller comes.
struct Driver {
    /// The runtime; `None` once shut down. Read-locked for the whole of a `block_on`, so that
    /// shutdown (write lock) knows nobody is inside.
    rt: RwLock<Option<Runtime>>,
    handle: Handle,
    /// Callers inside [`drive`] on this runtime (driving it, or waiting while another does).
    callers: AtomicUsize,
    /// Callers that left so far: the home thread takes over once a whole [`HOME_LINGER`]
    /// passed without a caller in or out (a counter, not a clock read per leave).
    leaves: AtomicU64,
    /// The home thread is inside `block_on`: an arriving caller must ask it to leave.
    home_holds: AtomicBool,
    /// Work arrived that no caller will wait for by driving (a callback-mode request, a
    /// notification armed for an event loop): the home thread takes over without lingering.
    wanted: AtomicBool,
    /// Tells the home thread's `block_on` to return (a caller arrived, or shutdown).
    give_up: tokio::sync::Notify,
    /// Wakes callers inside `block_on` at shutdown.
    closing_now: tokio::sync::Notify,
    closing: AtomicBool,
    /// Where the home thread sleeps while callers drive.
    nap: Mutex<()>,
    nap_cv: Condvar,
    /// Tasks to wake by whoever drives next (see [`wake_soon`]), and whether there are any.
    deferred: Mutex<Vec<std::task::Waker>>,
    has_deferred: AtomicBool,
}

/// Every runtime of a process generation.
struct Engine {
    drivers: Box<[Arc<Driver>]>,
    /// Round-robin choice of a runtime for new work.
    next: AtomicUsize,
}

impl Engine {
    fn driver(&self, idx: usize) -> &Arc<Driver> {
        &self.drivers[idx % self.drivers.len()]
    }
}

/// What [`shutdown`] takes down.
struct Running {
    engine: Arc<Engine>,
    /// Counts the blocking-pool threads (host-name lookups, deferred callbacks).
    threads: Arc<Threads>,
    homes: Vec<std::thread::JoinHandle<()>>,
}

/// One process generation's runtimes.
struct Slot {
    /// Set once the engine is built: what [`get`] and [`spawn`] use, without a lock.
    engine: OnceCell<Arc<Engine>>,
    /// The engine's threads; taken only by [`shutdown`] (and locked while building, so that
    /// a shutdown cannot miss an engine being built).
    runtime: Mutex<Option<Running>>,
    /// Set by [`shutdown`]: this process has no runtime any more and builds none.
    closed: AtomicBool,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            engine: OnceCell::new(),
            runtime: Mutex::new(None),
            closed: AtomicBool::new(false),
        }
    }
}

/// One engine per fork generation. A child of `fork()` cannot use its parent's runtimes (their
/// threads do not exist there) and must not drop or shut them down (that would try to join
/// them): it builds its own in the next slot, and the parent's stay leaked in their slot.
/// [`shutdown`] only ever touches the calling process's own slot. 64 generations means 64
/// nested forks, far beyond any real process tree.
static SLOTS: [Slot; 64] = [const { Slot::new() }; 64];

/// Counts threads that are running: incremented by each thread as it starts, decremented as
/// it stops.
#[derive(Default)]
struct Threads {
    running: Mutex<usize>,
    changed: Condvar,
}

impl Threads {
    fn add(&self, n: isize) {
        let mut r = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        *r = r.saturating_add_signed(n);
        self.changed.notify_all();
    }

    fn running(&self) -> usize {
        *self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until at least `n` threads are running, at most `limit`.
    fn wait_for(&self, n: usize, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        let mut r = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        while *r < n {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            r = self
                .changed
                .wait_timeout(r, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

thread_local! {
    /// This (caller's) thread is inside [`drive`]: connection code running here runs on a
    /// thread of the program, not of the library.
    static DRIVING: Cell<bool> = const { Cell::new(false) };
}

/// Incremented in the child by a `pthread_atfork` handler (an atomic add is
/// async-signal-safe): cheaper than comparing `getpid()` on every call.
static FORK_GENERATION: AtomicUsize = AtomicUsize::new(0);
static ATFORK: Once = Once::new();

extern "C" fn forked_child() {
    FORK_GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// How many `fork()`s separate this process from the one that first used the library. Objects
/// record it when created; a mismatch means they came from a parent process.
pub fn generation() -> usize {
    ATFORK.call_once(|| {
        // SAFETY: registers a handler that only performs an atomic increment.
        unsafe {
            libc::pthread_atfork(None, None, Some(forked_child));
        }
    });
    FORK_GENERATION.load(Ordering::Acquire)
}

/// Fails with `H2_E_FORKED` if `created_in` is not this process's generation.
pub fn check_fork(created_in: usize, what: &str) -> Result<()> {
    if created_in != generation() {
        return Err(Error::new(
            ErrorKind::Forked,
            format!("{what} was created before fork(): create a new one in this process"),
        ));
    }
    Ok(())
}

/// Runtimes (each with its home thread): `H2CLIENT_WORKER_THREADS` if set to a positive
/// number, else one per CPU.
fn runtimes() -> usize {
    std::env::var("H2CLIENT_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0 && n <= 1024)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
}

/// Blocks SIGPIPE on the calling thread (one of the library's own). Sockets are also written
/// from programs' threads that drive a runtime, so every socket write of the library uses
/// `send(MSG_NOSIGNAL)` as well (std's TCP streams do; Unix sockets go through
/// `connect::NoSigPipe`): a write to a connection the peer closed returns EPIPE instead of
/// raising a SIGPIPE that would kill the host program (a C program has SIGPIPE's default
/// action; only Rust binaries ignore it).
fn block_sigpipe() {
    // SAFETY: sigemptyset/sigaddset initialise a local sigset_t; pthread_sigmask only changes
    // this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn closed_error() -> Error {
    Error::new(
        ErrorKind::Closed,
        "the library was shut down (h2_global_cleanup): no new clients or requests in this process",
    )
}

fn slot() -> Result<&'static Slot> {
    SLOTS
        .get(generation())
        .ok_or_else(|| Error::new(ErrorKind::Forked, "too many nested fork() generations"))
}

/// A handle to one of this process's runtimes (built on first use, again in a forked child).
/// Fails with `Closed` after [`shutdown`]. Lock-free once built.
pub fn get() -> Result<&'static Handle> {
    Ok(&engine()?.drivers[0].handle)
}

fn engine() -> Result<&'static Arc<Engine>> {
    let slot = slot()?;
    if slot.closed.load(Ordering::Acquire) {
        return Err(closed_error());
    }
    slot.engine.get_or_try_init(|| build(slot))
}

/// Fails with `Closed` if [`shutdown`] ran in this process. One atomic load: for the request
/// path of the C API, so that a client still alive after the shutdown fails at once.
pub fn check_running() -> Result<()> {
    match SLOTS.get(generation()) {
        Some(slot) if slot.closed.load(Ordering::Acquire) => Err(closed_error()),
        _ => Ok(()),
    }
}

/// Builds the engine into `slot` and waits until its threads are running.
///
/// A thread that is still being created when the process exits is a problem for leak
/// checkers: its `std::thread` handle and start closure are reachable only from the new
/// thread, which LeakSanitizer does not scan yet, so they are reported as leaked (seen in 2-3 %
/// of runs of a C program that failed right after `h2_client_new`). So this waits (at most
/// [`START_WAIT`]) until every home thread is running, and it starts each runtime's blocking
/// pool's first thread (host-name lookups run there, `tokio::net::lookup_host`) now as well,
/// kept alive for an hour: a lookup later normally reuses it instead of creating a thread in
/// the middle of a request.
///
/// Never inlined: the valgrind suppressions for a forked child, where the parent's runtimes
/// are deliberately leaked (`c-examples/valgrind.supp`), name this frame, and inlining
/// decisions change with unrelated code (an inlined `spawn_unchecked` once broke a pattern).
#[inline(never)]
fn build(slot: &Slot) -> Result<Arc<Engine>> {
    let mut stored = slot.runtime.lock().unwrap_or_else(PoisonError::into_inner);
    if slot.closed.load(Ordering::Acquire) {
        return Err(closed_error());
    }
    let count = runtimes();
    let threads = Arc::new(Threads::default());
    let mut drivers = Vec::with_capacity(count);
    for _ in 0..count {
        let (started, stopped) = (threads.clone(), threads.clone());
        let rt = Builder::new_current_thread()
            .thread_name("h2client-blocking")
            .thread_keep_alive(BLOCKING_KEEP_ALIVE)
            .on_thread_start(move || {
                block_sigpipe();
                started.add(1);
            })
            .on_thread_stop(move || stopped.add(-1))
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("could not start the runtime: {e}"),
                )
            })?;
        // The blocking pool's first thread, which then waits idle for lookups.
        drop(rt.spawn_blocking(|| {}));
        drivers.push(Arc::new(Driver {
            handle: rt.handle().clone(),
            rt: RwLock::new(Some(rt)),
            callers: AtomicUsize::new(0),
            leaves: AtomicU64::new(0),
            home_holds: AtomicBool::new(false),
            wanted: AtomicBool::new(false),
            give_up: tokio::sync::Notify::new(),
            closing_now: tokio::sync::Notify::new(),
            closing: AtomicBool::new(false),
            nap: Mutex::new(()),
            nap_cv: Condvar::new(),
            deferred: Mutex::new(Vec::new()),
            has_deferred: AtomicBool::new(false),
        }));
    }
    let engine = Arc::new(Engine {
        drivers: drivers.into_boxed_slice(),
        next: AtomicUsize::new(0),
    });
    let mut homes = Vec::with_capacity(count);
    for (i, d) in engine.drivers.iter().enumerate() {
        let (d, started) = (d.clone(), threads.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("h2client-home-{i}"))
            .spawn(move || {
                block_sigpipe();
                started.add(1);
                home(&d);
                started.add(-1);
            });
        match spawned {
            Ok(h) => homes.push(h),
            Err(e) => {
                // Stop the homes already started; the runtimes drop with `engine`.
                for d in engine.drivers.iter() {
                    d.close();
                }
                for h in homes {
                    let _ = h.join();
                }
                return Err(Error::new(
                    ErrorKind::Internal,
                    format!("could not start the library's thread: {e}"),
                ));
            }
        }
    }
    // Bounded: on a starved machine the runtime is usable before every thread has started.
    threads.wait_for(2 * count, START_WAIT);
    *stored = Some(Running {
        engine: engine.clone(),
        threads,
        homes,
    });
    Ok(engine)
}

/// A runtime's home thread: drives it whenever no caller has been in for [`HOME_LINGER`].
fn home(d: &Driver) {
    loop {
        {
            let mut g = d.nap.lock().unwrap_or_else(PoisonError::into_inner);
            // The callers' leave count when this thread last looked with none inside.
            let mut seen: Option<u64> = None;
            loop {
                if d.closing.load(Ordering::Acquire) {
                    return;
                }
                if d.callers.load(Ordering::SeqCst) > 0 {
                    // Callers drive: look again later (see HOME_POLL), or when work that no
                    // caller waits for arrives, or at shutdown.
                    g = d
                        .nap_cv
                        .wait_timeout(g, HOME_POLL)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    continue;
                }
                if d.wanted.swap(false, Ordering::SeqCst) {
                    break;
                }
                // No caller inside: take over once a whole linger passed without one coming
                // and going (a program's loop comes back within it).
                let leaves = d.leaves.load(Ordering::SeqCst);
                if seen == Some(leaves) {
                    break;
                }
                seen = Some(leaves);
                g = d
                    .nap_cv
                    .wait_timeout(g, HOME_LINGER)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        let guard = d.rt.read().unwrap_or_else(PoisonError::into_inner);
        let Some(rt) = guard.as_ref() else {
            return;
        };
        d.home_holds.store(true, Ordering::SeqCst);
        rt.block_on(async {
            d.wake_deferred();
            loop {
                let asked = d.give_up.notified();
                tokio::pin!(asked);
                asked.as_mut().enable();
                if d.callers.load(Ordering::SeqCst) > 0 || d.closing.load(Ordering::Acquire) {
                    break;
                }
                asked.await;
            }
        });
        d.home_holds.store(false, Ordering::SeqCst);
    }
}

impl Driver {
    /// Wakes the tasks whose wake-up [`wake_soon`] left to the next driver: from inside
    /// `block_on`, where a wake-up only queues the task (no system call).
    fn wake_deferred(&self) {
        if self.has_deferred.swap(false, Ordering::SeqCst) {
            let wakers =
                std::mem::take(&mut *self.deferred.lock().unwrap_or_else(PoisonError::into_inner));
            for w in wakers {
                w.wake();
            }
        }
    }

    /// Someone is inside `block_on` (or about to be, and will wake the deferred tasks).
    fn is_driven(&self) -> bool {
        self.callers.load(Ordering::SeqCst) > 0 || self.home_holds.load(Ordering::SeqCst)
    }

    /// Tells the home thread and every caller inside to leave, for good.
    fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.give_up.notify_one();
        self.closing_now.notify_waiters();
        let _g = self.nap.lock().unwrap_or_else(PoisonError::into_inner);
        self.nap_cv.notify_all();
    }
}

/// Makes sure runtime `idx` is driven now, for work that no caller will wait for by driving
/// it (a callback-mode request, a notification armed for an event loop): if no caller is in
/// and the home thread lingers, it takes over at once instead of after [`HOME_LINGER`]. Two
/// atomic loads when the runtime is already driven.
pub(crate) fn ensure_driven(idx: usize) {
    let Some(engine) = SLOTS.get(generation()).and_then(|s| s.engine.get()) else {
        return;
    };
    let d = engine.driver(idx);
    if d.home_holds.load(Ordering::SeqCst) {
        return;
    }
    // Set even while callers drive: the last one out then calls the home thread in.
    d.wanted.store(true, Ordering::SeqCst);
    if d.callers.load(Ordering::SeqCst) > 0 {
        return;
    }
    let _g = d.nap.lock().unwrap_or_else(PoisonError::into_inner);
    d.nap_cv.notify_one();
}

/// Wakes `w`, a task of runtime `idx`, from a program's thread (a request submitted to a
/// connection's writer). A wake-up from outside the runtime writes its eventfd (a system
/// call) so that a driver parked in `epoll_wait` sees it; when nobody is driving the runtime
/// that write serves no one: the next driver (the caller's own wait, which usually follows at
/// once, or the home thread after [`HOME_LINGER`]) would find the task anyway. Then the wake-up
/// is left to that driver, which makes it from inside `block_on`.
pub(crate) fn wake_soon(idx: usize, w: std::task::Waker) {
    if on_runtime_thread() {
        // On a library thread or inside a `block_on`: queued locally, or needed now.
        return w.wake();
    }
    let Some(engine) = SLOTS.get(generation()).and_then(|s| s.engine.get()) else {
        return w.wake();
    };
    let d = engine.driver(idx);
    if d.is_driven() || d.closing.load(Ordering::SeqCst) {
        return w.wake();
    }
    d.deferred
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(w.clone());
    d.has_deferred.store(true, Ordering::SeqCst);
    // A driver that came in after the check above may have looked at the list before the
    // push: wake directly then (twice at worst, which is harmless).
    if d.is_driven() || d.closing.load(Ordering::SeqCst) {
        w.wake();
    }
}

/// How a [`drive`] ended.
pub(crate) enum Drove<T> {
    /// The future completed.
    Done(T),
    /// The deadline passed first.
    TimedOut,
    /// This thread cannot drive the runtime (a library thread, or the runtime is shutting
    /// down): wait some other way.
    Unavailable,
}

/// Leaves a runtime: counted for the home thread, which looks by itself (see [`HOME_POLL`]).
struct Leave<'a>(&'a Driver);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        DRIVING.with(|f| f.set(false));
        let d = self.0;
        d.leaves.fetch_add(1, Ordering::SeqCst);
        // The last one out calls the home thread in only for work nobody would wait for by
        // driving (see `ensure_driven`, `wake_soon`); otherwise the home thread looks by
        // itself, so that a program's request loop costs it no system call.
        if d.callers.fetch_sub(1, Ordering::SeqCst) == 1
            && (d.wanted.load(Ordering::SeqCst) || d.has_deferred.load(Ordering::SeqCst))
        {
            let _g = d.nap.lock().unwrap_or_else(PoisonError::into_inner);
            d.nap_cv.notify_one();
        }
    }
}

/// Runs `fut` to completion on runtime `idx` from the calling thread, which drives that
/// runtime (its connections' I/O, frames and timers) while it waits, or waits while another
/// caller drives it. Gives up at `deadline`. `Unavailable` on a library thread (which must not
/// block) and once the runtime is shutting down.
pub(crate) fn drive<F: Future>(idx: usize, deadline: Option<Instant>, fut: F) -> Drove<F::Output> {
    if on_runtime_thread() {
        return Drove::Unavailable;
    }
    let Some(engine) = SLOTS.get(generation()).and_then(|s| s.engine.get()) else {
        return Drove::Unavailable;
    };
    let d = engine.driver(idx);
    let guard = d.rt.read().unwrap_or_else(PoisonError::into_inner);
    let Some(rt) = guard.as_ref() else {
        return Drove::Unavailable;
    };
    let closing = d.closing_now.notified();
    tokio::pin!(closing);
    closing.as_mut().enable();
    if d.closing.load(Ordering::SeqCst) {
        return Drove::Unavailable;
    }
    d.callers.fetch_add(1, Ordering::SeqCst);
    let _leave = Leave(d);
    if d.home_holds.load(Ordering::SeqCst) {
        d.give_up.notify_one();
    }
    DRIVING.with(|f| f.set(true));
    rt.block_on(async move {
        d.wake_deferred();
        let timed = async {
            match deadline {
                None => Drove::Done(fut.await),
                Some(at) => match tokio::time::timeout_at(at.into(), fut).await {
                    Ok(v) => Drove::Done(v),
                    Err(_) => Drove::TimedOut,
                },
            }
        };
        tokio::select! {
            biased;
            _ = closing => Drove::Unavailable,
            r = timed => r,
        }
    })
}

/// Shuts this process's runtimes down for good (`h2_global_cleanup`): their tasks are dropped
/// and their threads joined, waiting at most [`SHUTDOWN_WAIT`]; afterwards [`get`] and
/// [`check_running`] fail with `Closed`. Harmless if the runtime was never built or is
/// already shut down. In a forked child it concerns the child's own runtime only; the
/// parent's (leaked there) is never touched.
///
/// Fails with `WrongThread` on a runtime thread (a library callback), where waiting for the
/// runtime's threads would wait for itself; nothing is shut down then. Fails with `Timeout`
/// if some thread did not finish in time (a host-name lookup blocked in `getaddrinfo`, a
/// callback that does not return): it is left to finish on its own, and the runtime is shut
/// down all the same (or, if a thread is still inside it, left to it).
pub fn shutdown() -> Result<()> {
    if on_runtime_thread() {
        return Err(Error::new(
            ErrorKind::WrongThread,
            "h2_global_cleanup called from a library thread (a callback), where it would wait \
             for itself: call it from the program's own thread",
        ));
    }
    let Some(slot) = SLOTS.get(generation()) else {
        return Ok(());
    };
    let taken = {
        let mut stored = slot.runtime.lock().unwrap_or_else(PoisonError::into_inner);
        slot.closed.store(true, Ordering::Release);
        stored.take()
    };
    let Some(Running {
        engine,
        threads,
        homes,
    }) = taken
    else {
        return Ok(());
    };
    let until = Instant::now() + SHUTDOWN_WAIT;
    for d in engine.drivers.iter() {
        d.close();
    }
    let mut stuck = 0usize;
    for h in homes {
        while !h.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        if h.is_finished() {
            let _ = h.join();
        } else {
            stuck += 1;
        }
    }
    for d in engine.drivers.iter() {
        // Nobody is inside once the write lock is ours: callers left when told to close.
        let mut rt = loop {
            match d.rt.try_write() {
                Ok(g) => break Some(g),
                Err(std::sync::TryLockError::Poisoned(e)) => break Some(e.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(std::sync::TryLockError::WouldBlock) => break None,
            }
        };
        match rt.as_mut().and_then(|g| g.take()) {
            Some(rt) => rt.shutdown_timeout(until.saturating_duration_since(Instant::now())),
            None => stuck += 1,
        }
    }
    match threads.running() + stuck {
        0 => Ok(()),
        n => Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "h2_global_cleanup: {n} library thread(s) still running after {} s (a host-name \
                 lookup? a callback that did not return?); left to finish on their own",
                SHUTDOWN_WAIT.as_secs()
            ),
        )),
    }
}

/// What a forked child keeps of objects made in its parent instead of tearing them down
/// (their teardown would touch the parent's runtime, whose threads do not exist here).
static FROM_PARENT: std::sync::Mutex<Vec<Box<dyn std::any::Any + Send>>> =
    std::sync::Mutex::new(Vec::new());

/// Keeps `v`, made before `fork()`, alive for the rest of this (child) process without running
/// its teardown. Kept reachable from a static rather than forgotten, so that leak checkers see
/// memory the program still references, not memory it lost. If another thread held the list's
/// lock at the fork, it is forgotten instead (that lock is never released in the child).
pub(crate) fn keep_from_parent<T: Send + 'static>(v: T) {
    match FROM_PARENT.try_lock() {
        Ok(mut kept) => kept.push(Box::new(v)),
        Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner().push(Box::new(v)),
        Err(std::sync::TryLockError::WouldBlock) => std::mem::forget(v),
    }
}

/// A runtime for new work (round robin): connections of one origin's pool live on one.
pub(crate) fn pick() -> usize {
    match engine() {
        Ok(e) => e.next.fetch_add(1, Ordering::Relaxed) % e.drivers.len(),
        Err(_) => 0,
    }
}

/// Spawns a task on a runtime (from any thread).
pub fn spawn<F>(fut: F) -> Result<JoinHandle<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_on(pick(), fut)
}

/// Spawns a task on runtime `idx` (see [`pick`]).
pub(crate) fn spawn_on<F>(idx: usize, fut: F) -> Result<JoinHandle<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Ok(engine()?.driver(idx).handle.spawn(fut))
}

/// Runs `f` on a library thread (a runtime's blocking pool): for a user callback that must
/// not run on a program's thread that is driving a runtime.
pub(crate) fn spawn_blocking<F>(f: F) -> Result<()>
where
    F: FnOnce() + Send + 'static,
{
    drop(engine()?.driver(pick()).handle.spawn_blocking(f));
    Ok(())
}

/// Whether the calling thread is running async code (a runtime's thread, a callback called
/// from one, or a program's thread driving a runtime), where blocking on a response would
/// deadlock or starve the runtime.
pub fn on_runtime_thread() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// Whether the calling thread is one of the library's own (a home or blocking-pool thread),
/// as opposed to a program's thread that is driving a runtime while it waits.
pub(crate) fn on_library_thread() -> bool {
    on_runtime_thread() && !DRIVING.with(Cell::get)
}
