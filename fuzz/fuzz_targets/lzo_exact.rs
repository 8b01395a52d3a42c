//! Our LZO1X-1 against the `lzo1x` crate's `CompressLevel::new(3)` (= liblzo's
//! `lzo1x_1_compress`, what makedumpfile's `-l` calls): the streams must be identical,
//! and with a short output buffer we must decline exactly when the stream does not fit.
//!
//! The compressor writes without bounds tests while the buffer holds a literal run and
//! match's worst case and switches to tested writes near the end, so the buffer size is
//! fuzzed around the stream's length too; debug assertions (`-a`) check every unchecked
//! write against its reservation.
//!
//! The first byte picks how the rest becomes the input: 0: the bytes as they are; 1: each
//! byte expanded into a run over a 4-symbol alphabet (long matches, length extensions);
//! 2: the bytes repeated to a 4 KiB page. The second byte picks the buffer: the stream's
//! length minus 64..=+63. One compressor lives across runs, as a worker's does across
//! pages.
#![no_main]

use std::cell::RefCell;

use engine::codec::{LzoCodec, PageCodec};
use libfuzzer_sys::fuzz_target;

#[path = "common/shape.rs"]
mod common;
use common::shape;

thread_local! {
    static CODEC: RefCell<LzoCodec> = RefCell::new(LzoCodec::new());
}

/// Inputs up to 64 KiB reach a second 48 KiB block and M4 distances.
const MAX_INPUT: usize = 64 << 10;

fuzz_target!(|data: &[u8]| {
    let [mode, slack, rest @ ..] = data else {
        return;
    };
    let input = shape(*mode, rest, 5, MAX_INPUT);
    let expected = lzo1x::compress(&input, lzo1x::CompressLevel::new(3));
    let size = (expected.len() + usize::from(*slack)).saturating_sub(64);
    let mut out = vec![0u8; size];
    let got = CODEC.with_borrow_mut(|codec| codec.compress(&input, &mut out));
    if expected.len() <= size {
        let len = got.expect("the stream fits the buffer, so it must not be declined");
        assert!(
            out[..len] == expected[..],
            "{} input bytes, {size}-byte buffer: {len} bytes from us, {} from liblzo's port",
            input.len(),
            expected.len()
        );
    } else {
        assert_eq!(
            got,
            None,
            "a {}-byte stream in a {size}-byte buffer",
            expected.len()
        );
    }
});
