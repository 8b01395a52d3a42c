//! A pfn bitmap in makedumpfile's on-disk bit order.
//!
//! Bit `p` lives in byte `p / 8`, bit `p % 8`, least significant bit first (makedumpfile
//! `set_bitmap`, crash `page_is_dumpable`). The bytes are exactly what is written to the
//! 1st and 2nd bitmap regions, so no conversion happens on the write path.

/// A fixed-length set of page frame numbers.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitmap {
    bytes: Vec<u8>,
    /// First pfn of the window (a multiple of 64).
    start: u64,
    /// One past the last pfn.
    end: u64,
}

impl std::fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Bitmap {{ {}..{}, set: {} }}",
            self.start,
            self.end,
            self.count_ones()
        )
    }
}

impl Bitmap {
    /// An empty bitmap of `len` bits.
    pub fn new(len: u64) -> Self {
        Bitmap::window(0, len)
    }

    /// An empty bitmap for the pfns `[start, end)`; `start` is rounded down to a multiple
    /// of 64 so that words and bytes line up with the whole bitmap.
    pub fn window(start: u64, end: u64) -> Self {
        let start = start - start % 64;
        let end = end.max(start);
        Bitmap {
            bytes: vec![0; (end - start).div_ceil(8) as usize],
            start,
            end,
        }
    }

    /// First pfn covered.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// One past the last pfn covered.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Byte index and bit of absolute `pfn`, if inside the window.
    #[inline]
    fn locate(&self, pfn: u64) -> Option<(usize, u8)> {
        (pfn >= self.start && pfn < self.end)
            .then(|| (((pfn - self.start) / 8) as usize, 1u8 << (pfn % 8)))
    }

    /// A bitmap over `len` bits taken from raw bytes (extra bytes are ignored, missing
    /// bytes read as zero). Bits at or beyond `len` are cleared.
    pub fn from_bytes(raw: &[u8], len: u64) -> Self {
        let mut bitmap = Bitmap::new(len);
        let n = bitmap.bytes.len().min(raw.len());
        bitmap.bytes[..n].copy_from_slice(&raw[..n]);
        bitmap.clear_tail();
        bitmap
    }

