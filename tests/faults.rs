//! Faults of the network and of the server, against real peers and the scripted raw server:
//!
//! * nghttpd killed (SIGKILL) under load from 64 threads: in-flight requests fail with
//!   `processed` = MAYBE (or succeed); nothing that was sent is reported as NO; no thread hangs;
//!   while it is down new requests fail with `ErrorKind::Connect` ("refused", NO); after a
//!   restart on the same port requests succeed; open file descriptors do not grow.
//! * A blackholed connection (a proxy that stops forwarding but keeps the sockets open):
//!   keepalive PINGs detect it (`ErrorKind::Timeout`, "PING") within about a second; a new
//!   connection works.
//! * A connection reset mid-response (SO_LINGER 0, RST): `ErrorKind::Connection`, "reset".
//! * A server that shuts down its write side mid-response: `ErrorKind::Connection`, no hang,
//!   and the client closes its side.
//! * ECONNREFUSED: `ErrorKind::Connect`, "refused", processed NO.
//!
//! The tests of this file run one at a time (they count this process's file descriptors).
//!
//! `soak` (ignored; `scripts/soak.sh` runs it): a million requests from 64 threads through one
//! client against nghttpd, printing RSS and open descriptors at 10 k, 100 k and 1 M requests.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use common::proxy::{
    fd_count, file_bytes, rss_kib, set_linger0, status_value, thread_count, Nghttpd, NghttpdOpts,
    Proxy, Split,
};
use common::rawserver::RawServer;
use common::{eventually, pattern, server};
use h2client::{Client, Config, ErrorKind, Processed, Request, Response};

/// The tests here count file descriptors: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn get(c: &Client, path: &str) -> h2client::error::Result<Response> {
    c.execute(Arc::new(Request::new("GET", path).unwrap()))
}

fn client(url: &str, f: impl FnOnce(&mut Config)) -> Client {
    let mut cfg = Config::default();
    cfg.set_request_timeout_ms(30_000);
    f(&mut cfg);
    Client::new(url, cfg).expect("client")
}

/// Descriptors that may come and go with the runtime (its lazily made eventfd and the like).
const FD_SLACK: usize = 4;

// ---------------------------------------------------------------------------------------------
// nghttpd killed under load

/// One request of the load, as it ended.
struct Outcome {
    path: &'static str,
    result: Result<(), h2client::error::Error>,
    /// A response that arrived but was wrong.
    bad: Option<String>,
    ended: Instant,
}

