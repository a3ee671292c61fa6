//! `h2_config`: options for a client. Setters return `H2_E_INVALID_ARGUMENT` for a NULL
//! config or an out-of-range value (the config is then unchanged).

use std::ffi::{c_char, c_void};

use super::{c_slice, c_str, entry, fail, h2_result, try_mut, H2_OK};
use crate::config::Config;
use crate::error::{Error, Result};

/// Options for `h2_client_new`. Create with `h2_config_new`, change with the
/// `h2_config_set_*` functions, free with `h2_config_free`. A config is copied by
/// `h2_client_new`, so it can be freed or reused right after. Not thread-safe: do not change
/// one config from several threads at once.
pub struct h2_config {
    pub(crate) inner: Config,
}

/// A config with every option at its default (see each setter). NULL only if out of memory.
#[no_mangle]
pub extern "C" fn h2_config_new() -> *mut h2_config {
    entry!(h2_config_new, || {
        Box::into_raw(Box::new(h2_config {
            inner: Config::default(),
        }))
    })
}

/// Frees a config. NULL is allowed.
#[no_mangle]
pub unsafe extern "C" fn h2_config_free(cfg: *mut h2_config) {
    entry!(h2_config_free, || {
        if !cfg.is_null() {
            // SAFETY: cfg came from h2_config_new and is freed once (caller contract).
            drop(unsafe { Box::from_raw(cfg) });
        }
    })
}

/// Applies `f` to the config behind `cfg`.
unsafe fn set(cfg: *mut h2_config, f: impl FnOnce(&mut Config) -> Result<()>) -> h2_result {
    match f(&mut try_mut!(cfg).inner) {
        Ok(()) => H2_OK,
        Err(e) => fail(e),
    }
}

/// TCP connect timeout in milliseconds, DNS included (default 10000; must be > 0).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_connect_timeout_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_connect_timeout_ms, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe { set(cfg, |c| c.set_connect_timeout_ms(value)) }
    })
}

/// Whole-request timeout in milliseconds, from the call to the end of the response, time
/// waiting for a connection included (default 0 = no limit, like curl). Expiry gives
/// H2_E_TIMEOUT and resets the stream with RST_STREAM(CANCEL).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_request_timeout_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_request_timeout_ms, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe {
            set(cfg, |c| {
                c.set_request_timeout_ms(value);
                Ok(())
            })
        }
    })
}

/// Time-to-response-headers timeout in milliseconds, from submission (time waiting for a
/// connection included) to the final response head (default 0 = none). Expiry: H2_E_TIMEOUT
/// "timed out waiting for the response headers", and RST_STREAM(CANCEL).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_headers_timeout_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_headers_timeout_ms, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe {
            set(cfg, |c| {
                c.set_headers_timeout_ms(value);
                Ok(())
            })
        }
    })
}

/// Body idle timeout in milliseconds: the longest gap without DATA once the response head has
/// arrived (default 0 = none). Expiry: H2_E_TIMEOUT "no DATA for N ms", and RST_STREAM(CANCEL).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_body_idle_timeout_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_body_idle_timeout_ms, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe {
            set(cfg, |c| {
                c.set_body_idle_timeout_ms(value);
                Ok(())
            })
        }
    })
}

/// A connection with no open streams for this many milliseconds is closed
/// (default 90000; 0 = never).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_idle_timeout_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_idle_timeout_ms, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe {
            set(cfg, |c| {
                c.set_idle_timeout_ms(value);
                Ok(())
            })
        }
    })
}

/// After this many milliseconds without receiving anything on a connection, a PING is
/// sent (default 30000; 0 = no keepalive).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_keepalive_interval_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_keepalive_interval_ms, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe {
            set(cfg, |c| {
                c.set_keepalive_interval_ms(value);
                Ok(())
            })
        }
    })
}

/// A keepalive PING not acknowledged within this many milliseconds fails the connection
/// and its requests with H2_E_TIMEOUT (default 15000; must be > 0).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_keepalive_timeout_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_keepalive_timeout_ms, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe { set(cfg, |c| c.set_keepalive_timeout_ms(value)) }
    })
}

/// The server must acknowledge our SETTINGS within this many milliseconds, else the
/// connection fails with SETTINGS_TIMEOUT (default 10000; must be > 0).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_settings_timeout_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_settings_timeout_ms, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe { set(cfg, |c| c.set_settings_timeout_ms(value)) }
    })
}

