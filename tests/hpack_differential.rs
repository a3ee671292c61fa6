//! Differential tests against `hpack_patched`: random header lists over
//! many blocks on one connection context, in both directions.

use h2client::hpack::{Decoder, Encoder};

type HeaderList = Vec<(Vec<u8>, Vec<u8>)>;

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
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const NAMES: &[&str] = &[
    ":method",
    ":scheme",
    ":authority",
    ":path",
    ":status",
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "content-length",
    "content-type",
    "date",
    "etag",
    "if-modified-since",
    "if-none-match",
    "last-modified",
    "link",
    "location",
    "referer",
    "server",
    "user-agent",
    "vary",
    "via",
    "x-request-id",
    "x-forwarded-for",
    // Sensitive: never indexed by our encoder.
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Values that also occur in the static table, to exercise full matches.
const VALUES: &[&str] = &[
    "GET",
    "POST",
    "/",
    "/index.html",
    "http",
    "https",
    "200",
    "404",
    "gzip, deflate",
    "",
];

fn token(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| *rng.pick(b"abcdefghijklmnopqrstuvwxyz0123456789-"))
        .collect()
}

fn value(rng: &mut Rng) -> Vec<u8> {
    // Long values are rarer: hpack_patched's bit-by-bit Huffman decoder
    // is slow in debug builds, and a few per block suffice to evict.
    let len = match rng.below(40) {
        0..=3 => 0,
        4..=23 => rng.below(20),
        24..=35 => rng.below(200),
        36..=38 => 500 + rng.below(1500), // forces evictions
        _ => 3000 + rng.below(2000),      // over 3/4 of the table, or all of it
    } as usize;
    match rng.below(4) {
        // Visible ASCII and space: the common case, Huffman-friendly.
        0 | 1 => (0..len).map(|_| 0x20 + rng.below(0x5f) as u8).collect(),
        // Few distinct characters: very Huffman-friendly.
        2 => (0..len).map(|_| *rng.pick(b"0123456789abcdef")).collect(),
        // Any non-control byte, including obs-text (0x80..=0xff), whose
        // Huffman codes are long: exercises the raw-literal choice.
        _ => (0..len)
            .map(|_| {
                let b = 0x20 + rng.below(0xe0) as u8;
                if b == 0x7f {
                    b'~'
                } else {
                    b
                }
            })
            .collect(),
    }
}

/// A random header list; repeats fields from `history` often, like real
/// traffic, so the dynamic table gets hits.
fn header_list(rng: &mut Rng, history: &mut Vec<(Vec<u8>, Vec<u8>)>) -> HeaderList {
    let n = rng.below(16) as usize;
    let mut list = Vec::with_capacity(n);
    for _ in 0..n {
        let field = match rng.below(10) {
            0..=3 if !history.is_empty() => rng.pick(history).clone(),
            4 => (
                rng.pick(NAMES).as_bytes().to_vec(),
                rng.pick(VALUES).as_bytes().to_vec(),
            ),
            5 | 6 => {
                let len = 1 + rng.below(30) as usize;
                (token(rng, len), value(rng))
            }
            _ => (rng.pick(NAMES).as_bytes().to_vec(), value(rng)),
        };
        if history.len() < 64 {
            history.push(field.clone());
        } else {
            let i = rng.below(64) as usize;
            history[i] = field.clone();
        }
        list.push(field);
    }
    list
}

fn decode_ours(dec: &mut Decoder, block: &[u8]) -> HeaderList {
    let mut out = Vec::new();
    dec.decode(block, |n, v| out.push((n.to_vec(), v.to_vec())))
        .unwrap_or_else(|e| panic!("our decoder: {e}"));
    out
}

