//! `h2_call`: one request/response exchange in flight.

use std::ffi::c_char;
use std::sync::Mutex;

use super::response::{packed_clear, packed_out};
use super::{
    c_bytes, c_slice, entry, fail, field_at, find, h2_error_info, h2_queue, h2_response, h2_result,
    invalid, put, try_ref, Posting, H2_OK,
};
use crate::client::Call;
use crate::error::ErrorKind;
use crate::headers::HeaderList;
use crate::request::check_trailer;

/// A request/response exchange in flight, from `h2_client_start`, `h2_client_submit` or
/// `h2_client_submit_cb`. Free it with `h2_call_free` (which cancels it if it has not ended).
///
/// Threads: `h2_call_cancel` may be called from any thread at any time; the other functions
/// may be called from one thread at a time (e.g. one thread writes the body while another
/// reads the response). Blocking functions (`h2_call_write`, `h2_call_wait_headers`,
/// `h2_call_read`, `h2_call_wait`) must not be called from a library callback (they return
/// H2_E_WRONG_THREAD there).
pub struct h2_call {
    pub(crate) inner: Call,
    pub(crate) posting: Option<std::sync::Arc<Posting>>,
    /// The trailers added, and their RFC 7541 size (checked against the cap on each add).
    trailers: Mutex<(Option<HeaderList>, usize)>,
    /// The body pieces lent out by `h2_call_read_view`, kept alive until the next read.
    view: Mutex<Vec<bytes::Bytes>>,
    /// The connection facts `h2_call_info` handed out pointers into, kept as long as the call.
    pub(crate) kept: Mutex<Vec<std::sync::Arc<crate::info::ConnInfo>>>,
}

impl h2_call {
    pub(crate) fn new(inner: Call, posting: Option<std::sync::Arc<Posting>>) -> h2_call {
        h2_call {
            inner,
            posting,
            trailers: Mutex::new((None, 0)),
            view: Mutex::new(Vec::new()),
            kept: Mutex::new(Vec::new()),
        }
    }
}

/// Why a submitted call cannot be read piecewise (the core's message does not name C functions).
const SUBMITTED: &str = "a submitted call buffers its response: take it with h2_call_response";

fn result(r: crate::error::Result<()>) -> h2_result {
    match r {
        Ok(()) => H2_OK,
        Err(e) => fail(e),
    }
}

/// Writes `len` bytes of request body (copied once). Blocks while the call's upload queue is
/// full, i.e. while the server's flow-control window is closed: a body of any size streams
/// through in bounded memory. Only for requests marked with `h2_request_set_streaming_body`.
/// Fails with the call's error if it has ended (reset, cancelled, timed out). If the request
/// has a `content-length` header, a write that would take the body past it is refused whole
/// with H2_E_INVALID_ARGUMENT and fails the call: the stream, if started, is reset with
/// RST_STREAM(CANCEL), so the server never sees more body than was declared.
#[no_mangle]
pub unsafe extern "C" fn h2_call_write(c: *mut h2_call, data: *const u8, len: usize) -> h2_result {
    entry!(h2_call_write, || {
        let c = try_ref!(c);
        // SAFETY: data is valid for len bytes (caller contract).
        match unsafe { c_slice(data, len, "data") } {
            Ok(d) => result(c.inner.write(d)),
            Err(code) => code,
        }
    })
}

