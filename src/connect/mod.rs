//! How a connection to an origin is made: where to dial (a Unix socket, a proxy, the
//! `--connect-to`/`--resolve` overrides or the origin itself), the TCP race between its
//! addresses (Happy Eyeballs, [`tcp`]), the resolver cache ([`dns`]), the proxy tunnel and the
//! TLS handshake, all within the connect timeout. The pool calls [`connect`] and runs a
//! connection on what it returns.

mod dns;
pub(crate) mod nosigpipe;
mod tcp;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Origin, Processed};
use crate::info::ConnInfo;
use crate::url::Target;

pub(crate) use dns::DnsCache;
pub use tcp::IpFamily;

/// An established transport.
pub(crate) enum Transport {
    Tcp(TcpStream),
    Tls(Box<crate::tls::Stream>),
    /// Through an https proxy or a Unix socket (maybe TLS inside it).
    Other(Box<dyn Io>),
}

/// A byte stream a connection can run on.
pub(crate) trait Io:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static
{
}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Io for T {}

/// The address a connection was dialled to (the proxy's, through a proxy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PeerAddr {
    Ip(std::net::SocketAddr),
    Unix(std::path::PathBuf),
}

impl std::fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerAddr::Ip(a) => write!(f, "{a}"),
            PeerAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// The client-wide state connecting uses (one per client, shared by its origins' pools).
#[derive(Debug, Default)]
pub(crate) struct Connector {
    /// Names resolved recently.
    pub(crate) dns: DnsCache,
}

/// A timeout of the connect phase `what`.
fn connect_timed_out(what: &str, timeout: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "timed out {what} (connect timeout {} ms)",
            timeout.as_millis()
        ),
    )
    .with_origin(Origin::Transport)
    .with_processed(Processed::No)
}

/// An error of the connect phase: nothing was sent.
fn connect_error(kind: ErrorKind, msg: String) -> Error {
    Error::new(kind, msg)
        .with_origin(Origin::Transport)
        .with_processed(Processed::No)
}

/// Runs `f` by `deadline`; on time out, the error of [`connect_timed_out`].
async fn by<T>(
    deadline: tokio::time::Instant,
    timeout: Duration,
    what: impl FnOnce() -> String,
    f: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match tokio::time::timeout_at(deadline, f).await {
        Ok(r) => r,
        Err(_) => Err(connect_timed_out(&what(), timeout)),
    }
}

/// What a tunnel's time out says.
fn tunnel_what(t: &Target, p: &crate::proxy::Proxy) -> String {
    format!(
        "opening a tunnel to {}:{} through proxy {p}",
        t.authority_host(),
        t.port
    )
}

/// Whether the TLS trust is the system's (for the wording of certificate errors).
fn system_trust(cfg: &Config) -> bool {
    matches!(cfg.tls.trust, crate::tls::Trust::System) && !cfg.tls.insecure_skip_verify
}

/// Connects to origin `t` within the connect timeout: over the configured Unix socket if
/// any (no proxy, no name resolution), else through `proxy` (the tunnel opened) or straight
/// to the origin's addresses, then, for https (`tls`), the TLS handshake with the origin.
/// Returns the transport and what is known of the connection: the address dialled (the
/// proxy's, through a proxy), our address, when the name was resolved and the connection
/// made, the origin's TLS session.
pub(crate) async fn connect(
    t: &Target,
    cfg: &Config,
    via: &Connector,
    tls: Option<Arc<rustls::ClientConfig>>,
    proxy: Option<&crate::proxy::Proxy>,
) -> Result<(Transport, ConnInfo), Error> {
    let timeout = cfg.connect_timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    if let Some(path) = &cfg.overrides.unix_socket {
        return connect_unix(t, path, cfg, tls, deadline).await;
    }
    let (tcp, addr, info) = match proxy {
        None => {
            let (host, port, fixed) = cfg.overrides.route(&t.host, t.port);
            let local = cfg.overrides.local_address;
            let to = tcp::Dial {
                host: &host,
                port,
                fixed,
                local,
                family: cfg.overrides.ip_family,
            };
            let (tcp, addr, resolved) = tcp::connect(to, &via.dns, timeout, deadline).await?;
            let info = tcp_info(&tcp, addr, resolved);
            (tcp, addr, info)
        }
        Some(p) => {
            let to = tcp::Dial {
                host: &p.host,
                port: p.port,
                fixed: None,
                local: None,
                family: cfg.overrides.ip_family,
            };
            let (mut tcp, addr, resolved) = tcp::connect(to, &via.dns, timeout, deadline)
                .await
                .map_err(|mut e| {
                    e.message = format!("proxy {p}: {}", e.message).into();
                    e
                })?;
            let info = tcp_info(&tcp, addr, resolved);
            if p.kind == crate::proxy::ProxyKind::Https {
                let at = (addr, deadline);
                return connect_via_https_proxy(t, cfg, tls, p, (tcp, info), at).await;
            }
            let tunnel = crate::proxy::tunnel(&mut tcp, p, t);
            by(deadline, timeout, || tunnel_what(t, p), tunnel).await?;
            (tcp, addr, info)
        }
    };
    let Some(tls) = tls else {
        return Ok((Transport::Tcp(tcp), info));
    };
    let s = by(
        deadline,
        timeout,
        || format!("during the TLS handshake with {addr}"),
        crate::tls::handshake(tcp, addr, &t.host, tls, system_trust(cfg)),
    )
    .await?;
    let info = info.with_tls(s.get_ref().1, &t.host);
    Ok((Transport::Tls(Box::new(s)), info))
}

