//! The consumer: page descriptors and page data through two write caches, in pfn order.

use crate::error::{Error, Result};
use crate::format::{DumpOutput, KdumpLayout, PageDesc, PAGE_DESC_SIZE};
use crate::pipeline::{PageOutcome, PageSink};
use crate::progress::{ProgressObserver, Stage};

/// Writes descriptors from `layout.offset_desc()` and data from `layout.offset_data()`,
/// each stream buffered in a cache of `cache_size` bytes (makedumpfile's two `cache_data`,
/// `page_size << block_order`).
pub struct KdumpPageSink<'o> {
    out: &'o mut dyn DumpOutput,
    progress: &'o dyn ProgressObserver,
    progress_every: u64,
    cache_size: usize,
    desc_cache: Vec<u8>,
    desc_file_offset: u64,
    first_desc_offset: u64,
    /// Page data not yet written: its first `data_len` bytes. The vector only grows
    /// (to `cache_size` plus one page), so a page buffer lent to the serial path never
    /// needs zeroing.
    data_cache: Vec<u8>,
    data_len: usize,
    data_file_offset: u64,
    next_data_offset: u64,
    zero_desc: Option<PageDesc>,
    pages: u64,
    zero_pages: u64,
    expected: u64,
}

impl<'o> KdumpPageSink<'o> {
    /// A sink for `layout`; with `exclude_zero` the shared zero page is the first data.
    pub fn new(
        out: &'o mut dyn DumpOutput,
        layout: &KdumpLayout,
        cache_size: usize,
        exclude_zero: bool,
        progress: &'o dyn ProgressObserver,
    ) -> Self {
        let mut sink = KdumpPageSink {
            out,
            progress,
            // makedumpfile reports every num_dumpable / 10000 pages.
            progress_every: (layout.num_dumpable / 10000).max(1),
            cache_size,
            desc_cache: Vec::with_capacity(cache_size + PAGE_DESC_SIZE),
            desc_file_offset: layout.offset_desc(),
            first_desc_offset: layout.offset_desc(),
            data_cache: Vec::new(),
            data_len: 0,
            data_file_offset: layout.offset_data(),
            next_data_offset: layout.offset_data(),
            zero_desc: None,
            pages: 0,
            zero_pages: 0,
            expected: layout.num_dumpable,
        };
        if exclude_zero {
            let size = layout.block_size as u32;
            sink.zero_desc = Some(PageDesc {
                offset: sink.next_data_offset as i64,
                size,
                flags: 0,
                page_flags: 0,
            });
            sink.data_cache.resize(size as usize, 0);
            sink.data_len = size as usize;
            sink.next_data_offset += size as u64;
        }
        sink
    }

    /// A positioned write that is not page data (a cycle's part of the 2nd bitmap,
    /// eraseinfo), through the sink because the sink holds the output during the writing
    /// pass.
    pub fn write_at(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
        self.out.write_at(offset, bytes)
    }

