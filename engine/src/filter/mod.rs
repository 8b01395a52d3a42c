//! Page filtering: which pfns a dump level leaves out (makedumpfile `create_2nd_bitmap`).
//!
//! The writer builds the 2nd bitmap of a cycle from the PT_LOADs (set for every pfn of
//! `[floor(p_paddr / ps), floor((p_paddr + p_memsz) / ps))`, cleared from
//! `roundup(p_paddr + p_filesz)` on) and hands it to [`PageFilter::exclude`], which clears
//! the pfns the dump level excludes:
//!
//! 1. the mem_map scan (`exclude_unnecessary_pages`) when any of levels 2/4/8 is asked
//!    for, or the kernel exports `PG_hwpoison`, or level 16 is asked for and struct pages
//!    mark buddy pages — so hwpoison and offline pages go even at `-d 0`, exactly when
//!    makedumpfile drops them;
//! 2. the free-list walk (`exclude_free_page`) when level 16 is asked for and struct
//!    pages carry no buddy marker.
//!
//! ```text
//! let filter = PageFilter::new(vmcoreinfo, &vmcore, vmcore.loads(), level)?;
//! let mut reader = vmcore.reader()?;
//! let mut stats = FilterStats::default();
//! for cycle in cycles(filter.max_mapnr(), pfns_per_cycle) {
//!     let mut bits = /* PT_LOAD bits of the cycle */;
//!     filter.exclude(&mut *reader, cycle, &mut bits, &mut stats)?;
//! }
//! ```
//!
//! Cycles must be passed in ascending order for an exclusion that crosses a cycle
//! boundary to be carried over; starting again at pfn 0 (makedumpfile's second pass)
//! simply drops anything pending.
//!
//! Speed (serial, release build, 2-core VM, real 6.1 vmcore of a 1 GiB guest: 262 106
//! pfns, 16 MiB of struct pages): a whole pass takes 9.4 ms at `-d 31` and 11.8 ms at
//! `-d 8`, i.e. 22–28 M struct pages/s (`scan_speed_on_real_vmcore`, best of 30). A
//! profile puts ~60 % of that in mapping/unmapping the input's 4 MiB mmap windows and
//! copying from them, ~17 % in classification itself (≈ 5 ns per struct page); the
//! scan is therefore bound by the input reader, and a parallel scan would first need a
//! cheaper way to reach vmemmap than 4 MiB populated windows. makedumpfile 1.7.2 reports
//! 2.6 ms for the same step ("STEP [Excluding unnecessary pages]").

mod cycle;
mod dump_level;
mod free_list;
pub(crate) mod keys;
mod mem_section;
mod page;
mod scan;
mod stats;

use std::ops::Range;

#[cfg(test)]
pub use cycle::CycleBitmap;
pub use cycle::{cycles, DumpableBits};
pub use dump_level::DumpLevel;
pub use mem_section::MemMapRange;
pub use stats::{FilterStats, InvalidFreeOrder};

use crate::arch::{Translator, VirtualReader};
use crate::bitmap::Bitmap;
use crate::error::{Error, Result};
use crate::input::elf::PtLoad;
use crate::input::{PageReader, PhysicalMemory};
use crate::kernel_version::KernelVersion;
use crate::vmcoreinfo::VmcoreInfo;
use cycle::PendingExclusion;
use free_list::FreeLists;
use page::PageRules;
use crate::protect::ProtectedPages;

/// The filter for one dump level of one vmcore.
pub struct PageFilter<'m> {
    memory: &'m dyn PhysicalMemory,
    level: DumpLevel,
    translator: Translator,
    rules: PageRules,
    mem_maps: Vec<MemMapRange>,
    max_mapnr: u64,
    scan_mem_map: bool,
    free_lists: Option<FreeLists>,
    pending: Option<PendingExclusion>,
    protected: ProtectedPages,
}

impl std::fmt::Debug for PageFilter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageFilter")
            .field("level", &self.level)
            .field("max_mapnr", &self.max_mapnr)
            .field("sections", &self.mem_maps.len())
            .field("scan_mem_map", &self.scan_mem_map)
            .field("walk_free_lists", &self.free_lists.is_some())
            .finish()
    }
}

