//! Following redirects (opt-in, off by default as in libcurl): which responses are followed,
//! and the request that follows one.
//!
//! Rules, as browsers and Go apply them:
//! - 301, 302, 303, 307 and 308 with a `location` are followed, up to the configured maximum
//!   (one more fails with `TooManyRedirects`, naming the chain of URLs);
//! - 303 turns any method but HEAD into GET; 301 and 302 turn POST into GET; a GET made so
//!   drops the body and the `content-*` headers; 307 and 308 keep the method and re-send a
//!   buffered body;
//! - a relative `location` is resolved against the current URL; a missing or unparsable one
//!   (or a scheme other than http and https) ends the chain: the 3xx is the response;
//! - a request whose body is streamed by the caller cannot be re-sent: its 3xx is the
//!   response;
//! - to another origin, `authorization`, `cookie` and `proxy-authorization` are dropped (and a
//!   `host` header: the new URL names the authority);
//! - https to http is refused unless allowed: the 3xx is then the response (its `location`
//!   tells the caller where the server pointed).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{Error, ErrorKind, Processed, Result};
use crate::headers::HeaderList;
use crate::request::Request;
use crate::url::Target;

/// The redirect policy of a client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Redirects {
    /// Most redirects followed for one request; 0 = none (the default).
    pub max: u32,
    /// Follow a redirect from https to http (default false).
    pub https_to_http: bool,
}

impl Config {
    /// Follows up to `max` redirects per request (0, the default, follows none).
    pub fn set_follow_redirects(&mut self, max: u32) {
        self.redirects.max = max;
    }

    /// Allows (or not, the default) following a redirect from https to http.
    pub fn set_redirect_https_to_http(&mut self, allow: bool) {
        self.redirects.https_to_http = allow;
    }
}

/// The URL of a request: its own (made from a URL) or its path on `base`, without
/// credentials.
pub(crate) fn url_of(req: &Request, base: Option<&Target>) -> String {
    url_with_suffix(req, base, "")
}

/// [`url_of`] followed by `suffix` (a NUL for the C API), built in one allocation: it is made
/// for every response, where `format!` cost more than the rest of the response's handling.
pub(crate) fn url_with_suffix(req: &Request, base: Option<&Target>, suffix: &str) -> String {
    let path = req.path();
    match req.origin().or(base) {
        Some(t) => {
            let (scheme, auth) = (t.scheme.as_str(), t.authority.as_str());
            let mut u =
                String::with_capacity(scheme.len() + 3 + auth.len() + path.len() + suffix.len());
            u.push_str(scheme);
            u.push_str("://");
            u.push_str(auth);
            u.push_str(path);
            u.push_str(suffix);
            u
        }
        None => {
            let mut u = String::with_capacity(path.len() + suffix.len());
            u.push_str(path);
            u.push_str(suffix);
            u
        }
    }
}

/// [`url_with_suffix`] as a shared string, made in one allocation.
pub(crate) fn url_shared(req: &Request, base: Option<&Target>, suffix: &str) -> Arc<str> {
    match req.origin().or(base) {
        Some(t) => shared_str(&[t.scheme.as_str(), "://", &t.authority, req.path(), suffix]),
        None => shared_str(&[req.path(), suffix]),
    }
}

/// The concatenation of `parts` as an `Arc<str>`: through a stack buffer when it fits, so
/// that the only allocation is the `Arc`'s (a `String` first would be a second one).
pub(crate) fn shared_str(parts: &[&str]) -> Arc<str> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut stack = [0u8; 512];
    if len <= stack.len() {
        let mut at = 0;
        for p in parts {
            stack[at..at + p.len()].copy_from_slice(p.as_bytes());
            at += p.len();
        }
        // Whole UTF-8 strings concatenated are UTF-8.
        if let Ok(s) = std::str::from_utf8(&stack[..len]) {
            return Arc::from(s);
        }
    }
    Arc::from(parts.concat())
}

/// The redirects of one request so far: the URLs visited, first to current.
#[derive(Debug)]
pub(crate) struct Hops {
    /// Every URL requested, the current one last.
    pub urls: Vec<String>,
    /// The deadline of the whole request (all hops), and its length.
    pub whole: Option<(Instant, Duration)>,
}

