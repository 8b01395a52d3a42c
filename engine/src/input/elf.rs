//! ELF64 `/proc/vmcore` input.
//!
//! What makedumpfile relies on, and we too: one PT_NOTE holding an `NT_PRSTATUS` note per
//! CPU plus the `VMCOREINFO` note, and PT_LOADs mapping physical ranges to file offsets,
//! one of which (the kernel text mapping) overlaps RAM. Unlike makedumpfile we honour
//! `e_phoff` (QEMU puts the program headers at 192, makedumpfile assumes 64) and
//! `PN_XNUM`. Every offset and size is validated against the file size at open, so a
//! truncated or hostile core gives an error naming the segment, never a SIGBUS.

use std::fs::File;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::kcore;
use super::window::{MapPolicy, ReadKind, SharedFile, WindowReader};
use super::{PageReader, PhysicalMemory};
use crate::arch::Arch;
use crate::error::{Error, ErrorKind, Result};
use crate::vmcoreinfo::VmcoreInfo;

const ELF_MAGIC: &[u8; 4] = b"\x7fELF";
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
pub(crate) const EHDR64_SIZE: usize = 64;
pub(crate) const PHDR64_SIZE: usize = 56;
pub(crate) const SHDR64_SIZE: usize = 64;
pub(crate) const PN_XNUM: u16 = 0xffff;
pub(crate) const PT_LOAD: u32 = 1;
pub(crate) const PT_NOTE: u32 = 4;
const NT_PRSTATUS: u32 = 1;
/// Physical addresses above 2^52 do not exist on any architecture Linux supports
/// (x86_64 MAX_PHYSMEM_BITS is 52 with 5-level paging); larger ones are corruption.
const MAX_PHYSICAL_ADDRESS: u64 = 1 << 52;
/// Upper bound of the PT_NOTE contents, read whole into memory (and copied into the dump).
/// The kernel builds them in the capture kernel's own memory (crashkernel=, typically
/// 256–512 MiB): ~360 bytes of NT_PRSTATUS per CPU (3 MiB for 8192 CPUs), one page of
/// VMCOREINFO, and vmcoredd device dumps. A PT_LOAD mislabelled PT_NOTE made us read
/// 785 MB twice over (1.5 GB RSS, tests/corruption.sh); anything beyond this bound is a
/// corrupted program header.
const MAX_NOTES_SIZE: u64 = 256 << 20;

/// One PT_LOAD, as makedumpfile's `pt_load_segment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtLoad {
    /// `p_paddr`.
    pub phys_start: u64,
    /// `p_paddr + p_memsz`.
    pub phys_end: u64,
    /// `p_vaddr`.
    pub virt_start: u64,
    /// `p_offset`.
    pub file_offset: u64,
    /// `p_filesz`: bytes present in the file; the rest up to `phys_end` reads as zero.
    pub file_size: u64,
}

/// The notes of the PT_NOTE segment, copied verbatim into the dump's sub header area.
#[derive(Debug, Clone, Default)]
pub struct ElfNotes {
    /// The whole PT_NOTE payload.
    pub data: Vec<u8>,
    /// Number of `CORE`/`NT_PRSTATUS` notes (the header's nr_cpus).
    pub nr_cpus: u32,
    /// Offset and size of the VMCOREINFO note's descriptor inside `data`.
    pub vmcoreinfo: Option<(usize, usize)>,
}

impl ElfNotes {
    /// Walk the notes as makedumpfile's `get_pt_note_info`: namesz/descsz/type headers,
    /// name and descriptor each padded to 4 bytes.
    pub fn parse(data: Vec<u8>, name: &str) -> Result<Self> {
        let mut notes = ElfNotes {
            data,
            nr_cpus: 0,
            vmcoreinfo: None,
        };
        let mut offset = 0usize;
        let data = &notes.data;
        while offset + 12 <= data.len() {
            let namesz = read_u32(data, offset) as usize;
            let descsz = read_u32(data, offset + 4) as usize;
            let n_type = read_u32(data, offset + 8);
            let name_start = offset + 12;
            let desc_start = name_start.checked_add(namesz.next_multiple_of(4));
            let next = desc_start.and_then(|d| d.checked_add(descsz.next_multiple_of(4)));
            let (Some(desc_start), Some(next)) = (desc_start, next) else {
                break;
            };
            if desc_start + descsz > data.len() {
                return Err(Error::invalid(format!(
                    "{name}: ELF note at offset {offset:#x} of PT_NOTE has descsz {descsz}, beyond the segment ({} bytes)",
                    data.len()
                )));
            }
            let note_name = &data[name_start..name_start + namesz];
            let note_name = note_name.split(|&b| b == 0).next().unwrap_or(&[]);
            match (note_name, n_type) {
                (b"CORE", NT_PRSTATUS) => notes.nr_cpus += 1,
                (b"VMCOREINFO", 0) => notes.vmcoreinfo = Some((desc_start, descsz)),
                _ => {}
            }
            offset = next;
        }
        Ok(notes)
    }

