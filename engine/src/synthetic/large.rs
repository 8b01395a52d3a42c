//! Synthetic x86_64 vmcores of any RAM size, written as sparse files (issue 16): the
//! behaviour of the engine on big machines (hundreds of cycles, gigabytes of struct
//! pages) without a big machine.
//!
//! The file is what a 6.1 kernel's `/proc/vmcore` would be: ELF64 core with CPU notes and
//! VMCOREINFO, a kernel-text PT_LOAD and RAM PT_LOADs around the PCI hole at 3–4 GiB,
//! 4-level page tables (1 GiB leaves for the direct map, 2 MiB for text and vmemmap),
//! SPARSEMEM_EXTREME `mem_section` with 128 MiB sections, and a vmemmap of struct pages
//! at the top of RAM, as memblock places it. Pages are classed in runs the way a running
//! machine holds them: free buddy blocks of orders 0–10, page cache, private cache,
//! anonymous, slab, zero and other kernel pages, in proportions set by a [`PageMix`].
//! Only the pages a kernel owns or uses are written; free pages are holes, so a machine
//! costs its mem_map and its used pages on disk. Used pages hold real content when pages
//! sampled from a real vmcore are given (`sample_pages`).
//!
//! The check that these vmcores are realistic is that makedumpfile 1.7.2 accepts them and
//! writes the same bytes as we do (`tests/large-machine.sh`).

use std::collections::BTreeMap;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::machine::{kernel_keys, Generation, KernelLayout, LRU, PRIVATE, SLAB_FLAG, SWAPBACKED};
use super::{elf_header, mixed_pages, phdr, push_note, utsname_bytes, PRSTATUS_SIZE};
use crate::arch::x86_64::START_KERNEL_MAP;
use crate::error::{Error, ErrorKind, Result};
use crate::input::elf::ElfVmcore;
use crate::input::PhysicalMemory;
use crate::xorshift::XorShift;

const PS: u64 = 4096;
const STRUCT_PAGE: u64 = 64;
/// x86_64 `SECTION_SIZE_BITS`: 128 MiB sections.
const SECTION_SIZE_BITS: u64 = 27;
const PFNS_PER_SECTION: u64 = 1 << (SECTION_SIZE_BITS - 12);
/// `phys_base`: where the kernel image was loaded.
const PHYS_BASE: u64 = 16 << 20;
/// The kernel image (text, data, bss) from `PHYS_BASE`; its second half holds the
/// structures this generator builds (page tables, mem_section).
const KERNEL_IMAGE: u64 = 32 << 20;
const PAGE_OFFSET: u64 = 0xffff_8880_0000_0000;
const VMEMMAP: u64 = 0xffff_ea00_0000_0000;
const PCI_HOLE: Range<u64> = (3 << 30)..(4 << 30);
const GIB: u64 = 1 << 30;
const MIB2: u64 = 2 << 20;
/// Present and writable, accessed, dirty (what the kernel's PAGE_KERNEL tables carry).
const PTE_BITS: u64 = 0x63;
const PSE: u64 = 0x80;
/// `PAGE_BUDDY_MAPCOUNT_VALUE` of 6.1 as the 32-bit field holds it.
const BUDDY: u32 = -129i32 as u32;
const MAX_ORDER: u32 = 10;
/// Largest run of consecutive page data gathered before one write.
const WRITE_RUN: usize = 1 << 20;

/// How runs of pages are drawn: each share is per thousand draws, the remainder other
/// kernel pages. A draw of free memory gives a buddy block (as large as its alignment
/// allows, up to order 10), every other draw a run of 1–32 pages, so free blocks weigh
/// more in pages than in draws: the default gives about nine free pages in ten, a mostly
/// idle server ([`LargeVmcoreStats`] has the page counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageMix {
    /// Free buddy blocks.
    pub free: u32,
    /// Page cache without private data (excluded by `-d 2`).
    pub cache: u32,
    /// Page cache with private data (`-d 4`).
    pub private_cache: u32,
    /// Anonymous user pages (`-d 8`).
    pub anon: u32,
    /// Slab pages (kept at every level).
    pub slab: u32,
    /// Kernel-owned pages full of zeros (`-d 1`).
    pub zero: u32,
}

