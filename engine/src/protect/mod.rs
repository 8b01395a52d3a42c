//! Pages that analysis needs, kept whatever the dump level and whatever their struct
//! page says (issue 17).
//!
//! makedumpfile decides page by page from `struct page`, and when its reading of a
//! kernel's struct pages is wrong, a page that crash or drgn needs to open the dump is
//! dropped and the dump is useless: makedumpfile issue 21 (1.7.4+ on Linux 6.6+, a 2 MiB
//! compound page taken for hugetlb takes `idt_table` with it; crash stops with "page
//! excluded: kernel virtual address … type: idt_table"), crash issue 156 (arm64,
//! `xa_node.slots`). We keep these pages — never more: where the struct pages are read
//! right, none of them is excludable and the dump stays byte-identical to makedumpfile's.
//!
//! What a reader touches first when it opens a dump (crash `x86_64_init`/`vm_init`/
//! `kernel_init`, drgn `linux_kernel_*` and its VMCOREINFO-based kallsyms):
//! - the kernel image: text, rodata (kallsyms tables), data and bss (`init_task`,
//!   `idt_table`, `node_data`, `__per_cpu_offset`, `init_uts_ns`, …). Only the image
//!   pages the kernel still owns: after boot it frees its init sections (and on x86_64
//!   the text/rodata and rodata/data gaps), and those pages may since hold anything, so
//!   a kernel-image page is protected only while its struct page has `PG_reserved`. That
//!   one bit is trusted because the kernel sets it for the whole image at boot
//!   (memblock) and clears it only when it frees a page (`free_reserved_page`); the bugs
//!   above come from reading other fields (compound heads, `_mapcount` types, `mapping`).
//!   Which pages are the image comes from the kernel-image mapping in the page tables
//!   (every leaf of `__START_KERNEL_map`; on arm64 every leaf mapped at `kimage_voffset`
//!   above its physical address), so kdump inputs, which have no PT_LOADs, are covered
//!   too;
//! - the kernel's page tables: every table page reachable from `init_top_pgt`
//!   (`swapper_pg_dir`): readers translate every non-direct-map address through them;
//! - the struct page arrays (the pages backing vmemmap) and the `mem_section` arrays
//!   that locate them: `kmem`, `ps`, drgn's page helpers and makedumpfile's own refilter
//!   read them;
//! - every object VMCOREINFO names with `SYMBOL(…)`: the page holding it;
//! - the printk ring buffer (descriptors, infos, text) or the old `log_buf`: `log`,
//!   drgn's `get_dmesg`, makedumpfile `--dump-dmesg` of the dump.
//!
//! Not covered, and why: per-cpu areas and slab objects (task structs, runqueues) are
//! found only through symbols a vmlinux gives, not VMCOREINFO; their pages are ordinary
//! kernel allocations (slab, percpu chunks) that no dump level excludes.
//!
//! Building the set is a best effort on top of the dump: a part that cannot be read
//! (a hole, a corrupt table) is left out with a note in [`ProtectedPages::notes`], never
//! an error — makedumpfile would still write the dump.

mod sources;

use std::ops::Range;

use crate::bitmap::Bitmap;
use crate::filter::{DumpableBits, FilterStats};

pub(crate) use sources::{collect, Kernel};

/// Why a page is protected (printed with the pfns that were kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// A page of the kernel image the kernel still owns (`PG_reserved`).
    KernelImage,
    /// A page table of the kernel's own mappings.
    PageTable,
    /// A page of the struct page arrays (vmemmap).
    MemMap,
    /// A page of the `mem_section` arrays.
    MemSection,
    /// The printk ring buffer or `log_buf`.
    PrintkBuffer,
    /// The page holding the object VMCOREINFO names `SYMBOL(name)`.
    Symbol(String),
}

impl std::fmt::Display for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Protection::KernelImage => f.write_str("kernel image page the kernel still owns"),
            Protection::PageTable => f.write_str("kernel page table"),
            Protection::MemMap => f.write_str("struct page array (vmemmap)"),
            Protection::MemSection => f.write_str("mem_section array"),
            Protection::PrintkBuffer => f.write_str("printk ring buffer"),
            Protection::Symbol(name) => write!(f, "holds VMCOREINFO SYMBOL({name})"),
        }
    }
}

/// A protected pfn that the dump level's rules would have excluded, and why it was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptPage {
    /// The page frame.
    pub pfn: u64,
    /// Why it is protected.
    pub why: Protection,
}

/// The protected pfns of one dumped kernel: sorted, disjoint ranges.
#[derive(Debug, Clone, Default)]
pub struct ProtectedPages {
    ranges: Vec<(Range<u64>, Protection)>,
    notes: Vec<String>,
}

impl ProtectedPages {
    /// The set of `ranges` (any order, may overlap; on overlap the earlier range's reason
    /// is kept), with `notes` on the parts that could not be found.
    pub(crate) fn new(mut ranges: Vec<(Range<u64>, Protection)>, notes: Vec<String>) -> Self {
        ranges.retain(|(r, _)| r.start < r.end);
        // Stable: among equal starts, the first given wins.
        ranges.sort_by_key(|(r, _)| r.start);
        let mut merged: Vec<(Range<u64>, Protection)> = Vec::with_capacity(ranges.len());
        for (range, why) in ranges {
            match merged.last_mut() {
                // Overlapping, or adjacent for the same reason: one range.
                Some((last, last_why))
                    if range.start < last.end || (range.start == last.end && *last_why == why) =>
                {
                    last.end = last.end.max(range.end);
                }
                _ => merged.push((range, why)),
            }
        }
        ProtectedPages {
            ranges: merged,
            notes,
        }
    }

