//! The decoder against the `lzo1x` crate's: the same pages back from streams of every
//! LZO1X compressor level (level 3 is liblzo's LZO1X-1, what makedumpfile writes; the
//! 999 levels use the M1 forms LZO1X-1 never emits), the same verdict on damaged streams,
//! and liblzo's error for each kind of damage.

use super::{decompress, LzoError};
use crate::codec::lzo1x_1::tests::{kdump_pages, text};
use crate::codec::lzo1x_1::Lzo1x1;
use crate::xorshift::XorShift;

/// Compressor levels of the crate: 1 and 3 (LZO1X-1), 7 and 12 (LZO1X-999).
const LEVELS: [u8; 4] = [1, 3, 7, 12];

fn streams(src: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![0u8; src.len() + src.len() / 16 + 67];
    let n = Lzo1x1::new().compress(src, &mut out).expect("fits liblzo's bound");
    out.truncate(n);
    let mut streams = vec![("ours".to_string(), out)];
    for level in LEVELS {
        streams.push((
            format!("crate level {level}"),
            lzo1x::compress(src, lzo1x::CompressLevel::new(level)),
        ));
    }
    streams
}

fn round_trip(src: &[u8], what: &str) {
    for (how, stream) in streams(src) {
        let mut back = vec![0x5au8; src.len()];
        decompress(&stream, &mut back).unwrap_or_else(|e| panic!("{what}, {how}: {e:?}"));
        assert!(back == src, "{what}, {how}: decodes to other bytes");
    }
}

#[test]
fn every_page_kind_from_every_compressor_decodes_exactly() {
    for (what, page) in kdump_pages() {
        round_trip(&page, what);
    }
}

/// Every length around the literal, match and wide-copy thresholds, from mixed data.
#[test]
fn every_length_up_to_1100_decodes_exactly() {
    let mut rng = XorShift(3);
    for len in 0..1100 {
        let mut src = text(len, len as u64 + 1);
        for byte in src.iter_mut().step_by(7) {
            *byte = rng.next() as u8;
        }
        round_trip(&src, &format!("{len} bytes"));
    }
}

/// Inputs beyond 16 KiB reach M4 distances; runs of one byte and short periods exercise
/// the overlapping match copies.
#[test]
fn long_inputs_and_short_periods_decode_exactly() {
    let mut long = text(60_000, 9);
    long[20_000..20_300].copy_from_slice(&XorShift(4).bytes(300));
    round_trip(&long, "60000 bytes of text");
    for period in 1..=20usize {
        let src: Vec<u8> = (0..4096).map(|i| ((i % period) * 37) as u8).collect();
        round_trip(&src, &format!("period {period}"));
    }
}

/// Damaged streams: our verdict is the crate's, and an accepted stream gives its bytes.
#[test]
fn damaged_streams_get_the_crates_verdict() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let (mut accepted, mut refused) = (0, 0);
    for (what, page) in kdump_pages() {
        for (how, stream) in streams(&page) {
            for _ in 0..400 {
                let mut damaged = stream.clone();
                match rng.next() % 4 {
                    0 => {
                        let at = rng.next() as usize % damaged.len();
                        damaged[at] = rng.next() as u8;
                    }
                    1 => {
                        let at = rng.next() as usize % damaged.len();
                        damaged[at] ^= 1 << (rng.next() % 8);
                    }
                    2 => damaged.truncate(rng.next() as usize % damaged.len()),
                    _ => {
                        let at = rng.next() as usize % (damaged.len() + 1);
                        damaged.insert(at, rng.next() as u8);
                    }
                }
                let mut ours = vec![0u8; page.len()];
                let mut theirs = vec![0u8; page.len()];
                let verdict = decompress(&damaged, &mut ours);
                let expected = lzo1x::decompress(&damaged, &mut theirs);
                assert_eq!(
                    verdict.is_ok(),
                    expected.is_ok(),
                    "{what}, {how}: ours {verdict:?}, crate {expected:?}"
                );
                if verdict.is_ok() {
                    assert!(ours == theirs, "{what}, {how}: accepted, other bytes");
                    accepted += 1;
                } else {
                    refused += 1;
                }
            }
        }
    }
    assert!(accepted > 100 && refused > 1000, "{accepted} accepted, {refused} refused");
}

#[test]
fn each_kind_of_damage_is_named() {
    let page = text(4096, 5);
    let (_, stream) = streams(&page).remove(0);
    let mut out = vec![0u8; 4096];
    let last = stream.len() - 1;
    assert_eq!(decompress(&stream[..last], &mut out), Err(LzoError::InputOverrun));
    assert_eq!(decompress(&[], &mut out), Err(LzoError::InputOverrun));
    let mut longer = stream.clone();
    longer.push(0);
    assert_eq!(decompress(&longer, &mut out), Err(LzoError::InputNotConsumed));
    assert_eq!(
        decompress(&stream, &mut out[..4095]),
        Err(LzoError::OutputOverrun)
    );
    let mut bigger = vec![0u8; 4097];
    assert_eq!(decompress(&stream, &mut bigger), Err(LzoError::OutputUnderrun));
    // One literal, then an M2 match two bytes back: there is only one byte behind it.
    let reaching_back = [18, b'a', 0x44, 0x00, 0x11, 0x00, 0x00];
    assert_eq!(
        decompress(&reaching_back, &mut out),
        Err(LzoError::LookbehindOverrun)
    );
    // The end-of-stream marker alone is a valid, empty stream.
    assert_eq!(decompress(&[0x11, 0x00, 0x00], &mut []), Ok(()));
}
