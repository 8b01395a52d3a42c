//! Where a dump goes: a regular file written with positioned writes, or a flattened
//! stream on stdout where each positioned write becomes one record, or nowhere
//! (`--dry-run`).
//!
//! Every output honours `-L SIZE` as makedumpfile's `write_and_check_space`: a write that
//! would cross the limit (by file position; by stream position with `-F`) is cut at the
//! limit and fails with [`ErrorKind::NoSpace`], like a full disk. After a failed write,
//! [`DumpOutput::failed_write_prefix`] tells how many of its bytes did reach the output, so
//! the writer can keep exactly the page descriptors whose data is on disk.

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

    /// Bytes handed to the output so far (the report's "Write bytes").
    fn bytes_written(&self) -> u64;

    /// Bytes of the last failed `write_at` that were written before it failed.
    fn failed_write_prefix(&self) -> u64 {
        0
    }

    /// Whether positioned rewrites are possible (false for a stream).
    fn can_rewrite(&self) -> bool {
        true
    }

    /// Whether [`DumpOutput::read_at`] can read back what was written (false for a
    /// stream and for outputs that keep nothing).
    fn can_read_back(&self) -> bool {
        false
    }

    /// Read back `buf.len()` bytes written earlier at `offset`.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let _ = (offset, buf);
        Err(Error::internal("this output cannot be read back"))
    }
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

/// How much of a write of `len` bytes at position `pos` fits under `limit`.
fn allowed(limit: Option<u64>, pos: u64, len: usize) -> usize {
    match limit {
        Some(limit) if pos + len as u64 > limit => limit.saturating_sub(pos) as usize,
        _ => len,
    }
}

fn limit_error(name: &str, limit: u64) -> Error {
    Error::new(
        ErrorKind::NoSpace,
        format!("Can't write the dump file({name}). Size limit({limit}) reached."),
    )
}

/// A regular dump file.
pub struct FileOutput {
    file: File,
    name: String,
    written: u64,
    limit: Option<u64>,
    failed_prefix: u64,
}

impl FileOutput {
    /// Wrap an open file; `name` is used in messages.
    pub fn new(file: File, name: impl Into<String>) -> Self {
        FileOutput {
            file,
            name: name.into(),
            written: 0,
            limit: None,
            failed_prefix: 0,
        }
    }

    /// Apply `-L SIZE`.
    pub fn with_limit(mut self, limit: Option<u64>) -> Self {
        self.limit = limit;
        self
    }

}

impl DumpOutput for FileOutput {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        let allowed = allowed(self.limit, offset, data.len());
        let mut done = 0usize;
        while done < allowed {
            match self
                .file
                .write_at(&data[done..allowed], offset + done as u64)
            {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.written += done as u64;
                    self.failed_prefix = done as u64;
                    return Err(Error::io(
                        ErrorKind::Write,
                        format!("Can't write the dump file({})", self.name),
                        e,
                    ));
                }
            }
        }
        self.written += done as u64;
        if done < data.len() {
            self.failed_prefix = done as u64;
            return Err(match self.limit {
                Some(limit) if allowed < data.len() => limit_error(&self.name, limit),
                _ => Error::new(
                    ErrorKind::Write,
                    format!("Can't write the dump file({}): short write", self.name),
                ),
            });
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        // No fsync, as makedumpfile: every kdump script syncs after the collector
        // (kdump-utils, kdump-tools), so an fsync here would only move that wait into our
        // run. Measured: fsync of a 200 MB dump added 0.3-1.5 s of wall time on this VM.
        Ok(())
    }

    fn bytes_written(&self) -> u64 {
        self.written
    }

    fn failed_write_prefix(&self) -> u64 {
        self.failed_prefix
    }

    fn can_read_back(&self) -> bool {
        true
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.file.read_exact_at(buf, offset).map_err(|e| {
            Error::io(
                ErrorKind::Read,
                format!("Can't read back the dump file({}) at offset {offset:#x}", self.name),
                e,
            )
        })
    }
}

/// A flattened stream (`-F`).
pub struct FlatOutput<W: Write> {
    out: BufWriter<W>,
    written: u64,
    limit: Option<u64>,
}

