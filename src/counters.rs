//! The counters a client keeps per origin (requests, connections, bytes, retries, defences
//! tripped) and its retry budget, updated by connections and pools alike.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Retry budget: tokens are tenths of a retry; a retry costs 10, a success earns 1, so at
/// most one retry per ten successes is sustained (plus an initial allowance), and a server that
/// refuses everything cannot cause a retry storm.
const RETRY_BUDGET_MAX: i64 = 1000;
const RETRY_COST: i64 = 10;

/// Counters a client keeps.
pub struct PoolCounters {
    /// Connections opened since creation.
    pub connections_opened: AtomicU64,
    /// Retries of unprocessed requests.
    pub retries: AtomicU64,
    /// Requests that got a response.
    pub requests_completed: AtomicU64,
    /// Requests that failed.
    pub requests_failed: AtomicU64,
    /// Bytes written to connections.
    pub bytes_sent: AtomicU64,
    /// Bytes read from connections.
    pub bytes_received: AtomicU64,
    /// Requests whose HEADERS the submitting thread wrote itself (plain TCP, a request alone
    /// on its connection). Test builds only.
    #[cfg(feature = "testing")]
    pub fast_submits: AtomicU64,
    /// Times a connection's reader task woke up for a message (a stream to register, a
    /// cancel, ...) rather than for the socket or a timer. Test builds only.
    #[cfg(feature = "testing")]
    pub reader_messages: AtomicU64,
    /// Retry budget in tenths of a retry.
    retry_budget: AtomicI64,
    /// How often each defence tripped (indexed by `conn::defence::Trip`).
    pub limits_tripped: [AtomicU64; crate::conn::defence::Trip::COUNT],
}

impl Default for PoolCounters {
    fn default() -> PoolCounters {
        PoolCounters {
            connections_opened: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            requests_completed: AtomicU64::new(0),
            requests_failed: AtomicU64::new(0),
            #[cfg(feature = "testing")]
            fast_submits: AtomicU64::new(0),
            #[cfg(feature = "testing")]
            reader_messages: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            retry_budget: AtomicI64::new(RETRY_BUDGET_MAX),
            limits_tripped: Default::default(),
        }
    }
}

impl PoolCounters {
    /// A success refills the retry budget a little.
    pub(crate) fn earn_retry(&self) {
        let _ = self
            .retry_budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                (v < RETRY_BUDGET_MAX).then_some(v + 1)
            });
    }

    /// Adds `other`'s counts to these (an origin's, when it is dropped from its client's map).
    pub(crate) fn absorb(&self, other: &PoolCounters) {
        let add = |a: &AtomicU64, b: &AtomicU64| {
            a.fetch_add(b.load(Ordering::Relaxed), Ordering::Relaxed);
        };
        add(&self.connections_opened, &other.connections_opened);
        add(&self.retries, &other.retries);
        add(&self.requests_completed, &other.requests_completed);
        add(&self.requests_failed, &other.requests_failed);
        add(&self.bytes_sent, &other.bytes_sent);
        add(&self.bytes_received, &other.bytes_received);
        #[cfg(feature = "testing")]
        add(&self.fast_submits, &other.fast_submits);
        #[cfg(feature = "testing")]
        add(&self.reader_messages, &other.reader_messages);
        for (a, b) in self.limits_tripped.iter().zip(&other.limits_tripped) {
            add(a, b);
        }
    }

    /// Spends a retry; false if the budget is exhausted.
    pub(crate) fn spend_retry(&self) -> bool {
        self.retry_budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                (v >= RETRY_COST).then_some(v - RETRY_COST)
            })
            .is_ok()
    }
}
