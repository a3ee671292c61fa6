//! The endpoints. See the crate documentation for the list.
//!
//! Every handler works on an [`Exchange`] (one stream). Failures never
//! propagate beyond the stream: when the stream dies (client reset,
//! connection gone, protocol error) the handler records what happened in the
//! stream's [`StreamGuard`] and returns [`Stop`].

use std::future::poll_fn;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Method, Request, Response, StatusCode};

use crate::conn::StreamGuard;
use crate::encoded::{Bomb, Coding};

/// Largest piece of a generated body handed to h2 at once.
const PIECE: usize = 64 * 1024;
/// `/wait-reset` gives up after this long.
const WAIT_RESET_MAX: Duration = Duration::from_secs(30);
/// Upper bound for `/headers/N` (about 15 MB of headers).
const MAX_EXTRA_HEADERS: u32 = 100_000;
/// Upper bound for `/encoded/CODINGS/N` (encoded in memory).
const MAX_ENCODED: usize = 256 << 20;

const TEXT_PLAIN: &str = "text/plain";
const OCTET_STREAM: &str = "application/octet-stream";

/// The stream ended early; whatever caused it has already been recorded.
struct Stop;

type Flow = Result<(), Stop>;

/// A parsed request path.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Root,
    Bytes(u64),
    Echo,
    Status(StatusCode),
    Delay(u64),
    Trailers,
    Headers(u32),
    SlowBytes {
        len: u64,
        chunk: u64,
        delay_ms: u64,
    },
    Reset(u32),
    WaitReset,
    /// `/redirect/CODE?to=URL`: status CODE (300..=399) with `location: URL` (the `to`
    /// parameter percent-decoded; no `location` without it).
    Redirect(StatusCode),
    /// `/encoded/CODINGS/N`: [`crate::encoded::text`] of N bytes coded with CODINGS
    /// (comma-separated, applied in order), with query options.
    Encoded {
        codings: Vec<Coding>,
        names: String,
        len: usize,
    },
    /// `/bomb/CODING/MIB`: MIB MiB of zeros coded with CODING, made as it is sent.
    Bomb {
        coding: Coding,
        mib: u64,
    },
    BadRequest(String),
    NotFound,
}

/// The query options of `/encoded/CODINGS/N`.
#[derive(Debug, Default)]
struct EncodedOptions {
    /// `corrupt`: 256 bytes in the middle of the coded body zeroed.
    corrupt: bool,
    /// `truncate`: only the first half of the coded body.
    truncate: bool,
    /// `empty`: `content-encoding` with an empty body.
    empty: bool,
    /// `nolength`: no `content-length`.
    no_length: bool,
    /// `status=N`: that status instead of 200 (204 and 304 without a body).
    status: Option<StatusCode>,
}

impl EncodedOptions {
    fn parse(query: &str) -> EncodedOptions {
        let mut o = EncodedOptions::default();
        for kv in query.split('&') {
            match kv {
                "corrupt" => o.corrupt = true,
                "truncate" => o.truncate = true,
                "empty" => o.empty = true,
                "nolength" => o.no_length = true,
                _ => {
                    if let Some(code) = kv.strip_prefix("status=") {
                        o.status = code
                            .parse::<u16>()
                            .ok()
                            .and_then(|c| StatusCode::from_u16(c).ok());
                    }
                }
            }
        }
        o
    }
}

/// Strictly decimal digits: `str::parse` would also accept a leading `+`.
fn number<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} must be a decimal number, got {text:?}"));
    }
    text.parse()
        .map_err(|_| format!("{what} is out of range: {text}"))
}

