//! Parsing of URLs: the base URL a client is created with, and absolute request URLs.

use crate::error::{Error, ErrorKind, Result};

/// Transport of a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// HTTP/2 over cleartext TCP with prior knowledge (RFC 9113 §3.3).
    Http,
    /// HTTP/2 over TLS with ALPN "h2".
    Https,
}

impl Scheme {
    /// The `:scheme` pseudo-header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// An origin a client talks to: scheme, host, port, and the `:authority` sent to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// http or https.
    pub scheme: Scheme,
    /// Host name or IP literal, without IPv6 brackets, lowercased.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The `:authority` value: host (bracketed if IPv6) and the port if the URL named one.
    pub authority: String,
    /// [`origin_key`] of scheme, host and port, computed once: a client's origin map is
    /// looked up on every request made from a URL, and hashing was most of that lookup.
    key: u64,
}

/// A keyed hash of what identifies an origin (the authority follows from host and port, or
/// differs only by a default port written out). The key is random per process (SipHash), so
/// that hosts a server redirects to cannot be chosen to collide in a client's origin map.
fn origin_key(scheme: Scheme, host: &str, port: u16) -> u64 {
    use std::hash::BuildHasher;
    static KEYS: once_cell::sync::Lazy<std::collections::hash_map::RandomState> =
        once_cell::sync::Lazy::new(std::collections::hash_map::RandomState::new);
    KEYS.hash_one((scheme, host, port))
}

/// Hashes the precomputed [`origin_key`]; equality still compares every field.
impl std::hash::Hash for Target {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.key);
    }
}

/// A map keyed by origin: the key's hash is already a keyed hash, not hashed again.
pub(crate) type OriginMap<V> =
    std::collections::HashMap<Target, V, crate::prehashed::BuildPassThrough>;

/// Whether `s` starts with a URI scheme and its colon (`ALPHA *( ALPHA / DIGIT / "+" / "-" /
/// "." ) ":"`, RFC 3986 §3.1): an absolute URL rather than a path (`h2_client_fetch`).
pub(crate) fn starts_with_scheme(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    b.iter()
        .skip(1)
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
        == Some(&b':')
}

fn bad(url: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::InvalidUrl,
        format!("invalid URL '{}': {why}", shown(url)),
    )
}

/// At most 200 characters of a URL, for messages.
fn shown(url: &str) -> String {
    match url.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &url[..i]),
        None => url.to_owned(),
    }
}

/// The part of the URL a `url` crate error is about, for the message.
fn describe(e: ::url::ParseError) -> &'static str {
    use ::url::ParseError as P;
    match e {
        P::EmptyHost => "empty host",
        P::IdnaError => "invalid host: not a valid internationalized domain name (IDNA)",
        P::InvalidPort => "invalid port (must be a number from 1 to 65535)",
        P::InvalidIpv4Address => "invalid host: not a valid IPv4 address",
        P::InvalidIpv6Address => "invalid host: not a valid IPv6 literal",
        P::InvalidDomainCharacter => "invalid character in host",
        P::RelativeUrlWithoutBase => "missing scheme (expected http:// or https://)",
        P::RelativeUrlWithCannotBeABaseBase | P::SetHostOnCannotBeABaseUrl => {
            "not a hierarchical URL"
        }
        P::Overflow => "too long",
        _ => "malformed",
    }
}

/// A request URL split into what routes it and what is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedUrl {
    /// The origin: scheme, host, port, and `:authority` (the port only when it is not the
    /// scheme's default, as curl sends it).
    pub origin: Target,
    /// Path and query (`/` at least), percent-encoding as given, dot segments removed, no
    /// fragment.
    pub path: String,
    /// `Basic base64(user:password)` from the URL's userinfo (percent-decoded), if any.
    pub basic_auth: Option<String>,
}

