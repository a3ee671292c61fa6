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

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A kept buffer (empty, capacity at least `want`, the smallest such), if there is one.
pub(crate) fn take(want: usize) -> Option<Vec<u8>> {
    if want < MIN_KEPT {
        return None;
    }
    let mut pool = POOL.try_lock().ok()?;
    let i = (0..pool.len())
        .filter(|&i| pool[i].capacity() >= want)
        .min_by_key(|&i| pool[i].capacity())?;
    Some(pool.swap_remove(i))
}

/// Keeps `buf` for a later body if it is large and there is room.
pub(crate) fn give(mut buf: Vec<u8>) {
    let cap = buf.capacity();
    if !(MIN_KEPT..=MAX_TOTAL).contains(&cap) {
        return;
    }
    let Ok(mut pool) = POOL.try_lock() else {
        return;
    };
    let total: usize = pool.iter().map(Vec::capacity).sum();
    if pool.len() >= MAX_BUFFERS || total + cap > MAX_TOTAL {
        return;
    }
    buf.clear();
    pool.push(buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_large_buffers_within_the_limits_and_hands_out_the_smallest_that_fits() {
        // The pool is process-wide: other tests may use it too, so only what this test can
        // rely on is checked.
        give(Vec::with_capacity(1024));
        assert!(take(1024).is_none(), "small buffers are not kept");
        give(Vec::with_capacity(MAX_TOTAL + 1));
        let mut b = Vec::with_capacity(256 << 10);
        b.extend_from_slice(b"leftover");
        give(b);
        if let Some(got) = take(200 << 10) {
            assert!(got.is_empty());
            assert!(got.capacity() >= 200 << 10 && got.capacity() <= MAX_TOTAL);
        }
        assert!(take(MAX_TOTAL + 1).is_none());
    }
}
