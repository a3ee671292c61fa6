//! A few large response-body buffers kept for reuse.
//!
//! A buffered response of a MiB is a fresh allocation that glibc hands back to the kernel when
//! the response is freed (it trims or unmaps large chunks), so the next one page-faults every
//! page in again: at 1 MiB bodies that cost three times the rest of the request in kernel time
//! (benches/compare `h2o 1MiB -c1 -m10`). Freed bodies of at least [`MIN_KEPT`] bytes are kept
//! here, at most [`MAX_BUFFERS`] of them and [`MAX_TOTAL`] bytes in all, and a new body whose
//! declared length is large takes one. Only buffers that exist are handed out: a length a
//! server merely claims never causes an allocation.
//!
//! Small responses are the other end: with many requests in flight, a connection's reader
//! builds dozens of responses in one read and the program frees them in a burst, which
//! overflows the allocator's per-thread cache (glibc's tcache holds 7 chunks of a size) so
//! that every response's header buffers and body went through the allocator's slow paths,
//! a quarter of a small request's instructions (callgrind, `h2bench -c1 -m100`). Freed
//! responses' header lists and small bodies are kept as [`Parts`] (at most [`MAX_PARTS`],
//! [`MAX_PARTS_BYTES`] in all) for the next responses.
//!
//! Never blocks: a contended lock (or one a `fork()` left held in a child) skips the pool.

use std::sync::Mutex;

use crate::headers::HeaderList;

/// Smaller buffers are cheap to allocate and are not kept.
const MIN_KEPT: usize = 64 << 10;
/// The most bytes kept in all (RSS an idle process keeps for this).
const MAX_TOTAL: usize = 8 << 20;
/// The most buffers kept.
const MAX_BUFFERS: usize = 8;

/// The kept buffers.
struct Pool(Mutex<Vec<Vec<u8>>>);

static POOL: Pool = Pool(Mutex::new(Vec::new()));

/// The most response parts kept: a few bursts of responses at typical concurrency.
const MAX_PARTS: usize = 256;
/// The most bytes the kept parts may hold in all.
const MAX_PARTS_BYTES: usize = 2 << 20;
/// A body buffer larger than this is not kept with the parts.
const MAX_PART_BODY: usize = 16 << 10;
/// A header list whose buffer is larger than this is not kept.
const MAX_PART_HEADERS: usize = 8 << 10;

/// The buffers of a freed response, empty, for the next one.
#[derive(Default)]
pub(crate) struct Parts {
    /// The header list (no fields).
    pub headers: HeaderList,
    /// The body buffer (no bytes; maybe no capacity).
    pub body: Vec<u8>,
}

impl Parts {
    fn bytes(&self) -> usize {
        self.headers.capacity_bytes() + self.body.capacity()
    }
}

/// The kept parts and the bytes they hold.
struct PartsPool(Mutex<(Vec<Parts>, usize)>);

static PARTS: PartsPool = PartsPool(Mutex::new((Vec::new(), 0)));

/// The buffers of a freed response, if some are kept.
pub(crate) fn take_parts() -> Option<Parts> {
    PARTS.take()
}

/// Keeps a freed response's header list and body buffer for a later response, if they are
/// small and there is room (the body goes to the large-buffer pool if it is large).
pub(crate) fn give_parts(headers: HeaderList, body: Vec<u8>) {
    if headers.capacity_bytes() == 0 && body.capacity() == 0 {
        return;
    }
    if body.capacity() > MAX_PART_BODY {
        give(body);
        PARTS.give(headers, Vec::new());
    } else {
        PARTS.give(headers, body);
    }
}

impl PartsPool {
    fn take(&self) -> Option<Parts> {
        let mut pool = self.0.try_lock().ok()?;
        let parts = pool.0.pop()?;
        pool.1 -= parts.bytes();
        Some(parts)
    }

    fn give(&self, mut headers: HeaderList, mut body: Vec<u8>) {
        if headers.capacity_bytes() > MAX_PART_HEADERS || body.capacity() > MAX_PART_BODY {
            return;
        }
        let Ok(mut pool) = self.0.try_lock() else {
            return;
        };
        headers.clear();
        body.clear();
        let parts = Parts { headers, body };
        let bytes = parts.bytes();
        if pool.0.len() >= MAX_PARTS || pool.1 + bytes > MAX_PARTS_BYTES {
            return;
        }
        pool.1 += bytes;
        pool.0.push(parts);
    }
}