/// Parses an absolute `http://` or `https://` URL by the WHATWG rules.
fn parse_whatwg(url: &str) -> Result<::url::Url> {
    let u = ::url::Url::parse(url).map_err(|e| bad(url, describe(e)))?;
    match u.scheme() {
        "http" | "https" => Ok(u),
        other => Err(bad(
            url,
            &format!("unsupported scheme '{other}' (expected http or https)"),
        )),
    }
}

/// Host (IPv6 without brackets) and port of a parsed http(s) URL.
fn host_port(url: &str, u: &::url::Url) -> Result<(String, u16)> {
    let host = match u.host() {
        Some(::url::Host::Domain(d)) => d.to_owned(),
        Some(::url::Host::Ipv4(a)) => a.to_string(),
        Some(::url::Host::Ipv6(a)) => a.to_string(),
        None => return Err(bad(url, "empty host")),
    };
    if host.is_empty() {
        return Err(bad(url, "empty host"));
    }
    let port = u.port_or_known_default().unwrap_or(0);
    if port == 0 {
        return Err(bad(url, "invalid port (must be a number from 1 to 65535)"));
    }
    Ok((host, port))
}

/// Whether the authority part of `url` as written names a port (`host:port`).
pub(crate) fn names_port(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let auth = &rest[..end];
    let auth = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    let after_host = auth.rsplit_once(']').map_or(auth, |(_, p)| p);
    after_host.contains(':')
}

fn scheme_of(u: &::url::Url) -> Scheme {
    if u.scheme() == "https" {
        Scheme::Https
    } else {
        Scheme::Http
    }
}

fn default_port(s: Scheme) -> u16 {
    match s {
        Scheme::Http => 80,
        Scheme::Https => 443,
    }
}

/// Standard base64 with padding (RFC 4648 §4).
pub(crate) fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Target {
    /// The host as it appears in an authority: IPv6 literals in brackets.
    pub fn authority_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// Whether `self` and `other` are the same origin (scheme, host, port): the key of a
    /// client's pools.
    pub fn same_origin(&self, other: &Target) -> bool {
        self.scheme == other.scheme && self.port == other.port && self.host == other.host
    }

    /// The origin as `scheme://host:port` (always with the port), as
    /// `h2_client_origin_stats` names it.
    pub fn origin_string(&self) -> String {
        format!(
            "{}://{}:{}",
            self.scheme.as_str(),
            self.authority_host(),
            self.port
        )
    }

    /// Parses a client's base URL `scheme://host[:port][/path...]` (WHATWG rules). Any path,
    /// query or fragment is ignored: each request names its own path. Userinfo is refused
    /// here (send an `authorization` header, or use a full request URL). The `:authority`
    /// keeps a port the URL names, even the scheme's default.
    pub fn parse(url: &str) -> Result<Target> {
        let u = parse_whatwg(url)?;
        if !u.username().is_empty() || u.password().is_some() {
            return Err(bad(
                url,
                "credentials in a base URL are not supported (send an authorization header, or put them in a request URL)",
            ));
        }
        let scheme = scheme_of(&u);
        let (host, port) = host_port(url, &u)?;
        let mut t = Target::with_default_authority(scheme, host, port);
        if names_port(url) && port == default_port(scheme) {
            t.authority = format!("{}:{port}", t.authority_host());
        }
        Ok(t)
    }

    /// A target whose `:authority` carries the port only when it is not the default.
    fn with_default_authority(scheme: Scheme, host: String, port: u16) -> Target {
        let key = origin_key(scheme, &host, port);
        let mut t = Target {
            scheme,
            host,
            port,
            authority: String::new(),
            key,
        };
        t.authority = if port == default_port(scheme) {
            t.authority_host()
        } else {
            format!("{}:{port}", t.authority_host())
        };
        t
    }

    /// Parses an origin `scheme://host[:port]` (a path is ignored), as for
    /// `h2_client_origin_stats`.
    pub fn parse_origin(url: &str) -> Result<Target> {
        let u = parse_whatwg(url)?;
        let (host, port) = host_port(url, &u)?;
        Ok(Target::with_default_authority(scheme_of(&u), host, port))
    }
}

