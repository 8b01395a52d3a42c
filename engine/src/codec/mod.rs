//! Per-page codecs behind one small trait.
//!
//! makedumpfile compresses every page on its own (no shared dictionary), so a reader can
//! decode any page alone. Each worker owns one [`PageCodec`] (its reusable context:
//! z_stream, zstd CCtx, LZO hash table, scratch buffers), so nothing is allocated per
//! page.
//!
//! The raw-fallback rule is makedumpfile's (`write_kdump_pages_cyclic`): a page is stored
//! compressed only when the compressed form is strictly shorter than the page. Codecs are
//! therefore handed an output buffer of `page_size - 1` bytes: anything that does not fit
//! would have been stored raw anyway, and the codec can stop early.

mod deflate;
mod lz4;
mod lzo;
mod lzo1x_1;
mod lzo1x_decode;
mod snappy;
mod zlib;
mod zstd;

use crate::error::Result;

#[cfg(feature = "testing")]
pub use self::deflate::{ZlibLevel1, MAX_INPUT as ZLIB_LEVEL1_MAX_INPUT};
pub use self::lz4::Lz4Codec;
pub use self::lzo::LzoCodec;
pub use self::snappy::SnappyCodec;
pub use self::zlib::ZlibCodec;
pub use self::zstd::ZstdCodec;

/// `page_desc.flags` / header status bit for zlib (`DUMP_DH_COMPRESSED_ZLIB`).
pub const DUMP_DH_COMPRESSED_ZLIB: u32 = 0x1;
/// LZO1X-1 (`DUMP_DH_COMPRESSED_LZO`).
pub const DUMP_DH_COMPRESSED_LZO: u32 = 0x2;
/// snappy raw block (`DUMP_DH_COMPRESSED_SNAPPY`).
pub const DUMP_DH_COMPRESSED_SNAPPY: u32 = 0x4;
/// zstd frame (`DUMP_DH_COMPRESSED_ZSTD`).
pub const DUMP_DH_COMPRESSED_ZSTD: u32 = 0x20;
/// lz4 block: NOT a kdump format (no reader decodes it). It exists for the benchmark
/// suite, where the cheapest codec exposes the pipeline's coordination overhead. The
/// writer refuses it.
pub const BENCH_ONLY_LZ4: u32 = 0x8000_0000;

/// Which per-page compression to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Store every page raw (no `-c/-l/-p/-z`).
    None,
    /// `-c`: zlib stream, level 1.
    Zlib,
    /// `-l`: LZO1X-1.
    Lzo,
    /// `-p`: snappy raw block.
    Snappy,
    /// `-z`: zstd frame, level 1.
    Zstd,
    /// Benchmarks only: lz4 block (lz4_flex).
    Lz4,
}

impl Compression {
    /// Every compression, in the order benchmarks report them.
    pub const ALL: [Compression; 6] = [
        Compression::None,
        Compression::Lz4,
        Compression::Lzo,
        Compression::Snappy,
        Compression::Zstd,
        Compression::Zlib,
    ];

    /// The flag stored in `page_desc.flags` for a compressed page, and OR-ed into the
    /// header status; 0 for [`Compression::None`].
    pub fn flag(self) -> u32 {
        match self {
            Compression::None => 0,
            Compression::Zlib => DUMP_DH_COMPRESSED_ZLIB,
            Compression::Lzo => DUMP_DH_COMPRESSED_LZO,
            Compression::Snappy => DUMP_DH_COMPRESSED_SNAPPY,
            Compression::Zstd => DUMP_DH_COMPRESSED_ZSTD,
            Compression::Lz4 => BENCH_ONLY_LZ4,
        }
    }

    /// The compression a page flag names, if any.
    pub fn from_flag(flag: u32) -> Option<Compression> {
        Compression::ALL.into_iter().find(|c| c.flag() == flag)
    }

