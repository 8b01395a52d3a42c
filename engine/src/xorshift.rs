//! A deterministic xorshift64 generator (13, 7, 17) for synthetic data in tests,
//! benchmarks and synthetic vmcores: the same bytes on every machine, no dependency.
//! Not for anything that needs real randomness.

/// xorshift64 state; a zero state stays zero, so seed with a non-zero value.
#[derive(Debug, Clone)]
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64-bit value.
    // Not an Iterator: the sequence never ends, and callers want values, not Options.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `n` bytes, the low byte of one value each.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}
