//! Connection and stream events for an optional observer (`h2_config_set_event_callback`).
//!
//! Events are delivered synchronously on the library thread where they happen, so an
//! observer must be quick and must not block. Nothing is computed for events when no observer
//! is set.

use std::fmt;
use std::sync::Arc;

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
}

/// Emits an event if `hook` is set.
pub(crate) fn emit(hook: &Option<EventHook>, f: impl FnOnce() -> Event) {
    if let Some(h) = hook {
        h.emit(f);
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
