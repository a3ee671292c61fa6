//! The HPACK Huffman code (RFC 7541 section 5.2 and Appendix B).
//!
//! Encoding is a straight table lookup per byte into a 64-bit bit
//! accumulator. Decoding is a table-driven state machine that consumes four
//! bits (a nibble) per step: the states are the 256 internal nodes of the
//! code tree, and each of the 16 transitions of a state says where the walk
//! ends up, whether it completed a symbol (at most one: the shortest code
//! has 5 bits) and whether the bits consumed since the last symbol are a
//! valid end-of-string padding. The table is computed at compile time from
//! the same code table the encoder uses, so there is no start-up cost, no
//! lock and no chance of the decoder disagreeing with the encoder.

use super::DecodeError;

/// `(code, bit length)` for each symbol: bytes 0..=255, then EOS (256),
/// transcribed from RFC 7541 Appendix B. Codes are right-aligned.
pub(crate) const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13),     // 0
    (0x7fffd8, 23),   // 1
    (0xfffffe2, 28),  // 2
    (0xfffffe3, 28),  // 3
    (0xfffffe4, 28),  // 4
    (0xfffffe5, 28),  // 5
    (0xfffffe6, 28),  // 6
    (0xfffffe7, 28),  // 7
    (0xfffffe8, 28),  // 8
    (0xffffea, 24),   // 9
    (0x3ffffffc, 30), // 10
    (0xfffffe9, 28),  // 11
    (0xfffffea, 28),  // 12
    (0x3ffffffd, 30), // 13
    (0xfffffeb, 28),  // 14
    (0xfffffec, 28),  // 15
    (0xfffffed, 28),  // 16
    (0xfffffee, 28),  // 17
    (0xfffffef, 28),  // 18
    (0xffffff0, 28),  // 19
    (0xffffff1, 28),  // 20
    (0xffffff2, 28),  // 21
    (0x3ffffffe, 30), // 22
    (0xffffff3, 28),  // 23
    (0xffffff4, 28),  // 24
    (0xffffff5, 28),  // 25
    (0xffffff6, 28),  // 26
    (0xffffff7, 28),  // 27
    (0xffffff8, 28),  // 28
    (0xffffff9, 28),  // 29
    (0xffffffa, 28),  // 30
    (0xffffffb, 28),  // 31
    (0x14, 6),        // 32 ' '
    (0x3f8, 10),      // 33 '!'
    (0x3f9, 10),      // 34 '"'
    (0xffa, 12),      // 35 '#'
    (0x1ff9, 13),     // 36 '$'
    (0x15, 6),        // 37 '%'
    (0xf8, 8),        // 38 '&'
    (0x7fa, 11),      // 39 '''
    (0x3fa, 10),      // 40 '('
    (0x3fb, 10),      // 41 ')'
    (0xf9, 8),        // 42 '*'
    (0x7fb, 11),      // 43 '+'
    (0xfa, 8),        // 44 ','
    (0x16, 6),        // 45 '-'
    (0x17, 6),        // 46 '.'
    (0x18, 6),        // 47 '/'
    (0x0, 5),         // 48 '0'
    (0x1, 5),         // 49 '1'
    (0x2, 5),         // 50 '2'
    (0x19, 6),        // 51 '3'
    (0x1a, 6),        // 52 '4'
    (0x1b, 6),        // 53 '5'
    (0x1c, 6),        // 54 '6'
    (0x1d, 6),        // 55 '7'
    (0x1e, 6),        // 56 '8'
    (0x1f, 6),        // 57 '9'
    (0x5c, 7),        // 58 ':'
    (0xfb, 8),        // 59 ';'
    (0x7ffc, 15),     // 60 '<'
    (0x20, 6),        // 61 '='
    (0xffb, 12),      // 62 '>'
    (0x3fc, 10),      // 63 '?'
    (0x1ffa, 13),     // 64 '@'
    (0x21, 6),        // 65 'A'
    (0x5d, 7),        // 66 'B'
    (0x5e, 7),        // 67 'C'
    (0x5f, 7),        // 68 'D'
    (0x60, 7),        // 69 'E'
    (0x61, 7),        // 70 'F'
    (0x62, 7),        // 71 'G'
    (0x63, 7),        // 72 'H'
    (0x64, 7),        // 73 'I'
    (0x65, 7),        // 74 'J'
    (0x66, 7),        // 75 'K'
    (0x67, 7),        // 76 'L'
    (0x68, 7),        // 77 'M'
    (0x69, 7),        // 78 'N'
    (0x6a, 7),        // 79 'O'
    (0x6b, 7),        // 80 'P'
    (0x6c, 7),        // 81 'Q'
    (0x6d, 7),        // 82 'R'
    (0x6e, 7),        // 83 'S'
    (0x6f, 7),        // 84 'T'
    (0x70, 7),        // 85 'U'
    (0x71, 7),        // 86 'V'
    (0x72, 7),        // 87 'W'
    (0xfc, 8),        // 88 'X'
    (0x73, 7),        // 89 'Y'
    (0xfd, 8),        // 90 'Z'
    (0x1ffb, 13),     // 91 '['
    (0x7fff0, 19),    // 92 '\'
    (0x1ffc, 13),     // 93 ']'
    (0x3ffc, 14),     // 94 '^'
    (0x22, 6),        // 95 '_'
    (0x7ffd, 15),     // 96 '`'
    (0x3, 5),         // 97 'a'
    (0x23, 6),        // 98 'b'
    (0x4, 5),         // 99 'c'
    (0x24, 6),        // 100 'd'
    (0x5, 5),         // 101 'e'
    (0x25, 6),        // 102 'f'
    (0x26, 6),        // 103 'g'
    (0x27, 6),        // 104 'h'
    (0x6, 5),         // 105 'i'
    (0x74, 7),        // 106 'j'
    (0x75, 7),        // 107 'k'
    (0x28, 6),        // 108 'l'
    (0x29, 6),        // 109 'm'
    (0x2a, 6),        // 110 'n'
    (0x7, 5),         // 111 'o'
    (0x2b, 6),        // 112 'p'
    (0x76, 7),        // 113 'q'
    (0x2c, 6),        // 114 'r'
    (0x8, 5),         // 115 's'
    (0x9, 5),         // 116 't'
    (0x2d, 6),        // 117 'u'
    (0x77, 7),        // 118 'v'
    (0x78, 7),        // 119 'w'
    (0x79, 7),        // 120 'x'
    (0x7a, 7),        // 121 'y'
    (0x7b, 7),        // 122 'z'
    (0x7ffe, 15),     // 123 '{'
    (0x7fc, 11),      // 124 '|'
    (0x3ffd, 14),     // 125 '}'
    (0x1ffd, 13),     // 126 '~'
    (0xffffffc, 28),  // 127
    (0xfffe6, 20),    // 128
    (0x3fffd2, 22),   // 129
    (0xfffe7, 20),    // 130
    (0xfffe8, 20),    // 131
    (0x3fffd3, 22),   // 132
    (0x3fffd4, 22),   // 133
    (0x3fffd5, 22),   // 134
    (0x7fffd9, 23),   // 135
    (0x3fffd6, 22),   // 136
    (0x7fffda, 23),   // 137
    (0x7fffdb, 23),   // 138
    (0x7fffdc, 23),   // 139
    (0x7fffdd, 23),   // 140
    (0x7fffde, 23),   // 141
    (0xffffeb, 24),   // 142
    (0x7fffdf, 23),   // 143
    (0xffffec, 24),   // 144
    (0xffffed, 24),   // 145
    (0x3fffd7, 22),   // 146
    (0x7fffe0, 23),   // 147
    (0xffffee, 24),   // 148
    (0x7fffe1, 23),   // 149
    (0x7fffe2, 23),   // 150
    (0x7fffe3, 23),   // 151
    (0x7fffe4, 23),   // 152
    (0x1fffdc, 21),   // 153
    (0x3fffd8, 22),   // 154
    (0x7fffe5, 23),   // 155
    (0x3fffd9, 22),   // 156
    (0x7fffe6, 23),   // 157
    (0x7fffe7, 23),   // 158
    (0xffffef, 24),   // 159
    (0x3fffda, 22),   // 160
    (0x1fffdd, 21),   // 161
    (0xfffe9, 20),    // 162
    (0x3fffdb, 22),   // 163
    (0x3fffdc, 22),   // 164
    (0x7fffe8, 23),   // 165
    (0x7fffe9, 23),   // 166
    (0x1fffde, 21),   // 167
    (0x7fffea, 23),   // 168
    (0x3fffdd, 22),   // 169
    (0x3fffde, 22),   // 170
    (0xfffff0, 24),   // 171
    (0x1fffdf, 21),   // 172
    (0x3fffdf, 22),   // 173
    (0x7fffeb, 23),   // 174
    (0x7fffec, 23),   // 175
    (0x1fffe0, 21),   // 176
    (0x1fffe1, 21),   // 177
    (0x3fffe0, 22),   // 178
    (0x1fffe2, 21),   // 179
    (0x7fffed, 23),   // 180
    (0x3fffe1, 22),   // 181
    (0x7fffee, 23),   // 182
    (0x7fffef, 23),   // 183
    (0xfffea, 20),    // 184
    (0x3fffe2, 22),   // 185
    (0x3fffe3, 22),   // 186
    (0x3fffe4, 22),   // 187
    (0x7ffff0, 23),   // 188
    (0x3fffe5, 22),   // 189
    (0x3fffe6, 22),   // 190
    (0x7ffff1, 23),   // 191
    (0x3ffffe0, 26),  // 192
    (0x3ffffe1, 26),  // 193
    (0xfffeb, 20),    // 194
    (0x7fff1, 19),    // 195
    (0x3fffe7, 22),   // 196
    (0x7ffff2, 23),   // 197
    (0x3fffe8, 22),   // 198
    (0x1ffffec, 25),  // 199
    (0x3ffffe2, 26),  // 200
    (0x3ffffe3, 26),  // 201
    (0x3ffffe4, 26),  // 202
    (0x7ffffde, 27),  // 203
    (0x7ffffdf, 27),  // 204
    (0x3ffffe5, 26),  // 205
    (0xfffff1, 24),   // 206
    (0x1ffffed, 25),  // 207
    (0x7fff2, 19),    // 208
    (0x1fffe3, 21),   // 209
    (0x3ffffe6, 26),  // 210
    (0x7ffffe0, 27),  // 211
    (0x7ffffe1, 27),  // 212
    (0x3ffffe7, 26),  // 213
    (0x7ffffe2, 27),  // 214
    (0xfffff2, 24),   // 215
    (0x1fffe4, 21),   // 216
    (0x1fffe5, 21),   // 217
    (0x3ffffe8, 26),  // 218
    (0x3ffffe9, 26),  // 219
    (0xffffffd, 28),  // 220
    (0x7ffffe3, 27),  // 221
    (0x7ffffe4, 27),  // 222
    (0x7ffffe5, 27),  // 223
    (0xfffec, 20),    // 224
    (0xfffff3, 24),   // 225
    (0xfffed, 20),    // 226
    (0x1fffe6, 21),   // 227
    (0x3fffe9, 22),   // 228
    (0x1fffe7, 21),   // 229
    (0x1fffe8, 21),   // 230
    (0x7ffff3, 23),   // 231
    (0x3fffea, 22),   // 232
    (0x3fffeb, 22),   // 233
    (0x1ffffee, 25),  // 234
    (0x1ffffef, 25),  // 235
    (0xfffff4, 24),   // 236
    (0xfffff5, 24),   // 237
    (0x3ffffea, 26),  // 238
    (0x7ffff4, 23),   // 239
    (0x3ffffeb, 26),  // 240
    (0x7ffffe6, 27),  // 241
    (0x3ffffec, 26),  // 242
    (0x3ffffed, 26),  // 243
    (0x7ffffe7, 27),  // 244
    (0x7ffffe8, 27),  // 245
    (0x7ffffe9, 27),  // 246
    (0x7ffffea, 27),  // 247
    (0x7ffffeb, 27),  // 248
    (0xffffffe, 28),  // 249
    (0x7ffffec, 27),  // 250
    (0x7ffffed, 27),  // 251
    (0x7ffffee, 27),  // 252
    (0x7ffffef, 27),  // 253
    (0x7fffff0, 27),  // 254
    (0x3ffffee, 26),  // 255
    (0x3fffffff, 30), // 256 EOS
];