/// Parses an absolute request URL (WHATWG rules): `http` or `https`, IDNA hosts to punycode,
/// IPv6 literals, default ports, dot segments removed, percent-encoding kept, the fragment
/// dropped, userinfo turned into `Basic` credentials (never sent in `:authority`).
pub fn parse_request_url(url: &str) -> Result<ParsedUrl> {
    match parse_plain(url) {
        Some(p) => Ok(p),
        None => parse_request_url_whatwg(url),
    }
}

/// [`parse_request_url`] by the WHATWG parser, whatever the URL's shape.
fn parse_request_url_whatwg(url: &str) -> Result<ParsedUrl> {
    let u = parse_whatwg(url)?;
    let (host, port) = host_port(url, &u)?;
    let origin = Target::with_default_authority(scheme_of(&u), host, port);
    let mut path = u.path().to_owned();
    if path.is_empty() {
        path.push('/');
    }
    if let Some(q) = u.query() {
        path.push('?');
        path.push_str(q);
    }
    let basic_auth = if u.username().is_empty() && u.password().is_none() {
        None
    } else {
        let decode = |s: &str| -> Vec<u8> { percent_encoding::percent_decode_str(s).collect() };
        let mut cred = decode(u.username());
        cred.push(b':');
        cred.extend(decode(u.password().unwrap_or("")));
        Some(format!("Basic {}", base64(&cred)))
    };
    Ok(ParsedUrl {
        origin,
        path,
        basic_auth,
    })
}

/// `url` parsed without the WHATWG parser when it is in a shape that parser leaves as it is
/// (the common case; the full parse, with its host processing, costs about a microsecond):
/// `http://` or `https://` in lowercase; a host of lowercase letters, digits, `-` and `.`
/// in non-empty labels, none starting with `xn--` (punycode is checked by the full parse),
/// the last one not starting with a digit unless the host is a canonical dotted-quad IPv4
/// address; an optional port of 1 to 5 digits, 1 to 65535; a path (or none: `/`) and query of
/// RFC 3986 characters that are never percent-encoded nor rewritten (no dot segment, no
/// `%2e`, no `\`, no `'` in the query), no fragment, no userinfo. Anything else, `None`:
/// the full parse decides. Same result as the full parse (tested against it).
fn parse_plain(url: &str) -> Option<ParsedUrl> {
    let (scheme, rest) = if let Some(r) = url.strip_prefix("http://") {
        (Scheme::Http, r)
    } else {
        (Scheme::Https, url.strip_prefix("https://")?)
    };
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(auth_end);
    let (host, port) = match authority.split_once(':') {
        // Digits only (no sign), at most 5 (more go to the full parse), 1..=65535; leading
        // zeros read as the WHATWG parser reads them ("080" is 80).
        Some((h, p)) if p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            (h, p.parse::<u16>().ok().filter(|n| *n != 0)?)
        }
        Some(_) => return None,
        None => (authority, default_port(scheme)),
    };
    if !plain_host(host) {
        return None;
    }
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_query, None),
    };
    if !only(path, b"-._~!$&'()*+,;=:@/%") || path.contains("/.") || has_encoded_dot(path) {
        return None;
    }
    if query.is_some_and(|q| !only(q, b"-._~!$&()*+,;=:@/?%")) {
        return None;
    }
    let mut target = String::with_capacity(path_query.len() + 1);
    if path.is_empty() {
        target.push('/');
    }
    target.push_str(path_query);
    Some(ParsedUrl {
        origin: Target::with_default_authority(scheme, host.to_owned(), port),
        path: target,
        basic_auth: None,
    })
}

/// Whether `s` holds only ASCII letters, digits and the bytes of `others`.
fn only(s: &str, others: &[u8]) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || others.contains(&b))
}