    /// The VMCOREINFO text, if the notes carry it.
    pub fn vmcoreinfo_bytes(&self) -> Option<&[u8]> {
        let (start, len) = self.vmcoreinfo?;
        self.data.get(start..start + len)
    }
}

/// One ELF64 program header, as in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phdr {
    /// `p_type`.
    pub p_type: u32,
    /// `p_flags`.
    pub p_flags: u32,
    /// `p_offset`.
    pub p_offset: u64,
    /// `p_vaddr`.
    pub p_vaddr: u64,
    /// `p_paddr`.
    pub p_paddr: u64,
    /// `p_filesz`.
    pub p_filesz: u64,
    /// `p_memsz`.
    pub p_memsz: u64,
    /// `p_align`.
    pub p_align: u64,
}

impl Phdr {
    /// Decode the 56 on-disk bytes.
    pub fn from_bytes(b: &[u8]) -> Self {
        let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        Phdr {
            p_type: u32::from_le_bytes(b[0..4].try_into().expect("4 bytes")),
            p_flags: u32::from_le_bytes(b[4..8].try_into().expect("4 bytes")),
            p_offset: u64_at(8),
            p_vaddr: u64_at(16),
            p_paddr: u64_at(24),
            p_filesz: u64_at(32),
            p_memsz: u64_at(40),
            p_align: u64_at(48),
        }
    }

    /// The 56 on-disk bytes.
    pub fn to_bytes(self) -> [u8; PHDR64_SIZE] {
        let mut b = [0u8; PHDR64_SIZE];
        b[0..4].copy_from_slice(&self.p_type.to_le_bytes());
        b[4..8].copy_from_slice(&self.p_flags.to_le_bytes());
        for (at, v) in [
            (8, self.p_offset),
            (16, self.p_vaddr),
            (24, self.p_paddr),
            (32, self.p_filesz),
            (40, self.p_memsz),
            (48, self.p_align),
        ] {
            b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }
}

/// An opened ELF vmcore.
pub struct ElfVmcore {
    ehdr: [u8; EHDR64_SIZE],
    phdrs: Vec<Phdr>,
    shared: Arc<SharedFile>,
    loads: Vec<PtLoad>,
    notes: ElfNotes,
    vmcoreinfo: Option<VmcoreInfo>,
    arch: Arch,
    page_size: u64,
    max_mapnr: u64,
    map_policy: MapPolicy,
}

impl std::fmt::Debug for ElfVmcore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElfVmcore")
            .field("name", &self.shared.name)
            .field("loads", &self.loads)
            .finish()
    }
}

/// Whether the first bytes of a file are an ELF header.
pub fn is_elf(head: &[u8]) -> bool {
    head.starts_with(ELF_MAGIC)
}

impl ElfVmcore {
    /// Open and validate an ELF64 little-endian core. `use_mmap` (no `--non-mmap`) maps
    /// what pays off: every read of /proc/vmcore, the dump's pages of a regular file
    /// ([`MapPolicy`]).
    pub fn open(path: &Path, use_mmap: bool) -> Result<Self> {
        Self::open_selecting(path, use_mmap, None)
    }

    /// [`ElfVmcore::open`] mapping every read of a regular file as of /proc/vmcore: the
    /// tests of that path run on files, as /proc/vmcore exists only in a capture kernel.
    #[cfg(test)]
    pub(crate) fn open_mapped(path: &Path) -> Result<Self> {
        let mut vmcore = Self::open_selecting(path, true, None)?;
        vmcore.map_policy = MapPolicy::All;
        Ok(vmcore)
    }

