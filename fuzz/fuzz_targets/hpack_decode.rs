//! Our HPACK decoder over arbitrary header blocks: several blocks share one decoder (one
//! dynamic table), with limit changes in between, all driven by the input; plus the Huffman
//! coder both ways, and our encoder re-encoding what was decoded.
//!
//! With the `hpack-oracle` feature (`cargo fuzz run --features hpack-oracle hpack_decode`),
//! also a differential check against `hpack_patched` while both decoders agree on the table
//! (its panics are caught). It is off by default: hpack_patched builds hash maps for every
//! Huffman string, which took 80% of the time even when only 1 input in 32 ran it
//! (tests/hpack_differential.rs does that comparison on valid blocks).
//!
//! Input: byte 0 picks the decoder's starting limit (SETTINGS_HEADER_TABLE_SIZE) in its low
//! 3 bits; with `hpack-oracle`, bits 3 to 7 all set turn the differential on (blocks of at
//! most 128 bytes). Then operations, each an op byte and its operand:
//!
//! ```text
//! op & 3 == 0   decode a block: length = next byte (op bit 2: next two bytes, big endian)
//! op & 3 == 1   set the decoder's limit to SIZES[op >> 2 & 7] (our SETTINGS acknowledged), and
//!               the encoder's to SIZES[op >> 5] (the peer's SETTINGS_HEADER_TABLE_SIZE)
//! op & 3 == 2   Huffman-decode a string: length as for a block
//! op & 3 == 3   Huffman-encode a string and decode it back: length as for a block
//! ```
//!
//! A length past the end of the input takes what is left.
#![no_main]

use h2client::hpack::{huffman, Decoder, Encoder};
use libfuzzer_sys::fuzz_target;

const SIZES: [usize; 8] = [4096, 0, 64, 256, 1365, 2730, 65_536, 100];

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

#[cfg(feature = "hpack-oracle")]
mod oracle {
    use std::cell::Cell;
    use std::panic::{self, AssertUnwindSafe};
    use std::sync::Once;

    use super::Fields;

    thread_local! {
        /// Inside a call to hpack_patched: its panics are expected (it is not the code under
        /// test) and must not reach libFuzzer's panic hook, which aborts.
        static IN_ORACLE: Cell<bool> = const { Cell::new(false) };
    }

    pub fn quiet_oracle_panics() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let prev = panic::take_hook();
            panic::set_hook(Box::new(move |info| {
                if !IN_ORACLE.with(Cell::get) {
                    prev(info);
                }
            }));
        });
    }

    /// hpack_patched's decoding of `block`; `None` if it failed or panicked.
    pub fn decode(dec: &mut hpack_patched::Decoder<'static>, block: &[u8]) -> Option<Fields> {
        IN_ORACLE.with(|f| f.set(true));
        let r = panic::catch_unwind(AssertUnwindSafe(|| dec.decode(block)));
        IN_ORACLE.with(|f| f.set(false));
        r.ok().and_then(Result::ok)
    }
}

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
    fn len_for(&mut self, op: u8) -> usize {
        let hi = self.byte().unwrap_or(0) as usize;
        if op & 4 != 0 {
            (hi << 8) | self.byte().unwrap_or(0) as usize
        } else {
            hi
        }
    }
}

fuzz_target!(|data: &[u8]| {
    #[cfg(feature = "hpack-oracle")]
    oracle::quiet_oracle_panics();
    let mut input = Input(data);
    let Some(first) = input.byte() else {
        return;
    };
    let mut limit = SIZES[usize::from(first & 7)];
    let mut dec = Decoder::new(limit);
    // Our encoder and a second decoder of ours, kept in step: whatever was decoded is
    // re-encoded and must decode to the same fields.
    let mut enc = Encoder::new();
    let mut dec2 = Decoder::new(4096);
    // The oracle follows our decoder only from the default limit, and only while both succeed.
    #[cfg(feature = "hpack-oracle")]
    let mut theirs = (limit == 4096 && first & 0xf8 == 0xf8).then(hpack_patched::Decoder::new);
    // Our decoder's state is unspecified after an error: stop decoding blocks then.
    let mut broken = false;

    while let Some(op) = input.byte() {
        match op & 3 {
            0 => {
                let n = input.len_for(op);
                let block = input.take(n);
                if broken {
                    continue;
                }
                let mut ours: Fields = Vec::new();
                let r = dec.decode(block, |n, v| ours.push((n.to_vec(), v.to_vec())));
                assert!(
                    dec.table_size() <= limit,
                    "table size {} over the limit {limit}",
                    dec.table_size()
                );
                match r {
                    Ok(()) => {
                        #[cfg(feature = "hpack-oracle")]
                        {
                            if block.len() > 128 {
                                // Not compared: the oracle's table would miss its entries.
                                theirs = None;
                            }
                            if let Some(o) = theirs.as_mut() {
                                match oracle::decode(o, block) {
                                    // hpack_patched's static table names entry 15 "accept-"
                                    // instead of "accept-charset": no oracle past that.
                                    Some(t) if t.iter().any(|(n, _)| n == b"accept-") => {
                                        theirs = None
                                    }
                                    Some(t) => assert_eq!(t, ours, "hpack_patched disagrees"),
                                    None => theirs = None,
                                }
                            }
                        }
                        reencode(&mut enc, &mut dec2, &ours);
                    }
                    Err(e) => {
                        assert!(!e.to_string().is_empty());
                        broken = true;
                    }
                }
            }
            1 => {
                limit = SIZES[usize::from((op >> 2) & 7)];
                dec.set_max_table_size(limit);
                assert!(dec.table_size() <= limit);
                // The oracle has no such limit: it would not evict now.
                #[cfg(feature = "hpack-oracle")]
                {
                    theirs = None;
                }
                enc.set_max_table_size(SIZES[usize::from(op >> 5)]);
            }
            2 => {
                let n = input.len_for(op);
                let s = input.take(n);
                let mut out = b"prefix".to_vec();
                match huffman::decode(s, &mut out) {
                    Ok(()) => {
                        assert!(out.starts_with(b"prefix"));
                        let decoded = &out[6..];
                        // Valid padding is determined by the symbols, so the code is canonical.
                        let mut again = Vec::new();
                        huffman::encode(decoded, &mut again);
                        assert_eq!(again, s, "Huffman decode then encode changed the string");
                    }
                    Err(_) => assert_eq!(out, b"prefix", "a failed decode left output behind"),
                }
            }
            _ => {
                let n = input.len_for(op);
                let s = input.take(n);
                let mut code = Vec::new();
                huffman::encode(s, &mut code);
                assert_eq!(code.len(), huffman::encoded_len(s));
                let mut back = Vec::new();
                huffman::decode(&code, &mut back).expect("our own Huffman code decodes");
                assert_eq!(back, s);
            }
        }
    }
});

/// Encodes `fields` as one block with our encoder and decodes it with our second decoder.
fn reencode(enc: &mut Encoder, dec2: &mut Decoder, fields: &Fields) {
    let mut block = Vec::new();
    enc.begin_block(&mut block);
    for (n, v) in fields {
        enc.encode_field(n, v, &mut block);
    }
    let mut back: Fields = Vec::new();
    dec2.decode(&block, |n, v| back.push((n.to_vec(), v.to_vec())))
        .unwrap_or_else(|e| panic!("our decoder rejects our encoder's block: {e}"));
    assert_eq!(&back, fields, "encode/decode round trip");
}
