//! Parsing of the base URL a client is created with.

use crate::error::{Error, ErrorKind, Result};

/// Transport of a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// The authority a client talks to.
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
}

fn bad(url: &str, why: &str) -> Error {
    Error::new(ErrorKind::InvalidUrl, format!("invalid URL '{url}': {why}"))
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

    /// Parses `scheme://host[:port][/path...]`. Any path, query or fragment is ignored: each
    /// request names its own path.
    pub fn parse(url: &str) -> Result<Target> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad(url, "missing scheme (expected http:// or https://)"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(bad(url, &format!("unsupported scheme '{other}'"))),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        if authority.contains('@') {
            return Err(bad(
                url,
                "credentials in the URL are not supported (send an authorization header)",
            ));
        }
        let (host, port_str) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad(url, "unterminated IPv6 literal"))?;
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad(url, "invalid IPv6 literal"));
            }
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad(url, "garbage after IPv6 literal"))?,
                ),
            };
            (h, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad(url, "empty host"));
        }
        if !authority.starts_with('[')
            && !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return Err(bad(url, "invalid character in host"));
        }
        let port = match port_str {
            None => match scheme {
                Scheme::Http => 80,
                Scheme::Https => 443,
            },
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(bad(url, "invalid port")),
            },
        };
        Ok(Target {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            authority: authority.to_ascii_lowercase(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
