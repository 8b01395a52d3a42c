//! Handing out work: one atomic cursor over the pfn range, in chunks with sequence
//! numbers, and a table saying which producer took which chunk.
//!
//! makedumpfile hands out single pfns under `current_pfn_mutex`, and its consumer then
//! writes "the smallest pfn visible at the ring heads". That scan has a window: a
//! producer whose head looked empty can claim a smaller pfn a moment later, and two pages
//! go out swapped (makedumpfile-reference.md §3.8.2). Here a claim is a chunk sequence
//! number `k` from one `fetch_add`; chunk `k` covers a fixed pfn span, so chunk order is
//! pfn order. The claimer records itself as the owner of `k`, and the consumer takes
//! chunks strictly as `0, 1, 2, …`, waiting for the owner of `k` and then for the end of
//! chunk `k` in that owner's ring. It never looks at "what is visible".
//!
//! The owner table is a window of `W = 2^n` slots; chunk `k` uses slot `k mod W`. Every
//! slot value names the chunk it is about, so no lap can be mistaken for another:
//!
//! `free_for(k)` → (producer registers) `owned(k, p)` → (consumer retires) `free_for(k + W)`
//!
//! Each transition is made by the one thread that has just read the previous value with
//! Acquire, so the values of a slot form one happens-before chain. An earlier version
//! let a producer register over any "free" value; loom (`loom_handoff_owner_window_reuse`,
//! a window of 2) found that the producer of chunk `k + W` could then read the initial
//! "free" before the registration of chunk `k` became visible, store its own, and have
//! it overwritten by chunk `k`'s, which left the consumer waiting for an owner forever.
//!
//! A producer cannot get more than `ring capacity + 1` chunks ahead of the consumer
//! (each finished chunk leaves at least its end marker in its ring), so the window of
//! `threads × (ring capacity + 1)` slots that `run` uses is not expected to make anyone
//! wait; if it did, the producer would wait for `retire`, which wakes it.

use std::ops::Range;

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU64, Ordering};

/// Producer ids take 16 bits of an owner slot.
pub(crate) const MAX_PRODUCERS: usize = 1 << 16;
/// Slot value layout: chunk sequence number above bit 17, producer id in bits 1..17,
/// bit 0 set when owned.
const SEQ_SHIFT: u32 = 17;
const OWNED: u64 = 1;

/// Slot value: free, waiting for chunk `seq` to register.
const fn free_for(seq: u64) -> u64 {
    seq << SEQ_SHIFT
}

/// Slot value: chunk `seq` is owned by `producer`.
const fn owned(seq: u64, producer: usize) -> u64 {
    (seq << SEQ_SHIFT) | ((producer as u64) << 1) | OWNED
}

/// One claim: chunk `seq` and the pfns it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Position in the consumer's order, from 0.
    pub(crate) seq: u64,
    /// The pfns of this chunk (possibly none of them dumpable).
    pub(crate) pfns: Range<u64>,
}

/// The shared cursor and owner table of one pipeline run.
pub(crate) struct ChunkClaims {
    /// Next chunk sequence number to hand out. Written by every producer (fetch_add),
    /// read by nobody else. Padded: it is the one line all producers contend on.
    next: CachePadded<AtomicU64>,
    /// Number of chunks in the range.
    count: u64,
    /// The run's pfn range.
    range: Range<u64>,
    /// Pfns per chunk; chunk boundaries are multiples of `span` (absolute pfns), so a
    /// chunk is whole bitmap words when `span` is a multiple of 64.
    span: u64,
    /// `range.start / span`: the absolute index of chunk 0.
    first: u64,
    /// Owner window: slot `k & mask` walks `free_for(k)` → `owned(k, p)` →
    /// `free_for(k + W)`. Written by the claiming producer (register) and the consumer
    /// (retire); read by both.
    owners: Box<[AtomicU64]>,
    mask: u64,
}

impl ChunkClaims {
    /// Claims over `range` in chunks of `span` pfns, with an owner window of at least
    /// `window` slots.
    pub(crate) fn new(range: Range<u64>, span: u64, window: usize) -> Self {
        let span = span.max(1);
        let (first, count) = if range.start < range.end {
            let first = range.start / span;
            (first, (range.end - 1) / span - first + 1)
        } else {
            (0, 0)
        };
        let slots = window.max(2).next_power_of_two();
        ChunkClaims {
            next: CachePadded::new(AtomicU64::new(0)),
            count,
            range,
            span,
            first,
            owners: (0..slots as u64)
                .map(|k| AtomicU64::new(free_for(k)))
                .collect(),
            mask: slots as u64 - 1,
        }
    }

