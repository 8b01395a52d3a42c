//! Where the protected pages are: one function per kind of page, see the module doc of
//! [`super`]. Each adds pfn ranges, or a note when it cannot look.

use std::ops::Range;

use super::{ProtectedPages, Protection};
use crate::arch::walk::{Leaf, TreeItem};
use crate::arch::x86_64::START_KERNEL_MAP;
use crate::arch::{Translator, VirtualReader};
use crate::filter::keys;
use crate::filter::MemMapRange;
use crate::input::PageReader;
use crate::vmcoreinfo::VmcoreInfo;

/// x86_64 `KERNEL_IMAGE_SIZE` with KASLR (the size of the kernel-image mapping) when
/// VMCOREINFO does not export it.
const DEFAULT_KERNEL_IMAGE_SIZE: u64 = 1 << 30;
/// Largest printk buffer believed (the kernel caps `log_buf_len` at 2^31 bytes); a larger
/// value read from a corrupt ring is left unprotected.
const MAX_PRINTK_BYTES: u64 = 1 << 31;

/// What the sources need to know about the dumped kernel.
pub(crate) struct Kernel<'a> {
    pub info: &'a VmcoreInfo,
    pub translator: &'a Translator,
    pub mem_maps: &'a [MemMapRange],
    pub struct_page_size: u64,
    pub page_size: u64,
}

/// Collect every protected page of `kernel`, reading through `reader`.
pub(crate) fn collect(kernel: &Kernel<'_>, reader: &mut dyn PageReader) -> ProtectedPages {
    let mut found = Found {
        ranges: Vec::new(),
        notes: Vec::new(),
        page_size: kernel.page_size,
    };
    let image = page_tables(kernel, reader, &mut found);
    kernel_image(kernel, reader, image, &mut found);
    let mut virt = VirtualReader::new(kernel.translator, reader);
    mem_map_and_sections(kernel, &mut virt, &mut found);
    symbols(kernel, &mut virt, &mut found);
    printk_buffers(kernel, &mut virt, &mut found);
    ProtectedPages::new(found.ranges, found.notes)
}

struct Found {
    ranges: Vec<(Range<u64>, Protection)>,
    notes: Vec<String>,
    page_size: u64,
}

impl Found {
    /// Protect the pfns of `[paddr, paddr + len)`.
    fn physical(&mut self, paddr: u64, len: u64, why: Protection) {
        let start = paddr / self.page_size;
        let end = paddr.saturating_add(len).div_ceil(self.page_size);
        self.ranges.push((start..end, why));
    }

    /// Protect the pages behind kernel virtual `[vaddr, vaddr + len)`, leaf by leaf.
    fn virtual_range(
        &mut self,
        virt: &mut VirtualReader<'_, '_>,
        vaddr: u64,
        len: u64,
        why: Protection,
    ) {
        let end = vaddr.saturating_add(len);
        let mut at = vaddr;
        while at < end {
            let leaf = match virt.leaf(at) {
                Ok(leaf) => leaf,
                Err(e) => {
                    self.notes.push(format!("{why}: {e}"));
                    return;
                }
            };
            let leaf_end = leaf.virt_base.saturating_add(leaf.size).min(end);
            self.physical(leaf.translate(at), leaf_end - at, why.clone());
            at = leaf_end;
        }
    }
}

