//! The bitmaps of a dump written from a kdump-compressed dump (refiltering).
//!
//! makedumpfile: the 1st bitmap is copied from the input (`copy_1st_bitmap_from_memory`),
//! the 2nd bitmap starts as the input's 2nd bitmap (`copy_bitmap_file` reads it from the
//! input when refiltering), and the new level's exclusions are cleared from it. A page
//! the input left out therefore stays out whatever the new level.

use crate::bitmap::Bitmap;
use crate::error::Result;
use crate::filter::{FilterStats, PageFilter};
use crate::input::kdump_memory::KdumpMemory;
use crate::input::PhysicalMemory;
use crate::progress::{ProgressObserver, Stage};

use super::DumpBitmaps;

impl DumpBitmaps {
    /// The bitmaps for refiltering `input` with `filter` (or, without VMCOREINFO, the
    /// input's own bitmaps), over `[0, max_mapnr)` where max_mapnr is the filter's.
    pub fn refiltered(
        input: &KdumpMemory,
        filter: Option<&mut PageFilter<'_>>,
        progress: &dyn ProgressObserver,
    ) -> Result<(Self, FilterStats)> {
        let max_mapnr = filter
            .as_ref()
            .map(|f| f.max_mapnr())
            .unwrap_or_else(|| input.max_mapnr());
        let ram = Bitmap::from_bytes(input.ram().as_bytes(), max_mapnr);
        let mut dumpable = Bitmap::from_bytes(input.dumpable().as_bytes(), max_mapnr);
        // makedumpfile: pfn_memhole = max_mapnr minus the bits of the copied 1st bitmap.
        let memory_holes = max_mapnr.saturating_sub(input.ram().count_ones());
        let mut stats = FilterStats::default();
        if let Some(filter) = filter {
            if filter.excludes_anything() {
                let start = std::time::Instant::now();
                let mut reader = input.reader()?;
                filter.exclude(&mut *reader, 0..max_mapnr, &mut dumpable, &mut stats)?;
                progress.update(Stage::UnnecessaryPages, max_mapnr, max_mapnr);
                progress.stage_done(Stage::UnnecessaryPages, start.elapsed());
            }
        }
        Ok((
            DumpBitmaps {
                ram,
                dumpable,
                memory_holes,
            },
            stats,
        ))
    }
}
