//! The constant tables of RFC 1951: length and distance codes, their extra bits, the
//! order of the code-length alphabet, and the fixed (type 1) Huffman code.
//!
//! They are computed at compile time from the RFC's definitions. The one choice that is
//! not forced by the RFC is zlib's: match length 258 is sent as code 285 with no extra bits,
//! never as code 284 + 31, so [`LENGTH_CODE`] maps it there.

/// Shortest match deflate can express.
pub const MIN_MATCH: usize = 3;
/// Longest match deflate can express.
pub const MAX_MATCH: usize = 258;
/// Literal bytes 0..=255, end-of-block 256, length codes 257..=285.
pub const LITERAL_CODES: usize = 286;
/// Distance codes 0..=29.
pub const DISTANCE_CODES: usize = 30;
/// Code-length codes 0..=18.
pub const CODE_LENGTH_CODES: usize = 19;
/// The end-of-block symbol.
pub const END_OF_BLOCK: usize = 256;
/// Longest literal/length or distance code.
pub const MAX_CODE_BITS: usize = 15;
/// Longest code-length code.
pub const MAX_CODE_LENGTH_BITS: usize = 7;

/// Code-length alphabet: repeat the previous length 3–6 times (2 extra bits).
pub const REPEAT_PREVIOUS: usize = 16;
/// Code-length alphabet: 3–10 zeros (3 extra bits).
pub const REPEAT_ZERO_SHORT: usize = 17;
/// Code-length alphabet: 11–138 zeros (7 extra bits).
pub const REPEAT_ZERO_LONG: usize = 18;

/// Extra bits of each length code (code - 257).
pub const LENGTH_EXTRA_BITS: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];

/// Extra bits of each distance code.
pub const DISTANCE_EXTRA_BITS: [u8; DISTANCE_CODES] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// Extra bits of each code-length code.
pub const CODE_LENGTH_EXTRA_BITS: [u8; CODE_LENGTH_CODES] =
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7];

/// The order in which the code-length code lengths are sent (RFC 1951 §3.2.7).
pub const CODE_LENGTH_ORDER: [u8; CODE_LENGTH_CODES] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Length code (0..=28, add 257 for the symbol) of each match length - 3.
pub const LENGTH_CODE: [u8; 256] = length_codes();
/// First match length - 3 of each length code.
pub const LENGTH_BASE: [u16; 29] = length_bases();
/// First distance - 1 of each distance code.
pub const DISTANCE_BASE: [u16; DISTANCE_CODES] = distance_bases();
/// Distance code of distance - 1: entries 0..256 directly, entries 256..512 by the
/// distance's bits above 7 (`(d - 1) >> 7`).
pub const DISTANCE_CODE: [u8; 512] = distance_codes();

/// The distance code of `distance - 1`.
#[inline]
pub fn distance_code(distance_minus_one: usize) -> usize {
    debug_assert!(distance_minus_one < 32768);
    if distance_minus_one < 256 {
        DISTANCE_CODE[distance_minus_one] as usize
    } else {
        DISTANCE_CODE[256 + (distance_minus_one >> 7)] as usize
    }
}

const fn length_codes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut length = 0;
    let mut code = 0;
    while code < 28 {
        let mut n = 0;
        while n < (1 << LENGTH_EXTRA_BITS[code]) {
            table[length] = code as u8;
            length += 1;
            n += 1;
        }
        code += 1;
    }
    // Length 258 (index 255) fits code 284's range too; deflate encoders send code 285.
    table[255] = 28;
    table
}

const fn length_bases() -> [u16; 29] {
    let mut table = [0u16; 29];
    let mut length = 0u16;
    let mut code = 0;
    while code < 28 {
        table[code] = length;
        length += 1 << LENGTH_EXTRA_BITS[code];
        code += 1;
    }
    table[28] = 255;
    table
}

const fn distance_bases() -> [u16; DISTANCE_CODES] {
    let mut table = [0u16; DISTANCE_CODES];
    let mut distance = 0u32;
    let mut code = 0;
    while code < DISTANCE_CODES {
        table[code] = distance as u16;
        distance += 1 << DISTANCE_EXTRA_BITS[code];
        code += 1;
    }
    table
}

const fn distance_codes() -> [u8; 512] {
    let mut table = [0u8; 512];
    let mut code = 0;
    while code < DISTANCE_CODES {
        let base = DISTANCE_BASE[code] as usize;
        let span = 1usize << DISTANCE_EXTRA_BITS[code];
        let mut d = base;
        while d < base + span {
            if d < 256 {
                table[d] = code as u8;
            } else {
                table[256 + (d >> 7)] = code as u8;
            }
            d += 1;
        }
        code += 1;
    }
    table
}

