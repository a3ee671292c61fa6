//! What a server's first bytes say when they are not what the URL's scheme expected.
//!
//! The wrong scheme for a port is the commonest first-connection mistake, and the layers that
//! notice it speak of their own view: rustls of a "corrupt message of type
//! InvalidContentType" when an h2c server answers our ClientHello, the frame reader of an EOF
//! when a TLS server drops our cleartext preface. These functions look at the first bytes the
//! server sent and say what it is and which scheme to use. They only build messages: the
//! caller keeps the error's kind, origin and processed state.

use crate::frame::kind_name;

/// How many of the server's first bytes are kept and shown: enough for a TLS record header
/// (5), an HTTP/2 frame header (9) or `HTTP/1.1 400`, and short enough to print in hex.
pub(crate) const FIRST_BYTES: usize = 16;

/// HTTP/2 frame types (RFC 9113 §6) that an h2c server sends first on a connection: its
/// SETTINGS, or a GOAWAY when our ClientHello was not the preface it waited for.
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;

/// What a prefix of the server's bytes is, as far as a TLS record header goes.
#[derive(Debug, PartialEq, Eq)]
enum Tls {
    /// An alert (0x15) or handshake (0x16) record of SSL 3.0 to TLS 1.3 (0x03 0x00..=0x04):
    /// what a TLS server sends first, whatever it received.
    Record,
    /// Too short to tell, and so far consistent with a record.
    MaybeRecord,
    /// Not a TLS record.
    No,
}

fn tls_record(b: &[u8]) -> Tls {
    let fits = |i: usize, ok: fn(u8) -> bool| b.get(i).is_none_or(|&v| ok(v));
    if !fits(0, |v| v == 0x15 || v == 0x16) || !fits(1, |v| v == 0x03) || !fits(2, |v| v <= 0x04) {
        Tls::No
    } else if b.len() >= 3 {
        Tls::Record
    } else {
        Tls::MaybeRecord
    }
}

/// `b` (at most `FIRST_BYTES` of it) in hex, `...` when there is more.
fn hex(b: &[u8]) -> String {
    let mut s: Vec<String> = b
        .iter()
        .take(FIRST_BYTES)
        .map(|v| format!("{v:02x}"))
        .collect();
    if b.len() > FIRST_BYTES {
        s.push("...".into());
    }
    s.join(" ")
}

/// Up to `max` bytes of `b` as text, control characters as `.`, `...` when cut.
pub(crate) fn lossy(b: &[u8], max: usize) -> String {
    let s: String = String::from_utf8_lossy(&b[..b.len().min(max)])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    if b.len() > max {
        format!("{s}...")
    } else {
        s
    }
}

/// Explains a failed TLS handshake from the first bytes `peer` sent back to our ClientHello,
/// when they show it is not a TLS server. `None` when they are (or may be) TLS, or when the
/// server sent nothing: then the TLS library's own error is the better message.
pub(crate) fn after_client_hello(first: &[u8], peer: &str) -> Option<String> {
    if first.is_empty() || tls_record(first) != Tls::No {
        return None;
    }
    let what = format!("server at {peer} answered our TLS ClientHello");
    // A frame header: 3 bytes of length, then the type. SETTINGS and GOAWAY are on stream 0;
    // when the stream id is there to see, requiring it keeps a stray 4th byte from passing.
    let stream0 = first.len() < 9 || first[5..9] == [0, 0, 0, 0];
    if let Some(&t @ (SETTINGS | GOAWAY)) = first.get(3).filter(|_| stream0) {
        return Some(format!(
            "{what} with an HTTP/2 {} frame in cleartext: it speaks HTTP/2 without TLS (h2c); use http://",
            kind_name(t)
        ));
    }
    if first.starts_with(b"HTTP/") {
        return Some(format!(
            "{what} in plain HTTP/1.x: use http://, and note that h2client speaks HTTP/2 only"
        ));
    }
    Some(format!(
        "{what} with non-TLS bytes ({}): is this a TLS port?",
        hex(first)
    ))
}

