//! Where the bitmaps of a dump come from, one cycle (window of pfns) at a time.
//!
//! makedumpfile keeps the bitmaps of one cycle in memory, so that a terabyte machine is
//! dumped with megabytes of bitmap (reference §6): a counting pass filters every cycle to
//! learn how many descriptors there are (the data area starts after them), then the
//! writing pass filters every cycle again and writes its bitmaps and pages. When one cycle
//! covers the whole machine (the default up to 128 GiB with 4 KiB pages) the bitmap is
//! computed once.

use std::ops::Range;

use super::bitmaps::{memory_holes, ram_window};
use crate::bitmap::Bitmap;
use crate::error::Result;
use crate::filter::{cycles, FilterStats, PageFilter};
use crate::input::elf::ElfVmcore;
use crate::input::PhysicalMemory;
use crate::progress::{ProgressObserver, Stage};

/// Produces the 1st and 2nd bitmap of each cycle.
pub trait CycleSource {
    /// Highest pfn + 1.
    fn max_mapnr(&self) -> u64;
    /// makedumpfile's "Memory Hole" count.
    fn memory_holes(&self) -> u64;
    /// The cycles, ascending, covering `[0, max_mapnr)`.
    fn cycles(&self) -> Vec<Range<u64>>;
    /// The 1st bitmap (RAM) of `cycle`.
    fn ram(&mut self, cycle: Range<u64>) -> Result<Bitmap>;
    /// The 2nd bitmap (dumpable) of `cycle`. Cycles are asked in ascending order within a
    /// pass; a pass starts again at pfn 0.
    fn dumpable(&mut self, cycle: Range<u64>, progress: &dyn ProgressObserver) -> Result<Bitmap>;
    /// Called before the writing pass, so per-class counts are those of one pass.
    fn start_writing_pass(&mut self) {}
}

/// Cycle bitmaps computed from the vmcore's PT_LOADs and, with VMCOREINFO, its page filter.
pub struct FilteredCycles<'v, 'm> {
    vmcore: &'v ElfVmcore,
    filter: Option<PageFilter<'m>>,
    max_mapnr: u64,
    pfns_per_cycle: u64,
    /// Threads the mem_map scan of a cycle is split between (0 or 1: serial).
    scan_threads: usize,
    /// Per-class counts of the current pass.
    pub stats: FilterStats,
}

impl<'v, 'm> FilteredCycles<'v, 'm> {
    /// `pfns_per_cycle` is rounded up to a multiple of 64 (bitmap words line up).
    pub fn new(vmcore: &'v ElfVmcore, filter: Option<PageFilter<'m>>, pfns_per_cycle: u64) -> Self {
        let max_mapnr = filter
            .as_ref()
            .map_or(vmcore.max_mapnr(), |f| f.max_mapnr());
        FilteredCycles {
            vmcore,
            filter,
            max_mapnr,
            pfns_per_cycle: pfns_per_cycle.max(64).next_multiple_of(64),
            scan_threads: 0,
            stats: FilterStats::default(),
        }
    }

    /// Split each cycle's mem_map scan between `threads` threads (`--num-threads`): on a
    /// big, mostly free machine the scan, not compression, is most of a `-d 31` dump.
    pub fn scan_threads(mut self, threads: usize) -> Self {
        self.scan_threads = threads;
        self
    }
}

impl CycleSource for FilteredCycles<'_, '_> {
    fn max_mapnr(&self) -> u64 {
        self.max_mapnr
    }

    fn memory_holes(&self) -> u64 {
        memory_holes(self.vmcore.loads(), self.vmcore.page_size(), self.max_mapnr)
    }

    fn cycles(&self) -> Vec<Range<u64>> {
        cycles(self.max_mapnr, self.pfns_per_cycle).collect()
    }

    fn ram(&mut self, cycle: Range<u64>) -> Result<Bitmap> {
        Ok(ram_window(
            self.vmcore.loads(),
            self.vmcore.page_size(),
            cycle,
        ))
    }

    fn dumpable(&mut self, cycle: Range<u64>, progress: &dyn ProgressObserver) -> Result<Bitmap> {
        let page_size = self.vmcore.page_size();
        let mut bits = ram_window(self.vmcore.loads(), page_size, cycle.clone());
        for load in self.vmcore.loads() {
            bits.fill_range(
                (load.phys_start + load.file_size).div_ceil(page_size),
                load.phys_end.div_ceil(page_size),
                false,
            );
        }
        if let Some(filter) = self.filter.as_mut().filter(|f| f.excludes_anything()) {
            let start = std::time::Instant::now();
            if self.scan_threads > 1 {
                filter.exclude_threaded(cycle.clone(), &mut bits, &mut self.stats, self.scan_threads)?;
            } else {
                let mut reader = self.vmcore.reader()?;
                filter.exclude(&mut *reader, cycle.clone(), &mut bits, &mut self.stats)?;
            }
            progress.update(Stage::UnnecessaryPages, cycle.end, self.max_mapnr);
            progress.stage_done(Stage::UnnecessaryPages, start.elapsed());
        }
        Ok(bits)
    }

    fn start_writing_pass(&mut self) {
        self.stats = FilterStats::default();
    }
}

/// Precomputed whole bitmaps as a single cycle.
pub struct WholeBitmaps<'b> {
    /// The bitmaps.
    pub bitmaps: &'b super::DumpBitmaps,
}

