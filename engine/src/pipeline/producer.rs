//! A producer thread: claim a chunk, run the worker on each of its dumpable pfns into a
//! slab slot, publish the outcome in the own ring, mark the chunk's end, repeat.
//!
//! Per page the producer touches: one Relaxed load of `stop`, its own ring entry (one
//! Acquire load, one Relaxed and one Release store), and usually one compare-exchange on
//! "its" slab word. Per chunk: one `fetch_add` on the shared cursor and one owner-slot
//! store. Waking the consumer (a SeqCst fence plus a load of its flag) happens every
//! `wake_every` pages, at each chunk end and before the producer itself waits, which is
//! what keeps the hand-shake of wait.rs live without a fence per page.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::cycle::holds;
use super::ring::{PageFlag, RingProducer};
use super::shared::Shared;
use super::wait::Aborted;
use super::{stored_len, PageOutcome, PageWorker};
use crate::bitmap::Bitmap;
use crate::error::{Error, Result};
use crate::sync::Arc;

/// What one producer did, for the run statistics.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ProducerStats {
    pub(crate) chunks: u64,
    pub(crate) pages: u64,
    pub(crate) parks: u64,
    /// page_data slots this producer claimed, and of those, released itself (the one it
    /// held when it stopped); the consumer releases the rest. Counted here, in the
    /// thread's own stats, so the books are checked in every build without a shared
    /// counter on the per-page path.
    pub(crate) slots_claimed: u64,
    pub(crate) slots_released: u64,
}

/// One producer's loop state.
pub(crate) struct Producer<'a, W> {
    shared: &'a Shared,
    id: usize,
    ring: RingProducer<'a>,
    worker: W,
    /// A claimed slot not yet handed to the consumer (kept across zero pages, as
    /// makedumpfile keeps its page_data after a zero page).
    held: Option<u32>,
    /// Slots handed to the consumer in ring entries that we have not yet seen consumed.
    outstanding: usize,
    /// Which ring positions (mod capacity) carry a slot; read back when the consumer is
    /// seen to have consumed them.
    carries_slot: Box<[bool]>,
    /// Oldest published position not yet seen consumed.
    reclaim: u64,
    /// Where this producer starts its slab search: spreads producers over the words.
    slab_hint: usize,
    /// Pages published since the consumer was last woken.
    since_wake: u32,
    /// The bitmap of the cycle our chunks are in (cycle.rs), fetched once per cycle.
    bitmap: Option<Arc<Bitmap>>,
    stats: ProducerStats,
}

impl<'a, W: PageWorker> Producer<'a, W> {
    /// The producer `id` of `shared`; fails if its ring's producer handle is taken.
    pub(crate) fn new(shared: &'a Shared, id: usize, worker: W) -> Result<Self> {
        let ring = shared.rings[id]
            .producer()
            .ok_or_else(|| Error::internal(format!("pipeline: ring {id} has two producers")))?;
        let threads = shared.rings.len();
        Ok(Producer {
            shared,
            id,
            ring,
            worker,
            held: None,
            outstanding: 0,
            carries_slot: vec![false; shared.rings[id].capacity()].into_boxed_slice(),
            reclaim: 0,
            slab_hint: id * shared.slab.words() / threads.max(1),
            since_wake: 0,
            bitmap: None,
            stats: ProducerStats::default(),
        })
    }

    /// Produce until the range is exhausted or the run stops. A page error is published
    /// in the ring (the consumer reports it in order) and ends this producer; other
    /// errors are recorded with `Shared::fail`.
    pub(crate) fn run(mut self) -> ProducerStats {
        if let Err(error) = self.produce() {
            self.shared.fail(error);
        }
        if let Some(slot) = self.held.take() {
            match self.shared.slab.release(slot) {
                Ok(()) => self.stats.slots_released += 1,
                Err(error) => self.shared.fail(error),
            }
        }
        // Whatever happened, the consumer may be waiting for us.
        self.shared.consumer_sleep.wake(&self.shared.consumer);
        self.stats
    }

    fn produce(&mut self) -> Result<()> {
        let shared = self.shared;
        while !shared.stopping() {
            let Some(chunk) = shared.claims.claim() else {
                break;
            };
            if self
                .wait(|p| p.shared.claims.try_register(chunk.seq, p.id).then_some(()))
                .is_err()
            {
                break;
            }
            // Registering is progress the consumer may wait for (interest ANY).
            self.since_wake += 1;
            self.stats.chunks += 1;
            // A chunk past our bitmap's cycle: let that bitmap go before waiting for the
            // next cycle, so that it is freed before the next one is built.
            if !self.bitmap.as_ref().is_some_and(|b| holds(b, &chunk.pfns)) {
                self.bitmap = None;
            }
            // The chunk may lie in a cycle the consumer has not published yet.
            if self
                .wait(|p| p.shared.cycle.covers(chunk.pfns.end).then_some(()))
                .is_err()
            {
                break;
            }
            // Moved out for the loop (no reference count traffic per chunk), put back.
            let bitmap = match self.bitmap.take() {
                Some(bitmap) if holds(&bitmap, &chunk.pfns) => bitmap,
                _ => shared.cycle.bitmap_for(&chunk.pfns)?,
            };
            for pfn in bitmap.iter_set(chunk.pfns.start, chunk.pfns.end) {
                if shared.stopping() {
                    return Ok(());
                }
                if !self.page(pfn)? {
                    // Our page error is in the ring: stop producing.
                    return Ok(());
                }
            }
            self.bitmap = Some(bitmap);
            if self.publish(PageFlag::ChunkEnd { seq: chunk.seq }).is_err() {
                break;
            }
            self.wake_consumer();
        }
        Ok(())
    }