    /// Number of protected pfns.
    pub fn pfn_count(&self) -> u64 {
        self.ranges.iter().map(|(r, _)| r.end - r.start).sum()
    }

    #[cfg(test)]
    /// The protected ranges and why.
    pub fn ranges(&self) -> &[(Range<u64>, Protection)] {
        &self.ranges
    }

    /// Every protected pfn, ascending.
    pub fn pfns(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().flat_map(|(range, _)| range.clone())
    }

    /// One paragraph for `--message-level` debug output: how many pfns of each kind, and
    /// the notes.
    pub fn describe(&self) -> String {
        let mut counts = [0u64; 6];
        for (range, why) in &self.ranges {
            let kind = match why {
                Protection::KernelImage => 0,
                Protection::PageTable => 1,
                Protection::MemMap => 2,
                Protection::MemSection => 3,
                Protection::PrintkBuffer => 4,
                Protection::Symbol(_) => 5,
            };
            counts[kind] += range.end - range.start;
        }
        let mut text = format!(
            "Protected pages : {} in {} ranges (kernel image {}, page tables {}, struct pages {}, mem_section {}, printk buffer {}, VMCOREINFO symbols {})\n",
            self.pfn_count(),
            self.ranges.len(),
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            counts[4],
            counts[5]
        );
        for note in &self.notes {
            text += &format!("  not protected: {note}\n");
        }
        text
    }

    /// The protected pfns of `cycle` that are set in `dumpable` before the dump level's
    /// rules run: the only ones [`Snapshot::restore`] may set again (a pfn the input
    /// does not hold, or that an earlier filter left out, stays out).
    pub(crate) fn snapshot(&self, cycle: &Range<u64>, dumpable: &dyn DumpableBits) -> Snapshot {
        let first = self.ranges.partition_point(|(r, _)| r.end <= cycle.start);
        let mut parts = Vec::new();
        for (range, why) in &self.ranges[first..] {
            if range.start >= cycle.end {
                break;
            }
            let start = range.start.max(cycle.start);
            let end = range.end.min(cycle.end);
            let mut bits = Bitmap::window(start, end);
            for pfn in start..end {
                if dumpable.get(pfn) {
                    bits.set(pfn);
                }
            }
            parts.push((start..end, bits, why.clone()));
        }
        Snapshot { parts }
    }
}

/// The protected pfns of one cycle as they were before filtering.
pub(crate) struct Snapshot {
    parts: Vec<(Range<u64>, Bitmap, Protection)>,
}

/// At most this many kept pages are listed (the count is always exact).
pub const MAX_LISTED_KEPT_PAGES: usize = 64;

impl Snapshot {
    /// Set again every protected pfn the rules cleared, except hwpoison and offline
    /// pages (`stats.never_kept`, emptied here); count them in `stats.protected` and
    /// list the first [`MAX_LISTED_KEPT_PAGES`].
    pub(crate) fn restore(self, dumpable: &mut dyn DumpableBits, stats: &mut FilterStats) {
        let never_kept = std::mem::take(&mut stats.never_kept);
        for (range, bits, why) in self.parts {
            for pfn in bits.iter_set(range.start, range.end) {
                if dumpable.get(pfn) || never_kept.iter().any(|r| r.contains(&pfn)) {
                    continue;
                }
                dumpable.set(pfn);
                stats.protected += 1;
                if stats.protected_pages.len() < MAX_LISTED_KEPT_PAGES {
                    stats.protected_pages.push(KeptPage {
                        pfn,
                        why: why.clone(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_ranges_merge_and_keep_the_first_reason() {
        let set = ProtectedPages::new(
            vec![
                (10..20, Protection::KernelImage),
                (15..30, Protection::PageTable),
                (30..31, Protection::MemMap),
                (40..40, Protection::MemMap),
                (5..6, Protection::PrintkBuffer),
            ],
            vec![],
        );
        assert_eq!(
            set.ranges(),
            &[
                (5..6, Protection::PrintkBuffer),
                (10..30, Protection::KernelImage),
                (30..31, Protection::MemMap),
            ]
        );
        assert_eq!(set.pfn_count(), 22);
    }

    #[test]
    fn restore_sets_only_what_was_set_before_and_counts_it() {
        let set = ProtectedPages::new(vec![(8..16, Protection::PageTable)], vec![]);
        let mut bits = Bitmap::new(64);
        bits.fill_range(0, 64, true);
        bits.clear(9); // not in the input: must stay clear
        let snapshot = set.snapshot(&(0..64), &bits);
        bits.fill_range(0, 32, false); // the rules drop 0..32
        let mut stats = FilterStats::default();
        stats.never_kept.push(14..15); // hwpoison: stays out
        snapshot.restore(&mut bits, &mut stats);
        assert_eq!(stats.protected, 6);
        assert!(!bits.get(9) && bits.get(8) && !bits.get(14) && bits.get(15) && !bits.get(16));
        assert_eq!(
            stats.protected_pages[0],
            KeptPage {
                pfn: 8,
                why: Protection::PageTable
            }
        );
        assert!(stats.never_kept.is_empty());
    }

    #[test]
    fn snapshot_is_limited_to_the_cycle() {
        let set = ProtectedPages::new(vec![(0..100, Protection::MemMap)], vec![]);
        let mut bits = Bitmap::window(50, 60);
        bits.fill_range(50, 60, true);
        let snapshot = set.snapshot(&(50..60), &bits);
        bits.fill_range(50, 60, false);
        let mut stats = FilterStats::default();
        snapshot.restore(&mut bits, &mut stats);
        assert_eq!(stats.protected, 10);
    }
}
