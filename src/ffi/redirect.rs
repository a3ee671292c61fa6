//! Redirects: the config knobs, and where a response (or call) ended up.

use std::ffi::c_char;

use super::{entry, h2_call, h2_config, h2_response, h2_result, invalid, try_mut, try_ref, H2_OK};

/// Records H2_E_INVALID_ARGUMENT (`why`) and gives a count of 0.
fn none(why: &str) -> u32 {
    invalid(why);
    0
}

/// Follows up to `max` redirects (301, 302, 303, 307, 308 with a `location`) per request made
/// with `h2_client_do`, `h2_client_fetch`, `h2_client_fetch_into`, `h2_client_submit`,
/// `h2_client_submit_cb` or `h2_client_start`; 0 (the default, as in libcurl) follows none.
/// One more than `max` fails the request with H2_E_TOO_MANY_REDIRECTS, whose message names
/// the chain of URLs. 303 turns any method but HEAD into GET; 301 and 302
/// turn POST into GET (the body and the `content-*` headers are dropped); 307 and 308 keep
/// the method and re-send the body. A relative `location` is resolved against the current
/// URL; a missing or unparsable one ends the chain (the 3xx is the response). To another
/// origin, `authorization`, `cookie` and `proxy-authorization` are not sent. A request with a
/// streamed body (`h2_request_set_streaming_body`) follows none: the 3xx is the response. A
/// call from `h2_client_start` follows them when it is waited on (`h2_call_wait_headers`,
/// `h2_call_read`, `h2_call_read_view`, `h2_call_wait`): until then its status is 0 and it is
/// not done; each redirect's stream is reset. The whole-request timeout covers every hop.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_follow_redirects(
    cfg: *mut h2_config,
    max: u32,
) -> h2_result {
    entry!(h2_config_set_follow_redirects, || {
        try_mut!(cfg).inner.set_follow_redirects(max);
        H2_OK
    })
}

/// Whether a redirect from https to http is followed (`allow` non-zero) or not (0, the
/// default): refused, the 3xx is the response (its `location` header says where the server
/// pointed), not an error.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_redirect_https_to_http(
    cfg: *mut h2_config,
    allow: i32,
) -> h2_result {
    entry!(h2_config_set_redirect_https_to_http, || {
        try_mut!(cfg).inner.set_redirect_https_to_http(allow != 0);
        H2_OK
    })
}

/// The URL the response answered: the request's, or after redirects the last one (without
/// credentials). NUL-terminated, valid until `h2_response_free`; NULL if `resp` is NULL.
#[no_mangle]
pub unsafe extern "C" fn h2_response_effective_url(resp: *const h2_response) -> *const c_char {
    entry!(h2_response_effective_url, || {
        let r = try_ref!(resp);
        let url = r.inner.url_nul();
        if url.is_empty() {
            c"".as_ptr()
        } else {
            url.as_ptr().cast()
        }
    })
}

/// How many redirects were followed to get the response (0 when following is off, or if
/// `resp` is NULL).
#[no_mangle]
pub unsafe extern "C" fn h2_response_redirect_count(resp: *const h2_response) -> u32 {
    entry!(h2_response_redirect_count, || {
        // SAFETY: resp is NULL or a live h2_response (caller contract).
        match unsafe { resp.as_ref() } {
            Some(r) => r.inner.redirect_count(),
            // Not try_ref!: its fallback for a uint32_t would be the error code.
            None => none("resp is NULL"),
        }
    })
}

/// The URL of the call's response: the request's until a call that follows redirects has its
/// final response (a submitted call completed; a streaming call's final head waited for),
/// then the last one redirected to (without credentials). NUL-terminated, valid until
/// `h2_call_free`; NULL if `c` is NULL.
#[no_mangle]
pub unsafe extern "C" fn h2_call_effective_url(c: *const h2_call) -> *const c_char {
    entry!(h2_call_effective_url, || {
        try_ref!(c).inner.effective_url_nul().as_ptr().cast()
    })
}

/// Redirects the call has followed so far (0 if `c` is NULL).
#[no_mangle]
pub unsafe extern "C" fn h2_call_redirect_count(c: *const h2_call) -> u32 {
    entry!(h2_call_redirect_count, || {
        // SAFETY: c is NULL or a live h2_call (caller contract).
        match unsafe { c.as_ref() } {
            Some(c) => c.inner.redirect_count(),
            None => none("c is NULL"),
        }
    })
}
