//! A kdump-compressed dump as the input of a new dump (makedumpfile's "refiltering").
//!
//! makedumpfile accepts its own output as input: the page filter then reads struct pages
//! and page tables out of the compressed pages, the 1st bitmap is copied from the input,
//! and the new 2nd bitmap starts as the input's 2nd bitmap (`copy_bitmap_file` reads it
//! from the input) before the new level's exclusions are cleared from it. Pages the input
//! left out cannot be read (`readpage_kdump_compressed`: "pfn(%llx) is excluded from %s.").
//!
//! A flattened stream (`-F` output) is first rebuilt into an unlinked temporary file in
//! `TMPDIR` (makedumpfile refuses it; crash reads it directly), so both forms refilter.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::kdump::KdumpFile;
use super::{PageReader, PhysicalMemory};
use crate::arch::Arch;
use crate::bitmap::Bitmap;
use crate::codec::PageCodec;
use crate::error::{Error, ErrorKind, Result};
use crate::format::flat::{is_flattened, FlatReader};
use crate::vmcoreinfo::VmcoreInfo;

/// Largest eraseinfo section read from an input (the text lists `erase` commands; real
/// ones are a few KiB).
const MAX_ERASEINFO: u64 = 1 << 24;

/// Pages kept decoded per reader: page-table walks and struct-page batches touch a few
/// pages over and over, and each miss costs a decompression.
const DECODED_PAGES: usize = 8;

/// An opened kdump-compressed dump, read as physical memory.
pub struct KdumpMemory {
    dump: KdumpFile<File>,
    arch: Arch,
    vmcoreinfo: Option<VmcoreInfo>,
    vmcoreinfo_in_notes: Option<(usize, usize)>,
    eraseinfo: Vec<u8>,
    name: String,
}

impl std::fmt::Debug for KdumpMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KdumpMemory")
            .field("name", &self.name)
            .field("max_mapnr", &self.dump.layout.max_mapnr)
            .field("dump_level", &self.dump.sub_header.dump_level)
            .finish()
    }
}

impl KdumpMemory {
    /// Open `path`, a kdump-compressed file or a flattened stream (rebuilt into an
    /// unlinked file in `temp_dir` first).
    pub fn open(path: &Path, temp_dir: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let mut file = File::open(path).map_err(|e| {
            Error::io(
                ErrorKind::Read,
                format!("Can't open the dump memory({name})"),
                e,
            )
        })?;
        let mut head = [0u8; 32];
        let n = read_head(&mut file, &mut head)
            .map_err(|e| Error::io(ErrorKind::Read, format!("Can't read {name}"), e))?;
        let file = if is_flattened(&head[..n]) {
            rebuild_flattened(
                File::open(path).map_err(|e| {
                    Error::io(
                        ErrorKind::Read,
                        format!("Can't open the dump memory({name})"),
                        e,
                    )
                })?,
                &name,
                temp_dir,
            )?
        } else {
            file
        };
        Self::from_file(file, &name)
    }

    /// Parse an opened kdump-compressed file.
    pub fn from_file(file: File, name: &str) -> Result<Self> {
        let dump = KdumpFile::from_source(file, name)?;
        if dump.header.header_version < 1 {
            return Err(Error::invalid(format!(
                "{name}: header does not have dump_level member (header_version {})",
                dump.header.header_version
            )));
        }
        if dump.sub_header.split != 0 {
            return Err(Error::invalid(format!(
                "{name}: is one part of a --split dump; reassemble the parts with --reassemble first"
            )));
        }
        let sub = &dump.sub_header;
        // VMCOREINFO and the notes: header version 3 and 4 (makedumpfile
        // get_kdump_compressed_header_info); the VMCOREINFO text lies inside the notes.
        let vmcoreinfo_in_notes = if dump.header.header_version >= 3 && sub.size_vmcoreinfo > 0 {
            let start = sub.offset_vmcoreinfo.checked_sub(sub.offset_note);
            match start {
                Some(start)
                    if start
                        .checked_add(sub.size_vmcoreinfo)
                        .is_some_and(|end| end <= dump.notes.len() as u64) =>
                {
                    Some((start as usize, sub.size_vmcoreinfo as usize))
                }
                _ => {
                    return Err(Error::invalid(format!(
                        "{name}: offset_vmcoreinfo {:#x} size {:#x} lies outside the ELF notes (offset_note {:#x} size_note {:#x})",
                        sub.offset_vmcoreinfo, sub.size_vmcoreinfo, sub.offset_note, sub.size_note
                    )))
                }
            }
        } else {
            None
        };
        let vmcoreinfo = vmcoreinfo_in_notes
            .map(|(start, len)| VmcoreInfo::parse(&dump.notes[start..start + len]));
        let eraseinfo = if dump.header.header_version >= 5 && sub.size_eraseinfo > 0 {
            read_region(
                &dump,
                sub.offset_eraseinfo,
                sub.size_eraseinfo,
                "eraseinfo (offset_eraseinfo/size_eraseinfo)",
                name,
            )?
        } else {
            Vec::new()
        };
        let arch = dump_arch(&dump.header.utsname.field_str(4), vmcoreinfo.as_ref(), name)?;
        Ok(KdumpMemory {
            dump,
            arch,
            vmcoreinfo,
            vmcoreinfo_in_notes,
            eraseinfo,
            name: name.to_string(),
        })
    }

