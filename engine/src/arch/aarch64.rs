//! arm64 kernel virtual → physical address translation.
//!
//! The facts follow makedumpfile's arch/arm64.c (upstream master):
//!
//! - The page size is `PAGESIZE` (4, 16 or 64 KiB). The compile-time VA size is
//!   `NUMBER(VA_BITS)` (else guessed from `SYMBOL(_stext)`); the runtime one, which decides
//!   the table geometry, is `64 - NUMBER(TCR_EL1_T1SZ)` (5.9+), else for a 52-bit build
//!   guessed from where `mem_section` lies, else `VA_BITS`.
//! - The number of levels comes from page size × runtime VA bits (4K/39 → 3, 4K/48 → 4,
//!   4K/52 → 5, 16K/36 → 2, 16K/47 → 3, 16K/48 and 16K/52 → 4, 64K/42 → 2, 64K/48 and
//!   64K/52 → 3); anything else is refused.
//! - Since 5.4 the linear map sits in the lower half of the kernel VA range ("flipped"):
//!   detected as makedumpfile does, by `SYMBOL(_stext)` lying above the old `PAGE_END`.
//! - Every address is translated by walking the tables at `swapper_pg_dir`, as
//!   makedumpfile's `vaddr_to_paddr_arm64`; only the table itself is located
//!   arithmetically: kernel-image addresses minus `NUMBER(kimage_voffset)`, linear-map
//!   addresses `(vaddr & !PAGE_OFFSET) + PHYS_OFFSET`.
//! - `PHYS_OFFSET` (the `phys_base` of the dump headers) is `NUMBER(PHYS_OFFSET)`, else
//!   derived from a linear-map PT_LOAD.
//! - Output addresses in table entries: bits `[47:PAGE_SHIFT]`; with 52-bit physical
//!   addresses, 64 KiB pages (FEAT_LPA) keep PA bits 51:48 in entry bits 15:12, and 4/16
//!   KiB pages (FEAT_LPA2, in use when the runtime VA size is 52) keep PA bits 49:48 in
//!   place and 51:50 in entry bits 9:8 (the kernel's `__pte_to_phys`).
//!
//! Where makedumpfile and the hardware disagree we follow the hardware, and say so:
//! a block entry maps the size of the level it sits at (makedumpfile applies the PUD
//! size to a 2-level PGD block), an invalid table entry is an error naming it
//! (makedumpfile reads on from physical address 0), and 4/16 KiB pages with 52-bit PAs
//! use the LPA2 encoding (makedumpfile decodes every 52-bit PA as FEAT_LPA).

use super::walk::{entry_error, read_entry, Leaf, TableLevel, TableStep, ValueSource};
use crate::error::{Error, Result};
use crate::filter::keys;
use crate::input::elf::PtLoad;
use crate::input::PageReader;
use crate::vmcoreinfo::VmcoreInfo;

/// arm64 `SECTION_SIZE_BITS` when VMCOREINFO does not say (1 GiB sections, makedumpfile's
/// `SECTIONS_SIZE_BITS`; kernels since 5.12 use 27 with 4K pages and export it).
pub const DEFAULT_SECTION_SIZE_BITS: i64 = 30;
/// Descriptor bits 1:0 of a valid table entry at levels 0–2, and of a page at level 3.
const DESC_TABLE: u64 = 0b11;
/// Descriptor bits 1:0 of a block entry (levels 1 and 2).
const DESC_BLOCK: u64 = 0b01;
/// Bit 0: the entry is valid.
const DESC_VALID: u64 = 0b1;

/// How table entries hold the output (physical) address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaEncoding {
    /// Up to 48-bit PAs: entry bits 47..PAGE_SHIFT.
    Bits48,
    /// FEAT_LPA, 64 KiB pages: PA bits 51:48 in entry bits 15:12.
    Lpa64K,
    /// FEAT_LPA2, 4/16 KiB pages: PA bits 49:PAGE_SHIFT in place, 51:50 in entry bits 9:8.
    Lpa2,
}

/// The translation parameters of one dumped arm64 kernel.
#[derive(Debug, Clone)]
pub struct Arm64Translator {
    page_shift: u32,
    va_bits: u32,
    vabits_actual: u32,
    levels: u32,
    flipped_va: bool,
    page_offset: u64,
    kimage_voffset: Option<u64>,
    phys_base: u64,
    #[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))]
    phys_base_source: ValueSource,
    max_physmem_bits: u32,
    encoding: PaEncoding,
    swapper_pg_dir: Option<u64>,
}

