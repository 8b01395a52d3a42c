//! Synthetic physical memory images (test support, also used by the CLI tests, property
//! tests and fuzz seeds through [`super::SyntheticVmcore`]): a small x86_64 machine with
//! real page tables (4- or 5-level), a kernel-text and a direct mapping, a vmemmap of
//! struct pages, SPARSEMEM_EXTREME `mem_section` structures and the VMCOREINFO text a
//! kernel of a chosen generation would export.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::arch::x86_64::START_KERNEL_MAP;
use crate::error::{Error, Result};
use crate::input::elf::PtLoad;
use crate::input::{PageReader, PhysicalMemory};
use crate::vmcoreinfo::VmcoreInfo;

pub const PS: u64 = 4096;
/// 8 MiB of RAM.
pub const PFNS: u64 = 2048;
/// Kernel structures (tables, struct pages, mem_section) are allocated from here up.
const KERNEL_AREA: u64 = 1536;
/// 2 MiB sections: 512 pfns each, 4 sections.
pub const SECTION_SIZE_BITS: u64 = 21;
pub const STRUCT_PAGE: u64 = 64;
pub const PHYS_BASE: u64 = 0x20_0000;
const NX: u64 = 1 << 63;

/// Physical memory with optional pfn holes.
pub struct SyntheticMemory {
    pub bytes: Vec<u8>,
    pub holes: Vec<Range<u64>>,
}

impl PhysicalMemory for SyntheticMemory {
    fn page_size(&self) -> u64 {
        PS
    }

    fn arch(&self) -> crate::arch::Arch {
        crate::arch::Arch::X86_64
    }

    fn max_mapnr(&self) -> u64 {
        self.bytes.len() as u64 / PS
    }

    fn has_page(&self, pfn: u64) -> bool {
        pfn < self.max_mapnr() && !self.holes.iter().any(|h| h.contains(&pfn))
    }

    fn reader(&self) -> Result<Box<dyn PageReader + '_>> {
        Ok(Box::new(SyntheticReader { memory: self }))
    }
}

pub struct SyntheticReader<'a> {
    memory: &'a SyntheticMemory,
}

impl PageReader for SyntheticReader<'_> {
    fn read_page(&mut self, pfn: u64, buf: &mut [u8]) -> Result<()> {
        if self.memory.has_page(pfn) {
            buf.copy_from_slice(&self.memory.bytes[(pfn * PS) as usize..((pfn + 1) * PS) as usize]);
        } else {
            buf.fill(0);
        }
        Ok(())
    }

    fn read_phys(&mut self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        let end = paddr
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= self.memory.bytes.len() as u64);
        let in_hole = (paddr / PS..paddr.saturating_add(buf.len() as u64).div_ceil(PS))
            .any(|pfn| !self.memory.has_page(pfn));
        match end {
            Some(end) if !in_hole => {
                buf.copy_from_slice(&self.memory.bytes[paddr as usize..end as usize]);
                Ok(())
            }
            _ => Err(Error::invalid(format!(
                "Attempt to read non-existent page at {paddr:#x}"
            ))),
        }
    }
}

/// The kernel generations whose struct page rules differ (reference §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Generation {
    V4_15,
    V6_1,
    V6_3,
    V6_6,
    V6_9,
    V6_10,
    V6_12,
    V6_16,
    V7_1,
}

impl Generation {
    pub const ALL: [Generation; 9] = [
        Generation::V4_15,
        Generation::V6_1,
        Generation::V6_3,
        Generation::V6_6,
        Generation::V6_9,
        Generation::V6_10,
        Generation::V6_12,
        Generation::V6_16,
        Generation::V7_1,
    ];

