//! `h2_client`: a client for any number of origins, with an optional base URL.

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::queue::{Posting, Target};
use super::response::{h2_response_parts, PARTS_FIRST_VERSION_SIZE};
use super::{
    c_str, entry, fail, guard, h2_call, h2_config, h2_done_fn, h2_queue, h2_request, h2_response,
    h2_result, invalid, put, try_ref, H2_OK,
};
use crate::client::Client;
use crate::config::Config;
use crate::conn::defence::Trip;
use crate::exchange::Notify;

/// An HTTP/2 client for any number of origins (scheme, host, port), holding 0..N
/// connections to each (`max_connections_per_origin`), `max_connections` in all. Requests
/// made with `h2_request_new` (a path) go to the base URL's origin; those made with
/// `h2_request_new_url` go to their URL's origin.
///
/// Thread safety: an `h2_client` may be used from any number of threads at once; requests
/// from all threads are multiplexed over its connections. `h2_client_free` must be called
/// once, when no other thread will start a call on the client (calls already blocked in
/// `h2_client_do` return H2_E_CLOSED).
pub struct h2_client {
    inner: Client,
    active: AtomicUsize,
}

/// A client whose base URL is `base_url`: "http://host[:port]" for HTTP/2 over cleartext
/// with prior knowledge (RFC 9113 §3.3), or "https://host[:port]" for HTTP/2 over TLS (ALPN
/// "h2", SNI from the host unless it is an IP literal, the system's CA store unless the
/// config names other roots). Any path in the URL is ignored: each request names its own;
/// userinfo is refused (H2_E_INVALID_URL). Requests made with `h2_request_new` (a path) go to
/// this origin. `base_url` may be NULL: the client then has no base URL and takes only
/// requests made with `h2_request_new_url` (a path-only request fails with
/// H2_E_INVALID_ARGUMENT). Either way, requests made from absolute URLs go to their own
/// origin, each with its own connections; every https origin shares one TLS configuration
/// (made when the first needs it if the base URL is not https; SNI is each origin's host).
/// An origin with no connection and nothing waiting is forgotten after the idle timeout (90 s
/// if connections never idle out). `cfg` may be NULL for defaults; it is copied. No connection is opened until the first request. Returns
/// NULL on error (H2_E_INVALID_URL, H2_E_INVALID_ARGUMENT, H2_E_TLS, H2_E_CLOSED after
/// `h2_global_cleanup`; see `h2_last_error_message`). The first client starts the library's
/// runtimes (their home threads, which are running when this returns).
#[no_mangle]
pub unsafe extern "C" fn h2_client_new(
    base_url: *const c_char,
    cfg: *const h2_config,
) -> *mut h2_client {
    entry!(h2_client_new, || {
        let url = if base_url.is_null() {
            None
        } else {
            // SAFETY: base_url is non-NULL and NUL-terminated (caller contract).
            let Ok(url) = (unsafe { c_str(base_url, "base_url") }) else {
                return std::ptr::null_mut();
            };
            Some(url)
        };
        // SAFETY: cfg is NULL or a live h2_config.
        let cfg = unsafe { cfg.as_ref() }
            .map(|c| c.inner.clone())
            .unwrap_or_else(Config::default);
        let client = match url {
            Some(url) => Client::new(url, cfg),
            None => Client::without_base(cfg),
        };
        match client {
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
///
/// Event callbacks: when this returns, no event callback of this client is running and none
/// will start, so the event `userdata` may be freed right after (connections closing later
/// report nothing). It waits for callbacks in progress on other threads, without a time
/// limit: do not call it while holding a lock that the event callback takes. Called from
/// the client's own event callback, it does not wait for that callback (which goes on after
/// this returns) and does not deadlock; on a library thread the 250 ms wait is skipped.
///
/// Completions of calls still in flight (`h2_client_submit` queue entries and
/// `h2_client_submit_cb` `done` callbacks, with H2_E_CLOSED) belong to the calls, not the
/// client: they may still be delivered after this returns, until each call is freed.
#[no_mangle]
pub unsafe extern "C" fn h2_client_free(client: *mut h2_client) {
    // SAFETY: forwarded caller contract.
    entry!(h2_client_free, || unsafe { client_free(client) })
}

/// `h2_client_free`'s work, inside its entry point.
unsafe fn client_free(client: *mut h2_client) {
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
    entry!(h2_client_do, || {
        // SAFETY: out is NULL or writable (caller contract).
        unsafe { put(out, std::ptr::null_mut()) };
        if out.is_null() {
            return invalid("out is NULL");
        }
        let (c, r) = (try_ref!(client), try_ref!(req));
        if r.inner.streaming_body {
            return invalid("a request with a streaming body must be started with h2_client_start");
        }
        // SAFETY: out is non-NULL and writable (checked above, caller contract).
        unsafe { execute(c, r.inner.clone(), out) }
    })
}

/// `h2_client_do`'s exchange, once its arguments are checked.
///
/// # Safety
/// `out` must be non-NULL and writable.
unsafe fn execute(
    c: &h2_client,
    req: std::sync::Arc<crate::request::Request>,
    out: *mut *mut h2_response,
) -> h2_result {
    match exchange(c, req) {
        Ok(resp) => {
            // SAFETY: out is non-null and writable (caller contract).
            unsafe { put(out, Box::into_raw(Box::new(resp))) };
            H2_OK
        }
        Err(rc) => rc,
    }
}

/// `h2_client_do`'s exchange: the complete response, or the recorded failure.
fn exchange(
    c: &h2_client,
    req: std::sync::Arc<crate::request::Request>,
) -> Result<h2_response, h2_result> {
    if let Err(e) = crate::runtime::check_running() {
        return Err(fail(e));
    }
    c.active.fetch_add(1, Ordering::AcqRel);
    let result = c.inner.execute_traced(req);
    c.active.fetch_sub(1, Ordering::AcqRel);
    match result {
        Ok((inner, info)) => Ok(h2_response { inner, info }),
        Err(e) => Err(fail(e)),
    }
}

/// The request `h2_client_fetch` makes of `method` and `target` (a URL if it starts with a
/// scheme, else a path), or the recorded failure.
///
/// # Safety
/// `method` and `target` must be NULL or NUL-terminated.
unsafe fn fetch_request(
    method: *const c_char,
    target: *const c_char,
) -> Result<std::sync::Arc<crate::request::Request>, h2_result> {
    // SAFETY: caller passes NULL or NUL-terminated strings.
    let (m, t) = match unsafe { (c_str(method, "method"), c_str(target, "target")) } {
        (Ok(m), Ok(t)) => (m, t),
        (Err(rc), _) | (_, Err(rc)) => return Err(rc),
    };
    let made = if crate::url::starts_with_scheme(t) {
        crate::request::Request::from_url(m, t)
    } else {
        crate::request::Request::new(m, t)
    };
    made.map(std::sync::Arc::new).map_err(fail)
}

/// Sends a request with no header fields or body of its own, `method` (e.g. "GET") to
/// `target`, and blocks until its complete response has arrived, as `h2_client_do` does (the
/// same results, retries and errors; free `*out` with `h2_response_free`). `target` is a path
/// for the client's base URL, as `h2_request_new` takes it, or an absolute URL, as
/// `h2_request_new_url` takes it: it is a URL when it starts with a scheme and a colon
/// (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"`, RFC 3986 §3.1). The client's
/// configuration applies as to any request (default headers, timeouts, redirects,
/// decompression). One call instead of three (`h2_request_new`, `h2_client_do`,
/// `h2_request_free`): for bindings where each call into the library costs (Ruby's FFI), and
/// for programs that need nothing more. Records H2_E_INVALID_ARGUMENT / H2_E_INVALID_URL as
/// the request constructors do.
///
/// Must not be called from a library callback or runtime thread (returns H2_E_WRONG_THREAD).
#[no_mangle]
pub unsafe extern "C" fn h2_client_fetch(
    client: *mut h2_client,
    method: *const c_char,
    target: *const c_char,
    out: *mut *mut h2_response,
) -> h2_result {
    entry!(h2_client_fetch, || {
        // SAFETY: out is NULL or writable (caller contract).
        unsafe { put(out, std::ptr::null_mut()) };
        if out.is_null() {
            return invalid("out is NULL");
        }
        let c = try_ref!(client);
        // SAFETY: caller passes NULL or NUL-terminated strings.
        match unsafe { fetch_request(method, target) } {
            // SAFETY: out is non-NULL and writable (checked above, caller contract).
            Ok(req) => unsafe { execute(c, req, out) },
            Err(rc) => rc,
        }
    })
}

/// `h2_client_fetch` into the caller's memory: the response's parts in `*parts` (as
/// `h2_response_get_parts` gives them; set `parts->struct_size` first), and when its header
/// fields, body, trailers and effective URL (with its NUL) fit together in the `cap` bytes
/// at `buf`, the response is copied there, one part after the other in that order, the
/// parts point at the copies and the response is freed: `*out` is NULL. Otherwise `*out` is
/// the response, which the parts point into: free it with `h2_response_free`. For small
/// responses no allocation outlives the call and nothing is left to free; for bindings,
/// whose calls into the library cost (Ruby's FFI), the whole response in one call.
///
/// A copied response is gone: what only the response object gives (`h2_response_info`,
/// `h2_response_peer_certificate`) needs `cap` 0, or `h2_client_fetch`. `buf` must not
/// overlap `*parts` or `*out`; it may be NULL if `cap` is 0 (the response is then never
/// copied). The same results, retries and errors as `h2_client_fetch`; on failure `*out` is
/// NULL and `*parts` as it was. H2_E_INVALID_ARGUMENT (and no request sent) if `parts` or
/// `out` is NULL, `parts->struct_size` is too small, or `buf` is NULL and `cap` is not 0.
///
/// Must not be called from a library callback or runtime thread (returns H2_E_WRONG_THREAD).
#[no_mangle]
pub unsafe extern "C" fn h2_client_fetch_into(
    client: *mut h2_client,
    method: *const c_char,
    target: *const c_char,
    parts: *mut h2_response_parts,
    buf: *mut u8,
    cap: usize,
    out: *mut *mut h2_response,
) -> h2_result {
    entry!(h2_client_fetch_into, || {
        // SAFETY: out is NULL or writable (caller contract).
        unsafe { put(out, std::ptr::null_mut()) };
        if out.is_null() {
            return invalid("out is NULL");
        }
        let c = try_ref!(client);
        // SAFETY: parts is NULL or a struct that starts with its struct_size (caller
        // contract).
        if let Err(rc) = unsafe {
            super::sized_room(
                parts,
                "parts",
                PARTS_FIRST_VERSION_SIZE,
                "h2_response_parts",
            )
        } {
            return rc;
        }
        if buf.is_null() && cap != 0 {
            return invalid("buf is NULL but cap is not 0");
        }
        // SAFETY: caller passes NULL or NUL-terminated strings.
        let resp = match unsafe { fetch_request(method, target) }.and_then(|r| exchange(c, r)) {
            Ok(resp) => resp,
            Err(rc) => return rc,
        };
        let mut got = h2_response_parts::of(&resp.inner);
        // SAFETY: the parts point into `resp`, alive here; buf is writable for cap bytes
        // (caller contract) and cannot overlap a response made in this call.
        if !unsafe { got.copy_into(buf, cap) } {
            // The parts of the response where it now lives (the caller's to free), not of
            // the value it was moved from.
            let resp = Box::new(resp);
            got = h2_response_parts::of(&resp.inner);
            // SAFETY: out is non-NULL and writable (checked above).
            unsafe { put(out, Box::into_raw(resp)) };
        }
        // SAFETY: parts is a writable struct of its struct_size (checked above, caller
        // contract); h2_response_parts is repr(C) and starts with struct_size.
        unsafe { super::deliver_sized(parts, got, PARTS_FIRST_VERSION_SIZE, "h2_response_parts") }
    })
}

/// Starts `req` and returns at once with a call in `*out` (free it with `h2_call_free`). The
/// response is read as it arrives: `h2_call_wait_headers`, `h2_call_status`, the header
/// accessors, `h2_call_read` until it gives 0 bytes, then the trailers. If the request was
/// marked with `h2_request_set_streaming_body`, HEADERS go out without END_STREAM and the body
/// is written with `h2_call_write` and ended with `h2_call_finish`.
#[no_mangle]
pub unsafe extern "C" fn h2_client_start(
    client: *mut h2_client,
    req: *const h2_request,
    out: *mut *mut h2_call,
) -> h2_result {
    entry!(h2_client_start, || {
        // SAFETY: out is NULL or writable.
        unsafe { put(out, std::ptr::null_mut()) };
        let (c, r) = (try_ref!(client), try_ref!(req));
        if out.is_null() {
            return invalid("out is NULL");
        }
        if let Err(e) = crate::runtime::check_running() {
            return fail(e);
        }
        match c.inner.start(r.inner.clone()) {
            Ok(call) => {
                let b = Box::into_raw(Box::new(h2_call::new(call, None)));
                // SAFETY: out is non-null and writable.
                unsafe { put(out, b) };
                H2_OK
            }
            Err(e) => fail(e),
        }
    })
}

/// Submits the request and returns at once. The whole response is buffered (up to
/// `max_response_body`) and the completion `{tag, call, result}` is posted to `q`; take the
/// response with `h2_call_response(call, ...)`, then `h2_call_free(call)`. `*out` receives
/// the call at once, so it can be cancelled early. One queue serves any number of clients and
/// calls.
#[no_mangle]
pub unsafe extern "C" fn h2_client_submit(
    client: *mut h2_client,
    req: *const h2_request,
    q: *mut h2_queue,
    tag: u64,
    out: *mut *mut h2_call,
) -> h2_result {
    entry!(h2_client_submit, || {
        // SAFETY: out is NULL or writable.
        unsafe { put(out, std::ptr::null_mut()) };
        let target = Target::Queue {
            q: try_ref!(q).inner.clone(),
            tag,
        };
        // SAFETY: forwarded caller contract.
        unsafe { submit(client, req, target, out) }
    })
}

/// Like `h2_client_submit`, but instead of posting to a queue, calls `done(userdata, call,
/// result)` once the response is buffered or the request failed. `done` runs on a library
/// thread (also when the request fails at once): it must return quickly, must not block, and
/// must not call blocking functions of the library (they return H2_E_WRONG_THREAD there). It
/// may call `h2_call_response` and `h2_call_free` on its call. If the call is freed before its
/// completion is delivered, `done` is not called; do not free a call from another thread while
/// its `done` may be running (free it in `done`, or after `done` ran).
#[no_mangle]
pub unsafe extern "C" fn h2_client_submit_cb(
    client: *mut h2_client,
    req: *const h2_request,
    done: h2_done_fn,
    userdata: *mut c_void,
    out: *mut *mut h2_call,
) -> h2_result {
    entry!(h2_client_submit_cb, || {
        // SAFETY: out is NULL or writable.
        unsafe { put(out, std::ptr::null_mut()) };
        let Some(f) = done else {
            return invalid("done is NULL");
        };
        let target = Target::Callback {
            f,
            userdata: userdata as usize,
        };
        // SAFETY: forwarded caller contract.
        unsafe { submit(client, req, target, out) }
    })
}

unsafe fn submit(
    client: *mut h2_client,
    req: *const h2_request,
    target: Target,
    out: *mut *mut h2_call,
) -> h2_result {
    let (c, r) = (try_ref!(client), try_ref!(req));
    if out.is_null() {
        return invalid("out is NULL");
    }
    if let Err(e) = crate::runtime::check_running() {
        return fail(e);
    }
    let posting = Posting::new(target);
    match c.inner.submit(r.inner.clone(), posting.clone() as Notify) {
        Ok(call) => {
            match &posting.target {
                Target::Queue { q, .. } => {
                    q.set_runtime(call.runtime());
                    // A queue watched through its fd is waited on outside the library.
                    if q.is_armed() {
                        if let Some(rt) = call.runtime() {
                            crate::runtime::ensure_driven(rt);
                        }
                    }
                }
                Target::Callback { .. } => {
                    if let Some(rt) = call.runtime() {
                        crate::runtime::ensure_driven(rt);
                    }
                }
            }
            let b = Box::into_raw(Box::new(h2_call::new(call, Some(posting.clone()))));
            posting.bind(b as usize);
            // SAFETY: out is non-null and writable.
            unsafe { put(out, b) };
            H2_OK
        }
        Err(e) => fail(e),
    }
}

/// A client's counters and state.
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub struct h2_stats {
    /// Connections open (including draining ones).
    pub connections_open: u32,
    /// Connections being dialed (one dial at a time per origin).
    pub connections_opening: u32,
    /// Connections that take no new streams (GOAWAY received, closing when idle).
    pub connections_draining: u32,
    /// Smallest concurrent-stream limit among the open connections (the server's
    /// SETTINGS_MAX_CONCURRENT_STREAMS capped by ours); 0 if none is open.
    pub peer_max_concurrent_streams_min: u32,
    /// Largest such limit.
    pub peer_max_concurrent_streams_max: u32,
    /// Streams open or about to open on the connections.
    pub streams_active: u64,
    /// Requests waiting for a stream slot.
    pub streams_queued: u64,
    /// Requests that got a response (any status).
    pub requests_completed: u64,
    /// Requests that failed.
    pub requests_failed: u64,
    /// Requests retried because the server did not process them.
    pub requests_retried: u64,
    /// Bytes written to the connections (TLS records included for https).
    pub bytes_sent: u64,
    /// Bytes read from the connections.
    pub bytes_received: u64,
    /// Connections opened since the client was created.
    pub connections_opened: u64,
    /// Smoothed round-trip time in microseconds from PING acks (the mean over open
    /// connections that have a sample), 0 if none measured yet.
    pub rtt_us: u64,
    /// Header blocks cut off for too many CONTINUATION frames (flood defence).
    pub limit_continuation_flood: u64,
    /// Header blocks or lists over our limits (`max_header_list_size`).
    pub limit_header_list: u64,
    /// Connections closed for a flood of empty DATA frames (`max_empty_data_frames`).
    pub limit_empty_data_flood: u64,
    /// Connections closed for a PING/SETTINGS flood (`max_pending_acks`).
    pub limit_ack_flood: u64,
    /// Connections closed for too many pointless frames (`max_glitches`).
    pub limit_glitch_flood: u64,
    /// Connections that stopped taking streams because callers reset streams too fast
    /// (`max_resets_per_second`).
    pub limit_reset_rate: u64,
    /// Streams reset for too many informational (1xx) responses
    /// (`max_informational_responses`).
    pub limit_informational_flood: u64,
    /// Reserved for counters added later; zero.
    pub reserved: [u64; 9],
}

/// Closes every connection of the client, of any origin, that has no request in flight, as
/// Go's `Transport.CloseIdleConnections` does: each sends GOAWAY(NO_ERROR) and closes; a
/// request that picks one of them meanwhile goes on another connection, never fails for it.
/// Connections with requests in flight are left alone. `closed` (may be NULL) receives how
/// many connections it closes.
#[no_mangle]
pub unsafe extern "C" fn h2_client_close_idle_connections(
    client: *const h2_client,
    closed: *mut usize,
) -> h2_result {
    entry!(h2_client_close_idle_connections, || {
        let c = try_ref!(client);
        let n = c.inner.close_idle_connections();
        if !closed.is_null() {
            // SAFETY: closed is non-null and writable (caller contract).
            unsafe { put(closed, n) };
        }
        H2_OK
    })
}

/// Fills `*out` with the client's counters and state, summed over every origin (the
/// counters of origins forgotten after their idle timeout included).
#[no_mangle]
pub unsafe extern "C" fn h2_client_stats(
    client: *const h2_client,
    out: *mut h2_stats,
) -> h2_result {
    entry!(h2_client_stats, || {
        let c = try_ref!(client);
        if out.is_null() {
            return invalid("out is NULL");
        }
        let st = stats_of(&c.inner.snapshot());
        // SAFETY: out is non-null and writable.
        unsafe { put(out, st) };
        H2_OK
    })
}

/// Fills `*out` with the counters and state of one origin, named "scheme://host[:port]"
/// (e.g. "https://example.com:443"; the default port may be left out, a path is ignored).
/// An origin the client holds no pool for (never used, or forgotten after its idle timeout)
/// reads as zeros. Returns H2_E_INVALID_URL if `origin` is not such a URL.
#[no_mangle]
pub unsafe extern "C" fn h2_client_origin_stats(
    client: *const h2_client,
    origin: *const c_char,
    out: *mut h2_stats,
) -> h2_result {
    entry!(h2_client_origin_stats, || {
        let c = try_ref!(client);
        if out.is_null() {
            return invalid("out is NULL");
        }
        // SAFETY: origin is NULL or NUL-terminated (caller contract).
        let origin = match unsafe { c_str(origin, "origin") } {
            Ok(o) => o,
            Err(code) => return code,
        };
        match c.inner.origin_snapshot(origin) {
            Ok(s) => {
                // SAFETY: out is non-null and writable.
                unsafe { put(out, stats_of(&s)) };
                H2_OK
            }
            Err(e) => fail(e),
        }
    })
}

/// The C view of a snapshot.
fn stats_of(s: &crate::client::ClientSnapshot) -> h2_stats {
    let rtts: Vec<u64> = s.rtt_us.iter().copied().filter(|&r| r > 0).collect();
    h2_stats {
        connections_open: s.connections as u32,
        connections_opening: s.dials as u32,
        connections_draining: s.draining as u32,
        peer_max_concurrent_streams_min: s.stream_limits.iter().copied().min().unwrap_or(0),
        peer_max_concurrent_streams_max: s.stream_limits.iter().copied().max().unwrap_or(0),
        streams_active: s.open_streams,
        streams_queued: s.waiting as u64,
        requests_completed: s.requests_completed,
        requests_failed: s.requests_failed,
        requests_retried: s.retries,
        bytes_sent: s.bytes_sent,
        bytes_received: s.bytes_received,
        connections_opened: s.connections_opened,
        rtt_us: if rtts.is_empty() {
            0
        } else {
            rtts.iter().sum::<u64>() / rtts.len() as u64
        },
        limit_continuation_flood: s.limits_tripped[Trip::Continuation as usize],
        limit_header_list: s.limits_tripped[Trip::HeaderList as usize],
        limit_empty_data_flood: s.limits_tripped[Trip::EmptyData as usize],
        limit_ack_flood: s.limits_tripped[Trip::Acks as usize],
        limit_glitch_flood: s.limits_tripped[Trip::Glitches as usize],
        limit_reset_rate: s.limits_tripped[Trip::Resets as usize],
        limit_informational_flood: s.limits_tripped[Trip::Informational as usize],
        reserved: [0; 9],
    }
}
