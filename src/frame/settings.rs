//! SETTINGS frames (RFC 9113 §6.5).

use super::{
    encode_header, flag, kind, FrameError, FrameHeader, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE,
};
use crate::error::Reason;

/// One setting parameter identifier and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// SETTINGS_HEADER_TABLE_SIZE (0x1)
    HeaderTableSize(u32),
    /// SETTINGS_ENABLE_PUSH (0x2)
    EnablePush(u32),
    /// SETTINGS_MAX_CONCURRENT_STREAMS (0x3)
    MaxConcurrentStreams(u32),
    /// SETTINGS_INITIAL_WINDOW_SIZE (0x4)
    InitialWindowSize(u32),
    /// SETTINGS_MAX_FRAME_SIZE (0x5)
    MaxFrameSize(u32),
    /// SETTINGS_MAX_HEADER_LIST_SIZE (0x6)
    MaxHeaderListSize(u32),
    /// Any identifier we do not know; must be ignored (§6.5.2).
    Unknown(u16, u32),
}

impl Setting {
    fn id_value(self) -> (u16, u32) {
        match self {
            Setting::HeaderTableSize(v) => (1, v),
            Setting::EnablePush(v) => (2, v),
            Setting::MaxConcurrentStreams(v) => (3, v),
            Setting::InitialWindowSize(v) => (4, v),
            Setting::MaxFrameSize(v) => (5, v),
            Setting::MaxHeaderListSize(v) => (6, v),
            Setting::Unknown(id, v) => (id, v),
        }
    }

    fn from_id_value(id: u16, v: u32) -> Result<Setting, FrameError> {
        Ok(match id {
            1 => Setting::HeaderTableSize(v),
            2 if v > 1 => {
                return Err(FrameError::conn(
                    Reason::PROTOCOL_ERROR,
                    "SETTINGS_ENABLE_PUSH other than 0 or 1",
                ))
            }
            // A server must not enable push towards a client (§6.5.2).
            2 if v == 1 => {
                return Err(FrameError::conn(
                    Reason::PROTOCOL_ERROR,
                    "server sent SETTINGS_ENABLE_PUSH = 1",
                ))
            }
            2 => Setting::EnablePush(v),
            3 => Setting::MaxConcurrentStreams(v),
            4 if v > MAX_WINDOW_SIZE => {
                return Err(FrameError::conn(
                    Reason::FLOW_CONTROL_ERROR,
                    "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
                ))
            }
            4 => Setting::InitialWindowSize(v),
            5 if !(super::DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&v) => {
                return Err(FrameError::conn(
                    Reason::PROTOCOL_ERROR,
                    "SETTINGS_MAX_FRAME_SIZE outside 16384..=16777215",
                ))
            }
            5 => Setting::MaxFrameSize(v),
            6 => Setting::MaxHeaderListSize(v),
            _ => Setting::Unknown(id, v),
        })
    }
}

/// A decoded SETTINGS frame borrowing the read buffer; iterate it with [`Settings::iter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings<'a> {
    /// ACK flag: acknowledges our SETTINGS; then the payload is empty.
    pub ack: bool,
    payload: &'a [u8],
}

impl<'a> Settings<'a> {
    /// Decodes and validates a SETTINGS payload (every value is checked up front so that a bad
    /// frame is rejected before any of it is applied).
    pub fn decode(head: &FrameHeader, payload: &'a [u8]) -> Result<Settings<'a>, FrameError> {
        if head.stream_id != 0 {
            return Err(FrameError::conn(
                Reason::PROTOCOL_ERROR,
                "SETTINGS frame on a stream other than 0",
            ));
        }
        let ack = head.has(flag::ACK);
        if ack && !payload.is_empty() {
            return Err(FrameError::conn(
                Reason::FRAME_SIZE_ERROR,
                "SETTINGS ACK with a payload",
            ));
        }
        if !payload.len().is_multiple_of(6) {
            return Err(FrameError::conn(
                Reason::FRAME_SIZE_ERROR,
                "SETTINGS length not a multiple of 6",
            ));
        }
        let s = Settings { ack, payload };
        for item in s.iter() {
            item?;
        }
        Ok(s)
    }

    /// The parameters in order.
    pub fn iter(&self) -> SettingsIter<'a> {
        SettingsIter { rest: self.payload }
    }