    /// OSRELEASE of a kernel of this generation.
    pub fn osrelease(self) -> &'static str {
        match self {
            Generation::V4_15 => "4.15.0-generic",
            Generation::V6_1 => "6.1.0-56-cloud-amd64",
            Generation::V6_3 => "6.3.13",
            Generation::V6_6 => "6.6.8",
            Generation::V6_9 => "6.9.0",
            Generation::V6_10 => "6.10.2",
            Generation::V6_12 => "6.12.9",
            Generation::V6_16 => "6.16.1",
            Generation::V7_1 => "7.1.0-rc2",
        }
    }

    fn typed(self) -> bool {
        self >= Generation::V6_12
    }

    /// `PAGE_*_MAPCOUNT_VALUE` as the 32-bit field holds it.
    pub fn buddy(self) -> u32 {
        if self.typed() {
            0xf000_0000
        } else {
            -129i32 as u32
        }
    }

    pub fn offline(self) -> u32 {
        if self.typed() {
            0xf200_0000
        } else {
            -257i32 as u32
        }
    }

    pub fn slab(self) -> Option<u32> {
        match self {
            g if g.typed() => Some(0xf500_0000),
            Generation::V6_10 => Some(-513i32 as u32),
            _ => None,
        }
    }

    pub fn hugetlb(self) -> Option<u32> {
        match self {
            g if g.typed() => Some(0xf400_0000),
            Generation::V6_9 | Generation::V6_10 => Some(-1025i32 as u32),
            _ => None,
        }
    }

    pub fn unaccepted(self) -> Option<u32> {
        (self >= Generation::V6_16).then_some(0xf700_0000)
    }
}

const PG_LRU: u64 = 4;
const PG_SLAB: u64 = 9;
const PG_SWAPCACHE: u64 = 10;
const PG_PRIVATE: u64 = 13;
const PG_HEAD: u64 = 16;
const PG_SWAPBACKED: u64 = 19;
const PG_HUGETLB: u64 = 11;
pub const PG_HWPOISON: u64 = 23;

/// Struct page fields (x86_64 6.1 layout; compound fields vary by generation).
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub flags: u64,
    pub mapping: u64,
    pub mapcount: u32,
    pub private: u64,
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            flags: 0,
            mapping: 0,
            mapcount: u32::MAX,
            private: 0,
        }
    }
}

pub const LRU: u64 = 1 << PG_LRU;
pub const PRIVATE: u64 = 1 << PG_PRIVATE;
pub const SWAPCACHE: u64 = 1 << PG_SWAPCACHE;
pub const SWAPBACKED: u64 = 1 << PG_SWAPBACKED;
pub const SLAB_FLAG: u64 = 1 << PG_SLAB;
pub const HWPOISON: u64 = 1 << PG_HWPOISON;

/// A synthetic x86_64 machine.
pub struct Machine {
    pub memory: SyntheticMemory,
    pub generation: Generation,
    pub five_level: bool,
    pub sme_mask: u64,
    next_free: u64,
    pgd: u64,
    pub page_offset: u64,
    pub vmemmap: u64,
    struct_pages_phys: u64,
    pub root_array: u64,
    pub mem_section_pointer: u64,
    keys: BTreeMap<String, String>,
}

impl Machine {
    pub fn new(generation: Generation) -> Self {
        Machine::build(generation, false, 0)
    }

    pub fn build(generation: Generation, five_level: bool, sme_mask: u64) -> Self {
        let (page_offset, vmemmap) = if five_level {
            (0xff11_0000_0000_0000, 0xffd4_0000_0000_0000)
        } else {
            (0xffff_8880_0000_0000, 0xffff_ea00_0000_0000)
        };
        let mut m = Machine {
            memory: SyntheticMemory {
                bytes: vec![0; (PFNS * PS) as usize],
                holes: Vec::new(),
            },
            generation,
            five_level,
            sme_mask,
            next_free: KERNEL_AREA,
            pgd: 0,
            page_offset,
            vmemmap,
            struct_pages_phys: 0,
            root_array: 0,
            mem_section_pointer: 0,
            keys: BTreeMap::new(),
        };
        m.pgd = m.alloc();
        // Kernel text: 2 MiB leaves from phys_base; direct map: 2 MiB leaves from 0.
        for offset in (0..PFNS * PS - PHYS_BASE).step_by(1 << 21) {
            m.map(START_KERNEL_MAP + offset, PHYS_BASE + offset, 1 << 21);
        }
        for paddr in (0..PFNS * PS).step_by(1 << 21) {
            m.map(page_offset + paddr, paddr, 1 << 21);
        }
        // vmemmap: 4 KiB leaves over physically contiguous struct pages.
        let struct_page_pages = PFNS * STRUCT_PAGE / PS;
        // Reserve them first: mapping allocates page tables, which must not land inside.
        m.struct_pages_phys = m.next_free * PS;
        m.next_free += struct_page_pages;
        for i in 0..struct_page_pages {
            m.map(vmemmap + i * PS, m.struct_pages_phys + i * PS, PS);
        }
        for pfn in 0..PFNS {
            m.write_page(pfn, Fields::default());
        }
        // SPARSEMEM_EXTREME: one root page of 256 mem_section structs.
        let sections = m.alloc() * PS;
        let roots = m.alloc() * PS;
        m.write_u64(roots, page_offset + sections);
        for nr in 0..PFNS >> (SECTION_SIZE_BITS - 12) {
            // coded mem_map = mem_map - section_start_pfn * SIZE(page); present | has_mem_map
            m.write_u64(sections + nr * 16, vmemmap | 0b11);
        }
        m.root_array = page_offset + roots;
        // The kernel variable (4.15+): a pointer to the root array, in kernel .data.
        let pointer = m.alloc() * PS;
        m.write_u64(pointer, m.root_array);
        m.mem_section_pointer = START_KERNEL_MAP + pointer - PHYS_BASE;
        m.default_keys();
        m
    }

