//! Waiting without busy-waiting, and without lost wake-ups.
//!
//! makedumpfile's threads spin forever (consumer min-scan, full ring, slot search under a
//! mutex), which made `--num-threads 2` 3–10× slower than serial on a 2-core machine
//! (makedumpfile-reference.md §3.8.3). Here a thread that must wait spins briefly
//! (crossbeam `Backoff`: `spin_loop`, then `yield_now`), and then parks; whoever changes
//! the condition it waits for unparks it.
//!
//! # The hand-shake (why no wake-up is lost)
//!
//! Waiter (`SleepFlag::wait`):  `sleeping := true`; `fence(SeqCst)` (F1); re-check the
//! condition; park only if it still fails.
//! Waker (`SleepFlag::wake`): make the condition true (a Release store somewhere);
//! `fence(SeqCst)` (F2); `if sleeping.swap(false) { unpark }`.
//!
//! F1 and F2 are SeqCst fences, so they are totally ordered. If F1 comes first, the
//! waker's swap, sequenced after F2, must read `true` (or a later value: another waker
//! already swapped it and unparked, or the waiter woke and cleared it) and the waiter is
//! unparked. If F2 comes first, the waiter's re-check, sequenced after F1, sees the
//! condition the waker made true and does not park. Either way the waiter cannot sleep
//! through the change. `unpark` before `park` is not lost either: it leaves a token that
//! makes the next `park` return at once. Spurious returns from `park` are harmless since
//! the waiter loops and re-checks.
//!
//! # Patience
//!
//! When every thread of the run has a CPU of its own (producers + consumer ≤ CPUs, e.g.
//! `--num-threads 1` on 2 CPUs), parking is the expensive choice: the other side is
//! running and will make the condition true within microseconds, but a parked waiter
//! costs it a futex wake-up and an inter-processor interrupt on its critical path. Such a
//! waiter first flushes the wake-ups it owes (`before_sleep`), then keeps spinning for
//! `patience` (about one page of the fast codecs) before it parks. With more threads than
//! CPUs the patience is zero: spinning would steal the CPU of the thread it waits for.
//!
//! Wakers batch: a producer calls `wake` every few published pages, at the end of each
//! chunk and before it waits itself, not after every page. That is what keeps 8 threads
//! on 2 cores from turning into a context switch per page, and it stays live because
//! nobody waits without first waking the other side (see producer.rs / consumer.rs).

use crossbeam_utils::CachePadded;

use crate::sync::{fence, park, AtomicBool, AtomicUsize, Ordering, Spin, Thread};

/// Interest of a waiter that any waker may wake.
pub(crate) const ANY: usize = usize::MAX;

/// One thread's "I am parked, wake me" flag. Owned by the thread that waits on it;
/// any thread may wake it.
#[derive(Debug, Default)]
pub(crate) struct SleepFlag {
    /// Set `true` by the owner before it parks, `false` after it wakes; swapped to
    /// `false` by the waker that unparks it. Relaxed everywhere: the SeqCst fences on both
    /// sides order it against the condition (module docs).
    ///
    /// Every write is a swap, the owner's too. With plain stores the argument still holds
    /// in the C++ model (the waker's swap reads the latest value in modification order),
    /// but loom orders a plain store only after the writes its thread has seen, so it let
    /// a waker's swap read an older `false` than the owner's `true` and reported a lost
    /// wake-up (found by `loom_handoff_two_producers`). Read-modify-writes are totally
    /// ordered in both models, and the cost is one locked instruction per park.
    sleeping: CachePadded<AtomicBool>,
    /// What the owner waits for (a producer id, or [`ANY`]), written by the owner before
    /// it sets `sleeping`: lets [`wake_if`](Self::wake_if) skip waking the consumer for
    /// a ring it is not waiting on. Relaxed, ordered by the same fences as `sleeping`.
    interest: AtomicUsize,
    /// How long to keep spinning once crossbeam's backoff is exhausted (module docs,
    /// "Patience"); zero under loom, which cannot model time.
    patience: std::time::Duration,
}

/// Why a wait ended without its condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Aborted;

impl SleepFlag {
    #[cfg(test)]
    pub(crate) fn new() -> Self {
        Self::with_patience(std::time::Duration::ZERO)
    }

    /// A flag whose owner spins `patience` more before parking (module docs).
    pub(crate) fn with_patience(patience: std::time::Duration) -> Self {
        SleepFlag {
            sleeping: CachePadded::new(AtomicBool::new(false)),
            interest: AtomicUsize::new(ANY),
            patience: if cfg!(loom) {
                std::time::Duration::ZERO
            } else {
                patience
            },
        }
    }

