//! The two bitmaps before filtering, from the PT_LOADs alone.

use crate::bitmap::Bitmap;
use crate::input::elf::PtLoad;

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
