//! `PageDataSlab`: one preallocated pool of page buffers (makedumpfile's `page_data`),
//! claimed and released with atomics, never allocated per page.
//!
//! Free slots are the set bits of an atomic bitmap. A producer claims a slot with one
//! compare-exchange that clears its bit; the consumer releases it with one `fetch_or`
//! that sets it again and, from the previous value, catches a slot released twice
//! (makedumpfile's `page_data.used` is a plain int cleared outside any lock, §3.8.1;
//! here the bit is the only ownership record and it is atomic).
//!
//! Ownership of a slot's bytes follows the bit: cleared by `try_claim` (Acquire) → the
//! claimer alone writes the slot → it passes the slot index to the consumer through a
//! ring entry (Release READY / Acquire) → the consumer alone reads it → `release`
//! (Release) → the next `try_claim` (Acquire). The two Release/Acquire pairs order every
//! access of one owner before every access of the next.
//!
//! Producers start their search at different words (`hint`), so while slots are
//! plentiful each producer mostly claims from "its" word and the only contention is with
//! the consumer giving slots back. Words are cache-padded for the same reason.

use std::ptr::NonNull;

use crossbeam_utils::CachePadded;

use crate::error::{Error, Result};
use crate::sync::{AtomicU64, Ordering, UnsafeCell};

/// One pool of `slots` buffers of `slot_size` bytes each.
pub struct PageDataSlab {
    /// `slots * slot_size` bytes, zero-initialised (`calloc`: untouched pages cost no
    /// RSS). Owned: freed in `Drop`.
    data: NonNull<[u8]>,
    slot_size: usize,
    slots: usize,
    /// Bit `i % 64` of word `i / 64` is set while slot `i` is free. Written by claimers
    /// (CAS) and the releaser (`fetch_or`).
    free: Box<[CachePadded<AtomicU64>]>,
    /// Zero-sized stand-ins through which every slot access is announced, so that loom
    /// checks the ownership protocol above; they compile to nothing in the std build.
    cells: Box<[UnsafeCell<()>]>,
}

// SAFETY: the slab owns its allocation outright (freed once, in Drop, by whichever
// thread drops it), so it may move between threads.
unsafe impl Send for PageDataSlab {}
// SAFETY: shared access only ever touches a slot's bytes through `with_slot` /
// `with_slot_mut`, whose callers must hold the slot's claim (module docs); claims are
// exclusive because a bit is cleared by exactly one successful compare-exchange, and the
// byte ranges of different slots are disjoint.
unsafe impl Sync for PageDataSlab {}

impl Drop for PageDataSlab {
    fn drop(&mut self) {
        // SAFETY: `data` came from `Box::into_raw` in `new` and is freed only here.
        drop(unsafe { Box::from_raw(self.data.as_ptr()) });
    }
}

impl std::fmt::Debug for PageDataSlab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageDataSlab")
            .field("slots", &self.slots)
            .field("slot_size", &self.slot_size)
            .field("in_use", &self.in_use())
            .finish()
    }
}

impl PageDataSlab {
    /// A pool of `slots` (at least 1) buffers of `slot_size` (at least 1) bytes.
    pub fn new(slots: usize, slot_size: usize) -> Result<Self> {
        let slots = slots.max(1);
        let slot_size = slot_size.max(1);
        if slots > u32::MAX as usize {
            return Err(Error::argument(format!(
                "page_data slab: {slots} slots is more than a ring entry can name"
            )));
        }
        let bytes = slots.checked_mul(slot_size).ok_or_else(|| {
            Error::argument(format!(
                "page_data slab: {slots} slots of {slot_size} bytes overflow"
            ))
        })?;
        let data = NonNull::from(Box::leak(vec![0u8; bytes].into_boxed_slice()));
        let words = slots.div_ceil(64);
        let free = (0..words)
            .map(|w| {
                let in_word = (slots - w * 64).min(64);
                let bits = if in_word == 64 {
                    u64::MAX
                } else {
                    (1u64 << in_word) - 1
                };
                CachePadded::new(AtomicU64::new(bits))
            })
            .collect();
        Ok(PageDataSlab {
            data,
            slot_size,
            slots,
            free,
            cells: (0..slots).map(|_| UnsafeCell::new(())).collect(),
        })
    }

