//! Requests as the caller builds them, validated field by field (RFC 9113 §8.2 and §8.3).

use std::time::Duration;

use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};
use crate::headers::HeaderList;

/// Largest request header list we build (RFC 7541 size); the server's own
/// SETTINGS_MAX_HEADER_LIST_SIZE is checked again when the request is sent.
pub const MAX_REQUEST_HEADER_LIST: usize = 1 << 20;

/// A request: method, path, headers and an optional body.
#[derive(Clone, Debug)]
pub struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    /// Caller headers, lowercased and validated; `host` is moved to `authority`.
    pub(crate) headers: HeaderList,
    pub(crate) authority: Option<String>,
    pub(crate) body: Bytes,
    pub(crate) has_content_length: bool,
    pub(crate) timeout: Option<Duration>,
    /// Time-to-response-headers timeout, overriding the client's.
    pub(crate) headers_timeout: Option<Duration>,
    /// Body idle timeout, overriding the client's.
    pub(crate) body_idle_timeout: Option<Duration>,
    /// The body is written by the caller while the call runs (`h2_call_write`).
    pub(crate) streaming_body: bool,
    list_size: usize,
}

/// RFC 9110 §5.6.2 token characters.
pub(crate) fn is_tchar(b: u8) -> bool {
    CHAR_CLASS[b as usize] & TCHAR != 0
}

/// Whether `name` is a valid HTTP/2 field name: non-empty lowercase token characters.
pub(crate) fn is_lower_token(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|&b| CHAR_CLASS[b as usize] & LOWER_TCHAR != 0)
}

const TCHAR: u8 = 1;
const LOWER_TCHAR: u8 = 2;
const VALUE_FORBIDDEN: u8 = 4;

/// Byte classes, looked up once per byte: field checks run on every response header, so a
/// table beats a chain of comparisons.
static CHAR_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let tchar = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        if tchar {
            t[i] |= TCHAR;
            if !b.is_ascii_uppercase() {
                t[i] |= LOWER_TCHAR;
            }
        }
        if b == 0 || b == b'\r' || b == b'\n' {
            t[i] |= VALUE_FORBIDDEN;
        }
        i += 1;
    }
    t
};

/// A field value may not contain NUL, CR or LF, nor start or end with whitespace
/// (RFC 9113 §8.2.1).
pub(crate) fn valid_value(v: &[u8]) -> bool {
    !v.iter()
        .any(|&b| CHAR_CLASS[b as usize] & VALUE_FORBIDDEN != 0)
        && !v.first().is_some_and(|&b| b == b' ' || b == b'\t')
        && !v.last().is_some_and(|&b| b == b' ' || b == b'\t')
}

/// Headers that are meaningful only in HTTP/1.1 and must not appear in HTTP/2 (§8.2.2).
pub(crate) fn is_connection_specific(name: &[u8]) -> bool {
    matches!(
        name,
        b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade"
    )
}

/// Checks a header or trailer field from the caller and returns its lowercased name: the
/// name must be a token, not a pseudo-header nor connection-specific; the value must not
/// contain NUL, CR or LF nor start or end with whitespace.
pub(crate) fn check_field(name: &[u8], value: &[u8]) -> Result<Vec<u8>> {
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(Error::invalid(format!(
            "invalid header name '{}'",
            String::from_utf8_lossy(name)
        )));
    }
    let lower = name.to_ascii_lowercase();
    if is_connection_specific(&lower) {
        return Err(Error::invalid(format!(
            "header '{}' is connection-specific and not allowed in HTTP/2",
            String::from_utf8_lossy(&lower)
        )));
    }
    if !valid_value(value) {
        return Err(Error::invalid(format!(
            "invalid value for header '{}': contains NUL, CR or LF, or starts or ends with whitespace",
            String::from_utf8_lossy(&lower)
        )));
    }
    Ok(lower)
}

impl Request {
    /// A request for `path` (origin form: starts with `/`, or `*`) with `method`.
    pub fn new(method: &str, path: &str) -> Result<Request> {
        if method.is_empty() || !method.bytes().all(is_tchar) {
            return Err(Error::invalid(format!("invalid method '{method}'")));
        }
        if path != "*" && !path.starts_with('/') {
            return Err(Error::invalid(format!(
                "invalid path '{path}': must start with '/'"
            )));
        }
        if let Some(b) = path.bytes().find(|&b| !(0x21..0x7f).contains(&b)) {
            return Err(Error::invalid(format!(
                "invalid path: byte 0x{b:02x} must be percent-encoded"
            )));
        }
        Ok(Request {
            method: method.to_owned(),
            path: path.to_owned(),
            headers: HeaderList::new(),
            authority: None,
            body: Bytes::new(),
            has_content_length: false,
            timeout: None,
            headers_timeout: None,
            body_idle_timeout: None,
            streaming_body: false,
            list_size: 0,
        })
    }