impl Default for PageMix {
    fn default() -> Self {
        PageMix {
            free: 835,
            cache: 70,
            private_cache: 15,
            anon: 50,
            slab: 15,
            zero: 10,
        }
    }
}

/// The class of one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Free,
    Cache,
    PrivateCache,
    Anon,
    Slab,
    Zero,
    Kernel,
}

/// What a generated vmcore holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LargeVmcoreStats {
    /// Highest pfn + 1.
    pub max_mapnr: u64,
    /// Pages of RAM (max_mapnr minus the hole).
    pub ram_pages: u64,
    /// Pages in free buddy blocks.
    pub free_pages: u64,
    /// Page-cache, private-cache and anonymous pages.
    pub user_and_cache_pages: u64,
    /// Slab and other kernel pages, struct pages and page tables included.
    pub kernel_pages: u64,
    /// Kernel-owned zero pages.
    pub zero_pages: u64,
    /// Bytes of the ELF file (its apparent size; free pages are holes).
    pub file_size: u64,
}

/// A machine to generate: RAM size, content seed, page mix and the pages used pages are
/// filled with.
#[derive(Debug, Clone)]
pub struct LargeVmcore {
    /// Bytes of RAM: a multiple of 128 MiB, at least 512 MiB.
    pub ram: u64,
    /// Seed of the page classes and of which sample each used page holds.
    pub seed: u64,
    /// Shares of the page classes.
    pub mix: PageMix,
    /// Page contents for used pages (each one page, none all zero).
    pub samples: Vec<Vec<u8>>,
    /// Write the data of page-cache and anonymous pages. Without it they read as zero:
    /// `-d 2`–`-d 31` never read them (their struct pages exclude them), and a 256 GiB
    /// machine then costs a few GiB of disk instead of tens.
    pub user_data: bool,
}

impl LargeVmcore {
    /// A machine with `ram` bytes, the default mix and synthetic page contents.
    pub fn new(ram: u64, seed: u64) -> Self {
        let samples = mixed_pages(512, PS, seed)
            .chunks(PS as usize)
            .filter(|p| p.iter().any(|&b| b != 0))
            .map(<[u8]>::to_vec)
            .collect();
        LargeVmcore {
            ram,
            seed,
            mix: PageMix::default(),
            samples,
            user_data: true,
        }
    }

    /// Write the vmcore to `path` (created or truncated, sparse).
    pub fn write(&self, path: &Path) -> Result<LargeVmcoreStats> {
        if self.ram % (PFNS_PER_SECTION * PS) != 0 || self.ram < 4 * PFNS_PER_SECTION * PS {
            return Err(Error::argument(format!(
                "RAM size {} is not a multiple of 128 MiB of at least 512 MiB",
                self.ram
            )));
        }
        if self.samples.is_empty() || self.samples.iter().any(|s| s.len() != PS as usize) {
            return Err(Error::argument("sample pages must be whole 4 KiB pages"));
        }
        let plan = Plan::new(self.ram);
        let kernel = KernelStructures::build(&plan);
        let layout = FileLayout::new(&plan, &self.notes(&kernel));
        let io = |e| {
            Error::io(
                ErrorKind::Write,
                format!("Can't write {}", path.display()),
                e,
            )
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io)?;
        file.set_len(layout.file_size).map_err(io)?;
        file.write_all_at(&layout.head, 0).map_err(io)?;
        let mut stats = self.write_pages(&plan, &layout, &file).map_err(io)?;
        // The kernel image twice: in RAM and in its own PT_LOAD, as /proc/vmcore has it.
        for (&paddr, page) in &kernel.pages {
            file.write_all_at(page, layout.ram_offset(paddr))
                .map_err(io)?;
        }
        let mut image = vec![0u8; KERNEL_IMAGE as usize];
        file.read_exact_at(&mut image, layout.ram_offset(PHYS_BASE))
            .map_err(io)?;
        file.write_all_at(&image, layout.text_offset).map_err(io)?;
        file.sync_all().map_err(io)?;
        stats.file_size = layout.file_size;
        Ok(stats)
    }

