//! Small synthetic ELF vmcores for fast tests, property tests, benchmarks and fuzz seeds.
//!
//! The layout imitates a real x86_64 `/proc/vmcore`: ELF64 core, one PT_NOTE with an
//! NT_PRSTATUS note per CPU and a VMCOREINFO note, a kernel-text PT_LOAD that overlaps RAM
//! (its bytes duplicated in the file, as the kernel does), two RAM PT_LOADs around a hole,
//! the second with pages past its `p_filesz`.

pub mod arm64_tables;
pub mod large;
pub mod machine;

use std::ops::Range;

use self::machine::{Fields, Generation, Machine, LRU, PFNS, PHYS_BASE, PRIVATE, PS};
use crate::dump::header::START_KERNEL_MAP;
use crate::xorshift::XorShift;

/// Size of an x86_64 `elf_prstatus` descriptor.
pub(super) const PRSTATUS_SIZE: usize = 336;
/// Pfns below this hold data pages; the machine's kernel structures live above it.
const DATA_PFNS: u64 = 1536;
/// The hole between the two RAM PT_LOADs.
const HOLE: Range<u64> = 1000..1064;
/// Pages at the end of the second PT_LOAD that the file does not hold (p_memsz > p_filesz).
const NODATA_PAGES: u64 = 4;
/// An order-7 anonymous compound page (user data).
pub const COMPOUND_ANON: Range<u64> = 1152..1280;
/// An order-7 free buddy block.
pub const BUDDY_ORDER_7: Range<u64> = 1280..1408;
/// x86_64 `VMALLOC_START` without KASLR: where kcore's vmalloc segment starts.
const VMALLOC_START: u64 = 0xffff_c900_0000_0000;
/// Kernel text PT_LOAD: this many pages from phys_base, overlapping RAM.
const KERNEL_TEXT_PAGES: u64 = 64;

/// Builder for a synthetic vmcore: a [`Machine`] (page tables, mem_section, struct pages
/// and VMCOREINFO of a real x86_64 kernel generation) whose data pages hold a realistic
/// mix, with struct pages marking page cache, private cache, anonymous and free pages so
/// every dump level has something to exclude.
pub struct SyntheticVmcore {
    /// The memory image and its kernel structures.
    pub machine: Machine,
    /// Number of NT_PRSTATUS notes.
    pub nr_cpus: usize,
    /// Put the program headers after a gap (like QEMU, which makedumpfile mishandles).
    pub phoff_gap: u64,
    /// Append this many one-page PT_LOADs without a physical address (`p_paddr = -1`),
    /// as /proc/kcore has for vmalloc, vmemmap and modules: the file then looks like kcore.
    pub unmapped_segments: u64,
}

impl std::fmt::Debug for SyntheticVmcore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyntheticVmcore")
            .field("generation", &self.machine.generation)
            .finish()
    }
}

impl SyntheticVmcore {
    /// A 6.1 machine (8 MiB, 2048 pfns) with deterministic content from `seed`.
    pub fn mixed(seed: u64) -> Self {
        Self::for_generation(Generation::V6_1, seed)
    }

