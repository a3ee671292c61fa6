//! Helpers for tests that call the C API as C does.

use std::ffi::{c_char, CStr, CString};

use h2client::ffi::{h2_error_info, h2_last_error, h2_last_error_message, h2_result};

/// A C string (tests pass only strings without NUL).
pub fn cs(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// The calling thread's last error message.
pub fn last_message() -> String {
    let mut buf = [0 as c_char; 512];
    // SAFETY: buf is writable for its length.
    unsafe { h2_last_error_message(buf.as_mut_ptr(), buf.len()) };
    // SAFETY: NUL-terminated by h2_last_error_message.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// The calling thread's last error code.
pub fn last_code() -> h2_result {
    let mut info = std::mem::MaybeUninit::<h2_error_info>::uninit();
    // SAFETY: info is writable.
    unsafe { h2_last_error(info.as_mut_ptr()) }
}

/// Reads a started call's body to its end with `h2_call_read` in `chunk`-byte reads,
/// asserting that every read succeeds.
///
/// # Safety
/// `call` is a live call from `h2_client_start`.
pub unsafe fn c_read_all(call: *mut h2client::ffi::h2_call, chunk: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        let mut n = 0;
        // SAFETY: call is live (caller contract); buf and n are writable.
        let rc = unsafe { h2client::ffi::h2_call_read(call, buf.as_mut_ptr(), buf.len(), &mut n) };
        assert_eq!(rc, h2client::ffi::H2_OK, "h2_call_read");
        if n == 0 {
            return got;
        }
        got.extend_from_slice(&buf[..n]);
    }
}