    /// Open `/proc/kcore` (or a core laid out like it) for `--mem-usage`: segments without
    /// a physical address are skipped and the `reserved` physical ranges (the capture
    /// kernel's memory) are cut out of the direct map (see [`super::kcore`]). kcore cannot
    /// be mmapped, so it is read with `pread`.
    pub fn open_kcore(path: &Path, reserved: &[Range<u64>]) -> Result<Self> {
        Self::open_selecting(path, false, Some(reserved))
    }

    fn open_selecting(
        path: &Path,
        use_mmap: bool,
        kcore_reserved: Option<&[Range<u64>]>,
    ) -> Result<Self> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| {
            Error::io(
                ErrorKind::Read,
                format!("Can't open the dump memory({name})"),
                e,
            )
        })?;
        let size = file
            .metadata()
            .map_err(|e| {
                Error::io(
                    ErrorKind::Read,
                    format!("Can't stat the dump memory({name})"),
                    e,
                )
            })?
            .len();
        let map_policy = MapPolicy::for_file(&file, use_mmap);
        let shared = Arc::new(SharedFile {
            file,
            name: name.clone(),
            size,
        });
        let mut reader = WindowReader::new(shared.clone(), MapPolicy::Never);

        let mut ehdr = [0u8; EHDR64_SIZE];
        if size < EHDR64_SIZE as u64 {
            return Err(Error::invalid(format!(
                "{name}: not an ELF vmcore (only {size} bytes)"
            )));
        }
        reader.read_at(0, &mut ehdr)?;
        if !is_elf(&ehdr) {
            return Err(Error::invalid(format!(
                "{name}: not an ELF vmcore (bad ELF magic)"
            )));
        }
        if ehdr[4] != ELFCLASS64 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{name}: e_ident[EI_CLASS] is {}, only ELF64 vmcores are supported",
                    ehdr[4]
                ),
            ));
        }
        if ehdr[5] != ELFDATA2LSB {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{name}: e_ident[EI_DATA] is {}, only little-endian vmcores are supported",
                    ehdr[5]
                ),
            ));
        }
        let arch = Arch::from_e_machine(read_u16(&ehdr, 18), &name)?;
        let e_phoff = read_u64(&ehdr, 32);
        let e_shoff = read_u64(&ehdr, 40);
        let e_phentsize = read_u16(&ehdr, 54);
        let mut e_phnum = read_u16(&ehdr, 56) as u64;
        if e_phentsize as usize != PHDR64_SIZE {
            return Err(Error::invalid(format!(
                "{name}: e_phentsize is {e_phentsize}, expected {PHDR64_SIZE}"
            )));
        }
        if e_phnum == PN_XNUM as u64 {
            // More than 65534 program headers: the real count is section header 0's sh_info.
            let mut shdr = [0u8; SHDR64_SIZE];
            reader
                .read_at(e_shoff, &mut shdr)
                .map_err(|e| e.context("e_shoff (PN_XNUM)"))?;
            e_phnum = read_u32(&shdr, 44) as u64;
        }
        let ph_bytes = e_phnum * PHDR64_SIZE as u64;
        if e_phoff.checked_add(ph_bytes).is_none_or(|end| end > size) {
            return Err(Error::invalid(format!(
                "{name}: program headers (e_phoff {e_phoff:#x}, e_phnum {e_phnum}) extend beyond the file ({size} bytes)"
            )));
        }
        let mut phdrs = vec![0u8; ph_bytes as usize];
        reader.read_at(e_phoff, &mut phdrs)?;

        let mut loads = Vec::new();
        let mut note_data = Vec::new();
        let program_headers = phdrs
            .chunks_exact(PHDR64_SIZE)
            .map(Phdr::from_bytes)
            .collect();
        for (index, ph) in phdrs.chunks_exact(PHDR64_SIZE).enumerate() {
            let p_type = read_u32(ph, 0);
            let p_offset = read_u64(ph, 8);
            let p_vaddr = read_u64(ph, 16);
            let p_paddr = read_u64(ph, 24);
            let p_filesz = read_u64(ph, 32);
            let p_memsz = read_u64(ph, 40);
            let in_file = p_offset
                .checked_add(p_filesz)
                .is_some_and(|end| end <= size);
            match p_type {
                PT_NOTE => {
                    if !in_file {
                        return Err(Error::invalid(format!(
                            "{name}: PT_NOTE (program header {index}) at offset {p_offset:#x} size {p_filesz:#x} extends beyond the file ({size} bytes): the vmcore is truncated"
                        )));
                    }
                    let start = note_data.len();
                    if (start as u64).saturating_add(p_filesz) > MAX_NOTES_SIZE {
                        return Err(Error::invalid(format!(
                            "{name}: PT_NOTE (program header {index}) size {p_filesz:#x} makes the notes larger than {} MiB, more than a capture kernel holds: the program header is corrupted",
                            MAX_NOTES_SIZE >> 20
                        )));
                    }
                    // Read in place: a copy through a temporary doubled the peak memory.
                    note_data.resize(start + p_filesz as usize, 0);
                    reader.read_at(p_offset, &mut note_data[start..])?;
                }
                PT_LOAD if kcore_reserved.is_some() && p_paddr == kcore::NOT_PADDR => {}
                PT_LOAD => {
                    if !in_file {
                        return Err(Error::invalid(format!(
                            "{name}: PT_LOAD (program header {index}, paddr {p_paddr:#x}) at offset {p_offset:#x} size {p_filesz:#x} extends beyond the file ({size} bytes): the vmcore is truncated"
                        )));
                    }
                    let phys_end = p_paddr
                        .checked_add(p_memsz)
                        .filter(|&end| end <= MAX_PHYSICAL_ADDRESS);
                    let Some(phys_end) = phys_end else {
                        return Err(Error::invalid(format!(
                            "{name}: PT_LOAD (program header {index}) p_paddr {p_paddr:#x} + p_memsz {p_memsz:#x} is beyond any physical address"
                        )));
                    };
                    if p_filesz > p_memsz {
                        return Err(Error::invalid(format!(
                            "{name}: PT_LOAD (program header {index}) p_filesz {p_filesz:#x} is larger than p_memsz {p_memsz:#x}"
                        )));
                    }
                    loads.push(PtLoad {
                        phys_start: p_paddr,
                        phys_end,
                        virt_start: p_vaddr,
                        file_offset: p_offset,
                        file_size: p_filesz,
                    });
                }
                _ => {}
            }
        }
        if let Some(reserved) = kcore_reserved {
            loads = kcore::exclude_reserved(loads, reserved, arch);
        }
        if loads.is_empty() {
            let which = match kcore_reserved {
                Some(_) => "with a physical address outside the crash kernel's memory",
                None => "",
            };
            return Err(Error::invalid(format!(
                "{name}: Can't get the number of PT_LOAD (no PT_LOAD program header{}{which})",
                if which.is_empty() { "" } else { " " }
            )));
        }
        let notes = ElfNotes::parse(note_data, &name)?;
        let vmcoreinfo = notes.vmcoreinfo_bytes().map(VmcoreInfo::parse);
        let page_size = match &vmcoreinfo {
            Some(info) => info
                .page_size()
                .map_err(|e| e.context(&name))?
                .unwrap_or(4096),
            None => 4096,
        };
        let max_paddr = loads.iter().map(|l| l.phys_end).max().unwrap_or(0);
        let max_mapnr = max_paddr.div_ceil(page_size);
        Ok(ElfVmcore {
            ehdr,
            phdrs: program_headers,
            shared,
            loads,
            notes,
            vmcoreinfo,
            arch,
            page_size,
            max_mapnr,
            map_policy,
        })
    }

    /// The file name as given.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The ELF header as read (the ELF writer copies it).
    pub fn elf_header(&self) -> &[u8; EHDR64_SIZE] {
        &self.ehdr
    }

    /// Every program header, in file order.
    pub fn program_headers(&self) -> &[Phdr] {
        &self.phdrs
    }

    /// Read raw bytes of the file (segment data for the ELF writer), bounds-checked.
    pub fn read_file_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        WindowReader::new(self.shared.clone(), MapPolicy::Never).read_at(offset, buf)
    }

    /// The PT_LOADs in program-header order.
    pub fn loads(&self) -> &[PtLoad] {
        &self.loads
    }

    /// The PT_NOTE contents.
    pub fn notes(&self) -> &ElfNotes {
        &self.notes
    }

    /// VMCOREINFO from the notes, if present.
    pub fn vmcoreinfo(&self) -> Option<&VmcoreInfo> {
        self.vmcoreinfo.as_ref()
    }

    /// Take VMCOREINFO from physical memory instead of the notes: kcore of kernels before
    /// 4.19 has no VMCOREINFO note, and /sys/kernel/vmcoreinfo gives its address and size
    /// (makedumpfile `set_kcore_vmcoreinfo`). The page size and `max_mapnr` follow it.
    pub fn load_vmcoreinfo_from_memory(&mut self, paddr: u64, size: u64) -> Result<()> {
        if size == 0 || size > MAX_NOTES_SIZE {
            return Err(Error::invalid(format!(
                "{}: VMCOREINFO size {size:#x} is not plausible",
                self.shared.name
            )));
        }
        let mut text = vec![0u8; size as usize];
        self.elf_reader()
            .read_phys(paddr, &mut text)
            .map_err(|e| e.context(format!("VMCOREINFO at {paddr:#x}")))?;
        let info = VmcoreInfo::parse(&text);
        if let Some(page_size) = info.page_size().map_err(|e| e.context(&self.shared.name))? {
            self.page_size = page_size;
            let max_paddr = self.loads.iter().map(|l| l.phys_end).max().unwrap_or(0);
            self.max_mapnr = max_paddr.div_ceil(page_size);
        }
        self.vmcoreinfo = Some(info);
        Ok(())
    }

    /// A concrete reader (the trait object form is [`PhysicalMemory::reader`]).
    pub fn elf_reader(&self) -> ElfReader<'_> {
        ElfReader {
            vmcore: self,
            window: WindowReader::new(self.shared.clone(), self.map_policy),
        }
    }

    /// Index of the segment holding `paddr`, or of the closest one starting within
    /// `distance` bytes after it (makedumpfile `closest_pt_load`, including its choice of
    /// the first match in program-header order when segments overlap).
    fn closest_load(&self, paddr: u64, distance: u64) -> Option<usize> {
        let mut best = None;
        let mut best_distance = distance;
        for (i, load) in self.loads.iter().enumerate() {
            if paddr >= load.phys_end {
                continue;
            }
            if paddr >= load.phys_start {
                return Some(i);
            }
            if best_distance > load.phys_start - paddr {
                best_distance = load.phys_start - paddr;
                best = Some(i);
            }
        }
        best
    }
}

