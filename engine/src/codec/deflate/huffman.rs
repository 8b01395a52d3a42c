//! zlib's Huffman code construction (trees.c `build_tree`, `gen_bitlen`, `gen_codes`),
//! reproduced so that every symbol gets the same code length as in zlib.
//!
//! Code lengths are not unique when frequencies tie, so the construction order matters:
//! - the heap orders nodes by (frequency, depth) and, at equal keys, prefers the right
//!   child and keeps the node being sifted down (zlib's `smaller` uses `<=`);
//! - a tree with fewer than two used symbols gets dummy symbols (the lowest unused of 0
//!   and 1, else 0) with frequency 1;
//! - lengths over the limit are repaired by zlib's bl_count shuffle and reassigned in
//!   the heap's frequency order.
//!
//! zlib compares through two indirections (tree[n].Freq, depth[n]); here each heap entry
//! carries its key, `frequency << 8 | depth`, above the node number, so a comparison is
//! one integer compare. That halved the cost of tree building on kernel pages.

use super::tables::{first_codes, reverse_bits, MAX_CODE_BITS};

/// Nodes of the largest tree: 286 leaves and 285 internal nodes, plus zlib's spare.
const HEAP_SIZE: usize = 2 * 286 + 1;

/// The static description of one alphabet (zlib's static_tree_desc).
pub struct Alphabet {
    /// Number of symbols.
    pub symbols: usize,
    /// Longest code allowed.
    pub max_length: u8,
    /// Extra bits of symbols from `extra_base` on.
    pub extra_bits: &'static [u8],
    /// First symbol with extra bits.
    pub extra_base: usize,
    /// The fixed code's lengths, when the alphabet has one (its cost is tracked too).
    pub fixed_lengths: Option<&'static [u8]>,
}

/// Bit counts of a block under the dynamic and the fixed codes (zlib's opt_len and
/// static_len), accumulated over the trees of one block.
#[derive(Default, Debug, Clone, Copy)]
pub struct BlockCost {
    /// Bits with the dynamic codes, later including the tree descriptions.
    pub dynamic_bits: i64,
    /// Bits with the fixed codes.
    pub fixed_bits: i64,
}

/// A finished code: per-symbol lengths and bit-reversed codes.
pub struct Code<const N: usize> {
    /// Code length per symbol, 0 = unused. One spare entry past the symbols for the
    /// run-length scanner's guard.
    pub lengths: [u16; N],
    /// The code of each used symbol, bit-reversed for an LSB-first stream.
    pub codes: [u16; N],
    /// Largest symbol with a non-zero frequency (or a dummy), zlib's max_code.
    pub max_code: usize,
}

impl<const N: usize> Code<N> {
    /// An empty code.
    pub fn new() -> Self {
        Code {
            lengths: [0; N],
            codes: [0; N],
            max_code: 0,
        }
    }
}

impl<const N: usize> Default for Code<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Scratch space for building one tree at a time.
pub struct TreeBuilder {
    /// 1-based binary heap of `key << 16 | node`, then [`SENTINEL`].
    heap: [u64; HEAP_SIZE + 2],
    /// Nodes in the order they left the heap, the root first (zlib's heap[heap_max..]).
    order: [u16; HEAP_SIZE],
    frequency: [u32; HEAP_SIZE],
    parent: [u16; HEAP_SIZE],
    length: [u8; HEAP_SIZE],
    length_count: [u16; MAX_CODE_BITS + 1],
}

/// Fills the slot after the last heap entry; larger than every real entry.
const SENTINEL: u64 = u64::MAX;

#[inline(always)]
fn entry(frequency: u32, depth: u32, node: usize) -> u64 {
    debug_assert!(frequency < 1 << 24 && depth < 256 && node < HEAP_SIZE);
    u64::from(frequency << 8 | depth) << 16 | node as u64
}

#[inline(always)]
fn key(entry: u64) -> u64 {
    entry >> 16
}

#[inline(always)]
fn node_of(entry: u64) -> usize {
    (entry & 0xffff) as usize
}

