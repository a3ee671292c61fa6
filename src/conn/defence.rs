//! Flood and abuse defences of one connection: budgets for what a misbehaving server can make
//! us do, and for what we could do to a server (rapid resets, CVE-2023-44487).
//!
//! Budgets are counted per window (a minute for the server's "glitches", a second for our
//! resets): a long-lived connection with a few odd frames now and then never trips, a flood
//! does at once.

use std::time::{Duration, Instant};

/// Which defence tripped (indexes the client's counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trip {
    /// Too many CONTINUATION frames in one header block.
    Continuation = 0,
    /// A header block or header list over our limits.
    HeaderList = 1,
    /// Too many empty DATA frames.
    EmptyData = 2,
    /// Too many PING/SETTINGS acknowledgements waiting to be written.
    Acks = 3,
    /// Too many pointless frames (RST_STREAM, PRIORITY, unknown frame types).
    Glitches = 4,
    /// We reset streams faster than allowed (callers cancelling in bulk).
    Resets = 5,
    /// Too many informational (1xx) responses before a final one.
    Informational = 6,
}

impl Trip {
    /// Number of kinds.
    pub const COUNT: usize = 7;
}

/// A count over a fixed window.
#[derive(Debug)]
struct Window {
    start: Instant,
    len: Duration,
    count: u32,
}

impl Window {
    fn new(len: Duration, now: Instant) -> Window {
        Window {
            start: now,
            len,
            count: 0,
        }
    }

    /// Counts one event; returns the count in the current window.
    fn hit(&mut self, now: Instant) -> u32 {
        if now.duration_since(self.start) >= self.len {
            self.start = now;
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        self.count
    }
}

/// The limits (from the client's configuration).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Empty DATA frames (no END_STREAM) per minute.
    pub empty_data: u32,
    /// Glitches per minute.
    pub glitches: u32,
    /// RST_STREAMs we send per second before the connection stops taking streams.
    pub resets_per_second: u32,
}

/// The budgets of one connection.
#[derive(Debug)]
pub struct Defences {
    limits: Limits,
    empty: Window,
    glitches: Window,
    resets: Window,
}

impl Defences {
    /// Fresh budgets.
    pub fn new(limits: Limits, now: Instant) -> Defences {
        Defences {
            limits,
            empty: Window::new(Duration::from_secs(60), now),
            glitches: Window::new(Duration::from_secs(60), now),
            resets: Window::new(Duration::from_secs(1), now),
        }
    }

    /// An empty DATA frame without END_STREAM arrived: legal, but a flood of them is a way to
    /// make us work for nothing.
    pub fn empty_data(&mut self, now: Instant) -> Result<(), Trip> {
        if self.empty.hit(now) > self.limits.empty_data {
            return Err(Trip::EmptyData);
        }
        Ok(())
    }

    /// A frame that is legal but pointless arrived (RST_STREAM, PRIORITY, an unknown frame
    /// type).
    pub fn glitch(&mut self, now: Instant) -> Result<(), Trip> {
        if self.glitches.hit(now) > self.limits.glitches {
            return Err(Trip::Glitches);
        }
        Ok(())
    }

    /// We are about to reset a stream; `Err` when the rate is over the limit (the connection
    /// should then take no new streams).
    pub fn reset_sent(&mut self, now: Instant) -> Result<(), Trip> {
        if self.resets.hit(now) > self.limits.resets_per_second {
            return Err(Trip::Resets);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(now: Instant) -> Defences {
        Defences::new(
            Limits {
                empty_data: 3,
                glitches: 2,
                resets_per_second: 2,
            },
            now,
        )
    }

    #[test]
    fn budgets_trip_and_refill_per_window() {
        let t = Instant::now();
        let mut x = d(t);
        for _ in 0..3 {
            assert!(x.empty_data(t).is_ok());
        }
        assert_eq!(x.empty_data(t), Err(Trip::EmptyData));
        assert!(
            x.empty_data(t + Duration::from_secs(61)).is_ok(),
            "new window"
        );
        assert!(x.glitch(t).is_ok() && x.glitch(t).is_ok());
        assert_eq!(x.glitch(t), Err(Trip::Glitches));
        assert!(x.reset_sent(t).is_ok() && x.reset_sent(t).is_ok());
        assert_eq!(x.reset_sent(t), Err(Trip::Resets));
        assert!(x.reset_sent(t + Duration::from_millis(1001)).is_ok());
    }
}
