//! `h2_config`: options for a client. Setters return `H2_E_INVALID_ARGUMENT` for a NULL
//! config or an out-of-range value (the config is then unchanged).

use super::{fail, guard, h2_result, invalid, H2_OK};
use crate::config::Config;
use crate::error::Result;

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
    super::guard_or(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(h2_config {
            inner: Config::default(),
        }))
    })
}

/// Frees a config. NULL is allowed.
#[no_mangle]
pub unsafe extern "C" fn h2_config_free(cfg: *mut h2_config) {
    if !cfg.is_null() {
        // SAFETY: cfg came from h2_config_new and is freed once (caller contract).
        drop(unsafe { Box::from_raw(cfg) });
    }
}

/// Applies `f` to the config behind `cfg`.
unsafe fn set(cfg: *mut h2_config, f: impl FnOnce(&mut Config) -> Result<()>) -> h2_result {
    guard(|| {
        // SAFETY: cfg is NULL or a live h2_config (caller contract).
        let Some(c) = (unsafe { cfg.as_mut() }) else {
            return invalid("config is NULL");
        };
        match f(&mut c.inner) {
            Ok(()) => H2_OK,
            Err(e) => fail(e),
        }
    })
}

/// TCP connect timeout in milliseconds, DNS included (default 10000; must be > 0).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_connect_timeout_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe { set(cfg, |c| c.set_connect_timeout_ms(value)) }
}

/// Whole-request timeout in milliseconds, from the call to the end of the response, time
/// waiting for a connection included (default 0 = no limit, like curl). Expiry gives
/// H2_E_TIMEOUT and resets the stream with RST_STREAM(CANCEL).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_request_timeout_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe {
        set(cfg, |c| {
            c.set_request_timeout_ms(value);
            Ok(())
        })
    }
}

/// A connection with no open streams for this many milliseconds is closed
/// (default 90000; 0 = never).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_idle_timeout_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe {
        set(cfg, |c| {
            c.set_idle_timeout_ms(value);
            Ok(())
        })
    }
}

/// After this many milliseconds without receiving anything on a connection, a PING is
/// sent (default 30000; 0 = no keepalive).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_keepalive_interval_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe {
        set(cfg, |c| {
            c.set_keepalive_interval_ms(value);
            Ok(())
        })
    }
}

/// A keepalive PING not acknowledged within this many milliseconds fails the connection
/// and its requests with H2_E_TIMEOUT (default 15000; must be > 0).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_keepalive_timeout_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe { set(cfg, |c| c.set_keepalive_timeout_ms(value)) }
}

/// The server must acknowledge our SETTINGS within this many milliseconds, else the
/// connection fails with SETTINGS_TIMEOUT (default 10000; must be > 0).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_settings_timeout_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe { set(cfg, |c| c.set_settings_timeout_ms(value)) }
}

/// A socket that accepts no bytes for this many milliseconds fails the connection with
/// H2_E_TIMEOUT (default 30000; must be > 0).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_write_timeout_ms(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe { set(cfg, |c| c.set_write_timeout_ms(value)) }
}

/// Most connections the client opens to its authority (default 256; must be > 0).
/// Beyond it, requests wait for a free stream slot (bounded by their timeout).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_connections(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe { set(cfg, |c| c.set_max_connections(value)) }
}

/// Our cap on concurrent streams per connection; the server's
/// SETTINGS_MAX_CONCURRENT_STREAMS applies too (default 1000; must be > 0).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_concurrent_streams(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe { set(cfg, |c| c.set_max_concurrent_streams(value)) }
}

/// Receive window of each stream, our SETTINGS_INITIAL_WINDOW_SIZE
/// (default 4194304 = 4 MiB; 1..=2147483647).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_initial_window_size(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe { set(cfg, |c| c.set_initial_window_size(value)) }
}

/// Receive window of each connection (default 1073741824 = 1 GiB; 65535..=2147483647).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_connection_window_size(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe { set(cfg, |c| c.set_connection_window_size(value)) }
}

/// Our SETTINGS_MAX_FRAME_SIZE: the largest frame the server may send us
/// (default 16384; 16384..=16777215).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_frame_size(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe { set(cfg, |c| c.set_max_frame_size(value)) }
}

/// Our SETTINGS_MAX_HEADER_LIST_SIZE: largest response header list accepted, counted as
/// in RFC 7541 (name + value + 32 per field) (default 262144; at least 1024). A larger
/// response fails with H2_E_HEADERS_TOO_LARGE.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_header_list_size(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe { set(cfg, |c| c.set_max_header_list_size(value)) }
}

/// Our SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table the server may use towards us
/// (default 4096; at most 1048576).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_header_table_size(
    cfg: *mut h2_config,
    value: u32,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe { set(cfg, |c| c.set_header_table_size(value)) }
}

/// Largest response body `h2_client_do` buffers (default 1073741824 = 1 GiB); a larger
/// body fails with H2_E_BODY_TOO_LARGE and the stream is reset.
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_response_body(
    cfg: *mut h2_config,
    value: u64,
) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe {
        set(cfg, |c| {
            c.set_max_response_body(value);
            Ok(())
        })
    }
}

/// How many times a request the server provably did not process (REFUSED_STREAM, above
/// GOAWAY's last stream id, never written) is retried before the request fails
/// (default 3; at most 10).
#[no_mangle]
pub unsafe extern "C" fn h2_config_set_max_retries(cfg: *mut h2_config, value: u32) -> h2_result {
    // SAFETY: forwarded caller contract (cfg is NULL or a live h2_config).
    unsafe { set(cfg, |c| c.set_max_retries(value)) }
}