/// A socket that accepts no bytes for this many milliseconds fails the connection with
/// H2_E_TIMEOUT (default 30000; must be > 0).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_write_timeout_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_write_timeout_ms, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe { set(cfg, |c| c.set_write_timeout_ms(value)) }
    })
}

/// Most connections the client opens in all, over every origin (default 256; must be > 0).
/// Beyond it, requests wait for a free stream slot, or for a connection of the client to
/// close (an idle one closes after the idle timeout), bounded by their timeout. Enforced by a
/// count of the client's connections (those being dialed included) checked before each dial.
/// See also `h2_config_set_max_connections_per_origin`.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_connections(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_max_connections, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe { set(cfg, |c| c.set_max_connections(value)) }
    })
}

/// Most connections the client opens to one origin (scheme, host, port; default 256; must
/// be > 0). Beyond it, requests to that origin wait for a free stream slot (bounded by their
/// timeout). `h2_config_set_max_connections` caps the whole client as well.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_connections_per_origin(
    cfg: *mut h2_config,
    n: u32,
) -> h2_result {
    entry!(h2_config_set_max_connections_per_origin, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe { set(cfg, |c| c.set_max_connections_per_origin(n)) }
    })
}

/// Our cap on concurrent streams per connection; the server's
/// SETTINGS_MAX_CONCURRENT_STREAMS applies too (default 1000; must be > 0).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_concurrent_streams(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_max_concurrent_streams, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe { set(cfg, |c| c.set_max_concurrent_streams(value)) }
    })
}

/// Receive window of each stream, our SETTINGS_INITIAL_WINDOW_SIZE
/// (default 4194304 = 4 MiB; 1..=2147483647).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_initial_window_size(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_initial_window_size, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe { set(cfg, |c| c.set_initial_window_size(value)) }
    })
}

/// Receive window of each connection (default 1073741824 = 1 GiB; 65535..=2147483647).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_connection_window_size(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_connection_window_size, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe { set(cfg, |c| c.set_connection_window_size(value)) }
    })
}

/// Our SETTINGS_MAX_FRAME_SIZE: the largest frame the server may send us
/// (default 16384; 16384..=16777215).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_frame_size(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_max_frame_size, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe { set(cfg, |c| c.set_max_frame_size(value)) }
    })
}

/// Our SETTINGS_MAX_HEADER_LIST_SIZE: largest response header list accepted, counted as
/// in RFC 7541 (name + value + 32 per field) (default 262144; at least 1024). A larger
/// response fails with H2_E_HEADERS_TOO_LARGE.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_header_list_size(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_max_header_list_size, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe { set(cfg, |c| c.set_max_header_list_size(value)) }
    })
}

/// Our SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table the server may use towards us
/// (default 4096; at most 1048576).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_header_table_size(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_header_table_size, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe { set(cfg, |c| c.set_header_table_size(value)) }
    })
}

/// Largest response body `h2_client_do` (and `h2_client_fetch`, `h2_client_fetch_into`)
/// buffers (default 1073741824 = 1 GiB); a larger body fails with H2_E_BODY_TOO_LARGE and the
/// stream is reset.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_response_body(
    cfg: *mut h2_config,
    value: u64,
) -> h2_result {
    entry!(h2_config_set_max_response_body, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe {
            set(cfg, |c| {
                c.set_max_response_body(value);
                Ok(())
            })
        }
    })
}

/// How many times a request the server provably did not process (REFUSED_STREAM, above
/// GOAWAY's last stream id, never written) is retried before the request fails
/// (default 3; at most 10).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_retries(cfg: *mut h2_config, value: u32) -> h2_result {
    entry!(h2_config_set_max_retries, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe { set(cfg, |c| c.set_max_retries(value)) }
    })
}

/// TLS 1.2, for `h2_config_set_tls_versions`.
pub const H2_TLS_1_2: u32 = 1;
/// TLS 1.3, for `h2_config_set_tls_versions`.
pub const H2_TLS_1_3: u32 = 2;

