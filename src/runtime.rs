//! The global tokio runtime that hosts every connection of every client.

use std::future::Future;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use once_cell::sync::OnceCell;
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

use crate::error::{Error, ErrorKind, Result};

/// One runtime per fork generation. A child of `fork()` cannot use its parent's runtime (its
/// threads do not exist there) and must not drop it (that would try to join them): it builds
/// its own in the next cell and the parent's stays leaked in its cell. 64 generations means 64
/// nested forks, far beyond any real process tree.
static RUNTIMES: [OnceCell<Runtime>; 64] = [const { OnceCell::new() }; 64];

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

/// This process's runtime, built on first use (again in a forked child).
pub fn get() -> Result<&'static Runtime> {
    let cell = RUNTIMES
        .get(generation())
        .ok_or_else(|| Error::new(ErrorKind::Forked, "too many nested fork() generations"))?;
    cell.get_or_try_init(|| {
        Builder::new_multi_thread()
            .worker_threads(worker_threads())
            .thread_name("h2client-worker")
            .on_thread_start(block_sigpipe)
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("could not start the runtime: {e}"),
                )
            })
    })
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
