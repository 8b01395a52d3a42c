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

/// Size of one mmap window. makedumpfile's `MAP_REGION` is 4 MiB; every page touched in a
/// window counts in the resident set until the window is unmapped, and with 8 producers
/// those pages were the largest part of our peak RSS. 2 MiB windows cut `-c -d 1` peak RSS
/// from ~16.5 to 14.9 MB at 8 threads and from 7.2 to 5.3 MB at 1 thread, with no
/// measurable cost in time (session 2, real 1 GiB vmcore; twice the munmaps of 4 MiB).
pub const WINDOW_SIZE: u64 = 2 << 20;

/// Reads shorter than this that fall outside the current window are served by `pread`
/// instead of mapping (and populating) a new window. Page-table entries,
/// mem_section entries and list pointers are 4–16 byte reads scattered over the file: a
/// walk that alternated between windows remapped 4 MiB per entry, and a corrupted
/// NUMBER(SECTION_SIZE_BITS)=12 turned the mem_section walk of the real 1 GiB vmcore into
/// 262144 failing walks of 3 remaps each — minutes instead of a second
/// (tests/corruption.sh). Larger reads use windows where [`MapPolicy`] maps them.
const MIN_MAPPED_READ: usize = 4096;

/// Which reads go through mmap windows rather than `pread`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapPolicy {
    /// `--non-mmap`, or mmap failed once: every read is a `pread`, as makedumpfile's
    /// read(2) fallback.
    Never,
    /// A regular file (a vmcore saved to disk or tmpfs): the dump's page reads are
    /// mapped, everything else (struct page batches, page tables, notes) is `pread`.
    ///
    /// Pages: the first touch of a mapped page faults, but fault-around maps 16 file
    /// pages per fault and the page is then compressed in place, never copied, so a
    /// dense dump is cheaper mapped. Struct page batches (32 KiB, 512 entries) are the
    /// opposite: mem_map is read once, sequentially, in large pieces, where one copy
    /// costs less than the faults, and mapped batches kept whole windows of mem_map
    /// faulting in and out of every producer.
    ///
    /// Where the dump's pages are sparse, a window serves few reads and its mmap, faults,
    /// munmap and (with producer threads) TLB-shootdown IPIs cost more than copying those
    /// pages: page reads then fall back to `pread` until they are dense again
    /// ([`PageDensity`]).
    ///
    /// Measured in alternating pairs (farm-bench; real 1 GiB vmcore in the page cache,
    /// 256 GiB generated machine in tmpfs), each step against the one before:
    /// - mapping everything, as for /proc/vmcore, against pread for everything: 256 GiB
    ///   `-l -d 31` 1.9× slower (11.4 s against 5.9 s; 45 % page-fault handling);
    /// - pages mapped, metadata pread, against pread for everything: real `-l -d 1`
    ///   0.92×, `-l -d 31` 0.90× (8 pairs);
    /// - sparse pages pread, against all pages mapped: 256 GiB `-l -d 31` 0.79× with 2
    ///   threads, 0.96× serially (4 pairs); real `-l -d 1`, `-l -d 31`, `-c -d 31`
    ///   1.00×, 1.00×, 0.99× (8 pairs).
    Pages,
    /// /proc/vmcore (any procfs file): every read of a page or more is mapped, as
    /// makedumpfile does, because mmap maps old memory with one `remap_pfn_range` per
    /// window while read(2) `ioremap`s every page it copies.
    All,
}

impl MapPolicy {
    /// The policy for `file`; `use_mmap = false` is `--non-mmap`.
    pub fn for_file(file: &File, use_mmap: bool) -> MapPolicy {
        if !use_mmap {
            MapPolicy::Never
        } else if is_procfs(file) {
            MapPolicy::All
        } else {
            MapPolicy::Pages
        }
    }
}

/// What a read is for, which decides whether it is mapped ([`MapPolicy`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadKind {
    /// A page that goes into the dump.
    Page,
    /// Anything else: headers, notes, page tables, struct pages, kernel objects.
    Metadata,
}

