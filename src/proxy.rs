//! Proxies: HTTP CONNECT tunnels (RFC 9110 §9.3.6), over TCP or TLS to the proxy, and SOCKS5
//! (RFC 1928, with the username/password method of RFC 1929), chosen per origin from the
//! configuration or from the environment as curl reads it.
//!
//! Which proxy an origin goes through is decided once per client, when it is created
//! ([`Proxies::resolve`]): the explicit proxy of the configuration (`h2_config_set_proxy`), or
//! else `https_proxy`/`HTTPS_PROXY` for https origins, `http_proxy` (lowercase only, as curl,
//! since CGI servers put a request's `Proxy:` header in `HTTP_PROXY`) for http origins, then
//! `all_proxy`/`ALL_PROXY`; minus the hosts of the no-proxy list (`h2_config_set_no_proxy`,
//! else `no_proxy`/`NO_PROXY`). Later changes of the environment do not affect the client.
//! An origin's pool dials through its proxy, so different proxies never share a connection.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{Error, ErrorKind, Origin, Processed, Result};
use crate::url::{Scheme, Target};

/// The longest proxy answer head (CONNECT response head, SOCKS reply) we read.
pub const MAX_PROXY_HEAD: usize = 16 << 10;

/// The protocol spoken to a proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyKind {
    /// `http://`: an HTTP/1.1 CONNECT tunnel over TCP.
    Http,
    /// `https://`: an HTTP/1.1 CONNECT tunnel over TLS to the proxy (then TLS to an https
    /// origin inside it).
    Https,
    /// `socks5://`: SOCKS5, the origin's name resolved locally.
    Socks5,
    /// `socks5h://`: SOCKS5, the origin's name resolved by the proxy.
    Socks5h,
}

/// A proxy: its protocol, address and credentials.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Proxy {
    /// The protocol.
    pub kind: ProxyKind,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// User name and password (percent-decoded), if the URL had them.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.write_str(&self.to_string())
    }
}

impl std::fmt::Display for Proxy {
    /// `scheme://host:port`, without the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.kind {
            ProxyKind::Http => "http",
            ProxyKind::Https => "https",
            ProxyKind::Socks5 => "socks5",
            ProxyKind::Socks5h => "socks5h",
        };
        write!(f, "{scheme}://{}:{}", bracketed(&self.host), self.port)
    }
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

fn bad_url(url: &str, why: &str) -> Error {
    let shown: String = url.chars().take(200).collect();
    // Credentials are not repeated in messages.
    let shown = match (shown.split_once("://"), shown.rfind('@')) {
        (Some((s, _)), Some(at)) => format!("{s}://***{}", &shown[at..]),
        _ => shown,
    };
    Error::new(
        ErrorKind::InvalidUrl,
        format!("invalid proxy URL '{shown}': {why}"),
    )
}

impl Proxy {
    /// Parses a proxy URL: `http://`, `https://`, `socks5://` or `socks5h://`,
    /// `[user:password@]host[:port]` (the port defaults to 1080, 443 for https, as in curl);
    /// without a scheme, `http://`.
    pub fn parse(url: &str) -> Result<Proxy> {
        let url = url.trim();
        let full = if url.contains("://") {
            url.to_owned()
        } else {
            format!("http://{url}")
        };
        let (scheme, rest) = full.split_once("://").unwrap_or(("http", &full));
        let kind = match scheme.to_ascii_lowercase().as_str() {
            "http" => ProxyKind::Http,
            "socks5" => ProxyKind::Socks5,
            "socks5h" => ProxyKind::Socks5h,
            "https" => ProxyKind::Https,
            other => {
                return Err(bad_url(
                    url,
                    &format!(
                    "unsupported proxy scheme '{other}' (expected http, https, socks5 or socks5h)"
                ),
                ))
            }
        };
        // Parse as http:// so that the url crate checks the host like an origin's.
        let u = ::url::Url::parse(&format!("http://{rest}")).map_err(|e| {
            bad_url(
                url,
                match e {
                    ::url::ParseError::InvalidPort => "invalid port",
                    ::url::ParseError::EmptyHost => "empty host",
                    _ => "malformed",
                },
            )
        })?;
        if !matches!(u.path(), "" | "/") || u.query().is_some() || u.fragment().is_some() {
            return Err(bad_url(url, "a proxy URL has no path, query or fragment"));
        }
        let host = match u.host() {
            Some(::url::Host::Domain(d)) => d.to_owned(),
            Some(::url::Host::Ipv4(a)) => a.to_string(),
            Some(::url::Host::Ipv6(a)) => a.to_string(),
            None => return Err(bad_url(url, "empty host")),
        };
        if host.is_empty() {
            return Err(bad_url(url, "empty host"));
        }
        // The url crate hides a port equal to http's default.
        let port = match u.port() {
            Some(p) => p,
            None if crate::url::names_port(&full) => 80,
            None if kind == ProxyKind::Https => 443,
            None => 1080,
        };
        if port == 0 {
            return Err(bad_url(url, "invalid port"));
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad_url(url, "credentials are not UTF-8"))
        };
        let credentials = if u.username().is_empty() && u.password().is_none() {
            None
        } else {
            Some((decode(u.username())?, decode(u.password().unwrap_or(""))?))
        };
        if matches!(kind, ProxyKind::Socks5 | ProxyKind::Socks5h) {
            if let Some((user, pass)) = &credentials {
                if user.len() > 255 || pass.len() > 255 {
                    return Err(bad_url(
                        url,
                        "SOCKS5 user names and passwords are at most 255 bytes",
                    ));
                }
            }
        }
        Ok(Proxy {
            kind,
            host,
            port,
            credentials,
        })
    }
}

