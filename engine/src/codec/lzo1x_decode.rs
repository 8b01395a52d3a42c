//! LZO1X decoder for `-l` pages (reading dumps back: `--verify`, refiltering).
//!
//! The stream format is liblzo's `lzo1x_decompress_safe`, which crash and libkdumpfile
//! call on `-l` pages: literal runs, matches M1..M4 whose low two bits announce up to 3
//! literals after them, and an M4 of distance 0 that ends the stream. Every length and
//! distance is checked against both buffers, so a damaged stream is an error, never a
//! read or write out of bounds; the page must come out exactly full.
//!
//! Why not the `lzo1x` crate's decoder, which we used before: it copies every literal
//! run and every match with `copy_from_slice`, a call into libc's memcpy for 3..8 bytes
//! most of the time; that was a third of its time, and decoding two thirds of a `-l`
//! `--verify` (perf, real cloud-1g vmcore). Here short runs and matches move 16 or 8
//! bytes at a time with fixed-size copies the compiler turns into single loads and
//! stores, while the output has room for the overshoot; the exact copy remains for the
//! page's last bytes. The crate stays the oracle of the tests.

/// Why a stream does not decode; the names are liblzo's error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LzoError {
    /// The stream ends inside an instruction or a literal run (`LZO_E_INPUT_OVERRUN`).
    InputOverrun,
    /// The data would not fit in the page (`LZO_E_OUTPUT_OVERRUN`).
    OutputOverrun,
    /// A match reaches back before the start of the page (`LZO_E_LOOKBEHIND_OVERRUN`).
    LookbehindOverrun,
    /// Bytes follow the end-of-stream marker (`LZO_E_INPUT_NOT_CONSUMED`).
    InputNotConsumed,
    /// The stream ends before the page is full (crash requires a whole page).
    OutputUnderrun,
}

/// Fixed copy size of the fast paths: short literal runs and matches move in steps of
/// this many bytes while the page has room for the overshoot.
const WIDE: usize = 16;

/// M1 after a literal run of 4 or more: a 3-byte match, distance from 0x801.
const M1_LONG_RUN: (usize, usize) = (3, 0x801);
/// M1 after 1..=3 literals: a 2-byte match, distance from 1.
const M1_SHORT_RUN: (usize, usize) = (2, 1);
/// M4 distances start here; an M4 whose encoded distance is 0 ends the stream.
const M4_BASE_DISTANCE: usize = 0x4000;

/// What the literals just copied make of the next instruction below 16.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    /// A match with no literals after it: the next instruction below 16 is a literal run.
    Match,
    /// 1..=3 literals after a match: it is an M1 of 2 bytes.
    ShortRun,
    /// A run of 4 or more literals: it is an M1 of 3 bytes at 0x801 or more.
    LongRun,
}

impl After {
    fn literals(count: usize) -> After {
        match count {
            0 => After::Match,
            1..=3 => After::ShortRun,
            _ => After::LongRun,
        }
    }
}

/// Decode the LZO1X stream `src` into `dst`, which it must fill exactly.
pub fn decompress(src: &[u8], dst: &mut [u8]) -> Result<(), LzoError> {
    let mut input = Input { src, at: 0 };
    let mut op = 0usize;
    let mut after = After::Match;
    // A first byte above 17 is a literal run of `byte - 17` (no instruction starts so).
    if input.peek()? > 17 {
        let count = usize::from(input.byte()?) - 17;
        copy_literals(&mut input, dst, &mut op, count)?;
        after = After::literals(count);
    }
    loop {
        let insn = input.byte()?;
        let (len, distance, next_literals) = match insn {
            64..=255 => {
                let high = usize::from(input.byte()?);
                let distance = (high << 3) + usize::from((insn >> 2) & 7) + 1;
                (usize::from(insn >> 5) + 1, distance, insn & 3)
            }
            32..=63 => {
                let len = input.length(insn & 31, 31)? + 2;
                let (distance, next) = input.distance()?;
                (len, distance + 1, next)
            }
            16..=31 => {
                let len = input.length(insn & 7, 7)? + 2;
                let (distance, next) = input.distance()?;
                let distance = (usize::from(insn & 8) << 11) + distance;
                if distance == 0 {
                    break;
                }
                (len, distance + M4_BASE_DISTANCE, next)
            }
            0..=15 if after == After::Match => {
                let count = input.length(insn, 15)? + 3;
                copy_literals(&mut input, dst, &mut op, count)?;
                after = After::LongRun;
                continue;
            }
            0..=15 => {
                let (len, base) = if after == After::LongRun {
                    M1_LONG_RUN
                } else {
                    M1_SHORT_RUN
                };
                let high = usize::from(input.byte()?);
                (len, (high << 2) + usize::from(insn >> 2) + base, insn & 3)
            }
        };
        copy_match(dst, &mut op, distance, len)?;
        let count = usize::from(next_literals);
        if count > 0 {
            copy_literals(&mut input, dst, &mut op, count)?;
        }
        after = After::literals(count);
    }
    if input.at != src.len() {
        return Err(LzoError::InputNotConsumed);
    }
    if op != dst.len() {
        return Err(LzoError::OutputUnderrun);
    }
    Ok(())
}

/// The stream and how far it is read.
struct Input<'a> {
    src: &'a [u8],
    at: usize,
}