    /// Bytes per slot.
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// Number of 64-slot words: the range of useful `hint`s.
    pub fn words(&self) -> usize {
        self.free.len()
    }

    /// Claim a free slot, searching from word `hint` on; `None` if every slot is taken.
    pub fn try_claim(&self, hint: usize) -> Option<u32> {
        let words = self.free.len();
        for i in 0..words {
            let w = (hint + i) % words;
            let word = &self.free[w];
            // Relaxed: only a guess at which bit to take; the compare-exchange below
            // re-validates it.
            let mut bits = word.load(Ordering::Relaxed);
            while bits != 0 {
                let bit = bits.trailing_zeros();
                // Acquire on success pairs with the Release `fetch_or` in `release`: the
                // previous owner's reads of the slot happen before our writes.
                match word.compare_exchange_weak(
                    bits,
                    bits & !(1 << bit),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Some((w * 64) as u32 + bit),
                    Err(now) => bits = now,
                }
            }
        }
        None
    }

    /// Give slot `slot` back. Releasing a free slot (twice, or never claimed) is an
    /// internal error: it would let two pages share one buffer.
    pub fn release(&self, slot: u32) -> Result<()> {
        let slot = slot as usize;
        if slot >= self.slots {
            return Err(Error::internal(format!(
                "page_data slab: slot {slot} out of range"
            )));
        }
        let bit = 1u64 << (slot % 64);
        // Release pairs with the Acquire compare-exchange in `try_claim`: our reads of
        // the slot happen before the next claimer writes it.
        let before = self.free[slot / 64].fetch_or(bit, Ordering::Release);
        if before & bit != 0 {
            return Err(Error::internal(format!(
                "page_data slab: slot {slot} released twice"
            )));
        }
        Ok(())
    }

    /// Run `f` on slot `slot`'s bytes for writing.
    ///
    /// # Safety
    /// The caller holds the claim of `slot` (from `try_claim`, not yet released or
    /// handed to another thread), so nobody else accesses these bytes meanwhile.
    #[inline]
    pub unsafe fn with_slot_mut<R>(&self, slot: u32, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let slot = slot as usize;
        debug_assert!(slot < self.slots);
        self.cells[slot].with_mut(|_| {
            // SAFETY: slot < slots, so the range lies inside the allocation; the caller's
            // exclusive claim makes this the only reference to it (function contract).
            let bytes = unsafe {
                std::slice::from_raw_parts_mut(
                    self.data.as_ptr().cast::<u8>().add(slot * self.slot_size),
                    self.slot_size,
                )
            };
            f(bytes)
        })
    }

    /// Run `f` on slot `slot`'s bytes for reading.
    ///
    /// # Safety
    /// The caller holds the claim of `slot` (it was handed over with Release/Acquire
    /// and is not released yet), so nobody writes these bytes meanwhile.
    #[inline]
    pub unsafe fn with_slot<R>(&self, slot: u32, f: impl FnOnce(&[u8]) -> R) -> R {
        let slot = slot as usize;
        debug_assert!(slot < self.slots);
        self.cells[slot].with(|_| {
            // SAFETY: in bounds as in `with_slot_mut`; no writer exists while the caller
            // holds the claim (function contract).
            let bytes = unsafe {
                std::slice::from_raw_parts(
                    self.data.as_ptr().cast::<u8>().add(slot * self.slot_size),
                    self.slot_size,
                )
            };
            f(bytes)
        })
    }

