//! `--split` and `--reassemble`: one dump as several kdump files, each holding the pages
//! of one pfn range, and joining them back (makedumpfile `setup_splitting`,
//! `writeout_multiple_dumpfiles`, `reassemble_kdump_header`, `reassemble_kdump_pages`).
//!
//! Every split file is a complete kdump file with full headers, notes and both bitmaps;
//! only `split = 1`, its `[start_pfn_64, end_pfn_64)` and its descriptors and data differ.
//! Writing a part is [`crate::dump::write_kdump_from`] with a range.

use std::fs::File;
use std::ops::Range;

use crate::bitmap::Bitmap;
use crate::filter::DumpLevel;
use crate::error::{Error, ErrorKind, Result};
use crate::format::disk_dump_header::DUMP_DH_COMPRESSED_INCOMPLETE;
use crate::dump::sink::KdumpPageSink;
use crate::format::{DumpOutput, KdumpLayout, PageDesc, KDUMP_SUB_HEADER_SIZE, PAGE_DESC_SIZE};
use crate::input::kdump::{ByteSource, KdumpFile};
use crate::pipeline::{PageOutcome, PageSink};
use crate::progress::{ProgressObserver, Stage};

/// makedumpfile `DEFAULT_SPLITBLOCK_SIZE`: 1 GiB.
pub const DEFAULT_SPLITBLOCK_SIZE: u64 = 1 << 30;

/// makedumpfile `check_splitblock_size`: `--splitblock-size` in KiB (0 or absent = the
/// default), which must be a whole number of pages. Returns pages per splitblock.
pub fn pages_per_splitblock(splitblock_kb: Option<i64>, page_size: u64) -> Result<u64> {
    let bytes = match splitblock_kb {
        None | Some(0) => DEFAULT_SPLITBLOCK_SIZE as i64,
        Some(kb) => kb.wrapping_shl(10),
    };
    if bytes == 0 {
        return Err(Error::argument("The splitblock size could not be 0."));
    }
    if bytes < 0 || bytes as u64 % page_size != 0 {
        return Err(Error::argument(
            "The splitblock size must be align to page_size.",
        ));
    }
    Ok(bytes as u64 / page_size)
}

/// The pfn range of each of `parts` files (makedumpfile `setup_splitting` with its
/// splitblock table): each part but the last takes whole splitblocks until it holds at
/// least `num_dumpable / parts` dumpable pages; the last takes the rest. As in
/// makedumpfile, a trailing partial splitblock counts as empty when balancing.
pub fn split_ranges(dumpable: &Bitmap, parts: usize, pages_per_block: u64) -> Vec<Range<u64>> {
    let max_mapnr = dumpable.len();
    let pages_per_block = pages_per_block.max(1);
    let full_blocks = max_mapnr / pages_per_block;
    let num_blocks = max_mapnr.div_ceil(pages_per_block);
    let table: Vec<u64> = (0..num_blocks)
        .map(|b| {
            if b < full_blocks {
                dumpable.count_ones_in(b * pages_per_block, (b + 1) * pages_per_block)
            } else {
                0
            }
        })
        .collect();
    let num_dumpable = dumpable.count_ones() as i64;
    let mut ranges = Vec::with_capacity(parts);
    let mut block = 0u64;
    let mut end = 0u64;
    for _ in 0..parts.saturating_sub(1) {
        let start = end;
        end = if start >= max_mapnr {
            max_mapnr
        } else {
            let mut needed = num_dumpable / parts as i64;
            while block < num_blocks && needed > 0 {
                needed -= table[block as usize] as i64;
                block += 1;
            }
            (block * pages_per_block).min(max_mapnr)
        };
        ranges.push(start..end);
    }
    ranges.push(end..max_mapnr);
    ranges
}

/// One opened split file.
pub struct SplitPart<S: ByteSource> {
    /// Its name, for messages.
    pub name: String,
    /// The parsed file.
    pub dump: KdumpFile<S>,
}

impl<S: ByteSource> SplitPart<S> {
    fn range(&self) -> Range<u64> {
        self.dump.sub_header.start_pfn_64..self.dump.sub_header.end_pfn_64
    }
}

