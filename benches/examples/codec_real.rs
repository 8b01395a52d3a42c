//! Time our page codecs on the non-zero pages of a file (a vmcore or an uncompressed
//! dump), for comparing against the C libraries on identical pages.
//!
//! `cargo run --release -p makedumpfile-benches --example codec_real -- FILE lzo|zlib [OUT_LIMIT] [SHIFT]`
//! compresses every non-zero 4 KiB page of FILE three times and prints the time of each
//! round. OUT_LIMIT is the output buffer (8192: whole streams; 4095: makedumpfile's
//! page-minus-one rule). SHIFT moves the page copies by that many bytes off 4 KiB
//! alignment (address-aliasing experiments). After the compression rounds, the pages
//! that compressed are decoded three times with our codec and three times with the
//! `lzo1x` crate (lzo only), the decoder `--verify` used before ours.
use engine::codec::Compression;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: codec_real FILE lzo|zlib [OUT_LIMIT] [SHIFT]");
    let which = args.next().unwrap_or_else(|| "lzo".into());
    let limit: usize = args.next().map_or(8192, |s| s.parse().expect("OUT_LIMIT"));
    let shift: usize = args.next().map_or(0, |s| s.parse().expect("SHIFT"));
    let compression = match which.as_str() {
        "lzo" => Compression::Lzo,
        "zlib" => Compression::Zlib,
        other => panic!("unknown codec {other}"),
    };
    let data = std::fs::read(&path).expect("read FILE");
    let nonzero: Vec<&[u8]> = data
        .chunks_exact(4096)
        .filter(|p| p.iter().any(|&b| b != 0))
        .collect();
    // Contiguous, 4 KiB-aligned copies (plus `shift`), like pages in an mmap window.
    let mut pages = vec![0u8; (nonzero.len() + 2) * 4096];
    let base = pages.as_ptr().align_offset(4096) + shift;
    for (i, p) in nonzero.iter().enumerate() {
        pages[base + i * 4096..base + (i + 1) * 4096].copy_from_slice(p);
    }
    let mut codec = compression
        .new_codec()
        .expect("codec")
        .expect("a compressing codec");
    let mut out = vec![0u8; limit];
    for _ in 0..3 {
        let start = Instant::now();
        let mut total = 0usize;
        for i in 0..nonzero.len() {
            let page = &pages[base + i * 4096..base + (i + 1) * 4096];
            total += codec.compress(page, &mut out).unwrap_or(4096).min(4096);
        }
        println!(
            "{which}: {} pages {total} bytes {:.3} s",
            nonzero.len(),
            start.elapsed().as_secs_f64()
        );
    }
    let streams: Vec<Vec<u8>> = (0..nonzero.len())
        .filter_map(|i| {
            let page = &pages[base + i * 4096..base + (i + 1) * 4096];
            let n = codec.compress(page, &mut out)?;
            Some(out[..n].to_vec())
        })
        .collect();
    let mut page = vec![0u8; 4096];
    let mut decode_rounds = |name: &str, decode: &mut dyn FnMut(&[u8], &mut [u8])| {
        for _ in 0..3 {
            let start = Instant::now();
            for stream in &streams {
                decode(stream, &mut page);
            }
            println!(
                "{which} decode, {name}: {} pages {:.3} s",
                streams.len(),
                start.elapsed().as_secs_f64()
            );
        }
    };
    decode_rounds("ours", &mut |stream, page| {
        codec.decompress(stream, page).expect("our stream decodes")
    });
    if compression == Compression::Lzo {
        decode_rounds("lzo1x crate", &mut |stream, page| {
            lzo1x::decompress(stream, page).expect("our stream decodes")
        });
    }
}
