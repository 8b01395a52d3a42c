//! Property: our zlib level-1 encoder (`ZlibLevel1`, what `-c` uses for pages up to
//! 16 KiB) writes exactly the bytes of the system zlib's `compress2(.., Z_BEST_SPEED)`,
//! which is what makedumpfile calls; one encoder reused over many pages gives every page
//! the bytes of a fresh stream; and with makedumpfile's page-minus-one buffer it declines
//! exactly the pages whose stream would not be smaller than the page.
//! Huffman code lengths depend on how zlib's heap breaks frequency ties, so besides the
//! shared random/run/repeat inputs there are inputs over tiny alphabets with skewed
//! counts, where ties and length-limit repairs are common.

use engine::codec::{PageCodec, ZlibCodec, ZlibLevel1, ZLIB_LEVEL1_MAX_INPUT};
use flate2::{Compress, Compression, FlushCompress, Status};
use makedumpfile_proptests::{check_page_minus_one, input, whole_page};
use proptest::prelude::*;

/// A fresh z_stream per input, as compress2 does.
fn reference(src: &[u8]) -> Vec<u8> {
    let mut stream = Compress::new(Compression::new(1), true);
    let mut out = vec![0u8; src.len() + src.len() / 1000 + 64];
    let status = stream.compress(src, &mut out, FlushCompress::Finish);
    assert!(matches!(status, Ok(Status::StreamEnd)));
    out.truncate(stream.total_out() as usize);
    out
}

fn ours(encoder: &mut ZlibLevel1, src: &[u8]) -> Result<Vec<u8>, TestCaseError> {
    let mut out = vec![0u8; src.len() + 64];
    let n = encoder
        .compress(src, &mut out)
        .ok_or_else(|| TestCaseError::fail("no output with ample room"))?;
    out.truncate(n);
    Ok(out)
}

/// Runs of a few symbols with geometric-ish counts: many equal frequencies, deep trees.
fn tiny_alphabet() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(any::<u8>(), 1..12),
        prop::collection::vec((0usize..12, 1usize..40), 1..400),
    )
        .prop_map(|(alphabet, runs)| {
            let mut data = Vec::new();
            for (symbol, count) in runs {
                let byte = alphabet[symbol % alphabet.len()];
                // Alternate with a neighbour so that runs stay literals, not matches.
                for i in 0..count {
                    data.push(if i % 2 == 0 { byte } else { byte ^ (i as u8) });
                }
            }
            data.truncate(ZLIB_LEVEL1_MAX_INPUT);
            data
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn zlib_equals_the_system_zlib_and_round_trips(data in input(ZLIB_LEVEL1_MAX_INPUT)) {
        let mut encoder = ZlibLevel1::new();
        let stream = ours(&mut encoder, &data)?;
        prop_assert_eq!(&stream, &reference(&data));
        let mut back = vec![0u8; data.len()];
        ZlibCodec::new()
            .decompress(&stream, &mut back)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, data);
    }

    #[test]
    fn tiny_alphabets_equal_the_system_zlib(data in tiny_alphabet()) {
        let stream = ours(&mut ZlibLevel1::new(), &data)?;
        prop_assert_eq!(&stream, &reference(&data));
    }

    #[test]
    fn one_encoder_over_many_pages_equals_fresh_streams(
        pages in prop::collection::vec(input(8192), 1..24)
    ) {
        let mut encoder = ZlibLevel1::new();
        for (i, page) in pages.iter().enumerate() {
            let stream = ours(&mut encoder, page)?;
            prop_assert_eq!(&stream, &reference(page), "page {}", i);
        }
    }

    #[test]
    fn page_minus_one_buffer_declines_exactly_the_unshrinkable_pages(
        page_size in prop_oneof![Just(4096usize), Just(512), Just(8192)],
        pages in prop::collection::vec(input(ZLIB_LEVEL1_MAX_INPUT), 1..8)
    ) {
        let mut codec = ZlibCodec::new();
        for page in pages {
            let page = whole_page(page, page_size);
            check_page_minus_one(&mut codec, &page, &reference(&page))?;
        }
    }
}
