//! Reusing a header block for a request that repeats the previous one.
//!
//! A client tends to send the same request many times on a connection (a poll, a
//! benchmark, the same API call). Once every field of such a request is in the static or
//! dynamic table, encoding it again inserts nothing, so the block comes out byte for byte
//! the same and the encoder's table stays as it was. [`LastBlock`] remembers the fields of
//! the last block and the encoder state it was made in; when the next request has the same
//! fields and the encoder is still in that state, the block already in the caller's buffer
//! is the encoding and the per-field table lookups, hashing and Huffman coding are skipped.

use super::Encoder;

/// The largest request (its fields' bytes) remembered for reuse.
const MAX_KEY: usize = 4 << 10;

/// What the block in the writer's buffer encodes, if it may be sent again as it is.
#[derive(Debug, Default)]
pub struct LastBlock {
    /// The fields, each as its length (4 bytes, little endian) and its bytes, so that
    /// different splits of the same bytes do not compare equal.
    key: Vec<u8>,
    /// [`Encoder::generation`] when the block was made; `None`: nothing reusable.
    generation: Option<u64>,
}

impl LastBlock {
    /// Whether the buffer still holds the encoding of `fields` by `enc` as it is now: the
    /// same fields in the same order, and the encoder's table and pending size updates
    /// unchanged since a block that changed neither.
    pub fn is_for(&self, enc: &Encoder, fields: &[&[u8]]) -> bool {
        if self.generation != Some(enc.generation()) {
            return false;
        }
        let mut rest = self.key.as_slice();
        for f in fields {
            let Some((len, tail)) = rest.split_first_chunk::<4>() else {
                return false;
            };
            if u32::from_le_bytes(*len) as usize != f.len() {
                return false;
            }
            let Some((bytes, tail)) = tail.split_at_checked(f.len()) else {
                return false;
            };
            if !same_bytes(bytes, f) {
                return false;
            }
            rest = tail;
        }
        rest.is_empty()
    }

    /// Records that the buffer now holds the encoding of `fields`, made by `enc` starting
    /// from generation `before`. Only a block that left the table as it found it can be
    /// sent again: one that inserted entries would index them next time.
    pub fn remember(&mut self, before: u64, enc: &Encoder, fields: &[&[u8]]) {
        let bytes: usize = fields.iter().map(|f| f.len() + 4).sum();
        if enc.generation() != before || bytes > MAX_KEY {
            // A large request is not kept: it would be held for the connection's life.
            self.forget();
            return;
        }
        self.key.clear();
        for f in fields {
            // Fields longer than 4 GiB cannot be in a header block (the peer's header list
            // limit is a u32); do not remember them rather than truncate the length.
            let Ok(len) = u32::try_from(f.len()) else {
                self.forget();
                return;
            };
            self.key.extend_from_slice(&len.to_le_bytes());
            self.key.extend_from_slice(f);
        }
        self.generation = Some(before);
    }

    /// The buffer was overwritten with another block (trailers).
    pub fn forget(&mut self) {
        self.generation = None;
    }
}