impl Route {
    fn parse(path: &str) -> Route {
        let Some(rest) = path.strip_prefix('/') else {
            return Route::NotFound;
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let parsed = match segments.as_slice() {
            [""] => Ok(Route::Root),
            ["bytes", n] => number("N", n).map(Route::Bytes),
            ["echo"] => Ok(Route::Echo),
            ["status", n] => number::<u16>("N", n).and_then(|code| {
                // 1xx would be an interim response, not a final one.
                if (200..=599).contains(&code) {
                    StatusCode::from_u16(code)
                        .map(Route::Status)
                        .map_err(|e| e.to_string())
                } else {
                    Err(format!("status must be in 200..=599, got {code}"))
                }
            }),
            ["delay", ms] => number("MS", ms).map(Route::Delay),
            ["trailers"] => Ok(Route::Trailers),
            ["headers", n] => number::<u32>("N", n).and_then(|n| {
                if n <= MAX_EXTRA_HEADERS {
                    Ok(Route::Headers(n))
                } else {
                    Err(format!("N must be at most {MAX_EXTRA_HEADERS}, got {n}"))
                }
            }),
            ["slow-bytes", n, chunk, ms] => (|| {
                let len = number("N", n)?;
                let chunk = number("CHUNK", chunk)?;
                let delay_ms = number("MS", ms)?;
                if chunk == 0 {
                    return Err("CHUNK must be at least 1".to_string());
                }
                Ok(Route::SlowBytes {
                    len,
                    chunk,
                    delay_ms,
                })
            })(),
            ["reset", code] => number("CODE", code).map(Route::Reset),
            ["wait-reset"] => Ok(Route::WaitReset),
            ["redirect", n] => number::<u16>("CODE", n).and_then(|code| {
                if (300..=399).contains(&code) {
                    StatusCode::from_u16(code)
                        .map(Route::Redirect)
                        .map_err(|e| e.to_string())
                } else {
                    Err(format!("CODE must be in 300..=399, got {code}"))
                }
            }),
            ["encoded", codings, n] => number::<usize>("N", n).and_then(|len| {
                if len > MAX_ENCODED {
                    return Err(format!("N must be at most {MAX_ENCODED}, got {len}"));
                }
                let list = codings
                    .split(',')
                    .map(|c| Coding::parse(c).ok_or_else(|| format!("unknown coding {c:?}")))
                    .collect::<Result<Vec<_>, _>>()?;
                let names = codings
                    .split(',')
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(", ");
                Ok(Route::Encoded {
                    codings: list,
                    names,
                    len,
                })
            }),
            ["bomb", coding, mib] => {
                let mib = number::<u64>("MIB", mib);
                match (Coding::parse(coding), mib) {
                    (Some(Coding::Identity), _) | (None, _) => Err(format!(
                        "CODING must be gzip, deflate, br or zstd, got {coding:?}"
                    )),
                    (Some(coding), Ok(mib)) => Ok(Route::Bomb { coding, mib }),
                    (_, Err(e)) => Err(e),
                }
            }
            _ => Ok(Route::NotFound),
        };
        parsed.unwrap_or_else(Route::BadRequest)
    }
}

/// The deterministic body of `/bytes`: byte `i` is `b'a' + i % 26`. One
/// static buffer a little longer than [`PIECE`] lets every piece be a
/// zero-copy slice starting at the right letter.
fn pattern(offset: u64, len: usize) -> Bytes {
    static PATTERN: OnceLock<&'static [u8]> = OnceLock::new();
    let all = PATTERN.get_or_init(|| {
        let buf: Vec<u8> = (0..PIECE + 26).map(|i| b'a' + (i % 26) as u8).collect();
        // Leaked once on purpose: it lives as long as the process and lets
        // pieces be `Bytes::from_static` slices without reference counting.
        Box::leak(buf.into_boxed_slice())
    });
    let start = (offset % 26) as usize;
    Bytes::from_static(&all[start..start + len.min(PIECE)])
}

/// A header value from text we generated ourselves.
fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// Polls `f` once without registering interest: "has this already happened?"
fn poll_now<T>(f: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
    f(&mut Context::from_waker(Waker::noop()))
}

/// One request/response exchange (one HTTP/2 stream).
struct Exchange {
    conn: u64,
    stream: h2::StreamId,
    body: RecvStream,
    respond: SendResponse<Bytes>,
    guard: StreamGuard,
    head: bool,
}

/// Entry point for one stream.
pub(crate) async fn handle(
    request: Request<RecvStream>,
    respond: SendResponse<Bytes>,
    guard: StreamGuard,
    conn: u64,
) {
    let (parts, body) = request.into_parts();
    let mut ex = Exchange {
        conn,
        stream: respond.stream_id(),
        body,
        respond,
        guard,
        head: parts.method == Method::HEAD,
    };
    let path = parts.uri.path().to_string();
    log!(
        "conn {conn}: stream {:?}: {} {}",
        ex.stream,
        parts.method,
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or(&path)
    );
    // Whether it ended early or not has been recorded already.
    let _ = match Route::parse(&path) {
        Route::Root => {
            ex.simple(StatusCode::OK, TEXT_PLAIN, "hello from h2testserver\n")
                .await
        }
        Route::Bytes(len) => ex.bytes(len).await,
        Route::Echo => ex.echo(&parts).await,
        Route::Status(status) => ex.status(status).await,
        Route::Delay(ms) => ex.delay(ms).await,
        Route::Trailers => ex.trailers().await,
        Route::Headers(n) => ex.headers(n).await,
        Route::SlowBytes {
            len,
            chunk,
            delay_ms,
        } => ex.slow_bytes(len, chunk, delay_ms).await,
        Route::Reset(code) => {
            ex.reset(code);
            Ok(())
        }
        Route::WaitReset => ex.wait_reset().await,
        Route::Redirect(status) => {
            let to = parts.uri.query().and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("to="))
                    .map(percent_decode)
            });
            ex.redirect(status, to).await
        }
        Route::Encoded {
            codings,
            names,
            len,
        } => {
            let opts = EncodedOptions::parse(parts.uri.query().unwrap_or(""));
            ex.encoded(&codings, &names, len, opts).await
        }
        Route::Bomb { coding, mib } => ex.bomb(coding, mib).await,
        Route::BadRequest(why) => {
            ex.simple(
                StatusCode::BAD_REQUEST,
                TEXT_PLAIN,
                format!("bad request: {why}\n"),
            )
            .await
        }
        Route::NotFound => {
            ex.simple(StatusCode::NOT_FOUND, TEXT_PLAIN, "not found\n")
                .await
        }
    };
}

