//! Where a dump job writes, and the three options that apply to every output alike: `-f`
//! (never overwrite an existing dump without it), `-L SIZE` and `--dry-run`. Every mode
//! opens its outputs here, so no mode can skip one of them (issue 14: `--split` and
//! refiltering ignored `-L`, `-E` and refiltering wrote files under `--dry-run`).

use std::io::Write;
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::format::disk_dump_header::mark_file_incomplete;
use crate::format::output::create_dump_file;
use crate::format::{DumpOutput, FileOutput, FlatOutput, NullOutput};
use crate::progress::{MessageKind, ProgressObserver};

/// Where the dump goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// One file.
    File(String),
    /// A flattened stream on standard output (`-F`).
    Stdout,
    /// `--split`: one file per pfn range, in pfn order (two or more).
    Split(Vec<String>),
}

impl Destination {
    /// The files this destination creates (none for a stream).
    pub fn files(&self) -> &[String] {
        match self {
            Destination::File(path) => std::slice::from_ref(path),
            Destination::Stdout => &[],
            Destination::Split(paths) => paths,
        }
    }
}

/// makedumpfile `check_dump_file`: an existing `path` is an error unless `force` (`-f`),
/// and then it must be writable. Every mode that writes a file (dumps, `-R`,
/// `--reassemble`, `--dump-dmesg`) checks its outputs with this before reading anything.
pub fn check_output(path: &str, force: bool) -> Result<()> {
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

/// The output options every mode honours.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OutputRules {
    /// `-f`.
    pub force: bool,
    /// `-L SIZE` in bytes.
    pub size_limit: Option<u64>,
    /// `--dry-run`.
    pub dry_run: bool,
}

impl OutputRules {
    /// [`check_output`] with `-f`, run before the input is opened so that a refused run
    /// touches nothing. makedumpfile checks in a dry run too (measured with 1.7.2).
    pub(crate) fn check(&self, path: &str) -> Result<()> {
        check_output(path, self.force)
    }

    /// Open `path` (`None`: the flattened stream on stdout) for writing, with `-L`; in a
    /// dry run nothing is opened and only the bytes are counted (against `-L` as well).
    pub(crate) fn open(&self, path: Option<&str>) -> Result<Box<dyn DumpOutput>> {
        if self.dry_run {
            let name = path.unwrap_or("standard output");
            return Ok(Box::new(NullOutput::new(name).with_limit(self.size_limit)));
        }
        Ok(match path {
            Some(path) => {
                let file = create_dump_file(Path::new(path), self.force)?;
                Box::new(FileOutput::new(file, path).with_limit(self.size_limit))
            }
            None => {
                Box::new(FlatOutput::new(std::io::stdout().lock())?.with_limit(self.size_limit))
            }
        })
    }

