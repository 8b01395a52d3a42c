//! The structure of one kdump-compressed file, before its pages: the header and its
//! incomplete bit, the sub header's regions, both bitmaps, and the descriptor table.
//!
//! Parsing is the reader's ([`KdumpFile::from_source`]: header fields, bitmaps inside the
//! file); what is checked here is what a reader takes on trust: that the dump says it is
//! complete, that its regions do not overlap, that every dumpable page frame is also a RAM
//! page frame, and that the file holds the whole descriptor table.

use std::ops::Range;

use super::fault::Fault;
use super::image::DumpImage;
use crate::codec::Compression;
use crate::format::disk_dump_header::DUMP_DH_COMPRESSED_INCOMPLETE;
use crate::format::{KDUMP_SUB_HEADER_SIZE, PAGE_DESC_SIZE};
use crate::input::kdump::{ByteSource, KdumpFile};

/// Header versions makedumpfile has written (6 since 2013); anything else is not a dump
/// this reader can vouch for.
const HEADER_VERSIONS: std::ops::RangeInclusive<i32> = 1..=6;
/// File offset of `disk_dump_header.status`.
const STATUS_OFFSET: u64 = 424;
/// The codecs a kdump reader decodes (lz4 is our benchmark-only codec, never in a dump).
const KDUMP_CODECS: [Compression; 4] = [
    Compression::Zlib,
    Compression::Lzo,
    Compression::Snappy,
    Compression::Zstd,
];

/// What the page walk needs to know about one checked file.
#[derive(Debug, Clone)]
pub(crate) struct PagePlan {
    /// The page frames whose descriptors this file holds.
    pub range: Range<u64>,
    /// Number of descriptors: set bits of the 2nd bitmap in `range`.
    pub count: u64,
    /// File offset of the first descriptor.
    pub desc_offset: u64,
    /// File offset where the page data begins (the end of the descriptor table).
    pub data_start: u64,
    /// For a split part: where the data begins when the table is sized for every
    /// dumpable page of the whole dump, as our writer lays parts out (the descriptors
    /// of the part's range come first, the rest of the table is unused).
    pub whole_data_start: Option<u64>,
    /// The compression the header names.
    pub compression: Compression,
}

/// Parse `image` (named `name`) as a kdump-compressed file.
pub(crate) fn open(image: DumpImage, name: &str) -> Result<KdumpFile<DumpImage>, Fault> {
    KdumpFile::from_source(image, name).map_err(|e| Fault::from_error(name, "kdump layout", &e))
}