/// What is known of a TCP connection to `addr` made just now, its name resolved at
/// `resolved`.
fn tcp_info(tcp: &TcpStream, addr: std::net::SocketAddr, resolved: Instant) -> ConnInfo {
    ConnInfo::new(
        PeerAddr::Ip(addr),
        tcp.local_addr().ok(),
        resolved,
        Instant::now(),
    )
}

/// Connects to the Unix socket at `path` (h2c, or TLS with the origin's name for SNI and the
/// certificate check, as curl's `--unix-socket`).
async fn connect_unix(
    t: &Target,
    path: &std::path::Path,
    cfg: &Config,
    tls: Option<Arc<rustls::ClientConfig>>,
    deadline: tokio::time::Instant,
) -> Result<(Transport, ConnInfo), Error> {
    let timeout = cfg.connect_timeout;
    let peer = PeerAddr::Unix(path.to_owned());
    // No name to resolve: the lookup is done as dialling starts.
    let resolved = Instant::now();
    let dialled = tokio::time::timeout_at(deadline, tokio::net::UnixStream::connect(path)).await;
    let sock = match dialled {
        Ok(Ok(s)) => nosigpipe::NoSigPipe::new(s, tls.is_none()),
        Ok(Err(e)) => {
            let msg = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    format!("connection to {peer} refused (nothing listens on the socket)")
                }
                std::io::ErrorKind::NotFound => format!("no Unix socket at {}", path.display()),
                _ => format!("could not connect to {peer}: {e}"),
            };
            return Err(connect_error(ErrorKind::Connect, msg));
        }
        Err(_) => return Err(connect_timed_out(&format!("connecting to {peer}"), timeout)),
    };
    let info = ConnInfo::new(peer.clone(), None, resolved, Instant::now());
    let Some(tls) = tls else {
        return Ok((Transport::Other(Box::new(sock)), info));
    };
    let s = by(
        deadline,
        timeout,
        || format!("during the TLS handshake with {peer}"),
        crate::tls::handshake_over(sock, &peer, &t.host, tls, system_trust(cfg), true),
    )
    .await?;
    let info = info.with_tls(s.get_ref().1, &t.host);
    Ok((Transport::Other(Box::new(s)), info))
}

/// Through an https proxy (connected at `at.0`): TLS to the proxy, the CONNECT tunnel inside
/// it, then h2c or TLS to the origin inside the tunnel, by the deadline `at.1`.
async fn connect_via_https_proxy(
    t: &Target,
    cfg: &Config,
    tls: Option<Arc<rustls::ClientConfig>>,
    p: &crate::proxy::Proxy,
    (tcp, info): (TcpStream, ConnInfo),
    (addr, deadline): (std::net::SocketAddr, tokio::time::Instant),
) -> Result<(Transport, ConnInfo), Error> {
    let timeout = cfg.connect_timeout;
    let system = system_trust(cfg);
    let proxy_tls = crate::tls::proxy_client_config(&cfg.tls)?;
    let mut s = by(
        deadline,
        timeout,
        || format!("during the TLS handshake with proxy {p}"),
        crate::tls::handshake_over(
            nosigpipe::NoSigPipe::new(tcp, false),
            &addr,
            &p.host,
            proxy_tls,
            system,
            false,
        ),
    )
    .await
    .map_err(|mut e| {
        if e.kind == ErrorKind::Tls {
            e.message = format!("proxy {p}: {}", e.message).into();
        }
        e
    })?;
    let tunnel = crate::proxy::tunnel(&mut s, p, t);
    by(deadline, timeout, || tunnel_what(t, p), tunnel).await?;
    let Some(tls) = tls else {
        return Ok((Transport::Other(Box::new(s)), info));
    };
    let inner = by(
        deadline,
        timeout,
        || format!("during the TLS handshake with {} through proxy {p}", t.host),
        crate::tls::handshake_over(s, &addr, &t.host, tls, system, true),
    )
    .await?;
    let info = info.with_tls(inner.get_ref().1, &t.host);
    Ok((Transport::Other(Box::new(inner)), info))
}