impl<'m> PageFilter<'m> {
    /// Prepare filtering: choose the page rules for this kernel, set up address
    /// translation from VMCOREINFO and `loads` (the input's PT_LOADs; empty for inputs
    /// without them, then `NUMBER(phys_base)` must be present) and find every section's
    /// mem_map.
    ///
    /// Like makedumpfile (which does all of this in `initial()` whenever VMCOREINFO is
    /// present), this runs even for levels that filter nothing, and fails on a vmcore
    /// whose mem_section can't be validated. Without VMCOREINFO the CLI must not build a
    /// filter: makedumpfile then allows only levels 0 and 1.
    pub fn new(
        info: &VmcoreInfo,
        memory: &'m dyn PhysicalMemory,
        loads: &[PtLoad],
        level: DumpLevel,
    ) -> Result<Self> {
        let page_size = memory.page_size();
        if let Some(vmcoreinfo_page_size) = info.page_size()? {
            if vmcoreinfo_page_size != page_size {
                return Err(Error::invalid(format!(
                    "VMCOREINFO: PAGESIZE={vmcoreinfo_page_size} differs from the input's page size {page_size}"
                )));
            }
        }
        let osrelease = info.osrelease().ok_or_else(|| {
            Error::invalid("VMCOREINFO lacks OSRELEASE: can't get the kernel version")
        })?;
        let version = KernelVersion::parse(osrelease)?;
        let translator = Translator::new(memory.arch(), info, loads, version, page_size)?;
        let rules = PageRules::new(info, version)?;

        let mut reader = memory.reader()?;
        let mem_maps = mem_section::find_mem_maps(
            info,
            &mut VirtualReader::new(&translator, &mut *reader),
            page_size,
            memory.max_mapnr(),
            version,
            rules.struct_page_size() as u64,
        )?;
        // get_mem_map: when the kernel used less memory than the vmcore holds (mem=),
        // only pfns up to the last present section count.
        let max_mapnr = mem_maps
            .iter()
            .map(|m| m.pfn_end)
            .max()
            .unwrap_or(0)
            .min(memory.max_mapnr());

        let buddy_detectable = level.excludes_free() && rules.buddy().is_some();
        let scan_mem_map = level.excludes_cache()
            || level.excludes_private_cache()
            || level.excludes_user()
            || rules.knows_hwpoison()
            || buddy_detectable;
        let free_lists = if level.excludes_free() && !buddy_detectable {
            Some(FreeLists::new(info)?)
        } else {
            None
        };

        let protected = if scan_mem_map || free_lists.is_some() {
            let kernel = crate::protect::Kernel {
                info,
                translator: &translator,
                mem_maps: &mem_maps,
                struct_page_size: rules.struct_page_size() as u64,
                page_size,
            };
            crate::protect::collect(&kernel, &mut *reader)
        } else {
            ProtectedPages::default()
        };
        drop(reader);

        Ok(PageFilter {
            memory,
            level,
            translator,
            rules,
            mem_maps,
            max_mapnr,
            scan_mem_map,
            free_lists,
            pending: None,
            protected,
        })
    }

    #[cfg(feature = "testing")]
    /// The dump level filtered for.
    pub fn level(&self) -> DumpLevel {
        self.level
    }

    /// makedumpfile's `max_mapnr` after `get_mem_map`: the input's, lowered to the end
    /// of the last present section. The bitmaps and the header use this value.
    pub fn max_mapnr(&self) -> u64 {
        self.max_mapnr
    }

    #[cfg(any(test, feature = "testing"))]
    /// The present sections and their mem_maps (`--message-level 8` prints them).
    pub fn mem_maps(&self) -> &[MemMapRange] {
        &self.mem_maps
    }

    #[cfg(feature = "testing")]
    /// The address translator (for `--vtop`).
    pub fn translator(&self) -> &Translator {
        &self.translator
    }

    /// The pages kept whatever the level (empty when the level excludes nothing).
    pub fn protected(&self) -> &ProtectedPages {
        &self.protected
    }