/// The proxy setting of a configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ProxyChoice {
    /// From the environment, read when the client is created (the default).
    #[default]
    Environment,
    /// No proxy, whatever the environment says.
    Direct,
    /// This proxy for every origin (except those of the no-proxy list).
    Use(Arc<Proxy>),
}

/// One entry of a no-proxy list.
#[derive(Clone, Debug, PartialEq, Eq)]
enum NoProxyEntry {
    /// A host name: matches it and its subdomains.
    Suffix(String),
    /// An IP block (an address is a /32 or /128).
    Block(IpAddr, u8),
}

/// A no-proxy list: comma-separated host names (each matching its subdomains too; a leading
/// dot is ignored), IP addresses, CIDR blocks, or `*` (every host), as curl reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    entries: Vec<NoProxyEntry>,
}

fn prefix_matches(a: IpAddr, b: IpAddr, bits: u8) -> bool {
    let (a, b, len): (u128, u128, u8) = match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a).into(), u32::from(b).into(), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.into(), b.into(), 128),
        _ => return false,
    };
    let bits = bits.min(len);
    if bits == 0 {
        return true;
    }
    let shift = u32::from(len - bits);
    (a >> shift) == (b >> shift)
}

impl NoProxy {
    /// Parses a list (never fails: entries that mean nothing are ignored).
    pub fn parse(list: &str) -> NoProxy {
        let mut np = NoProxy::default();
        for raw in list.split([',', ' ', '\t']) {
            let e = raw.trim();
            if e.is_empty() {
                continue;
            }
            if e == "*" {
                np.all = true;
                continue;
            }
            let (addr, bits) = match e.split_once('/') {
                Some((a, b)) => (a, b.parse::<u8>().ok()),
                None => (e, None),
            };
            let addr = addr.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = addr.parse::<IpAddr>() {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                np.entries
                    .push(NoProxyEntry::Block(ip, bits.unwrap_or(max).min(max)));
                continue;
            }
            let name = e.trim_start_matches('.').trim_end_matches('.');
            // A port (`host:port`) is ignored, as curl does.
            let name = name.split(':').next().unwrap_or(name);
            if !name.is_empty() {
                np.entries
                    .push(NoProxyEntry::Suffix(name.to_ascii_lowercase()));
            }
        }
        np
    }

    /// Whether `host` (a name or an IP literal without brackets) bypasses the proxy.
    pub fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|e| match (e, ip) {
            (NoProxyEntry::Block(net, bits), Some(ip)) => prefix_matches(*net, ip, *bits),
            (NoProxyEntry::Suffix(s), _) => {
                host == *s
                    || (host.len() > s.len()
                        && host.ends_with(s.as_str())
                        && host.as_bytes()[host.len() - s.len() - 1] == b'.')
            }
            _ => false,
        })
    }
}

/// What a client's origins go through: decided once, when the client is created.
#[derive(Clone, Debug, Default)]
pub struct Proxies {
    /// For http origins (`Err`: the environment named a proxy that is not usable).
    http: Option<std::result::Result<Arc<Proxy>, Error>>,
    /// For https origins.
    https: Option<std::result::Result<Arc<Proxy>, Error>>,
    no_proxy: NoProxy,
}