/// For https clients: trust only the CA certificates in the PEM file at `path` instead of the
/// system's store. The file is read now: H2_E_TLS if it cannot be read or holds no usable
/// certificate (the message names the path); the config is then unchanged.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_ca_file(
    cfg: *mut h2_config,
    path: *const c_char,
) -> h2_result {
    entry!(h2_config_set_ca_file, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config, path a C string).
        unsafe {
            set(cfg, |c| match c_str(path, "CA file path") {
                Ok(p) => c.tls.set_ca_file(p),
                Err(_) => Err(Error::invalid("CA file path is NULL or not UTF-8")),
            })
        }
    })
}

/// For https clients: trust only the CA certificates in `len` bytes of PEM at `data`
/// (copied). H2_E_TLS if it holds no usable certificate.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_ca_pem(
    cfg: *mut h2_config,
    data: *const u8,
    len: usize,
) -> h2_result {
    entry!(h2_config_set_ca_pem, || {
        // SAFETY: forwarded caller contract; data is valid for len bytes.
        unsafe {
            set(cfg, |c| match c_slice(data, len, "CA PEM data") {
                Ok(pem) => c.tls.set_ca_pem(pem),
                Err(_) => Err(Error::invalid("CA PEM data is NULL")),
            })
        }
    })
}

/// **FOR TESTING ONLY. NEVER IN PRODUCTION.** With `insecure` true, https clients accept ANY
/// server certificate: expired, self-signed, for another name. Anyone on the network path can
/// then read and change the traffic. Default false.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_insecure_skip_verify(
    cfg: *mut h2_config,
    insecure: bool,
) -> h2_result {
    entry!(h2_config_set_insecure_skip_verify, || {
        // SAFETY: forwarded caller contract.
        unsafe {
            set(cfg, |c| {
                c.tls.insecure_skip_verify = insecure;
                Ok(())
            })
        }
    })
}

/// For https clients: present the client certificate chain in the PEM file `cert_pem_path`
/// with the private key in the PEM file `key_pem_path` (PKCS#8, PKCS#1 or SEC1), for servers
/// that require mutual TLS. Both files are read now: H2_E_TLS if either is unreadable or
/// unusable (the message names the file).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_client_cert_file(
    cfg: *mut h2_config,
    cert_pem_path: *const c_char,
    key_pem_path: *const c_char,
) -> h2_result {
    entry!(h2_config_set_client_cert_file, || {
        // SAFETY: forwarded caller contract.
        unsafe {
            set(cfg, |c| {
                match (
                    c_str(cert_pem_path, "certificate path"),
                    c_str(key_pem_path, "key path"),
                ) {
                    (Ok(cert), Ok(key)) => c.tls.set_client_cert_files(cert, key),
                    _ => Err(Error::invalid(
                        "certificate or key path is NULL or not UTF-8",
                    )),
                }
            })
        }
    })
}

/// The TLS versions https clients may use: `H2_TLS_1_2`, `H2_TLS_1_3`, or both OR-ed
/// (the default).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_tls_versions(
    cfg: *mut h2_config,
    versions: u32,
) -> h2_result {
    entry!(h2_config_set_tls_versions, || {
        // SAFETY: forwarded caller contract.
        unsafe { set(cfg, |c| c.tls.set_versions(versions)) }
    })
}

/// Most CONTINUATION frames accepted in one response header block (default 0 = derived from
/// `max_header_list_size`: enough for a maximal block in frames of 4 KiB). More is a
/// CONTINUATION flood (CVE-2024-27316 class): GOAWAY(ENHANCE_YOUR_CALM).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_continuation_frames(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_max_continuation_frames, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe {
            set(cfg, |c| {
                c.max_continuation_frames = value;
                Ok(())
            })
        }
    })
}

/// Empty DATA frames (without END_STREAM) a server may send per connection per minute
/// (default 100; must be > 0). More: GOAWAY(ENHANCE_YOUR_CALM).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_empty_data_frames(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_max_empty_data_frames, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe {
            set(cfg, |c| {
                Config::set_positive(&mut c.max_empty_data_frames, value, "max_empty_data_frames")
            })
        }
    })
}

/// PING and SETTINGS acknowledgements allowed to wait for the socket (default 1000; must be
/// > 0). A server flooding PINGs or SETTINGS while not reading: GOAWAY(ENHANCE_YOUR_CALM).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_pending_acks(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_max_pending_acks, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe {
            set(cfg, |c| {
                Config::set_positive(&mut c.max_pending_acks, value, "max_pending_acks")
            })
        }
    })
}

