//! `-R`: a dump file rebuilt from the flattened stream of `-F`, record by record and in
//! stream order (a later record overwrites an earlier one, as makedumpfile's
//! `rearrange_dumpdata`), so the file holds exactly the bytes that were sent. The file is
//! opened through the job's output rules, so `-f`, `-L` and `--dry-run` hold here as in
//! every other mode (they did not before the dump job: `-R -L` wrote everything).

use std::io::Read;

use crate::dump::DumpSummary;
use crate::error::Result;
use crate::format::flat::FlatReader;
use crate::progress::ProgressObserver;

use super::{DumpJob, JobReport};

/// Copy the stream on `input` into the file at `path`.
pub(super) fn write(
    job: &DumpJob,
    input: impl Read,
    path: &str,
    observer: &dyn ProgressObserver,
) -> Result<JobReport> {
    job.rules.check(path)?;
    // The stream's header is read before the file is created, so an empty or foreign
    // stream leaves no file behind (makedumpfile creates an empty one first).
    let mut reader = FlatReader::new(input, "standard input")?;
    let mut out = job.rules.open(Some(path))?;
    let copied = (|| {
        while let Some(record) = reader.next_record()? {
            out.write_at(record.offset, &record.data)?;
        }
        out.finish()
    })();
    if let Err(e) = copied {
        // A stream cut short (or stopped by -L) leaves a file whose header may already
        // say "complete": flag it. makedumpfile leaves such files unmarked.
        drop(out);
        job.rules.flag_cut_copy(path, observer);
        return Err(e);
    }
    Ok(JobReport {
        summary: DumpSummary {
            bytes_written: out.bytes_written(),
            ..DumpSummary::default()
        },
        ..JobReport::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::format::flat::{header_block, record_header, write_end_marker};
    use crate::job::Destination;
    use crate::progress::NoProgress;

    fn temp_path(name: &str) -> String {
        std::env::temp_dir()
            .join(format!("mdf-job-rebuild-{}-{name}", std::process::id()))
            .to_string_lossy()
            .into_owned()
    }

    /// A stream of `records` (offset, bytes), with or without its end marker.
    fn stream(records: &[(i64, &[u8])], ended: bool) -> Vec<u8> {
        let mut bytes = header_block();
        for (offset, data) in records {
            bytes.extend_from_slice(&record_header(*offset, data.len() as i64));
            bytes.extend_from_slice(data);
        }
        if ended {
            write_end_marker(&mut bytes).unwrap();
        }
        bytes
    }

    fn job(path: &str) -> DumpJob {
        DumpJob::rebuild(path)
    }

    #[test]
    fn records_land_at_their_offsets_later_ones_winning() {
        let path = temp_path("order");
        let _ = std::fs::remove_file(&path);
        let bytes = stream(&[(4, b"bbbb"), (0, b"aaaaaa")], true);
        let report = write(&job(&path), bytes.as_slice(), &path, &NoProgress).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"aaaaaabb");
        assert_eq!(report.summary.bytes_written, 10);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn the_limit_and_the_dry_run_hold() {
        let path = temp_path("limit");
        let _ = std::fs::remove_file(&path);
        let bytes = stream(&[(0, &[1; 100]), (100, &[2; 100])], true);
        let limited = job(&path).size_limit(Some(150));
        let err = write(&limited, bytes.as_slice(), &path, &NoProgress).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoSpace);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 150);
        std::fs::remove_file(&path).unwrap();

        let dry = job(&path).dry_run(true);
        write(&dry, bytes.as_slice(), &path, &NoProgress).unwrap();
        assert!(!std::path::Path::new(&path).exists());
    }

    #[test]
    fn an_existing_file_is_kept_without_force() {
        let path = temp_path("exists");
        std::fs::write(&path, b"precious").unwrap();
        let bytes = stream(&[(0, b"new")], true);
        let err = write(&job(&path), bytes.as_slice(), &path, &NoProgress).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutputExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
        write(
            &job(&path).force(true),
            bytes.as_slice(),
            &path,
            &NoProgress,
        )
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_stream_without_its_end_marker_fails() {
        let path = temp_path("cut");
        let _ = std::fs::remove_file(&path);
        let bytes = stream(&[(0, b"abc")], false);
        assert!(write(&job(&path), bytes.as_slice(), &path, &NoProgress).is_err());
        // Too short for a kdump header: nothing to mark, the bytes are kept.
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn only_a_plain_file_can_be_rebuilt() {
        let mut refused = DumpJob::rebuild("x");
        refused.destination = Destination::Stdout;
        assert_eq!(
            refused.run(&NoProgress).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        let levelled = DumpJob::rebuild("x").dump_levels(&[31]);
        assert_eq!(
            levelled.run(&NoProgress).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}
