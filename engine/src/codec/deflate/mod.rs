//! A zlib stream encoder that writes the same bytes as the C zlib's
//! `compress2(.., Z_BEST_SPEED)` (and a reused z_stream after `deflateReset`) for one page.
//!
//! Why: `-c` output must equal makedumpfile's byte for byte, and makedumpfile calls zlib.
//! Faster deflate libraries (zlib-ng, zlib-rs, libdeflate, miniz) all parse differently.
//! Profiling our serial `-c -d 1` run on the real vmcore put 85 % of the time in zlib
//! 1.2.13, and a third of that in Huffman tree construction (`pqdownheap`, `build_tree`)
//! for a 4 KiB block. Reproducing zlib's level-1 decisions for a single-block input lets
//! the implementation be faster where the decisions do not depend on it: the heap
//! compares one packed key instead of two indirections, matches are measured eight bytes
//! at a time, bits are stored 32 at a time, and a block zlib would store uncompressed is
//! recognised before any bit of it is written.
//!
//! The layout of the stream: the 2-byte zlib header for level 1 (0x78 0x01), one final
//! deflate block, the Adler-32 of the input, big-endian.
//!
//! Scope: inputs up to [`MAX_INPUT`] bytes, which zlib always encodes as one block. The
//! codec falls back to zlib for longer pages (16 KiB and 64 KiB page kernels).
//! Equivalence is checked against the system zlib by unit tests here, the property tests
//! in `proptests/tests/zlib.rs`, the `zlib_exact` fuzz target, and `cmp` of whole dumps against
//! makedumpfile on the real vmcores.

mod bits;
mod block;
mod huffman;
mod parse;
mod tables;

use self::bits::BitWriter;
use self::block::BlockEncoder;
use self::parse::Parser;

/// Longest input this encoder takes.
pub const MAX_INPUT: usize = parse::MAX_SINGLE_BLOCK_INPUT;

/// zlib header for deflate, 32 KiB window, level 1 (FLEVEL 0), no dictionary.
const ZLIB_HEADER: [u8; 2] = [0x78, 0x01];

/// Reusable state: match tables, symbol buffer, tree scratch.
pub struct ZlibLevel1 {
    parser: Parser,
    block: BlockEncoder,
}

impl ZlibLevel1 {
    /// Fresh tables (about 100 KiB).
    pub fn new() -> Self {
        ZlibLevel1 {
            parser: Parser::new(),
            block: BlockEncoder::new(),
        }
    }

    /// Write the zlib stream of `input` into `out`. `None` when `input` is longer than
    /// [`MAX_INPUT`] or the stream does not fit in `out`.
    pub fn compress(&mut self, input: &[u8], out: &mut [u8]) -> Option<usize> {
        if input.len() > MAX_INPUT {
            return None;
        }
        self.parser.parse(input);
        let mut writer = BitWriter::new(out);
        writer.put_bytes(&ZLIB_HEADER);
        self.block.encode(&self.parser.symbols, input, &mut writer);
        if writer.overflowed() {
            return None;
        }
        writer.put_bytes(&simd_adler32::adler32(&input).to_be_bytes());
        writer.finish()
    }
}

impl Default for ZlibLevel1 {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;
