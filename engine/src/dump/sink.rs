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
    data_cache: Vec<u8>,
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
            data_cache: Vec::with_capacity(cache_size + layout.block_size as usize),
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
            sink.next_data_offset += size as u64;
        }
        sink
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

    fn flush_desc(&mut self) -> Result<()> {
        if !self.desc_cache.is_empty() {
            self.out.write_at(self.desc_file_offset, &self.desc_cache)?;
            self.desc_file_offset += self.desc_cache.len() as u64;
            self.desc_cache.clear();
        }
        Ok(())
    }

    fn flush_data(&mut self) -> Result<()> {
        if !self.data_cache.is_empty() {
            self.out.write_at(self.data_file_offset, &self.data_cache)?;
            self.data_file_offset += self.data_cache.len() as u64;
            self.data_cache.clear();
        }
        Ok(())
    }
}

impl PageSink for KdumpPageSink<'_> {
    fn write_page(&mut self, pfn: u64, outcome: PageOutcome, data: &[u8]) -> Result<()> {
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
                self.next_data_offset += len as u64;
                self.data_cache.extend_from_slice(data);
                if self.data_cache.len() >= self.cache_size {
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
