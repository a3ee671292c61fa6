//! TCP connections to a host's addresses, raced as Happy Eyeballs v2 says (RFC 8305): the
//! addresses in the resolver's order with the families interleaved (§4), a new attempt every
//! [`ATTEMPT_DELAY`] while earlier ones are pending or at once when one fails (§5), the first
//! to connect wins and the others are closed; the connect timeout bounds the whole race.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{connect_error, DnsCache};
use crate::error::{Error, ErrorKind};

/// RFC 8305 §8's recommended Connection Attempt Delay.
pub(crate) const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Where to dial.
pub(crate) struct Dial<'a> {
    pub host: &'a str,
    pub port: u16,
    /// Addresses given by a resolve override (no DNS).
    pub fixed: Option<Vec<SocketAddr>>,
    /// The local address to bind to first.
    pub local: Option<IpAddr>,
    /// Which address family to use.
    pub family: IpFamily,
}

/// Which IP versions connections use (curl's `-4`/`-6`, `CURLOPT_IPRESOLVE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpFamily {
    /// Both, raced as Happy Eyeballs (the default).
    #[default]
    Any,
    /// IPv4 addresses only.
    V4,
    /// IPv6 addresses only.
    V6,
}

impl IpFamily {
    fn admits(self, a: &SocketAddr) -> bool {
        match self {
            IpFamily::Any => true,
            IpFamily::V4 => a.is_ipv4(),
            IpFamily::V6 => a.is_ipv6(),
        }
    }
}

/// `host:port`, the IPv6 literal bracketed.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Resolves `to` (through `dns` unless fixed) and races its addresses by `deadline`. Returns
/// the connection, the address it reached and when the name was resolved.
pub(crate) async fn connect(
    to: Dial<'_>,
    dns: &DnsCache,
    timeout: Duration,
    deadline: Instant,
) -> Result<(TcpStream, SocketAddr, std::time::Instant), Error> {
    let hostport = host_port(to.host, to.port);
    let cached = to.fixed.is_none();
    let addrs = match to.fixed {
        Some(a) => a,
        None => match tokio::time::timeout_at(deadline, dns.lookup(to.host, to.port)).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                return Err(connect_error(
                    ErrorKind::Resolve,
                    format!("could not resolve host '{}': {e}", to.host),
                ))
            }
            Err(_) => {
                return Err(connect_error(
                    ErrorKind::Timeout,
                    format!(
                        "timed out resolving '{}' (connect timeout {} ms)",
                        to.host,
                        timeout.as_millis()
                    ),
                ))
            }
        },
    };
    let resolved = std::time::Instant::now();
    let all = addrs.len();
    let addrs: Vec<SocketAddr> = addrs.into_iter().filter(|a| to.family.admits(a)).collect();
    if addrs.is_empty() && all > 0 {
        let want = if to.family == IpFamily::V4 {
            "IPv4"
        } else {
            "IPv6"
        };
        // As curl: a name without such an address did not resolve; an address of the other
        // version cannot be connected to.
        return Err(if to.host.parse::<IpAddr>().is_ok() {
            let msg = format!(
                "cannot connect to {hostport}: not an {want} address (only {want} is allowed)"
            );
            connect_error(ErrorKind::Connect, msg)
        } else {
            let msg = format!(
                "could not resolve host '{}': it has no {want} address (only {want} is allowed)",
                to.host
            );
            connect_error(ErrorKind::Resolve, msg)
        });
    }
    let r = race(&interleave(addrs), to.local, &hostport, timeout, deadline).await;
    if r.is_err() && cached {
        dns.forget(to.host, to.port);
    }
    r.map(|(s, a)| (s, a, resolved))
}

/// The addresses with the families alternating, starting with the first address's (RFC 8305
/// §4, First Address Family Count 1); within a family the resolver's order is kept.
pub(crate) fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return addrs;
    };
    let first_v6 = first.is_ipv6();
    let (mut lead, mut other): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addrs.iter().partition(|a| a.is_ipv6() == first_v6);
    let mut out = Vec::with_capacity(addrs.len());
    let (mut l, mut o) = (lead.drain(..), other.drain(..));
    loop {
        match (l.next(), o.next()) {
            (None, None) => break,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
    out
}

/// Connects a socket to `addr`, bound first to `local` if given; no Nagle delay for the
/// small frames (HEADERS, acks) a connection writes.
async fn dial(addr: SocketAddr, local: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let s = match local {
        None => TcpStream::connect(addr).await?,
        Some(ip) => {
            let sock = match addr {
                SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
                SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
            };
            sock.bind(SocketAddr::new(ip, 0)).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot bind to local address {ip}: {e}"))
            })?;
            sock.connect(addr).await?
        }
    };
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// What one failed attempt says.
fn attempt_failed(addr: SocketAddr, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => format!("connection to {addr} refused"),
        _ => format!("could not connect to {addr}: {e}"),
    }
}