    /// One section's struct pages at a time, and the data of its used pages in runs.
    fn write_pages(
        &self,
        plan: &Plan,
        layout: &FileLayout,
        file: &File,
    ) -> std::io::Result<LargeVmcoreStats> {
        let mut stats = LargeVmcoreStats {
            max_mapnr: plan.max_pfn,
            ..LargeVmcoreStats::default()
        };
        let mut classes = ClassRuns::new(self.seed, self.mix, plan);
        let mut struct_pages = vec![0u8; (PFNS_PER_SECTION * STRUCT_PAGE) as usize];
        let mut run = DataRun::default();
        for section in 0..plan.max_pfn / PFNS_PER_SECTION {
            let first = section * PFNS_PER_SECTION;
            if !plan.is_ram(first) {
                continue;
            }
            for (i, pfn) in (first..first + PFNS_PER_SECTION).enumerate() {
                let entry = &mut struct_pages[i * STRUCT_PAGE as usize..][..STRUCT_PAGE as usize];
                let class = classes.class_of(pfn, entry);
                stats.ram_pages += 1;
                match class {
                    Class::Free => stats.free_pages += 1,
                    Class::Zero => stats.zero_pages += 1,
                    Class::Kernel | Class::Slab => stats.kernel_pages += 1,
                    _ => stats.user_and_cache_pages += 1,
                }
                let has_data = match class {
                    Class::Free | Class::Zero => false,
                    Class::Cache | Class::PrivateCache | Class::Anon => self.user_data,
                    Class::Slab | Class::Kernel => !plan.struct_area.contains(&(pfn * PS)),
                };
                if has_data {
                    let sample = &self.samples
                        [(mix64(self.seed ^ pfn) % self.samples.len() as u64) as usize];
                    run.push(file, layout.ram_offset(pfn * PS), sample)?;
                } else {
                    run.flush(file)?;
                }
            }
            let at = plan.struct_area.start + first * STRUCT_PAGE;
            file.write_all_at(&struct_pages, layout.ram_offset(at))?;
        }
        run.flush(file)?;
        Ok(stats)
    }

    fn notes(&self, kernel: &KernelStructures) -> Vec<u8> {
        let mut notes = Vec::new();
        for cpu in 0..2u32 {
            let mut desc = vec![0u8; PRSTATUS_SIZE];
            desc[32..36].copy_from_slice(&(cpu + 1).to_le_bytes()); // pr_pid
            push_note(&mut notes, b"CORE\0", 1, &desc);
        }
        let text: String = kernel
            .keys
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        push_note(&mut notes, b"VMCOREINFO\0", 0, text.as_bytes());
        notes
    }
}

/// Up to `count` non-zero pages of the vmcore at `path`, from pfns picked by `seed`: real
/// content for a generated machine's used pages.
pub fn sample_pages(path: &Path, count: usize, seed: u64) -> Result<Vec<Vec<u8>>> {
    let vmcore = ElfVmcore::open(path, true)?;
    let mut reader = vmcore.reader()?;
    let mut rng = XorShift(seed | 1);
    let mut samples = Vec::with_capacity(count);
    let mut page = vec![0u8; vmcore.page_size() as usize];
    for _ in 0..count * 64 {
        if samples.len() == count {
            break;
        }
        let pfn = rng.next() % vmcore.max_mapnr();
        if !vmcore.has_page(pfn) || reader.read_page(pfn, &mut page).is_err() {
            continue;
        }
        if page.len() == PS as usize && page.iter().any(|&b| b != 0) {
            samples.push(page.clone());
        }
    }
    if samples.is_empty() {
        return Err(Error::invalid(format!(
            "{}: no non-zero 4 KiB page found to sample",
            path.display()
        )));
    }
    Ok(samples)
}

