//! `-E`: the dump as an ELF64 core instead of kdump-compressed (makedumpfile
//! `write_elf_header` / `write_elf_pages_cyclic`).
//!
//! Layout: the input's ELF header (e_phnum updated), the PT_NOTE program header, the
//! PT_LOAD headers, the input's first PT_NOTE payload verbatim, then the data of each
//! PT_LOAD in order. Every input PT_LOAD is re-cut on the 2nd bitmap: a run of at least
//! [`PFN_EXCLUDED`] excluded pages ends a segment (its `p_memsz` covers the run, its
//! `p_filesz` does not) and the next dumpable page starts a new one; shorter runs are
//! written as they are in memory, so their pages still appear in the file. Zero pages are
//! only excluded when [`exclude_zero_pages`] cleared them from the 2nd bitmap first (the
//! program headers depend on it, so the pages are read twice, as makedumpfile does).
//!
//! makedumpfile's quirks are kept because its output is the reference: a partial first
//! page is always written, a page starting a new segment counts as a whole page even when
//! it is the segment's partial last page, and `p_vaddr` moves with `p_paddr` on every cut.

use crate::bitmap::Bitmap;
use crate::dump::worker::is_zero_page;
use crate::error::{Error, ErrorKind, Result};
use crate::format::DumpOutput;
use crate::input::elf::ElfVmcore;
use crate::input::PhysicalMemory;
use crate::progress::{ProgressObserver, Stage};

/// Runs of at least this many excluded pages are left out of the ELF file
/// (makedumpfile `PFN_EXCLUDED`).
pub const PFN_EXCLUDED: u64 = 256;

// The ELF64 layout constants of the input reader, in the widths the writer computes in.
const EHDR_SIZE: u64 = elf::EHDR64_SIZE as u64;
const PHDR_SIZE: u64 = elf::PHDR64_SIZE as u64;
const SHDR_SIZE: u64 = elf::SHDR64_SIZE as u64;
const PN_XNUM: u64 = elf::PN_XNUM as u64;
use crate::input::elf::{self, PT_LOAD, PT_NOTE};
/// `e_flags` bit makedumpfile sets on an incomplete ELF dump.
pub const ELF_INCOMPLETE: u32 = 1;
/// Bytes copied per write while streaming segment data.
const COPY_CHUNK: usize = 1 << 20;

pub use crate::input::elf::Phdr;

/// One output PT_LOAD and where its data comes from in the input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfSegment {
    /// The program header (p_offset filled in by the layout).
    pub phdr: Phdr,
    /// Input file offset of the first data byte.
    pub source_offset: u64,
}

/// Counts for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfDumpSummary {
    /// Output PT_LOADs.
    pub loads: u64,
    /// Pages really left out of the file (runs ≥ [`PFN_EXCLUDED`]): the report's
    /// "in ELF format" count.
    pub elf_excluded: u64,
    /// Dumpable pages (set bits of the 2nd bitmap).
    pub num_dumpable: u64,
    /// Bytes written.
    pub bytes_written: u64,
}

/// makedumpfile `exclude_zero_pages_cyclic` for ELF output: clear every dumpable page
/// that is all zeros from `dumpable`. Returns how many were cleared.
pub fn exclude_zero_pages(vmcore: &ElfVmcore, dumpable: &mut Bitmap) -> Result<u64> {
    let mut reader = vmcore.reader()?;
    let mut page = vec![0u8; vmcore.page_size() as usize];
    // Only the zero pfns are collected (clearing needs the bitmap mutably): listing every
    // dumpable pfn first cost 8 bytes per page of RAM (128 MiB for 64 GiB of RAM).
    let mut zero_pfns = Vec::new();
    for pfn in dumpable.iter_set(0, dumpable.len()) {
        if !vmcore.has_page(pfn) {
            continue;
        }
        reader.read_page(pfn, &mut page)?;
        if is_zero_page(&page) {
            zero_pfns.push(pfn);
        }
    }
    for &pfn in &zero_pfns {
        dumpable.clear(pfn);
    }
    Ok(zero_pfns.len() as u64)
}

