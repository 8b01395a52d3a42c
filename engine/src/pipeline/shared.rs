//! The state one threaded run shares between its producers and its consumer.

use crossbeam_utils::CachePadded;

use super::claim::ChunkClaims;
use super::cycle::CycleSlot;
use super::ring::PageFlagRing;
use super::slab::PageDataSlab;
use super::wait::SleepFlag;
use crate::error::{Error, Result};
use crate::sync::{AtomicBool, Mutex, Ordering, Thread};

/// Everything the threads of one run share. Built by the calling thread, borrowed by
/// the producers (scoped threads), dropped after all of them are joined.
pub(crate) struct Shared {
    /// The chunk cursor and owner table, over the whole dump's pfn range.
    pub(crate) claims: ChunkClaims,
    /// The published cycle's bitmap (cycle.rs).
    pub(crate) cycle: CycleSlot,
    /// One ring per producer.
    pub(crate) rings: Box<[PageFlagRing]>,
    /// The page_data pool, `threads * slab_quota` slots.
    pub(crate) slab: PageDataSlab,
    /// Slots one producer may hold at a time (in its ring or in hand). With the pool
    /// sized `threads * slab_quota`, a producer under quota always finds a free slot,
    /// so no producer can starve the one the consumer is waiting for: the deadlock of a
    /// shared pool filled by pages the consumer cannot take yet is impossible.
    pub(crate) slab_quota: usize,
    /// Producers' sleep flags, indexed by producer id.
    pub(crate) producer_sleep: Box<[SleepFlag]>,
    /// The consumer's sleep flag.
    pub(crate) consumer_sleep: SleepFlag,
    /// The consumer thread, for producers to unpark.
    pub(crate) consumer: Thread,
    /// Set once the run is over (finished, failed, or the consumer stopped): every wait
    /// ends and every producer exits. Written with Release (after recording `failure`),
    /// read with Acquire in waits (SleepFlag::wait) and Relaxed in the per-page check
    /// (it only needs to be seen eventually there; the wait re-reads it with Acquire).
    pub(crate) stop: CachePadded<AtomicBool>,
    /// The first error that is not tied to a page (a worker that could not be created, a
    /// broken invariant, a panic outside `process`). Page errors travel in the rings, so
    /// the consumer reports them in pfn order. Locked only on the error path.
    failure: Mutex<Option<Error>>,
    /// A producer wakes the consumer after this many published pages (and at each chunk
    /// end, and before it waits); the consumer wakes a producer after consuming this
    /// many of its pages.
    pub(crate) wake_every: u32,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        claims: ChunkClaims,
        threads: usize,
        ring_capacity: usize,
        slab_quota: usize,
        slot_size: usize,
        consumer: Thread,
        wake_every: u32,
        patience: std::time::Duration,
    ) -> Result<Self> {
        let slab_quota = slab_quota.max(1);
        let slots = threads.checked_mul(slab_quota).ok_or_else(|| {
            Error::argument(format!("{threads} threads × {slab_quota} slots overflow"))
        })?;
        Ok(Shared {
            claims,
            cycle: CycleSlot::new(),
            rings: (0..threads)
                .map(|_| PageFlagRing::new(ring_capacity))
                .collect(),
            slab: PageDataSlab::new(slots, slot_size)?,
            slab_quota,
            producer_sleep: (0..threads)
                .map(|_| SleepFlag::with_patience(patience))
                .collect(),
            consumer_sleep: SleepFlag::with_patience(patience),
            consumer,
            stop: CachePadded::new(AtomicBool::new(false)),
            failure: Mutex::new(None),
            wake_every: wake_every.max(1),
        })
    }

    /// Record an error that ends the run (the first one wins), stop everyone and wake
    /// the consumer so it returns it.
    pub(crate) fn fail(&self, error: Error) {
        {
            // A poisoned lock only means another thread panicked while recording: the
            // Option inside is still sound to use.
            let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            if failure.is_none() {
                *failure = Some(error);
            }
        }
        self.request_stop();
        self.consumer_sleep.wake(&self.consumer);
    }

    /// The recorded failure, if any.
    pub(crate) fn take_failure(&self) -> Option<Error> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Tell every thread to finish. Waking the parked ones is the caller's job.
    pub(crate) fn request_stop(&self) {
        // Release pairs with the Acquire loads in SleepFlag::wait and in the consumer:
        // a thread that sees `stop` also sees the failure recorded before it.
        self.stop.store(true, Ordering::Release);
    }

    /// Whether the run is over; Relaxed: a hint to stop early, re-read with Acquire
    /// wherever what was recorded before it matters.
    #[inline]
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}
