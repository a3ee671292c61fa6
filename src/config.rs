//! Client configuration and its defaults.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::events::EventHook;
use crate::frame::{DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE};
use crate::proxy::{Proxies, Proxy, ProxyChoice};
use crate::tls::TlsOptions;

/// Every tunable of a client. `Config::default()` holds the documented defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout, from submission (time waiting for a connection included) to the
    /// end of the response; `None` = no limit (curl's and Go's default).
    pub request_timeout: Option<Duration>,
    /// Time from submission to the final response head; `None` = no limit.
    pub headers_timeout: Option<Duration>,
    /// Longest gap without DATA once the response head has arrived; `None` = no limit.
    pub body_idle_timeout: Option<Duration>,
    /// A connection without open streams for this long is closed; `None` = never.
    pub idle_timeout: Option<Duration>,
    /// After this long without receiving anything, a PING is sent; `None` = no keepalive.
    pub keepalive_interval: Option<Duration>,
    /// A keepalive PING not acknowledged within this time fails the connection (H2_E_TIMEOUT).
    pub keepalive_timeout: Duration,
    /// Our SETTINGS not acknowledged within this time: connection error SETTINGS_TIMEOUT.
    pub settings_timeout: Duration,
    /// A socket that accepts no bytes for this long fails the connection.
    pub write_timeout: Duration,
    /// Most connections of the whole client, over every origin; further requests wait for
    /// a free stream slot or for a connection of the client to close.
    pub max_connections: u32,
    /// Most connections to one origin (scheme, host, port); further requests to it wait for
    /// a free stream slot.
    pub max_connections_per_origin: u32,
    /// Our cap on concurrent streams per connection (the server's limit applies too).
    pub max_concurrent_streams: u32,
    /// Our SETTINGS_INITIAL_WINDOW_SIZE: receive window of each stream.
    pub initial_window_size: u32,
    /// Receive window of the whole connection.
    pub connection_window_size: u32,
    /// Our SETTINGS_MAX_FRAME_SIZE.
    pub max_frame_size: u32,
    /// Our SETTINGS_MAX_HEADER_LIST_SIZE: the largest response header list we accept (RFC 7541
    /// size: name + value + 32 per field).
    pub max_header_list_size: u32,
    /// Our SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table the server may use towards us.
    pub header_table_size: u32,
    /// Largest response body `h2_client_do` buffers.
    pub max_response_body: u64,
    /// How many times a request the server provably did not process is retried.
    pub max_retries: u32,
    /// Most CONTINUATION frames in one header block; 0 = derived from the header list size.
    pub max_continuation_frames: u32,
    /// Empty DATA frames (without END_STREAM) a server may send per connection per minute.
    pub max_empty_data_frames: u32,
    /// PING and SETTINGS acknowledgements allowed to wait for the socket (PING/SETTINGS
    /// flood defence).
    pub max_pending_acks: u32,
    /// Pointless frames ("glitches": RST_STREAM, PRIORITY, unknown frame types) per
    /// connection per minute.
    pub max_glitches: u32,
    /// Informational (1xx) responses a server may send before a request's final response
    /// (103 Early Hints, 100 Continue); more is a flood.
    pub max_informational_responses: u32,
    /// RST_STREAMs we send per connection per second before it takes no new streams (so that
    /// callers cancelling in bulk do not make us a rapid-reset source, CVE-2023-44487).
    pub max_resets_per_second: u32,
    /// Observer of connection and stream events.
    pub events: Option<EventHook>,
    /// TLS options for `https://` clients.
    pub tls: TlsOptions,
    /// The proxy: from the environment (the default), none, or this one.
    pub proxy: ProxyChoice,
    /// Hosts that bypass the proxy (see [`crate::proxy::NoProxy`]); `None`: the environment's
    /// `no_proxy` / `NO_PROXY`.
    pub no_proxy: Option<String>,
    /// The proxies decided when the client was created (see [`Config::resolve_proxies`]).
    pub(crate) proxies: Option<Arc<Proxies>>,
    /// Which redirects are followed (none by default).
    pub redirects: crate::redirect::Redirects,
    /// Where connections go instead of the URL's address (`--resolve`, `--connect-to`, a
    /// local address), as curl.
    pub overrides: crate::overrides::Overrides,
    /// The `user-agent` sent with requests that set none ([`DEFAULT_USER_AGENT`]); `None`:
    /// none.
    pub user_agent: Option<Arc<str>>,
    /// Told of informational (1xx) responses, unless a request has its own observer.
    pub informational: Option<crate::response::InformationalHook>,
    /// The `accept-encoding` sent with requests that set none, whose responses are then
    /// decoded (see [`crate::decode`]); `None` (the default): none sent, nothing decoded.
    pub accept_encoding: Option<Arc<str>>,
}

