//! LZO1X-1 compressor writing straight into the caller's buffer.
//!
//! The output must stay byte-identical to liblzo2's `lzo1x_1_compress` (what Debian's
//! makedumpfile links) so `-l` dumps match makedumpfile's bit for bit. Every decision
//! that shapes the output therefore follows liblzo's: the multiplicative hash into a
//! 2^14-entry table, where a never-written entry means "position 0 of the block"; the
//! literal skip that grows with the distance since the last match; matches verified on 4
//! bytes and extended 8 bytes at a time up to the block's search end; the M2/M3/M4
//! choice; 48 KiB blocks; and the literal tail with its end-of-stream marker. Tests
//! compare against the `lzo1x` crate's port (`CompressLevel::new(3)`), which equals
//! liblzo.
//!
//! What differs is the plumbing: the table lives in the codec instead of being allocated
//! per call, and output goes into the caller's slice, giving up (`None`) as soon as it
//! would not fit; the instructions are encoded by `emit`, without a bounds test per
//! byte while the buffer has room for a pair's worst case.

/// liblzo compresses at most this many input bytes per block, so that block-relative
/// positions fit the table's 16 bits and every match offset stays within M4's 0xbfff.
const BLOCK_MAX: usize = 49_152;
/// No match search starts in the last 20 bytes of a block: the search reads 4 bytes at
/// the candidate and the extension reads 8 at a time without bounds tests in liblzo.
const SEARCH_MARGIN: usize = 20;
/// Inputs of at most this many bytes are emitted as one literal run (no search).
const MIN_SEARCHED_INPUT: usize = SEARCH_MARGIN;
/// Knuth-style multiplier of liblzo's `DINDEX` for LZO1X-1.
const HASH_MULTIPLIER: u32 = 0x1824_429d;
/// log2 of the table size: liblzo's `D_BITS` for `lzo1x_1_compress`.
const TABLE_BITS: u32 = 14;
const TABLE_SLOTS: usize = 1 << TABLE_BITS;

/// M2: 3..=8 bytes at offsets 1..=0x800, two bytes, no extension.
const M2_MAX_LEN: usize = 8;
const M2_MAX_OFFSET: usize = 0x800;
/// M3: offsets up to 0x4000; lengths above 33 continue in extension bytes.
const M3_MAX_OFFSET: usize = 0x4000;
const M3_MAX_LEN: usize = 33;
const M3_MARKER: u8 = 0x20;
/// M4: offsets 0x4001..=0xbfff; lengths above 9 continue in extension bytes.
const M4_MAX_LEN: usize = 9;
const M4_MARKER: u8 = 0x10;
/// The first instruction may encode a literal run of up to 238 bytes as `17 + len`.
const FIRST_LITERAL_MAX: usize = 238;
/// An M4 match of offset 0x4000 (impossible in real data) ends the stream.
const END_OF_STREAM: [u8; 3] = [M4_MARKER | 1, 0, 0];

/// A reusable LZO1X-1 compression context: the hash table of block-relative positions.
pub struct Lzo1x1 {
    table: Box<[u16; TABLE_SLOTS]>,
}

impl Default for Lzo1x1 {
    fn default() -> Self {
        Lzo1x1::new()
    }
}

impl Lzo1x1 {
    /// A new context; its table is the only allocation, reused by every call.
    pub fn new() -> Self {
        Lzo1x1 {
            table: Box::new([0; TABLE_SLOTS]),
        }
    }

