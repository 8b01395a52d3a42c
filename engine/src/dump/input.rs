//! What the kdump writer takes from its input besides page contents: notes, VMCOREINFO
//! position, the header fields, eraseinfo. An ELF vmcore derives them from its notes and
//! memory; a kdump-compressed input (refiltering) passes its own headers on, as
//! makedumpfile does (timestamp, nr_cpus and phys_base from the input's headers).

use crate::error::{Error, Result};
use crate::format::Utsname;
use crate::input::elf::ElfVmcore;
use crate::input::kdump_memory::KdumpMemory;
use crate::input::PhysicalMemory;

use super::header::{arm64_phys_base_and_utsname, phys_base, read_utsname};
use crate::arch::Arch;

/// The input of [`super::write_kdump_from`].
pub struct DumpInput<'a> {
    /// Page contents.
    pub memory: &'a dyn PhysicalMemory,
    /// The input's name, for messages.
    pub name: &'a str,
    /// The ELF notes, copied verbatim after the sub header.
    pub notes: &'a [u8],
    /// Offset and size of the VMCOREINFO text inside `notes`.
    pub vmcoreinfo_in_notes: Option<(usize, usize)>,
    /// The header's nr_cpus.
    pub nr_cpus: i32,
    /// The sub header's phys_base.
    pub phys_base: u64,
    /// The crashed kernel's utsname.
    pub utsname: Utsname,
    /// The header's timestamp (seconds, microseconds).
    pub timestamp: (i64, i64),
    /// eraseinfo text carried over from the input (appended after the page data).
    pub eraseinfo: &'a [u8],
}

impl<'a> DumpInput<'a> {
    /// From an ELF vmcore: utsname read from memory, CRASHTIME as the timestamp.
    pub fn from_elf(vmcore: &'a ElfVmcore) -> Result<Self> {
        let info = vmcore.vmcoreinfo().ok_or_else(|| {
            Error::invalid(format!(
                "{}: the vmcore has no VMCOREINFO note",
                vmcore.name()
            ))
        })?;
        let (base, utsname) = match vmcore.arch() {
            Arch::X86_64 => {
                let base = phys_base(vmcore);
                (base, read_utsname(vmcore, info, base)?)
            }
            Arch::Aarch64 => arm64_phys_base_and_utsname(vmcore, info)?,
        };
        let notes = vmcore.notes();
        Ok(DumpInput {
            memory: vmcore,
            name: vmcore.name(),
            notes: &notes.data,
            vmcoreinfo_in_notes: notes.vmcoreinfo,
            nr_cpus: notes.nr_cpus as i32,
            phys_base: base,
            utsname,
            timestamp: (info.crashtime().unwrap_or(0), 0),
            eraseinfo: &[],
        })
    }

    /// From a kdump-compressed dump being refiltered (makedumpfile
    /// `get_kdump_compressed_header_info`: timestamp, nr_cpus, phys_base, notes and
    /// eraseinfo of the input).
    pub fn from_kdump(memory: &'a KdumpMemory) -> Self {
        let dump = memory.dump();
        DumpInput {
            memory,
            name: memory.name(),
            notes: memory.notes(),
            vmcoreinfo_in_notes: memory.vmcoreinfo_in_notes(),
            nr_cpus: dump.header.nr_cpus,
            phys_base: dump.sub_header.phys_base,
            utsname: dump.header.utsname.clone(),
            timestamp: (dump.header.timestamp_sec, dump.header.timestamp_usec),
            eraseinfo: memory.eraseinfo(),
        }
    }
}
