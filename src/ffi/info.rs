//! Per-request information, as curl's `curl_easy_getinfo`: `h2_response_info`,
//! `h2_call_info`, and the server's certificate chain.

use std::ffi::{c_char, CStr};
use std::sync::Arc;

use super::{entry, h2_call, h2_response, h2_result, put, try_ref};
use crate::info::{cipher_suite_name, tls_version_name, ConnInfo, RequestInfo};

/// What is known of one request: times, bytes, its connection and TLS session. Filled by
/// `h2_response_info` and `h2_call_info`.
///
/// Extensible without breaking the ABI: the caller sets `struct_size` to
/// `sizeof(h2_request_info)` before the call (`h2_request_info info = { .struct_size =
/// sizeof info };`). A later library version may add fields at the end; it fills only the
/// `struct_size` bytes the caller has, and sets `struct_size` to what it filled (so a program
/// built against a newer header learns which fields an older library left untouched).
///
/// Times are microseconds since the call started (the first request of a redirect chain),
/// rounded up: 0 means "not (yet) happened", anything that happened reads at least 1. The
/// connect-phase times (`time_namelookup_us`, `time_connect_us`, `time_tls_us`) belong to the
/// request that opened its connection; on a reused connection they are 0, as curl's are
/// (nearly) 0. For a response that completed they never decrease in this order: namelookup,
/// connect, tls (when not 0), headers_sent, first_byte, total; `time_request_sent_us` may
/// come after `time_first_byte_us` when the server answers before the body is all sent.
///
/// Strings are NUL-terminated, NULL when not applicable, and valid as long as the response
/// (until `h2_response_free`) or the call (until `h2_call_free`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct h2_request_info {
    /// In: `sizeof(h2_request_info)` as the caller knows it. Out: the bytes filled in.
    pub struct_size: usize,
    /// The host name was resolved (curl's `time_namelookup`); through a proxy, the proxy's
    /// name; over a Unix socket, when dialling began. 0 on a reused connection.
    pub time_namelookup_us: u64,
    /// The TCP (or Unix socket) connection was established (curl's `time_connect`; through a
    /// proxy, the connection to the proxy). 0 on a reused connection.
    pub time_connect_us: u64,
    /// The TLS handshake with the origin completed (curl's `time_appconnect`; through a
    /// proxy this includes opening the tunnel). 0 for h2c and on a reused connection.
    pub time_tls_us: u64,
    /// The request's HEADERS frame was put in the connection's output, to be written with its
    /// next batch (curl's `time_pretransfer`: the request starts going out).
    pub time_headers_sent_us: u64,
    /// The request's last frame (END_STREAM: the HEADERS of a request without body, else the
    /// body's last DATA or the trailers) was put in the connection's output (curl's
    /// `time_posttransfer`). 0 while the body is being sent.
    pub time_request_sent_us: u64,
    /// The first response header block arrived (a 1xx included; curl's
    /// `time_starttransfer`), stamped with the time of the socket read that brought it.
    pub time_first_byte_us: u64,
    /// The exchange ended: the response's last frame (END_STREAM) arrived, or the request
    /// failed or was cancelled (curl's `time_total`, over every redirect). 0 while in flight.
    pub time_total_us: u64,
    /// The time spent on redirects before the final request started (curl's
    /// `time_redirect`); 0 without redirects.
    pub time_redirect_us: u64,
    /// Header block bytes sent: the request's HPACK-encoded HEADERS (and trailers) field
    /// blocks, without frame headers.
    pub header_bytes_sent: u64,
    /// Request body bytes sent (DATA payloads).
    pub body_bytes_sent: u64,
    /// Header block bytes received: every HPACK-encoded response header block (1xx, final
    /// head, trailers), without frame headers and padding.
    pub header_bytes_received: u64,
    /// Response body bytes received (DATA payloads without padding): the body's length once
    /// the response is complete.
    pub body_bytes_received: u64,
    /// The connection's number, as in the events of `h2_config_set_event_callback` (0 before
    /// the request was written to a connection).
    pub connection_id: u64,
    /// The URL of the response: the request's, or after redirects the last one (without
    /// credentials), as `h2_response_effective_url` / `h2_call_effective_url`.
    pub effective_url: *const c_char,
    /// The address the connection was dialled to, as text without port: an IP address
    /// ("127.0.0.1", "::1"), the proxy's through a proxy (curl's `CURLINFO_PRIMARY_IP`), or
    /// the path of the Unix socket (`h2_config_set_unix_socket`). NULL before the request
    /// was written to a connection.
    pub remote_address: *const c_char,
    /// Our address on the connection (curl's `CURLINFO_LOCAL_IP`); NULL over a Unix socket.
    pub local_address: *const c_char,
    /// "TLSv1.2" or "TLSv1.3"; NULL for h2c.
    pub tls_version_name: *const c_char,
    /// The cipher suite's IANA name ("TLS_AES_128_GCM_SHA256",
    /// "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", ...); NULL for h2c.
    pub tls_cipher_suite_name: *const c_char,
    /// The protocol ALPN selected: "h2" over TLS; NULL for h2c (prior knowledge).
    pub alpn: *const c_char,
    /// The server name sent in the TLS SNI extension (the URL's host); NULL for an IP
    /// literal (no SNI is sent) and for h2c.
    pub tls_server_name: *const c_char,
    /// How many certificates the server sent (its chain, leaf first; 0 for h2c): get them
    /// with `h2_response_peer_certificate` / `h2_call_peer_certificate`.
    pub peer_certificate_count: usize,
    /// The request's stream id on its connection (0 before it was written).
    pub stream_id: u32,
    /// How many times the request was retried (the server provably did not process it).
    pub retries: u32,
    /// Redirects followed (`h2_response_redirect_count`).
    pub redirect_count: u32,
    /// The port dialled (the proxy's through a proxy; 0 over a Unix socket).
    pub remote_port: u16,
    /// Our port (0 over a Unix socket).
    pub local_port: u16,
    /// The TLS version's IANA number: 0x0303 (TLS 1.2), 0x0304 (TLS 1.3); 0 for h2c.
    pub tls_version: u16,
    /// The cipher suite's IANA number (e.g. 0x1301); 0 for h2c.
    pub tls_cipher_suite: u16,
    /// The request went on a connection that had carried a request before (it is not the
    /// connection's first stream), as curl counts reuse: a request that waited for a
    /// connection another request opened is reused too (its wait shows in
    /// `time_headers_sent_us`).
    pub reused: bool,
    /// The connection is over a Unix socket (`remote_address` is its path).
    pub unix_socket: bool,
    /// The TLS session was resumed (no full handshake: Go's `DidResume`).
    pub tls_resumed: bool,
}

