//! The running system's side of `--mem-usage /proc/kcore`: its kernel release, the
//! memory reserved for the capture kernel (/proc/iomem) and, on kernels whose kcore has
//! no VMCOREINFO note, /sys/kernel/vmcoreinfo. Everything that depends on the live
//! system is read here; [`super::measure`] only classifies pages.

use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::input::elf::ElfVmcore;
use crate::input::kcore::crash_reserved_ranges;
use crate::kernel_version::KernelVersion;
use crate::progress::{MessageKind, ProgressObserver};

use super::estimate::{capture_notes_size, estimate_sizes, SAMPLE_PER_SET};
use super::{measure, vmcoreinfo, MemUsage, SizeEstimate};

const IOMEM: &str = "/proc/iomem";
const SYS_VMCOREINFO: &str = "/sys/kernel/vmcoreinfo";

/// kcore's `p_paddr` is only filled in since Linux 4.11 (makedumpfile's limit).
const FIRST_KERNEL_WITH_KCORE_PADDR: KernelVersion = KernelVersion::new(4, 11, 0);

/// What `--mem-usage` prints.
#[derive(Debug, Clone)]
pub struct LiveMeasurement {
    /// makedumpfile's table.
    pub usage: MemUsage,
    /// The dump sizes, per level asked and codec (see [`super::estimate`]).
    pub estimates: Vec<SizeEstimate>,
}

/// Classify the running kernel's pages, read through `kcore` (normally /proc/kcore), as
/// `-d 31` would in the capture kernel, and estimate the dump size at each of
/// `estimate_levels` (none: no estimate). `force` (`-f`) accepts kernels older than 4.11,
/// whose kcore may lack physical addresses; the refusal is told through `observer` in
/// makedumpfile's words, and the error then has an empty message.
pub fn measure_running_kernel(
    kcore: &str,
    force: bool,
    estimate_levels: &[u8],
    observer: &dyn ProgressObserver,
) -> Result<LiveMeasurement> {
    let release = running_release()?;
    if KernelVersion::parse(&release)? < FIRST_KERNEL_WITH_KCORE_PADDR && !force {
        observer.message(
            MessageKind::Common,
            "mem-usage not supported for this kernel.\n\
             You can try with -f if your kernel's kcore has valid p_paddr\n",
        );
        return Err(Error::new(ErrorKind::Unsupported, String::new()));
    }
    let iomem = std::fs::read_to_string(IOMEM)
        .map_err(|e| Error::io(ErrorKind::Read, format!("Cannot open {IOMEM}"), e))?;
    let reserved = crash_reserved_ranges(&iomem);
    if reserved.is_empty() {
        // The counts describe what a capture kernel would dump: without one there is
        // nothing to size, and makedumpfile refuses in the same words.
        return Err(Error::new(
            ErrorKind::Unsupported,
            "No memory is reserved for crashkernel!",
        ));
    }
    let mut memory = ElfVmcore::open_kcore(Path::new(kcore), &reserved)?;
    if memory.vmcoreinfo().is_none() {
        // kcore has carried a VMCOREINFO note only since Linux 4.19.
        let (paddr, size) = sys_kernel_vmcoreinfo()?;
        memory.load_vmcoreinfo_from_memory(paddr, size)?;
    }
    let (usage, kernel) = measure(&memory)?;
    let estimates = if estimate_levels.is_empty() {
        Vec::new()
    } else {
        let info = vmcoreinfo(&memory)?;
        let size_note = capture_notes_size(online_cpus(), info.raw().len() as u64);
        estimate_sizes(
            &memory,
            info,
            &kernel,
            estimate_levels,
            size_note,
            SAMPLE_PER_SET,
        )?
    };
    Ok(LiveMeasurement { usage, estimates })
}

/// CPUs online now: each leaves a register note in the capture kernel's /proc/vmcore.
fn online_cpus() -> u64 {
    // SAFETY: sysconf only reads system configuration and returns -1 for an unknown name.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    cpus.max(1) as u64
}

/// `uname -r` of the running kernel (makedumpfile `populate_kernel_version`).
fn running_release() -> Result<String> {
    // SAFETY: utsname is plain old data (arrays of c_char), so all-zero is a valid value,
    // and uname() only writes into the struct we pass.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname for the duration of the call.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return Err(Error::io(
            ErrorKind::Read,
            "Cannot get name and information about current kernel",
            std::io::Error::last_os_error(),
        ));
    }
    let release: Vec<u8> = uts
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    Ok(String::from_utf8_lossy(&release).into_owned())
}

/// Address and size of VMCOREINFO from /sys/kernel/vmcoreinfo ("%lx %x").
fn sys_kernel_vmcoreinfo() -> Result<(u64, u64)> {
    let text = std::fs::read_to_string(SYS_VMCOREINFO)
        .map_err(|e| Error::io(ErrorKind::Read, format!("Can't open {SYS_VMCOREINFO}"), e))?;
    parse_sys_vmcoreinfo(&text).ok_or_else(|| {
        Error::invalid(format!(
            "{SYS_VMCOREINFO}: expected \"ADDRESS SIZE\" in hex, found {:?}",
            text.trim()
        ))
    })
}

fn parse_sys_vmcoreinfo(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_whitespace();
    let paddr = u64::from_str_radix(fields.next()?, 16).ok()?;
    let size = u64::from_str_radix(fields.next()?, 16).ok()?;
    Some((paddr, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_vmcoreinfo_is_two_hex_numbers() {
        assert_eq!(
            parse_sys_vmcoreinfo("2b1d3000 1024\n"),
            Some((0x2b1d_3000, 0x1024))
        );
        assert_eq!(parse_sys_vmcoreinfo("2b1d3000\n"), None);
        assert_eq!(parse_sys_vmcoreinfo("zz 10\n"), None);
    }

    #[test]
    fn the_running_kernel_has_a_release() {
        let release = running_release().unwrap();
        assert!(KernelVersion::parse(&release).is_ok(), "{release}");
    }
}
