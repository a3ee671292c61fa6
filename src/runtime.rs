//! The global tokio runtime that hosts every connection of every client, and its shutdown
//! (`h2_global_cleanup`).

use std::future::Future;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once, PoisonError};
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

/// One process generation's runtime.
struct Slot {
    /// Set once the runtime is built: what [`get`] hands out, without a lock.
    handle: OnceCell<Handle>,
    /// The runtime itself and its thread count; taken only by [`shutdown`] (and locked while
    /// building, so that a shutdown cannot miss a runtime being built).
    runtime: Mutex<Option<(Runtime, Arc<Threads>)>>,
    /// Set by [`shutdown`]: this process has no runtime any more and builds none.
    closed: AtomicBool,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            handle: OnceCell::new(),
            runtime: Mutex::new(None),
            closed: AtomicBool::new(false),
        }
    }
}

/// One runtime per fork generation. A child of `fork()` cannot use its parent's runtime (its
/// threads do not exist there) and must not drop or shut it down (that would try to join
/// them): it builds its own in the next slot, and the parent's stays leaked in its slot.
/// [`shutdown`] only ever touches the calling process's own slot. 64 generations means 64
/// nested forks, far beyond any real process tree.
static SLOTS: [Slot; 64] = [const { Slot::new() }; 64];

/// Counts the runtime's threads that are running: incremented by each thread as it starts
/// (`on_thread_start`), decremented as it stops (`on_thread_stop`).
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

/// Worker threads: `H2CLIENT_WORKER_THREADS` if set to a positive number, else one per CPU.
fn worker_threads() -> usize {
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

/// Blocks SIGPIPE on the calling thread. Our sockets are written only from runtime threads,
/// so a write to a connection the peer closed returns EPIPE there instead of raising a
/// SIGPIPE that would kill the host program (a C program has SIGPIPE's default action; only
/// Rust binaries ignore it).
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

/// A handle to this process's runtime, built on first use (again in a forked child). Fails
/// with `Closed` after [`shutdown`]. Lock-free once built: an atomic load and a `OnceCell`
/// read.
pub fn get() -> Result<&'static Handle> {
    let slot = slot()?;
    if slot.closed.load(Ordering::Acquire) {
        return Err(closed_error());
    }
    slot.handle.get_or_try_init(|| build(slot))
}

/// Fails with `Closed` if [`shutdown`] ran in this process. One atomic load: for the request
/// path of the C API, so that a client still alive after the shutdown fails at once.
pub fn check_running() -> Result<()> {
    match SLOTS.get(generation()) {
        Some(slot) if slot.closed.load(Ordering::Acquire) => Err(closed_error()),
        _ => Ok(()),
    }
}

/// Builds the runtime into `slot` and waits until its threads are running.
///
/// A thread that is still being created when the process exits is a problem for leak
/// checkers: its `std::thread` handle and start closure are reachable only from the new
/// thread, which LeakSanitizer does not scan yet, so they are reported as leaked (seen in 2-3 %
/// of runs of a C program that failed right after `h2_client_new`). So this waits (at most
/// [`START_WAIT`]) until every worker thread has run `on_thread_start`, and it starts the
/// blocking pool's first thread (host-name lookups run there, `tokio::net::lookup_host`) now
/// as well, kept alive for an hour: a lookup later normally reuses it instead of creating a
/// thread in the middle of a request. Only lookups running at the same time start more.
fn build(slot: &Slot) -> Result<Handle> {
    let mut stored = slot.runtime.lock().unwrap_or_else(PoisonError::into_inner);
    if slot.closed.load(Ordering::Acquire) {
        return Err(closed_error());
    }
    let workers = worker_threads();
    let threads = Arc::new(Threads::default());
    let (started, stopped) = (threads.clone(), threads.clone());
    let rt = Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("h2client-worker")
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
    // The blocking pool's first thread (the workers are busy running the scheduler, so this
    // starts a new one, which then waits idle for lookups).
    drop(rt.spawn_blocking(|| {}));
    // Bounded: on a starved machine the runtime is usable before every thread has started.
    threads.wait_for(workers + 1, START_WAIT);
    let handle = rt.handle().clone();
    *stored = Some((rt, threads));
    Ok(handle)
}

/// Shuts this process's runtime down for good (`h2_global_cleanup`): its tasks are dropped
/// and its threads joined, waiting at most [`SHUTDOWN_WAIT`]; afterwards [`get`] and
/// [`check_running`] fail with `Closed`. Harmless if the runtime was never built or is
/// already shut down. In a forked child it concerns the child's own runtime only; the
/// parent's (leaked there) is never touched.
///
/// Fails with `WrongThread` on a runtime thread (a library callback), where waiting for the
/// runtime's threads would wait for itself; nothing is shut down then. Fails with `Timeout`
/// if some thread did not finish in time (a host-name lookup blocked in `getaddrinfo`): it is
/// left to finish on its own, and the runtime is shut down all the same.
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
    let Some((rt, threads)) = taken else {
        return Ok(());
    };
    rt.shutdown_timeout(SHUTDOWN_WAIT);
    match threads.running() {
        0 => Ok(()),
        n => Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "h2_global_cleanup: {n} library thread(s) still running after {} s (a host-name \
                 lookup?); left to finish on their own",
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

/// Spawns a task on the runtime (from any thread).
pub fn spawn<F>(fut: F) -> Result<JoinHandle<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Ok(get()?.spawn(fut))
}

/// Whether the calling thread is running async code (a runtime worker, or a callback called
/// from one), where blocking on a response would deadlock or starve the runtime.
pub fn on_runtime_thread() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}
