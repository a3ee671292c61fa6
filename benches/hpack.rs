//! HPACK timing: `cargo bench --bench hpack` (plain `main`, no harness, so
//! it runs on stable). Prints nanoseconds per operation; each figure is the
//! best of several runs, which filters scheduler noise on a shared machine.

use h2client::hpack::{Decoder, Encoder};
use std::hint::black_box;

mod common;
use common::time_ns;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

const REQUEST: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":authority", "127.0.0.1:8080"),
    (":path", "/index.html"),
    ("user-agent", "h2client/0.1.0"),
    ("accept", "text/html,application/xhtml+xml"),
    ("accept-encoding", "gzip, deflate, br"),
    ("accept-language", "en-US,en;q=0.9"),
];

fn bench_encode(path: &str) -> f64 {
    let mut enc = Encoder::new();
    let mut dst = Vec::with_capacity(256);
    let mut block = || {
        dst.clear();
        enc.begin_block(&mut dst);
        for (n, v) in REQUEST {
            let v = if *n == ":path" { path } else { v };
            enc.encode_field(black_box(n.as_bytes()), black_box(v.as_bytes()), &mut dst);
        }
        black_box(&dst);
    };
    block(); // warm the dynamic table
    time_ns(7, 200_000, block)
}

fn main() {
    println!("encode, 8-field request, warm table:");
    println!(
        "  :path /index.html (static match)   {:8.1} ns/block",
        bench_encode("/index.html")
    );
    println!(
        "  :path /api/items/12345?full=1      {:8.1} ns/block",
        bench_encode("/api/items/12345?full=1")
    );

    // A response stream encoded by nghttp2 (Huffman, dynamic table).
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/hpack-test-case/nghttp2/story_22.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let story: serde_json::Value = serde_json::from_str(&text).expect("story JSON");
    let blocks: Vec<Vec<u8>> = story["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| hex(c["wire"].as_str().expect("wire")))
        .collect();
    // Block 15: 10 fields (:status, server, date, content-type, connection,
    // content-length, cache-control, etag, expires, last-modified): five
    // indexed, two literals without indexing and two with, Huffman-coded.
    let k = 15;
    let target = &blocks[k];
    let mut fields = 0;
    {
        let mut dec = Decoder::new(4096);
        for b in &blocks[..k] {
            dec.decode(b, |_, _| {}).expect("valid story");
        }
        dec.decode(target, |_, _| fields += 1).expect("valid story");
    }
    println!(
        "decode, nghttp2 story_22 block {k} ({fields} fields, {} bytes):",
        target.len()
    );

    // Average over the story prefix (blocks 0..=k) from a fresh decoder:
    // includes the cold start, where most fields are literals.
    let blocks = &blocks;
    let ours_prefix = time_ns(7, 20_000, || {
        let mut dec = Decoder::new(4096);
        for b in &blocks[..=k] {
            dec.decode(black_box(b), |n, v| {
                black_box((n, v));
            })
            .expect("valid story");
        }
    });
    let theirs_prefix = time_ns(5, 200, || {
        let mut dec = hpack_patched::Decoder::new();
        for b in &blocks[..=k] {
            dec.decode_with_cb(black_box(b), |n, v| {
                black_box((n, v));
            })
            .expect("valid story");
        }
    });
    let per_block = (k + 1) as f64;
    println!(
        "  blocks 0..={k} from a fresh decoder, per block: h2client::hpack {:.1} ns, hpack_patched {:.1} ns ({:.0}x)",
        ours_prefix / per_block,
        theirs_prefix / per_block,
        theirs_prefix / ours_prefix
    );

    // Steady state on one decoder: block k again and again. Its two
    // incremental literals shift the table each time, so the indexed fields
    // resolve to other (valid) entries after the first round, but the work
    // per block is the same.
    let mut dec = Decoder::new(4096);
    for b in &blocks[..k] {
        dec.decode(b, |_, _| {}).expect("valid story");
    }
    let steady = time_ns(7, 200_000, || {
        dec.decode(black_box(target), |n, v| {
            black_box((n, v));
        })
        .expect("block stays valid");
    });
    let mut theirs = hpack_patched::Decoder::new();
    for b in &blocks[..k] {
        theirs.decode(b).expect("valid story");
    }
    let theirs_steady = time_ns(5, 2_000, || {
        theirs
            .decode_with_cb(black_box(target), |n, v| {
                black_box((n, v));
            })
            .expect("block stays valid");
    });
    println!(
        "  block {k} repeatedly on a warm decoder: h2client::hpack {steady:.1} ns, hpack_patched {theirs_steady:.1} ns ({:.0}x)",
        theirs_steady / steady
    );

    // Raw Huffman decoding throughput on the block's longest string.
    let text = b"Sat, 03 Nov 2012 12:56:41 GMT; max-age=31536000; image/jpeg; keep-alive";
    let mut coded = Vec::new();
    h2client::hpack::huffman::encode(text, &mut coded);
    let mut out = Vec::with_capacity(128);
    let huff = time_ns(7, 500_000, || {
        out.clear();
        h2client::hpack::huffman::decode(black_box(&coded), &mut out).expect("valid");
        black_box(&out);
    });
    println!(
        "huffman decode: {} -> {} bytes in {huff:.1} ns ({:.2} ns/coded byte)",
        coded.len(),
        text.len(),
        huff / coded.len() as f64
    );
}