/// Adds a trailer to send after the request body (before `h2_call_finish`). Names and values
/// are checked as for `h2_request_add_header` (no pseudo-headers, no control characters but
/// HTAB in values). Fields that frame, route or authenticate the message are refused too
/// (RFC 9110 §6.5.1): content-length, transfer-encoding, host, te, trailer, content-type,
/// content-encoding, content-range, authorization, proxy-authorization, cache-control,
/// expect, max-forwards, pragma, range, set-cookie, cookie. A refused trailer returns
/// H2_E_INVALID_ARGUMENT and is not added; the call goes on. The trailers together are
/// capped at 1 MiB (RFC 7541 sizes), as a request's header list: one past it returns
/// H2_E_HEADERS_TOO_LARGE and is not added.
#[no_mangle]
pub unsafe extern "C" fn h2_call_add_trailer(
    c: *mut h2_call,
    name: *const c_char,
    value: *const c_char,
) -> h2_result {
    entry!(h2_call_add_trailer, || {
        let c = try_ref!(c);
        // SAFETY: C strings or NULL (caller contract).
        let (n, v) = match unsafe {
            (
                c_bytes(name, "trailer name"),
                c_bytes(value, "trailer value"),
            )
        } {
            (Ok(n), Ok(v)) => (n, v),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        match check_trailer(n, v) {
            Ok(lower) => {
                let mut t = c.trailers.lock().unwrap_or_else(|e| e.into_inner());
                let (list, total) = &mut *t;
                // RFC 7541 §4.1 sizes, under the same cap as a request's header list.
                let size = *total + lower.len() + v.len() + 32;
                if size > crate::request::MAX_REQUEST_HEADER_LIST {
                    return fail(crate::error::Error::new(
                        crate::error::ErrorKind::HeadersTooLarge,
                        format!(
                            "trailers would be {size} bytes, over the limit of {} (RFC 7541 size)",
                            crate::request::MAX_REQUEST_HEADER_LIST
                        ),
                    ));
                }
                list.get_or_insert_with(HeaderList::new).push(&lower, v);
                *total = size;
                H2_OK
            }
            Err(e) => fail(e),
        }
    })
}

/// Ends the request body (END_STREAM), sending the trailers added with
/// `h2_call_add_trailer` if any. Does not block. If the request has a `content-length` header
/// and fewer bytes were written, the body is not ended: H2_E_INVALID_ARGUMENT, the call
/// fails and its stream, if started, is reset with RST_STREAM(CANCEL).
#[no_mangle]
pub unsafe extern "C" fn h2_call_finish(c: *mut h2_call) -> h2_result {
    entry!(h2_call_finish, || {
        let c = try_ref!(c);
        let trailers = c
            .trailers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .take();
        result(c.inner.finish(trailers))
    })
}

/// Blocks until the final response head has arrived (1xx responses are skipped), then
/// `h2_call_status` and the header accessors work. Returns the call's error if it failed first.
#[no_mangle]
pub unsafe extern "C" fn h2_call_wait_headers(c: *mut h2_call) -> h2_result {
    entry!(h2_call_wait_headers, || {
        let c = try_ref!(c);
        result(c.inner.wait_headers())
    })
}

/// Blocks until the call has ended (response complete, failed, or cancelled); returns H2_OK or
/// its error.
#[no_mangle]
pub unsafe extern "C" fn h2_call_wait(c: *mut h2_call) -> h2_result {
    entry!(h2_call_wait, || {
        let c = try_ref!(c);
        result(c.inner.wait())
    })
}

/// Whether the call has ended. Does not block.
#[no_mangle]
pub unsafe extern "C" fn h2_call_is_done(c: *const h2_call) -> bool {
    entry!(h2_call_is_done, || {
        let c = try_ref!(c);
        c.inner.is_done()
    })
}

/// The HTTP status of the response head, or 0 until it has arrived (or if `c` is NULL).
#[no_mangle]
pub unsafe extern "C" fn h2_call_status(c: *const h2_call) -> u16 {
    entry!(h2_call_status, || {
        let c = try_ref!(c);
        c.inner.status()
    })
}

/// Number of response headers (0 until the head has arrived).
#[no_mangle]
pub unsafe extern "C" fn h2_call_header_count(c: *const h2_call) -> usize {
    entry!(h2_call_header_count, || {
        let c = try_ref!(c);
        c.inner.with_head(|r| r.headers().len())
    })
}

/// The `i`th response header, as `h2_response_header_at`. The strings stay valid until
/// `h2_call_free` (for submitted calls, until `h2_call_response`).
#[no_mangle]
pub unsafe extern "C" fn h2_call_header_at(
    c: *const h2_call,
    i: usize,
    name: *mut *const c_char,
    name_len: *mut usize,
    value: *mut *const c_char,
    value_len: *mut usize,
) -> h2_result {
    entry!(h2_call_header_at, || {
        let c = try_ref!(c);
        // SAFETY: out pointers are NULL or writable; the list is not changed again.
        c.inner
            .with_head(|r| unsafe { field_at(r.headers(), i, name, name_len, value, value_len) })
    })
}

/// Every response header in one call, laid out as `h2_response_headers_packed` lays them out
/// (`name\0value\0...`, `*count` fields, `*len` bytes). Before the final head has arrived
/// (`h2_call_wait_headers`) there are none: `*count` and `*len` 0, H2_OK, as
/// `h2_call_header_count`. The bytes stay valid, read-only, until `h2_call_free` (for
/// submitted calls, until `h2_call_response`). Any output pointer may be NULL. Returns
/// H2_E_INVALID_ARGUMENT, with `*buf` NULL and the counts 0, if `c` is NULL.
#[no_mangle]
pub unsafe extern "C" fn h2_call_headers_packed(
    c: *const h2_call,
    buf: *mut *const u8,
    len: *mut usize,
    count: *mut usize,
) -> h2_result {
    entry!(h2_call_headers_packed, || {
        // SAFETY: out pointers are NULL or writable (caller contract).
        unsafe { packed_clear(buf, len, count) };
        let c = try_ref!(c);
        // SAFETY: out pointers are NULL or writable; the final head's list is not changed
        // again (an empty one is handed out as a static empty string).
        c.inner
            .with_head(|r| unsafe { packed_out(r.headers(), buf, len, count) })
    })
}

/// The first value of response header `name`, or NULL; as `h2_response_header`.
#[no_mangle]
pub unsafe extern "C" fn h2_call_header(c: *const h2_call, name: *const c_char) -> *const c_char {
    entry!(h2_call_header, || {
        let c = try_ref!(c);
        // SAFETY: name is a C string or NULL.
        c.inner.with_head(|r| unsafe { find(r.headers(), name) })
    })
}

/// Reads up to `cap` bytes of the response body into `buf`, blocking until some arrive;
/// `*n` is set to the count, 0 at the end of the body. The stream's flow-control window is
/// reopened only as the body is read, so a caller that stops reading stops the server after
/// one window (`h2_config_set_initial_window_size`) while other streams keep flowing. Only for
/// calls from `h2_client_start`. Returns the call's error if it failed. A body decoded from
/// its content-encoding (`h2_call_decoded`) is decoded here, as much as `cap` asks for: the
/// window is reopened by the compressed bytes consumed, and data that does not decode fails
/// the call with H2_E_DECODE.
#[no_mangle]
pub unsafe extern "C" fn h2_call_read(
    c: *mut h2_call,
    buf: *mut u8,
    cap: usize,
    n: *mut usize,
) -> h2_result {
    entry!(h2_call_read, || {
        // SAFETY: forwarded caller contract (h2_call_read's).
        unsafe { read_into(c, buf, cap, n, |c, dst| Some(c.inner.read(dst))) }
    })
}

/// `h2_call_read` and `h2_call_try_read`: checks the arguments, then copies body bytes with
/// `read` (`None`: nothing yet, H2_E_AGAIN).
///
/// # Safety
/// As `h2_call_read`: `c` NULL or a live call, `buf` valid for `cap` bytes, `n` NULL or
/// writable.
unsafe fn read_into(
    c: *mut h2_call,
    buf: *mut u8,
    cap: usize,
    n: *mut usize,
    read: impl FnOnce(&h2_call, &mut [u8]) -> Option<crate::error::Result<usize>>,
) -> h2_result {
    // SAFETY: n is NULL or writable.
    unsafe { put(n, 0) };
    let c = try_ref!(c);
    if n.is_null() || (buf.is_null() && cap > 0) || cap > isize::MAX as usize {
        return invalid("buf or n is NULL, or cap is too large");
    }
    if c.posting.is_some() {
        return invalid(SUBMITTED);
    }
    c.release_view();
    let dst: &mut [u8] = if cap == 0 {
        &mut []
    } else {
        // SAFETY: buf is valid for cap bytes (caller contract).
        unsafe { std::slice::from_raw_parts_mut(buf, cap) }
    };
    match read(c, dst) {
        Some(Ok(k)) => {
            // SAFETY: n is non-null and writable.
            unsafe { put(n, k) };
            H2_OK
        }
        Some(Err(e)) => fail(e),
        None => again(),
    }
}

/// A piece of a response body lent by `h2_call_read_view` (same layout as POSIX
/// `struct iovec`, but read-only).
#[repr(C)]
pub struct h2_piece {
    /// The bytes.
    pub data: *const u8,
    /// How many.
    pub len: usize,
}

/// Borrows the response body without copying it: blocks like `h2_call_read` until body
/// bytes arrive, then fills `pieces` with up to `max` of the pieces received so far (each
/// usually one DATA frame's payload, in order) and sets `*count`; `*count` is 0 at the end of
/// the body. The bytes stay valid, read-only, until the next `h2_call_read`,
/// `h2_call_read_view` or `h2_call_free` on this call (one `writev` can send them all). The
/// window is reopened as with `h2_call_read`. Only for calls from `h2_client_start`. Returns
/// the call's error if it failed. A decoded body (`h2_call_decoded`) comes in pieces of up to
/// 64 KiB (at most 4 per call) decoded into a buffer the call owns and reuses.
#[no_mangle]
pub unsafe extern "C" fn h2_call_read_view(
    c: *mut h2_call,
    pieces: *mut h2_piece,
    max: usize,
    count: *mut usize,
) -> h2_result {
    entry!(h2_call_read_view, || {
        // SAFETY: count is NULL or writable.
        unsafe { put(count, 0) };
        let c = try_ref!(c);
        if pieces.is_null() || count.is_null() || max == 0 {
            return invalid("pieces or count is NULL, or max is 0");
        }
        if max > isize::MAX as usize / std::mem::size_of::<h2_piece>() {
            return invalid("max is too large");
        }
        if c.posting.is_some() {
            return invalid(SUBMITTED);
        }
        let mut lent = c.view.lock().unwrap_or_else(|e| e.into_inner());
        lent.clear();
        if let Err(e) = c.inner.read_chunks(max, &mut lent) {
            return fail(e);
        }
        for (i, piece) in lent.iter().enumerate() {
            // SAFETY: pieces is valid for max entries (caller contract) and i < max.
            unsafe {
                pieces.add(i).write(h2_piece {
                    data: piece.as_ptr(),
                    len: piece.len(),
                })
            };
        }
        // SAFETY: count is non-null and writable.
        unsafe { put(count, lent.len()) };
        H2_OK
    })
}

impl h2_call {
    /// Drops the pieces lent by `h2_call_read_view` (the caller is done with them).
    fn release_view(&self) {
        self.view.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Whether the response body is decoded from its content-encoding as it is read
/// (`h2_config_set_accept_encoding`; its `content-encoding` and `content-length` headers were
/// then removed). False until the head has arrived, or if `c` is NULL.
#[no_mangle]
pub unsafe extern "C" fn h2_call_decoded(c: *const h2_call) -> bool {
    entry!(h2_call_decoded, || {
        let c = try_ref!(c);
        c.inner.decoded()
    })
}

/// Number of trailers (0 until the body has ended).
#[no_mangle]
pub unsafe extern "C" fn h2_call_trailer_count(c: *const h2_call) -> usize {
    entry!(h2_call_trailer_count, || {
        let c = try_ref!(c);
        c.inner.with_trailers(|t| t.map_or(0, |t| t.len()))
    })
}

/// The `i`th trailer, once the body has ended; as `h2_response_header_at`.
#[no_mangle]
pub unsafe extern "C" fn h2_call_trailer_at(
    c: *const h2_call,
    i: usize,
    name: *mut *const c_char,
    name_len: *mut usize,
    value: *mut *const c_char,
    value_len: *mut usize,
) -> h2_result {
    entry!(h2_call_trailer_at, || {
        let c = try_ref!(c);
        c.inner.with_trailers(|t| match t {
            // SAFETY: out pointers are NULL or writable; trailers are not changed again.
            Some(t) => unsafe { field_at(t, i, name, name_len, value, value_len) },
            None => invalid("no trailers yet: the response body has not ended"),
        })
    })
}

/// Every trailer in one call, once the response body has ended (`h2_call_read` returned 0,
/// or `h2_call_wait` returned H2_OK), laid out as `h2_response_headers_packed` lays out the
/// headers (no trailers: `*count` and `*len` 0). Valid until `h2_call_free`. Any output
/// pointer may be NULL. Returns H2_E_INVALID_ARGUMENT, with `*buf` NULL and the counts 0, if
/// `c` is NULL or the body has not ended, as `h2_call_trailer_at`.
#[no_mangle]
pub unsafe extern "C" fn h2_call_trailers_packed(
    c: *const h2_call,
    buf: *mut *const u8,
    len: *mut usize,
    count: *mut usize,
) -> h2_result {
    entry!(h2_call_trailers_packed, || {
        // SAFETY: out pointers are NULL or writable (caller contract).
        unsafe { packed_clear(buf, len, count) };
        let c = try_ref!(c);
        c.inner.with_trailers(|t| match t {
            // SAFETY: out pointers are NULL or writable; trailers are not changed again.
            Some(t) => unsafe { packed_out(t, buf, len, count) },
            None => invalid("no trailers yet: the response body has not ended"),
        })
    })
}

/// The first value of trailer `name`, or NULL.
#[no_mangle]
pub unsafe extern "C" fn h2_call_trailer(c: *const h2_call, name: *const c_char) -> *const c_char {
    entry!(h2_call_trailer, || {
        let c = try_ref!(c);
        // SAFETY: name is a C string or NULL.
        c.inner
            .with_trailers(|t| t.map_or(std::ptr::null(), |t| unsafe { find(t, name) }))
    })
}

/// Cancels the call, from any thread, at any time: the stream is reset with
/// RST_STREAM(CANCEL) and functions waiting on the call return H2_E_CANCELED. Harmless after
/// the call has ended.
#[no_mangle]
pub unsafe extern "C" fn h2_call_cancel(c: *mut h2_call) -> h2_result {
    entry!(h2_call_cancel, || {
        try_ref!(c).inner.cancel();
        H2_OK
    })
}

/// Fills `*out` with the call's error and returns its code; H2_OK (and an empty record) if the
/// call has not failed (yet).
#[no_mangle]
pub unsafe extern "C" fn h2_call_error(c: *const h2_call, out: *mut h2_error_info) -> h2_result {
    entry!(h2_call_error, || {
        let c = try_ref!(c);
        if out.is_null() {
            return invalid("out is NULL");
        }
        let e = c.inner.error();
        let info = h2_error_info::from_error(e.as_ref());
        // SAFETY: out is non-null and writable.
        unsafe { put(out, info) };
        info.code
    })
}

/// Takes the buffered response of a completed submitted call (`h2_client_submit`,
/// `h2_client_submit_cb`) and stores it in `*out` (free it with `h2_response_free`). Works
/// once. Returns the call's error if it failed, H2_E_INVALID_ARGUMENT if it has not completed
/// or was started with `h2_client_start`.
#[no_mangle]
pub unsafe extern "C" fn h2_call_response(
    c: *mut h2_call,
    out: *mut *mut h2_response,
) -> h2_result {
    entry!(h2_call_response, || {
        // SAFETY: out is NULL or writable.
        unsafe { put(out, std::ptr::null_mut()) };
        let c = try_ref!(c);
        if out.is_null() {
            return invalid("out is NULL");
        }
        match c.inner.response_traced() {
            Ok((r, info)) => {
                let b = Box::new(h2_response { inner: r, info });
                // SAFETY: out is non-null and writable.
                unsafe { put(out, Box::into_raw(b)) };
                H2_OK
            }
            // The core's message does not name the C function to use instead.
            Err(e)
                if e.kind == ErrorKind::InvalidArgument
                    && c.posting.is_none()
                    && c.inner.error().is_none() =>
            {
                invalid("a call from h2_client_start has no buffered response: use h2_call_read")
            }
            Err(e) => fail(e),
        }
    })
}

/// Response body bytes received and not yet read (`h2_client_start` calls): at most one
/// stream window, whatever the body size (of a decoded body, the compressed bytes not yet
/// decoded: at most one window and one DATA frame).
#[no_mangle]
pub unsafe extern "C" fn h2_call_buffered(c: *const h2_call) -> usize {
    entry!(h2_call_buffered, || {
        let c = try_ref!(c);
        c.inner.buffered()
    })
}

/// Frees the call, cancelling it if it has not ended. A completion of the call not yet
/// collected from its queue is removed, and a callback not yet run will not run. NULL is
/// allowed.
#[no_mangle]
pub unsafe extern "C" fn h2_call_free(c: *mut h2_call) {
    entry!(h2_call_free, || {
        if c.is_null() {
            return;
        }
        // SAFETY: c came from this library and is freed once (caller contract).
        let b = unsafe { Box::from_raw(c) };
        if let Some(p) = &b.posting {
            p.detach(c as usize);
        }
        // Before the cancel of `drop`, which would post an armed notification.
        b.inner.exchange().disarm(c as usize);
        drop(b);
    })
}

// ---- Non-blocking use of a streaming call -------------------------------------------------
//
// For event loops and green threads (Go's netpoller, libuv, Ruby's IO.select): instead of
// blocking a thread in `h2_call_wait_headers` / `h2_call_read`, try without blocking and, on
// H2_E_AGAIN, arm `h2_call_notify` on a completion queue whose fd the loop watches; try again
// when the notification's completion comes out of `h2_queue_poll`.

/// The error of a non-blocking function that found nothing yet (message shared, no
/// allocation per call).
fn again() -> h2_result {
    static AGAIN: std::sync::OnceLock<crate::error::Error> = std::sync::OnceLock::new();
    fail(
        AGAIN
            .get_or_init(|| {
                crate::error::Error::new(
                    ErrorKind::Again,
                    "nothing ready yet: arm h2_call_notify and try again once notified",
                )
            })
            .clone(),
    )
}

/// Arms a one-shot readiness notification on a call from `h2_client_start`: as soon as the
/// call has something new for its caller, a completion `{tag, c, result}` is posted to `q`
/// (collect it with `h2_queue_poll`, whose fd then becomes readable) and the notification
/// disarms. Something new is, if armed before the final response head arrived, the head;
/// after it, response body bytes buffered or the end of the body; at any time, the failure
/// of the call. If the call already has it, the completion is posted at once. `result` is
/// H2_OK, or the code of the call's failure (body bytes received before it can still be
/// read). Arming again before the completion was posted replaces the earlier notification
/// (one completion, with the new tag). Does not block.
///
/// A completion may come when the try function would still return H2_E_AGAIN (a decoded body
/// whose decoder needs more input than has arrived): arm again. `h2_call_free` disarms it
/// and removes its completion if not yet collected; the queue must outlive the calls armed
/// on it. Returns H2_E_INVALID_ARGUMENT for a NULL argument, a submitted call, or a call that
/// follows redirects (`h2_config_set_follow_redirects`) before `h2_call_wait_headers` saw its
/// final head.
#[no_mangle]
pub unsafe extern "C" fn h2_call_notify(c: *mut h2_call, q: *mut h2_queue, tag: u64) -> h2_result {
    entry!(h2_call_notify, || {
        let c = try_ref!(c);
        let q = try_ref!(q);
        if c.posting.is_some() {
            return invalid(SUBMITTED);
        }
        if let Err(e) = c.inner.check_nonblocking() {
            return fail(e);
        }
        c.inner
            .exchange()
            .arm(q.inner.clone(), tag, c as *const h2_call as usize);
        // The event loop waits on the queue's fd, not in the library: someone must drive.
        if let Some(rt) = c.inner.runtime() {
            crate::runtime::ensure_driven(rt);
        }
        H2_OK
    })
}

/// `h2_call_wait_headers` without blocking: H2_OK once the final response head has arrived
/// (then `h2_call_status` and the header accessors work), the call's error if it failed
/// first, H2_E_AGAIN (recorded as the last error) while neither has happened. Works on a
/// library thread. H2_E_INVALID_ARGUMENT as for `h2_call_notify`.
#[no_mangle]
pub unsafe extern "C" fn h2_call_try_wait_headers(c: *mut h2_call) -> h2_result {
    entry!(h2_call_try_wait_headers, || {
        let c = try_ref!(c);
        if c.posting.is_some() {
            return invalid(SUBMITTED);
        }
        match c.inner.try_wait_headers() {
            Some(r) => result(r),
            None => again(),
        }
    })
}

/// `h2_call_read` without blocking: copies up to `cap` bytes of the response body that have
/// arrived into `buf` and sets `*n` (0 at the end of the body), or returns H2_E_AGAIN (with
/// `*n` = 0) while there is nothing to read yet (no head, no body byte, not the end). The
/// window is reopened as with `h2_call_read`, and a decoded body (`h2_call_decoded`) is decoded
/// from what has arrived. Returns the call's error if it failed (once the bytes received
/// before were read). Works on a library thread. H2_E_INVALID_ARGUMENT for NULL `n`, NULL
/// `buf` with `cap` > 0, and as for `h2_call_notify`.
#[no_mangle]
pub unsafe extern "C" fn h2_call_try_read(
    c: *mut h2_call,
    buf: *mut u8,
    cap: usize,
    n: *mut usize,
) -> h2_result {
    entry!(h2_call_try_read, || {
        // SAFETY: forwarded caller contract (h2_call_read's).
        unsafe { read_into(c, buf, cap, n, |c, dst| c.inner.try_read(dst)) }
    })
}
