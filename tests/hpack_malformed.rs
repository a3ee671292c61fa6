//! Malformed HPACK input: each case must fail with its specific error, and
//! no input at all may panic (run these in a debug build, where arithmetic
//! overflow panics too).

use h2client::hpack::{huffman, DecodeError, Decoder, Encoder};

type HeaderList = Vec<(Vec<u8>, Vec<u8>)>;

/// Decodes `block` on a fresh decoder with the default 4096-byte limit.
fn decode_fresh(block: &[u8]) -> Result<HeaderList, DecodeError> {
    let mut dec = Decoder::new(4096);
    let mut out = Vec::new();
    dec.decode(block, |n, v| out.push((n.to_vec(), v.to_vec())))?;
    Ok(out)
}

#[test]
fn malformed_blocks_fail_with_specific_errors() {
    use DecodeError::*;
    let cases: &[(&str, &[u8], DecodeError)] = &[
        (
            "lone 0x3f: size update needing a continuation byte",
            &[0x3f],
            Truncated,
        ),
        (
            "lone 0xff: index needing a continuation byte",
            &[0xff],
            Truncated,
        ),
        (
            "continuation bit set on the last byte",
            &[0xff, 0x80],
            Truncated,
        ),
        (
            "size update integer overflowing u32",
            &[0x3f, 0xff, 0xff, 0xff, 0xff, 0x0f],
            IntegerOverflow,
        ),
        (
            "RFC-style overflow: 0x1f then five 0xff and 0x0f",
            &[0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f],
            IntegerOverflow,
        ),
        (
            "index just above u32::MAX",
            // 127 + 0x7f + 0x7f<<7 + 0x7f<<14 + 0x7f<<21 + 0x0f<<28 = 2^32 + 126
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0x0f],
            IntegerOverflow,
        ),
        (
            "six continuation bytes (redundant zero groups)",
            &[0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
            IntegerOverflow,
        ),
        (
            "string length overflowing u32",
            &[0x40, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x7f],
            IntegerOverflow,
        ),
        ("indexed field with index 0", &[0x80], InvalidIndex(0)),
        (
            "index 62 on an empty dynamic table",
            &[0xbe],
            InvalidIndex(62),
        ),
        (
            "large index on an empty dynamic table",
            &[0xff, 0x80, 0x01],
            InvalidIndex(255),
        ),
        (
            "incremental literal with name index 62, empty table",
            &[0x7e, 0x00],
            InvalidIndex(62),
        ),
        (
            "literal without indexing, name index 62 (15 + 47)",
            &[0x0f, 0x2f, 0x00],
            InvalidIndex(62),
        ),
        (
            "never-indexed literal, name index 100",
            &[0x1f, 0x55, 0x00],
            InvalidIndex(100),
        ),
        ("literal with no name length", &[0x40], Truncated),
        (
            "literal with truncated name length",
            &[0x40, 0x7f],
            Truncated,
        ),
        ("literal with no value", &[0x40, 0x01, b'a'], Truncated),
        ("indexed name with no value", &[0x41], Truncated),
        (
            "indexed name with truncated value length",
            &[0x41, 0x7f, 0x80],
            Truncated,
        ),
        (
            "name length beyond the input",
            &[0x40, 0x05, b'a', b'b'],
            Truncated,
        ),
        (
            "value length beyond the input",
            &[0x00, 0x01, b'a', 0x03, b'x', b'y'],
            Truncated,
        ),
        (
            "huge string length, within u32",
            &[0x41, 0xff, 0xff, 0xff, 0xff, 0x0f],
            Truncated,
        ),
        (
            "Huffman name 'a' + 8 bits of padding",
            &[0x40, 0x82, 0x1f, 0xff, 0x00],
            InvalidHuffman,
        ),
        (
            "Huffman value of one all-ones byte (8 bits of padding)",
            &[0x41, 0x81, 0xff],
            InvalidHuffman,
        ),
        (
            "Huffman value 'a' with padding 101 (a zero bit)",
            &[0x41, 0x81, 0x1d],
            InvalidHuffman,
        ),
        (
            "Huffman value ending inside a code (zero padding)",
            &[0x41, 0x82, 0x00, 0x00],
            InvalidHuffman,
        ),
        (
            "Huffman value that is EOS plus padding",
            &[0x41, 0x84, 0xff, 0xff, 0xff, 0xff],
            InvalidHuffman,
        ),
        (
            // 'a' (00011), EOS (30 ones), 5 ones of padding: 40 bits.
            "Huffman value with EOS after a symbol",
            &[0x41, 0x85, 0x1f, 0xff, 0xff, 0xff, 0xff],
            InvalidHuffman,
        ),
        (
            "size update above the 4096 limit (4097)",
            &[0x3f, 0xe2, 0x1f],
            SizeUpdateTooLarge {
                requested: 4097,
                max: 4096,
            },
        ),
        (
            "size update after a field",
            &[0x82, 0x20],
            SizeUpdateNotAtStart,
        ),
        (
            "size update after a literal field",
            &[0x41, 0x00, 0x3f, 0xe1, 0x1f],
            SizeUpdateNotAtStart,
        ),
    ];
    for (what, block, want) in cases {
        assert_eq!(decode_fresh(block), Err(*want), "{what}: {block:02x?}");
    }
}

