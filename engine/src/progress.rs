//! Progress of the long stages, reported to an observer (the CLI prints makedumpfile's
//! progress line and its "STEP [...]" timings; tests and benches ignore it).

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

/// Receives progress. Implementations rate-limit themselves; callers report at most about
/// 10000 times per stage.
pub trait ProgressObserver: Sync {
    /// `done` of `total` units of `stage` are finished (`done == total` at the end).
    fn update(&self, stage: Stage, done: u64, total: u64);

    /// `stage` finished after `elapsed`.
    fn stage_done(&self, stage: Stage, elapsed: Duration);
}

/// Ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl ProgressObserver for NoProgress {
    fn update(&self, _: Stage, _: u64, _: u64) {}

    fn stage_done(&self, _: Stage, _: Duration) {}
}
