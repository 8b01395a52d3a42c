//! `-z`: one zstd frame per page at level 1, with one reusable CCtx/DCtx per worker as
//! makedumpfile (`afd0a6d`). The frame carries the content size; crash decodes it with
//! `ZSTD_decompressDCtx`.

use super::{Compression, PageCodec};
use crate::error::{Error, ErrorKind, Result};

/// Reusable zstd compression and decompression contexts.
pub struct ZstdCodec {
    compressor: zstd::bulk::Compressor<'static>,
    decompressor: zstd::bulk::Decompressor<'static>,
}

impl ZstdCodec {
    /// Level-1 contexts.
    pub fn new() -> Result<Self> {
        let compressor = zstd::bulk::Compressor::new(1)
            .map_err(|e| Error::io(ErrorKind::Internal, "zstd: cannot create CCtx", e))?;
        let decompressor = zstd::bulk::Decompressor::new()
            .map_err(|e| Error::io(ErrorKind::Internal, "zstd: cannot create DCtx", e))?;
        Ok(ZstdCodec {
            compressor,
            decompressor,
        })
    }
}

impl PageCodec for ZstdCodec {
    fn compression(&self) -> Compression {
        Compression::Zstd
    }

    fn compress(&mut self, page: &[u8], out: &mut [u8]) -> Option<usize> {
        // Too small an output makes zstd return dstSize_tooSmall: the raw-fallback case.
        self.compressor.compress_to_buffer(page, out).ok()
    }

    fn decompress(&mut self, data: &[u8], out: &mut [u8]) -> Result<()> {
        let n = self
            .decompressor
            .decompress_to_buffer(data, out)
            .map_err(|e| Error::invalid(format!("zstd page does not decode: {e}")))?;
        if n != out.len() {
            return Err(Error::invalid(format!(
                "zstd page decodes to {n} bytes, expected {}",
                out.len()
            )));
        }
        Ok(())
    }
}