    /// The window `[start, end)` (start rounded down to 64 as [`Bitmap::window`]) with
    /// its bytes filled by `fill`, e.g. read back from the bitmap region of a dump file;
    /// bits at or beyond `end` are cleared.
    pub fn window_filled<E>(
        start: u64,
        end: u64,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<Self, E> {
        let mut bitmap = Bitmap::window(start, end);
        fill(&mut bitmap.bytes)?;
        bitmap.clear_tail();
        Ok(bitmap)
    }

    /// Number of bits (of the window).
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    // Only for clippy::len_without_is_empty, where the type is public (the `testing` API).
    #[cfg(feature = "testing")]
    /// True when the bitmap has no bits at all.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The on-disk bytes of the window: `ceil(len / 8)` of them, bit 0 = `start()`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether `pfn` is set; bits outside the window read as clear.
    #[inline]
    pub fn get(&self, pfn: u64) -> bool {
        self.locate(pfn)
            .is_some_and(|(byte, bit)| self.bytes[byte] & bit != 0)
    }

    /// Set one bit. Bits outside the window are ignored: callers clip ranges to it.
    #[inline]
    pub fn set(&mut self, pfn: u64) {
        if let Some((byte, bit)) = self.locate(pfn) {
            self.bytes[byte] |= bit;
        }
    }

    /// Clear one bit.
    #[inline]
    pub fn clear(&mut self, pfn: u64) {
        if let Some((byte, bit)) = self.locate(pfn) {
            self.bytes[byte] &= !bit;
        }
    }

    /// Set or clear every bit of `[start, end)`, clipped to the bitmap; whole bytes are
    /// filled at once because PT_LOAD ranges cover millions of pfns.
    pub fn fill_range(&mut self, start: u64, end: u64, value: bool) {
        let end = end.min(self.end);
        let mut pfn = start.max(self.start);
        while pfn < end && pfn % 8 != 0 {
            self.assign(pfn, value);
            pfn += 1;
        }
        let whole_end = end - end % 8;
        if pfn < whole_end {
            let byte = if value { 0xff } else { 0 };
            self.bytes[((pfn - self.start) / 8) as usize..((whole_end - self.start) / 8) as usize]
                .fill(byte);
            pfn = whole_end;
        }
        while pfn < end {
            self.assign(pfn, value);
            pfn += 1;
        }
    }

    fn assign(&mut self, pfn: u64, value: bool) {
        if value {
            self.set(pfn)
        } else {
            self.clear(pfn)
        }
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> u64 {
        self.bytes.iter().map(|b| b.count_ones() as u64).sum()
    }

    /// Number of set bits in `[start, end)`.
    pub fn count_ones_in(&self, start: u64, end: u64) -> u64 {
        let end = end.min(self.end);
        let start = start.max(self.start);
        if start >= end {
            return 0;
        }
        let mut count = 0u64;
        let mut pfn = start;
        while pfn < end && pfn % 64 != 0 {
            count += self.get(pfn) as u64;
            pfn += 1;
        }
        while pfn + 64 <= end {
            count += self.word(pfn).count_ones() as u64;
            pfn += 64;
        }
        while pfn < end {
            count += self.get(pfn) as u64;
            pfn += 1;
        }
        count
    }

    /// The 64 bits starting at `pfn` (a multiple of 64), as a little-endian word:
    /// bit i of the result is pfn + i. Bits outside the window read as zero.
    #[inline]
    pub fn word(&self, pfn: u64) -> u64 {
        debug_assert_eq!(pfn % 64, 0);
        if pfn < self.start {
            return 0;
        }
        let start = ((pfn - self.start) / 8) as usize;
        let mut raw = [0u8; 8];
        if let Some(bytes) = self.bytes.get(start..) {
            let n = bytes.len().min(8);
            raw[..n].copy_from_slice(&bytes[..n]);
        }
        u64::from_le_bytes(raw)
    }

    /// `self &= other` over `other`'s window, which lies inside `self`'s: every pfn clear
    /// in `other` is cleared here (merging the scan of one part of a cycle).
    pub fn and_window(&mut self, other: &Bitmap) {
        debug_assert!(other.start >= self.start && other.end <= self.end);
        let offset = ((other.start - self.start) / 8) as usize;
        let whole = ((other.end - other.start) / 8) as usize;
        for (dst, src) in self.bytes[offset..offset + whole]
            .iter_mut()
            .zip(&other.bytes[..whole])
        {
            *dst &= src;
        }
        let rest = (other.end - other.start) % 8;
        if rest != 0 {
            // Only the bits of `other`'s last pfns: the ones past its end are kept.
            let beyond = !((1u8 << rest) - 1);
            self.bytes[offset + whole] &= other.bytes[whole] | beyond;
        }
    }

    /// The first set bit at or after `pfn` and before `end`, if any.
    pub fn next_set(&self, pfn: u64, end: u64) -> Option<u64> {
        let end = end.min(self.end);
        let mut pfn = pfn.max(self.start);
        while pfn < end {
            let base = pfn - pfn % 64;
            let bits = self.word(base) >> (pfn - base);
            if bits != 0 {
                let found = pfn + bits.trailing_zeros() as u64;
                return (found < end).then_some(found);
            }
            pfn = base + 64;
        }
        None
    }

    /// Iterate the set bits of `[start, end)` in ascending order.
    pub fn iter_set(&self, start: u64, end: u64) -> SetBits<'_> {
        SetBits {
            bitmap: self,
            next: start,
            end: end.min(self.end),
        }
    }

    /// Clear every bit at or beyond `len` in the last byte, so the on-disk bytes never
    /// claim pfns past max_mapnr (makedumpfile leaves them 0).
    fn clear_tail(&mut self) {
        let rem = self.len() % 8;
        if rem != 0 {
            if let Some(last) = self.bytes.last_mut() {
                *last &= (1u8 << rem) - 1;
            }
        }
    }
}

/// Iterator over the set bits of a range of a [`Bitmap`].
pub struct SetBits<'a> {
    bitmap: &'a Bitmap,
    next: u64,
    end: u64,
}

