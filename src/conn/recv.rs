//! Assembly and validation of one response (RFC 9113 §8.1, §8.2, §8.3.2) and the per-stream
//! receive state the reader keeps.

use crate::error::{Error, ErrorKind, Processed, Reason};
use crate::exchange::Mode;
use crate::exchange::Pending;
use crate::request::{is_connection_specific, is_lower_token, valid_value};
use crate::response::{InformationalHook, Response};

use super::Slot;

/// The largest decoded head [`ResponseBuilder::save_head`] keeps (name and value bytes).
const SAVED_HEAD_MAX: usize = 4 << 10;

/// The most a response's content-length reserves before its body arrives.
const FIRST_BODY_CHUNK: u64 = 64 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the response head (1xx heads are skipped).
    Head,
    /// Head received; DATA or trailers may follow.
    Body,
}

/// A violation on one stream: reset it with `reason` and fail the request with `error`.
#[derive(Debug)]
pub(crate) struct StreamFault {
    pub reason: Reason,
    pub error: Error,
}

/// What a header block or DATA frame did to the response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// More is expected.
    More,
    /// The response is complete.
    Complete,
}

/// What a head block (a response's or an informational one) decoded to in a builder that
/// had no fields yet: kept by the reader so that the same block, decoded with the same HPACK
/// table, is not decoded and checked again (see `reader::last_head`).
#[derive(Debug, Default)]
pub(crate) struct DecodedHead {
    headers: crate::headers::HeaderList,
    status: u16,
    content_length: Option<u64>,
    size: usize,
}

/// Builds a response from decoded header blocks and DATA, checking what RFC 9113 requires.
pub(crate) struct ResponseBuilder {
    phase: Phase,
    resp: Response,
    content_length: Option<u64>,
    received: u64,
    no_content: bool,
    /// Streaming mode: DATA is handed over, not kept.
    streaming: bool,
    max_body: u64,
    max_list: usize,
    /// Informational (1xx) heads received, and how many are allowed.
    informational: u32,
    max_informational: u32,
    /// Told of each informational head.
    on_informational: Option<InformationalHook>,
    /// We sent `accept-encoding`: a coded body is decoded (see `crate::decode`).
    decoding: bool,
    /// The decoder of a buffered body being decoded.
    decoder: Option<Box<crate::decode::Decoder>>,
    // State of the header block being decoded.
    blk_status: Option<u16>,
    blk_regular_seen: bool,
    blk_size: usize,
    blk_error: Option<String>,
}

/// An empty response, with the buffers of a freed one if some are kept, else with a header
/// list sized for a typical head, so that decoding it reallocates nothing.
fn new_response() -> Response {
    match crate::bodypool::take_parts() {
        Some(p) => {
            let mut r = Response::with_headers(p.headers);
            r.body = p.body;
            r
        }
        None => Response::with_headers(crate::headers::HeaderList::with_capacity(512, 16)),
    }
}

impl ResponseBuilder {
    /// A builder for the response to a request with `method`.
    pub(crate) fn new(method: &str, max_body: u64, max_list: usize, mode: Mode) -> ResponseBuilder {
        ResponseBuilder {
            phase: Phase::Head,
            resp: new_response(),
            content_length: None,
            received: 0,
            no_content: method == "HEAD",
            streaming: mode == Mode::Streaming,
            max_body,
            max_list,
            informational: 0,
            max_informational: 16,
            on_informational: None,
            decoding: false,
            decoder: None,
            blk_status: None,
            blk_regular_seen: false,
            blk_size: 0,
            blk_error: None,
        }
    }

    /// Sets what the builder of a request's response needs beyond [`ResponseBuilder::new`]:
    /// how many informational (1xx) responses may precede the final one, who is shown each
    /// (instead of only dropping it), and whether a body with a content-encoding we decode is
    /// decoded (we sent `accept-encoding`). In place: the builder is a few hundred bytes,
    /// and a chain of `with_` calls copied it each time.
    pub(crate) fn configure(
        &mut self,
        max_informational: u32,
        on_informational: Option<InformationalHook>,
        decoding: bool,
    ) {
        self.max_informational = max_informational;
        self.on_informational = on_informational;
        self.decoding = decoding;
    }