impl Input<'_> {
    fn peek(&self) -> Result<u8, LzoError> {
        self.src.get(self.at).copied().ok_or(LzoError::InputOverrun)
    }

    fn byte(&mut self) -> Result<u8, LzoError> {
        let byte = self.peek()?;
        self.at += 1;
        Ok(byte)
    }

    /// A length field: `low` when not zero, otherwise `base` plus 255 for every zero
    /// byte that follows plus the first non-zero byte.
    fn length(&mut self, low: u8, base: usize) -> Result<usize, LzoError> {
        if low != 0 {
            return Ok(usize::from(low));
        }
        let mut len = base;
        loop {
            // Each zero byte is one byte of input, so `len` stays below 255 × src.len().
            match self.byte()? {
                0 => len += 255,
                byte => return Ok(len + usize::from(byte)),
            }
        }
    }

    /// The 14-bit distance of M3 and M4 (little-endian, above two bits that count the
    /// literals after the match), as stored, and those two bits.
    fn distance(&mut self) -> Result<(usize, u8), LzoError> {
        let low = self.byte()?;
        let high = self.byte()?;
        Ok(((usize::from(high) << 6) + usize::from(low >> 2), low & 3))
    }
}

/// Copy `count` literals from the stream to `dst[*op..]`.
#[inline(always)]
fn copy_literals(
    input: &mut Input<'_>,
    dst: &mut [u8],
    op: &mut usize,
    count: usize,
) -> Result<(), LzoError> {
    let from = input.at;
    let end = from.checked_add(count).filter(|&end| end <= input.src.len());
    let Some(end) = end else {
        return Err(LzoError::InputOverrun);
    };
    if *op + count > dst.len() {
        return Err(LzoError::OutputOverrun);
    }
    if count <= WIDE && from + WIDE <= input.src.len() && *op + WIDE <= dst.len() {
        // Most runs are short: one 16-byte move; the bytes past `count` are overwritten
        // by what comes next (or the stream is an error).
        dst[*op..*op + WIDE].copy_from_slice(&input.src[from..from + WIDE]);
    } else {
        dst[*op..*op + count].copy_from_slice(&input.src[from..end]);
    }
    input.at = end;
    *op += count;
    Ok(())
}

/// Append `len` bytes that repeat the output from `distance` back.
#[inline(always)]
fn copy_match(dst: &mut [u8], op: &mut usize, distance: usize, len: usize) -> Result<(), LzoError> {
    let Some(from) = op.checked_sub(distance) else {
        return Err(LzoError::LookbehindOverrun);
    };
    let end = *op + len;
    if end > dst.len() {
        return Err(LzoError::OutputOverrun);
    }
    // The fast paths below overshoot by up to a step; they cover the match up to where
    // a step still fits in the page, and the rest is copied byte by byte. (Pages often
    // end in one long match, of zeros say, so the cut is inside that match.)
    let fast_end = end.min(dst.len().saturating_sub(WIDE));
    let mut at = *op;
    if distance >= WIDE {
        // Each step copies bytes written at least a step earlier (or before the match),
        // so the result is that of byte-by-byte copying.
        while at < fast_end {
            let mut chunk = [0u8; WIDE];
            chunk.copy_from_slice(&dst[at - distance..at - distance + WIDE]);
            dst[at..at + WIDE].copy_from_slice(&chunk);
            at += WIDE;
        }
    } else if at < fast_end {
        // A short period (1..=15): the match repeats the `distance` bytes before it.
        // Spell a step of that repetition out once, in a register, and store it every
        // whole number of periods. Copying steps from the output instead loaded bytes
        // stored a moment before and stalled on store-to-load forwarding (perf: the
        // hottest instructions of the decoder), and so did building the step in memory.
        // `from + WIDE <= at + WIDE <= fast_end + WIDE <= dst.len()`.
        let mut first = [0u8; WIDE];
        first.copy_from_slice(&dst[from..from + WIDE]);
        let step = repeated(&first, distance);
        while at < fast_end {
            dst[at..at + WIDE].copy_from_slice(&step);
            at += STRIDE[distance];
        }
    }
    // `at` may be past `end` after a step's overshoot; the loop is then empty.
    for at in at..end {
        dst[at] = dst[at - distance];
    }
    *op = end;
    Ok(())
}

/// The whole number of periods of each short distance (1..=15) that fits in a step:
/// `d * (WIDE / d)`.
const STRIDE: [usize; WIDE] = {
    let mut stride = [0; WIDE];
    let mut d = 1;
    while d < WIDE {
        stride[d] = d * (WIDE / d);
        d += 1;
    }
    stride
};

/// A step's worth of the `period` (1..=15) bytes at `bytes[0..]` repeated from their
/// start, built by doubling in a 128-bit register. `bytes` holds a whole step: loading
/// all of it and masking is one load, where copying `period` bytes was a memcpy call.
#[inline(always)]
fn repeated(bytes: &[u8; WIDE], period: usize) -> [u8; WIDE] {
    let mut value = u128::from_le_bytes(*bytes) & ((1u128 << (8 * period)) - 1);
    let mut have = period;
    while have < WIDE {
        value |= value << (8 * have);
        have *= 2;
    }
    value.to_le_bytes()
}

#[cfg(test)]
mod tests;