    /// Compress `src` into `out`. Returns the compressed length, or `None` as soon as
    /// the stream would not fit in `out` (the output only grows, so the full stream would
    /// not fit either).
    pub fn compress(&mut self, src: &[u8], out: &mut [u8]) -> Option<usize> {
        let mut out = Checked { buf: out, len: 0 };
        // Literals that precede `done` and are not yet written: a block hands its
        // unmatched tail to the next block (or to the final literal run).
        let mut pending = 0usize;
        let mut done = 0usize;
        while src.len() - done > MIN_SEARCHED_INPUT {
            let block_len = (src.len() - done).min(BLOCK_MAX);
            // liblzo skips the search when there is too little to gain from it.
            if pending + block_len < 32 {
                break;
            }
            (pending, out) = self.compress_block(src, done, block_len, pending, out)?;
            done += block_len;
        }
        pending += src.len() - done;
        if pending > 0 {
            let first = out.len == 0;
            literal_run(&mut out, src, src.len() - pending, pending, first)?;
        }
        for b in END_OF_STREAM {
            out.byte(b)?;
        }
        Some(out.len)
    }

    /// Search and encode `src[start..start + len]`, with `pending` literals before
    /// `start` still to be written. Returns the literals left unwritten at the block's
    /// end (counted back from `start + len`), and the output. The output is taken and
    /// given back by value so that its length lives in a register through the loop.
    fn compress_block<'o>(
        &mut self,
        src: &[u8],
        start: usize,
        len: usize,
        pending: usize,
        mut out: Checked<'o>,
    ) -> Option<(usize, Checked<'o>)> {
        // A zero slot is not "empty": it offers position 0 of the block as a candidate,
        // so the table must read all zero at every block start, as liblzo's does.
        self.table.fill(0);
        let table = &mut *self.table;
        // Reads stay inside the block (literals carried from the previous block are
        // copied from `src`), which lets the compiler drop most bounds tests.
        let block = src.get(..start + len)?;
        let search_end = block.len().checked_sub(SEARCH_MARGIN)?;
        let pair_overhead = Reserved::pair_overhead(block.len());
        // `anchor` is where the last match ended (or the block start); the literal skip
        // grows with the distance from it. Carried-over literals begin `carried` before.
        let mut anchor = start;
        let mut carried = pending;
        // Runs of 1..=3 literals are encoded in the state bits of the match before them,
        // so the run before a block's first match must be longer: the first candidate
        // leaves at least 4 literals (carried ones included) behind it.
        let mut pos = start + 4usize.saturating_sub(pending);
        pos += 1 + ((pos - anchor) >> 5);
        loop {
            // Find the next position whose 4 bytes equal those at the table's candidate.
            let candidate = loop {
                if pos >= search_end {
                    return Some((start + len - (anchor - carried), out));
                }
                // This loop is most of `-l`'s time, so its two reads skip the bounds test.
                // Both positions are below `search_end`, 20 bytes before the block's end:
                // `pos` by the test above; `candidate` because the table was cleared at
                // this block's start (0 = `start`) and only ever receives positions that
                // passed that test.
                let word = read_u32_below(block, pos, search_end);
                let slot = (HASH_MULTIPLIER.wrapping_mul(word) >> (32 - TABLE_BITS)) as usize;
                let entry = &mut table[slot % TABLE_SLOTS];
                let candidate = start + usize::from(*entry);
                // Blocks are at most 48 KiB, so the position fits.
                *entry = (pos - start) as u16;
                if read_u32_below(block, candidate, search_end) == word {
                    break candidate;
                }
                pos += 1 + ((pos - anchor) >> 5);
            };
            let literal_start = anchor - carried;
            carried = 0;
            let literals = pos - literal_start;
            let offset = pos - candidate;
            // Unchecked writes while the output has room for the pair's worst case.
            pos += match Reserved::for_pair(&mut out, literals, pair_overhead) {
                Some(mut out) => {
                    write_pair(&mut out, block, literal_start, pos, offset, search_end)?
                }
                None => {
                    write_pair_near_end(&mut out, block, literal_start, pos, offset, search_end)?
                }
            };
            anchor = pos;
        }
    }
}

/// [`write_pair`] through every bounds test, for the pairs near the output's end; out
/// of line, so that the common path keeps its registers.
#[cold]
#[inline(never)]
fn write_pair_near_end(
    out: &mut Checked<'_>,
    block: &[u8],
    literal_start: usize,
    pos: usize,
    offset: usize,
    search_end: usize,
) -> Option<usize> {
    write_pair(out, block, literal_start, pos, offset, search_end)
}

