//! Header blocks: HEADERS and CONTINUATION frames reassembled into one block (RFC 9113
//! §6.2, §6.10), its size bounded while it grows, and the block decoded into the stream's
//! response head or trailers.

use super::*;
use crate::conn::recv::DecodedHead;

/// The last head block decoded into a response that had no fields yet, and what it decoded
/// to. A server answering the same resource sends the same head block again and again once
/// its fields are in the HPACK table (only indexes, no insertion); when the bytes match and
/// the table has not changed since, the block decodes to the same fields, already checked,
/// so they are copied instead of decoded, validated and stored one by one.
#[derive(Default)]
pub(super) struct LastHead {
    block: Vec<u8>,
    /// The decoder's generation the block was decoded in; `None`: nothing kept.
    generation: Option<u64>,
    head: DecodedHead,
}

/// The largest head block kept for reuse: typical heads are a few hundred bytes; a large one
/// would be held (twice: the block and its fields) for the connection's life.
const LAST_HEAD_MAX: usize = 2 << 10;

impl LastHead {
    fn matches(&self, block: &[u8], generation: u64) -> bool {
        self.generation == Some(generation) && self.block == block
    }
}

/// A header block being reassembled from HEADERS + CONTINUATION.
pub(super) struct Continuing {
    pub(super) stream_id: u32,
    pub(super) end_stream: bool,
    pub(super) frames: usize,
}

impl<R: AsyncRead + Unpin + Send + 'static> Reader<R> {
    pub(super) fn on_headers(&mut self, head: &FrameHeader, payload: &[u8]) -> Result<(), Error> {
        let h = match Headers::decode(head, payload) {
            Ok(h) => h,
            Err(fe) => return self.frame_error(head.stream_id, fe),
        };
        self.check_stream(head)?;
        if !h.end_headers {
            self.block.clear();
            self.block.extend_from_slice(h.fragment);
            self.cont = Some(Continuing {
                stream_id: h.stream_id,
                end_stream: h.end_stream,
                frames: 0,
            });
            return self.check_block_size();
        }
        self.on_header_block(h.stream_id, h.fragment, h.end_stream)
    }

    pub(super) fn check_block_size(&mut self) -> Result<(), Error> {
        let max = self.cfg.max_header_block();
        if self.block.len() > max {
            return Err(self.trip(
                Trip::HeaderList,
                format!("header block larger than {max} bytes (CONTINUATION flood defence)"),
            ));
        }
        Ok(())
    }

    pub(super) fn on_continuation(
        &mut self,
        head: &FrameHeader,
        payload: &[u8],
    ) -> Result<(), Error> {
        let c = match Continuation::decode(head, payload) {
            Ok(c) => c,
            Err(fe) => return self.frame_error(head.stream_id, fe),
        };
        let max_frames = self.cfg.max_continuation_frames();
        let Some(state) = self.cont.as_mut() else {
            return Err(self.conn_error(
                Reason::PROTOCOL_ERROR,
                format!(
                    "CONTINUATION on stream {} without a preceding HEADERS",
                    c.stream_id
                ),
            ));
        };
        state.frames += 1;
        if state.frames > max_frames {
            return Err(self.trip(
                Trip::Continuation,
                format!("more than {max_frames} CONTINUATION frames in one header block (flood defence)"),
            ));
        }
        self.block.extend_from_slice(c.fragment);
        self.check_block_size()?;
        if c.end_headers {
            if let Some(state) = self.cont.take() {
                let block = std::mem::take(&mut self.block);
                let r = self.on_header_block(state.stream_id, &block, state.end_stream);
                self.block = block;
                self.block.clear();
                return r;
            }
        }
        Ok(())
    }

    /// A stream the server already ended with END_STREAM gets no more DATA or HEADERS
    /// (RFC 9113 §5.1, "closed": a connection error of type STREAM_CLOSED).
    pub(super) fn check_not_ended(&mut self, id: u32, what: &str) -> Result<(), Error> {
        if self.remote_closed.contains(id) {
            return Err(self.conn_error(
                Reason::STREAM_CLOSED,
                format!("{what} on stream {id} after the server ended it with END_STREAM"),
            ));
        }
        Ok(())
    }

    pub(super) fn on_header_block(
        &mut self,
        id: u32,
        block: &[u8],
        end_stream: bool,
    ) -> Result<(), Error> {
        if !self.streams.contains_key(&id) {
            self.check_not_ended(id, "HEADERS")?;
        }
        let read_stamp = self.read_stamp;
        let decoded = match self.streams.get_mut(&id) {
            Some(s) => {
                let ex = s.pending.ex();
                ex.progress.block_received(read_stamp, block.len());
                let b = &mut s.builder;
                b.begin_block();
                let conn = self.shared.id;
                let logged = crate::log::enabled(crate::log::Level::Debug);
                // Fields are logged as decoded: a logging reader decodes every block.
                let fresh = b.is_fresh_head() && !logged;
                let generation = self.dec.generation();
                if fresh && self.last_head.matches(block, generation) {
                    b.replay_head(&self.last_head.head);
                    Ok(true)
                } else {
                    let r = self.dec.decode(block, |n, v| {
                        if logged {
                            crate::conn::log_field(conn, id, '<', n, v);
                        }
                        b.on_field(n, v)
                    });
                    let lh = &mut self.last_head;
                    // Only a block that left the table as it was decodes the same next time.
                    if r.is_ok()
                        && fresh
                        && block.len() <= LAST_HEAD_MAX
                        && self.dec.generation() == generation
                        && b.save_head(&mut lh.head)
                    {
                        lh.block.clear();
                        lh.block.extend_from_slice(block);
                        lh.generation = Some(generation);
                    }
                    r.map(|_| true)
                }
            }
            // A stream we reset or finished: decode anyway to keep the table in sync.
            None => self.dec.decode(block, |_, _| {}).map(|_| false),
        };
        match decoded {
            Err(e) => Err(self.conn_error(Reason::COMPRESSION_ERROR, e.to_string())),
            Ok(false) => Ok(()),
            Ok(true) => {
                let r = match self.streams.get_mut(&id) {
                    Some(s) => {
                        let had_head = s.builder.has_head();
                        let r = s.builder.end_block(end_stream);
                        if !had_head && s.builder.has_head() {
                            let ex = s.pending.ex();
                            if s.builder.is_streaming() {
                                let (status, headers, decoded) = s.builder.take_head();
                                ex.deliver_head(status, headers, decoded);
                            } else {
                                ex.mark_head();
                            }
                        }
                        r
                    }
                    None => return Ok(()),
                };
                match r {
                    Ok(Progress::More) => {}
                    Ok(Progress::Complete) => self.complete(id),
                    Err(f) => self.fault(id, f),
                }
                Ok(())
            }
        }
    }
}