impl Exchange {
    // ----- endpoints -------------------------------------------------------

    /// A complete response whose body is known up front.
    async fn simple(
        &mut self,
        status: StatusCode,
        content_type: &'static str,
        body: impl Into<Bytes>,
    ) -> Flow {
        let body = body.into();
        self.drain().await?;
        let head = response(status)
            .header(CONTENT_TYPE, content_type)
            .header(CONTENT_LENGTH, body.len());
        self.send_full(head, body).await
    }

    async fn redirect(&mut self, status: StatusCode, to: Option<Vec<u8>>) -> Flow {
        let body = Bytes::from_static(b"redirect\n");
        self.drain().await?;
        let mut head = response(status)
            .header(CONTENT_TYPE, TEXT_PLAIN)
            .header(CONTENT_LENGTH, body.len());
        if let Some(to) = to {
            match HeaderValue::from_bytes(&to) {
                Ok(v) => head = head.header(http::header::LOCATION, v),
                Err(_) => {
                    return self
                        .simple(
                            StatusCode::BAD_REQUEST,
                            TEXT_PLAIN,
                            "bad request: invalid to\n",
                        )
                        .await
                }
            }
        }
        self.send_full(head, body).await
    }

    /// `/encoded/CODINGS/N`: the coded text, with `content-encoding` as given.
    async fn encoded(
        &mut self,
        codings: &[Coding],
        names: &str,
        len: usize,
        opts: EncodedOptions,
    ) -> Flow {
        self.drain().await?;
        let mut body = match crate::encoded::encoded_text(codings, len) {
            Ok(b) => b,
            Err(e) => {
                return self
                    .simple(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        TEXT_PLAIN,
                        format!("encoding failed: {e}\n"),
                    )
                    .await
            }
        };
        if opts.corrupt {
            // A stretch of the middle zeroed (br has no checksum: a flipped bit in its
            // literals would go unnoticed, damage to its structure does not).
            let mut b = body.to_vec();
            let start = b.len() / 2;
            let end = (start + 256).min(b.len());
            b[start..end].fill(0);
            body = Bytes::from(b);
        }
        if opts.truncate {
            body = body.slice(..body.len() / 2);
        }
        if opts.empty {
            body = Bytes::new();
        }
        let status = opts.status.unwrap_or(StatusCode::OK);
        let no_content = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
        let mut head = response(status)
            .header(CONTENT_TYPE, TEXT_PLAIN)
            .header(http::header::CONTENT_ENCODING, value(names))
            .header("x-encoded-length", body.len());
        if no_content {
            return self.send_head(head, true).map(drop);
        }
        if !opts.no_length {
            head = head.header(CONTENT_LENGTH, body.len());
        }
        self.send_full(head, body).await
    }

