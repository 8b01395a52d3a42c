//! One final deflate block, encoded as zlib's `_tr_flush_block` would: stored, fixed or
//! dynamic Huffman, whichever zlib's size estimate picks, with the dynamic trees
//! described by zlib's run-length scan (`scan_tree` / `send_tree`).

use super::bits::BitWriter;
use super::huffman::{Alphabet, BlockCost, Code, TreeBuilder};
use super::parse::Symbols;
use super::tables::{
    distance_code, CODE_LENGTH_CODES, CODE_LENGTH_EXTRA_BITS, CODE_LENGTH_ORDER, DISTANCE_BASE,
    DISTANCE_CODES, DISTANCE_EXTRA_BITS, END_OF_BLOCK, FIXED_DISTANCE_BITS, FIXED_DISTANCE_CODES,
    FIXED_LITERAL_CODES, FIXED_LITERAL_LENGTHS, LENGTH_BASE, LENGTH_CODE, LENGTH_EXTRA_BITS,
    LITERAL_CODES, MAX_CODE_BITS, MAX_CODE_LENGTH_BITS, REPEAT_PREVIOUS, REPEAT_ZERO_LONG,
    REPEAT_ZERO_SHORT,
};

const LITERALS: Alphabet = Alphabet {
    symbols: LITERAL_CODES,
    max_length: MAX_CODE_BITS as u8,
    extra_bits: &LENGTH_EXTRA_BITS,
    extra_base: END_OF_BLOCK + 1,
    fixed_lengths: Some(&FIXED_LITERAL_LENGTHS),
};

const DISTANCES: Alphabet = Alphabet {
    symbols: DISTANCE_CODES,
    max_length: MAX_CODE_BITS as u8,
    extra_bits: &DISTANCE_EXTRA_BITS,
    extra_base: 0,
    fixed_lengths: Some(&[FIXED_DISTANCE_BITS; DISTANCE_CODES]),
};

const CODE_LENGTHS: Alphabet = Alphabet {
    symbols: CODE_LENGTH_CODES,
    max_length: MAX_CODE_LENGTH_BITS as u8,
    extra_bits: &CODE_LENGTH_EXTRA_BITS,
    extra_base: 0,
    fixed_lengths: None,
};

/// Block type in the 3-bit header, shifted past BFINAL.
const STORED: u32 = 0 << 1;
const FIXED: u32 = 1 << 1;
const DYNAMIC: u32 = 2 << 1;
/// BFINAL: every block written here is the last.
const FINAL: u32 = 1;

/// The trees of one block; reused between blocks.
pub struct BlockEncoder {
    builder: TreeBuilder,
    literals: Code<{ LITERAL_CODES + 1 }>,
    distances: Code<{ DISTANCE_CODES + 1 }>,
    code_lengths: Code<{ CODE_LENGTH_CODES + 1 }>,
}

impl BlockEncoder {
    /// Empty trees.
    pub fn new() -> Self {
        BlockEncoder {
            builder: TreeBuilder::new(),
            literals: Code::new(),
            distances: Code::new(),
            code_lengths: Code::new(),
        }
    }