    /// A machine of kernel generation `generation`.
    pub fn for_generation(generation: Generation, seed: u64) -> Self {
        let mut machine = Machine::new(generation);
        let data = mixed_pages(DATA_PFNS, PS, seed);
        machine.memory.bytes[..data.len()].copy_from_slice(&data);
        // Page classes by pfn, in the data area only.
        for pfn in 2..DATA_PFNS {
            let fields = match pfn % 10 {
                0 => Fields {
                    flags: LRU,
                    mapping: machine.direct(0x1000),
                    ..Fields::default()
                },
                1 => Fields {
                    flags: LRU,
                    mapping: machine.direct(0x2000) | 1,
                    ..Fields::default()
                },
                2 => Fields {
                    mapcount: generation.buddy(),
                    ..Fields::default()
                },
                3 => Fields {
                    flags: LRU | PRIVATE,
                    mapping: machine.direct(0x3000),
                    ..Fields::default()
                },
                _ => continue,
            };
            machine.write_page(pfn, fields);
        }
        // Blocks of 128 pages, larger than the smallest cycle (64 pfns), so cyclic runs
        // must carry exclusions across cycle boundaries: an anonymous compound page and a
        // free buddy block of order 7.
        for pfn in COMPOUND_ANON.chain(BUDDY_ORDER_7) {
            machine.write_page(pfn, Fields::default());
        }
        machine.write_page(
            COMPOUND_ANON.start,
            Fields {
                flags: LRU,
                mapping: machine.direct(0x2000) | 1,
                ..Fields::default()
            },
        );
        machine.compound(COMPOUND_ANON.start, 7, false);
        machine.write_page(
            BUDDY_ORDER_7.start,
            Fields {
                mapcount: generation.buddy(),
                private: 7,
                ..Fields::default()
            },
        );
        // init_uts_ns.name in the kernel image (above phys_base), read through the text map.
        let uts_page = machine.alloc() * PS;
        let uts = utsname_bytes(generation.osrelease());
        machine.memory.bytes[uts_page as usize..uts_page as usize + uts.len()]
            .copy_from_slice(&uts);
        machine.set_key(
            "SYMBOL(init_uts_ns)",
            format!("{:x}", START_KERNEL_MAP + uts_page - PHYS_BASE - 4),
        );
        machine.set_key("OFFSET(uts_namespace.name)", 4);
        machine.set_key("CRASHTIME", 1_700_000_000);
        SyntheticVmcore {
            machine,
            nr_cpus: 2,
            phoff_gap: 0,
            unmapped_segments: 0,
        }
    }

    /// The VMCOREINFO text.
    pub fn vmcoreinfo(&self) -> String {
        self.machine.vmcoreinfo_text()
    }

    /// Physical pfn ranges of the RAM PT_LOADs: (start, end of memory, end of file data).
    fn ram_ranges() -> [(u64, u64, u64); 2] {
        [
            (1, HOLE.start, HOLE.start),
            (HOLE.end, PFNS, PFNS - NODATA_PAGES),
        ]
    }

    /// Encode the ELF file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let notes = self.notes();
        let memory = &self.machine.memory.bytes;
        let mut segments: Vec<(u64, u64, u64, u64)> = vec![(
            START_KERNEL_MAP,
            PHYS_BASE,
            KERNEL_TEXT_PAGES * PS,
            KERNEL_TEXT_PAGES * PS,
        )];
        for (start, end, file_end) in Self::ram_ranges() {
            segments.push((
                self.machine.direct(start * PS),
                start * PS,
                (file_end - start) * PS,
                (end - start) * PS,
            ));
        }
        let phnum = 1 + segments.len() + self.unmapped_segments as usize;
        let phoff = 64 + self.phoff_gap;
        let mut offset = phoff + (phnum * 56) as u64;
        let mut phdrs = Vec::new();
        let mut payload = Vec::new();
        phdrs.push(phdr(
            4,
            offset,
            0,
            0,
            notes.len() as u64,
            notes.len() as u64,
        ));
        payload.extend_from_slice(&notes);
        offset += notes.len() as u64;
        for (vaddr, paddr, filesz, memsz) in segments {
            phdrs.push(phdr(1, offset, vaddr, paddr, filesz, memsz));
            payload.extend_from_slice(&memory[paddr as usize..(paddr + filesz) as usize]);
            offset += filesz;
        }
        for i in 0..self.unmapped_segments {
            phdrs.push(phdr(1, offset, VMALLOC_START + i * PS, u64::MAX, PS, PS));
            payload.resize(payload.len() + PS as usize, 0xa5);
            offset += PS;
        }
        let mut out = elf_header(phoff, phnum as u16);
        out.resize(phoff as usize, 0);
        out.extend_from_slice(&phdrs.concat());
        out.extend_from_slice(&payload);
        out
    }

    fn notes(&self) -> Vec<u8> {
        let mut notes = Vec::new();
        for cpu in 0..self.nr_cpus {
            let mut desc = vec![0u8; PRSTATUS_SIZE];
            desc[32..36].copy_from_slice(&(cpu as u32 + 1).to_le_bytes()); // pr_pid
            push_note(&mut notes, b"CORE\0", 1, &desc);
        }
        push_note(&mut notes, b"VMCOREINFO\0", 0, self.vmcoreinfo().as_bytes());
        notes
    }

    /// The bytes of page `pfn` as the vmcore holds them (zeros where the file has none).
    pub fn page(&self, pfn: u64) -> Vec<u8> {
        let in_file = Self::ram_ranges()
            .iter()
            .any(|&(start, _, file_end)| (start..file_end).contains(&pfn));
        if in_file {
            self.machine.memory.bytes[(pfn * PS) as usize..((pfn + 1) * PS) as usize].to_vec()
        } else {
            vec![0; PS as usize]
        }
    }
}

