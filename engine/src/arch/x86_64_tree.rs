//! The whole x86_64 kernel page-table tree, visited once: every table page and every leaf.
//!
//! Translation ([`X86_64Translator::leaf`]) follows one path down the tree. Protecting
//! the pages that analysis needs (`crate::protect`) wants the opposite: every table page
//! the kernel's own mappings use (crash and drgn walk them to read anything outside the
//! direct map), and every leaf of the kernel-image mapping. One depth-first walk from
//! the top table gives both.
//!
//! The tables come from a crashed machine and may be corrupt: a table page reached twice
//! is walked once (so a loop or a diamond cannot multiply the work), an entry pointing
//! beyond the physical address space ends that branch, and the walk stops after
//! [`MAX_TABLE_PAGES`](crate::arch::walk::MAX_TABLE_PAGES) tables. Unreadable tables are reported to the visitor, not fatal:
//! a protection is a best effort on top of a dump that must still be written.

use super::{
    Leaf, TableLevel, X86_64Translator, ENTRIES_PER_TABLE, MAX_PHYSICAL_ADDRESS, PAGE_PRESENT,
    PAGE_PSE,
};
use crate::arch::walk::{TreeItem, VisitedTables};
use crate::error::Result;
use crate::input::PageReader;

impl X86_64Translator {
    /// Visit every table page and leaf reachable from the top table, in ascending
    /// virtual-address order. Errs only when the top table is unknown.
    pub fn visit_tree(
        &self,
        reader: &mut dyn PageReader,
        visit: &mut dyn FnMut(TreeItem),
    ) -> Result<()> {
        let top = self.top_table()?;
        let levels = self.levels();
        let mut walk = TreeWalk {
            translator: self,
            reader,
            visit,
            levels,
            visited: VisitedTables::default(),
        };
        walk.table(top, 0, 0);
        Ok(())
    }
}

struct TreeWalk<'a> {
    translator: &'a X86_64Translator,
    reader: &'a mut dyn PageReader,
    visit: &'a mut dyn FnMut(TreeItem),
    levels: &'a [(TableLevel, u32)],
    visited: VisitedTables,
}

impl TreeWalk<'_> {
    /// Walk the table at `paddr`, at `depth` in `levels`, mapping virtual addresses that
    /// start with `prefix`.
    fn table(&mut self, paddr: u64, depth: usize, prefix: u64) {
        let (level, shift) = self.levels[depth];
        if !self.visited.enter(paddr, self.visit) {
            return;
        }
        let mut raw = [0u8; (ENTRIES_PER_TABLE * 8) as usize];
        if paddr >= MAX_PHYSICAL_ADDRESS || self.reader.read_phys(paddr, &mut raw).is_err() {
            (self.visit)(TreeItem::Unreadable { paddr, level });
            return;
        }
        (self.visit)(TreeItem::Table { paddr, level });
        for (index, bytes) in raw.chunks_exact(8).enumerate() {
            let entry = u64::from_le_bytes(bytes.try_into().expect("chunks of 8"));
            if entry & PAGE_PRESENT == 0 {
                continue;
            }
            let vaddr = canonical(prefix | ((index as u64) << shift), self.top_bit());
            let is_leaf = match level {
                TableLevel::Pud | TableLevel::Pmd => entry & PAGE_PSE != 0,
                TableLevel::Pte => true,
                TableLevel::Pgd | TableLevel::P4d => false,
            };
            let size = 1u64 << shift;
            let target = entry & self.translator.entry_mask & !(size - 1);
            if is_leaf {
                (self.visit)(TreeItem::Leaf(Leaf {
                    virt_base: vaddr,
                    phys_base: target,
                    size,
                }));
            } else {
                self.table(entry & self.translator.entry_mask, depth + 1, vaddr);
            }
        }
    }

    /// The highest virtual-address bit translated: 47 with 4 levels, 56 with 5.
    fn top_bit(&self) -> u32 {
        self.levels[0].1 + 8
    }
}

/// Sign-extend `vaddr` from bit `top_bit` (x86_64 canonical form).
fn canonical(vaddr: u64, top_bit: u32) -> u64 {
    let unused = 63 - top_bit;
    (((vaddr << unused) as i64) >> unused) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_half_addresses_are_sign_extended() {
        assert_eq!(canonical(0x0000_ff80_0000_0000, 47), 0xffff_ff80_0000_0000);
        assert_eq!(canonical(0x0000_7f80_0000_0000, 47), 0x0000_7f80_0000_0000);
        assert_eq!(canonical(0x01ff_0000_0000_0000, 56), 0xffff_0000_0000_0000);
    }
}
