//! `--split VMCORE F1 F2 ...` and `--reassemble F1 F2 ... DUMPFILE`.
//!
//! makedumpfile forks one process per split file; here the files are written one after
//! the other from the same bitmaps, which gives the same bytes (each file depends only on
//! the bitmaps and its pfn range) without re-reading the input's metadata per process.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use engine::codec::Compression;
use engine::dump::{write_kdump_from, DumpInput, DumpOptions, DumpSummary};
use engine::filter::FilterStats;
use engine::format::output::create_dump_file;
use engine::format::FileOutput;
use engine::input::elf::ElfVmcore;
use engine::progress::CombinedProgress;
use engine::split::{check_parts, open_parts, pages_per_splitblock, reassemble, split_ranges};
use engine::Result;

use crate::config::{Config, ConfigError, Mode};
use crate::create::check_dump_file;
use crate::messages::Messages;
use crate::progress::ProgressPrinter;

/// `--split VMCORE F1 F2 ...`: at least two output files.
pub fn split_mode(config: &Config, ops: &[String]) -> std::result::Result<Mode, ConfigError> {
    if ops.len() <= 2 || config.flatten {
        return Err(ConfigError::invalid());
    }
    Ok(Mode::Split {
        vmcore: ops[0].clone(),
        dumpfiles: ops[1..].to_vec(),
    })
}

/// `--reassemble F1 ... DUMPFILE` (makedumpfile `check_param_for_reassembling_dumpfile`:
/// no compression, dump level, -E, -F or --split).
pub fn reassemble_mode(
    config: &Config,
    split: bool,
    ops: &[String],
) -> std::result::Result<Mode, ConfigError> {
    if config.compression != Compression::None
        || config.dump_levels.iter().any(|&l| l != 0)
        || config.elf_output
        || config.flatten
        || split
        || ops.len() < 2
    {
        return Err(ConfigError::invalid());
    }
    Ok(Mode::Reassemble {
        parts: ops[..ops.len() - 1].to_vec(),
        dumpfile: ops[ops.len() - 1].clone(),
    })
}

/// makedumpfile's "The dumpfiles are saved to A, B, and C." line.
pub fn saved_message(dumpfiles: &[String]) -> String {
    let mut text = String::from("\nThe dumpfiles are saved to ");
    for (i, name) in dumpfiles.iter().enumerate() {
        if i + 1 < dumpfiles.len() {
            text += &format!("{name}, ");
        } else {
            text += &format!("and {name}.\n");
        }
    }
    text
}

/// Write the split files.
pub fn run_split(
    config: &Config,
    vmcore_path: &str,
    dumpfiles: &[String],
    messages: &Messages,
) -> Result<(DumpSummary, FilterStats)> {
    for path in dumpfiles {
        check_dump_file(path, config.force)?;
    }
    let progress = ProgressPrinter::new(*messages);
    let elf;
    let kdump;
    let (input, bitmaps, stats, dump_level) = if crate::refilter::is_dump_input(vmcore_path) {
        let (memory, bitmaps, stats, level) =
            crate::refilter::prepare(config, vmcore_path, messages, &progress)?;
        kdump = memory;
        (DumpInput::from_kdump(&kdump), bitmaps, stats, level)
    } else {
        elf = ElfVmcore::open(Path::new(vmcore_path), !config.non_mmap)?;
        let level = config.dump_levels[0];
        let (bitmaps, stats) = crate::elf::filtered_bitmaps(&elf, vmcore_path, level, &progress)?;
        (DumpInput::from_elf(&elf)?, bitmaps, stats, level)
    };
    let per_block = pages_per_splitblock(config.splitblock_kb, input.memory.page_size())?;
    let ranges = split_ranges(&bitmaps.dumpable, dumpfiles.len(), per_block);
    let options = DumpOptions {
        compression: config.compression,
        dump_level,
        threads: 0,
        block_order: config.block_order,
    };
    for (path, range) in dumpfiles.iter().zip(&ranges) {
        messages.debug(&format!(
            "{path}: start_pfn {:#x} end_pfn {:#x}\n",
            range.start, range.end
        ));
    }
    // makedumpfile forks one process per file; we write the files on threads, at most one
    // per CPU, each part a serial dump of its pfn range (the parts are independent, so the
    // bytes do not depend on the order or on how many run at once).
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(dumpfiles.len());
    let next_part = AtomicUsize::new(0);
    let combined = CombinedProgress::new(&progress, dumpfiles.len());
    let write_part = |index: usize| -> Result<DumpSummary> {
        let path = &dumpfiles[index];
        let file = create_dump_file(Path::new(path), config.force)?;
        let mut out = FileOutput::new(file, path.as_str());
        let job = combined.job(index);
        write_kdump_from(
            &input,
            &bitmaps,
            &options,
            Some(ranges[index].clone()),
            &mut out,
            &job,
        )
    };
    let results: Vec<(usize, Result<DumpSummary>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    // Relaxed: the counter only hands out distinct part indices; the
                    // parts' data is shared read-only and joined by the scope.
                    loop {
                        let index = next_part.fetch_add(1, Ordering::Relaxed);
                        if index >= dumpfiles.len() {
                            break done;
                        }
                        done.push((index, write_part(index)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut results = results;
    results.sort_by_key(|(index, _)| *index);
    let mut total = DumpSummary::default();
    for (_, summary) in results {
        // The first failing part (in file order) is the error reported.
        let summary = summary?;
        total.max_mapnr = summary.max_mapnr;
        total.memory_holes = summary.memory_holes;
        total.num_dumpable = summary.num_dumpable;
        total.zero_pages += summary.zero_pages;
        total.bytes_written += summary.bytes_written;
    }
    Ok((total, stats))
}

/// Join split files into `dumpfile`.
pub fn run_reassemble(
    config: &Config,
    parts: &[String],
    dumpfile: &str,
    messages: &Messages,
) -> Result<()> {
    let mut parts = open_parts(parts)?;
    check_parts(&mut parts)?;
    check_dump_file(dumpfile, config.force)?;
    let progress = ProgressPrinter::new(*messages);
    let file = create_dump_file(Path::new(dumpfile), config.force)?;
    let mut out = FileOutput::new(file, dumpfile);
    reassemble(&parts, &mut out, &progress)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_message_lists_every_file() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            saved_message(&names),
            "\nThe dumpfiles are saved to a, b, and c.\n"
        );
    }
}