    fn default_keys(&mut self) {
        self.keys = kernel_keys(&KernelLayout {
            generation: self.generation,
            five_level: self.five_level,
            sme_mask: self.sme_mask,
            section_size_bits: SECTION_SIZE_BITS,
            phys_base: PHYS_BASE,
            root_array: self.root_array,
            top_table_vaddr: START_KERNEL_MAP + self.pgd * PS - PHYS_BASE,
        });
    }

    pub fn set_key(&mut self, key: &str, value: impl ToString) {
        self.keys.insert(key.into(), value.to_string());
    }

    pub fn remove_key(&mut self, key: &str) {
        self.keys.remove(key);
    }

    pub fn info(&self) -> VmcoreInfo {
        VmcoreInfo::parse(self.vmcoreinfo_text().as_bytes())
    }

    /// The VMCOREINFO note text.
    pub fn vmcoreinfo_text(&self) -> String {
        self.keys
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect()
    }

    /// The PT_LOADs a kdump kernel would describe this machine with.
    pub fn loads(&self) -> Vec<PtLoad> {
        let ram = PFNS * PS;
        vec![
            PtLoad {
                phys_start: PHYS_BASE,
                phys_end: ram,
                virt_start: START_KERNEL_MAP,
                file_offset: 0,
                file_size: ram - PHYS_BASE,
            },
            PtLoad {
                phys_start: 0,
                phys_end: ram,
                virt_start: self.page_offset,
                file_offset: 0,
                file_size: ram,
            },
        ]
    }

    /// A fresh physical page from the kernel area.
    pub fn alloc(&mut self) -> u64 {
        let pfn = self.next_free;
        assert!(pfn < PFNS, "synthetic machine out of kernel pages");
        self.next_free += 1;
        pfn
    }

    pub fn write_u64(&mut self, paddr: u64, value: u64) {
        self.memory.bytes[paddr as usize..paddr as usize + 8].copy_from_slice(&value.to_le_bytes());
    }

    pub fn write_u32(&mut self, paddr: u64, value: u32) {
        self.memory.bytes[paddr as usize..paddr as usize + 4].copy_from_slice(&value.to_le_bytes());
    }

    fn read_u64(&self, paddr: u64) -> u64 {
        u64::from_le_bytes(
            self.memory.bytes[paddr as usize..paddr as usize + 8]
                .try_into()
                .unwrap(),
        )
    }

    /// Map `size` bytes (4 KiB, 2 MiB or 1 GiB) at `vaddr` to `paddr`, allocating tables.
    /// Every entry carries NX and the SME bit, which translation must mask off.
    pub fn map(&mut self, vaddr: u64, paddr: u64, size: u64) {
        let shifts: &[u32] = if self.five_level {
            &[48, 39, 30, 21, 12]
        } else {
            &[39, 30, 21, 12]
        };
        let mut table = self.pgd * PS;
        for &shift in shifts {
            let entry_at = table + ((vaddr >> shift) & 511) * 8;
            if 1u64 << shift == size {
                let pse = if shift == 12 { 0 } else { 0x80 };
                self.write_u64(entry_at, paddr | self.sme_mask | NX | pse | 0x63);
                return;
            }
            let mut entry = self.read_u64(entry_at);
            if entry & 1 == 0 {
                entry = (self.alloc() * PS) | self.sme_mask | NX | 0x63;
                self.write_u64(entry_at, entry);
            }
            table = entry & 0x000f_ffff_ffff_f000 & !self.sme_mask;
        }
    }

