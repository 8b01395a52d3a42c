//! `-l`: LZO1X-1 through the `lzo1x` crate (safe Rust, GPL-2.0 like makedumpfile).
//!
//! `CompressLevel::new(3)` selects lzo1x_1 with a 2^14 dictionary, which is what liblzo2's
//! `lzo1x_1_compress` is; its output was byte-identical to makedumpfile's `-l` pages
//! (3065/3065, readers-and-tools.md §4). The crate's API returns a fresh `Vec` per call
//! (work memory and output): the one per-page allocation in the codecs, accepted because
//! the alternatives are an unsafe C translation or a 7× slower LZO1X-999 encoder.

use super::{Compression, PageCodec};
use crate::error::{Error, Result};

/// LZO1X-1 compressor/decompressor (stateless apart from the crate's buffers).
#[derive(Default)]
pub struct LzoCodec;

impl LzoCodec {
    /// A new LZO context.
    pub fn new() -> Self {
        LzoCodec
    }
}

impl PageCodec for LzoCodec {
    fn compression(&self) -> Compression {
        Compression::Lzo
    }

    fn compress(&mut self, page: &[u8], out: &mut [u8]) -> Option<usize> {
        let compressed = lzo1x::compress(page, lzo1x::CompressLevel::new(3));
        let dst = out.get_mut(..compressed.len())?;
        dst.copy_from_slice(&compressed);
        Some(compressed.len())
    }

    fn decompress(&mut self, data: &[u8], out: &mut [u8]) -> Result<()> {
        // lzo1x::decompress requires the exact output length, like crash's check that
        // lzo1x_decompress_safe produced a whole page.
        lzo1x::decompress(data, out)
            .map_err(|e| Error::invalid(format!("lzo page does not decode: {e:?}")))
    }
}
