//! What every architecture's page-table walk produces: the levels it reads, the entries
//! it records for `--vtop`, and the leaf mapping [`super::VirtualReader`] caches.

/// Where a value used by the translation came from (printed at `--message-level 8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueSource {
    /// Exported by the kernel in VMCOREINFO.
    Vmcoreinfo,
    /// Derived from the ELF program headers.
    PtLoad,
    /// makedumpfile's compiled-in default for this kernel generation.
    Constant,
}

/// One level of a page-table hierarchy, named as Linux names them on every architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableLevel {
    /// Top level (x86_64 PML4/PML5; arm64 the table at `swapper_pg_dir`).
    Pgd,
    /// Below a 5-level PGD.
    P4d,
    /// Page upper directory: may map a block (x86_64 1 GiB, arm64 4K-granule 1 GiB).
    Pud,
    /// Page middle directory: may map a block (x86_64 2 MiB; arm64 2 MiB, 32 MiB or 512 MiB).
    Pmd,
    /// Page table entry: maps one page.
    Pte,
}

impl TableLevel {
    /// The name makedumpfile prints for `--vtop` ("PGD", "P4D", …).
    pub fn name(self) -> &'static str {
        match self {
            TableLevel::Pgd => "PGD",
            TableLevel::P4d => "P4D",
            TableLevel::Pud => "PUD",
            TableLevel::Pmd => "PMD",
            TableLevel::Pte => "PTE",
        }
    }
}

/// One table entry read during a walk: where it was read and what it held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableStep {
    /// The level of the table read.
    pub level: TableLevel,
    /// Physical address of the entry.
    pub entry_address: u64,
    /// The raw 64-bit entry.
    pub entry: u64,
}

/// A leaf mapping found by a walk: `size` bytes at virtual `virt_base` map to physical
/// `phys_base`. Cached by [`super::VirtualReader`] so one walk serves a whole 2 MiB
/// vmemmap page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf {
    /// First virtual address of the mapped page.
    pub virt_base: u64,
    /// First physical address of the mapped page.
    pub phys_base: u64,
    /// A page or a block size of the architecture.
    pub size: u64,
}

impl Leaf {
    /// Whether `vaddr` lies in this mapping.
    #[inline]
    pub fn contains(&self, vaddr: u64) -> bool {
        vaddr.wrapping_sub(self.virt_base) < self.size
    }

    /// The physical address of `vaddr` (which must be [`Leaf::contains`]ed).
    #[inline]
    pub fn translate(&self, vaddr: u64) -> u64 {
        self.phys_base + (vaddr - self.virt_base)
    }
}

#[cfg(any(test, feature = "testing"))]
/// A complete walk, for `--vtop ADDR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VtopWalk {
    /// The address translated.
    pub vaddr: u64,
    /// Every entry read, top level first.
    pub steps: Vec<TableStep>,
    /// The resulting physical address.
    pub paddr: u64,
}

/// Read the table entry for `vaddr` at `entry_address`, recording it in `steps` when
/// given; a read failure names the level and the address, as makedumpfile's messages do.
pub(super) fn read_entry(
    reader: &mut dyn crate::input::PageReader,
    vaddr: u64,
    level: TableLevel,
    entry_address: u64,
    steps: Option<&mut Vec<TableStep>>,
) -> crate::error::Result<u64> {
    let mut raw = [0u8; 8];
    reader.read_phys(entry_address, &mut raw).map_err(|e| {
        e.context(format!(
            "Can't convert a virtual address({vaddr:#x}) to physical address: can't read the {} entry at {entry_address:#x}",
            level.name()
        ))
    })?;
    let entry = u64::from_le_bytes(raw);
    if let Some(steps) = steps {
        steps.push(TableStep {
            level,
            entry_address,
            entry,
        });
    }
    Ok(entry)
}

/// The error for an entry that does not continue the walk; `why` says what it is
/// ("is not present", "is not valid", …).
pub(super) fn entry_error(
    vaddr: u64,
    level: TableLevel,
    entry_address: u64,
    entry: u64,
    why: &str,
) -> crate::error::Error {
    crate::error::Error::invalid(format!(
        "Can't convert a virtual address({vaddr:#x}) to physical address: the {} entry at {entry_address:#x} ({entry:#x}) {why}",
        level.name()
    ))
}

/// Upper bound of table pages visited. A 64 TiB machine direct-mapped with 4 KiB pages
/// would need ~16 M PTE tables; real kernels map the direct map with 1 GiB/2 MiB pages
/// and use a few thousand tables. Past this bound the tables are corrupt, or the machine
/// is beyond what a capture kernel's memory could hold a visited set for.
pub const MAX_TABLE_PAGES: usize = 1 << 20;

/// One thing found by a whole-tree walk (`X86_64Translator::visit_tree`,
/// `Arm64Translator::visit_tree`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeItem {
    /// A table at this physical address (a page, or less for an arm64 top table with
    /// fewer entries; aligned to its size).
    Table {
        /// Physical address of the table.
        paddr: u64,
        /// Its level.
        level: TableLevel,
    },
    /// A present leaf mapping.
    Leaf(Leaf),
    /// A table that could not be read (a hole in the dump, or beyond physical memory):
    /// what lies below it is unknown.
    Unreadable {
        /// Physical address of the table.
        paddr: u64,
        /// Its level.
        level: TableLevel,
    },
    /// The walk stopped at [`MAX_TABLE_PAGES`].
    Truncated,
}

/// The tables a whole-tree walk has entered: each is walked once (a loop or a diamond in
/// corrupt tables cannot multiply the work), and the walk stops, reporting
/// [`TreeItem::Truncated`] once, after [`MAX_TABLE_PAGES`]. Shared by the x86_64 and
/// arm64 walks.
#[derive(Default)]
pub(crate) struct VisitedTables {
    seen: std::collections::HashSet<u64>,
    truncated: bool,
}

impl VisitedTables {
    /// Whether the table at `paddr` is to be walked now: not seen before and within the
    /// bound. Reports the truncation through `visit` the first time the bound is passed.
    pub(crate) fn enter(&mut self, paddr: u64, visit: &mut dyn FnMut(TreeItem)) -> bool {
        if self.truncated || !self.seen.insert(paddr) {
            return false;
        }
        if self.seen.len() > MAX_TABLE_PAGES {
            self.truncated = true;
            visit(TreeItem::Truncated);
            return false;
        }
        true
    }
}
