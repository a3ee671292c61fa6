//! HPACK encoder (RFC 7541 sections 4, 6).

use std::collections::HashMap;

use super::huffman;
use super::integer;
use super::table::{self, DynamicTable, Evicted, Tag, ENTRY_OVERHEAD, STATIC_LEN};

/// Largest dynamic table we use, whatever the peer allows: 4096 is the
/// protocol default and enough for the repetitive headers of a client, and
/// a bound keeps a generous peer from making us hold more state.
const OWN_MAX_TABLE_SIZE: usize = 4096;

/// Whether the field with this static name index must never be indexed
/// (RFC 7541 section 7.1.3): `authorization`, `cookie`,
/// `proxy-authorization` and `set-cookie`. Credentials and cookies are sent
/// as never-indexed literals so that an intermediary re-encoding them does
/// not index them either, and a compression oracle cannot probe them.
///
/// All the names our policy singles out are in the static table, so the
/// static lookup that is needed anyway also decides the policy, with
/// integer compares instead of more string compares.
fn is_sensitive(static_name: Option<usize>) -> bool {
    matches!(static_name, Some(23 | 32 | 49 | 55))
}

/// Whether the field with this static name index is rarely repeated on a
/// connection, so indexing it would only evict entries that are: `:path`,
/// `content-length`, `etag`, `if-modified-since`, `if-none-match`, `link`,
/// `location`, `referer`.
fn is_unlikely_to_repeat(static_name: Option<usize>) -> bool {
    matches!(static_name, Some(4 | 28 | 34 | 40 | 41 | 45 | 46 | 51))
}

/// How a literal field is represented (RFC 7541 section 6.2).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Indexing {
    /// 6.2.1: `01` pattern, 6-bit name index, entry added to the table.
    Incremental,
    /// 6.2.2: `0000` pattern, 4-bit name index.
    Without,
    /// 6.2.3: `0001` pattern, 4-bit name index.
    Never,
}

type HashIndex = HashMap<u64, u64, crate::prehashed::BuildPassThrough>;

/// Fast non-cryptographic hash of `bytes`, continuing from `seed`.
///
/// Hash quality only affects compression (a collision just hides an
/// entry, since hits are confirmed by comparing bytes), and the inputs come
/// from our own application, not from the peer, so speed wins over
/// DoS resistance here; the maps are also bounded by the table size.
///
/// Reads whole words, with overlapping reads for the tail (so every byte
/// is covered without a variable-length copy), and mixes with a folded
/// 64x64->128-bit multiply.
fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    const K1: u64 = 0x9e37_79b9_7f4a_7c15;
    const K2: u64 = 0xbf58_476d_1ce4_e5b9;
    fn mix(a: u64, b: u64) -> u64 {
        let m = u128::from(a ^ K1) * u128::from(b ^ K2);
        (m as u64) ^ ((m >> 64) as u64)
    }
    fn word(chunk: Option<&[u8; 8]>) -> u64 {
        chunk.map_or(0, |c| u64::from_le_bytes(*c))
    }
    fn half(chunk: Option<&[u8; 4]>) -> u64 {
        chunk.map_or(0, |c| u64::from(u32::from_le_bytes(*c)))
    }
    let len = bytes.len();
    let mut h = mix(seed, len as u64);
    if len > 8 {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            h = mix(h, word(chunk.first_chunk()));
        }
        if !chunks.remainder().is_empty() {
            // The last 8 bytes, overlapping the previous chunk.
            h = mix(h, word(bytes.last_chunk()));
        }
    } else if len >= 4 {
        // Two overlapping 4-byte reads cover 4..=8 bytes.
        h = mix(
            h,
            half(bytes.first_chunk()) | half(bytes.last_chunk()) << 32,
        );
    } else if len > 0 {
        // First, middle and last byte cover 1..=3 bytes.
        let b = |i: usize| u64::from(bytes.get(i).copied().unwrap_or(0));
        h = mix(h, b(0) | b(len / 2) << 8 | b(len - 1) << 16);
    }
    mix(h, K1)
}