    /// Write a whole log (`--dump-dmesg`) to `path` or, with `None`, to standard output
    /// (plain text: a log is not a flattened dump), at most `-L` bytes of it, as
    /// makedumpfile's `write_and_check_space`. Returns the bytes written; fewer than the
    /// log's length means the limit cut it. A dry run writes nothing.
    pub(crate) fn write_log(&self, path: Option<&str>, log: &[u8]) -> Result<u64> {
        let limit = self
            .size_limit
            .map_or(log.len(), |l| usize::try_from(l).unwrap_or(usize::MAX));
        let kept = &log[..log.len().min(limit)];
        if self.dry_run {
            return Ok(kept.len() as u64);
        }
        match path {
            Some(path) => {
                let mut file = create_dump_file(Path::new(path), self.force)?;
                file.write_all(kept)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| {
                        Error::io(
                            ErrorKind::Write,
                            format!("Can't write the log file({path})"),
                            e,
                        )
                    })?;
            }
            None => {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(kept)
                    .and_then(|()| stdout.flush())
                    .map_err(|e| {
                        Error::io(
                            ErrorKind::Write,
                            "Can't write the log to standard output",
                            e,
                        )
                    })?;
            }
        }
        Ok(kept.len() as u64)
    }

    /// Set the INCOMPLETE bit in the header of the kdump file at `path`, after a write
    /// to it failed or stopped at `-L` (nothing to do in a dry run).
    pub(crate) fn mark_incomplete(&self, path: &str) -> Result<()> {
        if self.dry_run {
            return Ok(());
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| {
                Error::io(
                    ErrorKind::Write,
                    format!("Can't open the dump file({path})"),
                    e,
                )
            })?;
        mark_file_incomplete(&file, path)
    }

    /// After a copy into the kdump file at `path` (`-R`, `--reassemble`) stopped short:
    /// mark it incomplete and say so, as a dump cut by `-L` says (nothing in a dry run,
    /// or when not even the header reached the file).
    pub(crate) fn flag_cut_copy(&self, path: &str, observer: &dyn ProgressObserver) {
        if !self.dry_run && self.mark_incomplete(path).is_ok() {
            observer.message(
                MessageKind::Common,
                "This is an incomplete dumpfile, but might analyzable.\n",
            );
        }
    }

    /// Before a retry at the next dump level: delete what the failed level wrote
    /// (makedumpfile `delete_dumpfile`).
    pub(crate) fn remove(&self, destination: &Destination) {
        if self.dry_run {
            return;
        }
        for path in destination.files() {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> String {
        std::env::temp_dir()
            .join(format!("mdf-job-output-{}-{name}", std::process::id()))
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn existing_output_is_refused_without_force_even_in_a_dry_run() {
        let path = temp_path("exists");
        std::fs::write(&path, b"precious").unwrap();
        let dry = OutputRules {
            dry_run: true,
            ..Default::default()
        };
        let err = dry.check(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutputExists);
        assert!(err.to_string().contains("File exists"), "{err}");
        let forced = OutputRules {
            force: true,
            ..Default::default()
        };
        forced.check(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_dry_run_creates_nothing_and_counts_against_the_limit() {
        let path = temp_path("dry");
        let rules = OutputRules {
            dry_run: true,
            size_limit: Some(10),
            ..Default::default()
        };
        let mut out = rules.open(Some(&path)).unwrap();
        out.write_at(0, &[1; 8]).unwrap();
        // makedumpfile counts a dry run's bytes in order, whatever their offset.
        let err = out.write_at(0, &[1; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoSpace);
        assert!(err.to_string().contains(&path), "{err}");
        assert_eq!(out.bytes_written(), 10);
        assert!(!Path::new(&path).exists());
        rules.remove(&Destination::File(path.clone()));
    }

    #[test]
    fn the_limit_holds_for_files() {
        let path = temp_path("limited");
        let _ = std::fs::remove_file(&path);
        let rules = OutputRules {
            size_limit: Some(4096),
            ..Default::default()
        };
        let mut out = rules.open(Some(&path)).unwrap();
        out.write_at(0, &[7; 4000]).unwrap();
        assert_eq!(
            out.write_at(4000, &[7; 200]).unwrap_err().kind(),
            ErrorKind::NoSpace
        );
        drop(out);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096);
        rules.remove(&Destination::File(path.clone()));
        assert!(!Path::new(&path).exists());
    }
}

#[cfg(test)]
mod log_tests {
    use super::*;

    #[test]
    fn a_log_is_cut_at_the_limit_and_kept_whole_without_one() {
        let path = std::env::temp_dir()
            .join(format!("mdf-job-log-{}", std::process::id()))
            .to_string_lossy()
            .into_owned();
        let _ = std::fs::remove_file(&path);
        let log = b"<6>Linux version\n<0>Kernel panic\n";
        let limited = OutputRules {
            size_limit: Some(10),
            ..Default::default()
        };
        assert_eq!(limited.write_log(Some(&path), log).unwrap(), 10);
        assert_eq!(std::fs::read(&path).unwrap(), &log[..10]);
        // An existing log is not overwritten without -f.
        assert_eq!(
            OutputRules::default()
                .write_log(Some(&path), log)
                .unwrap_err()
                .kind(),
            ErrorKind::Write
        );
        let forced = OutputRules {
            force: true,
            ..Default::default()
        };
        assert_eq!(
            forced.write_log(Some(&path), log).unwrap(),
            log.len() as u64
        );
        assert_eq!(std::fs::read(&path).unwrap(), log);
        std::fs::remove_file(&path).unwrap();
    }
}
