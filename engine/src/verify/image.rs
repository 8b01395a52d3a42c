//! The bytes of a dump at rest, as the kdump reader sees them: a plain file, or a
//! flattened stream (`-F` output saved to a file) indexed record by record.
//!
//! A flattened stream is not rebuilt into a scratch file (that would double the disk
//! space and the time): its record headers are walked once, skipping the data, into an
//! index of which stream bytes land at which offset of the regular file. Records are
//! applied in stream order, so a later record overwrites an earlier one, as `-R`
//! (makedumpfile `rearrange_dumpdata`) does; bytes no record covers read as zeros, as
//! the holes of a rebuilt file would.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use super::fault::Fault;
use crate::format::flat::{FlatReader, FLAT_HEADER_BLOCK, FLAT_RECORD_HEADER, MAX_FLAT_RECORD};
use crate::input::kdump::ByteSource;

/// A dump's bytes, whatever form they are stored in.
pub(crate) enum DumpImage {
    /// A regular file.
    Plain {
        /// The file.
        file: File,
        /// Its length when opened.
        len: u64,
    },
    /// A flattened stream and the index of its records.
    Flattened(FlatIndex),
}

impl DumpImage {
    /// A regular file of `len` bytes.
    pub(crate) fn plain(file: File, len: u64) -> Self {
        DumpImage::Plain { file, len }
    }

    /// Whether the bytes come from a flattened stream.
    pub(crate) fn is_flattened(&self) -> bool {
        matches!(self, DumpImage::Flattened(_))
    }

    /// `[offset, offset + len)` of a regular file mapped read-only, or `None` (a
    /// flattened stream, a range past the end, or mmap failed: the caller reads instead).
    ///
    /// Reading a chunk's page data with pread copied it out of the page cache: a fifth
    /// of a `-l -d 31` verify (perf, real cloud-1g vmcore). Mapped, the pages are decoded
    /// where they lie. The map covers one chunk's data (at most `MAX_SPAN`) and is
    /// unmapped with it, so the resident set stays that of one chunk per thread.
    pub(crate) fn map(&self, offset: u64, len: usize) -> Option<MappedRange> {
        let DumpImage::Plain {
            file,
            len: file_len,
        } = self
        else {
            return None;
        };
        offset
            .checked_add(len as u64)
            .filter(|&end| end <= *file_len)?;
        // memmap2 maps from the page below `offset` and hands out the bytes from `offset`.
        // SAFETY: a read-only private mapping of a range inside the length measured at
        // open. The dump is at rest or was just written by us; a file truncated under
        // a running verify would fault (SIGBUS) here where pread would report a short
        // read: the same trade as makedumpfile's mapped reads of its input.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(len)
                .map(file)
        }
        .ok()?;
        Some(MappedRange(map))
    }
}

/// A range of a dump mapped by [`DumpImage::map`].
pub(crate) struct MappedRange(memmap2::Mmap);

impl MappedRange {
    /// The range's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl ByteSource for DumpImage {
    fn len(&self) -> u64 {
        match self {
            DumpImage::Plain { len, .. } => *len,
            DumpImage::Flattened(index) => index.len,
        }
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        match self {
            DumpImage::Plain { file, .. } => file.read_exact_at(buf, offset),
            DumpImage::Flattened(index) => index.read_at(offset, buf),
        }
    }
}

/// Where the bytes of each extent of the regular file lie in the stream.
pub(crate) struct FlatIndex {
    stream: File,
    /// Disjoint extents keyed by their start offset in the regular file:
    /// `(end, position of the start's byte in the stream)`.
    extents: BTreeMap<u64, (u64, u64)>,
    /// Length of the regular file: the end of the farthest record.
    len: u64,
    /// Number of records.
    pub(crate) records: u64,
}

