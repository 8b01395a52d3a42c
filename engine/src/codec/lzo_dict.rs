//! LZO1X-1's match-candidate table, reset in O(1) per block.
//!
//! liblzo zeroes its 2^14-entry table before every block, and a zero entry is not
//! "empty": it names position 0 of the block as the candidate, which can produce a
//! match. So a stale entry from an earlier page must read exactly as 0. Each entry is
//! tagged with the generation (block number) that wrote it; an entry of another
//! generation reads as 0. Resetting is then one increment instead of a 32 KiB memset,
//! and the table is cleared for real only when the 16-bit generation wraps.

/// log2 of the table size: liblzo's `D_BITS` for `lzo1x_1_compress`.
pub const BITS: u32 = 14;
const SLOTS: usize = 1 << BITS;

/// Block-relative positions (< 48 KiB) tagged with the generation that stored them.
pub struct Dictionary {
    /// `generation << 16 | position`.
    slots: Box<[u32; SLOTS]>,
    /// The current block's tag, 1..=0xffff (0 is what a cleared slot carries).
    generation: u32,
}

impl Dictionary {
    /// An empty table (every slot reads as 0).
    pub fn new() -> Self {
        Dictionary {
            slots: Box::new([0; SLOTS]),
            generation: 0,
        }
    }

    /// Forget every entry: all slots read as 0 from now on.
    pub fn start_block(&mut self) {
        self.generation += 1;
        if self.generation > 0xffff {
            self.slots.fill(0);
            self.generation = 1;
        }
    }

    /// Store `position` in `slot` and return what the slot held in this block (0 if
    /// nothing). `slot` < 2^BITS, `position` < 2^16.
    #[inline(always)]
    pub fn replace(&mut self, slot: usize, position: usize) -> usize {
        let tag = self.generation << 16;
        let entry = &mut self.slots[slot & (SLOTS - 1)];
        let old = *entry;
        *entry = tag | position as u32;
        if old & 0xffff_0000 == tag {
            (old & 0xffff) as usize
        } else {
            0
        }
    }
}