/// Pointless frames a server may send per connection per minute: RST_STREAM, PRIORITY,
/// unknown frame types (default 1000; must be > 0). More: GOAWAY(ENHANCE_YOUR_CALM).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_glitches(cfg: *mut h2_config, value: u32) -> h2_result {
    entry!(h2_config_set_max_glitches, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe {
            set(cfg, |c| {
                Config::set_positive(&mut c.max_glitches, value, "max_glitches")
            })
        }
    })
}

/// Informational (1xx) responses a server may send before a request's final response
/// (default 16; must be > 0). More: the stream is reset with ENHANCE_YOUR_CALM, the request
/// fails with `H2_E_PROTOCOL`, `limit_informational_flood` counts it.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_informational_responses(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_max_informational_responses, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe {
            set(cfg, |c| {
                Config::set_positive(
                    &mut c.max_informational_responses,
                    value,
                    "max_informational_responses",
                )
            })
        }
    })
}

/// Stream resets we send per connection per second before the connection stops taking new
/// streams (default 200; must be > 0), so that callers cancelling in bulk cannot make this
/// client a rapid-reset source (CVE-2023-44487).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_resets_per_second(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    entry!(h2_config_set_max_resets_per_second, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
        unsafe {
            set(cfg, |c| {
                Config::set_positive(&mut c.max_resets_per_second, value, "max_resets_per_second")
            })
        }
    })
}

/// The proxy: an `http://` proxy (HTTP/1.1 CONNECT tunnels, for https and http origins alike),
/// `https://` (the same inside TLS to the proxy; port 443 by default), `socks5://` (names resolved here) or `socks5h://` (names resolved by the proxy), with
/// credentials in the URL if it needs them (`http://user:password@host:port`; the port
/// defaults to 1080). NULL (the default): from the environment, as curl reads it
/// (`https_proxy`/`HTTPS_PROXY` for https origins, `http_proxy` for http origins, then
/// `all_proxy`/`ALL_PROXY`), read once when the client is created. "": no proxy, whatever
/// the environment says. H2_E_INVALID_URL if the URL is not a usable proxy URL.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_proxy(
    cfg: *mut h2_config,
    proxy_url: *const c_char,
) -> h2_result {
    entry!(h2_config_set_proxy, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config, proxy_url NULL
        // or a C string).
        unsafe {
            set(cfg, |c| {
                let url = if proxy_url.is_null() {
                    None
                } else {
                    Some(
                        c_str(proxy_url, "proxy URL")
                            .map_err(|_| Error::invalid("proxy URL is not UTF-8"))?,
                    )
                };
                c.set_proxy(url)
            })
        }
    })
}

/// Sets the `user-agent` field sent with every request that does not set its own (the
/// default is "h2client/<version>", as curl sends "curl/<version>"). NULL: send none. A
/// value with control characters or surrounding spaces is H2_E_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_user_agent(
    cfg: *mut h2_config,
    user_agent: *const c_char,
) -> h2_result {
    entry!(h2_config_set_user_agent, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config, user_agent NULL
        // or a C string).
        unsafe {
            set(cfg, |c| {
                if user_agent.is_null() {
                    return c.set_user_agent(None);
                }
                let ua = c_str(user_agent, "user agent")
                    .map_err(|_| Error::invalid("user agent is not UTF-8"))?;
                c.set_user_agent(Some(ua))
            })
        }
    })
}

/// Calls `callback(userdata, head)` for each informational (1xx) response, such as 103 Early
/// Hints (RFC 8297), that precedes a final response, for requests of clients created with
/// this config that have no callback of their own (`h2_request_set_informational_callback`).
/// Without one they are dropped (as before; at most `max_informational_responses` per
/// request). `head` is valid only during the call. The callback runs on a library thread or
/// on a program's thread blocked in the library waiting for a response (such a thread runs
/// the connections meanwhile, see "Threads" in the README), must be quick, and must not call
/// blocking functions of the library (they return H2_E_WRONG_THREAD there); `userdata` must stay
/// valid as long as such a client exists. NULL `callback` removes it.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_informational_callback(
    cfg: *mut h2_config,
    callback: super::h2_informational_fn,
    userdata: *mut c_void,
) -> h2_result {
    entry!(h2_config_set_informational_callback, || {
        let c = try_mut!(cfg);
        c.inner.informational = callback.map(|f| super::informational_hook(f, userdata));
        H2_OK
    })
}

