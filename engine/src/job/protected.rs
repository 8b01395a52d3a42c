//! The protected pages a dump of an input must contain, for `--verify` (issue 17).

use super::input::{self, JobInput};
use crate::arch::kdump_loads;
use crate::error::{Error, Result};
use crate::filter::{DumpLevel, PageFilter};
use crate::input::PhysicalMemory;

/// The pfns of `path`'s protected pages (`crate::protect`) that `path` holds: an ELF
/// vmcore's pages with data, or the RAM of a kdump-compressed dump (a page the dump lacks
/// is still required, so a dump that dropped one fails its check). Every dump written
/// from `path`, at any level, must contain them.
///
/// Hwpoison and offline pages are excluded from dumps even when protected; on the rare
/// machine with one inside the kernel image this list would ask for it too.
pub fn protected_pfns(path: &str) -> Result<Vec<u64>> {
    let kind = input::detect(path)?;
    let input = JobInput::open(path, kind, true)?;
    let level = DumpLevel::new(31)?;
    let no_vmcoreinfo = || {
        Error::invalid(format!(
            "{path}: no VMCOREINFO, so no protected pages to look for"
        ))
    };
    let (filter, holds): (PageFilter<'_>, Box<dyn Fn(u64) -> bool + '_>) = match &input {
        JobInput::Elf(vmcore) => {
            let info = vmcore.vmcoreinfo().ok_or_else(no_vmcoreinfo)?;
            let filter = PageFilter::new(info, vmcore, vmcore.loads(), level)?;
            (filter, Box::new(|pfn| vmcore.has_page(pfn)))
        }
        JobInput::Dump(memory) => {
            let info = memory.vmcoreinfo().ok_or_else(no_vmcoreinfo)?;
            let loads = kdump_loads(
                memory.arch(),
                Some(info),
                memory.dump().sub_header.phys_base,
            );
            let filter = PageFilter::new(info, memory, &loads, level)?;
            (filter, Box::new(|pfn| memory.ram().get(pfn)))
        }
    };
    Ok(filter
        .protected()
        .pfns()
        .filter(|&pfn| holds(pfn))
        .collect())
}
