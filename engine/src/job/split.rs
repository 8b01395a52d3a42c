//! The `--split` mode: one dump in several kdump files, each holding the pages of one pfn
//! range (makedumpfile `writeout_multiple_dumpfiles`). makedumpfile forks one process per
//! file; we write the files on threads, at most one per CPU, each part a serial dump of its
//! range: the parts are independent, so their bytes depend neither on the order nor on how
//! many run at once.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::dump::{write_kdump_from, DumpInput, DumpSummary};
use crate::error::{ErrorKind, Result};
use crate::progress::{CombinedProgress, MessageKind, ProgressObserver};
use crate::split::{pages_per_splitblock, split_ranges};

use super::bitmaps;
use super::input::JobInput;
use super::{DumpJob, JobReport};

/// Write `paths`, the parts of `source` at `requested_level`.
pub(super) fn write(
    job: &DumpJob,
    source: &JobInput,
    requested_level: u8,
    paths: &[String],
    observer: &dyn ProgressObserver,
) -> Result<JobReport> {
    let level = bitmaps::at_level(source, job.input_name(), requested_level, observer)?;
    let input = match source {
        JobInput::Elf(vmcore) => DumpInput::from_elf(vmcore)?,
        JobInput::Dump(memory) => DumpInput::from_kdump(memory),
    };
    let per_block = pages_per_splitblock(job.splitblock_kib, source.page_size())?;
    let ranges = split_ranges(&level.bitmaps.dumpable, paths.len(), per_block);
    // makedumpfile refuses --num-threads with --split: each part is serial.
    let options = job.dump_options(level.dump_level, 0);
    for (path, range) in paths.iter().zip(&ranges) {
        observer.message(
            MessageKind::Debug,
            &format!(
                "{path}: start_pfn {:#x} end_pfn {:#x}\n",
                range.start, range.end
            ),
        );
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(paths.len());
    let next_part = AtomicUsize::new(0);
    let combined = CombinedProgress::new(observer, paths.len());
    let write_part = |index: usize| -> Result<DumpSummary> {
        let mut out = job.rules.open(Some(&paths[index]))?;
        write_kdump_from(
            &input,
            &level.bitmaps,
            &options,
            Some(ranges[index].clone()),
            out.as_mut(),
            &combined.job(index),
        )
    };
    let mut results: Vec<(usize, Result<DumpSummary>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    // Relaxed: the counter only hands out distinct part indices; the
                    // parts' data is shared read-only and joined by the scope.
                    loop {
                        let index = next_part.fetch_add(1, Ordering::Relaxed);
                        if index >= paths.len() {
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
    results.sort_by_key(|(index, _)| *index);
    let out_of_space = results
        .iter()
        .any(|(_, r)| matches!(r, Err(e) if e.kind() == ErrorKind::NoSpace));
    if out_of_space {
        // makedumpfile `check_and_modify_multiple_kdump_headers`: when one part runs out
        // of space the set is incomplete, so every part that was written says so.
        for ((_, result), path) in results.iter().zip(paths) {
            if result.is_ok() {
                job.rules.mark_incomplete(path)?;
            }
        }
    }
    let mut total = DumpSummary::default();
    for (_, summary) in results {
        // The first failing part (in file order) is the error reported.
        let summary = summary?;
        total.max_mapnr = summary.max_mapnr;
        total.memory_holes = summary.memory_holes;
        total.num_dumpable = summary.num_dumpable;
        total.page_size = summary.page_size;
        total.zero_pages += summary.zero_pages;
        total.bytes_written += summary.bytes_written;
        total.counting_time = total.counting_time.max(summary.counting_time);
        total.writing_time = total.writing_time.max(summary.writing_time);
    }
    Ok(JobReport {
        summary: total,
        stats: level.stats,
        dump_level: level.dump_level,
        plan: None,
        verify: None,
    })
}
