//! WINDOW_UPDATE frames (RFC 9113 §6.9).

use super::{encode_header, kind, FrameError, FrameHeader};
use crate::error::Reason;

/// A decoded WINDOW_UPDATE frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowUpdate {
    /// 0 for the connection window, else the stream's.
    pub stream_id: u32,
    /// Window increment (1..=2^31-1).
    pub increment: u32,
}

impl WindowUpdate {
    /// Decodes a WINDOW_UPDATE payload. A zero increment is a stream error on a stream and a
    /// connection error on stream 0 (§6.9).
    pub fn decode(head: &FrameHeader, payload: &[u8]) -> Result<WindowUpdate, FrameError> {
        let b: [u8; 4] = payload.try_into().map_err(|_| {
            FrameError::conn(
                Reason::FRAME_SIZE_ERROR,
                "WINDOW_UPDATE frame with a length other than 4",
            )
        })?;
        let increment = u32::from_be_bytes(b) & 0x7fff_ffff;
        if increment == 0 {
            let what = "WINDOW_UPDATE with an increment of 0";
            return Err(if head.stream_id == 0 {
                FrameError::conn(Reason::PROTOCOL_ERROR, what)
            } else {
                FrameError::stream(Reason::PROTOCOL_ERROR, what)
            });
        }
        Ok(WindowUpdate {
            stream_id: head.stream_id,
            increment,
        })
    }

    /// Appends a WINDOW_UPDATE frame; nothing for an increment of 0, which the peer must treat
    /// as a PROTOCOL_ERROR (§6.9): no caller can emit one by rounding a threshold down.
    pub fn encode(stream_id: u32, increment: u32, dst: &mut Vec<u8>) {
        if increment & 0x7fff_ffff == 0 {
            return;
        }
        encode_header(dst, 4, kind::WINDOW_UPDATE, 0, stream_id);
        dst.extend_from_slice(&(increment & 0x7fff_ffff).to_be_bytes());
    }
}

/// Whether `unacked` consumed bytes are worth a WINDOW_UPDATE for a window of `window_size`:
/// at half the window, and never for nothing (with a window of 1, half rounds down to 0).
pub fn update_due(unacked: u32, window_size: u32) -> bool {
    unacked > 0 && unacked >= (window_size / 2).max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_update_for_nothing_at_the_smallest_windows() {
        for size in [0, 1, 2, 3] {
            assert!(!super::update_due(0, size), "{size}");
            assert!(super::update_due(1, size), "{size}");
        }
        assert!(!super::update_due(32766, 65535));
        assert!(super::update_due(32767, 65535));
        let mut out = Vec::new();
        super::WindowUpdate::encode(1, 0, &mut out);
        super::WindowUpdate::encode(1, 0x8000_0000, &mut out);
        assert!(out.is_empty());
    }

    use super::*;

    #[test]
    fn round_trip() {
        let mut out = Vec::new();
        WindowUpdate::encode(0, 0x7fff_0000, &mut out);
        assert_eq!(out, [0, 0, 4, 8, 0, 0, 0, 0, 0, 0x7f, 0xff, 0, 0]);
        let head = FrameHeader::parse(&out).unwrap();
        assert_eq!(
            WindowUpdate::decode(&head, &out[9..]).unwrap().increment,
            0x7fff_0000
        );
    }

    #[test]
    fn zero_increment() {
        let h = |stream_id| FrameHeader {
            len: 4,
            kind: kind::WINDOW_UPDATE,
            flags: 0,
            stream_id,
        };
        assert!(
            WindowUpdate::decode(&h(1), &[0; 4])
                .unwrap_err()
                .stream_only
        );
        assert!(
            !WindowUpdate::decode(&h(0), &[0; 4])
                .unwrap_err()
                .stream_only
        );
        // The reserved bit is ignored: 0x80000000 is an increment of 0.
        assert!(WindowUpdate::decode(&h(0), &[0x80, 0, 0, 0]).is_err());
    }
}