    /// `/bomb/CODING/MIB`: coded zeros, made piece by piece as flow control lets them out.
    async fn bomb(&mut self, coding: Coding, mib: u64) -> Flow {
        self.drain().await?;
        let Some(mut bomb) = Bomb::new(coding, mib) else {
            return self
                .simple(StatusCode::BAD_REQUEST, TEXT_PLAIN, "bad coding\n")
                .await;
        };
        let name = match coding {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Identity => "identity",
        };
        let head = response(StatusCode::OK)
            .header(CONTENT_TYPE, OCTET_STREAM)
            .header(http::header::CONTENT_ENCODING, name);
        if self.head {
            return self.send_head(head, true).map(drop);
        }
        let Some(mut send) = self.send_head(head, false)? else {
            return Ok(());
        };
        let mut next = bomb.next_piece();
        while let Some(piece) = next {
            next = bomb.next_piece();
            let last = next.is_none();
            if piece.is_empty() && !last {
                continue;
            }
            self.send_bytes(&mut send, piece, last).await?;
            // A piece small enough to fit the window does not wait: yield, so that the
            // connection (driven by the same task) writes it and sees a reset.
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    async fn bytes(&mut self, len: u64) -> Flow {
        self.drain().await?;
        let head = response(StatusCode::OK)
            .header(CONTENT_TYPE, OCTET_STREAM)
            .header(CONTENT_LENGTH, len);
        if len == 0 || self.head {
            return self.send_head(head, true).map(drop);
        }
        let Some(mut send) = self.send_head(head, false)? else {
            return Ok(());
        };
        self.send_pattern(&mut send, 0, len, true).await
    }

    /// Streams the request body back as it arrives. Received data is only
    /// released to the client's flow control once it has been handed on, so
    /// a client that does not read the response is held back by its own
    /// receive window plus our (large) initial window, not by our memory.
    async fn echo(&mut self, parts: &http::request::Parts) -> Flow {
        let mut head = response(StatusCode::OK)
            .header("x-echo-method", value(parts.method.as_str()))
            .header(
                "x-echo-path",
                value(
                    parts
                        .uri
                        .path_and_query()
                        .map(|p| p.as_str())
                        .unwrap_or("/"),
                ),
            );
        if let Some(authority) = parts.uri.authority() {
            head = head.header("x-echo-authority", value(authority.as_str()));
        }
        if let Some(scheme) = parts.uri.scheme_str() {
            head = head.header("x-echo-scheme", value(scheme));
        }
        // HeaderMap keeps names in first-seen order with each name's values
        // together, which is as close to wire order as h2 lets us get.
        for (name, val) in parts.headers.iter() {
            if let Ok(echo_name) = HeaderName::from_bytes(format!("x-echo-h-{name}").as_bytes()) {
                head = head.header(echo_name, val.clone());
            }
        }
        // h2 itself rejects a body whose length disagrees with a
        // content-length header, so copying a valid one is safe.
        if let Some(len) = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| number::<u64>("content-length", v).ok())
        {
            head = head.header(CONTENT_LENGTH, len);
        }

        if self.head || self.body.is_end_stream() {
            self.drain().await?;
            return self.send_head(head, true).map(drop);
        }
        let Some(mut send) = self.send_head(head, false)? else {
            return Ok(());
        };
        loop {
            match self.body.data().await {
                Some(Ok(chunk)) => {
                    let len = chunk.len();
                    self.send_bytes(&mut send, chunk, false).await?;
                    // Ignoring an error is fine: it only means the stream is
                    // gone, which the next read reports properly.
                    let _ = self.body.flow_control().release_capacity(len);
                }
                Some(Err(e)) => return Err(self.failed(&e)),
                None => break,
            }
        }
        match self.body.trailers().await {
            Ok(Some(trailers)) => {
                // Prefixed like the headers, so that a trailer can never be
                // mistaken for one of our own fields.
                let mut echoed = HeaderMap::new();
                for (name, val) in trailers.iter() {
                    if let Ok(echo_name) =
                        HeaderName::from_bytes(format!("x-echo-trailer-{name}").as_bytes())
                    {
                        echoed.append(echo_name, val.clone());
                    }
                }
                self.guard.finish(true);
                send.send_trailers(echoed)
                    .map_err(|_| self.send_failed(&mut send))
            }
            Ok(None) => self.send_bytes(&mut send, Bytes::new(), true).await,
            Err(e) => Err(self.failed(&e)),
        }
    }

    async fn status(&mut self, status: StatusCode) -> Flow {
        self.drain().await?;
        let mut head = response(status);
        // RFC 9110 §8.6: no Content-Length on 204; on 304 it would describe
        // the (absent) selected representation, so leave it out too.
        if status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED {
            head = head.header(CONTENT_LENGTH, 0);
        }
        self.send_head(head, true).map(drop)
    }

    async fn delay(&mut self, ms: u64) -> Flow {
        self.drain().await?;
        self.sleep_before_response(Duration::from_millis(ms))
            .await?;
        let body = format!("delayed {ms}\n");
        let head = response(StatusCode::OK)
            .header(CONTENT_TYPE, TEXT_PLAIN)
            .header(CONTENT_LENGTH, body.len());
        self.send_full(head, Bytes::from(body)).await
    }

    async fn trailers(&mut self) -> Flow {
        const BODY: &str = "body with trailers\n";
        self.drain().await?;
        let head = response(StatusCode::OK)
            .header(CONTENT_TYPE, TEXT_PLAIN)
            .header(CONTENT_LENGTH, BODY.len());
        if self.head {
            return self.send_head(head, true).map(drop);
        }
        let Some(mut send) = self.send_head(head, false)? else {
            return Ok(());
        };
        self.send_bytes(&mut send, Bytes::from_static(BODY.as_bytes()), false)
            .await?;
        let mut trailers = HeaderMap::new();
        trailers.insert("x-trailer-one", HeaderValue::from_static("1"));
        trailers.insert("x-trailer-two", HeaderValue::from_static("two"));
        self.guard.finish(true);
        send.send_trailers(trailers)
            .map_err(|_| self.send_failed(&mut send))
    }

    async fn headers(&mut self, n: u32) -> Flow {
        const BODY: &str = "ok\n";
        self.drain().await?;
        let filler = HeaderValue::from_static(
            "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
        );
        let mut head = response(StatusCode::OK)
            .header(CONTENT_TYPE, TEXT_PLAIN)
            .header(CONTENT_LENGTH, BODY.len());
        for i in 0..n {
            head = head.header(format!("x-header-{i:05}"), filler.clone());
        }
        self.send_full(head, Bytes::from_static(BODY.as_bytes()))
            .await
    }

    async fn slow_bytes(&mut self, len: u64, chunk: u64, delay_ms: u64) -> Flow {
        self.drain().await?;
        let head = response(StatusCode::OK)
            .header(CONTENT_TYPE, OCTET_STREAM)
            .header(CONTENT_LENGTH, len);
        if len == 0 || self.head {
            return self.send_head(head, true).map(drop);
        }
        let Some(mut send) = self.send_head(head, false)? else {
            return Ok(());
        };
        let mut offset = 0;
        while offset < len {
            if offset > 0 {
                self.sleep_while_streaming(&mut send, Duration::from_millis(delay_ms))
                    .await?;
            }
            let n = chunk.min(len - offset);
            self.send_pattern(&mut send, offset, n, offset + n == len)
                .await?;
            offset += n;
        }
        Ok(())
    }

    /// Resets the stream at once, without reading the request.
    fn reset(&mut self, code: u32) {
        self.guard.finish(true);
        self.respond.send_reset(Reason::from(code));
    }

    /// Sends 200 headers, then waits for the client to reset the stream. If
    /// it never does, gives up after [`WAIT_RESET_MAX`] with
    /// `RST_STREAM(CANCEL)` (never `END_STREAM`).
    async fn wait_reset(&mut self) -> Flow {
        self.drain().await?;
        let Some(mut send) = self.send_head(response(StatusCode::OK), false)? else {
            return Ok(());
        };
        self.sleep_while_streaming(&mut send, WAIT_RESET_MAX)
            .await?;
        log!(
            "conn {}: stream {:?}: no reset from client, giving up",
            self.conn,
            self.stream
        );
        self.guard.finish(false);
        send.send_reset(Reason::CANCEL);
        Ok(())
    }

    // ----- building blocks -------------------------------------------------

    /// Reads and discards the request body, returning flow-control credit
    /// right away so big uploads to any endpoint keep moving.
    async fn drain(&mut self) -> Flow {
        while let Some(chunk) = self.body.data().await {
            match chunk {
                Ok(chunk) => {
                    let _ = self.body.flow_control().release_capacity(chunk.len());
                }
                Err(e) => return Err(self.failed(&e)),
            }
        }
        Ok(())
    }

    /// Sends the response headers; `Ok(None)` when they also ended the
    /// stream. The caller must have decided `end` knowing it is the last frame.
    fn send_head(
        &mut self,
        head: http::response::Builder,
        end: bool,
    ) -> Result<Option<SendStream<Bytes>>, Stop> {
        let head = match head.body(()) {
            Ok(head) => head,
            Err(e) => {
                // Only our own header construction can fail here.
                log!("conn {}: bad response head: {e}", self.conn);
                self.guard.finish(false);
                self.respond.send_reset(Reason::INTERNAL_ERROR);
                return Err(Stop);
            }
        };
        if end {
            self.guard.finish(true);
        }
        match self.respond.send_response(head, end) {
            Ok(send) => Ok((!end).then_some(send)),
            Err(e) => {
                log!(
                    "conn {}: stream {:?}: sending headers failed: {e}",
                    self.conn,
                    self.stream
                );
                let reset = poll_now(|cx| self.respond.poll_reset(cx));
                self.closed_early(reset);
                Err(Stop)
            }
        }
    }

    /// Headers plus a body that is already in memory (empty for HEAD).
    async fn send_full(&mut self, head: http::response::Builder, body: Bytes) -> Flow {
        if body.is_empty() || self.head {
            return self.send_head(head, true).map(drop);
        }
        let Some(mut send) = self.send_head(head, false)? else {
            return Ok(());
        };
        self.send_bytes(&mut send, body, true).await
    }

    /// Sends `len` bytes of [`pattern`] starting at body offset `offset`.
    async fn send_pattern(
        &mut self,
        send: &mut SendStream<Bytes>,
        offset: u64,
        len: u64,
        end: bool,
    ) -> Flow {
        let mut sent = 0;
        while sent < len {
            // Fits in usize: PIECE is small.
            let want = (len - sent).min(PIECE as u64) as usize;
            let piece = pattern(offset + sent, want);
            sent += want as u64;
            self.send_bytes(send, piece, end && sent == len).await?;
        }
        Ok(())
    }

    /// Sends `data`, waiting for flow-control capacity (so nothing piles up
    /// in h2's send buffer). With `end`, the last piece carries END_STREAM;
    /// an empty `data` with `end` sends an empty END_STREAM DATA frame.
    async fn send_bytes(
        &mut self,
        send: &mut SendStream<Bytes>,
        mut data: Bytes,
        end: bool,
    ) -> Flow {
        if data.is_empty() {
            return if end {
                self.send_data(send, data, true)
            } else {
                Ok(())
            };
        }
        while !data.is_empty() {
            let n = self.capacity(send, data.len()).await?;
            let piece = data.split_to(n.min(data.len()));
            let last = end && data.is_empty();
            self.send_data(send, piece, last)?;
        }
        Ok(())
    }

    fn send_data(&mut self, send: &mut SendStream<Bytes>, piece: Bytes, last: bool) -> Flow {
        if last {
            self.guard.finish(true);
        }
        send.send_data(piece, last)
            .map_err(|_| self.send_failed(send))
    }

    /// Waits until h2 assigns send capacity; returns how much (≤ `want`).
    async fn capacity(&mut self, send: &mut SendStream<Bytes>, want: usize) -> Result<usize, Stop> {
        send.reserve_capacity(want);
        loop {
            let available = send.capacity();
            if available > 0 {
                return Ok(available.min(want));
            }
            match poll_fn(|cx| send.poll_capacity(cx)).await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(self.failed(&e)),
                // The send side is no longer open: the stream was reset.
                None => return Err(self.send_failed(send)),
            }
        }
    }

