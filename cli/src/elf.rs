//! `-E`: write the dump as an ELF core (makedumpfile `write_elf_header` /
//! `write_elf_pages_cyclic`); the engine's `dump::elf` does the cutting and writing.

use std::path::Path;

use engine::codec::Compression;
use engine::dump::elf::{exclude_zero_pages, write_elf};
use engine::dump::{DumpBitmaps, DumpSummary, DL_EXCLUDE_ZERO};
use engine::filter::{DumpLevel, FilterStats, PageFilter};
use engine::format::output::create_dump_file;
use engine::format::{DumpOutput, FileOutput, FlatOutput};
use engine::input::elf::ElfVmcore;
use engine::input::PhysicalMemory;
use engine::{Error, ErrorKind, Result};

use crate::config::Config;
use crate::create::check_dump_file;
use crate::messages::Messages;
use crate::progress::ProgressPrinter;

/// makedumpfile `check_param_for_creating_dumpfile`, the checks about -E, --split and
/// --num-threads, in its order. `Some(message)` = invalid (the message may be empty).
pub fn incompatible(config: &Config, split: bool) -> Option<String> {
    if config.elf_output && config.compression != Compression::None {
        return Some(String::new());
    }
    if config.flatten && split {
        return Some(String::new());
    }
    if config.threads > 0 {
        if split {
            return Some("--num-threads cannot used with --split.\n".into());
        }
        if config.elf_output {
            return Some("--num-threads cannot used with ELF format.\n".into());
        }
    }
    if split && config.elf_output {
        return Some("Options for splitting dumpfile cannot be used with Elf format.\n".into());
    }
    None
}

/// The bitmaps of an ELF vmcore at `dump_level` (as the create path).
pub fn filtered_bitmaps(
    vmcore: &ElfVmcore,
    vmcore_path: &str,
    dump_level: u8,
    progress: &ProgressPrinter,
) -> Result<(DumpBitmaps, FilterStats)> {
    match vmcore.vmcoreinfo() {
        Some(info) => {
            let mut filter = PageFilter::new(
                info,
                vmcore,
                vmcore.loads(),
                DumpLevel::new(dump_level as u32)?,
            )
            .map_err(|e| e.context(vmcore_path))?;
            DumpBitmaps::filtered(vmcore, &mut filter, progress)
        }
        None if dump_level <= 1 => Ok((
            DumpBitmaps::unfiltered(vmcore, vmcore.max_mapnr())?,
            FilterStats::default(),
        )),
        None => Err(Error::invalid(format!(
            "{vmcore_path}: Dump_level({dump_level}) needs VMCOREINFO, and the vmcore has none"
        ))),
    }
}

/// Write `vmcore_path` as an ELF dump to `dumpfile` (or flattened to stdout).
pub fn run(
    config: &Config,
    vmcore_path: &str,
    dumpfile: Option<&str>,
    messages: &Messages,
) -> Result<(DumpSummary, FilterStats)> {
    if crate::refilter::is_dump_input(vmcore_path) {
        // makedumpfile 1.7.2's wording.
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!("'-E' option is disable, because {vmcore_path} is kdump compressed format."),
        ));
    }
    if let Some(path) = dumpfile {
        check_dump_file(path, config.force)?;
    }
    let vmcore = ElfVmcore::open(Path::new(vmcore_path), !config.non_mmap)?;
    let dump_level = config.dump_levels[0];
    let progress = ProgressPrinter::new(*messages);
    let (mut bitmaps, stats) = filtered_bitmaps(&vmcore, vmcore_path, dump_level, &progress)?;
    let zero_pages = if dump_level & DL_EXCLUDE_ZERO != 0 {
        exclude_zero_pages(&vmcore, &mut bitmaps.dumpable)?
    } else {
        0
    };
    let written = match dumpfile {
        Some(path) => {
            let file = create_dump_file(Path::new(path), config.force)?;
            let mut out = FileOutput::new(file, path).with_limit(config.size_limit);
            write_elf(&vmcore, &bitmaps.dumpable, &mut out, &progress)
        }
        None => {
            let stdout = std::io::stdout().lock();
            let mut out = FlatOutput::new(stdout)?.with_limit(config.size_limit);
            let out: &mut dyn DumpOutput = &mut out;
            write_elf(&vmcore, &bitmaps.dumpable, out, &progress)
        }
    };
    let elf = match written {
        Err(e) if e.kind() == ErrorKind::NoSpace => {
            // The ELF header still carries e_flags bit 0 (incomplete).
            messages.common(&format!("\n{e}\n"));
            if dumpfile.is_some() {
                messages.common("This is an incomplete dumpfile, but might analyzable.\n");
            }
            return Err(Error::new(ErrorKind::NoSpace, String::new()));
        }
        other => other?,
    };
    messages.debug(&format!(
        "PT_LOADs in the ELF dump: {}, pages excluded in ELF format: {:#x}\n",
        elf.loads, elf.elf_excluded
    ));
    let summary = DumpSummary {
        max_mapnr: bitmaps.ram.len(),
        memory_holes: bitmaps.memory_holes,
        num_dumpable: elf.num_dumpable,
        zero_pages,
        bytes_written: elf.bytes_written,
        page_size: engine::input::PhysicalMemory::page_size(&vmcore),
        ..Default::default()
    };
    Ok((summary, stats))
}
