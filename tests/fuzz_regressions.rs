//! Regression tests from fuzzing (`fuzz/`, see fuzz/README.md).
//!
//! Every `client_connection` input is replayed through the same hook
//! (`h2client::conn::fuzzing::run_session`), input decoding (`fuzz/src/session_input.rs`) and
//! checks (`fuzz/src/checks.rs`) as the fuzz target, so a crash found there is reproduced here
//! byte for byte: no panic, no hang, no request abandoned, and the bounds on output and
//! buffering. Inputs that crashed are inlined below with what the library must answer.

#[path = "../fuzz/src/checks.rs"]
mod checks;
#[path = "../fuzz/src/session_input.rs"]
mod session_input;

use std::path::Path;

use h2client::conn::fuzzing::{run_session, SessionReport};
use h2client::ErrorKind;

/// Replays one `client_connection` fuzz input with the fuzz target's checks (with a longer
/// hang limit than the fuzzer's: an unoptimized build on a busy CI machine is slower).
fn replay(input: &[u8]) -> SessionReport {
    let (mut opts, server) = session_input::decode(input);
    opts.deadline = std::time::Duration::from_secs(30);
    let report = run_session(server, &opts);
    checks::check_report(&opts, server, &report);
    report
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// What real servers sent (fuzz/tools/record.py) gives complete responses: the seeds are
/// valid conversations, so the fuzzer starts from the paths that matter.
#[test]
fn recorded_servers_are_answered() {
    let mut n = 0;
    for (name, input) in corpus("client_connection") {
        let Some((server, _)) = name.split_once('-') else {
            continue;
        };
        if !["h2testserver", "nghttpd", "h2o", "nginx"].contains(&server) {
            continue;
        }
        n += 1;
        let r = replay(&input);
        for (i, res) in r.results.iter().enumerate() {
            match res {
                Ok(resp) => assert!(
                    [200, 204, 404, 500].contains(&resp.status()),
                    "{name}: request {i}: status {}",
                    resp.status()
                ),
                // h2testserver's /reset/8 answers RST_STREAM(CANCEL).
                Err(e) if name.starts_with("h2testserver-reset-four") && i == 0 => {
                    assert_eq!(e.kind, ErrorKind::StreamReset, "{name}: {e:?}")
                }
                Err(e) => panic!("{name}: request {i}: {e:?}"),
            }
        }
    }
    assert!(n >= 5, "only {n} recorded seeds");
}

/// Every input in the committed corpus (seeds and what fuzzing kept) still passes.
#[test]
fn client_connection_corpus_replays() {
    let inputs = corpus("client_connection");
    assert!(!inputs.is_empty());
    for (name, input) in inputs {
        let r = std::panic::catch_unwind(|| replay(&input));
        if let Err(e) = r {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("fuzz/corpus/client_connection/{name}: {msg}");
        }
    }
}

/// What h2testserver sends for `GET /`: SETTINGS, SETTINGS ACK, WINDOW_UPDATE, HEADERS
/// (200, content-type, content-length 24), DATA "hello from h2testserver\n" with END_STREAM,
/// then GOAWAY(NO_ERROR, last stream 1) as nghttp closed.
const H2TESTSERVER_ROOT: &[u8] = &[
    0x00, 0x00, 0x12, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0xe8, 0x00,
    0x04, 0x40, 0x00, 0x00, 0x00, 0x00, 0x06, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f, 0xff, 0x00,
    0x01, 0x00, 0x00, 0x0f, 0x01, 0x04, 0x00, 0x00, 0x00, 0x01, 0x88, 0x5f, 0x87, 0x49, 0x7c, 0xa5,
    0x8a, 0xe8, 0x19, 0xaa, 0x0f, 0x0d, 0x82, 0x13, 0x5f, 0x00, 0x00, 0x18, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x01, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x66, 0x72, 0x6f, 0x6d, 0x20, 0x68, 0x32, 0x74,
    0x65, 0x73, 0x74, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0x0a, 0x00, 0x00, 0x08, 0x07, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
];

fn input(flags: u8, mode: u8, server: &[u8]) -> Vec<u8> {
    let mut v = vec![flags, mode];
    v.extend_from_slice(server);
    v
}

/// Found by client_connection: the fuzzer's memory grew by about 13 KB per session over
/// loopback TCP. `start_tcp` stored the writer's core (the caller-thread fast path) in
/// `ConnShared::fast` as an `Arc`, and the core holds an `Arc<ConnShared>`: a cycle, so every
/// plain-TCP connection ever made kept its shared state, write buffer, HPACK encoder and
/// channels after it closed (fixed in 18391a8, found there too). The hook fails a session
/// whose shared state is still referenced once both connection tasks have ended ("leak: ...").
#[test]
fn tcp_connection_state_is_freed_after_close() {
    // Byte 1 = 0x80: loopback TCP; the server closes at once.
    let r = replay(&input(0x00, 0x80, &[]));
    let e = r.results[0].as_ref().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Connection, "{e:?}");
    // A whole exchange, then the server's GOAWAY and EOF.
    let r = replay(&input(0x00, 0x80, H2TESTSERVER_ROOT));
    let resp = r.results[0].as_ref().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body(), b"hello from h2testserver\n");
    // The caller cancels after the server's preface (byte 1 = 0x80 | 0x60): the client
    // closes first.
    let r = replay(&input(0x00, 0xe0, &H2TESTSERVER_ROOT[..49]));
    assert_eq!(r.results[0].as_ref().unwrap_err().kind, ErrorKind::Canceled);
}

/// The same conversations over the in-memory pipe (`conn::start`, the path TLS takes).
#[test]
fn duplex_connection_state_is_freed_after_close() {
    let r = replay(&input(0x00, 0x00, &[]));
    assert_eq!(
        r.results[0].as_ref().unwrap_err().kind,
        ErrorKind::Connection
    );
    let r = replay(&input(0x00, 0x00, H2TESTSERVER_ROOT));
    assert_eq!(r.results[0].as_ref().unwrap().status(), 200);
    let r = replay(&input(0x00, 0x60, &H2TESTSERVER_ROOT[..49]));
    assert_eq!(r.results[0].as_ref().unwrap_err().kind, ErrorKind::Canceled);
}
