//! An LSB-first bit writer into a caller's fixed buffer (RFC 1951 §3.1.1).
//!
//! zlib keeps 16 bits pending; this keeps up to 63 and stores 4 bytes at a time. The byte
//! stream is the same for any buffer width: only the order of bits is defined.
//! Running out of room is not an error here: the writer remembers it, stops storing, and
//! the caller asks [`BitWriter::finish`] for the length, which is `None` then. A page whose
//! stream does not fit is stored raw, so the caller needs no partial output.

/// Bits pending before 4 bytes are stored.
const STORE_AT: u32 = 32;

/// Writes bits LSB first into `out`.
pub struct BitWriter<'a> {
    out: &'a mut [u8],
    /// Bytes stored so far.
    position: usize,
    /// Bits not yet stored, the oldest in bit 0.
    pending: u64,
    /// How many bits of `pending` are valid (always < 32 between calls).
    pending_bits: u32,
    /// Set once a store did not fit; nothing is stored after that.
    overflowed: bool,
}

impl<'a> BitWriter<'a> {
    /// An empty writer over `out`.
    pub fn new(out: &'a mut [u8]) -> Self {
        BitWriter {
            out,
            position: 0,
            pending: 0,
            pending_bits: 0,
            overflowed: false,
        }
    }

    /// Append the low `bits` bits of `value`, at most 32 (fewer than 32 bits are ever
    /// pending, so the sum stays within the 64-bit buffer).
    #[inline(always)]
    pub fn put(&mut self, value: u32, bits: u32) {
        debug_assert!(bits <= 32 && u64::from(value) >> bits == 0);
        self.pending |= u64::from(value) << self.pending_bits;
        self.pending_bits += bits;
        if self.pending_bits >= STORE_AT {
            self.store_word();
        }
    }

    #[inline(always)]
    fn store_word(&mut self) {
        match self.out.get_mut(self.position..self.position + 4) {
            Some(dst) if !self.overflowed => {
                dst.copy_from_slice(&(self.pending as u32).to_le_bytes());
                self.position += 4;
            }
            _ => self.overflowed = true,
        }
        self.pending >>= 32;
        self.pending_bits -= 32;
    }

    /// Pad with zero bits to a byte boundary and store everything pending (bi_windup).
    pub fn align(&mut self) {
        while self.pending_bits > 0 {
            self.put_byte(self.pending as u8);
            self.pending >>= 8;
            self.pending_bits = self.pending_bits.saturating_sub(8);
        }
        self.pending = 0;
    }

    /// Append whole bytes; the stream must be byte-aligned.
    pub fn put_bytes(&mut self, bytes: &[u8]) {
        debug_assert_eq!(self.pending_bits, 0, "put_bytes needs an aligned stream");
        match self.out.get_mut(self.position..self.position + bytes.len()) {
            Some(dst) if !self.overflowed => {
                dst.copy_from_slice(bytes);
                self.position += bytes.len();
            }
            _ => self.overflowed = true,
        }
    }

    fn put_byte(&mut self, byte: u8) {
        match self.out.get_mut(self.position) {
            Some(dst) if !self.overflowed => {
                *dst = byte;
                self.position += 1;
            }
            _ => self.overflowed = true,
        }
    }

    /// Bytes left in `out` after everything pending is stored.
    pub fn room(&self) -> usize {
        let pending_bytes = self.pending_bits.div_ceil(8) as usize;
        self.out.len().saturating_sub(self.position + pending_bytes)
    }

    /// Stop: the caller knows the rest will not fit.
    pub fn give_up(&mut self) {
        self.overflowed = true;
    }

    /// Whether everything written so far fit.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The number of bytes written, after aligning; `None` when they did not fit.
    pub fn finish(mut self) -> Option<usize> {
        self.align();
        (!self.overflowed).then_some(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_packed_lsb_first() {
        let mut out = [0u8; 8];
        let mut w = BitWriter::new(&mut out);
        w.put(0b1, 1);
        w.put(0b10, 2);
        w.put(0b11111, 5);
        w.put(0xabcd, 16);
        w.put(0x3, 3);
        assert_eq!(w.finish(), Some(4));
        assert_eq!(out[..4], [0b1111_1101, 0xcd, 0xab, 0x03]);
    }

    #[test]
    fn long_runs_cross_word_boundaries() {
        let mut out = [0u8; 64];
        let mut w = BitWriter::new(&mut out);
        for i in 0..30u32 {
            w.put(i & 0x7ff, 11);
        }
        let len = w.finish().unwrap();
        assert_eq!(len, (30usize * 11).div_ceil(8));
        // Read back with an independent bit reader.
        for i in 0..30usize {
            let mut v = 0u32;
            for b in 0..11 {
                let bit = i * 11 + b;
                v |= u32::from(out[bit / 8] >> (bit % 8) & 1) << b;
            }
            assert_eq!(v, i as u32 & 0x7ff);
        }
    }

    #[test]
    fn overflow_is_reported_not_written_past() {
        let mut out = [0u8; 3];
        let mut w = BitWriter::new(&mut out);
        for _ in 0..4 {
            w.put(0xff, 8);
        }
        assert!(w.overflowed());
        assert_eq!(w.finish(), None);
        let mut out = [0u8; 3];
        let mut w = BitWriter::new(&mut out);
        w.put(0xffff, 16);
        w.put(0x1, 1);
        assert_eq!(w.finish(), Some(3));
    }
}
