//! `makedumpfile [options] DUMPFILE NEWFILE` where DUMPFILE is itself a kdump-compressed
//! dump or a flattened stream: filter it again at a higher level (makedumpfile's
//! refiltering). The new level is OR-ed with the input's, as makedumpfile's
//! `update_dump_level`, since pages the input left out cannot come back.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use engine::dump::refilter::text_load_for_phys_base;
use engine::dump::{write_kdump_from, DumpBitmaps, DumpInput, DumpOptions, DumpSummary};
use engine::filter::{DumpLevel, FilterStats, PageFilter};
use engine::format::disk_dump_header::DISKDUMP_SIGNATURE;
use engine::format::flat::is_flattened;
use engine::format::output::create_dump_file;
use engine::format::{DumpOutput, FileOutput, FlatOutput, KDUMP_SIGNATURE};
use engine::input::kdump_memory::KdumpMemory;
use engine::{Error, Result};

use crate::config::Config;
use crate::create::check_dump_file;
use crate::messages::Messages;
use crate::progress::ProgressPrinter;

/// Whether `path` starts like a kdump-compressed file or a flattened stream. Unreadable
/// files answer false: the ELF path reports them.
pub fn is_dump_input(path: &str) -> bool {
    let mut head = [0u8; 32];
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let head = &head[..n];
    head.starts_with(KDUMP_SIGNATURE) || head.starts_with(DISKDUMP_SIGNATURE) || is_flattened(head)
}

/// makedumpfile's `update_dump_level`: the effective level and its message, if changed.
pub fn effective_level(requested: u8, input_level: i32, input_name: &str) -> (u8, Option<String>) {
    let new_level = (requested as i32 | input_level) as u8;
    if new_level == requested {
        return (requested, None);
    }
    // makedumpfile prints this without a trailing newline.
    let message = format!(
        "dump_level is changed to {new_level}, because {input_name} was created by dump_level({input_level})."
    );
    (new_level, Some(message))
}

/// Open a kdump-compressed or flattened input (flattened ones are rebuilt in TMPDIR).
pub fn open(path: &str) -> Result<KdumpMemory> {
    KdumpMemory::open(Path::new(path), &std::env::temp_dir())
}

/// Open a kdump or flattened input and compute the bitmaps at the requested level OR-ed
/// with the input's (printing makedumpfile's message when that changes the level).
pub fn prepare(
    config: &Config,
    vmcore_path: &str,
    messages: &Messages,
    progress: &ProgressPrinter,
) -> Result<(KdumpMemory, DumpBitmaps, FilterStats, u8)> {
    let memory = open(vmcore_path)?;
    let input_level = memory.dump_level();
    if !(0..=31).contains(&input_level) {
        return Err(Error::invalid(format!(
            "{vmcore_path}: the sub header's dump_level {input_level} is not a dump level"
        )));
    }
    let (dump_level, message) = effective_level(config.dump_levels[0], input_level, vmcore_path);
    if let Some(message) = message {
        messages.common(&message);
    }
    let text_load = [text_load_for_phys_base(memory.dump().sub_header.phys_base)];
    let (bitmaps, stats) = match memory.vmcoreinfo() {
        Some(info) => {
            let mut filter = PageFilter::new(
                info,
                &memory,
                &text_load,
                DumpLevel::new(dump_level as u32)?,
            )
            .map_err(|e| e.context(vmcore_path))?;
            DumpBitmaps::refiltered(&memory, Some(&mut filter), progress)?
        }
        None if dump_level <= 1 => DumpBitmaps::refiltered(&memory, None, progress)?,
        None => {
            return Err(Error::invalid(format!(
                "{vmcore_path}: Dump_level({dump_level}) needs VMCOREINFO, and the dump has none"
            )))
        }
    };
    Ok((memory, bitmaps, stats, dump_level))
}

/// Refilter `vmcore_path` into `dumpfile` (or a flattened stream on stdout).
pub fn run(
    config: &Config,
    vmcore_path: &str,
    dumpfile: Option<&str>,
    messages: &Messages,
) -> Result<(DumpSummary, FilterStats)> {
    if let Some(path) = dumpfile {
        check_dump_file(path, config.force)?;
    }
    let progress = ProgressPrinter::new(*messages);
    let (memory, bitmaps, stats, dump_level) = prepare(config, vmcore_path, messages, &progress)?;
    let options = DumpOptions {
        compression: config.compression,
        dump_level,
        threads: config.threads,
        block_order: config.block_order,
    };
    let input = DumpInput::from_kdump(&memory);
    let summary = match dumpfile {
        Some(path) => {
            let file = create_dump_file(Path::new(path), config.force)?;
            let mut out = FileOutput::new(file, path);
            write_kdump_from(&input, &bitmaps, &options, None, &mut out, &progress)
        }
        None => {
            let stdout = std::io::stdout().lock();
            let mut out = FlatOutput::new(stdout)?;
            let out: &mut dyn DumpOutput = &mut out;
            write_kdump_from(&input, &bitmaps, &options, None, out, &progress)
        }
    }?;
    Ok((summary, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_or_ed_with_makedumpfiles_message() {
        assert_eq!(effective_level(31, 0, "in"), (31, None));
        assert_eq!(effective_level(31, 1, "in"), (31, None));
        let (level, message) = effective_level(30, 1, "dump.in");
        assert_eq!(level, 31);
        assert_eq!(
            message.unwrap(),
            "dump_level is changed to 31, because dump.in was created by dump_level(1)."
        );
    }
}
