//! Feeding one pipeline cycle after cycle: the dumpable bitmap of the current cycle and
//! how far producers may go.
//!
//! A dump is written in cycles (dump/cycles.rs: the bitmaps of a window of pfns at a
//! time, to bound memory). The pipeline's threads, rings and slab live for the whole dump
//! and its claims span the whole pfn range; what changes from cycle to cycle is the
//! bitmap the producers read. The consumer, which computes each cycle's bitmap on the
//! writer's thread, publishes it here and then consumes the cycle's chunks; a producer
//! that claimed a chunk of a later cycle waits until that cycle is published.
//!
//! Protocol (single publisher, the consumer; any number of readers):
//! 1. the consumer stores the bitmap in `bitmap` under its lock, then stores the cycle's
//!    end pfn in `published_end` with Release;
//! 2. a producer loads `published_end` with Acquire; once it covers its chunk, it takes the
//!    lock and clones the `Arc` (once per cycle: it keeps the clone while the chunks it
//!    claims lie inside it).
//!
//! The consumer publishes cycle c + 1 only after consuming every chunk of cycle c, so a
//! producer never needs a bitmap older than the one in the slot; the `Arc` keeps a stale
//! clone valid until its holder drops it.

use std::ops::Range;

use crossbeam_utils::CachePadded;

use crate::bitmap::Bitmap;
use crate::error::{Error, Result};
use crate::sync::{Arc, AtomicU64, Mutex, Ordering};

/// The published cycle.
pub(crate) struct CycleSlot {
    /// The current cycle's dumpable bitmap. Written by the consumer, cloned by producers;
    /// locked once per cycle by each.
    bitmap: Mutex<Option<Arc<Bitmap>>>,
    /// Chunks that end at or below this pfn may be produced. Written by the consumer
    /// (Release, after `bitmap`), read by producers (Acquire); only grows.
    published_end: CachePadded<AtomicU64>,
}

impl CycleSlot {
    /// Nothing published: producers wait.
    pub(crate) fn new() -> Self {
        CycleSlot {
            bitmap: Mutex::new(None),
            published_end: CachePadded::new(AtomicU64::new(0)),
        }
    }

    /// Publish `bitmap` for the pages up to `end`.
    pub(crate) fn publish(&self, bitmap: Bitmap, end: u64) {
        *self.bitmap.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(bitmap));
        // Release pairs with the Acquire in `covers`: a producer that sees the new end
        // also sees the bitmap stored above (and takes the lock after it).
        self.published_end.store(end, Ordering::Release);
    }

    /// Drop the slot's reference to the published bitmap once every chunk of its cycle
    /// has been consumed, so that it is freed before the next cycle's bitmap is built
    /// (memory stays one cycle's bitmap, issue 16). No producer needs it any more: a
    /// chunk is consumed only after it was produced, and a producer clones from the slot
    /// only for a chunk that `published_end` covers, which the next `publish` moves on.
    pub(crate) fn retire(&self) {
        *self.bitmap.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Whether the chunk ending at `end` may be produced.
    #[inline]
    pub(crate) fn covers(&self, end: u64) -> bool {
        self.published_end.load(Ordering::Acquire) >= end
    }

    /// The published bitmap, which must hold `pfns` (the chunk a producer is about to
    /// produce, after `covers` said yes).
    pub(crate) fn bitmap_for(&self, pfns: &Range<u64>) -> Result<Arc<Bitmap>> {
        let bitmap = self
            .bitmap
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| Error::internal("pipeline: a chunk was released before any cycle"))?;
        if !holds(&bitmap, pfns) {
            return Err(Error::internal(format!(
                "pipeline: chunk {pfns:#x?} is not inside the published cycle {:#x}..{:#x}",
                bitmap.start(),
                bitmap.end()
            )));
        }
        Ok(bitmap)
    }
}

/// Whether `bitmap` has the bits of `pfns`.
#[inline]
pub(crate) fn holds(bitmap: &Bitmap, pfns: &Range<u64>) -> bool {
    bitmap.start() <= pfns.start && pfns.end <= bitmap.end()
}