    /// Kernel virtual address of `paddr` in the direct map.
    pub fn direct(&self, paddr: u64) -> u64 {
        self.page_offset + paddr
    }

    /// Physical address of the struct page array.
    pub fn struct_pages_base(&self) -> u64 {
        self.struct_pages_phys
    }

    fn struct_page(&self, pfn: u64) -> u64 {
        self.struct_pages_phys + pfn * STRUCT_PAGE
    }

    pub fn struct_page_vaddr(&self, pfn: u64) -> u64 {
        self.vmemmap + pfn * STRUCT_PAGE
    }

    pub fn write_page(&mut self, pfn: u64, fields: Fields) {
        let at = self.struct_page(pfn);
        self.write_u64(at, fields.flags);
        self.write_u64(at + 24, fields.mapping);
        self.write_u32(at + 48, fields.mapcount);
        self.write_u64(at + 40, fields.private);
    }

    pub fn or_flags(&mut self, pfn: u64, flags: u64) {
        let at = self.struct_page(pfn);
        let old = self.read_u64(at);
        self.write_u64(at, old | flags);
    }

    pub fn set_mapcount(&mut self, pfn: u64, value: u32) {
        let at = self.struct_page(pfn);
        self.write_u32(at + 48, value);
    }

    /// Make `[head, head + 2^order)` a compound page, encoded as this generation does.
    pub fn compound(&mut self, head: u64, order: u64, hugetlb: bool) {
        self.or_flags(head, 1 << PG_HEAD);
        let second = self.struct_page(head + 1);
        match self.generation {
            Generation::V4_15 => {
                // 4.15: u16 compound_order, u16 compound_dtor (4.4–4.15 layout).
                self.memory.bytes[second as usize + 16..second as usize + 18]
                    .copy_from_slice(&(if hugetlb { 2u16 } else { 1 }).to_le_bytes());
                self.memory.bytes[second as usize + 18..second as usize + 20]
                    .copy_from_slice(&(order as u16).to_le_bytes());
            }
            Generation::V6_1 => {
                self.memory.bytes[second as usize + 16] = if hugetlb { 2 } else { 1 };
                self.memory.bytes[second as usize + 18] = order as u8;
            }
            Generation::V6_3 => {
                self.memory.bytes[second as usize + 32] = if hugetlb { 2 } else { 1 };
                self.memory.bytes[second as usize + 33] = order as u8;
            }
            Generation::V6_6 => {
                self.or_flags(head + 1, order | if hugetlb { 1 << PG_HUGETLB } else { 0 });
            }
            g => {
                self.or_flags(head + 1, order);
                if hugetlb {
                    self.set_mapcount(head, g.hugetlb().unwrap());
                }
            }
        }
        let head_vaddr = self.struct_page_vaddr(head);
        for tail in head + 1..head + (1 << order) {
            let at = self.struct_page(tail);
            self.write_u64(at + 8, head_vaddr | 1);
        }
    }
}

/// What the VMCOREINFO of a synthetic machine depends on.
pub struct KernelLayout {
    /// Kernel generation (struct page rules, OSRELEASE).
    pub generation: Generation,
    /// 5-level paging.
    pub five_level: bool,
    /// AMD SME bit in page-table entries.
    pub sme_mask: u64,
    /// `SECTION_SIZE_BITS`.
    pub section_size_bits: u64,
    /// `phys_base`.
    pub phys_base: u64,
    /// `SYMBOL(mem_section)`: the root array's kernel address.
    pub root_array: u64,
    /// `SYMBOL(init_top_pgt)`.
    pub top_table_vaddr: u64,
}

