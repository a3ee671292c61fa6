//! `h2_request`: a request under construction.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{c_bytes, c_slice, c_str, entry, fail, h2_result, try_mut, H2_OK};
use crate::request::Request;

/// A request: method, path (and, if made from a URL, origin), headers and an optional body.
/// Build it with `h2_request_new` or `h2_request_new_url` and the `h2_request_*` functions; it can be sent any number of times, from any number of
/// threads at once (sending does not modify it). Modifying it while another thread sends it
/// is not allowed.
pub struct h2_request {
    pub(crate) inner: Arc<Request>,
}

/// A new request for `path` (origin form, e.g. "/index.html?q=1"; or "*") with `method`
/// (e.g. "GET"). `:scheme` and `:authority` come from the client's base URL, which it is sent
/// to; a client made without one refuses it (H2_E_INVALID_ARGUMENT when sent). A fragment ("#..." and
/// what follows) is removed from the path, as curl and Go do with URLs: it is never sent.
/// Returns NULL (and records H2_E_INVALID_ARGUMENT) if either is NULL or invalid: the method
/// must be a token and not CONNECT (RFC 9113 §8.5 CONNECT is not supported), the path must
/// start with '/' and contain no spaces or control characters (percent-encode them). Records
/// H2_E_HEADERS_TOO_LARGE if method and path alone exceed the 1 MiB header list limit.
#[no_mangle]
pub unsafe extern "C" fn h2_request_new(
    method: *const c_char,
    path: *const c_char,
) -> *mut h2_request {
    entry!(h2_request_new, || {
        // SAFETY: caller passes NULL or NUL-terminated strings.
        let (m, p) = match unsafe { (c_str(method, "method"), c_str(path, "path")) } {
            (Ok(m), Ok(p)) => (m, p),
            _ => return std::ptr::null_mut(),
        };
        match Request::new(m, p) {
            Ok(r) => Box::into_raw(Box::new(h2_request { inner: Arc::new(r) })),
            Err(e) => {
                fail(e);
                std::ptr::null_mut()
            }
        }
    })
}

/// A new request for the absolute URL `url` ("http://..." for HTTP/2 over cleartext with prior
/// knowledge, "https://..." over TLS) with `method`. Any client can send it, whatever its base
/// URL: it goes to the URL's origin (scheme, host, port), over that origin's connections.
/// The URL is parsed by the WHATWG rules: internationalized host names become punycode, IPv6
/// literals go in brackets, the default port may be left out, dot segments are removed,
/// percent-encoding is kept as given, the query is kept and the fragment dropped.
/// `:authority` is host[:port], with the port only when it is not the scheme's default (as
/// curl sends it); a `host` header still overrides it but does not change the connection.
/// Userinfo ("user:password@") becomes an `authorization: Basic` header (user and password
/// percent-decoded), never part of `:authority`; an `authorization` header added later
/// replaces it. Returns NULL and records H2_E_INVALID_URL naming the part (scheme other than
/// http/https, host, port, ...) for a bad URL, H2_E_INVALID_ARGUMENT for a NULL argument or
/// a bad method (as `h2_request_new`).
#[no_mangle]
pub unsafe extern "C" fn h2_request_new_url(
    method: *const c_char,
    url: *const c_char,
) -> *mut h2_request {
    entry!(h2_request_new_url, || {
        // SAFETY: caller passes NULL or NUL-terminated strings.
        let (m, u) = match unsafe { (c_str(method, "method"), c_str(url, "url")) } {
            (Ok(m), Ok(u)) => (m, u),
            _ => return std::ptr::null_mut(),
        };
        match Request::from_url(m, u) {
            Ok(r) => Box::into_raw(Box::new(h2_request { inner: Arc::new(r) })),
            Err(e) => {
                fail(e);
                std::ptr::null_mut()
            }
        }
    })
}

/// Applies `f` to the request behind `req` (copy-on-write if a send still holds it).
unsafe fn with_req(req: *mut h2_request, f: impl FnOnce(&mut Request) -> h2_result) -> h2_result {
    f(Arc::make_mut(&mut try_mut!(req).inner))
}

/// Adds a header. The name is lowercased; it must be a token (RFC 9110) and not a
/// pseudo-header. The value must not contain control characters other than HTAB (0x00-0x08,
/// 0x0a-0x1f, 0x7f), nor start or end with a space or tab. Connection-specific headers
/// (connection, keep-alive, proxy-connection, transfer-encoding, upgrade) are refused, `te` is
/// accepted only as "trailers". `content-length` must be decimal digits only and be given
/// once (even with the same value). `host` sets `:authority`, is given once, and must be
/// `host[:port]`: a reg-name (letters, digits, "-._~!$&'()*+,;=", %XX) or an IP literal in
/// brackets, without userinfo ("user@"). Returns H2_E_INVALID_ARGUMENT for any of these (the
/// request is unchanged), H2_E_HEADERS_TOO_LARGE if the header list would exceed 1 MiB
/// (RFC 7541 size, 32 bytes per field; method, path and `host` count).
#[no_mangle]
pub unsafe extern "C" fn h2_request_add_header(
    req: *mut h2_request,
    name: *const c_char,
    value: *const c_char,
) -> h2_result {
    entry!(h2_request_add_header, || {
        // SAFETY: forwarded caller contract.
        unsafe {
            with_req(req, |r| {
                let (n, v) = match (c_bytes(name, "header name"), c_bytes(value, "header value")) {
                    (Ok(n), Ok(v)) => (n, v),
                    (Err(c), _) | (_, Err(c)) => return c,
                };
                match r.add_header(n, v) {
                    Ok(()) => H2_OK,
                    Err(e) => fail(e),
                }
            })
        }
    })
}