/// Cut the input PT_LOADs on `dumpable` (makedumpfile `write_elf_pages_cyclic`), giving
/// the output PT_LOADs for a data area starting at file offset `data_start`, and the
/// count of pages really excluded.
pub fn cut_segments(
    loads: &[Phdr],
    dumpable: &Bitmap,
    page_size: u64,
    data_start: u64,
) -> (Vec<ElfSegment>, u64) {
    let mut segments = Vec::new();
    let mut elf_excluded = 0;
    let mut off_seg_load = data_start;
    for input in loads
        .iter()
        .filter(|p| p.p_type == PT_LOAD && p.p_paddr != u64::MAX)
    {
        let mut load = *input;
        let mut source = input.p_offset;
        let end = input.p_paddr.saturating_add(input.p_memsz);
        let mut pfn_start = input.p_paddr / page_size;
        let mut pfn_end = end / page_size;
        let frac_head = page_size - input.p_paddr % page_size;
        let frac_tail = end % page_size;
        let (mut memsz, mut filesz) = (0u64, 0u64);
        let mut num_excluded = 0u64;
        if frac_head != page_size {
            memsz = frac_head;
            filesz = frac_head;
            pfn_start += 1;
        }
        if frac_tail != 0 {
            pfn_end += 1;
        }
        for pfn in pfn_start..pfn_end {
            let this = if pfn == pfn_end - 1 && frac_tail != 0 {
                frac_tail
            } else {
                page_size
            };
            if !dumpable.get(pfn) {
                num_excluded += 1;
                memsz += this;
                continue;
            }
            if num_excluded == 0 {
                memsz += this;
                filesz += this;
                continue;
            }
            if num_excluded < PFN_EXCLUDED {
                memsz += this;
                filesz += page_size * num_excluded + this;
                num_excluded = 0;
                continue;
            }
            elf_excluded += num_excluded;
            load.p_memsz = memsz;
            load.p_filesz = filesz;
            load.p_offset = if filesz != 0 { off_seg_load } else { 0 };
            segments.push(ElfSegment {
                phdr: load,
                source_offset: source,
            });
            load.p_paddr = load.p_paddr.wrapping_add(memsz);
            load.p_vaddr = load.p_vaddr.wrapping_add(memsz);
            source = input.p_offset + (load.p_paddr - input.p_paddr);
            off_seg_load += filesz;
            num_excluded = 0;
            memsz = page_size;
            filesz = page_size;
        }
        elf_excluded += num_excluded;
        load.p_memsz = memsz;
        load.p_filesz = filesz;
        load.p_offset = off_seg_load;
        segments.push(ElfSegment {
            phdr: load,
            source_offset: source,
        });
        off_seg_load += filesz;
    }
    (segments, elf_excluded)
}