#[test]
fn valid_edge_cases_still_decode() {
    // Two size updates at the start (lower, then raise back).
    assert_eq!(
        decode_fresh(&[0x20, 0x3f, 0xe1, 0x1f, 0x82]).map(|l| l.len()),
        Ok(1)
    );
    // Three are accepted too: the RFC only requires them to come first.
    assert_eq!(decode_fresh(&[0x20, 0x20, 0x3f, 0xe1, 0x1f]), Ok(vec![]));
    // Empty block.
    assert_eq!(decode_fresh(&[]), Ok(vec![]));
    // Index 61, the last static entry.
    assert_eq!(
        decode_fresh(&[0xbd]),
        Ok(vec![(b"www-authenticate".to_vec(), Vec::new())])
    );
    // Empty Huffman string.
    assert_eq!(
        decode_fresh(&[0x41, 0x80]),
        Ok(vec![(b":authority".to_vec(), Vec::new())])
    );
    // Five continuation bytes (four redundant zero groups) still parse as
    // 127: the error is about the index, not the integer.
    assert_eq!(
        decode_fresh(&[0xff, 0x80, 0x80, 0x80, 0x80, 0x00]),
        Err(DecodeError::InvalidIndex(127))
    );
}

#[test]
fn index_past_dynamic_table_and_after_eviction() {
    let mut dec = Decoder::new(4096);
    // Insert one entry: index 62 is valid, 63 is not.
    dec.decode(&[0x40, 0x01, b'a', 0x01, b'b'], |_, _| {})
        .unwrap();
    assert_eq!(dec.decode(&[0xbe], |_, _| {}), Ok(()));
    assert_eq!(
        dec.decode(&[0xbf], |_, _| {}),
        Err(DecodeError::InvalidIndex(63))
    );
    // A size update to 0 evicts it: 62 becomes invalid in the same block.
    assert_eq!(
        dec.decode(&[0x20, 0xbe], |_, _| {}),
        Err(DecodeError::InvalidIndex(62))
    );
}

#[test]
fn size_update_limit_follows_settings() {
    let mut dec = Decoder::new(100);
    assert_eq!(
        dec.decode(&[0x3f, 0x46], |_, _| {}),
        Err(DecodeError::SizeUpdateTooLarge {
            requested: 101,
            max: 100
        })
    );
    let mut dec = Decoder::new(100);
    assert_eq!(dec.decode(&[0x3f, 0x45], |_, _| {}), Ok(()));
    dec.set_max_table_size(4096);
    assert_eq!(dec.decode(&[0x3f, 0xe1, 0x1f], |_, _| {}), Ok(()));
}

