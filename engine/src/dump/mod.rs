//! Writing a kdump-compressed dump: reserve the layout, write headers, notes and bitmaps,
//! then stream descriptors and page data through the pipeline. Callers go through
//! [`crate::job::DumpJob`], which picks the input, the outputs and the options.
//!
//! The main header is written FIRST with the incomplete bit (0x8) set, and rewritten
//! without it only when every page is on disk; page descriptors are written only after
//! the data they point to. A run that dies half way (killed, power loss, ENOSPC, `-L`)
//! therefore never leaves a file that readers take for a complete dump. (A flattened
//! stream cannot be rewritten: it carries the final header once, up front.)

pub mod bitmaps;
pub mod cycles;
pub mod elf;
pub mod header;
pub mod input;
pub mod refilter;
pub mod sink;
pub mod worker;

use std::ops::Range;

use crate::bitmap::Bitmap;
use crate::codec::Compression;
use crate::error::{Error, ErrorKind, Result};
use crate::filter::{DumpLevel, FilterStats, PageFilter};
use crate::format::disk_dump_header::DUMP_DH_COMPRESSED_INCOMPLETE;
use crate::format::{DumpOutput, KdumpLayout, KDUMP_SUB_HEADER_SIZE};
use crate::input::elf::ElfVmcore;
use crate::input::PhysicalMemory;
use crate::pipeline::{self, PipelineConfig, PipelineTuning};
use crate::progress::{ProgressObserver, Stage};

use self::cycles::{CycleSource, WholeBitmaps};
use self::header::{build_headers, HeaderFields};
pub use self::input::DumpInput;
use self::sink::KdumpPageSink;
use self::worker::DumpPageWorker;


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
    /// Page size of the dump.
    pub page_size: u64,
    /// Wall time of the counting pass (filtering every cycle to size the descriptor table).
    pub counting_time: std::time::Duration,
    /// Wall time of the writing pass (bitmaps, reading, compressing and writing pages).
    pub writing_time: std::time::Duration,
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

#[cfg(any(test, feature = "testing"))]
/// Write `vmcore` as a kdump-compressed file to `out` from precomputed whole bitmaps.
pub fn write_kdump(
    vmcore: &ElfVmcore,
    bitmaps: &DumpBitmaps,
    options: &DumpOptions,
    out: &mut dyn DumpOutput,
    progress: &dyn ProgressObserver,
) -> Result<DumpSummary> {
    let input = DumpInput::from_elf(vmcore)?;
    write_kdump_cycles(
        &input,
        &mut WholeBitmaps { bitmaps },
        options,
        None,
        out,
        progress,
    )
}

/// Write a kdump-compressed file from `input` and whole bitmaps; with `split`, one
/// `--split` part (see [`write_kdump_cycles`]).
pub fn write_kdump_from(
    input: &DumpInput<'_>,
    bitmaps: &DumpBitmaps,
    options: &DumpOptions,
    split: Option<Range<u64>>,
    out: &mut dyn DumpOutput,
    progress: &dyn ProgressObserver,
) -> Result<DumpSummary> {
    write_kdump_cycles(
        input,
        &mut WholeBitmaps { bitmaps },
        options,
        split,
        out,
        progress,
    )
}

