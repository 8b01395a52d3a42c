//! The kdump-compressed mode: one file or one flattened stream, from an ELF vmcore (cycle
//! by cycle, within the memory budget) or from a dump being refiltered.

use crate::dump::cycles::FilteredCycles;
use crate::dump::{write_kdump_cycles, write_kdump_from, DumpInput, DumpOptions};
use crate::error::Result;
use crate::input::elf::ElfVmcore;
use crate::input::kdump_memory::KdumpMemory;
use crate::input::PhysicalMemory;
use crate::progress::ProgressObserver;

use super::bitmaps;
use super::{DumpJob, JobReport};

impl DumpJob {
    /// The writer's options at `dump_level` with `threads` granted.
    pub(super) fn dump_options(&self, dump_level: u8, threads: usize) -> DumpOptions {
        DumpOptions {
            compression: self.compression,
            dump_level,
            threads,
            block_order: self.block_order,
        }
    }
}

/// An ELF vmcore to one kdump file or stream, bitmaps computed one cycle at a time.
pub(super) fn write_from_elf(
    job: &DumpJob,
    vmcore: &ElfVmcore,
    dump_level: u8,
    observer: &dyn ProgressObserver,
) -> Result<JobReport> {
    let filter = bitmaps::vmcore_filter(vmcore, job.input_name(), dump_level, observer)?;
    let max_mapnr = filter
        .as_ref()
        .map_or(vmcore.max_mapnr(), |f| f.max_mapnr());
    let plan = job.plan_budget(max_mapnr, vmcore.page_size(), job.threads, observer)?;
    let mut source =
        FilteredCycles::new(vmcore, filter, plan.pfns_per_cycle).scan_threads(plan.threads);
    let options = job.dump_options(dump_level, plan.threads);
    let input = DumpInput::from_elf(vmcore)?;
    let mut out = job.rules.open(job.single_output())?;
    let summary = write_kdump_cycles(&input, &mut source, &options, None, out.as_mut(), observer)?;
    Ok(JobReport {
        summary,
        stats: std::mem::take(&mut source.stats),
        dump_level,
        plan: Some(plan),
        verify: None,
    })
}

/// A kdump-compressed input refiltered into one kdump file or stream. Its bitmaps are
/// whole (the input's own bitmaps are the starting point), so the budget only decides the
/// threads.
pub(super) fn write_refiltered(
    job: &DumpJob,
    memory: &KdumpMemory,
    requested_level: u8,
    observer: &dyn ProgressObserver,
) -> Result<JobReport> {
    let level = bitmaps::of_dump(memory, job.input_name(), requested_level, observer)?;
    let plan = job.plan_budget(
        level.bitmaps.ram.len(),
        memory.page_size(),
        job.threads,
        observer,
    )?;
    let options = job.dump_options(level.dump_level, plan.threads);
    let input = DumpInput::from_kdump(memory);
    let mut out = job.rules.open(job.single_output())?;
    let summary = write_kdump_from(
        &input,
        &level.bitmaps,
        &options,
        None,
        out.as_mut(),
        observer,
    )?;
    Ok(JobReport {
        summary,
        stats: level.stats,
        dump_level: level.dump_level,
        plan: Some(plan),
        verify: None,
    })
}