    /// Whether the final response head has arrived (the server has processed the request).
    pub(crate) fn has_head(&self) -> bool {
        self.phase == Phase::Body
    }

    /// How the request stands for an error now.
    pub(crate) fn processed(&self) -> Processed {
        if self.has_head() {
            Processed::Yes
        } else {
            Processed::Maybe
        }
    }

    fn fault(&self, reason: Reason, kind: ErrorKind, msg: String) -> StreamFault {
        StreamFault {
            reason,
            error: Error::new(kind, msg)
                .with_reason(reason)
                .with_processed(self.processed()),
        }
    }

    fn malformed(&self, what: &str) -> StreamFault {
        self.fault(
            Reason::PROTOCOL_ERROR,
            ErrorKind::Protocol,
            format!("PROTOCOL_ERROR: malformed response: {what} (detected by h2client)"),
        )
    }

    /// Prepares for a new header block.
    pub(crate) fn begin_block(&mut self) {
        self.blk_status = None;
        self.blk_regular_seen = false;
        self.blk_size = 0;
        self.blk_error = None;
    }

    /// Whether the block about to be decoded is a head block into a builder that holds no
    /// field yet, so that what it decodes to depends on the block alone.
    pub(crate) fn is_fresh_head(&self) -> bool {
        self.phase == Phase::Head && self.resp.headers.is_empty() && self.content_length.is_none()
    }

    /// After a head block decoded into a fresh builder ([`Self::is_fresh_head`]), copies
    /// what it decoded to into `into`; false (nothing kept) if the block was in error.
    pub(crate) fn save_head(&self, into: &mut DecodedHead) -> bool {
        let (None, Some(status)) = (&self.blk_error, self.blk_status) else {
            return false;
        };
        if self.blk_size > self.max_list {
            // Fields past the limit were not stored: this block ends in an error.
            return false;
        }
        if self.resp.headers.packed().len() > SAVED_HEAD_MAX {
            // Not worth holding for the connection's life.
            return false;
        }
        into.headers.clone_from(&self.resp.headers);
        into.status = status;
        into.content_length = self.content_length;
        into.size = self.blk_size;
        true
    }

    /// Instead of decoding a head block into a fresh builder: takes what the same block
    /// decoded to before ([`Self::save_head`]), every field already checked.
    pub(crate) fn replay_head(&mut self, head: &DecodedHead) {
        self.resp.headers.clone_from(&head.headers);
        self.blk_status = Some(head.status);
        self.content_length = head.content_length;
        self.blk_size = head.size;
        self.blk_regular_seen = !head.headers.is_empty();
    }

