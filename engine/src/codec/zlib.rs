//! `-c`: zlib, level 1: the bytes of the system zlib, written by our own encoder.
//!
//! Pages up to [`MAX_INPUT`] bytes (4 KiB and 8 KiB pages) go through
//! [`ZlibLevel1`](super::deflate::ZlibLevel1), which reproduces zlib 1.2.13's level-1
//! output and is faster (see `deflate/mod.rs`). Larger pages and every decompression use
//! the system zlib through flate2, configured as below.
//!
//! makedumpfile reuses one deflate stream per thread (`aa5ee50`, `3ef6629`) initialised
//! like `compress2(..., Z_BEST_SPEED)`: zlib wrapper, window 15, memLevel 8, default
//! strategy. flate2's `Compress::new(level, true)` calls `deflateInit2` with the same
//! parameters, and linking the same C zlib gives byte-identical pages (measured 3065/3065
//! on a real vmcore, readers-and-tools.md §4). zlib-rs or miniz would be faster but emit
//! different bytes.

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

use super::deflate::{ZlibLevel1, MAX_INPUT};
use super::{Compression, PageCodec};
use crate::error::{Error, Result};

/// A reusable zlib context: our level-1 encoder, and a z_stream each way created on
/// first use. A dump of 4 KiB pages never needs the deflate stream, and its
/// deflateInit alone touches 64 KiB (CLEAR_HASH) of every producer's memory.
pub struct ZlibCodec {
    level1: ZlibLevel1,
    deflate: Option<Compress>,
    inflate: Option<Decompress>,
}

impl ZlibCodec {
    /// A level-1 zlib-wrapped deflate context.
    pub fn new() -> Self {
        ZlibCodec {
            level1: ZlibLevel1::new(),
            deflate: None,
            inflate: None,
        }
    }
}

impl Default for ZlibCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl PageCodec for ZlibCodec {
    fn compression(&self) -> Compression {
        Compression::Zlib
    }

    fn compress(&mut self, page: &[u8], out: &mut [u8]) -> Option<usize> {
        if page.len() <= MAX_INPUT {
            return self.level1.compress(page, out);
        }
        let deflate = self
            .deflate
            .get_or_insert_with(|| Compress::new(flate2::Compression::new(1), true));
        // deflateReset keeps the allocated state: the point of reusing the stream.
        deflate.reset();
        match deflate.compress(page, out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => Some(deflate.total_out() as usize),
            _ => None,
        }
    }

    fn decompress(&mut self, data: &[u8], out: &mut [u8]) -> Result<()> {
        let inflate = self.inflate.get_or_insert_with(|| Decompress::new(true));
        inflate.reset(true);
        match inflate.decompress(data, out, FlushDecompress::Finish) {
            Ok(Status::StreamEnd) if inflate.total_out() as usize == out.len() => Ok(()),
            Ok(_) => Err(Error::invalid(format!(
                "zlib page decodes to {} bytes, expected {}",
                inflate.total_out(),
                out.len()
            ))),
            Err(e) => Err(Error::invalid(format!("zlib page does not decode: {e}"))),
        }
    }
}
