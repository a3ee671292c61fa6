//! DATA frames (RFC 9113 §6.1).

use super::{encode_header, flag, kind, strip_padding, FrameError, FrameHeader};
use crate::error::Reason;

/// A decoded DATA frame borrowing the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Data<'a> {
    /// Stream the data belongs to (never 0).
    pub stream_id: u32,
    /// The data, padding removed.
    pub data: &'a [u8],
    /// END_STREAM was set.
    pub end_stream: bool,
    /// The whole payload length, padding included: what counts against flow control (§6.9.1).
    pub flow_len: u32,
}

impl<'a> Data<'a> {
    /// Decodes a DATA payload.
    pub fn decode(head: &FrameHeader, payload: &'a [u8]) -> Result<Data<'a>, FrameError> {
        if head.stream_id == 0 {
            return Err(FrameError::conn(
                Reason::PROTOCOL_ERROR,
                "DATA frame on stream 0",
            ));
        }
        let (start, end) = strip_padding(head, payload, 0)?;
        Ok(Data {
            stream_id: head.stream_id,
            data: &payload[start..end],
            end_stream: head.has(flag::END_STREAM),
            flow_len: head.len,
        })
    }

    /// Appends a DATA frame (no padding) carrying `data`.
    pub fn encode(stream_id: u32, data: &[u8], end_stream: bool, dst: &mut Vec<u8>) {
        Self::encode_header(stream_id, data.len(), end_stream, dst);
        dst.extend_from_slice(data);
    }

    /// Appends only the frame header of a DATA frame whose `len` payload bytes the caller
    /// writes next (lets the writer send the body without copying it into the frame buffer).
    pub fn encode_header(stream_id: u32, len: usize, end_stream: bool, dst: &mut Vec<u8>) {
        let flags = if end_stream { flag::END_STREAM } else { 0 };
        encode_header(dst, len, kind::DATA, flags, stream_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(len: u32, flags: u8, stream_id: u32) -> FrameHeader {
        FrameHeader {
            len,
            kind: kind::DATA,
            flags,
            stream_id,
        }
    }

    #[test]
    fn encode_bytes() {
        let mut out = Vec::new();
        Data::encode(1, b"hi", true, &mut out);
        assert_eq!(out, [0, 0, 2, 0, 1, 0, 0, 0, 1, b'h', b'i']);
    }

    #[test]
    fn decode_padded() {
        let payload = [3, b'a', b'b', 0, 0, 0];
        let d = Data::decode(&head(6, flag::PADDED | flag::END_STREAM, 5), &payload).unwrap();
        assert_eq!(d.data, b"ab");
        assert!(d.end_stream);
        assert_eq!(d.flow_len, 6);
    }

    #[test]
    fn stream_zero_is_protocol_error() {
        let e = Data::decode(&head(0, 0, 0), &[]).unwrap_err();
        assert_eq!(e.reason, Reason::PROTOCOL_ERROR);
        assert!(!e.stream_only);
    }
}