    /// Short name for messages and benchmark labels.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zlib => "zlib",
            Compression::Lzo => "lzo",
            Compression::Snappy => "snappy",
            Compression::Zstd => "zstd",
            Compression::Lz4 => "lz4",
        }
    }

    /// A fresh per-worker codec context; `None` for uncompressed output.
    pub fn new_codec(self) -> Result<Option<Box<dyn PageCodec>>> {
        Ok(match self {
            Compression::None => None,
            Compression::Zlib => Some(Box::new(ZlibCodec::new())),
            Compression::Lzo => Some(Box::new(LzoCodec::new())),
            Compression::Snappy => Some(Box::new(SnappyCodec::new())),
            Compression::Zstd => Some(Box::new(ZstdCodec::new()?)),
            Compression::Lz4 => Some(Box::new(Lz4Codec::new())),
        })
    }
}

/// One worker's compression context for single pages.
pub trait PageCodec: Send {
    /// Which format this codec writes.
    fn compression(&self) -> Compression;

    /// Compress `page` into `out`. Returns the compressed length when the whole result
    /// fits in `out`, `None` otherwise (the caller then stores the page raw). Callers pass
    /// `out.len() == page.len() - 1` to get makedumpfile's "strictly smaller" rule.
    fn compress(&mut self, page: &[u8], out: &mut [u8]) -> Option<usize>;

    /// Decompress one page; `out` must be filled exactly (a short or long result is an
    /// error, as in crash's "uncompress failed").
    fn decompress(&mut self, data: &[u8], out: &mut [u8]) -> Result<()>;
}

/// The stored form of a page: compressed into `scratch`, or raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredPage {
    /// The first `len` bytes of the scratch buffer, compressed with the flag given.
    Compressed {
        /// Length of the compressed data.
        len: usize,
        /// The `page_desc.flags` value.
        flag: u32,
    },
    /// The page itself must be stored (flags 0, size = page size).
    Raw,
}

/// Apply makedumpfile's rule to one page: try the codec into a buffer one byte shorter
/// than the page, fall back to raw. `scratch` must be at least `page.len() - 1` long.
pub fn store_page(
    codec: Option<&mut (dyn PageCodec + '_)>,
    page: &[u8],
    scratch: &mut [u8],
) -> StoredPage {
    let Some(codec) = codec else {
        return StoredPage::Raw;
    };
    let limit = page.len().saturating_sub(1).min(scratch.len());
    match codec.compress(page, &mut scratch[..limit]) {
        Some(len) if len < page.len() => StoredPage::Compressed {
            len,
            flag: codec.compression().flag(),
        },
        _ => StoredPage::Raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page that compresses well, one that does not, and a mixed one.
    fn sample_pages() -> Vec<Vec<u8>> {
        let mut pages = vec![
            vec![0u8; 4096],
            (0..4096u32).map(|i| (i % 251) as u8).collect(),
        ];
        // xorshift noise: incompressible
        pages.push(crate::xorshift::XorShift(0x2545_f491_4f6c_dd1d).bytes(4096));
        let mut mixed = pages[1].clone();
        mixed[2048..].copy_from_slice(&pages[2][2048..]);
        pages.push(mixed);
        pages
    }

    #[test]
    fn every_codec_round_trips_or_falls_back_to_raw() {
        for compression in Compression::ALL {
            let Some(mut codec) = compression.new_codec().unwrap() else {
                continue;
            };
            let mut scratch = vec![0u8; 4096];
            for (i, page) in sample_pages().iter().enumerate() {
                match store_page(Some(codec.as_mut()), page, &mut scratch) {
                    StoredPage::Compressed { len, flag } => {
                        assert_eq!(flag, compression.flag());
                        assert!(len < 4096);
                        let mut back = vec![0xaau8; 4096];
                        codec.decompress(&scratch[..len], &mut back).unwrap();
                        assert_eq!(&back, page, "{} page {i}", compression.name());
                    }
                    StoredPage::Raw => {
                        assert_eq!(i, 2, "{}: only noise should stay raw", compression.name())
                    }
                }
            }
        }
    }

    #[test]
    fn garbage_does_not_decompress_silently() {
        for compression in Compression::ALL {
            let Some(mut codec) = compression.new_codec().unwrap() else {
                continue;
            };
            let mut out = vec![0u8; 4096];
            assert!(
                codec.decompress(&[0xff; 17], &mut out).is_err(),
                "{}",
                compression.name()
            );
        }
    }

    #[test]
    fn flags_map_back() {
        for c in Compression::ALL {
            assert_eq!(Compression::from_flag(c.flag()), Some(c));
        }
    }
}