/// Races connection attempts to `addrs` in order, starting the next one [`ATTEMPT_DELAY`]
/// after the previous one or as soon as an attempt fails; the first to connect wins and the
/// pending ones are dropped (their sockets closed) when this returns.
async fn race(
    addrs: &[SocketAddr],
    local: Option<IpAddr>,
    hostport: &str,
    timeout: Duration,
    deadline: Instant,
) -> Result<(TcpStream, SocketAddr), Error> {
    if addrs.is_empty() {
        let msg = format!("no address found for {hostport}");
        return Err(connect_error(ErrorKind::Connect, msg));
    }
    let mut attempts: JoinSet<(SocketAddr, std::io::Result<TcpStream>)> = JoinSet::new();
    let mut failures: Vec<(SocketAddr, std::io::Error)> = Vec::new();
    let mut next = 0;
    let mut next_at = Instant::now();
    loop {
        if next < addrs.len() && Instant::now() >= next_at {
            let addr = addrs[next];
            attempts.spawn(async move { (addr, dial(addr, local).await) });
            next += 1;
            next_at = Instant::now() + ATTEMPT_DELAY;
        }
        if attempts.is_empty() {
            break;
        }
        tokio::select! {
            done = attempts.join_next() => match done {
                Some(Ok((addr, Ok(s)))) => return Ok((s, addr)),
                Some(Ok((addr, Err(e)))) => {
                    failures.push((addr, e));
                    // The next address starts now rather than at its turn.
                    next_at = Instant::now();
                }
                // A dial task cannot panic short of a bug; count it as a failed attempt.
                Some(Err(e)) => failures.push((
                    addrs[next.saturating_sub(1)],
                    std::io::Error::other(format!("connection attempt ended: {e}")),
                )),
                None => {}
            },
            _ = tokio::time::sleep_until(next_at), if next < addrs.len() => {}
            _ = tokio::time::sleep_until(deadline) => {
                let tried: Vec<String> = addrs[..next].iter().map(|a| a.to_string()).collect();
                return Err(connect_error(
                    ErrorKind::Timeout,
                    format!(
                        "timed out connecting to {hostport} after {} ms (tried {})",
                        timeout.as_millis(),
                        tried.join(", ")
                    ),
                ));
            }
        }
    }
    Err(every_attempt_failed(hostport, failures))
}

/// The error when every address failed: one address's own message, or each address with its
/// cause.
fn every_attempt_failed(hostport: &str, failures: Vec<(SocketAddr, std::io::Error)>) -> Error {
    let msg = match failures.as_slice() {
        [(addr, e)] => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => format!("connection to {addr} refused"),
            _ => format!("could not connect to {addr} ({hostport}): {e}"),
        },
        all if all
            .iter()
            .all(|(_, e)| e.kind() == std::io::ErrorKind::ConnectionRefused) =>
        {
            let list: Vec<String> = all.iter().map(|(a, _)| a.to_string()).collect();
            format!(
                "connection to {hostport} refused at every address ({})",
                list.join(", ")
            )
        }
        all => {
            let list: Vec<String> = all.iter().map(|(a, e)| attempt_failed(*a, e)).collect();
            format!("could not connect to {hostport}: {}", list.join("; "))
        }
    };
    connect_error(ErrorKind::Connect, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn families_alternate_from_the_first_address() {
        let v = interleave(vec![
            a("[::1]:1"),
            a("[::2]:1"),
            a("[::3]:1"),
            a("10.0.0.1:1"),
            a("10.0.0.2:1"),
        ]);
        let want = ["[::1]:1", "10.0.0.1:1", "[::2]:1", "10.0.0.2:1", "[::3]:1"];
        assert_eq!(v, want.map(a).to_vec());
        let v = interleave(vec![a("10.0.0.1:1"), a("[::1]:1"), a("10.0.0.2:1")]);
        assert_eq!(v, ["10.0.0.1:1", "[::1]:1", "10.0.0.2:1"].map(a).to_vec());
        assert!(interleave(vec![]).is_empty());
    }
}
