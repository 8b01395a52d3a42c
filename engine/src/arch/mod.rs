//! Architecture support: what the dumped kernel's architecture decides — how its virtual
//! addresses become physical ones, where its kernel address space starts, the defaults of
//! its sparse memory model — behind one [`Translator`].
//!
//! The architecture comes from the input ([`Arch`], from `e_machine` or the dump header's
//! utsname), never from the host. [`Translator`] is an enum rather than a trait object:
//! the set of architectures is closed and chosen per input at run time, every question
//! (`leaf`, `kvbase`, memory-model defaults) must be answered by each of them, which an
//! exhaustive `match` enforces when one is added, and the page-table walk behind
//! [`VirtualReader`] stays a direct call without a `Box<dyn>` or generic parameters
//! spreading through the filter.
//!
//! x86_64 ([`x86_64`], issue 4) and arm64 ([`aarch64`], issue 15) are implemented.

pub mod aarch64;
mod machine;
mod virtual_reader;
pub mod walk;
pub mod x86_64;

pub use machine::Arch;
pub use virtual_reader::VirtualReader;

use crate::error::Result;
use crate::input::elf::PtLoad;
use crate::input::PageReader;
use crate::kernel_version::KernelVersion;
use crate::vmcoreinfo::VmcoreInfo;
use aarch64::Arm64Translator;
#[cfg(any(test, feature = "testing"))]
use walk::VtopWalk;
use walk::{Leaf, ValueSource};
use x86_64::X86_64Translator;

/// The translation of one dumped kernel, for its architecture.
#[derive(Debug, Clone)]
pub enum Translator {
    /// x86_64: 4 KiB pages, walk from `init_top_pgt`.
    X86_64(X86_64Translator),
    /// arm64: walk from `swapper_pg_dir`.
    Aarch64(Arm64Translator),
}

impl Translator {
    /// The translator of `arch` for the kernel described by `info`; `loads` are the
    /// input's PT_LOADs (see [`kdump_loads`] for inputs without them) and `page_size`
    /// the input's.
    pub fn new(
        arch: Arch,
        info: &VmcoreInfo,
        loads: &[PtLoad],
        version: KernelVersion,
        page_size: u64,
    ) -> Result<Self> {
        Ok(match arch {
            Arch::X86_64 => Translator::X86_64(X86_64Translator::new(info, loads, version)),
            Arch::Aarch64 => Translator::Aarch64(Arm64Translator::new(info, loads, page_size)?),
        })
    }

    /// Translate `vaddr` to the leaf page or block mapping it.
    #[inline]
    pub fn leaf(&self, reader: &mut dyn PageReader, vaddr: u64) -> Result<Leaf> {
        match self {
            Translator::X86_64(t) => t.leaf(reader, vaddr),
            Translator::Aarch64(t) => t.leaf(reader, vaddr),
        }
    }

    /// The lowest kernel virtual address (makedumpfile's `is_kvaddr` bound): pointers
    /// below it are not kernel data.
    pub fn kvbase(&self) -> u64 {
        match self {
            Translator::X86_64(t) => t.page_offset().0,
            Translator::Aarch64(t) => t.kvbase(),
        }
    }

    /// `phys_base` as the dump headers carry it (x86_64: kernel text relocation; arm64:
    /// `PHYS_OFFSET`).
    pub fn phys_base(&self) -> (u64, ValueSource) {
        match self {
            Translator::X86_64(t) => t.phys_base(),
            Translator::Aarch64(t) => t.phys_base(),
        }
    }

    /// `MAX_PHYSMEM_BITS` when VMCOREINFO does not export it (makedumpfile
    /// `get_versiondep_info_*`).
    pub fn default_max_physmem_bits(&self, version: KernelVersion) -> i64 {
        match self {
            Translator::X86_64(t) => {
                if version < KernelVersion::new(2, 6, 26) {
                    40
                } else if version < KernelVersion::new(2, 6, 31) {
                    44
                } else if t.five_level() {
                    52
                } else {
                    46
                }
            }
            Translator::Aarch64(t) => t.max_physmem_bits() as i64,
        }
    }

    /// `SECTION_SIZE_BITS` when VMCOREINFO does not export it.
    pub fn default_section_size_bits(&self) -> i64 {
        match self {
            Translator::X86_64(_) => x86_64::DEFAULT_SECTION_SIZE_BITS,
            Translator::Aarch64(_) => aarch64::DEFAULT_SECTION_SIZE_BITS,
        }
    }

    #[cfg(any(test, feature = "testing"))]
    /// Translate `vaddr` to a physical address.
    pub fn vtop(&self, reader: &mut dyn PageReader, vaddr: u64) -> Result<u64> {
        Ok(self.leaf(reader, vaddr)?.translate(vaddr))
    }

    #[cfg(any(test, feature = "testing"))]
    /// Translate `vaddr` recording every entry read, for `--vtop`.
    pub fn vtop_walk(&self, reader: &mut dyn PageReader, vaddr: u64) -> Result<VtopWalk> {
        match self {
            Translator::X86_64(t) => t.vtop_walk(reader, vaddr),
            Translator::Aarch64(t) => {
                let mut steps = Vec::with_capacity(5);
                let leaf = t.walk(reader, vaddr, Some(&mut steps))?;
                Ok(VtopWalk {
                    vaddr,
                    steps,
                    paddr: leaf.translate(vaddr),
                })
            }
        }
    }
}

/// The PT_LOADs to hand [`Translator::new`] for a kdump-compressed input, which has none:
/// one segment that makes the translator derive the dump header's `phys_base`, since
/// makedumpfile takes it from the input's sub header (x86_64: a kernel-text segment at
/// `__START_KERNEL_map`; arm64: a linear-map segment at `PAGE_OFFSET`, used only when
/// VMCOREINFO lacks `NUMBER(PHYS_OFFSET)`).
pub fn kdump_loads(arch: Arch, info: Option<&VmcoreInfo>, phys_base: u64) -> Vec<PtLoad> {
    let virt_start = match arch {
        Arch::X86_64 => x86_64::START_KERNEL_MAP,
        Arch::Aarch64 => match info.map(aarch64::VaLayout::from_vmcoreinfo) {
            Some(Ok(layout)) => layout.page_offset,
            _ => return Vec::new(),
        },
    };
    vec![PtLoad {
        phys_start: phys_base,
        phys_end: phys_base,
        virt_start,
        file_offset: 0,
        file_size: 0,
    }]
}
