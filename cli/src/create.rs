//! `makedumpfile [options] VMCORE DUMPFILE` and `makedumpfile -F [options] VMCORE`.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use engine::budget::{self, BudgetRequest};
use engine::dump::cycles::FilteredCycles;
use engine::dump::{write_kdump_cycles, DumpInput, DumpOptions, DumpSummary};
use engine::filter::{DumpLevel, FilterStats, PageFilter};
use engine::format::flat::is_flattened;
use engine::format::output::create_dump_file;
use engine::format::{FileOutput, FlatOutput, NullOutput, KDUMP_SIGNATURE};
use engine::input::elf::{is_elf, ElfVmcore};
use engine::input::PhysicalMemory;
use engine::pipeline::PipelineTuning;
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
pub fn open_input(path: &str, config: &Config) -> Result<ElfVmcore> {
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

/// Run the dump with the first dump level; on ENOSPC or `-L` with more levels given
/// (`-d 11,31`), delete the partial file and retry with the next one, as makedumpfile
/// ("Retry to create a dumpfile by dump_level(%d)."). Not possible with `-F` (the stream is
/// already out) nor `--dry-run` (nothing can run out of space). Returns what the report
/// prints.
pub fn run(
    config: &Config,
    vmcore_path: &str,
    dumpfile: Option<&str>,
    messages: &Messages,
) -> Result<(DumpSummary, FilterStats)> {
    if config.elf_output {
        return crate::elf::run(config, vmcore_path, dumpfile, messages);
    }
    if crate::refilter::is_dump_input(vmcore_path) {
        return crate::refilter::run(config, vmcore_path, dumpfile, messages);
    }
    if let Some(path) = dumpfile.filter(|_| !config.dry_run) {
        check_dump_file(path, config.force)?;
    }
    let vmcore = open_input(vmcore_path, config)?;
    crate::debug_info::print_vmcore(messages, &vmcore);
    let mut levels = config.dump_levels.iter().copied().peekable();
    loop {
        let level = levels.next().unwrap_or(0);
        let result = run_level(config, &vmcore, vmcore_path, dumpfile, level, messages);
        match (&result, levels.peek(), dumpfile) {
            (Err(e), Some(&next), Some(path))
                if e.kind() == ErrorKind::NoSpace && !config.dry_run =>
            {
                messages.common(&format!("\n{e}\n"));
                let _ = std::fs::remove_file(path);
                messages.common(&format!(
                    "Retry to create a dumpfile by dump_level({next}).\n"
                ));
            }
            (Err(e), _, _) if e.kind() == ErrorKind::NoSpace => {
                messages.common(&format!("\n{e}\n"));
                if dumpfile.is_some() {
                    messages.common("This is an incomplete dumpfile, but might analyzable.\n");
                }
                return Err(Error::new(ErrorKind::NoSpace, String::new()));
            }
            _ => return result,
        }
    }
}

fn run_level(
    config: &Config,
    vmcore: &ElfVmcore,
    vmcore_path: &str,
    dumpfile: Option<&str>,
    dump_level: u8,
    messages: &Messages,
) -> Result<(DumpSummary, FilterStats)> {
    let progress = ProgressPrinter::new(*messages);
    // makedumpfile sets up translation and finds the mem_maps whenever VMCOREINFO is
    // present, even at levels 0 and 1 (hwpoison and offline pages are always dropped);
    // without VMCOREINFO only levels 0 and 1 are possible.
    let filter = match vmcore.vmcoreinfo() {
        Some(info) => Some(
            PageFilter::new(
                info,
                vmcore,
                vmcore.loads(),
                DumpLevel::new(dump_level as u32)?,
            )
            .map_err(|e| e.context(vmcore_path))?,
        ),
        None if dump_level <= 1 => None,
        None => {
            return Err(Error::invalid(format!(
                "{vmcore_path}: Dump_level({dump_level}) needs VMCOREINFO, and the vmcore has none"
            )))
        }
    };
    let max_mapnr = filter
        .as_ref()
        .map_or(vmcore.max_mapnr(), |f| f.max_mapnr());
    // makedumpfile's memory budget: threads and the cyclic buffer must fit in 60 % of
    // MemFree (engine::budget; the per-thread figure is measured, not makedumpfile's).
    let plan = budget::plan(&BudgetRequest {
        free_memory: budget::read_mem_free()?,
        max_mapnr,
        threads: config.threads,
        cyclic_buffer_kib: config.cyclic_buffer_kb,
        dump_files: 1,
        thread_region: budget::thread_region(
            config.compression,
            vmcore.page_size(),
            &PipelineTuning::default(),
        ),
    })?;
    for message in &plan.messages {
        messages.common(&format!("{message}\n"));
    }
    messages.report(&format!("{plan}\n"));
    let mut source = FilteredCycles::new(vmcore, filter, plan.pfns_per_cycle);
    messages.debug(&format!(
        "max_mapnr    : {max_mapnr:x}\nBuffer size for the cyclic mode: {}\n",
        plan.cyclic_buffer
    ));
    let options = DumpOptions {
        compression: config.compression,
        dump_level,
        threads: plan.threads,
        block_order: config.block_order,
    };
    let input = DumpInput::from_elf(vmcore)?;
    let summary = if config.dry_run {
        write_kdump_cycles(
            &input,
            &mut source,
            &options,
            None,
            &mut NullOutput::default(),
            &progress,
        )?
    } else {
        match dumpfile {
            Some(path) => {
                let file = create_dump_file(Path::new(path), config.force)?;
                let mut out = FileOutput::new(file, path).with_limit(config.size_limit);
                write_kdump_cycles(&input, &mut source, &options, None, &mut out, &progress)?
            }
            None => {
                let mut out =
                    FlatOutput::new(std::io::stdout().lock())?.with_limit(config.size_limit);
                write_kdump_cycles(&input, &mut source, &options, None, &mut out, &progress)?
            }
        }
    };
    let stats = std::mem::take(&mut source.stats);
    for warning in stats.invalid_free_orders.iter() {
        messages.common(&format!(
            "Invalid free page order: pfn={:x}, order={}, max order={}\n",
            warning.pfn, warning.order, warning.max_order
        ));
    }
    Ok((summary, stats))
}
