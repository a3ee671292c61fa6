//! The static table (RFC 7541 Appendix A) and the dynamic table (section
//! 2.3.2 and section 4).
//!
//! The dynamic table keeps all entry bytes in one `Vec<u8>` used as a FIFO:
//! entries are appended at the end, evicted from the front by advancing a
//! start offset, and the live bytes are moved back to the front once the
//! dead prefix is at least as long as they are. Inserting therefore does not
//! allocate once the buffer has grown to its working size (about twice the
//! table size), and each byte is moved at most once per insertion on
//! average.

use std::collections::VecDeque;

/// Per-entry overhead in the size accounting of RFC 7541 section 4.1.
pub(crate) const ENTRY_OVERHEAD: usize = 32;

/// Number of entries in the static table; dynamic indices start after it.
pub(crate) const STATIC_LEN: usize = 61;

/// RFC 7541 Appendix A; `STATIC_TABLE[i]` has HPACK index `i + 1`.
pub(crate) const STATIC_TABLE: [(&[u8], &[u8]); STATIC_LEN] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// The entry with HPACK index `index` (1-based) if it is a static one.
pub(crate) fn static_entry(index: usize) -> Option<(&'static [u8], &'static [u8])> {
    STATIC_TABLE.get(index.wrapping_sub(1)).copied()
}

/// Static-table matches for a field, as HPACK indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StaticMatch {
    /// Index of the first entry with this name, if any.
    pub(crate) name: Option<usize>,
    /// Index of the entry with this name and value, if any.
    pub(crate) full: Option<usize>,
}

/// Looks `name`/`value` up in the static table.
pub(crate) fn static_lookup(name: &[u8], value: &[u8]) -> StaticMatch {
    let Some((first, count)) = static_name(name) else {
        return StaticMatch {
            name: None,
            full: None,
        };
    };
    // Only `:method`, `:path`, `:scheme` and `:status` have several
    // entries; the values are compared directly.
    let full = (first..first + count).find(|&i| static_entry(i).is_some_and(|(_, v)| v == value));
    StaticMatch {
        name: Some(first),
        full,
    }
}

/// `(first HPACK index, number of entries)` of a static table name.
///
/// Dispatches on the length first, so that at most six candidates (of equal,
/// known length) are compared; a flat `match` on the name would compare
/// against every arm in turn.
fn static_name(name: &[u8]) -> Option<(usize, usize)> {
    let found = match name.len() {
        3 => match name {
            b"age" => (21, 1),
            b"via" => (60, 1),
            _ => return None,
        },
        4 => match name {
            b"date" => (33, 1),
            b"etag" => (34, 1),
            b"from" => (37, 1),
            b"host" => (38, 1),
            b"link" => (45, 1),
            b"vary" => (59, 1),
            _ => return None,
        },
        5 => match name {
            b":path" => (4, 2),
            b"allow" => (22, 1),
            b"range" => (50, 1),
            _ => return None,
        },
        6 => match name {
            b"accept" => (19, 1),
            b"cookie" => (32, 1),
            b"expect" => (35, 1),
            b"server" => (54, 1),
            _ => return None,
        },
        7 => match name {
            b":method" => (2, 2),
            b":scheme" => (6, 2),
            b":status" => (8, 7),
            b"expires" => (36, 1),
            b"referer" => (51, 1),
            b"refresh" => (52, 1),
            _ => return None,
        },
        8 => match name {
            b"if-match" => (39, 1),
            b"if-range" => (42, 1),
            b"location" => (46, 1),
            _ => return None,
        },
        10 => match name {
            b":authority" => (1, 1),
            b"set-cookie" => (55, 1),
            b"user-agent" => (58, 1),
            _ => return None,
        },
        11 => match name {
            b"retry-after" => (53, 1),
            _ => return None,
        },
        12 => match name {
            b"content-type" => (31, 1),
            b"max-forwards" => (47, 1),
            _ => return None,
        },
        13 => match name {
            b"accept-ranges" => (18, 1),
            b"authorization" => (23, 1),
            b"cache-control" => (24, 1),
            b"content-range" => (30, 1),
            b"if-none-match" => (41, 1),
            b"last-modified" => (44, 1),
            _ => return None,
        },
        14 => match name {
            b"accept-charset" => (15, 1),
            b"content-length" => (28, 1),
            _ => return None,
        },
        15 => match name {
            b"accept-encoding" => (16, 1),
            b"accept-language" => (17, 1),
            _ => return None,
        },
        16 => match name {
            b"content-encoding" => (26, 1),
            b"content-language" => (27, 1),
            b"content-location" => (29, 1),
            b"www-authenticate" => (61, 1),
            _ => return None,
        },
        17 => match name {
            b"if-modified-since" => (40, 1),
            b"transfer-encoding" => (57, 1),
            _ => return None,
        },
        18 => match name {
            b"proxy-authenticate" => (48, 1),
            _ => return None,
        },
        19 => match name {
            b"content-disposition" => (25, 1),
            b"if-unmodified-since" => (43, 1),
            b"proxy-authorization" => (49, 1),
            _ => return None,
        },
        25 => match name {
            b"strict-transport-security" => (56, 1),
            _ => return None,
        },
        27 => match name {
            b"access-control-allow-origin" => (20, 1),
            _ => return None,
        },
        _ => return None,
    };
    Some(found)
}