/// Explains what `peer` sent on a cleartext (h2c) connection before its SETTINGS frame, for
/// the connection reader: `first` is what it has read so far (its whole buffer will do; only
/// the first bytes are looked at), `eof` whether the server then closed the connection.
/// Without EOF the reader calls this when `first` starts with a frame header that is not a
/// SETTINGS frame (or is a SETTINGS ACK).
pub(crate) fn before_settings(first: &[u8], eof: bool, peer: &str) -> String {
    if tls_record(first) == Tls::Record {
        // A TLS server drops a preface it cannot parse, usually after an alert record.
        let record = if first[0] == 0x15 {
            "an alert"
        } else {
            "a handshake"
        };
        return format!(
            "server at {peer} answered with a TLS record ({record}): it expects TLS; use https://"
        );
    }
    if first.starts_with(b"HTTP/") {
        // The wording the reader has always used, which callers may match on.
        return format!(
            "server answered with HTTP/1.x ('{}'): it does not speak HTTP/2 with prior knowledge",
            lossy(first.split(|&b| b == b'\r').next().unwrap_or_default(), 60)
        );
    }
    if first.is_empty() {
        return format!(
            "server at {peer} closed the connection before sending its SETTINGS: it may expect TLS (use https://) or not speak HTTP/2"
        );
    }
    if eof || first.len() < 9 {
        let n = first.len();
        let closed = if eof {
            "closed the connection"
        } else {
            "stopped"
        };
        return format!(
            "server at {peer} {closed} after sending {n} byte(s) ({}) and no SETTINGS frame: does it speak HTTP/2?",
            hex(first)
        );
    }
    match first[3] {
        // The reader's wording for an HTTP/2 frame in the wrong place.
        SETTINGS if first[4] & 0x1 != 0 => {
            "expected SETTINGS as the server's first frame, got a SETTINGS acknowledgement (ACK flag set) before the server's own SETTINGS".into()
        }
        t if kind_name(t) != "UNKNOWN" => format!(
            "expected SETTINGS as the server's first frame, got {}",
            kind_name(t)
        ),
        t => format!(
            "expected SETTINGS as the server's first frame, got a frame of unknown type 0x{t:02x} (first bytes {}): does {peer} speak HTTP/2?",
            hex(first)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "127.0.0.1:8443";

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let l = (payload.len() as u32).to_be_bytes();
        let mut v = vec![l[1], l[2], l[3], kind, flags];
        v.extend_from_slice(&stream.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn tls_records_are_recognised() {
        assert_eq!(tls_record(&[0x16, 0x03, 0x03, 0x00, 0x7a]), Tls::Record);
        assert_eq!(tls_record(&[0x15, 0x03, 0x01]), Tls::Record);
        assert_eq!(tls_record(&[0x16, 0x03, 0x04]), Tls::Record);
        assert_eq!(tls_record(&[0x16, 0x03, 0x05]), Tls::No);
        assert_eq!(tls_record(&[0x17, 0x03, 0x03]), Tls::No);
        assert_eq!(tls_record(&[0x16, 0x02, 0x00]), Tls::No);
        assert_eq!(tls_record(&[0x16]), Tls::MaybeRecord);
        assert_eq!(tls_record(&[0x16, 0x03]), Tls::MaybeRecord);
        assert_eq!(tls_record(&[0x00]), Tls::No);
        assert_eq!(tls_record(b""), Tls::MaybeRecord);
    }

    #[test]
    fn client_hello_answered_by_h2c() {
        let settings = frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100, 0, 4, 0, 1, 0, 0]);
        assert_eq!(
            after_client_hello(&settings[..FIRST_BYTES], PEER).as_deref(),
            Some(
                "server at 127.0.0.1:8443 answered our TLS ClientHello with an HTTP/2 SETTINGS \
                 frame in cleartext: it speaks HTTP/2 without TLS (h2c); use http://"
            )
        );
        let goaway = frame(GOAWAY, 0, 0, &[0, 0, 0, 0, 0, 0, 0, 1]);
        let m = after_client_hello(&goaway, PEER).unwrap();
        assert!(
            m.contains("with an HTTP/2 GOAWAY frame in cleartext"),
            "{m}"
        );
        // The type byte alone decides while the stream id is not there yet.
        let m = after_client_hello(&settings[..4], PEER).unwrap();
        assert!(m.contains("SETTINGS frame in cleartext"), "{m}");
        // A "SETTINGS" on a stream is no SETTINGS frame.
        let m = after_client_hello(&frame(SETTINGS, 0, 1, &[]), PEER).unwrap();
        assert!(
            m.contains("non-TLS bytes (00 00 00 04 00 00 00 00 01)"),
            "{m}"
        );
    }

    #[test]
    fn client_hello_answered_by_http1() {
        assert_eq!(
            after_client_hello(b"HTTP/1.1 400 Bad ", PEER).as_deref(),
            Some(
                "server at 127.0.0.1:8443 answered our TLS ClientHello in plain HTTP/1.x: use \
                 http://, and note that h2client speaks HTTP/2 only"
            )
        );
    }

    #[test]
    fn client_hello_answered_by_something_else() {
        assert_eq!(
            after_client_hello(b"SSH-2.0-OpenSSH_9.2p1\r\n", PEER).as_deref(),
            Some(
                "server at 127.0.0.1:8443 answered our TLS ClientHello with non-TLS bytes \
                 (53 53 48 2d 32 2e 30 2d 4f 70 65 6e 53 53 48 5f ...): is this a TLS port?"
            )
        );
        let m = after_client_hello(&[0x16, 0x00], PEER).unwrap();
        assert!(m.contains("non-TLS bytes (16 00)"), "{m}");
    }

    #[test]
    fn client_hello_answered_by_tls_or_nothing_is_left_to_rustls() {
        assert_eq!(after_client_hello(b"", PEER), None);
        assert_eq!(after_client_hello(&[0x16], PEER), None);
        assert_eq!(
            after_client_hello(&[0x15, 0x03, 0x03, 0, 2, 2, 40], PEER),
            None
        );
        assert_eq!(
            after_client_hello(&[0x16, 0x03, 0x03, 0, 0x7a, 2], PEER),
            None
        );
    }

    #[test]
    fn preface_answered_by_tls() {
        // rustls's answer to "PRI * HTTP/2.0": a fatal decode_error alert.
        let alert = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32];
        assert_eq!(
            before_settings(&alert, true, PEER),
            "server at 127.0.0.1:8443 answered with a TLS record (an alert): it expects TLS; use https://"
        );
        // Read as a frame header it is a DATA frame: the reader calls without EOF too.
        let mut more = alert.to_vec();
        more.extend_from_slice(&[0x16, 0x03, 0x03, 0x00]);
        assert!(before_settings(&more, false, PEER).contains("it expects TLS; use https://"));
        let hs = [0x16, 0x03, 0x01, 0x00, 0x10];
        assert!(before_settings(&hs, true, PEER).contains("TLS record (a handshake)"));
    }

    #[test]
    fn preface_answered_by_eof() {
        assert_eq!(
            before_settings(b"", true, PEER),
            "server at 127.0.0.1:8443 closed the connection before sending its SETTINGS: it may \
             expect TLS (use https://) or not speak HTTP/2"
        );
        assert_eq!(
            before_settings(&[0, 0, 6, 4, 0], true, PEER),
            "server at 127.0.0.1:8443 closed the connection after sending 5 byte(s) \
             (00 00 06 04 00) and no SETTINGS frame: does it speak HTTP/2?"
        );
        // One or two bytes that could begin a record are not enough to call it TLS.
        assert!(before_settings(&[0x15], true, PEER).contains("after sending 1 byte(s) (15)"));
    }

    #[test]
    fn preface_answered_by_http1_keeps_the_readers_wording() {
        assert_eq!(
            before_settings(
                b"HTTP/1.1 400 Bad Request\r\nServer: x\r\n\r\n",
                false,
                PEER
            ),
            "server answered with HTTP/1.x ('HTTP/1.1 400 Bad Request'): it does not speak \
             HTTP/2 with prior knowledge"
        );
        assert!(before_settings(b"HTTP/1.0 400\r\n", true, PEER).contains("'HTTP/1.0 400'"));
        let long = format!("HTTP/1.1 200 {}\r\n", "x".repeat(100));
        assert!(before_settings(long.as_bytes(), false, PEER).contains("xxx...'"));
    }

    #[test]
    fn preface_answered_by_another_frame() {
        let ping = frame(0x6, 0, 0, &[0; 8]);
        assert_eq!(
            before_settings(&ping, false, PEER),
            "expected SETTINGS as the server's first frame, got PING"
        );
        let ack = frame(SETTINGS, 1, 0, &[]);
        assert_eq!(
            before_settings(&ack, false, PEER),
            "expected SETTINGS as the server's first frame, got a SETTINGS acknowledgement (ACK flag set) before the server's own SETTINGS"
        );
        let odd = frame(0x42, 0, 0, &[]);
        assert_eq!(
            before_settings(&odd, false, PEER),
            "expected SETTINGS as the server's first frame, got a frame of unknown type 0x42 \
             (first bytes 00 00 00 42 00 00 00 00 00): does 127.0.0.1:8443 speak HTTP/2?"
        );
    }
}
