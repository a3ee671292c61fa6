//! Where connections really go, as curl's `--resolve`, `--connect-to` and `--interface` say:
//! the URL's host still names the origin (`:authority`, TLS SNI and the certificate check),
//! only the address dialled changes.

use std::net::{IpAddr, SocketAddr};

use crate::error::{Error, Result};

/// `HOST:PORT:ADDR[,ADDR]...`: connections to HOST:PORT use these addresses, no DNS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolve {
    host: String,
    port: u16,
    addrs: Vec<IpAddr>,
}

/// `HOST1:PORT1:HOST2:PORT2`: connections to HOST1:PORT1 go to HOST2:PORT2 instead. An empty
/// HOST1 or PORT1 matches any; an empty HOST2 or PORT2 keeps the original.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectTo {
    from_host: Option<String>,
    from_port: Option<u16>,
    to_host: Option<String>,
    to_port: Option<u16>,
}

/// Splits `entry` at `:` outside `[...]`.
fn fields(entry: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0u32, 0usize);
    for (i, c) in entry.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => {
                out.push(&entry[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&entry[start..]);
    out
}

fn host(s: &str) -> String {
    s.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

fn port(s: &str, entry: &str, what: &str) -> Result<u16> {
    s.parse::<u16>()
        .ok()
        .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| Error::invalid(format!("{what} '{entry}': invalid port '{s}'")))
}

impl Resolve {
    /// Parses `HOST:PORT:ADDR[,ADDR]...` (IPv6 addresses in brackets).
    pub fn parse(entry: &str) -> Result<Resolve> {
        let what = "resolve entry (HOST:PORT:ADDR[,ADDR]...)";
        let f = fields(entry);
        let [h, p, a] = f[..] else {
            return Err(Error::invalid(format!(
                "{what} '{entry}': expected three fields"
            )));
        };
        if h.is_empty() {
            return Err(Error::invalid(format!("{what} '{entry}': empty host")));
        }
        let mut addrs = Vec::new();
        for one in a.split(',') {
            let ip = one
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .map_err(|_| {
                    Error::invalid(format!("{what} '{entry}': '{one}' is not an IP address"))
                })?;
            addrs.push(ip);
        }
        Ok(Resolve {
            host: host(h),
            port: port(p, entry, what)?,
            addrs,
        })
    }
}

impl ConnectTo {
    /// Parses `HOST1:PORT1:HOST2:PORT2` (IPv6 in brackets; empty fields allowed).
    pub fn parse(entry: &str) -> Result<ConnectTo> {
        let what = "connect-to entry (HOST1:PORT1:HOST2:PORT2)";
        let f = fields(entry);
        let [h1, p1, h2, p2] = f[..] else {
            return Err(Error::invalid(format!(
                "{what} '{entry}': expected four fields"
            )));
        };
        let opt_port = |p: &str| -> Result<Option<u16>> {
            if p.is_empty() {
                Ok(None)
            } else {
                port(p, entry, what).map(Some)
            }
        };
        Ok(ConnectTo {
            from_host: (!h1.is_empty()).then(|| host(h1)),
            from_port: opt_port(p1)?,
            to_host: (!h2.is_empty()).then(|| host(h2)),
            to_port: opt_port(p2)?,
        })
    }
}

/// The overrides of one client.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--resolve` entries, first match wins.
    pub resolve: Vec<Resolve>,
    /// `--connect-to` entries, first match wins.
    pub connect_to: Vec<ConnectTo>,
    /// The local address connections are bound to before connecting.
    pub local_address: Option<IpAddr>,
    /// Every connection goes over this Unix socket (curl's `--unix-socket`): no proxy, no
    /// name resolution, no local address.
    pub unix_socket: Option<std::path::PathBuf>,
    /// Which IP versions connections (to origins and proxies) use.
    pub ip_family: crate::connect::IpFamily,
}

