//! The global tokio runtime that hosts every connection of every client.

use std::future::Future;

use once_cell::sync::OnceCell;
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

use crate::error::{Error, ErrorKind, Result};

static RUNTIME: OnceCell<Runtime> = OnceCell::new();

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

/// The runtime, built on first use.
pub fn get() -> Result<&'static Runtime> {
    RUNTIME.get_or_try_init(|| {
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
