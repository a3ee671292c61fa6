//! PRIORITY frames (RFC 9113 §6.3): deprecated; we validate the size and ignore the content.

use super::{FrameError, FrameHeader};
use crate::error::Reason;

/// Validates a PRIORITY frame. Its content is ignored (§5.3.2).
pub fn validate(head: &FrameHeader) -> Result<(), FrameError> {
    if head.stream_id == 0 {
        return Err(FrameError::conn(
            Reason::PROTOCOL_ERROR,
            "PRIORITY frame on stream 0",
        ));
    }
    if head.len != 5 {
        return Err(FrameError::stream(
            Reason::FRAME_SIZE_ERROR,
            "PRIORITY frame with a length other than 5",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::kind;

    #[test]
    fn sizes() {
        let h = |len, stream_id| FrameHeader {
            len,
            kind: kind::PRIORITY,
            flags: 0,
            stream_id,
        };
        assert!(validate(&h(5, 1)).is_ok());
        let e = validate(&h(4, 1)).unwrap_err();
        assert!(e.stream_only);
        assert_eq!(e.reason, Reason::FRAME_SIZE_ERROR);
        assert!(!validate(&h(5, 0)).unwrap_err().stream_only);
    }
}
