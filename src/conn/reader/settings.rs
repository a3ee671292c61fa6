//! The server's SETTINGS (RFC 9113 §6.5): validated, applied to the receiving side here and
//! to the sending side through `SendControl`, and acknowledged.

use super::*;

impl<R: AsyncRead + Unpin + Send + 'static> Reader<R> {
    pub(super) fn on_settings(&mut self, head: &FrameHeader, payload: &[u8]) -> Result<(), Error> {
        let st = match Settings::decode(head, payload) {
            Ok(s) => s,
            Err(fe) => return self.frame_error(0, fe),
        };
        if st.ack {
            if !self.settings_acked {
                self.settings_acked = true;
                self.dec
                    .set_max_table_size(self.cfg.header_table_size as usize);
            }
            return Ok(());
        }
        let mut ps = PeerSettings::default();
        let mut max_streams = None;
        for s in st.iter().flatten() {
            match s {
                Setting::HeaderTableSize(v) => ps.header_table_size = Some(v),
                Setting::InitialWindowSize(v) => ps.initial_window_size = Some(v),
                Setting::MaxFrameSize(v) => ps.max_frame_size = Some(v),
                Setting::MaxHeaderListSize(v) => ps.max_header_list_size = Some(v),
                Setting::MaxConcurrentStreams(v) => max_streams = Some(v),
                Setting::EnablePush(_) | Setting::Unknown(..) => {}
            }
        }
        if let Some(v) = ps.initial_window_size {
            let delta = crate::conn::window::initial_delta(self.peer_initial_window, v);
            if let Some((id, _)) = self
                .streams
                .iter()
                .find(|(_, s)| !s.has_body && s.send_window.would_overflow(delta))
            {
                let what = format!(
                    "SETTINGS_INITIAL_WINDOW_SIZE change overflows the send window of stream {id}"
                );
                return Err(self.conn_error(Reason::FLOW_CONTROL_ERROR, what));
            }
            self.peer_initial_window = i64::from(v);
            for s in self.streams.values_mut().filter(|s| !s.has_body) {
                s.send_window.adjust(delta);
            }
        }
        let first = !self.got_settings;
        self.got_settings = true;
        if max_streams.is_some() || first {
            // Absent from the first SETTINGS means unlimited (§6.5.2).
            let announced = max_streams.unwrap_or(u32::MAX);
            self.shared
                .set_limit(announced.min(self.cfg.max_concurrent_streams));
            if let Some(pool) = self.shared.pool.upgrade() {
                pool.on_limit_announced(announced);
            }
        }
        self.ack_queued()?;
        match self.send.apply_settings(ps) {
            Ok(wake) => self.wake_writer |= wake,
            Err(what) => return Err(self.conn_error(Reason::FLOW_CONTROL_ERROR, what)),
        }
        events::emit(&self.cfg.events, || {
            let mut ev = events::event(
                EventKind::Settings,
                self.shared.id,
                0,
                format!(
                    "SETTINGS max_concurrent_streams={} initial_window_size={} max_frame_size={} header_table_size={} max_header_list_size={}",
                    max_streams.map_or("unlimited".into(), |v| v.to_string()),
                    ps.initial_window_size.map_or("-".into(), |v| v.to_string()),
                    ps.max_frame_size.map_or("-".into(), |v| v.to_string()),
                    ps.header_table_size.map_or("-".into(), |v| v.to_string()),
                    ps.max_header_list_size.map_or("-".into(), |v| v.to_string()),
                ),
            );
            ev.value = u64::from(max_streams.unwrap_or(u32::MAX));
            ev
        });
        if first && self.ping.is_none() {
            // An early round-trip sample, before any keepalive is due.
            self.send_ping(Instant::now());
        }
        Ok(())
    }
}