    /// Sleeps before the response headers, noticing a client reset meanwhile.
    async fn sleep_before_response(&mut self, duration: Duration) -> Flow {
        let reset = {
            let respond = &mut self.respond;
            tokio::select! {
                _ = tokio::time::sleep(duration) => None,
                reset = poll_fn(|cx| respond.poll_reset(cx)) => Some(reset),
            }
        };
        match reset {
            None => Ok(()),
            Some(reset) => {
                self.closed_early(Poll::Ready(reset));
                Err(Stop)
            }
        }
    }

    /// Sleeps while the response is open, noticing a client reset meanwhile.
    async fn sleep_while_streaming(
        &mut self,
        send: &mut SendStream<Bytes>,
        duration: Duration,
    ) -> Flow {
        let reset = tokio::select! {
            _ = tokio::time::sleep(duration) => None,
            reset = poll_fn(|cx| send.poll_reset(cx)) => Some(reset),
        };
        match reset {
            None => Ok(()),
            Some(reset) => {
                self.closed_early(Poll::Ready(reset));
                Err(Stop)
            }
        }
    }

    /// Records an error h2 returned for this stream.
    fn failed(&mut self, e: &h2::Error) -> Stop {
        if e.is_reset() && e.is_remote() {
            log!(
                "conn {}: stream {:?}: reset by client ({e})",
                self.conn,
                self.stream
            );
            self.guard.peer_reset();
        } else {
            log!("conn {}: stream {:?}: {e}", self.conn, self.stream);
        }
        Stop
    }