    /// Read back bytes written earlier (a cycle's part of the 2nd bitmap, written in the
    /// counting pass).
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.out.read_at(offset, buf)
    }

    /// Zero the 2nd bitmap region past max_mapnr (see [`super::pad_bitmap`]).
    pub fn pad_bitmap2(&mut self, layout: &KdumpLayout) -> Result<()> {
        super::pad_bitmap(self.out, layout.offset_bitmap2(), layout)
    }

    /// Expect `pages` descriptors instead of the layout's num_dumpable (a `--split`
    /// part writes only its range's pages into a layout sized for all of them).
    pub fn expect_pages(&mut self, pages: u64) {
        self.expected = pages;
    }

    /// File offset just past the last page data (where eraseinfo goes).
    pub fn data_end(&self) -> u64 {
        self.next_data_offset
    }

    /// Pages written and, of those, zero pages.
    pub fn counts(&self) -> (u64, u64) {
        (self.pages, self.zero_pages)
    }

    /// Write what is left in both caches. Also checks that exactly the announced number
    /// of descriptors was produced: the data area's offset depends on it.
    pub fn flush(&mut self) -> Result<()> {
        if self.pages != self.expected {
            return Err(Error::internal(format!(
                "wrote {} page descriptors but the layout reserved {}",
                self.pages, self.expected
            )));
        }
        self.flush_data()?;
        self.flush_desc()?;
        self.progress
            .update(Stage::CopyingData, self.pages, self.expected);
        Ok(())
    }

    /// Descriptors go out only after the data they point to: a descriptor on disk never
    /// names bytes that are not there, whatever fails later (ENOSPC, `-L`, a crash).
    fn flush_desc(&mut self) -> Result<()> {
        self.flush_data()?;
        if !self.desc_cache.is_empty() {
            self.out.write_at(self.desc_file_offset, &self.desc_cache)?;
            self.desc_file_offset += self.desc_cache.len() as u64;
            self.desc_cache.clear();
        }
        Ok(())
    }

    fn flush_data(&mut self) -> Result<()> {
        if self.data_len > 0 {
            let pending = &self.data_cache[..self.data_len];
            if let Err(e) = self.out.write_at(self.data_file_offset, pending) {
                let written = (self.out.failed_write_prefix() as usize).min(self.data_len);
                self.data_file_offset += written as u64;
                self.data_cache.copy_within(written..self.data_len, 0);
                self.data_len -= written;
                return Err(e);
            }
            self.data_file_offset += self.data_len as u64;
            self.data_len = 0;
        }
        Ok(())
    }

    /// After the output ran out of space: write the pending descriptors whose data did
    /// reach the file (they form a prefix, data being written in pfn order), best effort.
    /// The descriptors of the other pages stay zero, which readers report as lost pages
    /// (makedumpfile's incomplete-dump semantics). Returns how many pages are readable.
    pub fn salvage(&mut self) -> u64 {
        let data_end = self.data_file_offset;
        let backed = self
            .desc_cache
            .chunks_exact(PAGE_DESC_SIZE)
            .take_while(|raw| {
                let desc = PageDesc::from_bytes((*raw).try_into().expect("24-byte chunk"));
                desc.offset as u64 + desc.size as u64 <= data_end
            })
            .count();
        let flushed = (self.desc_file_offset - self.first_desc_offset) / PAGE_DESC_SIZE as u64;
        if backed == 0 {
            return flushed;
        }
        let wanted = &self.desc_cache[..backed * PAGE_DESC_SIZE];
        if self.out.write_at(self.desc_file_offset, wanted).is_ok() {
            return flushed + backed as u64;
        }
        // The disk filled up inside the descriptor table. A descriptor cut in the middle
        // would name an offset with size 0 ("Wrong page size: 0" in libkdumpfile, found by
        // the real-vmcore ENOSPC check): zero its written bytes so it reads as a lost page.
        // They sit in blocks the failed write already allocated, so this write fits.
        let written = self.out.failed_write_prefix() as usize;
        let (whole, torn) = (written / PAGE_DESC_SIZE, written % PAGE_DESC_SIZE);
        if torn != 0 {
            let at = self.desc_file_offset + (whole * PAGE_DESC_SIZE) as u64;
            let _ = self.out.write_at(at, &[0u8; PAGE_DESC_SIZE][..torn]);
        }
        flushed + whole as u64
    }
}