    /// Appends a SETTINGS frame with `params`.
    pub fn encode(params: &[Setting], dst: &mut Vec<u8>) {
        encode_header(dst, params.len() * 6, kind::SETTINGS, 0, 0);
        for p in params {
            let (id, v) = p.id_value();
            dst.extend_from_slice(&id.to_be_bytes());
            dst.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// Appends a SETTINGS ACK.
    pub fn encode_ack(dst: &mut Vec<u8>) {
        encode_header(dst, 0, kind::SETTINGS, flag::ACK, 0);
    }
}

/// Iterator over the parameters of a SETTINGS frame.
pub struct SettingsIter<'a> {
    rest: &'a [u8],
}

impl Iterator for SettingsIter<'_> {
    type Item = Result<Setting, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (p, rest) = self.rest.split_first_chunk::<6>()?;
        self.rest = rest;
        let id = u16::from_be_bytes([p[0], p[1]]);
        let v = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
        Some(Setting::from_id_value(id, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(len: usize, flags: u8) -> FrameHeader {
        FrameHeader {
            len: len as u32,
            kind: kind::SETTINGS,
            flags,
            stream_id: 0,
        }
    }

    #[test]
    fn encode_bytes_and_decode() {
        let mut out = Vec::new();
        Settings::encode(
            &[Setting::EnablePush(0), Setting::InitialWindowSize(0x10000)],
            &mut out,
        );
        assert_eq!(
            out,
            [0, 0, 12, 4, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0]
        );
        let s = Settings::decode(&head(12, 0), &out[9..]).unwrap();
        let v: Vec<_> = s.iter().map(|r| r.unwrap()).collect();
        assert_eq!(
            v,
            [Setting::EnablePush(0), Setting::InitialWindowSize(0x10000)]
        );
    }

    #[test]
    fn ack() {
        let mut out = Vec::new();
        Settings::encode_ack(&mut out);
        assert_eq!(out, [0, 0, 0, 4, 1, 0, 0, 0, 0]);
        assert!(Settings::decode(&head(0, flag::ACK), &[]).unwrap().ack);
        assert_eq!(
            Settings::decode(&head(6, flag::ACK), &[0; 6])
                .unwrap_err()
                .reason,
            Reason::FRAME_SIZE_ERROR
        );
    }

    #[test]
    fn invalid_values() {
        let one = |id: u16, v: u32| {
            let mut p = id.to_be_bytes().to_vec();
            p.extend_from_slice(&v.to_be_bytes());
            Settings::decode(&head(6, 0), &p).map(|_| ())
        };
        assert_eq!(one(2, 1).unwrap_err().reason, Reason::PROTOCOL_ERROR);
        assert_eq!(one(2, 2).unwrap_err().reason, Reason::PROTOCOL_ERROR);
        assert_eq!(
            one(4, 1 << 31).unwrap_err().reason,
            Reason::FLOW_CONTROL_ERROR
        );
        assert_eq!(one(5, 16383).unwrap_err().reason, Reason::PROTOCOL_ERROR);
        assert_eq!(one(5, 1 << 24).unwrap_err().reason, Reason::PROTOCOL_ERROR);
        assert!(one(5, 16384).is_ok());
        assert!(one(0x99, 12345).is_ok()); // unknown: ignored
        assert_eq!(
            Settings::decode(&head(5, 0), &[0; 5]).unwrap_err().reason,
            Reason::FRAME_SIZE_ERROR
        );
    }
}
