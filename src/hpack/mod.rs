//! HPACK header compression (RFC 7541) for HTTP/2.
//!
//! This is our own codec rather than the `hpack` crate because that crate
//! panics on malformed input (a remote peer could crash us) and its Huffman
//! decoder walks per-string hash maps, which is far too slow for a client
//! that decodes a response header block per request.
//!
//! * [`Encoder`] turns header fields into a header block fragment, with a
//!   fixed indexing policy (see its docs) and Huffman coding when shorter.
//! * [`Decoder`] turns a complete header block back into fields without
//!   allocating per field: strings are handed out as borrowed slices of the
//!   input, of the dynamic table or of a reused scratch buffer.
//! * [`LastBlock`] lets a writer send the previous block again for a request with the
//!   same fields, when encoding them would give the same bytes.
//! * [`huffman`] is the canonical HPACK Huffman code (RFC 7541 Appendix B).
//!
//! Every [`DecodeError`] is a connection error of type `COMPRESSION_ERROR`
//! at the HTTP/2 layer (RFC 7540 section 4.3): after one, the decoder's
//! dynamic table can no longer be trusted to match the peer's.

pub mod huffman;

mod decoder;
mod encoder;
mod integer;
mod reuse;
mod table;

pub use decoder::Decoder;
pub use encoder::Encoder;
pub use reuse::LastBlock;

use std::fmt;

/// Why a header block could not be decoded.
///
/// All variants map to an HTTP/2 `COMPRESSION_ERROR`; they are distinct only
/// so that logs and tests can say what exactly was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// An integer (RFC 7541 section 5.1) does not fit in 32 bits or uses more
    /// continuation bytes than any 32-bit value needs.
    IntegerOverflow,
    /// The block ended in the middle of a representation (an integer, a
    /// string length, or a string shorter than its announced length).
    Truncated,
    /// An index of 0, or one past the end of the static plus dynamic table.
    InvalidIndex(usize),
    /// A Huffman-coded string had more than 7 bits of padding, padding that
    /// was not all ones, or contained the EOS symbol (RFC 7541 section 5.2).
    InvalidHuffman,
    /// A dynamic table size update asked for more than our
    /// `SETTINGS_HEADER_TABLE_SIZE` allows (RFC 7541 section 6.3).
    SizeUpdateTooLarge {
        /// The size the peer asked for.
        requested: usize,
        /// The largest size we allow.
        max: usize,
    },
    /// A dynamic table size update came after a header field; RFC 7541
    /// section 4.2 only allows them at the start of a block.
    SizeUpdateNotAtStart,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::IntegerOverflow => f.write_str("HPACK: integer overflow"),
            DecodeError::Truncated => f.write_str("HPACK: truncated header block"),
            DecodeError::InvalidIndex(index) => {
                write!(f, "HPACK: index {index} out of range")
            }
            DecodeError::InvalidHuffman => f.write_str("HPACK: invalid Huffman-coded string"),
            DecodeError::SizeUpdateTooLarge { requested, max } => write!(
                f,
                "HPACK: dynamic table size update to {requested} exceeds the limit of {max}"
            ),
            DecodeError::SizeUpdateNotAtStart => {
                f.write_str("HPACK: dynamic table size update after a header field")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use super::DecodeError;

    #[test]
    fn display_messages() {
        assert_eq!(
            DecodeError::InvalidIndex(70).to_string(),
            "HPACK: index 70 out of range"
        );
        assert_eq!(
            DecodeError::SizeUpdateTooLarge {
                requested: 5000,
                max: 4096
            }
            .to_string(),
            "HPACK: dynamic table size update to 5000 exceeds the limit of 4096"
        );
        assert_eq!(
            DecodeError::Truncated.to_string(),
            "HPACK: truncated header block"
        );
    }
}