/// The `user-agent` requests carry unless they set their own: `h2client/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("h2client/", env!("CARGO_PKG_VERSION"));

impl Default for Config {
    fn default() -> Config {
        Config {
            connect_timeout: Duration::from_secs(10),
            request_timeout: None,
            headers_timeout: None,
            body_idle_timeout: None,
            idle_timeout: Some(Duration::from_secs(90)),
            keepalive_interval: Some(Duration::from_secs(30)),
            keepalive_timeout: Duration::from_secs(15),
            settings_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_connections: 256,
            max_connections_per_origin: 256,
            max_concurrent_streams: 1000,
            initial_window_size: 4 << 20,
            connection_window_size: 1 << 30,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: 256 << 10,
            header_table_size: 4096,
            max_response_body: 1 << 30,
            max_retries: 3,
            max_continuation_frames: 0,
            max_empty_data_frames: 100,
            max_pending_acks: 1000,
            max_glitches: 1000,
            max_informational_responses: 16,
            max_resets_per_second: 200,
            events: None,
            tls: TlsOptions::default(),
            proxy: ProxyChoice::Environment,
            no_proxy: None,
            proxies: None,
            redirects: crate::redirect::Redirects::default(),
            overrides: crate::overrides::Overrides::default(),
            user_agent: Some(Arc::from(DEFAULT_USER_AGENT)),
            informational: None,
            accept_encoding: None,
        }
    }
}

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v))
}

fn ms_opt(v: u32) -> Option<Duration> {
    (v != 0).then(|| ms(v))
}

