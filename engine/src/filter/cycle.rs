//! Cyclic filtering: bounded bitmaps and exclusions that cross cycle boundaries.
//!
//! makedumpfile keeps the 2nd bitmap for one window ("cycle") of pfns at a time, so that
//! filtering a terabyte machine needs megabytes, not gigabytes (§6 of the reference;
//! default buffer ≤ 4 MiB = 32 Mi pfns per cycle, or `--cyclic-buffer KiB`). A compound
//! page or buddy block whose head is in one cycle may extend into the next; makedumpfile
//! remembers the rest in `cycle->exclude_pfn_*` and clears it first thing in the next
//! cycle. [`PendingExclusion`] is that memory.

use std::ops::Range;

use super::stats::ExcludedClass;
use crate::bitmap::Bitmap;

/// Default upper bound of the cyclic buffer (makedumpfile `calculate_cyclic_buffer_size`:
/// "4MB will be enough for performance according to benchmarks").
pub const DEFAULT_MAX_CYCLIC_BUFFER: u64 = 4 * 1024 * 1024;

/// A set of dumpable pfns the filter can clear bits in.
pub trait DumpableBits {
    /// Clear `[start, end)`; pfns outside the bitmap's window are ignored.
    fn clear_range(&mut self, start: u64, end: u64);

    /// Clear one pfn.
    fn clear(&mut self, pfn: u64) {
        self.clear_range(pfn, pfn + 1);
    }
}

impl DumpableBits for Bitmap {
    fn clear_range(&mut self, start: u64, end: u64) {
        self.fill_range(start, end, false);
    }

    #[inline]
    fn clear(&mut self, pfn: u64) {
        Bitmap::clear(self, pfn);
    }
}

/// The 2nd bitmap of one cycle: bit `i` is pfn `base + i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleBitmap {
    base: u64,
    bits: Bitmap,
}

impl CycleBitmap {
    /// An all-clear bitmap for the pfns of `cycle`.
    pub fn new(cycle: Range<u64>) -> Self {
        CycleBitmap {
            base: cycle.start,
            bits: Bitmap::new(cycle.end.saturating_sub(cycle.start)),
        }
    }

    /// The pfns covered.
    pub fn range(&self) -> Range<u64> {
        self.base..self.base + self.bits.len()
    }

    /// Set or clear `[start, end)` (absolute pfns), clipped to the window.
    pub fn fill_range(&mut self, start: u64, end: u64, value: bool) {
        let start = start.max(self.base);
        if start < end {
            self.bits
                .fill_range(start - self.base, end - self.base, value);
        }
    }

    /// Whether absolute `pfn` is set.
    pub fn get(&self, pfn: u64) -> bool {
        pfn.checked_sub(self.base).is_some_and(|i| self.bits.get(i))
    }

    /// The window's bytes, bit 0 = `base` (what makedumpfile writes for a cycle that
    /// starts on a multiple of 8).
    pub fn as_bytes(&self) -> &[u8] {
        self.bits.as_bytes()
    }
}

impl DumpableBits for CycleBitmap {
    fn clear_range(&mut self, start: u64, end: u64) {
        self.fill_range(start, end, false);
    }
}

/// makedumpfile's cycle size: `--cyclic-buffer KiB` gives `KiB × 1024 × 8` pfns; the
/// default buffer is `min(4 MiB, 60 % of free memory, 2 × max_mapnr / 8)` bytes.
pub fn pfns_per_cycle(max_mapnr: u64, cyclic_buffer_kib: Option<u64>, free_memory: u64) -> u64 {
    let bytes = match cyclic_buffer_kib {
        Some(kib) => (kib.saturating_mul(1024)).min(free_memory),
        None => DEFAULT_MAX_CYCLIC_BUFFER
            .min(free_memory / 10 * 6)
            .min(max_mapnr * 2 / 8),
    };
    (bytes * 8).max(8)
}

/// The cycles of a pass over `[0, max_mapnr)` (makedumpfile `for_each_cycle`).
pub fn cycles(max_mapnr: u64, pfns_per_cycle: u64) -> impl Iterator<Item = Range<u64>> {
    let step = pfns_per_cycle.max(1);
    (0..max_mapnr.div_ceil(step)).map(move |i| i * step..((i + 1) * step).min(max_mapnr))
}

/// The part of a multi-page exclusion beyond the cycle it started in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PendingExclusion {
    /// First pfn still to clear: the end of the cycle that found the head.
    pub start: u64,
    /// One past the last pfn of the block.
    pub end: u64,
    /// The counter the block is charged to.
    pub class: ExcludedClass,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_bitmap_is_indexed_from_its_base() {
        let mut bits = CycleBitmap::new(100..300);
        bits.fill_range(0, 1000, true);
        bits.clear_range(150, 160);
        assert!(
            bits.get(100) && !bits.get(99) && !bits.get(155) && bits.get(160) && !bits.get(300)
        );
        assert_eq!(bits.range(), 100..300);
    }

    #[test]
    fn cycles_cover_the_pfn_space_in_order() {
        let all: Vec<_> = cycles(20, 8).collect();
        assert_eq!(all, vec![0..8, 8..16, 16..20]);
        assert_eq!(pfns_per_cycle(0x3ffda, None, 1 << 40), 65526 * 8);
        assert_eq!(pfns_per_cycle(1 << 40, None, 1 << 40), 32 << 20);
        assert_eq!(pfns_per_cycle(1 << 40, Some(1), 1 << 40), 8192);
    }
}
