//! `makedumpfile [options] VMCORE DUMPFILE` and `makedumpfile -F [options] VMCORE`.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use engine::dump::{write_kdump, DumpBitmaps, DumpOptions, DumpSummary};
use engine::filter::{DumpLevel, FilterStats, PageFilter};
use engine::format::flat::is_flattened;
use engine::format::output::create_dump_file;
use engine::format::{DumpOutput, FileOutput, FlatOutput, KDUMP_SIGNATURE};
use engine::input::elf::{is_elf, ElfVmcore};
use engine::{Error, ErrorKind, Result};

use crate::config::Config;
use crate::messages::Messages;
use crate::progress::ProgressPrinter;

/// makedumpfile `check_dump_file`: an existing DUMPFILE is an error unless `-f`, and
/// then it must be writable. Checked before the input is even opened, so a refused run
/// touches nothing.
pub fn check_dump_file(path: &str, force: bool) -> Result<()> {
    let p = Path::new(path);
    if std::fs::symlink_metadata(p).is_err() {
        return Ok(());
    }
    if !force {
        return Err(Error::io(
            ErrorKind::OutputExists,
            format!("Can't open the dump file ({path})"),
            std::io::Error::from_raw_os_error(libc::EEXIST),
        ));
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .map(drop)
        .map_err(|e| {
            Error::io(
                ErrorKind::Write,
                format!("Can't open the dump file ({path})"),
                e,
            )
        })
}

/// What kind of file the input is, from its first bytes.
fn open_input(path: &str, config: &Config) -> Result<ElfVmcore> {
    let mut head = [0u8; 64];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| {
            Error::io(
                ErrorKind::Read,
                format!("Can't open the dump memory({path})"),
                e,
            )
        })?;
    let head = &head[..n];
    if is_elf(head) {
        return ElfVmcore::open(Path::new(path), !config.non_mmap);
    }
    if head.starts_with(KDUMP_SIGNATURE) || head.starts_with(b"DISKDUMP") || is_flattened(head) {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "{path}: refiltering a kdump-compressed or flattened dump is not supported yet"
            ),
        ));
    }
    Err(Error::invalid(format!(
        "{path}: not an ELF vmcore or a kdump-compressed file (unrecognised header)"
    )))
}

/// Run the dump; returns what the report prints.
pub fn run(
    config: &Config,
    vmcore_path: &str,
    dumpfile: Option<&str>,
    messages: &Messages,
) -> Result<(DumpSummary, FilterStats)> {
    if let Some(path) = dumpfile {
        check_dump_file(path, config.force)?;
    }
    let vmcore = open_input(vmcore_path, config)?;
    let dump_level = config.dump_levels[0];
    let progress = ProgressPrinter::new(*messages);
    // makedumpfile sets up translation and finds the mem_maps whenever VMCOREINFO is
    // present, even at levels 0 and 1 (hwpoison and offline pages are always dropped);
    // without VMCOREINFO only levels 0 and 1 are possible.
    let (bitmaps, stats) = match vmcore.vmcoreinfo() {
        Some(info) => {
            let mut filter = PageFilter::new(
                info,
                &vmcore,
                vmcore.loads(),
                DumpLevel::new(dump_level as u32)?,
            )
            .map_err(|e| e.context(vmcore_path))?;
            DumpBitmaps::filtered(&vmcore, &mut filter, &progress)?
        }
        None if dump_level <= 1 => (
            DumpBitmaps::unfiltered(&vmcore, engine::input::PhysicalMemory::max_mapnr(&vmcore))?,
            FilterStats::default(),
        ),
        None => {
            return Err(Error::invalid(format!(
                "{vmcore_path}: Dump_level({dump_level}) needs VMCOREINFO, and the vmcore has none"
            )))
        }
    };
    for warning in stats.invalid_free_orders.iter() {
        messages.common(&format!(
            "Invalid free page order: pfn={:x}, order={}, max order={}\n",
            warning.pfn, warning.order, warning.max_order
        ));
    }
    let options = DumpOptions {
        compression: config.compression,
        dump_level,
        threads: config.threads,
        block_order: config.block_order,
    };
    messages.debug(&format!(
        "max_mapnr    : {:x}\nnum_dumpable : {:x}\n",
        bitmaps.ram.len(),
        bitmaps.dumpable.count_ones()
    ));
    let summary = match dumpfile {
        Some(path) => {
            let file = create_dump_file(Path::new(path), config.force)?;
            let mut out = FileOutput::new(file, path);
            write_kdump(&vmcore, &bitmaps, &options, &mut out, &progress)
        }
        None => {
            let stdout = std::io::stdout().lock();
            let mut out = FlatOutput::new(stdout)?;
            let out: &mut dyn DumpOutput = &mut out;
            write_kdump(&vmcore, &bitmaps, &options, out, &progress)
        }
    }?;
    Ok((summary, stats))
}