/// 64 threads request `/` (1 KiB) and `/f1m` (1 MiB) until told to stop; nghttpd is killed
/// with SIGKILL after 300 ms of load and at least 200 responses. Checks every outcome and
/// returns (responses, in-flight failures).
fn load_and_kill(c: &Arc<Client>, ng: &mut Nghttpd, round: usize) -> (usize, usize) {
    const THREADS: usize = 64;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<Vec<Outcome>>();
    for t in 0..THREADS {
        let (c, stop, done, tx) = (c.clone(), stop.clone(), done.clone(), tx.clone());
        thread::spawn(move || {
            let mut out = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let path = if (t + i) % 2 == 0 { "/" } else { "/f1m" };
                i += 1;
                let result = get(&c, path);
                let want = if path == "/" {
                    &file_bytes()[..1024]
                } else {
                    &file_bytes()[..1 << 20]
                };
                let bad = match &result {
                    Ok(r) if r.status() != 200 || r.body() != want => Some(format!(
                        "GET {path}: status {}, {} bytes: wrong response",
                        r.status(),
                        r.body().len()
                    )),
                    _ => None,
                };
                let result = result.map(drop);
                if result.is_ok() {
                    done.fetch_add(1, Ordering::SeqCst);
                }
                out.push(Outcome {
                    path,
                    result,
                    bad,
                    ended: Instant::now(),
                });
            }
            let _ = tx.send(out);
        });
    }
    drop(tx);
    let t0 = Instant::now();
    assert!(
        eventually(Duration::from_secs(30), || {
            t0.elapsed() > Duration::from_millis(300) && done.load(Ordering::SeqCst) >= 200
        }),
        "round {round}: the load did not get going: {} responses",
        done.load(Ordering::SeqCst)
    );
    let pid = ng.pid();
    ng.kill();
    let killed = Instant::now();
    stop.store(true, Ordering::SeqCst);

    // No thread may hang: every one reports within 10 s of the kill.
    let mut outcomes = Vec::new();
    for n in 0..THREADS {
        let left = Duration::from_secs(10).saturating_sub(killed.elapsed());
        match rx.recv_timeout(left) {
            Ok(v) => outcomes.extend(v),
            Err(_) => panic!(
                "round {round}: {} of {THREADS} request threads still blocked 10 s after nghttpd \
                 (pid {pid:?}) was killed; client: {:?}",
                THREADS - n,
                snapshot_line(c)
            ),
        }
    }
    let bad: Vec<&String> = outcomes.iter().filter_map(|o| o.bad.as_ref()).collect();
    assert!(bad.is_empty(), "round {round}: wrong responses: {bad:?}");
    let ok = outcomes.iter().filter(|o| o.result.is_ok()).count();
    let mut in_flight = 0;
    let mut refused = 0;
    let mut slowest = Duration::ZERO;
    for o in &outcomes {
        let Err(e) = &o.result else { continue };
        slowest = slowest.max(o.ended.saturating_duration_since(killed));
        let what = format!("round {round}: GET {} after the kill: {e:?}", o.path);
        match e.kind {
            // A new connection after the kill: never sent, so NO.
            ErrorKind::Connect => {
                assert_eq!(e.processed, Processed::No, "{what}");
                assert!(e.message.contains("refused"), "{what}");
                refused += 1;
            }
            // The connection died under the request: it was (or may have been) sent, so it may
            // have been processed. NO here would tell the caller it is safe to resend something
            // the server may have acted on.
            ErrorKind::Connection => {
                assert_ne!(
                    e.processed,
                    Processed::No,
                    "{what}: a request on a dead connection reported as certainly unprocessed"
                );
                in_flight += 1;
            }
            _ => panic!("{what}: unexpected error kind"),
        }
    }
    println!(
        "round {round}: {} requests: {ok} ok, {in_flight} failed in flight, {refused} refused \
         after the kill; last failure {slowest:?} after the kill; {}",
        outcomes.len(),
        snapshot_line(c)
    );
    assert!(
        in_flight > 0,
        "round {round}: no request was in flight when nghttpd was killed"
    );
    (ok, in_flight)
}

fn snapshot_line(c: &Client) -> String {
    let s = c.snapshot();
    format!(
        "connections {} (opened {}), open streams {}, waiting {}, retries {}, completed {}, \
         failed {}",
        s.connections,
        s.connections_opened,
        s.open_streams,
        s.waiting,
        s.retries,
        s.requests_completed,
        s.requests_failed
    )
}

/// nghttpd killed with SIGKILL mid-load, twice (kill, requests while down, restart on the same
/// port, requests), on one client; then the client is dropped and the descriptors counted.
#[test]
fn nghttpd_killed_mid_load() {
    let _g = serial();
    let mut ng = Nghttpd::start(NghttpdOpts::default());
    // The first client starts the library's runtime: do that before counting.
    {
        let c = client(&ng.url(), |_| {});
        get(&c, "/").expect("warm-up GET");
    }
    thread::sleep(Duration::from_millis(200));
    let fds_before = fd_count();
    let c = Arc::new(client(&ng.url(), |cfg| {
        cfg.set_connect_timeout_ms(2000).unwrap();
    }));
    let mut fds_after_round = Vec::new();
    for round in 0..2 {
        load_and_kill(&c, &mut ng, round);

        // Down: new requests fail fast with Connect/refused, processed NO.
        for i in 0..5 {
            let t0 = Instant::now();
            let e = get(&c, "/").expect_err("GET while nghttpd is down succeeded");
            let what = format!("round {round}: GET #{i} while down: {e:?}");
            assert_eq!(e.kind, ErrorKind::Connect, "{what}");
            assert!(e.message.contains("refused"), "{what}");
            assert_eq!(e.processed, Processed::No, "{what}");
            assert!(t0.elapsed() < Duration::from_secs(2), "{what}: slow");
        }
        // From many threads at once, too.
        thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    let e = get(&c, "/f1").expect_err("GET while down succeeded");
                    assert_eq!(e.kind, ErrorKind::Connect, "{e:?}");
                    assert_eq!(e.processed, Processed::No, "{e:?}");
                });
            }
        });

        ng.restart();
        for i in 0..20 {
            let r = get(&c, "/")
                .unwrap_or_else(|e| panic!("round {round}: GET #{i} after the restart: {e:?}"));
            assert_eq!(r.body(), &file_bytes()[..1024]);
        }
        let r = get(&c, "/f1m").expect("GET /f1m after the restart");
        assert!(r.body() == &file_bytes()[..1 << 20]);
        thread::sleep(Duration::from_millis(100));
        fds_after_round.push(fd_count());
        println!(
            "round {round}: after the restart: {}; fds {} (before the load {fds_before})",
            snapshot_line(&c),
            fds_after_round[round]
        );
    }
    let opened = c.snapshot().connections_opened;
    drop(c);
    let mut fds_end = fd_count();
    eventually(Duration::from_secs(3), || {
        fds_end = fd_count();
        fds_end <= fds_before + FD_SLACK
    });
    println!(
        "fds: before {fds_before}, after each round {fds_after_round:?}, at the end {fds_end} \
         ({opened} connections opened)"
    );
    assert!(
        fds_after_round[1] <= fds_after_round[0] + 1,
        "open descriptors grow with each kill/restart round: {fds_after_round:?}"
    );
    assert!(
        fds_end <= fds_before + FD_SLACK,
        "descriptors leaked: {fds_before} before, {fds_end} after the client was dropped"
    );
}