    /// Takes one decoded field. Problems are recorded, not returned, because the whole block
    /// must still be decoded to keep the HPACK table in sync.
    pub(crate) fn on_field(&mut self, name: &[u8], value: &[u8]) {
        self.blk_size = self.blk_size.saturating_add(name.len() + value.len() + 32);
        if self.blk_error.is_some() || self.blk_size > self.max_list {
            return;
        }
        if let Some(pseudo) = name.strip_prefix(b":") {
            let err = if self.blk_regular_seen {
                Some("pseudo-header after a regular header")
            } else if self.phase == Phase::Body {
                Some("pseudo-header in trailers")
            } else if pseudo != b"status" {
                Some("pseudo-header other than :status")
            } else if self.blk_status.is_some() {
                Some("duplicate :status")
            } else {
                match value {
                    [a, b, c] if value.iter().all(u8::is_ascii_digit) && *a != b'0' => {
                        self.blk_status = Some(
                            u16::from(a - b'0') * 100
                                + u16::from(b - b'0') * 10
                                + u16::from(c - b'0'),
                        );
                        None
                    }
                    _ => Some("invalid :status"),
                }
            };
            if let Some(e) = err {
                self.blk_error = Some(format!("{e} ('{}')", String::from_utf8_lossy(name)));
            }
            return;
        }
        self.blk_regular_seen = true;
        if !is_lower_token(name) {
            self.blk_error = Some(format!(
                "invalid header name '{}' (names must be lowercase tokens)",
                String::from_utf8_lossy(name)
            ));
            return;
        }
        if is_connection_specific(name) || name == b"te" {
            self.blk_error = Some(format!(
                "connection-specific header '{}'",
                String::from_utf8_lossy(name)
            ));
            return;
        }
        if !valid_value(value) {
            self.blk_error = Some(format!(
                "invalid value for header '{}'",
                String::from_utf8_lossy(name)
            ));
            return;
        }
        let target = match self.phase {
            Phase::Head => {
                if name == b"content-length" {
                    let n = std::str::from_utf8(value)
                        .ok()
                        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|s| s.parse::<u64>().ok());
                    match (n, self.content_length) {
                        (None, _) => {
                            self.blk_error = Some("invalid content-length".into());
                            return;
                        }
                        (Some(a), Some(b)) if a != b => {
                            self.blk_error = Some("conflicting content-length values".into());
                            return;
                        }
                        (Some(a), _) => self.content_length = Some(a),
                    }
                }
                &mut self.resp.headers
            }
            Phase::Body => &mut self.resp.trailers,
        };
        target.push(name, value);
    }

    /// Ends a header block; `end_stream` is the HEADERS frame's flag.
    pub(crate) fn end_block(&mut self, end_stream: bool) -> Result<Progress, StreamFault> {
        if self.blk_size > self.max_list {
            return Err(self.fault(
                Reason::CANCEL,
                ErrorKind::HeadersTooLarge,
                format!(
                    "response header list of {} bytes exceeds our SETTINGS_MAX_HEADER_LIST_SIZE ({})",
                    self.blk_size, self.max_list
                ),
            ));
        }
        if let Some(e) = self.blk_error.take() {
            return Err(self.malformed(&e));
        }
        match self.phase {
            Phase::Head => {
                let status = self
                    .blk_status
                    .ok_or_else(|| self.malformed("response head without :status"))?;
                if (100..200).contains(&status) {
                    if status == 101 {
                        return Err(
                            self.malformed("101 Switching Protocols is not allowed in HTTP/2")
                        );
                    }
                    if end_stream {
                        return Err(self.malformed("informational (1xx) response with END_STREAM"));
                    }
                    self.informational += 1;
                    if self.informational > self.max_informational {
                        return Err(self.fault(
                            Reason::ENHANCE_YOUR_CALM,
                            ErrorKind::Protocol,
                            format!(
                                "more than {} informational (1xx) responses before the final one (flood defence)",
                                self.max_informational
                            ),
                        ));
                    }
                    if let Some(f) = &self.on_informational {
                        let mut head =
                            Response::with_headers(std::mem::take(&mut self.resp.headers));
                        head.status = status;
                        // The observer is the caller's code: a panic in it must not end the
                        // connection's reader.
                        let _ = crate::panics::catch(|| (f.0)(&head));
                    }
                    self.resp.headers.clear();
                    self.content_length = None;
                    return Ok(Progress::More);
                }
                self.resp.status = status;
                if status == 204 || status == 304 {
                    self.no_content = true;
                }
                self.phase = Phase::Body;
                if self.decoding && !self.no_content {
                    self.start_decoding()?;
                }
                if end_stream {
                    return self.finish();
                }
                Ok(Progress::More)
            }
            Phase::Body => {
                if !end_stream {
                    return Err(self.malformed("trailers without END_STREAM"));
                }
                self.finish()
            }
        }
    }

    /// Takes a DATA frame's content.
    pub(crate) fn on_data(
        &mut self,
        data: &[u8],
        end_stream: bool,
    ) -> Result<Progress, StreamFault> {
        if self.phase != Phase::Body {
            return Err(self.malformed("DATA before the response head"));
        }
        if !data.is_empty() {
            if self.no_content {
                return Err(self.malformed("DATA in a response without content (HEAD, 204 or 304)"));
            }
            self.received += data.len() as u64;
            if let Some(cl) = self.content_length {
                if self.received > cl {
                    return Err(self.malformed(&format!("more DATA than content-length {cl}")));
                }
            }
            if self.received > self.max_body && !self.streaming {
                return Err(self.fault(
                    Reason::CANCEL,
                    ErrorKind::BodyTooLarge,
                    format!(
                        "response body exceeds the configured maximum of {} bytes",
                        self.max_body
                    ),
                ));
            }
            if let Some(d) = self.decoder.as_deref_mut() {
                let r = d.append(data, &mut self.resp.body, self.max_body);
                r.map_err(|f| self.decode_fault(f))?;
            } else if !self.streaming {
                if self.resp.body.is_empty() {
                    // A declared length sizes at most a first chunk: a server may claim a
                    // GiB and send a byte; the buffer grows with what actually arrives.
                    if let Some(cl) = self.content_length {
                        let want = cl.min(self.max_body);
                        // A kept buffer that already exists may be as large as declared.
                        match crate::bodypool::take(usize::try_from(want).unwrap_or(0)) {
                            Some(buf) => self.resp.body = buf,
                            None => self.resp.body.reserve(want.min(FIRST_BODY_CHUNK) as usize),
                        }
                    }
                }
                self.resp.body.extend_from_slice(data);
            }
        }
        if end_stream {
            return self.finish();
        }
        Ok(Progress::More)
    }

    fn finish(&mut self) -> Result<Progress, StreamFault> {
        if let Some(cl) = self.content_length {
            if !self.no_content && cl != self.received {
                return Err(self.malformed(&format!(
                    "content-length {cl} but {} bytes of DATA",
                    self.received
                )));
            }
        }
        if let Some(d) = self.decoder.as_deref_mut() {
            let r = d.finish();
            r.map_err(|e| self.decode_fault(crate::decode::Fault::Corrupt(e)))?;
        }
        Ok(Progress::Complete)
    }

    /// The final head arrived: decode its body if its content-encoding is ours to decode
    /// (the head loses `content-encoding` and `content-length`).
    fn start_decoding(&mut self) -> Result<(), StreamFault> {
        let Some(c) = crate::decode::negotiate(self.resp.status, &mut self.resp.headers) else {
            return Ok(());
        };
        self.resp.decoded = Some(c);
        if !self.streaming {
            let d = crate::decode::Decoder::new(c)
                .map_err(|e| self.decode_fault(crate::decode::Fault::Corrupt(e)))?;
            self.decoder = Some(Box::new(d));
        }
        Ok(())
    }

    /// A buffered body that could not be decoded: the stream is reset (CANCEL).
    fn decode_fault(&self, f: crate::decode::Fault) -> StreamFault {
        let error = match f {
            crate::decode::Fault::Corrupt(e) | crate::decode::Fault::TooLarge(e) => e,
        };
        StreamFault {
            reason: Reason::CANCEL,
            error: error.with_reason(Reason::CANCEL),
        }
    }

    /// The finished response.
    pub(crate) fn into_response(self) -> Response {
        self.resp
    }

    /// Whether DATA is handed over as it arrives.
    pub(crate) fn is_streaming(&self) -> bool {
        self.streaming
    }

    /// Moves the head out (streaming mode hands it to the caller as soon as it arrives), with
    /// the codings its body is to be decoded from, if any.
    pub(crate) fn take_head(
        &mut self,
    ) -> (
        u16,
        crate::headers::HeaderList,
        Option<crate::decode::Codings>,
    ) {
        let h = std::mem::take(&mut self.resp.headers);
        (self.resp.status, h, self.resp.decoded)
    }
}

