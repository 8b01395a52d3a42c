//! Small synthetic ELF vmcores for fast tests, property tests, benchmarks and fuzz seeds.
//!
//! The layout imitates a real x86_64 `/proc/vmcore`: ELF64 core, one PT_NOTE with an
//! NT_PRSTATUS note per CPU and a VMCOREINFO note, a kernel-text PT_LOAD that overlaps RAM
//! (its bytes duplicated in the file, as the kernel does) and RAM PT_LOADs.

use crate::dump::header::START_KERNEL_MAP;

/// Size of an x86_64 `elf_prstatus` descriptor.
const PRSTATUS_SIZE: usize = 336;

/// A RAM range of a synthetic vmcore.
#[derive(Debug, Clone)]
pub struct SyntheticRange {
    /// First physical address (page aligned).
    pub phys_start: u64,
    /// Contents present in the file.
    pub data: Vec<u8>,
    /// Extra bytes of memory past the data that the file does not hold (p_memsz > p_filesz).
    pub nodata: u64,
}

/// Builder for a synthetic vmcore.
#[derive(Debug, Clone)]
pub struct SyntheticVmcore {
    /// Page size (PAGESIZE in VMCOREINFO).
    pub page_size: u64,
    /// RAM ranges in ascending order.
    pub ranges: Vec<SyntheticRange>,
    /// Number of NT_PRSTATUS notes.
    pub nr_cpus: usize,
    /// Physical address where `init_uts_ns.name` is placed (inside the first range).
    pub uts_paddr: u64,
    /// Put the program headers after a gap (like QEMU, which makedumpfile mishandles).
    pub phoff_gap: u64,
    /// Extra VMCOREINFO lines.
    pub extra_vmcoreinfo: String,
}

impl SyntheticVmcore {
    /// A machine with `pages` pages of deterministic, mixed content starting at pfn 1
    /// (pfn 0 is a hole), a second range after a hole, and utsname at 0x2000.
    pub fn mixed(pages: u64, seed: u64) -> Self {
        let page_size = 4096u64;
        let first = pages / 2 + 4;
        let second = pages - pages / 2;
        let mut ranges = vec![
            SyntheticRange {
                phys_start: page_size,
                data: mixed_pages(first, page_size, seed),
                nodata: 0,
            },
            SyntheticRange {
                phys_start: (first + 64) * page_size,
                data: mixed_pages(second, page_size, seed ^ 0x9e37_79b9),
                nodata: 2 * page_size,
            },
        ];
        // init_uts_ns.name lives at 0x2000 (pfn 2), inside the first range.
        let uts = utsname_bytes();
        let at = (0x2000 - page_size) as usize;
        ranges[0].data[at..at + uts.len()].copy_from_slice(&uts);
        SyntheticVmcore {
            page_size,
            ranges,
            nr_cpus: 2,
            uts_paddr: 0x2000,
            phoff_gap: 0,
            extra_vmcoreinfo: String::new(),
        }
    }

    /// The VMCOREINFO text.
    pub fn vmcoreinfo(&self) -> String {
        let ns = START_KERNEL_MAP + self.uts_paddr - 4;
        format!(
            "OSRELEASE=6.1.0-synthetic\nPAGESIZE={}\nSYMBOL(init_uts_ns)={ns:x}\nOFFSET(uts_namespace.name)=4\n\
NUMBER(phys_base)=0\nCRASHTIME=1700000000\n{}",
            self.page_size, self.extra_vmcoreinfo
        )
    }

    /// Encode the ELF file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let notes = self.notes();
        // Kernel text: 2 pages at the start of the first range, mapped at __START_KERNEL_map.
        let text_len = (2 * self.page_size).min(self.ranges[0].data.len() as u64);
        let phnum = 2 + self.ranges.len();
        let phoff = 64 + self.phoff_gap;
        let mut offset = phoff + (phnum * 56) as u64;
        let mut phdrs = Vec::new();
        let mut payload = Vec::new();
        // PT_NOTE
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
        // kernel text PT_LOAD (overlaps RAM)
        let text_paddr = self.ranges[0].phys_start;
        phdrs.push(phdr(
            1,
            offset,
            START_KERNEL_MAP + text_paddr,
            text_paddr,
            text_len,
            text_len,
        ));
        payload.extend_from_slice(&self.ranges[0].data[..text_len as usize]);
        offset += text_len;
        for range in &self.ranges {
            let len = range.data.len() as u64;
            phdrs.push(phdr(
                1,
                offset,
                0xffff_8880_0000_0000 + range.phys_start,
                range.phys_start,
                len,
                len + range.nodata,
            ));
            payload.extend_from_slice(&range.data);
            offset += len;
        }
        let mut out = Vec::new();
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
        out.extend_from_slice(&(phnum as u16).to_le_bytes());
        out.extend_from_slice(&[0; 6]);
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

    /// The bytes of page `pfn` as the vmcore holds them (zeros outside the data).
    pub fn page(&self, pfn: u64) -> Vec<u8> {
        let paddr = pfn * self.page_size;
        let mut page = vec![0u8; self.page_size as usize];
        for r in &self.ranges {
            if paddr >= r.phys_start && paddr < r.phys_start + r.data.len() as u64 {
                let at = (paddr - r.phys_start) as usize;
                let n = (r.data.len() - at).min(page.len());
                page[..n].copy_from_slice(&r.data[at..at + n]);
            }
        }
        page
    }
}

fn push_note(out: &mut Vec<u8>, name: &[u8], n_type: u32, desc: &[u8]) {
    out.extend_from_slice(&(name.len() as u32).to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&n_type.to_le_bytes());
    out.extend_from_slice(name);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(desc);
    out.resize(out.len().next_multiple_of(4), 0);
}

fn phdr(p_type: u32, offset: u64, vaddr: u64, paddr: u64, filesz: u64, memsz: u64) -> Vec<u8> {
    let mut p = Vec::with_capacity(56);
    p.extend_from_slice(&p_type.to_le_bytes());
    p.extend_from_slice(&7u32.to_le_bytes()); // RWX
    for v in [offset, vaddr, paddr, filesz, memsz, 0] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    p
}

fn utsname_bytes() -> Vec<u8> {
    let mut uts = vec![0u8; 6 * 65];
    for (i, field) in [
        "Linux",
        "synthetic",
        "6.1.0-synthetic",
        "#1 SMP",
        "x86_64",
        "(none)",
    ]
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
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
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