/// Number of bytes [`encode`] will append for `src`: the code lengths
/// summed, rounded up to whole bytes (the last one is padded with ones).
pub fn encoded_len(src: &[u8]) -> usize {
    // u64 so that even an absurdly long input (30 bits per byte) cannot
    // overflow on a 32-bit target; the result is at most 30/8 of a length
    // that fit in memory.
    let bits: u64 = src
        .iter()
        .map(|&b| u64::from(CODES[usize::from(b)].1))
        .sum();
    usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX)
}

/// Appends the Huffman coding of `src` to `dst`, padding the last byte with
/// the most significant bits of EOS (all ones) as RFC 7541 section 5.2
/// requires.
pub fn encode(src: &[u8], dst: &mut Vec<u8>) {
    dst.reserve(encoded_len(src));
    // Bits are shifted in at the bottom; `pending` counts the valid ones.
    // Before each symbol fewer than 32 are pending and a code has at most 30
    // bits, so the 64-bit accumulator never loses a valid bit.
    let mut acc: u64 = 0;
    let mut pending: u32 = 0;
    for &byte in src {
        let (code, len) = CODES[usize::from(byte)];
        acc = (acc << len) | u64::from(code);
        pending += u32::from(len);
        if pending >= 32 {
            pending -= 32;
            // Truncation intended: the 32 oldest pending bits.
            dst.extend_from_slice(&((acc >> pending) as u32).to_be_bytes());
        }
    }
    while pending >= 8 {
        pending -= 8;
        dst.push((acc >> pending) as u8);
    }
    if pending > 0 {
        // Left-align the remaining bits and fill the rest with ones.
        let pad = 8 - pending;
        dst.push(((acc << pad) as u8) | (0xff >> pending));
    }
}

