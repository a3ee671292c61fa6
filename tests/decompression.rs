//! Transparent decompression (`h2_config_set_accept_encoding`, issue 15) against the test
//! server's `/encoded/CODINGS/N` (its text coded with gzip, deflate, br, zstd, stacked) and
//! `/bomb/CODING/MIB` (zeros that inflate a thousandfold and more): buffered and streamed
//! bodies decode to the text byte for byte, the head loses `content-encoding` and
//! `content-length`, what is not ours to decode comes as sent, corrupt and truncated data
//! is `H2_E_DECODE` naming the coding, and a bomb stops at `max_response_body` (buffered) or
//! streams through in bounded memory. nginx (`gzip on`, precompressed files) is in interop.rs.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::capi::{c_read_all, cs, last_message};
use common::proxy::rss_kib;
use common::*;
use h2client::ffi::*;
use h2client::{Client, Config, ErrorKind, Processed, Request};
use h2client_testserver::text;

/// A client that decodes every coding (`accept_encoding ""`), with `f` applied to its config.
fn decoding_client(url: &str, f: impl FnOnce(&mut Config)) -> Client {
    client_with(url, |c| {
        c.set_accept_encoding(Some("")).unwrap();
        f(c);
    })
}

fn req(method: &str, path: &str) -> Arc<Request> {
    Arc::new(Request::new(method, path).unwrap())
}

/// The codings the tests fetch, as the path names them, and as `content-encoding` has them.
const CODINGS: [(&str, &str); 8] = [
    ("gzip", "gzip"),
    ("x-gzip", "x-gzip"),
    ("deflate", "deflate"),
    ("br", "br"),
    ("zstd", "zstd"),
    ("gzip,br", "gzip, br"),
    ("zstd,deflate", "zstd, deflate"),
    ("br,gzip,zstd", "br, gzip, zstd"),
];

const N: usize = 300_000;

/// Asserts that `got` is `want`, without printing megabytes.
fn same(what: &str, got: &[u8], want: &[u8]) {
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{what}: got {} bytes, want {}; first difference at {at:?}",
            got.len(),
            want.len()
        );
    }
}

#[test]
fn buffered_bodies_decode_byte_for_byte() {
    let s = server();
    let c = decoding_client(&s.url(), |_| {});
    let want = text(N);
    for (path, _) in CODINGS {
        let r = get(&c, &format!("/encoded/{path}/{N}")).unwrap();
        assert_eq!(r.status(), 200, "{path}");
        same(path, r.body(), &want);
        assert!(r.decoded(), "{path}");
        assert_eq!(r.decoded_from().len(), path.split(',').count(), "{path}");
        // The encoded body's framing is gone; the rest of the head stays.
        assert_eq!(r.headers().value(b"content-encoding"), None, "{path}");
        assert_eq!(r.headers().value(b"content-length"), None, "{path}");
        assert_eq!(r.headers().value(b"content-type"), Some(&b"text/plain"[..]));
        let coded: usize = std::str::from_utf8(r.headers().value(b"x-encoded-length").unwrap())
            .unwrap()
            .parse()
            .unwrap();
        assert!(coded < N / 2, "{path}: {coded} bytes coded");
    }
    // `identity` alone is no coding: nothing to decode, the head as sent.
    let r = get(&c, &format!("/encoded/identity/{N}")).unwrap();
    same("identity", r.body(), &want);
    assert!(!r.decoded());
    assert_eq!(
        r.headers().value(b"content-encoding"),
        Some(&b"identity"[..])
    );
    // Without content-length, and a submitted call (buffered the same way).
    let r = get(&c, &format!("/encoded/br/{N}?nolength")).unwrap();
    same("br without content-length", r.body(), &want);
    let (tx, rx) = std::sync::mpsc::channel();
    let call = c
        .submit(
            req("GET", &format!("/encoded/zstd/{N}")),
            std::sync::Arc::new(move |_: &h2client::exchange::Exchange| {
                let _ = tx.send(());
            }),
        )
        .unwrap();
    rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let r = call.response().unwrap();
    same("submitted zstd", r.body(), &want);
    assert!(r.decoded());
}