/// Whether `path` holds `%2e` in either case (a dot the WHATWG parser may treat as one).
fn has_encoded_dot(path: &str) -> bool {
    path.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'2' && (w[2] == b'e' || w[2] == b'E'))
}

/// A host `parse_plain` takes as it is (see there).
fn plain_host(host: &str) -> bool {
    let mut labels = host.split('.');
    let ok = labels.clone().all(|l| {
        !l.is_empty()
            && !l.starts_with("xn--")
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if !ok {
        return false;
    }
    // A last label that starts with a digit makes the WHATWG parser read an IPv4 address
    // (in forms such as 127.1 or 0x7f.1): only the canonical dotted quad is kept as it is.
    let last = labels.next_back().unwrap_or("");
    if !last.starts_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    host.split('.').count() == 4
        && host.split('.').all(|o| {
            o.len() <= 3
                && o.bytes().all(|b| b.is_ascii_digit())
                && (o.len() == 1 || !o.starts_with('0'))
                && o.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every URL the plain parse takes gives what the WHATWG parse gives: URLs made of
    /// pieces chosen to be near the edge of what it takes (case, IPv4 forms, punycode,
    /// ports, dot segments, encoded dots, characters that are percent-encoded or rewritten).
    #[test]
    fn the_plain_parse_agrees_with_the_whatwg_parse() {
        let schemes = [
            "http://", "https://", "HTTP://", "https:/", "ftp://", "http:",
        ];
        let hosts = [
            "example.com",
            "a",
            "a-b.c-d",
            "Example.com",
            "127.0.0.1",
            "127.1",
            "0x7f.0.0.1",
            "1.2.3.4.5",
            "256.0.0.1",
            "01.2.3.4",
            "1.2.3.04",
            "0.0.0.0",
            "255.255.255.255",
            "1a.com",
            "com.1a",
            "com.1",
            "xn--bcher-kva.example",
            "xn--x",
            "a..b",
            ".a",
            "a.",
            "",
            "-a-",
            "a_b",
            "ä.com",
            "[::1]",
            "u:p@h",
            "h@x",
            "09.1.1.1",
            "1.2.3",
            "1e.x",
        ];
        let ports = [
            "", ":", ":0", ":1", ":80", ":443", ":08080", ":65535", ":65536", ":9x",
        ];
        let pieces = [
            "",
            "/",
            "/a",
            "/.",
            "/..",
            "/a/./b",
            "/a/../b",
            "/%2e",
            "/%2E%2e/",
            "/.x",
            "/x.",
            "/a%20b",
            "/a b",
            "/\\",
            "/'",
            "/^",
            "/`",
            "/{}",
            "/|",
            "/é",
            "/%",
            "/%zz",
            "/~!$&",
            "/()*+,;=:@",
            "?",
            "?q",
            "?a=1&b=2",
            "?'",
            "?/a/../b",
            "?%2e",
            "#f",
            "/#f",
            "?q#f",
            "/\t",
            "/[x]",
            "/\"",
            "/<>",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut plain = 0;
        for _ in 0..100_000 {
            let mut url = String::new();
            url.push_str(schemes[next(schemes.len())]);
            url.push_str(hosts[next(hosts.len())]);
            url.push_str(ports[next(ports.len())]);
            for _ in 0..next(4) {
                url.push_str(pieces[next(pieces.len())]);
            }
            if let Some(p) = parse_plain(&url) {
                plain += 1;
                let full = parse_request_url_whatwg(&url).map_err(|e| e.to_string());
                assert_eq!(Ok::<_, String>(p), full, "{url}");
            }
        }
        assert!(plain > 2_000, "the plain parse took {plain} URLs");
        for url in [
            "http://h/a",
            "https://127.0.0.1:8443/x?y=1",
            "http://a-b.example:08080",
        ] {
            assert!(parse_plain(url).is_some(), "{url}");
        }
    }

    #[test]
    fn a_scheme_and_colon_make_an_absolute_url() {
        for url in ["http://h/", "https:x", "a+b-c.d:", "H2C://x"] {
            assert!(starts_with_scheme(url), "{url}");
        }
        for path in [
            "/",
            "/a:b",
            "",
            ":",
            "1http://h/",
            "-a:",
            "a b:",
            "path",
            "*",
            "a/b:c",
        ] {
            assert!(!starts_with_scheme(path), "{path}");
        }
    }

    #[test]
    fn parses() {
        let t = Target::parse("http://127.0.0.1:8080/x?y").unwrap();
        assert_eq!(
            (t.scheme, t.host.as_str(), t.port, t.authority.as_str()),
            (Scheme::Http, "127.0.0.1", 8080, "127.0.0.1:8080")
        );
        let t = Target::parse("HTTPS://Example.COM").unwrap();
        assert_eq!(
            (t.scheme, t.host.as_str(), t.port, t.authority.as_str()),
            (Scheme::Https, "example.com", 443, "example.com")
        );
        let t = Target::parse("http://[::1]:9/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 9));
        assert_eq!(t.authority, "[::1]:9");
    }

    #[test]
    fn request_urls() {
        let p = parse_request_url("http://u%40x:p%3Aw@Example.COM:80/a/./b/../c%2F?q=1&r#frag")
            .unwrap();
        assert_eq!(p.origin.authority, "example.com");
        assert_eq!((p.origin.port, p.origin.scheme), (80, Scheme::Http));
        assert_eq!(p.path, "/a/c%2F?q=1&r");
        // "u@x:p:w"
        assert_eq!(p.basic_auth.as_deref(), Some("Basic dUB4OnA6dw=="));
        let p = parse_request_url("https://[::1]:8443").unwrap();
        assert_eq!(p.origin.host, "::1");
        assert_eq!(p.origin.authority, "[::1]:8443");
        assert_eq!(p.path, "/");
        assert_eq!(p.basic_auth, None);
        let p = parse_request_url("https://bücher.example/ä b").unwrap();
        assert_eq!(p.origin.host, "xn--bcher-kva.example");
        assert_eq!(p.origin.port, 443);
        assert_eq!(p.path, "/%C3%A4%20b");
        let p = parse_request_url("https://x:443/").unwrap();
        assert_eq!(p.origin.authority, "x");
        let p = parse_request_url("http://x:8080").unwrap();
        assert_eq!(p.origin.authority, "x:8080");
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"user:"), "dXNlcjo=");
    }

    #[test]
    fn request_url_errors_name_the_part() {
        for (u, part) in [
            ("ftp://x/", "scheme 'ftp'"),
            ("/just/a/path", "missing scheme"),
            ("http://x:99999/", "port"),
            ("http://x:0/", "port"),
            ("http://[zz]/", "IPv6"),
            ("http:///", "host"),
            ("http://a b/", "host"),
        ] {
            let e = parse_request_url(u).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidUrl, "{u}");
            assert!(e.message.contains(part), "{u}: {}", e.message);
        }
    }

    #[test]
    fn base_url_keeps_a_named_default_port() {
        assert_eq!(Target::parse("https://x:443").unwrap().authority, "x:443");
        assert_eq!(Target::parse("https://x").unwrap().authority, "x");
        assert_eq!(
            Target::parse("http://[::1]:80/").unwrap().authority,
            "[::1]:80"
        );
        assert_eq!(
            Target::parse_origin("https://X:443")
                .unwrap()
                .origin_string(),
            "https://x:443"
        );
    }

    #[test]
    fn rejects() {
        for u in [
            "",
            "127.0.0.1",
            "ftp://x",
            "http://",
            "http://:80",
            "http://x:0",
            "http://x:65536",
            "http://x:+1",
            "http://u:p@x",
            "http://[::1",
            "http://[zz]:1",
            "http://a b",
            "http://x:80:80",
        ] {
            let e = Target::parse(u).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidUrl, "{u}");
        }
    }
}
