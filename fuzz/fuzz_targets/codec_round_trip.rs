//! compress → decompress of fuzzed pages with every codec, through `store_page` (the
//! "strictly smaller than the page" rule) and with arbitrary short output buffers, where
//! a codec must either report "does not fit" or produce data that decodes to the page.
//!
//! The codec contexts live across runs, as a pipeline worker's do across pages.
#![no_main]

use std::cell::RefCell;

use engine::codec::{store_page, Compression, PageCodec, StoredPage};
use libfuzzer_sys::fuzz_target;
use makedumpfile_fuzz::Cursor;

thread_local! {
    static CODECS: RefCell<Vec<Box<dyn PageCodec>>> = RefCell::new(
        Compression::ALL
            .into_iter()
            .filter_map(|c| c.new_codec().expect("codec context"))
            .collect(),
    );
}

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let selector = input.u8();
    let page_size = [4096usize, 512, 16384, 65536][selector as usize % 4];
    let limit = input.u16() as usize % page_size;
    // The page: the rest of the input, repeated (so long runs are reachable).
    let body = input.rest();
    let page: Vec<u8> = if body.is_empty() {
        vec![0; page_size]
    } else {
        body.iter().copied().cycle().take(page_size).collect()
    };
    CODECS.with_borrow_mut(|codecs| {
        for codec in codecs.iter_mut() {
            let compression = codec.compression();
            let mut scratch = vec![0u8; page_size];
            let mut back = vec![0u8; page_size];
            if let StoredPage::Compressed { len, flag } =
                store_page(Some(codec.as_mut()), &page, &mut scratch)
            {
                assert!(len < page_size);
                assert_eq!(flag, compression.flag());
                codec
                    .decompress(&scratch[..len], &mut back)
                    .unwrap_or_else(|e| panic!("{}: {e}", compression.name()));
                assert_eq!(back, page, "{}", compression.name());
                // A truncated stream must not decode to the page silently.
                if len > 1 {
                    back.fill(0);
                    let cut = codec.decompress(&scratch[..len - 1], &mut back);
                    assert!(cut.is_err() || back == page, "{}", compression.name());
                }
            }
            // An output buffer too small: None, or data that decodes exactly.
            let mut short = vec![0u8; limit];
            if let Some(len) = codec.compress(&page, &mut short) {
                assert!(len <= limit);
                back.fill(0);
                codec
                    .decompress(&short[..len], &mut back)
                    .unwrap_or_else(|e| panic!("{} (limit {limit}): {e}", compression.name()));
                assert_eq!(back, page, "{} (limit {limit})", compression.name());
            }
        }
    });
});
