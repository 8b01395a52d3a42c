//! `--mem-usage`: how the running kernel's pages would be classified by `-d 31`
//! (makedumpfile `show_mem_usage` / `print_mem_usage`).
//!
//! The memory is `/proc/kcore` opened with `ElfVmcore::open_kcore` (physical segments
//! only, the capture kernel's reservation cut out). As makedumpfile, one pass over all
//! pfns at dump level 31, then zero pages found by reading every page still dumpable (the
//! ELF writer's rule: `exclude_zero_pages_cyclic` runs for `flag_mem_usage` too).
//!
//! Ours then prints a second section, the dump size each level and codec would give
//! ([`estimate`]), from the same pass's page sets and a sample of page contents.

mod estimate;
mod live;
mod sample;

pub use self::estimate::{estimate_table, SizeEstimate};
pub use self::live::{measure_running_kernel, LiveMeasurement};

use self::estimate::KernelPages;

use crate::dump::elf::exclude_zero_pages;
use crate::dump::DumpBitmaps;
use crate::error::{Error, Result};
use crate::filter::{DumpLevel, PageFilter};
use crate::input::elf::ElfVmcore;
use crate::input::PhysicalMemory;
use crate::progress::NoProgress;
use crate::vmcoreinfo::VmcoreInfo;

/// makedumpfile `MAX_DUMP_LEVEL`: `--mem-usage` classifies with every exclusion on,
/// whatever `-d` says.
const MEM_USAGE_DUMP_LEVEL: u32 = 31;

/// Classify every page of `memory` as `-d 31` would; also returns the page sets.
pub(crate) fn measure(memory: &ElfVmcore) -> Result<(MemUsage, KernelPages)> {
    let info = vmcoreinfo(memory)?;
    let mut filter = PageFilter::new(
        info,
        memory,
        memory.loads(),
        DumpLevel::new(MEM_USAGE_DUMP_LEVEL)?,
    )
    .map_err(|e| e.context(memory.name()))?;
    let (mut bitmaps, stats) = DumpBitmaps::filtered(memory, &mut filter, &NoProgress)?;
    let all = bitmaps.dumpable.clone();
    let zero = exclude_zero_pages(memory, &mut bitmaps.dumpable)?;
    let usage = MemUsage {
        page_size: memory.page_size(),
        original: bitmaps.ram.len() - bitmaps.memory_holes,
        zero,
        cache: stats.cache,
        cache_private: stats.cache_private,
        user: stats.user,
        free: stats.free,
        other_excluded: stats.hwpoison + stats.offline,
    };
    let kernel = KernelPages {
        all,
        nonzero: bitmaps.dumpable,
        max_mapnr: bitmaps.ram.len(),
    };
    Ok((usage, kernel))
}

/// `memory`'s VMCOREINFO, which page classification cannot do without.
fn vmcoreinfo(memory: &ElfVmcore) -> Result<&VmcoreInfo> {
    memory.vmcoreinfo().ok_or_else(|| {
        Error::invalid(format!(
            "{}: no VMCOREINFO (neither a VMCOREINFO note nor /sys/kernel/vmcoreinfo)",
            memory.name()
        ))
    })
}

#[cfg(any(test, feature = "testing"))]
/// The table and the size estimates for a vmcore instead of the running kernel, so that
/// tests can set the estimate against real dumps of the same memory.
pub fn measure_vmcore(memory: &ElfVmcore, levels: &[u8]) -> Result<(MemUsage, Vec<SizeEstimate>)> {
    let (usage, kernel) = measure(memory)?;
    // A vmcore's own notes are what its dump will carry.
    let size_note = memory.notes().data.len() as u64;
    let estimates = estimate::estimate_sizes(
        memory,
        vmcoreinfo(memory)?,
        &kernel,
        levels,
        size_note,
        estimate::SAMPLE_PER_SET,
    )?;
    Ok((usage, estimates))
}

/// The counts `--mem-usage` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemUsage {
    /// Page size of the running kernel.
    pub page_size: u64,
    /// Pages that are RAM (`max_mapnr` minus the memory holes).
    pub original: u64,
    /// Zero pages.
    pub zero: u64,
    /// Non-private page cache.
    pub cache: u64,
    /// Private page cache.
    pub cache_private: u64,
    /// User pages.
    pub user: u64,
    /// Free pages.
    pub free: u64,
    /// Excluded for other reasons (hwpoison, offline): counted as excluded, not listed.
    pub other_excluded: u64,
}

