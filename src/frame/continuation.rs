//! CONTINUATION frames (RFC 9113 §6.10). Encoding happens in [`super::Headers::encode`].

use super::{flag, FrameError, FrameHeader};
use crate::error::Reason;

/// A decoded CONTINUATION frame borrowing the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Continuation<'a> {
    /// Stream id (never 0).
    pub stream_id: u32,
    /// The header block fragment.
    pub fragment: &'a [u8],
    /// END_HEADERS was set.
    pub end_headers: bool,
}

impl<'a> Continuation<'a> {
    /// Decodes a CONTINUATION payload.
    pub fn decode(head: &FrameHeader, payload: &'a [u8]) -> Result<Continuation<'a>, FrameError> {
        if head.stream_id == 0 {
            return Err(FrameError::conn(
                Reason::PROTOCOL_ERROR,
                "CONTINUATION frame on stream 0",
            ));
        }
        Ok(Continuation {
            stream_id: head.stream_id,
            fragment: payload,
            end_headers: head.has(flag::END_HEADERS),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::kind;

    #[test]
    fn decode() {
        let head = FrameHeader {
            len: 2,
            kind: kind::CONTINUATION,
            flags: flag::END_HEADERS,
            stream_id: 7,
        };
        let c = Continuation::decode(&head, &[1, 2]).unwrap();
        assert_eq!(c.fragment, &[1, 2]);
        assert!(c.end_headers);
        let head0 = FrameHeader {
            stream_id: 0,
            ..head
        };
        assert_eq!(
            Continuation::decode(&head0, &[]).unwrap_err().reason,
            Reason::PROTOCOL_ERROR
        );
    }
}
