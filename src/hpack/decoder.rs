//! HPACK decoder (RFC 7541 sections 3, 4, 6).

use super::huffman;
use super::integer;
use super::table::{self, DynamicTable, Tag, STATIC_LEN};
use super::DecodeError;

/// HPACK decoder for one connection direction (the peer's responses).
///
/// Decoding allocates nothing per field: names and values are handed to the
/// callback as slices of the input block, of the dynamic table or of two
/// scratch buffers (for Huffman-decoded strings) that are reused across
/// fields and blocks. Only inserting into the dynamic table may grow its
/// byte buffer, and that stops once it reaches its working size.
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// Our `SETTINGS_HEADER_TABLE_SIZE`: the largest size update we accept.
    limit: usize,
    /// Scratch for a field name that is Huffman-coded, or copied out of the
    /// dynamic table because the field is about to be inserted into it.
    name_buf: Vec<u8>,
    /// Scratch for a Huffman-coded field value.
    value_buf: Vec<u8>,
    /// Changes whenever the dynamic table may have (see [`Decoder::generation`]).
    generation: u64,
}

/// Where a decoded string lives; resolved to a slice only once all the
/// field's strings are read, because the scratch buffers are borrowed
/// mutably while decoding.
#[derive(Clone, Copy)]
enum Str {
    /// `block[start..end]`: a raw literal.
    Block(usize, usize),
    /// A static table string.
    Static(&'static [u8]),
    /// The whole of the corresponding scratch buffer.
    Scratch,
}

impl Decoder {
    /// New decoder. `max_table_size` is our `SETTINGS_HEADER_TABLE_SIZE`:
    /// the upper bound for size updates the peer may send. The dynamic table
    /// starts at this size.
    pub fn new(max_table_size: usize) -> Self {
        Decoder {
            table: DynamicTable::new(max_table_size),
            limit: max_table_size,
            name_buf: Vec::new(),
            value_buf: Vec::new(),
            generation: 0,
        }
    }

    /// A number that changes whenever the dynamic table may have changed: on every
    /// insertion and size change. Between two equal values, the same block decodes to the
    /// same fields; a reader may then reuse what it made of that block.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Changes the limit (e.g. after our SETTINGS are acknowledged). If the
    /// current table size exceeds it, the table shrinks (evicts) now.
    ///
    /// The peer is supposed to confirm a lower limit with a size update at
    /// the start of its next block; we do not insist on it, since evicting
    /// here already keeps our memory within the new limit.
    pub fn set_max_table_size(&mut self, size: usize) {
        self.limit = size;
        self.generation = self.generation.wrapping_add(1);
        if self.table.max_size() > size {
            self.table.set_max_size(size, &mut |_| {});
        }
    }

    /// Current dynamic table size in bytes (RFC 7541 section 4.1 accounting,
    /// 32 bytes of overhead per entry).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Decodes one complete header block, calling `on_field(name, value)`
    /// for each field in order. The slices are valid only during the call.
    ///
    /// Any number of size updates is accepted at the start of the block
    /// (each within the limit); one after a field is an error. Returns `Err`
    /// on any malformed input; fields before the error have already been
    /// reported, and the decoder's state is unspecified afterwards (the
    /// connection must be torn down with `COMPRESSION_ERROR`).
    pub fn decode<F: FnMut(&[u8], &[u8])>(
        &mut self,
        block: &[u8],
        mut on_field: F,
    ) -> Result<(), DecodeError> {
        let mut pos = 0;
        let mut seen_field = false;
        while let Some(&first) = block.get(pos) {
            if first & 0x80 != 0 {
                // 6.1 Indexed Header Field: 1xxxxxxx
                let index = integer::decode(block, &mut pos, 7)?;
                let (name, value) = self.lookup(index)?;
                on_field(name, value);
                seen_field = true;
            } else if first & 0x40 != 0 {
                // 6.2.1 Literal with Incremental Indexing: 01xxxxxx
                self.literal(block, &mut pos, 6, true, &mut on_field)?;
                seen_field = true;
            } else if first & 0x20 != 0 {
                // 6.3 Dynamic Table Size Update: 001xxxxx
                if seen_field {
                    return Err(DecodeError::SizeUpdateNotAtStart);
                }
                let size = integer::decode(block, &mut pos, 5)?;
                if size > self.limit {
                    return Err(DecodeError::SizeUpdateTooLarge {
                        requested: size,
                        max: self.limit,
                    });
                }
                self.generation = self.generation.wrapping_add(1);
                self.table.set_max_size(size, &mut |_| {});
            } else {
                // 6.2.2 without indexing (0000xxxx) and 6.2.3 never indexed
                // (0001xxxx) decode alike; we are an endpoint, not an
                // intermediary that would have to preserve the distinction.
                self.literal(block, &mut pos, 4, false, &mut on_field)?;
                seen_field = true;
            }
        }
        Ok(())
    }

    /// The field with HPACK index `index` (1-based, static then dynamic).
    fn lookup(&self, index: usize) -> Result<(&[u8], &[u8]), DecodeError> {
        if index <= STATIC_LEN {
            table::static_entry(index).ok_or(DecodeError::InvalidIndex(index))
        } else {
            self.table
                .get(index - STATIC_LEN - 1)
                .ok_or(DecodeError::InvalidIndex(index))
        }
    }

