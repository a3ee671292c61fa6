//! HEADERS frames (RFC 9113 §6.2).

use super::{encode_header, flag, kind, strip_padding, FrameError, FrameHeader};
use crate::error::Reason;

/// A decoded HEADERS frame borrowing the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Headers<'a> {
    /// Stream id (never 0).
    pub stream_id: u32,
    /// The header block fragment, padding and priority fields removed.
    pub fragment: &'a [u8],
    /// END_STREAM was set.
    pub end_stream: bool,
    /// END_HEADERS was set: the block is complete without CONTINUATION.
    pub end_headers: bool,
}

impl<'a> Headers<'a> {
    /// Decodes a HEADERS payload. Priority information is parsed past and ignored (§5.3.2).
    pub fn decode(head: &FrameHeader, payload: &'a [u8]) -> Result<Headers<'a>, FrameError> {
        if head.stream_id == 0 {
            return Err(FrameError::conn(
                Reason::PROTOCOL_ERROR,
                "HEADERS frame on stream 0",
            ));
        }
        let extra = if head.has(flag::PRIORITY) { 5 } else { 0 };
        let (start, end) = strip_padding(head, payload, extra)?;
        Ok(Headers {
            stream_id: head.stream_id,
            fragment: &payload[start..end],
            end_stream: head.has(flag::END_STREAM),
            end_headers: head.has(flag::END_HEADERS),
        })
    }

    /// Appends HEADERS (and CONTINUATION frames as needed) carrying the encoded `block`, split
    /// so that no frame payload exceeds `max_frame_size`.
    pub fn encode(
        stream_id: u32,
        block: &[u8],
        end_stream: bool,
        max_frame_size: usize,
        dst: &mut Vec<u8>,
    ) {
        let max = max_frame_size.max(1);
        let first = block.len().min(max);
        let mut flags = if end_stream { flag::END_STREAM } else { 0 };
        if first == block.len() {
            flags |= flag::END_HEADERS;
        }
        encode_header(dst, first, kind::HEADERS, flags, stream_id);
        dst.extend_from_slice(&block[..first]);
        let mut rest = &block[first..];
        while !rest.is_empty() {
            let n = rest.len().min(max);
            let flags = if n == rest.len() {
                flag::END_HEADERS
            } else {
                0
            };
            encode_header(dst, n, kind::CONTINUATION, flags, stream_id);
            dst.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_single_frame() {
        let mut out = Vec::new();
        Headers::encode(3, &[0x82, 0x86], true, 16384, &mut out);
        assert_eq!(out, [0, 0, 2, 1, 0x05, 0, 0, 0, 3, 0x82, 0x86]);
    }

    #[test]
    fn encode_split_into_continuations() {
        let mut out = Vec::new();
        Headers::encode(1, &[1, 2, 3, 4, 5], false, 2, &mut out);
        assert_eq!(
            out,
            [
                0, 0, 2, 1, 0, 0, 0, 0, 1, 1, 2, // HEADERS, no END_HEADERS
                0, 0, 2, 9, 0, 0, 0, 0, 1, 3, 4, // CONTINUATION
                0, 0, 1, 9, 4, 0, 0, 0, 1, 5, // CONTINUATION + END_HEADERS
            ]
        );
    }

    #[test]
    fn decode_padded_with_priority() {
        let head = FrameHeader {
            len: 10,
            kind: kind::HEADERS,
            flags: flag::PADDED | flag::PRIORITY | flag::END_HEADERS,
            stream_id: 1,
        };
        // pad=2, 5 priority bytes, 2 bytes of block, 2 padding bytes
        let payload = [2, 0, 0, 0, 3, 16, 0x88, 0x89, 0, 0];
        let h = Headers::decode(&head, &payload).unwrap();
        assert_eq!(h.fragment, &[0x88, 0x89]);
        assert!(h.end_headers);
        assert!(!h.end_stream);
    }

    #[test]
    fn priority_flag_on_short_payload() {
        let head = FrameHeader {
            len: 3,
            kind: kind::HEADERS,
            flags: flag::PRIORITY,
            stream_id: 1,
        };
        assert_eq!(
            Headers::decode(&head, &[0, 0, 0]).unwrap_err().reason,
            Reason::FRAME_SIZE_ERROR
        );
    }
}