// ---------------------------------------------------------------------------------------------
// Blackhole

/// A proxy stops forwarding with requests in flight (some waiting for a head, some mid-body):
/// keepalive (interval 200 ms, timeout 300 ms) fails them with Timeout naming PING within
/// about a second. Then the proxy forwards again and a new connection serves a new request.
#[test]
fn blackholed_connection_fails_by_keepalive() {
    let _g = serial();
    let s = server();
    let proxy = Proxy::start(s.addr(), Split::Whole);
    let c = Arc::new(client(&proxy.url("http"), |cfg| {
        cfg.set_keepalive_interval_ms(200);
        cfg.set_keepalive_timeout_ms(300).unwrap();
    }));
    get(&c, "/").expect("GET through the proxy");

    let (tx, rx) = mpsc::channel();
    let paths = [
        "/delay/10000",
        "/delay/10000",
        "/delay/10000",
        "/slow-bytes/1000000/1000/50",
        "/slow-bytes/1000000/1000/50",
    ];
    for path in paths {
        let (c, tx) = (c.clone(), tx.clone());
        thread::spawn(move || {
            let r = get(&c, path);
            let _ = tx.send((path, r.map(|r| r.status()), Instant::now()));
        });
    }
    drop(tx);
    // Long enough for a few keepalive PINGs to be answered through the proxy.
    thread::sleep(Duration::from_millis(700));
    assert_eq!(c.snapshot().open_streams, paths.len() as u64);
    proxy.set_forwarding(false);
    let t_black = Instant::now();

    for _ in paths {
        let (path, r, ended) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a request still hangs 10 s after the blackhole");
        let took = ended.duration_since(t_black);
        let e = r.expect_err("a request succeeded through the blackhole");
        println!("GET {path}: {took:?} after the blackhole: {e:?}");
        assert_eq!(e.kind, ErrorKind::Timeout, "GET {path}: {e:?}");
        assert!(e.message.contains("PING"), "GET {path}: {e:?}");
        assert_ne!(e.processed, Processed::No, "GET {path}: {e:?}");
        assert!(
            took < Duration::from_millis(1200),
            "GET {path}: the dead connection was noticed only after {took:?}"
        );
    }
    assert_eq!(c.snapshot().connections_opened, 1);

    proxy.set_forwarding(true);
    let r = get(&c, "/bytes/100000").expect("GET on a new connection after the blackhole");
    assert!(r.body() == pattern(100_000).as_slice());
    let snap = c.snapshot();
    assert_eq!(snap.connections_opened, 2, "a new connection: {snap:?}");
    assert_eq!(proxy.accepted(), 2);
}

// ---------------------------------------------------------------------------------------------
// Reset, half close, refused