/// Sets the body to a copy of `len` bytes at `data` (`data` may be NULL when `len` is 0,
/// which removes the body). A `content-length` header is added when the request is sent
/// unless one was set; one that was set must equal `len`, or sending the request fails with
/// H2_E_INVALID_ARGUMENT before anything is sent.
#[no_mangle]
pub unsafe extern "C" fn h2_request_set_body(
    req: *mut h2_request,
    data: *const u8,
    len: usize,
) -> h2_result {
    entry!(h2_request_set_body, || {
        // SAFETY: forwarded caller contract; data is valid for len bytes.
        unsafe {
            with_req(req, |r| match c_slice(data, len, "body") {
                Ok(b) => {
                    r.set_body(Bytes::copy_from_slice(b));
                    H2_OK
                }
                Err(c) => c,
            })
        }
    })
}

/// Sets this request's whole-request timeout in milliseconds, overriding the client's
/// (0 = use the client's).
#[no_mangle]
pub unsafe extern "C" fn h2_request_set_timeout_ms(
    req: *mut h2_request,
    timeout_ms: u32,
) -> h2_result {
    entry!(h2_request_set_timeout_ms, || {
        // SAFETY: forwarded caller contract.
        unsafe {
            with_req(req, |r| {
                r.set_timeout(
                    (timeout_ms > 0).then(|| Duration::from_millis(u64::from(timeout_ms))),
                );
                H2_OK
            })
        }
    })
}

/// Calls `callback(userdata, head)` for each informational (1xx) response to this request,
/// such as 103 Early Hints, before the final response, instead of the client's callback
/// (`h2_config_set_informational_callback`); NULL `callback` goes back to the client's. It
/// runs on a library thread or on a program's thread blocked in the library waiting for a
/// response (which runs the connections meanwhile), must be quick, and must not call blocking
/// functions of the library; `userdata` must stay valid while calls made with this request are in flight.
#[no_mangle]
pub unsafe extern "C" fn h2_request_set_informational_callback(
    req: *mut h2_request,
    callback: super::h2_informational_fn,
    userdata: *mut c_void,
) -> h2_result {
    entry!(h2_request_set_informational_callback, || {
        // SAFETY: forwarded caller contract.
        unsafe {
            with_req(req, |r| {
                r.set_informational(callback.map(|f| super::informational_hook(f, userdata)));
                H2_OK
            })
        }
    })
}

/// Frees a request. NULL is allowed. A request may be freed as soon as the calls that send it
/// have returned.
#[no_mangle]
pub unsafe extern "C" fn h2_request_free(req: *mut h2_request) {
    entry!(h2_request_free, || {
        if !req.is_null() {
            // SAFETY: req came from h2_request_new and is freed once (caller contract).
            drop(unsafe { Box::from_raw(req) });
        }
    })
}

/// Marks the request's body as streamed: `h2_client_start` sends HEADERS without END_STREAM
/// and the caller writes the body with `h2_call_write` and ends it with `h2_call_finish`
/// (`streaming` false undoes it). Such a request cannot be sent with `h2_client_do`, and
/// since a streamed body cannot be replayed, it is not retried once part of it went out: a
/// refusal then fails with processed = H2_PROCESSED_NO. With a `content-length` header, the
/// body written must be exactly that long (see `h2_call_write` and `h2_call_finish`).
#[no_mangle]
pub unsafe extern "C" fn h2_request_set_streaming_body(
    req: *mut h2_request,
    streaming: bool,
) -> h2_result {
    entry!(h2_request_set_streaming_body, || {
        // SAFETY: forwarded caller contract.
        unsafe {
            with_req(req, |r| {
                r.set_streaming_body(streaming);
                H2_OK
            })
        }
    })
}

/// This request's time-to-response-headers timeout in milliseconds (from submission, time
/// waiting for a connection included), overriding the client's (0 = use the client's).
/// Expiry: H2_E_TIMEOUT "timed out waiting for the response headers", and RST_STREAM(CANCEL).
#[no_mangle]
pub unsafe extern "C" fn h2_request_set_headers_timeout_ms(
    req: *mut h2_request,
    timeout_ms: u32,
) -> h2_result {
    entry!(h2_request_set_headers_timeout_ms, || {
        // SAFETY: forwarded caller contract.
        unsafe {
            with_req(req, |r| {
                r.set_headers_timeout(
                    (timeout_ms > 0).then(|| Duration::from_millis(u64::from(timeout_ms))),
                );
                H2_OK
            })
        }
    })
}

/// This request's body idle timeout in milliseconds (longest gap without DATA once the head
/// arrived), overriding the client's (0 = use the client's). Expiry: H2_E_TIMEOUT "no DATA for
/// N ms", and RST_STREAM(CANCEL).
#[no_mangle]
pub unsafe extern "C" fn h2_request_set_body_idle_timeout_ms(
    req: *mut h2_request,
    timeout_ms: u32,
) -> h2_result {
    entry!(h2_request_set_body_idle_timeout_ms, || {
        // SAFETY: forwarded caller contract.
        unsafe {
            with_req(req, |r| {
                r.set_body_idle_timeout(
                    (timeout_ms > 0).then(|| Duration::from_millis(u64::from(timeout_ms))),
                );
                H2_OK
            })
        }
    })
}