    /// Wait until `ready` returns `Some`, or until `stop` is set. `interest` says whose
    /// progress can satisfy `ready` (see [`wake_if`](Self::wake_if)).
    ///
    /// `before_sleep` runs before each park: the caller wakes the other side there
    /// (flushing its batched wake-ups), so two threads never sleep waiting on each other.
    /// Both closures get `state`, the caller's own mutable state. `parks` counts the
    /// parks, for the run statistics.
    #[inline]
    pub(crate) fn wait<S, T>(
        &self,
        interest: usize,
        stop: &AtomicBool,
        parks: &mut u64,
        state: &mut S,
        mut before_sleep: impl FnMut(&mut S),
        mut ready: impl FnMut(&mut S) -> Option<T>,
    ) -> Result<T, Aborted> {
        let spin = Spin::new();
        let mut patient_until: Option<std::time::Instant> = None;
        loop {
            if let Some(value) = ready(state) {
                return Ok(value);
            }
            // Acquire pairs with the Release store of `stop` (Shared::request_stop): what
            // the stopping thread recorded (its error) is visible once we see it.
            if stop.load(Ordering::Acquire) {
                return Err(Aborted);
            }
            if !spin.is_completed() {
                spin.snooze();
                continue;
            }
            if !self.patience.is_zero() {
                let now = std::time::Instant::now();
                match patient_until {
                    None => {
                        // Whoever we wait for may be waiting for our batched wake-ups.
                        before_sleep(state);
                        patient_until = Some(now + self.patience);
                        continue;
                    }
                    Some(until) if now < until => {
                        std::hint::spin_loop();
                        continue;
                    }
                    Some(_) => {}
                }
            }
            before_sleep(state);
            self.interest.store(interest, Ordering::Relaxed);
            self.sleeping.swap(true, Ordering::Relaxed);
            // F1 of the hand-shake (module docs): orders the flag store before the
            // re-check below, against the waker's F2.
            fence(Ordering::SeqCst);
            if let Some(value) = ready(state) {
                self.sleeping.swap(false, Ordering::Relaxed);
                return Ok(value);
            }
            if stop.load(Ordering::Acquire) {
                self.sleeping.swap(false, Ordering::Relaxed);
                return Err(Aborted);
            }
            *parks += 1;
            park();
            self.sleeping.swap(false, Ordering::Relaxed);
        }
    }

    /// Call after making a waiter's condition true: unpark the owner if it sleeps.
    #[inline]
    pub(crate) fn wake(&self, owner: &Thread) {
        // F2 of the hand-shake (module docs): orders the caller's condition store before
        // the flag check.
        fence(Ordering::SeqCst);
        self.wake_after_fence(owner);
    }

    /// [`wake`](Self::wake), but only if the owner waits on `topic` (or on [`ANY`]).
    ///
    /// Skipping the others is safe: a waiter whose interest is another topic needs
    /// another thread's progress, and that thread wakes it. The interest read here is
    /// the one of the current sleep (the owner writes it before `sleeping`, both before
    /// F1) or of a later one, which only exists if the owner woke up meanwhile.
    #[inline]
    pub(crate) fn wake_if(&self, owner: &Thread, topic: usize) {
        // F2 of the hand-shake.
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) {
            let interest = self.interest.load(Ordering::Relaxed);
            if interest == topic || interest == ANY {
                self.wake_after_fence(owner);
            }
        }
    }

    /// [`wake`](Self::wake) for callers that wake several flags after one fence of
    /// their own (the consumer waking every producer).
    #[inline]
    pub(crate) fn wake_after_fence(&self, owner: &Thread) {
        // Relaxed: the caller's SeqCst fence does the ordering. The swap (not a load)
        // makes only one of several wakers pay for the unpark system call.
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::Relaxed) {
            owner.unpark();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;

    #[test]
    fn waiter_wakes_on_condition_and_on_stop() {
        let flag = Arc::new(SleepFlag::new());
        let value = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (flag, value, stop) = (flag.clone(), value.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut parks = 0;
                let got = flag.wait(
                    ANY,
                    &stop,
                    &mut parks,
                    &mut (),
                    |_| {},
                    |_| match value.load(Ordering::Acquire) {
                        0 => None,
                        v => Some(v),
                    },
                );
                let stopped = flag.wait(ANY, &stop, &mut parks, &mut (), |_| {}, |_| None::<()>);
                (got, stopped)
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        value.store(7, Ordering::Release);
        flag.wake(waiter.thread());
        std::thread::sleep(std::time::Duration::from_millis(20));
        stop.store(true, Ordering::Release);
        flag.wake(waiter.thread());
        let (got, stopped) = waiter.join().unwrap();
        assert_eq!(got, Ok(7));
        assert_eq!(stopped, Err(Aborted));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::{current, Arc, AtomicU64};

    /// The hand-shake never loses a wake-up: loom reports a deadlock if the waiter can
    /// park after the only wake.
    #[test]
    fn loom_sleep_flag_no_lost_wakeup() {
        loom::model(|| {
            let flag = Arc::new(SleepFlag::new());
            let value = Arc::new(AtomicU64::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let waiter = current();
            let waker = {
                let (flag, value) = (flag.clone(), value.clone());
                loom::thread::spawn(move || {
                    value.store(1, Ordering::Release);
                    flag.wake(&waiter);
                })
            };
            let mut parks = 0;
            let got = flag.wait(
                ANY,
                &stop,
                &mut parks,
                &mut (),
                |_| {},
                |_| match value.load(Ordering::Acquire) {
                    0 => None,
                    v => Some(v),
                },
            );
            assert_eq!(got, Ok(1));
            waker.join().unwrap();
        });
    }
}