/// Position of one dynamic table entry's bytes in [`DynamicTable::buf`],
/// plus the caller-supplied tag (the encoder's lookup hashes).
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Offset of the name in `buf`; the value follows it directly.
    offset: usize,
    name_len: usize,
    value_len: usize,
    tag: Tag,
}

/// Opaque per-entry data stored for the table's owner. The encoder keeps
/// the hashes it indexed the entry under, so eviction can unindex it without
/// rehashing; the decoder stores zeros.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tag {
    pub(crate) name_hash: u64,
    pub(crate) field_hash: u64,
}

/// An evicted entry, reported to the owner so it can update its indexes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Evicted {
    /// Insertion sequence number of the entry (see [`DynamicTable::seq_to_index`]).
    pub(crate) seq: u64,
    pub(crate) tag: Tag,
}

/// The dynamic table: a FIFO of `(name, value)` entries bounded by the RFC
/// 7541 section 4.1 size (sum of name + value + 32 over all entries).
#[derive(Debug)]
pub(crate) struct DynamicTable {
    /// Entry bytes; `buf[start..]` holds the live entries oldest first
    /// (with no gaps) and `buf[..start]` is dead space left by evictions.
    buf: Vec<u8>,
    start: usize,
    /// Oldest entry at the front, newest at the back.
    slots: VecDeque<Slot>,
    /// Current size per RFC 7541 section 4.1.
    size: usize,
    /// Current maximum size (the last size update in effect).
    max_size: usize,
    /// Number of entries ever inserted; the newest entry has sequence
    /// number `inserted - 1`. Sequence numbers let the encoder remember an
    /// entry across insertions, which shift every entry's HPACK index.
    inserted: u64,
}

impl DynamicTable {
    /// An empty table with the given maximum size.
    pub(crate) fn new(max_size: usize) -> Self {
        DynamicTable {
            buf: Vec::new(),
            start: 0,
            slots: VecDeque::new(),
            size: 0,
            max_size,
            inserted: 0,
        }
    }

    /// Current size in bytes (RFC 7541 section 4.1).
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Current maximum size.
    pub(crate) fn max_size(&self) -> usize {
        self.max_size
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The entry at dynamic index `i` (0 is the newest, i.e. HPACK index 62).
    pub(crate) fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let pos = self.slots.len().checked_sub(1)?.checked_sub(i)?;
        let slot = self.slots.get(pos)?;
        self.bytes(slot)
    }

    fn bytes(&self, slot: &Slot) -> Option<(&[u8], &[u8])> {
        let name_end = slot.offset + slot.name_len;
        let name = self.buf.get(slot.offset..name_end)?;
        let value = self.buf.get(name_end..name_end + slot.value_len)?;
        Some((name, value))
    }

    /// Sequence number the next inserted entry will get.
    pub(crate) fn next_seq(&self) -> u64 {
        self.inserted
    }

    /// Dynamic index (0 = newest) of the entry with sequence number `seq`,
    /// or `None` if it has been evicted (or never existed).
    pub(crate) fn seq_to_index(&self, seq: u64) -> Option<usize> {
        let back = self.inserted.checked_sub(1)?.checked_sub(seq)?;
        let back = usize::try_from(back).ok()?;
        (back < self.slots.len()).then_some(back)
    }