impl PhysicalMemory for ElfVmcore {
    fn page_size(&self) -> u64 {
        self.page_size
    }

    fn arch(&self) -> Arch {
        self.arch
    }

    fn max_mapnr(&self) -> u64 {
        self.max_mapnr
    }

    fn has_page(&self, pfn: u64) -> bool {
        let paddr = pfn * self.page_size;
        self.loads
            .iter()
            .any(|l| paddr >= l.phys_start && paddr < l.phys_start + l.file_size)
    }

    fn reader(&self) -> Result<Box<dyn PageReader + '_>> {
        Ok(Box::new(self.elf_reader()))
    }
}

/// One thread's reader over an [`ElfVmcore`].
pub struct ElfReader<'a> {
    vmcore: &'a ElfVmcore,
    window: WindowReader,
}

impl ElfReader<'_> {
    /// Fill `buf` from `paddr` as makedumpfile's `readpage_elf`. A dump page
    /// ([`ReadKind::Page`]) reads gaps before a segment and bytes past `p_filesz` as zero;
    /// metadata must lie wholly in segments. Nothing at all is an error either way.
    fn read_range(&mut self, mut paddr: u64, buf: &mut [u8], kind: ReadKind) -> Result<()> {
        let allow_holes = kind == ReadKind::Page;
        let start = paddr;
        let mut pos = 0usize;
        while pos < buf.len() {
            let remaining = (buf.len() - pos) as u64;
            let Some(index) = self.vmcore.closest_load(paddr, remaining) else {
                break;
            };
            let load = self.vmcore.loads[index];
            if load.phys_start > paddr {
                if !allow_holes {
                    break;
                }
                let gap = (load.phys_start - paddr) as usize;
                buf[pos..pos + gap].fill(0);
                pos += gap;
                paddr = load.phys_start;
            }
            let into = paddr - load.phys_start;
            if load.file_size > into {
                let n = (load.file_size - into).min((buf.len() - pos) as u64) as usize;
                self.window
                    .read_for(kind, load.file_offset + into, &mut buf[pos..pos + n])?;
                pos += n;
                paddr += n as u64;
            }
            if pos < buf.len() {
                let n = (load.phys_end - paddr).min((buf.len() - pos) as u64) as usize;
                buf[pos..pos + n].fill(0);
                pos += n;
                paddr += n as u64;
            }
        }
        if pos == 0 || (!allow_holes && pos < buf.len()) {
            return Err(Error::invalid(format!(
                "{}: Attempt to read non-existent page at {:#x}",
                self.vmcore.shared.name,
                start + pos as u64
            )));
        }
        buf[pos..].fill(0);
        Ok(())
    }
}

