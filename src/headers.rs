//! An ordered list of header fields stored in one buffer.
//!
//! Every name and value is followed by a NUL byte so that the C API can hand out pointers that
//! are both length-delimited and NUL-terminated without another copy, and the buffer holds
//! exactly the fields, in order (`name NUL value NUL ...`), so that it can hand out the whole
//! list at once too ([`HeaderList::packed`]). One allocation serves the
//! whole list, which keeps a response's headers to two allocations however many there are.

/// One field's position in [`HeaderList::buf`].
#[derive(Clone, Copy, Debug)]
struct Field {
    name: u32,
    name_len: u32,
    value: u32,
    value_len: u32,
}

/// An ordered list of (name, value) pairs; repeated names are kept as separate entries.
#[derive(Debug, Default)]
pub struct HeaderList {
    buf: Vec<u8>,
    fields: Vec<Field>,
}

impl Clone for HeaderList {
    fn clone(&self) -> Self {
        HeaderList {
            buf: self.buf.clone(),
            fields: self.fields.clone(),
        }
    }

    /// Reuses `self`'s buffers (a derived `clone_from` would allocate new ones).
    fn clone_from(&mut self, source: &Self) {
        self.buf.clone_from(&source.buf);
        self.fields.clone_from(&source.fields);
    }
}

impl HeaderList {
    /// An empty list.
    pub fn new() -> HeaderList {
        HeaderList::default()
    }

    /// An empty list with room for `fields` fields of `bytes` bytes in total.
    pub fn with_capacity(bytes: usize, fields: usize) -> HeaderList {
        HeaderList {
            buf: Vec::with_capacity(bytes),
            fields: Vec::with_capacity(fields),
        }
    }

    /// Appends a field. Lists are bounded by the caller's limits far below 4 GiB.
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        let name_off = self.buf.len() as u32;
        self.buf.reserve(name.len() + value.len() + 2);
        self.buf.extend_from_slice(name);
        self.buf.push(0);
        let value_off = self.buf.len() as u32;
        self.buf.extend_from_slice(value);
        self.buf.push(0);
        self.fields.push(Field {
            name: name_off,
            name_len: name.len() as u32,
            value: value_off,
            value_len: value.len() as u32,
        });
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the list has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The `i`th field as (name, value), without the NUL terminators.
    pub fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let f = self.fields.get(i)?;
        Some((
            self.slice(f.name, f.name_len),
            self.slice(f.value, f.value_len),
        ))
    }

    /// The `i`th field's name and value including their NUL terminators (for the C API).
    pub fn get_with_nul(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let f = self.fields.get(i)?;
        Some((
            self.slice(f.name, f.name_len + 1),
            self.slice(f.value, f.value_len + 1),
        ))
    }

    /// Index of the first field called `name` (compared ASCII-case-insensitively).
    pub fn find(&self, name: &[u8]) -> Option<usize> {
        (0..self.fields.len()).find(|&i| {
            self.get(i)
                .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
        })
    }

    /// The first value of `name`.
    pub fn value(&self, name: &[u8]) -> Option<&[u8]> {
        self.find(name).and_then(|i| self.get(i)).map(|(_, v)| v)
    }

    /// Iterates over the fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        (0..self.fields.len()).filter_map(move |i| self.get(i))
    }

    /// Every field in order as `name NUL value NUL name NUL value NUL ...`: the list's own
    /// buffer, which holds exactly that (see [`HeaderList::retain`]). Empty for an empty list.
    pub fn packed(&self) -> &[u8] {
        &self.buf
    }

    /// Keeps only the fields whose name `keep` accepts, in order. The kept fields' bytes are
    /// moved down over the removed ones, so that the buffer still holds exactly the fields
    /// ([`HeaderList::packed`]).
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) {
        let mut to = 0usize;
        let buf = &mut self.buf;
        self.fields.retain_mut(|f| {
            let start = f.name as usize;
            let name = buf
                .get(start..start + f.name_len as usize)
                .unwrap_or_default();
            if !keep(name) {
                return false;
            }
            // A field's bytes: name, NUL, value, NUL (push lays them out so).
            let end = f.value as usize + f.value_len as usize + 1;
            if start != to {
                buf.copy_within(start..end, to);
                let shift = (start - to) as u32;
                f.name -= shift;
                f.value -= shift;
            }
            to += end - start;
            true
        });
        buf.truncate(to);
    }

    /// The bytes this list's buffers hold allocated (what keeping it for reuse costs).
    pub fn capacity_bytes(&self) -> usize {
        self.buf.capacity() + self.fields.capacity() * std::mem::size_of::<Field>()
    }

    /// Removes every field (keeps the allocations).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.fields.clear();
    }

    fn slice(&self, off: u32, len: u32) -> &[u8] {
        self.buf
            .get(off as usize..(off as usize + len as usize))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_find() {
        let mut h = HeaderList::new();
        h.push(b"a", b"1");
        h.push(b"b", b"");
        h.push(b"a", b"3");
        assert_eq!(h.len(), 3);
        assert_eq!(h.get(0), Some((&b"a"[..], &b"1"[..])));
        assert_eq!(h.get(1), Some((&b"b"[..], &b""[..])));
        assert_eq!(h.get_with_nul(2), Some((&b"a\0"[..], &b"3\0"[..])));
        assert_eq!(h.value(b"A"), Some(&b"1"[..]));
        assert_eq!(h.value(b"c"), None);
        assert_eq!(h.get(3), None);
        assert_eq!(h.iter().count(), 3);
        assert_eq!(h.packed(), b"a\x001\0b\0\0a\x003\0");
        h.retain(|n| n != b"a");
        assert_eq!(h.len(), 1);
        assert_eq!(h.get(0), Some((&b"b"[..], &b""[..])));
        assert_eq!(h.get_with_nul(0), Some((&b"b\0"[..], &b"\0"[..])));
        assert_eq!(h.packed(), b"b\0\0");
    }

    /// `retain` keeps the buffer exactly the kept fields, in order, whichever are removed.
    #[test]
    fn retain_compacts_the_buffer() {
        let fields: [(&[u8], &[u8]); 5] = [
            (b"content-encoding", b"gzip"),
            (b"x-a", b"1"),
            (b"content-length", b"42"),
            (b"x-b", b""),
            (b"x-c", b"three"),
        ];
        for mask in 0u32..32 {
            let mut h = HeaderList::new();
            for (n, v) in fields {
                h.push(n, v);
            }
            let mut i = 0;
            let keep: Vec<bool> = (0..5).map(|k| mask & (1 << k) != 0).collect();
            h.retain(|_| {
                i += 1;
                keep[i - 1]
            });
            let mut want = HeaderList::new();
            for (k, (n, v)) in fields.iter().enumerate() {
                if keep[k] {
                    want.push(n, v);
                }
            }
            assert_eq!(h.packed(), want.packed(), "mask {mask:05b}");
            assert_eq!(h.len(), want.len());
            assert!(h.iter().eq(want.iter()), "mask {mask:05b}");
            for k in 0..h.len() {
                assert_eq!(h.get_with_nul(k), want.get_with_nul(k));
            }
            // Fields pushed after a retain land right after the kept ones.
            h.push(b"x-d", b"4");
            want.push(b"x-d", b"4");
            assert_eq!(h.packed(), want.packed());
            assert_eq!(h.value(b"x-d"), Some(&b"4"[..]));
        }
    }
}