/// `a == b` for slices of equal length, word by word: the fields are short, and a `memcmp`
/// call per field cost more than the comparison (perf, `h2bench -c1 -m100`).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a8, mut b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let words_equal = (&mut a8).zip(&mut b8).all(|(x, y)| {
        u64::from_ne_bytes(x.try_into().unwrap_or_default())
            == u64::from_ne_bytes(y.try_into().unwrap_or_default())
    });
    words_equal
        && a8
            .remainder()
            .iter()
            .zip(b8.remainder())
            .all(|(x, y)| x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(enc: &mut Encoder, fields: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        enc.begin_block(&mut out);
        for (n, v) in fields {
            enc.encode_field(n, v, &mut out);
        }
        out
    }

    fn flat<'a>(fields: &[(&'a [u8], &'a [u8])]) -> Vec<&'a [u8]> {
        fields.iter().flat_map(|(n, v)| [*n, *v]).collect()
    }

    /// Encodes like the writer does: reuse when the memo says so, else encode and remember.
    fn block(enc: &mut Encoder, memo: &mut LastBlock, buf: &mut Vec<u8>, f: &[(&[u8], &[u8])]) {
        let key = flat(f);
        if memo.is_for(enc, &key) {
            return;
        }
        let before = enc.generation();
        *buf = encode(enc, f);
        memo.remember(before, enc, &key);
    }

    const REQ: &[(&[u8], &[u8])] = &[
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":authority", b"example.com"),
        (b":path", b"/a"),
        (b"x-custom", b"value"),
    ];

    #[test]
    fn reused_blocks_are_what_encoding_would_give() {
        // The same sequence of requests through a memoizing encoder and a plain one must
        // give the same bytes, and both tables must stay in step.
        let other_path: &[(&[u8], &[u8])] = &[
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":authority", b"example.com"),
            (b":path", b"/b"),
            (b"x-custom", b"value"),
        ];
        let new_field: &[(&[u8], &[u8])] = &[
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":authority", b"example.com"),
            (b":path", b"/a"),
            (b"x-custom", b"value"),
            (b"x-new", b"1"),
        ];
        let seq = [
            REQ, REQ, REQ, other_path, REQ, new_field, new_field, REQ, REQ,
        ];
        let (mut memo_enc, mut plain) = (Encoder::new(), Encoder::new());
        let (mut memo, mut buf) = (LastBlock::default(), Vec::new());
        let mut reused = 0;
        for (i, f) in seq.iter().enumerate() {
            let was = memo.is_for(&memo_enc, &flat(f));
            reused += usize::from(was);
            block(&mut memo_enc, &mut memo, &mut buf, f);
            assert_eq!(buf, encode(&mut plain, f), "request {i}");
        }
        // The 3rd REQ (the 1st inserted entries, the 2nd did not) and the last REQ.
        assert!(reused >= 2, "only {reused} blocks reused");
    }

    #[test]
    fn a_block_that_inserted_entries_is_not_reused() {
        let mut enc = Encoder::new();
        let mut memo = LastBlock::default();
        let mut buf = Vec::new();
        block(&mut enc, &mut memo, &mut buf, REQ);
        // The first block inserted :authority and x-custom: the same fields now encode as
        // indexes, so the first bytes must not be sent again.
        assert!(!memo.is_for(&enc, &flat(REQ)));
        let first = buf.clone();
        block(&mut enc, &mut memo, &mut buf, REQ);
        assert_ne!(first, buf);
        assert!(memo.is_for(&enc, &flat(REQ)));
    }

    #[test]
    fn a_table_size_change_invalidates() {
        let mut enc = Encoder::new();
        let mut memo = LastBlock::default();
        let mut buf = Vec::new();
        block(&mut enc, &mut memo, &mut buf, REQ);
        block(&mut enc, &mut memo, &mut buf, REQ);
        assert!(memo.is_for(&enc, &flat(REQ)));
        enc.set_max_table_size(0);
        assert!(!memo.is_for(&enc, &flat(REQ)));
        let mut plain = Encoder::new();
        encode(&mut plain, REQ);
        encode(&mut plain, REQ);
        plain.set_max_table_size(0);
        block(&mut enc, &mut memo, &mut buf, REQ);
        assert_eq!(buf, encode(&mut plain, REQ));
    }

    #[test]
    fn a_large_request_is_not_kept() {
        // It would be held for the connection's life (review finding).
        let enc = Encoder::new();
        let mut memo = LastBlock::default();
        let big = vec![b'x'; MAX_KEY];
        memo.remember(enc.generation(), &enc, &[b"GET", &big]);
        assert!(!memo.is_for(&enc, &[b"GET", &big]));
        assert!(memo.key.capacity() < MAX_KEY);
        memo.remember(enc.generation(), &enc, &[b"GET", b"/"]);
        assert!(memo.is_for(&enc, &[b"GET", b"/"]));
    }

    #[test]
    fn the_split_of_the_bytes_matters() {
        let mut enc = Encoder::new();
        let mut memo = LastBlock::default();
        memo.remember(enc.generation(), &enc, &[b"ab", b"c"]);
        assert!(memo.is_for(&enc, &[b"ab", b"c"]));
        assert!(!memo.is_for(&enc, &[b"a", b"bc"]));
        assert!(!memo.is_for(&enc, &[b"ab"]));
        assert!(!memo.is_for(&enc, &[b"ab", b"c", b""]));
        memo.forget();
        assert!(!memo.is_for(&enc, &[b"ab", b"c"]));
        let _ = &mut enc;
    }
}
