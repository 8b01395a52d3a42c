//! Reading kernel virtual memory through a page-table translator with a small cache.
//!
//! makedumpfile walks the page tables on every `readmem(VADDR, …)` and keeps an 8-entry
//! cache of physical pages. We cache translations instead: the last few leaf mappings
//! (pages or blocks). The mem_map scan reads struct pages sequentially from vmemmap,
//! which x86_64 and arm64 with 4 KiB pages map with 2 MiB blocks, so one walk serves
//! 32768 struct pages.

use super::walk::Leaf;
use super::Translator;
use crate::error::Result;
use crate::input::PageReader;

/// Number of cached leaf mappings: the scan touches one vmemmap leaf at a time, the free
/// list walk alternates between zone structures and a few vmemmap leaves.
const CACHED_LEAVES: usize = 8;

/// A reader of kernel virtual addresses for one thread.
pub struct VirtualReader<'t, 'r> {
    translator: &'t Translator,
    reader: &'r mut dyn PageReader,
    cache: [Option<Leaf>; CACHED_LEAVES],
    next_slot: usize,
}

impl<'t, 'r> VirtualReader<'t, 'r> {
    /// Wrap a physical reader.
    pub fn new(translator: &'t Translator, reader: &'r mut dyn PageReader) -> Self {
        VirtualReader {
            translator,
            reader,
            cache: [None; CACHED_LEAVES],
            next_slot: 0,
        }
    }

    /// The translator in use.
    pub fn translator(&self) -> &'t Translator {
        self.translator
    }

    /// The leaf mapping `vaddr`, from the cache or by walking the tables.
    pub(crate) fn leaf(&mut self, vaddr: u64) -> Result<Leaf> {
        if let Some(leaf) = self
            .cache
            .iter()
            .flatten()
            .find(|leaf| leaf.contains(vaddr))
        {
            return Ok(*leaf);
        }
        let leaf = self.translator.leaf(self.reader, vaddr)?;
        self.cache[self.next_slot] = Some(leaf);
        self.next_slot = (self.next_slot + 1) % CACHED_LEAVES;
        Ok(leaf)
    }

    #[cfg(feature = "testing")]
    /// Physical address of `vaddr`.
    pub fn translate(&mut self, vaddr: u64) -> Result<u64> {
        Ok(self.leaf(vaddr)?.translate(vaddr))
    }

    /// Fill `buf` from kernel virtual address `vaddr`, translating each leaf page it
    /// crosses. Unmapped addresses and physical holes are errors naming the address.
    pub fn read(&mut self, vaddr: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let at = vaddr.wrapping_add(done as u64);
            let leaf = self.leaf(at)?;
            let in_leaf = (leaf.virt_base.wrapping_add(leaf.size).wrapping_sub(at))
                .min((buf.len() - done) as u64) as usize;
            self.reader
                .read_phys(leaf.translate(at), &mut buf[done..done + in_leaf])?;
            done += in_leaf;
        }
        Ok(())
    }

    /// A little-endian `u64` at `vaddr`.
    pub fn read_u64(&mut self, vaddr: u64) -> Result<u64> {
        let mut raw = [0u8; 8];
        self.read(vaddr, &mut raw)?;
        Ok(u64::from_le_bytes(raw))
    }

    /// A little-endian `u32` at `vaddr`.
    pub fn read_u32(&mut self, vaddr: u64) -> Result<u32> {
        let mut raw = [0u8; 4];
        self.read(vaddr, &mut raw)?;
        Ok(u32::from_le_bytes(raw))
    }
}
