//! Reading a kdump-compressed file: headers, both bitmaps, descriptors, page data.
//!
//! Used to check our own output in tests and fuzzing, and the base of refiltering (a
//! kdump file as input). Every field is validated against the file size before use: a
//! hostile file gives an error naming the field, never a panic or an allocation sized by
//! an unchecked field.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::bitmap::Bitmap;
use crate::codec::{Compression, PageCodec};
use crate::error::{Error, ErrorKind, Result};
use crate::format::{
    DiskDumpHeader, KdumpLayout, KdumpSubHeader, PageDesc, DISK_DUMP_HEADER_SIZE,
    KDUMP_SUB_HEADER_SIZE, PAGE_DESC_SIZE,
};

/// Random access to the bytes of a dump (a file, or memory in tests and fuzzing).
pub trait ByteSource {
    /// Total length.
    fn len(&self) -> u64;
    /// Read exactly `buf.len()` bytes at `offset`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()>;
    // Only for clippy::len_without_is_empty, where the type is public (the `testing` API).
    #[cfg(feature = "testing")]
    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ByteSource for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| std::io::ErrorKind::UnexpectedEof)?;
        let src = self
            .get(start..start.saturating_add(buf.len()))
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl ByteSource for File {
    fn len(&self) -> u64 {
        self.metadata().map(|m| m.len()).unwrap_or(0)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.read_exact_at(buf, offset)
    }
}

/// An opened kdump-compressed dump.
pub struct KdumpFile<S: ByteSource> {
    source: S,
    name: String,
    size: u64,
    /// The main header.
    pub header: DiskDumpHeader,
    /// The sub header.
    pub sub_header: KdumpSubHeader,
    /// The layout implied by the headers.
    pub layout: KdumpLayout,
    /// 1st bitmap (RAM).
    pub ram: Bitmap,
    /// 2nd bitmap (dumpable).
    pub dumpable: Bitmap,
    /// The notes blob.
    pub notes: Vec<u8>,
    rank: Vec<u64>,
}

/// Bitmap and note regions are read whole; refuse sizes no real dump has (a 64 TiB
/// machine with 4 KiB pages needs 2 GiB of bitmap per bitmap) before allocating.
const MAX_REGION: u64 = 1 << 31;

impl KdumpFile<File> {
    /// Open a dump file.
    pub fn open(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| {
            Error::io(
                ErrorKind::Read,
                format!("Can't open the dump file({name})"),
                e,
            )
        })?;
        KdumpFile::from_source(file, &name)
    }
}

impl<S: ByteSource> KdumpFile<S> {
    /// Parse and validate the headers and bitmaps of `source`.
    pub fn from_source(source: S, name: &str) -> Result<Self> {
        let size = source.len();
        let read = |offset: u64, len: u64, what: &str| -> Result<Vec<u8>> {
            if len > MAX_REGION || offset.checked_add(len).is_none_or(|end| end > size) {
                return Err(Error::invalid(format!(
                    "{name}: {what} at offset {offset:#x} ({len} bytes) lies beyond the end of the file ({size} bytes)"
                )));
            }
            let mut buf = vec![0u8; len as usize];
            source.read_at(offset, &mut buf).map_err(|e| {
                Error::io(ErrorKind::Read, format!("{name}: Can't read the {what}"), e)
            })?;
            Ok(buf)
        };
        let header = DiskDumpHeader::from_bytes(
            &read(0, DISK_DUMP_HEADER_SIZE as u64, "kdump header")?,
            name,
        )?;
        let block_size = header.block_size as u64;
        let sub_header = KdumpSubHeader::from_bytes(
            &read(block_size, KDUMP_SUB_HEADER_SIZE as u64, "kdump sub header")?,
            name,
        )?;
        let max_mapnr = if header.header_version >= 6 {
            sub_header.max_mapnr_64
        } else {
            header.max_mapnr as u64
        };
        let bitmap_blocks = header.bitmap_blocks as u64;
        if bitmap_blocks % 2 != 0 || bitmap_blocks / 2 * block_size * 8 < max_mapnr {
            return Err(Error::invalid(format!(
                "{name}: bitmap_blocks {bitmap_blocks} cannot hold two bitmaps of max_mapnr {max_mapnr} pfns"
            )));
        }
        let notes = if sub_header.size_note > 0 {
            read(
                sub_header.offset_note,
                sub_header.size_note,
                "ELF notes (offset_note/size_note)",
            )?
        } else {
            Vec::new()
        };
        let mut layout = KdumpLayout {
            block_size,
            sub_hdr_blocks: header.sub_hdr_size as u64,
            bitmap_blocks_each: bitmap_blocks / 2,
            max_mapnr,
            num_dumpable: 0,
        };
        let bitmap_len = layout.bitmap_len();
        let ram = Bitmap::from_bytes(
            &read(layout.offset_bitmap1(), bitmap_len, "1st bitmap")?,
            max_mapnr,
        );
        let dumpable = Bitmap::from_bytes(
            &read(layout.offset_bitmap2(), bitmap_len, "2nd bitmap")?,
            max_mapnr,
        );
        layout.num_dumpable = dumpable.count_ones();
        // rank[i] = number of dumpable pfns below i * 4096 (crash's per-section popcounts).
        let mut rank = Vec::with_capacity((max_mapnr / 4096 + 1) as usize);
        let mut total = 0u64;
        let mut start = 0u64;
        while start < max_mapnr {
            rank.push(total);
            total += dumpable.count_ones_in(start, start + 4096);
            start += 4096;
        }
        Ok(KdumpFile {
            source,
            name: name.to_string(),
            size,
            header,
            sub_header,
            layout,
            ram,
            dumpable,
            notes,
            rank,
        })
    }

