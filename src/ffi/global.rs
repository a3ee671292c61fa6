//! `h2_global_cleanup`: the library's process-wide shutdown.

use super::{entry, fail, h2_result, H2_OK};

/// Shuts the library down, like libcurl's `curl_global_cleanup`: stops the runtimes that run
/// every connection and joins their threads (the home threads and the host-name lookup
/// threads), so that nothing of the library is left running in the process.
///
/// Call it once, from the program's own thread, after the last client, call and queue have
/// been freed (for example at the end of `main`), or never: a program that exits without it
/// also exits cleanly (`h2_client_new` returns only once the library's threads are running,
/// so none is left half-started by an early exit). After it, functions
/// that need the runtime fail with H2_E_CLOSED ("the library was shut down"):
/// `h2_client_new` returns NULL, and `h2_client_do`, `h2_client_fetch`,
/// `h2_client_fetch_into`, `h2_client_start`, `h2_client_submit` and `h2_client_submit_cb` on
/// a client that was (wrongly) kept alive return H2_E_CLOSED; such a client can still be
/// freed. Functions that need no runtime (configs, requests, queues,
/// errors) keep working. There is no way to start the library again in this process; a child
/// forked afterwards starts its own runtime on first use. In a forked child it shuts down the
/// child's own runtime only (the parent's threads do not exist there and are never touched).
///
/// Returns H2_OK, also when the runtime was never started or was already shut down (a second
/// call does nothing). Returns H2_E_WRONG_THREAD, and shuts nothing down, when called from a
/// library thread (an event or completion callback), where it would wait for itself. Returns
/// H2_E_TIMEOUT when a thread did not finish within 5 s (a host-name lookup stuck in
/// `getaddrinfo`): the library is shut down all the same and that thread is left to finish on
/// its own.
#[no_mangle]
pub extern "C" fn h2_global_cleanup() -> h2_result {
    entry!(h2_global_cleanup, || match crate::runtime::shutdown() {
        Ok(()) => H2_OK,
        Err(e) => fail(e),
    })
}
