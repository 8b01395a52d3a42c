//! `-p`: snappy raw block format (`snap::raw`), as makedumpfile's `snappy_compress`.
//! The framed format would not be readable by crash or libkdumpfile.

use super::{Compression, PageCodec};
use crate::error::{Error, Result};

/// Snappy encoder/decoder plus a scratch buffer: the encoder insists on an output of
/// `max_compress_len` bytes, larger than the page-minus-one buffer we are given.
pub struct SnappyCodec {
    encoder: snap::raw::Encoder,
    decoder: snap::raw::Decoder,
    scratch: Vec<u8>,
}

impl SnappyCodec {
    /// A new snappy context.
    pub fn new() -> Self {
        SnappyCodec {
            encoder: snap::raw::Encoder::new(),
            decoder: snap::raw::Decoder::new(),
            scratch: Vec::new(),
        }
    }
}

impl Default for SnappyCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl PageCodec for SnappyCodec {
    fn compression(&self) -> Compression {
        Compression::Snappy
    }

    fn compress(&mut self, page: &[u8], out: &mut [u8]) -> Option<usize> {
        let bound = snap::raw::max_compress_len(page.len());
        if self.scratch.len() < bound {
            self.scratch.resize(bound, 0);
        }
        let len = self.encoder.compress(page, &mut self.scratch).ok()?;
        out.get_mut(..len)?.copy_from_slice(&self.scratch[..len]);
        Some(len)
    }

    fn decompress(&mut self, data: &[u8], out: &mut [u8]) -> Result<()> {
        let expected = snap::raw::decompress_len(data)
            .map_err(|e| Error::invalid(format!("snappy page: {e}")))?;
        if expected != out.len() {
            return Err(Error::invalid(format!(
                "snappy page decodes to {expected} bytes, expected {}",
                out.len()
            )));
        }
        self.decoder
            .decompress(data, out)
            .map_err(|e| Error::invalid(format!("snappy page does not decode: {e}")))?;
        Ok(())
    }
}