#[test]
fn the_accept_encoding_sent_and_who_decodes() {
    let s = server();
    let echoed = |c: &Client, own: Option<&str>| {
        let mut r = Request::new("GET", "/echo").unwrap();
        if let Some(v) = own {
            r.add_header(b"Accept-Encoding", v.as_bytes()).unwrap();
        }
        let resp = c.execute(Arc::new(r)).unwrap();
        let all: Vec<String> = resp
            .headers()
            .iter()
            .filter(|(n, _)| *n == b"x-echo-h-accept-encoding")
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect();
        (!all.is_empty()).then(|| all.join(" | "))
    };
    // Off by default: nothing sent, nothing decoded.
    let off = client_with(&s.url(), |_| {});
    assert_eq!(echoed(&off, None), None);
    let r = get(&off, "/encoded/gzip/1000").unwrap();
    assert!(!r.decoded());
    assert_eq!(r.headers().value(b"content-encoding"), Some(&b"gzip"[..]));
    assert_eq!(&r.body()[..2], &[0x1f, 0x8b]);

    let all = decoding_client(&s.url(), |_| {});
    assert_eq!(
        echoed(&all, None).as_deref(),
        Some("gzip, deflate, br, zstd")
    );
    let some = client_with(&s.url(), |c| {
        c.set_accept_encoding(Some("br;q=1, gzip;q=0.5")).unwrap()
    });
    assert_eq!(echoed(&some, None).as_deref(), Some("br;q=1, gzip;q=0.5"));
    // A request that asks for codings itself gets them as sent (as Go's transport does),
    // and its own value only.
    assert_eq!(echoed(&all, Some("gzip")).as_deref(), Some("gzip"));
    let mut own = Request::new("GET", "/encoded/gzip/5000").unwrap();
    own.add_header(b"accept-encoding", b"gzip").unwrap();
    let r = all.execute(Arc::new(own)).unwrap();
    assert!(!r.decoded());
    assert_eq!(r.headers().value(b"content-encoding"), Some(&b"gzip"[..]));
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(r.body()), &mut plain).unwrap();
    same("the caller's own gzip", &plain, &text(5000));
    // Any coding we decode is decoded, whatever the list sent named.
    let r = get(&some, "/encoded/zstd/5000").unwrap();
    assert!(r.decoded());
    same("zstd to a br/gzip client", r.body(), &text(5000));

    let mut cfg = Config::default();
    for bad in ["gzip\r\nx: y", " gzip", "gzip ", "nul\0"] {
        assert!(cfg.set_accept_encoding(Some(bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn responses_without_content_are_left_alone() {
    let s = server();
    let c = decoding_client(&s.url(), |_| {});
    // HEAD: the head describes the coded body a GET would get.
    let r = c.execute(req("HEAD", "/encoded/gzip/1000")).unwrap();
    assert_eq!(r.status(), 200);
    assert!(!r.decoded());
    assert!(r.body().is_empty());
    assert_eq!(r.headers().value(b"content-encoding"), Some(&b"gzip"[..]));
    assert!(r.headers().value(b"content-length").is_some());
    for status in [204, 304] {
        let r = get(&c, &format!("/encoded/br/1000?status={status}")).unwrap();
        assert_eq!(r.status(), status);
        assert!(!r.decoded());
        assert_eq!(r.headers().value(b"content-encoding"), Some(&b"br"[..]));
    }
    // 206: a range of the coded bytes cannot be decoded on its own.
    let r = get(&c, "/encoded/gzip/1000?status=206").unwrap();
    assert!(!r.decoded());
    assert_eq!(&r.body()[..2], &[0x1f, 0x8b]);
    // An empty body under a content-encoding is an empty body, for every coding.
    for coding in ["gzip", "deflate", "br", "zstd", "gzip,br"] {
        let r = get(&c, &format!("/encoded/{coding}/1000?empty")).unwrap();
        assert!(r.body().is_empty(), "{coding}");
        assert!(r.decoded(), "{coding}");
        let call = c
            .start(req("GET", &format!("/encoded/{coding}/1000?empty")))
            .unwrap();
        assert!(read_all(&call).is_empty(), "{coding}");
        assert!(call.error().is_none(), "{coding}");
        // An empty text, coded: a real (short) coded stream.
        let r = get(&c, &format!("/encoded/{coding}/0")).unwrap();
        assert!(r.body().is_empty() && r.decoded(), "{coding}");
    }
    // A coding we do not know: as sent.
    let r = get(&c, "/encoded/identity/100").unwrap();
    assert!(!r.decoded());
    // A non-2xx body is decoded like any other.
    let r = get(&c, "/encoded/gzip/2000?status=404").unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.decoded());
    same("404 body", r.body(), &text(2000));
}

#[test]
fn streamed_bodies_decode_as_they_are_read() {
    let s = server();
    let c = decoding_client(&s.url(), |_| {});
    let want = text(N);
    for (path, _) in CODINGS {
        // Small reads: each takes only what it needs.
        let call = c
            .start(req("GET", &format!("/encoded/{path}/{N}")))
            .unwrap();
        call.wait_headers().unwrap();
        assert!(call.decoded(), "{path}");
        assert!(
            call.with_head(|r| r.headers().value(b"content-encoding").is_none()),
            "{path}"
        );
        let mut got = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            let n = call.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            assert!(n <= buf.len());
            got.extend_from_slice(&buf[..n]);
        }
        same(path, &got, &want);
        assert!(call.error().is_none(), "{path}");
        // Zero-copy reads lend decoded pieces.
        let call = c
            .start(req("GET", &format!("/encoded/{path}/{N}")))
            .unwrap();
        let mut got = Vec::new();
        let mut pieces = Vec::new();
        loop {
            pieces.clear();
            call.read_chunks(8, &mut pieces).unwrap();
            if pieces.is_empty() {
                break;
            }
            assert!(pieces.len() <= 4 && pieces.iter().all(|p| p.len() <= 64 << 10));
            for p in &pieces {
                got.extend_from_slice(p);
            }
        }
        same(&format!("{path} (pieces)"), &got, &want);
    }
    // A body that is not decoded streams as before through the same client.
    let call = c.start(req("GET", "/bytes/100000")).unwrap();
    same("/bytes", &read_all(&call), &pattern(100_000));
    assert!(!call.decoded());
}

#[test]
fn redirects_end_at_a_decoded_body() {
    let s = server();
    let c = decoding_client(&s.url(), |cfg| cfg.redirects.max = 3);
    let to = format!("/redirect/302?to=/encoded/gzip,zstd/{N}");
    let r = get(&c, &to).unwrap();
    assert_eq!(r.redirect_count(), 1);
    assert!(r.decoded());
    same("redirected, buffered", r.body(), &text(N));
    let call = c.start(req("GET", &to)).unwrap();
    same("redirected, streamed", &read_all(&call), &text(N));
    assert!(call.decoded());
    assert_eq!(call.redirect_count(), 1);
}

#[test]
fn corrupt_and_truncated_bodies_are_decode_errors_naming_the_coding() {
    let s = server();
    let c = decoding_client(&s.url(), |_| {});
    for coding in ["gzip", "deflate", "br", "zstd"] {
        for (opt, says) in [("corrupt", coding), ("truncate", "truncated")] {
            let path = format!("/encoded/{coding}/{N}?{opt}");
            let e = get(&c, &path).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Decode, "{path}: {e}");
            assert!(e.message.contains(coding), "{path}: {e}");
            assert!(e.message.contains(says), "{path}: {e}");
            assert_eq!(e.processed, Processed::Yes, "{path}");
            // Streamed: the read that meets the bad data fails, and so does the call.
            let call = c.start(req("GET", &path)).unwrap();
            let mut buf = vec![0u8; 8192];
            let mut got = 0;
            let e = loop {
                match call.read(&mut buf) {
                    Ok(0) => panic!("{path}: streamed to the end without an error"),
                    Ok(n) => got += n,
                    Err(e) => break e,
                }
            };
            assert_eq!(e.kind, ErrorKind::Decode, "{path} streamed: {e}");
            assert!(e.message.contains(coding), "{path}: {e}");
            assert!(got < N, "{path}");
            assert_eq!(call.error().map(|e| e.kind), Some(ErrorKind::Decode));
            assert!(call.is_done());
            // It stays failed.
            assert_eq!(call.read(&mut buf).unwrap_err().kind, ErrorKind::Decode);
        }
    }
    // The connection survives (the bad stream was reset or had ended).
    assert_eq!(get(&c, "/").unwrap().status(), 200);
    assert_eq!(s.connections_accepted(), 1);
}

/// Samples the resident set size every 5 ms while `f` runs: (f's result, peak growth in MiB).
fn peak_rss_growth<T>(f: impl FnOnce() -> T) -> (T, u64) {
    // RSS is the whole process's: two measurements at once would count each other.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let base = rss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(base));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let r = f();
    peak.fetch_max(rss_kib(), Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    (r, peak.load(Ordering::Relaxed).saturating_sub(base) >> 10)
}

#[test]
fn a_buffered_bomb_stops_at_max_response_body() {
    let s = server();
    const LIMIT: u64 = 16 << 20;
    let c = decoding_client(&s.url(), |cfg| cfg.set_max_response_body(LIMIT));
    // 4 GiB of zeros each: gzip's is 4 MiB on the wire, br's and zstd's a few KiB per GiB;
    // only what arrives before the limit trips is sent at all.
    for coding in ["gzip", "deflate", "br", "zstd"] {
        let before = c.snapshot().bytes_received;
        let t0 = Instant::now();
        let (r, grew) = peak_rss_growth(|| get(&c, &format!("/bomb/{coding}/4096")));
        let took = t0.elapsed();
        let received = c.snapshot().bytes_received - before;
        let e = r.unwrap_err();
        println!(
            "{coding} bomb: {e} after {received} bytes received, in {took:?}, peak RSS +{grew} MiB"
        );
        assert_eq!(e.kind, ErrorKind::BodyTooLarge, "{coding}: {e}");
        assert!(
            e.message
                .contains(&format!("maximum of {LIMIT} bytes once decoded")),
            "{e}"
        );
        assert!(e.message.contains(coding), "{e}");
        assert!(took < Duration::from_secs(20), "{coding}: {took:?}");
        // The body never grew past the limit: far from the 4 GiB it inflates to.
        assert!(grew < 160, "{coding}: peak RSS grew by {grew} MiB");
        // What the server could send before it saw the reset, not the 4 GiB.
        assert!(received < 64 << 20, "{coding}: {received} bytes received");
    }
    // The limit is on the decoded size: a body under it decodes.
    let r = get(&c, "/bomb/zstd/15").unwrap();
    assert_eq!(r.body().len(), 15 << 20);
    assert!(r.body().iter().all(|&b| b == 0));
    assert_eq!(get(&c, "/").unwrap().status(), 200);
}

#[test]
fn a_streamed_bomb_flows_through_in_bounded_memory() {
    let s = server();
    let c = decoding_client(&s.url(), |_| {});
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    for (coding, mib) in [("zstd", 2048u64), ("gzip", 1024), ("br", 256)] {
        let t0 = Instant::now();
        let ((total, max_held), grew) = peak_rss_growth(|| {
            let call = c
                .start(req("GET", &format!("/bomb/{coding}/{mib}")))
                .unwrap();
            let mut buf = vec![0u8; 64 << 10];
            let (mut total, mut max_held) = (0u64, 0usize);
            loop {
                let n = call.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                assert!(buf[..n] == ZEROS[..n], "{coding}: not zeros at {total}");
                total += n as u64;
                max_held = max_held.max(call.buffered());
            }
            assert!(call.error().is_none());
            (total, max_held)
        });
        println!(
            "{coding}: {mib} MiB streamed in {:?}, peak RSS +{grew} MiB, at most {max_held} bytes held",
            t0.elapsed()
        );
        assert_eq!(total, mib << 20, "{coding}");
        assert!(grew < 96, "{coding}: peak RSS grew by {grew} MiB");
        // What the call holds is compressed bytes, bounded by the stream window (4 MiB).
        assert!(max_held <= 4 << 20, "{coding}: {max_held}");
    }
    // Pieces too.
    let call = c.start(req("GET", "/bomb/zstd/256")).unwrap();
    let mut pieces = Vec::new();
    let mut total = 0;
    loop {
        pieces.clear();
        call.read_chunks(4, &mut pieces).unwrap();
        if pieces.is_empty() {
            break;
        }
        total += pieces.iter().map(|p| p.len()).sum::<usize>();
    }
    assert_eq!(total, 256 << 20);
}

#[test]
fn c_api() {
    let s = server();
    // SAFETY: the C API called as C calls it.
    unsafe {
        let cfg = h2_config_new();
        assert_eq!(
            h2_config_set_accept_encoding(cfg, cs("gzip, zstd").as_ptr()),
            H2_OK
        );
        assert_eq!(
            h2_config_set_accept_encoding(cfg, cs("gzip\r\n").as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        assert!(
            last_message().contains("accept-encoding"),
            "{}",
            last_message()
        );
        assert_eq!(
            h2_config_set_accept_encoding(std::ptr::null_mut(), cs("").as_ptr()),
            H2_E_INVALID_ARGUMENT
        );
        let client = h2_client_new(cs(&s.url()).as_ptr(), cfg);
        assert!(!client.is_null());

        // Buffered.
        let r = h2_request_new(cs("GET").as_ptr(), cs("/encoded/gzip/50000").as_ptr());
        let mut resp = std::ptr::null_mut();
        assert_eq!(h2_client_do(client, r, &mut resp), H2_OK);
        assert!(h2_response_decoded(resp));
        assert!(h2_response_header(resp, cs("content-encoding").as_ptr()).is_null());
        let mut len = 0;
        let body = h2_response_body(resp, &mut len);
        same(
            "C buffered",
            std::slice::from_raw_parts(body, len),
            &text(50000),
        );
        h2_response_free(resp);
        h2_request_free(r);
        assert!(!h2_response_decoded(std::ptr::null()));

        // Streamed, with read and read_view.
        let r = h2_request_new(cs("GET").as_ptr(), cs("/encoded/zstd/50000").as_ptr());
        let mut call = std::ptr::null_mut();
        assert_eq!(h2_client_start(client, r, &mut call), H2_OK);
        assert!(!h2_call_decoded(call) || h2_call_status(call) != 0);
        assert_eq!(h2_call_wait_headers(call), H2_OK);
        assert!(h2_call_decoded(call));
        let got = c_read_all(call, 4096);
        same("C streamed", &got, &text(50000));
        h2_call_free(call);
        assert_eq!(h2_client_start(client, r, &mut call), H2_OK);
        let mut got = Vec::new();
        let mut pieces: Vec<h2_piece> = (0..8)
            .map(|_| h2_piece {
                data: std::ptr::null(),
                len: 0,
            })
            .collect();
        loop {
            let mut count = 0;
            assert_eq!(
                h2_call_read_view(call, pieces.as_mut_ptr(), pieces.len(), &mut count),
                H2_OK
            );
            if count == 0 {
                break;
            }
            for p in &pieces[..count] {
                got.extend_from_slice(std::slice::from_raw_parts(p.data, p.len));
            }
        }
        same("C read_view", &got, &text(50000));
        h2_call_free(call);
        h2_request_free(r);
        assert!(!h2_call_decoded(std::ptr::null()));

        // A corrupt body.
        let r = h2_request_new(
            cs("GET").as_ptr(),
            cs("/encoded/gzip/50000?corrupt").as_ptr(),
        );
        let mut resp = std::ptr::null_mut();
        assert_eq!(h2_client_do(client, r, &mut resp), H2_E_DECODE);
        assert!(resp.is_null());
        assert!(last_message().contains("gzip"), "{}", last_message());
        let name = std::ffi::CStr::from_ptr(h2_error_name(H2_E_DECODE));
        assert_eq!(name.to_str().unwrap(), "H2_E_DECODE");
        h2_request_free(r);

        h2_client_free(client);
        h2_config_free(cfg);
    }
}