    /// Encode `symbols`, the parse of `input`, as the final block. Never inlined, for the
    /// reason given at `Parser::parse`.
    #[inline(never)]
    pub fn encode(&mut self, symbols: &Symbols, input: &[u8], out: &mut BitWriter) {
        let mut cost = BlockCost::default();
        self.builder.build(
            &LITERALS,
            &symbols.literal_freq,
            &mut self.literals,
            &mut cost,
        );
        self.builder.build(
            &DISTANCES,
            &symbols.distance_freq,
            &mut self.distances,
            &mut cost,
        );

        // build_bl_tree: the code-length code for both trees' run-length descriptions.
        let mut length_freq = [0u16; CODE_LENGTH_CODES];
        scan_lengths(&mut self.literals, |symbol, _, _| length_freq[symbol] += 1);
        scan_lengths(&mut self.distances, |symbol, _, _| length_freq[symbol] += 1);
        self.builder.build(
            &CODE_LENGTHS,
            &length_freq,
            &mut self.code_lengths,
            &mut cost,
        );
        let mut code_length_count = CODE_LENGTH_CODES;
        while code_length_count > 4
            && self.code_lengths.lengths[usize::from(CODE_LENGTH_ORDER[code_length_count - 1])] == 0
        {
            code_length_count -= 1;
        }
        cost.dynamic_bits += 3 * code_length_count as i64 + 5 + 5 + 4;

        // _tr_flush_block's choice, in bytes with the 3 header bits rounded up.
        let dynamic_bytes = (cost.dynamic_bits + 3 + 7) >> 3;
        let fixed_bytes = (cost.fixed_bits + 3 + 7) >> 3;
        let best_bytes = dynamic_bytes.min(fixed_bytes);
        if input.len() as i64 + 4 <= best_bytes {
            self.write_stored(input, out);
            return;
        } else if fixed_bytes == best_bytes {
            out.put(FIXED | FINAL, 3);
            write_symbols(
                symbols,
                &FIXED_LITERAL_CODES,
                &FIXED_LITERAL_LENGTHS,
                FixedDistances,
                out,
            );
        } else {
            out.put(DYNAMIC | FINAL, 3);
            self.write_trees(code_length_count, out);
            write_symbols(
                symbols,
                &self.literals.codes,
                &self.literals.lengths,
                DynamicDistances(&self.distances),
                out,
            );
        }
        out.align();
    }

    fn write_stored(&self, input: &[u8], out: &mut BitWriter) {
        // Pages that do not compress land here. Their stream (header byte, 4 length
        // bytes, the input, the 4-byte Adler-32) is longer than the page, so a page never
        // fits and nothing is copied.
        if out.room() < 1 + 4 + input.len() + 4 {
            out.give_up();
            return;
        }
        out.put(STORED | FINAL, 3);
        out.align();
        let len = input.len() as u16;
        out.put_bytes(&len.to_le_bytes());
        out.put_bytes(&(!len).to_le_bytes());
        out.put_bytes(input);
    }

    /// send_all_trees.
    fn write_trees(&mut self, code_length_count: usize, out: &mut BitWriter) {
        out.put((self.literals.max_code + 1 - 257) as u32, 5);
        out.put(self.distances.max_code as u32, 5);
        out.put(code_length_count as u32 - 4, 4);
        for &symbol in &CODE_LENGTH_ORDER[..code_length_count] {
            out.put(u32::from(self.code_lengths.lengths[usize::from(symbol)]), 3);
        }
        let code_lengths = &self.code_lengths;
        for code in [
            &mut self.literals as &mut dyn LengthTable,
            &mut self.distances,
        ] {
            code.scan(&mut |symbol, extra, extra_bits| {
                out.put(
                    u32::from(code_lengths.codes[symbol]),
                    u32::from(code_lengths.lengths[symbol]),
                );
                if extra_bits != 0 {
                    out.put(extra, extra_bits);
                }
            });
        }
    }
}

impl Default for BlockEncoder {
    fn default() -> Self {
        Self::new()
    }
}

/// A code whose lengths can be run-length scanned (both trees, whatever their size).
trait LengthTable {
    fn scan(&mut self, emit: &mut dyn FnMut(usize, u32, u32));
}

impl<const N: usize> LengthTable for Code<N> {
    fn scan(&mut self, emit: &mut dyn FnMut(usize, u32, u32)) {
        scan_lengths(self, emit);
    }
}

