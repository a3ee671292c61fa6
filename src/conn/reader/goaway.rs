//! GOAWAY (RFC 9113 §6.8): what the server says it processed, and what follows for the
//! streams above its last stream id.

use super::*;

/// The server's GOAWAY.
pub(super) struct GoAwayInfo {
    pub(super) last_stream_id: u32,
    pub(super) reason: Reason,
    pub(super) debug: String,
}

impl GoAwayInfo {
    pub(super) fn describe(&self) -> String {
        let mut s = format!(
            "GOAWAY({}, last_stream_id={}) sent by the server",
            self.reason, self.last_stream_id
        );
        if !self.debug.is_empty() {
            s.push_str(&format!(": debug data '{}'", self.debug));
        }
        s
    }

    /// The error of a request that the GOAWAY concerns: `then` follows the GOAWAY's
    /// description in the message.
    pub(super) fn error(&self, then: &str, processed: Processed) -> Error {
        Error::new(ErrorKind::GoAway, format!("{}{then}", self.describe()))
            .with_reason(self.reason)
            .with_goaway(self.last_stream_id)
            .with_origin(Origin::Remote)
            .with_processed(processed)
    }
}

impl<R: AsyncRead + Unpin + Send + 'static> Reader<R> {
    pub(super) fn on_goaway(&mut self, head: &FrameHeader, payload: &[u8]) -> Result<(), Error> {
        let g = match GoAway::decode(head, payload) {
            Ok(g) => g,
            Err(fe) => return self.frame_error(0, fe),
        };
        // The last stream id may only go down (§6.8).
        let last = match &self.goaway {
            Some(prev) => prev.last_stream_id.min(g.last_stream_id),
            None => g.last_stream_id,
        };
        let info = GoAwayInfo {
            last_stream_id: last,
            reason: g.reason,
            debug: crate::diagnose::lossy(g.debug_data, 200),
        };
        events::emit(&self.cfg.events, || {
            let mut ev = events::event(EventKind::GoAway, self.shared.id, 0, info.describe());
            ev.h2_error = info.reason.0;
            ev.value = u64::from(info.last_stream_id);
            ev
        });
        self.goaway = Some(info);
        self.shared.set_going_away();
        let above: Vec<u32> = self
            .streams
            .keys()
            .copied()
            .filter(|&id| id > last)
            .collect();
        for id in above {
            if let Some(s) = self.remove(id) {
                if s.has_body {
                    let _ = self.shared.send_cmd(Command::StopSending {
                        stream_id: id,
                        rst_if_sending: None,
                    });
                }
                let err = self.eof_error();
                self.end_stream_with(id, s, &err);
            }
        }
        self.request_drain();
        Ok(())
    }
}
