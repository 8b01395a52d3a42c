//! Writing a kdump-compressed dump from an ELF vmcore: reserve the layout, write headers,
//! notes and bitmaps, then stream descriptors and page data through the pipeline.
//!
//! The main header is written LAST. Until the very end the file has no `KDUMP` signature,
//! so a run that dies half way (killed, power loss, read error) never leaves a file that
//! readers take for a complete dump. makedumpfile writes it first.

pub mod bitmaps;
pub mod header;
pub mod sink;
pub mod worker;

use crate::bitmap::Bitmap;
use crate::codec::Compression;
use crate::error::{Error, Result};
use crate::filter::{FilterStats, PageFilter};
use crate::format::{DumpOutput, KdumpLayout, KDUMP_SUB_HEADER_SIZE};
use crate::input::elf::ElfVmcore;
use crate::input::PhysicalMemory;
use crate::pipeline::{self, PipelineConfig};
use crate::progress::{ProgressObserver, Stage};

use self::header::{build_headers, phys_base, read_utsname, HeaderFields};
use self::sink::KdumpPageSink;
use self::worker::DumpPageWorker;

/// Dump level bit 1: zero pages share one descriptor.
pub const DL_EXCLUDE_ZERO: u8 = 1;

/// How to write the dump.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// Per-page compression.
    pub compression: Compression,
    /// `-d` level (0..31).
    pub dump_level: u8,
    /// `--num-threads` (0 = serial).
    pub threads: usize,
    /// `-b`: write caches are `page_size << block_order` bytes.
    pub block_order: u32,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions {
            compression: Compression::None,
            dump_level: 0,
            threads: 0,
            block_order: 4,
        }
    }
}

/// Counts for the report and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpSummary {
    /// Highest pfn + 1.
    pub max_mapnr: u64,
    /// Pfns not covered by any PT_LOAD.
    pub memory_holes: u64,
    /// Descriptors written (set bits of the 2nd bitmap).
    pub num_dumpable: u64,
    /// Of those, zero pages sharing the zero descriptor.
    pub zero_pages: u64,
    /// Bytes handed to the output.
    pub bytes_written: u64,
}

/// The bitmaps a dump is written from.
#[derive(Debug, Clone)]
pub struct DumpBitmaps {
    /// 1st bitmap: RAM pfns.
    pub ram: Bitmap,
    /// 2nd bitmap: dumpable pfns.
    pub dumpable: Bitmap,
    /// Pfns below max_mapnr that are holes.
    pub memory_holes: u64,
}

impl DumpBitmaps {
    /// The bitmaps before any page classification, over `[0, max_mapnr)` (the filter may
    /// lower max_mapnr below the input's, see [`crate::filter::PageFilter::max_mapnr`]).
    /// Fails when they would not fit in memory ([`bitmaps::check_memory`]).
    pub fn unfiltered(vmcore: &ElfVmcore, max_mapnr: u64) -> Result<Self> {
        let page_size = vmcore.page_size();
        bitmaps::check_memory(max_mapnr, page_size).map_err(|e| e.context(vmcore.name()))?;
        let (ram, memory_holes) = bitmaps::ram_bitmap(vmcore.loads(), page_size, max_mapnr);
        let dumpable = bitmaps::initial_dumpable(&ram, vmcore.loads(), page_size);
        Ok(DumpBitmaps {
            ram,
            dumpable,
            memory_holes,
        })
    }

    /// The bitmaps for `filter`'s dump level: unfiltered, then every pfn the level
    /// excludes cleared from the 2nd bitmap. Returns the per-class counts.
    pub fn filtered(
        vmcore: &ElfVmcore,
        filter: &mut PageFilter<'_>,
        progress: &dyn ProgressObserver,
    ) -> Result<(Self, FilterStats)> {
        let mut bitmaps = DumpBitmaps::unfiltered(vmcore, filter.max_mapnr())?;
        let mut stats = FilterStats::default();
        if filter.excludes_anything() {
            let start = std::time::Instant::now();
            let mut reader = vmcore.reader()?;
            let max_mapnr = bitmaps.ram.len();
            filter.exclude(
                &mut *reader,
                0..max_mapnr,
                &mut bitmaps.dumpable,
                &mut stats,
            )?;
            progress.update(Stage::UnnecessaryPages, max_mapnr, max_mapnr);
            progress.stage_done(Stage::UnnecessaryPages, start.elapsed());
        }
        Ok((bitmaps, stats))
    }
}

