//! A connection whose task dies is dead: a panic in the reader, the writer or a caller's
//! fast-path write ends the connection like a fatal I/O error (out of the pool, streams failed
//! with the panic's message), and the next request succeeds on a new connection at once.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use h2client::conn::testing::{clear_injection, inject_panic, injection_pending, Task};
use h2client::ErrorKind;

/// One test at a time: the injection is process-wide.
static SERIAL: Mutex<()> = Mutex::new(());

fn check(task: Task, trigger: &str) {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The injection is taken by the first connection that checks: let the previous test's
    // connections finish closing first (one of them took it in about 1 run of 6).
    let t = Instant::now();
    while h2client::conn::live_connections() > 0 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "connections of an earlier test live on"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let srv = server();
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let ev = events.clone();
    let c = client_with(&srv.url(), move |c| {
        // Generous: the writer's trigger downloads 10 MB, slow in a debug build on a loaded
        // machine; a timeout would hide which error the panic gave.
        c.set_request_timeout_ms(30_000);
        c.events = Some(h2client::events::EventHook(Arc::new(
            move |e: &h2client::events::Event| {
                ev.lock().unwrap().push(e.message.clone());
            },
        )));
    });
    assert_eq!(get(&c, "/").unwrap().status(), 200);
    inject_panic(task);
    // The request that meets the panic either completed before it or fails with its message.
    // Which request meets it depends on timing (the caller-thread path is taken only when the
    // connection is idle), so send until one has.
    for _ in 0..50 {
        match get(&c, trigger) {
            Ok(r) => assert_eq!(r.status(), 200),
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::Internal, "{}", e.message);
                assert!(e.message.contains("injected panic"), "{}", e.message);
            }
        }
        if !injection_pending() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let missed = injection_pending();
    clear_injection();
    assert!(!missed, "no {task:?} code ran in 50 requests");
    // From the moment the request that met the panic returned: the dead connection leaves the
    // pool and the next request succeeds on a new one within a second.
    let t0 = Instant::now();
    // (A request the panic left unsent may already have been retried on a new connection.)
    while c.snapshot().connections > 0 && c.snapshot().connections_opened < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "the dead connection stayed in the pool: {:?}; events: {:?}",
            c.snapshot(),
            events.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let r = get(&c, "/").expect("next request on a new connection");
    assert_eq!(r.status(), 200);
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(c.snapshot().connections_opened, 2);
    let seen = events.lock().unwrap().clone();
    assert!(
        seen.iter().any(|m| m.contains("injected panic")),
        "no event carried the panic: {seen:?}"
    );
    drop(c);
}

#[test]
fn reader_panic_ends_its_connection() {
    check(Task::Reader, "/");
}

#[test]
fn writer_panic_ends_its_connection() {
    // A large body makes the reader hand WINDOW_UPDATEs to the writer.
    check(Task::Writer, "/bytes/10000000");
}

#[test]
fn caller_write_panic_ends_its_connection() {
    check(Task::CallerWrite, "/");
}
