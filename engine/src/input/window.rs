//! Reading a large file through mmap windows, with a `pread` fallback.
//!
//! makedumpfile reads /proc/vmcore through 4 MiB mmap windows (faster than read(2) since
//! the kernel maps old memory directly) and falls back to read(2) when mmap fails or with
//! `--non-mmap`. Windows, not one whole-file map, keep the resident set small: a mapped
//! regular file counts in RSS for every page touched, and the target is a capture kernel
//! with ~200 MB of RAM.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use memmap2::{Mmap, MmapOptions};

use crate::error::{Error, ErrorKind, Result};

/// Size of one mmap window (makedumpfile's `MAP_REGION`).
pub const WINDOW_SIZE: u64 = 4 << 20;

/// A file plus its name and size, shared by every reader.
#[derive(Debug)]
pub struct SharedFile {
    /// The open file.
    pub file: File,
    /// Name used in error messages.
    pub name: String,
    /// Size in bytes at open time; reads beyond it are errors, never a SIGBUS.
    pub size: u64,
}

/// One thread's windowed reader over a [`SharedFile`].
pub struct WindowReader {
    shared: Arc<SharedFile>,
    use_mmap: bool,
    window: Option<(u64, Mmap)>,
}

impl WindowReader {
    /// A reader; `use_mmap = false` is `--non-mmap`.
    pub fn new(shared: Arc<SharedFile>, use_mmap: bool) -> Self {
        WindowReader {
            shared,
            use_mmap,
            window: None,
        }
    }

    /// Whether this reader still maps windows (it stops after the first mmap failure).
    pub fn uses_mmap(&self) -> bool {
        self.use_mmap
    }

    /// Read exactly `buf.len()` bytes at file offset `offset`.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64).filter(|&end| end <= self.shared.size).ok_or_else(|| {
            Error::invalid(format!(
                "{}: read of {} bytes at offset {:#x} is beyond the end of the file ({} bytes): the file is truncated",
                self.shared.name,
                buf.len(),
                offset,
                self.shared.size
            ))
        })?;
        if self.use_mmap {
            if let Some(data) = self.mapped(offset, end) {
                buf.copy_from_slice(data);
                return Ok(());
            }
        }
        self.shared.file.read_exact_at(buf, offset).map_err(|e| {
            Error::io(
                ErrorKind::Read,
                format!(
                    "Can't read the dump memory({}) at offset {:#x}",
                    self.shared.name, offset
                ),
                e,
            )
        })
    }

    /// The bytes `[offset, end)` from a window, mapping a new one when needed; `None`
    /// when the range crosses a window boundary (the caller preads) or mmap fails (the
    /// reader then stays on pread, as makedumpfile does).
    fn mapped(&mut self, offset: u64, end: u64) -> Option<&[u8]> {
        let start = offset - offset % WINDOW_SIZE;
        if end > start + WINDOW_SIZE {
            return None;
        }
        let current = matches!(&self.window, Some((s, _)) if *s == start);
        if !current {
            self.window = None;
            let len = WINDOW_SIZE.min(self.shared.size - start) as usize;
            // SAFETY: the mapping is read-only and private to this reader. The file is a
            // crash dump that nobody writes while we run (/proc/vmcore cannot be written
            // at all); `len` stays within the size measured at open, and every read is
            // checked against that size first, so no access goes past the mapped length.
            let map = unsafe {
                MmapOptions::new()
                    .offset(start)
                    .len(len)
                    .populate()
                    .map(&self.shared.file)
            };
            match map {
                Ok(map) => self.window = Some((start, map)),
                Err(_) => {
                    self.use_mmap = false;
                    return None;
                }
            }
        }
        let (start, map) = self.window.as_ref()?;
        map.get((offset - start) as usize..(end - start) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_file(len: usize) -> (std::path::PathBuf, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
        let path = std::env::temp_dir().join(format!("window-test-{}-{len}", std::process::id()));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&data)
            .unwrap();
        (path, data)
    }

    #[test]
    fn mmap_and_pread_agree_across_window_boundaries() {
        let (path, data) = temp_file((WINDOW_SIZE as usize) + 10_000);
        for use_mmap in [true, false] {
            let file = File::open(&path).unwrap();
            let shared = Arc::new(SharedFile {
                file,
                name: "t".into(),
                size: data.len() as u64,
            });
            let mut reader = WindowReader::new(shared, use_mmap);
            for (off, len) in [
                (0usize, 4096usize),
                (WINDOW_SIZE as usize - 100, 200),
                (WINDOW_SIZE as usize + 5, 9995),
            ] {
                let mut buf = vec![0u8; len];
                reader.read_at(off as u64, &mut buf).unwrap();
                assert_eq!(buf, &data[off..off + len]);
            }
        }
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn read_past_end_is_an_error_naming_the_file() {
        let (path, data) = temp_file(5000);
        let file = File::open(&path).unwrap();
        let shared = Arc::new(SharedFile {
            file,
            name: "vmcore-x".into(),
            size: data.len() as u64,
        });
        let mut reader = WindowReader::new(shared, true);
        let mut buf = vec![0u8; 4096];
        let err = reader.read_at(4096, &mut buf).unwrap_err();
        assert!(
            err.to_string().contains("vmcore-x") && err.to_string().contains("truncated"),
            "{err}"
        );
        std::fs::remove_file(path).unwrap();
    }
}
