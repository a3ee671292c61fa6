//! Requests as the caller builds them, validated field by field (RFC 9113 §8.2 and §8.3).

use std::time::Duration;

use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};
use crate::headers::HeaderList;
use crate::url::Target;

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
    /// The origin of a request made from an absolute URL; `None`: the client's base URL.
    pub(crate) origin: Option<Target>,
    /// The absolute URL (without credentials) and a NUL, made once for all the calls and
    /// responses that report it; `None` for a request made from a path.
    pub(crate) url_nul: Option<std::sync::Arc<str>>,
    /// The `authorization` header came from the URL's userinfo (a caller's replaces it).
    url_auth: bool,
    pub(crate) body: Bytes,
    pub(crate) has_content_length: bool,
    /// A `user-agent` field was given (the client's default is then not added).
    pub(crate) has_user_agent: bool,
    /// Told of informational (1xx) responses to this request (else the client's observer).
    pub(crate) informational: Option<crate::response::InformationalHook>,
    /// An `accept-encoding` field was given: the client's is not added, and the response is
    /// not decoded (the caller handles the codings it asked for).
    pub(crate) has_accept_encoding: bool,
    /// The caller's `content-length`, which a buffered or streamed body must match.
    pub(crate) content_length: Option<u64>,
    pub(crate) timeout: Option<Duration>,
    /// Time-to-response-headers timeout, overriding the client's.
    pub(crate) headers_timeout: Option<Duration>,
    /// Body idle timeout, overriding the client's.
    pub(crate) body_idle_timeout: Option<Duration>,
    /// The body is written by the caller while the call runs (`h2_call_write`).
    pub(crate) streaming_body: bool,
    /// RFC 7541 size of the header list as it will be sent, pseudo-headers included.
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
/// Bytes a response field value may not contain (lenient: what HTTP/2 framing forbids).
const VALUE_FORBIDDEN: u8 = 4;
/// Bytes a request field value may not contain: every control character but HTAB.
const REQUEST_VALUE_FORBIDDEN: u8 = 8;
/// RFC 3986 unreserved and sub-delims: a reg-name without its pct-encoded triplets.
const REG_NAME: u8 = 16;

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
        if (b < 0x20 && b != b'\t') || b == 0x7f {
            t[i] |= REQUEST_VALUE_FORBIDDEN;
        }
        let reg_name = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        if reg_name {
            t[i] |= REG_NAME;
        }
        i += 1;
    }
    t
};

/// A response field value may not contain NUL, CR or LF, nor start or end with whitespace
/// (RFC 9113 §8.2.1). Other control characters are tolerated in what servers send.
pub(crate) fn valid_value(v: &[u8]) -> bool {
    // Eight bytes at a time: a word with no byte below 0x0e holds no NUL, CR or LF (every
    // response field goes through here, and values are nearly always printable).
    const LOW: u64 = 0x0e0e_0e0e_0e0e_0e0e;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = v.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let x = u64::from_le_bytes(b);
        if x.wrapping_sub(LOW) & !x & HIGH != 0
            && w.iter()
                .any(|&b| CHAR_CLASS[b as usize] & VALUE_FORBIDDEN != 0)
        {
            return false;
        }
    }
    !words
        .remainder()
        .iter()
        .any(|&b| CHAR_CLASS[b as usize] & VALUE_FORBIDDEN != 0)
        && !has_edge_whitespace(v)
}

/// Whether `v` may be sent as a request field value: no control character but HTAB, no
/// leading or trailing whitespace.
pub(crate) fn valid_request_value(v: &[u8]) -> bool {
    request_value_control(v).is_none() && !has_edge_whitespace(v)
}

fn has_edge_whitespace(v: &[u8]) -> bool {
    v.first().is_some_and(|&b| b == b' ' || b == b'\t')
        || v.last().is_some_and(|&b| b == b' ' || b == b'\t')
}

