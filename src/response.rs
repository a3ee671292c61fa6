//! A complete response as `h2_client_do` returns it.

use crate::headers::HeaderList;

/// Status, headers, body and trailers of a response.
#[derive(Debug, Default)]
pub struct Response {
    pub(crate) status: u16,
    pub(crate) headers: HeaderList,
    pub(crate) body: Vec<u8>,
    pub(crate) trailers: HeaderList,
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
}