/// Order the parts by start pfn and check that they are parts of one dump covering
/// `[0, max_mapnr)` (makedumpfile `store_splitting_info`, `sort_splitting_info`,
/// `check_splitting_info`).
pub fn check_parts<S: ByteSource>(parts: &mut [SplitPart<S>]) -> Result<()> {
    let Some(first) = parts.first() else {
        return Err(Error::argument(
            "--reassemble needs at least one split file",
        ));
    };
    let mut reference = first.dump.header.clone();
    reference.status &= !DUMP_DH_COMPRESSED_INCOMPLETE;
    let reference = reference.to_bytes();
    for part in parts.iter() {
        let mut header = part.dump.header.clone();
        header.status &= !DUMP_DH_COMPRESSED_INCOMPLETE;
        if header.to_bytes() != reference {
            return Err(Error::invalid(format!(
                "Invalid dumpfile({}): its header differs from {}'s, it is not part of the same dump",
                part.name, first.name
            )));
        }
        if part.dump.header.header_version < 6 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{}: header_version {} split files (32-bit pfn ranges) are not supported",
                    part.name, part.dump.header.header_version
                ),
            ));
        }
        if part.dump.sub_header.split == 0 {
            return Err(Error::invalid(format!(
                "{}: not a split dump file (split is 0 in its sub header)",
                part.name
            )));
        }
    }
    parts.sort_by_key(|p| p.dump.sub_header.start_pfn_64);
    let max_mapnr = parts[0].dump.layout.max_mapnr;
    let mut end = 0u64;
    for part in parts.iter() {
        let range = part.range();
        if range.start != end {
            return Err(Error::invalid(format!(
                "There is not dumpfile corresponding to pfn {end:#x} - {:#x}.",
                range.start
            )));
        }
        if range.end < range.start || range.end > max_mapnr {
            return Err(Error::invalid(format!(
                "{}: split range {:#x} - {:#x} is outside max_mapnr {max_mapnr:#x}",
                part.name, range.start, range.end
            )));
        }
        end = range.end;
    }
    if end != max_mapnr {
        return Err(Error::invalid(format!(
            "There is not dumpfile corresponding to pfn {end:#x} - {max_mapnr:#x}."
        )));
    }
    Ok(())
}

fn read_exact<S: ByteSource>(
    part: &SplitPart<S>,
    offset: u64,
    buf: &mut [u8],
    what: &str,
) -> Result<()> {
    if offset
        .checked_add(buf.len() as u64)
        .is_none_or(|e| e > part.dump.source().len())
    {
        return Err(Error::invalid(format!(
            "{}: {what} at offset {offset:#x} ({} bytes) lies beyond the end of the file",
            part.name,
            buf.len()
        )));
    }
    part.dump.source().read_at(offset, buf).map_err(|e| {
        Error::io(
            ErrorKind::Read,
            format!("{}: Can't read {what}", part.name),
            e,
        )
    })
}

/// Join `parts` (already checked by [`check_parts`]) into one dump on `out`: headers,
/// notes and bitmaps of the first part with the split fields cleared, each part's
/// descriptors re-pointed at the data written in pfn order, one shared zero page kept,
/// eraseinfo sections concatenated, descriptors and data each written through a cache of
/// `cache_size` bytes (makedumpfile: `page_size << block_order`). Returns the number of
/// descriptors written.
pub fn reassemble<S: ByteSource>(
    parts: &[SplitPart<S>],
    out: &mut dyn DumpOutput,
    cache_size: usize,
    progress: &dyn ProgressObserver,
) -> Result<u64> {
    let first = &parts[0];
    let layout = first.dump.layout;
    let block = layout.block_size;
    let mut header = first.dump.header.clone();
    if let Some(incomplete) = parts
        .iter()
        .find(|p| p.dump.header.status & DUMP_DH_COMPRESSED_INCOMPLETE != 0)
    {
        header = incomplete.dump.header.clone();
    }
    let mut sub = first.dump.sub_header.clone();
    sub.split = 0;
    sub.start_pfn = 0;
    sub.end_pfn = 0;
    sub.start_pfn_64 = 0;
    sub.end_pfn_64 = 0;
    sub.offset_eraseinfo = 0;
    sub.size_eraseinfo = 0;
    // The headers go first, as makedumpfile writes them, but saying INCOMPLETE until the
    // last byte is written: a join stopped short (-L, ENOSPC, a bad part) leaves a file
    // that readers can parse and that does not claim to be whole. Both are rewritten at
    // the end with the final status and eraseinfo.
    let mut provisional = header.clone();
    provisional.status |= DUMP_DH_COMPRESSED_INCOMPLETE;
    out.write_at(0, &provisional.to_bytes())?;
    out.write_at(block, &sub.to_bytes())?;
    if !first.dump.notes.is_empty() {
        out.write_at(sub.offset_note, &first.dump.notes)?;
    }
    let mut bitmaps = vec![0u8; (layout.bitmap_len() * 2) as usize];
    read_exact(first, layout.offset_bitmap1(), &mut bitmaps, "the bitmaps")?;
    out.write_at(layout.offset_bitmap1(), &bitmaps)?;
    drop(bitmaps);

    let dumpable = &first.dump.dumpable;
    let num_dumpable = dumpable.count_ones();
    let exclude_zero = sub.dump_level & DumpLevel::ZERO as i32 != 0;
    let layout = KdumpLayout {
        num_dumpable,
        ..layout
    };
    let first_data = layout.offset_data();
    // The writer's own sink, so a join cut short (-L, ENOSPC) ends exactly as a dump
    // does: data before the descriptors that point to it, the backed descriptors
    // salvaged, the rest read as lost pages.
    let mut sink = KdumpPageSink::new(out, &layout, cache_size, exclude_zero, progress);
    let copied = copy_pages(parts, dumpable, first_data, exclude_zero, &mut sink)
        .and_then(|()| sink.flush());
    if let Err(e) = copied {
        sink.salvage();
        return Err(e);
    }
    let next_data = sink.data_end();
    drop(sink);
    let mut eraseinfo = Vec::new();
    for part in parts {
        let (offset, size) = (
            part.dump.sub_header.offset_eraseinfo,
            part.dump.sub_header.size_eraseinfo,
        );
        if size == 0 {
            continue;
        }
        if size > 1 << 24 {
            return Err(Error::invalid(format!(
                "{}: size_eraseinfo {size} is not plausible",
                part.name
            )));
        }
        let mut buf = vec![0u8; size as usize];
        read_exact(part, offset, &mut buf, "eraseinfo")?;
        eraseinfo.extend_from_slice(&buf);
    }
    if !eraseinfo.is_empty() {
        out.write_at(next_data, &eraseinfo)?;
        sub.offset_eraseinfo = next_data;
        sub.size_eraseinfo = eraseinfo.len() as u64;
    }
    out.write_at(block, &sub.to_bytes())?;
    debug_assert_eq!(sub.to_bytes().len(), KDUMP_SUB_HEADER_SIZE);
    progress.update(Stage::CopyingData, num_dumpable, num_dumpable);
    out.write_at(0, &header.to_bytes())?;
    out.finish()?;
    Ok(num_dumpable)
}

