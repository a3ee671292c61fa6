//! A complete response as `h2_client_do` returns it.

use crate::headers::HeaderList;

/// An observer of informational (1xx) responses, such as 103 Early Hints: called with each
/// one's head (status and header fields, no body) on the library thread that reads it.
#[derive(Clone)]
pub struct InformationalHook(pub std::sync::Arc<dyn Fn(&Response) + Send + Sync>);

impl std::fmt::Debug for InformationalHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InformationalHook")
    }
}

/// Status, headers, body and trailers of a response.
#[derive(Debug, Default)]
pub struct Response {
    pub(crate) status: u16,
    pub(crate) headers: HeaderList,
    pub(crate) body: Vec<u8>,
    pub(crate) trailers: HeaderList,
    /// The URL of the request that got this response (after redirects), NUL-terminated for
    /// the C API; `None` until set (an empty response then drops without an atomic
    /// operation: several are made and dropped per request as the response moves).
    url_nul: Option<std::sync::Arc<str>>,
    /// Redirects followed to get this response.
    pub(crate) redirects: u32,
    /// The body was decoded from these content codings (their `content-encoding` and
    /// `content-length` fields removed); `None`: the body is as the server sent it.
    pub(crate) decoded: Option<crate::decode::Codings>,
}

impl Drop for Response {
    fn drop(&mut self) {
        crate::bodypool::give_parts(
            std::mem::take(&mut self.headers),
            std::mem::take(&mut self.body),
        );
    }
}

impl Response {
    /// An empty response with these header fields.
    pub(crate) fn with_headers(headers: HeaderList) -> Response {
        let mut r = Response::default();
        r.headers = headers;
        r
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }
    /// The response headers (pseudo-headers excluded), in order.
    pub fn headers(&self) -> &HeaderList {
        &self.headers
    }
    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
    /// The trailers (empty if none were sent).
    pub fn trailers(&self) -> &HeaderList {
        &self.trailers
    }
    /// The URL this response answered: the request's, or the last one redirected to.
    /// Credentials of a URL are not part of it.
    pub fn effective_url(&self) -> &str {
        self.url_nul().trim_end_matches('\0')
    }
    /// Whether the body was decoded from the content codings the server applied (the
    /// client's `accept_encoding`); its `content-encoding` and `content-length` fields were
    /// then removed, as they described the encoded body.
    pub fn decoded(&self) -> bool {
        self.decoded.is_some()
    }
    /// The content codings the body was decoded from, in the order the server applied them
    /// (empty if it was not decoded).
    pub fn decoded_from(&self) -> &[crate::decode::Coding] {
        self.decoded.as_ref().map_or(&[], |c| c.as_slice())
    }
    /// How many redirects were followed to get this response (0 when following is off).
    pub fn redirect_count(&self) -> u32 {
        self.redirects
    }
    /// The URL NUL-terminated; empty if none was set.
    pub(crate) fn url_nul(&self) -> &str {
        self.url_nul.as_deref().unwrap_or("")
    }
    /// The URL NUL-terminated, shared; empty if none was set.
    pub(crate) fn url_nul_shared(&self) -> std::sync::Arc<str> {
        self.url_nul.clone().unwrap_or_default()
    }
    /// Records the URL (NUL-terminated, shared with the call) and redirect count.
    pub(crate) fn set_url_nul(&mut self, url_nul: std::sync::Arc<str>, redirects: u32) {
        self.url_nul = Some(url_nul);
        self.redirects = redirects;
    }
    /// Records the URL and redirect count of the response.
    pub(crate) fn set_url(&mut self, url: &str, redirects: u32) {
        let mut u = String::with_capacity(url.len() + 1);
        u.push_str(url);
        u.push('\0');
        self.url_nul = Some(u.into());
        self.redirects = redirects;
    }
}