    /// Adds a header. The name is lowercased; invalid names and values, pseudo-headers and
    /// HTTP/1.1 connection-specific headers are refused. A `host` header sets `:authority`.
    pub fn add_header(&mut self, name: &[u8], value: &[u8]) -> Result<()> {
        let lower = check_field(name, value)?;
        if lower == b"te" && !value.eq_ignore_ascii_case(b"trailers") {
            return Err(Error::invalid(
                "header 'te' may only be 'trailers' in HTTP/2",
            ));
        }
        let size = lower.len() + value.len() + 32;
        if self.list_size + size > MAX_REQUEST_HEADER_LIST {
            return Err(Error::new(
                ErrorKind::HeadersTooLarge,
                format!("request header list would exceed {MAX_REQUEST_HEADER_LIST} bytes"),
            ));
        }
        if lower == b"host" {
            if value.is_empty() {
                return Err(Error::invalid("empty host header"));
            }
            self.authority = Some(String::from_utf8_lossy(value).into_owned());
            return Ok(());
        }
        if lower == b"content-length" {
            self.has_content_length = true;
        }
        self.list_size += size;
        self.headers.push(&lower, value);
        Ok(())
    }

    /// Sets the body (empty = none).
    pub fn set_body(&mut self, body: Bytes) {
        self.body = body;
    }

    /// Sets a per-request whole-request timeout, overriding the client's.
    pub fn set_timeout(&mut self, t: Option<Duration>) {
        self.timeout = t;
    }

    /// Sets a time-to-response-headers timeout for this request.
    pub fn set_headers_timeout(&mut self, t: Option<Duration>) {
        self.headers_timeout = t;
    }

    /// Sets a body idle timeout (longest gap without DATA) for this request.
    pub fn set_body_idle_timeout(&mut self, t: Option<Duration>) {
        self.body_idle_timeout = t;
    }

    /// Marks the body as streamed by the caller (`h2_call_write`, `h2_call_finish`) instead of
    /// set up front.
    pub fn set_streaming_body(&mut self, on: bool) {
        self.streaming_body = on;
    }

    /// The method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Checks what can only be checked once the request is complete: a caller's
    /// content-length must match the body.
    pub(crate) fn check_complete(&self) -> Result<()> {
        if self.streaming_body && !self.body.is_empty() {
            return Err(Error::invalid(
                "a request with a streaming body cannot also have a body set up front",
            ));
        }
        if self.streaming_body {
            return Ok(());
        }
        if let Some(v) = self.headers.value(b"content-length") {
            let n = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<u64>().ok());
            if n != Some(self.body.len() as u64) {
                return Err(Error::invalid(format!(
                    "content-length '{}' does not match the body length {}",
                    String::from_utf8_lossy(v),
                    self.body.len()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(Request::new("GET", "/").is_ok());
        assert!(Request::new("", "/").is_err());
        assert!(Request::new("G T", "/").is_err());
        assert!(Request::new("GET", "x").is_err());
        assert!(Request::new("GET", "/a b").is_err());
        assert!(Request::new("OPTIONS", "*").is_ok());
        let mut r = Request::new("GET", "/").unwrap();
        assert!(r.add_header(b"X-Thing", b"v").is_ok());
        assert_eq!(r.headers.get(0).unwrap().0, b"x-thing");
        for bad in [&b""[..], b"a b", b":path", b"a\0", "é".as_bytes()] {
            assert!(r.add_header(bad, b"v").is_err(), "{bad:?}");
        }
        for bad in [&b"a\r\nb"[..], b" lead", b"trail\t", b"nul\0"] {
            assert!(r.add_header(b"x", bad).is_err(), "{bad:?}");
        }
        for bad in [
            "Connection",
            "keep-alive",
            "proxy-connection",
            "transfer-encoding",
            "upgrade",
        ] {
            let e = r.add_header(bad.as_bytes(), b"x").unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument);
        }
        assert!(r.add_header(b"te", b"gzip").is_err());
        assert!(r.add_header(b"TE", b"trailers").is_ok());
        r.add_header(b"Host", b"example.com").unwrap();
        assert_eq!(r.authority.as_deref(), Some("example.com"));
        let big = vec![b'a'; MAX_REQUEST_HEADER_LIST];
        assert_eq!(
            r.add_header(b"x", &big).unwrap_err().kind,
            ErrorKind::HeadersTooLarge
        );
    }

    #[test]
    fn content_length_must_match() {
        let mut r = Request::new("POST", "/").unwrap();
        r.add_header(b"content-length", b"3").unwrap();
        r.set_body(Bytes::from_static(b"abc"));
        assert!(r.check_complete().is_ok());
        r.set_body(Bytes::from_static(b"ab"));
        assert!(r.check_complete().is_err());
    }
}
