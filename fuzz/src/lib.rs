//! Shared helpers of the fuzz targets: an input cursor for structured inputs, an
//! in-memory file with a path (the ELF reader opens paths), and pristine synthetic
//! machines that targets corrupt and restore.
//!
//! Every target asserts the engine's trust model: malformed input gives an `Err`, never a
//! panic, a hang or an allocation sized by an unchecked field.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::PathBuf;

/// Reads structured values off the front of a fuzz input; past the end everything reads
/// as zero, so every input is valid and short inputs mean "defaults".
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data }
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// The next little-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// The next little-endian u64.
    pub fn u64(&mut self) -> u64 {
        (self.u32() as u64) | ((self.u32() as u64) << 32)
    }

    /// The next `n` bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// An anonymous in-memory file (memfd) reachable by path through `/proc/self/fd`, so the
/// path-based ELF reader can be fuzzed without touching the disk.
pub struct MemFile {
    file: File,
    path: PathBuf,
}

impl MemFile {
    /// A new empty memfd.
    pub fn new() -> Self {
        // SAFETY: memfd_create takes a NUL-terminated name and flags; it returns a new fd
        // or -1, which is checked before the fd is owned by a File.
        let fd = unsafe { libc::memfd_create(c"fuzz-vmcore".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0, "memfd_create failed");
        // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
        let file = unsafe { File::from_raw_fd(fd) };
        let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        MemFile { file, path }
    }

    /// Replace the contents with `data`.
    pub fn set(&mut self, data: &[u8]) {
        self.file.set_len(0).expect("truncate memfd");
        std::os::unix::fs::FileExt::write_all_at(&self.file, data, 0).expect("write memfd");
        self.file.flush().expect("flush memfd");
    }

    /// Overwrite `data` at `offset` (the size grows if needed).
    pub fn write_at(&self, offset: u64, data: &[u8]) {
        std::os::unix::fs::FileExt::write_all_at(&self.file, data, offset).expect("write memfd");
    }

    /// The path that opens this file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Default for MemFile {
    fn default() -> Self {
        Self::new()
    }
}

/// Byte-level edits of a buffer that can be undone, so a target can corrupt a shared
/// pristine image and restore it instead of cloning megabytes per run.
#[derive(Debug, Default)]
pub struct Patches {
    saved: Vec<(usize, Vec<u8>)>,
}

impl Patches {
    /// Write `data` at `at` (clipped to the buffer), remembering the old bytes.
    pub fn apply(&mut self, buf: &mut [u8], at: usize, data: &[u8]) {
        let Some(end) = at.checked_add(data.len()).map(|e| e.min(buf.len())) else {
            return;
        };
        if at >= end {
            return;
        }
        self.saved.push((at, buf[at..end].to_vec()));
        buf[at..end].copy_from_slice(&data[..end - at]);
    }

    /// Undo every edit, newest first.
    pub fn restore(&mut self, buf: &mut [u8]) {
        while let Some((at, old)) = self.saved.pop() {
            buf[at..at + old.len()].copy_from_slice(&old);
        }
    }
}

/// The page-table targets' oracle: for each address, `vtop` and `vtop_walk` agree (both
/// succeed with the same address and a walk of 1–5 valid entries, or both fail), and the
/// cached [`engine::arch::VirtualReader`] gives what an uncached walk gives.
pub fn check_translations(
    translator: &engine::arch::Translator,
    direct: &mut dyn engine::input::PageReader,
    cached: &mut engine::arch::VirtualReader<'_, '_>,
    vaddrs: &[u64],
) {
    for &vaddr in vaddrs {
        let plain = translator.vtop(direct, vaddr);
        let walk = translator.vtop_walk(direct, vaddr);
        match (&plain, &walk) {
            (Ok(paddr), Ok(walk)) => {
                assert_eq!(*paddr, walk.paddr);
                assert!((1..=5).contains(&walk.steps.len()));
                assert!(walk.steps.iter().all(|s| s.entry & 1 == 1));
            }
            (Err(_), Err(_)) => {}
            _ => panic!("vtop and vtop_walk disagree on {vaddr:#x}: {plain:?} / {walk:?}"),
        }
        match (plain, cached.translate(vaddr)) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "cached translation of {vaddr:#x}"),
            (Err(_), Err(_)) => {}
            (a, b) => {
                panic!("cached and uncached translation disagree on {vaddr:#x}: {a:?} / {b:?}")
            }
        }
    }
}
