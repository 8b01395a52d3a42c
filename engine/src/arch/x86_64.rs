//! x86_64 kernel virtual → physical address translation.
//!
//! As makedumpfile's `vtop4_x86_64` (arch/x86_64.c), every kernel virtual address —
//! direct map, vmemmap, kernel text — is translated by walking the kernel's own page
//! tables, starting at `init_level4_pgt` or `init_top_pgt`. Only the top table itself is
//! located arithmetically, through the kernel-text mapping
//! `vaddr - __START_KERNEL_map + phys_base`. Walking instead of using the direct-map
//! formula matters: it is what makedumpfile does, so a vmcore whose tables disagree with
//! the formula filters the same way with both tools.
//!
//! Entries are masked with `~0xfff0000000000fff` (bits 52–63 hold NX, protection keys and
//! software bits; bits 0–11 are flags) and, when the kernel exports `NUMBER(sme_mask)`,
//! with the AMD SME encryption bit cleared. 1 GiB (PUD) and 2 MiB (PMD) leaves are honoured.

use crate::error::{Error, Result};
use crate::filter::keys;
use crate::input::elf::PtLoad;
use crate::input::PageReader;
use crate::kernel_version::KernelVersion;
use crate::vmcoreinfo::VmcoreInfo;

#[path = "x86_64_tree.rs"]
mod tree;

#[cfg(any(test, feature = "testing"))]
pub use super::walk::VtopWalk;
use super::walk::{entry_error, read_entry};
pub use super::walk::{Leaf, TableLevel, TableStep, ValueSource};

/// x86_64 `SECTION_SIZE_BITS` when VMCOREINFO does not say (128 MiB sections).
pub const DEFAULT_SECTION_SIZE_BITS: i64 = 27;
/// `__START_KERNEL_map`: base of the kernel text mapping.
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// `__PAGE_OFFSET` of kernels up to 2.6.26.
const PAGE_OFFSET_ORIG: u64 = 0xffff_8100_0000_0000;
/// `__PAGE_OFFSET` of 4-level kernels since 2.6.27 (without KASLR).
const PAGE_OFFSET_4LEVEL: u64 = 0xffff_8800_0000_0000;
/// `__PAGE_OFFSET` with 5-level paging (without KASLR).
const PAGE_OFFSET_5LEVEL: u64 = 0xff10_0000_0000_0000;
/// makedumpfile's `ENTRY_MASK`: physical address bits 12–51 of a table entry.
const ENTRY_MASK: u64 = !0xfff0_0000_0000_0fff;
const PAGE_PRESENT: u64 = 0x001;
/// `_PAGE_PSE`: the PUD/PMD entry maps a 1 GiB/2 MiB page.
const PAGE_PSE: u64 = 0x080;
const ENTRIES_PER_TABLE: u64 = 512;
/// x86_64 `MAX_PHYSMEM_BITS` is at most 52 (5-level paging): no table lies above.
const MAX_PHYSICAL_ADDRESS: u64 = 1 << 52;