/// The kernel VA layout (makedumpfile `get_versiondep_info_arm64`, `get_page_offset_arm64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaLayout {
    /// Compile-time `VA_BITS`.
    pub va_bits: u32,
    /// Runtime kernel VA size.
    pub vabits_actual: u32,
    /// The 5.4+ layout: linear map in the lower half.
    pub flipped_va: bool,
    /// Start of the linear map.
    pub page_offset: u64,
}

impl VaLayout {
    /// From VMCOREINFO alone.
    pub fn from_vmcoreinfo(info: &VmcoreInfo) -> Result<Self> {
            let stext = keys::symbol(info, "_stext");
            let va_bits = match keys::number(info, "VA_BITS") {
                Some(bits) if (36..=52).contains(&bits) => bits as u32,
                Some(bits) => {
                    return Err(vmcoreinfo_error(format!(
                        "NUMBER(VA_BITS)={bits} is not an arm64 VA size"
                    )))
                }
                None => stext.and_then(va_bits_from_stext).ok_or_else(|| {
                    vmcoreinfo_error(
                        "neither NUMBER(VA_BITS) nor a kernel SYMBOL(_stext): can't determine va_bits"
                            .into(),
                    )
                })?,
            };
            let vabits_actual = match keys::number(info, "TCR_EL1_T1SZ") {
                Some(t1sz) if (12..=28).contains(&t1sz) => 64 - t1sz as u32,
                Some(t1sz) => {
                    return Err(vmcoreinfo_error(format!(
                        "NUMBER(TCR_EL1_T1SZ)={t1sz} is not an arm64 kernel VA size"
                    )))
                }
                None => match keys::symbol(info, "mem_section") {
                    // 5.4–5.10, 52-bit builds: mem_section sits in the 48- or 52-bit linear map.
                    Some(mem_section) if va_bits == 52 => {
                        if mem_section & (1 << (va_bits - 1)) != 0 {
                            48
                        } else {
                            52
                        }
                    }
                    _ => va_bits,
                },
            };
            // get_page_offset_arm64: the flipped layout puts _stext above the old PAGE_END.
            let vabits_min = va_bits.min(48);
            let page_end = (1u64 << (vabits_min - 1)).wrapping_neg();
            let flipped_va = stext.unwrap_or(0) > page_end;
            let page_offset = if flipped_va {
                (1u64 << vabits_actual).wrapping_neg()
            } else {
                (1u64 << (vabits_actual - 1)).wrapping_neg()
            };
        Ok(VaLayout {
            va_bits,
            vabits_actual,
            flipped_va,
            page_offset,
        })
    }
}

/// The table-walk geometry: levels from page size and runtime VA bits (makedumpfile
/// `calculate_plat_config`).
pub fn levels_for(page_size: u64, va_bits: u32) -> Option<u32> {
    match (page_size, va_bits) {
        (16384, 36) | (65536, 42) => Some(2),
        (65536, 48) | (65536, 52) | (4096, 39) | (16384, 47) => Some(3),
        (4096, 48) | (16384, 48) | (16384, 52) => Some(4),
        (4096, 52) => Some(5),
        _ => None,
    }
}

/// makedumpfile `get_va_bits_from_stext_arm64`: the widest kernel VA range `_stext` lies in.
fn va_bits_from_stext(stext: u64) -> Option<u32> {
    [48u32, 47, 42, 39, 36]
        .into_iter()
        .find(|&bits| stext & (u64::MAX << bits) == u64::MAX << bits)
}

fn vmcoreinfo_error(message: String) -> Error {
    Error::invalid(format!("VMCOREINFO: {message}"))
}

