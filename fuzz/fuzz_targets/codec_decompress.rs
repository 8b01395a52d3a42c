//! Every codec's decompress of garbage, into page buffers of every supported size; then
//! the same (reused) context must still round-trip a real page: a failed decompress must
//! not poison a worker's context. LZO is also decoded by the `lzo1x` crate, the decoder
//! ours replaced: both must accept the same streams and give the same page.
#![no_main]

use engine::codec::{store_page, Compression, StoredPage};
use libfuzzer_sys::fuzz_target;

const CODECS: [Compression; 5] = [
    Compression::Zlib,
    Compression::Lzo,
    Compression::Snappy,
    Compression::Zstd,
    Compression::Lz4,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, garbage)) = data.split_first() else {
        return;
    };
    let compression = CODECS[selector as usize % CODECS.len()];
    let page_size = [4096usize, 512, 16384, 65536][(selector as usize / 8) % 4];
    let mut codec = compression
        .new_codec()
        .expect("codec context")
        .expect("a compressing codec");
    let mut out = vec![0u8; page_size];
    let verdict = codec.decompress(garbage, &mut out);
    if compression == Compression::Lzo {
        let mut theirs = vec![0u8; page_size];
        let expected = lzo1x::decompress(garbage, &mut theirs);
        assert_eq!(
            verdict.is_ok(),
            expected.is_ok(),
            "ours {verdict:?}, crate {expected:?}"
        );
        if verdict.is_ok() {
            assert!(out == theirs, "both accept the stream, the pages differ");
        }
    }
    // The context still works.
    let page: Vec<u8> = (0..page_size).map(|i| (i / 64) as u8).collect();
    let mut scratch = vec![0u8; page_size];
    match store_page(Some(codec.as_mut()), &page, &mut scratch) {
        StoredPage::Compressed { len, flag } => {
            assert_eq!(flag, compression.flag());
            let mut back = vec![0u8; page_size];
            codec
                .decompress(&scratch[..len], &mut back)
                .expect("decompress after garbage");
            assert_eq!(back, page);
        }
        StoredPage::Raw => panic!("{} failed to compress a trivial page", compression.name()),
    }
});