impl CycleSource for WholeBitmaps<'_> {
    fn max_mapnr(&self) -> u64 {
        self.bitmaps.ram.end()
    }

    fn memory_holes(&self) -> u64 {
        self.bitmaps.memory_holes
    }

    fn cycles(&self) -> Vec<Range<u64>> {
        std::iter::once(0..self.bitmaps.ram.end()).collect()
    }

    fn ram(&mut self, _: Range<u64>) -> Result<Bitmap> {
        Ok(self.bitmaps.ram.clone())
    }

    fn dumpable(&mut self, _: Range<u64>, _: &dyn ProgressObserver) -> Result<Bitmap> {
        Ok(self.bitmaps.dumpable.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Compression;
    use crate::dump::{write_kdump_cycles, DumpOptions};
    use crate::filter::DumpLevel;
    use crate::format::MemoryOutput;
    use crate::progress::NoProgress;
    use crate::synthetic::SyntheticVmcore;

    /// Reading a regular file wholly through mmap windows (as /proc/vmcore is read), with
    /// only its pages mapped (as regular files are by default) or with pread
    /// (`--non-mmap`) writes the same dump, serially and with producer threads.
    #[test]
    fn mapped_and_pread_inputs_write_the_same_dump() {
        let path = std::env::temp_dir().join(format!("cycles-mmap-test-{}", std::process::id()));
        std::fs::write(&path, SyntheticVmcore::mixed(31).to_bytes()).unwrap();
        let dump = |vmcore: &ElfVmcore, threads: usize| {
            let info = vmcore.vmcoreinfo().unwrap().clone();
            let filter =
                PageFilter::new(&info, vmcore, vmcore.loads(), DumpLevel::new(31).unwrap()).unwrap();
            let mut source = FilteredCycles::new(vmcore, Some(filter), 192).scan_threads(threads);
            let mut out = MemoryOutput::default();
            let options = DumpOptions {
                compression: Compression::Zlib,
                dump_level: 31,
                threads,
                ..Default::default()
            };
            write_kdump_cycles(
                &crate::dump::DumpInput::from_elf(vmcore).unwrap(),
                &mut source,
                &options,
                None,
                &mut out,
                &NoProgress,
            )
            .unwrap();
            out.bytes
        };
        // Every read mapped (/proc/vmcore), pages mapped (a regular file), no mapping.
        let mapped = ElfVmcore::open_mapped(&path).unwrap();
        let pages_mapped = ElfVmcore::open(&path, true).unwrap();
        let pread = ElfVmcore::open(&path, false).unwrap();
        for threads in [0, 2] {
            let expected = dump(&pread, threads);
            assert!(
                dump(&mapped, threads) == expected && dump(&pages_mapped, threads) == expected,
                "mapped and pread reads differ with {threads} threads"
            );
        }
        std::fs::remove_file(path).unwrap();
    }

    /// An output that keeps the bytes but cannot read them back, as a stream: the writing
    /// pass then filters every cycle again instead of reading the 2nd bitmap back.
    #[derive(Default)]
    struct WriteOnly(MemoryOutput);

    impl crate::format::DumpOutput for WriteOnly {
        fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()> {
            self.0.write_at(offset, data)
        }
        fn finish(&mut self) -> Result<()> {
            self.0.finish()
        }
        fn bytes_written(&self) -> u64 {
            self.0.bytes_written()
        }
    }

    /// Cycles of 64, 192 and 512 pfns give the same bytes and counts as one cycle, with
    /// order-7 blocks (128 pfns) crossing cycle boundaries, whether the writing pass reads
    /// the 2nd bitmap back from the output or filters again.
    #[test]
    fn cyclic_output_equals_single_cycle_output() {
        let path = std::env::temp_dir().join(format!("cycles-test-{}", std::process::id()));
        std::fs::write(&path, SyntheticVmcore::mixed(31).to_bytes()).unwrap();
        let vmcore = ElfVmcore::open(&path, true).unwrap();
        let info = vmcore.vmcoreinfo().unwrap().clone();
        for level in [1u32, 8, 16, 31] {
            let mut outputs = Vec::new();
            for (per_cycle, read_back) in [(1 << 20, true), (64, true), (192, true), (512, true), (64, false), (192, false)] {
                let filter = PageFilter::new(
                    &info,
                    &vmcore,
                    vmcore.loads(),
                    DumpLevel::new(level).unwrap(),
                )
                .unwrap();
                let mut source = FilteredCycles::new(&vmcore, Some(filter), per_cycle);
                let mut memory = MemoryOutput::default();
                let mut write_only = WriteOnly::default();
                let out: &mut dyn crate::format::DumpOutput = if read_back {
                    &mut memory
                } else {
                    &mut write_only
                };
                let options = DumpOptions {
                    compression: Compression::Lzo,
                    dump_level: level as u8,
                    ..Default::default()
                };
                let summary = write_kdump_cycles(
                    &crate::dump::DumpInput::from_elf(&vmcore).unwrap(),
                    &mut source,
                    &options,
                    None,
                    out,
                    &NoProgress,
                )
                .unwrap();
                let bytes = if read_back { memory.bytes } else { write_only.0.bytes };
                outputs.push((
                    per_cycle,
                    bytes,
                    summary.num_dumpable,
                    source.stats.user,
                    source.stats.free,
                ));
            }
            let (_, first, dumpable, user, free) = &outputs[0];
            if level & 8 != 0 {
                assert!(
                    *user >= 128,
                    "the order-7 compound page counts as user data"
                );
            }
            if level & 16 != 0 {
                assert!(*free >= 128, "the order-7 buddy block counts as free");
            }
            for (per_cycle, bytes, d, u, f) in &outputs[1..] {
                assert!(
                    bytes == first,
                    "-d {level}: {per_cycle}-pfn cycles differ from one cycle"
                );
                assert_eq!(
                    (d, u, f),
                    (dumpable, user, free),
                    "-d {level}: counts with {per_cycle}-pfn cycles"
                );
            }
        }
        std::fs::remove_file(path).unwrap();
    }
}
