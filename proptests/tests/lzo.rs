//! Property: our LZO1X-1 (`LzoCodec`) writes exactly the bytes of the `lzo1x` crate's
//! `CompressLevel::new(3)` (= liblzo's `lzo1x_1_compress`, what makedumpfile `-l`
//! uses) for any input of 0..=16384 bytes built from random bytes, byte runs and
//! repeats of earlier data; one codec reused over many pages gives every page the same
//! bytes a fresh compressor would; and with makedumpfile's page-minus-one buffer it
//! declines exactly the pages whose stream would not be smaller than the page.
//! Inputs up to 16 KiB cannot hold an M4 match (distance > 0x4000) nor a second 48 KiB
//! block, so a smaller run of cases goes up to 160 KiB.

use engine::codec::{LzoCodec, PageCodec};
use makedumpfile_proptests::{check_page_minus_one, input, whole_page};
use proptest::prelude::*;

const MAX_INPUT: usize = 16_384;
const MAX_LONG_INPUT: usize = 160 << 10;

fn reference(src: &[u8]) -> Vec<u8> {
    lzo1x::compress(src, lzo1x::CompressLevel::new(3))
}

/// Room for any LZO1X-1 stream of `len` input bytes (liblzo's bound).
fn bound(len: usize) -> usize {
    len + len / 16 + 64 + 3
}

/// Our stream for `src` with ample room, or a description of the mismatch.
fn ours(codec: &mut LzoCodec, src: &[u8]) -> Result<Vec<u8>, TestCaseError> {
    let mut out = vec![0u8; bound(src.len())];
    let n = codec
        .compress(src, &mut out)
        .ok_or_else(|| TestCaseError::fail("no output within the worst-case bound"))?;
    out.truncate(n);
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn lzo_equals_the_reference_and_round_trips(data in input(MAX_INPUT)) {
        let mut codec = LzoCodec::new();
        let stream = ours(&mut codec, &data)?;
        prop_assert_eq!(&stream, &reference(&data));
        let mut back = vec![0u8; data.len()];
        codec.decompress(&stream, &mut back).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, data);
    }

    #[test]
    fn one_codec_over_many_pages_equals_fresh_compressions(
        pages in prop::collection::vec(input(8192), 1..24)
    ) {
        // Each page's table entries are left behind for the next page to ignore.
        let mut codec = LzoCodec::new();
        for (i, page) in pages.iter().enumerate() {
            let stream = ours(&mut codec, page)?;
            prop_assert_eq!(&stream, &reference(page), "page {}", i);
        }
    }

    #[test]
    fn page_minus_one_buffer_declines_exactly_the_unshrinkable_pages(
        page_size in prop_oneof![Just(4096usize), Just(512), Just(16384)],
        pages in prop::collection::vec(input(MAX_INPUT), 1..8)
    ) {
        let mut codec = LzoCodec::new();
        for page in pages {
            let page = whole_page(page, page_size);
            check_page_minus_one(&mut codec, &page, &reference(&page))?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn long_inputs_equal_the_reference(data in input(MAX_LONG_INPUT)) {
        let mut codec = LzoCodec::new();
        let stream = ours(&mut codec, &data)?;
        prop_assert_eq!(&stream, &reference(&data));
    }
}