/// Write `vmcore` as an ELF core with the pages of `dumpable` (zero pages already cleared
/// when the level asks for it).
pub fn write_elf(
    vmcore: &ElfVmcore,
    dumpable: &Bitmap,
    out: &mut dyn DumpOutput,
    progress: &dyn ProgressObserver,
) -> Result<ElfDumpSummary> {
    let name = vmcore.name();
    let phdrs = vmcore.program_headers();
    let page_size = vmcore.page_size();
    let note = phdrs
        .iter()
        .find(|p| p.p_type == PT_NOTE)
        .copied()
        .ok_or_else(|| Error::invalid(format!("{}: Can't get a PT_NOTE header.", name)))?;
    // The data area starts after the headers, whose size depends on the number of
    // segments: count them first.
    let (segments, _) = cut_segments(phdrs, dumpable, page_size, 0);
    if segments.is_empty() {
        return Err(Error::invalid(format!(
            "{}: Can't get a number of PT_LOAD.",
            name
        )));
    }
    let num_phdrs = segments.len() as u64 + 1;
    let mut ehdr = *vmcore.elf_header();
    let mut offset_note = EHDR_SIZE + PHDR_SIZE * num_phdrs;
    // The program headers follow the ELF header (makedumpfile writes them there whatever
    // the input's e_phoff; /proc/vmcore has them there too).
    ehdr[32..40].copy_from_slice(&EHDR_SIZE.to_le_bytes());
    let mut section0 = None;
    if num_phdrs >= PN_XNUM {
        // Extended numbering: the real count goes to section header 0's sh_info.
        ehdr[40..48].copy_from_slice(&offset_note.to_le_bytes());
        ehdr[56..58].copy_from_slice(&(PN_XNUM as u16).to_le_bytes());
        ehdr[58..60].copy_from_slice(&(SHDR_SIZE as u16).to_le_bytes());
        ehdr[60..62].copy_from_slice(&1u16.to_le_bytes());
        ehdr[62..64].copy_from_slice(&0u16.to_le_bytes());
        let mut shdr = [0u8; SHDR_SIZE as usize];
        shdr[32..40].copy_from_slice(&1u64.to_le_bytes()); // sh_size = e_shnum
        shdr[44..48].copy_from_slice(&(num_phdrs as u32).to_le_bytes()); // sh_info
        section0 = Some((offset_note, shdr));
        offset_note += SHDR_SIZE;
    } else {
        ehdr[56..58].copy_from_slice(&(num_phdrs as u16).to_le_bytes());
    }
    let offset_load = offset_note + note.p_filesz;
    let (segments, elf_excluded) = cut_segments(phdrs, dumpable, page_size, offset_load);

    // (ElfVmcore::open checked that PT_NOTE lies inside the file; read_file_at checks again.)
    let mut note_data = vec![0u8; note.p_filesz as usize];
    vmcore.read_file_at(note.p_offset, &mut note_data)?;

    let mut headers = Vec::with_capacity(offset_note as usize);
    headers.extend_from_slice(&ehdr);
    let mut note_phdr = note;
    note_phdr.p_offset = offset_note;
    headers.extend_from_slice(&note_phdr.to_bytes());
    for segment in &segments {
        headers.extend_from_slice(&segment.phdr.to_bytes());
    }
    // As for kdump output: the ELF header says "incomplete" (e_flags bit 0, makedumpfile's
    // flag for a cut-short ELF dump) until every segment is written, then it is
    // rewritten with the input's flags.
    // (Not for a flattened stream: it cannot be rewritten, see dump::write_kdump_cycles.)
    let e_flags = u32::from_le_bytes(headers[48..52].try_into().expect("4 bytes"));
    let rewrite = out.can_rewrite();
    if rewrite {
        headers[48..52].copy_from_slice(&(e_flags | ELF_INCOMPLETE).to_le_bytes());
    }
    out.write_at(0, &headers)?;
    if let Some((offset, shdr)) = section0 {
        out.write_at(offset, &shdr)?;
    }
    out.write_at(offset_note, &note_data)?;

    let copy_start = std::time::Instant::now();
    let total: u64 = segments.iter().map(|s| s.phdr.p_filesz).sum();
    let mut done = 0u64;
    let mut buf = vec![0u8; COPY_CHUNK];
    for (index, segment) in segments.iter().enumerate() {
        let mut remaining = segment.phdr.p_filesz;
        let mut from = segment.source_offset;
        let mut to = segment.phdr.p_offset;
        while remaining > 0 {
            let n = remaining.min(COPY_CHUNK as u64) as usize;
            vmcore.read_file_at(from, &mut buf[..n])?;
            if let Err(e) = out.write_at(to, &buf[..n]) {
                if e.kind() == ErrorKind::NoSpace && rewrite {
                    drop_later_headers(out, index, segments.len())?;
                }
                return Err(e);
            }
            from += n as u64;
            to += n as u64;
            remaining -= n as u64;
            done += n as u64;
            progress.update(Stage::CopyingData, done / page_size, total / page_size);
        }
    }
    progress.update(Stage::CopyingData, total / page_size, total / page_size);
    progress.stage_done(Stage::CopyingData, copy_start.elapsed());
    if rewrite {
        headers[48..52].copy_from_slice(&e_flags.to_le_bytes());
        out.write_at(0, &headers[..EHDR_SIZE as usize])?;
    }
    out.finish()?;
    Ok(ElfDumpSummary {
        loads: segments.len() as u64,
        elf_excluded,
        num_dumpable: dumpable.count_ones(),
        bytes_written: out.bytes_written(),
    })
}