/// The first control character (other than HTAB) in a request field value: what we send
/// must be what RFC 9110 §5.5 allows, since a lenient hop could split or end the field there.
fn request_value_control(v: &[u8]) -> Option<u8> {
    v.iter()
        .copied()
        .find(|&b| CHAR_CLASS[b as usize] & REQUEST_VALUE_FORBIDDEN != 0)
}

/// Headers that are meaningful only in HTTP/1.1 and must not appear in HTTP/2 (§8.2.2).
pub(crate) fn is_connection_specific(name: &[u8]) -> bool {
    matches!(
        name,
        b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade"
    )
}

/// Fields that frame, route or authenticate a message, which a recipient may not take from
/// trailers (RFC 9110 §6.5.1; the list of RFC 7230 §4.1.2 plus host, te and trailer).
fn is_forbidden_trailer(name: &[u8]) -> bool {
    matches!(
        name,
        b"content-length"
            | b"transfer-encoding"
            | b"host"
            | b"te"
            | b"trailer"
            | b"content-type"
            | b"content-encoding"
            | b"content-range"
            | b"authorization"
            | b"proxy-authorization"
            | b"cache-control"
            | b"expect"
            | b"max-forwards"
            | b"pragma"
            | b"range"
            | b"set-cookie"
            | b"cookie"
    )
}

/// At most 64 bytes of `b`, for error messages (a caller's field may be a megabyte).
fn shown(b: &[u8]) -> String {
    const MAX: usize = 64;
    if b.len() <= MAX {
        String::from_utf8_lossy(b).into_owned()
    } else {
        format!("{}...", String::from_utf8_lossy(&b[..MAX]))
    }
}

/// A number of decimal digits only, as `content-length` (RFC 9110 §8.6) and a port are:
/// `str::parse` would also take a sign ("+3"), which a server may read differently from us.
pub(crate) fn parse_decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Checks a `host` value, which becomes `:authority`: `host[:port]` as RFC 3986 §3.2 spells
/// it, without userinfo (RFC 9113 §8.3.1), so that every hop routes it the same way.
fn check_authority(v: &[u8]) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::invalid(format!(
            "invalid host header '{}': {why}",
            shown(v)
        )))
    };
    if v.is_empty() {
        return bad("empty");
    }
    if v.contains(&b'@') {
        return bad("userinfo ('user@') is not allowed in :authority");
    }
    let (host, port) = if v[0] == b'[' {
        let Some(close) = v.iter().position(|&b| b == b']') else {
            return bad("IP literal without ']'");
        };
        if !valid_ip_literal(&v[1..close]) {
            return bad("invalid IP literal");
        }
        match &v[close + 1..] {
            [] => (&v[..=close], None),
            [b':', port @ ..] => (&v[..=close], Some(port)),
            _ => return bad("only ':port' may follow an IP literal"),
        }
    } else {
        match v.iter().position(|&b| b == b':') {
            Some(i) => (&v[..i], Some(&v[i + 1..])),
            None => (v, None),
        }
    };
    if host.is_empty() {
        return bad("no host");
    }
    if host[0] != b'[' && !valid_reg_name(host) {
        return bad("the host may contain only letters, digits, '-._~', '!$&'()*+,;=' and %XX");
    }
    if let Some(port) = port {
        if parse_decimal(port).is_none_or(|p| p > 65535) {
            return bad("the port must be a number from 0 to 65535");
        }
    }
    Ok(())
}

