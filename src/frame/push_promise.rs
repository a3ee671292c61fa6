//! PUSH_PROMISE frames (RFC 9113 §6.6). We advertise SETTINGS_ENABLE_PUSH = 0, so receiving one
//! is a connection error; we only parse enough to report it.

use super::{FrameError, FrameHeader};
use crate::error::Reason;

/// PUSH_PROMISE marker type.
pub struct PushPromise;

impl PushPromise {
    /// Always a PROTOCOL_ERROR: push was disabled in our SETTINGS (§8.4).
    pub fn reject(_head: &FrameHeader) -> FrameError {
        FrameError::conn(
            Reason::PROTOCOL_ERROR,
            "PUSH_PROMISE received although SETTINGS_ENABLE_PUSH is 0",
        )
    }
}
