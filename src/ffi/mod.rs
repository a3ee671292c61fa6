//! The C API. Thin by design: null checks, conversions and error codes; the work happens in
//! the safe modules. Every entry point catches panics, so none crosses into C.
//!
//! Conventions (documented in the header):
//! - functions returning `h2_result` return `H2_OK` (0) or an `H2_E_*` code and record the
//!   failure for the calling thread (`h2_last_error`, `h2_last_error_message`);
//! - constructors return NULL on failure, with the same record;
//! - every `_free` accepts NULL.

#![allow(non_camel_case_types)]
// The safety contract of every function is the same and is stated once, in the header's
// preamble: each pointer argument is NULL or points to a live object of its type (strings
// NUL-terminated, buffers of the stated length), and objects are freed once.
#![allow(clippy::missing_safety_doc)]

pub mod call;
pub mod client;
pub mod config;
pub mod error;
pub mod events;
pub mod global;
pub mod queue;
pub mod request;
pub mod response;

use std::cell::RefCell;
use std::ffi::{c_char, CStr};

use crate::error::Error;

pub use call::*;
pub use client::*;
pub use config::*;
pub use error::*;
pub use events::*;
pub use global::*;
pub use queue::*;
pub use request::*;
pub use response::*;

pub(crate) use queue::Posting;
pub(crate) use response::{field_at, find};

/// Result code of the C API: `H2_OK` or one of the `H2_E_*` codes.
pub type h2_result = u32;

/// Success.
pub const H2_OK: h2_result = 0;
/// A NULL pointer, an invalid header name or value, an out-of-range option.
pub const H2_E_INVALID_ARGUMENT: h2_result = 1;
/// The base URL could not be parsed or uses an unsupported scheme.
pub const H2_E_INVALID_URL: h2_result = 2;
/// The TCP connection could not be established (refused, unreachable, name not found).
pub const H2_E_CONNECT: h2_result = 3;
/// A timeout expired (connect, request, keepalive PING, SETTINGS ack, write stall, a thread
/// in `h2_global_cleanup`); the message says which.
pub const H2_E_TIMEOUT: h2_result = 4;
/// An HTTP/2 protocol violation, detected by us or reported by the server; see the HTTP/2
/// error code in `h2_error_info.h2_error`.
pub const H2_E_PROTOCOL: h2_result = 5;
/// The server reset the stream with RST_STREAM.
pub const H2_E_STREAM_RESET: h2_result = 6;
/// The server closed the connection with GOAWAY before completing the request.
pub const H2_E_GOAWAY: h2_result = 7;
/// The transport failed: connection reset, closed by the peer, write error.
pub const H2_E_CONNECTION: h2_result = 8;
/// The client was closed (`h2_client_free`) while the request was waiting, or the library was
/// shut down (`h2_global_cleanup`).
pub const H2_E_CLOSED: h2_result = 9;
/// The request was cancelled.
pub const H2_E_CANCELED: h2_result = 10;
/// A header list exceeded a limit (the server's for requests, ours for responses).
pub const H2_E_HEADERS_TOO_LARGE: h2_result = 11;
/// The response body exceeded `max_response_body`.
pub const H2_E_BODY_TOO_LARGE: h2_result = 12;
/// The server refused the request (REFUSED_STREAM) every time it was retried.
pub const H2_E_REFUSED: h2_result = 13;
/// A blocking function (or `h2_global_cleanup`) was called from a library thread (a
/// callback), where it would deadlock.
pub const H2_E_WRONG_THREAD: h2_result = 14;
/// An internal error (a bug in h2client): a panic was caught.
pub const H2_E_INTERNAL: h2_result = 15;
/// TLS failed: handshake, certificate, or ALPN.
pub const H2_E_TLS: h2_result = 16;
/// A client created before fork() was used in the child process.
pub const H2_E_FORKED: h2_result = 17;

