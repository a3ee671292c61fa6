//! Request → completion path without sockets: `cargo bench --bench request_path` (plain
//! `main`, no harness, so it runs on stable).
//!
//! Each session is one client connection driven by the test hook
//! `h2client::conn::fuzzing::run_session` on a current-thread runtime: N buffered GET
//! requests are submitted (exchange, stream slot, HPACK-encoded HEADERS written by the
//! writer task), the scripted server answers each with one HEADERS frame (`:status 200`,
//! HPACK static index 8, END_STREAM | END_HEADERS, streams 1, 3, 5, ...) after a valid
//! server preface, the reader decodes them and completes every exchange (notify), then the
//! connection is closed and both tasks end. Over `tokio::io::duplex` (the generic path TLS
//! takes) and, for comparison, loopback TCP (the plain-TCP path; its sockets cost system
//! calls).
//!
//! Prints, per transport and N, the best-of-runs time per session, per request (session /
//! N), and the marginal cost per request, (T(N) - T(1)) / (N - 1), which cancels the
//! connection's set-up and tear-down. N is at most 100: the hook reserves stream slots
//! before the server's SETTINGS arrive, against the assumed limit of 100.

use std::time::{Duration, Instant};

use h2client::conn::fuzzing::{run_session, SessionOptions, SessionRequest, Transport};

/// The server's answers to `n` requests: one HEADERS frame each, `:status 200` and
/// END_STREAM, on streams 1, 3, 5, ...
fn server_bytes(n: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(10 * n as usize);
    for i in 0..n {
        let id = 2 * i + 1;
        // length 1, type HEADERS, flags END_STREAM | END_HEADERS, stream id
        out.extend_from_slice(&[0, 0, 1, 0x1, 0x1 | 0x4]);
        out.extend_from_slice(&id.to_be_bytes());
        out.push(0x88);
    }
    out
}

fn options(n: u32, transport: Transport) -> SessionOptions {
    SessionOptions {
        transport,
        requests: vec![SessionRequest::get("/index.html"); n as usize],
        server_preface: true,
        eof: true,
        deadline: Duration::from_secs(30),
        ..SessionOptions::default()
    }
}

/// One session; checks that every request got its 200.
fn session(bytes: &[u8], opts: &SessionOptions) {
    let r = run_session(bytes, opts);
    for (i, res) in r.results.iter().enumerate() {
        match res {
            Ok(resp) => assert_eq!(resp.status(), 200, "request {i}"),
            Err(e) => panic!("request {i} failed: {e:?}"),
        }
    }
}

/// Best-of-`runs` nanoseconds per session, each run `iters` sessions.
fn time_session(n: u32, transport: Transport, runs: usize, iters: u32) -> f64 {
    let bytes = server_bytes(n);
    let opts = options(n, transport);
    session(&bytes, &opts); // warm up (and check)
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let start = Instant::now();
        for _ in 0..iters {
            session(&bytes, &opts);
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(iters));
    }
    best
}

fn main() {
    for (name, transport, iters) in [
        ("duplex (in memory)", Transport::Duplex, 2000),
        ("loopback TCP", Transport::Tcp, 500),
    ] {
        println!("{name}:");
        let t1 = time_session(1, transport, 7, iters);
        println!("  N=1    {:10.0} ns/session", t1);
        for n in [10u32, 100] {
            let t = time_session(n, transport, 7, (iters / n).max(20));
            println!(
                "  N={n:<4} {:10.0} ns/session {:8.0} ns/request   marginal {:6.0} ns/request",
                t,
                t / f64::from(n),
                (t - t1) / f64::from(n - 1)
            );
        }
    }
}
