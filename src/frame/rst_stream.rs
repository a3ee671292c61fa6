//! RST_STREAM frames (RFC 9113 §6.4).

use super::{encode_header, kind, FrameError, FrameHeader};
use crate::error::Reason;

/// A decoded RST_STREAM frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RstStream {
    /// Stream being reset (never 0).
    pub stream_id: u32,
    /// Why.
    pub reason: Reason,
}

impl RstStream {
    /// Decodes a RST_STREAM payload.
    pub fn decode(head: &FrameHeader, payload: &[u8]) -> Result<RstStream, FrameError> {
        if head.stream_id == 0 {
            return Err(FrameError::conn(
                Reason::PROTOCOL_ERROR,
                "RST_STREAM frame on stream 0",
            ));
        }
        let b: [u8; 4] = payload.try_into().map_err(|_| {
            FrameError::conn(
                Reason::FRAME_SIZE_ERROR,
                "RST_STREAM frame with a length other than 4",
            )
        })?;
        Ok(RstStream {
            stream_id: head.stream_id,
            reason: Reason(u32::from_be_bytes(b)),
        })
    }

    /// Appends a RST_STREAM frame.
    pub fn encode(stream_id: u32, reason: Reason, dst: &mut Vec<u8>) {
        encode_header(dst, 4, kind::RST_STREAM, 0, stream_id);
        dst.extend_from_slice(&reason.0.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut out = Vec::new();
        RstStream::encode(3, Reason::CANCEL, &mut out);
        assert_eq!(out, [0, 0, 4, 3, 0, 0, 0, 0, 3, 0, 0, 0, 8]);
        let head = FrameHeader::parse(&out).unwrap();
        assert_eq!(
            RstStream::decode(&head, &out[9..]).unwrap(),
            RstStream {
                stream_id: 3,
                reason: Reason::CANCEL
            }
        );
    }

    #[test]
    fn bad_length() {
        let head = FrameHeader {
            len: 3,
            kind: kind::RST_STREAM,
            flags: 0,
            stream_id: 1,
        };
        assert_eq!(
            RstStream::decode(&head, &[0, 0, 0]).unwrap_err().reason,
            Reason::FRAME_SIZE_ERROR
        );
    }
}