impl PageReader for ElfReader<'_> {
    fn page<'s>(&'s mut self, pfn: u64, buf: &'s mut [u8]) -> Result<&'s [u8]> {
        let len = buf.len();
        // A page wholly inside one segment's file bytes is borrowed from the mapping;
        // anything else (holes, a segment's zero tail, pread mode) is assembled in `buf`.
        let whole = pfn
            .checked_mul(self.vmcore.page_size)
            .and_then(|paddr| {
                let load = self.vmcore.loads[self.vmcore.closest_load(paddr, 1)?];
                let into = paddr.checked_sub(load.phys_start)?;
                (into + len as u64 <= load.file_size).then(|| load.file_offset + into)
            })
            .filter(|&offset| self.window.map_range(offset, len));
        if let Some(offset) = whole {
            return self.window.mapped_now(offset, len).ok_or_else(|| {
                Error::invalid(format!(
                    "{}: page {pfn:#x} is not in the window just mapped",
                    self.vmcore.shared.name
                ))
            });
        }
        self.read_page(pfn, buf)?;
        Ok(buf)
    }

    fn read_page(&mut self, pfn: u64, buf: &mut [u8]) -> Result<()> {
        debug_assert_eq!(buf.len() as u64, self.vmcore.page_size);
        let paddr = pfn
            .checked_mul(self.vmcore.page_size)
            .ok_or_else(|| Error::invalid(format!("pfn {pfn:#x} overflows")))?;
        self.read_range(paddr, buf, ReadKind::Page)
    }

    fn read_phys(&mut self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        self.read_range(paddr, buf, ReadKind::Metadata)
    }
}

