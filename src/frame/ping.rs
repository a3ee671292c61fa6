//! PING frames (RFC 9113 §6.7).

use super::{encode_header, flag, kind, FrameError, FrameHeader};
use crate::error::Reason;

/// A decoded PING frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping {
    /// ACK flag set: this answers one of our PINGs.
    pub ack: bool,
    /// Opaque data, echoed in the ACK.
    pub payload: [u8; 8],
}

impl Ping {
    /// Decodes a PING payload.
    pub fn decode(head: &FrameHeader, payload: &[u8]) -> Result<Ping, FrameError> {
        if head.stream_id != 0 {
            return Err(FrameError::conn(
                Reason::PROTOCOL_ERROR,
                "PING frame on a stream other than 0",
            ));
        }
        let p: [u8; 8] = payload.try_into().map_err(|_| {
            FrameError::conn(
                Reason::FRAME_SIZE_ERROR,
                "PING frame with a length other than 8",
            )
        })?;
        Ok(Ping {
            ack: head.has(flag::ACK),
            payload: p,
        })
    }

    /// Appends a PING frame.
    pub fn encode(ack: bool, payload: [u8; 8], dst: &mut Vec<u8>) {
        encode_header(dst, 8, kind::PING, if ack { flag::ACK } else { 0 }, 0);
        dst.extend_from_slice(&payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut out = Vec::new();
        Ping::encode(true, *b"12345678", &mut out);
        assert_eq!(&out[..9], &[0, 0, 8, 6, 1, 0, 0, 0, 0]);
        let head = FrameHeader::parse(&out).unwrap();
        let p = Ping::decode(&head, &out[9..]).unwrap();
        assert!(p.ack);
        assert_eq!(&p.payload, b"12345678");
    }

    #[test]
    fn errors() {
        let head = FrameHeader {
            len: 7,
            kind: kind::PING,
            flags: 0,
            stream_id: 0,
        };
        assert_eq!(
            Ping::decode(&head, &[0; 7]).unwrap_err().reason,
            Reason::FRAME_SIZE_ERROR
        );
        let head = FrameHeader {
            len: 8,
            stream_id: 1,
            ..head
        };
        assert_eq!(
            Ping::decode(&head, &[0; 8]).unwrap_err().reason,
            Reason::PROTOCOL_ERROR
        );
    }
}