/// A raw server answers with a head and 30,000 of 100,000 body bytes, then closes with
/// SO_LINGER 0 (RST): Connection, "reset", the head arrived so processed is YES.
#[test]
fn reset_mid_response_by_raw_server() {
    let _g = serial();
    let srv = RawServer::start(|_, mut conn| {
        conn.handshake(&[]);
        let req = conn.next_request().expect("request");
        conn.headers(
            req.stream_id,
            &[(":status", "200"), ("content-length", "100000")],
            false,
        );
        conn.data(req.stream_id, &pattern(30_000), false);
        thread::sleep(Duration::from_millis(100));
        set_linger0(&conn.s);
        drop(conn);
    });
    let c = client(&srv.url(), |_| {});
    let t0 = Instant::now();
    let e = get(&c, "/").expect_err("a reset response succeeded");
    println!("RST mid-response: {:?}: {e:?}", t0.elapsed());
    assert_eq!(e.kind, ErrorKind::Connection, "{e:?}");
    assert!(e.message.to_lowercase().contains("reset"), "{e:?}");
    assert_eq!(e.processed, Processed::Yes, "{e:?}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    srv.finish();
}

/// The proxy resets the connection (RST to the client) while the test server streams a slow
/// body and holds another response: the streaming call and the blocking one both fail with
/// Connection, "reset"; the client reconnects for the next request.
#[test]
fn reset_mid_response_by_proxy() {
    let _g = serial();
    let s = server();
    let proxy = Proxy::start(s.addr(), Split::Whole);
    let c = Arc::new(client(&proxy.url("http"), |_| {}));
    let call = c
        .start(Arc::new(
            Request::new("GET", "/slow-bytes/1000000/1000/20").unwrap(),
        ))
        .expect("start");
    call.wait_headers().expect("head");
    assert_eq!(call.status(), 200);
    let mut buf = [0u8; 4096];
    let n = call.read(&mut buf).expect("first bytes");
    assert!(n > 0);
    let blocking = {
        let c = c.clone();
        thread::spawn(move || get(&c, "/delay/5000"))
    };
    thread::sleep(Duration::from_millis(200));
    proxy.reset_all();
    let t0 = Instant::now();
    let e = loop {
        match call.read(&mut buf) {
            Ok(0) => panic!("the body ended normally after a reset"),
            Ok(_) => {}
            Err(e) => break e,
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "reading still works");
    };
    println!("proxy RST, streaming call: {:?}: {e:?}", t0.elapsed());
    assert_eq!(e.kind, ErrorKind::Connection, "{e:?}");
    assert!(e.message.to_lowercase().contains("reset"), "{e:?}");
    let e = blocking
        .join()
        .unwrap()
        .expect_err("blocking GET survived the reset");
    println!("proxy RST, blocking call: {e:?}");
    assert_eq!(e.kind, ErrorKind::Connection, "{e:?}");
    assert!(e.message.to_lowercase().contains("reset"), "{e:?}");
    assert_ne!(e.processed, Processed::No, "{e:?}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    let r = get(&c, "/bytes/1000").expect("GET after the reset");
    assert!(r.body() == pattern(1000).as_slice());
    assert_eq!(c.snapshot().connections_opened, 2);
}

/// A raw server sends a head and part of the body, then shuts down its write side (FIN) and
/// keeps reading: a Connection error that says the server closed the connection, promptly, and
/// the client then closes its side too (the server reads EOF).
#[test]
fn half_closed_mid_response() {
    let _g = serial();
    let fds_before = fd_count();
    let (tx, rx) = mpsc::channel();
    let srv = RawServer::start(move |_, mut conn| {
        conn.handshake(&[]);
        let req = conn.next_request().expect("request");
        conn.headers(
            req.stream_id,
            &[(":status", "200"), ("content-length", "100000")],
            false,
        );
        conn.data(req.stream_id, &pattern(30_000), false);
        conn.s.shutdown(std::net::Shutdown::Write).unwrap();
        // The client should close its side once it has seen our FIN.
        let _ = tx.send(conn.expect_eof(Duration::from_secs(5)));
    });
    let c = client(&srv.url(), |_| {});
    let t0 = Instant::now();
    let e = get(&c, "/").expect_err("a truncated response succeeded");
    let took = t0.elapsed();
    println!("half close mid-response: {took:?}: {e:?}");
    assert_eq!(e.kind, ErrorKind::Connection, "{e:?}");
    assert!(e.message.contains("closed"), "{e:?}");
    assert_eq!(e.processed, Processed::Yes, "{e:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "the client kept its side of the half-closed connection open"
    );
    srv.finish();
    assert!(eventually(Duration::from_secs(2), || c
        .snapshot()
        .connections
        == 0));
    drop(c);
    let mut fds = 0;
    eventually(Duration::from_secs(2), || {
        fds = fd_count();
        fds <= fds_before + FD_SLACK
    });
    assert!(fds <= fds_before + FD_SLACK, "fds {fds_before} -> {fds}");
}

/// Nothing listens: Connect, "refused", processed NO, at once; the next request tries again.
#[test]
fn connection_refused() {
    let _g = serial();
    let port = common::proxy::free_port();
    let c = client(&format!("http://127.0.0.1:{port}"), |_| {});
    for i in 0..3 {
        let t0 = Instant::now();
        let e = get(&c, "/").expect_err("nothing listens");
        println!("refused #{i}: {:?}: {e:?}", t0.elapsed());
        assert_eq!(e.kind, ErrorKind::Connect, "{e:?}");
        assert!(e.message.contains("refused"), "{e:?}");
        assert_eq!(e.processed, Processed::No, "{e:?}");
        assert!(t0.elapsed() < Duration::from_secs(1));
    }
    assert_eq!(c.snapshot().connections_opened, 0);
}

// ---------------------------------------------------------------------------------------------
// Fast responses from many threads

/// 64 threads send 1,500 small GETs each through one client to the in-process test server,
/// while 4 more threads spin (so that the library's threads get preempted at any point, as on a
/// loaded machine): every request must succeed. (A blocking caller that starts waiting just as
/// the reader completes its request must get the response, not "the response was already
/// taken".)
#[test]
fn many_fast_requests_all_succeed() {
    let _g = serial();
    let s = server();
    let c = client(&s.url(), |_| {});
    let errors = Mutex::new(Vec::<String>::new());
    let failed = AtomicU64::new(0);
    let spinning = AtomicBool::new(true);
    let t0 = Instant::now();
    thread::scope(|sc| {
        for _ in 0..4 {
            let spinning = &spinning;
            sc.spawn(move || {
                while spinning.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
        }
        let mut hs = Vec::new();
        for t in 0..64 {
            let (c, errors, failed) = (&c, &errors, &failed);
            hs.push(sc.spawn(move || {
                for i in 0..1500 {
                    let n = (t + i) % 3;
                    match get(c, &format!("/bytes/{n}")) {
                        Ok(r) if r.body() == pattern(n).as_slice() => {}
                        other => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            let mut e = errors.lock().unwrap();
                            if e.len() < 5 {
                                e.push(format!("thread {t} #{i}: {:?}", other.map(|r| r.status())));
                            }
                        }
                    }
                }
            }));
        }
        for h in hs {
            let _ = h.join();
        }
        spinning.store(false, Ordering::Relaxed);
    });
    let failed = failed.load(Ordering::Relaxed);
    println!(
        "96000 GETs from 64 threads in {:?}: {failed} failed; first: {:?}",
        t0.elapsed(),
        errors.lock().unwrap()
    );
    assert_eq!(failed, 0, "first failures: {:?}", errors.lock().unwrap());
}

// ---------------------------------------------------------------------------------------------
// Soak (by hand: scripts/soak.sh)

/// Process figures at a checkpoint.
#[derive(Debug, Clone)]
struct Checkpoint {
    requests: u64,
    secs: f64,
    rss_kib: u64,
    hwm_kib: u64,
    fds: usize,
    threads: u64,
    connections_opened: u64,
}

fn checkpoint(requests: u64, t0: Instant, c: &Client) -> Checkpoint {
    Checkpoint {
        requests,
        secs: t0.elapsed().as_secs_f64(),
        rss_kib: rss_kib(),
        hwm_kib: status_value("VmHWM"),
        fds: fd_count(),
        threads: thread_count(),
        connections_opened: c.snapshot().connections_opened,
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: a number")))
        .unwrap_or(default)
}

/// SOAK_REQUESTS (default 1,000,000) GETs from SOAK_THREADS (default 64) threads through one
/// client against nghttpd (`--no-tls -n 1`): `/f1` (1 byte), every 64th `/f16k`, bodies checked.
/// Prints RSS, peak RSS, open descriptors and threads at 10 k, 100 k and 1 M requests; fails on
/// any error, on descriptors growing after 10 k, or on RSS growing by more than 16 MiB from
/// 100 k to the end.
#[test]
#[ignore = "soak, by hand: scripts/soak.sh"]
fn soak() {
    let _g = serial();
    let total = env_u64("SOAK_REQUESTS", 1_000_000);
    let threads = env_u64("SOAK_THREADS", 64) as usize;
    let ng = Nghttpd::start(NghttpdOpts::default());
    let c = Arc::new(client(&ng.url(), |_| {}));
    get(&c, "/f1").expect("warm-up");
    let start = checkpoint(0, Instant::now(), &c);
    let marks: Vec<u64> = [10_000u64, 100_000, 1_000_000, total]
        .into_iter()
        .filter(|&m| m <= total)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let next = Arc::new(AtomicU64::new(0));
    let completed = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let first_errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let points = Arc::new(Mutex::new(vec![start.clone()]));
    let t0 = Instant::now();
    println!(
        "soak: {total} requests, {threads} threads, one client, nghttpd {} (-n 1, h2c)",
        ng.url()
    );
    thread::scope(|s| {
        for _ in 0..threads {
            let (c, next, completed, failed, first_errors, points, marks) = (
                &c,
                &next,
                &completed,
                &failed,
                &first_errors,
                &points,
                &marks,
            );
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let (path, n) = if i % 64 == 0 {
                    ("/f16k", 16 << 10)
                } else {
                    ("/f1", 1)
                };
                match get(c, path) {
                    Ok(r) if r.status() == 200 && r.body() == &file_bytes()[..n] => {}
                    other => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let mut fe = first_errors.lock().unwrap();
                        if fe.len() < 5 {
                            fe.push(format!(
                                "#{i} GET {path}: {:?}",
                                other.map(|r| (r.status(), r.body().len()))
                            ));
                        }
                    }
                }
                let done = completed.fetch_add(1, Ordering::Relaxed) + 1;
                if marks.contains(&done) {
                    let p = checkpoint(done, t0, c);
                    println!(
                        "  {:>9} requests  {:7.1} s  {:>7.0} req/s  RSS {:>6} KiB  peak {:>6} KiB  \
                         fds {:>3}  threads {:>3}  connections opened {}",
                        p.requests,
                        p.secs,
                        p.requests as f64 / p.secs,
                        p.rss_kib,
                        p.hwm_kib,
                        p.fds,
                        p.threads,
                        p.connections_opened
                    );
                    points.lock().unwrap().push(p);
                } else if done % 100_000 == 0 {
                    println!("  {done:>9} requests  {:7.1} s", t0.elapsed().as_secs_f64());
                }
            });
        }
    });
    let wall = t0.elapsed();
    let snap = c.snapshot();
    drop(c);
    thread::sleep(Duration::from_millis(300));
    let after_drop = (rss_kib(), fd_count());
    let points = points.lock().unwrap().clone();
    let failed = failed.load(Ordering::Relaxed);
    println!(
        "soak: {total} requests in {:.1} s ({:.0} req/s), {failed} failed; connections opened {}, \
         retries {}, bytes received {}",
        wall.as_secs_f64(),
        total as f64 / wall.as_secs_f64(),
        snap.connections_opened,
        snap.retries,
        snap.bytes_received
    );
    println!(
        "soak: before the load RSS {} KiB, fds {}; after dropping the client RSS {} KiB, fds {}",
        start.rss_kib, start.fds, after_drop.0, after_drop.1
    );
    assert_eq!(
        failed,
        0,
        "soak: failures, first: {:?}",
        first_errors.lock().unwrap()
    );
    let at = |n: u64| points.iter().find(|p| p.requests == n).cloned();
    let last = points.last().unwrap().clone();
    if let Some(p10k) = at(10_000) {
        assert!(
            last.fds <= p10k.fds + 1,
            "descriptors grew: {} at 10 k, {} at {}",
            p10k.fds,
            last.fds,
            last.requests
        );
    }
    if let Some(p100k) = at(100_000) {
        assert!(
            last.rss_kib <= p100k.rss_kib + 16 * 1024,
            "RSS grew by {} KiB from 100 k to {} requests",
            last.rss_kib - p100k.rss_kib,
            last.requests
        );
    }
}
