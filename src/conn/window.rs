//! Flow-control windows (RFC 9113 §6.9): one type for the credit a sender may still use, so
//! that the 2^31-1 limit, SETTINGS_INITIAL_WINDOW_SIZE changes and spending are written once
//! (the writer keeps the send windows of streams with a body and of the connection; the reader
//! those of streams without one).

use crate::frame::MAX_WINDOW_SIZE;

/// Whether crediting a send window kept it within 2^31-1 (RFC 9113 §6.9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowOutcome {
    /// Credited.
    Ok,
    /// The credit would overflow the window: nothing was applied.
    Overflow,
}

/// A send window: may go negative after a SETTINGS change lowers the initial size (§6.9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window(i64);

impl Window {
    /// A window of `size` bytes.
    pub(crate) fn new(size: i64) -> Window {
        Window(size)
    }

    /// The credit left (negative after a lowered initial size).
    pub(crate) fn get(self) -> i64 {
        self.0
    }

    /// Whether anything may be sent.
    pub(crate) fn is_open(self) -> bool {
        self.0 > 0
    }

    /// Credits a WINDOW_UPDATE's increment, unless that would pass 2^31-1: then the window
    /// is left as it was and the caller reports a FLOW_CONTROL_ERROR.
    pub(crate) fn credit(&mut self, increment: u32) -> WindowOutcome {
        if self.would_overflow(i64::from(increment)) {
            return WindowOutcome::Overflow;
        }
        self.0 += i64::from(increment);
        WindowOutcome::Ok
    }

    /// Whether changing the window by `delta` (a new SETTINGS_INITIAL_WINDOW_SIZE minus the
    /// old) would pass 2^31-1.
    pub(crate) fn would_overflow(self, delta: i64) -> bool {
        self.0 + delta > i64::from(MAX_WINDOW_SIZE)
    }

    /// Applies a SETTINGS_INITIAL_WINDOW_SIZE change (checked with `would_overflow` first).
    pub(crate) fn adjust(&mut self, delta: i64) {
        self.0 += delta;
    }

    /// Spends `n` bytes sent.
    pub(crate) fn spend(&mut self, n: usize) {
        self.0 -= n as i64;
    }
}

/// The change a new SETTINGS_INITIAL_WINDOW_SIZE makes to every stream's send window.
pub(crate) fn initial_delta(old: i64, new: u32) -> i64 {
    i64::from(new) - old
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_stops_at_the_limit_and_leaves_the_window_as_it_was() {
        let mut w = Window::new(65_535);
        assert_eq!(w.credit(MAX_WINDOW_SIZE - 65_535), WindowOutcome::Ok);
        assert_eq!(w.get(), i64::from(MAX_WINDOW_SIZE));
        assert_eq!(w.credit(1), WindowOutcome::Overflow);
        assert_eq!(w.get(), i64::from(MAX_WINDOW_SIZE));
    }

    #[test]
    fn a_lowered_initial_size_can_close_the_window_below_zero() {
        let mut w = Window::new(100);
        w.spend(100);
        assert!(!w.is_open());
        let delta = initial_delta(65_535, 0);
        assert!(!w.would_overflow(delta));
        w.adjust(delta);
        assert_eq!(w.get(), -65_535);
        assert_eq!(w.credit(65_536), WindowOutcome::Ok);
        assert!(w.is_open());
        assert!(Window::new(1).would_overflow(i64::from(MAX_WINDOW_SIZE)));
    }
}