impl FlatIndex {
    /// Walk the records of the stream `stream` (named `name`, `stream_len` bytes long).
    pub(crate) fn build(stream: File, stream_len: u64, name: &str) -> Result<Self, Fault> {
        FlatReader::new(&stream, name)
            .map_err(|e| Fault::from_error(name, "flattened header", &e).at_offset(0))?;
        let mut index = FlatIndex {
            stream,
            extents: BTreeMap::new(),
            len: 0,
            records: 0,
        };
        let mut pos = FLAT_HEADER_BLOCK as u64;
        loop {
            let mut header = [0u8; FLAT_RECORD_HEADER];
            if pos + FLAT_RECORD_HEADER as u64 > stream_len {
                return Err(Fault::new(
                    name,
                    "flattened record header",
                    format!(
                        "the stream ends ({stream_len} bytes) before its end marker: it was cut short"
                    ),
                )
                .at_offset(pos));
            }
            index
                .stream
                .read_exact_at(&mut header, pos)
                .map_err(|e| Fault::io(name, "flattened record header", &e).at_offset(pos))?;
            let offset = i64::from_be_bytes(header[..8].try_into().expect("8 bytes"));
            let size = i64::from_be_bytes(header[8..].try_into().expect("8 bytes"));
            if offset == -1 && size == -1 {
                return Ok(index);
            }
            let data = pos + FLAT_RECORD_HEADER as u64;
            if offset < 0 || !(0..=MAX_FLAT_RECORD).contains(&size) {
                return Err(Fault::new(
                    name,
                    "flattened record header",
                    format!("offset {offset} and buf_size {size} are not a record"),
                )
                .at_offset(pos));
            }
            if data + size as u64 > stream_len {
                return Err(Fault::new(
                    name,
                    "flattened record",
                    format!(
                        "{size} bytes for offset {offset:#x} run past the end of the stream ({stream_len} bytes): it was cut short"
                    ),
                )
                .at_offset(pos));
            }
            index.insert(offset as u64, offset as u64 + size as u64, data);
            index.records += 1;
            pos = data + size as u64;
        }
    }

    /// Record `[start, end)` at stream position `pos`, over whatever earlier records
    /// put there.
    fn insert(&mut self, start: u64, end: u64, pos: u64) {
        if start == end {
            return;
        }
        self.len = self.len.max(end);
        // The extents are disjoint and sorted, so their ends are sorted too: walking back
        // from the last one starting before `end`, the overlap stops at the first one
        // ending at or before `start`.
        let overlapping: Vec<(u64, (u64, u64))> = self
            .extents
            .range(..end)
            .rev()
            .take_while(|(_, (old_end, _))| *old_end > start)
            .map(|(k, v)| (*k, *v))
            .collect();
        for (old_start, (old_end, old_pos)) in overlapping {
            self.extents.remove(&old_start);
            if old_start < start {
                self.extents.insert(old_start, (start, old_pos));
            }
            if old_end > end {
                self.extents
                    .insert(end, (old_end, old_pos + (end - old_start)));
            }
        }
        self.extents.insert(start, (end, pos));
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&end| end <= self.len)
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.fill(0);
        let first = self
            .extents
            .range(..=offset)
            .next_back()
            .map_or(offset, |(start, _)| *start);
        for (&start, &(extent_end, pos)) in self.extents.range(first..end) {
            let from = start.max(offset);
            let to = extent_end.min(end);
            if from >= to {
                continue;
            }
            let dst = &mut buf[(from - offset) as usize..(to - offset) as usize];
            self.stream.read_exact_at(dst, pos + (from - start))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::flat::stream_of;

    fn stream_file(records: &[(i64, &[u8])], ended: bool, tag: &str) -> (File, u64) {
        let bytes = stream_of(records, ended);
        let path =
            std::env::temp_dir().join(format!("mdf-verify-flat-{}-{tag}", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        (file, bytes.len() as u64)
    }

    #[test]
    fn later_records_win_and_holes_read_as_zero() {
        let (file, len) = stream_file(
            &[(0, b"aaaaaaaa"), (2, b"bb"), (12, b"cc"), (6, b"dddd")],
            true,
            "overlap",
        );
        let index = FlatIndex::build(file, len, "s").unwrap();
        let image = DumpImage::Flattened(index);
        assert_eq!(image.len(), 14);
        let mut buf = [0xffu8; 14];
        image.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"aabbaadddd\0\0cc");
        let mut tail = [0u8; 3];
        image.read_at(9, &mut tail).unwrap();
        assert_eq!(&tail, b"d\0\0");
        assert!(image.read_at(13, &mut tail).is_err());
    }

    #[test]
    fn a_cut_stream_is_a_fault_naming_the_record() {
        let (file, len) = stream_file(&[(0, b"abc")], false, "cut");
        let fault = FlatIndex::build(file, len, "s").err().unwrap();
        assert_eq!(fault.field, "flattened record header");
        assert!(fault.detail.contains("cut short"), "{fault}");
        let (file, len) = stream_file(&[(-5, b"abc")], true, "negative");
        assert!(FlatIndex::build(file, len, "s").is_err());
    }
}
