//! Logging callback: `h2_set_log_callback`.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::{entry, h2_result, H2_OK};
use crate::log::Level;

/// Logging off (`h2_set_log_callback` level).
pub const H2_LOG_OFF: u32 = 0;
/// A connection or request failed.
pub const H2_LOG_ERROR: u32 = 1;
/// Something is wrong but work goes on: a failed connection attempt, a defence limit tripped.
pub const H2_LOG_WARN: u32 = 2;
/// Connections opened and closed (with the address), TLS handshakes (version, cipher, ALPN),
/// GOAWAY, retries.
pub const H2_LOG_INFO: u32 = 3;
/// SETTINGS, streams opened and closed, every request and response header field
/// ("conn 1 stream 3: > :path: /", "< :status: 200"; values included, credentials too).
pub const H2_LOG_DEBUG: u32 = 4;
/// PING round trips, flow-control stalls, rustls's details.
pub const H2_LOG_TRACE: u32 = 5;

/// The log callback type: `level` is one of `H2_LOG_ERROR` ... `H2_LOG_TRACE`; `target` names
/// the source ("h2client", or a module of rustls such as "rustls::client::hs"); `message` is
/// one line without a newline. Both strings are NUL-terminated and valid only during the call.
pub type h2_log_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: u32,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// Sends the library's diagnostics at `level` and below (`H2_LOG_ERROR` ... `H2_LOG_TRACE`)
/// to `callback(userdata, level, target, message)`, for every client of the process, and
/// rustls's through the Rust `log` facade. `H2_LOG_OFF` or a NULL `callback` turns logging
/// off (the default). While it is off, logging costs one relaxed atomic load per log site.
///
/// The callback runs on whatever thread logs (library threads and callers' threads, at the
/// same time), must be thread-safe and quick, and must not block on the library; what the
/// library logs from inside the callback (on that thread) is dropped. When this function
/// returns, the previous callback is not running on another thread and will not be called
/// again, so its `userdata` may be freed, and the new one gets no message above its `level`
/// (not even one a thread was about to send at the old level); it may be called from inside
/// the callback itself.
#[no_mangle]
pub unsafe extern "C" fn h2_set_log_callback(
    level: u32,
    callback: h2_log_fn,
    userdata: *mut c_void,
) -> h2_result {
    entry!(h2_set_log_callback, || {
        let (Some(level), Some(f)) = (Level::from_number(level), callback) else {
            crate::log::set(None, None);
            return H2_OK;
        };
        // The pointer is only handed back to the caller's callback.
        let ud = userdata as usize;
        crate::log::set(
            Some(level),
            Some(Arc::new(move |l: Level, target: &str, msg: &str| {
                let t = CString::new(target.replace('\0', " ")).unwrap_or_default();
                let m = CString::new(msg.replace('\0', " ")).unwrap_or_default();
                // C code cannot unwind, but a panic must never leave here into a task.
                let _ = std::panic::catch_unwind(|| {
                    // SAFETY: the caller registered this function for these arguments; the
                    // strings outlive the call.
                    unsafe { f(ud as *mut c_void, l as u32, t.as_ptr(), m.as_ptr()) }
                });
            })),
        );
        H2_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_levels() {
        for (c, l) in [
            (H2_LOG_ERROR, Level::Error),
            (H2_LOG_WARN, Level::Warn),
            (H2_LOG_INFO, Level::Info),
            (H2_LOG_DEBUG, Level::Debug),
            (H2_LOG_TRACE, Level::Trace),
        ] {
            assert_eq!(Level::from_number(c), Some(l));
            assert_eq!(c, l as u32);
        }
        assert_eq!(Level::from_number(H2_LOG_OFF), None);
    }
}
