//! Connection and stream events for an optional observer (`h2_config_set_event_callback`).
//!
//! Events are delivered synchronously on the library thread where they happen, so an
//! observer must be quick and must not block. Nothing is computed for events when no observer
//! is set.
//!
//! A client's hook goes through a [`Gate`]: closing the client closes the gate, which waits
//! for the observer calls in progress and turns later events away, so no call starts or is
//! still running once the client is gone (connection tasks can outlive it by a little).

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, ThreadId};

/// What happened. The numeric values are the C API's `H2_EVENT_*` constants and never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum EventKind {
    /// A connection was established (`message`: the peer address).
    Connected = 1,
    /// A connection attempt failed (`message`: why).
    ConnectFailed = 2,
    /// The server's SETTINGS arrived (`value`: its MAX_CONCURRENT_STREAMS, or 0xffffffff if
    /// unlimited; `message`: the settings).
    Settings = 3,
    /// The server sent GOAWAY (`h2_error`: its code; `value`: last stream id; `message`:
    /// the debug data).
    GoAway = 4,
    /// A connection closed (`message`: why).
    Closed = 5,
    /// A stream was opened (`stream_id`; `message`: method and path).
    StreamOpened = 6,
    /// A stream ended (`value`: the HTTP status, 0 if it failed; `h2_error`: the code when
    /// it was reset).
    StreamClosed = 7,
    /// A request the server did not process is retried (`value`: attempt number; `message`:
    /// why).
    Retry = 8,
    /// A PING round trip was measured (`value`: microseconds).
    Rtt = 9,
    /// A request body waits for the server's flow-control window (`stream_id`).
    FlowStall = 10,
    /// A defence limit tripped (`message`: which; `h2_error`: the code sent).
    LimitTripped = 11,
}

/// One event.
#[derive(Clone, Debug)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The connection's process-unique number (0 if none).
    pub conn_id: u64,
    /// The stream (0 if none).
    pub stream_id: u32,
    /// An HTTP/2 error code, when one applies.
    pub h2_error: u32,
    /// A number whose meaning depends on the kind.
    pub value: u64,
    /// A human-readable description.
    pub message: String,
}

/// An observer of events.
#[derive(Clone)]
pub struct EventHook(pub Arc<dyn Fn(&Event) + Send + Sync>);

impl fmt::Debug for EventHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventHook")
    }
}

impl EventHook {
    /// Delivers an event built by `f` (called only here, so events cost nothing unobserved).
    pub fn emit(&self, f: impl FnOnce() -> Event) {
        (self.0)(&f());
    }

    /// This hook behind `gate`: events pass while the gate is open.
    pub(crate) fn gated(self, gate: Arc<Gate>) -> EventHook {
        EventHook(Arc::new(move |e: &Event| gate.pass(|| (self.0)(e))))
    }
}

/// Shuts a hook off for good: after [`Gate::close`] returns, no call through the gate is
/// running (except on the closing thread itself) and none starts.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: Mutex<GateState>,
    /// Signalled when a call ends after the gate was closed.
    idle: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    closed: bool,
    /// The threads inside a call, once per call (calls can nest on one thread).
    running: Vec<ThreadId>,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` unless the gate is closed.
    pub(crate) fn pass(&self, f: impl FnOnce()) {
        let me = thread::current().id();
        {
            let mut st = self.lock();
            if st.closed {
                return;
            }
            st.running.push(me);
        }
        /// Leaves the gate when `f` returns or unwinds.
        struct Leave<'a>(&'a Gate, ThreadId);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                let mut st = self.0.lock();
                if let Some(i) = st.running.iter().position(|t| *t == self.1) {
                    st.running.swap_remove(i);
                }
                if st.closed {
                    self.0.idle.notify_all();
                }
            }
        }
        let _leave = Leave(self, me);
        f();
    }

    /// Closes the gate and waits until the calls running on other threads have returned. A
    /// call running on this thread (the observer closing its own client) is not waited for:
    /// it goes on after this returns, but no new call starts. Idempotent.
    pub(crate) fn close(&self) {
        let me = thread::current().id();
        let mut st = self.lock();
        st.closed = true;
        while st.running.iter().any(|t| *t != me) {
            st = self.idle.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Emits an event to `hook` if set, and to the log sink if logging is on.
pub(crate) fn emit(hook: &Option<EventHook>, f: impl FnOnce() -> Event) {
    let logging = crate::log::events_enabled();
    if hook.is_none() && !logging {
        return;
    }
    let e = f();
    if logging {
        crate::log::event(&e);
    }
    if let Some(h) = hook {
        (h.0)(&e);
    }
}

/// Builds an event with the common fields.
pub(crate) fn event(
    kind: EventKind,
    conn_id: u64,
    stream_id: u32,
    message: impl Into<String>,
) -> Event {
    Event {
        kind,
        conn_id,
        stream_id,
        h2_error: 0,
        value: 0,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn close_waits_for_a_call_on_another_thread_and_stops_later_ones() {
        let gate = Arc::new(Gate::default());
        let inside = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        let (g, i, f) = (gate.clone(), inside.clone(), finished.clone());
        let t = thread::spawn(move || {
            g.pass(|| {
                i.store(true, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(100));
                f.store(true, Ordering::SeqCst);
            })
        });
        while !inside.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        gate.close();
        assert!(
            finished.load(Ordering::SeqCst),
            "close returned during a call"
        );
        let ran = AtomicUsize::new(0);
        gate.pass(|| {
            ran.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(ran.load(Ordering::SeqCst), 0, "a call started after close");
        t.join().unwrap();
    }

    #[test]
    fn close_from_inside_a_call_does_not_wait_for_itself() {
        let gate = Gate::default();
        let after = AtomicUsize::new(0);
        gate.pass(|| {
            gate.pass(|| gate.close());
            gate.pass(|| {
                after.fetch_add(1, Ordering::SeqCst);
            });
        });
        assert_eq!(after.load(Ordering::SeqCst), 0);
        gate.close();
    }

    #[test]
    fn a_panicking_call_leaves_the_gate() {
        let gate = Gate::default();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            gate.pass(|| panic!("observer panicked"));
        }));
        assert!(r.is_err());
        // Would wait forever if the panicking call were still counted (from another thread).
        let gate = Arc::new(gate);
        let g = gate.clone();
        thread::spawn(move || g.close()).join().unwrap();
    }
}