/// Write `vmcore` as a kdump-compressed file to `out`.
pub fn write_kdump(
    vmcore: &ElfVmcore,
    bitmaps: &DumpBitmaps,
    options: &DumpOptions,
    out: &mut dyn DumpOutput,
    progress: &dyn ProgressObserver,
) -> Result<DumpSummary> {
    if options.compression == Compression::Lz4 {
        return Err(Error::argument(
            "lz4 is a benchmark codec, not a kdump-compressed format",
        ));
    }
    let info = vmcore.vmcoreinfo().ok_or_else(|| {
        Error::invalid(format!(
            "{}: the vmcore has no VMCOREINFO note",
            vmcore.name()
        ))
    })?;
    let page_size = vmcore.page_size();
    let notes = vmcore.notes();
    let num_dumpable = bitmaps.dumpable.count_ones();
    let max_mapnr = bitmaps.ram.len();
    let layout = KdumpLayout::new(page_size, notes.data.len() as u64, max_mapnr, num_dumpable)?;

    let base = phys_base(vmcore);
    let fields = HeaderFields {
        utsname: read_utsname(vmcore, info, base)?,
        timestamp: info.crashtime().unwrap_or(0),
        status: options.compression.flag(),
        nr_cpus: notes.nr_cpus as i32,
        phys_base: base,
        dump_level: options.dump_level as i32,
        vmcoreinfo_in_notes: notes.vmcoreinfo,
        size_note: notes.data.len() as u64,
    };
    let (header, sub_header) = build_headers(&layout, &fields);

    out.write_at(layout.offset_sub_header(), &sub_header.to_bytes())?;
    if !notes.data.is_empty() {
        out.write_at(
            layout.offset_sub_header() + KDUMP_SUB_HEADER_SIZE as u64,
            &notes.data,
        )?;
    }
    write_bitmap(
        out,
        layout.offset_bitmap1(),
        &bitmaps.ram,
        layout.bitmap_len(),
    )?;
    write_bitmap(
        out,
        layout.offset_bitmap2(),
        &bitmaps.dumpable,
        layout.bitmap_len(),
    )?;

    let exclude_zero = options.dump_level & DL_EXCLUDE_ZERO != 0;
    let cache_size = (page_size as usize) << options.block_order.min(16);
    let copy_start = std::time::Instant::now();
    let mut sink = KdumpPageSink::new(out, &layout, cache_size, exclude_zero, progress);
    let config = PipelineConfig {
        threads: options.threads,
        slot_size: page_size as usize,
    };
    pipeline::run(
        &bitmaps.dumpable,
        0..max_mapnr,
        &config,
        |_| {
            DumpPageWorker::new(
                vmcore.reader()?,
                options.compression,
                page_size as usize,
                exclude_zero,
            )
        },
        &mut sink,
    )?;
    sink.flush()?;
    let (_, zero_pages) = sink.counts();
    drop(sink);
    progress.stage_done(Stage::CopyingData, copy_start.elapsed());

    out.write_at(0, &header.to_bytes())?;
    out.finish()?;
    Ok(DumpSummary {
        max_mapnr,
        memory_holes: bitmaps.memory_holes,
        num_dumpable,
        zero_pages,
        bytes_written: out.bytes_written(),
    })
}

/// Write one bitmap padded with zeros to its whole block-aligned region (crash requires
/// the alignment, `0e6cb98`).
fn write_bitmap(
    out: &mut dyn DumpOutput,
    offset: u64,
    bitmap: &Bitmap,
    region_len: u64,
) -> Result<()> {
    let mut bytes = bitmap.as_bytes().to_vec();
    bytes.resize(region_len as usize, 0);
    out.write_at(offset, &bytes)
}
