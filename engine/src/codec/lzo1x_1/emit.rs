//! LZO1X instruction encoding, written once over two kinds of output.
//!
//! [`Checked`] is the caller's buffer with a bounds test on every write, giving up
//! (`None`) as soon as the stream would not fit. [`Reserved`] is the same buffer after
//! one test that the worst case of a literal run and its match fits, so its writes
//! skip the test; near the end of the buffer the pair goes through [`Checked`], whose
//! tests decide exactly whether the stream fits. Kernel pages make about 200 pairs per
//! page. On 2000 real `-d 31` pages (cachegrind) the per-write tests made 59.4 M
//! instructions against liblzo's 36.9 M; with the reservation it is 50.4 M, and the
//! in-process time of 20 631 pages went from 77.5 to 74.0 ms (liblzo: 70.3 ms).

use super::{
    FIRST_LITERAL_MAX, M2_MAX_LEN, M2_MAX_OFFSET, M3_MARKER, M3_MAX_LEN, M3_MAX_OFFSET, M4_MARKER,
    M4_MAX_LEN,
};

/// Where instructions go. Every method returns `None` when the output is full.
pub(super) trait Sink {
    fn byte(&mut self, b: u8) -> Option<()>;
    /// OR `n` into the state bits of the previous instruction: its second-to-last byte.
    fn state_bits(&mut self, n: u8) -> Option<()>;
    /// Append `src[from..from + n]`.
    fn literals(&mut self, src: &[u8], from: usize, n: usize) -> Option<()>;
}

/// The caller's buffer and how much of it is written.
pub(super) struct Checked<'a> {
    pub(super) buf: &'a mut [u8],
    pub(super) len: usize,
}

impl Sink for Checked<'_> {
    fn byte(&mut self, b: u8) -> Option<()> {
        *self.buf.get_mut(self.len)? = b;
        self.len += 1;
        Some(())
    }

    fn state_bits(&mut self, n: u8) -> Option<()> {
        let at = self.len.checked_sub(2)?;
        *self.buf.get_mut(at)? |= n;
        Some(())
    }

    fn literals(&mut self, src: &[u8], from: usize, n: usize) -> Option<()> {
        let end = self.len.checked_add(n)?;
        self.buf
            .get_mut(self.len..end)?
            .copy_from_slice(src.get(from..from + n)?);
        self.len = end;
        Some(())
    }
}

/// A stretch of [`Checked`]'s buffer known to hold whatever one literal run and the
/// match after it write (see [`Reserved::for_pair`]), so its writes skip the bounds test.
pub(super) struct Reserved<'r, 'a> {
    out: &'r mut Checked<'a>,
    /// Writes stay below this index, which is at most `out.buf.len()`.
    end: usize,
}

impl<'r, 'a> Reserved<'r, 'a> {
    /// Room for `literals` literals and the match after them, or `None` when fewer bytes
    /// than that worst case are left (the caller then writes through `out`, whose checks
    /// decide exactly whether the stream fits). `overhead` is
    /// [`Reserved::pair_overhead`] of the block the pair lies in.
    #[inline(always)]
    pub(super) fn for_pair(
        out: &'r mut Checked<'a>,
        literals: usize,
        overhead: usize,
    ) -> Option<Reserved<'r, 'a>> {
        // No overflow: each term is at most a slice length (below isize::MAX) or, for
        // `overhead`, a small fraction of one.
        let end = out.len + literals + overhead;
        (end <= out.buf.len()).then_some(Reserved { out, end })
    }

    /// What a pair in a block of `block_len` bytes may write beyond its literals: a
    /// literal header of at most `2 + literals / 255` bytes, then either the fixed
    /// moves of a short run (at most 15 bytes past it) or a match of at most
    /// `4 + len / 255` bytes. The literals and the match both lie in the block, so
    /// `literals + len <= block_len`, and dividing by 128 instead of 255 only
    /// over-reserves; 48 covers the constants (at most 22) with margin. Computed once
    /// per block, it leaves one addition and one comparison per pair.
    pub(super) fn pair_overhead(block_len: usize) -> usize {
        (block_len >> 7) + 48
    }
}

