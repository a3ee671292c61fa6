//! A complete response as `h2_client_do` returns it.

use crate::headers::HeaderList;

/// Status, headers, body and trailers of a response.
#[derive(Debug, Default)]
pub struct Response {
    pub(crate) status: u16,
    pub(crate) headers: HeaderList,
    pub(crate) body: Vec<u8>,
    pub(crate) trailers: HeaderList,
    /// The URL of the request that got this response (after redirects), NUL-terminated for
    /// the C API; empty until set.
    pub(crate) url_nul: Box<str>,
    /// Redirects followed to get this response.
    pub(crate) redirects: u32,
}

impl Response {
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
        self.url_nul.trim_end_matches('\0')
    }
    /// How many redirects were followed to get this response (0 when following is off).
    pub fn redirect_count(&self) -> u32 {
        self.redirects
    }
    /// Records the URL and redirect count of the response.
    pub(crate) fn set_url(&mut self, url: &str, redirects: u32) {
        self.url_nul = format!("{url}\0").into_boxed_str();
        self.redirects = redirects;
    }
}
