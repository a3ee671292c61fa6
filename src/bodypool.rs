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
//! Never blocks: a contended lock (or one a `fork()` left held in a child) skips the pool.

use std::sync::Mutex;

/// Smaller buffers are cheap to allocate and are not kept.
const MIN_KEPT: usize = 64 << 10;
/// The most bytes kept in all (RSS an idle process keeps for this).
const MAX_TOTAL: usize = 8 << 20;
/// The most buffers kept.
const MAX_BUFFERS: usize = 8;

/// The kept buffers.
struct Pool(Mutex<Vec<Vec<u8>>>);

static POOL: Pool = Pool(Mutex::new(Vec::new()));

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