    /// Whether [`PageFilter::exclude`] does anything at this level.
    pub fn excludes_anything(&self) -> bool {
        self.scan_mem_map || self.free_lists.is_some()
    }

    /// Clear in `dumpable` the pfns of `cycle` this level excludes, adding them to
    /// `stats`. `dumpable` may be a whole-range [`crate::bitmap::Bitmap`] or a
    /// [`CycleBitmap`] covering at least `cycle`. A block that extends past `cycle.end`
    /// is finished by the call for the cycle starting there.
    ///
    /// Protected pages ([`crate::protect`]) that the level's rules clear are set again
    /// and counted in `stats.protected`.
    pub fn exclude(
        &mut self,
        reader: &mut dyn PageReader,
        cycle: Range<u64>,
        dumpable: &mut dyn DumpableBits,
        stats: &mut FilterStats,
    ) -> Result<()> {
        let cycle = cycle.start..cycle.end.min(self.max_mapnr);
        let snapshot = self.protected.snapshot(&cycle, dumpable);
        self.exclude_unprotected(reader, cycle, dumpable, stats)?;
        snapshot.restore(dumpable, stats);
        Ok(())
    }

    /// [`PageFilter::exclude`] without putting protected pages back.
    fn exclude_unprotected(
        &mut self,
        reader: &mut dyn PageReader,
        cycle: Range<u64>,
        dumpable: &mut dyn DumpableBits,
        stats: &mut FilterStats,
    ) -> Result<()> {
        let carried = self.carried_into(&cycle);
        self.pending = self.scan_part(reader, cycle.clone(), carried, dumpable, stats)?;
        self.exclude_free_lists(reader, cycle, dumpable, stats)
    }

    /// [`PageFilter::exclude`] with the mem_map scan of the cycle split between `threads`
    /// threads, each with its own reader, and the same result bit for bit and count for
    /// count. Parts start on multiples of [`PART_ALIGN`] pfns, so no part shares a struct
    /// page batch or a buddy block (order ≤ 10) with another; a block that does run
    /// into the next part (a huge compound page) is carried into it as into the next
    /// cycle, and that part is scanned again, after the one before it, as the serial
    /// scan would have.
    pub fn exclude_threaded(
        &mut self,
        cycle: Range<u64>,
        dumpable: &mut Bitmap,
        stats: &mut FilterStats,
        threads: usize,
    ) -> Result<()> {
        self.exclude_in_parts(cycle, dumpable, stats, threads, PART_ALIGN)
    }

    /// [`PageFilter::exclude_threaded`] with part boundaries on multiples of `align`
    /// (the tests use small ones so that blocks run across parts).
    fn exclude_in_parts(
        &mut self,
        cycle: Range<u64>,
        dumpable: &mut Bitmap,
        stats: &mut FilterStats,
        threads: usize,
        align: u64,
    ) -> Result<()> {
        let cycle = cycle.start..cycle.end.min(self.max_mapnr);
        let parts = split_cycle(&cycle, threads, align);
        if parts.len() < 2 || !self.scan_mem_map {
            let mut reader = self.memory.reader()?;
            return self.exclude(&mut *reader, cycle, dumpable, stats);
        }
        let snapshot = self.protected.snapshot(&cycle, &*dumpable);
        let mut carried = self.carried_into(&cycle);
        let first_carry = carried.take();
        let this = &*self;
        let scanned: Vec<Result<PartScan>> = std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .iter()
                .enumerate()
                .map(|(i, part)| {
                    let incoming = if i == 0 { first_carry } else { None };
                    scope.spawn(move || this.scan_alone(part.clone(), incoming))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        });
        // Merge in pfn order. Every part but the first was scanned as if nothing ran into
        // it; when something did, that part is scanned again with it.
        for (i, (part, result)) in parts.iter().zip(scanned).enumerate() {
            let scan = match carried.take() {
                Some(carry) if i > 0 => self.scan_alone(part.clone(), Some(carry))?,
                _ => result?,
            };
            dumpable.and_window(&scan.bits);
            stats.merge(scan.stats);
            carried = scan.carry;
        }
        self.pending = carried;
        let mut reader = self.memory.reader()?;
        self.exclude_free_lists(&mut *reader, cycle, dumpable, stats)?;
        snapshot.restore(dumpable, stats);
        Ok(())
    }

