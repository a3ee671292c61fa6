//! Errors: HTTP/2 error codes ([`Reason`]) and the library's error type ([`Error`]).
//!
//! Every failure keeps its real cause (GOAWAY code and debug data, RST_STREAM code, I/O error)
//! in a message a person can act on, plus the facts a program acts on: the kind, the HTTP/2
//! code, who detected it and whether the server may have processed the request.

use std::fmt;
use std::sync::Arc;

/// An HTTP/2 error code (RFC 9113 §7).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reason(pub u32);

impl Reason {
    /// Graceful shutdown or no error.
    pub const NO_ERROR: Reason = Reason(0x0);
    /// Unspecific protocol error.
    pub const PROTOCOL_ERROR: Reason = Reason(0x1);
    /// Unexpected internal error.
    pub const INTERNAL_ERROR: Reason = Reason(0x2);
    /// Flow-control protocol violated.
    pub const FLOW_CONTROL_ERROR: Reason = Reason(0x3);
    /// SETTINGS not acknowledged in time.
    pub const SETTINGS_TIMEOUT: Reason = Reason(0x4);
    /// Frame received on a half-closed or closed stream.
    pub const STREAM_CLOSED: Reason = Reason(0x5);
    /// Frame with an invalid size.
    pub const FRAME_SIZE_ERROR: Reason = Reason(0x6);
    /// Stream refused before any processing.
    pub const REFUSED_STREAM: Reason = Reason(0x7);
    /// Stream no longer needed.
    pub const CANCEL: Reason = Reason(0x8);
    /// Header compression context could not be maintained.
    pub const COMPRESSION_ERROR: Reason = Reason(0x9);
    /// CONNECT tunnel failed.
    pub const CONNECT_ERROR: Reason = Reason(0xa);
    /// Peer is generating excessive load.
    pub const ENHANCE_YOUR_CALM: Reason = Reason(0xb);
    /// Transport properties below minimum security requirements.
    pub const INADEQUATE_SECURITY: Reason = Reason(0xc);
    /// HTTP/1.1 required instead.
    pub const HTTP_1_1_REQUIRED: Reason = Reason(0xd);