/// Write the literals from `literal_start` up to `pos`, measure the match at `pos`
/// (`offset` back) and write it; returns the match length. The literals go first,
/// as in liblzo: whether there are any is decided by the search loop just left
/// (none when its first probe matched), and testing it next to that loop lets the
/// branch predictor see the correlation.
#[inline(always)]
fn write_pair<S: Sink>(
    out: &mut S,
    block: &[u8],
    literal_start: usize,
    pos: usize,
    offset: usize,
    search_end: usize,
) -> Option<usize> {
    if pos > literal_start {
        literal_run(out, block, literal_start, pos - literal_start, false)?;
    }
    let limit = (search_end - pos).saturating_sub(4);
    let len = 4 + common_prefix(block, pos + 4, pos - offset + 4, limit, search_end);
    match_instruction(out, len, offset)?;
    Some(len)
}

/// Length of the common prefix of `block[a..]` and `block[b..]` for a match found at
/// `a - 4` (`b < a`), compared 8 bytes at a time as liblzo does: it stops at the first
/// differing byte, or after the first 8-byte step that reaches `limit` bytes (so it can
/// overshoot `limit` by up to 7 when the bytes keep matching, exactly like liblzo).
///
/// `limit` is what is left before the search end, `search_end - a` or 0, so every read
/// starts below `search_end + 4` (the first at `a < search_end + 4`, later ones at
/// `a + n` with `n < limit`), and `search_end + 4 + 8` is inside the block: its last
/// `SEARCH_MARGIN` (20) bytes lie past `search_end`.
fn common_prefix(block: &[u8], a: usize, b: usize, limit: usize, search_end: usize) -> usize {
    let below = search_end + 4;
    // The first step has its own branch, as in liblzo: whether a match passes 12 bytes
    // is close to a coin toss on kernel pages, and in cachegrind's branch model one
    // branch shared with the loop's exit mispredicted more (2000 real pages: 298k
    // against 196k for the split pair).
    let diff = read_u64_below(block, a, below) ^ read_u64_below(block, b, below);
    if diff != 0 {
        return (diff.trailing_zeros() / 8) as usize;
    }
    let mut n = 0;
    loop {
        n += 8;
        if n >= limit {
            return n;
        }
        let diff = read_u64_below(block, a + n, below) ^ read_u64_below(block, b + n, below);
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
    }
}

/// The 4 bytes at `at`, for `at < limit` where `limit + 4 <= src.len()` (checked in
/// debug builds; the callers' invariant is stated where they call).
#[inline(always)]
fn read_u32_below(src: &[u8], at: usize, limit: usize) -> u32 {
    debug_assert!(at < limit && limit + 4 <= src.len());
    // SAFETY: at + 4 <= limit + 4 <= src.len(), so the 4 bytes are inside `src`;
    // read_unaligned has no alignment requirement.
    unsafe { u32::from_le_bytes(src.as_ptr().add(at).cast::<[u8; 4]>().read_unaligned()) }
}

/// The 8 bytes at `at`, for `at < limit` where `limit + 8 <= src.len()` (checked in
/// debug builds; [`common_prefix`] states why its reads qualify).
#[inline(always)]
fn read_u64_below(src: &[u8], at: usize, limit: usize) -> u64 {
    debug_assert!(at < limit && limit + 8 <= src.len());
    // SAFETY: at + 8 <= limit + 8 <= src.len(), so the 8 bytes are inside `src`;
    // read_unaligned has no alignment requirement.
    unsafe { u64::from_le_bytes(src.as_ptr().add(at).cast::<[u8; 8]>().read_unaligned()) }
}

mod emit;
#[cfg(test)]
pub(super) mod tests;

use emit::{literal_run, match_instruction, Checked, Reserved, Sink};