/// Whether `file` lives on procfs (/proc/vmcore).
fn is_procfs(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    const PROC_SUPER_MAGIC: libc::c_long = 0x9fa0;
    // SAFETY: `struct statfs` is plain integers, for which all-zero bytes are valid.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatfs writes one `struct statfs` into `stat`, which is owned and of that
    // type; the descriptor stays open for as long as `file` is borrowed.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut stat) } != 0 {
        return false;
    }
    #[allow(clippy::unnecessary_cast)] // f_type is i64 on x86_64 glibc, u32/i32 elsewhere
    let kind = stat.f_type as libc::c_long;
    kind == PROC_SUPER_MAGIC
}

/// Page reads a window-sized region of a regular file must see for mapping it to pay:
/// below this, copying the pages with `pread` costs less than the window's mmap, page
/// faults and munmap.
const DENSE_REGION_READS: u32 = 16;

/// How densely one reader's page reads fall in the window-sized regions of a regular
/// file, which decides whether they are mapped ([`MapPolicy::Pages`]). A region is judged
/// when the reads leave it: one that saw fewer than [`DENSE_REGION_READS`] makes the next
/// region's reads preads, and they go back to a window as soon as a region reaches that
/// many. The choice changes only how bytes are read, never which.
#[derive(Debug)]
struct PageDensity {
    /// The region of the last page read (`u64::MAX` before the first).
    region: u64,
    /// Page reads in that region so far.
    reads: u32,
    /// Offset of the last page read: a page that falls back from a borrowed mapping to
    /// an assembled read asks twice and counts once.
    last_offset: u64,
    /// Whether page reads are preads now.
    sparse: bool,
}

impl Default for PageDensity {
    fn default() -> Self {
        PageDensity {
            region: u64::MAX,
            reads: 0,
            last_offset: u64::MAX,
            sparse: false,
        }
    }
}

impl PageDensity {
    /// Count a page read at `offset`; whether it should be mapped.
    fn dense_at(&mut self, offset: u64) -> bool {
        if offset != self.last_offset {
            self.last_offset = offset;
            let region = offset - offset % WINDOW_SIZE;
            if region != self.region {
                if self.region != u64::MAX {
                    self.sparse = self.reads < DENSE_REGION_READS;
                }
                self.region = region;
                self.reads = 0;
            }
            self.reads += 1;
            if self.reads >= DENSE_REGION_READS {
                self.sparse = false;
            }
        }
        !self.sparse
    }
}

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
    policy: MapPolicy,
    density: PageDensity,
    window: Option<(u64, Mmap)>,
    #[cfg(test)]
    windows_mapped: u64,
}

impl WindowReader {
    /// A reader mapping what `policy` says.
    pub fn new(shared: Arc<SharedFile>, policy: MapPolicy) -> Self {
        WindowReader {
            shared,
            policy,
            density: PageDensity::default(),
            window: None,
            #[cfg(test)]
            windows_mapped: 0,
        }
    }

