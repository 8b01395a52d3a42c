//! Inputs: where page contents come from.
//!
//! [`PhysicalMemory`] is the one interface the rest of the engine reads through:
//! the filter walks page tables and `struct page` arrays with it, and each pipeline worker
//! opens its own [`PageReader`] so that producers never share a read cursor or an mmap
//! window.

pub mod elf;
pub mod kcore;
pub mod kdump;
pub mod kdump_memory;
pub mod window;

use crate::arch::Arch;
use crate::error::Result;

/// A read-only view of the crashed machine's physical memory.
pub trait PhysicalMemory: Sync {
    /// Page size of the dumped kernel (block size of the output).
    fn page_size(&self) -> u64;

    /// Architecture of the dumped kernel, read from the input.
    fn arch(&self) -> Arch;

    /// Number of pfns covered (highest RAM pfn + 1): `max_mapnr`.
    fn max_mapnr(&self) -> u64;

    /// Whether `pfn` has backing data in the input (makedumpfile `is_in_segs`).
    fn has_page(&self, pfn: u64) -> bool;

    /// A reader with its own buffers/window, for one thread.
    fn reader(&self) -> Result<Box<dyn PageReader + '_>>;
}

/// One thread's read handle on a [`PhysicalMemory`].
pub trait PageReader: Send {
    /// Read the whole page `pfn` into `buf` (`buf.len()` == page size). Bytes of the page
    /// that the input does not hold (beyond a PT_LOAD's `p_filesz`) read as zero.
    fn read_page(&mut self, pfn: u64, buf: &mut [u8]) -> Result<()>;

    /// The page `pfn`: borrowed straight from the input where the reader maps it whole,
    /// otherwise read into `buf` as by [`PageReader::read_page`]. The dump workers use
    /// this to compress from the mapping without copying the page first.
    fn page<'s>(&'s mut self, pfn: u64, buf: &'s mut [u8]) -> Result<&'s [u8]> {
        self.read_page(pfn, buf)?;
        Ok(buf)
    }

    /// Read `buf.len()` bytes at physical address `paddr`; may cross pages. Holes are
    /// an error naming the address (page-table walks must not silently read zeros).
    fn read_phys(&mut self, paddr: u64, buf: &mut [u8]) -> Result<()>;
}