thread_local! {
    static LAST_ERROR: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// Records `e` as the calling thread's last error and returns its code.
pub(crate) fn fail(e: Error) -> h2_result {
    let code = e.kind as u32;
    LAST_ERROR.with(|l| *l.borrow_mut() = Some(e));
    code
}

/// Records an invalid-argument error.
pub(crate) fn invalid(msg: &str) -> h2_result {
    fail(Error::invalid(msg))
}

pub(crate) fn with_last_error<T>(f: impl FnOnce(Option<&Error>) -> T) -> T {
    LAST_ERROR.with(|l| f(l.borrow().as_ref()))
}

/// Runs `f`, turning a panic into `H2_E_INTERNAL` (with the panic's message; nothing is
/// printed on the host's stderr).
pub(crate) fn guard(f: impl FnOnce() -> h2_result) -> h2_result {
    match crate::panics::catch(f) {
        Ok(r) => r,
        Err(msg) => fail(crate::panics::internal("h2client", &msg)),
    }
}

/// Runs `f`, turning a panic into `fallback` (and a recorded `H2_E_INTERNAL`).
pub(crate) fn guard_or<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    match crate::panics::catch(f) {
        Ok(r) => r,
        Err(msg) => {
            fail(crate::panics::internal("h2client", &msg));
            fallback
        }
    }
}

/// Borrows a NUL-terminated C string; `Err` (recorded) if NULL or not UTF-8.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string valid for the call.
pub(crate) unsafe fn c_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, h2_result> {
    if p.is_null() {
        return Err(invalid(&format!("{what} is NULL")));
    }
    // SAFETY: the caller guarantees p is a valid NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|_| invalid(&format!("{what} is not valid UTF-8")))
}

/// Borrows a C string's bytes; `Err` (recorded) if NULL.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string valid for the call.
pub(crate) unsafe fn c_bytes<'a>(p: *const c_char, what: &str) -> Result<&'a [u8], h2_result> {
    if p.is_null() {
        return Err(invalid(&format!("{what} is NULL")));
    }
    // SAFETY: the caller guarantees p is a valid NUL-terminated string.
    Ok(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// Borrows `len` bytes at `p`; NULL is allowed only with `len == 0`.
///
/// # Safety
/// `p` must be NULL or valid for reads of `len` bytes for the call.
pub(crate) unsafe fn c_slice<'a>(
    p: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a [u8], h2_result> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(invalid(&format!("{what} is NULL but its length is {len}")));
    }
    if len > isize::MAX as usize {
        return Err(invalid(&format!("{what} length {len} is too large")));
    }
    // SAFETY: p is non-null and the caller guarantees len readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Writes `v` to `*out` if `out` is not NULL.
///
/// # Safety
/// `out` must be NULL or valid for a write of `T`.
pub(crate) unsafe fn put<T>(out: *mut T, v: T) {
    if !out.is_null() {
        // SAFETY: non-null and the caller guarantees it is writable.
        unsafe { out.write(v) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn codes_match_error_kinds() {
        let pairs = [
            (H2_E_INVALID_ARGUMENT, ErrorKind::InvalidArgument),
            (H2_E_INVALID_URL, ErrorKind::InvalidUrl),
            (H2_E_CONNECT, ErrorKind::Connect),
            (H2_E_TIMEOUT, ErrorKind::Timeout),
            (H2_E_PROTOCOL, ErrorKind::Protocol),
            (H2_E_STREAM_RESET, ErrorKind::StreamReset),
            (H2_E_GOAWAY, ErrorKind::GoAway),
            (H2_E_CONNECTION, ErrorKind::Connection),
            (H2_E_CLOSED, ErrorKind::Closed),
            (H2_E_CANCELED, ErrorKind::Canceled),
            (H2_E_HEADERS_TOO_LARGE, ErrorKind::HeadersTooLarge),
            (H2_E_BODY_TOO_LARGE, ErrorKind::BodyTooLarge),
            (H2_E_REFUSED, ErrorKind::Refused),
            (H2_E_WRONG_THREAD, ErrorKind::WrongThread),
            (H2_E_INTERNAL, ErrorKind::Internal),
            (H2_E_TLS, ErrorKind::Tls),
            (H2_E_FORKED, ErrorKind::Forked),
        ];
        assert_eq!(pairs.len(), ErrorKind::ALL.len());
        for (c, k) in pairs {
            assert_eq!(c, k as u32, "{}", k.c_name());
        }
    }

    #[test]
    fn guard_catches_panics() {
        let r = guard(|| panic!("boom"));
        assert_eq!(r, H2_E_INTERNAL);
        with_last_error(|e| assert!(e.unwrap().message.contains("boom")));
    }
}
