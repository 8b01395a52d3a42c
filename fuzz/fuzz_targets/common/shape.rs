//! Turning fuzz bytes into compressor inputs (shared by the `*_exact` targets).

/// The input that `mode` makes of `rest`, at most `max` bytes:
/// 0: the bytes as they are;
/// 1: each byte expanded into a run of `1 + (byte & 0x3f) * run_scale` copies of a symbol
///    from a 4-symbol alphabet (long matches, frequency ties, deep trees);
/// 2: the bytes repeated to a 4 KiB page (zeros when there are none).
pub fn shape(mode: u8, rest: &[u8], run_scale: usize, max: usize) -> Vec<u8> {
    let mut input = match mode % 3 {
        0 => rest.to_vec(),
        1 => {
            let alphabet = [0u8, 0xff, b'a', 0x10];
            let mut out = Vec::new();
            for (i, &b) in rest.iter().enumerate() {
                let symbol = alphabet[(b >> 6) as usize] ^ (i as u8 & mode);
                out.extend(std::iter::repeat_n(
                    symbol,
                    usize::from(b & 0x3f) * run_scale + 1,
                ));
            }
            out
        }
        _ if rest.is_empty() => vec![0; 4096],
        _ => rest.iter().copied().cycle().take(4096).collect(),
    };
    input.truncate(max);
    input
}