    /// A send on `send` failed; find out why and record it.
    fn send_failed(&mut self, send: &mut SendStream<Bytes>) -> Stop {
        let reset = poll_now(|cx| send.poll_reset(cx));
        self.closed_early(reset);
        Stop
    }

    /// Records why the stream closed under us, given what `poll_reset` said.
    ///
    /// `poll_reset` reports a reason for a client `RST_STREAM`, but also for
    /// h2's own resets and GOAWAYs. The receive side knows who did it, unless
    /// the client had already ended its body, in which case it can only have
    /// been the client (connection-wide failures end the connection task
    /// before handlers get to run again).
    fn closed_early(&mut self, reset: Poll<Result<Reason, h2::Error>>) {
        match reset {
            Poll::Ready(Ok(_)) => match poll_now(|cx| self.body.poll_data(cx)) {
                Poll::Ready(Some(Err(e))) => {
                    self.failed(&e);
                }
                _ => {
                    log!(
                        "conn {}: stream {:?}: reset by client",
                        self.conn,
                        self.stream
                    );
                    self.guard.peer_reset();
                }
            },
            Poll::Ready(Err(e)) => {
                self.failed(&e);
            }
            Poll::Pending => {
                log!("conn {}: stream {:?}: closed", self.conn, self.stream);
            }
        }
    }
}