#[test]
fn huffman_decode_errors_directly() {
    let mut out = Vec::new();
    assert_eq!(
        huffman::decode(&[0xff], &mut out),
        Err(DecodeError::InvalidHuffman)
    );
    assert_eq!(
        huffman::decode(&[0x1f, 0xff], &mut out),
        Err(DecodeError::InvalidHuffman)
    );
    assert_eq!(
        huffman::decode(&[0xff, 0xff, 0xff, 0xff], &mut out),
        Err(DecodeError::InvalidHuffman)
    );
}

/// xorshift64*: deterministic, dependency-free randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut shared = Decoder::new(4096);
    let mut buf = Vec::new();
    let (mut ok, mut err) = (0u32, 0u32);
    for i in 0..300_000u32 {
        buf.clear();
        let len = match rng.below(8) {
            0 => rng.below(4),
            1..=5 => rng.below(24),
            _ => rng.below(200),
        };
        for _ in 0..len {
            // Bias towards bytes that start valid representations and carry
            // long integers, so decoding gets past the first byte often.
            let b = match rng.below(6) {
                0 => 0x80 | rng.below(62) as u8,
                1 => 0x40 | rng.below(4) as u8,
                2 => 0xff,
                _ => rng.next() as u8,
            };
            buf.push(b);
        }
        // Mostly a fresh decoder; sometimes keep state across inputs, as a
        // long-lived connection would until its first error.
        let result = if i % 4 == 0 {
            shared.decode(&buf, |_, _| {})
        } else {
            Decoder::new(4096).decode(&buf, |_, _| {})
        };
        match result {
            Ok(()) => ok += 1,
            Err(_) => err += 1,
        }
        if i % 1000 == 0 {
            shared = Decoder::new(rng.below(5000) as usize);
        }
    }
    eprintln!("random blocks: {ok} ok, {err} errors");
    assert!(
        ok > 0 && err > 0,
        "{ok} ok, {err} errors: generator is degenerate"
    );
}

#[test]
fn mutated_valid_blocks_never_panic() {
    // Start from real blocks (with Huffman and dynamic references) and
    // truncate, flip bits and splice them.
    let mut enc = Encoder::new();
    let lists: &[&[(&str, &str)]] = &[
        &[
            (":status", "200"),
            ("content-type", "text/html; charset=utf-8"),
            ("x-custom", "value"),
        ],
        &[
            (":status", "200"),
            ("x-custom", "value"),
            ("server", "nginx/1.25"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ],
        &[
            (":status", "404"),
            ("x-custom", "other"),
            ("set-cookie", "a=b; Path=/"),
        ],
    ];
    let mut blocks = Vec::new();
    for list in lists {
        let mut block = Vec::new();
        enc.begin_block(&mut block);
        for (n, v) in *list {
            enc.encode_field(n.as_bytes(), v.as_bytes(), &mut block);
        }
        blocks.push(block);
    }
    let warm = |dec: &mut Decoder, upto: usize| {
        for b in &blocks[..upto] {
            dec.decode(b, |_, _| {}).expect("valid block");
        }
    };
    let mut rng = Rng(42);
    for (k, block) in blocks.iter().enumerate() {
        for cut in 0..block.len() {
            let mut dec = Decoder::new(4096);
            warm(&mut dec, k);
            let _ = dec.decode(&block[..cut], |_, _| {});
        }
        for _ in 0..20_000 {
            let mut m = block.clone();
            for _ in 0..=rng.below(3) {
                let i = rng.below(m.len() as u64) as usize;
                if let Some(byte) = m.get_mut(i) {
                    *byte ^= 1 << rng.below(8);
                }
            }
            let mut dec = Decoder::new(4096);
            warm(&mut dec, k);
            let _ = dec.decode(&m, |_, _| {});
        }
    }
}