/// The reader's state for one open stream.
pub(crate) struct RecvStream {
    pub pending: Pending,
    pub slot: Slot,
    pub builder: ResponseBuilder,
    /// Receive window left (may not go negative: the server must respect it).
    pub window: i64,
    /// Bytes consumed since our last WINDOW_UPDATE for the stream.
    pub unacked: u32,
    /// The request has a body: the writer keeps the stream's send state (and window) until
    /// told the stream closed. Without a body the reader tracks the send window itself.
    pub has_body: bool,
    /// Send window of a stream without a body (only checked for overflow, §6.9.1).
    pub send_window: super::Window,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(
        b: &mut ResponseBuilder,
        fields: &[(&str, &str)],
        end: bool,
    ) -> Result<Progress, StreamFault> {
        b.begin_block();
        for (n, v) in fields {
            b.on_field(n.as_bytes(), v.as_bytes());
        }
        b.end_block(end)
    }

    fn builder() -> ResponseBuilder {
        ResponseBuilder::new("GET", 1 << 20, 16 << 10, Mode::Buffered)
    }

    #[test]
    fn only_small_heads_are_saved_for_reuse() {
        // A large head would be held for the connection's life (review finding).
        for (len, kept) in [(100, true), (SAVED_HEAD_MAX + 1, false)] {
            let mut b = builder();
            assert!(b.is_fresh_head());
            b.begin_block();
            b.on_field(b":status", b"200");
            b.on_field(b"x-big", "v".repeat(len).as_bytes());
            let mut saved = DecodedHead::default();
            assert_eq!(b.save_head(&mut saved), kept, "{len} bytes");
            if kept {
                let mut c = builder();
                c.begin_block();
                c.replay_head(&saved);
                assert_eq!(c.end_block(true).unwrap(), Progress::Complete);
                let r = c.into_response();
                assert_eq!(r.status, 200);
                assert_eq!(r.headers.value(b"x-big").map(<[u8]>::len), Some(len));
            }
        }
    }