/// Write a kdump-compressed file from `input` to `out`, cycle by cycle: a counting pass
/// sizes the descriptor table, then each cycle's bitmaps and pages are written (one
/// computation when a single cycle covers the machine).
///
/// With `split`, one `--split` part: full headers and bitmaps, `split = 1` and the part's
/// pfn range in the sub header, the descriptors of the range's pages from the start of the
/// descriptor table, and the page data after room for ALL descriptors (makedumpfile leaves
/// that gap as a sparse hole).
pub fn write_kdump_cycles(
    input: &DumpInput<'_>,
    source: &mut dyn CycleSource,
    options: &DumpOptions,
    split: Option<Range<u64>>,
    out: &mut dyn DumpOutput,
    progress: &dyn ProgressObserver,
) -> Result<DumpSummary> {
    if options.compression == Compression::Lz4 {
        return Err(Error::argument(
            "lz4 is a benchmark codec, not a kdump-compressed format",
        ));
    }
    let page_size = input.memory.page_size();
    let max_mapnr = source.max_mapnr();
    // The bitmaps take max_mapnr / 4 bytes of the dump. When that is more than the RAM
    // they describe, max_mapnr comes from a corrupted PT_LOAD or mem_section (a p_paddr
    // near 2^51 asked for a 128 GiB file in the corruption suite), not from a machine.
    let ram_bytes = max_mapnr
        .saturating_sub(source.memory_holes())
        .saturating_mul(page_size);
    if max_mapnr.div_ceil(8) > ram_bytes.max(1 << 20) {
        return Err(Error::invalid(format!(
            "{}: max_mapnr {max_mapnr:#x} (physical addresses up to {:#x}) needs bitmaps larger than the {} MiB of RAM they describe: a corrupted PT_LOAD p_paddr or mem_section?",
            input.name,
            max_mapnr.saturating_mul(page_size),
            ram_bytes >> 20
        )));
    }
    let cycles = source.cycles();
    let range = split.clone().unwrap_or(0..max_mapnr);

    // Counting pass. With one cycle its bitmap is kept for the writing pass. With more,
    // makedumpfile filters every cycle again in the writing pass: mem_map is scanned
    // twice, and on a big idle machine at -d 31 that scan is most of the run. Here each
    // cycle's 2nd bitmap goes to its place in the file now (where it lies depends only on
    // max_mapnr and the notes, not on the count being taken) and the writing pass reads
    // it back: one scan, the same bytes, memory still one cycle's bitmap. A stream cannot
    // be read back, so -F filters twice as makedumpfile does.
    let counting_start = std::time::Instant::now();
    let bitmap2 = KdumpLayout::new(page_size, input.notes.len() as u64, max_mapnr, 0)?.offset_bitmap2();
    let read_back = cycles.len() > 1 && out.can_read_back();
    let mut kept = None;
    let (mut num_dumpable, mut in_range) = (0, 0);
    for cycle in &cycles {
        let bits = source.dumpable(cycle.clone(), progress)?;
        num_dumpable += bits.count_ones();
        in_range += bits.count_ones_in(range.start, range.end);
        if read_back {
            out.write_at(bitmap2 + bits.start() / 8, bits.as_bytes())?;
        } else if cycles.len() == 1 {
            kept = Some(bits);
        }
    }
    let layout = KdumpLayout::new(page_size, input.notes.len() as u64, max_mapnr, num_dumpable)?;
    debug_assert_eq!(layout.offset_bitmap2(), bitmap2);
    let counting_time = counting_start.elapsed();
    let writing_start = std::time::Instant::now();

    let fields = HeaderFields {
        utsname: input.utsname.clone(),
        timestamp: input.timestamp.0,
        status: options.compression.flag(),
        nr_cpus: input.nr_cpus,
        phys_base: input.phys_base,
        dump_level: options.dump_level as i32,
        vmcoreinfo_in_notes: input.vmcoreinfo_in_notes,
        size_note: input.notes.len() as u64,
    };
    let (mut header, mut sub_header) = build_headers(&layout, &fields);
    header.timestamp_usec = input.timestamp.1;
    if let Some(part) = &split {
        sub_header.split = 1;
        sub_header.start_pfn = part.start.min(u32::MAX as u64);
        sub_header.end_pfn = part.end.min(u32::MAX as u64);
        sub_header.start_pfn_64 = part.start;
        sub_header.end_pfn_64 = part.end;
    }

    // The header goes first, marked incomplete, and is rewritten without the mark once
    // every page is on disk. A run cut short by ENOSPC, -L, a read error or a kill leaves
    // a file that says it is incomplete (readers then warn and report missing pages as
    // lost) and block 0 is allocated from the start, so the final in-place rewrite cannot
    // fail for lack of space.
    //
    // A flattened stream cannot be rewritten in place, and crash, reading a stream
    // directly, takes the FIRST record for an offset (found by the readers suite: it
    // reported our -F dumps incomplete). Streams therefore carry the final header once, up
    // front, as makedumpfile writes them; a cut stream still has zero descriptors for the
    // pages it lacks, which readers report as lost.
    let rewrite = out.can_rewrite();
    let mut first = header.clone();
    if rewrite {
        first.status |= DUMP_DH_COMPRESSED_INCOMPLETE;
    }
    out.write_at(0, &first.to_bytes())?;
    let mut sink = None;
    let body = Body {
        input,
        options,
        layout: &layout,
        cycles: &cycles,
        range,
        pages: in_range,
        read_back,
    };
    let result = body.write(source, kept, &mut sub_header, out, progress, &mut sink);
    let sink = match (result, sink) {
        (Ok(()), Some(sink)) => sink,
        (Err(e), sink) => {
            let readable = sink.map(|mut s| s.salvage());
            let _ = out.finish();
            return Err(match (e.kind(), readable) {
                (ErrorKind::NoSpace, Some(pages)) => Error::new(
                    ErrorKind::NoSpace,
                    format!("{e}\n{pages} of {in_range} pages were written."),
                ),
                _ => e,
            });
        }
        (Ok(()), None) => return Err(Error::internal("page sink missing after a successful run")),
    };
    let (_, zero_pages) = sink.counts();
    drop(sink);
    if rewrite {
        out.write_at(0, &header.to_bytes())?;
    }
    out.finish()?;
    Ok(DumpSummary {
        max_mapnr,
        memory_holes: source.memory_holes(),
        num_dumpable,
        zero_pages,
        bytes_written: out.bytes_written(),
        page_size,
        counting_time,
        writing_time: writing_start.elapsed(),
    })
}