/// The first of `names` set to a non-empty value, with the name.
fn first_set(env: &impl Fn(&str) -> Option<String>, names: &[&str]) -> Option<(String, String)> {
    names.iter().find_map(|n| {
        env(n)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (n.to_string(), v))
    })
}

fn from_env(
    env: &impl Fn(&str) -> Option<String>,
    names: &[&str],
) -> Option<std::result::Result<Arc<Proxy>, Error>> {
    let (name, value) = first_set(env, names)?;
    Some(Proxy::parse(&value).map(Arc::new).map_err(|e| {
        Error::new(
            ErrorKind::Proxy,
            format!(
                "the proxy of the environment variable {name}: {}",
                e.message
            ),
        )
        .with_processed(Processed::No)
    }))
}

impl Proxies {
    /// Decides the proxies of a client from its configuration (`choice`, and `no_proxy`, which
    /// overrides the environment's list) and the environment `env` (a lookup: the process's
    /// environment in a client, any map in tests).
    pub fn resolve(
        choice: &ProxyChoice,
        no_proxy: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Proxies {
        let (http, https) = match choice {
            ProxyChoice::Direct => return Proxies::default(),
            ProxyChoice::Use(p) => (Some(Ok(p.clone())), Some(Ok(p.clone()))),
            ProxyChoice::Environment => (
                from_env(&env, &["http_proxy", "all_proxy", "ALL_PROXY"]),
                from_env(
                    &env,
                    &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"],
                ),
            ),
        };
        let list = match no_proxy {
            Some(l) => Some(l.to_owned()),
            None => first_set(&env, &["no_proxy", "NO_PROXY"]).map(|(_, v)| v),
        };
        Proxies {
            http,
            https,
            no_proxy: list.as_deref().map(NoProxy::parse).unwrap_or_default(),
        }
    }

    /// From the process's environment (see [`Proxies::resolve`]).
    pub fn from_process(choice: &ProxyChoice, no_proxy: Option<&str>) -> Proxies {
        Proxies::resolve(choice, no_proxy, |n| std::env::var(n).ok())
    }

    /// The proxy `t` goes through: `None` for a direct connection, `Some(Err)` if the
    /// environment's proxy for it is unusable (every request to it fails with that error).
    pub fn for_target(&self, t: &Target) -> Option<std::result::Result<Arc<Proxy>, Error>> {
        let p = match t.scheme {
            Scheme::Http => self.http.clone(),
            Scheme::Https => self.https.clone(),
        }?;
        if self.no_proxy.matches(&t.host) {
            return None;
        }
        Some(p)
    }
}

/// Which proxy the request URL `url` would go through with `choice` and `no_proxy` in the
/// environment `env` (a pure function, for tests and tools).
pub fn proxy_for(
    url: &str,
    choice: &ProxyChoice,
    no_proxy: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Arc<Proxy>>> {
    let t = Target::parse(url)?;
    Proxies::resolve(choice, no_proxy, env)
        .for_target(&t)
        .transpose()
}

fn proxy_error(p: &Proxy, msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Proxy, format!("proxy {p}: {msg}"))
        .with_origin(Origin::Transport)
        .with_processed(Processed::No)
}

fn io_error(p: &Proxy, e: std::io::Error) -> Error {
    let what = match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "closed the connection during the handshake".into(),
        _ => format!("I/O error during the handshake: {e}"),
    };
    proxy_error(p, what)
}

/// Opens a tunnel to `t` through the proxy `p` on `s` (a connection to the proxy). Bounded by
/// the caller's deadline; reads nothing past the proxy's answer.
pub(crate) async fn tunnel<S>(s: &mut S, p: &Proxy, t: &Target) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match p.kind {
        ProxyKind::Http | ProxyKind::Https => connect_tunnel(s, p, t).await,
        ProxyKind::Socks5 | ProxyKind::Socks5h => socks5(s, p, t).await,
    }
}

