//! Error codes as text, and the calling thread's last error.

use std::ffi::c_char;

use super::{entry, h2_result, put, with_last_error, H2_OK};
use crate::error::{Error, ErrorKind};

/// The server certainly did not process the request: it was never sent, was refused with
/// REFUSED_STREAM, or was above the last stream id of the server's GOAWAY. Safe to retry.
pub const H2_PROCESSED_NO: u8 = 0;
/// The server may have processed the request.
pub const H2_PROCESSED_MAYBE: u8 = 1;
/// The server processed the request (a response head arrived).
pub const H2_PROCESSED_YES: u8 = 2;

/// The failure was detected by h2client (a check, a timeout, the caller).
pub const H2_ORIGIN_LOCAL: u8 = 0;
/// The failure was reported by the server (RST_STREAM, GOAWAY).
pub const H2_ORIGIN_REMOTE: u8 = 1;
/// The failure came from the transport (TCP or TLS).
pub const H2_ORIGIN_TRANSPORT: u8 = 2;

/// Everything known about a failure.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct h2_error_info {
    /// `H2_E_*` code (`H2_OK` if there is no error).
    pub code: h2_result,
    /// HTTP/2 error code (RFC 9113 §7) from RST_STREAM or GOAWAY, or of the violation we
    /// detected; 0 if none applies.
    pub h2_error: u32,
    /// `H2_PROCESSED_NO`, `H2_PROCESSED_MAYBE` or `H2_PROCESSED_YES`.
    pub processed: u8,
    /// `H2_ORIGIN_LOCAL`, `H2_ORIGIN_REMOTE` or `H2_ORIGIN_TRANSPORT`.
    pub origin: u8,
    /// GOAWAY's last stream id when a GOAWAY caused the failure, else 0.
    pub goaway_last_stream_id: u32,
    /// How many times the request was retried before it failed.
    pub retries: u32,
    /// The message (`h2_last_error_message`'s text), NUL-terminated, truncated to fit.
    pub message: [c_char; 256],
}

impl h2_error_info {
    pub(crate) fn from_error(e: Option<&Error>) -> h2_error_info {
        let mut info = h2_error_info {
            code: H2_OK,
            h2_error: 0,
            processed: 0,
            origin: 0,
            goaway_last_stream_id: 0,
            retries: 0,
            message: [0; 256],
        };
        if let Some(e) = e {
            info.code = e.kind as u32;
            info.h2_error = e.reason.map(|r| r.0).unwrap_or(0);
            info.processed = e.processed as u8;
            info.origin = e.origin as u8;
            info.goaway_last_stream_id = e.goaway_last_stream_id;
            info.retries = e.retries;
            copy_truncated(e.message.as_bytes(), &mut info.message);
        }
        info
    }
}

/// Copies as much of `src` as fits, always NUL-terminating, never splitting a UTF-8 sequence.
fn copy_truncated(src: &[u8], dst: &mut [c_char]) -> usize {
    if dst.is_empty() {
        return 0;
    }
    let mut n = src.len().min(dst.len() - 1);
    while n < src.len() && n > 0 && (src[n] & 0xc0) == 0x80 {
        n -= 1;
    }
    for (d, s) in dst.iter_mut().zip(&src[..n]) {
        *d = *s as c_char;
    }
    dst[n] = 0;
    n
}

/// The library version, e.g. "0.1.0". Static string.
#[no_mangle]
pub extern "C" fn h2_version() -> *const c_char {
    entry!(h2_version, || {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}

/// A short description of `code` ("timed out", ...). Static string, never NULL; unknown codes
/// give "unknown error".
#[no_mangle]
pub extern "C" fn h2_strerror(code: h2_result) -> *const c_char {
    entry!(h2_strerror, || {
        let s = match ErrorKind::from_code(code) {
            Some(k) => k.description_nul(),
            None if code == H2_OK => "success\0",
            None => "unknown error\0",
        };
        s.as_ptr().cast()
    })
}

/// The name of `code` as in this header ("H2_E_TIMEOUT", "H2_OK"). Static string, never
/// NULL; unknown codes give "H2_E_UNKNOWN".
#[no_mangle]
pub extern "C" fn h2_error_name(code: h2_result) -> *const c_char {
    entry!(h2_error_name, || {
        let s = match ErrorKind::from_code(code) {
            Some(k) => k.c_name_nul(),
            None if code == H2_OK => "H2_OK\0",
            None => "H2_E_UNKNOWN\0",
        };
        s.as_ptr().cast()
    })
}

/// Copies the calling thread's last error message into `buf` (NUL-terminated, truncated to
/// `len` bytes) and returns the message's full length, like snprintf. The message names the
/// HTTP/2 error code when one applies, who detected the problem, and says "timed out" for
/// timeouts. `buf` may be NULL when `len` is 0 (to query the length). Empty if no call on this
/// thread has failed yet.
#[no_mangle]
pub unsafe extern "C" fn h2_last_error_message(buf: *mut c_char, len: usize) -> usize {
    entry!(h2_last_error_message, || {
        with_last_error(|e| {
            let msg = e.map(|e| e.message.as_bytes()).unwrap_or_default();
            if !buf.is_null() && len > 0 && len <= isize::MAX as usize {
                // SAFETY: the caller guarantees buf is writable for len bytes.
                let dst = unsafe { std::slice::from_raw_parts_mut(buf, len) };
                copy_truncated(msg, dst);
            }
            msg.len()
        })
    })
}

/// Fills `*out` with the calling thread's last error and returns its code (`H2_OK` and an
/// empty record if no call on this thread has failed yet). Returns `H2_E_INVALID_ARGUMENT`
/// if `out` is NULL.
#[no_mangle]
pub unsafe extern "C" fn h2_last_error(out: *mut h2_error_info) -> h2_result {
    entry!(h2_last_error, || {
        if out.is_null() {
            return super::invalid("out is NULL");
        }
        let info = with_last_error(h2_error_info::from_error);
        // SAFETY: out is non-null and the caller guarantees it points to an h2_error_info.
        unsafe { put(out, info) };
        info.code
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn names_and_strings() {
        for k in ErrorKind::ALL {
            // SAFETY: static NUL-terminated strings.
            let n = unsafe { CStr::from_ptr(h2_error_name(k as u32)) };
            assert_eq!(n.to_str().unwrap(), k.c_name());
            let d = unsafe { CStr::from_ptr(h2_strerror(k as u32)) };
            assert_eq!(d.to_str().unwrap(), k.description());
        }
        let u = unsafe { CStr::from_ptr(h2_strerror(12345)) };
        assert_eq!(u.to_str().unwrap(), "unknown error");
    }

    #[test]
    fn truncation_keeps_utf8_whole() {
        let mut buf = [0 as c_char; 4];
        let n = copy_truncated("abé".as_bytes(), &mut buf);
        assert_eq!(n, 2);
        assert_eq!(buf[2], 0);
    }
}