    /// The file name as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parsed input.
    pub fn dump(&self) -> &KdumpFile<File> {
        &self.dump
    }

    /// The dump level the input was written with.
    pub fn dump_level(&self) -> i32 {
        self.dump.sub_header.dump_level
    }

    /// VMCOREINFO from the input's notes.
    pub fn vmcoreinfo(&self) -> Option<&VmcoreInfo> {
        self.vmcoreinfo.as_ref()
    }

    /// Offset and size of the VMCOREINFO text inside [`Self::notes`].
    pub fn vmcoreinfo_in_notes(&self) -> Option<(usize, usize)> {
        self.vmcoreinfo_in_notes
    }

    /// The input's ELF notes, copied verbatim into the new dump.
    pub fn notes(&self) -> &[u8] {
        &self.dump.notes
    }

    /// The input's eraseinfo text (carried over into the new dump).
    pub fn eraseinfo(&self) -> &[u8] {
        &self.eraseinfo
    }

    /// The input's 1st bitmap (RAM pfns).
    pub fn ram(&self) -> &Bitmap {
        &self.dump.ram
    }

    /// The input's 2nd bitmap (pages it holds).
    pub fn dumpable(&self) -> &Bitmap {
        &self.dump.dumpable
    }

    /// A concrete reader.
    pub fn kdump_reader(&self) -> Result<KdumpPageReader<'_>> {
        Ok(KdumpPageReader {
            memory: self,
            codec: self.dump.compression().new_codec()?,
            cache: Vec::with_capacity(DECODED_PAGES),
            next_victim: 0,
        })
    }
}

impl PhysicalMemory for KdumpMemory {
    fn page_size(&self) -> u64 {
        self.dump.layout.block_size
    }

    fn arch(&self) -> Arch {
        self.arch
    }

    fn max_mapnr(&self) -> u64 {
        self.dump.layout.max_mapnr
    }

    /// makedumpfile `is_in_segs` when refiltering: the input's 1st bitmap.
    fn has_page(&self, pfn: u64) -> bool {
        pfn < self.dump.ram.len() && self.dump.ram.get(pfn)
    }

    fn reader(&self) -> Result<Box<dyn PageReader + '_>> {
        Ok(Box::new(self.kdump_reader()?))
    }
}

/// The dumped kernel's architecture: the header's `utsname.machine`, as makedumpfile
/// writes it from the crashed kernel; when that is empty (a header written without the
/// kernel's utsname), VMCOREINFO keys only arm64 exports; else x86_64, the only
/// architecture such dumps came from before arm64 support.
fn dump_arch(machine: &str, info: Option<&VmcoreInfo>, name: &str) -> Result<Arch> {
    if !machine.is_empty() {
        return Arch::from_uts_machine(machine, name);
    }
    let arm64 = info.is_some_and(|info| {
        info.number("kimage_voffset").is_some() || info.number("TCR_EL1_T1SZ").is_some()
    });
    Ok(if arm64 { Arch::Aarch64 } else { Arch::X86_64 })
}

/// One thread's reader over a [`KdumpMemory`]: its own codec and a few decoded pages.
pub struct KdumpPageReader<'a> {
    memory: &'a KdumpMemory,
    codec: Option<Box<dyn PageCodec>>,
    cache: Vec<(u64, Vec<u8>)>,
    next_victim: usize,
}

impl KdumpPageReader<'_> {
    fn decode(&mut self, pfn: u64, out: &mut [u8]) -> Result<()> {
        let dump = &self.memory.dump;
        if pfn >= dump.dumpable.len() || !dump.dumpable.get(pfn) {
            return Err(Error::invalid(format!(
                "pfn({pfn:x}) is excluded from {}.",
                self.memory.name
            )));
        }
        dump.read_page(pfn, out, self.codec.as_deref_mut())?;
        Ok(())
    }

    /// The decoded page `pfn`, from the cache or decoded into it.
    fn cached(&mut self, pfn: u64) -> Result<&[u8]> {
        if let Some(i) = self.cache.iter().position(|(p, _)| *p == pfn) {
            return Ok(&self.cache[i].1);
        }
        let page_size = self.memory.page_size() as usize;
        let slot = if self.cache.len() < DECODED_PAGES {
            self.cache.push((u64::MAX, vec![0u8; page_size]));
            self.cache.len() - 1
        } else {
            let victim = self.next_victim;
            self.next_victim = (victim + 1) % DECODED_PAGES;
            victim
        };
        let mut page = std::mem::take(&mut self.cache[slot].1);
        let result = self.decode(pfn, &mut page);
        self.cache[slot] = (if result.is_ok() { pfn } else { u64::MAX }, page);
        result?;
        Ok(&self.cache[slot].1)
    }
}