/// HTTP/1.1 CONNECT: the request, then the response head read byte by byte (so that no byte
/// of the tunnel is consumed) into at most [`MAX_PROXY_HEAD`] bytes.
async fn connect_tunnel<S>(s: &mut S, p: &Proxy, t: &Target) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hostport = format!("{}:{}", t.authority_host(), t.port);
    let mut req = format!("CONNECT {hostport} HTTP/1.1\r\nHost: {hostport}\r\n");
    if let Some((user, pass)) = &p.credentials {
        req.push_str(&format!(
            "Proxy-Authorization: Basic {}\r\n",
            crate::url::base64(format!("{user}:{pass}").as_bytes())
        ));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| io_error(p, e))?;
    s.flush().await.map_err(|e| io_error(p, e))?;
    let mut head = [0u8; MAX_PROXY_HEAD];
    let mut n = 0;
    loop {
        if n == head.len() {
            return Err(proxy_error(
                p,
                format!(
                    "the answer to CONNECT {hostport} has a head longer than {MAX_PROXY_HEAD} bytes"
                ),
            ));
        }
        let got = s
            .read(&mut head[n..n + 1])
            .await
            .map_err(|e| io_error(p, e))?;
        if got == 0 {
            return Err(proxy_error(
                p,
                format!("closed the connection before answering CONNECT {hostport}"),
            ));
        }
        n += 1;
        if head[..n].ends_with(b"\r\n\r\n") || head[..n].ends_with(b"\n\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head[..n]);
    let line = text.lines().next().unwrap_or("").trim();
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let status = parts.next().and_then(|c| c.parse::<u16>().ok());
    let reason = parts.next().unwrap_or("").trim();
    let Some(status) = status.filter(|_| version.starts_with("HTTP/1.")) else {
        let shown: String = line.chars().take(100).collect();
        return Err(proxy_error(
            p,
            format!("not an HTTP/1.x answer to CONNECT {hostport}: '{shown}'"),
        ));
    };
    if (200..300).contains(&status) {
        return Ok(());
    }
    let reason: String = reason.chars().take(100).collect();
    let mut msg = format!("CONNECT {hostport} answered {status} {reason}");
    // 407 is the proxy's code; tinyproxy 1.11.1 answers 401 to a CONNECT without good
    // credentials.
    if status == 407 || status == 401 {
        msg.push_str(if p.credentials.is_some() {
            ": proxy authentication is required and the proxy refused the credentials of the proxy URL"
        } else {
            ": proxy authentication is required (put the credentials in the proxy URL: http://user:password@host:port)"
        });
    }
    msg.push_str("; the request was not sent");
    Err(proxy_error(p, msg))
}

fn socks_reply_meaning(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown error",
    }
}