    /// The RFC's name for the code, or `None` for an unknown code.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0 => "NO_ERROR",
            0x1 => "PROTOCOL_ERROR",
            0x2 => "INTERNAL_ERROR",
            0x3 => "FLOW_CONTROL_ERROR",
            0x4 => "SETTINGS_TIMEOUT",
            0x5 => "STREAM_CLOSED",
            0x6 => "FRAME_SIZE_ERROR",
            0x7 => "REFUSED_STREAM",
            0x8 => "CANCEL",
            0x9 => "COMPRESSION_ERROR",
            0xa => "CONNECT_ERROR",
            0xb => "ENHANCE_YOUR_CALM",
            0xc => "INADEQUATE_SECURITY",
            0xd => "HTTP_1_1_REQUIRED",
            _ => return None,
        })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "UNKNOWN_ERROR_0x{:x}", self.0),
        }
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The one table of error kinds: for each, its doc, the variant, the C API's code and name
/// (`H2_E_*`) and a short description. It generates [`ErrorKind`] and its name and
/// description tables, and checks at compile time that the `H2_E_*` constant of `crate::ffi`
/// (written out there because cbindgen reads the source without expanding macros) has this
/// code. A test checks that the header has no other `H2_E_*` code.
macro_rules! error_kinds {
    ($($(#[doc = $doc:literal])* $variant:ident = $code:literal, $c_name:ident, $desc:literal;)*) => {
        /// What kind of failure happened. The numeric values are the C API's `H2_E_*` codes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum ErrorKind {
            $($(#[doc = $doc])* $variant = $code,)*
        }

        impl ErrorKind {
            /// Every kind, for tables and tests.
            pub const ALL: [ErrorKind; [$($code),*].len()] = [$(ErrorKind::$variant),*];

            /// The C name of the code, NUL-terminated, e.g. `"H2_E_TIMEOUT\0"`.
            pub fn c_name_nul(self) -> &'static str {
                match self {
                    $(ErrorKind::$variant => concat!(stringify!($c_name), "\0"),)*
                }
            }

            /// A short description of the code, NUL-terminated (what `h2_strerror` returns).
            pub fn description_nul(self) -> &'static str {
                match self {
                    $(ErrorKind::$variant => concat!($desc, "\0"),)*
                }
            }
        }

        $(const _: () = assert!(crate::ffi::$c_name == ErrorKind::$variant as u32);)*
    };
}

error_kinds! {
    /// A NULL pointer, an invalid header name or value, an out-of-range option.
    InvalidArgument = 1, H2_E_INVALID_ARGUMENT, "invalid argument";
    /// The base URL could not be parsed or uses an unsupported scheme.
    InvalidUrl = 2, H2_E_INVALID_URL, "invalid or unsupported URL";
    /// The TCP connection could not be established (refused, unreachable, timed out before
    /// connecting is H2_E_TIMEOUT; a name that does not resolve is H2_E_RESOLVE).
    Connect = 3, H2_E_CONNECT, "could not connect to the server";
    /// A timeout expired (which one is in the message).
    Timeout = 4, H2_E_TIMEOUT, "timed out";
    /// An HTTP/2 protocol violation, detected by us or reported by the server.
    Protocol = 5, H2_E_PROTOCOL, "HTTP/2 protocol error";
    /// The server reset the stream with RST_STREAM.
    StreamReset = 6, H2_E_STREAM_RESET, "stream reset by the server";
    /// The server closed the connection with GOAWAY before completing the request.
    GoAway = 7, H2_E_GOAWAY, "connection closed by the server with GOAWAY";
    /// The transport failed: connection reset, closed by the peer, write error.
    Connection = 8, H2_E_CONNECTION, "connection failed";
    /// The client was closed while the request was waiting, or the library was shut down.
    Closed = 9, H2_E_CLOSED, "client closed or library shut down";
    /// The request was cancelled by the caller.
    Canceled = 10, H2_E_CANCELED, "request canceled";
    /// A header list exceeded a limit (the server's for requests, ours for responses).
    HeadersTooLarge = 11, H2_E_HEADERS_TOO_LARGE, "header list too large";
    /// The response body exceeded the configured maximum.
    BodyTooLarge = 12, H2_E_BODY_TOO_LARGE, "response body too large";
    /// The server refused the request every time it was retried.
    Refused = 13, H2_E_REFUSED, "request refused by the server (retries exhausted)";
    /// A blocking function was called from a library thread, where it would deadlock.
    WrongThread = 14, H2_E_WRONG_THREAD, "blocking call from a library thread";
    /// An internal error (a bug): a panic was caught.
    Internal = 15, H2_E_INTERNAL, "internal error";
    /// TLS failed: handshake, certificate, or ALPN.
    Tls = 16, H2_E_TLS, "TLS error";
    /// The client was created before `fork()` and used in the child.
    Forked = 17, H2_E_FORKED, "client used after fork()";
    /// Following redirects, one more than the configured maximum was met (the chain of URLs
    /// is in the message).
    TooManyRedirects = 18, H2_E_TOO_MANY_REDIRECTS, "too many redirects";
    /// The proxy refused or failed the tunnel (a non-2xx answer to CONNECT, 407: proxy
    /// authentication required, a SOCKS5 failure), or the environment's proxy is unusable.
    Proxy = 19, H2_E_PROXY, "proxy error";
    /// The response body could not be decoded from its content-encoding (corrupt or
    /// truncated data; the message names the coding).
    Decode = 20, H2_E_DECODE, "response body could not be decoded";
    /// A host name (the origin's, or the proxy's) could not be resolved to an address.
    Resolve = 21, H2_E_RESOLVE, "could not resolve host name";
    /// A non-blocking function (`h2_call_try_wait_headers`, `h2_call_try_read`) found nothing
    /// yet: not a failure of the call (arm `h2_call_notify` and try again once notified).
    Again = 22, H2_E_AGAIN, "nothing ready yet (try again)";
}

impl ErrorKind {
    /// The C name of the code, e.g. `H2_E_TIMEOUT`.
    pub fn c_name(self) -> &'static str {
        self.c_name_nul().trim_end_matches('\0')
    }

    /// A short description of the code.
    pub fn description(self) -> &'static str {
        self.description_nul().trim_end_matches('\0')
    }

    /// The kind for a numeric code, if it is one.
    pub fn from_code(code: u32) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| *k as u32 == code)
    }
}

