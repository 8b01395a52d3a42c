//! Progress of the long stages, reported to an observer (the CLI prints makedumpfile's
//! progress line and its "STEP [...]" timings; tests and benches ignore it).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// A stage of a dump, with makedumpfile's labels (print_info.h, padded to 27 columns:
/// the report's `STEP [label] :` lines carry the padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Building the 1st bitmap from the PT_LOADs.
    MemoryHoles,
    /// Classifying struct pages.
    UnnecessaryPages,
    /// Walking free lists.
    FreePages,
    /// Reading, compressing and writing pages.
    CopyingData,
}

impl Stage {
    /// The label exactly as makedumpfile prints it.
    pub fn label(self) -> &'static str {
        match self {
            Stage::MemoryHoles => "Checking for memory holes  ",
            Stage::UnnecessaryPages => "Excluding unnecessary pages",
            Stage::FreePages => "Excluding free pages       ",
            Stage::CopyingData => "Copying data               ",
        }
    }
}

/// The kinds of message a dump job emits, after makedumpfile's print_info.h classes: the
/// observer decides by its message level whether and where to print each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// MSG: retries, level changes, budget decisions, "incomplete dumpfile".
    Common,
    /// DEBUG_MSG: the vmcore's layout, cycle sizes, per-file ranges.
    Debug,
    /// REPORT_MSG: the memory budget plan.
    Report,
}

/// Receives progress and messages. Implementations rate-limit themselves; callers report
/// at most about 10000 times per stage.
pub trait ProgressObserver: Sync {
    /// `done` of `total` units of `stage` are finished (`done == total` at the end).
    fn update(&self, stage: Stage, done: u64, total: u64);

    /// `stage` finished after `elapsed`.
    fn stage_done(&self, stage: Stage, elapsed: Duration);

    /// A message for the user, printed or not according to `kind` (the dump job's text is
    /// makedumpfile's, newlines included). Ignored unless the observer prints messages.
    fn message(&self, _kind: MessageKind, _text: &str) {}
}

/// Ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl ProgressObserver for NoProgress {
    fn update(&self, _: Stage, _: u64, _: u64) {}

    fn stage_done(&self, _: Stage, _: Duration) {}
}

/// Several concurrent jobs (the files of `--split`) reported as one: each job updates its
/// own slot, the sum goes to `inner`, and a stage is done when every job has finished it.
///
/// Orderings: the slots are independent counters read only to form a displayed sum, so
/// `Relaxed` suffices for them (a momentarily stale sum only delays the progress line).
/// The finished-jobs counter uses `AcqRel`: each job's final slot stores happen before its
/// increment (Release), and the job that completes the stage acquires them all, so its
/// final sum is exact.
#[derive(Debug)]
pub struct CombinedProgress<'a, P: ProgressObserver + ?Sized> {
    inner: &'a P,
    slots: Vec<(AtomicU64, AtomicU64)>,
    finished: AtomicUsize,
}

impl<'a, P: ProgressObserver + ?Sized> CombinedProgress<'a, P> {
    /// Combine `jobs` jobs into `inner`.
    pub fn new(inner: &'a P, jobs: usize) -> Self {
        CombinedProgress {
            inner,
            slots: (0..jobs)
                .map(|_| (AtomicU64::new(0), AtomicU64::new(0)))
                .collect(),
            finished: AtomicUsize::new(0),
        }
    }

    /// The observer job `index` reports to.
    pub fn job(&self, index: usize) -> JobProgress<'_, 'a, P> {
        JobProgress {
            combined: self,
            index,
        }
    }

    fn sums(&self) -> (u64, u64) {
        self.slots.iter().fold((0, 0), |(d, t), (done, total)| {
            (
                d + done.load(Ordering::Relaxed),
                t + total.load(Ordering::Relaxed),
            )
        })
    }
}

/// One job's view of a [`CombinedProgress`].
#[derive(Debug)]
pub struct JobProgress<'c, 'a, P: ProgressObserver + ?Sized> {
    combined: &'c CombinedProgress<'a, P>,
    index: usize,
}

impl<P: ProgressObserver + ?Sized> ProgressObserver for JobProgress<'_, '_, P> {
    fn update(&self, stage: Stage, done: u64, total: u64) {
        let (slot_done, slot_total) = &self.combined.slots[self.index];
        slot_done.store(done, Ordering::Relaxed);
        slot_total.store(total, Ordering::Relaxed);
        let (done, total) = self.combined.sums();
        // 100 % is printed once, by the job that finishes the stage last (`stage_done`):
        // the sum can reach its total early while other jobs have not reported theirs yet.
        if done < total {
            self.combined.inner.update(stage, done, total);
        }
    }

    fn stage_done(&self, stage: Stage, elapsed: Duration) {
        let finished = self.combined.finished.fetch_add(1, Ordering::AcqRel) + 1;
        if finished == self.combined.slots.len() {
            let (done, total) = self.combined.sums();
            self.combined.inner.update(stage, done, total);
            self.combined.inner.stage_done(stage, elapsed);
        }
    }

    fn message(&self, kind: MessageKind, text: &str) {
        self.combined.inner.message(kind, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder {
        updates: Mutex<Vec<(u64, u64)>>,
        done: Mutex<Vec<Stage>>,
    }

    impl ProgressObserver for Recorder {
        fn update(&self, _: Stage, done: u64, total: u64) {
            self.updates.lock().unwrap().push((done, total));
        }

        fn stage_done(&self, stage: Stage, _: Duration) {
            self.done.lock().unwrap().push(stage);
        }
    }

    #[test]
    fn combined_jobs_report_sums_and_finish_once() {
        let recorder = Recorder::default();
        let combined = CombinedProgress::new(&recorder, 3);
        let stage = Stage::CopyingData;
        combined.job(0).update(stage, 5, 10);
        combined.job(1).update(stage, 0, 20);
        combined.job(0).update(stage, 10, 10);
        combined.job(0).stage_done(stage, Duration::ZERO);
        // Until job 2 reports, 10 of 30 is all the sum knows; 30 of 30 there is not 100 %.
        combined.job(2).update(stage, 30, 30);
        combined.job(2).stage_done(stage, Duration::ZERO);
        assert!(recorder.done.lock().unwrap().is_empty());
        combined.job(1).update(stage, 20, 20);
        combined.job(1).stage_done(stage, Duration::ZERO);
        assert_eq!(
            *recorder.updates.lock().unwrap(),
            vec![(5, 10), (5, 30), (10, 30), (40, 60), (60, 60)]
        );
        assert_eq!(*recorder.done.lock().unwrap(), vec![stage]);
    }
}
