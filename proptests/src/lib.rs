//! Property tests live in proptests/tests/. This library holds what several of them
//! share: inputs for the codec equivalence tests.

use engine::codec::PageCodec;
use engine::xorshift::XorShift;
use proptest::prelude::*;

/// One piece of an input.
#[derive(Debug, Clone)]
pub enum Piece {
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
pub fn piece(max_back: usize) -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 1..600).prop_map(Piece::Random),
        1 => (prop_oneof![Just(0u8), Just(0xff), any::<u8>()], 1usize..3000)
            .prop_map(|(b, n)| Piece::Run(b, n)),
        2 => (1usize..max_back, 1usize..1200).prop_map(|(back, len)| Piece::Repeat { back, len }),
    ]
}

/// An input of at most `max` bytes assembled from pieces.
pub fn input(max: usize) -> impl Strategy<Value = Vec<u8>> {
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

/// `page` padded with noise, or cut, to exactly `page_size` bytes: the dump writer only
/// ever hands codecs whole pages.
pub fn whole_page(mut page: Vec<u8>, page_size: usize) -> Vec<u8> {
    let mut noise = XorShift(0x9e37_79b9_7f4a_7c15 ^ page.len() as u64);
    while page.len() < page_size {
        page.push(noise.next() as u8);
    }
    page.truncate(page_size);
    page
}

/// makedumpfile's rule with a page-minus-one buffer: `codec` declines exactly when the
/// reference stream `expected` is not shorter than the page, and otherwise writes it.
pub fn check_page_minus_one(
    codec: &mut dyn PageCodec,
    page: &[u8],
    expected: &[u8],
) -> Result<(), TestCaseError> {
    let mut out = vec![0u8; page.len() - 1];
    match codec.compress(page, &mut out) {
        None => prop_assert!(
            expected.len() >= page.len(),
            "declined a {}-byte stream",
            expected.len()
        ),
        Some(n) => prop_assert_eq!(&out[..n], expected),
    }
    Ok(())
}
