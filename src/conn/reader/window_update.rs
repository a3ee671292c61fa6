//! WINDOW_UPDATE (RFC 9113 §6.9): credits to the send windows, applied as the frame arrives
//! so that an overflow is answered at the frame that caused it.

use super::*;

impl<R: AsyncRead + Unpin + Send + 'static> Reader<R> {
    pub(super) fn on_window_update(
        &mut self,
        head: &FrameHeader,
        payload: &[u8],
    ) -> Result<(), Error> {
        let w = match WindowUpdate::decode(head, payload) {
            Ok(w) => w,
            Err(fe) => {
                if fe.stream_only {
                    self.check_stream(head)?;
                }
                return self.frame_error(head.stream_id, fe);
            }
        };
        if w.stream_id != 0 {
            self.check_stream(head)?;
            let Some(s) = self.streams.get_mut(&w.stream_id) else {
                // A closed stream: legal (the frame may have crossed our END_STREAM or
                // RST_STREAM), and nothing to do.
                return Ok(());
            };
            if !s.has_body {
                if s.send_window.credit(w.increment) == WindowOutcome::Overflow {
                    let id = w.stream_id;
                    self.stream_error(
                        id,
                        Reason::FLOW_CONTROL_ERROR,
                        &format!("WINDOW_UPDATE overflows the send window of stream {id}"),
                    );
                }
                return Ok(());
            }
        }
        // Applied now, so that an overflow stops processing at this frame; the writer is
        // woken once per read (a flood of tiny increments costs no command per frame).
        let (outcome, wake) = self.send.open_window(w.stream_id, w.increment);
        self.wake_writer |= wake;
        if outcome == WindowOutcome::Overflow {
            let id = w.stream_id;
            if id == 0 {
                return Err(self.conn_error(
                    Reason::FLOW_CONTROL_ERROR,
                    "WINDOW_UPDATE overflows the connection send window",
                ));
            }
            self.stream_error(
                id,
                Reason::FLOW_CONTROL_ERROR,
                &format!("WINDOW_UPDATE overflows the send window of stream {id}"),
            );
        }
        Ok(())
    }
}