impl Arm64Translator {
    /// Derive the translation parameters from VMCOREINFO and the PT_LOADs
    /// (makedumpfile `get_versiondep_info_arm64`, `get_machdep_info_arm64`,
    /// `get_phys_base_arm64`). `page_size` is the input's.
    pub fn new(info: &VmcoreInfo, loads: &[PtLoad], page_size: u64) -> Result<Self> {
        let VaLayout {
            va_bits,
            vabits_actual,
            flipped_va,
            page_offset,
        } = VaLayout::from_vmcoreinfo(info)?;
        let levels = levels_for(page_size, vabits_actual).ok_or_else(|| {
            vmcoreinfo_error(format!(
                "PAGESIZE={page_size} with a {vabits_actual}-bit kernel VA range is not a supported arm64 configuration (makedumpfile: \"PAGE SIZE {page_size:#x} and VA Bits {vabits_actual} not supported\")"
            ))
        })?;

        let max_physmem_bits = match keys::number(info, "MAX_PHYSMEM_BITS") {
            Some(bits) if (32..=52).contains(&bits) => bits as u32,
            Some(bits) => {
                return Err(vmcoreinfo_error(format!(
                    "NUMBER(MAX_PHYSMEM_BITS)={bits} is not an arm64 physical address size"
                )))
            }
            None if va_bits == 52 => 52,
            None => 48,
        };
        let encoding = match (max_physmem_bits, page_size) {
            (52, 65536) => PaEncoding::Lpa64K,
            (52, _) if vabits_actual == 52 => PaEncoding::Lpa2,
            _ => PaEncoding::Bits48,
        };

        let (phys_base, phys_base_source) = match keys::number(info, "PHYS_OFFSET") {
            Some(offset) => (offset as u64, ValueSource::Vmcoreinfo),
            None => loads
                .iter()
                .find(|l| l.virt_start >= page_offset && l.virt_start != u64::MAX)
                .map(|l| {
                    (
                        l.phys_start.wrapping_sub(l.virt_start & !page_offset),
                        ValueSource::PtLoad,
                    )
                })
                .ok_or_else(|| {
                    vmcoreinfo_error(
                        "no NUMBER(PHYS_OFFSET) and no linear-map PT_LOAD: Cannot determine phys_base"
                            .into(),
                    )
                })?,
        };

        Ok(Arm64Translator {
            page_shift: page_size.trailing_zeros(),
            va_bits,
            vabits_actual,
            levels,
            flipped_va,
            page_offset,
            kimage_voffset: keys::number(info, "kimage_voffset").map(|v| v as u64),
            phys_base,
            phys_base_source,
            max_physmem_bits,
            encoding,
            swapper_pg_dir: keys::symbol(info, "swapper_pg_dir"),
        })
    }

    /// `PHYS_OFFSET`: the physical address of the start of the linear map, written as the
    /// dump's `phys_base`.
    pub fn phys_base(&self) -> (u64, ValueSource) {
        (self.phys_base, self.phys_base_source)
    }

    #[cfg(any(test, feature = "testing"))]
    /// `PAGE_OFFSET`: the start of the linear map.
    pub fn page_offset(&self) -> u64 {
        self.page_offset
    }

    /// makedumpfile `get_kvbase_arm64`: the lowest kernel virtual address (`is_kvaddr`).
    pub fn kvbase(&self) -> u64 {
        if self.flipped_va {
            self.page_offset
        } else {
            u64::MAX << self.va_bits
        }
    }

    /// `MAX_PHYSMEM_BITS`: VMCOREINFO's, else 52 for a 52-bit VA build, else 48.
    pub fn max_physmem_bits(&self) -> u32 {
        self.max_physmem_bits
    }

    #[cfg(any(test, feature = "testing"))]
    /// Page-table levels in use.
    pub fn levels(&self) -> u32 {
        self.levels
    }

    #[cfg(any(test, feature = "testing"))]
    /// The runtime kernel VA size.
    pub fn vabits_actual(&self) -> u32 {
        self.vabits_actual
    }

    #[cfg(any(test, feature = "testing"))]
    /// Whether the 5.4+ layout (linear map in the lower half) is in use.
    pub fn flipped_va(&self) -> bool {
        self.flipped_va
    }

    #[cfg(any(test, feature = "testing"))]
    /// How entries hold physical addresses.
    pub fn encoding(&self) -> PaEncoding {
        self.encoding
    }

    /// Whether `vaddr` is in the linear map (makedumpfile `is_linear_addr`: the top bit
    /// of the runtime VA range, clear in the flipped layout, set before it).
    pub fn is_linear(&self, vaddr: u64) -> bool {
        let top = vaddr & (1 << (self.vabits_actual - 1)) != 0;
        top != self.flipped_va
    }

    /// makedumpfile's `__pa`: arithmetic translation of a linear-map or kernel-image
    /// address, used only to locate `swapper_pg_dir`.
    pub fn pa(&self, vaddr: u64) -> u64 {
        match self.kimage_voffset {
            Some(voffset) if !self.is_linear(vaddr) => vaddr.wrapping_sub(voffset),
            _ => (vaddr & !self.page_offset).wrapping_add(self.phys_base),
        }
    }

