//! The two bitmaps before filtering, from the PT_LOADs alone.

use crate::bitmap::Bitmap;
use crate::error::{Error, Result};
use crate::input::elf::PtLoad;

/// Refuse bitmaps this machine cannot hold, before allocating them.
///
/// The whole-bitmap paths (`-E`, refiltering, `--split`; the main dump path is cyclic)
/// keep both bitmaps for `[0, max_mapnr)` plus a padded copy of one while writing it:
/// about `3 × max_mapnr / 8` bytes. `max_mapnr` comes from the highest PT_LOAD end, so one
/// corrupted `p_paddr` near 2^51 asked for 64 GiB and aborted the process on allocation
/// failure (tests/corruption.sh); with overcommit a smaller absurd value would instead
/// drive the capture kernel into the OOM killer. Half of physical memory is the bound.
pub fn check_memory(max_mapnr: u64, page_size: u64) -> Result<()> {
    let needed = max_mapnr.div_ceil(8).saturating_mul(3);
    let available = physical_memory() / 2;
    if needed > available {
        return Err(Error::invalid(format!(
            "the dump's bitmaps for max_mapnr {max_mapnr:#x} (physical addresses up to {:#x}) need {} MiB, more than half of this system's memory ({} MiB): a corrupted PT_LOAD p_paddr or mem_section?",
            max_mapnr.saturating_mul(page_size),
            needed >> 20,
            (available * 2) >> 20
        )));
    }
    Ok(())
}

/// Physical memory of this system in bytes (`sysconf`); unknown counts as unlimited.
fn physical_memory() -> u64 {
    // SAFETY: sysconf only reads system configuration; it has no memory-safety
    // preconditions and returns -1 for an unknown name.
    let (pages, page_size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if pages <= 0 || page_size <= 0 {
        return u64::MAX;
    }
    (pages as u64).saturating_mul(page_size as u64)
}

/// The 1st bitmap: pfns `[floor(p_paddr / ps), floor((p_paddr + p_memsz) / ps))` of every
/// PT_LOAD (makedumpfile `create_bitmap_from_memhole`; a partial last page is not RAM).
///
/// Returns the bitmap and makedumpfile's "Memory Hole" count: `max_mapnr` minus the pages
/// of every PT_LOAD counted separately, so the kernel-text segment that overlaps RAM is
/// counted twice, and a segment inside one bitmap byte twice again. That is what its report
/// prints (and what "Original pages" derives from); we reproduce it so the reports agree.
pub fn ram_bitmap(loads: &[PtLoad], page_size: u64, max_mapnr: u64) -> (Bitmap, u64) {
    (
        ram_window(loads, page_size, 0..max_mapnr),
        memory_holes(loads, page_size, max_mapnr),
    )
}

/// The 1st bitmap of the pfns `cycle` only.
pub fn ram_window(loads: &[PtLoad], page_size: u64, cycle: std::ops::Range<u64>) -> Bitmap {
    let mut ram = Bitmap::window(cycle.start, cycle.end);
    for load in loads {
        ram.fill_range(load.phys_start / page_size, load.phys_end / page_size, true);
    }
    ram
}

/// makedumpfile's "Memory Hole" count (see [`ram_bitmap`]).
pub fn memory_holes(loads: &[PtLoad], page_size: u64, max_mapnr: u64) -> u64 {
    let mut holes = max_mapnr as i64;
    for load in loads {
        let (start, end) = (
            (load.phys_start / page_size).min(max_mapnr),
            (load.phys_end / page_size).min(max_mapnr),
        );
        if start >= end {
            continue;
        }
        let head_end = start.next_multiple_of(8).min(end);
        let tail_start = (end - end % 8).max(start);
        let whole_bytes = (tail_start / 8).saturating_sub(head_end / 8);
        holes -= (head_end - start + whole_bytes * 8 + (end - tail_start)) as i64;
    }
    holes.max(0) as u64
}

/// The 2nd bitmap before page classification: the 1st bitmap minus the pages past each
/// PT_LOAD's `p_filesz` (makedumpfile `exclude_nodata_pages`: from the page holding the
/// first missing byte, rounded up, to the rounded-up end of the segment).
pub fn initial_dumpable(ram: &Bitmap, loads: &[PtLoad], page_size: u64) -> Bitmap {
    let mut dumpable = ram.clone();
    for load in loads {
        let start = (load.phys_start + load.file_size).div_ceil(page_size);
        let end = load.phys_end.div_ceil(page_size);
        dumpable.fill_range(start, end, false);
    }
    dumpable
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (tests/corruption.sh, no VMCOREINFO and a PT_LOAD at 2^51): the
    /// bitmaps of 2^39 pfns were allocated (64 GiB) and the process aborted.
    #[test]
    fn bitmaps_larger_than_memory_are_an_error_not_an_abort() {
        let err = check_memory(1 << 39, 4096).unwrap_err();
        assert!(err.to_string().contains("max_mapnr 0x8000000000"), "{err}");
        // A 1 TiB machine's bitmaps (2 × 32 MiB) are fine on any build host.
        check_memory(1 << 28, 4096).unwrap();
    }

    fn load(phys_start: u64, memsz: u64, filesz: u64) -> PtLoad {
        PtLoad {
            phys_start,
            phys_end: phys_start + memsz,
            virt_start: 0,
            file_offset: 0,
            file_size: filesz,
        }
    }

    #[test]
    fn partial_pages_are_not_ram_and_nodata_is_not_dumpable() {
        let loads = [load(0x1000, 0x3800, 0x3800), load(0x10000, 0x4000, 0x1800)];
        let (ram, holes) = ram_bitmap(&loads, 0x1000, 0x14);
        let set: Vec<u64> = ram.iter_set(0, 0x14).collect();
        assert_eq!(set, vec![1, 2, 3, 16, 17, 18, 19]);
        // pfns 1..4 sit inside one bitmap byte: makedumpfile counts them twice.
        assert_eq!(holes, 0x14 - 2 * 3 - 4);
        let dumpable = initial_dumpable(&ram, &loads, 0x1000);
        let set: Vec<u64> = dumpable.iter_set(0, 0x14).collect();
        // filesz 0x1800 ends inside pfn 17: pfn 17 keeps its data (rest zero-filled).
        assert_eq!(set, vec![1, 2, 3, 16, 17]);
    }
}
