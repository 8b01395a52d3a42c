//! Our zlib level-1 encoder against the system zlib (what makedumpfile's `-c` calls):
//! the streams must be identical byte for byte, for any input up to the encoder's limit.
//!
//! The first byte picks how the rest becomes the input, so that both match-heavy and
//! literal-heavy inputs with many frequency ties are reachable:
//! 0: the bytes as they are; 1: each byte expanded into a run (`byte & 0x3f` copies of a
//! symbol from a 4-symbol alphabet); 2: the bytes repeated to a 4 KiB page.
//! One encoder lives across runs, as a worker's does across pages.
#![no_main]

use std::cell::RefCell;

use engine::codec::{ZlibLevel1, ZLIB_LEVEL1_MAX_INPUT};
use flate2::{Compress, Compression, FlushCompress, Status};
use libfuzzer_sys::fuzz_target;

#[path = "common/shape.rs"]
mod common;
use common::shape;

thread_local! {
    static ENCODER: RefCell<ZlibLevel1> = RefCell::new(ZlibLevel1::new());
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let input = shape(mode, rest, 1, ZLIB_LEVEL1_MAX_INPUT);
    let mut stream = Compress::new(Compression::new(1), true);
    let mut expected = vec![0u8; input.len() + input.len() / 1000 + 64];
    let status = stream.compress(&input, &mut expected, FlushCompress::Finish);
    assert!(matches!(status, Ok(Status::StreamEnd)));
    expected.truncate(stream.total_out() as usize);

    let mut ours = vec![0u8; input.len() + 64];
    let len = ENCODER
        .with_borrow_mut(|encoder| encoder.compress(&input, &mut ours))
        .expect("an ample buffer always fits");
    assert!(
        ours[..len] == expected[..],
        "{} input bytes: {len} from us, {} from zlib",
        input.len(),
        expected.len()
    );
});