    /// Physical address of the top-level table, checked against the physical address
    /// space (a corrupted symbol must not make the entry arithmetic overflow).
    pub fn top_table(&self) -> Result<u64> {
        let symbol = self.swapper_pg_dir.ok_or_else(|| {
            Error::invalid(
                "VMCOREINFO has no SYMBOL(swapper_pg_dir): can't translate kernel virtual addresses",
            )
        })?;
        let table = self.pa(symbol);
        if table >= 1 << self.max_physmem_bits || table & 7 != 0 {
            return Err(vmcoreinfo_error(format!(
                "SYMBOL(swapper_pg_dir)={symbol:x} puts the top-level page table at {table:#x}, not a {}-bit physical address",
                self.max_physmem_bits
            )));
        }
        Ok(table)
    }

    /// The physical address held by a table, block or page entry.
    fn output_address(&self, entry: u64) -> u64 {
        let low = |top_bit: u32| entry & ((1u64 << top_bit) - 1) & (u64::MAX << self.page_shift);
        match self.encoding {
            PaEncoding::Bits48 => low(48),
            PaEncoding::Lpa64K => low(48) | ((entry & (0xf << 12)) << 36),
            PaEncoding::Lpa2 => low(50) | ((entry & (0x3 << 8)) << 42),
        }
    }

    /// `(level, hardware level, shift, entries)` of the tables walked, top first;
    /// hardware levels run from −1 (5 levels) or 0 down to 3 (pages).
    fn geometry(&self) -> impl Iterator<Item = (TableLevel, i32, u32, u64)> + '_ {
        let bits_per_level = self.page_shift - 3;
        let first = 4 - self.levels as i32;
        (first..=3).map(move |hw_level| {
            let shift = bits_per_level * (3 - hw_level) as u32 + self.page_shift;
            let entries = if hw_level == first {
                1u64 << (self.vabits_actual - shift)
            } else {
                1u64 << bits_per_level
            };
            // Kernel names, counted from the bottom: PTE, PMD, PUD, P4D, then PGD on top.
            let level = match (hw_level == first, hw_level) {
                (true, _) => TableLevel::Pgd,
                (false, 3) => TableLevel::Pte,
                (false, 2) => TableLevel::Pmd,
                (false, 1) => TableLevel::Pud,
                (false, _) => TableLevel::P4d,
            };
            (level, hw_level, shift, entries)
        })
    }

    /// Translate `vaddr` to the leaf (page or block) mapping it.
    pub fn leaf(&self, reader: &mut dyn PageReader, vaddr: u64) -> Result<Leaf> {
        self.walk(reader, vaddr, None)
    }

    /// Translate `vaddr`, recording each entry read when `steps` is given.
    pub fn walk(
        &self,
        reader: &mut dyn PageReader,
        vaddr: u64,
        mut steps: Option<&mut Vec<TableStep>>,
    ) -> Result<Leaf> {
        let mut table = self.top_table()?;
        for (level, hw_level, shift, entries) in self.geometry() {
            let entry_address = table + ((vaddr >> shift) & (entries - 1)) * 8;
            let entry = read_entry(reader, vaddr, level, entry_address, steps.as_deref_mut())?;
            if entry & DESC_VALID == 0 {
                return Err(entry_error(vaddr, level, entry_address, entry, "is not valid"));
            }
            let size = 1u64 << shift;
            let is_page = level == TableLevel::Pte;
            let is_block = !is_page && entry & DESC_TABLE == DESC_BLOCK;
            // Blocks exist at hardware levels 1 and 2 only (the kernel's PUD and PMD
            // sections); the block pattern higher up is not a mapping we can follow.
            if is_block && hw_level < 1 {
                return Err(entry_error(vaddr, level, entry_address, entry, "is a block mapping at a level that has none"));
            }
            if is_page || is_block {
                return Ok(Leaf {
                    virt_base: vaddr & !(size - 1),
                    phys_base: self.output_address(entry) & !(size - 1),
                    size,
                });
            }
            table = self.output_address(entry);
        }
        Err(Error::internal(format!(
            "page-table walk of {vaddr:#x} ended without a leaf"
        )))
    }
}

#[cfg(test)]
mod tests;
mod tree;
