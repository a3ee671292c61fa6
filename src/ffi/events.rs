//! Event callback: `h2_config_set_event_callback`.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::{entry, h2_config, h2_result, try_mut, H2_OK};
use crate::events::{Event, EventHook};

/// A connection was established (`message`: the peer address).
pub const H2_EVENT_CONNECTED: u32 = 1;
/// A connection attempt failed (`message`: why).
pub const H2_EVENT_CONNECT_FAILED: u32 = 2;
/// The server's SETTINGS arrived (`value`: its MAX_CONCURRENT_STREAMS, 0xffffffff if
/// unlimited; `message`: the settings).
pub const H2_EVENT_SETTINGS: u32 = 3;
/// The server sent GOAWAY (`h2_error`: its code; `value`: the last stream id; `message`:
/// code and debug data).
pub const H2_EVENT_GOAWAY: u32 = 4;
/// A connection closed (`message`: why; `h2_error`: the code if an HTTP/2 error closed it).
pub const H2_EVENT_CLOSED: u32 = 5;
/// A stream was opened (`stream_id`; `message`: method and path).
pub const H2_EVENT_STREAM_OPENED: u32 = 6;
/// A stream ended (`value`: the HTTP status, 0 if it failed; `h2_error`: the RST_STREAM code
/// if it was reset; `message`: how it ended).
pub const H2_EVENT_STREAM_CLOSED: u32 = 7;
/// A request the server did not process is being retried (`value`: the attempt number;
/// `message`: why).
pub const H2_EVENT_RETRY: u32 = 8;
/// A PING round trip was measured (`value`: microseconds).
pub const H2_EVENT_RTT: u32 = 9;
/// A request body waits for the server's flow-control window (`stream_id`); reported once per
/// stall.
pub const H2_EVENT_FLOW_STALL: u32 = 10;
/// A defence limit tripped: a flood cut off, a header list or body over our limits
/// (`message`: which; `h2_error`: the HTTP/2 code we sent).
pub const H2_EVENT_LIMIT: u32 = 11;

/// One event, valid only during the callback.
#[repr(C)]
pub struct h2_event {
    /// One of the `H2_EVENT_*` constants (new kinds may be added: ignore unknown ones).
    pub kind: u32,
    /// The stream, or 0.
    pub stream_id: u32,
    /// The connection's process-unique number, or 0.
    pub conn_id: u64,
    /// A number whose meaning depends on the kind (see each `H2_EVENT_*`).
    pub value: u64,
    /// An HTTP/2 error code when one applies, else 0.
    pub h2_error: u32,
    /// A human-readable description, NUL-terminated; never NULL.
    pub message: *const c_char,
}

/// The callback type: `userdata` is what was passed to `h2_config_set_event_callback`.
pub type h2_event_fn = Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const h2_event)>;

/// Calls `fn(userdata, event)` for connection and stream events of clients created with this
/// config (NULL `fn` removes the callback). The callback runs on a library thread or on a
/// program's thread blocked in the library waiting for a response (such a thread runs the
/// connections meanwhile, see "Threads" in the README), must return quickly, and must not call blocking functions of the library (they return
/// H2_E_WRONG_THREAD there). `userdata` must stay valid as long as such a client exists.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_event_callback(
    cfg: *mut h2_config,
    callback: h2_event_fn,
    userdata: *mut c_void,
) -> h2_result {
    entry!(h2_config_set_event_callback, || {
        let c = try_mut!(cfg);
        let Some(f) = callback else {
            c.inner.events = None;
            return H2_OK;
        };
        // The pointer is only handed back to the caller's callback.
        let ud = userdata as usize;
        c.inner.events = Some(EventHook(Arc::new(move |e: &Event| {
            let msg = CString::new(e.message.replace('\0', " ")).unwrap_or_default();
            let ev = h2_event {
                kind: e.kind as u32,
                stream_id: e.stream_id,
                conn_id: e.conn_id,
                value: e.value,
                h2_error: e.h2_error,
                message: msg.as_ptr(),
            };
            // A panic must not unwind out of here into a runtime task that holds locks; C code
            // cannot panic, but be safe anyway.
            let _ = std::panic::catch_unwind(|| {
                // SAFETY: the caller registered this function for these arguments.
                unsafe { f(ud as *mut c_void, &ev) }
            });
        })));
        H2_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;

    #[test]
    fn constants_match_kinds() {
        for (c, k) in [
            (H2_EVENT_CONNECTED, EventKind::Connected),
            (H2_EVENT_CONNECT_FAILED, EventKind::ConnectFailed),
            (H2_EVENT_SETTINGS, EventKind::Settings),
            (H2_EVENT_GOAWAY, EventKind::GoAway),
            (H2_EVENT_CLOSED, EventKind::Closed),
            (H2_EVENT_STREAM_OPENED, EventKind::StreamOpened),
            (H2_EVENT_STREAM_CLOSED, EventKind::StreamClosed),
            (H2_EVENT_RETRY, EventKind::Retry),
            (H2_EVENT_RTT, EventKind::Rtt),
            (H2_EVENT_FLOW_STALL, EventKind::FlowStall),
            (H2_EVENT_LIMIT, EventKind::LimitTripped),
        ] {
            assert_eq!(c, k as u32);
        }
    }
}
