//! Synthetic arm64 kernel page tables over sparse physical memory, for the translation
//! tests and the page-table fuzz target: any page size, any runtime VA size, 48- or
//! 52-bit physical addresses, page and block mappings, with the VMCOREINFO a kernel of
//! that configuration exports.
//!
//! Tables are allocated upward from [`Arm64Tables::new`]'s `table_base`, which a test
//! may put above 2^48 to exercise the 52-bit entry encodings.

use std::collections::HashMap;

use crate::arch::aarch64::levels_for;
use crate::error::{Error, Result};
use crate::input::PageReader;

/// Sparse physical memory: only the pages written exist; reading elsewhere is a hole.
#[derive(Debug, Clone, Default)]
pub struct SparseMemory {
    page_size: u64,
    pages: HashMap<u64, Vec<u8>>,
}

impl SparseMemory {
    /// Empty memory of `page_size`-byte pages.
    pub fn new(page_size: u64) -> Self {
        SparseMemory {
            page_size,
            pages: HashMap::new(),
        }
    }

    /// Write `bytes` at `paddr`, creating the pages touched.
    pub fn write(&mut self, paddr: u64, bytes: &[u8]) {
        let mut done = 0;
        while done < bytes.len() {
            let at = paddr + done as u64;
            let in_page = (at % self.page_size) as usize;
            let n = (self.page_size as usize - in_page).min(bytes.len() - done);
            let page = self
                .pages
                .entry(at / self.page_size)
                .or_insert_with(|| vec![0; self.page_size as usize]);
            page[in_page..in_page + n].copy_from_slice(&bytes[done..done + n]);
            done += n;
        }
    }

    /// Write a little-endian `u64`.
    pub fn write_u64(&mut self, paddr: u64, value: u64) {
        self.write(paddr, &value.to_le_bytes());
    }
}

impl PageReader for SparseMemory {
    fn read_page(&mut self, pfn: u64, buf: &mut [u8]) -> Result<()> {
        self.read_phys(pfn * self.page_size, buf)
    }

    fn read_phys(&mut self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        for (i, b) in buf.iter_mut().enumerate() {
            let at = paddr
                .checked_add(i as u64)
                .ok_or_else(|| Error::invalid("read beyond 2^64"))?;
            let page = self.pages.get(&(at / self.page_size)).ok_or_else(|| {
                Error::invalid(format!("physical address {at:#x} is not in the memory"))
            })?;
            *b = page[(at % self.page_size) as usize];
        }
        Ok(())
    }
}

/// A synthetic arm64 kernel: its tables and the VMCOREINFO describing them.
#[derive(Debug, Clone)]
pub struct Arm64Tables {
    /// The physical memory holding the tables (and whatever a test writes).
    pub memory: SparseMemory,
    /// Page size.
    pub page_size: u64,
    /// Runtime kernel VA size.
    pub vabits: u32,
    /// Physical address size (48 or 52).
    pub pa_bits: u32,
    /// Whether the 5.4+ layout is described.
    pub flipped: bool,
    /// Physical address of `swapper_pg_dir`.
    pub top: u64,
    /// `PHYS_OFFSET`.
    pub phys_offset: u64,
    next_table: u64,
}

impl Arm64Tables {
    /// Empty tables for a supported `page_size` × `vabits`, allocated from `table_base`.
    pub fn new(page_size: u64, vabits: u32, pa_bits: u32, flipped: bool, table_base: u64) -> Self {
        assert!(
            levels_for(page_size, vabits).is_some(),
            "unsupported geometry"
        );
        let mut memory = SparseMemory::new(page_size);
        // The top table may be smaller than a page; a whole page is reserved for it.
        memory.write(table_base, &vec![0; page_size as usize]);
        Arm64Tables {
            memory,
            page_size,
            vabits,
            pa_bits,
            flipped,
            top: table_base,
            phys_offset: 0x4000_0000,
            next_table: table_base + page_size,
        }
    }

    fn page_shift(&self) -> u32 {
        self.page_size.trailing_zeros()
    }

    /// Hardware levels of the walk, top first, with each level's shift.
    fn levels(&self) -> Vec<(i32, u32)> {
        let levels = levels_for(self.page_size, self.vabits).unwrap_or(4) as i32;
        let bits = self.page_shift() - 3;
        (4 - levels..=3)
            .map(|level| (level, bits * (3 - level) as u32 + self.page_shift()))
            .collect()
    }

    /// Start of the linear map.
    pub fn page_offset(&self) -> u64 {
        if self.flipped {
            (1u64 << self.vabits).wrapping_neg()
        } else {
            (1u64 << (self.vabits - 1)).wrapping_neg()
        }
    }

