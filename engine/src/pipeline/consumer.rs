//! The consumer: the calling thread takes chunks strictly by sequence number, and within
//! chunk `k` the entries of its owner's ring up to the chunk-end marker, handing every
//! page to the sink in pfn order.
//!
//! Its per-page work is kept small, since it is the one serial stage: one Acquire load
//! and one Release store on the ring entry, one `fetch_or` giving the slot back, the
//! sink call, and a pfn-order check (a bug there would be silent corruption, so it is
//! checked in release builds too, for the price of a compare).

use super::claim::ChunkClaims;
use super::ring::{PageFlag, RingConsumer};
use super::shared::Shared;
use super::wait::{Aborted, ANY};
use super::{PageOutcome, PageSink};
use crate::bitmap::Bitmap;
use crate::error::{Error, Result};
use crate::sync::{fence, Ordering, Thread};

/// What the consumer did, for the run statistics.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ConsumerStats {
    pub(crate) chunks: u64,
    pub(crate) pages: u64,
    pub(crate) zero_pages: u64,
    pub(crate) data_bytes: u64,
    pub(crate) parks: u64,
    /// page_data slots given back to the slab (see `ProducerStats::slots_claimed`).
    pub(crate) slots_released: u64,
}

/// The consumer's state.
pub(crate) struct Consumer<'a> {
    shared: &'a Shared,
    rings: Vec<RingConsumer<'a>>,
    /// The producer threads, to unpark.
    producers: &'a [Thread],
    /// Entries taken since the producers were last woken (any ring: chunk ends wake
    /// everyone, so within a chunk these are all the current owner's).
    since_wake: u32,
    /// The previous pfn handed to the sink.
    last_pfn: Option<u64>,
    /// The next chunk to consume (chunks are consumed across cycles in one sequence).
    next_seq: u64,
    pub(crate) stats: ConsumerStats,
}

impl<'a> Consumer<'a> {
    pub(crate) fn new(shared: &'a Shared, producers: &'a [Thread]) -> Result<Self> {
        let rings = shared
            .rings
            .iter()
            .enumerate()
            .map(|(i, ring)| {
                ring.consumer()
                    .ok_or_else(|| Error::internal(format!("pipeline: ring {i} has two consumers")))
            })
            .collect::<Result<_>>()?;
        Ok(Consumer {
            shared,
            rings,
            producers,
            since_wake: 0,
            last_pfn: None,
            next_seq: 0,
            stats: ConsumerStats::default(),
        })
    }

    /// Publish the next cycle's bitmap for the pages up to `end` (cycle.rs) and wake the
    /// producers waiting for it.
    pub(crate) fn publish(&mut self, bitmap: Bitmap, end: u64) {
        self.shared.cycle.publish(bitmap, end);
        self.wake_producers();
    }

    /// Every chunk of the published cycle has been consumed: free its bitmap (cycle.rs).
    pub(crate) fn retire_cycle(&mut self) {
        self.shared.cycle.retire();
    }

    /// Whether every chunk of the range has been consumed.
    pub(crate) fn finished(&self) -> bool {
        self.next_seq == self.shared.claims.count()
    }

    /// Consume, in order, the chunks that start below `end`: the chunks of the cycle just
    /// published. On an error the caller stops the run and wakes every producer.
    pub(crate) fn run_until<S: PageSink>(&mut self, end: u64, sink: &mut S) -> Result<()> {
        let claims: &ChunkClaims = &self.shared.claims;
        while self.next_seq < claims.count() && claims.pfns(self.next_seq).start < end {
            let seq = self.next_seq;
            // Acquire pairs with Shared::request_stop: a producer that failed outside a
            // page (its error is not in a ring) stops us here even if we never wait.
            if self.shared.stop.load(Ordering::Acquire) {
                return Err(self.failure());
            }
            let owner = match self.wait(ANY, |c| c.shared.claims.owner(seq)) {
                Ok(owner) if owner < self.rings.len() => owner,
                Ok(owner) => {
                    return Err(Error::internal(format!(
                        "pipeline: chunk {seq} claimed by unknown producer {owner}"
                    )))
                }
                Err(Aborted) => return Err(self.failure()),
            };
            self.chunk(seq, owner, sink)?;
            claims.retire(seq);
            self.next_seq += 1;
            self.stats.chunks += 1;
            // The chunk's owner got its ring entries and slots back, and an owner slot is
            // free: wake whoever sleeps on any of that.
            self.wake_producers();
        }
        Ok(())
    }

