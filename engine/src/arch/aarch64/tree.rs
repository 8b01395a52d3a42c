//! The whole arm64 kernel page-table tree, visited once: every table and every leaf.
//!
//! The counterpart of the x86_64 walk (`x86_64_tree.rs`) for protecting the pages that
//! analysis needs (`crate::protect`): every table reachable from `swapper_pg_dir` (crash
//! and drgn translate vmalloc, module and kernel-image addresses through them) and every
//! leaf, of which those of the kernel-image mapping are picked by
//! [`Arm64Translator::is_kimage_leaf`]. Same rules against corrupt tables: each table is
//! walked once, an output address beyond the physical address space is reported as
//! unreadable, and the walk stops after [`MAX_TABLE_PAGES`](crate::arch::walk::MAX_TABLE_PAGES) tables.

use super::{Arm64Translator, DESC_BLOCK, DESC_TABLE, DESC_VALID};
use crate::arch::walk::{Leaf, TableLevel, TreeItem, VisitedTables};
use crate::error::Result;
use crate::input::PageReader;

impl Arm64Translator {
    /// Visit every table and leaf reachable from `swapper_pg_dir`, in ascending
    /// virtual-address order. Errs only when the top table is unknown.
    pub fn visit_tree(
        &self,
        reader: &mut dyn PageReader,
        visit: &mut dyn FnMut(TreeItem),
    ) -> Result<()> {
        let top = self.top_table()?;
        let geometry: Vec<_> = self.geometry().collect();
        let mut walk = TreeWalk {
            translator: self,
            reader,
            visit,
            geometry: &geometry,
            visited: VisitedTables::default(),
        };
        walk.table(top, 0, 0);
        Ok(())
    }

    /// Whether `leaf` maps part of the kernel image: outside the linear map, at
    /// `kimage_voffset` above its physical address (how the kernel maps its image, and
    /// what [`Arm64Translator::pa`] assumes of every non-linear kernel address it is
    /// given). Without `kimage_voffset` (kernels before 4.12) nothing is.
    pub fn is_kimage_leaf(&self, leaf: &Leaf) -> bool {
        self.kimage_voffset.is_some_and(|voffset| {
            !self.is_linear(leaf.virt_base) && leaf.virt_base.wrapping_sub(voffset) == leaf.phys_base
        })
    }
}

struct TreeWalk<'a> {
    translator: &'a Arm64Translator,
    reader: &'a mut dyn PageReader,
    visit: &'a mut dyn FnMut(TreeItem),
    /// `(level, hardware level, shift, entries)` of each table level, top first.
    geometry: &'a [(TableLevel, i32, u32, u64)],
    visited: VisitedTables,
}

impl TreeWalk<'_> {
    /// Walk the table at `paddr`, at `depth` in the geometry, mapping the kernel virtual
    /// addresses that start with `prefix`.
    fn table(&mut self, paddr: u64, depth: usize, prefix: u64) {
        let (level, hw_level, shift, entries) = self.geometry[depth];
        if !self.visited.enter(paddr, self.visit) {
            return;
        }
        let mut raw = vec![0u8; (entries * 8) as usize];
        let beyond = paddr >> self.translator.max_physmem_bits != 0;
        if beyond || self.reader.read_phys(paddr, &mut raw).is_err() {
            (self.visit)(TreeItem::Unreadable { paddr, level });
            return;
        }
        (self.visit)(TreeItem::Table { paddr, level });
        // swapper_pg_dir maps the upper half (TTBR1): every bit above the runtime VA size
        // is set.
        let upper = !((1u64 << self.translator.vabits_actual) - 1);
        for (index, bytes) in raw.chunks_exact(8).enumerate() {
            let entry = u64::from_le_bytes(bytes.try_into().expect("chunks of 8"));
            if entry & DESC_VALID == 0 {
                continue;
            }
            let vaddr = upper | prefix | ((index as u64) << shift);
            let size = 1u64 << shift;
            let is_page = level == TableLevel::Pte;
            let is_block = !is_page && entry & DESC_TABLE == DESC_BLOCK;
            if is_block && hw_level < 1 {
                // No blocks above hardware level 1: not a mapping (as `walk` refuses it).
                continue;
            }
            let target = self.translator.output_address(entry);
            if is_page || is_block {
                (self.visit)(TreeItem::Leaf(Leaf {
                    virt_base: vaddr,
                    phys_base: target & !(size - 1),
                    size,
                }));
            } else {
                self.table(target, depth + 1, vaddr);
            }
        }
    }
}
