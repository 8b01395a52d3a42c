//! The per-producer page worker: read one page, recognise a zero page, compress.

use crate::codec::{store_page, Compression, PageCodec, StoredPage};
use crate::error::Result;
use crate::input::PageReader;
use crate::pipeline::{PageOutcome, PageWorker};

/// One producer's state: its own reader (mmap window), codec context and page buffer.
pub struct DumpPageWorker<'a> {
    reader: Box<dyn PageReader + 'a>,
    codec: Option<Box<dyn PageCodec>>,
    page: Vec<u8>,
    exclude_zero: bool,
}

impl<'a> DumpPageWorker<'a> {
    /// A worker over `reader`; `exclude_zero` is dump level bit 1.
    pub fn new(
        reader: Box<dyn PageReader + 'a>,
        compression: Compression,
        page_size: usize,
        exclude_zero: bool,
    ) -> Result<Self> {
        Ok(DumpPageWorker {
            reader,
            codec: compression.new_codec()?,
            page: vec![0; page_size],
            exclude_zero,
        })
    }
}

/// Whether a page is all zero bytes. The check runs on every dumpable page, and a zero
/// page must be read to its end: 64-byte blocks are ORed together with no exit per
/// byte or word, which the compiler turns into a few vector ORs and one test per
/// block, and the first non-zero block ends the scan (for most data pages, the first).
pub fn is_zero_page(page: &[u8]) -> bool {
    let mut blocks = page.chunks_exact(64);
    blocks.all(|block| block.iter().fold(0, |acc, &b| acc | b) == 0)
        && blocks.remainder().iter().all(|&b| b == 0)
}

impl PageWorker for DumpPageWorker<'_> {
    fn process(&mut self, pfn: u64, out: &mut [u8]) -> Result<PageOutcome> {
        // Borrowed from the vmcore mapping when possible: one 4 KiB copy per page less
        // (about 6 % of a serial `-l -d 31` run).
        let page = self.reader.page(pfn, &mut self.page)?;
        if self.exclude_zero && is_zero_page(page) {
            return Ok(PageOutcome::Zero);
        }
        Ok(match store_page(self.codec.as_deref_mut(), page, out) {
            StoredPage::Compressed { len, flag } => PageOutcome::Data { len, flags: flag },
            StoredPage::Raw => {
                out[..page.len()].copy_from_slice(page);
                PageOutcome::Data {
                    len: page.len(),
                    flags: 0,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_page_check_sees_every_byte() {
        let mut page = vec![0u8; 4096];
        assert!(is_zero_page(&page));
        for i in [0, 1, 7, 8, 2047, 4095] {
            page[i] = 1;
            assert!(!is_zero_page(&page), "byte {i}");
            page[i] = 0;
        }
        // 3998 bytes: 62 whole 64-byte blocks and a 30-byte remainder, each seen.
        assert!(is_zero_page(&page[3..4001]));
        for i in [3, 66, 3970, 3971, 4000] {
            page[i] = 0x80;
            assert!(!is_zero_page(&page[3..4001]), "byte {i} of the slice");
            page[i] = 0;
        }
    }
}