/// The output ran out of space in the data of segment `failed`: zero the program headers
/// of the segments after it. makedumpfile writes each PT_LOAD header just before its
/// segment's data (`write_elf_pages_cyclic`) and flushes the headers it has on ENOSPC, so a
/// cut file declares only the segments it began to hold, and the dumps stay
/// byte-identical (found by tests/matrix.sh, `-E -L`).
fn drop_later_headers(out: &mut dyn DumpOutput, failed: usize, segments: usize) -> Result<()> {
    // Header 0 is the PT_NOTE; segment i's header is number i + 1.
    let first = EHDR_SIZE + PHDR_SIZE * (failed as u64 + 2);
    let end = EHDR_SIZE + PHDR_SIZE * (segments as u64 + 1);
    if first < end {
        out.write_at(first, &vec![0u8; (end - first) as usize])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(paddr: u64, memsz: u64) -> Phdr {
        Phdr {
            p_type: PT_LOAD,
            p_flags: 7,
            p_offset: 0x1000,
            p_vaddr: 0xffff_8800_0000_0000 + paddr,
            p_paddr: paddr,
            p_filesz: memsz,
            p_memsz: memsz,
            p_align: 0,
        }
    }

    #[test]
    fn runs_of_256_excluded_pages_cut_a_segment_and_shorter_runs_do_not() {
        let mut dumpable = Bitmap::new(2000);
        dumpable.fill_range(0, 2000, true);
        dumpable.fill_range(100, 355, false); // 255 pages: kept in the file
        dumpable.fill_range(500, 756, false); // 256 pages: cut
        dumpable.fill_range(1990, 2000, false); // trailing run: memsz only
        let (segments, excluded) = cut_segments(&[load(0, 2000 * 4096)], &dumpable, 4096, 0x2000);
        assert_eq!(excluded, 256 + 10);
        assert_eq!(segments.len(), 2);
        let first = segments[0].phdr;
        assert_eq!(first.p_paddr, 0);
        assert_eq!(first.p_memsz, 756 * 4096);
        assert_eq!(first.p_filesz, 500 * 4096);
        assert_eq!(first.p_offset, 0x2000);
        let second = segments[1].phdr;
        assert_eq!(second.p_paddr, 756 * 4096);
        assert_eq!(second.p_vaddr, first.p_vaddr + 756 * 4096);
        assert_eq!(second.p_memsz, (2000 - 756) * 4096);
        assert_eq!(second.p_filesz, (1990 - 756) * 4096);
        assert_eq!(second.p_offset, 0x2000 + 500 * 4096);
        assert_eq!(segments[1].source_offset, 0x1000 + 756 * 4096);
    }

    #[test]
    fn a_segment_that_is_all_excluded_keeps_its_header_without_data() {
        let dumpable = Bitmap::new(1000);
        let (segments, excluded) = cut_segments(&[load(0, 1000 * 4096)], &dumpable, 4096, 0x2000);
        assert_eq!(excluded, 1000);
        assert_eq!(segments.len(), 1);
        assert_eq!(segments[0].phdr.p_filesz, 0);
        assert_eq!(segments[0].phdr.p_memsz, 1000 * 4096);
    }

    #[test]
    fn partial_head_and_tail_pages_count_their_bytes() {
        let mut dumpable = Bitmap::new(16);
        dumpable.fill_range(0, 16, true);
        let (segments, _) = cut_segments(&[load(0x800, 0x3000)], &dumpable, 4096, 0x2000);
        assert_eq!(segments[0].phdr.p_memsz, 0x3000);
        assert_eq!(segments[0].phdr.p_filesz, 0x3000);
    }
}
