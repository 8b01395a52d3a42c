//! SPARSEMEM `mem_section` walk: where each section's `struct page` array (its slice of
//! vmemmap) lives, as makedumpfile's `get_mm_sparsemem`.
//!
//! With SPARSEMEM_EXTREME, `mem_section` is an array of `NR_SECTION_ROOTS` pointers, each
//! to a page of `struct mem_section`. Since Linux 4.15 the kernel variable is itself a
//! pointer to that array; VMCOREINFO exports the array's address, a `vmlinux` the
//! pointer's. makedumpfile tries the given address as the array first and, if no
//! section validates, dereferences it once ("Could not validate mem_section.").
//! `section_mem_map` holds the encoded mem_map (`mem_map - section_start_pfn`) with flag
//! bits in its low 5 bits (`SECTION_MAP_LAST_BIT` is `1 << 5` since 4.13; makedumpfile
//! masks 5 bits for every kernel, `6464568`); bit 0 is `SECTION_MARKED_PRESENT`.

use super::keys;
use crate::arch::{Translator, VirtualReader};
use crate::error::{Error, Result};
use crate::kernel_version::KernelVersion;
use crate::vmcoreinfo::VmcoreInfo;

const SECTION_MARKED_PRESENT: u64 = 1;
const SECTION_MAP_MASK: u64 = !((1 << 5) - 1);

/// The struct pages of one present section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemMapRange {
    /// First pfn of the section.
    pub pfn_start: u64,
    /// One past the last pfn (clipped to `max_mapnr`).
    pub pfn_end: u64,
    /// Kernel virtual address of the struct page of `pfn_start`.
    pub mem_map: u64,
    /// Kernel virtual address of the section's `struct mem_section` (whose page readers
    /// need to find `mem_map`, see `crate::protect`).
    pub section: u64,
}

/// The memory model geometry makedumpfile derives before the walk.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    pfn_section_shift: u32,
    section_size: usize,
    section_mem_map: usize,
    struct_page_size: u64,
    extreme: bool,
    sections_per_root: u64,
}

fn geometry(
    info: &VmcoreInfo,
    page_size: u64,
    translator: &Translator,
    version: KernelVersion,
    struct_page_size: u64,
) -> Result<Geometry> {
    if keys::symbol(info, "mem_section").is_none() {
        return Err(Error::invalid(
            "VMCOREINFO lacks SYMBOL(mem_section): can't find the struct page arrays (makedumpfile: \"Can't distinguish the memory type.\")",
        ));
    }
    let section_size = keys::size(info, "mem_section")
        .filter(|&s| s > 0 && s as u64 <= page_size)
        .ok_or_else(|| Error::invalid("VMCOREINFO lacks a valid SIZE(mem_section)"))?;
    let section_mem_map = keys::offset(info, "mem_section.section_mem_map")
        .filter(|&o| o + 8 <= section_size)
        .ok_or_else(|| {
            Error::invalid("VMCOREINFO lacks a valid OFFSET(mem_section.section_mem_map)")
        })?;
    let page_shift = page_size.trailing_zeros() as i64;
    let section_size_bits =
        keys::number(info, "SECTION_SIZE_BITS").unwrap_or(translator.default_section_size_bits());
    let max_physmem_bits = keys::number(info, "MAX_PHYSMEM_BITS")
        .unwrap_or_else(|| translator.default_max_physmem_bits(version));
    if !(page_shift..=page_shift + 40).contains(&section_size_bits)
        || !(section_size_bits..=64).contains(&max_physmem_bits)
    {
        return Err(Error::invalid(format!(
            "VMCOREINFO: SECTION_SIZE_BITS={section_size_bits} and MAX_PHYSMEM_BITS={max_physmem_bits} do not describe a sparse memory model with {page_size}-byte pages"
        )));
    }
    let sections_per_root = page_size / section_size as u64;
    // is_sparsemem_extreme: LENGTH(mem_section) is the number of roots, or absent.
    let nr_mem_sections = 1u128 << (max_physmem_bits - section_size_bits);
    let extreme = match keys::length(info, "mem_section") {
        None => true,
        Some(length) => length as u128 == nr_mem_sections.div_ceil(sections_per_root as u128),
    };
    Ok(Geometry {
        pfn_section_shift: (section_size_bits - page_shift) as u32,
        section_size,
        section_mem_map,
        struct_page_size,
        extreme,
        sections_per_root: if extreme { sections_per_root } else { 1 },
    })
}