/// Appends the decoding of the Huffman-coded `src` to `dst` (without
/// clearing it first).
///
/// Fails with [`DecodeError::InvalidHuffman`] if the string contains EOS, or
/// ends with more than 7 bits of padding or padding that is not all ones.
/// On error `dst` is left as it was.
pub fn decode(src: &[u8], dst: &mut Vec<u8>) -> Result<(), DecodeError> {
    let start = dst.len();
    // Every symbol takes at least 5 bits, so a valid string decodes to at
    // most len * 8 / 5 bytes; one more slot lets the loop store a byte on
    // every step and only advance the length when a symbol was completed,
    // which avoids a hard-to-predict branch per nibble.
    let max_out = src.len() / 5 * 8 + (src.len() % 5) * 8 / 5 + 1;
    dst.resize(start + max_out, 0);
    let Some(out) = dst.get_mut(start..) else {
        return Err(DecodeError::InvalidHuffman);
    };
    let mut n = 0;
    let mut state = 0;
    // An empty string is valid: no bits, no padding.
    let mut last = ACCEPT;
    for &byte in src {
        for nibble in [byte >> 4, byte & 0x0f] {
            let t = DECODE_TABLE[state][usize::from(nibble)];
            if t & FAIL != 0 {
                dst.truncate(start);
                return Err(DecodeError::InvalidHuffman);
            }
            // Always in bounds (see `max_out`); `get_mut` keeps it
            // panic-free rather than trusting that reasoning.
            if let Some(slot) = out.get_mut(n) {
                *slot = (t >> SYMBOL_SHIFT) as u8;
            }
            n += ((t >> EMIT_SHIFT) & 1) as usize;
            state = (t & 0xff) as usize;
            last = t;
        }
    }
    if last & ACCEPT == 0 {
        dst.truncate(start);
        return Err(DecodeError::InvalidHuffman);
    }
    dst.truncate(start + n);
    Ok(())
}

