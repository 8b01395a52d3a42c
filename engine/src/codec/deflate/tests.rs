//! Differential tests: every stream must equal the system zlib's, byte for byte.

use super::*;
use crate::xorshift::XorShift;
use flate2::{Compress, Compression, FlushCompress, Status};

/// What `compress2(dest, &len, src, n, Z_BEST_SPEED)` writes, via a fresh stream.
pub(crate) fn zlib_reference(input: &[u8]) -> Vec<u8> {
    let mut stream = Compress::new(Compression::new(1), true);
    let mut out = vec![0u8; input.len() + input.len() / 1000 + 64];
    let status = stream
        .compress(input, &mut out, FlushCompress::Finish)
        .unwrap();
    assert_eq!(status, Status::StreamEnd);
    out.truncate(stream.total_out() as usize);
    out
}

fn ours(encoder: &mut ZlibLevel1, input: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; input.len() + 64];
    let len = encoder.compress(input, &mut out).expect("fits");
    out.truncate(len);
    out
}

fn assert_same(encoder: &mut ZlibLevel1, input: &[u8], what: &str) {
    let expected = zlib_reference(input);
    let got = ours(encoder, input);
    if got != expected {
        let first = got.iter().zip(&expected).position(|(a, b)| a != b);
        panic!(
            "{what}: {} bytes from zlib, {} from us, first difference at {first:?}",
            expected.len(),
            got.len()
        );
    }
}

/// Inputs shaped like kernel pages: pointers, small counters, zero runs, text, noise.
fn page_like(rng: &mut XorShift, len: usize) -> Vec<u8> {
    let mut page = vec![0u8; len];
    let mut at = 0;
    while at < len {
        let run = (rng.next() % 200) as usize + 1;
        let end = (at + run).min(len);
        match rng.next() % 6 {
            0 => {} // zeros
            1 => {
                let base = 0xffff_8880_0000_0000u64 | (rng.next() & 0xfff_fff8);
                for (i, chunk) in page[at..end].chunks_mut(8).enumerate() {
                    let v = (base + 64 * i as u64).to_le_bytes();
                    chunk.copy_from_slice(&v[..chunk.len()]);
                }
            }
            2 => {
                let text = b"kworker/u4:1 systemd-journald ext4_da_write_begin ";
                for (i, b) in page[at..end].iter_mut().enumerate() {
                    *b = text[(i + at) % text.len()];
                }
            }
            3 => page[at..end].fill((rng.next() & 3) as u8),
            4 => {
                for b in &mut page[at..end] {
                    *b = (rng.next() % 4) as u8 * 17;
                }
            }
            _ => {
                for b in &mut page[at..end] {
                    *b = rng.next() as u8;
                }
            }
        }
        at = end;
    }
    page
}

#[test]
fn empty_and_tiny_inputs() {
    let mut encoder = ZlibLevel1::new();
    for len in 0..12 {
        assert_same(&mut encoder, &vec![7u8; len], &format!("{len} sevens"));
        let ramp: Vec<u8> = (0..len as u8).collect();
        assert_same(&mut encoder, &ramp, &format!("{len}-byte ramp"));
    }
}

#[test]
fn uniform_pages_use_the_longest_matches() {
    let mut encoder = ZlibLevel1::new();
    for byte in [0u8, 1, 0xff] {
        for len in [257, 258, 259, 260, 515, 516, 517, 4096] {
            assert_same(
                &mut encoder,
                &vec![byte; len],
                &format!("{len} x {byte:#x}"),
            );
        }
    }
}

#[test]
fn noise_is_stored_and_never_fits_a_page() {
    let mut encoder = ZlibLevel1::new();
    let noise = XorShift(0x9e37_79b9_7f4a_7c15).bytes(4096);
    assert_same(&mut encoder, &noise, "noise");
    let mut page_buffer = vec![0u8; 4095];
    assert_eq!(encoder.compress(&noise, &mut page_buffer), None);
}

#[test]
fn page_like_inputs_of_many_sizes() {
    let mut encoder = ZlibLevel1::new();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for round in 0..400 {
        let len = match round % 4 {
            0 => 4096,
            1 => (rng.next() % 600) as usize,
            2 => (rng.next() % MAX_INPUT as u64) as usize + 1,
            _ => 8192,
        };
        let input = page_like(&mut rng, len);
        assert_same(&mut encoder, &input, &format!("round {round}, {len} bytes"));
    }
}