/// HPACK encoder for one connection direction (our requests).
///
/// Indexing policy:
/// * a field equal to a static or dynamic table entry is sent as an index;
/// * `authorization`, `proxy-authorization`, `cookie` and `set-cookie` are
///   literals never indexed (6.2.3), even when an equal entry exists;
/// * `:path`, `content-length`, `etag`, `if-modified-since`,
///   `if-none-match`, `location`, `referer`, `link`, and fields whose entry
///   would take more than 3/4 of the table are literals without indexing;
/// * everything else is a literal with incremental indexing.
///
/// Names are taken from the tables when present; strings are Huffman-coded
/// when that is strictly shorter.
#[derive(Debug)]
pub struct Encoder {
    table: DynamicTable,
    /// Hash of a name → sequence number of the newest entry with that name.
    names: HashIndex,
    /// Hash of a name and value → sequence number of the newest such entry.
    fields: HashIndex,
    /// Table size changes not yet signalled: (smallest, final) since the
    /// last block (RFC 7541 section 4.2).
    pending_size: Option<(usize, usize)>,
    /// Counts the changes that make encoding the same fields give other bytes: entries
    /// inserted, table size changes made or pending (see [`super::LastBlock`]).
    generation: u64,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// New encoder; the peer's table size is the protocol default 4096
    /// until [`set_max_table_size`](Self::set_max_table_size) says otherwise.
    pub fn new() -> Self {
        Encoder {
            table: DynamicTable::new(OWN_MAX_TABLE_SIZE),
            names: HashIndex::default(),
            fields: HashIndex::default(),
            pending_size: None,
            generation: 0,
        }
    }

    /// A number that changes whenever the encoding of a given field list may change: on
    /// every insertion into the table and every table size change, made or pending.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The peer's `SETTINGS_HEADER_TABLE_SIZE` changed.
    ///
    /// We use `min(size, 4096)` and announce it with Dynamic Table Size
    /// Update(s) at the start of the next block. If the size went down and up
    /// again between two blocks, the smallest value is announced first, then
    /// the final one (RFC 7541 section 4.2), so the peer evicts what it must.
    pub fn set_max_table_size(&mut self, size: usize) {
        let size = size.min(OWN_MAX_TABLE_SIZE);
        self.generation = self.generation.wrapping_add(1);
        self.pending_size = Some(match self.pending_size {
            Some((smallest, _)) => (smallest.min(size), size),
            None => (size, size),
        });
    }

    /// Starts a header block: writes any pending size update(s) to `dst`.
    /// Must be called once before the fields of each block.
    pub fn begin_block(&mut self, dst: &mut Vec<u8>) {
        let Some((smallest, last)) = self.pending_size.take() else {
            return;
        };
        let mut current = self.table.max_size();
        if smallest < current {
            self.resize(smallest, dst);
            current = smallest;
        }
        if last != current {
            self.resize(last, dst);
        }
    }

    /// Emits one size update and applies it to our copy of the table.
    fn resize(&mut self, size: usize, dst: &mut Vec<u8>) {
        integer::encode(size, 5, 0x20, dst);
        self.generation = self.generation.wrapping_add(1);
        let Encoder {
            table,
            names,
            fields,
            ..
        } = self;
        table.set_max_size(size, &mut |e| unindex(names, fields, e));
    }

    /// Appends one field to `dst`. The name must already be lowercase and
    /// valid (pseudo-headers such as `:method` included); this is not
    /// checked here.
    pub fn encode_field(&mut self, name: &[u8], value: &[u8], dst: &mut Vec<u8>) {
        let in_static = table::static_lookup(name, value);
        let sensitive = is_sensitive(in_static.name);

        if !sensitive {
            if let Some(index) = in_static.full {
                integer::encode(index, 7, 0x80, dst);
                return;
            }
        }

        // Only hash when the table can hold anything: with a zero-size
        // table there is nothing to find and nothing will be inserted.
        let hashes = (self.table.max_size() > 0).then(|| {
            let name_hash = hash_bytes(0, name);
            Tag {
                name_hash,
                field_hash: hash_bytes(name_hash, value),
            }
        });

        if let (false, Some(tag)) = (sensitive, hashes) {
            if let Some(index) = self.find(&self.fields, tag.field_hash, name, Some(value)) {
                integer::encode(index, 7, 0x80, dst);
                return;
            }
        }

        let entry_size = name
            .len()
            .saturating_add(value.len())
            .saturating_add(ENTRY_OVERHEAD);
        let indexing = if sensitive {
            Indexing::Never
        } else if is_unlikely_to_repeat(in_static.name)
            || entry_size.saturating_mul(4) > self.table.max_size().saturating_mul(3)
        {
            Indexing::Without
        } else {
            Indexing::Incremental
        };
        let (prefix_bits, pattern) = match indexing {
            Indexing::Incremental => (6, 0x40),
            Indexing::Without => (4, 0x00),
            Indexing::Never => (4, 0x10),
        };

        let name_index = in_static
            .name
            .or_else(|| hashes.and_then(|tag| self.find(&self.names, tag.name_hash, name, None)));
        match name_index {
            Some(index) => integer::encode(index, prefix_bits, pattern, dst),
            None => {
                dst.push(pattern);
                encode_string(name, dst);
            }
        }
        encode_string(value, dst);

        if indexing == Indexing::Incremental {
            if let Some(tag) = hashes {
                self.insert(name, value, tag);
            }
        }
    }

