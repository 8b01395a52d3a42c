//! `--reassemble`: the files of a `--split` set joined into the one dump they were cut
//! from. The output is opened through the job's output rules, so `-f` and `-L` hold here
//! as in every other mode (`-L` was ignored before the dump job); a join stopped short is
//! marked incomplete, like every other kdump file this tool leaves unfinished.

use crate::dump::DumpSummary;
use crate::error::Result;
use crate::format::disk_dump_header::DUMP_DH_COMPRESSED_INCOMPLETE;
use crate::progress::{MessageKind, ProgressObserver};
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
    let num_dumpable = match reassemble(&parts, out.as_mut(), observer) {
        Ok(pages) => pages,
        Err(e) => {
            // The joined header is written last, so a join stopped short has none yet:
            // write the parts' header with the INCOMPLETE bit (makedumpfile writes the
            // header first and leaves it unmarked).
            let mut header = parts[0].dump.header.clone();
            header.status |= DUMP_DH_COMPRESSED_INCOMPLETE;
            let marked = out
                .write_at(0, &header.to_bytes())
                .and_then(|()| out.finish());
            if marked.is_ok() && !job.rules.dry_run {
                observer.message(
                    MessageKind::Common,
                    "This is an incomplete dumpfile, but might analyzable.\n",
                );
            }
            return Err(e);
        }
    };
    let bytes_written = out.bytes_written();
    Ok(JobReport {
        summary: DumpSummary {
            num_dumpable,
            bytes_written,
            ..DumpSummary::default()
        },
        ..JobReport::default()
    })
}
