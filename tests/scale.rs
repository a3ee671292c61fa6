//! Scale measurements (issue #6), run by hand:
//!
//! ```text
//! cargo test --release --test scale -- --ignored --nocapture --test-threads=1
//! ```
//!
//! Each test prints its figures and asserts a loose target, so a regression fails it:
//! - `ten_thousand_streams_on_one_client`: 10,000 submitted requests at once on ONE client
//!   against nghttpd (100 concurrent streams per connection): all complete, about 100
//!   connections; wall time, connections opened, peak RSS.
//! - `idle_connection_cost`: 1,000 clients each holding one idle connection to nghttpd: RSS
//!   per idle connection (target at most 64 KiB).
//!
//! The per-request CPU comparison at `-m1000` against `-m100` is `benches/scale.sh` (the C
//! benchmark, h2bench, against h2o). Figures: `benches/results/scale-*.txt`.

mod common;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::proxy::{rss_kib, status_value, thread_count, Nghttpd, NghttpdOpts};
use common::*;
use h2client::{Client, Config, Request};

/// Raises this process's RLIMIT_NOFILE soft limit to the hard limit; returns the new soft
/// limit.
fn raise_nofile() -> u64 {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut l), 0);
        if l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &l), 0, "setrlimit");
        }
    }
    l.rlim_cur
}

fn req(path: &str) -> Arc<Request> {
    Arc::new(Request::new("GET", path).unwrap())
}

