//! The library's diagnostics, routed to one process-wide sink the caller sets
//! (`h2_set_log_callback`): the connection and stream events of every client (connected,
//! SETTINGS, GOAWAY, resets, retries, limits tripped), the TLS handshake's outcome, request
//! and response header fields at `Debug`, and rustls's own messages through the `log` facade.
//!
//! Off by default. Every log site first compares its level with one relaxed atomic load, so
//! logging costs nothing else while it is off; messages are formatted only when they go out.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use crate::events::{Event, EventKind, Gate};

/// How much is logged. The numeric values are the C API's `H2_LOG_*` constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// A connection or request failed.
    Error = 1,
    /// Something is wrong but work goes on: a failed connection attempt, a limit tripped.
    Warn = 2,
    /// Connections opened and closed, TLS handshakes, GOAWAY, retries.
    Info = 3,
    /// SETTINGS, streams opened and closed, request and response header fields.
    Debug = 4,
    /// Round trips, flow-control stalls, rustls's details.
    Trace = 5,
}

impl Level {
    /// The level numbered `n` (values above `Trace` are `Trace`); `None` for 0 (off).
    pub fn from_number(n: u32) -> Option<Level> {
        Some(match n {
            0 => return None,
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            _ => Level::Trace,
        })
    }
}

/// Where messages go: `(level, target, message)`.
pub type SinkFn = dyn Fn(Level, &str, &str) + Send + Sync;

struct Sink {
    f: Arc<SinkFn>,
    /// The most detailed level this sink takes: a message checked against an earlier, more
    /// detailed setting (`enabled` is a lone atomic load) is not delivered to it.
    level: Level,
    /// Closed when the sink is replaced: no call of it starts after, and the replacing thread
    /// waits for the ones running elsewhere.
    gate: Arc<Gate>,
    /// The process that set it: in a fork child, calls the parent had running belong to
    /// threads that do not exist here and are not waited for.
    pid: u32,
}

/// The most detailed level logged (0: off).
static MAX: AtomicU8 = AtomicU8::new(0);
static SINK: Mutex<Option<Sink>> = Mutex::new(None);

thread_local! {
    /// This thread is inside the sink: what it logs is dropped, not delivered recursively.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Whether messages at `level` go out.
#[inline]
pub fn enabled(level: Level) -> bool {
    (level as u8) <= MAX.load(Ordering::Relaxed)
}

/// Sends messages up to `level` to `sink`; `None` (either) turns logging off. When this
/// returns, the previous sink is not running on any other thread and will not be called again.
pub fn set(level: Option<Level>, sink: Option<Arc<SinkFn>>) {
    let new = match (level, sink) {
        (Some(l), Some(f)) => Some((l, f)),
        _ => None,
    };
    let old = {
        let mut s = SINK.lock().unwrap_or_else(|e| e.into_inner());
        let old = s.take();
        MAX.store(new.as_ref().map_or(0, |(l, _)| *l as u8), Ordering::Relaxed);
        if let Some((l, f)) = new {
            *s = Some(Sink {
                f,
                level: l,
                gate: Arc::new(Gate::default()),
                pid: std::process::id(),
            });
            install_facade(l);
        } else if FACADE_INSTALLED.load(Ordering::Relaxed) {
            ::log::set_max_level(::log::LevelFilter::Off);
        }
        old
    };
    if let Some(old) = old.filter(|o| o.pid == std::process::id()) {
        old.gate.close();
    }
}

/// Delivers one message (the level already checked with [`enabled`]).
pub fn write(level: Level, target: &str, args: fmt::Arguments<'_>) {
    if IN_SINK.with(Cell::get) {
        return;
    }
    let (f, gate) = {
        let s = SINK.lock().unwrap_or_else(|e| e.into_inner());
        match &*s {
            Some(s) if level <= s.level => (s.f.clone(), s.gate.clone()),
            _ => return,
        }
    };
    let msg = args.to_string();
    gate.pass(|| {
        IN_SINK.with(|c| c.set(true));
        /// Clears the flag however the sink returns.
        struct Out;
        impl Drop for Out {
            fn drop(&mut self) {
                IN_SINK.with(|c| c.set(false));
            }
        }
        let _out = Out;
        f(level, target, &msg);
    });
}

/// Logs `format!(...)` at a level, formatting only if that level is on.
macro_rules! h2log {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            $crate::log::write($level, "h2client", format_args!($($arg)*));
        }
    };
}
pub(crate) use h2log;