#[test]
fn our_encoder_against_both_decoders() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    // Bounded by hpack_patched's decoder, which takes microseconds per
    // Huffman byte in a debug build.
    for connection in 0..4 {
        let mut enc = Encoder::new();
        let mut ours = Decoder::new(4096);
        let mut oracle = hpack_patched::Decoder::new();
        let mut history = Vec::new();
        let mut size_changes = 0;
        for block_no in 0..300 {
            // Now and then the peer's SETTINGS change, sometimes several
            // times between two blocks (to 0 and back, above our cap, ...).
            if rng.below(12) == 0 {
                for _ in 0..=rng.below(3) {
                    let size = *rng.pick(&[0, 0, 1, 64, 256, 1000, 4096, 4096, 8192, 65536]);
                    enc.set_max_table_size(size);
                    size_changes += 1;
                }
            }
            let list = header_list(&mut rng, &mut history);
            let mut block = Vec::new();
            enc.begin_block(&mut block);
            for (n, v) in &list {
                enc.encode_field(n, v, &mut block);
            }
            let ctx = format!("connection {connection} block {block_no}");
            assert_eq!(decode_ours(&mut ours, &block), list, "{ctx}: our decoder");
            let theirs = oracle
                .decode(&block)
                .unwrap_or_else(|e| panic!("{ctx}: hpack_patched: {e:?}"));
            assert_eq!(theirs, list, "{ctx}: hpack_patched");
            assert!(
                ours.table_size() <= 4096,
                "{ctx}: table size {}",
                ours.table_size()
            );
        }
        assert!(size_changes > 0);
    }
}

/// Size updates must take effect for the peer exactly as for us: after
/// lowering to 0 every entry is gone, and indices the encoder emits later
/// must refer to entries inserted after the update.
#[test]
fn size_update_sequences_keep_contexts_in_sync() {
    let mut enc = Encoder::new();
    let mut ours = Decoder::new(4096);
    let mut oracle = hpack_patched::Decoder::new();
    let fields: HeaderList = (0..40)
        .map(|i| {
            (
                format!("x-field-{i}").into_bytes(),
                format!("value number {i}").into_bytes(),
            )
        })
        .collect();
    let schedule: &[&[usize]] = &[
        &[],
        &[0],
        &[4096],
        &[0, 4096],
        &[100, 50, 3000],
        &[],
        &[1],
        &[4096],
        &[0, 0, 4096],
    ];
    for (round, sizes) in schedule.iter().enumerate() {
        for &s in *sizes {
            enc.set_max_table_size(s);
        }
        for _ in 0..2 {
            let mut block = Vec::new();
            enc.begin_block(&mut block);
            for (n, v) in &fields {
                enc.encode_field(n, v, &mut block);
            }
            assert_eq!(decode_ours(&mut ours, &block), fields, "round {round}");
            assert_eq!(
                oracle.decode(&block).expect("hpack_patched"),
                fields,
                "round {round}"
            );
        }
    }
}

#[test]
fn their_encoder_against_our_decoder() {
    let mut rng = Rng(0xfeed_f00d_dead_beef);
    for connection in 0..8 {
        let mut theirs = hpack_patched::Encoder::new();
        let mut ours = Decoder::new(4096);
        let mut history = Vec::new();
        for block_no in 0..400 {
            let list = header_list(&mut rng, &mut history);
            let block = theirs.encode(list.iter().map(|(n, v)| (&n[..], &v[..])));
            assert_eq!(
                decode_ours(&mut ours, &block),
                list,
                "connection {connection} block {block_no}"
            );
        }
    }
}

/// Every byte value through our Huffman coder, checked by hpack_patched's
/// Huffman decoder (via a literal with a Huffman-coded value).
#[test]
fn huffman_against_hpack_patched() {
    let mut rng = Rng(7);
    for round in 0..2000 {
        let len = rng.below(64) as usize;
        let value: Vec<u8> = if round < 256 {
            vec![round as u8; len.max(1)]
        } else {
            (0..len).map(|_| rng.next() as u8).collect()
        };
        let mut coded = Vec::new();
        h2client::hpack::huffman::encode(&value, &mut coded);
        assert_eq!(coded.len(), h2client::hpack::huffman::encoded_len(&value));
        // Literal without indexing, new name "x", Huffman value.
        let mut block = vec![0x00, 0x01, b'x'];
        let mut len_prefix = coded.len();
        if len_prefix < 127 {
            block.push(0x80 | len_prefix as u8);
        } else {
            block.push(0xff);
            len_prefix -= 127;
            while len_prefix >= 128 {
                block.push(0x80 | (len_prefix & 0x7f) as u8);
                len_prefix >>= 7;
            }
            block.push(len_prefix as u8);
        }
        block.extend_from_slice(&coded);
        let mut oracle = hpack_patched::Decoder::new();
        let decoded = oracle
            .decode(&block)
            .expect("hpack_patched decodes our Huffman");
        assert_eq!(
            decoded,
            vec![(b"x".to_vec(), value.clone())],
            "round {round}"
        );
        let mut ours = Decoder::new(4096);
        assert_eq!(decode_ours(&mut ours, &block), decoded);
    }
}