/// The size of the struct's first version, the least a caller may pass: fields are only ever
/// added after `tls_resumed`, so this stays the same.
const FIRST_VERSION_SIZE: usize = std::mem::offset_of!(h2_request_info, tls_resumed) + 1;

/// A C string's pointer, or NULL.
fn c_ptr(s: Option<&CStr>) -> *const c_char {
    s.map_or(std::ptr::null(), CStr::as_ptr)
}

/// The C view of `i`, whose response's URL is `url` (NUL-terminated) after `redirects`
/// redirects. Its pointers point into `i.conn`, `url` and static data.
fn c_info(i: &RequestInfo, url: &str, redirects: u32) -> h2_request_info {
    let conn = i.conn.as_deref();
    let tls = conn.and_then(|c| c.tls.as_ref());
    h2_request_info {
        struct_size: std::mem::size_of::<h2_request_info>(),
        time_namelookup_us: i.conn_us(|c| Some(c.resolved)),
        time_connect_us: i.conn_us(|c| Some(c.connected)),
        time_tls_us: i.conn_us(|c| c.tls.as_ref().map(|t| t.done)),
        time_headers_sent_us: i.us(i.headers_sent),
        time_request_sent_us: i.us(i.request_sent),
        time_first_byte_us: i.us(i.first_byte),
        time_total_us: i.us(i.total),
        time_redirect_us: i.redirect_us(),
        header_bytes_sent: i.header_bytes_sent,
        body_bytes_sent: i.body_bytes_sent,
        header_bytes_received: i.header_bytes_received,
        body_bytes_received: i.body_bytes_received,
        connection_id: conn.map_or(0, |c| c.id),
        effective_url: if url.ends_with('\0') {
            url.as_ptr().cast()
        } else {
            c"".as_ptr()
        },
        remote_address: c_ptr(conn.map(|c| c.remote_text.as_c_str())),
        local_address: c_ptr(conn.and_then(|c| c.local.as_ref()).map(|l| l.1.as_c_str())),
        tls_version_name: c_ptr(tls.and_then(|t| tls_version_name(t.version))),
        tls_cipher_suite_name: c_ptr(tls.and_then(|t| cipher_suite_name(t.cipher_suite))),
        alpn: c_ptr(tls.and_then(|t| t.alpn.as_deref())),
        tls_server_name: c_ptr(tls.and_then(|t| t.server_name.as_deref())),
        peer_certificate_count: tls.map_or(0, |t| t.certs.len()),
        stream_id: i.stream_id,
        retries: i.retries,
        redirect_count: redirects,
        remote_port: conn.map_or(0, ConnInfo::remote_port),
        local_port: conn
            .and_then(|c| c.local.as_ref())
            .map_or(0, |l| l.0.port()),
        tls_version: tls.map_or(0, |t| t.version),
        tls_cipher_suite: tls.map_or(0, |t| t.cipher_suite),
        reused: i.reused(),
        unix_socket: conn.is_some_and(|c| matches!(c.remote, crate::connect::PeerAddr::Unix(_))),
        tls_resumed: tls.is_some_and(|t| t.resumed),
    }
}