    /// Number of chunks the consumer will take.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The pfns of chunk `seq`.
    pub(crate) fn pfns(&self, seq: u64) -> Range<u64> {
        let base = (self.first + seq) * self.span;
        base.max(self.range.start)..(base + self.span).min(self.range.end)
    }

    /// Take the next chunk, or `None` when the range is exhausted.
    pub(crate) fn claim(&self) -> Option<Chunk> {
        // Relaxed: the read-modify-write alone guarantees every number is handed out
        // once; the cursor publishes no data (ring entries and owner slots carry their
        // own Release/Acquire pairs).
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        // Once past the end the cursor keeps growing harmlessly: each producer fails at
        // most once more before it exits, far from u64 overflow.
        (seq < self.count).then(|| Chunk {
            seq,
            pfns: self.pfns(seq),
        })
    }

    /// Record `producer` as the owner of chunk `seq`. False while the slot still
    /// serves chunk `seq - W` (not retired yet): the caller waits and retries.
    pub(crate) fn try_register(&self, seq: u64, producer: usize) -> bool {
        debug_assert!(producer < MAX_PRODUCERS);
        let slot = &self.owners[(seq & self.mask) as usize];
        // Acquire pairs with the Release in `retire` of chunk `seq - W` (or is the
        // initial value): the consumer's last read of this slot happens before our write.
        if slot.load(Ordering::Acquire) != free_for(seq) {
            return false;
        }
        // Only we can move the slot on from `free_for(seq)`: a plain store suffices.
        // Release pairs with the Acquire in `owner`. Nothing else is published through
        // it (ring entries have their own pairs), but it keeps the hand-off of the
        // ownership fact self-contained.
        slot.store(owned(seq, producer), Ordering::Release);
        true
    }

    /// The producer that owns chunk `seq`, once it has registered.
    pub(crate) fn owner(&self, seq: u64) -> Option<usize> {
        // Acquire pairs with the Release in `try_register`.
        let value = self.owners[(seq & self.mask) as usize].load(Ordering::Acquire);
        (value & OWNED != 0 && value >> SEQ_SHIFT == seq)
            .then_some(((value >> 1) & (MAX_PRODUCERS as u64 - 1)) as usize)
    }

    /// The consumer has finished chunk `seq`: hand its owner slot to chunk `seq + W`.
    pub(crate) fn retire(&self, seq: u64) {
        debug_assert!(self.owner(seq).is_some());
        // Only the consumer moves the slot on from `owned(seq, _)`, which it has read.
        // Release pairs with the Acquire in `try_register` of chunk `seq + W`.
        self.owners[(seq & self.mask) as usize]
            .store(free_for(seq + self.mask + 1), Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn chunks_tile_the_range_in_order() {
        for (range, span) in [
            (0..10, 4),
            (3..10, 4),
            (5..6, 64),
            (0..4096, 64),
            (100..4097, 1000),
            (7..7, 4),
        ] {
            let claims = ChunkClaims::new(range.clone(), span, 4);
            let mut covered = Vec::new();
            let mut expect_seq = 0;
            while let Some(chunk) = claims.claim() {
                assert_eq!(chunk.seq, expect_seq);
                expect_seq += 1;
                assert!(
                    !chunk.pfns.is_empty(),
                    "{range:?}/{span}: empty chunk {chunk:?}"
                );
                if chunk.pfns.start > range.start {
                    assert_eq!(
                        chunk.pfns.start % span,
                        0,
                        "chunks start on span boundaries"
                    );
                }
                covered.extend(chunk.pfns);
            }
            assert_eq!(expect_seq, claims.count());
            assert_eq!(covered, range.collect::<Vec<_>>());
        }
    }

    #[test]
    fn owner_slots_are_per_lap_and_reusable_after_retire() {
        let claims = ChunkClaims::new(0..1000, 1, 2);
        // Chunk 2 shares slot 0 with chunk 0 and may not take it first (the race loom
        // found: see the module docs).
        assert!(!claims.try_register(2, 1));
        assert!(claims.try_register(0, 3));
        assert_eq!(claims.owner(0), Some(3));
        // Not before chunk 0 is retired, and chunk 2 is not mistaken for chunk 0.
        assert_eq!(claims.owner(2), None);
        assert!(!claims.try_register(2, 1));
        claims.retire(0);
        assert_eq!(claims.owner(0), None);
        assert!(!claims.try_register(4, 1));
        assert!(claims.try_register(2, 1));
        assert_eq!(claims.owner(2), Some(1));
        assert!(claims.try_register(1, MAX_PRODUCERS - 1));
        assert_eq!(claims.owner(1), Some(MAX_PRODUCERS - 1));
        assert_eq!(claims.owner(3), None);
    }
}