/// Transparent decompression (as libcurl's CURLOPT_ACCEPT_ENCODING and Go's transport): every
/// request that sets no `accept-encoding` of its own is sent with `accept-encoding: list`, and
/// the body of its response is decoded as it arrives when its `content-encoding` is made of
/// codings this library decodes: gzip (x-gzip), deflate (zlib, or raw deflate), br and zstd,
/// up to 3 stacked (`gzip, br`). "" sends all of them ("gzip, deflate, br, zstd"); NULL (the
/// default) turns it off. The value must be a valid field value (else H2_E_INVALID_ARGUMENT).
///
/// A decoded response loses its `content-encoding` and `content-length` headers (they
/// described the encoded body) and `h2_response_decoded` / `h2_call_decoded` return true.
/// Returned as sent: responses to requests with their own `accept-encoding`, HEAD, 204, 304
/// and 206 responses, and an unknown coding. `max_response_body` limits the decoded body of
/// buffered responses (a small body that would inflate past it stops there with
/// H2_E_BODY_TOO_LARGE); streamed bodies are decoded as `h2_call_read` asks, holding about one
/// stream window of compressed bytes plus the codec's state (32 KiB for gzip and deflate, up
/// to 16 MiB for br and 8 MiB for zstd, as the server's data asks). Corrupt or truncated data
/// is H2_E_DECODE, naming the coding.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_accept_encoding(
    cfg: *mut h2_config,
    list: *const c_char,
) -> h2_result {
    entry!(h2_config_set_accept_encoding, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config, list NULL or a
        // C string).
        unsafe {
            set(cfg, |c| {
                if list.is_null() {
                    return c.set_accept_encoding(None);
                }
                let v = c_str(list, "accept-encoding")
                    .map_err(|_| Error::invalid("accept-encoding is not UTF-8"))?;
                c.set_accept_encoding(Some(v))
            })
        }
    })
}

/// The hosts that bypass the proxy, overriding the environment's `no_proxy` / `NO_PROXY`:
/// comma-separated host names (each also matching its subdomains; a leading dot is
/// ignored), IP addresses, CIDR blocks (`10.0.0.0/8`), or `*` for every host. It applies to
/// a proxy set with `h2_config_set_proxy` too. NULL (the default): the environment's list.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_no_proxy(
    cfg: *mut h2_config,
    list: *const c_char,
) -> h2_result {
    entry!(h2_config_set_no_proxy, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config, list NULL or a
        // C string).
        unsafe {
            set(cfg, |c| {
                let list = if list.is_null() {
                    None
                } else {
                    Some(
                        c_str(list, "no-proxy list")
                            .map_err(|_| Error::invalid("no-proxy list is not UTF-8"))?,
                    )
                };
                c.set_no_proxy(list);
                Ok(())
            })
        }
    })
}

/// Adds a name resolution override, as curl's `--resolve`: `HOST:PORT:ADDR[,ADDR]...`
/// (IPv6 addresses in brackets). Connections to HOST:PORT then dial these addresses without
/// asking DNS; the URL's host still names the origin (`:authority`, TLS SNI and the
/// certificate check). The first matching entry wins. `H2_E_INVALID_ARGUMENT` for a malformed
/// entry. Not applied to connections made through a proxy.
#[no_mangle]
pub unsafe extern "C" fn h2_config_add_resolve(
    cfg: *mut h2_config,
    entry: *const c_char,
) -> h2_result {
    entry!(h2_config_add_resolve, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config, entry NULL or a
        // C string).
        unsafe {
            set(cfg, |c| {
                let e = c_str(entry, "resolve entry")
                    .map_err(|_| Error::invalid("resolve entry is NULL or not UTF-8"))?;
                let r = crate::overrides::Resolve::parse(e)?;
                c.overrides.resolve.push(r);
                Ok(())
            })
        }
    })
}

