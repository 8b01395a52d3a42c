//! Where each region of a kdump-compressed file starts (makedumpfile
//! `write_kdump_header` / `write_kdump_pages_and_bitmap_cyclic`).
//!
//! ```text
//! block 0                 disk_dump_header (464 bytes, rest of the block zero)
//! block 1                 kdump_sub_header (104 bytes) + the vmcore's ELF notes
//! 1 + sub_hdr_size        1st bitmap (RAM pfns), block padded
//! ... + bitmap_blocks/2   2nd bitmap (dumpable pfns), block padded
//! ... + bitmap_blocks     page_desc table, 24 bytes per dumpable pfn
//! desc + 24 * dumpable    page data (not block aligned): shared zero page first (-d bit 1)
//! ```

use super::page_desc::PAGE_DESC_SIZE;
use super::sub_header::KDUMP_SUB_HEADER_SIZE;
use crate::error::{Error, Result};

/// The fixed layout of one dump file, computed before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdumpLayout {
    /// Page size = block size.
    pub block_size: u64,
    /// Blocks of sub header + notes.
    pub sub_hdr_blocks: u64,
    /// Blocks of ONE bitmap.
    pub bitmap_blocks_each: u64,
    /// Highest pfn + 1.
    pub max_mapnr: u64,
    /// Number of page descriptors (set bits of the 2nd bitmap).
    pub num_dumpable: u64,
}

impl KdumpLayout {
    /// Compute the layout. Fails when the numbers cannot be represented in the header's
    /// 32-bit fields.
    pub fn new(block_size: u64, size_note: u64, max_mapnr: u64, num_dumpable: u64) -> Result<Self> {
        let sub_hdr_blocks = (KDUMP_SUB_HEADER_SIZE as u64 + size_note).div_ceil(block_size);
        let bitmap_blocks_each = max_mapnr.div_ceil(8).div_ceil(block_size);
        let layout = KdumpLayout {
            block_size,
            sub_hdr_blocks,
            bitmap_blocks_each,
            max_mapnr,
            num_dumpable,
        };
        if sub_hdr_blocks > i32::MAX as u64 || layout.bitmap_blocks() > u32::MAX as u64 {
            return Err(Error::invalid(format!(
                "dump layout does not fit the kdump header: sub_hdr_size {sub_hdr_blocks} blocks, bitmap_blocks {}",
                layout.bitmap_blocks()
            )));
        }
        Ok(layout)
    }

    /// `bitmap_blocks` of the header: both bitmaps.
    pub fn bitmap_blocks(&self) -> u64 {
        2 * self.bitmap_blocks_each
    }

    /// Bytes of one bitmap region (block padded).
    pub fn bitmap_len(&self) -> u64 {
        self.bitmap_blocks_each * self.block_size
    }

    /// File offset of the sub header.
    pub fn offset_sub_header(&self) -> u64 {
        self.block_size
    }

    /// File offset of the copied notes.
    pub fn offset_note(&self) -> u64 {
        self.block_size + KDUMP_SUB_HEADER_SIZE as u64
    }

    /// File offset of the 1st bitmap.
    pub fn offset_bitmap1(&self) -> u64 {
        (1 + self.sub_hdr_blocks) * self.block_size
    }

    /// File offset of the 2nd bitmap.
    pub fn offset_bitmap2(&self) -> u64 {
        self.offset_bitmap1() + self.bitmap_len()
    }

    /// File offset of the first page descriptor.
    pub fn offset_desc(&self) -> u64 {
        (1 + self.sub_hdr_blocks + self.bitmap_blocks()) * self.block_size
    }

    /// File offset of the page data.
    pub fn offset_data(&self) -> u64 {
        self.offset_desc() + PAGE_DESC_SIZE as u64 * self.num_dumpable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_follow_each_other() {
        // A 1 GiB guest: 262144 pfns → 32 KiB per bitmap → 8 blocks each.
        let l = KdumpLayout::new(4096, 4000, 262_144, 1000).unwrap();
        assert_eq!(l.sub_hdr_blocks, 2, "104 + 4000 bytes need two blocks");
        assert_eq!(l.bitmap_blocks(), 16);
        assert_eq!(l.offset_note(), 4200);
        assert_eq!(l.offset_bitmap1(), 3 * 4096);
        assert_eq!(l.offset_bitmap2(), 11 * 4096);
        assert_eq!(l.offset_desc(), 19 * 4096);
        assert_eq!(l.offset_data(), 19 * 4096 + 24_000);
    }

    #[test]
    fn odd_mapnr_rounds_up_to_whole_blocks() {
        let l = KdumpLayout::new(4096, 0, 4096 * 8 + 1, 0).unwrap();
        assert_eq!(l.bitmap_blocks_each, 2);
        assert_eq!(l.sub_hdr_blocks, 1);
    }
}