    #[test]
    fn simple_response_with_trailers() {
        let mut b = builder();
        assert_eq!(
            block(
                &mut b,
                &[(":status", "200"), ("content-length", "3")],
                false
            )
            .unwrap(),
            Progress::More
        );
        assert_eq!(b.on_data(b"ab", false).unwrap(), Progress::More);
        assert_eq!(b.on_data(b"c", false).unwrap(), Progress::More);
        assert_eq!(
            block(&mut b, &[("x-t", "1")], true).unwrap(),
            Progress::Complete
        );
        let r = b.into_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"abc");
        assert_eq!(r.trailers.value(b"x-t"), Some(&b"1"[..]));
    }

    #[test]
    fn informational_skipped() {
        let mut b = builder();
        assert_eq!(
            block(&mut b, &[(":status", "103"), ("link", "</a>")], false).unwrap(),
            Progress::More
        );
        assert!(!b.has_head());
        assert_eq!(
            block(&mut b, &[(":status", "204")], true).unwrap(),
            Progress::Complete
        );
        let r = b.into_response();
        assert_eq!(r.status, 204);
        assert!(r.headers.is_empty());
    }

    #[test]
    fn informational_responses_are_capped() {
        let mut b = builder();
        b.configure(3, None, false);
        for _ in 0..3 {
            assert_eq!(
                block(&mut b, &[(":status", "103")], false).unwrap(),
                Progress::More
            );
        }
        let e = block(&mut b, &[(":status", "103")], false).unwrap_err();
        assert_eq!(e.reason, Reason::ENHANCE_YOUR_CALM);
    }

    #[test]
    fn malformed_heads() {
        let cases: &[&[(&str, &str)]] = &[
            &[],
            &[("x", "1")],
            &[(":status", "20")],
            &[(":status", "abc")],
            &[(":status", "099")],
            &[(":status", "200"), (":status", "200")],
            &[(":status", "200"), (":path", "/")],
            &[("x", "1"), (":status", "200")],
            &[(":status", "200"), ("X-Upper", "1")],
            &[(":status", "200"), ("connection", "close")],
            &[(":status", "200"), ("transfer-encoding", "chunked")],
            &[(":status", "200"), ("te", "trailers")],
            &[(":status", "200"), ("x", "a\nb")],
            &[(":status", "200"), ("x", " lead")],
            &[(":status", "200"), ("content-length", "x")],
            &[
                (":status", "200"),
                ("content-length", "1"),
                ("content-length", "2"),
            ],
            &[(":status", "101")],
        ];
        for c in cases {
            let e = block(&mut builder(), c, false).unwrap_err();
            assert_eq!(e.reason, Reason::PROTOCOL_ERROR, "{c:?}");
            assert_eq!(e.error.kind, ErrorKind::Protocol);
            assert_eq!(e.error.processed, Processed::Maybe);
        }
        let e = block(&mut builder(), &[(":status", "100")], true).unwrap_err();
        assert_eq!(e.reason, Reason::PROTOCOL_ERROR);
    }

    #[test]
    fn content_length_checked() {
        let mut b = builder();
        block(
            &mut b,
            &[(":status", "200"), ("content-length", "2")],
            false,
        )
        .unwrap();
        let e = b.on_data(b"abc", false).unwrap_err();
        assert_eq!(e.error.processed, Processed::Yes);
        let mut b = builder();
        block(
            &mut b,
            &[(":status", "200"), ("content-length", "2")],
            false,
        )
        .unwrap();
        assert!(b.on_data(b"a", true).is_err());
        // HEAD: content-length describes the GET body, no DATA.
        let mut b = ResponseBuilder::new("HEAD", 100, 1 << 14, Mode::Buffered);
        assert_eq!(
            block(
                &mut b,
                &[(":status", "200"), ("content-length", "99")],
                true
            )
            .unwrap(),
            Progress::Complete
        );
    }

    #[test]
    fn data_rules() {
        let mut b = builder();
        assert!(b.on_data(b"x", false).is_err(), "DATA before head");
        let mut b = builder();
        block(&mut b, &[(":status", "204")], false).unwrap();
        assert!(b.on_data(b"x", false).is_err());
        let mut b = builder();
        block(&mut b, &[(":status", "200")], false).unwrap();
        assert!(
            block(&mut b, &[("x", "1")], false).is_err(),
            "trailers must end the stream"
        );
        let mut b = builder();
        block(&mut b, &[(":status", "200")], false).unwrap();
        assert!(
            block(&mut b, &[(":status", "200")], true).is_err(),
            "pseudo in trailers"
        );
    }

    #[test]
    fn declared_length_does_not_size_the_buffer() {
        for (cl, max) in [(1u64 << 30, 1u64 << 31), (u64::MAX, u64::MAX)] {
            let mut b = ResponseBuilder::new("GET", max, 1 << 14, Mode::Buffered);
            let cl = cl.to_string();
            block(
                &mut b,
                &[(":status", "200"), ("content-length", &cl)],
                false,
            )
            .unwrap();
            assert_eq!(b.on_data(b"x", false).unwrap(), Progress::More);
            assert!(b.resp.body.capacity() <= FIRST_BODY_CHUNK as usize);
            assert!(b.on_data(b"", true).is_err(), "content-length mismatch");
        }
    }

    #[test]
    fn limits() {
        let mut b = ResponseBuilder::new("GET", 4, 1 << 14, Mode::Buffered);
        block(&mut b, &[(":status", "200")], false).unwrap();
        assert_eq!(
            b.on_data(b"12345", false).unwrap_err().error.kind,
            ErrorKind::BodyTooLarge
        );
        let mut b = ResponseBuilder::new("GET", 4, 100, Mode::Buffered);
        let long = "v".repeat(100);
        let e = block(&mut b, &[(":status", "200"), ("x", &long)], false).unwrap_err();
        assert_eq!(e.error.kind, ErrorKind::HeadersTooLarge);
        assert_eq!(e.reason, Reason::CANCEL);
    }
}