impl Overrides {
    /// Where to dial for `host:port` (lowercase host, no brackets): the connect-to target, and
    /// the fixed addresses if a resolve entry names it (else `None`: resolve the name).
    pub fn route(&self, host: &str, port: u16) -> (String, u16, Option<Vec<SocketAddr>>) {
        let (mut h, mut p) = (host.to_string(), port);
        if let Some(c) = self.connect_to.iter().find(|c| {
            c.from_host.as_deref().is_none_or(|x| x == host)
                && c.from_port.is_none_or(|x| x == port)
        }) {
            if let Some(t) = &c.to_host {
                h = t.clone();
            }
            if let Some(t) = c.to_port {
                p = t;
            }
        }
        let fixed = self
            .resolve
            .iter()
            .find(|r| r.host == h && r.port == p)
            .map(|r| r.addrs.iter().map(|&ip| SocketAddr::new(ip, p)).collect());
        (h, p, fixed)
    }
}

/// Longest path a Unix socket address holds (`sun_path` is 108 bytes with the NUL).
const MAX_UNIX_PATH: usize = 107;

/// The Unix socket path `bytes` (any bytes but NUL, as the file system allows); empty is none.
pub fn unix_socket_path(bytes: &[u8]) -> Result<Option<std::path::PathBuf>> {
    use std::os::unix::ffi::OsStrExt;
    if bytes.is_empty() {
        return Ok(None);
    }
    if bytes.len() > MAX_UNIX_PATH {
        return Err(Error::invalid(format!(
            "Unix socket path of {} bytes is longer than a socket address holds ({MAX_UNIX_PATH})",
            bytes.len()
        )));
    }
    Ok(Some(std::ffi::OsStr::from_bytes(bytes).into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_as_curl_writes_them() {
        let r = Resolve::parse("Example.com:443:127.0.0.1,[::1]").unwrap();
        assert_eq!(r.host, "example.com");
        assert_eq!(r.addrs.len(), 2);
        assert!(Resolve::parse("example.com:443").is_err());
        assert!(Resolve::parse("example.com:x:127.0.0.1").is_err());
        assert!(Resolve::parse("example.com:443:not-an-ip").is_err());
        let c = ConnectTo::parse("a.test:443:[::1]:8443").unwrap();
        assert_eq!(c.to_host.as_deref(), Some("::1"));
        let c = ConnectTo::parse("::b.test:").unwrap();
        assert_eq!((c.from_host, c.from_port), (None, None));
        assert!(ConnectTo::parse("a:1:b").is_err());
    }

    #[test]
    fn routes_apply_connect_to_then_resolve() {
        let o = Overrides {
            resolve: vec![Resolve::parse("b.test:8443:10.0.0.1").unwrap()],
            connect_to: vec![ConnectTo::parse("a.test:443:b.test:8443").unwrap()],
            ..Overrides::default()
        };
        let (h, p, fixed) = o.route("a.test", 443);
        assert_eq!((h.as_str(), p), ("b.test", 8443));
        assert_eq!(fixed.unwrap(), vec!["10.0.0.1:8443".parse().unwrap()]);
        assert_eq!(o.route("c.test", 443), ("c.test".to_string(), 443, None));
    }
}

#[cfg(test)]
mod unix_socket_tests {
    use super::*;

    #[test]
    fn unix_socket_paths_fit_a_socket_address() {
        assert_eq!(unix_socket_path(b"").unwrap(), None);
        let p = unix_socket_path(b"/run/h2.sock").unwrap().unwrap();
        assert_eq!(p, std::path::PathBuf::from("/run/h2.sock"));
        assert!(unix_socket_path(&[b'a'; MAX_UNIX_PATH]).is_ok());
        let e = unix_socket_path(&[b'a'; MAX_UNIX_PATH + 1]).unwrap_err();
        assert!(e.message.contains("108 bytes is longer"), "{e:?}");
        // Not UTF-8 is still a path.
        assert!(unix_socket_path(b"/tmp/\xff.sock").unwrap().is_some());
    }
}