/// Everything after the header: sub header, notes, bitmaps, then the pages.
struct Body<'a> {
    input: &'a DumpInput<'a>,
    options: &'a DumpOptions,
    layout: &'a KdumpLayout,
    cycles: &'a [Range<u64>],
    /// The pfns whose pages this file holds (all, or a `--split` part).
    range: Range<u64>,
    /// Number of dumpable pages in `range`.
    pages: u64,
    /// The counting pass wrote every cycle's 2nd bitmap; the writing pass reads it back.
    read_back: bool,
}

impl Body<'_> {
    /// The sink is handed back through `sink_slot` so that the caller can salvage
    /// descriptors on failure.
    fn write<'o>(
        &self,
        source: &mut dyn CycleSource,
        mut kept: Option<Bitmap>,
        sub_header: &mut crate::format::KdumpSubHeader,
        out: &'o mut dyn DumpOutput,
        progress: &'o dyn ProgressObserver,
        sink_slot: &mut Option<KdumpPageSink<'o>>,
    ) -> Result<()> {
        let layout = self.layout;
        let page_size = layout.block_size;
        let memory = self.input.memory;
        out.write_at(layout.offset_sub_header(), &sub_header.to_bytes())?;
        if !self.input.notes.is_empty() {
            out.write_at(
                layout.offset_sub_header() + KDUMP_SUB_HEADER_SIZE as u64,
                self.input.notes,
            )?;
        }
        for cycle in self.cycles {
            let ram = source.ram(cycle.clone())?;
            out.write_at(layout.offset_bitmap1() + ram.start() / 8, ram.as_bytes())?;
        }
        pad_bitmap(out, layout.offset_bitmap1(), layout)?;

        if kept.is_none() && !self.read_back {
            // The counting pass's per-class counts are dropped: the writing pass recounts
            // (makedumpfile resets its counters there too).
            source.start_writing_pass();
        }
        let exclude_zero = self.options.dump_level & DumpLevel::ZERO != 0;
        let cache_size = (page_size as usize) << self.options.block_order.min(16);
        let copy_start = std::time::Instant::now();
        let sink = sink_slot.insert(KdumpPageSink::new(
            out,
            layout,
            cache_size,
            exclude_zero,
            progress,
        ));
        sink.expect_pages(self.pages);
        let config = PipelineConfig {
            threads: self.options.threads,
            slot_size: page_size as usize,
        };
        // One pipeline for the whole file: its threads, rings, slab and workers serve
        // every cycle (issue 14), fed each cycle's bitmap once its 2nd-bitmap bytes are
        // written.
        pipeline::run_cycles(
            self.range.clone(),
            &config,
            &PipelineTuning::default(),
            |_| {
                DumpPageWorker::new(
                    memory.reader()?,
                    self.options.compression,
                    page_size as usize,
                    exclude_zero,
                )
            },
            sink,
            |feed| {
                for cycle in self.cycles {
                    let dumpable = if self.read_back {
                        // The window starts at cycle.start rounded down to 64, as the
                        // counting pass's bitmap did.
                        let first = cycle.start - cycle.start % 64;
                        Bitmap::window_filled(first, cycle.end, |bytes| {
                            feed.sink().read_at(layout.offset_bitmap2() + first / 8, bytes)
                        })?
                    } else {
                        let bits = match kept.take() {
                            Some(bits) => bits,
                            None => source.dumpable(cycle.clone(), progress)?,
                        };
                        feed.sink().write_at(
                            layout.offset_bitmap2() + bits.start() / 8,
                            bits.as_bytes(),
                        )?;
                        bits
                    };
                    let pages = cycle.start.max(self.range.start)..cycle.end.min(self.range.end);
                    if pages.start < pages.end {
                        feed.pages(dumpable, pages)?;
                    }
                }
                Ok(())
            },
        )?;
        sink.pad_bitmap2(layout)?;
        sink.flush()?;
        progress.stage_done(Stage::CopyingData, copy_start.elapsed());
        let eraseinfo = self.input.eraseinfo;
        if !eraseinfo.is_empty() {
            // makedumpfile write_kdump_eraseinfo: the input's eraseinfo follows the page
            // data, and the sub header is rewritten to point at it.
            let data_end = sink.data_end();
            sink.write_at(data_end, eraseinfo)?;
            sub_header.offset_eraseinfo = data_end;
            sub_header.size_eraseinfo = eraseinfo.len() as u64;
            sink.write_at(layout.offset_sub_header(), &sub_header.to_bytes())?;
        }
        Ok(())
    }
}

/// Write the zero bytes between the end of a bitmap's pfns and the end of its
/// block-aligned region (crash requires whole blocks, `0e6cb98`), so the file has no hole
/// there and the bytes are the same as makedumpfile's whatever the output.
fn pad_bitmap(out: &mut dyn DumpOutput, region: u64, layout: &KdumpLayout) -> Result<()> {
    let used = layout.max_mapnr.div_ceil(8);
    let padding = layout.bitmap_len() - used;
    if padding > 0 {
        out.write_at(region + used, &vec![0u8; padding as usize])?;
    }
    Ok(())
}