impl TreeBuilder {
    /// Empty scratch.
    pub fn new() -> Self {
        TreeBuilder {
            heap: [0; HEAP_SIZE + 2],
            order: [0; HEAP_SIZE],
            frequency: [0; HEAP_SIZE],
            parent: [0; HEAP_SIZE],
            length: [0; HEAP_SIZE],
            length_count: [0; MAX_CODE_BITS + 1],
        }
    }

    /// pqdownheap: sift the entry at `k` down a heap of `len` entries.
    ///
    /// `heap[len + 1]` must hold [`SENTINEL`], so that the last parent's missing right
    /// child never wins and the child choice needs no bounds test: it compiles to a
    /// conditional move instead of a branch that mispredicts half the time.
    #[inline(always)]
    fn sift_down(&mut self, mut k: usize, len: usize) {
        debug_assert!(len < HEAP_SIZE && self.heap[len + 1] == SENTINEL);
        let heap = &mut self.heap;
        let v = heap[k];
        let mut j = k << 1;
        while j <= len {
            // zlib's `smaller(heap[j + 1], heap[j])`: at equal keys the right child.
            let left = heap[j];
            let right = heap[j + 1];
            let take_right = key(right) <= key(left);
            let child = if take_right { right } else { left };
            j += usize::from(take_right);
            if key(v) <= key(child) {
                break;
            }
            heap[k] = child;
            k = j;
            j <<= 1;
        }
        heap[k] = v;
    }

    /// [`Self::sift_down`] for an entry that will most likely sink far (Floyd's
    /// variant): first move the smaller child up all the way to the bottom, then climb
    /// back while `v` belongs above. Along that path the keys never decrease, so the slot
    /// found is the one the top-down loop stops at; it needs one compare per level
    /// instead of two, and no unpredictable early exit on the way down.
    #[inline(always)]
    fn sift_down_from_top(&mut self, len: usize) {
        debug_assert!(len < HEAP_SIZE && self.heap[len + 1] == SENTINEL);
        let heap = &mut self.heap;
        let v = heap[1];
        let mut hole = 1;
        let mut j = 2;
        while j <= len {
            let left = heap[j];
            let right = heap[j + 1];
            let take_right = key(right) <= key(left);
            heap[hole] = if take_right { right } else { left };
            hole = j + usize::from(take_right);
            j = hole << 1;
        }
        while hole > 1 && key(v) <= key(heap[hole >> 1]) {
            heap[hole] = heap[hole >> 1];
            hole >>= 1;
        }
        heap[hole] = v;
    }

    /// Build the code for `frequency` (one entry per symbol of `alphabet`) into `code`,
    /// adding its cost to `cost`.
    pub fn build<const N: usize>(
        &mut self,
        alphabet: &Alphabet,
        frequency: &[u16],
        code: &mut Code<N>,
        cost: &mut BlockCost,
    ) {
        let symbols = alphabet.symbols;
        debug_assert!(frequency.len() == symbols && N > symbols);
        let mut heap_len = 0;
        let mut max_code: isize = -1;
        for (n, &f) in frequency.iter().enumerate() {
            self.frequency[n] = u32::from(f);
            if f != 0 {
                heap_len += 1;
                self.heap[heap_len] = entry(u32::from(f), 0, n);
                max_code = n as isize;
            }
        }
        // At least two codes, so that every used symbol gets at least one bit.
        while heap_len < 2 {
            let dummy = if max_code < 2 {
                max_code += 1;
                max_code as usize
            } else {
                0
            };
            heap_len += 1;
            self.heap[heap_len] = entry(1, 0, dummy);
            self.frequency[dummy] = 1;
            cost.dynamic_bits -= 1;
            if let Some(fixed) = alphabet.fixed_lengths {
                cost.fixed_bits -= i64::from(fixed[dummy]);
            }
        }
        let max_code = max_code as usize;
        code.max_code = max_code;
        self.heap[heap_len + 1] = SENTINEL;

        for k in (1..=heap_len / 2).rev() {
            self.sift_down(k, heap_len);
        }

        // Combine the two least frequent nodes until one is left.
        let mut next_node = symbols;
        let mut order_start = HEAP_SIZE;
        loop {
            let least = self.heap[1];
            self.heap[1] = self.heap[heap_len];
            self.heap[heap_len] = SENTINEL;
            heap_len -= 1;
            self.sift_down_from_top(heap_len);
            let second = self.heap[1];
            order_start -= 2;
            self.order[order_start + 1] = node_of(least) as u16;
            self.order[order_start] = node_of(second) as u16;

            let frequency = (key(least) >> 8) as u32 + (key(second) >> 8) as u32;
            let depth = (key(least) & 0xff).max(key(second) & 0xff) as u32 + 1;
            self.frequency[next_node] = frequency;
            self.parent[node_of(least)] = next_node as u16;
            self.parent[node_of(second)] = next_node as u16;
            self.heap[1] = entry(frequency, depth & 0xff, next_node);
            next_node += 1;
            self.sift_down(1, heap_len);
            if heap_len < 2 {
                break;
            }
        }
        order_start -= 1;
        self.order[order_start] = node_of(self.heap[1]) as u16;

        self.assign_lengths(alphabet, max_code, order_start, cost);

        for n in 0..symbols {
            code.lengths[n] = if n <= max_code && self.frequency[n] != 0 {
                u16::from(self.length[n])
            } else {
                0
            };
        }
        for n in symbols..N {
            code.lengths[n] = 0;
        }
        self.assign_codes(code);
    }