/// A 64-bit mix (splitmix64's finalizer): which sample a page holds, from its pfn.
fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Where things are in physical memory.
struct Plan {
    /// RAM ranges in bytes, around the PCI hole.
    ram: Vec<Range<u64>>,
    max_pfn: u64,
    /// The struct pages of every pfn (2 MiB aligned), at the top of RAM.
    struct_area: Range<u64>,
}

impl Plan {
    fn new(ram: u64) -> Self {
        let ranges = if ram <= PCI_HOLE.start {
            std::iter::once(0..ram).collect()
        } else {
            vec![
                0..PCI_HOLE.start,
                PCI_HOLE.end..ram + (PCI_HOLE.end - PCI_HOLE.start),
            ]
        };
        let end = ranges.last().map_or(0, |r| r.end);
        let max_pfn = end / PS;
        let struct_bytes = (max_pfn * STRUCT_PAGE).next_multiple_of(MIB2);
        Plan {
            ram: ranges,
            max_pfn,
            struct_area: end - struct_bytes..end,
        }
    }

    fn is_ram(&self, pfn: u64) -> bool {
        self.ram.iter().any(|r| r.contains(&(pfn * PS)))
    }

    /// Pages the kernel owns whatever the mix: the first MiB, the kernel image, the
    /// struct pages.
    fn is_reserved(&self, pfn: u64) -> bool {
        let paddr = pfn * PS;
        paddr < (1 << 20)
            || (PHYS_BASE..PHYS_BASE + KERNEL_IMAGE).contains(&paddr)
            || self.struct_area.contains(&paddr)
    }
}

/// Page tables, mem_section, init_uts_ns: pages of the kernel image's second half, and the
/// VMCOREINFO that names them.
struct KernelStructures {
    pages: BTreeMap<u64, Vec<u8>>,
    next: u64,
    keys: BTreeMap<String, String>,
}

impl KernelStructures {
    fn build(plan: &Plan) -> Self {
        let mut k = KernelStructures {
            pages: BTreeMap::new(),
            next: PHYS_BASE + KERNEL_IMAGE / 2,
            keys: BTreeMap::new(),
        };
        let pgd = k.alloc(1);
        for range in &plan.ram {
            k.map_range(pgd, PAGE_OFFSET + range.start, range.clone());
        }
        k.map_range(pgd, START_KERNEL_MAP, PHYS_BASE..PHYS_BASE + KERNEL_IMAGE);
        let sections = plan.max_pfn / PFNS_PER_SECTION;
        for section in (0..sections).filter(|s| plan.is_ram(s * PFNS_PER_SECTION)) {
            let vaddr = VMEMMAP + section * PFNS_PER_SECTION * STRUCT_PAGE;
            let paddr = plan.struct_area.start + section * PFNS_PER_SECTION * STRUCT_PAGE;
            k.map(pgd, vaddr, paddr, MIB2);
        }
        // SPARSEMEM_EXTREME: the root array, and one page of 256 mem_section structs for
        // every root that has a present section.
        let max_physmem_bits = 46;
        let per_root = PS / 16;
        let roots = (1u64 << (max_physmem_bits - SECTION_SIZE_BITS)) / per_root;
        let root_array = k.alloc((roots * 8).div_ceil(PS));
        for root in 0..sections.div_ceil(per_root) {
            let present: Vec<u64> = (root * per_root..((root + 1) * per_root).min(sections))
                .filter(|s| plan.is_ram(s * PFNS_PER_SECTION))
                .collect();
            if present.is_empty() {
                continue;
            }
            let table = k.alloc(1);
            k.write_u64(root_array + root * 8, PAGE_OFFSET + table);
            for section in present {
                // coded mem_map = mem_map - start pfn × SIZE(page) = VMEMMAP, present | has_mem_map
                k.write_u64(table + (section % per_root) * 16, VMEMMAP | 0b11);
            }
        }
        let uts = k.alloc(1);
        let release = Generation::V6_1.osrelease();
        let name = utsname_bytes(release);
        k.page(uts)[..name.len()].copy_from_slice(&name);
        k.keys = kernel_keys(&KernelLayout {
            generation: Generation::V6_1,
            five_level: false,
            sme_mask: 0,
            section_size_bits: SECTION_SIZE_BITS,
            phys_base: PHYS_BASE,
            root_array: PAGE_OFFSET + root_array,
            top_table_vaddr: START_KERNEL_MAP + pgd - PHYS_BASE,
        });
        let text_vaddr = |paddr: u64| START_KERNEL_MAP + paddr - PHYS_BASE;
        k.keys.insert(
            "SYMBOL(init_uts_ns)".into(),
            format!("{:x}", text_vaddr(uts) - 4),
        );
        k.keys
            .insert("OFFSET(uts_namespace.name)".into(), "4".into());
        k.keys.insert("CRASHTIME".into(), "1700000000".into());
        k
    }