/// Reverse the low `bits` bits of `code`: deflate sends Huffman codes most significant
/// bit first into an LSB-first stream.
pub const fn reverse_bits(code: u16, bits: u8) -> u16 {
    if bits == 0 {
        return 0;
    }
    code.reverse_bits() >> (16 - bits as u32)
}

/// Bit lengths of the fixed literal/length code, including the unused symbols 286 and
/// 287 (needed to make the code canonical).
pub const FIXED_LITERAL_LENGTHS: [u8; 288] = fixed_literal_lengths();
/// Codes (already bit-reversed) of the fixed literal/length code.
pub const FIXED_LITERAL_CODES: [u16; 288] = canonical_codes(&FIXED_LITERAL_LENGTHS);
/// Every fixed distance code is 5 bits long.
pub const FIXED_DISTANCE_BITS: u8 = 5;
/// Codes (bit-reversed) of the fixed distance code: the code number itself in 5 bits.
pub const FIXED_DISTANCE_CODES: [u16; 30] = canonical_codes(&[FIXED_DISTANCE_BITS; 30]);

const fn fixed_literal_lengths() -> [u8; 288] {
    let mut lengths = [0u8; 288];
    let mut n = 0;
    while n < 288 {
        lengths[n] = match n {
            0..=143 => 8,
            144..=255 => 9,
            256..=279 => 7,
            _ => 8,
        };
        n += 1;
    }
    lengths
}

/// The first code of each length in a canonical Huffman code (RFC 1951 §3.2.2 step
/// 2), from the number of codes of each length (`count[0]` must be 0).
pub const fn first_codes(count: &[u16; MAX_CODE_BITS + 1]) -> [u16; MAX_CODE_BITS + 1] {
    let mut next = [0u16; MAX_CODE_BITS + 1];
    let mut code = 0u16;
    let mut bits = 1;
    while bits <= MAX_CODE_BITS {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
        bits += 1;
    }
    next
}

/// Canonical Huffman codes, bit-reversed, for the given lengths.
pub const fn canonical_codes<const N: usize>(lengths: &[u8; N]) -> [u16; N] {
    let mut count = [0u16; MAX_CODE_BITS + 1];
    let mut n = 0;
    while n < N {
        count[lengths[n] as usize] += 1;
        n += 1;
    }
    count[0] = 0;
    let mut next = first_codes(&count);
    let mut codes = [0u16; N];
    n = 0;
    while n < N {
        let len = lengths[n];
        if len != 0 {
            codes[n] = reverse_bits(next[len as usize], len);
            next[len as usize] += 1;
        }
        n += 1;
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_codes_cover_rfc_ranges() {
        // RFC 1951 §3.2.5: code 265 covers lengths 11-12, code 284 227-257, 285 is 258.
        assert_eq!(usize::from(LENGTH_CODE[11 - 3]), 265 - 257);
        assert_eq!(usize::from(LENGTH_CODE[12 - 3]), 265 - 257);
        assert_eq!(usize::from(LENGTH_CODE[257 - 3]), 284 - 257);
        assert_eq!(usize::from(LENGTH_CODE[258 - 3]), 285 - 257);
        assert_eq!(LENGTH_BASE[284 - 257] as usize, 227 - 3);
    }

    #[test]
    fn distance_codes_cover_rfc_ranges() {
        // Code 4 covers 5-6, code 29 covers 24577-32768.
        assert_eq!(distance_code(5 - 1), 4);
        assert_eq!(distance_code(6 - 1), 4);
        assert_eq!(distance_code(24577 - 1), 29);
        assert_eq!(distance_code(32768 - 1), 29);
        assert_eq!(distance_code(256), 16); // distance 257: code 16 covers 257-384
        assert_eq!(DISTANCE_BASE[29] as usize, 24577 - 1);
    }

    #[test]
    fn fixed_code_matches_rfc() {
        // RFC 1951 §3.2.6: literal 0 is 00110000, 144 is 110010000, 256 is 0000000.
        assert_eq!(FIXED_LITERAL_CODES[0], reverse_bits(0b0011_0000, 8));
        assert_eq!(FIXED_LITERAL_CODES[144], reverse_bits(0b1_1001_0000, 9));
        assert_eq!(FIXED_LITERAL_CODES[256], 0);
        assert_eq!(FIXED_LITERAL_CODES[280], reverse_bits(0b1100_0000, 8));
    }
}