impl Hops {
    /// The hops of `req`, whose whole-request timeout runs from now.
    pub(crate) fn new(req: &Request, base: Option<&Target>, cfg: &Config) -> Hops {
        Hops {
            urls: vec![url_of(req, base)],
            whole: req
                .timeout
                .or(cfg.request_timeout)
                .map(|t| (Instant::now() + t, t)),
        }
    }

    /// Redirects followed so far.
    pub(crate) fn count(&self) -> u32 {
        (self.urls.len() - 1) as u32
    }

    /// The current URL.
    pub(crate) fn current(&self) -> &str {
        self.urls.last().map_or("", |s| s.as_str())
    }

    /// The request that follows a response with `status` and `headers` to `req`, if the
    /// policy follows it; records its URL. `Err` when one more redirect would exceed the
    /// maximum, or when the whole-request timeout has run out.
    pub(crate) fn next(
        &mut self,
        req: &Request,
        status: u16,
        headers: &HeaderList,
        policy: Redirects,
    ) -> Result<Option<Request>> {
        if policy.max == 0 || !matches!(status, 301 | 302 | 303 | 307 | 308) || req.streaming_body {
            return Ok(None);
        }
        let Some(loc) = headers
            .value(b"location")
            .and_then(|v| std::str::from_utf8(v).ok())
        else {
            return Ok(None);
        };
        let Ok(cur) = ::url::Url::parse(self.current()) else {
            return Ok(None);
        };
        let Ok(mut to) = cur.join(loc) else {
            return Ok(None);
        };
        if !matches!(to.scheme(), "http" | "https") {
            return Ok(None);
        }
        if cur.scheme() == "https" && to.scheme() == "http" && !policy.https_to_http {
            return Ok(None);
        }
        // The fragment is the client's; ours is dropped with the request line anyway.
        to.set_fragment(None);
        let shown = {
            let mut s = to.clone();
            let _ = s.set_username("");
            let _ = s.set_password(None);
            s.to_string()
        };
        if self.count() >= policy.max {
            return Err(Error::new(
                ErrorKind::TooManyRedirects,
                format!(
                    "too many redirects (more than {}): {} -> {shown}",
                    policy.max,
                    self.urls.join(" -> ")
                ),
            )
            .with_processed(Processed::Yes));
        }
        let method = match (status, req.method()) {
            (303, m) if m != "HEAD" => "GET",
            (301 | 302, "POST") => "GET",
            (_, m) => m,
        };
        let keep_body = method == req.method();
        let Ok(mut next) = Request::from_url(method, to.as_str()) else {
            // A location the url crate resolves but a request cannot use (e.g. a port of 0).
            return Ok(None);
        };
        let same_origin = match (&next.origin, Target::parse_origin(self.current())) {
            (Some(a), Ok(b)) => a.same_origin(&b),
            _ => false,
        };
        let has_auth = next.headers.value(b"authorization").is_some();
        for (n, v) in req.headers.iter() {
            let drop = (!keep_body && n.starts_with(b"content-"))
                || (n == b"authorization" && (has_auth || !same_origin))
                || (!same_origin && matches!(n, b"cookie" | b"proxy-authorization"));
            if !drop {
                next.add_header(n, v)?;
            }
        }
        if same_origin {
            if let Some(a) = &req.authority {
                next.add_header(b"host", a.as_bytes())?;
            }
        }
        if keep_body {
            next.set_body(req.body.clone());
        }
        next.headers_timeout = req.headers_timeout;
        next.body_idle_timeout = req.body_idle_timeout;
        if let Some((at, t)) = self.whole {
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "timed out: no complete response within {} ms (request timeout) after {} redirects",
                        t.as_millis(),
                        self.count()
                    ),
                )
                .with_processed(Processed::Yes));
            }
            next.timeout = Some(left);
        }
        self.urls.push(shown);
        Ok(Some(next))
    }
}

#[cfg(test)]
mod tests {
    use super::shared_str;

    #[test]
    fn shared_strings_are_the_concatenation_short_or_long() {
        assert_eq!(
            &*shared_str(&["https", "://", "é.example", "/p", "\0"]),
            "https://é.example/p\0"
        );
        let long = "x".repeat(600);
        assert_eq!(&*shared_str(&["a", &long, "b"]), format!("a{long}b"));
        assert_eq!(&*shared_str(&[]), "");
    }
}
