//! What a request's information (`h2_response_info`, `h2_call_info`) is made of.
//!
//! - [`ConnInfo`]: facts about a connection (the addresses, the connect phase's times, TLS),
//!   recorded once by `connect` when the connection is made and shared by its requests through
//!   an `Arc`: a request holds it from the moment its HEADERS are written, so the facts outlive
//!   the connection.
//! - [`Progress`]: the request's own times and byte counts, recorded on its exchange by the
//!   connection's writer (HEADERS and body written) and reader (response header blocks, DATA,
//!   the end), as plain relaxed atomics: no lock, no allocation, one clock read where a time
//!   is not already at hand (the reader stamps what it parses with the time of the read).
//!   Times are stored as nanoseconds since a process-wide base ([`stamp`]), so that the reader
//!   converts the time of a read once for every frame in it.
//! - [`RequestInfo`]: a snapshot of both, taken with a buffered response and made on demand
//!   for a call; it turns the times into microseconds since the call started.

use std::ffi::CString;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::connect::PeerAddr;

/// What is known about a connection once it is made (through a proxy, `remote` is the proxy;
/// the TLS facts are those of the origin's handshake).
#[derive(Debug)]
pub(crate) struct ConnInfo {
    /// The connection's process-unique number (as in events), set by the pool.
    pub(crate) id: u64,
    /// The address dialled.
    pub(crate) remote: PeerAddr,
    /// `remote` as C text: the IP address (no port, no brackets) or the Unix socket's path.
    pub(crate) remote_text: CString,
    /// Our end of the TCP connection (none over a Unix socket).
    pub(crate) local: Option<(SocketAddr, CString)>,
    /// When the name was resolved (for a Unix socket, when dialling began).
    pub(crate) resolved: Instant,
    /// When the TCP (or Unix socket) connection was established.
    pub(crate) connected: Instant,
    /// TLS with the origin, for https.
    pub(crate) tls: Option<TlsInfo>,
}

/// The origin's TLS session, as negotiated.
#[derive(Debug)]
pub(crate) struct TlsInfo {
    /// When the handshake completed (for a tunnel, that inside it).
    pub(crate) done: Instant,
    /// IANA protocol version number (0x0303 TLS 1.2, 0x0304 TLS 1.3).
    pub(crate) version: u16,
    /// IANA cipher suite number.
    pub(crate) cipher_suite: u16,
    /// The protocol selected by ALPN ("h2").
    pub(crate) alpn: Option<CString>,
    /// The server name sent in SNI (none for an IP literal).
    pub(crate) server_name: Option<CString>,
    /// The session was resumed (no full handshake).
    pub(crate) resumed: bool,
    /// The server's certificate chain as it sent it, leaf first (DER).
    pub(crate) certs: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl ConnInfo {
    /// The facts of a connection to `remote` from `local`, resolved and connected at those
    /// times (TLS added by [`ConnInfo::with_tls`]); `id` is set by the pool.
    pub(crate) fn new(
        remote: PeerAddr,
        local: Option<SocketAddr>,
        resolved: Instant,
        connected: Instant,
    ) -> ConnInfo {
        // The time base exists before any time of a request on the connection is stamped.
        base();
        let remote_text = match &remote {
            PeerAddr::Ip(a) => c_text(a.ip().to_string().into_bytes()),
            PeerAddr::Unix(p) => {
                c_text(std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec())
            }
        };
        ConnInfo {
            id: 0,
            remote,
            remote_text,
            local: local.map(|a| (a, c_text(a.ip().to_string().into_bytes()))),
            resolved,
            connected,
            tls: None,
        }
    }

    /// Adds the TLS session of the origin's handshake, completed now, for `host` (the URL's
    /// host: SNI unless it is an IP literal).
    pub(crate) fn with_tls(mut self, c: &rustls::ClientConnection, host: &str) -> ConnInfo {
        let sni = host.parse::<std::net::IpAddr>().is_err();
        self.tls = Some(TlsInfo {
            done: Instant::now(),
            version: c.protocol_version().map_or(0, u16::from),
            cipher_suite: c
                .negotiated_cipher_suite()
                .map_or(0, |s| u16::from(s.suite())),
            alpn: c.alpn_protocol().map(|p| c_text(p.to_vec())),
            server_name: sni.then(|| c_text(host.as_bytes().to_vec())),
            resumed: c.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
            certs: c.peer_certificates().map(<[_]>::to_vec).unwrap_or_default(),
        });
        self
    }

    /// The remote port (0 for a Unix socket).
    pub(crate) fn remote_port(&self) -> u16 {
        match &self.remote {
            PeerAddr::Ip(a) => a.port(),
            PeerAddr::Unix(_) => 0,
        }
    }
}

/// `bytes` as a C string (cut at a NUL, which no address, name or protocol id holds).
fn c_text(mut bytes: Vec<u8>) -> CString {
    if let Some(i) = bytes.iter().position(|&b| b == 0) {
        bytes.truncate(i);
    }
    CString::new(bytes).unwrap_or_default()
}

/// The name of a TLS protocol version (as OpenSSL and nginx's `$ssl_protocol` spell it).
pub(crate) fn tls_version_name(v: u16) -> Option<&'static std::ffi::CStr> {
    match v {
        0x0303 => Some(c"TLSv1.2"),
        0x0304 => Some(c"TLSv1.3"),
        _ => None,
    }
}

