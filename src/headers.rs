//! An ordered list of header fields stored in one buffer.
//!
//! Every name and value is followed by a NUL byte so that the C API can hand out pointers that
//! are both length-delimited and NUL-terminated without another copy. One allocation serves the
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
#[derive(Clone, Debug, Default)]
pub struct HeaderList {
    buf: Vec<u8>,
    fields: Vec<Field>,
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

    /// Keeps only the fields whose name `keep` accepts, in order (the removed ones' bytes stay
    /// in the buffer until it is cleared).
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) {
        let buf = &self.buf;
        self.fields.retain(|f| {
            let name = buf
                .get(f.name as usize..f.name as usize + f.name_len as usize)
                .unwrap_or_default();
            keep(name)
        });
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
        h.retain(|n| n != b"a");
        assert_eq!(h.len(), 1);
        assert_eq!(h.get(0), Some((&b"b"[..], &b""[..])));
        assert_eq!(h.get_with_nul(0), Some((&b"b\0"[..], &b"\0"[..])));
    }
}