impl PageSink for KdumpPageSink<'_> {
    fn write_page(&mut self, pfn: u64, outcome: PageOutcome, data: &[u8]) -> Result<()> {
        let stored = match outcome {
            PageOutcome::Zero => 0,
            PageOutcome::Data { len, .. } => len,
        };
        if stored != data.len() {
            return Err(Error::internal(format!(
                "pfn {pfn:#x}: {} bytes of page data for a {stored}-byte page",
                data.len()
            )));
        }
        if let Some(buffer) = self.page_buffer(data.len()) {
            buffer.copy_from_slice(data);
        }
        self.commit_page(pfn, outcome)
    }

    fn page_buffer(&mut self, len: usize) -> Option<&mut [u8]> {
        let end = self.data_len + len;
        if end > self.data_cache.len() {
            self.data_cache.resize(end, 0);
        }
        self.data_cache.get_mut(self.data_len..end)
    }

    fn commit_page(&mut self, pfn: u64, outcome: PageOutcome) -> Result<()> {
        if self.pages % self.progress_every == 0 {
            self.progress
                .update(Stage::CopyingData, self.pages, self.expected);
        }
        let desc = match outcome {
            PageOutcome::Zero => {
                self.zero_pages += 1;
                self.zero_desc.ok_or_else(|| {
                    Error::internal(format!("pfn {pfn:#x}: zero page without dump level bit 1"))
                })?
            }
            PageOutcome::Data { len, flags } => {
                let desc = PageDesc {
                    offset: self.next_data_offset as i64,
                    size: len as u32,
                    flags,
                    page_flags: 0,
                };
                if self.data_len + len > self.data_cache.len() {
                    return Err(Error::internal(format!(
                        "pfn {pfn:#x}: {len} bytes committed past the page buffer"
                    )));
                }
                self.next_data_offset += len as u64;
                self.data_len += len;
                if self.data_len >= self.cache_size {
                    self.flush_data()?;
                }
                desc
            }
        };
        self.pages += 1;
        self.desc_cache.extend_from_slice(&desc.to_bytes());
        if self.desc_cache.len() >= self.cache_size {
            self.flush_desc()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::MemoryOutput;
    use crate::progress::NoProgress;

    /// A small layout: one-block headers and bitmaps, 4 KiB blocks, `pages` descriptors.
    fn layout_of(pages: u64) -> KdumpLayout {
        KdumpLayout {
            block_size: 4096,
            sub_hdr_blocks: 1,
            bitmap_blocks_each: 1,
            max_mapnr: 4096,
            num_dumpable: pages,
        }
    }

    /// Fill a sink until the output's limit cuts the descriptor table inside a
    /// descriptor; after salvage, every descriptor on "disk" is whole or all zero and
    /// points only at data that was written.
    #[test]
    fn salvage_never_leaves_a_torn_descriptor() {
        let pages = 64u64;
        let layout = layout_of(pages);
        let desc_start = layout.offset_desc();
        // A limit 10 bytes into descriptor 40: data is written first (it lies after the
        // table), so the table is what the limit cuts.
        for limit in [
            desc_start + 40 * 24 + 10,
            desc_start + 3,
            layout.offset_data() + 5000,
        ] {
            let mut out = MemoryOutput::default();
            out.limit = Some(limit);
            let mut sink = KdumpPageSink::new(&mut out, &layout, 4096, false, &NoProgress);
            let page = vec![0x5au8; 4096];
            let mut failed = false;
            for pfn in 0..pages {
                if sink
                    .write_page(
                        pfn,
                        PageOutcome::Data {
                            len: 4096,
                            flags: 0,
                        },
                        &page,
                    )
                    .is_err()
                {
                    failed = true;
                    break;
                }
            }
            if !failed {
                failed = sink.flush().is_err();
            }
            assert!(failed, "limit {limit} must stop the run");
            let readable = sink.salvage();
            let table = &out.bytes[desc_start as usize..];
            for (i, raw) in table
                .chunks(PAGE_DESC_SIZE)
                .take(pages as usize)
                .enumerate()
            {
                let mut full = [0u8; PAGE_DESC_SIZE];
                full[..raw.len()].copy_from_slice(raw);
                let desc = PageDesc::from_bytes(&full);
                if (i as u64) < readable {
                    assert!(
                        desc.offset > 0 && desc.size == 4096,
                        "limit {limit}: descriptor {i} must be whole"
                    );
                    assert!(desc.offset as u64 + 4096 <= out.bytes.len() as u64);
                } else {
                    assert_eq!(
                        full, [0u8; PAGE_DESC_SIZE],
                        "limit {limit}: descriptor {i} must be zero"
                    );
                }
            }
        }
    }

    /// The serial path's in-place writes (page_buffer + commit_page) and write_page give
    /// the same file, across zero pages, odd lengths, and cache flushes mid-stream.
    #[test]
    fn page_buffer_and_write_page_write_the_same_file() {
        let pages = 300u64;
        let layout = layout_of(pages);
        let page = |pfn: u64| -> (PageOutcome, Vec<u8>) {
            if pfn % 5 == 0 {
                return (PageOutcome::Zero, Vec::new());
            }
            let len = 1 + (pfn as usize * 977) % 4096;
            let data = (0..len).map(|i| (i as u64 ^ pfn) as u8).collect();
            let flags = (pfn % 3) as u32;
            (PageOutcome::Data { len, flags }, data)
        };
        let mut copied = MemoryOutput::default();
        let mut in_place = MemoryOutput::default();
        {
            let mut sink = KdumpPageSink::new(&mut copied, &layout, 8192, true, &NoProgress);
            for pfn in 0..pages {
                let (outcome, data) = page(pfn);
                sink.write_page(pfn, outcome, &data).unwrap();
            }
            sink.flush().unwrap();
        }
        {
            let mut sink = KdumpPageSink::new(&mut in_place, &layout, 8192, true, &NoProgress);
            for pfn in 0..pages {
                let (outcome, data) = page(pfn);
                let buffer = sink.page_buffer(4096).unwrap();
                buffer[..data.len()].copy_from_slice(&data);
                // What lies past the stored length must not reach the file.
                buffer[data.len()..].fill(0xee);
                sink.commit_page(pfn, outcome).unwrap();
            }
            sink.flush().unwrap();
        }
        assert!(copied.bytes.len() as u64 > layout.offset_data());
        assert_eq!(copied.bytes, in_place.bytes);
    }

    /// A commit that claims more bytes than the lent buffer is refused, not written.
    #[test]
    fn commit_beyond_the_page_buffer_is_an_error() {
        let layout = layout_of(1);
        let mut out = MemoryOutput::default();
        let mut sink = KdumpPageSink::new(&mut out, &layout, 8192, false, &NoProgress);
        let lent = sink.page_buffer(100).unwrap().len();
        let outcome = PageOutcome::Data {
            len: lent + 1,
            flags: 0,
        };
        assert!(sink.commit_page(0, outcome).is_err());
        let short = PageOutcome::Data { len: 10, flags: 0 };
        assert!(sink.write_page(0, short, &[0u8; 11]).is_err());
    }
}
