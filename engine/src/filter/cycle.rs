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

/// A set of dumpable pfns the filter can clear bits in.
pub trait DumpableBits {
    /// Clear `[start, end)`; pfns outside the bitmap's window are ignored.
    fn clear_range(&mut self, start: u64, end: u64);

    /// Clear one pfn.
    fn clear(&mut self, pfn: u64) {
        self.clear_range(pfn, pfn + 1);
    }

    /// Whether `pfn` is set (false outside the window).
    fn get(&self, pfn: u64) -> bool;

    /// Set one pfn inside the window (protected pages put back after filtering).
    fn set(&mut self, pfn: u64);
}

impl DumpableBits for Bitmap {
    fn clear_range(&mut self, start: u64, end: u64) {
        self.fill_range(start, end, false);
    }

    #[inline]
    fn clear(&mut self, pfn: u64) {
        Bitmap::clear(self, pfn);
    }

    fn get(&self, pfn: u64) -> bool {
        Bitmap::get(self, pfn)
    }

    fn set(&mut self, pfn: u64) {
        Bitmap::set(self, pfn);
    }
}

#[cfg(test)]
/// The 2nd bitmap of one cycle: bit `i` is pfn `base + i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleBitmap {
    base: u64,
    bits: Bitmap,
}

#[cfg(test)]
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
}

#[cfg(test)]
impl DumpableBits for CycleBitmap {
    fn clear_range(&mut self, start: u64, end: u64) {
        self.fill_range(start, end, false);
    }

    fn get(&self, pfn: u64) -> bool {
        CycleBitmap::get(self, pfn)
    }

    fn set(&mut self, pfn: u64) {
        self.fill_range(pfn, pfn + 1, true);
    }
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
    }
}