pub(crate) fn read_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(crate) fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn read_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phdr(p_type: u32, offset: u64, paddr: u64, filesz: u64) -> Vec<u8> {
        let mut p = Vec::with_capacity(PHDR64_SIZE);
        p.extend_from_slice(&p_type.to_le_bytes());
        p.extend_from_slice(&7u32.to_le_bytes());
        for v in [offset, 0, paddr, filesz, filesz, 0] {
            p.extend_from_slice(&v.to_le_bytes());
        }
        p
    }

    /// `page()` borrows whole in-segment pages from the mapping and assembles the rest
    /// (a segment's zero tail, pread mode) exactly as `read_page()` does.
    #[test]
    fn borrowed_pages_equal_read_pages() {
        let synthetic = crate::synthetic::SyntheticVmcore::mixed(7);
        let path = std::env::temp_dir().join(format!("elf-borrow-{}", std::process::id()));
        // Cut 100 bytes off the first RAM segment's file part (program header 2, after
        // PT_NOTE and the kernel text), so that its last file page is partial.
        let mut bytes = synthetic.to_bytes();
        let filesz_at = (64 + synthetic.phoff_gap) as usize + 2 * PHDR64_SIZE + 32;
        let filesz = read_u64(&bytes, filesz_at) - 100;
        bytes[filesz_at..filesz_at + 8].copy_from_slice(&filesz.to_le_bytes());
        std::fs::write(&path, bytes).unwrap();
        // Mapped as /proc/vmcore, as a regular file (pages mapped), and `--non-mmap`.
        for policy in [MapPolicy::All, MapPolicy::Pages, MapPolicy::Never] {
            let vmcore = match policy {
                MapPolicy::All => ElfVmcore::open_mapped(&path).unwrap(),
                _ => ElfVmcore::open(&path, policy == MapPolicy::Pages).unwrap(),
            };
            assert_eq!(vmcore.map_policy, policy);
            let use_mmap = policy != MapPolicy::Never;
            let page_size = vmcore.page_size;
            let mut reader = vmcore.elf_reader();
            let (mut borrowed, mut assembled, mut tails, mut partial) = (0, 0, 0, 0);
            for load in vmcore.loads() {
                for pfn in load.phys_start / page_size..load.phys_end.div_ceil(page_size) {
                    let mut read = vec![0xeeu8; page_size as usize];
                    reader.read_page(pfn, &mut read).unwrap();
                    let mut buf = vec![0x11u8; page_size as usize];
                    let (data, address) = {
                        let page = reader.page(pfn, &mut buf).unwrap();
                        (page.to_vec(), page.as_ptr() as usize)
                    };
                    assert_eq!(data, read, "pfn {pfn:#x}, mmap {use_mmap}");
                    let mut expected = synthetic.page(pfn);
                    let file_end = load.phys_start + load.file_size;
                    if pfn * page_size < file_end && file_end < (pfn + 1) * page_size {
                        expected[(file_end - pfn * page_size) as usize..].fill(0);
                        partial += 1;
                    }
                    assert_eq!(data, expected, "pfn {pfn:#x}");
                    let whole = (pfn + 1) * page_size <= load.phys_start + load.file_size;
                    if address == buf.as_ptr() as usize {
                        assembled += 1;
                        tails += usize::from(!whole);
                    } else {
                        borrowed += 1;
                        assert!(whole && use_mmap, "pfn {pfn:#x} borrowed");
                    }
                }
            }
            assert!(tails > 0, "the synthetic vmcore has zero tails");
            assert_eq!(partial, 1, "one page is cut short");
            if use_mmap {
                assert!(
                    borrowed > assembled,
                    "{borrowed} borrowed, {assembled} assembled"
                );
            } else {
                assert_eq!(borrowed, 0);
            }
        }
        std::fs::remove_file(&path).unwrap();
    }

    /// The architecture comes from e_machine; one we don't support is refused at open,
    /// naming the file and the field.
    #[test]
    fn unsupported_e_machine_is_refused_naming_file_and_field() {
        let path = std::env::temp_dir().join(format!("elf-ppc64-{}", std::process::id()));
        let mut head = Vec::new();
        head.extend_from_slice(b"\x7fELF\x02\x01\x01\0");
        head.resize(18, 0);
        head.extend_from_slice(&21u16.to_le_bytes()); // EM_PPC64
        head.resize(4096, 0);
        std::fs::write(&path, &head).unwrap();
        let err = ElfVmcore::open(&path, false).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(
            err.to_string()
                .contains(&format!("{}: e_machine 21 (ppc64) is not supported", path.display())),
            "{err}"
        );
    }

    /// Regression (tests/corruption.sh, "PT_LOAD[1] is a PT_NOTE"): a PT_NOTE as large
    /// as the file was read whole, twice (1.5 GB RSS for the real 846 MB vmcore). It is
    /// refused from the program header alone, before any allocation.
    #[test]
    fn pt_note_larger_than_a_capture_kernel_holds_is_refused_before_reading() {
        let path = std::env::temp_dir().join(format!("elf-huge-note-{}", std::process::id()));
        let note_size = MAX_NOTES_SIZE + 4096;
        let mut head = Vec::new();
        head.extend_from_slice(b"\x7fELF\x02\x01\x01\0");
        head.resize(18, 0);
        head.extend_from_slice(&62u16.to_le_bytes()); // e_machine: EM_X86_64
        head.resize(32, 0);
        head.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
        head.resize(54, 0);
        head.extend_from_slice(&(PHDR64_SIZE as u16).to_le_bytes());
        head.extend_from_slice(&2u16.to_le_bytes());
        head.resize(64, 0);
        head.extend_from_slice(&phdr(PT_NOTE, 4096, 0, note_size));
        head.extend_from_slice(&phdr(PT_LOAD, 4096, 0, 4096));
        let file = File::create(&path).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&file, &head, 0).unwrap();
        // Sparse: the notes are never read.
        file.set_len(4096 + note_size).unwrap();
        let err = ElfVmcore::open(&path, false).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(
            err.to_string().contains("PT_NOTE") && err.to_string().contains("MiB"),
            "{err}"
        );
    }
}