/// The translation parameters of one dumped x86_64 kernel.
#[derive(Debug, Clone)]
pub struct X86_64Translator {
    top_table_symbol: Option<(&'static str, u64)>,
    five_level: bool,
    entry_mask: u64,
    phys_base: u64,
    phys_base_source: ValueSource,
    page_offset: u64,
    page_offset_source: ValueSource,
}

impl X86_64Translator {
    /// Derive the translation parameters from VMCOREINFO and the PT_LOADs, as
    /// makedumpfile's `get_phys_base_x86_64` and `get_page_offset_x86_64`.
    ///
    /// Never fails: a missing `init_top_pgt` is reported by the first translation, which
    /// is when makedumpfile reports it too.
    pub fn new(info: &VmcoreInfo, loads: &[PtLoad], version: KernelVersion) -> Self {
        // makedumpfile prefers the pre-4.14 name when both are present.
        let top_table_symbol = keys::symbol(info, "init_level4_pgt")
            .map(|addr| ("init_level4_pgt", addr))
            .or_else(|| keys::symbol(info, "init_top_pgt").map(|addr| ("init_top_pgt", addr)));
        let five_level = keys::number(info, "pgtable_l5_enabled").is_some_and(|v| v != 0);
        let mut entry_mask = ENTRY_MASK;
        if let Some(sme_mask) = keys::number(info, "sme_mask") {
            entry_mask &= !(sme_mask as u64);
        }

        let (phys_base, phys_base_source) = match keys::number(info, "phys_base") {
            Some(value) => (value as u64, ValueSource::Vmcoreinfo),
            None => match loads.iter().find(|l| l.virt_start >= START_KERNEL_MAP) {
                // The kernel text PT_LOAD: its offset into the text mapping is where the
                // image was linked, so the difference to p_paddr is the relocation.
                Some(text) => (
                    text.phys_start
                        .wrapping_sub(text.virt_start & !START_KERNEL_MAP),
                    ValueSource::PtLoad,
                ),
                None => (0, ValueSource::Constant),
            },
        };

        // The last direct-map PT_LOAD wins: Linux 4.19's /proc/kcore KCORE_REMAP
        // segments come first and must not be chosen (makedumpfile comment).
        let from_loads = loads
            .iter()
            .filter(|l| l.virt_start != 0 && l.virt_start < START_KERNEL_MAP)
            .map(|l| l.virt_start.wrapping_sub(l.phys_start))
            .next_back()
            .filter(|&offset| offset != 0);
        let (page_offset, page_offset_source) = match from_loads {
            Some(offset) => (offset, ValueSource::PtLoad),
            None if version < KernelVersion::new(2, 6, 27) => {
                (PAGE_OFFSET_ORIG, ValueSource::Constant)
            }
            None if five_level => (PAGE_OFFSET_5LEVEL, ValueSource::Constant),
            None => (PAGE_OFFSET_4LEVEL, ValueSource::Constant),
        };

        X86_64Translator {
            top_table_symbol,
            five_level,
            entry_mask,
            phys_base,
            phys_base_source,
            page_offset,
            page_offset_source,
        }
    }

    /// `phys_base`: where the kernel image was loaded relative to where it was linked.
    pub fn phys_base(&self) -> (u64, ValueSource) {
        (self.phys_base, self.phys_base_source)
    }

    /// Start of the direct mapping of all physical memory (`page_offset_base`). Addresses
    /// at or above it count as kernel virtual addresses (`is_kvaddr`).
    pub fn page_offset(&self) -> (u64, ValueSource) {
        (self.page_offset, self.page_offset_source)
    }

    /// Whether 5-level paging is in use (`NUMBER(pgtable_l5_enabled)` non-zero).
    pub fn five_level(&self) -> bool {
        self.five_level
    }

    #[cfg(feature = "testing")]
    /// makedumpfile's `is_kvaddr` on x86_64: at or above the direct map.
    pub fn is_kernel_address(&self, vaddr: u64) -> bool {
        vaddr >= self.page_offset
    }

    /// Physical address of a kernel-text (or kernel data/bss) virtual address.
    pub fn kernel_text_to_phys(&self, vaddr: u64) -> u64 {
        vaddr
            .wrapping_sub(START_KERNEL_MAP)
            .wrapping_add(self.phys_base)
    }

    /// Physical address of the top-level page table.
    ///
    /// Checked against the physical address space: the symbol and phys_base come from
    /// VMCOREINFO, and a corrupted one would otherwise put the table near 2^64, where
    /// the walk's entry arithmetic overflows (found by the page_table_walk fuzz target).
    pub fn top_table(&self) -> Result<u64> {
        let (name, addr) = self.top_table_symbol.ok_or_else(|| {
            Error::invalid("VMCOREINFO has neither SYMBOL(init_top_pgt) nor SYMBOL(init_level4_pgt): can't translate kernel virtual addresses")
        })?;
        let table = self.kernel_text_to_phys(addr);
        if table >= MAX_PHYSICAL_ADDRESS {
            return Err(Error::invalid(format!(
                "VMCOREINFO: SYMBOL({name})={addr:x} with phys_base {:#x} puts the top-level page table at {table:#x}, beyond any physical address",
                self.phys_base
            )));
        }
        Ok(table)
    }

