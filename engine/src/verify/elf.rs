//! An ELF dump (`-E`): not kdump-compressed, so there are no descriptors or bitmaps to
//! check. What is checked is what the ELF reader checks before it trusts a vmcore: the
//! ELF header, every program header inside the file, every PT_NOTE and PT_LOAD segment's
//! bytes inside the file (a truncated file fails here), the notes well formed. The page
//! bytes themselves carry no checksum or encoding, so they cannot be checked further.

use std::path::Path;

use super::fault::Fault;
use crate::input::elf::ElfVmcore;
use crate::input::PhysicalMemory;

/// What was checked of an ELF dump.
pub(crate) struct ElfCheck {
    /// Pages the PT_LOAD segments hold in the file.
    pub pages: u64,
    /// The file's size.
    pub bytes: u64,
}

/// Check the ELF dump at `path` (named `name`); `must_be_present` pfns must be inside a
/// PT_LOAD segment's file bytes.
pub(crate) fn check(path: &Path, name: &str, must_be_present: &[u64]) -> Result<ElfCheck, Fault> {
    let vmcore =
        ElfVmcore::open(path, false).map_err(|e| Fault::from_error(name, "ELF headers", &e))?;
    let page_size = vmcore.page_size();
    let bytes = std::fs::metadata(path)
        .map_err(|e| Fault::io(name, "file size", &e))?
        .len();
    for &pfn in must_be_present {
        let paddr = pfn.saturating_mul(page_size);
        let present = vmcore
            .loads()
            .iter()
            .any(|load| paddr >= load.phys_start && paddr - load.phys_start < load.file_size);
        if !present {
            return Err(Fault::new(
                name,
                "protected page",
                "must be in the dump, but no PT_LOAD segment holds its bytes",
            )
            .at_pfn(pfn));
        }
    }
    let pages = vmcore
        .loads()
        .iter()
        .map(|load| load.file_size / page_size)
        .sum();
    Ok(ElfCheck { pages, bytes })
}
