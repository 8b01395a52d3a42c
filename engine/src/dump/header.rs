//! Building the main header and sub header from the vmcore.

use crate::arch::aarch64::Arm64Translator;
use crate::arch::{Translator, VirtualReader};
use crate::error::{Error, Result};
use crate::format::disk_dump_header::{HEADER_VERSION, UTS_FIELD_LEN};
use crate::format::{DiskDumpHeader, KdumpLayout, KdumpSubHeader, Utsname, KDUMP_SIGNATURE};
use crate::input::elf::ElfVmcore;
use crate::input::PhysicalMemory;
use crate::vmcoreinfo::VmcoreInfo;

/// Start of the x86_64 kernel text mapping (`__START_KERNEL_map`).
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;

/// phys_base: NUMBER(phys_base), else from the first PT_LOAD in the kernel text mapping
/// (makedumpfile `get_phys_base_x86_64`), else 0.
pub fn phys_base(vmcore: &ElfVmcore) -> u64 {
    if let Some(base) = vmcore.vmcoreinfo().and_then(|i| i.number("phys_base")) {
        return base as u64;
    }
    vmcore
        .loads()
        .iter()
        .find(|l| l.virt_start >= START_KERNEL_MAP)
        .map(|l| l.phys_start.wrapping_sub(l.virt_start - START_KERNEL_MAP))
        .unwrap_or(0)
}

/// The crashed kernel's `init_uts_ns.name`, read through the kernel text mapping
/// (`vaddr - __START_KERNEL_map + phys_base`; VMCOREINFO symbols are already relocated by
/// KASLR, so KERNELOFFSET is not added again).
pub fn read_utsname(vmcore: &ElfVmcore, info: &VmcoreInfo, phys_base: u64) -> Result<Utsname> {
    let base = utsname_address(vmcore, info)?;
    if base < START_KERNEL_MAP {
        return Err(Error::invalid(format!(
            "{}: SYMBOL(init_uts_ns) {base:#x} is outside the kernel text mapping",
            vmcore.name()
        )));
    }
    let paddr = (base - START_KERNEL_MAP).wrapping_add(phys_base);
    let mut uts = Utsname::default();
    vmcore.reader()?.read_phys(paddr, &mut uts.0).map_err(|e| {
        e.context(format!(
            "Can't get the address of system_utsname ({base:#x})"
        ))
    })?;
    Ok(uts)
}

/// arm64 `phys_base` (`PHYS_OFFSET`) and utsname: the name is read through the page
/// tables, as makedumpfile's `readmem(VADDR, …)` translates every address on arm64.
pub fn arm64_phys_base_and_utsname(
    vmcore: &ElfVmcore,
    info: &VmcoreInfo,
) -> Result<(u64, Utsname)> {
    let translator = Arm64Translator::new(info, vmcore.loads(), vmcore.page_size())
        .map_err(|e| e.context(vmcore.name()))?;
    let address = utsname_address(vmcore, info)?;
    let translator = Translator::Aarch64(translator);
    let mut reader = vmcore.reader()?;
    let mut uts = Utsname::default();
    VirtualReader::new(&translator, &mut *reader)
        .read(address, &mut uts.0)
        .map_err(|e| {
            e.context(format!(
                "Can't get the address of system_utsname ({address:#x})"
            ))
        })?;
    Ok((translator.phys_base().0, uts))
}

/// Virtual address of the crashed kernel's `new_utsname`.
fn utsname_address(vmcore: &ElfVmcore, info: &VmcoreInfo) -> Result<u64> {
    info
        .symbol("system_utsname")
        .or_else(|| {
            let ns = info.symbol("init_uts_ns")?;
            // Without OFFSET(uts_namespace.name) the name follows a 4-byte kref, as
            // makedumpfile assumes.
            Some(ns + info.offset("uts_namespace.name").unwrap_or(4) as u64)
        })
        .ok_or_else(|| {
            Error::invalid(format!(
                "{}: VMCOREINFO has no SYMBOL(init_uts_ns)",
                vmcore.name()
            ))
        })
}

/// What goes into the headers besides the layout.
#[derive(Debug, Clone)]
pub struct HeaderFields {
    /// `init_uts_ns.name`.
    pub utsname: Utsname,
    /// CRASHTIME.
    pub timestamp: i64,
    /// Header status bits (compression flag).
    pub status: u32,
    /// NT_PRSTATUS count.
    pub nr_cpus: i32,
    /// Relocation of the kernel text.
    pub phys_base: u64,
    /// Effective dump level.
    pub dump_level: i32,
    /// VMCOREINFO descriptor offset/size inside the notes.
    pub vmcoreinfo_in_notes: Option<(usize, usize)>,
    /// Notes length.
    pub size_note: u64,
}

/// The two headers for `layout`.
pub fn build_headers(
    layout: &KdumpLayout,
    fields: &HeaderFields,
) -> (DiskDumpHeader, KdumpSubHeader) {
    let header = DiskDumpHeader {
        signature: *KDUMP_SIGNATURE,
        header_version: HEADER_VERSION,
        utsname: fields.utsname.clone(),
        timestamp_sec: fields.timestamp,
        timestamp_usec: 0,
        status: fields.status,
        block_size: layout.block_size as i32,
        sub_hdr_size: layout.sub_hdr_blocks as i32,
        bitmap_blocks: layout.bitmap_blocks() as u32,
        max_mapnr: layout.max_mapnr.min(u32::MAX as u64) as u32,
        total_ram_blocks: 0,
        device_blocks: 0,
        written_blocks: 0,
        current_cpu: 0,
        nr_cpus: fields.nr_cpus,
    };
    let mut sub = KdumpSubHeader {
        phys_base: fields.phys_base,
        dump_level: fields.dump_level,
        max_mapnr_64: layout.max_mapnr,
        ..Default::default()
    };
    if fields.size_note > 0 {
        sub.offset_note = layout.offset_note();
        sub.size_note = fields.size_note;
        if let Some((offset, size)) = fields.vmcoreinfo_in_notes {
            sub.offset_vmcoreinfo = layout.offset_note() + offset as u64;
            sub.size_vmcoreinfo = size as u64;
        }
    }
    (header, sub)
}

#[cfg(feature = "testing")]
/// The machine field ("x86_64"), for messages.
pub fn machine(uts: &Utsname) -> String {
    uts.field_str(4)
}

const _: () = assert!(UTS_FIELD_LEN == 65);