impl Config {
    /// Sets the connect timeout in milliseconds (must be > 0).
    pub fn set_connect_timeout_ms(&mut self, v: u32) -> Result<()> {
        if v == 0 {
            return Err(Error::invalid("connect_timeout_ms must be > 0"));
        }
        self.connect_timeout = ms(v);
        Ok(())
    }
    /// Sets the whole-request timeout in milliseconds (0 = none).
    pub fn set_request_timeout_ms(&mut self, v: u32) {
        self.request_timeout = ms_opt(v);
    }
    /// Sets the time-to-response-headers timeout in milliseconds (0 = none).
    pub fn set_headers_timeout_ms(&mut self, v: u32) {
        self.headers_timeout = ms_opt(v);
    }
    /// Sets the body idle timeout in milliseconds (0 = none).
    pub fn set_body_idle_timeout_ms(&mut self, v: u32) {
        self.body_idle_timeout = ms_opt(v);
    }
    /// Sets the idle-connection timeout in milliseconds (0 = never close idle connections).
    pub fn set_idle_timeout_ms(&mut self, v: u32) {
        self.idle_timeout = ms_opt(v);
    }
    /// Sets the `user-agent` sent with requests that carry none (`None`: send none). The value
    /// must be a valid field value (no control characters, no leading or trailing space).
    pub fn set_user_agent(&mut self, ua: Option<&str>) -> Result<()> {
        if let Some(v) = ua {
            if !crate::request::valid_request_value(v.as_bytes()) {
                return Err(Error::invalid(format!(
                    "user agent '{}' is not a valid header value (control characters or surrounding spaces)",
                    v.escape_debug()
                )));
            }
        }
        self.user_agent = ua.map(Arc::from);
        Ok(())
    }
    /// Turns transparent decompression on: `Some(list)` sends `accept-encoding: list` with
    /// every request that sets no `accept-encoding` of its own and decodes those responses'
    /// bodies (gzip, deflate, br, zstd; see [`crate::decode`]); `Some("")` sends every coding
    /// we decode ([`crate::decode::SUPPORTED`]); `None` (the default): off. The value must be a
    /// valid field value.
    pub fn set_accept_encoding(&mut self, list: Option<&str>) -> Result<()> {
        let list = match list {
            Some("") => Some(crate::decode::SUPPORTED),
            other => other,
        };
        if let Some(v) = list {
            if !crate::request::valid_request_value(v.as_bytes()) {
                return Err(Error::invalid(format!(
                    "accept-encoding '{}' is not a valid header value (control characters or surrounding spaces)",
                    v.escape_debug()
                )));
            }
        }
        self.accept_encoding = list.map(Arc::from);
        Ok(())
    }
    /// Sets the keepalive PING interval in milliseconds (0 = no keepalive).
    pub fn set_keepalive_interval_ms(&mut self, v: u32) {
        self.keepalive_interval = ms_opt(v);
    }
    /// Sets the keepalive PING ack timeout in milliseconds (must be > 0).
    pub fn set_keepalive_timeout_ms(&mut self, v: u32) -> Result<()> {
        if v == 0 {
            return Err(Error::invalid("keepalive_timeout_ms must be > 0"));
        }
        self.keepalive_timeout = ms(v);
        Ok(())
    }
    /// Sets the SETTINGS ack timeout in milliseconds (must be > 0).
    pub fn set_settings_timeout_ms(&mut self, v: u32) -> Result<()> {
        if v == 0 {
            return Err(Error::invalid("settings_timeout_ms must be > 0"));
        }
        self.settings_timeout = ms(v);
        Ok(())
    }
    /// Sets the write-stall timeout in milliseconds (must be > 0).
    pub fn set_write_timeout_ms(&mut self, v: u32) -> Result<()> {
        if v == 0 {
            return Err(Error::invalid("write_timeout_ms must be > 0"));
        }
        self.write_timeout = ms(v);
        Ok(())
    }
    /// Sets the most connections per client, over every origin (must be > 0).
    pub fn set_max_connections(&mut self, v: u32) -> Result<()> {
        if v == 0 {
            return Err(Error::invalid("max_connections must be > 0"));
        }
        self.max_connections = v;
        Ok(())
    }
    /// Sets the most connections to one origin (must be > 0).
    pub fn set_max_connections_per_origin(&mut self, v: u32) -> Result<()> {
        if v == 0 {
            return Err(Error::invalid("max_connections_per_origin must be > 0"));
        }
        self.max_connections_per_origin = v;
        Ok(())
    }
    /// Sets our per-connection stream cap (must be > 0).
    pub fn set_max_concurrent_streams(&mut self, v: u32) -> Result<()> {
        if v == 0 {
            return Err(Error::invalid("max_concurrent_streams must be > 0"));
        }
        self.max_concurrent_streams = v;
        Ok(())
    }
    /// Sets the stream receive window (1..=2^31-1).
    pub fn set_initial_window_size(&mut self, v: u32) -> Result<()> {
        if v == 0 || v > MAX_WINDOW_SIZE {
            return Err(Error::invalid(
                "initial_window_size must be in 1..=2147483647",
            ));
        }
        self.initial_window_size = v;
        Ok(())
    }
    /// Sets the connection receive window (65535..=2^31-1).
    pub fn set_connection_window_size(&mut self, v: u32) -> Result<()> {
        if !(65_535..=MAX_WINDOW_SIZE).contains(&v) {
            return Err(Error::invalid(
                "connection_window_size must be in 65535..=2147483647",
            ));
        }
        self.connection_window_size = v;
        Ok(())
    }
    /// Sets our SETTINGS_MAX_FRAME_SIZE (16384..=16777215).
    pub fn set_max_frame_size(&mut self, v: u32) -> Result<()> {
        if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&v) {
            return Err(Error::invalid("max_frame_size must be in 16384..=16777215"));
        }
        self.max_frame_size = v;
        Ok(())
    }
    /// Sets our SETTINGS_MAX_HEADER_LIST_SIZE (at least 1024).
    pub fn set_max_header_list_size(&mut self, v: u32) -> Result<()> {
        if v < 1024 {
            return Err(Error::invalid("max_header_list_size must be >= 1024"));
        }
        self.max_header_list_size = v;
        Ok(())
    }
    /// Sets our SETTINGS_HEADER_TABLE_SIZE (at most 1 MiB).
    pub fn set_header_table_size(&mut self, v: u32) -> Result<()> {
        if v > 1 << 20 {
            return Err(Error::invalid("header_table_size must be <= 1048576"));
        }
        self.header_table_size = v;
        Ok(())
    }
    /// Sets the largest buffered response body.
    pub fn set_max_response_body(&mut self, v: u64) {
        self.max_response_body = v;
    }
    /// Sets the retry cap for unprocessed requests (at most 10).
    pub fn set_max_retries(&mut self, v: u32) -> Result<()> {
        if v > 10 {
            return Err(Error::invalid("max_retries must be <= 10"));
        }
        self.max_retries = v;
        Ok(())
    }

    /// The largest compressed header block (HEADERS + CONTINUATION) we reassemble. HPACK can
    /// expand a little (literal framing, Huffman worst case 30 bits per byte), so allow some
    /// slack over the header list size; anything bigger is a CONTINUATION flood.
    pub fn max_header_block(&self) -> usize {
        let list = self.max_header_list_size as usize;
        list + list / 2 + 4096
    }

    /// Most CONTINUATION frames per header block: enough for a maximal block in frames of a
    /// quarter of the smallest legal frame size, so that only a flood of tiny frames trips it.
    pub fn max_continuation_frames(&self) -> usize {
        if self.max_continuation_frames > 0 {
            return self.max_continuation_frames as usize;
        }
        self.max_header_block() / (DEFAULT_MAX_FRAME_SIZE as usize / 4) + 16
    }

    /// The connection's defence budgets.
    pub(crate) fn defence_limits(&self) -> crate::conn::defence::Limits {
        crate::conn::defence::Limits {
            empty_data: self.max_empty_data_frames,
            glitches: self.max_glitches,
            resets_per_second: self.max_resets_per_second,
        }
    }

    /// Sets the proxy from a URL (`http://`, `https://`, `socks5://`, `socks5h://`, credentials in the
    /// userinfo); `None`: from the environment; `""`: no proxy, whatever the environment says.
    pub fn set_proxy(&mut self, url: Option<&str>) -> Result<()> {
        self.proxy = match url {
            None => ProxyChoice::Environment,
            Some(u) if u.trim().is_empty() => ProxyChoice::Direct,
            Some(u) => ProxyChoice::Use(Arc::new(Proxy::parse(u)?)),
        };
        Ok(())
    }

    /// Sets the no-proxy list (overrides `no_proxy` / `NO_PROXY`); `None`: the environment's.
    pub fn set_no_proxy(&mut self, list: Option<&str>) {
        self.no_proxy = list.map(str::to_owned);
    }

    /// Decides the proxies now, reading the environment if the configuration says so (a
    /// client does it once, when it is created).
    pub(crate) fn resolve_proxies(&mut self) {
        self.proxies = Some(Arc::new(Proxies::from_process(
            &self.proxy,
            self.no_proxy.as_deref(),
        )));
    }

    /// The proxy an origin's connections go through (see [`Config::resolve_proxies`]).
    pub(crate) fn proxy_for(
        &self,
        t: &crate::url::Target,
    ) -> Option<std::result::Result<Arc<Proxy>, Error>> {
        match &self.proxies {
            Some(p) => p.for_target(t),
            None => Proxies::from_process(&self.proxy, self.no_proxy.as_deref()).for_target(t),
        }
    }

    /// Sets a limit that must be positive.
    pub fn set_positive(slot: &mut u32, v: u32, name: &str) -> Result<()> {
        if v == 0 {
            return Err(Error::invalid(format!("{name} must be > 0")));
        }
        *slot = v;
        Ok(())
    }
}
