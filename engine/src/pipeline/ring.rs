//! `PageFlagRing`: one producer's fixed-size single-producer/single-consumer ring of
//! page_flag entries (makedumpfile's `page_flag`, made race-free).
//!
//! Each entry says what became of one pfn (zero page, data in slab slot `i` of `len`
//! bytes with `flags`, an error) or marks the end of a chunk. Its `state` walks
//! UNUSED → FILLING → READY → UNUSED:
//!
//! | transition | who | ordering | pairs with |
//! |---|---|---|---|
//! | UNUSED seen before reuse | producer | Acquire load (`try_reserve`) | consumer's Release UNUSED store |
//! | → FILLING | producer | Relaxed store | nothing: publishes no data (see `try_reserve`) |
//! | → READY | producer | Release store (`publish`), after the entry and the slot data are written | consumer's Acquire load in `peek` |
//! | READY seen | consumer | Acquire load (`peek`) | producer's Release READY store |
//! | → UNUSED | consumer | Release store (`release`), after its last read of the entry and slot | producer's Acquire load in `try_reserve` / `is_consumed` |
//!
//! makedumpfile's `ready` was a plain `volatile char` until 2025 and corrupted dumps on
//! POWER (issue #15): without the Release/Acquire pair the consumer could read the
//! entry, or the compressed bytes, before they were written.
//!
//! Positions (`tail` for the producer, `head` for the consumer) are plain counters owned
//! by the two handles, not shared atomics: the per-entry state already tells each side
//! whether the next entry is its turn, so neither side ever needs the other's index, and
//! the only cache lines that move between cores are the entries themselves. Entries are
//! aligned to 64 bytes so the producer filling entry `i + 1` does not steal the line the
//! consumer is reading entry `i` from; the two handles live on different threads' stacks,
//! and each side's sleep flag and any shared counters are in `CachePadded`.
//!
//! A ring entry at position `p` lives in slot `p mod capacity`. The producer writes
//! position `p + capacity` only after it has seen UNUSED there, which the consumer stores
//! only after it has finished position `p`, so the consumer can never read a newer lap
//! and the producer can never overwrite an unread entry.

use crate::error::Error;
use crate::sync::{AtomicBool, AtomicU32, Ordering, UnsafeCell};

const UNUSED: u32 = 0;
const READY: u32 = 1;
const FILLING: u32 = 2;

/// What became of one pfn, or the end of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageFlag {
    /// An all-zero page (dump level bit 1): the shared zero descriptor.
    Zero { pfn: u64 },
    /// Stored bytes in slab slot `slot`.
    Data {
        pfn: u64,
        slot: u32,
        len: u32,
        flags: u32,
    },
    /// The worker failed on `pfn`; the error waits in the ring ([`RingConsumer::take_error`]).
    /// The producer stops after publishing it, so the consumer reports the error exactly
    /// where the serial path would have: after every earlier page was written.
    Error { pfn: u64 },
    /// Every page of chunk `seq` is in the ring before this.
    ChunkEnd { seq: u64 },
}

/// One entry, on its own cache line.
#[repr(align(64))]
struct Entry {
    state: AtomicU32,
    flag: UnsafeCell<PageFlag>,
}

/// One producer's ring. Create it, then take exactly one [`RingProducer`] and one
/// [`RingConsumer`]; the handles enforce the single-producer/single-consumer rule.
pub struct PageFlagRing {
    entries: Box<[Entry]>,
    mask: u64,
    /// The producer's error, written before it publishes a [`PageFlag::Error`] entry and
    /// read by the consumer after it sees that entry READY (the entry's Release/Acquire
    /// pair orders both).
    error: UnsafeCell<Option<Error>>,
    producer_taken: AtomicBool,
    consumer_taken: AtomicBool,
}

// SAFETY: the UnsafeCells are only accessed under the state protocol of the module docs:
// an entry's `flag` (and `error`) is written only by the single producer handle while
// the entry is FILLING (not visible to the consumer), and read only by the single
// consumer handle after an Acquire load saw READY; the producer reuses it only after an
// Acquire load saw the consumer's Release UNUSED. So no access is ever concurrent with a
// write, and the ring can be shared by reference between the two threads.
unsafe impl Sync for PageFlagRing {}