    /// Inserts an entry at the front (dynamic index 0), first evicting the
    /// oldest entries until it fits. An entry larger than the maximum size
    /// empties the table and is not inserted (RFC 7541 section 4.4); it
    /// still consumes a sequence number so that sequence numbers map to
    /// insertions one to one.
    pub(crate) fn insert(
        &mut self,
        name: &[u8],
        value: &[u8],
        tag: Tag,
        on_evict: &mut impl FnMut(Evicted),
    ) {
        let entry_size = name
            .len()
            .saturating_add(value.len())
            .saturating_add(ENTRY_OVERHEAD);
        if entry_size > self.max_size {
            self.evict_to(0, on_evict);
            self.inserted += 1;
            return;
        }
        self.evict_to(self.max_size - entry_size, on_evict);

        // When the new entry does not fit in the allocated capacity, compact
        // if the dead prefix is at least as long as the live data: copying
        // `live` bytes is then paid for by the `start` evicted bytes, keeping
        // insertion amortised O(entry length). Otherwise the Vec grows,
        // which only happens while `buf.len() < 2 * live`, so the capacity
        // stays below about four times the table size.
        let live = self.buf.len() - self.start;
        let needed = name.len() + value.len();
        if self.start > 0 && self.start >= live && self.buf.len() + needed > self.buf.capacity() {
            self.compact();
        }
        let offset = self.buf.len();
        self.buf.extend_from_slice(name);
        self.buf.extend_from_slice(value);
        self.slots.push_back(Slot {
            offset,
            name_len: name.len(),
            value_len: value.len(),
            tag,
        });
        self.size += entry_size;
        self.inserted += 1;
    }

    /// Applies a new maximum size, evicting entries as needed.
    pub(crate) fn set_max_size(&mut self, max_size: usize, on_evict: &mut impl FnMut(Evicted)) {
        self.max_size = max_size;
        self.evict_to(max_size, on_evict);
    }

