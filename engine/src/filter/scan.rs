//! The mem_map scan of one cycle (makedumpfile `__exclude_unnecessary_pages`).
//!
//! For each pfn of the cycle that has data in the input (`is_in_segs`), its struct page
//! is classified by [`PageRules::classify`]. Struct pages are read from vmemmap in
//! batches aligned to 512 pfns, from the first pfn needed to the end of its batch (or of
//! the section), as makedumpfile's `PGMM_CACHED` page cache does — so the reads, and the
//! read errors, are the same.

use std::ops::Range;

use super::cycle::{DumpableBits, PendingExclusion};
use super::dump_level::DumpLevel;
use super::mem_section::MemMapRange;
use super::page::{PageRules, Verdict, STRUCT_PAGES_PER_BATCH};
use super::stats::{ExcludedClass, FilterStats, InvalidFreeOrder};
use crate::arch::VirtualReader;
use crate::error::Result;
use crate::input::PhysicalMemory;

/// One cycle's scan state.
pub(crate) struct MemMapScanner<'a> {
    pub memory: &'a dyn PhysicalMemory,
    pub rules: &'a PageRules,
    pub level: DumpLevel,
    pub cycle: Range<u64>,
    pub dumpable: &'a mut dyn DumpableBits,
    pub stats: &'a mut FilterStats,
    /// Set when an exclusion runs past the end of the cycle.
    pub pending: Option<PendingExclusion>,
}

impl MemMapScanner<'_> {
    /// makedumpfile `exclude_range`: clear `[start, end)` up to the cycle end, counting
    /// every pfn (set or not) as `class`, and remember what lies beyond.
    pub fn exclude_range(&mut self, class: ExcludedClass, start: u64, end: u64) {
        let clipped = end.min(self.cycle.end);
        if end > self.cycle.end {
            self.pending = Some(PendingExclusion {
                start: self.cycle.end,
                end,
                class,
            });
        }
        if start < clipped {
            self.dumpable.clear_range(start, clipped);
            self.stats.add(class, clipped - start);
            self.stats.note_never_kept(class, start, clipped);
        }
    }

    /// Scan the pfns of `range` inside the cycle, starting no earlier than `from`.
    pub fn scan(
        &mut self,
        kernel: &mut VirtualReader<'_, '_>,
        range: &MemMapRange,
        from: u64,
    ) -> Result<()> {
        let size = self.rules.struct_page_size() as u64;
        let end = range.pfn_end.min(self.cycle.end);
        let mut batch = vec![0u8; (STRUCT_PAGES_PER_BATCH * size) as usize];
        // pfns [batch_start, batch_end) are in `batch`, entry i at byte (i - batch_start) * size.
        let mut batch_start = 0u64;
        let mut batch_end = 0u64;
        let mut pfn = range.pfn_start.max(self.cycle.start).max(from);
        while pfn < end {
            if !self.memory.has_page(pfn) {
                pfn += 1;
                continue;
            }
            if pfn < batch_start || pfn >= batch_end {
                let read_end = (pfn / STRUCT_PAGES_PER_BATCH + 1)
                    .saturating_mul(STRUCT_PAGES_PER_BATCH)
                    .min(range.pfn_end);
                let bytes = ((read_end - pfn) * size) as usize;
                let vaddr = range.mem_map.wrapping_add((pfn - range.pfn_start) * size);
                kernel.read(vaddr, &mut batch[..bytes]).map_err(|e| {
                    e.context(format!(
                        "Can't read the buffer of struct page (pfn {pfn:#x}, mem_map {vaddr:#x})"
                    ))
                })?;
                batch_start = pfn;
                batch_end = read_end;
            }
            let at = ((pfn - batch_start) * size) as usize;
            let page = &batch[at..at + size as usize];
            // The order of a head lives in the next struct page; makedumpfile never looks
            // past the last entry of an aligned batch.
            let following = if pfn % STRUCT_PAGES_PER_BATCH == STRUCT_PAGES_PER_BATCH - 1 {
                &[][..]
            } else {
                &batch[at + size as usize..((batch_end - batch_start) * size) as usize]
            };
            match self.rules.classify(self.level, pfn, page, following) {
                Verdict::Keep => pfn += 1,
                Verdict::Exclude { class, pages: 1 } => {
                    self.dumpable.clear(pfn);
                    self.stats.add(class, 1);
                    self.stats.note_never_kept(class, pfn, pfn + 1);
                    pfn += 1;
                }
                Verdict::Exclude { class, pages } => {
                    self.exclude_range(class, pfn, pfn.saturating_add(pages));
                    pfn = pfn.saturating_add(pages);
                }
                Verdict::InvalidFreeOrder { order, max_order } => {
                    self.stats.warn_invalid_free_order(InvalidFreeOrder {
                        pfn,
                        order,
                        max_order,
                    });
                    pfn += 1;
                }
            }
        }
        Ok(())
    }
}