impl MemUsage {
    /// The table exactly as makedumpfile prints it (tabs included).
    pub fn table(&self) -> String {
        let excluded = self.zero
            + self.cache
            + self.cache_private
            + self.user
            + self.free
            + self.other_excluded;
        let kernel = self.original.saturating_sub(excluded);
        let mut t = String::from("\n");
        t += "TYPE\t\tPAGES\t\t\tEXCLUDABLE\tDESCRIPTION\n";
        t += "----------------------------------------------------------------------\n";
        t += &format!("ZERO\t\t{:<16}\tyes\t\tPages filled with zero\n", self.zero);
        t += &format!(
            "NON_PRI_CACHE\t{:<16}\tyes\t\tCache pages without private flag\n",
            self.cache
        );
        t += &format!(
            "PRI_CACHE\t{:<16}\tyes\t\tCache pages with private flag\n",
            self.cache_private
        );
        t += &format!("USER\t\t{:<16}\tyes\t\tUser process pages\n", self.user);
        t += &format!("FREE\t\t{:<16}\tyes\t\tFree pages\n", self.free);
        t += &format!("KERN_DATA\t{kernel:<16}\tno\t\tDumpable kernel data \n");
        t += "\n";
        t += &format!("page size:\t\t{:<16}\n", self.page_size);
        t += &format!("Total pages on system:\t{:<16}\n", self.original);
        t += &format!(
            "Total size on system:\t{:<16} Byte\n",
            self.original * self.page_size
        );
        t
    }
}

#[cfg(test)]
// One-element lists of reserved ranges are meant as such (one "Crash kernel" line).
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;
    use crate::synthetic::SyntheticVmcore;
    use std::ops::Range;
    use std::path::{Path, PathBuf};

    /// A synthetic 6.1 machine written as a kcore-like file (two vmalloc-like segments
    /// without a physical address).
    fn kcore_file(tag: &str) -> (SyntheticVmcore, PathBuf) {
        let mut vmcore = SyntheticVmcore::mixed(7);
        vmcore.unmapped_segments = 2;
        let path = std::env::temp_dir().join(format!("kcore-{tag}-{}", std::process::id()));
        std::fs::write(&path, vmcore.to_bytes()).unwrap();
        (vmcore, path)
    }

    fn measure_with(path: &Path, reserved: &[Range<u64>]) -> MemUsage {
        measure(&ElfVmcore::open_kcore(path, reserved).unwrap())
            .unwrap()
            .0
    }

    #[test]
    fn kcore_segments_without_paddr_are_skipped_and_refused_in_a_vmcore() {
        let (_, path) = kcore_file("skip");
        let usage = measure_with(&path, &[]);
        let err = ElfVmcore::open(&path, false).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(
            err.to_string().contains("beyond any physical address"),
            "{err}"
        );
        // Something of every class, and the classes never exceed the RAM pages.
        assert!(usage.zero > 0 && usage.cache > 0 && usage.cache_private > 0);
        assert!(usage.user > 0 && usage.free > 0);
        assert!(usage.original > usage.zero + usage.cache + usage.user + usage.free);
    }

    /// Cutting the capture kernel's reservation out removes exactly its pages from each
    /// class. The synthetic machine classes data pfns by `pfn % 10` (0 cache, 1 anonymous,
    /// 2 free, 3 private cache, others kernel data or zero-filled), so the expected
    /// differences are counted here independently of the filter.
    #[test]
    fn the_crash_kernel_reservation_is_not_counted() {
        let (vmcore, path) = kcore_file("reserved");
        let pfns = 100..300u64;
        let reserved = [pfns.start * 4096..pfns.end * 4096];
        let whole = measure_with(&path, &[]);
        let cut = measure_with(&path, &reserved);
        std::fs::remove_file(&path).unwrap();
        let count = |class: u64| pfns.clone().filter(|pfn| pfn % 10 == class).count() as u64;
        let zero = pfns
            .clone()
            .filter(|pfn| pfn % 10 > 3 && vmcore.page(*pfn).iter().all(|&b| b == 0))
            .count() as u64;
        assert_eq!(whole.original - cut.original, pfns.end - pfns.start);
        assert_eq!(whole.cache - cut.cache, count(0));
        assert_eq!(whole.user - cut.user, count(1));
        assert_eq!(whole.free - cut.free, count(2));
        assert_eq!(whole.cache_private - cut.cache_private, count(3));
        assert_eq!(whole.zero - cut.zero, zero);
        assert!(
            zero > 0,
            "the range should hold zero pages for this test to mean much"
        );
    }

    #[test]
    fn table_matches_makedumpfiles_layout() {
        let usage = MemUsage {
            page_size: 4096,
            original: 1000,
            zero: 10,
            cache: 20,
            cache_private: 30,
            user: 40,
            free: 500,
            other_excluded: 0,
        };
        let expected = "\nTYPE\t\tPAGES\t\t\tEXCLUDABLE\tDESCRIPTION\n\
            ----------------------------------------------------------------------\n\
            ZERO\t\t10              \tyes\t\tPages filled with zero\n\
            NON_PRI_CACHE\t20              \tyes\t\tCache pages without private flag\n\
            PRI_CACHE\t30              \tyes\t\tCache pages with private flag\n\
            USER\t\t40              \tyes\t\tUser process pages\n\
            FREE\t\t500             \tyes\t\tFree pages\n\
            KERN_DATA\t400             \tno\t\tDumpable kernel data \n\
            \n\
            page size:\t\t4096            \n\
            Total pages on system:\t1000            \n\
            Total size on system:\t4096000          Byte\n";
        assert_eq!(usage.table(), expected);
    }
}