/// An x86_64 ELF64 core header with `phnum` program headers at `phoff`.
pub(super) fn elf_header(phoff: u64, phnum: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(b"\x7fELF\x02\x01\x01\0");
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&4u16.to_le_bytes()); // ET_CORE
    out.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    out.extend_from_slice(&phoff.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    out.extend_from_slice(&64u16.to_le_bytes());
    out.extend_from_slice(&56u16.to_le_bytes());
    out.extend_from_slice(&phnum.to_le_bytes());
    out.extend_from_slice(&[0; 6]);
    out
}

pub(super) fn push_note(out: &mut Vec<u8>, name: &[u8], n_type: u32, desc: &[u8]) {
    out.extend_from_slice(&(name.len() as u32).to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&n_type.to_le_bytes());
    out.extend_from_slice(name);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(desc);
    out.resize(out.len().next_multiple_of(4), 0);
}

pub(super) fn phdr(
    p_type: u32,
    offset: u64,
    vaddr: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
) -> Vec<u8> {
    let mut p = Vec::with_capacity(56);
    p.extend_from_slice(&p_type.to_le_bytes());
    p.extend_from_slice(&7u32.to_le_bytes()); // RWX
    for v in [offset, vaddr, paddr, filesz, memsz, 0] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    p
}

pub(super) fn utsname_bytes(release: &str) -> Vec<u8> {
    let mut uts = vec![0u8; 6 * 65];
    for (i, field) in ["Linux", "synthetic", release, "#1 SMP", "x86_64", "(none)"]
        .iter()
        .enumerate()
    {
        uts[i * 65..i * 65 + field.len()].copy_from_slice(field.as_bytes());
    }
    uts
}

/// Deterministic page contents with the mix a real vmcore has: zero pages, text-like
/// pages, pointer-dense pages and incompressible noise.
pub fn mixed_pages(count: u64, page_size: u64, seed: u64) -> Vec<u8> {
    let mut rng = XorShift(seed | 1);
    let mut next = move || rng.next();
    let mut out = vec![0u8; (count * page_size) as usize];
    for page in out.chunks_mut(page_size as usize) {
        match next() % 8 {
            0 | 1 => {} // zero page
            2 | 3 => {
                // text-like: words from a small vocabulary
                const WORDS: [&[u8]; 6] = [
                    b"kernel ", b"page ", b"struct ", b"0x0000 ", b"task ", b"\n",
                ];
                let mut pos = 0;
                while pos < page.len() {
                    let w = WORDS[(next() % 6) as usize];
                    let n = w.len().min(page.len() - pos);
                    page[pos..pos + n].copy_from_slice(&w[..n]);
                    pos += n;
                }
            }
            4 | 5 => {
                // pointer-dense: kernel addresses with small deltas
                let base = 0xffff_8880_0000_0000u64 + (next() & 0xfff_f000);
                for word in page.chunks_mut(8) {
                    let v = base + (next() % 64) * 64;
                    word.copy_from_slice(&v.to_le_bytes()[..word.len()]);
                }
            }
            6 => {
                // sparse: mostly zero with a few values
                for _ in 0..16 {
                    let at = (next() % (page.len() as u64 - 8)) as usize;
                    page[at..at + 8].copy_from_slice(&next().to_le_bytes());
                }
            }
            _ => {
                for word in page.chunks_mut(8) {
                    word.copy_from_slice(&next().to_le_bytes()[..word.len()]);
                }
            }
        }
    }
    out
}