/// SOCKS5 (RFC 1928) CONNECT, with username/password authentication (RFC 1929) when the
/// proxy URL has credentials.
async fn socks5<S>(s: &mut S, p: &Proxy, t: &Target) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let io = |e| io_error(p, e);
    // The destination: a name for socks5h (unless it is an IP literal), else an address
    // resolved here.
    let ip = match t.host.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) if p.kind == ProxyKind::Socks5h => None,
        Err(_) => {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((t.host.as_str(), t.port))
                .await
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Resolve,
                        format!("could not resolve host '{}': {e}", t.host),
                    )
                    .with_origin(Origin::Transport)
                    .with_processed(Processed::No)
                })?
                .collect();
            match addrs.first() {
                Some(a) => Some(a.ip()),
                None => {
                    return Err(Error::new(
                        ErrorKind::Connect,
                        format!("no address found for '{}'", t.host),
                    )
                    .with_origin(Origin::Transport)
                    .with_processed(Processed::No))
                }
            }
        }
    };
    if ip.is_none() && t.host.len() > 255 {
        return Err(proxy_error(p, "a SOCKS5 host name is at most 255 bytes"));
    }
    let greeting: &[u8] = if p.credentials.is_some() {
        &[5, 2, 0, 2]
    } else {
        &[5, 1, 0]
    };
    s.write_all(greeting).await.map_err(io)?;
    let mut two = [0u8; 2];
    s.read_exact(&mut two).await.map_err(io)?;
    if two[0] != 5 {
        return Err(proxy_error(
            p,
            "not a SOCKS5 proxy (bad version in its answer)",
        ));
    }
    match two[1] {
        0 => {}
        2 if p.credentials.is_some() => {
            let (user, pass) = p.credentials.as_ref().map_or(("", ""), |(u, w)| (u, w));
            let mut auth = vec![1, user.len() as u8];
            auth.extend_from_slice(user.as_bytes());
            auth.push(pass.len() as u8);
            auth.extend_from_slice(pass.as_bytes());
            s.write_all(&auth).await.map_err(io)?;
            s.read_exact(&mut two).await.map_err(io)?;
            if two[1] != 0 {
                return Err(proxy_error(
                    p,
                    "the SOCKS5 proxy rejected the user name and password of the proxy URL",
                ));
            }
        }
        0xff if p.credentials.is_none() => {
            return Err(proxy_error(
                p,
                "the SOCKS5 proxy requires authentication (put the credentials in the proxy URL: socks5://user:password@host:port)",
            ))
        }
        m => {
            return Err(proxy_error(
                p,
                format!("the SOCKS5 proxy chose an authentication method we did not offer ({m})"),
            ))
        }
    }
    let mut req = vec![5, 1, 0];
    match ip {
        Some(IpAddr::V4(a)) => {
            req.push(1);
            req.extend_from_slice(&a.octets());
        }
        Some(IpAddr::V6(a)) => {
            req.push(4);
            req.extend_from_slice(&a.octets());
        }
        None => {
            req.push(3);
            req.push(t.host.len() as u8);
            req.extend_from_slice(t.host.as_bytes());
        }
    }
    req.extend_from_slice(&t.port.to_be_bytes());
    s.write_all(&req).await.map_err(io)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.map_err(io)?;
    if head[0] != 5 {
        return Err(proxy_error(
            p,
            "not a SOCKS5 proxy (bad version in its reply)",
        ));
    }
    if head[1] != 0 {
        return Err(proxy_error(
            p,
            format!(
                "the SOCKS5 proxy could not connect to {}:{}: {} ({}); the request was not sent",
                t.authority_host(),
                t.port,
                socks_reply_meaning(head[1]),
                head[1]
            ),
        ));
    }
    // The bound address, which we do not use: read it so that the tunnel starts clean.
    let len = match head[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut l = [0u8; 1];
            s.read_exact(&mut l).await.map_err(io)?;
            usize::from(l[0])
        }
        other => {
            return Err(proxy_error(
                p,
                format!("bad address type {other} in the SOCKS5 reply"),
            ))
        }
    };
    let mut rest = [0u8; 255 + 2];
    s.read_exact(&mut rest[..len + 2]).await.map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    fn via(
        url: &str,
        choice: &ProxyChoice,
        np: Option<&str>,
        e: &[(&str, &str)],
    ) -> Option<String> {
        proxy_for(url, choice, np, env(e))
            .unwrap()
            .map(|p| p.to_string())
    }

    #[test]
    fn parses_proxy_urls() {
        let p = Proxy::parse("http://u%40x:p%3Aw@proxy.test:3128").unwrap();
        assert_eq!(p.kind, ProxyKind::Http);
        assert_eq!((p.host.as_str(), p.port), ("proxy.test", 3128));
        assert_eq!(p.credentials, Some(("u@x".into(), "p:w".into())));
        assert_eq!(
            format!("{p:?}"),
            "http://proxy.test:3128",
            "no password shown"
        );
        assert_eq!(Proxy::parse("proxy.test").unwrap().port, 1080);
        assert_eq!(Proxy::parse("http://proxy.test:80").unwrap().port, 80);
        assert_eq!(
            Proxy::parse("proxy.test:8080").unwrap().kind,
            ProxyKind::Http
        );
        let s = Proxy::parse("socks5h://[::1]:1081").unwrap();
        assert_eq!(
            (s.kind, s.host.as_str(), s.port),
            (ProxyKind::Socks5h, "::1", 1081)
        );
        assert_eq!(s.to_string(), "socks5h://[::1]:1081");
        assert_eq!(Proxy::parse("SOCKS5://h").unwrap().kind, ProxyKind::Socks5);
        let h = Proxy::parse("https://h").unwrap();
        assert_eq!((h.kind, h.port), (ProxyKind::Https, 443));
        for bad in [
            "ftp://h",
            "socks4://h",
            "http://",
            "http://h:99999",
            "http://h/x",
        ] {
            let e = Proxy::parse(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidUrl, "{bad}");
        }
        let e = Proxy::parse("ftp://user:secret@h").unwrap_err();
        assert!(!e.message.contains("secret"), "{}", e.message);
    }

    #[test]
    fn no_proxy_lists() {
        let np = NoProxy::parse("example.com, .internal,10.0.0.0/8 ,::1,[fd00::]/8,192.168.1.5");
        assert!(np.matches("example.com"));
        assert!(np.matches("www.example.com"));
        assert!(np.matches("WWW.Example.COM."));
        assert!(!np.matches("badexample.com"));
        assert!(np.matches("a.b.internal"));
        assert!(np.matches("internal"));
        assert!(np.matches("10.1.2.3"));
        assert!(!np.matches("11.1.2.3"));
        assert!(np.matches("::1"));
        assert!(np.matches("fd12::1"));
        assert!(!np.matches("fe80::1"));
        assert!(np.matches("192.168.1.5"));
        assert!(!np.matches("192.168.1.6"));
        assert!(NoProxy::parse("*").matches("anything"));
        assert!(!NoProxy::parse("").matches("anything"));
        assert!(NoProxy::parse("localhost:8080").matches("localhost"));
    }

    #[test]
    fn environment_as_curl_reads_it() {
        let e = ProxyChoice::Environment;
        let vars = [
            ("https_proxy", "http://s.test:1"),
            ("http_proxy", "http://h.test:2"),
            ("all_proxy", "socks5h://a.test:3"),
        ];
        assert_eq!(
            via("https://o.test/", &e, None, &vars).as_deref(),
            Some("http://s.test:1")
        );
        assert_eq!(
            via("http://o.test/", &e, None, &vars).as_deref(),
            Some("http://h.test:2")
        );
        // HTTP_PROXY (uppercase) is never read: CGI puts the request's Proxy header there.
        let upper = [("HTTP_PROXY", "http://evil.test:1")];
        assert_eq!(via("http://o.test/", &e, None, &upper), None);
        // HTTPS_PROXY is, and all_proxy / ALL_PROXY are the fallbacks.
        let upper = [
            ("HTTPS_PROXY", "http://S.test:1"),
            ("ALL_PROXY", "socks5://A.test:9"),
        ];
        assert_eq!(
            via("https://o.test/", &e, None, &upper).as_deref(),
            Some("http://s.test:1")
        );
        assert_eq!(
            via("http://o.test/", &e, None, &upper).as_deref(),
            Some("socks5://a.test:9")
        );
        // Lowercase first.
        let both = [
            ("https_proxy", "http://low.test:1"),
            ("HTTPS_PROXY", "http://up.test:1"),
        ];
        assert_eq!(
            via("https://o.test/", &e, None, &both).as_deref(),
            Some("http://low.test:1")
        );
        // Empty means unset.
        let empty = [("https_proxy", ""), ("all_proxy", "http://all.test:5")];
        assert_eq!(
            via("https://o.test/", &e, None, &empty).as_deref(),
            Some("http://all.test:5")
        );
        // no_proxy, NO_PROXY, and the configuration's list that overrides them.
        let np = [("all_proxy", "http://p.test:1"), ("NO_PROXY", "o.test")];
        assert_eq!(via("https://x.o.test/", &e, None, &np), None);
        assert!(via("https://other.test/", &e, None, &np).is_some());
        assert!(via("https://x.o.test/", &e, Some("other.test"), &np).is_some());
        assert_eq!(via("https://o.test/", &e, Some("*"), &np), None);
        let np = [
            ("all_proxy", "http://p.test:1"),
            ("no_proxy", "127.0.0.0/8"),
        ];
        assert_eq!(via("http://127.0.0.1:8080/", &e, None, &np), None);
        // An explicit proxy wins over the environment; Direct ignores it.
        let explicit = ProxyChoice::Use(Arc::new(Proxy::parse("socks5://x.test:7").unwrap()));
        assert_eq!(
            via("http://o.test/", &explicit, None, &vars).as_deref(),
            Some("socks5://x.test:7")
        );
        assert_eq!(
            via("http://o.test/", &ProxyChoice::Direct, None, &vars),
            None
        );
        // The no-proxy list applies to an explicit proxy too (as CURLOPT_NOPROXY does).
        assert_eq!(
            via("http://o.test/", &explicit, Some("o.test"), &vars),
            None
        );
        // A bad proxy in the environment fails the requests that would use it.
        let bad = [("https_proxy", "ftp://x")];
        let err = proxy_for("https://o.test/", &e, None, env(&bad)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Proxy);
        assert!(err.message.contains("https_proxy"), "{}", err.message);
        assert_eq!(via("http://o.test/", &e, None, &bad), None);
    }
}
