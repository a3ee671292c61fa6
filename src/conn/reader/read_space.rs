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
/// Buffers set aside at most, while slices of them are still to be read: as many as a
/// stream's default window (4 MiB) fills with buffers of a chunk and a frame. With
/// [`MAX_KEPT`] this bounds what a busy connection keeps to 8 MiB, memory it already needed
/// for that backlog, and only while it has open streams.
const MAX_SET_ASIDE: usize = 64;
/// Buffers of idle connections, for any connection's next reads: at most this many (4 MiB).
const MAX_POOLED: usize = 32;
/// Only buffers of a usual size are set aside or pooled: a smaller one (an idle connection's)
/// could never give the room asked of it, and a larger one (grown for a large frame) is
/// released as soon as its slices are, not kept.
const MIN_KEPT: usize = READ_CHUNK / 2;
const MAX_KEPT: usize = 2 * READ_CHUNK;

/// The pool of idle connections' buffers.
pub(super) type Pool = Mutex<Vec<BytesMut>>;

static POOL: Pool = Mutex::new(Vec::new());

/// Buffers whose allocations slices still shared when the reader needed room.
pub(super) struct SetAside {
    bufs: Vec<BytesMut>,
    /// The size of the allocation behind the reader's buffer (its capacity once reclaimed).
    size: usize,
    pool: &'static Pool,
}

impl Default for SetAside {
    fn default() -> Self {
        SetAside::with_pool(&POOL)
    }
}

impl SetAside {
    fn with_pool(pool: &'static Pool) -> Self {
        SetAside {
            bufs: Vec::new(),
            size: 0,
            pool,
        }
    }

    /// Room for the next read in `buf`: `READ_CHUNK` while streams are open (`busy`) or a
    /// frame is partly read; a small buffer for an idle connection, so that it does not pin
    /// 64 KiB (a thousand idle connections would hold 64 MiB that nothing reads into).
    pub(super) fn make_room(&mut self, buf: &mut BytesMut, busy: bool) {
        if buf.is_empty() && !busy {
            // By the allocation's size: a buffer whose room was all handed out has none left.
            if self.size > IDLE_READ_CHUNK || buf.capacity() > IDLE_READ_CHUNK {
                let full = std::mem::replace(buf, BytesMut::with_capacity(IDLE_READ_CHUNK));
                self.keep(full);
                self.size = buf.capacity();
            }
            self.give_to_pool();
            return;
        }
        if buf.capacity() - buf.len() >= READ_CHUNK / 4 {
            return;
        }
        if buf.try_reclaim(READ_CHUNK) {
            // `capacity` counts the unread bytes too.
            self.size = self.size.max(buf.capacity());
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
            None => self
                .pool_take(want)
                .unwrap_or_else(|| BytesMut::with_capacity((unread + READ_CHUNK).max(2 * unread))),
        };
        let size = next.capacity();
        // The unread part (a frame's beginning) moves: at most one frame's bytes.
        next.extend_from_slice(buf);
        let old = std::mem::replace(buf, next);
        self.keep(old);
        self.size = size;
    }

    /// Sets aside `old`, the reader's buffer until now, if it is of a usual size (else it is
    /// released with its last slice). When the list is full the oldest goes, shared or not.
    fn keep(&mut self, mut old: BytesMut) {
        if !(MIN_KEPT..=MAX_KEPT).contains(&self.size) {
            return;
        }
        old.clear();
        if self.bufs.len() >= MAX_SET_ASIDE {
            self.bufs.remove(0);
        }
        self.bufs.push(old);
    }

    /// Moves the buffers set aside to the pool (the oldest pooled ones go if it is full);
    /// drops them if the pool is busy.
    fn give_to_pool(&mut self) {
        if self.bufs.is_empty() {
            return;
        }
        if let Ok(mut pool) = self.pool.try_lock() {
            for b in self.bufs.drain(..) {
                if pool.len() >= MAX_POOLED {
                    pool.remove(0);
                }
                pool.push(b);
            }
        }
        self.bufs.clear();
    }

