//! How a `client_connection` fuzz input is read: two control bytes, then everything the
//! server sends. Shared by the fuzz target and `tests/fuzz_regressions.rs` (which includes
//! this file with `#[path]`), so a crashing input replays exactly.
//!
//! ```text
//! byte 0, flags:
//!   bit 0      write a valid server preface (SETTINGS + SETTINGS ACK) before the bytes
//!   bit 1      small limits (tiny windows, header list, body, flood budgets)
//!   bits 2-3   number of requests - 1 (1 to 4)
//!   bit 4      request 0 (then every other one) receives in streaming mode
//!   bits 5-6   request 0's body: 0 none, 1 100 B, 2 100 KiB (more than a window), 3 streamed
//!   bit 7      request 1, if any, is a HEAD
//! byte 1, the transport and how the server's side behaves:
//!   bit 7      loopback TCP (plain TCP's caller-thread write path) instead of an in-memory pipe
//!   bits 0-6:
//!   0x00-0x5f  EOF after the bytes; the low 6 bits choose the chunking (0: one write)
//!   0x60-0x7e  stays open; the caller cancels every request once the bytes are taken
//!   0x7f       stays open; requests and the connection time out (1-4 ms of real time: slow,
//!              so a single value, which libFuzzer finds through its comparison tracing)
//! rest: the server's bytes
//! ```
//!
//! Inputs shorter than two bytes run with flags 0 and byte 1 = 0.

use std::time::Duration;

use h2client::conn::fuzzing::{SessionOptions, SessionRequest, Transport};
use h2client::Config;

/// Wall-clock limit per session: anything not finished by then is reported as a hang. Far
/// above what a session takes (well under a millisecond without timeouts).
pub const HANG_LIMIT: Duration = Duration::from_secs(5);

/// Splits an input into the session's options and the server's bytes.
pub fn decode(data: &[u8]) -> (SessionOptions, &[u8]) {
    let (flags, mode, rest) = match data {
        [f, m, rest @ ..] => (*f, *m, rest),
        [f] => (*f, 0, &[][..]),
        [] => (0, 0, &[][..]),
    };
    let small = flags & 0x02 != 0;
    let tcp = mode & 0x80 != 0;
    let mode = mode & 0x7f;
    let timeouts = mode == 0x7f;
    let mut config = Config::default();
    if small {
        config.initial_window_size = 16;
        config.max_header_list_size = 1024;
        config.header_table_size = 64;
        config.max_response_body = 1000;
        config.max_continuation_frames = 3;
        config.max_empty_data_frames = 3;
        config.max_pending_acks = 3;
        config.max_glitches = 3;
        config.max_resets_per_second = 2;
    }
    if timeouts {
        config.settings_timeout = Duration::from_millis(3);
        config.keepalive_interval = Some(Duration::from_millis(1));
        config.keepalive_timeout = Duration::from_millis(2);
        config.idle_timeout = Some(Duration::from_millis(2));
        config.write_timeout = Duration::from_millis(4);
    }

    let n = 1 + usize::from((flags >> 2) & 3);
    let mut requests = Vec::with_capacity(n);
    for i in 0..n {
        let mut r = SessionRequest::get(&format!("/r{i}"));
        r.streaming = flags & 0x10 != 0 && i % 2 == 0;
        if i == 0 {
            match (flags >> 5) & 3 {
                1 => r.body = vec![b'x'; 100],
                2 => r.body = vec![b'y'; 100 << 10],
                3 => r.streamed_body = Some(vec![b'z'; 1000]),
                _ => {}
            }
            if !r.body.is_empty() || r.streamed_body.is_some() {
                r.method = "POST".into();
            }
        }
        if i == 1 && flags & 0x80 != 0 {
            r.method = "HEAD".into();
        }
        if timeouts {
            r.timeout = Some(Duration::from_millis(1 + i as u64));
        }
        requests.push(r);
    }

    let opts = SessionOptions {
        config,
        transport: if tcp {
            Transport::Tcp
        } else {
            Transport::Duplex
        },
        requests,
        server_preface: flags & 0x01 != 0,
        chunks: if mode < 0x60 {
            chunking(mode & 0x3f)
        } else {
            Vec::new()
        },
        eof: mode < 0x60,
        cancel_after_input: (0x60..0x7f).contains(&mode),
        deadline: HANG_LIMIT,
    };
    (opts, rest)
}

/// Chunk sizes for a seed: 0 is one write; others give 16 sizes up to a bound from 1 byte to
/// 4 KiB (xorshift, deterministic).
fn chunking(seed: u8) -> Vec<usize> {
    if seed == 0 {
        return Vec::new();
    }
    let max = [1usize, 3, 9, 17, 64, 300, 1000, 4096][usize::from(seed >> 3) & 7];
    let mut x = u32::from(seed).wrapping_mul(0x9e37_79b9) | 1;
    (0..16)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            1 + x as usize % max
        })
        .collect()
}
