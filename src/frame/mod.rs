//! HTTP/2 frames (RFC 9113 §4 and §6): pure encode and decode, no I/O.
//!
//! Decoding works on borrowed slices of the connection's read buffer so that a frame costs no
//! allocation; encoding appends to the connection's write buffer.

mod continuation;
mod data;
mod goaway;
mod headers;
mod ping;
pub mod priority;
mod push_promise;
mod rst_stream;
mod settings;
mod window_update;

pub use continuation::Continuation;
pub use data::Data;
pub use goaway::GoAway;
pub use headers::Headers;
pub use ping::Ping;
pub use push_promise::PushPromise;
pub use rst_stream::RstStream;
pub use settings::{Setting, Settings, SettingsIter};
pub use window_update::{update_due, WindowUpdate};

use crate::error::Reason;

/// Length of the fixed frame header (RFC 9113 §4.1).
pub const HEADER_LEN: usize = 9;
/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Smallest value SETTINGS_MAX_FRAME_SIZE may take, and its initial value.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// Largest value SETTINGS_MAX_FRAME_SIZE may take.
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// Largest flow-control window (RFC 9113 §6.9.1).
pub const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;
/// Initial flow-control window of streams and of the connection.
pub const DEFAULT_WINDOW_SIZE: u32 = 65_535;
/// Largest stream identifier.
pub const MAX_STREAM_ID: u32 = (1 << 31) - 1;

/// Frame type codes (RFC 9113 §6).
pub mod kind {
    /// DATA
    pub const DATA: u8 = 0x0;
    /// HEADERS
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY (deprecated; parsed for its size and ignored)
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING
    pub const PING: u8 = 0x6;
    /// GOAWAY
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flag bits (RFC 9113 §6).
pub mod flag {
    /// END_STREAM on DATA and HEADERS.
    pub const END_STREAM: u8 = 0x1;
    /// ACK on SETTINGS and PING.
    pub const ACK: u8 = 0x1;
    /// END_HEADERS on HEADERS, PUSH_PROMISE and CONTINUATION.
    pub const END_HEADERS: u8 = 0x4;
    /// PADDED on DATA, HEADERS and PUSH_PROMISE.
    pub const PADDED: u8 = 0x8;
    /// PRIORITY on HEADERS.
    pub const PRIORITY: u8 = 0x20;
}

/// The 9-byte frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub len: u32,
    /// Frame type code, see [`kind`].
    pub kind: u8,
    /// Flag bits, see [`flag`].
    pub flags: u8,
    /// Stream identifier with the reserved bit cleared.
    pub stream_id: u32,
}

impl FrameHeader {
    /// Parses a frame header from the first 9 bytes of `buf`; `None` if fewer are available.
    pub fn parse(buf: &[u8]) -> Option<FrameHeader> {
        let b: &[u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
        Some(FrameHeader {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            // The reserved bit must be ignored on receipt (§4.1).
            stream_id: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & MAX_STREAM_ID,
        })
    }

    /// Appends the encoded header to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        debug_assert!(self.len <= MAX_MAX_FRAME_SIZE);
        let l = self.len.to_be_bytes();
        let s = (self.stream_id & MAX_STREAM_ID).to_be_bytes();
        dst.extend_from_slice(&[
            l[1], l[2], l[3], self.kind, self.flags, s[0], s[1], s[2], s[3],
        ]);
    }

    /// Whether `f` is set.
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// Writes a frame header for a payload of `len` bytes.
pub fn encode_header(dst: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream_id: u32) {
    FrameHeader {
        len: len as u32,
        kind,
        flags,
        stream_id,
    }
    .encode(dst);
}

/// A frame that could not be decoded, with the error the receiver must signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// HTTP/2 error code to send.
    pub reason: Reason,
    /// Whether only the stream is affected (RST_STREAM) rather than the connection (GOAWAY).
    pub stream_only: bool,
    /// What was wrong, for the error message.
    pub what: &'static str,
}

impl FrameError {
    pub(crate) fn conn(reason: Reason, what: &'static str) -> FrameError {
        FrameError {
            reason,
            stream_only: false,
            what,
        }
    }
    pub(crate) fn stream(reason: Reason, what: &'static str) -> FrameError {
        FrameError {
            reason,
            stream_only: true,
            what,
        }
    }
}

/// Removes padding from a PADDED payload (§6.1, §6.2): returns the content without the pad
/// length byte and the padding. `extra` counts bytes that follow the pad length and precede the
/// content (5 for HEADERS with PRIORITY).
pub(crate) fn strip_padding(
    head: &FrameHeader,
    payload: &[u8],
    extra: usize,
) -> Result<(usize, usize), FrameError> {
    // Returns (start, end) offsets of the content within payload.
    if head.has(flag::PADDED) {
        let pad = *payload.first().ok_or(FrameError::conn(
            Reason::FRAME_SIZE_ERROR,
            "PADDED frame without pad length",
        ))? as usize;
        let start = 1 + extra;
        if start + pad > payload.len() {
            return Err(FrameError::conn(
                Reason::PROTOCOL_ERROR,
                "padding exceeds the frame payload",
            ));
        }
        Ok((start, payload.len() - pad))
    } else {
        if extra > payload.len() {
            return Err(FrameError::conn(
                Reason::FRAME_SIZE_ERROR,
                "frame too short",
            ));
        }
        Ok((extra, payload.len()))
    }
}

/// Name of a frame type for logs and messages.
pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        kind::DATA => "DATA",
        kind::HEADERS => "HEADERS",
        kind::PRIORITY => "PRIORITY",
        kind::RST_STREAM => "RST_STREAM",
        kind::SETTINGS => "SETTINGS",
        kind::PUSH_PROMISE => "PUSH_PROMISE",
        kind::PING => "PING",
        kind::GOAWAY => "GOAWAY",
        kind::WINDOW_UPDATE => "WINDOW_UPDATE",
        kind::CONTINUATION => "CONTINUATION",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_bytes() {
        let mut out = Vec::new();
        encode_header(&mut out, 0x012345, kind::HEADERS, 0x25, 0x8000_0003);
        assert_eq!(out, [0x01, 0x23, 0x45, 0x01, 0x25, 0x00, 0x00, 0x00, 0x03]);
        let h = FrameHeader::parse(&out).unwrap();
        assert_eq!(
            h,
            FrameHeader {
                len: 0x012345,
                kind: kind::HEADERS,
                flags: 0x25,
                stream_id: 3
            }
        );
    }

    #[test]
    fn reserved_bit_ignored_on_receipt() {
        let h = FrameHeader::parse(&[0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).unwrap();
        assert_eq!(h.stream_id, MAX_STREAM_ID);
    }

    #[test]
    fn short_header_is_none() {
        assert_eq!(FrameHeader::parse(&[0; 8]), None);
    }

    #[test]
    fn padding_rules() {
        let h = FrameHeader {
            len: 4,
            kind: kind::DATA,
            flags: flag::PADDED,
            stream_id: 1,
        };
        assert_eq!(strip_padding(&h, &[2, b'a', 0, 0], 0), Ok((1, 2)));
        // Pad length equal to the remaining payload leaves empty content: legal.
        assert_eq!(strip_padding(&h, &[3, 0, 0, 0], 0), Ok((1, 1)));
        assert_eq!(
            strip_padding(&h, &[4, 0, 0, 0], 0).unwrap_err().reason,
            Reason::PROTOCOL_ERROR
        );
        assert_eq!(
            strip_padding(&h, &[], 0).unwrap_err().reason,
            Reason::FRAME_SIZE_ERROR
        );
    }
}