impl Iterator for SetBits<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let found = self.bitmap.next_set(self.next, self.end)?;
        self.next = found + 1;
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn and_window_clears_only_inside_the_other_window() {
        let mut whole = Bitmap::new(300);
        whole.fill_range(0, 300, true);
        let mut part = Bitmap::window(128, 203);
        part.fill_range(part.start(), 203, true);
        part.clear(130);
        part.clear(202);
        whole.and_window(&part);
        let cleared: Vec<u64> = (0..300).filter(|&p| !whole.get(p)).collect();
        // 203..208 share the last byte with the part's end: they are kept.
        assert_eq!(cleared, vec![130, 202]);
    }

    #[test]
    fn bit_order_is_lsb_first() {
        let mut b = Bitmap::new(16);
        b.set(0);
        b.set(9);
        assert_eq!(b.as_bytes(), &[0x01, 0x02]);
    }

    #[test]
    fn fill_range_matches_bit_by_bit() {
        for (start, end) in [
            (0, 0),
            (3, 5),
            (3, 70),
            (8, 64),
            (0, 100),
            (61, 99),
            (95, 200),
        ] {
            let mut fast = Bitmap::new(100);
            fast.fill_range(start, end, true);
            let mut slow = Bitmap::new(100);
            for p in start..end.min(100) {
                slow.set(p);
            }
            assert_eq!(fast, slow, "range {start}..{end}");
            fast.fill_range(start + 1, end, false);
            for p in start + 1..end.min(100) {
                slow.clear(p);
            }
            assert_eq!(fast, slow, "clear {start}..{end}");
        }
    }

    #[test]
    fn counting_and_iteration_agree() {
        let mut b = Bitmap::new(1000);
        for p in (0..1000).filter(|p| p % 7 == 0 || p % 13 == 1) {
            b.set(p);
        }
        for (s, e) in [
            (0, 1000),
            (5, 77),
            (64, 128),
            (63, 65),
            (999, 1000),
            (500, 400),
        ] {
            let listed: Vec<u64> = b.iter_set(s, e).collect();
            let expected: Vec<u64> = (s..e).filter(|&p| b.get(p)).collect();
            assert_eq!(listed, expected);
            assert_eq!(b.count_ones_in(s, e), expected.len() as u64);
        }
    }

    #[test]
    fn windows_take_absolute_pfns_and_match_the_whole_bitmap() {
        let mut whole = Bitmap::new(1000);
        let mut window = Bitmap::window(320, 704);
        for p in (0..1000).filter(|p| p % 3 == 0 || p % 11 == 2) {
            whole.set(p);
            window.set(p);
        }
        window.fill_range(0, 330, false);
        whole.fill_range(320, 330, false);
        assert_eq!(window.start(), 320);
        assert_eq!(window.as_bytes(), &whole.as_bytes()[40..88]);
        assert!(!window.get(3) && !window.get(999));
        assert_eq!(window.count_ones(), whole.count_ones_in(320, 704));
        let a: Vec<u64> = window.iter_set(0, 2000).collect();
        let b: Vec<u64> = whole.iter_set(320, 704).collect();
        assert_eq!(a, b);
        assert_eq!(window.word(384), whole.word(384));
        assert_eq!(window.word(0), 0);
        assert_eq!(
            Bitmap::window(100, 200).start(),
            64,
            "windows start on a word"
        );
    }

    #[test]
    fn from_bytes_clears_bits_past_len() {
        let b = Bitmap::from_bytes(&[0xff, 0xff], 12);
        assert_eq!(b.as_bytes(), &[0xff, 0x0f]);
        assert_eq!(b.count_ones(), 12);
        assert!(!b.get(12));
    }
}