    /// `pages` zeroed, contiguous pages; their physical address.
    fn alloc(&mut self, pages: u64) -> u64 {
        let paddr = self.next;
        self.next += pages * PS;
        assert!(
            self.next <= PHYS_BASE + KERNEL_IMAGE,
            "the kernel image has no room left for page tables"
        );
        for i in 0..pages {
            self.pages.insert(paddr + i * PS, vec![0; PS as usize]);
        }
        paddr
    }

    fn page(&mut self, paddr: u64) -> &mut Vec<u8> {
        self.pages
            .entry(paddr & !(PS - 1))
            .or_insert_with(|| vec![0; PS as usize])
    }

    fn write_u64(&mut self, paddr: u64, value: u64) {
        let at = (paddr % PS) as usize;
        self.page(paddr)[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }

    fn read_u64(&mut self, paddr: u64) -> u64 {
        let at = (paddr % PS) as usize;
        u64::from_le_bytes(self.page(paddr)[at..at + 8].try_into().expect("8 bytes"))
    }

    /// Map `phys` at `vaddr` with the largest leaves that fit (1 GiB, else 2 MiB).
    fn map_range(&mut self, pgd: u64, vaddr: u64, phys: Range<u64>) {
        let mut offset = 0;
        while phys.start + offset < phys.end {
            let (v, p) = (vaddr + offset, phys.start + offset);
            let size = if v % GIB == 0 && p % GIB == 0 && p + GIB <= phys.end {
                GIB
            } else {
                MIB2
            };
            self.map(pgd, v, p, size);
            offset += size;
        }
    }

    /// One leaf of `size` bytes (2 MiB or 1 GiB), allocating the tables on the way.
    fn map(&mut self, pgd: u64, vaddr: u64, paddr: u64, size: u64) {
        let mut table = pgd;
        for shift in [39u32, 30, 21] {
            let entry_at = table + ((vaddr >> shift) & 511) * 8;
            if 1u64 << shift == size {
                self.write_u64(entry_at, paddr | PSE | PTE_BITS);
                return;
            }
            let mut entry = self.read_u64(entry_at);
            if entry & 1 == 0 {
                entry = self.alloc(1) | PTE_BITS;
                self.write_u64(entry_at, entry);
            }
            table = entry & 0x000f_ffff_ffff_f000;
        }
    }
}

/// Where each part of the ELF file is.
struct FileLayout {
    /// ELF header, program headers and notes.
    head: Vec<u8>,
    text_offset: u64,
    /// (physical range, file offset of its start) of each RAM PT_LOAD.
    ram: Vec<(Range<u64>, u64)>,
    file_size: u64,
}

impl FileLayout {
    fn new(plan: &Plan, notes: &[u8]) -> Self {
        let phnum = 2 + plan.ram.len() as u64;
        let notes_offset = 64 + phnum * 56;
        let text_offset = (notes_offset + notes.len() as u64).next_multiple_of(PS);
        let mut offset = text_offset + KERNEL_IMAGE;
        let mut ram = Vec::new();
        let mut phdrs = vec![
            phdr(
                4,
                notes_offset,
                0,
                0,
                notes.len() as u64,
                notes.len() as u64,
            ),
            phdr(
                1,
                text_offset,
                START_KERNEL_MAP,
                PHYS_BASE,
                KERNEL_IMAGE,
                KERNEL_IMAGE,
            ),
        ];
        for range in &plan.ram {
            let len = range.end - range.start;
            phdrs.push(phdr(
                1,
                offset,
                PAGE_OFFSET + range.start,
                range.start,
                len,
                len,
            ));
            ram.push((range.clone(), offset));
            offset += len;
        }
        let mut head = elf_header(64, phnum as u16);
        head.extend_from_slice(&phdrs.concat());
        head.extend_from_slice(notes);
        FileLayout {
            head,
            text_offset,
            ram,
            file_size: offset,
        }
    }

