//! The `-E` mode: an ELF vmcore written back as an ELF core with the level's pages
//! (makedumpfile `write_elf_header` / `write_elf_pages_cyclic`; `dump::elf` does the
//! cutting and writing).

use crate::dump::elf::{exclude_zero_pages, write_elf};
use crate::dump::DumpSummary;
use crate::error::Result;
use crate::filter::DumpLevel;
use crate::input::elf::ElfVmcore;
use crate::input::PhysicalMemory;
use crate::progress::{MessageKind, ProgressObserver};

use super::bitmaps;
use super::{DumpJob, JobReport};

/// Write `vmcore` as an ELF core at `dump_level`.
pub(super) fn write(
    job: &DumpJob,
    vmcore: &ElfVmcore,
    dump_level: u8,
    observer: &dyn ProgressObserver,
) -> Result<JobReport> {
    let (mut bitmaps, stats) = bitmaps::of_vmcore(vmcore, job.input_name(), dump_level, observer)?;
    let zero_pages = if dump_level & DumpLevel::ZERO != 0 {
        exclude_zero_pages(vmcore, &mut bitmaps.dumpable)?
    } else {
        0
    };
    let mut out = job.rules.open(job.single_output())?;
    // On ENOSPC or -L the ELF header still carries e_flags bit 0 (incomplete).
    let elf = write_elf(vmcore, &bitmaps.dumpable, out.as_mut(), observer)?;
    observer.message(
        MessageKind::Debug,
        &format!(
            "PT_LOADs in the ELF dump: {}, pages excluded in ELF format: {:#x}\n",
            elf.loads, elf.elf_excluded
        ),
    );
    Ok(JobReport {
        summary: DumpSummary {
            max_mapnr: bitmaps.ram.len(),
            memory_holes: bitmaps.memory_holes,
            num_dumpable: elf.num_dumpable,
            zero_pages,
            bytes_written: elf.bytes_written,
            page_size: vmcore.page_size(),
            ..Default::default()
        },
        stats,
        dump_level,
        plan: None,
        verify: None,
    })
}