    /// Read exactly `buf.len()` bytes of metadata at file offset `offset`.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.read_for(ReadKind::Metadata, offset, buf)
    }

    /// Read exactly `buf.len()` bytes at file offset `offset`, mapped or not as the
    /// policy says for `kind`.
    pub fn read_for(&mut self, kind: ReadKind, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64).filter(|&end| end <= self.shared.size).ok_or_else(|| {
            Error::invalid(format!(
                "{}: read of {} bytes at offset {:#x} is beyond the end of the file ({} bytes): the file is truncated",
                self.shared.name,
                buf.len(),
                offset,
                self.shared.size
            ))
        })?;
        if self.maps(kind, offset) && (buf.len() >= MIN_MAPPED_READ || self.in_window(offset, end)) {
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

    /// Map the window holding the dump page `[offset, offset + len)`, for
    /// [`WindowReader::mapped_now`]; false when page reads are not mapped, the range is
    /// outside the file, or it crosses a window boundary.
    pub fn map_range(&mut self, offset: u64, len: usize) -> bool {
        let Some(end) = offset
            .checked_add(len as u64)
            .filter(|&end| end <= self.shared.size)
        else {
            return false;
        };
        self.maps(ReadKind::Page, offset) && self.mapped(offset, end).is_some()
    }

    /// Whether a read of `kind` at `offset` goes through a window ([`MapPolicy`]).
    fn maps(&mut self, kind: ReadKind, offset: u64) -> bool {
        match (self.policy, kind) {
            (MapPolicy::Never, _) => false,
            (MapPolicy::All, _) => true,
            (MapPolicy::Pages, ReadKind::Metadata) => false,
            (MapPolicy::Pages, ReadKind::Page) => self.density.dense_at(offset),
        }
    }

    /// `[offset, offset + len)` borrowed from the window mapped now, if it lies there.
    pub fn mapped_now(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let (start, map) = self.window.as_ref()?;
        let from = usize::try_from(offset.checked_sub(*start)?).ok()?;
        map.get(from..from.checked_add(len)?)
    }

    /// Whether `[offset, end)` lies in the window mapped now.
    fn in_window(&self, offset: u64, end: u64) -> bool {
        matches!(&self.window, Some((start, map)) if offset >= *start && end <= start + map.len() as u64)
    }

    /// Number of windows mapped so far (tests check that small reads do not remap).
    #[cfg(test)]
    fn windows_mapped(&self) -> u64 {
        self.windows_mapped
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
            // No MAP_POPULATE: producers claim 64-pfn chunks in turn, so each thread uses
            // a fraction of every window it maps; populating whole windows cost ~4 MiB of
            // RSS per thread (40 MB at --num-threads 8 vs 16 MB without) for no gain in
            // the serial case (-c -d 1: 4.0 s either way on the 1 GiB vmcore).
            // SAFETY: the mapping is read-only and private to this reader. The file is a
            // crash dump that nobody writes while we run (/proc/vmcore cannot be written
            // at all); `len` stays within the size measured at open, and every read is
            // checked against that size first, so no access goes past the mapped length.
            let map = unsafe {
                MmapOptions::new()
                    .offset(start)
                    .len(len)
                    .map(&self.shared.file)
            };
            match map {
                Ok(map) => {
                    self.window = Some((start, map));
                    #[cfg(test)]
                    {
                        self.windows_mapped += 1;
                    }
                }
                Err(_) => {
                    self.policy = MapPolicy::Never;
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

    /// A new file of `len` patterned bytes. Each call gets its own name: tests run in
    /// parallel, and two of the same length once shared one file, which the first to
    /// finish deleted (or the next to start truncated) under the other.
    fn temp_file(len: usize) -> (std::path::PathBuf, Vec<u8>) {
        static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        // Relaxed: the counter only has to hand out distinct numbers.
        let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
        let path = std::env::temp_dir().join(format!("window-test-{}-{n}", std::process::id()));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&data)
            .unwrap();
        (path, data)
    }

    /// Read the page at `at` as a dump page and check it against the file's bytes.
    fn read_page_checked(reader: &mut WindowReader, data: &[u8], at: u64) {
        let mut page = vec![0u8; 4096];
        reader.read_for(ReadKind::Page, at, &mut page).unwrap();
        assert_eq!(page, data[at as usize..at as usize + 4096], "page at {at:#x}");
    }

    fn reader_over(path: &std::path::Path, name: &str, policy: MapPolicy) -> WindowReader {
        let file = File::open(path).unwrap();
        let size = file.metadata().unwrap().len();
        let shared = Arc::new(SharedFile {
            file,
            name: name.into(),
            size,
        });
        WindowReader::new(shared, policy)
    }

    #[test]
    fn mmap_and_pread_agree_across_window_boundaries() {
        let (path, data) = temp_file((WINDOW_SIZE as usize) + 10_000);
        for policy in [MapPolicy::All, MapPolicy::Pages, MapPolicy::Never] {
            let mut reader = reader_over(&path, "t", policy);
            for kind in [ReadKind::Page, ReadKind::Metadata] {
                for (off, len) in [
                    (0usize, 4096usize),
                    (WINDOW_SIZE as usize - 100, 200),
                    (WINDOW_SIZE as usize + 5, 9995),
                ] {
                    let mut buf = vec![0u8; len];
                    reader.read_for(kind, off as u64, &mut buf).unwrap();
                    assert_eq!(buf, &data[off..off + len], "{policy:?} {kind:?}");
                }
            }
        }
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn read_past_end_is_an_error_naming_the_file() {
        let (path, _) = temp_file(5000);
        let mut reader = reader_over(&path, "vmcore-x", MapPolicy::All);
        let mut buf = vec![0u8; 4096];
        let err = reader.read_at(4096, &mut buf).unwrap_err();
        assert!(
            err.to_string().contains("vmcore-x") && err.to_string().contains("truncated"),
            "{err}"
        );
        std::fs::remove_file(path).unwrap();
    }

    /// Regression (tests/corruption.sh, NUMBER(SECTION_SIZE_BITS)=12): small reads that
    /// alternate between distant offsets, as a page-table walk does, must not map a new
    /// 4 MiB window each time; page-sized reads still do.
    #[test]
    fn small_reads_outside_the_window_use_pread_instead_of_remapping() {
        let (path, data) = temp_file(3 * WINDOW_SIZE as usize);
        let mut reader = reader_over(&path, "t", MapPolicy::All);
        let mut entry = [0u8; 8];
        for i in 0..1000usize {
            let off = (i % 3) * WINDOW_SIZE as usize + i * 8;
            reader.read_at(off as u64, &mut entry).unwrap();
            assert_eq!(entry, data[off..off + 8]);
        }
        assert_eq!(reader.windows_mapped(), 0);
        let mut page = vec![0u8; 4096];
        reader.read_at(WINDOW_SIZE + 4096, &mut page).unwrap();
        assert_eq!(
            page,
            data[WINDOW_SIZE as usize + 4096..WINDOW_SIZE as usize + 8192]
        );
        // Small reads inside the mapped window are served from it.
        reader.read_at(WINDOW_SIZE + 100, &mut entry).unwrap();
        assert_eq!(
            entry,
            data[WINDOW_SIZE as usize + 100..WINDOW_SIZE as usize + 108]
        );
        assert_eq!(reader.windows_mapped(), 1);
        std::fs::remove_file(path).unwrap();
    }

    /// On a regular file only the dump's pages are mapped: metadata reads of any size
    /// (struct page batches are 32 KiB) are preads, page reads map windows.
    #[test]
    fn regular_files_map_page_reads_only() {
        let (path, data) = temp_file(3 * WINDOW_SIZE as usize);
        let mut reader = reader_over(&path, "t", MapPolicy::Pages);
        let mut batch = vec![0u8; 32 << 10];
        reader.read_at(WINDOW_SIZE, &mut batch).unwrap();
        assert_eq!(batch, data[WINDOW_SIZE as usize..WINDOW_SIZE as usize + batch.len()]);
        assert_eq!(reader.windows_mapped(), 0);
        read_page_checked(&mut reader, &data, 2 * WINDOW_SIZE);
        assert!(reader.map_range(2 * WINDOW_SIZE + 4096, 4096));
        assert_eq!(reader.windows_mapped(), 1);
        std::fs::remove_file(path).unwrap();
    }

    /// Page reads scattered one per region fall back to pread after the first region;
    /// a region read densely goes back to a window from its DENSE_REGION_READS-th read.
    #[test]
    fn sparse_page_reads_use_pread_and_dense_ones_map_again() {
        let (path, data) = temp_file(8 * WINDOW_SIZE as usize);
        let mut reader = reader_over(&path, "t", MapPolicy::Pages);
        for region in 0..6u64 {
            read_page_checked(&mut reader, &data, region * WINDOW_SIZE + 8192);
        }
        assert_eq!(reader.windows_mapped(), 1, "only the first, unjudged region");
        for n in 0..u64::from(DENSE_REGION_READS) {
            read_page_checked(&mut reader, &data, 7 * WINDOW_SIZE + n * 4096);
        }
        assert_eq!(reader.windows_mapped(), 2, "the dense region maps again");
        std::fs::remove_file(path).unwrap();
    }
}
