//! The two bitmaps before filtering, from the PT_LOADs alone.

use crate::bitmap::Bitmap;
use crate::input::elf::PtLoad;

/// The 1st bitmap: pfns `[floor(p_paddr / ps), floor((p_paddr + p_memsz) / ps))` of every
/// PT_LOAD (makedumpfile `create_bitmap_from_memhole`; a partial last page is not RAM).
/// Returns the bitmap and the number of pfns below `max_mapnr` that are holes.
pub fn ram_bitmap(loads: &[PtLoad], page_size: u64, max_mapnr: u64) -> (Bitmap, u64) {
    let mut ram = Bitmap::new(max_mapnr);
    for load in loads {
        ram.fill_range(load.phys_start / page_size, load.phys_end / page_size, true);
    }
    let holes = max_mapnr - ram.count_ones();
    (ram, holes)
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
        assert_eq!(holes, 0x14 - 7);
        let dumpable = initial_dumpable(&ram, &loads, 0x1000);
        let set: Vec<u64> = dumpable.iter_set(0, 0x14).collect();
        // filesz 0x1800 ends inside pfn 17: pfn 17 keeps its data (rest zero-filled).
        assert_eq!(set, vec![1, 2, 3, 16, 17]);
    }
}