impl PageFlagRing {
    /// A ring of `capacity` entries (rounded up to a power of two, at least 2).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(2).next_power_of_two();
        PageFlagRing {
            entries: (0..capacity)
                .map(|_| Entry {
                    state: AtomicU32::new(UNUSED),
                    flag: UnsafeCell::new(PageFlag::Zero { pfn: 0 }),
                })
                .collect(),
            mask: capacity as u64 - 1,
            error: UnsafeCell::new(None),
            producer_taken: AtomicBool::new(false),
            consumer_taken: AtomicBool::new(false),
        }
    }

    /// Number of entries.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// The producer handle; `None` if it was already taken.
    pub(crate) fn producer(&self) -> Option<RingProducer<'_>> {
        // Relaxed: only the uniqueness of the swap matters, no data is published.
        (!self.producer_taken.swap(true, Ordering::Relaxed)).then_some(RingProducer {
            ring: self,
            tail: 0,
            reserved: false,
            errored: false,
        })
    }

    /// The consumer handle; `None` if it was already taken.
    pub(crate) fn consumer(&self) -> Option<RingConsumer<'_>> {
        // Relaxed: as in `producer`.
        (!self.consumer_taken.swap(true, Ordering::Relaxed)).then_some(RingConsumer {
            ring: self,
            head: 0,
        })
    }

    #[inline]
    fn entry(&self, position: u64) -> &Entry {
        &self.entries[(position & self.mask) as usize]
    }
}

/// The single writer of a [`PageFlagRing`].
pub(crate) struct RingProducer<'a> {
    ring: &'a PageFlagRing,
    /// Next position to write.
    tail: u64,
    /// Whether the entry at `tail` has been taken (FILLING) and awaits `publish`.
    reserved: bool,
    /// Whether an error has been published (at most one may be).
    errored: bool,
}

impl RingProducer<'_> {
    /// Position of the next entry to be written.
    pub(crate) fn tail(&self) -> u64 {
        self.tail
    }

    /// Take the entry at the tail for filling, if the consumer has finished with it.
    /// Idempotent once it succeeded.
    #[inline]
    pub(crate) fn try_reserve(&mut self) -> bool {
        if self.reserved {
            return true;
        }
        let entry = self.ring.entry(self.tail);
        // Acquire pairs with the consumer's Release UNUSED store in `release`: its reads
        // of this entry and of the slot it named are done before we overwrite either.
        if entry.state.load(Ordering::Acquire) != UNUSED {
            return false;
        }
        // Relaxed: FILLING only tells an observer "in progress"; the consumer treats it
        // as not ready and reads nothing because of it, so it needs no ordering.
        entry.state.store(FILLING, Ordering::Relaxed);
        self.reserved = true;
        true
    }

    /// Publish `flag` at the tail and advance; false (nothing written) if the entry
    /// there is not free. Callers normally `try_reserve` first so that the entry shows
    /// FILLING while the page is worked on. The slot data `flag` names must be complete:
    /// this Release store is what makes it visible.
    #[inline]
    #[must_use]
    pub(crate) fn publish(&mut self, flag: PageFlag) -> bool {
        if !self.try_reserve() {
            return false;
        }
        let entry = self.ring.entry(self.tail);
        // SAFETY: the entry is FILLING (reserved by us after seeing UNUSED with Acquire),
        // so the consumer does not read it, and we are its only writer (single producer
        // handle).
        entry.flag.with_mut(|p| unsafe { *p = flag });
        // Release pairs with the consumer's Acquire load in `peek`: the entry written
        // above, and the slot data written before this call, are visible to the consumer
        // once it sees READY.
        entry.state.store(READY, Ordering::Release);
        self.tail += 1;
        self.reserved = false;
        true
    }

    /// Publish an error for `pfn`; the producer stops after this (the ring holds one
    /// error only). Gives the error back if the tail entry is not free or an error was
    /// already published.
    pub(crate) fn publish_error(&mut self, pfn: u64, error: Error) -> Result<(), Error> {
        if self.errored || !self.try_reserve() {
            return Err(error);
        }
        self.errored = true;
        // SAFETY: `error` is read by the consumer only after it sees this producer's
        // Error entry READY (Acquire), which the Release in `publish` below orders after
        // this write; `errored` makes this the only write, so it cannot race with the
        // consumer's read of an earlier error.
        self.ring.error.with_mut(|p| unsafe { *p = Some(error) });
        let published = self.publish(PageFlag::Error { pfn });
        debug_assert!(published, "the entry was reserved");
        Ok(())
    }

    /// Whether the entry at `position` (one of the last `capacity` published) has been
    /// consumed. Used to learn which slab slots the consumer has given back.
    #[inline]
    pub(crate) fn is_consumed(&self, position: u64) -> bool {
        debug_assert!(position < self.tail && self.tail - position <= self.ring.capacity() as u64);
        debug_assert!(!self.reserved || self.tail - position < self.ring.capacity() as u64);
        // Acquire pairs with the consumer's Release UNUSED store in `release`, so the
        // slab release it did before that store is visible too.
        self.ring.entry(position).state.load(Ordering::Acquire) == UNUSED
    }
}

/// The single reader of a [`PageFlagRing`].
pub(crate) struct RingConsumer<'a> {
    ring: &'a PageFlagRing,
    /// Next position to read.
    head: u64,
}

