//! The match finder of zlib's level 1 (`deflate_fast`), for one input that fits in a
//! single block, reproduced decision for decision.
//!
//! Every choice that changes zlib's output is kept, because the page bytes must equal
//! those of makedumpfile, which calls the system zlib:
//! - the 15-bit rolling hash `h = ((h << 5) ^ byte) & 0x7fff` of three bytes (memLevel 8);
//! - hash chains through `prev`, newest first, at most 4 candidates (max_chain 4);
//! - position 0 is the chain terminator, so it is never a match candidate;
//! - a candidate is only measured when the bytes at the current best length and at 0
//!   and 1 agree; byte 2 is implied by the hash;
//! - a search stops at the first match of nice_length 8, capped to the bytes left;
//! - lengths are measured before they are capped to the bytes left; the compare may run
//!   up to 258 bytes past the input (zlib zeroes them, `WIN_INIT`; so do we), but what
//!   lies there never changes a decision, because nice_length is capped to the bytes left
//!   and a match that reaches the end always stops the search;
//! - after a match of at most 4 bytes (max_lazy) every covered position is hashed;
//!   after a longer one none is, and the rolling hash restarts from two bytes that may
//!   lie in the zero padding.
//!
//! zlib's larger-input machinery (window sliding, a full symbol buffer forcing a block)
//! never runs for inputs up to [`MAX_SINGLE_BLOCK_INPUT`], so it is not reproduced; the
//! caller falls back to zlib itself above that size.

use super::tables::{distance_code, END_OF_BLOCK, LENGTH_CODE, MAX_MATCH, MIN_MATCH};

/// zlib flushes a block when its symbol buffer (lit_bufsize - 1 = 16383 symbols at
/// memLevel 8) is full. One symbol per byte at most, so below this no input can fill it.
pub const MAX_SINGLE_BLOCK_INPUT: usize = 16382;

const HASH_BITS: u32 = 15;
const HASH_SIZE: usize = 1 << HASH_BITS;
const HASH_MASK: u32 = HASH_SIZE as u32 - 1;
const HASH_SHIFT: u32 = 5;
/// max_chain at level 1.
const MAX_CHAIN: u32 = 4;
/// nice_length at level 1.
const NICE_LENGTH: usize = 8;
/// max_lazy at level 1, which deflate_fast uses as "hash the covered positions up to".
const MAX_INSERT_LENGTH: usize = 4;
/// Zero bytes after the input: zlib's 258 (`WIN_INIT`) plus room for 8-byte reads.
const PADDING: usize = MAX_MATCH + 16;

/// Literal/length and distance symbols of one block, with their frequencies.
pub struct Symbols {
    /// `distance << 8 | length - 3` for a match, the byte for a literal (distance 0).
    pub packed: Vec<u32>,
    /// Frequency of each literal/length symbol (286; zlib's dyn_ltree Freq).
    pub literal_freq: [u16; 286],
    /// Frequency of each distance code.
    pub distance_freq: [u16; 30],
}

impl Symbols {
    fn new() -> Self {
        Symbols {
            packed: Vec::with_capacity(4096),
            literal_freq: [0; 286],
            distance_freq: [0; 30],
        }
    }

    fn clear(&mut self) {
        self.packed.clear();
        self.literal_freq = [0; 286];
        self.distance_freq = [0; 30];
        // init_block: the end-of-block symbol is always sent once.
        self.literal_freq[END_OF_BLOCK] = 1;
    }

    #[inline(always)]
    fn literal(&mut self, byte: u8) {
        self.packed.push(u32::from(byte));
        self.literal_freq[usize::from(byte)] += 1;
    }

    #[inline(always)]
    fn matched(&mut self, distance: usize, length: usize) {
        let length_index = length - MIN_MATCH;
        self.packed
            .push((distance as u32) << 8 | length_index as u32);
        self.literal_freq[257 + usize::from(LENGTH_CODE[length_index])] += 1;
        self.distance_freq[distance_code(distance - 1)] += 1;
    }
}

/// deflate_fast's state for one input at a time, reused between pages.
pub struct Parser {
    /// Newest position of each hash, 0 = none (zlib's `head`).
    head: Box<[u16]>,
    /// The previous position with the same hash, per position (zlib's `prev`).
    prev: Vec<u16>,
    /// The input followed by [`PADDING`] zero bytes (zlib's `window`).
    window: Vec<u8>,
    /// The symbols of the last parse.
    pub symbols: Symbols,
}

impl Parser {
    /// Tables for inputs up to [`MAX_SINGLE_BLOCK_INPUT`].
    pub fn new() -> Self {
        Parser {
            head: vec![0u16; HASH_SIZE].into_boxed_slice(),
            prev: vec![0u16; MAX_SINGLE_BLOCK_INPUT],
            window: Vec::with_capacity(4096 + PADDING),
            symbols: Symbols::new(),
        }
    }