    /// A pooled buffer with room for `want` bytes whose slices are all dropped, if any.
    fn pool_take(&self, want: usize) -> Option<BytesMut> {
        let mut pool = self.pool.try_lock().ok()?;
        let i = pool.iter_mut().position(|b| b.try_reclaim(want))?;
        Some(pool.swap_remove(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fills `buf` and hands out all but `keep` bytes as a slice (a streaming call's DATA),
    /// as the reader does; returns the slice.
    fn read_and_hand_out(buf: &mut BytesMut, keep: usize) -> bytes::Bytes {
        buf.resize(buf.capacity(), 7);
        buf.split_to(buf.len() - keep).freeze()
    }

    /// A buffer whose slices are all dropped is used again; one still shared is not; the
    /// unread bytes move intact.
    #[test]
    fn a_buffer_is_reused_once_its_slices_are_dropped() {
        static TEST_POOL: Pool = Mutex::new(Vec::new());
        let mut set = SetAside::with_pool(&TEST_POOL);
        let mut buf = BytesMut::new();
        set.make_room(&mut buf, true);
        let first = buf.as_ptr() as usize;
        let slice = read_and_hand_out(&mut buf, 0);
        buf.extend_from_slice(b"partial frame");
        set.make_room(&mut buf, true);
        assert_eq!(&buf[..], b"partial frame", "the unread bytes moved");
        assert!(buf.capacity() - buf.len() >= READ_CHUNK / 4);
        assert_ne!(buf.as_ptr() as usize, first, "the first is still shared");

        // The caller reads (drops) the slice: the first allocation comes back.
        drop(slice);
        let held = read_and_hand_out(&mut buf, 5);
        set.make_room(&mut buf, true);
        assert_eq!(
            buf.as_ptr() as usize,
            first,
            "the set-aside buffer is reused"
        );
        assert_eq!(&buf[..], &[7; 5]);
        drop(held);
    }

    /// A connection going idle gives its buffers to the pool; another connection takes
    /// them; an idle connection's small buffer and a buffer grown for a large frame are not
    /// kept.
    #[test]
    fn idle_buffers_go_to_the_pool_and_come_back() {
        static TEST_POOL: Pool = Mutex::new(Vec::new());
        let mut one = SetAside::with_pool(&TEST_POOL);
        let mut buf = BytesMut::new();
        one.make_room(&mut buf, true);
        let pooled = buf.as_ptr() as usize;
        drop(read_and_hand_out(&mut buf, 0));
        one.make_room(&mut buf, false);
        assert!(
            buf.capacity() <= IDLE_READ_CHUNK,
            "an idle connection holds a small buffer"
        );
        assert_eq!(TEST_POOL.lock().unwrap().len(), 1);

        let mut two = SetAside::with_pool(&TEST_POOL);
        let mut other = BytesMut::new();
        two.make_room(&mut other, true);
        assert_eq!(other.as_ptr() as usize, pooled, "taken from the pool");
        assert!(TEST_POOL.lock().unwrap().is_empty());

        // The first connection, busy again from its idle buffer: that one is not kept.
        let mut lone = BytesMut::with_capacity(IDLE_READ_CHUNK);
        one.size = IDLE_READ_CHUNK;
        lone.extend_from_slice(&[1; IDLE_READ_CHUNK - 10]);
        one.make_room(&mut lone, true);
        assert!(one.bufs.is_empty(), "a 4 KiB buffer is never set aside");

        // A frame of 1 MiB arriving in pieces: the large buffers it grows through are not kept.
        let mut big = SetAside::with_pool(&TEST_POOL);
        let mut frame = BytesMut::new();
        while frame.len() < 1 << 20 {
            big.make_room(&mut frame, true);
            let room = frame.capacity() - frame.len();
            frame.resize(frame.len() + room.min(16 << 10), 3);
        }
        // Only the first steps (64 KiB, then about twice that) are of a usual size.
        assert!(big.bufs.len() <= 2, "{} grown buffers kept", big.bufs.len());
        assert!(big.bufs.iter().all(|b| b.capacity() <= MAX_KEPT));
        assert!(frame.capacity() >= 1 << 20);
        assert!(frame.iter().all(|b| *b == 3));
    }

    /// Slices never read make it hold no more than MAX_SET_ASIDE buffers.
    #[test]
    fn buffers_still_shared_are_bounded() {
        static TEST_POOL: Pool = Mutex::new(Vec::new());
        let mut set = SetAside::with_pool(&TEST_POOL);
        let mut buf = BytesMut::new();
        let mut unread = Vec::new();
        for _ in 0..2 * MAX_SET_ASIDE {
            set.make_room(&mut buf, true);
            unread.push(read_and_hand_out(&mut buf, 0));
        }
        assert_eq!(set.bufs.len(), MAX_SET_ASIDE);
    }
}