    /// File offset of physical address `paddr` in its RAM PT_LOAD.
    fn ram_offset(&self, paddr: u64) -> u64 {
        self.ram
            .iter()
            .find(|(range, _)| range.contains(&paddr))
            .map(|(range, offset)| offset + paddr - range.start)
            .expect("a generated address lies in RAM")
    }
}

/// The page classes in runs, as a machine holds them: a class is drawn by the mix, then
/// held for a buddy block (free pages, naturally aligned, order 0–10) or a short run.
struct ClassRuns<'p> {
    rng: XorShift,
    mix: PageMix,
    plan: &'p Plan,
    class: Class,
    left: u64,
}

impl<'p> ClassRuns<'p> {
    fn new(seed: u64, mix: PageMix, plan: &'p Plan) -> Self {
        ClassRuns {
            rng: XorShift(seed | 1),
            mix,
            plan,
            class: Class::Kernel,
            left: 0,
        }
    }

    /// The class of `pfn` (called in pfn order), with its struct page written to `entry`.
    fn class_of(&mut self, pfn: u64, entry: &mut [u8]) -> Class {
        entry.fill(0);
        put_u32(entry, 48, u32::MAX); // _mapcount = -1
        if self.plan.is_reserved(pfn) {
            self.left = 0;
            return Class::Kernel;
        }
        if self.left == 0 {
            self.start_run(pfn, entry);
            if self.class == Class::Free {
                return Class::Free;
            }
        }
        self.left -= 1;
        let mapping = PAGE_OFFSET + (self.rng.next() % (1 << 30)) * 64;
        match self.class {
            // A tail of a free block: a plain struct page, excluded through its head.
            Class::Free => {}
            Class::Cache => {
                put_u64(entry, 0, LRU);
                put_u64(entry, 24, mapping);
            }
            Class::PrivateCache => {
                put_u64(entry, 0, LRU | PRIVATE);
                put_u64(entry, 24, mapping);
            }
            Class::Anon => {
                put_u64(entry, 0, LRU | SWAPBACKED);
                put_u64(entry, 24, mapping | 1);
            }
            Class::Slab => {
                put_u64(entry, 0, SLAB_FLAG);
                put_u64(entry, 24, mapping);
            }
            Class::Zero | Class::Kernel => {}
        }
        self.class
    }