/// RFC 3986 reg-name (also covers IPv4 addresses): unreserved, sub-delims, pct-encoded.
fn valid_reg_name(h: &[u8]) -> bool {
    let mut i = 0;
    while i < h.len() {
        let b = h[i];
        if b == b'%' {
            let hex = |j: usize| h.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if CHAR_CLASS[b as usize] & REG_NAME != 0 {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// The inside of an RFC 3986 IP-literal: an IPv6 address or IPvFuture.
fn valid_ip_literal(s: &[u8]) -> bool {
    if let [b'v' | b'V', rest @ ..] = s {
        let Some(dot) = rest.iter().position(|&b| b == b'.') else {
            return false;
        };
        let (ver, tail) = (&rest[..dot], &rest[dot + 1..]);
        return !ver.is_empty()
            && ver.iter().all(u8::is_ascii_hexdigit)
            && !tail.is_empty()
            && tail
                .iter()
                .all(|&b| b == b':' || CHAR_CLASS[b as usize] & REG_NAME != 0);
    }
    std::str::from_utf8(s).is_ok_and(|s| s.parse::<std::net::Ipv6Addr>().is_ok())
}

/// Checks a header or trailer field from the caller (`what` is "header" or "trailer") and
/// returns its lowercased name: the name must be a token, not a pseudo-header nor
/// connection-specific; the value must contain no control character but HTAB, nor start or
/// end with whitespace.
fn check_caller_field(what: &str, name: &[u8], value: &[u8]) -> Result<Vec<u8>> {
    if name.first() == Some(&b':') {
        return Err(Error::invalid(format!(
            "pseudo-header '{}' is not allowed as a {what}: :method, :scheme, :authority and :path are generated",
            shown(name)
        )));
    }
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(Error::invalid(format!(
            "invalid {what} name '{}'",
            shown(name)
        )));
    }
    let lower = name.to_ascii_lowercase();
    if is_connection_specific(&lower) {
        return Err(Error::invalid(format!(
            "{what} '{}' is connection-specific and not allowed in HTTP/2",
            shown(&lower)
        )));
    }
    if let Some(b) = request_value_control(value) {
        return Err(Error::invalid(format!(
            "invalid value for {what} '{}': control character 0x{b:02x} (only HTAB is allowed)",
            shown(&lower)
        )));
    }
    if has_edge_whitespace(value) {
        return Err(Error::invalid(format!(
            "invalid value for {what} '{}': starts or ends with whitespace",
            shown(&lower)
        )));
    }
    Ok(lower)
}

/// Checks a header field from the caller and returns its lowercased name (see
/// [`Request::add_header`] for the rules).
pub(crate) fn check_field(name: &[u8], value: &[u8]) -> Result<Vec<u8>> {
    check_caller_field("header", name, value)
}

/// Checks a trailer field from the caller and returns its lowercased name: the rules of
/// headers, and none of the fields that frame, route or authenticate the message (RFC 9110
/// §6.5.1), which a server could otherwise be led to apply after the body.
pub(crate) fn check_trailer(name: &[u8], value: &[u8]) -> Result<Vec<u8>> {
    let lower = check_caller_field("trailer", name, value)?;
    if is_forbidden_trailer(&lower) {
        return Err(Error::invalid(format!(
            "trailer '{}' is not allowed: it frames, routes or authenticates the message (RFC 9110 §6.5.1)",
            shown(&lower)
        )));
    }
    Ok(lower)
}

/// Checks every field of a trailer list, returning it with lowercased names.
pub(crate) fn check_trailers(list: &HeaderList) -> Result<HeaderList> {
    let mut out = HeaderList::new();
    for (n, v) in list.iter() {
        let lower = check_trailer(n, v)?;
        out.push(&lower, v);
    }
    Ok(out)
}

/// RFC 7541 §4.1 size of one field.
fn field_size(name_len: usize, value_len: usize) -> usize {
    name_len + value_len + 32
}

fn too_large(size: usize) -> Error {
    Error::new(
        ErrorKind::HeadersTooLarge,
        format!(
            "request header list would be {size} bytes, over the limit of {MAX_REQUEST_HEADER_LIST} (RFC 7541 size, pseudo-headers included)"
        ),
    )
}

impl Request {
    /// A request for `path` (origin form: starts with `/`, or `*`) with `method`. A fragment
    /// (`#...`) is removed from the path, as curl and Go do: it is never sent. `CONNECT` is
    /// refused (not supported), and method and path count toward the header list limit.
    pub fn new(method: &str, path: &str) -> Result<Request> {
        // The fragment belongs to the client (RFC 9110 §4.2.4): a server would see it as
        // part of the path.
        let path = path.split_once('#').map_or(path, |(p, _)| p);
        // :scheme is not known yet; "https" is its longest value.
        let size =
            field_size(7, method.len()) + field_size(5, path.len()) + field_size(7, "https".len());
        if size > MAX_REQUEST_HEADER_LIST {
            return Err(too_large(size));
        }
        if method.is_empty() || !method.bytes().all(is_tchar) {
            return Err(Error::invalid(format!(
                "invalid method '{}'",
                shown(method.as_bytes())
            )));
        }
        // Methods are case-sensitive, but a server that folds case would see a CONNECT
        // carrying :scheme and :path, so every spelling is refused.
        if method.eq_ignore_ascii_case("CONNECT") {
            return Err(Error::invalid(
                "method CONNECT (RFC 9113 §8.5) is not supported: h2client always sends :scheme and :path, which a CONNECT request must not have",
            ));
        }
        if path != "*" && !path.starts_with('/') {
            return Err(Error::invalid(format!(
                "invalid path '{}': must start with '/'",
                shown(path.as_bytes())
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
            origin: None,
            url_nul: None,
            url_auth: false,
            body: Bytes::new(),
            has_content_length: false,
            has_user_agent: false,
            informational: None,
            has_accept_encoding: false,
            content_length: None,
            timeout: None,
            headers_timeout: None,
            body_idle_timeout: None,
            streaming_body: false,
            list_size: size,
        })
    }

    /// A request for an absolute `http://` or `https://` URL (WHATWG rules: IDNA hosts to
    /// punycode, IPv6 literals, default ports, dot segments removed, percent-encoding kept,
    /// the fragment dropped). The origin chooses the connection; `:authority` is host\[:port\]
    /// with the port only when it is not the scheme's default. Userinfo becomes an
    /// `authorization: Basic` header (percent-decoded user and password), never part of
    /// `:authority`; a caller's `authorization` header replaces it. Bad URLs fail with
    /// `InvalidUrl` naming the part; a bad method with `InvalidArgument`.
    pub fn from_url(method: &str, url: &str) -> Result<Request> {
        let parsed = crate::url::parse_request_url(url)?;
        let mut r = Request::new(method, &parsed.path)?;
        r.url_nul = Some(crate::redirect::url_shared(&r, Some(&parsed.origin), "\0"));
        r.origin = Some(parsed.origin);
        if let Some(auth) = parsed.basic_auth {
            r.add_header(b"authorization", auth.as_bytes())?;
            r.url_auth = true;
        }
        Ok(r)
    }

    /// The origin of a request made from a URL (scheme, host, port, `:authority`).
    pub fn origin(&self) -> Option<&Target> {
        self.origin.as_ref()
    }

    /// Adds a header. The name is lowercased; invalid names, values with control characters
    /// (HTAB aside) or edge whitespace, pseudo-headers and HTTP/1.1 connection-specific
    /// headers are refused. `content-length` must be decimal digits and given once; `host`
    /// sets `:authority`, must be `host[:port]` without userinfo, and is given once.
    pub fn add_header(&mut self, name: &[u8], value: &[u8]) -> Result<()> {
        let lower = check_field(name, value)?;
        if lower == b"te" && !value.eq_ignore_ascii_case(b"trailers") {
            return Err(Error::invalid(
                "header 'te' may only be 'trailers' in HTTP/2",
            ));
        }
        // `host` goes out as `:authority`, which is longer.
        let sent_name_len = if lower == b"host" { 10 } else { lower.len() };
        let size = self.list_size + field_size(sent_name_len, value.len());
        if size > MAX_REQUEST_HEADER_LIST {
            return Err(too_large(size));
        }
        if lower == b"host" {
            if let Some(a) = &self.authority {
                return Err(Error::invalid(format!(
                    "host header given twice ('{}' and '{}'): give it once",
                    shown(a.as_bytes()),
                    shown(value)
                )));
            }
            check_authority(value)?;
            self.authority = Some(String::from_utf8_lossy(value).into_owned());
            self.list_size = size;
            return Ok(());
        }
        if lower == b"content-length" {
            let Some(n) = parse_decimal(value) else {
                return Err(Error::invalid(format!(
                    "invalid content-length '{}': must be decimal digits only",
                    shown(value)
                )));
            };
            // Two fields would reach the server as the list "3, 5" (or "3, 3"), which is
            // not a valid content-length (RFC 9110 §8.6): equal duplicates are refused too.
            if let Some(old) = self.content_length {
                return Err(Error::invalid(format!(
                    "content-length given twice ({old} and {n}): give it once"
                )));
            }
            self.content_length = Some(n);
            self.has_content_length = true;
        }
        if lower == b"user-agent" {
            self.has_user_agent = true;
        }
        if lower == b"accept-encoding" {
            self.has_accept_encoding = true;
        }
        if lower == b"authorization" && self.url_auth {
            // The caller's credentials win over the URL's, as with curl's -H.
            self.url_auth = false;
            let mut kept = HeaderList::new();
            let mut size = size;
            for (n, v) in self.headers.iter() {
                if n == b"authorization" {
                    size -= field_size(n.len(), v.len());
                } else {
                    kept.push(n, v);
                }
            }
            self.headers = kept;
            self.list_size = size;
            self.headers.push(&lower, value);
            return Ok(());
        }
        self.list_size = size;
        self.headers.push(&lower, value);
        Ok(())
    }

    /// Sets the body (empty = none).
    pub fn set_body(&mut self, body: Bytes) {
        self.body = body;
    }

    /// Sets a per-request whole-request timeout, overriding the client's.
    /// Shows this request's informational (1xx) responses, such as 103 Early Hints, to `f`
    /// (instead of the client's observer, if any). `None`: the client's.
    pub fn set_informational(&mut self, f: Option<crate::response::InformationalHook>) {
        self.informational = f;
    }

    /// Sets the whole-request timeout (`None`: the client's).
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

    /// The path (without a fragment).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Checks what can only be checked once the request is complete: a caller's
    /// content-length must match a body set up front (a streamed body is checked as it is
    /// written).
    pub(crate) fn check_complete(&self) -> Result<()> {
        if self.streaming_body && !self.body.is_empty() {
            return Err(Error::invalid(
                "a request with a streaming body cannot also have a body set up front",
            ));
        }
        if self.streaming_body {
            return Ok(());
        }
        if let Some(n) = self.content_length {
            if n != self.body.len() as u64 {
                return Err(Error::invalid(format!(
                    "content-length {n} does not match the body length {}",
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

    fn invalid_naming(r: Result<()>, field: &str) {
        let e = r.expect_err(field);
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
        assert!(e.message.contains(field), "{field}: {}", e.message);
    }

    #[test]
    fn content_length_is_digits_only() {
        for bad in [
            &b"+3"[..],
            b"-3",
            b" 3",
            b"3 ",
            b"0x3",
            b"3,3",
            b"3, 3",
            b"",
            b"1e3",
        ] {
            let mut r = Request::new("POST", "/").unwrap();
            invalid_naming(r.add_header(b"content-length", bad), "content-length");
            assert!(r.headers.is_empty(), "{bad:?}");
        }
        let mut r = Request::new("POST", "/").unwrap();
        invalid_naming(
            r.add_header(b"content-length", b"18446744073709551616"),
            "content-length",
        );
        r.add_header(b"Content-Length", b"003").unwrap();
        assert_eq!(r.content_length, Some(3));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
    }

    #[test]
    fn content_length_given_once() {
        let mut r = Request::new("POST", "/").unwrap();
        r.add_header(b"content-length", b"3").unwrap();
        invalid_naming(r.add_header(b"content-length", b"5"), "content-length");
        // Equal duplicates are refused too: sent, they would read "3, 3".
        invalid_naming(r.add_header(b"Content-Length", b"3"), "content-length");
        assert_eq!(r.headers.len(), 1);
        r.set_body(Bytes::from_static(b"abc"));
        assert!(r.check_complete().is_ok());
    }

    #[test]
    fn trailers_refuse_framing_routing_and_auth_fields() {
        for name in [
            "content-length",
            "Transfer-Encoding",
            "host",
            "te",
            "trailer",
            "content-type",
            "content-encoding",
            "content-range",
            "authorization",
            "proxy-authorization",
            "cache-control",
            "expect",
            "max-forwards",
            "pragma",
            "range",
            "set-cookie",
            "cookie",
        ] {
            let e = check_trailer(name.as_bytes(), b"1").unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument);
            assert!(
                e.message.contains(&name.to_ascii_lowercase()),
                "{}",
                e.message
            );
        }
        for pseudo in [":path", ":status", ":authority"] {
            let e = check_trailer(pseudo.as_bytes(), b"1").unwrap_err();
            assert!(e.message.contains("pseudo-header"), "{}", e.message);
        }
        invalid_naming(check_trailer(b"x-sum", b"a").map(drop), "x-sum");
        assert_eq!(check_trailer(b"X-Sum", b"42").unwrap(), b"x-sum");
        let mut list = HeaderList::new();
        list.push(b"X-A", b"1");
        assert_eq!(check_trailers(&list).unwrap().get(0).unwrap().0, b"x-a");
        list.push(b"content-length", b"1");
        assert!(check_trailers(&list).is_err());
    }

    #[test]
    fn path_fragment_is_stripped() {
        assert_eq!(Request::new("GET", "/a#frag").unwrap().path(), "/a");
        assert_eq!(Request::new("GET", "/a?q=1#f#g").unwrap().path(), "/a?q=1");
        assert_eq!(Request::new("GET", "/#").unwrap().path(), "/");
        // Only the path that is sent is checked.
        assert_eq!(Request::new("GET", "/a#x y").unwrap().path(), "/a");
        assert!(Request::new("GET", "#frag").is_err());
    }

    #[test]
    fn from_url() {
        let r = Request::from_url("GET", "https://u:p%20w@Example.com:443/a/../b?x=1#f").unwrap();
        assert_eq!(r.path(), "/b?x=1");
        let o = r.origin().unwrap();
        assert_eq!((o.host.as_str(), o.port), ("example.com", 443));
        assert_eq!(o.authority, "example.com");
        assert_eq!(r.authority, None);
        assert_eq!(
            r.headers.value(b"authorization"),
            Some(&b"Basic dTpwIHc="[..])
        );
        // The caller's authorization replaces the URL's.
        let mut r2 = r.clone();
        r2.add_header(b"Authorization", b"Bearer t").unwrap();
        assert_eq!(r2.headers.len(), 1);
        assert_eq!(r2.headers.value(b"authorization"), Some(&b"Bearer t"[..]));
        assert!(r2.list_size < r.list_size + 40);
        assert_eq!(
            Request::from_url("GET", "gopher://x/").unwrap_err().kind,
            ErrorKind::InvalidUrl
        );
        assert_eq!(
            Request::from_url("G T", "http://x/").unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        assert!(Request::new("GET", "/").unwrap().origin().is_none());
    }

    #[test]
    fn connect_is_refused() {
        for m in ["CONNECT", "connect"] {
            let e = Request::new(m, "/").unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument);
            assert!(
                e.message.contains("CONNECT (RFC 9113 §8.5)"),
                "{}",
                e.message
            );
        }
        assert!(Request::new("CONNECTX", "/").is_ok());
    }

    #[test]
    fn host_must_be_an_authority_without_userinfo() {
        for good in [
            "example.com",
            "example.com:443",
            "127.0.0.1:8080",
            "[::1]",
            "[::1]:8443",
            "[v1.x:y]",
            "a-b_c~d.%41!$&'()*+,;=",
            "x:0",
        ] {
            let mut r = Request::new("GET", "/").unwrap();
            r.add_header(b"host", good.as_bytes())
                .unwrap_or_else(|e| panic!("{good}: {}", e.message));
            assert_eq!(r.authority.as_deref(), Some(good));
        }
        for bad in [
            "user:pw@evil.com",
            "@evil.com",
            "a b/c?d#e",
            "a/b",
            "a?b",
            "a#b",
            "a	b",
            "a:b:c",
            "a:",
            "a:65536",
            "a:+1",
            ":80",
            "[::1",
            "[::1]x",
            "[zz]",
            "[]",
            "a%4",
            "a%zz",
            "é",
            "a[b]",
        ] {
            let mut r = Request::new("GET", "/").unwrap();
            invalid_naming(r.add_header(b"Host", bad.as_bytes()), "host");
            assert_eq!(r.authority, None, "{bad}");
        }
        let mut r = Request::new("GET", "/").unwrap();
        r.add_header(b"host", b"a.example").unwrap();
        invalid_naming(r.add_header(b"host", b"b.example"), "host");
        assert_eq!(r.authority.as_deref(), Some("a.example"));
    }

    #[test]
    fn request_values_refuse_control_characters() {
        for b in (0u8..0x20).filter(|&b| b != b'\t').chain([0x7f]) {
            let v = [b'a', b, b'b'];
            let mut r = Request::new("GET", "/").unwrap();
            let e = r.add_header(b"x-thing", &v).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument);
            assert!(e.message.contains("x-thing"), "{}", e.message);
            assert!(e.message.contains(&format!("0x{b:02x}")), "{}", e.message);
        }
        let mut r = Request::new("GET", "/").unwrap();
        r.add_header(b"x", b"a\tb").unwrap();
        r.add_header(b"x", b"caf\xc3\xa9 \x80\xff").unwrap();
        // Responses stay lenient: a server's 0x01 is tolerated.
        assert!(valid_value(b"a\x01b"));
        assert!(!valid_value(b"a\rb"));
    }

    #[test]
    fn response_values_are_checked_at_every_position_of_the_word_loop() {
        for len in 1..40 {
            let clean: Vec<u8> = (0..len)
                .map(|i| b"az\x01\x0f\x7f\x80\xff~"[i % 8])
                .collect();
            let mut ok = clean.clone();
            ok[0] = b'x';
            ok[len - 1] = b'y';
            assert!(valid_value(&ok), "{ok:?}");
            for pos in 0..len {
                for bad in [0u8, b'\r', b'\n'] {
                    let mut v = ok.clone();
                    v[pos] = bad;
                    assert!(!valid_value(&v), "{v:?}");
                }
            }
        }
        assert!(!valid_value(b" leading space and more than eight"));
        assert!(!valid_value(b"trailing tab and more than eight\t"));
    }

    #[test]
    fn method_path_and_host_count_toward_the_list_limit() {
        let path = format!("/{}", "a".repeat(MAX_REQUEST_HEADER_LIST));
        let e = Request::new("GET", &path).unwrap_err();
        assert_eq!(e.kind, ErrorKind::HeadersTooLarge, "{}", e.message);
        let method = "M".repeat(MAX_REQUEST_HEADER_LIST);
        let e = Request::new(&method, "/").unwrap_err();
        assert_eq!(e.kind, ErrorKind::HeadersTooLarge, "{}", e.message);
        // A path that fits, and then a header that no longer does.
        let path = format!("/{}", "a".repeat(MAX_REQUEST_HEADER_LIST / 2));
        let mut r = Request::new("GET", &path).unwrap();
        let half = vec![b'v'; MAX_REQUEST_HEADER_LIST / 2];
        assert_eq!(
            r.add_header(b"x", &half).unwrap_err().kind,
            ErrorKind::HeadersTooLarge
        );
        let host = "h".repeat(MAX_REQUEST_HEADER_LIST / 2);
        assert_eq!(
            r.add_header(b"host", host.as_bytes()).unwrap_err().kind,
            ErrorKind::HeadersTooLarge
        );
        assert_eq!(r.authority, None);
        r.add_header(b"host", b"example.com").unwrap();
    }
}