#[test]
fn skewed_alphabets_exercise_length_limits() {
    // Fibonacci-like frequencies push Huffman depths past 15 (literal tree) and 7 (code
    // length tree), which zlib repairs in its own order.
    let mut encoder = ZlibLevel1::new();
    let mut input = Vec::new();
    let (mut a, mut b) = (1usize, 1usize);
    for symbol in 0..20u8 {
        input.extend(std::iter::repeat_n(symbol.wrapping_mul(37), a.min(4000)));
        (a, b) = (b, a + b);
    }
    // Break the runs so that they become literals, not matches.
    let mut rng = XorShift(7);
    for i in (0..input.len()).step_by(3) {
        input[i] = rng.next() as u8;
    }
    input.truncate(MAX_INPUT);
    assert_same(&mut encoder, &input, "skewed");
}

/// A de Bruijn sequence B(k, 3): every 3-byte string over bytes 0..k exactly once, so
/// there is nothing to match (FKM algorithm over Lyndon words).
fn de_bruijn_order3(k: u8) -> Vec<u8> {
    fn lyndon(t: usize, p: usize, k: u8, a: &mut [u8; 4], out: &mut Vec<u8>) {
        if t > 3 {
            if 3 % p == 0 {
                out.extend_from_slice(&a[1..=p]);
            }
            return;
        }
        a[t] = a[t - p];
        lyndon(t + 1, p, k, a, out);
        for symbol in a[t - p] + 1..k {
            a[t] = symbol;
            lyndon(t + 1, t, k, a, out);
        }
    }
    let mut out = Vec::new();
    lyndon(1, 1, k, &mut [0; 4], &mut out);
    out
}

#[test]
fn a_single_distance_code_gets_zlibs_dummy_partner() {
    // Match-free text over 32 symbols (so the dynamic code wins) with units "x y x y x"
    // of fresh bytes every 100 bytes: the only matches are "x y x" at distance 2, i.e.
    // distance code 1 alone. zlib pairs a lone code 1 with dummy code 2 (not 0), which
    // is visible in the tree header.
    let text = de_bruijn_order3(32);
    assert_eq!(text.len(), 32 * 32 * 32);
    let mut input = Vec::new();
    for (j, chunk) in text[..3800].chunks(100).enumerate() {
        input.extend_from_slice(chunk);
        let (x, y) = (160 + j as u8, 210 + j as u8);
        input.extend_from_slice(&[x, y, x, y, x]);
    }
    assert_same(&mut ZlibLevel1::new(), &input, "distance-2 units");
    let reference = zlib_reference(&input);
    // After the 2-byte zlib header: BFINAL, BTYPE (2 bits), HLIT (5), HDIST (5).
    let bits = u32::from(reference[2]) | u32::from(reference[3]) << 8;
    assert_eq!(bits >> 1 & 3, 2, "the dynamic code should win");
    assert_eq!(
        bits >> 8 & 0x1f,
        2,
        "codes 0..=2 described: 1 and its dummy 2"
    );
}

#[test]
fn reuse_gives_the_same_stream_as_a_fresh_encoder() {
    let mut reused = ZlibLevel1::new();
    let mut rng = XorShift(99);
    let pages: Vec<Vec<u8>> = (0..20).map(|_| page_like(&mut rng, 4096)).collect();
    for page in &pages {
        ours(&mut reused, page);
    }
    for page in pages.iter().rev() {
        assert_eq!(ours(&mut reused, page), ours(&mut ZlibLevel1::new(), page));
    }
}

#[test]
fn too_long_inputs_and_short_buffers_are_refused() {
    let mut encoder = ZlibLevel1::new();
    let input = vec![1u8; MAX_INPUT + 1];
    assert_eq!(encoder.compress(&input, &mut vec![0u8; 1 << 16]), None);
    let page = vec![3u8; 4096];
    let full = zlib_reference(&page);
    assert_eq!(
        encoder.compress(&page, &mut vec![0u8; full.len() - 1]),
        None
    );
    assert_eq!(
        encoder.compress(&page, &mut vec![0u8; full.len()]),
        Some(full.len())
    );
}
