//! Frame codec timing: `cargo bench --bench frame` (plain `main`, no harness, so it runs on
//! stable). Encode and decode of DATA, HEADERS, SETTINGS and WINDOW_UPDATE frames with the
//! crate's `frame` module: encoding appends to a reused buffer (as the writer does), decoding
//! parses the 9-byte header and the payload from a byte slice (as the reader does). Prints
//! nanoseconds per frame; each figure is the best of several runs, which filters scheduler
//! noise on a shared machine.

use h2client::frame::{
    Data, FrameHeader, Headers, Setting, Settings, WindowUpdate, DEFAULT_MAX_FRAME_SIZE, HEADER_LEN,
};
use std::hint::black_box;

mod common;
use common::time_ns;

const RUNS: usize = 7;
const ITERS: u32 = 1_000_000;

/// Splits an encoded frame into its parsed header and payload.
fn split(frame: &[u8]) -> (FrameHeader, &[u8]) {
    let h = FrameHeader::parse(frame).expect("frame header");
    (h, &frame[HEADER_LEN..])
}

fn row(what: &str, ns: f64) {
    println!("  {what:<44} {ns:8.1} ns/frame");
}

fn main() {
    let mut dst = Vec::with_capacity(64 << 10);

    // DATA: a small and a full-size (16 KiB) payload.
    for size in [16usize, 1024, DEFAULT_MAX_FRAME_SIZE as usize] {
        let payload = vec![0xabu8; size];
        println!("DATA, {size}-byte payload:");
        row(
            "encode (header + copy)",
            time_ns(RUNS, ITERS, || {
                dst.clear();
                Data::encode(black_box(3), black_box(&payload), true, &mut dst);
                black_box(&dst);
            }),
        );
        row(
            "encode header only (the writer's no-copy path)",
            time_ns(RUNS, ITERS, || {
                dst.clear();
                Data::encode_header(black_box(3), black_box(size), true, &mut dst);
                black_box(&dst);
            }),
        );
        let mut frame = Vec::new();
        Data::encode(3, &payload, true, &mut frame);
        row(
            "decode (header parse + payload)",
            time_ns(RUNS, ITERS, || {
                let (h, p) = split(black_box(&frame));
                black_box(Data::decode(&h, p).expect("DATA"));
            }),
        );
    }

    // HEADERS: a typical response head block (status, date, content-type, length, server),
    // HPACK-encoded by a server; the codec only frames the block, so the bytes are opaque.
    let block: Vec<u8> = {
        let mut b = vec![0x88]; // :status 200 (static index 8)
        b.extend_from_slice(&[0x61, 0x1d]); // date (literal, incremental indexing), 29 bytes
        b.extend_from_slice(b"Fri, 27 Nov 2026 20:00:00 GMT");
        b.extend_from_slice(&[0x5f, 0x09]); // content-type, 9 bytes
        b.extend_from_slice(b"text/html");
        b.extend_from_slice(&[0x5c, 0x04]); // content-length, 4 bytes
        b.extend_from_slice(b"1024");
        b.extend_from_slice(&[0x76, 0x0a]); // server, 10 bytes
        b.extend_from_slice(b"nghttpd/1.");
        b
    };
    println!("HEADERS, {}-byte block, END_HEADERS:", block.len());
    row(
        "encode",
        time_ns(RUNS, ITERS, || {
            dst.clear();
            Headers::encode(
                black_box(5),
                black_box(&block),
                false,
                DEFAULT_MAX_FRAME_SIZE as usize,
                &mut dst,
            );
            black_box(&dst);
        }),
    );
    let mut frame = Vec::new();
    Headers::encode(
        5,
        &block,
        false,
        DEFAULT_MAX_FRAME_SIZE as usize,
        &mut frame,
    );
    row(
        "decode",
        time_ns(RUNS, ITERS, || {
            let (h, p) = split(black_box(&frame));
            black_box(Headers::decode(&h, p).expect("HEADERS"));
        }),
    );
    let big = vec![0x41u8; 40_000];
    println!("HEADERS, 40000-byte block (HEADERS + 2 CONTINUATION at 16 KiB):");
    row(
        "encode",
        time_ns(RUNS, ITERS / 10, || {
            dst.clear();
            Headers::encode(
                black_box(5),
                black_box(&big),
                false,
                DEFAULT_MAX_FRAME_SIZE as usize,
                &mut dst,
            );
            black_box(&dst);
        }),
    );

    // SETTINGS: the client's initial SETTINGS (5 parameters) and an ACK.
    let params = [
        Setting::EnablePush(0),
        Setting::MaxConcurrentStreams(1000),
        Setting::InitialWindowSize(4 << 20),
        Setting::MaxHeaderListSize(256 << 10),
        Setting::HeaderTableSize(4096),
    ];
    println!("SETTINGS, {} parameters:", params.len());
    row(
        "encode",
        time_ns(RUNS, ITERS, || {
            dst.clear();
            Settings::encode(black_box(&params), &mut dst);
            black_box(&dst);
        }),
    );
    let mut frame = Vec::new();
    Settings::encode(&params, &mut frame);
    row(
        "decode (validates every value) + iterate",
        time_ns(RUNS, ITERS, || {
            let (h, p) = split(black_box(&frame));
            let s = Settings::decode(&h, p).expect("SETTINGS");
            for item in s.iter() {
                black_box(item.expect("setting"));
            }
        }),
    );
    println!("SETTINGS ACK:");
    row(
        "encode",
        time_ns(RUNS, ITERS, || {
            dst.clear();
            Settings::encode_ack(&mut dst);
            black_box(&dst);
        }),
    );
    let mut frame = Vec::new();
    Settings::encode_ack(&mut frame);
    row(
        "decode",
        time_ns(RUNS, ITERS, || {
            let (h, p) = split(black_box(&frame));
            black_box(Settings::decode(&h, p).expect("ACK").ack);
        }),
    );

    // WINDOW_UPDATE on a stream.
    println!("WINDOW_UPDATE:");
    row(
        "encode",
        time_ns(RUNS, ITERS, || {
            dst.clear();
            WindowUpdate::encode(black_box(7), black_box(1 << 20), &mut dst);
            black_box(&dst);
        }),
    );
    let mut frame = Vec::new();
    WindowUpdate::encode(7, 1 << 20, &mut frame);
    row(
        "decode",
        time_ns(RUNS, ITERS, || {
            let (h, p) = split(black_box(&frame));
            black_box(WindowUpdate::decode(&h, p).expect("WINDOW_UPDATE"));
        }),
    );

    // A read buffer of many small frames, as the reader walks it: header parse + dispatch.
    let mut stream = Vec::new();
    for i in 0..1000u32 {
        let id = 2 * i + 1;
        Headers::encode(
            id,
            &block,
            false,
            DEFAULT_MAX_FRAME_SIZE as usize,
            &mut stream,
        );
        Data::encode(id, &[0x61; 1024], true, &mut stream);
        WindowUpdate::encode(0, 1024, &mut stream);
    }
    println!(
        "mixed buffer (1000 x HEADERS + 1 KiB DATA + WINDOW_UPDATE, {} bytes):",
        stream.len()
    );
    let walk = || {
        let mut rest = black_box(&stream[..]);
        let mut n = 0u32;
        while let Some(h) = FrameHeader::parse(rest) {
            let end = HEADER_LEN + h.len as usize;
            let p = &rest[HEADER_LEN..end];
            match h.kind {
                0 => n += Data::decode(&h, p).expect("DATA").data.len() as u32,
                1 => n += Headers::decode(&h, p).expect("HEADERS").fragment.len() as u32,
                8 => n += WindowUpdate::decode(&h, p).expect("WU").increment & 1,
                _ => unreachable!(),
            }
            rest = &rest[end..];
        }
        black_box(n);
    };
    row(
        "walk + decode, per frame",
        time_ns(RUNS, 1000, walk) / 3000.0,
    );
}