impl RingConsumer<'_> {
    /// The entry at the head, once it is READY.
    #[inline]
    pub(crate) fn peek(&self) -> Option<PageFlag> {
        let entry = self.ring.entry(self.head);
        // Acquire pairs with the producer's Release READY store in `publish`.
        if entry.state.load(Ordering::Acquire) != READY {
            return None;
        }
        // SAFETY: READY seen with Acquire: the producer's write of this entry happened
        // before, and it will not write it again until we store UNUSED in `release`.
        Some(entry.flag.with(|p| unsafe { *p }))
    }

    /// Finish with the head entry (after any slot it names has been released) and
    /// advance.
    #[inline]
    pub(crate) fn release(&mut self) {
        let entry = self.ring.entry(self.head);
        debug_assert_eq!(entry.state.load(Ordering::Relaxed), READY);
        // Release pairs with the producer's Acquire loads in `try_reserve` and
        // `is_consumed`: our reads of the entry (and the slab release done before this
        // call) happen before the producer reuses the entry.
        entry.state.store(UNUSED, Ordering::Release);
        self.head += 1;
    }

    /// The error of the [`PageFlag::Error`] entry at the head; `None` if the head is not
    /// a READY error entry.
    pub(crate) fn take_error(&mut self) -> Option<Error> {
        if !matches!(self.peek(), Some(PageFlag::Error { .. })) {
            return None;
        }
        // SAFETY: an Error entry is READY at the head (just seen by `peek`, an Acquire
        // load); the producer wrote `error` before publishing it and, having been
        // consumed by `publish_error`, never touches it again.
        self.ring.error.with_mut(|p| unsafe { (*p).take() })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn handles_are_unique() {
        let ring = PageFlagRing::new(3);
        assert_eq!(ring.capacity(), 4);
        assert!(ring.producer().is_some());
        assert!(ring.producer().is_none());
        assert!(ring.consumer().is_some());
        assert!(ring.consumer().is_none());
    }

    #[test]
    fn fifo_with_wraparound_and_backpressure() {
        let ring = PageFlagRing::new(4);
        let mut p = ring.producer().unwrap();
        let mut c = ring.consumer().unwrap();
        let mut next_read = 0u64;
        for pfn in 0..20u64 {
            if !p.try_reserve() {
                // Full: exactly `capacity` unread entries.
                assert_eq!(p.tail() - next_read, 4);
                assert_eq!(c.peek(), Some(PageFlag::Zero { pfn: next_read }));
                c.release();
                assert!(p.is_consumed(next_read));
                next_read += 1;
                assert!(p.try_reserve());
            }
            // A reserved (FILLING) entry is not visible.
            if p.tail() == next_read {
                assert_eq!(c.peek(), None);
            }
            assert!(p.publish(PageFlag::Zero { pfn }));
        }
        while let Some(flag) = c.peek() {
            assert_eq!(flag, PageFlag::Zero { pfn: next_read });
            c.release();
            next_read += 1;
        }
        assert_eq!(next_read, 20);
    }

    #[test]
    fn error_travels_with_its_entry() {
        let ring = PageFlagRing::new(2);
        let mut p = ring.producer().unwrap();
        let mut c = ring.consumer().unwrap();
        assert!(c.take_error().is_none());
        assert!(p.publish(PageFlag::Zero { pfn: 8 }));
        assert!(p.publish(PageFlag::Zero { pfn: 9 }));
        // Full: the error comes back rather than being lost.
        let e = p.publish_error(10, Error::internal("boom")).unwrap_err();
        c.release();
        c.release();
        p.publish_error(10, e).unwrap();
        // Only one error per ring.
        assert!(p.publish_error(11, Error::internal("again")).is_err());
        assert_eq!(c.peek(), Some(PageFlag::Error { pfn: 10 }));
        assert_eq!(c.take_error().unwrap().message(), "boom");
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::Arc;

    /// Producer and consumer over a 2-entry ring: every entry arrives once, in order,
    /// and loom's UnsafeCell tracking finds no unsynchronised access to an entry.
    #[test]
    fn loom_ring_protocol() {
        loom::model(|| {
            let ring = Arc::new(PageFlagRing::new(2));
            let producer = {
                let ring = ring.clone();
                loom::thread::spawn(move || {
                    let mut p = ring.producer().unwrap();
                    for pfn in 0..3 {
                        while !p.try_reserve() {
                            loom::thread::yield_now();
                        }
                        assert!(p.publish(PageFlag::Data {
                            pfn,
                            slot: pfn as u32,
                            len: 1,
                            flags: 0
                        }));
                    }
                })
            };
            let mut c = ring.consumer().unwrap();
            for pfn in 0..3 {
                let flag = loop {
                    match c.peek() {
                        Some(flag) => break flag,
                        None => loom::thread::yield_now(),
                    }
                };
                assert_eq!(
                    flag,
                    PageFlag::Data {
                        pfn,
                        slot: pfn as u32,
                        len: 1,
                        flags: 0
                    }
                );
                c.release();
            }
            producer.join().unwrap();
        });
    }
}