/// Whether the server may have acted on a request that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Processed {
    /// Certainly not processed: never sent, REFUSED_STREAM, or above GOAWAY's last stream id.
    No = 0,
    /// Possibly processed.
    Maybe = 1,
    /// The server answered (at least the response head arrived).
    Yes = 2,
}

/// Who detected a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Origin {
    /// This library (a check of ours, a timeout, the caller).
    Local = 0,
    /// The server (RST_STREAM, GOAWAY).
    Remote = 1,
    /// The transport (TCP or TLS).
    Transport = 2,
}

/// A failure, with everything the caller may want to know about it.
#[derive(Clone, Debug)]
pub struct Error {
    /// The failure's kind.
    pub kind: ErrorKind,
    /// The HTTP/2 error code involved, if any.
    pub reason: Option<Reason>,
    /// Whether the server may have processed the request.
    pub processed: Processed,
    /// Who detected it.
    pub origin: Origin,
    /// GOAWAY's last stream id when a GOAWAY caused the failure, else 0.
    pub goaway_last_stream_id: u32,
    /// How many times the request was retried before this failure.
    pub retries: u32,
    /// A message a person can act on.
    pub message: Arc<str>,
}

impl Error {
    /// A new error detected locally, processed = NO.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            reason: None,
            processed: Processed::No,
            origin: Origin::Local,
            goaway_last_stream_id: 0,
            retries: 0,
            message: Arc::from(message.into()),
        }
    }

    /// An invalid argument from the caller.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// Sets the HTTP/2 code.
    pub fn with_reason(mut self, r: Reason) -> Error {
        self.reason = Some(r);
        self
    }

    /// Sets who detected it.
    pub fn with_origin(mut self, o: Origin) -> Error {
        self.origin = o;
        self
    }

    /// Records the last stream id of the GOAWAY that caused the failure.
    pub fn with_goaway(mut self, last_stream_id: u32) -> Error {
        self.goaway_last_stream_id = last_stream_id;
        self
    }

    /// Sets whether the request may have been processed.
    pub fn with_processed(mut self, p: Processed) -> Error {
        self.processed = p;
        self
    }

    /// A copy with `processed` raised to at least `p` (a connection-wide error applies to
    /// streams in different states).
    pub fn at_least(&self, p: Processed) -> Error {
        let mut e = self.clone();
        if (e.processed as u8) < (p as u8) {
            e.processed = p;
        }
        e
    }

    /// An I/O failure of the transport, kept with its OS description.
    pub fn io(context: &str, e: &std::io::Error) -> Error {
        let kind = match e.kind() {
            std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Connection,
        };
        Error::new(kind, format!("{context}: {e}"))
            .with_origin(Origin::Transport)
            .with_processed(Processed::Maybe)
    }

    /// A protocol violation by the server that we detected.
    pub fn protocol(reason: Reason, message: impl fmt::Display) -> Error {
        Error::new(
            ErrorKind::Protocol,
            format!("{reason}: {message} (detected by h2client)"),
        )
        .with_reason(reason)
        .with_processed(Processed::Maybe)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Result with the library's error.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_dense_and_named() {
        // Increasing from 1, no gaps.
        let mut prev = 0;
        for k in ErrorKind::ALL.iter() {
            let code = *k as u32;
            assert_eq!(code, prev + 1, "{k:?} = {code}");
            prev = code;
            assert_eq!(ErrorKind::from_code(*k as u32), Some(*k));
            assert!(k.c_name().starts_with("H2_E_"));
        }
        assert_eq!(ErrorKind::from_code(0), None);
        assert_eq!(ErrorKind::from_code(999), None);
    }

    #[test]
    fn reason_names() {
        assert_eq!(Reason::REFUSED_STREAM.to_string(), "REFUSED_STREAM");
        assert_eq!(Reason(0x42).to_string(), "UNKNOWN_ERROR_0x42");
    }

    #[test]
    fn at_least_only_raises() {
        let e = Error::new(ErrorKind::Connection, "x").with_processed(Processed::Yes);
        assert_eq!(e.at_least(Processed::Maybe).processed, Processed::Yes);
        let e = Error::new(ErrorKind::Connection, "x");
        assert_eq!(e.at_least(Processed::Maybe).processed, Processed::Maybe);
    }
}