/// A kept buffer (empty, capacity at least `want`, the smallest such), if there is one.
pub(crate) fn take(want: usize) -> Option<Vec<u8>> {
    POOL.take(want)
}

/// Keeps `buf` for a later body if it is large and there is room.
pub(crate) fn give(buf: Vec<u8>) {
    POOL.give(buf)
}

impl Pool {
    fn take(&self, want: usize) -> Option<Vec<u8>> {
        if want < MIN_KEPT {
            return None;
        }
        let mut pool = self.0.try_lock().ok()?;
        let i = (0..pool.len())
            .filter(|&i| pool[i].capacity() >= want)
            .min_by_key(|&i| pool[i].capacity())?;
        Some(pool.swap_remove(i))
    }

    fn give(&self, mut buf: Vec<u8>) {
        let cap = buf.capacity();
        if !(MIN_KEPT..=MAX_TOTAL).contains(&cap) {
            return;
        }
        let Ok(mut pool) = self.0.try_lock() else {
            return;
        };
        let total: usize = pool.iter().map(Vec::capacity).sum();
        if pool.len() >= MAX_BUFFERS || total + cap > MAX_TOTAL {
            return;
        }
        buf.clear();
        pool.push(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_small_parts_within_the_limits() {
        let pool = PartsPool(Mutex::new((Vec::new(), 0)));
        let mut h = HeaderList::with_capacity(512, 16);
        h.push(b"a", b"b");
        let mut body = Vec::with_capacity(1024);
        body.extend_from_slice(b"leftover");
        pool.give(h, body);
        pool.give(
            HeaderList::with_capacity(MAX_PART_HEADERS + 1, 1),
            Vec::new(),
        );
        pool.give(HeaderList::new(), Vec::with_capacity(MAX_PART_BODY + 1));
        assert_eq!(pool.0.lock().unwrap().0.len(), 1, "too large is not kept");
        let got = pool.take().expect("kept parts");
        assert!(
            got.headers.is_empty() && got.body.is_empty(),
            "cleared when kept"
        );
        assert!(got.body.capacity() >= 1024 && got.headers.capacity_bytes() >= 512);
        assert_eq!(pool.0.lock().unwrap().1, 0, "byte count follows");
        assert!(pool.take().is_none());
        for _ in 0..MAX_PARTS + 2 {
            pool.give(HeaderList::new(), Vec::new());
        }
        assert_eq!(pool.0.lock().unwrap().0.len(), MAX_PARTS);
        let pool = PartsPool(Mutex::new((Vec::new(), 0)));
        for _ in 0..MAX_PARTS {
            pool.give(HeaderList::new(), Vec::with_capacity(MAX_PART_BODY));
        }
        let (n, bytes) = {
            let p = pool.0.lock().unwrap();
            (p.0.len(), p.1)
        };
        assert!(bytes <= MAX_PARTS_BYTES && n == MAX_PARTS_BYTES / MAX_PART_BODY);
    }

    #[test]
    fn keeps_large_buffers_within_the_limits_and_hands_out_the_smallest_that_fits() {
        let pool = Pool(Mutex::new(Vec::new()));
        pool.give(Vec::with_capacity(1024));
        pool.give(Vec::with_capacity(MAX_TOTAL + 1));
        assert!(
            pool.0.lock().unwrap().is_empty(),
            "too small and too large are not kept"
        );
        let mut b = Vec::with_capacity(512 << 10);
        b.extend_from_slice(b"leftover");
        pool.give(b);
        pool.give(Vec::with_capacity(256 << 10));
        assert!(pool.take(1024).is_none(), "small wants allocate their own");
        let got = pool.take(200 << 10).expect("a kept buffer");
        assert!(got.is_empty());
        assert!(
            got.capacity() >= 256 << 10 && got.capacity() < 512 << 10,
            "the smallest"
        );
        assert!(pool.take(MAX_TOTAL).is_none());
        let got = pool.take(300 << 10).expect("the larger one");
        assert!(got.is_empty(), "cleared when kept");
        for _ in 0..MAX_BUFFERS + 2 {
            pool.give(Vec::with_capacity(MIN_KEPT));
        }
        assert_eq!(pool.0.lock().unwrap().len(), MAX_BUFFERS);
    }
}