    /// Parse `input` into [`Parser::symbols`] as deflate_fast at level 1 would.
    ///
    /// Never inlined: when an unrelated change let the compiler inline this and
    /// `BlockEncoder::encode` into `ZlibLevel1::compress`, `-c` dumps ran 4 % slower
    /// (callgrind: +0.2 % instructions; farm-bench, serial and 2 threads), so the two hot
    /// loops keep functions of their own.
    #[inline(never)]
    pub fn parse(&mut self, input: &[u8]) {
        assert!(
            input.len() <= MAX_SINGLE_BLOCK_INPUT,
            "input too long for one block"
        );
        self.symbols.clear();
        // lm_init's CLEAR_HASH.
        self.head.fill(0);
        self.window.clear();
        self.window.extend_from_slice(input);
        self.window.resize(input.len() + PADDING, 0);

        let window = &self.window[..];
        let head = &mut self.head[..];
        let prev = &mut self.prev[..];
        let symbols = &mut self.symbols;

        let mut lookahead = input.len();
        let mut position = 0usize;
        // fill_window primes the rolling hash with the first two bytes.
        let mut hash = roll(roll(0, window[0]), window[1]);

        while lookahead > 0 {
            let mut candidate = 0;
            if lookahead >= MIN_MATCH {
                hash = roll(hash, window[position + 2]);
                candidate = insert(head, prev, hash, position);
            }
            let (length, start) = if candidate != 0 {
                longest_match(window, prev, position, candidate, lookahead)
            } else {
                (0, 0)
            };
            if length < MIN_MATCH {
                symbols.literal(window[position]);
                lookahead -= 1;
                position += 1;
                continue;
            }
            symbols.matched(position - start, length);
            lookahead -= length;
            if length <= MAX_INSERT_LENGTH && lookahead >= MIN_MATCH {
                // The position itself is hashed already; hash the rest it covers.
                for _ in 1..length {
                    position += 1;
                    hash = roll(hash, window[position + 2]);
                    insert(head, prev, hash, position);
                }
                position += 1;
            } else {
                position += length;
                // The next insertion rolls in window[position + 2]. When fewer than 3
                // bytes are left none happens and this hash is never used.
                hash = roll(u32::from(window[position]), window[position + 1]);
            }
        }
    }
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

/// UPDATE_HASH: shift the rolling hash and add one byte.
#[inline(always)]
fn roll(hash: u32, byte: u8) -> u32 {
    (hash << HASH_SHIFT ^ u32::from(byte)) & HASH_MASK
}

/// INSERT_STRING: make `at` the newest position of `hash`; return the previous newest.
#[inline(always)]
fn insert(head: &mut [u16], prev: &mut [u16], hash: u32, at: usize) -> usize {
    let newest = head[hash as usize];
    prev[at] = newest;
    head[hash as usize] = at as u16;
    usize::from(newest)
}

/// zlib's longest_match at level 1 (good_length 4 is never reached: deflate_fast keeps
/// prev_length at 2). Returns (length capped to `lookahead`, start); a length below 3
/// means no match.
#[inline(always)]
fn longest_match(
    window: &[u8],
    prev: &[u16],
    position: usize,
    mut candidate: usize,
    lookahead: usize,
) -> (usize, usize) {
    let nice = NICE_LENGTH.min(lookahead);
    let mut best = MIN_MATCH - 1;
    let mut best_start = 0;
    let mut chain = MAX_CHAIN;
    let scan = &window[position..position + MAX_MATCH + 8];
    let mut end_minus_one = scan[best - 1];
    let mut end = scan[best];
    loop {
        let other = &window[candidate..candidate + MAX_MATCH + 8];
        if other[best] == end
            && other[best - 1] == end_minus_one
            && other[0] == scan[0]
            && other[1] == scan[1]
        {
            let length = match_length(scan, other);
            if length > best {
                best_start = candidate;
                best = length;
                if length >= nice {
                    break;
                }
                end_minus_one = scan[best - 1];
                end = scan[best];
            }
        }
        candidate = usize::from(prev[candidate]);
        chain -= 1;
        if candidate == 0 || chain == 0 {
            break;
        }
    }
    (best.min(lookahead), best_start)
}

/// Offset of the first byte from 3 on where `a` and `b` differ, at most 258: what zlib's
/// unrolled compare loop computes (it does not look at byte 2, equal by the hash).
#[inline(always)]
fn match_length(a: &[u8], b: &[u8]) -> usize {
    let mut offset = MIN_MATCH;
    while offset < MAX_MATCH {
        let x = word(a, offset) ^ word(b, offset);
        if x != 0 {
            return (offset + (x.trailing_zeros() / 8) as usize).min(MAX_MATCH);
        }
        offset += 8;
    }
    MAX_MATCH
}

#[inline(always)]
fn word(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}
