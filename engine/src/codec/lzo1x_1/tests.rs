//! Byte-identity with the `lzo1x` crate's LZO1X-1 (`CompressLevel::new(3)`, which equals
//! liblzo's `lzo1x_1_compress`) on the inputs the kdump path produces and on every length
//! around the thresholds, plus round trips and the "does not fit" contract.

use super::Lzo1x1;
use crate::xorshift::XorShift;

fn reference(src: &[u8]) -> Vec<u8> {
    lzo1x::compress(src, lzo1x::CompressLevel::new(3))
}

/// Room for any LZO1X-1 output of `len` input bytes (liblzo's documented bound).
fn bound(len: usize) -> usize {
    len + len / 16 + 64 + 3
}

/// Compress with `codec` into an ample buffer, check identity with the crate and the
/// round trip, and return the stream.
fn check(codec: &mut Lzo1x1, src: &[u8], what: &str) -> Vec<u8> {
    let mut out = vec![0u8; bound(src.len())];
    let n = codec
        .compress(src, &mut out)
        .unwrap_or_else(|| panic!("{what}: does not fit the bound"));
    let expected = reference(src);
    assert!(
        out[..n] == expected[..],
        "{what} ({} bytes): ours {n} bytes, crate {} bytes, first difference at {:?}",
        src.len(),
        expected.len(),
        out[..n].iter().zip(&expected).position(|(a, b)| a != b)
    );
    let mut back = vec![0u8; src.len()];
    lzo1x::decompress(&out[..n], &mut back).unwrap_or_else(|e| panic!("{what}: {e:?}"));
    assert!(back == src, "{what}: round trip differs");
    out.truncate(n);
    out
}

/// Words from a small vocabulary: compresses 3-4x, with matches of every class.
pub(crate) fn text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "the ",
        "kernel ",
        "page ",
        "struct ",
        "0x",
        "ffff8b24",
        "task_struct ",
        "\n",
        "slab ",
        "mm ",
        "(null) ",
        "vmcore ",
    ];
    let mut rng = XorShift(seed);
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        out.extend_from_slice(WORDS[rng.next() as usize % WORDS.len()].as_bytes());
    }
    out.truncate(len);
    out
}

/// The page kinds a dump meets, 4 KiB each (the decoder's tests use them too).
pub(crate) fn kdump_pages() -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let random = rng.bytes(4096);
    let mut half = text(4096, 7);
    half[2048..].copy_from_slice(&random[2048..]);
    // A 300-byte record repeated: long matches needing length extension bytes.
    let record = rng.bytes(300);
    let repeats: Vec<u8> = record.iter().copied().cycle().take(4096).collect();
    // Matches at M4 distances need > 16 KiB; covered by the longer inputs below.
    let mut sparse = vec![0u8; 4096];
    for i in (0..4096).step_by(512) {
        sparse[i..i + 8].copy_from_slice(&(i as u64 * 0x0101_0101).to_le_bytes());
    }
    vec![
        ("zero", vec![0u8; 4096]),
        ("ff", vec![0xffu8; 4096]),
        ("random", random),
        ("text", text(4096, 1)),
        ("text+random", half),
        ("repeated record", repeats),
        ("sparse", sparse),
        ("counter", (0..4096u32).map(|i| (i % 251) as u8).collect()),
        (
            "u64 counter",
            (0..512u64).flat_map(|i| i.to_le_bytes()).collect(),
        ),
    ]
}

#[test]
fn kdump_pages_match_the_crate() {
    let mut codec = Lzo1x1::new();
    for (what, page) in kdump_pages() {
        check(&mut codec, &page, what);
    }
}

#[test]
fn every_length_up_to_8192_matches_the_crate() {
    // One context across all lengths and contents: a stale table entry would show.
    let mut codec = Lzo1x1::new();
    let mut rng = XorShift(99);
    let random = rng.bytes(8192);
    let text = text(8192, 3);
    let mixed: Vec<u8> = text
        .chunks(64)
        .zip(random.chunks(64))
        .enumerate()
        .flat_map(|(i, (t, r))| if i % 3 == 0 { r } else { t }.to_vec())
        .collect();
    for len in 0..=8192 {
        check(&mut codec, &vec![0u8; len], "zero");
        check(&mut codec, &random[..len], "random");
        check(&mut codec, &text[..len], "text");
        check(&mut codec, &mixed[..len], "mixed");
    }
}

