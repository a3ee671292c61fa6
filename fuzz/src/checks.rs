//! What a `client_connection` session must satisfy besides "no panic, no hang" (which the
//! hook checks). Shared by the fuzz target and `tests/fuzz_regressions.rs` (included there
//! with `#[path]`).

use h2client::conn::fuzzing::{self, SessionReport};
use h2client::ErrorKind;

/// The checks on a session's outcome (besides no panic and no hang, which the hook checks).
pub fn check_report(opts: &fuzzing::SessionOptions, server: &[u8], r: &SessionReport) {
    assert_eq!(r.results.len(), opts.requests.len());
    for (i, (res, req)) in r.results.iter().zip(&opts.requests).enumerate() {
        match res {
            Err(e) => {
                // A request the connection dropped without an answer is a library bug.
                assert_ne!(e.kind, ErrorKind::Internal, "request {i}: {e:?}");
                assert!(
                    !e.message.is_empty(),
                    "request {i}: error without a message"
                );
            }
            Ok(resp) => {
                let s = resp.status();
                assert!((200..=999).contains(&s), "request {i}: final status {s}");
                let body = resp.body().len() as u64;
                assert!(
                    body <= opts.config.max_response_body,
                    "request {i}: body of {body} bytes over max_response_body"
                );
                assert!(
                    body as usize <= server.len(),
                    "request {i}: body longer than the input"
                );
                if req.method == "HEAD" {
                    assert_eq!(body, 0, "request {i}: HEAD response with a body");
                }
            }
        }
    }
    for (i, (&unread, req)) in r.unread.iter().zip(&opts.requests).enumerate() {
        // Streaming bodies are never read: the stream's receive window bounds what piles up.
        assert!(
            unread <= opts.config.initial_window_size as usize,
            "request {i} ({}): {unread} unread bytes buffered, window {}",
            req.path,
            opts.config.initial_window_size
        );
    }
    // What the client writes is bounded by what it sends on its own (preface, requests,
    // bodies, GOAWAY) plus a bounded answer per byte received (acks, window updates, resets).
    let bodies: usize = opts
        .requests
        .iter()
        .map(|q| q.body.len() + q.streamed_body.as_ref().map_or(0, Vec::len))
        .sum();
    let limit = 4096 + bodies + 2 * r.server_bytes_written;
    assert!(
        r.client_bytes <= limit,
        "client wrote {} bytes for {} server bytes (limit {limit})",
        r.client_bytes,
        r.server_bytes_written
    );
    assert!(r.server_bytes_written <= server.len() + fuzzing::SERVER_PREFACE.len());
}