/// Every part's pages, in pfn order, into `sink`: the stored bytes as they are, the zero
/// page of `-d 1` as the shared one.
fn copy_pages<S: ByteSource>(
    parts: &[SplitPart<S>],
    dumpable: &Bitmap,
    first_data: u64,
    exclude_zero: bool,
    sink: &mut KdumpPageSink<'_>,
) -> Result<()> {
    let block = parts[0].dump.layout.block_size;
    let mut page = vec![0u8; block as usize];
    for part in parts {
        let mut desc_at = part.dump.layout.offset_desc();
        let range = part.range();
        for pfn in dumpable.iter_set(range.start, range.end) {
            let mut raw = [0u8; PAGE_DESC_SIZE];
            read_exact(part, desc_at, &mut raw, "a page descriptor")?;
            desc_at += PAGE_DESC_SIZE as u64;
            let desc = PageDesc::from_bytes(&raw);
            if exclude_zero && desc.offset == first_data as i64 {
                sink.write_page(pfn, PageOutcome::Zero, &[])?;
                continue;
            }
            if desc.offset <= 0 || desc.size as u64 > block || desc.size == 0 {
                return Err(Error::invalid(format!(
                    "{}: pfn {pfn:#x}: page descriptor (offset {:#x}, size {}) is invalid",
                    part.name, desc.offset, desc.size
                )));
            }
            let stored = &mut page[..desc.size as usize];
            read_exact(part, desc.offset as u64, stored, "page data")?;
            let outcome = PageOutcome::Data {
                len: stored.len(),
                flags: desc.flags,
            };
            sink.write_page(pfn, outcome, stored)?;
        }
    }
    Ok(())
}

/// Open split files by name.
pub fn open_parts(names: &[String]) -> Result<Vec<SplitPart<File>>> {
    names
        .iter()
        .map(|name| {
            Ok(SplitPart {
                name: name.clone(),
                dump: KdumpFile::open(std::path::Path::new(name))?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_balance_on_whole_splitblocks() {
        let mut dumpable = Bitmap::new(1000);
        dumpable.fill_range(0, 1000, true);
        let ranges = split_ranges(&dumpable, 3, 100);
        assert_eq!(ranges, vec![0..400, 400..800, 800..1000]);
        // A trailing partial block counts as empty when balancing.
        let ranges = split_ranges(&dumpable, 2, 300);
        assert_eq!(ranges, vec![0..600, 600..1000]);
    }

    #[test]
    fn more_parts_than_blocks_leave_empty_parts() {
        let mut dumpable = Bitmap::new(100);
        dumpable.fill_range(0, 100, true);
        let ranges = split_ranges(&dumpable, 3, 100);
        assert_eq!(ranges, vec![0..100, 100..100, 100..100]);
    }

    #[test]
    fn splitblock_size_rules() {
        assert_eq!(pages_per_splitblock(None, 4096).unwrap(), 262144);
        assert_eq!(pages_per_splitblock(Some(0), 4096).unwrap(), 262144);
        assert_eq!(pages_per_splitblock(Some(64), 4096).unwrap(), 16);
        assert!(pages_per_splitblock(Some(2), 4096).is_err());
        assert!(pages_per_splitblock(Some(-4), 4096).is_err());
    }
}
