//! What a dump job reads: the kind of input is found from its first bytes, so the caller
//! names a file and never says whether it is an ELF vmcore, a kdump-compressed dump or a
//! flattened stream (makedumpfile decides the same way: `is_kdump_compressed`,
//! `is_flattened_format`, else ELF).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::format::disk_dump_header::DISKDUMP_SIGNATURE;
use crate::format::flat::is_flattened;
use crate::format::KDUMP_SIGNATURE;
use crate::input::elf::{is_elf, ElfVmcore};
use crate::input::kdump_memory::KdumpMemory;
use crate::input::PhysicalMemory;

/// The kind of an input file, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// An ELF core: `/proc/vmcore`, a QEMU or `-E` dump.
    Elf,
    /// A kdump-compressed dump or a flattened stream of one: refiltering.
    Dump,
    /// Neither (or too short to tell).
    Unknown,
}

/// Read the head of `path` and classify it; `Err` when it cannot be read at all.
pub fn detect(path: &str) -> Result<InputKind> {
    let mut head = [0u8; 64];
    let mut file = File::open(path).map_err(|e| open_error(path, e))?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(open_error(path, e)),
        }
    }
    let head = &head[..n];
    Ok(if is_elf(head) {
        InputKind::Elf
    } else if head.starts_with(KDUMP_SIGNATURE)
        || head.starts_with(DISKDUMP_SIGNATURE)
        || is_flattened(head)
    {
        InputKind::Dump
    } else {
        InputKind::Unknown
    })
}

fn open_error(path: &str, e: std::io::Error) -> Error {
    Error::io(
        ErrorKind::Read,
        format!("Can't open the dump memory({path})"),
        e,
    )
}

/// An opened input.
// One exists per job, held on the stack for the whole dump: the variants' sizes (272 and
// 920 bytes) cost nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub(crate) enum JobInput {
    /// An ELF vmcore.
    Elf(ElfVmcore),
    /// A kdump-compressed dump (flattened streams are rebuilt in TMPDIR on open).
    Dump(KdumpMemory),
}

impl JobInput {
    /// Open `path`, already classified as `kind`.
    pub(crate) fn open(path: &str, kind: InputKind, use_mmap: bool) -> Result<Self> {
        match kind {
            InputKind::Elf => Ok(JobInput::Elf(ElfVmcore::open(Path::new(path), use_mmap)?)),
            InputKind::Dump => Ok(JobInput::Dump(KdumpMemory::open(
                Path::new(path),
                &std::env::temp_dir(),
            )?)),
            InputKind::Unknown => Err(Error::invalid(format!(
                "{path}: not an ELF vmcore or a kdump-compressed file (unrecognised header)"
            ))),
        }
    }

    /// Page size of the input.
    pub(crate) fn page_size(&self) -> u64 {
        match self {
            JobInput::Elf(vmcore) => vmcore.page_size(),
            JobInput::Dump(memory) => memory.page_size(),
        }
    }
}

/// makedumpfile's debug dump of an ELF vmcore at message level 8 (`dump_Elf_load`,
/// `read_vmcoreinfo_basic_info`): the PT_LOADs, then the VMCOREINFO text indented by two
/// spaces, with the page size after its PAGESIZE line. openSUSE's kdump-save parses
/// OSRELEASE and CRASHTIME out of exactly this text
/// (`makedumpfile -F --message-level 8 --dump-dmesg /proc/vmcore`).
pub fn describe_vmcore(vmcore: &ElfVmcore) -> String {
    let mut text = format!(
        "{:8} {:>16} {:>16} {:>16} {:>16}\n",
        "", "phys_start", "phys_end", "virt_start", "virt_end"
    );
    for (i, load) in vmcore.loads().iter().enumerate() {
        let virt_end = load
            .virt_start
            .wrapping_add(load.phys_end - load.phys_start);
        text += &format!(
            "LOAD[{i:2}] {:>16x} {:>16x} {:>16x} {:>16x}\n",
            load.phys_start, load.phys_end, load.virt_start, virt_end
        );
    }
    text += "Linux kdump\n";
    if let Some(info) = vmcore.vmcoreinfo() {
        text += "VMCOREINFO   :\n";
        let raw = info.raw();
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        for line in String::from_utf8_lossy(&raw[..end]).lines() {
            text += &format!("  {line}\n");
            if line.starts_with("PAGESIZE=") {
                text += &format!("page_size    : {}\n", vmcore.page_size());
            }
        }
        text += "\n";
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, bytes: &[u8]) -> String {
        let path =
            std::env::temp_dir().join(format!("mdf-job-input-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn kinds_come_from_the_first_bytes() {
        let elf = temp_file("elf", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        let kdump = temp_file("kdump", b"KDUMP   \x06\0\0\0");
        let mut flat_head = crate::format::flat::FLAT_SIGNATURE.to_vec();
        flat_head.extend_from_slice(&crate::format::flat::FLAT_TYPE.to_be_bytes());
        let flat = temp_file("flat", &flat_head);
        let text = temp_file("text", b"hello");
        assert_eq!(detect(&elf).unwrap(), InputKind::Elf);
        assert_eq!(detect(&kdump).unwrap(), InputKind::Dump);
        assert_eq!(detect(&flat).unwrap(), InputKind::Dump);
        assert_eq!(detect(&text).unwrap(), InputKind::Unknown);
        let missing = detect("/nonexistent/vmcore").unwrap_err();
        assert!(missing
            .to_string()
            .contains("Can't open the dump memory(/nonexistent/vmcore)"));
        for path in [elf, kdump, flat, text] {
            std::fs::remove_file(path).unwrap();
        }
    }
}