    /// HPACK index of the dynamic entry that `map` has under `hash`, if it
    /// is still in the table and really has this name (and value, if given).
    fn find(&self, map: &HashIndex, hash: u64, name: &[u8], value: Option<&[u8]>) -> Option<usize> {
        let seq = *map.get(&hash)?;
        let i = self.table.seq_to_index(seq)?;
        let (n, v) = self.table.get(i)?;
        let hit = n == name && value.is_none_or(|value| v == value);
        hit.then_some(STATIC_LEN + 1 + i)
    }

    fn insert(&mut self, name: &[u8], value: &[u8], tag: Tag) {
        self.generation = self.generation.wrapping_add(1);
        let seq = self.table.next_seq();
        let Encoder {
            table,
            names,
            fields,
            ..
        } = self;
        table.insert(name, value, tag, &mut |e| unindex(names, fields, e));
        // An entry too large for the table is not inserted.
        if table.seq_to_index(seq).is_some() {
            // Newest wins: it will be evicted last, and a hash collision
            // just replaces the older entry's mapping.
            names.insert(tag.name_hash, seq);
            fields.insert(tag.field_hash, seq);
        }
    }
}

/// Drops the index mappings that point at an evicted entry (but not ones a
/// newer entry with the same hash has taken over).
fn unindex(names: &mut HashIndex, fields: &mut HashIndex, e: Evicted) {
    if names.get(&e.tag.name_hash) == Some(&e.seq) {
        names.remove(&e.tag.name_hash);
    }
    if fields.get(&e.tag.field_hash) == Some(&e.seq) {
        fields.remove(&e.tag.field_hash);
    }
}