#[test]
fn long_inputs_span_blocks_and_m4_distances() {
    // > 48 KiB: several blocks, literals carried across block ends, M4 offsets.
    let mut codec = Lzo1x1::new();
    let mut rng = XorShift(5);
    let chunk = rng.bytes(20_000);
    let mut far = chunk.clone();
    far.extend_from_slice(&text(20_000, 11));
    far.extend_from_slice(&chunk);
    check(&mut codec, &far, "far repeat");
    for len in [
        49_151, 49_152, 49_153, 49_172, 49_173, 49_184, 100_000, 150_000,
    ] {
        check(&mut codec, &text(len, len as u64), "text");
        check(&mut codec, &rng.bytes(len), "random");
        let mut tail_run = rng.bytes(len);
        tail_run[len - 40..].fill(0);
        check(&mut codec, &tail_run, "random, zero tail");
    }
}

#[test]
fn none_exactly_when_the_crate_reaches_the_page_size() {
    let mut codec = Lzo1x1::new();
    let mut rng = XorShift(17);
    let mut seen = [0usize; 2];
    // Pages whose compressed size crosses the page size: random bytes with a growing
    // zero prefix.
    for zeros in (0..=400).step_by(3) {
        let mut page = rng.bytes(4096);
        page[..zeros].fill(0);
        let expected = reference(&page);
        let mut out = vec![0u8; 4095];
        match codec.compress(&page, &mut out) {
            None => {
                assert!(expected.len() >= 4096, "zeros {zeros}: {}", expected.len());
                seen[0] += 1;
            }
            Some(n) => {
                assert!(out[..n] == expected[..], "zeros {zeros}");
                seen[1] += 1;
            }
        }
    }
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "both outcomes exercised: {seen:?}"
    );
    // Every output size limit up to past an actual stream length: the encoder switches
    // from unchecked writes into a reserved stretch to checked ones near the limit, and
    // neither may decline a stream that fits or write past the buffer. Text (long
    // matches), noise with copies (long literal runs) and kernel-like pages.
    let mut rng = XorShift(41);
    let mut noisy = rng.bytes(4096);
    noisy.copy_within(100..1100, 2500);
    let mut pages = kdump_pages();
    pages.push(("text 2", text(4096, 2)));
    pages.push(("noise with a copy", noisy));
    for (what, page) in pages {
        let expected = reference(&page);
        for limit in 0..expected.len() + 80 {
            let mut out = vec![0u8; limit];
            let got = codec.compress(&page, &mut out);
            if limit < expected.len() {
                assert_eq!(got, None, "{what}: limit {limit}");
            } else {
                assert_eq!(got, Some(expected.len()), "{what}: limit {limit}");
                assert!(
                    out[..expected.len()] == expected[..],
                    "{what}: limit {limit}"
                );
            }
        }
    }
}

#[test]
fn one_context_over_many_pages_matches_fresh_output() {
    // Table entries left by earlier pages must not change later pages: every page must
    // equal the crate's output, whose table is fresh per call. Pages alternate between
    // kinds so stale entries point at bytes that would match.
    let mut codec = Lzo1x1::new();
    let mut pages = kdump_pages();
    let mut rng = XorShift(23);
    for len in [100, 1000, 4095, 5000] {
        pages.push(("short text", text(len, len as u64)));
        pages.push(("short random", rng.bytes(len)));
    }
    for i in 0..3000usize {
        let (what, page) = &pages[(i * 7 + i / pages.len()) % pages.len()];
        let mut out = vec![0u8; page.len().saturating_sub(1)];
        let expected = reference(page);
        match codec.compress(page, &mut out) {
            Some(n) => assert!(out[..n] == expected[..], "{what} at call {i}"),
            None => assert!(expected.len() >= page.len(), "{what} at call {i}"),
        }
    }
}

#[test]
fn match_distance_and_length_boundaries() {
    // A copy of `len` random bytes at distance `dist`, across the M2/M3/M4 distance
    // limits and the lengths where extension bytes start. The layout makes the search
    // land on both ends exactly: the source starts at the first searched position (5),
    // and the gap is zeros, matched as one run that ends where the copy starts.
    const FROM: usize = 5;
    let mut codec = Lzo1x1::new();
    let mut rng = XorShift(31);
    let distances = [
        1, 8, 0x7ff, 0x800, 0x801, 0x3fff, 0x4000, 0x4001, 0x8000, 0xbfff,
    ];
    let lengths = [3, 4, 8, 9, 10, 33, 34, 35, 288, 289, 290, 543, 544];
    for dist in distances {
        for len in lengths {
            let mut data = vec![0u8; FROM + dist + len + 600];
            for b in data.iter_mut() {
                *b = rng.next() as u8 | 1;
            }
            data[FROM + len..FROM + dist.max(len)].fill(0);
            // Byte by byte: a distance below the length makes a repeating run.
            for i in FROM..FROM + len {
                data[i + dist] = data[i];
            }
            check(
                &mut codec,
                &data,
                &format!("distance {dist:#x} length {len}"),
            );
        }
    }
}
