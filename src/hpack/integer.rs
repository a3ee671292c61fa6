//! Integer representation with an N-bit prefix (RFC 7541 section 5.1).
//!
//! Values below `2^N - 1` fit in the prefix; larger ones fill the prefix with
//! ones and continue in 7-bit groups, least significant first, with the high
//! bit of each continuation byte meaning "more follows".

use super::DecodeError;

/// Most continuation bytes a decoded integer may use. Five 7-bit groups hold
/// 35 bits, enough for any `u32` even with a full prefix, so a sixth can only
/// be an attack (or a bug) and is rejected before it can overflow anything.
const MAX_CONTINUATION_BYTES: usize = 5;

/// Largest value we accept. Every HPACK integer is an index, a string length
/// or a table size; none is legitimately above 4 GiB, and capping at `u32`
/// keeps the result representable in `usize` on 32-bit targets too.
const MAX_VALUE: u64 = u32::MAX as u64;

/// Appends `value` with a `prefix_bits`-bit prefix to `dst`. `flags` holds
/// the representation's pattern bits above the prefix (e.g. `0x80` for an
/// indexed field) and must not overlap the prefix.
pub(crate) fn encode(value: usize, prefix_bits: u8, flags: u8, dst: &mut Vec<u8>) {
    debug_assert!((1..=8).contains(&prefix_bits));
    // Computed in u16 so that an 8-bit prefix does not overflow the shift.
    let max_prefix = ((1u16 << prefix_bits) - 1) as u8;
    debug_assert_eq!(flags & max_prefix, 0, "flags overlap the prefix");
    if value < usize::from(max_prefix) {
        // Lossless: value < max_prefix <= 255.
        dst.push(flags | value as u8);
        return;
    }
    dst.push(flags | max_prefix);
    let mut rest = value - usize::from(max_prefix);
    while rest >= 0x80 {
        // Truncation intended: the low 7 bits, with the "more" flag.
        dst.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    // Lossless: rest < 0x80 here.
    dst.push(rest as u8);
}

/// Decodes an integer with a `prefix_bits`-bit prefix starting at
/// `src[*pos]`, ignoring the pattern bits above the prefix, and advances
/// `*pos` past it.
///
/// Fails with [`DecodeError::Truncated`] if the input ends first and with
/// [`DecodeError::IntegerOverflow`] if the value exceeds `u32::MAX` or uses
/// more than [`MAX_CONTINUATION_BYTES`] continuation bytes.
pub(crate) fn decode(src: &[u8], pos: &mut usize, prefix_bits: u8) -> Result<usize, DecodeError> {
    debug_assert!((1..=8).contains(&prefix_bits));
    let max_prefix = (1u16 << prefix_bits) - 1;
    let first = *src.get(*pos).ok_or(DecodeError::Truncated)?;
    *pos += 1;
    let prefix = u16::from(first) & max_prefix;
    if prefix < max_prefix {
        return Ok(usize::from(prefix));
    }
    // Accumulate in u64: after at most five groups the sum is below 2^36, so
    // neither the shift nor the addition can overflow before we check.
    let mut value = u64::from(prefix);
    let mut shift = 0u32;
    for _ in 0..MAX_CONTINUATION_BYTES {
        let byte = *src.get(*pos).ok_or(DecodeError::Truncated)?;
        *pos += 1;
        value += u64::from(byte & 0x7f) << shift;
        if value > MAX_VALUE {
            return Err(DecodeError::IntegerOverflow);
        }
        if byte & 0x80 == 0 {
            return usize::try_from(value).map_err(|_| DecodeError::IntegerOverflow);
        }
        shift += 7;
    }
    Err(DecodeError::IntegerOverflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(value: usize, prefix_bits: u8) -> Vec<u8> {
        let mut out = Vec::new();
        encode(value, prefix_bits, 0, &mut out);
        out
    }

    fn dec(src: &[u8], prefix_bits: u8) -> Result<(usize, usize), DecodeError> {
        let mut pos = 0;
        decode(src, &mut pos, prefix_bits).map(|v| (v, pos))
    }

    #[test]
    fn rfc_c_1_1_ten_with_5_bit_prefix() {
        assert_eq!(enc(10, 5), [0x0a]);
        // The three high bits belong to the representation and are ignored.
        assert_eq!(dec(&[0xea], 5), Ok((10, 1)));
    }

    #[test]
    fn rfc_c_1_2_1337_with_5_bit_prefix() {
        assert_eq!(enc(1337, 5), [0x1f, 0x9a, 0x0a]);
        assert_eq!(dec(&[0x1f, 0x9a, 0x0a], 5), Ok((1337, 3)));
    }

    #[test]
    fn rfc_c_1_3_42_at_octet_boundary() {
        assert_eq!(enc(42, 8), [0x2a]);
        assert_eq!(dec(&[0x2a], 8), Ok((42, 1)));
    }

    #[test]
    fn flags_are_kept_above_the_prefix() {
        let mut out = Vec::new();
        encode(62, 7, 0x80, &mut out);
        assert_eq!(out, [0xbe]);
        out.clear();
        encode(127, 7, 0x80, &mut out);
        assert_eq!(out, [0xff, 0x00]);
    }

    #[test]
    fn round_trips_at_boundaries() {
        for prefix_bits in 1..=8u8 {
            let max_prefix = (1usize << prefix_bits) - 1;
            for value in [
                0,
                1,
                max_prefix.saturating_sub(1),
                max_prefix,
                max_prefix + 1,
                max_prefix + 127,
                max_prefix + 128,
                16_383,
                16_384,
                1 << 21,
                (1 << 28) - 1,
                u32::MAX as usize,
            ] {
                let bytes = enc(value, prefix_bits);
                assert_eq!(
                    dec(&bytes, prefix_bits),
                    Ok((value, bytes.len())),
                    "value {value} prefix {prefix_bits}"
                );
            }
        }
    }

    #[test]
    fn rejects_values_above_u32() {
        let bytes = enc(u32::MAX as usize + 1, 5);
        assert_eq!(dec(&bytes, 5), Err(DecodeError::IntegerOverflow));
        assert_eq!(
            dec(&[0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f], 5),
            Err(DecodeError::IntegerOverflow)
        );
    }

    #[test]
    fn rejects_too_many_continuation_bytes() {
        // Redundant zero groups still encode 31, but a sixth byte is refused.
        assert_eq!(dec(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x00], 5), Ok((31, 6)));
        assert_eq!(
            dec(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 5),
            Err(DecodeError::IntegerOverflow)
        );
    }

    #[test]
    fn rejects_truncation() {
        assert_eq!(dec(&[], 5), Err(DecodeError::Truncated));
        assert_eq!(dec(&[0x1f], 5), Err(DecodeError::Truncated));
        assert_eq!(dec(&[0x1f, 0x9a], 5), Err(DecodeError::Truncated));
    }
}