/// Adds a connection target override, as curl's `--connect-to`: `HOST1:PORT1:HOST2:PORT2`.
/// Connections to HOST1:PORT1 go to HOST2:PORT2 instead (an empty HOST1 or PORT1 matches any;
/// an empty HOST2 or PORT2 keeps the original); the URL's host still names the origin
/// (`:authority`, SNI, certificate). Applied before `h2_config_add_resolve` entries; the first
/// match wins. `H2_E_INVALID_ARGUMENT` for a malformed entry. Not applied through a proxy.
#[no_mangle]
pub unsafe extern "C" fn h2_config_add_connect_to(
    cfg: *mut h2_config,
    entry: *const c_char,
) -> h2_result {
    entry!(h2_config_add_connect_to, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config, entry NULL or a
        // C string).
        unsafe {
            set(cfg, |c| {
                let e = c_str(entry, "connect-to entry")
                    .map_err(|_| Error::invalid("connect-to entry is NULL or not UTF-8"))?;
                let r = crate::overrides::ConnectTo::parse(e)?;
                c.overrides.connect_to.push(r);
                Ok(())
            })
        }
    })
}

/// Sends every connection over the Unix domain socket at `path` instead of TCP, as curl's
/// `--unix-socket`: for a local proxy, sidecar or server. Request URLs still name the origin:
/// `http://` URLs speak h2c (prior knowledge) on the socket, `https://` URLs TLS with the
/// URL's host for SNI and the certificate check, and `:authority` is the URL's. No proxy, no
/// name resolution and no local address apply. NULL or "": TCP (the default). A path longer
/// than a socket address holds (107 bytes) is `H2_E_INVALID_ARGUMENT`; a socket nobody
/// listens on fails each connection with `H2_E_CONNECT` naming it.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_unix_socket(
    cfg: *mut h2_config,
    path: *const c_char,
) -> h2_result {
    entry!(h2_config_set_unix_socket, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config, path NULL or a
        // C string).
        unsafe {
            set(cfg, |c| {
                if path.is_null() {
                    c.overrides.unix_socket = None;
                    return Ok(());
                }
                // Within the block's SAFETY: path is non-null and NUL-terminated.
                let bytes = std::ffi::CStr::from_ptr(path).to_bytes();
                c.overrides.unix_socket = crate::overrides::unix_socket_path(bytes)?;
                Ok(())
            })
        }
    })
}

/// Any IP version (`h2_config_set_ip_version`): IPv6 and IPv4 raced (the default).
pub const H2_IP_ANY: u32 = 0;
/// IPv4 only (curl's `-4`).
pub const H2_IP_V4: u32 = 4;
/// IPv6 only (curl's `-6`).
pub const H2_IP_V6: u32 = 6;

/// Restricts connections, to origins and to proxies, to one IP version, as curl's `-4`/`-6`
/// (`CURLOPT_IPRESOLVE`): `H2_IP_V4`, `H2_IP_V6`, or `H2_IP_ANY` (the default: both, raced as
/// Happy Eyeballs). A name with no address of that version fails with H2_E_CONNECT ("could
/// not resolve host ...: it has no IPv4 address"). Resolve overrides are filtered the same
/// way; a Unix socket is not affected. Other values are H2_E_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_ip_version(cfg: *mut h2_config, version: u32) -> h2_result {
    entry!(h2_config_set_ip_version, || {
        let family = match version {
            H2_IP_ANY => crate::IpFamily::Any,
            H2_IP_V4 => crate::IpFamily::V4,
            H2_IP_V6 => crate::IpFamily::V6,
            v => {
                return super::fail(Error::invalid(format!(
                    "IP version {v}: use H2_IP_ANY, H2_IP_V4 or H2_IP_V6"
                )))
            }
        };
        try_mut!(cfg).inner.overrides.ip_family = family;
        H2_OK
    })
}

/// Binds every connection's socket to this local IP address before connecting (curl's
/// `--interface` with an address; interface names are not supported). NULL: the system
/// chooses (the default). An address the machine does not have fails each connection with
/// `H2_E_CONNECT` naming it; a string that is not an IP address is `H2_E_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_local_address(
    cfg: *mut h2_config,
    addr: *const c_char,
) -> h2_result {
    entry!(h2_config_set_local_address, || {
        // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config, addr NULL or a
        // C string).
        unsafe {
            set(cfg, |c| {
                if addr.is_null() {
                    c.overrides.local_address = None;
                    return Ok(());
                }
                let a = c_str(addr, "local address")
                    .map_err(|_| Error::invalid("local address is not UTF-8"))?;
                let ip = a
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .map_err(|_| {
                        Error::invalid(format!("local address '{a}' is not an IP address"))
                    })?;
                c.overrides.local_address = Some(ip);
                Ok(())
            })
        }
    })
}