    /// The exclusion carried from the cycle before, if it ends where `cycle` starts.
    fn carried_into(&mut self, cycle: &Range<u64>) -> Option<PendingExclusion> {
        self.pending
            .take()
            .filter(|p| p.start == cycle.start && cycle.start < cycle.end)
    }

    /// Scan `part` on a reader of its own into a bitmap of its own.
    fn scan_alone(&self, part: Range<u64>, carried: Option<PendingExclusion>) -> Result<PartScan> {
        let mut reader = self.memory.reader()?;
        let mut bits = Bitmap::window(part.start, part.end);
        // All set from the window's own start (rounded down to 64): the merge ANDs the
        // whole window, and pfns before `part` are another part's.
        bits.fill_range(bits.start(), part.end, true);
        let mut stats = FilterStats::default();
        let carry = self.scan_part(&mut *reader, part, carried, &mut bits, &mut stats)?;
        Ok(PartScan { bits, stats, carry })
    }

    /// The mem_map scan of `part` (a cycle or a piece of one), after finishing `carried`;
    /// returns the exclusion that runs past `part.end`.
    fn scan_part(
        &self,
        reader: &mut dyn PageReader,
        part: Range<u64>,
        carried: Option<PendingExclusion>,
        dumpable: &mut dyn DumpableBits,
        stats: &mut FilterStats,
    ) -> Result<Option<PendingExclusion>> {
        let mut kernel = VirtualReader::new(&self.translator, reader);
        let mut scanner = scan::MemMapScanner {
            memory: self.memory,
            rules: &self.rules,
            level: self.level,
            cycle: part.clone(),
            dumpable,
            stats,
            pending: None,
        };
        let mut scan_from = part.start;
        if let Some(carried) = carried {
            scanner.exclude_range(carried.class, carried.start, carried.end);
            scan_from = carried.end;
        }
        if self.scan_mem_map {
            for range in self
                .mem_maps
                .iter()
                .filter(|m| m.pfn_end > part.start && m.pfn_start < part.end)
            {
                scanner.scan(&mut kernel, range, scan_from)?;
            }
        }
        Ok(scanner.pending)
    }

    /// Levels with free pages on kernels whose struct pages cannot tell them: walk the
    /// free lists (once per cycle, after the mem_map scan, as makedumpfile).
    fn exclude_free_lists(
        &self,
        reader: &mut dyn PageReader,
        cycle: Range<u64>,
        dumpable: &mut dyn DumpableBits,
        stats: &mut FilterStats,
    ) -> Result<()> {
        if let Some(free_lists) = &self.free_lists {
            let mut kernel = VirtualReader::new(&self.translator, reader);
            let size = self.rules.struct_page_size() as u64;
            free_lists.exclude(&mut kernel, &self.mem_maps, size, cycle, dumpable, stats)?;
        }
        Ok(())
    }
}

/// Parts of a threaded scan start on multiples of this many pfns: a multiple of the
/// struct page batch (512) and of the largest buddy block (1024 pages, order 10).
pub const PART_ALIGN: u64 = 1024;

/// What the scan of one part found.
struct PartScan {
    bits: Bitmap,
    stats: FilterStats,
    carry: Option<PendingExclusion>,
}

/// `cycle` in at most `threads` parts of about equal length, inner boundaries on
/// multiples of `align`.
fn split_cycle(cycle: &Range<u64>, threads: usize, align: u64) -> Vec<Range<u64>> {
    let len = cycle.end.saturating_sub(cycle.start);
    let step = len.div_ceil(threads.max(1) as u64).next_multiple_of(align);
    let mut parts = Vec::new();
    let mut start = cycle.start;
    while start < cycle.end {
        let end = (start + step).next_multiple_of(align).min(cycle.end);
        parts.push(start..end);
        start = end;
    }
    parts
}

#[cfg(test)]
mod tests;