/// Appends a string literal (RFC 7541 section 5.2), Huffman-coded only if
/// that is strictly shorter.
fn encode_string(s: &[u8], dst: &mut Vec<u8>) {
    let huffman_len = huffman::encoded_len(s);
    if huffman_len < s.len() {
        integer::encode(huffman_len, 7, 0x80, dst);
        huffman::encode(s, dst);
    } else {
        integer::encode(s.len(), 7, 0x00, dst);
        dst.extend_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_block(enc: &mut Encoder, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        enc.begin_block(&mut out);
        for (n, v) in fields {
            enc.encode_field(n.as_bytes(), v.as_bytes(), &mut out);
        }
        out
    }

    #[test]
    fn static_full_match_is_indexed() {
        let mut enc = Encoder::new();
        assert_eq!(
            encode_block(&mut enc, &[(":method", "GET"), (":path", "/")]),
            [0x82, 0x84]
        );
    }

    #[test]
    fn repeated_field_becomes_dynamic_index() {
        let mut enc = Encoder::new();
        let first = encode_block(&mut enc, &[("user-agent", "h2client/0.1")]);
        assert_eq!(first[0], 0x40 | 58);
        assert_eq!(
            encode_block(&mut enc, &[("user-agent", "h2client/0.1")]),
            [0xbe]
        );
        // Another value of the same name reuses the dynamic name entry's
        // static name index, and shifts the first entry to 63.
        let third = encode_block(&mut enc, &[("user-agent", "other")]);
        assert_eq!(third[0], 0x40 | 58);
        assert_eq!(
            encode_block(&mut enc, &[("user-agent", "h2client/0.1")]),
            [0xbf]
        );
    }

    #[test]
    fn custom_name_reused_from_dynamic_table() {
        let mut enc = Encoder::new();
        encode_block(&mut enc, &[("x-trace", "1")]);
        let second = encode_block(&mut enc, &[("x-trace", "2")]);
        // Literal with incremental indexing, name = dynamic index 62.
        assert_eq!(second[0], 0x40 | 62);
    }

    #[test]
    fn sensitive_fields_are_never_indexed() {
        let mut enc = Encoder::new();
        for _ in 0..2 {
            let block = encode_block(&mut enc, &[("authorization", "Bearer x")]);
            // 0001 pattern with static name index 23 (does not fit 4 bits).
            assert_eq!(&block[..2], [0x1f, 23 - 15]);
        }
        // Even an empty cookie (a static full match) is not indexed.
        assert_eq!(
            encode_block(&mut enc, &[("cookie", "")]),
            [0x1f, 32 - 15, 0x00]
        );
        assert_eq!(enc.table.len(), 0);
    }

    #[test]
    fn unlikely_fields_are_not_indexed() {
        let mut enc = Encoder::new();
        let block = encode_block(&mut enc, &[(":path", "/a")]);
        assert_eq!(block[0], 0x04);
        assert_eq!(enc.table.len(), 0);
        let big = "v".repeat(3100);
        let block = encode_block(&mut enc, &[("x-big", &big)]);
        assert_eq!(block[0], 0x00);
        assert_eq!(enc.table.len(), 0);
    }

    #[test]
    fn size_updates_signal_minimum_then_final() {
        let mut enc = Encoder::new();
        encode_block(&mut enc, &[("x-a", "1")]);
        enc.set_max_table_size(0);
        enc.set_max_table_size(8192);
        let mut out = Vec::new();
        enc.begin_block(&mut out);
        // 0 (0x20), then 4096 capped from 8192 (0x3f e1 1f).
        assert_eq!(out, [0x20, 0x3f, 0xe1, 0x1f]);
        assert_eq!(enc.table.len(), 0);
        // Nothing pending any more.
        out.clear();
        enc.begin_block(&mut out);
        assert!(out.is_empty());
        // Raising above our cap changes nothing.
        enc.set_max_table_size(1 << 20);
        enc.begin_block(&mut out);
        assert!(out.is_empty());
        enc.set_max_table_size(100);
        enc.begin_block(&mut out);
        assert_eq!(out, [0x3f, 100 - 31]);
    }

    #[test]
    fn zero_size_table_indexes_nothing() {
        let mut enc = Encoder::new();
        enc.set_max_table_size(0);
        let block = encode_block(&mut enc, &[("x-a", "1"), ("x-a", "1")]);
        assert_eq!(block[0], 0x20);
        assert_eq!(block[1], 0x00);
        assert_eq!(enc.table.len(), 0);
    }

    #[test]
    fn policy_indices_name_the_intended_fields() {
        let names_where = |f: fn(Option<usize>) -> bool| -> Vec<&[u8]> {
            (1..=STATIC_LEN)
                .filter(|&i| f(Some(i)))
                .map(|i| table::static_entry(i).unwrap().0)
                .collect()
        };
        assert_eq!(
            names_where(is_sensitive),
            [
                &b"authorization"[..],
                b"cookie",
                b"proxy-authorization",
                b"set-cookie"
            ]
        );
        assert_eq!(
            names_where(is_unlikely_to_repeat),
            [
                &b":path"[..],
                b"content-length",
                b"etag",
                b"if-modified-since",
                b"if-none-match",
                b"link",
                b"location",
                b"referer"
            ]
        );
        assert!(!is_sensitive(None) && !is_unlikely_to_repeat(None));
    }

    #[test]
    fn hash_spreads_similar_inputs() {
        let a = hash_bytes(0, b"x-header-1");
        let b = hash_bytes(0, b"x-header-2");
        assert_ne!(a, b);
        assert_ne!(
            hash_bytes(hash_bytes(0, b"ab"), b"c"),
            hash_bytes(hash_bytes(0, b"a"), b"bc")
        );
        // Every length path: 0, 1..=3, 4..=8, and longer with a tail.
        let mut seen = std::collections::HashSet::new();
        for len in 0..40 {
            for fill in [b'a', b'b'] {
                if len == 0 && fill == b'b' {
                    continue; // the same empty string
                }
                let s = vec![fill; len];
                assert!(seen.insert(hash_bytes(0, &s)), "collision at {len}");
            }
        }
    }
}
