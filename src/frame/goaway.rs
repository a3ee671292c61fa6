//! GOAWAY frames (RFC 9113 §6.8).

use super::{encode_header, kind, FrameError, FrameHeader, MAX_STREAM_ID};
use crate::error::Reason;

/// A decoded GOAWAY frame borrowing the read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoAway<'a> {
    /// Highest stream id the server may have processed.
    pub last_stream_id: u32,
    /// Why the connection is going away.
    pub reason: Reason,
    /// Opaque diagnostic data.
    pub debug_data: &'a [u8],
}

impl<'a> GoAway<'a> {
    /// Decodes a GOAWAY payload.
    pub fn decode(head: &FrameHeader, payload: &'a [u8]) -> Result<GoAway<'a>, FrameError> {
        if head.stream_id != 0 {
            return Err(FrameError::conn(
                Reason::PROTOCOL_ERROR,
                "GOAWAY frame on a stream other than 0",
            ));
        }
        if payload.len() < 8 {
            return Err(FrameError::conn(
                Reason::FRAME_SIZE_ERROR,
                "GOAWAY frame shorter than 8 bytes",
            ));
        }
        let last = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
        let code = u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]);
        Ok(GoAway {
            last_stream_id: last & MAX_STREAM_ID,
            reason: Reason(code),
            debug_data: &payload[8..],
        })
    }

    /// Appends a GOAWAY frame.
    pub fn encode(last_stream_id: u32, reason: Reason, debug_data: &[u8], dst: &mut Vec<u8>) {
        encode_header(dst, 8 + debug_data.len(), kind::GOAWAY, 0, 0);
        dst.extend_from_slice(&(last_stream_id & MAX_STREAM_ID).to_be_bytes());
        dst.extend_from_slice(&reason.0.to_be_bytes());
        dst.extend_from_slice(debug_data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut out = Vec::new();
        GoAway::encode(5, Reason::ENHANCE_YOUR_CALM, b"slow down", &mut out);
        assert_eq!(
            &out[..17],
            &[0, 0, 17, 7, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0xb]
        );
        let head = FrameHeader::parse(&out).unwrap();
        let g = GoAway::decode(&head, &out[9..]).unwrap();
        assert_eq!(g.last_stream_id, 5);
        assert_eq!(g.reason, Reason::ENHANCE_YOUR_CALM);
        assert_eq!(g.debug_data, b"slow down");
    }

    #[test]
    fn short() {
        let head = FrameHeader {
            len: 4,
            kind: kind::GOAWAY,
            flags: 0,
            stream_id: 0,
        };
        assert_eq!(
            GoAway::decode(&head, &[0; 4]).unwrap_err().reason,
            Reason::FRAME_SIZE_ERROR
        );
    }
}