// A transition of the nibble state machine is packed into a u32 so that a
// table row is 64 bytes (one cache line) and the whole table 16 KiB:
// bits 0..8 the next state (code tree node, 0 = root), bits 8..16 the
// decoded byte, then the flags.
const SYMBOL_SHIFT: u32 = 8;
const EMIT_SHIFT: u32 = 16;
/// The nibble completed a symbol (stored in bits 8..16).
const EMIT: u32 = 1 << EMIT_SHIFT;
/// The bits since the last symbol are at most 7 ones, so the string may
/// legally end after this nibble.
const ACCEPT: u32 = 1 << 17;
/// The nibble completed EOS, which must never appear in a string.
const FAIL: u32 = 1 << 18;

/// `DECODE_TABLE[state][nibble]`, built at compile time from [`CODES`].
static DECODE_TABLE: [[u32; 16]; 256] = build_decode_table();

/// Marks a child slot as a leaf; the low bits hold the symbol (0..=256).
const LEAF: u16 = 0x8000;
/// A child slot not yet filled while building the tree.
const EMPTY: u16 = 0xffff;

/// Builds the code tree from [`CODES`] and derives the nibble transitions.
///
/// Runs during compilation: every `assert!` here is a compile-time check
/// that the transcribed code is prefix-free and complete (a full binary tree
/// with exactly 256 internal nodes, so that a `u8` names every state).
const fn build_decode_table() -> [[u32; 16]; 256] {
    // children[node][bit]: an internal node index, `LEAF | symbol`, or EMPTY.
    let mut children = [[EMPTY; 2]; 256];
    let mut nodes = 1; // node 0 is the root
    let mut sym = 0;
    while sym < 257 {
        let (code, len) = CODES[sym];
        assert!(len >= 5 && len <= 30);
        let mut node = 0;
        let mut i = len;
        while i > 0 {
            i -= 1;
            let bit = ((code >> i) & 1) as usize;
            let slot = children[node][bit];
            if i == 0 {
                assert!(slot == EMPTY, "Huffman code is not prefix-free");
                children[node][bit] = LEAF | sym as u16;
            } else if slot == EMPTY {
                assert!(nodes < 256, "Huffman code tree too large");
                children[node][bit] = nodes as u16;
                node = nodes;
                nodes += 1;
            } else {
                assert!(slot & LEAF == 0, "Huffman code is not prefix-free");
                node = slot as usize;
            }
        }
        sym += 1;
    }
    assert!(nodes == 256, "Huffman code is not complete");

    // Padding is the prefix of EOS, i.e. a run of ones from the root. A node
    // reached from the root by at most 7 one-bits is a valid place to stop.
    let mut accepting = [false; 256];
    accepting[0] = true;
    let mut node = 0;
    let mut depth = 0;
    while depth < 7 {
        let next = children[node][1];
        assert!(next & LEAF == 0);
        node = next as usize;
        accepting[node] = true;
        depth += 1;
    }

    let mut table = [[0u32; 16]; 256];
    let mut state = 0;
    while state < 256 {
        let mut nibble = 0;
        while nibble < 16 {
            let mut node = state;
            let mut flags = 0;
            let mut symbol = 0;
            let mut i = 4;
            while i > 0 {
                i -= 1;
                let slot = children[node][(nibble >> i) & 1];
                assert!(slot != EMPTY, "Huffman code is not complete");
                if slot & LEAF != 0 {
                    let s = slot & !LEAF;
                    if s == 256 {
                        flags |= FAIL;
                        break;
                    }
                    // Codes are at least 5 bits long, so a nibble can end
                    // at most one of them.
                    assert!(flags & EMIT == 0);
                    flags |= EMIT;
                    symbol = s as u32;
                    node = 0;
                } else {
                    node = slot as usize;
                }
            }
            if flags & FAIL == 0 && accepting[node] {
                flags |= ACCEPT;
            }
            table[state][nibble] = node as u32 | symbol << SYMBOL_SHIFT | flags;
            nibble += 1;
        }
        state += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        s.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    fn enc(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(s, &mut out);
        assert_eq!(out.len(), encoded_len(s));
        out
    }

    fn dec(s: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::new();
        decode(s, &mut out).map(|()| out)
    }

    /// Strings and their Huffman coding from RFC 7541 Appendix C.4 and C.6.
    const RFC_EXAMPLES: &[(&str, &str)] = &[
        ("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
        ("no-cache", "a8eb 1064 9cbf"),
        ("custom-key", "25a8 49e9 5ba9 7d7f"),
        ("custom-value", "25a8 49e9 5bb8 e8b4 bf"),
        ("302", "6402"),
        ("private", "aec3 771a 4b"),
        (
            "Mon, 21 Oct 2013 20:13:21 GMT",
            "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff",
        ),
        (
            "https://www.example.com",
            "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3",
        ),
        ("307", "640e ff"),
        (
            "Mon, 21 Oct 2013 20:13:22 GMT",
            "d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff",
        ),
        ("gzip", "9bd9 ab"),
        (
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ),
    ];

    #[test]
    fn rfc_examples_encode_and_decode() {
        for &(plain, coded) in RFC_EXAMPLES {
            let coded = hex(coded);
            assert_eq!(enc(plain.as_bytes()), coded, "encoding {plain:?}");
            assert_eq!(
                dec(&coded).as_deref(),
                Ok(plain.as_bytes()),
                "decoding {plain:?}"
            );
        }
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255u8).collect();
        assert_eq!(dec(&enc(&all)), Ok(all.clone()));
        for b in 0..=255u8 {
            for n in 1..=9 {
                let s = vec![b; n];
                assert_eq!(dec(&enc(&s)), Ok(s), "byte {b} x{n}");
            }
        }
        assert_eq!(enc(b""), b"");
        assert_eq!(dec(b""), Ok(Vec::new()));
    }

    #[test]
    fn code_is_canonical() {
        // Assigning codes in (length, symbol) order must reproduce the
        // table: this catches a transcription error that still happens to be
        // prefix-free and complete (e.g. two swapped codes).
        let mut order: Vec<usize> = (0..257).collect();
        order.sort_by_key(|&s| (CODES[s].1, s));
        let mut code: u32 = 0;
        let mut prev_len = CODES[order[0]].1;
        for (i, &s) in order.iter().enumerate() {
            let len = CODES[s].1;
            if i > 0 {
                code = (code + 1) << (len - prev_len);
            }
            prev_len = len;
            assert_eq!(CODES[s].0, code, "symbol {s}");
        }
    }

    #[test]
    fn rejects_long_padding() {
        // 'a' is 00011; a whole byte of ones after it is 8+ bits of padding.
        assert_eq!(dec(&[0x1f, 0xff]), Err(DecodeError::InvalidHuffman));
        assert_eq!(dec(&[0xff]), Err(DecodeError::InvalidHuffman));
        // Exactly 7 bits of padding is fine: '0' (00000) then 111.
        assert_eq!(dec(&[0x07]), Ok(b"0".to_vec()));
    }

    #[test]
    fn rejects_padding_with_zero_bits() {
        // 'a' (00011) then 101 instead of 111.
        assert_eq!(dec(&[0x1d]), Err(DecodeError::InvalidHuffman));
        // '0' then '0' then 00: not a complete code and not ones.
        assert_eq!(dec(&[0x00, 0x00]), Err(DecodeError::InvalidHuffman));
    }

    #[test]
    fn rejects_eos() {
        // EOS (30 ones) followed by two bits of padding.
        assert_eq!(
            dec(&[0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::InvalidHuffman)
        );
        // 'a' then EOS then padding: 5 + 30 + 5 bits.
        let mut bits: u64 = 0b00011;
        bits = (bits << 30) | 0x3fff_ffff;
        bits = (bits << 5) | 0b11111;
        let bytes = bits.to_be_bytes()[3..].to_vec();
        assert_eq!(dec(&bytes), Err(DecodeError::InvalidHuffman));
    }

    #[test]
    fn encoded_len_matches() {
        assert_eq!(encoded_len(b"www.example.com"), 12);
        assert_eq!(encoded_len(b""), 0);
        assert_eq!(encoded_len(&[0]), 2);
        assert_eq!(encoded_len(&[10]), 4);
    }
}
