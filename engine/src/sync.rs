//! The synchronisation primitives the pipeline is built from, switched to loom's model
//! checker under `cfg(loom)` (the tokio pattern).
//!
//! Everything concurrent in `pipeline/` imports its atomics, `Arc`, `UnsafeCell`,
//! `Mutex` and thread functions from here, never from `std` directly, so that
//! `RUSTFLAGS="--cfg loom" cargo test --release -p makedumpfile-engine --lib loom`
//! explores every interleaving of the very code that runs in production.
//!
//! Two things differ between the builds and are hidden here:
//! - `UnsafeCell`: loom's cell only hands out access through closures (`with`,
//!   `with_mut`) so it can record every read and write; the std build gets a zero-cost
//!   wrapper with the same closure API.
//! - spinning: crossbeam's `Backoff` spins with `std::hint::spin_loop`, which loom cannot
//!   see (a spin loop under loom never lets the other thread run). Under loom the
//!   [`Spin`] helper yields to loom's scheduler and reports "completed" at once, so the
//!   model goes straight to the park path, which is the part worth checking.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(loom)]
#[allow(unused_imports)] // Arc is used by the loom tests only.
pub(crate) use loom::sync::{Arc, Mutex};
#[cfg(loom)]
#[allow(unused_imports)] // `current` is used by the loom tests only.
pub(crate) use loom::thread::{current, park, Thread};

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(not(loom))]
#[allow(unused_imports)] // Arc is used by the loom tests only in this build.
pub(crate) use std::sync::{Arc, Mutex};
#[cfg(not(loom))]
pub(crate) use std::thread::{current, park, Thread};

/// `std::cell::UnsafeCell` with loom's closure API, so one source serves both builds.
#[cfg(not(loom))]
#[derive(Debug, Default)]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// A cell holding `value`.
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Read access through a raw pointer; the caller's protocol makes it race-free.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Write access through a raw pointer; the caller's protocol makes it exclusive.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Bounded spinning before a thread parks: crossbeam's `Backoff` (exponential
/// `spin_loop` up to 2^6, then `yield_now` up to step 10) in the std build.
///
/// Yielding matters when threads outnumber cores (8 producers on 2 cores): a waiter
/// that only spun would burn the time slice the thread it waits for needs.
#[cfg(not(loom))]
pub(crate) struct Spin(crossbeam_utils::Backoff);

#[cfg(not(loom))]
impl Spin {
    pub(crate) fn new() -> Self {
        Spin(crossbeam_utils::Backoff::new())
    }

    /// One round of waiting: spin, or yield once spinning has gone on long enough.
    #[inline]
    pub(crate) fn snooze(&self) {
        self.0.snooze()
    }

    /// True once spinning and yielding are exhausted and the caller should park.
    #[inline]
    pub(crate) fn is_completed(&self) -> bool {
        self.0.is_completed()
    }
}

/// Under loom: no spinning at all (loom cannot see `spin_loop`), straight to parking.
#[cfg(loom)]
pub(crate) struct Spin;

#[cfg(loom)]
impl Spin {
    pub(crate) fn new() -> Self {
        Spin
    }

    pub(crate) fn snooze(&self) {
        loom::thread::yield_now()
    }

    pub(crate) fn is_completed(&self) -> bool {
        true
    }
}
