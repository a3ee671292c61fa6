//! Room in the reader's buffer for the next socket read.
//!
//! A streaming call's DATA is handed to the caller as a slice of the read buffer (no copy),
//! which keeps that buffer's allocation alive until the caller has read it. Growing the
//! buffer meanwhile cannot reuse the allocation, and a fresh 64 KiB one every few TLS records
//! costs the allocator and, as glibc trims and regrows its heap, page faults on every first
//! touch (11 % of the CPU of a 1 MiB download through the Go binding, where the caller reads
//! on another thread). So a buffer still shared when room is needed is set aside, and one set
//! aside earlier whose slices have all been dropped since is taken back instead of allocating.
//! A connection that goes idle (no open stream) gives its buffers to a small pool shared by
//! all connections rather than keep them (an idle connection holds 4 KiB), and takes from it
//! when it needs room again: a program's next request, on this connection or another, reuses
//! them. Never blocks: a contended pool (or one a `fork()` left locked) is skipped.

use std::sync::Mutex;

use bytes::BytesMut;

/// Read buffer growth step.
const READ_CHUNK: usize = 64 << 10;
/// Read buffer of a connection without open streams (PING, SETTINGS, GOAWAY fit).
pub(super) const IDLE_READ_CHUNK: usize = 4 << 10;
/// Buffers set aside at most (4 MiB of them, the default stream window: as much as one stream
/// may have unread), while slices of them are still to be read. They hold memory the
/// connection already needed for that backlog, and only while it has open streams.
const MAX_SET_ASIDE: usize = 64;

/// Buffers of idle connections, for any connection's next reads: at most this many.
const MAX_POOLED: usize = 32;

static POOL: Mutex<Vec<BytesMut>> = Mutex::new(Vec::new());

/// Buffers whose allocations slices still shared when the reader needed room.
#[derive(Default)]
pub(super) struct SetAside {
    bufs: Vec<BytesMut>,
}

impl SetAside {
    /// Room for the next read in `buf`: `READ_CHUNK` while streams are open (`busy`) or a
    /// frame is partly read; a small buffer for an idle connection, so that it does not pin
    /// 64 KiB (a thousand idle connections would hold 64 MiB that nothing reads into).
    pub(super) fn make_room(&mut self, buf: &mut BytesMut, busy: bool) {
        if buf.is_empty() && !busy {
            if buf.capacity() > IDLE_READ_CHUNK {
                let full = std::mem::replace(buf, BytesMut::with_capacity(IDLE_READ_CHUNK));
                self.bufs.push(full);
            }
            pool_give(&mut self.bufs);
            return;
        }
        if buf.capacity() - buf.len() >= READ_CHUNK / 4 || buf.try_reclaim(READ_CHUNK) {
            return;
        }
        // A buffer set aside is taken back with half a chunk of room beyond the unread bytes
        // (a new one has a whole chunk: asking as much of the old would refuse them all).
        let unread = buf.len();
        let want = unread + READ_CHUNK / 2;
        let mut next = match self.bufs.iter_mut().position(|b| b.try_reclaim(want)) {
            Some(i) => self.bufs.swap_remove(i),
            // Doubling with the unread bytes: a large frame arriving in pieces is copied
            // O(its size) times in all, not once per chunk.
            None => pool_take(want)
                .unwrap_or_else(|| BytesMut::with_capacity((unread + READ_CHUNK).max(2 * unread))),
        };
        // The unread part (a frame's beginning) moves: at most one frame's bytes.
        next.extend_from_slice(buf);
        let mut old = std::mem::replace(buf, next);
        old.clear();
        if self.bufs.len() >= MAX_SET_ASIDE {
            // Slices of the oldest are still unread: it is the caller's to free.
            self.bufs.remove(0);
        }
        self.bufs.push(old);
    }
}

/// Moves `bufs` to the pool (the oldest pooled ones go if it is full); drops them if the
/// pool is busy.
fn pool_give(bufs: &mut Vec<BytesMut>) {
    if bufs.is_empty() {
        return;
    }
    if let Ok(mut pool) = POOL.try_lock() {
        for mut b in bufs.drain(..) {
            b.clear();
            if pool.len() >= MAX_POOLED {
                pool.remove(0);
            }
            pool.push(b);
        }
    }
    bufs.clear();
}

/// A pooled buffer with room for `want` bytes whose slices are all dropped, if any.
fn pool_take(want: usize) -> Option<BytesMut> {
    let mut pool = POOL.try_lock().ok()?;
    let i = pool.iter_mut().position(|b| b.try_reclaim(want))?;
    Some(pool.swap_remove(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer whose slices are all dropped is used again; one still shared is not.
    #[test]
    fn a_buffer_is_reused_once_its_slices_are_dropped() {
        let mut set = SetAside::default();
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let first = buf.as_ptr() as usize;
        buf.resize(READ_CHUNK - 100, 7);
        let slice = buf.split().freeze(); // a streaming call's DATA, not read yet
        buf.extend_from_slice(b"partial frame");
        set.make_room(&mut buf, true);
        assert_eq!(&buf[..], b"partial frame", "the unread bytes moved");
        assert!(buf.capacity() - buf.len() >= READ_CHUNK / 4);
        let second = buf.as_ptr() as usize;
        assert!(
            second < first || second >= first + READ_CHUNK,
            "a new allocation"
        );

        // The caller reads (drops) the slice: the first allocation comes back.
        drop(slice);
        buf.resize(buf.capacity(), 1); // the second buffer fills up
        let held = buf.split_to(buf.len() - 5).freeze(); // handed out; 5 bytes of a frame left
        set.make_room(&mut buf, true);
        assert_eq!(
            buf.as_ptr() as usize,
            first,
            "the set-aside buffer is reused"
        );
        assert_eq!(&buf[..], &[1; 5]);
        assert!(buf.capacity() >= READ_CHUNK);
        drop(held);

        // Idle: everything set aside goes to the pool, the buffer shrinks; the next busy
        // read takes a pooled buffer back (this one or another test's: a 64 KiB one).
        buf.clear();
        set.make_room(&mut buf, false);
        assert!(set.bufs.is_empty());
        assert!(buf.capacity() <= IDLE_READ_CHUNK);
        assert!(!POOL.lock().unwrap().is_empty());
        buf.resize(buf.capacity(), 0);
        let _held = buf.split_to(buf.len() - 1).freeze();
        set.make_room(&mut buf, true);
        assert!(buf.capacity() > READ_CHUNK / 2);
    }

    /// Slices never read do not make it hold more than a few buffers.
    #[test]
    fn buffers_still_shared_are_bounded() {
        let mut set = SetAside::default();
        let mut buf = BytesMut::new();
        let mut unread = Vec::new();
        for _ in 0..20 {
            set.make_room(&mut buf, true);
            let room = buf.capacity() - buf.len();
            buf.resize(buf.len() + room, 0);
            unread.push(buf.split().freeze());
        }
        assert!(set.bufs.len() <= MAX_SET_ASIDE);
    }
}