    /// The underlying bytes.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The compression named by the header status, if any.
    pub fn compression(&self) -> Compression {
        [
            Compression::Zlib,
            Compression::Lzo,
            Compression::Snappy,
            Compression::Zstd,
        ]
        .into_iter()
        .find(|c| self.header.status & c.flag() != 0)
        .unwrap_or(Compression::None)
    }

    /// The descriptor of a dumpable `pfn`, or `None` when the pfn is not dumpable.
    pub fn page_desc(&self, pfn: u64) -> Result<Option<PageDesc>> {
        if !self.dumpable.get(pfn) {
            return Ok(None);
        }
        let section = (pfn / 4096) as usize;
        let index = self.rank[section] + self.dumpable.count_ones_in(section as u64 * 4096, pfn);
        let offset = self.layout.offset_desc() + index * PAGE_DESC_SIZE as u64;
        let mut raw = [0u8; PAGE_DESC_SIZE];
        if offset + PAGE_DESC_SIZE as u64 > self.size {
            return Err(Error::invalid(format!(
                "{}: page descriptor of pfn {pfn:#x} is beyond the end of the file",
                self.name
            )));
        }
        self.source.read_at(offset, &mut raw).map_err(|e| {
            Error::io(
                ErrorKind::Read,
                format!(
                    "{}: Can't read the page descriptor of pfn {pfn:#x}",
                    self.name
                ),
                e,
            )
        })?;
        Ok(Some(PageDesc::from_bytes(&raw)))
    }

    /// Read and decode page `pfn` into `out` (one block). `codec` must match the page's
    /// flag; pass the result of [`Compression::new_codec`] for [`Self::compression`].
    pub fn read_page(
        &self,
        pfn: u64,
        out: &mut [u8],
        codec: Option<&mut (dyn PageCodec + '_)>,
    ) -> Result<bool> {
        let Some(desc) = self.page_desc(pfn)? else {
            return Ok(false);
        };
        let block = self.layout.block_size;
        if desc.offset <= 0 {
            return Err(Error::invalid(format!(
                "{}: pfn {pfn:#x} has descriptor offset 0: page lost (incomplete dump)",
                self.name
            )));
        }
        if desc.size as u64 > block
            || (desc.offset as u64)
                .checked_add(desc.size as u64)
                .is_none_or(|e| e > self.size)
        {
            return Err(Error::invalid(format!(
                "{}: pfn {pfn:#x}: descriptor (offset {:#x}, size {}) is invalid",
                self.name, desc.offset, desc.size
            )));
        }
        let mut data = vec![0u8; desc.size as usize];
        self.source
            .read_at(desc.offset as u64, &mut data)
            .map_err(|e| {
                Error::io(
                    ErrorKind::Read,
                    format!("{}: Can't read page data of pfn {pfn:#x}", self.name),
                    e,
                )
            })?;
        if desc.flags == 0 {
            if desc.size as u64 != block {
                return Err(Error::invalid(format!(
                    "{}: pfn {pfn:#x}: raw page of size {}",
                    self.name, desc.size
                )));
            }
            out.copy_from_slice(&data);
            return Ok(true);
        }
        let codec = codec
            .filter(|c| c.compression().flag() == desc.flags)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{}: pfn {pfn:#x}: page flags {:#x} do not match the dump's compression",
                    self.name, desc.flags
                ))
            })?;
        codec
            .decompress(&data, out)
            .map_err(|e| e.context(format!("{}: pfn {pfn:#x}", self.name)))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::{write_kdump, DumpBitmaps, DumpOptions};
    use crate::format::MemoryOutput;
    use crate::input::elf::ElfVmcore;
    use crate::synthetic::SyntheticVmcore;

    #[test]
    fn every_codec_round_trips_through_writer_and_reader() {
        let synthetic = SyntheticVmcore::mixed(7);
        let path = std::env::temp_dir().join(format!("kdump-reader-test-{}", std::process::id()));
        std::fs::write(&path, synthetic.to_bytes()).unwrap();
        let vmcore = ElfVmcore::open(&path, true).unwrap();
        let bitmaps =
            DumpBitmaps::unfiltered(&vmcore, crate::input::PhysicalMemory::max_mapnr(&vmcore))
                .unwrap();
        for compression in [
            Compression::None,
            Compression::Zlib,
            Compression::Lzo,
            Compression::Snappy,
            Compression::Zstd,
        ] {
            for dump_level in [0, 1] {
                let mut out = MemoryOutput::default();
                let options = DumpOptions {
                    compression,
                    dump_level,
                    ..Default::default()
                };
                write_kdump(
                    &vmcore,
                    &bitmaps,
                    &options,
                    &mut out,
                    &crate::progress::NoProgress,
                )
                .unwrap();
                let dump = KdumpFile::from_source(&out.bytes[..], "mem").unwrap();
                assert_eq!(dump.compression(), compression);
                assert_eq!(dump.dumpable, bitmaps.dumpable);
                let mut codec = compression.new_codec().unwrap();
                let mut page = vec![0u8; 4096];
                for pfn in bitmaps.dumpable.iter_set(0, bitmaps.dumpable.len()) {
                    assert!(dump
                        .read_page(pfn, &mut page, codec.as_deref_mut())
                        .unwrap());
                    assert_eq!(
                        page,
                        synthetic.page(pfn),
                        "{} -d {dump_level} pfn {pfn}",
                        compression.name()
                    );
                }
            }
        }
        std::fs::remove_file(path).unwrap();
    }
}