/// The VMCOREINFO keys a kernel of `layout` exports (the ones the filter and
/// makedumpfile 1.7.2 read).
pub fn kernel_keys(layout: &KernelLayout) -> BTreeMap<String, String> {
    let g = layout.generation;
    let max_physmem_bits: u64 = if layout.five_level { 52 } else { 46 };
    let roots = (1u64 << (max_physmem_bits - layout.section_size_bits)) / (PS / 16);
    let number = |v: u32| (v as i32).to_string();
    let mut keys: Vec<(String, String)> = vec![
        ("OSRELEASE".into(), g.osrelease().into()),
        ("PAGESIZE".into(), PS.to_string()),
        (
            "SYMBOL(mem_section)".into(),
            format!("{:x}", layout.root_array),
        ),
        ("LENGTH(mem_section)".into(), roots.to_string()),
        ("SIZE(mem_section)".into(), "16".into()),
        ("OFFSET(mem_section.section_mem_map)".into(), "0".into()),
        (
            "NUMBER(SECTION_SIZE_BITS)".into(),
            layout.section_size_bits.to_string(),
        ),
        (
            "NUMBER(MAX_PHYSMEM_BITS)".into(),
            max_physmem_bits.to_string(),
        ),
        ("SIZE(page)".into(), STRUCT_PAGE.to_string()),
        ("OFFSET(page.flags)".into(), "0".into()),
        ("OFFSET(page._refcount)".into(), "52".into()),
        ("OFFSET(page.mapping)".into(), "24".into()),
        ("OFFSET(page.lru)".into(), "8".into()),
        ("OFFSET(page._mapcount)".into(), "48".into()),
        ("OFFSET(page.private)".into(), "40".into()),
        ("NUMBER(PG_lru)".into(), PG_LRU.to_string()),
        ("NUMBER(PG_private)".into(), PG_PRIVATE.to_string()),
        ("NUMBER(PG_swapcache)".into(), PG_SWAPCACHE.to_string()),
        ("NUMBER(PG_swapbacked)".into(), PG_SWAPBACKED.to_string()),
        ("NUMBER(PG_head_mask)".into(), (1u64 << PG_HEAD).to_string()),
        (
            "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)".into(),
            number(g.buddy()),
        ),
        (
            "NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)".into(),
            number(g.offline()),
        ),
        ("LENGTH(zone.free_area)".into(), "11".into()),
        ("NUMBER(phys_base)".into(), layout.phys_base.to_string()),
        (
            "SYMBOL(init_top_pgt)".into(),
            format!("{:x}", layout.top_table_vaddr),
        ),
        (
            "NUMBER(pgtable_l5_enabled)".into(),
            (layout.five_level as u8).to_string(),
        ),
        ("NUMBER(sme_mask)".into(), layout.sme_mask.to_string()),
    ];
    let head_field = if g == Generation::V7_1 {
        "OFFSET(page.compound_info)"
    } else {
        "OFFSET(page.compound_head)"
    };
    keys.push((head_field.into(), "8".into()));
    if g < Generation::V6_10 {
        keys.push(("NUMBER(PG_slab)".into(), PG_SLAB.to_string()));
    }
    match g {
        Generation::V4_15 | Generation::V6_1 => {
            keys.push(("OFFSET(page.compound_dtor)".into(), "16".into()));
            keys.push(("OFFSET(page.compound_order)".into(), "18".into()));
            keys.push(("NUMBER(HUGETLB_PAGE_DTOR)".into(), "2".into()));
        }
        Generation::V6_3 => {
            keys.push(("OFFSET(folio._folio_dtor)".into(), "96".into()));
            keys.push(("OFFSET(folio._folio_order)".into(), "97".into()));
            keys.push(("NUMBER(HUGETLB_PAGE_DTOR)".into(), "2".into()));
        }
        Generation::V6_6 => {
            // Still exported but superseded by PG_hugetlb.
            keys.push(("OFFSET(folio._folio_order)".into(), "97".into()));
            keys.push(("NUMBER(PG_hugetlb)".into(), PG_HUGETLB.to_string()));
        }
        _ => {}
    }
    if let Some(v) = g.hugetlb() {
        keys.push(("NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)".into(), number(v)));
    }
    if let Some(v) = g.slab() {
        keys.push(("NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)".into(), number(v)));
    }
    if let Some(v) = g.unaccepted() {
        keys.push(("NUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE)".into(), number(v)));
    }
    keys.into_iter().collect()
}