/// Every table page reachable from the top table; returns the physical ranges the
/// kernel-image mapping's leaves point at (the image candidates).
fn page_tables(kernel: &Kernel<'_>, reader: &mut dyn PageReader, found: &mut Found) -> Vec<Range<u64>> {
    // Which leaves map the kernel image: x86_64 maps it at __START_KERNEL_map, arm64 at
    // kimage_voffset above its physical address.
    let image_size = keys::number(kernel.info, "KERNEL_IMAGE_SIZE")
        .filter(|&size| size > 0)
        .map_or(DEFAULT_KERNEL_IMAGE_SIZE, |size| size as u64);
    let image_virt = START_KERNEL_MAP..START_KERNEL_MAP.saturating_add(image_size);
    let is_image = |leaf: &Leaf| match kernel.translator {
        Translator::X86_64(_) => image_virt.contains(&leaf.virt_base),
        Translator::Aarch64(arm64) => arm64.is_kimage_leaf(leaf),
    };
    let mut image = Vec::new();
    // A table is a page (x86_64 always; arm64 too, except a top table with fewer
    // entries, which lies inside the page protected for it).
    let page_size = found.page_size;
    let mut visit = |item: TreeItem| match item {
        TreeItem::Table { paddr, .. } => {
            found.physical(paddr - paddr % page_size, page_size, Protection::PageTable)
        }
        TreeItem::Leaf(leaf) if is_image(&leaf) => {
            image.push(leaf.phys_base..leaf.phys_base + leaf.size);
        }
        TreeItem::Leaf(_) => {}
        TreeItem::Unreadable { paddr, level } => found.notes.push(format!(
            "kernel page tables: the {} table at {paddr:#x} cannot be read",
            level.name()
        )),
        TreeItem::Truncated => found
            .notes
            .push("kernel page tables: too many tables, walk stopped".to_string()),
    };
    let walked = match kernel.translator {
        Translator::X86_64(x86_64) => x86_64.visit_tree(reader, &mut visit),
        Translator::Aarch64(arm64) => arm64.visit_tree(reader, &mut visit),
    };
    if let Err(e) = walked {
        found.notes.push(format!("kernel page tables: {e}"));
    }
    image
}

/// The kernel-image pages whose struct page has `PG_reserved`.
fn kernel_image(
    kernel: &Kernel<'_>,
    reader: &mut dyn PageReader,
    image: Vec<Range<u64>>,
    found: &mut Found,
) {
    // PG_reserved is not exported; it has come right before PG_private in every kernel
    // since 2.6 (enum pageflags: ... PG_arch_1, PG_reserved, PG_private, ...).
    let reserved_bit = keys::number(kernel.info, "PG_reserved")
        .or_else(|| keys::number(kernel.info, "PG_private").map(|bit| bit - 1));
    let (Some(bit), Some(flags_offset)) = (
        reserved_bit.filter(|b| (0..64).contains(b)),
        keys::offset(kernel.info, "page.flags"),
    ) else {
        found
            .notes
            .push("kernel image: VMCOREINFO gives no PG_private/OFFSET(page.flags)".to_string());
        return;
    };
    let mut virt = VirtualReader::new(kernel.translator, reader);
    let mut unreadable = 0u64;
    for paddrs in image {
        let pfns = paddrs.start / found.page_size..paddrs.end.div_ceil(found.page_size);
        for pfn in pfns {
            // mem_maps are in pfn order (find_mem_maps walks the sections ascending).
            let at = kernel.mem_maps.partition_point(|m| m.pfn_end <= pfn);
            let Some(map) = kernel.mem_maps.get(at).filter(|m| m.pfn_start <= pfn) else {
                continue;
            };
            let vaddr = map.mem_map + (pfn - map.pfn_start) * kernel.struct_page_size;
            match virt.read_u64(vaddr + flags_offset as u64) {
                Ok(flags) if flags & (1 << bit) != 0 => {
                    found.ranges.push((pfn..pfn + 1, Protection::KernelImage));
                }
                Ok(_) => {}
                Err(_) => unreadable += 1,
            }
        }
    }
    if unreadable > 0 {
        found.notes.push(format!(
            "kernel image: the struct pages of {unreadable} image pages cannot be read"
        ));
    }
}

/// The pages backing each section's struct pages, and the page of its `mem_section`.
fn mem_map_and_sections(kernel: &Kernel<'_>, virt: &mut VirtualReader<'_, '_>, found: &mut Found) {
    for map in kernel.mem_maps {
        let len = (map.pfn_end - map.pfn_start) * kernel.struct_page_size;
        found.virtual_range(virt, map.mem_map, len, Protection::MemMap);
        found.virtual_range(virt, map.section, 1, Protection::MemSection);
    }
}

/// Largest `LENGTH(name)` of a symbol's pointer array believed (`node_data` has
/// MAX_NUMNODES ≤ 1024 entries, the `mem_section` roots 2048 with 46-bit physical
/// addresses and 2^19 with 52-bit ones).
const MAX_SYMBOL_LENGTH: i64 = 1 << 20;

