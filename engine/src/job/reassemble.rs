//! `--reassemble`: the files of a `--split` set joined into the one dump they were cut
//! from. The output is opened through the job's output rules, so `-f` and `-L` hold here
//! as in every other mode (`-L` was ignored before the dump job); a join stopped short is
//! marked incomplete (`split::reassemble` writes the headers that way until it is done).

use crate::dump::DumpSummary;
use crate::error::Result;
use crate::progress::ProgressObserver;
use crate::split::{check_parts, open_parts, reassemble};

use super::{DumpJob, JobReport};

/// Join `parts` (in any order) into the file at `path`.
pub(super) fn write(
    job: &DumpJob,
    parts: &[String],
    path: &str,
    observer: &dyn ProgressObserver,
) -> Result<JobReport> {
    // makedumpfile checks the output before it reads a part: a refused run reads nothing.
    job.rules.check(path)?;
    let mut parts = open_parts(parts)?;
    check_parts(&mut parts)?;
    let mut out = job.rules.open(Some(path))?;
    let cache_size = (parts[0].dump.layout.block_size as usize) << job.block_order;
    let joined = reassemble(&parts, out.as_mut(), cache_size, observer);
    let bytes_written = out.bytes_written();
    drop(out);
    let num_dumpable = match joined {
        Ok(pages) => pages,
        Err(e) => {
            // The header written first already says INCOMPLETE; this confirms there is
            // one to say it (none at all if -L cut even the header).
            job.rules.flag_cut_copy(path, observer);
            return Err(e);
        }
    };
    Ok(JobReport {
        summary: DumpSummary {
            num_dumpable,
            bytes_written,
            ..DumpSummary::default()
        },
        ..JobReport::default()
    })
}