    /// Evicts oldest entries until the size is at most `target`.
    fn evict_to(&mut self, target: usize, on_evict: &mut impl FnMut(Evicted)) {
        while self.size > target {
            // The oldest entry's sequence number: the newest is
            // `inserted - 1` and there are `len` entries.
            let seq = self.inserted - self.slots.len() as u64;
            let Some(slot) = self.slots.pop_front() else {
                // Unreachable while the size accounting is right; keep the
                // table consistent rather than loop forever.
                self.size = 0;
                break;
            };
            on_evict(Evicted { seq, tag: slot.tag });
            self.size -= slot.name_len + slot.value_len + ENTRY_OVERHEAD;
            self.start = slot.offset + slot.name_len + slot.value_len;
        }
        if self.slots.is_empty() {
            // Nothing live: reuse the buffer from the beginning for free.
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Moves the live bytes to the front of `buf`.
    fn compact(&mut self) {
        let shift = self.start;
        self.buf.copy_within(shift.., 0);
        self.buf.truncate(self.buf.len() - shift);
        for slot in &mut self.slots {
            slot.offset -= shift;
        }
        self.start = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(t: &mut DynamicTable, name: &str, value: &str) -> Vec<u64> {
        let mut evicted = Vec::new();
        t.insert(
            name.as_bytes(),
            value.as_bytes(),
            Tag::default(),
            &mut |e| evicted.push(e.seq),
        );
        evicted
    }

    fn entries(t: &DynamicTable) -> Vec<(String, String)> {
        (0..t.len())
            .map(|i| {
                let (n, v) = t.get(i).unwrap();
                (
                    String::from_utf8(n.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn static_table_spot_checks() {
        assert_eq!(static_entry(1), Some((&b":authority"[..], &b""[..])));
        assert_eq!(static_entry(2), Some((&b":method"[..], &b"GET"[..])));
        assert_eq!(
            static_entry(16),
            Some((&b"accept-encoding"[..], &b"gzip, deflate"[..]))
        );
        assert_eq!(static_entry(61), Some((&b"www-authenticate"[..], &b""[..])));
        assert_eq!(static_entry(0), None);
        assert_eq!(static_entry(62), None);
    }

    #[test]
    fn static_lookup_agrees_with_table() {
        for (i, (name, value)) in STATIC_TABLE.iter().enumerate() {
            let m = static_lookup(name, value);
            assert_eq!(m.full, Some(i + 1), "{:?}", String::from_utf8_lossy(name));
            let first = STATIC_TABLE.iter().position(|(n, _)| n == name).unwrap() + 1;
            assert_eq!(m.name, Some(first));
        }
        assert_eq!(
            static_lookup(b":status", b"418"),
            StaticMatch {
                name: Some(8),
                full: None
            }
        );
        // Names that differ from static ones in one byte anywhere, are
        // prefixes of them, or extend them, are not found.
        for (name, _) in STATIC_TABLE.iter() {
            for i in 0..name.len() {
                let mut other = name.to_vec();
                other[i] ^= 0x20;
                assert_eq!(static_name(&other), None);
            }
            assert_eq!(static_name(&name[..name.len() - 1]), None);
            let mut longer = name.to_vec();
            longer.push(b'x');
            assert_eq!(static_name(&longer), None);
        }
        for name in [&b""[..], b"x-custom", b"a", &[b'a'; 100]] {
            assert_eq!(
                static_lookup(name, b""),
                StaticMatch {
                    name: None,
                    full: None
                }
            );
        }
    }

    #[test]
    fn newest_entry_is_index_zero() {
        let mut t = DynamicTable::new(4096);
        insert(&mut t, "a", "1");
        insert(&mut t, "b", "2");
        assert_eq!(
            entries(&t),
            [("b".into(), "2".into()), ("a".into(), "1".into())]
        );
        assert_eq!(t.size(), 2 * 34);
        assert_eq!(t.get(2), None);
        assert_eq!(t.seq_to_index(1), Some(0));
        assert_eq!(t.seq_to_index(0), Some(1));
        assert_eq!(t.seq_to_index(2), None);
    }

    #[test]
    fn eviction_is_fifo_and_respects_size() {
        // Each entry is 1 + 1 + 32 = 34 bytes; room for three.
        let mut t = DynamicTable::new(3 * 34 + 10);
        for (i, v) in ["0", "1", "2"].iter().enumerate() {
            assert!(insert(&mut t, "k", v).is_empty(), "entry {i}");
        }
        assert_eq!(insert(&mut t, "k", "3"), [0]);
        assert_eq!(t.len(), 3);
        assert_eq!(t.size(), 3 * 34);
        assert_eq!(t.get(0).unwrap().1, b"3");
        assert_eq!(t.get(2).unwrap().1, b"1");
        assert_eq!(t.seq_to_index(0), None);
        assert_eq!(t.seq_to_index(1), Some(2));
        // A 68-byte entry evicts two 34-byte ones.
        assert_eq!(insert(&mut t, "kk", &"x".repeat(34)), [1, 2]);
        assert_eq!(entries(&t).len(), 2);
        assert_eq!(t.size(), 34 + 68);
    }

    #[test]
    fn oversized_entry_empties_table() {
        let mut t = DynamicTable::new(100);
        insert(&mut t, "a", "b");
        assert_eq!(insert(&mut t, "n", &"v".repeat(100)), [0]);
        assert_eq!(t.len(), 0);
        assert_eq!(t.size(), 0);
        // The rejected entry used sequence number 1; the next gets 2.
        assert_eq!(t.next_seq(), 2);
        insert(&mut t, "c", "d");
        assert_eq!(t.seq_to_index(2), Some(0));
    }

    #[test]
    fn entry_exactly_table_size_fits() {
        let mut t = DynamicTable::new(40);
        insert(&mut t, "abcd", "efgh"); // 4 + 4 + 32 = 40
        assert_eq!(t.len(), 1);
        assert_eq!(t.size(), 40);
    }

    #[test]
    fn shrinking_evicts_and_zero_empties() {
        let mut t = DynamicTable::new(4096);
        for i in 0..10 {
            insert(&mut t, "name", &i.to_string());
        }
        let mut evicted = Vec::new();
        t.set_max_size(3 * 37, &mut |e| evicted.push(e.seq));
        assert_eq!(evicted, (0..7).collect::<Vec<_>>());
        assert_eq!(t.len(), 3);
        t.set_max_size(0, &mut |_| {});
        assert_eq!((t.len(), t.size()), (0, 0));
        // A zero-size table rejects every entry.
        insert(&mut t, "a", "");
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn contents_survive_many_compactions() {
        // Model: a Vec of owned entries with the same eviction rule.
        let mut t = DynamicTable::new(300);
        let mut model: VecDeque<(String, String)> = VecDeque::new();
        let mut x: u32 = 12345;
        for round in 0..5000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let name = format!("n{}", x % 7);
            let value = "v".repeat((x >> 8) as usize % 150);
            insert(&mut t, &name, &value);
            model.push_front((name.clone(), value.clone()));
            let size = |m: &VecDeque<(String, String)>| {
                m.iter().map(|(n, v)| n.len() + v.len() + 32).sum::<usize>()
            };
            while size(&model) > 300 {
                model.pop_back();
            }
            assert_eq!(entries(&t), Vec::from(model.clone()), "round {round}");
            assert_eq!(t.size(), size(&model));
            assert!(
                t.buf.capacity() <= 4 * 300,
                "buffer grew to {}",
                t.buf.capacity()
            );
        }
    }
}