/// Copies `info` to the caller's `out`, as much of it as the caller's `struct_size` holds;
/// `Err` (recorded) if `out` is NULL or its `struct_size` too small.
///
/// # Safety
/// `out` must be NULL or point to a writable struct of at least its `struct_size` bytes.
unsafe fn deliver(out: *mut h2_request_info, info: h2_request_info) -> h2_result {
    // SAFETY: as this function's contract; struct_size is the struct's first field.
    unsafe { super::deliver_sized(out, info, FIRST_VERSION_SIZE, "h2_request_info") }
}

/// Fills `*out` with what is known of the request that got `resp` (after redirects, the last
/// one): times, bytes, its connection and TLS session (see `h2_request_info`). The caller
/// sets `out->struct_size` first. Strings stay valid until `h2_response_free`. Returns
/// H2_E_INVALID_ARGUMENT if an argument is NULL or `out->struct_size` is too small.
#[no_mangle]
pub unsafe extern "C" fn h2_response_info(
    resp: *const h2_response,
    out: *mut h2_request_info,
) -> h2_result {
    entry!(h2_response_info, || {
        let r = try_ref!(resp);
        let info = c_info(&r.info, r.inner.url_nul(), r.inner.redirect_count());
        // SAFETY: out is NULL or a writable struct of its struct_size (caller contract).
        unsafe { deliver(out, info) }
    })
}

/// Fills `*out` with what is known of the call's request so far: at any time (fields not
/// known yet are 0 or NULL: before its HEADERS are written it has no connection, before the
/// response head no `time_first_byte_us`, in flight no `time_total_us`) and after it ended,
/// failed or not. While a call follows redirects, the request in flight; then the final one.
/// The caller sets `out->struct_size` first. Strings stay valid until `h2_call_free`.
/// Returns H2_E_INVALID_ARGUMENT if an argument is NULL or `out->struct_size` is too small.
#[no_mangle]
pub unsafe extern "C" fn h2_call_info(c: *const h2_call, out: *mut h2_request_info) -> h2_result {
    entry!(h2_call_info, || {
        let c = try_ref!(c);
        let i = c.inner.info();
        c.keep(&i.conn);
        let info = c_info(&i, c.inner.effective_url_nul(), c.inner.redirect_count());
        // SAFETY: out is NULL or a writable struct of its struct_size (caller contract).
        unsafe { deliver(out, info) }
    })
}

/// The `index`th certificate of `conn`'s TLS peer (0: the leaf), with its length in `*len`.
///
/// # Safety
/// `len` must be NULL or writable.
unsafe fn certificate(conn: Option<&ConnInfo>, index: usize, len: *mut usize) -> *const u8 {
    let cert = conn
        .and_then(|c| c.tls.as_ref())
        .and_then(|t| t.certs.get(index));
    // SAFETY: len is NULL or writable (caller contract).
    unsafe { put(len, cert.map_or(0, |c| c.len())) };
    cert.map_or(std::ptr::null(), |c| c.as_ptr())
}

/// The `index`th certificate the server presented on the response's connection (0: its
/// own, then the chain as it sent it), DER-encoded, with its length in `*len` (`len` may be
/// NULL). NULL (and 0) past the last one and for h2c; `peer_certificate_count` of
/// `h2_response_info` says how many there are. Valid until `h2_response_free`.
#[no_mangle]
pub unsafe extern "C" fn h2_response_peer_certificate(
    resp: *const h2_response,
    index: usize,
    len: *mut usize,
) -> *const u8 {
    entry!(h2_response_peer_certificate, || {
        // SAFETY: len is NULL or writable (caller contract).
        unsafe { put(len, 0) };
        let r = try_ref!(resp);
        // SAFETY: len is NULL or writable (caller contract).
        unsafe { certificate(r.info.conn.as_deref(), index, len) }
    })
}

/// The `index`th certificate the server presented on the connection of the call's request
/// (as `h2_call_info` describes it), as `h2_response_peer_certificate`. NULL before the
/// request was written to a connection. Valid until `h2_call_free`.
#[no_mangle]
pub unsafe extern "C" fn h2_call_peer_certificate(
    c: *const h2_call,
    index: usize,
    len: *mut usize,
) -> *const u8 {
    entry!(h2_call_peer_certificate, || {
        // SAFETY: len is NULL or writable (caller contract).
        unsafe { put(len, 0) };
        let c = try_ref!(c);
        let conn = c.inner.info().conn;
        c.keep(&conn);
        // SAFETY: len is NULL or writable (caller contract).
        unsafe { certificate(conn.as_deref(), index, len) }
    })
}

impl h2_call {
    /// Keeps `conn` as long as the call, so that the pointers handed out into it stay valid
    /// (a retry or a redirect moves the call to another connection).
    fn keep(&self, conn: &Option<Arc<ConnInfo>>) {
        let Some(conn) = conn else {
            return;
        };
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if !kept.iter().any(|k| Arc::ptr_eq(k, conn)) {
            kept.push(conn.clone());
        }
    }
}