impl<W: Write> FlatOutput<W> {
    /// Start a stream: writes the header block.
    pub fn new(out: W) -> Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 20, out);
        let header = flat::header_block();
        out.write_all(&header).map_err(stdout_error)?;
        Ok(FlatOutput {
            out,
            written: header.len() as u64,
            limit: None,
        })
    }

    /// Apply `-L SIZE` to the stream length.
    pub fn with_limit(mut self, limit: Option<u64>) -> Self {
        self.limit = limit;
        self
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let allowed = allowed(self.limit, self.written, bytes.len());
        self.out
            .write_all(&bytes[..allowed])
            .map_err(stdout_error)?;
        self.written += allowed as u64;
        match self.limit {
            Some(limit) if allowed < bytes.len() => Err(limit_error("standard output", limit)),
            _ => Ok(()),
        }
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
        self.put(&flat::record_header(offset as i64, data.len() as i64))?;
        self.put(data)
    }

    fn finish(&mut self) -> Result<()> {
        flat::write_end_marker(&mut self.out).map_err(stdout_error)?;
        self.out.flush().map_err(stdout_error)
    }

    fn bytes_written(&self) -> u64 {
        self.written
    }

    fn can_rewrite(&self) -> bool {
        false
    }
}

#[cfg(any(test, feature = "testing"))]
/// An in-memory regular file (tests, fuzzing), optionally size-limited like `-L`.
#[derive(Debug, Default, Clone)]
pub struct MemoryOutput {
    /// The file contents; holes read as zero.
    pub bytes: Vec<u8>,
    /// Optional size limit.
    pub limit: Option<u64>,
    written: u64,
    failed_prefix: u64,
}

#[cfg(any(test, feature = "testing"))]
impl DumpOutput for MemoryOutput {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        let allowed = allowed(self.limit, offset, data.len());
        let end = offset as usize + allowed;
        if self.bytes.len() < end {
            self.bytes.resize(end, 0);
        }
        self.bytes[offset as usize..end].copy_from_slice(&data[..allowed]);
        self.written += allowed as u64;
        match self.limit {
            Some(limit) if allowed < data.len() => {
                self.failed_prefix = allowed as u64;
                Err(limit_error("memory", limit))
            }
            _ => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    fn bytes_written(&self) -> u64 {
        self.written
    }

    fn failed_write_prefix(&self) -> u64 {
        self.failed_prefix
    }

    fn can_read_back(&self) -> bool {
        true
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let range = usize::try_from(offset)
            .ok()
            .and_then(|start| Some(start..start.checked_add(buf.len())?))
            .filter(|range| range.end <= self.bytes.len())
            .ok_or_else(|| Error::internal(format!("read back beyond the memory output at {offset:#x}")))?;
        buf.copy_from_slice(&self.bytes[range]);
        Ok(())
    }
}

/// `--dry-run`: everything is computed, nothing is written; only the byte count is kept.
/// `-L` still applies, to the count (makedumpfile's `write_and_check_space` takes its
/// running `write_bytes` as the position in a dry run), so a dry run tells whether the
/// dump would fit.
#[derive(Debug, Default, Clone)]
pub struct NullOutput {
    written: u64,
    limit: Option<u64>,
    /// The file that a real run would write, for the `-L` message.
    name: String,
}

impl NullOutput {
    /// A dry run of writing `name` (named in the `-L` message).
    pub fn new(name: impl Into<String>) -> Self {
        NullOutput {
            name: name.into(),
            ..Default::default()
        }
    }

    /// Apply `-L SIZE`.
    pub fn with_limit(mut self, limit: Option<u64>) -> Self {
        self.limit = limit;
        self
    }
}

impl DumpOutput for NullOutput {
    fn write_at(&mut self, _offset: u64, data: &[u8]) -> Result<()> {
        let allowed = allowed(self.limit, self.written, data.len());
        self.written += allowed as u64;
        match self.limit {
            Some(limit) if allowed < data.len() => Err(limit_error(&self.name, limit)),
            _ => Ok(()),
        }
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