impl Sink for Reserved<'_, '_> {
    #[inline(always)]
    fn byte(&mut self, b: u8) -> Option<()> {
        debug_assert!(self.out.len < self.end);
        // SAFETY: `for_pair` reserved room for every byte a pair writes, and `end` is
        // at most the buffer's length, so `len < end` is inside the buffer.
        unsafe { *self.out.buf.get_unchecked_mut(self.out.len) = b };
        self.out.len += 1;
        Some(())
    }

    #[inline(always)]
    fn state_bits(&mut self, n: u8) -> Option<()> {
        self.out.state_bits(n)
    }

    /// Runs of up to 32 bytes go as one or two fixed 16-byte moves (a `memcpy` call
    /// costs more than these short copies, and a loop of moves would be turned back
    /// into one), writing up to 31 bytes past the run that the reservation covers and
    /// that what follows overwrites or leaves past the stream's end. The source side is
    /// checked: near the input's end 32 bytes may not be there, and then the exact copy
    /// runs.
    #[inline(always)]
    fn literals(&mut self, src: &[u8], from: usize, n: usize) -> Option<()> {
        if let (true, Some(source)) = (n <= 32, src.get(from..).and_then(|s| s.first_chunk::<32>()))
        {
            debug_assert!(self.out.len + 32 <= self.end);
            let (low, high) = source.split_at(16);
            // SAFETY: the reservation holds the run plus 32 bytes (see `for_pair`), so
            // the 32 bytes from `len` are inside the buffer; the writes are unaligned.
            unsafe {
                let to = self
                    .out
                    .buf
                    .as_mut_ptr()
                    .add(self.out.len)
                    .cast::<[u8; 16]>();
                to.write_unaligned(*low.first_chunk().unwrap_unchecked());
                if n > 16 {
                    to.add(1)
                        .write_unaligned(*high.first_chunk().unwrap_unchecked());
                }
            }
            self.out.len += n;
            return Some(());
        }
        self.out.literals(src, from, n)
    }
}

/// The instruction announcing a literal run of `n` (> 0) bytes, then the run.
#[inline(always)]
pub(super) fn literal_run<S: Sink>(
    out: &mut S,
    src: &[u8],
    from: usize,
    n: usize,
    first: bool,
) -> Option<()> {
    if first && n <= FIRST_LITERAL_MAX {
        // Only valid as the stream's first byte: values above 17 start a literal run.
        out.byte(17 + n as u8)?;
    } else if n <= 3 {
        // 1..=3 literals after a match live in the low two bits of the match's
        // second-to-last byte (its "state" bits), which are zero until now.
        out.state_bits(n as u8)?;
    } else if n <= 18 {
        out.byte(n as u8 - 3)?;
    } else {
        out.byte(0)?;
        length_extension(out, n - 18)?;
    }
    out.literals(src, from, n)
}

/// A length too large for its instruction's bits: one zero byte per 255, then the
/// remainder (1..=255).
#[inline(always)]
fn length_extension<S: Sink>(out: &mut S, mut rest: usize) -> Option<()> {
    while rest > 255 {
        rest -= 255;
        out.byte(0)?;
    }
    out.byte(rest as u8)
}

/// A back-reference of `len` (>= 4) bytes at distance `offset` (1..=0xbfff).
#[inline(always)]
pub(super) fn match_instruction<S: Sink>(out: &mut S, len: usize, offset: usize) -> Option<()> {
    if len <= M2_MAX_LEN && offset <= M2_MAX_OFFSET {
        let d = offset - 1;
        out.byte((((len - 1) << 5) | ((d & 7) << 2)) as u8)?;
        return out.byte((d >> 3) as u8);
    }
    let (marker, max_len, d) = if offset <= M3_MAX_OFFSET {
        (M3_MARKER, M3_MAX_LEN, offset - 1)
    } else {
        // Bit 14 of the distance goes into the marker byte.
        let d = offset - 0x4000;
        (M4_MARKER | ((d >> 11) & 8) as u8, M4_MAX_LEN, d)
    };
    if len <= max_len {
        out.byte(marker | (len - 2) as u8)?;
    } else {
        out.byte(marker)?;
        length_extension(out, len - max_len)?;
    }
    out.byte((d << 2) as u8)?;
    out.byte((d >> 6) as u8)
}