/// Find the mem_map of every present section below `max_mapnr`.
///
/// Sections that are absent (no root, not marked present, unreadable) are left out, as
/// makedumpfile skips `NOT_MEMMAP_ADDR` sections. An error means no section validated in
/// either form.
pub fn find_mem_maps(
    info: &VmcoreInfo,
    kernel: &mut VirtualReader<'_, '_>,
    page_size: u64,
    max_mapnr: u64,
    version: KernelVersion,
    struct_page_size: u64,
) -> Result<Vec<MemMapRange>> {
    let geometry = geometry(
        info,
        page_size,
        kernel.translator(),
        version,
        struct_page_size,
    )?;
    let symbol = keys::symbol(info, "mem_section").unwrap_or(0);
    let pages_per_section = 1u64 << geometry.pfn_section_shift;
    let num_section = max_mapnr.div_ceil(pages_per_section);
    let walker = SectionWalker {
        geometry,
        num_section,
        max_mapnr,
    };

    if let Some(maps) = walker.validate(kernel, symbol)? {
        return Ok(maps);
    }
    if geometry.extreme {
        // SPARSEMEM_EXTREME v2 (4.15+) from a source that gave the pointer's address.
        let pointer = kernel
            .read_u64(symbol)
            .map_err(|e| e.context("Can't read the mem_section pointer"))?;
        if let Some(maps) = walker.validate(kernel, pointer)? {
            return Ok(maps);
        }
    }
    Err(Error::invalid(format!(
        "Could not validate mem_section (SYMBOL(mem_section)={symbol:#x}): no present section with a mem_map in the kernel address space"
    )))
}

struct SectionWalker {
    geometry: Geometry,
    num_section: u64,
    max_mapnr: u64,
}

impl SectionWalker {
    /// makedumpfile `validate_mem_section`: `Ok(None)` when no section is present, or
    /// when a present section's mem_map is not a kernel address (the form is wrong).
    fn validate(
        &self,
        kernel: &mut VirtualReader<'_, '_>,
        mem_section: u64,
    ) -> Result<Option<Vec<MemMapRange>>> {
        let g = &self.geometry;
        let nr_roots = self.num_section.div_ceil(g.sections_per_root);
        // Plain SPARSEMEM indexes the symbol directly; only the extreme form has roots.
        let mut roots_raw = vec![
            0u8;
            if g.extreme {
                (nr_roots * 8) as usize
            } else {
                0
            }
        ];
        if kernel.read(mem_section, &mut roots_raw).is_err() {
            // makedumpfile: "Can't read mem_section array." – this form does not validate.
            return Ok(None);
        }
        let page_offset = kernel.translator().kvbase();
        let mut maps = Vec::new();
        let mut raw = vec![0u8; g.section_size];
        for nr in 0..self.num_section {
            let section = if g.extreme {
                let at = ((nr / g.sections_per_root) * 8) as usize;
                let root = u64::from_le_bytes(roots_raw[at..at + 8].try_into().unwrap_or_default());
                if root == 0 {
                    continue;
                }
                root.wrapping_add((nr % g.sections_per_root) * g.section_size as u64)
            } else {
                mem_section.wrapping_add(nr * g.section_size as u64)
            };
            if section < page_offset || kernel.read(section, &mut raw).is_err() {
                continue;
            }
            let coded = u64::from_le_bytes(
                raw[g.section_mem_map..g.section_mem_map + 8]
                    .try_into()
                    .unwrap_or_default(),
            );
            if coded & !SECTION_MAP_MASK & SECTION_MARKED_PRESENT == 0 {
                continue;
            }
            let pfn_start = nr << g.pfn_section_shift;
            let mem_map =
                (coded & SECTION_MAP_MASK).wrapping_add(pfn_start.wrapping_mul(g.struct_page_size));
            if mem_map < page_offset {
                return Ok(None);
            }
            let pfn_end = (pfn_start + (1 << g.pfn_section_shift)).min(self.max_mapnr);
            maps.push(MemMapRange {
                pfn_start,
                pfn_end,
                mem_map,
                section,
            });
        }
        Ok((!maps.is_empty()).then_some(maps))
    }
}