    /// Slots currently claimed. Exact only when no thread is claiming or releasing.
    pub fn in_use(&self) -> usize {
        // Relaxed: a statistic, read when the run is over (threads joined).
        self.slots
            - self
                .free
                .iter()
                .map(|w| w.load(Ordering::Relaxed).count_ones() as usize)
                .sum::<usize>()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn claims_every_slot_once_then_runs_dry() {
        for slots in [1, 3, 64, 65, 130] {
            let slab = PageDataSlab::new(slots, 8).unwrap();
            let mut seen = vec![false; slots];
            for i in 0..slots {
                let s = slab.try_claim(i).unwrap() as usize;
                assert!(!seen[s], "slot {s} claimed twice");
                seen[s] = true;
            }
            assert_eq!(slab.try_claim(0), None);
            assert_eq!(slab.in_use(), slots);
            for s in 0..slots as u32 {
                slab.release(s).unwrap();
            }
            assert_eq!(slab.in_use(), 0);
        }
    }

    #[test]
    fn double_release_and_bad_index_are_errors() {
        let slab = PageDataSlab::new(4, 8).unwrap();
        let s = slab.try_claim(0).unwrap();
        slab.release(s).unwrap();
        let e = slab.release(s).unwrap_err();
        assert!(e.message().contains("released twice"), "{e}");
        assert!(slab.release(4).is_err());
        assert_eq!(slab.in_use(), 0);
    }

    #[test]
    fn slots_are_disjoint_buffers() {
        let slab = PageDataSlab::new(3, 16).unwrap();
        let a = slab.try_claim(0).unwrap();
        let b = slab.try_claim(0).unwrap();
        // SAFETY: both slots are claimed by this thread and not released.
        unsafe {
            slab.with_slot_mut(a, |buf| buf.fill(0xaa));
            slab.with_slot_mut(b, |buf| buf.fill(0xbb));
            slab.with_slot(a, |buf| assert!(buf.iter().all(|&x| x == 0xaa)));
            slab.with_slot(b, |buf| assert_eq!(buf.len(), 16));
        }
    }

    #[test]
    fn concurrent_claims_never_share_a_slot() {
        let slab = PageDataSlab::new(16, 8).unwrap();
        let claims: u64 = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4u8)
                .map(|t| {
                    let slab = &slab;
                    s.spawn(move || {
                        let mut claims = 0;
                        for _ in 0..2000 {
                            if let Some(slot) = slab.try_claim(t as usize) {
                                claims += 1;
                                // SAFETY: claimed by this thread until the release below.
                                unsafe {
                                    slab.with_slot_mut(slot, |buf| buf.fill(t));
                                    std::thread::yield_now();
                                    slab.with_slot(slot, |buf| {
                                        assert!(buf.iter().all(|&x| x == t))
                                    });
                                }
                                slab.release(slot).unwrap();
                            }
                        }
                        claims
                    })
                })
                .collect();
            threads.into_iter().map(|h| h.join().unwrap()).sum()
        });
        // Every claim was released once (a second release is an error above), and the
        // threads really contended for the 16 slots.
        assert_eq!(slab.in_use(), 0);
        assert!(claims > 16, "{claims} claims");
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::Arc;

    /// Two claimers and a one-slot pool handed back and forth: loom checks the slot's
    /// bytes are never accessed by two owners without a happens-before edge.
    #[test]
    fn loom_slab_claim_release() {
        loom::model(|| {
            let slab = Arc::new(PageDataSlab::new(1, 1).unwrap());
            let threads: Vec<_> = (0..2u8)
                .map(|t| {
                    let slab = slab.clone();
                    loom::thread::spawn(move || {
                        if let Some(slot) = slab.try_claim(0) {
                            // SAFETY: claimed above, released below.
                            unsafe { slab.with_slot_mut(slot, |buf| buf[0] = t) };
                            // SAFETY: still claimed.
                            unsafe { slab.with_slot(slot, |buf| assert_eq!(buf[0], t)) };
                            slab.release(slot).unwrap();
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(slab.in_use(), 0);
        });
    }
}
