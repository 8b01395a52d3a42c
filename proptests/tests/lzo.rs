//! Property: our LZO1X-1 (`LzoCodec`) writes exactly the bytes of the `lzo1x` crate's
//! `CompressLevel::new(3)` (= liblzo's `lzo1x_1_compress`, what makedumpfile `-l`
//! uses) for any input of 0..=16384 bytes built from random bytes, byte runs and
//! repeats of earlier data; one codec reused over many pages gives every page the same
//! bytes a fresh compressor would; and with makedumpfile's page-minus-one buffer it
//! declines exactly the pages whose stream would not be smaller than the page.
//! Inputs up to 16 KiB cannot hold an M4 match (distance > 0x4000) nor a second 48 KiB
//! block, so a smaller run of cases goes up to 160 KiB.

use engine::codec::{LzoCodec, PageCodec};
use engine::xorshift::XorShift;
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

/// One piece of an input.
#[derive(Debug, Clone)]
enum Piece {
    /// Incompressible bytes.
    Random(Vec<u8>),
    /// `len` copies of one byte (zero-filled memory, 0xff padding).
    Run(u8, usize),
    /// `len` bytes copied from `back` bytes earlier (overlapping when `back < len`):
    /// matches at every distance class, including M4's beyond 16 KiB.
    Repeat { back: usize, len: usize },
}

/// Random pieces are the most likely, so that inputs range from incompressible to
/// highly compressible and page streams land on both sides of the page size.
fn piece(max_back: usize) -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 1..600).prop_map(Piece::Random),
        1 => (prop_oneof![Just(0u8), Just(0xff), any::<u8>()], 1usize..3000)
            .prop_map(|(b, n)| Piece::Run(b, n)),
        2 => (1usize..max_back, 1usize..1200).prop_map(|(back, len)| Piece::Repeat { back, len }),
    ]
}

/// An input of at most `max` bytes assembled from pieces.
fn input(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let pieces = (max / 256).clamp(8, 400);
    prop::collection::vec(piece(max), 0..pieces).prop_map(move |pieces| {
        let mut data = Vec::new();
        for p in pieces {
            match p {
                Piece::Random(bytes) => data.extend_from_slice(&bytes),
                Piece::Run(b, n) => data.resize(data.len() + n, b),
                Piece::Repeat { back, len } => {
                    if data.is_empty() {
                        continue;
                    }
                    let from = data.len() - back.min(data.len());
                    for i in from..from + len {
                        data.push(data[i]);
                    }
                }
            }
        }
        data.truncate(max);
        data
    })
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
            // Pad (with noise) or cut to a whole page: the dump writer sees whole pages.
            let mut page = page;
            let mut noise = XorShift(0x9e37_79b9_7f4a_7c15 ^ page.len() as u64);
            while page.len() < page_size {
                page.push(noise.next() as u8);
            }
            page.truncate(page_size);
            let expected = reference(&page);
            let mut out = vec![0u8; page_size - 1];
            match codec.compress(&page, &mut out) {
                None => prop_assert!(expected.len() >= page_size, "declined a {}-byte stream", expected.len()),
                Some(n) => prop_assert_eq!(&out[..n], &expected[..]),
            }
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