/// The object at each `SYMBOL(name)` of VMCOREINFO: its page, or all of it when
/// `LENGTH(name)` says it is an array (VMCOREINFO gives lengths only for the pointer
/// arrays `node_data` and the `mem_section` roots, hence 8 bytes an entry).
fn symbols(kernel: &Kernel<'_>, virt: &mut VirtualReader<'_, '_>, found: &mut Found) {
    for (name, vaddr) in kernel.info.symbols() {
        if vaddr == 0 {
            continue;
        }
        let len = keys::length(kernel.info, name)
            .filter(|&entries| (1..=MAX_SYMBOL_LENGTH).contains(&entries))
            .map_or(1, |entries| entries as u64 * 8);
        found.virtual_range(virt, vaddr, len, Protection::Symbol(name.to_string()));
    }
}

/// The printk ring buffer (5.10+: `prb` and its three arrays) or `log_buf` (before).
fn printk_buffers(kernel: &Kernel<'_>, virt: &mut VirtualReader<'_, '_>, found: &mut Found) {
    let info = kernel.info;
    if let Some(prb) = keys::symbol(info, "prb") {
        if let Err(e) = ring_buffer(info, virt, prb, found) {
            found.notes.push(format!("printk ring buffer: {e}"));
        }
    } else if let (Some(log_buf), Some(log_buf_len)) =
        (keys::symbol(info, "log_buf"), keys::symbol(info, "log_buf_len"))
    {
        let buffer = virt.read_u64(log_buf);
        let len = virt.read_u32(log_buf_len);
        match (buffer, len) {
            (Ok(buffer), Ok(len)) => {
                found.virtual_range(virt, buffer, len as u64, Protection::PrintkBuffer)
            }
            (Err(e), _) | (_, Err(e)) => found.notes.push(format!("log_buf: {e}")),
        }
    }
}

fn ring_buffer(
    info: &VmcoreInfo,
    virt: &mut VirtualReader<'_, '_>,
    prb: u64,
    found: &mut Found,
) -> crate::error::Result<()> {
    let need = |kind: &str, name: &str| {
        let value = match kind {
            "SIZE" => keys::size(info, name),
            _ => keys::offset(info, name),
        };
        value.map(|v| v as u64).ok_or_else(|| {
            crate::error::Error::invalid(format!("VMCOREINFO lacks {kind}({name})"))
        })
    };
    let ring = virt.read_u64(prb)?;
    let desc_ring = ring + need("OFFSET", "printk_ringbuffer.desc_ring")?;
    let text_ring = ring + need("OFFSET", "printk_ringbuffer.text_data_ring")?;
    let count_bits = virt.read_u32(desc_ring + need("OFFSET", "prb_desc_ring.count_bits")?)?;
    let descs = virt.read_u64(desc_ring + need("OFFSET", "prb_desc_ring.descs")?)?;
    let infos = virt.read_u64(desc_ring + need("OFFSET", "prb_desc_ring.infos")?)?;
    let size_bits = virt.read_u32(text_ring + need("OFFSET", "prb_data_ring.size_bits")?)?;
    let data = virt.read_u64(text_ring + need("OFFSET", "prb_data_ring.data")?)?;
    let records = 1u64.checked_shl(count_bits).unwrap_or(u64::MAX);
    let arrays = [
        (descs, records.saturating_mul(need("SIZE", "prb_desc")?)),
        (infos, records.saturating_mul(need("SIZE", "printk_info")?)),
        (data, 1u64.checked_shl(size_bits).unwrap_or(u64::MAX)),
    ];
    found.virtual_range(virt, ring, need("SIZE", "printk_ringbuffer")?, Protection::PrintkBuffer);
    for (vaddr, len) in arrays {
        if len > MAX_PRINTK_BYTES {
            return Err(crate::error::Error::invalid(format!(
                "an array of {len} bytes at {vaddr:#x} is beyond any printk buffer"
            )));
        }
        found.virtual_range(virt, vaddr, len, Protection::PrintkBuffer);
    }
    Ok(())
}