    /// Process one page. Ok(false) when the page failed and its error was published.
    #[inline]
    fn page(&mut self, pfn: u64) -> Result<bool> {
        let Ok(slot) = self.slot()? else {
            return Ok(true);
        };
        // Take the ring entry before the work, so it shows FILLING meanwhile.
        if self.wait(|p| p.ring.try_reserve().then_some(())).is_err() {
            return Ok(true);
        }
        let slab = &self.shared.slab;
        let worker = &mut self.worker;
        // SAFETY: `slot` was claimed by this producer (`slot`) and not handed over yet.
        let result = unsafe {
            slab.with_slot_mut(slot, |buf| {
                catch_unwind(AssertUnwindSafe(|| worker.process(pfn, buf))).unwrap_or_else(
                    |panic| {
                        Err(Error::internal(format!(
                            "worker panicked at pfn {pfn:#x}: {}",
                            panic_message(&*panic)
                        )))
                    },
                )
            })
        };
        let flag = match result.and_then(|outcome| {
            stored_len(pfn, outcome, slab.slot_size()).map(|len| (outcome, len))
        }) {
            Ok((PageOutcome::Zero, _)) => PageFlag::Zero { pfn },
            Ok((PageOutcome::Data { flags, .. }, len)) => PageFlag::Data {
                pfn,
                slot,
                len: len as u32,
                flags,
            },
            Err(error) => return self.page_error(pfn, error),
        };
        if self.publish(flag).is_err() {
            return Ok(true);
        }
        if matches!(flag, PageFlag::Data { .. }) {
            self.held = None;
        }
        self.stats.pages += 1;
        self.since_wake += 1;
        if self.since_wake >= self.shared.wake_every {
            self.wake_consumer();
        }
        Ok(true)
    }

    /// Publish the error of `pfn` in the ring (the entry is reserved) and stop.
    fn page_error(&mut self, pfn: u64, error: Error) -> Result<bool> {
        self.account_overwrite();
        self.ring
            .publish_error(pfn, error)
            .map_err(|e| e.context("pipeline: no ring entry for the error"))?;
        self.carries_slot[(self.ring.tail() - 1) as usize % self.carries_slot.len()] = false;
        Ok(false)
    }

    /// The slot for the next page: the one kept from a zero page, or a new claim within
    /// the quota. Ok(Err(Aborted)) when the run stops meanwhile.
    fn slot(&mut self) -> Result<Result<u32, Aborted>> {
        if let Some(slot) = self.held {
            return Ok(Ok(slot));
        }
        if self
            .wait(|p| {
                p.reclaim_slots();
                (p.outstanding < p.shared.slab_quota).then_some(())
            })
            .is_err()
        {
            return Ok(Err(Aborted));
        }
        // Under quota: with `threads * quota` slots and every producer holding at most
        // `quota`, one is free. Not finding one is a broken invariant, not a wait.
        let slot = self.shared.slab.try_claim(self.slab_hint).ok_or_else(|| {
            Error::internal("pipeline: page_data slab empty although under quota")
        })?;
        self.stats.slots_claimed += 1;
        self.held = Some(slot);
        Ok(Ok(slot))
    }

    /// Learn which of our published slots the consumer has given back.
    fn reclaim_slots(&mut self) {
        let capacity = self.carries_slot.len();
        while self.reclaim < self.ring.tail() && self.ring.is_consumed(self.reclaim) {
            if self.carries_slot[self.reclaim as usize % capacity] {
                self.outstanding -= 1;
            }
            self.reclaim += 1;
        }
    }

    /// The entry at the tail is reserved and about to be overwritten: if it still stands
    /// for an unreclaimed position (one lap ago), that position was necessarily consumed
    /// (we could not have reserved it otherwise), so account for it now.
    fn account_overwrite(&mut self) {
        let capacity = self.carries_slot.len() as u64;
        if self.ring.tail() - self.reclaim >= capacity {
            debug_assert_eq!(self.ring.tail() - self.reclaim, capacity);
            if self.carries_slot[(self.reclaim % capacity) as usize] {
                self.outstanding -= 1;
            }
            self.reclaim += 1;
        }
    }

    /// Publish `flag` at the tail (waiting for the entry if need be) and record whether
    /// it carries a slot.
    fn publish(&mut self, flag: PageFlag) -> Result<(), Aborted> {
        self.wait(|p| p.ring.try_reserve().then_some(()))?;
        self.account_overwrite();
        let index = self.ring.tail() as usize % self.carries_slot.len();
        let published = self.ring.publish(flag);
        debug_assert!(published, "the entry was reserved");
        let carries = matches!(flag, PageFlag::Data { .. });
        self.carries_slot[index] = carries;
        self.outstanding += carries as usize;
        Ok(())
    }

    /// Wait for `ready`, first waking the consumer if we published anything since we last
    /// woke it (it may be waiting for exactly that). Only then: a wake with nothing new
    /// would make the consumer wake us back, and the two would ping-pong without either
    /// making progress (loom reported it as a model that never ends).
    fn wait(&mut self, ready: impl FnMut(&mut Self) -> Option<()>) -> Result<(), Aborted> {
        let shared = self.shared;
        let mut parks = 0;
        let flush = |p: &mut Self| {
            if p.since_wake > 0 {
                p.wake_consumer();
            }
        };
        let result =
            shared.producer_sleep[self.id].wait(0, &shared.stop, &mut parks, self, flush, ready);
        self.stats.parks += parks;
        result
    }

    /// Wake the consumer if it sleeps waiting for our ring (or for anything).
    #[inline]
    fn wake_consumer(&mut self) {
        self.since_wake = 0;
        self.shared
            .consumer_sleep
            .wake_if(&self.shared.consumer, self.id);
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