impl PageReader for KdumpPageReader<'_> {
    fn read_page(&mut self, pfn: u64, buf: &mut [u8]) -> Result<()> {
        debug_assert_eq!(buf.len() as u64, self.memory.page_size());
        self.decode(pfn, buf)
    }

    fn read_phys(&mut self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        let page_size = self.memory.page_size();
        let mut pos = 0usize;
        while pos < buf.len() {
            let at = paddr
                .checked_add(pos as u64)
                .ok_or_else(|| Error::invalid(format!("physical address {paddr:#x} overflows")))?;
            let pfn = at / page_size;
            let in_page = (at % page_size) as usize;
            let n = (page_size as usize - in_page).min(buf.len() - pos);
            let page = self.cached(pfn)?;
            buf[pos..pos + n].copy_from_slice(&page[in_page..in_page + n]);
            pos += n;
        }
        Ok(())
    }
}

fn read_head(file: &mut File, head: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn read_region(
    dump: &KdumpFile<File>,
    offset: u64,
    len: u64,
    what: &str,
    name: &str,
) -> Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let size = dump.source().metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_ERASEINFO || offset.checked_add(len).is_none_or(|end| end > size) {
        return Err(Error::invalid(format!(
            "{name}: {what} at offset {offset:#x} ({len} bytes) lies beyond the end of the file ({size} bytes)"
        )));
    }
    let mut buf = vec![0u8; len as usize];
    dump.source()
        .read_exact_at(&mut buf, offset)
        .map_err(|e| Error::io(ErrorKind::Read, format!("{name}: Can't read the {what}"), e))?;
    Ok(buf)
}

/// Apply every record of the flattened stream `input` to a new unlinked file in
/// `temp_dir` (makedumpfile `rearrange_dumpdata`, but into a scratch file).
pub fn rebuild_flattened(input: File, name: &str, temp_dir: &Path) -> Result<File> {
    use std::os::unix::fs::FileExt;
    let (file, path) = scratch_file(temp_dir, "flattened")?;
    // Unlinked right away: the data lives as long as the handle, even if we are killed.
    let _ = std::fs::remove_file(&path);
    let mut reader = FlatReader::new(std::io::BufReader::new(input), name)?;
    while let Some(record) = reader.next_record()? {
        file.write_all_at(&record.data, record.offset)
            .map_err(|e| {
                Error::io(
                    ErrorKind::Write,
                    format!(
                        "Can't write the rebuilt flattened dump to {}",
                        path.display()
                    ),
                    e,
                )
            })?;
    }
    Ok(file)
}

/// A new file `makedumpfile-rs-<what>-<pid>-<n>` in `dir`, opened read-write.
pub fn scratch_file(dir: &Path, what: &str) -> Result<(File, PathBuf)> {
    use std::sync::atomic::{AtomicU32, Ordering};
    // Relaxed: only uniqueness of the counter value matters, not ordering.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    for _ in 0..100 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("makedumpfile-rs-{what}-{}-{n}", std::process::id()));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::io(
                    ErrorKind::Write,
                    format!("Can't create a temporary file in {}", dir.display()),
                    e,
                ))
            }
        }
    }
    Err(Error::new(
        ErrorKind::Write,
        format!("Can't create a temporary file in {}", dir.display()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_arch_comes_from_utsname_then_vmcoreinfo() {
        let arm64 = VmcoreInfo::parse(b"NUMBER(kimage_voffset)=0xffff800000000000\n");
        let x86 = VmcoreInfo::parse(b"NUMBER(phys_base)=0\n");
        assert_eq!(dump_arch("x86_64", Some(&arm64), "d").unwrap(), Arch::X86_64);
        assert_eq!(dump_arch("aarch64", None, "d").unwrap(), Arch::Aarch64);
        assert_eq!(dump_arch("", Some(&arm64), "d").unwrap(), Arch::Aarch64);
        assert_eq!(dump_arch("", Some(&x86), "d").unwrap(), Arch::X86_64);
        assert_eq!(dump_arch("", None, "d").unwrap(), Arch::X86_64);
        let err = dump_arch("s390x", None, "dump.1").unwrap_err();
        assert!(err.to_string().contains("dump.1: utsname.machine \"s390x\""), "{err}");
    }
}
