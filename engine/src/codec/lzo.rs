//! `-l`: LZO1X-1, byte-identical to liblzo2's `lzo1x_1_compress` (what makedumpfile
//! links), so our `-l` pages equal makedumpfile's.
//!
//! Compression is our own [`Lzo1x1`]: it keeps its hash table across pages and writes
//! into the caller's page-minus-one buffer. The `lzo1x` crate's API allocated and zeroed
//! a table twice and an output `Vec` per page, then we copied the result out (the
//! crate's memset alone was 9 % of a serial `-l -d 31` run). Decoding is our own too
//! ([`super::lzo1x_decode`], faster than the crate's on short runs and matches). The
//! crate is the oracle both are tested against.

use super::lzo1x_1::Lzo1x1;
use super::{Compression, PageCodec};
use crate::error::{Error, Result};

/// LZO1X-1 compressor/decompressor with a reusable compression table.
#[derive(Default)]
pub struct LzoCodec {
    compressor: Lzo1x1,
}

impl LzoCodec {
    /// A new LZO context.
    pub fn new() -> Self {
        LzoCodec::default()
    }
}

impl PageCodec for LzoCodec {
    fn compression(&self) -> Compression {
        Compression::Lzo
    }

    fn compress(&mut self, page: &[u8], out: &mut [u8]) -> Option<usize> {
        self.compressor.compress(page, out)
    }

    fn decompress(&mut self, data: &[u8], out: &mut [u8]) -> Result<()> {
        // The page must come out exactly full, like crash's check that
        // lzo1x_decompress_safe produced a whole page.
        super::lzo1x_decode::decompress(data, out)
            .map_err(|e| Error::invalid(format!("lzo page does not decode: {e:?}")))
    }
}
