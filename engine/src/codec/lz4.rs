//! lz4 block compression (lz4_flex), for the benchmark suite only: the cheapest codec,
//! so pipeline overhead shows. Not a kdump format; the writer refuses it.

use super::{Compression, PageCodec};
use crate::error::{Error, Result};

/// lz4_flex block codec with a scratch buffer: lz4_flex refuses outputs smaller than its
/// worst-case bound up front, so it cannot write into the page-minus-one buffer directly.
#[derive(Default)]
pub struct Lz4Codec {
    scratch: Vec<u8>,
}

impl Lz4Codec {
    /// A new lz4 context.
    pub fn new() -> Self {
        Lz4Codec::default()
    }
}

impl PageCodec for Lz4Codec {
    fn compression(&self) -> Compression {
        Compression::Lz4
    }

    fn compress(&mut self, page: &[u8], out: &mut [u8]) -> Option<usize> {
        let bound = lz4_flex::block::get_maximum_output_size(page.len());
        if self.scratch.len() < bound {
            self.scratch.resize(bound, 0);
        }
        let len = lz4_flex::block::compress_into(page, &mut self.scratch).ok()?;
        out.get_mut(..len)?.copy_from_slice(&self.scratch[..len]);
        Some(len)
    }

    fn decompress(&mut self, data: &[u8], out: &mut [u8]) -> Result<()> {
        let n = lz4_flex::block::decompress_into(data, out)
            .map_err(|e| Error::invalid(format!("lz4 page does not decode: {e}")))?;
        if n != out.len() {
            return Err(Error::invalid(format!(
                "lz4 page decodes to {n} bytes, expected {}",
                out.len()
            )));
        }
        Ok(())
    }
}