    /// Draw the next run at `pfn`. A free block's head is written here (PageBuddy, its
    /// order in `private`) and counted.
    fn start_run(&mut self, pfn: u64, entry: &mut [u8]) {
        let m = self.mix;
        let draw = (self.rng.next() % 1000) as u32;
        let bounds = [
            (m.free, Class::Free),
            (m.cache, Class::Cache),
            (m.private_cache, Class::PrivateCache),
            (m.anon, Class::Anon),
            (m.slab, Class::Slab),
            (m.zero, Class::Zero),
        ];
        let mut acc = 0;
        self.class = Class::Kernel;
        for (share, class) in bounds {
            acc += share;
            if draw < acc {
                self.class = class;
                break;
            }
        }
        if self.class == Class::Free {
            // An idle machine's free memory is mostly in large blocks.
            let aligned = pfn.trailing_zeros().min(MAX_ORDER);
            let mut order = aligned.saturating_sub((self.rng.next() % 3) as u32);
            while order > 0 && (pfn..pfn + (1 << order)).any(|p| self.plan.is_reserved(p)) {
                order -= 1;
            }
            put_u32(entry, 48, BUDDY);
            put_u64(entry, 40, order as u64);
            self.left = (1 << order) - 1;
            // The tails that follow are classed Free by the run.
        } else {
            self.left = 1 + self.rng.next() % 32;
        }
    }
}

fn put_u64(entry: &mut [u8], at: usize, value: u64) {
    entry[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

fn put_u32(entry: &mut [u8], at: usize, value: u32) {
    entry[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// Consecutive page data gathered into one write.
#[derive(Default)]
struct DataRun {
    offset: u64,
    bytes: Vec<u8>,
}

impl DataRun {
    fn push(&mut self, file: &File, offset: u64, page: &[u8]) -> std::io::Result<()> {
        if self.offset + self.bytes.len() as u64 != offset || self.bytes.len() >= WRITE_RUN {
            self.flush(file)?;
            self.offset = offset;
        }
        self.bytes.extend_from_slice(page);
        Ok(())
    }

    fn flush(&mut self, file: &File) -> std::io::Result<()> {
        if !self.bytes.is_empty() {
            file.write_all_at(&self.bytes, self.offset)?;
            self.bytes.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{DumpLevel, PageFilter};

    #[test]
    fn a_generated_machine_is_read_and_filtered_as_its_stats_say() {
        let path = std::env::temp_dir().join(format!("mdf-large-{}", std::process::id()));
        let machine = LargeVmcore::new(4 << 30, 7);
        let stats = machine.write(&path).unwrap();
        // 4 GiB of RAM around the 1 GiB PCI hole.
        assert_eq!(stats.max_mapnr, 5 << 18);
        assert_eq!(stats.ram_pages, 4 << 18);
        assert!(stats.free_pages > stats.ram_pages * 8 / 10, "{stats:?}");
        let vmcore = ElfVmcore::open(&path, true).unwrap();
        let info = vmcore.vmcoreinfo().unwrap();
        let mut filter =
            PageFilter::new(info, &vmcore, vmcore.loads(), DumpLevel::new(31).unwrap()).unwrap();
        let (bitmaps, filter_stats) =
            crate::dump::DumpBitmaps::filtered(&vmcore, &mut filter, &crate::progress::NoProgress)
                .unwrap();
        assert_eq!(filter_stats.free, stats.free_pages);
        assert_eq!(
            filter_stats.cache + filter_stats.cache_private + filter_stats.user,
            stats.user_and_cache_pages
        );
        assert_eq!(bitmaps.ram.len(), stats.max_mapnr, "ram bitmap length");
        // makedumpfile's hole count subtracts every PT_LOAD, so the kernel image, which
        // overlaps RAM, is subtracted twice (as on a real vmcore).
        assert_eq!(
            bitmaps.memory_holes,
            stats.max_mapnr - stats.ram_pages - KERNEL_IMAGE / PS
        );
        std::fs::remove_file(&path).unwrap();
    }
}
