//! Panics, kept inside the library: a panic on a library thread or inside a C entry point is
//! caught, turned into an `H2_E_INTERNAL` error that carries its message, and not printed on
//! the host's stderr (the host did nothing wrong and may be a daemon whose stderr is a log).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;
use std::task::Poll;

use crate::error::{Error, ErrorKind, Processed};

/// What this thread is running of the library's code that catches its panics. One
/// thread-local for both: in a shared library every thread-local access is a call
/// (`__tls_get_addr`), and every C entry point needs both.
struct Guard {
    /// Depth of library code on this thread that catches its panics (a C entry point).
    catching: Cell<u32>,
    /// The C entry point running on this thread (innermost), for messages.
    entry: Cell<Option<&'static str>>,
}

thread_local! {
    static GUARD: Guard = const {
        Guard {
            catching: Cell::new(0),
            entry: Cell::new(None),
        }
    };
    /// The last panic caught on this thread, with its location, from the hook.
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Thread names of the library's runtime.
pub(crate) const THREAD_PREFIX: &str = "h2client-";

fn on_library_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with(THREAD_PREFIX))
}

/// Installs (once) a panic hook that records panics in library code instead of printing them;
/// panics anywhere else go to the hook that was there before.
pub(crate) fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARD.with(|g| g.catching.get()) == 0 && !on_library_thread() {
                return previous(info);
            }
            let what = payload_text(info.payload());
            let msg = match info.location() {
                Some(l) => format!("{what} (at {}:{})", l.file(), l.line()),
                None => what,
            };
            LAST.with(|l| *l.borrow_mut() = Some(msg));
        }));
    });
}

fn payload_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// What a caught panic said: the hook's record (with its location) or the payload.
pub(crate) fn describe(p: Box<dyn std::any::Any + Send>) -> String {
    LAST.with(|l| l.borrow_mut().take())
        .unwrap_or_else(|| payload_text(p.as_ref()))
}

/// The error a caught panic becomes; `who` names the code that panicked.
pub(crate) fn internal(who: &str, msg: &str) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("internal error in {who} (a bug in h2client, please report it): panicked: {msg}"),
    )
    .with_processed(Processed::Maybe)
}

/// Runs `f`, catching a panic (quietly) as its message.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_in(None, f)
}

/// [`catch`], as the C entry point `entry` if given (see [`current_entry`]).
pub(crate) fn catch_in<T>(entry: Option<&'static str>, f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    GUARD.with(|g| {
        let outer = g.entry.get();
        if entry.is_some() {
            g.entry.set(entry);
        }
        g.catching.set(g.catching.get() + 1);
        let r = catch_unwind(AssertUnwindSafe(f));
        g.catching.set(g.catching.get() - 1);
        g.entry.set(outer);
        r.map_err(describe)
    })
}

/// The C entry point running on this thread (innermost), if any.
pub(crate) fn current_entry() -> Option<&'static str> {
    GUARD.with(|g| g.entry.get())
}

/// Runs a future, catching a panic in any of its polls as its message.
pub(crate) async fn catch_future<F: Future>(fut: F) -> Result<F::Output, String> {
    let mut fut = Box::pin(fut);
    std::future::poll_fn(move |cx| match catch(|| fut.as_mut().poll(cx)) {
        Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(msg) => Poll::Ready(Err(msg)),
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caught_with_its_location() {
        let msg = catch(|| panic!("boom")).unwrap_err();
        assert!(msg.starts_with("boom (at src/panics.rs:"), "{msg}");
        assert_eq!(catch(|| 7).unwrap(), 7);
    }
}