    /// Translate `vaddr` to the leaf page mapping it.
    pub fn leaf(&self, reader: &mut dyn PageReader, vaddr: u64) -> Result<Leaf> {
        self.walk(reader, vaddr, None)
    }

    #[cfg(any(test, feature = "testing"))]
    /// Translate `vaddr` to a physical address.
    pub fn vtop(&self, reader: &mut dyn PageReader, vaddr: u64) -> Result<u64> {
        Ok(self.leaf(reader, vaddr)?.translate(vaddr))
    }

    #[cfg(any(test, feature = "testing"))]
    /// Translate `vaddr` recording every entry read, for `--vtop`.
    pub fn vtop_walk(&self, reader: &mut dyn PageReader, vaddr: u64) -> Result<VtopWalk> {
        let mut steps = Vec::with_capacity(5);
        let leaf = self.walk(reader, vaddr, Some(&mut steps))?;
        Ok(VtopWalk {
            vaddr,
            steps,
            paddr: leaf.translate(vaddr),
        })
    }

    /// The levels of a walk, top first, with the shift of the address bits each indexes.
    fn levels(&self) -> &'static [(TableLevel, u32)] {
        if self.five_level {
            &[
                (TableLevel::Pgd, 48),
                (TableLevel::P4d, 39),
                (TableLevel::Pud, 30),
                (TableLevel::Pmd, 21),
                (TableLevel::Pte, 12),
            ]
        } else {
            &[
                (TableLevel::Pgd, 39),
                (TableLevel::Pud, 30),
                (TableLevel::Pmd, 21),
                (TableLevel::Pte, 12),
            ]
        }
    }

    fn walk(
        &self,
        reader: &mut dyn PageReader,
        vaddr: u64,
        mut steps: Option<&mut Vec<TableStep>>,
    ) -> Result<Leaf> {
        let mut table = self.top_table()?;
        let levels = self.levels();
        for &(level, shift) in levels {
            let entry_address = table + ((vaddr >> shift) & (ENTRIES_PER_TABLE - 1)) * 8;
            let entry = read_entry(reader, vaddr, level, entry_address, steps.as_deref_mut())?;
            if entry & PAGE_PRESENT == 0 {
                return Err(entry_error(
                    vaddr,
                    level,
                    entry_address,
                    entry,
                    "is not present",
                ));
            }
            let leaf_size = 1u64 << shift;
            let is_leaf = match level {
                TableLevel::Pud | TableLevel::Pmd => entry & PAGE_PSE != 0,
                TableLevel::Pte => true,
                TableLevel::Pgd | TableLevel::P4d => false,
            };
            if is_leaf {
                let phys_base = entry & self.entry_mask & !(leaf_size - 1);
                return Ok(Leaf {
                    virt_base: vaddr & !(leaf_size - 1),
                    phys_base,
                    size: leaf_size,
                });
            }
            table = entry & self.entry_mask;
        }
        // The PTE level always returns above; kept as an error so a future edit of the
        // level table cannot turn into a panic.
        Err(Error::internal(format!(
            "page-table walk of {vaddr:#x} ended without a leaf"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::PhysicalMemory;
    use crate::synthetic::machine::{Generation, Machine};

    /// Regression (fuzz/page_table_walk): NUMBER(phys_base) near 2^64 put the top table
    /// at 0xffff_ffff_ffff_f000 and `table + index * 8` overflowed (a panic in debug
    /// builds, a wild read in release).
    #[test]
    fn top_table_beyond_physical_memory_is_an_error_not_an_overflow() {
        let m = Machine::new(Generation::V6_1);
        let text = format!(
            "OSRELEASE=6.1.0\nSYMBOL(init_top_pgt)=ffffffff80000000\nNUMBER(phys_base)={:#x}\n",
            u64::MAX - 0xfff
        );
        let info = VmcoreInfo::parse(text.as_bytes());
        let translator = X86_64Translator::new(&info, &[], KernelVersion::new(6, 1, 0));
        let mut reader = m.memory.reader().unwrap();
        let err = translator
            .vtop(&mut *reader, 0xffff_ffff_ffff_ffff)
            .unwrap_err();
        assert!(
            err.to_string().contains("beyond any physical address"),
            "{err}"
        );
    }
}