    /// Decodes a literal field representation whose name index has a
    /// `prefix_bits`-bit prefix, reports it and, if `index`, inserts it.
    fn literal<F: FnMut(&[u8], &[u8])>(
        &mut self,
        block: &[u8],
        pos: &mut usize,
        prefix_bits: u8,
        index: bool,
        on_field: &mut F,
    ) -> Result<(), DecodeError> {
        let name_index = integer::decode(block, pos, prefix_bits)?;
        let name = if name_index == 0 {
            read_string(block, pos, &mut self.name_buf)?
        } else if name_index <= STATIC_LEN {
            let (name, _) =
                table::static_entry(name_index).ok_or(DecodeError::InvalidIndex(name_index))?;
            Str::Static(name)
        } else {
            // Copy the name out of the dynamic table: inserting this field
            // may evict the very entry the name came from (RFC 7541 section
            // 4.4), and the borrow checker rightly refuses a slice of the
            // table across the insertion. Names are short; the buffer is
            // reused.
            let (name, _) = self
                .table
                .get(name_index - STATIC_LEN - 1)
                .ok_or(DecodeError::InvalidIndex(name_index))?;
            self.name_buf.clear();
            self.name_buf.extend_from_slice(name);
            Str::Scratch
        };
        let value = read_string(block, pos, &mut self.value_buf)?;

        let name = resolve(name, block, &self.name_buf)?;
        let value = resolve(value, block, &self.value_buf)?;
        on_field(name, value);
        if index {
            self.generation = self.generation.wrapping_add(1);
            self.table.insert(name, value, Tag::default(), &mut |_| {});
        }
        Ok(())
    }
}

/// Reads a string literal (RFC 7541 section 5.2) at `block[*pos]`. A raw
/// string stays in the block; a Huffman-coded one is decoded into
/// `scratch`, which is cleared first.
fn read_string(block: &[u8], pos: &mut usize, scratch: &mut Vec<u8>) -> Result<Str, DecodeError> {
    let huffman_coded = block.get(*pos).ok_or(DecodeError::Truncated)? & 0x80 != 0;
    let len = integer::decode(block, pos, 7)?;
    let start = *pos;
    // `len` is at most u32::MAX and `start` at most the block length, so
    // this cannot overflow; checked anyway to keep "no panic" obvious.
    let end = start.checked_add(len).ok_or(DecodeError::Truncated)?;
    let raw = block.get(start..end).ok_or(DecodeError::Truncated)?;
    *pos = end;
    if huffman_coded {
        scratch.clear();
        huffman::decode(raw, scratch)?;
        Ok(Str::Scratch)
    } else {
        Ok(Str::Block(start, end))
    }
}

/// Turns a [`Str`] into the bytes it designates.
fn resolve<'a>(s: Str, block: &'a [u8], scratch: &'a [u8]) -> Result<&'a [u8], DecodeError> {
    match s {
        // Bounds were checked by `read_string`; `get` keeps it panic-free.
        Str::Block(start, end) => block.get(start..end).ok_or(DecodeError::Truncated),
        Str::Static(s) => Ok(s),
        Str::Scratch => Ok(scratch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type HeaderList = Vec<(Vec<u8>, Vec<u8>)>;

    fn decode_all(dec: &mut Decoder, block: &[u8]) -> Result<HeaderList, DecodeError> {
        let mut out = Vec::new();
        dec.decode(block, |n, v| out.push((n.to_vec(), v.to_vec())))?;
        Ok(out)
    }

    #[test]
    fn indexed_static() {
        let mut dec = Decoder::new(4096);
        assert_eq!(
            decode_all(&mut dec, &[0x82, 0x86]),
            Ok(vec![
                (b":method".to_vec(), b"GET".to_vec()),
                (b":scheme".to_vec(), b"http".to_vec())
            ])
        );
    }

    #[test]
    fn literal_with_dynamic_name_that_gets_evicted() {
        // Table of 64 bytes: one entry "ab: cd" (36 bytes) fits; inserting
        // "ab: xy" with the name taken from that entry evicts it first.
        let mut dec = Decoder::new(64);
        let block1 = [0x40, 0x02, b'a', b'b', 0x02, b'c', b'd'];
        decode_all(&mut dec, &block1).unwrap();
        assert_eq!(dec.table_size(), 36);
        let block2 = [0x40 | 62, 0x02, b'x', b'y'];
        assert_eq!(
            decode_all(&mut dec, &block2),
            Ok(vec![(b"ab".to_vec(), b"xy".to_vec())])
        );
        assert_eq!(dec.table_size(), 36);
        assert_eq!(
            decode_all(&mut dec, &[0xbe]),
            Ok(vec![(b"ab".to_vec(), b"xy".to_vec())])
        );
    }

    #[test]
    fn lowering_the_limit_evicts() {
        let mut dec = Decoder::new(4096);
        decode_all(&mut dec, &[0x40, 0x01, b'a', 0x01, b'b']).unwrap();
        assert_eq!(dec.table_size(), 34);
        dec.set_max_table_size(10);
        assert_eq!(dec.table_size(), 0);
        assert_eq!(
            decode_all(&mut dec, &[0x3f, 0x00]),
            Err(DecodeError::SizeUpdateTooLarge {
                requested: 31,
                max: 10
            })
        );
    }

    #[test]
    fn truncated_size_update() {
        let mut dec = Decoder::new(4096);
        assert_eq!(decode_all(&mut dec, &[0x3f]), Err(DecodeError::Truncated));
    }
}