/// Decodes `%XX` escapes (and `+` as a space) in a query parameter.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| {
            b.get(j)
                .and_then(|c| (*c as char).to_digit(16))
                .map(|d| d as u8)
        };
        match (b[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn response(status: StatusCode) -> http::response::Builder {
    Response::builder().status(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::parse("/"), Route::Root);
        assert_eq!(Route::parse("/bytes/0"), Route::Bytes(0));
        assert_eq!(Route::parse("/bytes/4294967296"), Route::Bytes(1 << 32));
        assert!(matches!(Route::parse("/bytes/abc"), Route::BadRequest(_)));
        assert!(matches!(Route::parse("/bytes/+5"), Route::BadRequest(_)));
        assert!(matches!(Route::parse("/bytes/"), Route::BadRequest(_)));
        assert_eq!(Route::parse("/bytes/1/2"), Route::NotFound);
        assert_eq!(
            Route::parse("/status/418"),
            Route::Status(StatusCode::IM_A_TEAPOT)
        );
        assert!(matches!(Route::parse("/status/101"), Route::BadRequest(_)));
        assert!(matches!(Route::parse("/status/600"), Route::BadRequest(_)));
        assert_eq!(
            Route::parse("/slow-bytes/10/3/5"),
            Route::SlowBytes {
                len: 10,
                chunk: 3,
                delay_ms: 5
            }
        );
        assert!(matches!(
            Route::parse("/slow-bytes/10/0/5"),
            Route::BadRequest(_)
        ));
        assert_eq!(Route::parse("/reset/8"), Route::Reset(8));
        assert_eq!(Route::parse("/nope"), Route::NotFound);
        assert_eq!(
            Route::parse("/redirect/307"),
            Route::Redirect(StatusCode::TEMPORARY_REDIRECT)
        );
        assert!(matches!(
            Route::parse("/redirect/200"),
            Route::BadRequest(_)
        ));
        assert_eq!(percent_decode("http%3A%2F%2Fa%2Fb?x"), b"http://a/b?x");
        assert_eq!(Route::parse("*"), Route::NotFound);
    }

    #[test]
    fn pattern_is_continuous() {
        let mut all = Vec::new();
        let mut offset = 0u64;
        for len in [1usize, 25, 26, 27, PIECE, 3] {
            all.extend_from_slice(&pattern(offset, len));
            offset += len as u64;
        }
        for (i, b) in all.iter().enumerate() {
            assert_eq!(*b, b'a' + (i % 26) as u8, "byte {i}");
        }
    }
}