/// The IANA name of a cipher suite h2client can negotiate (rustls with ring).
pub(crate) fn cipher_suite_name(id: u16) -> Option<&'static std::ffi::CStr> {
    Some(match id {
        0x1301 => c"TLS_AES_128_GCM_SHA256",
        0x1302 => c"TLS_AES_256_GCM_SHA384",
        0x1303 => c"TLS_CHACHA20_POLY1305_SHA256",
        0xc02b => c"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => c"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xcca9 => c"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xc02f => c"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => c"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca8 => c"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        _ => return None,
    })
}

/// A request's progress on its current attempt, written by the connection serving it. Times
/// are nanoseconds since the exchange was created, 0 until they happen.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    stream_id: AtomicU32,
    headers_sent: AtomicU64,
    request_sent: AtomicU64,
    first_byte: AtomicU64,
    total: AtomicU64,
    header_bytes_sent: AtomicU64,
    body_bytes_sent: AtomicU64,
    header_bytes_received: AtomicU64,
    body_bytes_received: AtomicU64,
}

/// Adds `n` to a counter that one task at a time writes (no read-modify-write instruction).
fn bump(a: &AtomicU64, n: u64) {
    a.store(a.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

impl Progress {
    /// The writer put the request's HEADERS (a `block`-byte header block) on stream `id` at
    /// `at`; `ended`: they carry END_STREAM (no body), so the request is sent.
    pub(crate) fn headers_sent(&self, at: u64, id: u32, block: usize, ended: bool) {
        self.headers_sent.store(at, Ordering::Relaxed);
        self.header_bytes_sent
            .store(block as u64, Ordering::Relaxed);
        if ended {
            self.request_sent.store(at, Ordering::Relaxed);
        }
        // Last, releasing: whoever sees the stream id sees the connection the exchange was
        // placed on before (a plain store on x86).
        self.stream_id.store(id, Ordering::Release);
    }

    /// The writer put `n` body bytes in a DATA frame.
    pub(crate) fn body_sent(&self, n: usize) {
        bump(&self.body_bytes_sent, n as u64);
    }

    /// The writer put the request's trailers (a `block`-byte header block).
    pub(crate) fn trailers_sent(&self, block: usize) {
        bump(&self.header_bytes_sent, block as u64);
    }

    /// The writer put the request's last frame (END_STREAM) at `at`.
    pub(crate) fn request_sent(&self, at: u64) {
        self.request_sent.store(at, Ordering::Relaxed);
    }

    /// The reader got a response header block of `block` bytes (1xx, final head or trailers)
    /// at `at`.
    pub(crate) fn block_received(&self, at: u64, block: usize) {
        if self.first_byte.load(Ordering::Relaxed) == 0 {
            self.first_byte.store(at, Ordering::Relaxed);
        }
        bump(&self.header_bytes_received, block as u64);
    }

    /// The reader got `n` body bytes (DATA without padding).
    pub(crate) fn body_received(&self, n: usize) {
        bump(&self.body_bytes_received, n as u64);
    }

    /// The exchange ended at `at` (the response complete, or the failure); only the first
    /// time counts.
    pub(crate) fn ended(&self, at: u64) {
        if self.total.load(Ordering::Relaxed) == 0 {
            self.total.store(at, Ordering::Relaxed);
        }
    }

    /// Whether the end is recorded.
    pub(crate) fn has_ended(&self) -> bool {
        self.total.load(Ordering::Relaxed) != 0
    }

    /// A new attempt (a retry): what the last one did on its stream no longer describes the
    /// request.
    pub(crate) fn restart(&self) {
        for a in [
            &self.headers_sent,
            &self.request_sent,
            &self.first_byte,
            &self.header_bytes_sent,
            &self.body_bytes_sent,
            &self.header_bytes_received,
            &self.body_bytes_received,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        self.stream_id.store(0, Ordering::Relaxed);
    }
}

/// The process-wide base of stamped times.
fn base() -> Instant {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// `at` as a stamp: nanoseconds since the base, at least 1 (0 means "not yet").
pub(crate) fn stamp(at: Instant) -> u64 {
    let d = at.saturating_duration_since(base());
    (d.as_secs() * 1_000_000_000 + u64::from(d.subsec_nanos())).max(1)
}

/// The stamp of now.
pub(crate) fn stamp_now() -> u64 {
    // The base first: made after `now`, it would put `now` before it.
    base();
    stamp(Instant::now())
}

/// The instant of a stamp.
fn instant_of(stamp: u64) -> Instant {
    base() + Duration::from_nanos(stamp)
}

/// A request's information at one moment: its connection and its progress.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestInfo {
    /// The connection of its (last) attempt, once its HEADERS were written.
    pub(crate) conn: Option<Arc<ConnInfo>>,
    /// When its exchange was created (times are from there).
    pub(crate) started: Option<Instant>,
    /// When the call started: the first request of a redirect chain (else `started`).
    pub(crate) call_started: Option<Instant>,
    /// Stream id of its (last) attempt, 0 before one.
    pub(crate) stream_id: u32,
    /// Times it was retried.
    pub(crate) retries: u32,
    /// Its HEADERS were written (a [`stamp`]; 0: not yet, as the other times).
    pub(crate) headers_sent: u64,
    /// Its last frame (END_STREAM) was written.
    pub(crate) request_sent: u64,
    /// The first response header block arrived.
    pub(crate) first_byte: u64,
    /// The exchange ended.
    pub(crate) total: u64,
    /// Header block bytes sent by its (last) attempt.
    pub(crate) header_bytes_sent: u64,
    /// Body bytes sent by its (last) attempt.
    pub(crate) body_bytes_sent: u64,
    /// Header block bytes received by its (last) attempt.
    pub(crate) header_bytes_received: u64,
    /// Body bytes received by its (last) attempt.
    pub(crate) body_bytes_received: u64,
}

/// Whole microseconds in `d`, rounded up: an event that happened reads at least 1.
fn ceil_us(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1000)).unwrap_or(u64::MAX)
}

impl RequestInfo {
    /// The snapshot of `p`, for an exchange created at `started`, retried `retries` times, on
    /// connection `conn`.
    pub(crate) fn of(
        p: &Progress,
        started: Instant,
        retries: u32,
        conn: Option<Arc<ConnInfo>>,
    ) -> RequestInfo {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RequestInfo {
            conn,
            started: Some(started),
            call_started: None,
            stream_id: p.stream_id.load(Ordering::Acquire),
            retries,
            headers_sent: l(&p.headers_sent),
            request_sent: l(&p.request_sent),
            first_byte: l(&p.first_byte),
            total: l(&p.total),
            header_bytes_sent: l(&p.header_bytes_sent),
            body_bytes_sent: l(&p.body_bytes_sent),
            header_bytes_received: l(&p.header_bytes_received),
            body_bytes_received: l(&p.body_bytes_received),
        }
    }

    /// Where the call's times count from.
    fn base(&self) -> Option<Instant> {
        self.call_started.or(self.started)
    }

    /// Whether the request went on a connection that had carried a request before (its
    /// stream is not the connection's first): the connect phase was not its own.
    pub(crate) fn reused(&self) -> bool {
        self.stream_id > 1
    }

    /// A time of the request (a [`stamp`], 0: not yet) in µs since the call started.
    pub(crate) fn us(&self, stamp: u64) -> u64 {
        match (stamp, self.base()) {
            (0, _) | (_, None) => 0,
            (t, Some(b)) => ceil_us(instant_of(t).saturating_duration_since(b)),
        }
    }

    /// A time of the connect phase in µs since the call started: 0 for a reused connection
    /// (or none yet), or if it was before the call started.
    pub(crate) fn conn_us(&self, at: impl Fn(&ConnInfo) -> Option<Instant>) -> u64 {
        let (Some(c), Some(b)) = (&self.conn, self.base()) else {
            return 0;
        };
        if self.reused() {
            return 0;
        }
        at(c).map_or(0, |t| ceil_us(t.saturating_duration_since(b)))
    }

    /// When the request that got the response started, in µs since the call started: the
    /// time spent on redirects (0 without).
    pub(crate) fn redirect_us(&self) -> u64 {
        match (self.started, self.call_started) {
            (Some(s), Some(b)) if s > b => ceil_us(s - b),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_microseconds_since_the_call_started_rounded_up() {
        let p = Progress::default();
        let t0 = stamp_now();
        let start = instant_of(t0);
        assert_eq!(stamp(start), t0);
        p.headers_sent(t0 + 1_500, 1, 30, true);
        p.block_received(t0 + 2_000_000, 10);
        p.block_received(t0 + 3_000_000, 5);
        p.ended(t0 + 4_000_001);
        p.ended(t0 + 9_000_000);
        let mut i = RequestInfo::of(&p, start, 0, None);
        assert_eq!(i.us(i.headers_sent), 2);
        assert_eq!(i.us(i.request_sent), 2);
        assert_eq!(i.us(i.first_byte), 2_000, "the first block");
        assert_eq!(i.us(i.total), 4_001, "the first end");
        assert_eq!(i.header_bytes_received, 15);
        assert!(!i.reused());
        assert_eq!(i.redirect_us(), 0);
        assert_eq!(i.conn_us(|c| Some(c.connected)), 0, "no connection");
        // The final request of a redirect chain that started 1 ms earlier.
        i.call_started = Some(start - Duration::from_millis(1));
        assert_eq!(i.redirect_us(), 1_000);
        assert_eq!(i.us(i.first_byte), 3_000);
        assert_eq!(i.us(0), 0, "not yet stays 0");
    }

    #[test]
    fn a_restart_forgets_the_attempt_but_not_the_end() {
        let p = Progress::default();
        p.headers_sent(5, 3, 30, false);
        p.body_sent(100);
        p.body_sent(20);
        p.trailers_sent(7);
        p.request_sent(9);
        p.body_received(11);
        let i = RequestInfo::of(&p, Instant::now(), 0, None);
        assert_eq!((i.body_bytes_sent, i.header_bytes_sent), (120, 37));
        assert!(i.reused(), "stream 3 is not the connection's first");
        p.restart();
        let i = RequestInfo::of(&p, Instant::now(), 1, None);
        assert_eq!(
            (
                i.stream_id,
                i.headers_sent,
                i.body_bytes_sent,
                i.body_bytes_received
            ),
            (0, 0, 0, 0)
        );
        assert!(!p.has_ended());
    }

    #[test]
    fn names() {
        assert_eq!(tls_version_name(0x0304), Some(c"TLSv1.3"));
        assert_eq!(tls_version_name(0x0302), None);
        assert_eq!(cipher_suite_name(0x1301), Some(c"TLS_AES_128_GCM_SHA256"));
        assert_eq!(cipher_suite_name(0x0005), None);
        assert_eq!(c_text(b"h2\0x".to_vec()).as_bytes(), b"h2");
    }
}