/// Check everything but the pages of `dump` (named `name`).
pub(crate) fn check_structure(dump: &KdumpFile<DumpImage>, name: &str) -> Result<PagePlan, Fault> {
    let header = &dump.header;
    let sub = &dump.sub_header;
    let layout = &dump.layout;
    let size = dump.source().len();
    if !HEADER_VERSIONS.contains(&header.header_version) {
        return Err(Fault::new(
            name,
            "header_version",
            format!(
                "{} is not a version makedumpfile writes (1-6)",
                header.header_version
            ),
        )
        .at_offset(8));
    }
    if header.status & DUMP_DH_COMPRESSED_INCOMPLETE != 0 {
        return Err(Fault::new(
            name,
            "header status",
            format!(
                "{:#x} has the incomplete flag ({DUMP_DH_COMPRESSED_INCOMPLETE:#x}): the writer did not finish (out of space, -L, or killed)",
                header.status
            ),
        )
        .at_offset(STATUS_OFFSET));
    }
    let codecs: Vec<Compression> = KDUMP_CODECS
        .into_iter()
        .filter(|c| header.status & c.flag() != 0)
        .collect();
    if codecs.len() > 1 {
        return Err(Fault::new(
            name,
            "header status",
            format!("{:#x} names more than one compression", header.status),
        )
        .at_offset(STATUS_OFFSET));
    }
    let compression = codecs.first().copied().unwrap_or(Compression::None);
    if header.sub_hdr_size < 1 {
        return Err(
            Fault::new(name, "sub_hdr_size", "0 blocks: no room for the sub header").at_offset(432),
        );
    }
    let sub_header_end = layout.offset_bitmap1();
    check_region(
        name,
        "ELF notes (offset_note, size_note)",
        sub.offset_note,
        sub.size_note,
        layout.block_size + KDUMP_SUB_HEADER_SIZE as u64..sub_header_end,
    )?;
    if header.header_version >= 3 && sub.size_vmcoreinfo > 0 {
        check_region(
            name,
            "VMCOREINFO (offset_vmcoreinfo, size_vmcoreinfo)",
            sub.offset_vmcoreinfo,
            sub.size_vmcoreinfo,
            sub.offset_note..sub.offset_note + sub.size_note,
        )?;
    }
    if header.header_version >= 5 && sub.size_eraseinfo > 0 {
        check_region(
            name,
            "eraseinfo (offset_eraseinfo, size_eraseinfo)",
            sub.offset_eraseinfo,
            sub.size_eraseinfo,
            layout.offset_desc()..size,
        )?;
    }
    let max_mapnr = layout.max_mapnr;
    let range = if sub.split != 0 {
        let range = sub.start_pfn_64..sub.end_pfn_64;
        if range.start > range.end || range.end > max_mapnr {
            return Err(Fault::new(
                name,
                "split range (start_pfn_64, end_pfn_64)",
                format!(
                    "{:#x} - {:#x} is not inside max_mapnr {max_mapnr:#x}",
                    range.start, range.end
                ),
            )
            .at_offset(layout.block_size + 80));
        }
        range
    } else {
        0..max_mapnr
    };
    check_bitmaps(dump, name)?;
    let count = dump.dumpable.count_ones_in(range.start, range.end);
    let desc_offset = layout.offset_desc();
    let data_start = count
        .checked_mul(PAGE_DESC_SIZE as u64)
        .and_then(|table| table.checked_add(desc_offset))
        .filter(|&end| end <= size)
        .ok_or_else(|| {
            Fault::new(
                name,
                "page descriptor table",
                format!(
                    "{count} descriptors (one per set bit of the 2nd bitmap) run past the end of the file ({size} bytes): the file is truncated"
                ),
            )
            .at_offset(desc_offset)
        })?;
    let whole_data_start =
        (sub.split != 0).then(|| desc_offset + layout.num_dumpable * PAGE_DESC_SIZE as u64);
    Ok(PagePlan {
        range,
        count,
        desc_offset,
        data_start,
        whole_data_start,
        compression,
    })
}

/// `[offset, offset + len)` must lie inside `within` (an empty region anywhere is fine).
fn check_region(
    name: &str,
    field: &str,
    offset: u64,
    len: u64,
    within: Range<u64>,
) -> Result<(), Fault> {
    if len == 0 {
        return Ok(());
    }
    let inside =
        offset >= within.start && offset.checked_add(len).is_some_and(|end| end <= within.end);
    if inside {
        return Ok(());
    }
    Err(Fault::new(
        name,
        field,
        format!(
            "{len} bytes at {offset:#x} are not inside {:#x} - {:#x}",
            within.start, within.end
        ),
    )
    .at_offset(offset))
}

/// Every page frame the 2nd bitmap dumps must be RAM in the 1st: makedumpfile starts the
/// 2nd bitmap as a copy of the 1st and only clears bits. A bit cleared in the 1st or set
/// in the 2nd breaks this.
fn check_bitmaps(dump: &KdumpFile<DumpImage>, name: &str) -> Result<(), Fault> {
    let max_mapnr = dump.layout.max_mapnr;
    let mut pfn = 0;
    while pfn < max_mapnr {
        let stray = dump.dumpable.word(pfn) & !dump.ram.word(pfn);
        if stray != 0 {
            let pfn = pfn + stray.trailing_zeros() as u64;
            return Err(Fault::new(
                name,
                "bitmaps",
                format!(
                    "set in the 2nd bitmap (dumpable, byte at {:#x}) but clear in the 1st (RAM, byte at {:#x}): one of them has a flipped bit",
                    dump.layout.offset_bitmap2() + pfn / 8,
                    dump.layout.offset_bitmap1() + pfn / 8
                ),
            )
            .at_pfn(pfn)
            .at_offset(dump.layout.offset_bitmap2() + pfn / 8));
        }
        pfn += 64;
    }
    Ok(())
}
