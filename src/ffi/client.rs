//! `h2_client`: a client for one authority.

use std::ffi::c_char;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{
    c_str, fail, guard, guard_or, h2_config, h2_request, h2_response, h2_result, invalid, put,
    H2_OK,
};
use crate::client::Client;
use crate::config::Config;

/// An HTTP/2 client for one authority (scheme, host, port), holding 0..N connections to it.
///
/// Thread safety: an `h2_client` may be used from any number of threads at once; requests
/// from all threads are multiplexed over its connections. `h2_client_free` must be called
/// once, when no other thread will start a call on the client (calls already blocked in
/// `h2_client_do` return H2_E_CLOSED).
pub struct h2_client {
    inner: Client,
    active: AtomicUsize,
}

/// A client for `base_url`: "http://host[:port]" for HTTP/2 over cleartext with prior
/// knowledge (RFC 9113 §3.3), or "https://host[:port]" for HTTP/2 over TLS (ALPN "h2", SNI
/// from the host unless it is an IP literal, the system's CA store unless the config names
/// other roots). Any path in the URL is ignored: each request names its own. `cfg` may be
/// NULL for defaults; it is copied. No connection is opened until the first request. Returns
/// NULL on error (H2_E_INVALID_URL, H2_E_INVALID_ARGUMENT, H2_E_TLS; see
/// `h2_last_error_message`).
#[no_mangle]
pub unsafe extern "C" fn h2_client_new(
    base_url: *const c_char,
    cfg: *const h2_config,
) -> *mut h2_client {
    guard_or(std::ptr::null_mut(), || {
        // SAFETY: base_url is NULL or NUL-terminated (caller contract).
        let Ok(url) = (unsafe { c_str(base_url, "base_url") }) else {
            return std::ptr::null_mut();
        };
        // SAFETY: cfg is NULL or a live h2_config.
        let cfg = unsafe { cfg.as_ref() }
            .map(|c| c.inner.clone())
            .unwrap_or_else(Config::default);
        match Client::new(url, cfg) {
            Ok(c) => Box::into_raw(Box::new(h2_client {
                inner: c,
                active: AtomicUsize::new(0),
            })),
            Err(e) => {
                fail(e);
                std::ptr::null_mut()
            }
        }
    })
}

/// Closes the client: sends GOAWAY(NO_ERROR) on every connection and closes them (waiting up
/// to 250 ms for that to be written), makes requests still waiting return H2_E_CLOSED, and
/// frees it. NULL is allowed.
#[no_mangle]
pub unsafe extern "C" fn h2_client_free(client: *mut h2_client) {
    if client.is_null() {
        return;
    }
    let ok = guard(|| {
        // SAFETY: client came from h2_client_new and is live (caller contract).
        let c = unsafe { &*client };
        c.inner.close();
        // Calls blocked in h2_client_do now fail fast; let them return before freeing.
        let until = Instant::now() + Duration::from_secs(5);
        while c.active.load(Ordering::Acquire) > 0 {
            if Instant::now() > until {
                // Leaking is safer than freeing memory another thread still reads.
                return super::H2_E_INTERNAL;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        H2_OK
    });
    if ok == H2_OK {
        // SAFETY: no call is using the client any more; freed once (caller contract).
        drop(unsafe { Box::from_raw(client) });
    }
}

/// Sends `req` and blocks until the complete response has arrived, then stores it in `*out`
/// (free it with `h2_response_free`). Any HTTP status is a success (H2_OK); failures return an
/// H2_E_* code with `*out` set to NULL, and `h2_last_error` / `h2_last_error_message` tell
/// what happened, including whether the server may have processed the request. Requests the
/// server provably did not process are retried first (REFUSED_STREAM on the same or
/// another connection, streams above a GOAWAY's last stream id on another one).
///
/// Must not be called from a library callback or runtime thread (returns H2_E_WRONG_THREAD).
#[no_mangle]
pub unsafe extern "C" fn h2_client_do(
    client: *mut h2_client,
    req: *const h2_request,
    out: *mut *mut h2_response,
) -> h2_result {
    guard(|| {
        // SAFETY: out is NULL or writable (caller contract).
        unsafe { put(out, std::ptr::null_mut()) };
        if out.is_null() {
            return invalid("h2_client_do: out is NULL");
        }
        // SAFETY: client and req are NULL or live objects (caller contract).
        let (Some(c), Some(r)) = (unsafe { client.as_ref() }, unsafe { req.as_ref() }) else {
            return invalid("h2_client_do: client or request is NULL");
        };
        c.active.fetch_add(1, Ordering::AcqRel);
        let result = c.inner.execute(r.inner.clone());
        c.active.fetch_sub(1, Ordering::AcqRel);
        match result {
            Ok(resp) => {
                let b = Box::new(h2_response { inner: resp });
                // SAFETY: out is non-null and writable.
                unsafe { put(out, Box::into_raw(b)) };
                H2_OK
            }
            Err(e) => fail(e),
        }
    })
}