    /// Consume chunk `seq` from ring `owner`.
    fn chunk<S: PageSink>(&mut self, seq: u64, owner: usize, sink: &mut S) -> Result<()> {
        let pfns = self.shared.claims.pfns(seq);
        loop {
            let flag = match self.wait(owner, |c| c.rings[owner].peek()) {
                Ok(flag) => flag,
                Err(Aborted) => return Err(self.failure()),
            };
            match flag {
                PageFlag::Zero { pfn } => {
                    self.check_order(pfn, &pfns)?;
                    sink.write_page(pfn, PageOutcome::Zero, &[])?;
                    self.stats.zero_pages += 1;
                }
                PageFlag::Data {
                    pfn,
                    slot,
                    len,
                    flags,
                } => {
                    self.check_order(pfn, &pfns)?;
                    let slab = &self.shared.slab;
                    // SAFETY: the producer handed `slot` to us with this READY entry
                    // (Release/Acquire in the ring) and will not touch it until we
                    // release it below.
                    let written = unsafe {
                        slab.with_slot(slot, |data| match data.get(..len as usize) {
                            Some(data) => sink.write_page(
                                pfn,
                                PageOutcome::Data {
                                    len: len as usize,
                                    flags,
                                },
                                data,
                            ),
                            None => Err(Error::internal(format!(
                                "pipeline: pfn {pfn:#x} has {len} bytes in a smaller slot"
                            ))),
                        })
                    };
                    // Give the slot back even if the sink failed: the run is ending, but
                    // the slab's books stay exact.
                    slab.release(slot)?;
                    self.stats.slots_released += 1;
                    written?;
                    self.stats.data_bytes += len as u64;
                }
                PageFlag::Error { pfn } => {
                    return Err(self.rings[owner].take_error().unwrap_or_else(|| {
                        Error::internal(format!("pipeline: pfn {pfn:#x} failed without an error"))
                    }));
                }
                PageFlag::ChunkEnd { seq: end } => {
                    self.rings[owner].release();
                    if end != seq {
                        return Err(Error::internal(format!(
                            "pipeline: end of chunk {end} found while taking chunk {seq}"
                        )));
                    }
                    return Ok(());
                }
            }
            self.rings[owner].release();
            self.stats.pages += 1;
            self.since_wake += 1;
            if self.since_wake >= self.shared.wake_every {
                self.since_wake = 0;
                self.shared.producer_sleep[owner].wake(&self.producers[owner]);
            }
        }
    }

    /// Pages must reach the sink in strictly ascending pfn order and within their chunk:
    /// readers rank the bitmap to find a page's descriptor, so a swap would be silent
    /// corruption (makedumpfile §3.8.2). Never expected to fail.
    #[inline]
    fn check_order(&mut self, pfn: u64, chunk: &std::ops::Range<u64>) -> Result<()> {
        if !chunk.contains(&pfn) || self.last_pfn.is_some_and(|last| pfn <= last) {
            return Err(Error::internal(format!(
                "pipeline: pfn {pfn:#x} out of order (previous {:?}, chunk {chunk:#x?})",
                self.last_pfn
            )));
        }
        self.last_pfn = Some(pfn);
        Ok(())
    }

    /// The error that stopped the run while we waited.
    fn failure(&self) -> Error {
        self.shared
            .take_failure()
            .unwrap_or_else(|| Error::internal("pipeline: stopped without an error"))
    }

    /// Wait for `ready`, first waking the producers if we consumed anything since we last
    /// woke them (and only then, for the reason given at `Producer::wait`).
    fn wait<T>(
        &mut self,
        interest: usize,
        ready: impl FnMut(&mut Self) -> Option<T>,
    ) -> Result<T, Aborted> {
        let shared = self.shared;
        let mut parks = 0;
        let flush = |c: &mut Self| {
            if c.since_wake > 0 {
                c.wake_producers();
            }
        };
        let result =
            shared
                .consumer_sleep
                .wait(interest, &shared.stop, &mut parks, self, flush, ready);
        self.stats.parks += parks;
        result
    }

    /// Wake every producer that sleeps (one fence for all of them).
    fn wake_producers(&mut self) {
        self.since_wake = 0;
        // F2 of the wait.rs hand-shake, shared by all the flags below.
        fence(Ordering::SeqCst);
        for (flag, thread) in self.shared.producer_sleep.iter().zip(self.producers) {
            flag.wake_after_fence(thread);
        }
    }
}
