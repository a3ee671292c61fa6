//! One request/response exchange in flight, shared by the caller waiting for it and the
//! connection serving it.
//!
//! Exactly one result is ever delivered: [`Exchange::complete`] is first-wins, so a response
//! racing a timeout or a cancel cannot be delivered twice. Inside the library an exchange is
//! held through a [`Pending`], whose `Drop` fails the exchange if nobody completed it: a bug or
//! a panic inside a connection task wakes the caller with an error instead of leaving it
//! blocked forever.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Instant;

use crate::conn::ConnShared;
use crate::error::{Error, ErrorKind, Processed, Result};
use crate::request::Request;
use crate::response::Response;

/// Where an exchange currently is, so that a cancel can reach its stream.
struct Location {
    conn: Weak<ConnShared>,
    stream_id: u32,
}

/// A request in flight.
pub struct Exchange {
    /// The request (shared with the caller's `h2_request`, copy-on-write).
    pub(crate) req: Arc<Request>,
    done: AtomicBool,
    retries: AtomicU32,
    slot: Mutex<Option<Result<Response>>>,
    cv: Condvar,
    location: Mutex<Option<Location>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not turn every later call into a panic: the data under these
    // locks stays consistent at every await-free step, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Exchange {
    /// A new exchange for `req`.
    pub(crate) fn new(req: Arc<Request>) -> Arc<Exchange> {
        Arc::new(Exchange {
            req,
            done: AtomicBool::new(false),
            retries: AtomicU32::new(0),
            slot: Mutex::new(None),
            cv: Condvar::new(),
            location: Mutex::new(None),
        })
    }

    /// Whether a result has been delivered (response, error, timeout or cancel).
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// How many times the request was retried.
    pub(crate) fn retries(&self) -> u32 {
        self.retries.load(Ordering::Relaxed)
    }

    pub(crate) fn add_retry(&self) -> u32 {
        self.retries.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Delivers the result if none was delivered yet; returns whether this call delivered it.
    pub(crate) fn complete(&self, mut result: Result<Response>) -> bool {
        if self.done.swap(true, Ordering::AcqRel) {
            return false;
        }
        if let Err(e) = &mut result {
            e.retries = self.retries();
        }
        *lock(&self.slot) = Some(result);
        self.cv.notify_all();
        true
    }

    /// Blocks the calling thread until the result arrives or `deadline` passes; `None` on
    /// timeout.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Option<Result<Response>> {
        let mut slot = lock(&self.slot);
        loop {
            if let Some(r) = slot.take() {
                return Some(r);
            }
            match deadline {
                None => slot = self.cv.wait(slot).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return None;
                    }
                    slot = self
                        .cv
                        .wait_timeout(slot, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }

    /// Fails the exchange with `err` (a timeout, a cancel) and, if that delivered the result,
    /// resets its stream.
    pub(crate) fn abort(self: &Arc<Self>, mut err: Error) {
        if err.processed == Processed::Maybe && lock(&self.location).is_none() {
            // Never written to any connection: the server cannot have seen it.
            err.processed = Processed::No;
        }
        if !self.complete(Err(err)) {
            return;
        }
        let loc = lock(&self.location).take();
        if let Some(loc) = loc {
            if let Some(conn) = loc.conn.upgrade() {
                conn.cancel_stream(self.clone(), loc.stream_id);
            }
        }
    }

    /// Records the stream that now carries this exchange.
    pub(crate) fn set_location(&self, conn: &Arc<ConnShared>, stream_id: u32) {
        *lock(&self.location) = Some(Location {
            conn: Arc::downgrade(conn),
            stream_id,
        });
    }

    /// Forgets the stream (the exchange is being retried elsewhere or is finished).
    pub(crate) fn clear_location(&self) {
        *lock(&self.location) = None;
    }
}

/// Ownership of an exchange inside the library. Dropping it without calling
/// [`Pending::finish`] fails the exchange with an internal error.
pub struct Pending(Option<Arc<Exchange>>);

impl Pending {
    /// Wraps an exchange.
    pub(crate) fn new(ex: Arc<Exchange>) -> Pending {
        Pending(Some(ex))
    }

    /// The exchange.
    pub(crate) fn ex(&self) -> &Arc<Exchange> {
        // The option is only emptied by `finish` and `drop`, which consume self.
        self.0.as_ref().expect("Pending used after finish")
    }

    /// Delivers the result.
    pub(crate) fn finish(mut self, result: Result<Response>) {
        if let Some(ex) = self.0.take() {
            ex.clear_location();
            ex.complete(result);
        }
    }

    /// Drops an exchange that already has its result (cancelled or timed out) without
    /// reporting anything.
    pub(crate) fn discard(mut self) {
        if let Some(ex) = self.0.take() {
            ex.clear_location();
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(ex) = self.0.take() {
            ex.clear_location();
            ex.complete(Err(Error::new(
                ErrorKind::Internal,
                "request abandoned by its connection (internal error)",
            )
            .with_processed(Processed::Maybe)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ex() -> Arc<Exchange> {
        Exchange::new(Arc::new(Request::new("GET", "/").unwrap()))
    }

    #[test]
    fn first_result_wins() {
        let e = ex();
        assert!(e.complete(Ok(Response::default())));
        assert!(!e.complete(Err(Error::invalid("late"))));
        assert!(e.wait(None).unwrap().is_ok());
    }

    #[test]
    fn wait_times_out() {
        let e = ex();
        let d = Instant::now() + Duration::from_millis(20);
        assert!(e.wait(Some(d)).is_none());
        assert!(!e.is_done());
    }

    #[test]
    fn dropped_pending_fails_the_waiter() {
        let e = ex();
        let p = Pending::new(e.clone());
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            drop(p);
        });
        let r = e.wait(None).unwrap();
        assert_eq!(r.unwrap_err().kind, ErrorKind::Internal);
        t.join().unwrap();
    }
}
