//! The page pipeline: turn every dumpable pfn into its stored form and hand the results to
//! a single consumer strictly in pfn order.
//!
//! `threads == 0` runs everything on the calling thread (makedumpfile's serial path).
//! With `threads >= 1`, N producer threads each own a worker (its reader and codec
//! context) and the calling thread is the consumer. The output is identical for every
//! thread count: the consumer sees exactly the same sequence of calls.
//!
//! CONTRACT (used by the dump writer; keep it stable):
//! - [`PageWorker::process`] is called once per set bit of `dumpable` inside `range`.
//! - [`PageSink::write_page`] is called once per such pfn, in ascending pfn order, on the
//!   calling thread, with the worker's outcome and the bytes it produced.
//! - The first error (from a worker or the sink) stops the run; every thread is joined
//!   before `run` returns it. No panic, no hang.

use std::ops::Range;

use crate::bitmap::Bitmap;
use crate::error::Result;

/// What a worker made of one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageOutcome {
    /// The page is all zeros and dump level bit 1 is set: the consumer writes the shared
    /// zero-page descriptor, no data.
    Zero,
    /// `len` bytes of stored data (compressed, or the raw page) with `page_desc.flags`.
    Data {
        /// Number of bytes of the output buffer that hold the stored page.
        len: usize,
        /// `page_desc.flags`: the compression bit, or 0 for a raw page.
        flags: u32,
    },
}

/// One producer's page processor: owns its reader and codec context.
pub trait PageWorker: Send {
    /// Process page `pfn`, writing its stored form into `out` (`out.len()` ==
    /// [`PipelineConfig::slot_size`]).
    fn process(&mut self, pfn: u64, out: &mut [u8]) -> Result<PageOutcome>;
}

/// The consumer side: the dump writer.
pub trait PageSink {
    /// Called in ascending pfn order; `data` is empty for [`PageOutcome::Zero`].
    fn write_page(&mut self, pfn: u64, outcome: PageOutcome, data: &[u8]) -> Result<()>;
}

/// Tuning of a pipeline run.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Producer threads; 0 = serial on the calling thread.
    pub threads: usize,
    /// Bytes per page_data slot: at least the page size.
    pub slot_size: usize,
}

/// Run the pipeline over the set bits of `dumpable` within `range`.
pub fn run<W, F, S>(
    dumpable: &Bitmap,
    range: Range<u64>,
    config: &PipelineConfig,
    make_worker: F,
    sink: &mut S,
) -> Result<()>
where
    W: PageWorker,
    F: Fn(usize) -> Result<W> + Sync,
    S: PageSink,
{
    // Serial placeholder until the threaded engine lands: same contract, same output.
    let _ = config.threads;
    let mut worker = make_worker(0)?;
    let mut out = vec![0u8; config.slot_size];
    for pfn in dumpable.iter_set(range.start, range.end) {
        let outcome = worker.process(pfn, &mut out)?;
        let data = match outcome {
            PageOutcome::Zero => &[][..],
            PageOutcome::Data { len, .. } => &out[..len],
        };
        sink.write_page(pfn, outcome, data)?;
    }
    Ok(())
}