/// scan_tree / send_tree: walk the lengths 0..=max_code and emit code-length symbols
/// as `(symbol, extra value, extra bits)`. zlib's run rules: runs of zeros use 17/18 from
/// 3 on; other runs send the length once, then 16 for 3–6 repeats; a run ends early at
/// 7 (or 138 for zeros, 6 after a 16).
fn scan_lengths<const N: usize>(code: &mut Code<N>, mut emit: impl FnMut(usize, u32, u32)) {
    let max_code = code.max_code;
    let lengths = &mut code.lengths;
    // zlib's guard: a length no real one equals ends the last run.
    lengths[max_code + 1] = 0xffff;
    let mut previous: i32 = -1;
    let mut next = lengths[0];
    let mut count = 0u32;
    let (mut max_count, mut min_count) = if next == 0 { (138, 3) } else { (7, 4) };
    for n in 0..=max_code {
        let current = next;
        next = lengths[n + 1];
        count += 1;
        if count < max_count && current == next {
            continue;
        }
        let current_symbol = usize::from(current);
        if count < min_count {
            for _ in 0..count {
                emit(current_symbol, 0, 0);
            }
        } else if current != 0 {
            if i32::from(current) != previous {
                emit(current_symbol, 0, 0);
                count -= 1;
            }
            emit(REPEAT_PREVIOUS, count - 3, 2);
        } else if count <= 10 {
            emit(REPEAT_ZERO_SHORT, count - 3, 3);
        } else {
            emit(REPEAT_ZERO_LONG, count - 11, 7);
        }
        count = 0;
        previous = i32::from(current);
        (max_count, min_count) = if next == 0 {
            (138, 3)
        } else if current == next {
            (6, 3)
        } else {
            (7, 4)
        };
    }
    lengths[max_code + 1] = 0;
}

/// How distance codes are written: fixed 5-bit codes or a dynamic tree.
trait DistanceCodes {
    /// The (bit-reversed) code of distance code `code` and its length.
    fn code(&self, code: usize) -> (u32, u32);
}

struct FixedDistances;

impl DistanceCodes for FixedDistances {
    #[inline(always)]
    fn code(&self, code: usize) -> (u32, u32) {
        (
            u32::from(FIXED_DISTANCE_CODES[code]),
            u32::from(FIXED_DISTANCE_BITS),
        )
    }
}

struct DynamicDistances<'a>(&'a Code<{ DISTANCE_CODES + 1 }>);

impl DistanceCodes for DynamicDistances<'_> {
    #[inline(always)]
    fn code(&self, code: usize) -> (u32, u32) {
        (
            u32::from(self.0.codes[code]),
            u32::from(self.0.lengths[code]),
        )
    }
}

/// compress_block: the symbols, then end-of-block.
fn write_symbols<L: Copy + Into<u32>>(
    symbols: &Symbols,
    literal_codes: &[u16],
    literal_lengths: &[L],
    distances: impl DistanceCodes,
    out: &mut BitWriter,
) {
    let put_literal = |symbol: usize, out: &mut BitWriter| {
        out.put(
            u32::from(literal_codes[symbol]),
            literal_lengths[symbol].into(),
        );
    };
    for &packed in &symbols.packed {
        let distance = (packed >> 8) as usize;
        let lc = (packed & 0xff) as usize;
        if distance == 0 {
            put_literal(lc, out);
            continue;
        }
        // A match is two writes: the length code with its extra bits (at most 15 + 5),
        // then the distance code with its extra bits (at most 15 + 13).
        let length_code = usize::from(LENGTH_CODE[lc]);
        let symbol = 257 + length_code;
        let code_bits: u32 = literal_lengths[symbol].into();
        let extra = (lc - usize::from(LENGTH_BASE[length_code])) as u32;
        out.put(
            u32::from(literal_codes[symbol]) | extra << code_bits,
            code_bits + u32::from(LENGTH_EXTRA_BITS[length_code]),
        );
        let distance = distance - 1;
        let code = distance_code(distance);
        let (code_value, code_bits) = distances.code(code);
        let extra = (distance - usize::from(DISTANCE_BASE[code])) as u32;
        out.put(
            code_value | extra << code_bits,
            code_bits + u32::from(DISTANCE_EXTRA_BITS[code]),
        );
    }
    put_literal(END_OF_BLOCK, out);
}
