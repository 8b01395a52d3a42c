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
//! would not fit.

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
        let mut out = Output { buf: out, len: 0 };
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
            pending = self.compress_block(src, done, block_len, pending, &mut out)?;
            done += block_len;
        }
        pending += src.len() - done;
        if pending > 0 {
            let first = out.len == 0;
            out.literal_header(pending, first)?;
            out.bytes(src.get(src.len() - pending..)?)?;
        }
        out.bytes(&END_OF_STREAM)?;
        Some(out.len)
    }

    /// Search and encode `src[start..start + len]`, with `pending` literals before
    /// `start` still to be written. Returns the literals left unwritten at the block's
    /// end (counted back from `start + len`).
    fn compress_block(
        &mut self,
        src: &[u8],
        start: usize,
        len: usize,
        pending: usize,
        out: &mut Output<'_>,
    ) -> Option<usize> {
        // A zero slot is not "empty": it offers position 0 of the block as a candidate,
        // so the table must read all zero at every block start, as liblzo's does.
        self.table.fill(0);
        let table = &mut *self.table;
        // Reads stay inside the block (literals carried from the previous block are
        // copied from `src`), which lets the compiler drop most bounds tests.
        let block = src.get(..start + len)?;
        let search_end = block.len().checked_sub(SEARCH_MARGIN)?;
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
                    return Some(start + len - (anchor - carried));
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
            if literals > 0 {
                out.literal_header(literals, false)?;
                out.literals(src, literal_start, literals)?;
            }
            let limit = (search_end - pos).saturating_sub(4);
            let match_len = 4 + common_prefix(block, pos + 4, candidate + 4, limit)?;
            let offset = pos - candidate;
            pos += match_len;
            anchor = pos;
            out.match_instruction(match_len, offset)?;
        }
    }
}

/// Length of the common prefix of `src[a..]` and `src[b..]`, compared 8 bytes at a
/// time as liblzo does: it stops at the first differing byte, or after the first 8-byte
/// step that reaches `limit` bytes (so it can overshoot `limit` by up to 7 when the
/// bytes keep matching, exactly like liblzo).
fn common_prefix(src: &[u8], a: usize, b: usize, limit: usize) -> Option<usize> {
    let mut n = 0;
    loop {
        let diff = read_u64(src, a + n)? ^ read_u64(src, b + n)?;
        if diff != 0 {
            return Some(n + (diff.trailing_zeros() / 8) as usize);
        }
        n += 8;
        if n >= limit {
            return Some(n);
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

fn read_u64(src: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(*src.get(at..)?.first_chunk::<8>()?))
}

/// The caller's buffer and how much of it is written; every write fails with `None`
/// instead of overflowing.
struct Output<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Output<'_> {
    fn byte(&mut self, b: u8) -> Option<()> {
        *self.buf.get_mut(self.len)? = b;
        self.len += 1;
        Some(())
    }

    fn bytes(&mut self, b: &[u8]) -> Option<()> {
        let end = self.len + b.len();
        self.buf.get_mut(self.len..end)?.copy_from_slice(b);
        self.len = end;
        Some(())
    }

    /// Copy `src[from..from + n]`. Most literal runs are a few bytes long, where a
    /// `memcpy` call costs more than the copy: a run of up to 16 (32) bytes goes as one
    /// (two) fixed 16-byte moves when both sides have room, and the bytes written past
    /// the run are overwritten by what follows or lie past the returned length. (A loop
    /// of 16-byte moves would be turned back into a `memcpy` call by the compiler.)
    fn literals(&mut self, src: &[u8], from: usize, n: usize) -> Option<()> {
        if n <= 32 {
            if let (Some(dst), Some(lit)) = (
                self.buf
                    .get_mut(self.len..)
                    .and_then(|d| d.first_chunk_mut::<32>()),
                src.get(from..).and_then(|s| s.first_chunk::<32>()),
            ) {
                let (d0, d1) = dst.split_at_mut(16);
                d0.copy_from_slice(&lit[..16]);
                if n > 16 {
                    d1.copy_from_slice(&lit[16..]);
                }
                self.len += n;
                return Some(());
            }
        }
        self.bytes(src.get(from..from + n)?)
    }

    /// The instruction that announces a literal run of `n` (> 0) bytes.
    fn literal_header(&mut self, n: usize, first: bool) -> Option<()> {
        if first && n <= FIRST_LITERAL_MAX {
            // Only valid as the stream's first byte: values above 17 start a literal run.
            self.byte(17 + n as u8)
        } else if n <= 3 {
            // 1..=3 literals after a match live in the low two bits of the match's
            // second-to-last byte (its "state" bits), which are zero until now.
            let at = self.len.checked_sub(2)?;
            *self.buf.get_mut(at)? |= n as u8;
            Some(())
        } else if n <= 18 {
            self.byte(n as u8 - 3)
        } else {
            self.byte(0)?;
            self.length_extension(n - 18)
        }
    }

    /// A length too large for its instruction's bits: one zero byte per 255, then the
    /// remainder (1..=255).
    fn length_extension(&mut self, mut rest: usize) -> Option<()> {
        while rest > 255 {
            rest -= 255;
            self.byte(0)?;
        }
        self.byte(rest as u8)
    }

    /// A back-reference of `len` (>= 4) bytes at distance `offset` (1..=0xbfff).
    fn match_instruction(&mut self, len: usize, offset: usize) -> Option<()> {
        if len <= M2_MAX_LEN && offset <= M2_MAX_OFFSET {
            let d = offset - 1;
            self.bytes(&[(((len - 1) << 5) | ((d & 7) << 2)) as u8, (d >> 3) as u8])
        } else {
            let (marker, max_len, d) = if offset <= M3_MAX_OFFSET {
                (M3_MARKER, M3_MAX_LEN, offset - 1)
            } else {
                // Bit 14 of the distance goes into the marker byte.
                let d = offset - 0x4000;
                (M4_MARKER | ((d >> 11) & 8) as u8, M4_MAX_LEN, d)
            };
            if len <= max_len {
                self.byte(marker | (len - 2) as u8)?;
            } else {
                self.byte(marker)?;
                self.length_extension(len - max_len)?;
            }
            self.bytes(&[(d << 2) as u8, (d >> 6) as u8])
        }
    }
}

#[cfg(test)]
mod tests;
