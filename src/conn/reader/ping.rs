//! PING (RFC 9113 §6.7): the server's are answered (within the pending-acknowledgement
//! limit), ours measure the round trip and keep an idle connection alive.

use super::*;

impl<R: AsyncRead + Unpin + Send + 'static> Reader<R> {
    /// Sends a PING whose ACK proves the peer alive and measures the round trip.
    pub(super) fn send_ping(&mut self, now: Instant) {
        self.ping_count += 1;
        let payload = self.ping_count.to_be_bytes();
        self.ping = Some((payload, now, now + self.cfg.keepalive_timeout));
        let _ = self.shared.send_cmd(Command::Ping(payload));
    }

    pub(super) fn on_ping(&mut self, head: &FrameHeader, payload: &[u8]) -> Result<(), Error> {
        let p = match Ping::decode(head, payload) {
            Ok(p) => p,
            Err(fe) => return self.frame_error(0, fe),
        };
        if p.ack {
            if let Some((want, sent, _)) = self.ping {
                if want == p.payload {
                    self.ping = None;
                    let rtt = sent.elapsed();
                    self.shared.record_rtt(rtt);
                    events::emit(&self.cfg.events, || {
                        let mut ev = events::event(
                            EventKind::Rtt,
                            self.shared.id,
                            0,
                            format!("PING round trip {} us", rtt.as_micros()),
                        );
                        ev.value = rtt.as_micros() as u64;
                        ev
                    });
                }
            }
        } else {
            self.ack_queued()?;
            Ping::encode(true, p.payload, &mut self.out);
            self.out_acks += 1;
        }
        Ok(())
    }

    /// An acknowledgement (PING or SETTINGS) is queued for the writer: a server that floods us
    /// with PINGs or SETTINGS while not reading what we write makes these pile up.
    pub(super) fn ack_queued(&mut self) -> Result<(), Error> {
        let n = self.shared.pending_acks.fetch_add(1, Ordering::AcqRel) + 1;
        if n > self.cfg.max_pending_acks {
            return Err(self.trip(
                Trip::Acks,
                format!("PING/SETTINGS flood: {n} acknowledgements waiting to be written"),
            ));
        }
        Ok(())
    }
}