    /// `_stext`: above the old `PAGE_END` in the flipped layout, below it before.
    pub fn stext(&self) -> u64 {
        let min = self.vabits.min(48);
        if self.flipped {
            (1u64 << (min - 1)).wrapping_neg() + 0x8001_0000
        } else {
            (1u64 << min).wrapping_neg() + 0x0808_0000
        }
    }

    /// Whether entries use the 52-bit encodings, and which.
    fn encode(&self, paddr: u64) -> u64 {
        if self.pa_bits < 52 {
            return paddr;
        }
        if self.page_size == 65536 {
            (paddr & ((1 << 48) - 1)) | ((paddr >> 48) & 0xf) << 12
        } else if self.vabits == 52 {
            (paddr & ((1 << 50) - 1)) | ((paddr >> 50) & 0x3) << 8
        } else {
            paddr
        }
    }

    /// The entry for a next-level table, block or page at `paddr`.
    pub fn entry(&self, paddr: u64, descriptor: u64) -> u64 {
        self.encode(paddr) | descriptor | 0x400 // AF, as the kernel sets it
    }

    fn alloc_table(&mut self) -> u64 {
        let table = self.next_table;
        self.next_table += self.page_size;
        self.memory.write(table, &vec![0; self.page_size as usize]);
        table
    }

    fn index(&self, vaddr: u64, level: i32, shift: u32) -> u64 {
        let top_level = self.levels()[0].0;
        let entries = if level == top_level {
            1u64 << (self.vabits - shift)
        } else {
            1u64 << (self.page_shift() - 3)
        };
        (vaddr >> shift) & (entries - 1)
    }

    /// The physical address of the entry for `vaddr` at `hw_level`, creating the tables
    /// above it.
    pub fn entry_address(&mut self, vaddr: u64, hw_level: i32) -> u64 {
        let mut table = self.top;
        for (level, shift) in self.levels() {
            let at = table + self.index(vaddr, level, shift) * 8;
            if level == hw_level {
                return at;
            }
            let mut raw = [0u8; 8];
            self.memory.read_phys(at, &mut raw).unwrap_or_default();
            let entry = u64::from_le_bytes(raw);
            table = if entry & 3 == 3 {
                self.decode(entry)
            } else {
                let next = self.alloc_table();
                let new_entry = self.entry(next, 3);
                self.memory.write_u64(at, new_entry);
                next
            };
        }
        unreachable!("hardware level {hw_level} is not walked")
    }

    fn decode(&self, entry: u64) -> u64 {
        let low = |top: u32| entry & ((1u64 << top) - 1) & (u64::MAX << self.page_shift());
        if self.pa_bits < 52 {
            low(48)
        } else if self.page_size == 65536 {
            low(48) | (entry & 0xf000) << 36
        } else if self.vabits == 52 {
            low(50) | (entry & 0x300) << 42
        } else {
            low(48)
        }
    }

    /// Map the page at `vaddr` to `paddr`.
    pub fn map_page(&mut self, vaddr: u64, paddr: u64) {
        let at = self.entry_address(vaddr, 3);
        let entry = self.entry(paddr, 3);
        self.memory.write_u64(at, entry);
    }

    /// Map a block at hardware level `hw_level` (1 or 2); returns its size.
    pub fn map_block(&mut self, vaddr: u64, paddr: u64, hw_level: i32) -> u64 {
        let shift = self
            .levels()
            .into_iter()
            .find(|&(level, _)| level == hw_level)
            .expect("level walked")
            .1;
        let at = self.entry_address(vaddr, hw_level);
        let entry = self.entry(paddr, 1);
        self.memory.write_u64(at, entry);
        1 << shift
    }

    /// The VMCOREINFO of this kernel. `swapper_pg_dir` lies in the kernel image, found
    /// through `kimage_voffset`.
    pub fn vmcoreinfo(&self) -> String {
        let stext = self.stext();
        let swapper = stext + 0x20_0000;
        let kimage_voffset = swapper.wrapping_sub(self.top);
        let va_bits = self.vabits;
        format!(
            "OSRELEASE=6.12.0\nPAGESIZE={}\nSYMBOL(_stext)={stext:x}\nSYMBOL(swapper_pg_dir)={swapper:x}\n\
             NUMBER(VA_BITS)={va_bits}\nNUMBER(TCR_EL1_T1SZ)={}\nNUMBER(kimage_voffset)={kimage_voffset:#x}\n\
             NUMBER(PHYS_OFFSET)={:#x}\nNUMBER(MAX_PHYSMEM_BITS)={}\n",
            self.page_size,
            64 - self.vabits,
            self.phys_offset,
            self.pa_bits
        )
    }
}