/// The level an event is logged at.
fn event_level(kind: EventKind) -> Level {
    match kind {
        EventKind::ConnectFailed | EventKind::LimitTripped => Level::Warn,
        EventKind::Connected | EventKind::Closed | EventKind::GoAway | EventKind::Retry => {
            Level::Info
        }
        EventKind::Settings | EventKind::StreamOpened | EventKind::StreamClosed => Level::Debug,
        EventKind::Rtt | EventKind::FlowStall => Level::Trace,
    }
}

/// Whether any event could be logged now (the cheapest check, before building one).
#[inline]
pub(crate) fn events_enabled() -> bool {
    MAX.load(Ordering::Relaxed) != 0
}

/// Logs an event at its level.
pub(crate) fn event(e: &Event) {
    let level = event_level(e.kind);
    if !enabled(level) {
        return;
    }
    let mut at = String::new();
    if e.conn_id != 0 {
        at = format!("conn {}", e.conn_id);
    }
    if e.stream_id != 0 {
        at = format!("{at} stream {}", e.stream_id);
    }
    let what = match e.kind {
        EventKind::Connected => "",
        EventKind::ConnectFailed => "connect failed",
        EventKind::Settings => "SETTINGS",
        EventKind::GoAway => "GOAWAY received",
        EventKind::Closed => "closed",
        EventKind::StreamOpened => "stream opened",
        EventKind::StreamClosed => "stream closed",
        EventKind::Retry => "retrying",
        EventKind::Rtt => "PING round trip",
        EventKind::FlowStall => "waiting for flow-control window",
        EventKind::LimitTripped => "limit tripped",
    };
    let mut extra = String::new();
    if e.h2_error != 0 {
        extra = format!(" (error code {})", crate::error::Reason(e.h2_error));
    }
    let sep = if at.is_empty() { "" } else { ": " };
    let colon = if what.is_empty() { "" } else { ": " };
    write(
        level,
        "h2client",
        format_args!("{at}{sep}{what}{colon}{}{extra}", e.message),
    );
}

/// rustls (and any crate of the process using the `log` facade) reaches the sink through this.
struct Facade;

static FACADE: Facade = Facade;
/// [`FACADE`] is the process's logger (then the `log` max level is ours to set).
static FACADE_INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn from_log_level(l: ::log::Level) -> Level {
    match l {
        ::log::Level::Error => Level::Error,
        ::log::Level::Warn => Level::Warn,
        ::log::Level::Info => Level::Info,
        ::log::Level::Debug => Level::Debug,
        ::log::Level::Trace => Level::Trace,
    }
}

impl ::log::Log for Facade {
    fn enabled(&self, m: &::log::Metadata<'_>) -> bool {
        enabled(from_log_level(m.level()))
    }

    fn log(&self, r: &::log::Record<'_>) {
        let level = from_log_level(r.level());
        if enabled(level) {
            write(level, r.target(), *r.args());
        }
    }

    fn flush(&self) {}
}

/// Makes [`Facade`] the process's `log` logger if none is (a Rust host program may have its
/// own: then rustls's messages go there, ours still come here).
fn install_facade(level: Level) {
    if ::log::set_logger(&FACADE).is_ok() {
        FACADE_INSTALLED.store(true, Ordering::Relaxed);
    }
    if !FACADE_INSTALLED.load(Ordering::Relaxed) {
        return;
    }
    let filter = match level {
        Level::Error => ::log::LevelFilter::Error,
        Level::Warn => ::log::LevelFilter::Warn,
        Level::Info => ::log::LevelFilter::Info,
        Level::Debug => ::log::LevelFilter::Debug,
        Level::Trace => ::log::LevelFilter::Trace,
    };
    ::log::set_max_level(filter);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message whose level was checked while a more detailed sink was set, and written after
    /// a less detailed one replaced it, is not delivered to the new one (it was: a debug line
    /// reached an info-level callback in `tests/logging.rs`, once in a run).
    #[test]
    fn a_message_checked_before_a_switch_respects_the_new_level() {
        let got: Arc<Mutex<Vec<(Level, String)>>> = Arc::default();
        let sink = |got: &Arc<Mutex<Vec<(Level, String)>>>| -> Arc<SinkFn> {
            let got = got.clone();
            Arc::new(move |l: Level, t: &str, m: &str| {
                if t == "log-switch-test" {
                    got.lock().unwrap().push((l, m.to_owned()));
                }
            })
        };
        set(Some(Level::Debug), Some(sink(&got)));
        assert!(enabled(Level::Debug));
        set(Some(Level::Info), Some(sink(&got)));
        // What a log site that passed its check before the switch then does:
        write(Level::Debug, "log-switch-test", format_args!("late debug"));
        write(Level::Info, "log-switch-test", format_args!("info"));
        set(None, None);
        assert_eq!(*got.lock().unwrap(), vec![(Level::Info, "info".to_owned())]);
    }
}
