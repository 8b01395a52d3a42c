//! Where a dump goes: a regular file written with positioned writes, or a flattened
//! stream on stdout where each positioned write becomes one record.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use super::flat;
use crate::error::{Error, ErrorKind, Result};

/// A sink for positioned writes.
pub trait DumpOutput {
    /// Write `data` at `offset` of the (equivalent) regular file.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()>;

    /// Make everything durable / terminate the stream.
    fn finish(&mut self) -> Result<()>;

    /// Bytes handed to `write_at` so far (the report's "Write bytes").
    fn bytes_written(&self) -> u64;
}

/// Open the dump file as makedumpfile: created, and with `O_EXCL` unless `force` (`-f`)
/// so an existing dump is never overwritten by accident.
pub fn create_dump_file(path: &Path, force: bool) -> Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).mode(0o600);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    options.open(path).map_err(|e| {
        Error::io(
            ErrorKind::Write,
            format!("Can't open the dump file({})", path.display()),
            e,
        )
    })
}

/// A regular dump file.
pub struct FileOutput {
    file: File,
    name: String,
    written: u64,
}

impl FileOutput {
    /// Wrap an open file; `name` is used in messages.
    pub fn new(file: File, name: impl Into<String>) -> Self {
        FileOutput {
            file,
            name: name.into(),
            written: 0,
        }
    }

    /// The underlying file (e.g. to truncate or reopen).
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl DumpOutput for FileOutput {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        self.file.write_all_at(data, offset).map_err(|e| {
            Error::io(
                ErrorKind::Write,
                format!(
                    "Can't write the dump file({}) at offset {offset:#x}",
                    self.name
                ),
                e,
            )
        })?;
        self.written += data.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        // fsync: after a crash the dump is often the only copy of what happened, and the
        // capture kernel reboots right after we exit.
        self.file.sync_all().map_err(|e| {
            Error::io(
                ErrorKind::Write,
                format!("Can't sync the dump file({})", self.name),
                e,
            )
        })
    }

    fn bytes_written(&self) -> u64 {
        self.written
    }
}

/// A flattened stream (`-F`).
pub struct FlatOutput<W: Write> {
    out: BufWriter<W>,
    written: u64,
}

impl<W: Write> FlatOutput<W> {
    /// Start a stream: writes the header block.
    pub fn new(out: W) -> Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 20, out);
        out.write_all(&flat::header_block()).map_err(stdout_error)?;
        Ok(FlatOutput { out, written: 0 })
    }
}

fn stdout_error(e: std::io::Error) -> Error {
    Error::io(
        ErrorKind::Write,
        "Can't write the flattened dump to standard output",
        e,
    )
}

impl<W: Write> DumpOutput for FlatOutput<W> {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        self.out
            .write_all(&flat::record_header(offset as i64, data.len() as i64))
            .map_err(stdout_error)?;
        self.out.write_all(data).map_err(stdout_error)?;
        self.written += data.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        flat::write_end_marker(&mut self.out).map_err(stdout_error)?;
        self.out.flush().map_err(stdout_error)
    }

    fn bytes_written(&self) -> u64 {
        self.written
    }
}

/// An in-memory regular file (tests, fuzzing, `--dry-run` accounting).
#[derive(Debug, Default, Clone)]
pub struct MemoryOutput {
    /// The file contents; holes read as zero.
    pub bytes: Vec<u8>,
    written: u64,
}

impl DumpOutput for MemoryOutput {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        let end = offset as usize + data.len();
        if self.bytes.len() < end {
            self.bytes.resize(end, 0);
        }
        self.bytes[offset as usize..end].copy_from_slice(data);
        self.written += data.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    fn bytes_written(&self) -> u64 {
        self.written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_file_is_refused_without_force() {
        let path = std::env::temp_dir().join(format!("mdf-output-test-{}", std::process::id()));
        std::fs::write(&path, b"precious").unwrap();
        let err = create_dump_file(&path, false).unwrap_err();
        assert!(err.to_string().contains("File exists"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
        drop(create_dump_file(&path, true).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn flattened_stream_reassembles_to_the_same_bytes() {
        let mut direct = MemoryOutput::default();
        let mut stream = Vec::new();
        {
            let mut flat_out = FlatOutput::new(&mut stream).unwrap();
            for (off, data) in [(8192u64, &b"page"[..]), (0, b"KDUMP   "), (4096, b"sub")] {
                direct.write_at(off, data).unwrap();
                flat_out.write_at(off, data).unwrap();
            }
            flat_out.finish().unwrap();
        }
        let mut rebuilt = MemoryOutput::default();
        let mut reader = flat::FlatReader::new(&stream[..], "stream").unwrap();
        while let Some(r) = reader.next_record().unwrap() {
            rebuilt.write_at(r.offset, &r.data).unwrap();
        }
        assert_eq!(rebuilt.bytes, direct.bytes);
    }
}