    /// gen_bitlen: depths from the root down, clamped to the limit, then repaired.
    fn assign_lengths(
        &mut self,
        alphabet: &Alphabet,
        max_code: usize,
        order_start: usize,
        cost: &mut BlockCost,
    ) {
        let max_length = alphabet.max_length;
        self.length_count = [0; MAX_CODE_BITS + 1];
        self.length[usize::from(self.order[order_start])] = 0;
        let mut overflow = 0i32;
        for h in order_start + 1..HEAP_SIZE {
            let n = usize::from(self.order[h]);
            let mut bits = self.length[usize::from(self.parent[n])] + 1;
            if bits > max_length {
                bits = max_length;
                overflow += 1;
            }
            self.length[n] = bits;
            if n > max_code {
                continue; // an internal node
            }
            self.length_count[usize::from(bits)] += 1;
            let extra = if n >= alphabet.extra_base {
                i64::from(alphabet.extra_bits[n - alphabet.extra_base])
            } else {
                0
            };
            let f = i64::from(self.frequency[n]);
            cost.dynamic_bits += f * (i64::from(bits) + extra);
            if let Some(fixed) = alphabet.fixed_lengths {
                cost.fixed_bits += f * (i64::from(fixed[n]) + extra);
            }
        }
        if overflow == 0 {
            return;
        }

        // Move leaves down from the deepest usable level until the lengths fit again.
        let max_length = usize::from(max_length);
        while overflow > 0 {
            let mut bits = max_length - 1;
            while self.length_count[bits] == 0 {
                bits -= 1;
            }
            self.length_count[bits] -= 1;
            self.length_count[bits + 1] += 2;
            self.length_count[max_length] -= 1;
            overflow -= 2;
        }
        // Hand the lengths out again, longest to the least frequent.
        let mut h = HEAP_SIZE;
        for bits in (1..=max_length).rev() {
            let mut remaining = self.length_count[bits];
            while remaining != 0 {
                h -= 1;
                let m = usize::from(self.order[h]);
                if m > max_code {
                    continue;
                }
                if usize::from(self.length[m]) != bits {
                    cost.dynamic_bits +=
                        (bits as i64 - i64::from(self.length[m])) * i64::from(self.frequency[m]);
                    self.length[m] = bits as u8;
                }
                remaining -= 1;
            }
        }
    }

    /// gen_codes: canonical codes from the lengths and their counts.
    fn assign_codes<const N: usize>(&self, code: &mut Code<N>) {
        let mut next = first_codes(&self.length_count);
        for n in 0..=code.max_code {
            let len = code.lengths[n];
            if len != 0 {
                code.codes[n] = reverse_bits(next[usize::from(len)], len as u8);
                next[usize::from(len)] += 1;
            }
        }
    }
}

impl Default for TreeBuilder {
    fn default() -> Self {
        Self::new()
    }
}