#[test]
#[ignore = "scale measurement: run by hand with --ignored --nocapture --test-threads=1"]
fn ten_thousand_streams_on_one_client() {
    const N: usize = 10_000;
    raise_nofile();
    let server = Nghttpd::start(NghttpdOpts::default());
    let c = client_with(&server.url(), |_| {});
    // Start the runtime and learn the server's limit on one connection first.
    assert_eq!(get(&c, "/index.html").unwrap().status(), 200);
    let limits = c.snapshot().stream_limits;
    println!("server stream limit per connection: {limits:?}");
    let rss_before = rss_kib();

    let (tx, rx) = mpsc::channel::<(usize, u32)>();
    let t0 = Instant::now();
    let mut calls = Vec::with_capacity(N);
    for i in 0..N {
        let tx = tx.clone();
        let notify: h2client::exchange::Notify =
            std::sync::Arc::new(move |ex: &h2client::exchange::Exchange| {
                let code = ex.error().map_or(0, |e| e.kind as u32);
                let _ = tx.send((i, code));
            });
        calls.push(c.submit(req("/index.html"), notify).unwrap());
    }
    let submitted = t0.elapsed();
    let mut peak_waiting = 0usize;
    let mut peak_conns = 0usize;
    let mut peak_open = 0u64;
    let mut done = vec![false; N];
    let mut completed = 0usize;
    let mut failed = Vec::new();
    let until = t0 + Duration::from_secs(120);
    while completed < N {
        assert!(
            Instant::now() < until,
            "only {completed} of {N} completed within 120 s"
        );
        let s = c.snapshot();
        peak_waiting = peak_waiting.max(s.waiting);
        peak_conns = peak_conns.max(s.connections);
        peak_open = peak_open.max(s.open_streams);
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok((i, code)) => {
                assert!(!done[i], "call {i} completed twice");
                done[i] = true;
                completed += 1;
                if code != 0 {
                    failed.push((i, calls[i].error()));
                }
                // Take the rest that are ready without a snapshot each.
                while let Ok((i, code)) = rx.try_recv() {
                    assert!(!done[i], "call {i} completed twice");
                    done[i] = true;
                    completed += 1;
                    if code != 0 {
                        failed.push((i, calls[i].error()));
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let wall = t0.elapsed();
    let rss_after = rss_kib();
    let mut bodies = 0usize;
    for call in &calls {
        let r = call.response().unwrap();
        assert_eq!(r.status(), 200);
        bodies += r.body().len();
    }
    let s = c.snapshot();
    println!("--- 10,000 concurrent streams on one client (nghttpd -n 1, /index.html 1 KiB)");
    println!(
        "requests:            {N} submitted in {submitted:?}, {completed} completed, {} failed",
        failed.len()
    );
    println!(
        "wall time:           {wall:?} ({:.0} req/s)",
        N as f64 / wall.as_secs_f64()
    );
    println!(
        "connections opened:  {} (peak in pool {peak_conns}, in pool at the end {})",
        s.connections_opened, s.connections
    );
    println!("peak open streams:   {peak_open}; peak waiting for a slot: {peak_waiting}");
    println!(
        "stream limits:       min {:?} max {:?}",
        s.stream_limits.iter().min(),
        s.stream_limits.iter().max()
    );
    println!(
        "completed/failed/retries (client counters): {}/{}/{}",
        s.requests_completed, s.requests_failed, s.retries
    );
    println!(
        "bytes sent/received: {}/{}; body bytes {bodies}",
        s.bytes_sent, s.bytes_received
    );
    println!("RSS:                 {rss_before} KiB before, {rss_after} KiB after, peak (VmHWM) {} KiB; threads {}", status_value("VmHWM"), thread_count());
    assert!(
        failed.is_empty(),
        "failed calls: {:?}",
        &failed[..failed.len().min(5)]
    );
    assert_eq!(bodies, N * 1024);
    // The pool dials one connection at a time while requests wait, so it opens up to
    // N / 100 connections (fewer when the first ones finish their streams before the
    // dialer gets that far), never more than max_connections.
    assert!(
        (2..=256).contains(&s.connections_opened),
        "{} connections for {N} streams at 100 per connection",
        s.connections_opened
    );
    assert!(peak_open <= 100 * peak_conns as u64);
    assert!(wall < Duration::from_secs(60), "took {wall:?}");
    assert!(
        status_value("VmHWM") < 1 << 20,
        "peak RSS over 1 GiB for 10,000 1 KiB responses"
    );
}

#[test]
#[ignore = "scale measurement: run by hand with --ignored --nocapture --test-threads=1"]
fn idle_connection_cost() {
    const CLIENTS: usize = 1000;
    let nofile = raise_nofile();
    assert!(
        nofile >= 2 * CLIENTS as u64 + 100,
        "RLIMIT_NOFILE {nofile} too low"
    );
    let server = Nghttpd::start(NghttpdOpts::default());
    let url = server.url();
    // The default config: idle close after 90 s and a keepalive PING every 30 s, both well
    // beyond the few seconds this takes (the setup time is printed).
    let new_client = || Client::new(&url, Config::default()).unwrap();
    // The runtime, its threads and the allocator's first pages exist before measuring.
    let warm: Vec<Client> = (0..10).map(|_| new_client()).collect();
    for c in &warm {
        assert_eq!(get(c, "/index.html").unwrap().status(), 200);
    }
    std::thread::sleep(Duration::from_millis(200));
    let fds_before = common::proxy::fd_count();
    let rss_before = rss_kib();

    // First the clients alone (no connection until the first request), then one GET each.
    let t0 = Instant::now();
    let clients: Vec<Client> = (0..CLIENTS).map(|_| new_client()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let rss_clients = rss_kib();
    for c in &clients {
        let r = get(c, "/index.html").unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.body().len(), 1024);
    }
    let setup = t0.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let rss_after = rss_kib();
    let fds_after = common::proxy::fd_count();
    let open: usize = clients.iter().map(|c| c.snapshot().connections).sum();
    let kib = |a: u64, b: u64| (b as f64 - a as f64) / CLIENTS as f64;
    let per_conn = kib(rss_before, rss_after);
    println!("--- {CLIENTS} clients, each holding one idle connection to nghttpd (one GET of 1 KiB each)");
    println!("set up in {setup:?}; connections open {open}; fds {fds_before} -> {fds_after}");
    println!(
        "RSS (VmRSS): {rss_before} KiB before, {rss_clients} KiB with the clients (no connection), \
         {rss_after} KiB with one idle connection each"
    );
    println!(
        "per idle connection: {per_conn:.1} KiB (client {:.1} + connection {:.1})",
        kib(rss_before, rss_clients),
        kib(rss_clients, rss_after)
    );
    println!("threads {}", thread_count());
    assert_eq!(open, CLIENTS, "every client keeps its connection");
    assert!(
        per_conn <= 64.0,
        "{per_conn:.1} KiB per idle connection (target 64)"
    );
    // Dropping the clients returns the sockets.
    drop(clients);
    std::thread::sleep(Duration::from_millis(500));
    println!(
        "after dropping them: RSS {} KiB, fds {}",
        rss_kib(),
        common::proxy::fd_count()
    );
    drop(warm);
}
