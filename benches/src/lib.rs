//! Shared pieces of the benchmarks (benches/benches/) and the memory probe
//! (examples/thread_memory.rs): deterministic page mixes, an in-memory page worker that
//! does what the dump writer's worker does, and a cheap sink.
//!
//! Whole-tool comparisons against C makedumpfile live in a script with recorded results,
//! not here.

use engine::codec::{store_page, Compression, PageCodec, StoredPage};
use engine::pipeline::{PageOutcome, PageSink, PageWorker};
use engine::xorshift::XorShift;
use engine::Result;

/// Page size of the simulated vmcore.
pub const PAGE_SIZE: usize = 4096;

/// What the pages of a synthetic memory image look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageMix {
    /// All zero (dump level bit 1 drops them; otherwise they compress to nothing).
    Zero,
    /// Text-like: words from a small vocabulary, compresses about 3–4× like kernel
    /// text/slab pages.
    Text,
    /// xorshift noise: incompressible, always stored raw.
    Random,
    /// Per page, in a fixed pattern: 25 % zero, 50 % text, 25 % random: roughly a
    /// filtered kernel dump.
    Mixed,
}

impl PageMix {
    /// Every mix, in report order.
    pub const ALL: [PageMix; 4] = [
        PageMix::Zero,
        PageMix::Text,
        PageMix::Random,
        PageMix::Mixed,
    ];

    /// Label for benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            PageMix::Zero => "zero",
            PageMix::Text => "text",
            PageMix::Random => "random",
            PageMix::Mixed => "mixed",
        }
    }
}

const WORDS: [&str; 24] = [
    "task_struct",
    "mm",
    "0000000000000000",
    "ffff8880",
    "kmalloc-64",
    "dentry",
    "inode",
    "page",
    "lru",
    "the",
    "and",
    "spin_lock",
    "rcu",
    "void",
    "int",
    "return",
    "struct",
    "NULL",
    "->",
    "if",
    "(",
    ")",
    ";",
    "\n",
];

fn fill_text(rng: &mut XorShift, page: &mut [u8]) {
    let mut i = 0;
    while i < page.len() {
        let r = rng.next();
        // Kernel pages mix text with small integers and pointers: every 8th token is a
        // pseudo-pointer, the rest vocabulary words.
        let token: &[u8] = if r & 7 == 0 {
            &r.to_le_bytes()[..6]
        } else {
            WORDS[(r >> 8) as usize % WORDS.len()].as_bytes()
        };
        let n = token.len().min(page.len() - i);
        page[i..i + n].copy_from_slice(&token[..n]);
        i += n;
        if i < page.len() {
            page[i] = b' ';
            i += 1;
        }
    }
}

/// `pages` pages of `mix`, contiguous, deterministic.
pub fn memory_image(mix: PageMix, pages: usize) -> Vec<u8> {
    let mut image = vec![0u8; pages * PAGE_SIZE];
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for (i, page) in image.chunks_exact_mut(PAGE_SIZE).enumerate() {
        let kind = match mix {
            PageMix::Mixed => [PageMix::Zero, PageMix::Text, PageMix::Random, PageMix::Text][i % 4],
            other => other,
        };
        match kind {
            PageMix::Zero | PageMix::Mixed => {}
            PageMix::Text => fill_text(&mut rng, page),
            PageMix::Random => page.iter_mut().for_each(|b| *b = rng.next() as u8),
        }
    }
    image
}

/// The dump writer's per-page work on an in-memory image: copy the page out (the read),
/// zero check, compress with the raw fallback.
pub struct MemoryWorker<'a> {
    image: &'a [u8],
    page: Vec<u8>,
    codec: Option<Box<dyn PageCodec>>,
    exclude_zero: bool,
}

impl<'a> MemoryWorker<'a> {
    /// A worker over `image` with its own codec context.
    pub fn new(image: &'a [u8], compression: Compression, exclude_zero: bool) -> Result<Self> {
        Ok(MemoryWorker {
            image,
            page: vec![0; PAGE_SIZE],
            codec: compression.new_codec()?,
            exclude_zero,
        })
    }
}

impl PageWorker for MemoryWorker<'_> {
    fn process(&mut self, pfn: u64, out: &mut [u8]) -> Result<PageOutcome> {
        let pages = self.image.len() / PAGE_SIZE;
        let start = (pfn as usize % pages) * PAGE_SIZE;
        self.page
            .copy_from_slice(&self.image[start..start + PAGE_SIZE]);
        if self.exclude_zero && self.page.iter().all(|&b| b == 0) {
            return Ok(PageOutcome::Zero);
        }
        Ok(
            match store_page(self.codec.as_deref_mut(), &self.page, out) {
                StoredPage::Compressed { len, flag } => PageOutcome::Data { len, flags: flag },
                StoredPage::Raw => {
                    out[..PAGE_SIZE].copy_from_slice(&self.page);
                    PageOutcome::Data {
                        len: PAGE_SIZE,
                        flags: 0,
                    }
                }
            },
        )
    }
}

/// A sink that does what a buffered writer does per page (copy into a 1 MiB buffer,
/// "flush" when full) without the I/O, and keeps a checksum so nothing is optimised away
/// and thread counts can be compared.
pub struct BufferSink {
    buffer: Vec<u8>,
    /// Pages seen.
    pub pages: u64,
    /// Bytes of page data seen.
    pub bytes: u64,
    /// Order-sensitive checksum of (pfn, flags, len).
    pub checksum: u64,
}

impl Default for BufferSink {
    fn default() -> Self {
        BufferSink {
            buffer: Vec::with_capacity(1 << 20),
            pages: 0,
            bytes: 0,
            checksum: 0,
        }
    }
}

impl PageSink for BufferSink {
    fn write_page(&mut self, pfn: u64, outcome: PageOutcome, data: &[u8]) -> Result<()> {
        if self.buffer.len() + data.len() > self.buffer.capacity() {
            self.buffer.clear();
        }
        self.buffer.extend_from_slice(data);
        let (len, flags) = match outcome {
            PageOutcome::Zero => (0, u32::MAX),
            PageOutcome::Data { len, flags } => (len, flags),
        };
        self.checksum = self.checksum.rotate_left(5) ^ pfn ^ ((len as u64) << 32) ^ flags as u64;
        self.pages += 1;
        self.bytes += data.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_deterministic_and_shaped() {
        assert_eq!(
            memory_image(PageMix::Text, 3),
            memory_image(PageMix::Text, 3)
        );
        let mixed = memory_image(PageMix::Mixed, 8);
        assert!(mixed[..PAGE_SIZE].iter().all(|&b| b == 0));
        assert!(mixed[PAGE_SIZE..2 * PAGE_SIZE].iter().any(|&b| b != 0));
    }

    #[test]
    fn text_compresses_and_random_does_not() {
        let text = memory_image(PageMix::Text, 4);
        let random = memory_image(PageMix::Random, 4);
        let mut out = vec![0u8; PAGE_SIZE];
        let mut w = MemoryWorker::new(&text, Compression::Zlib, true).unwrap();
        let PageOutcome::Data { len, flags } = w.process(1, &mut out).unwrap() else {
            panic!("zero?")
        };
        assert!(
            len < PAGE_SIZE / 2 && flags != 0,
            "text compressed to {len}"
        );
        let mut w = MemoryWorker::new(&random, Compression::Zlib, true).unwrap();
        assert_eq!(
            w.process(1, &mut out).unwrap(),
            PageOutcome::Data {
                len: PAGE_SIZE,
                flags: 0
            }
        );
    }
}
