//! The page pipeline: turn every dumpable pfn into its stored form and hand the results to
//! a single consumer strictly in pfn order.
//!
//! One pipeline serves a whole dump: [`run_cycles`] creates the threads, rings, slab and
//! workers once and is fed one cycle (a window of pfns and its bitmap) after another
//! ([`Feed`], cycle.rs); [`run`] is the one-cycle case.
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
//!
//! # The threaded engine (issue 3)
//!
//! Producers claim chunks of `chunk_pfns` pfns from one atomic cursor; each claim carries
//! a sequence number and the claimer registers as its owner ([`claim`]). A producer runs
//! its worker on each dumpable pfn of the chunk into a slot of the shared page_data pool
//! ([`slab`]) and publishes the outcome in its own single-producer ring ([`ring`]),
//! then a chunk-end marker. The consumer (the calling thread) takes chunk 0, 1, 2, … from
//! the owner's ring, so the sink sees pages in pfn order whatever the schedule. Threads
//! that must wait spin briefly and park; the other side wakes them in batches ([`wait`]).
//!
//! A page error travels in the ring like a page: the consumer returns it after writing
//! every earlier page, exactly as the serial path would. A sink error, a worker that
//! cannot be created or a panic anywhere stops every thread (shared `stop` flag plus
//! unpark), and `run` returns the first error once all threads are joined.
//!
//! Memory: `threads × (ring_capacity × 64 B + slab_slots_per_thread × slot_size)` plus
//! what the workers hold; budget.rs turns that into makedumpfile's per-thread reserve.
//!
//! Checking it: `cargo test -p makedumpfile-engine pipeline` (unit, whole-run, error and
//! stress tests), `cargo test -p makedumpfile-proptests` (random bitmaps, tunings,
//! thread counts and delays against the serial sequence), and the loom models of the
//! ring, the slab, the sleep hand-shake and the whole ordered hand-off:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p makedumpfile-engine --lib loom`
//! (about 3 minutes on 2 cores; use a separate `--target-dir` to keep the normal build).

// Under loom only the model tests drive the engine (no std::thread::scope there), so
// parts used by `run_threaded` alone are unused in the non-test loom build.
#![cfg_attr(loom, allow(dead_code))]

use std::ops::Range;
#[cfg(not(loom))]
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::bitmap::Bitmap;
use crate::error::{Error, ErrorKind, Result};

mod claim;
mod consumer;
mod cycle;
mod producer;
mod ring;
mod shared;
mod slab;
mod wait;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(feature = "testing")]
pub use ring::PageFlagRing;
#[cfg(feature = "testing")]
pub use slab::PageDataSlab;

#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod bench_support;

use claim::MAX_PRODUCERS;
#[cfg(not(loom))]
use {
    claim::ChunkClaims,
    consumer::Consumer,
    producer::{panic_message, Producer, ProducerStats},
    shared::Shared,
};

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

    /// For the serial path: `len` bytes where the next page's data can be written in
    /// place, saving the copy [`PageSink::write_page`] makes. A sink that offers it
    /// takes the page through [`PageSink::commit_page`]; the default offers none.
    fn page_buffer(&mut self, _len: usize) -> Option<&mut [u8]> {
        None
    }

    /// Take page `pfn`, whose data (`outcome`'s `len` bytes) the worker wrote at the
    /// start of the last [`PageSink::page_buffer`].
    fn commit_page(&mut self, pfn: u64, _outcome: PageOutcome) -> Result<()> {
        Err(Error::internal(format!(
            "pfn {pfn:#x}: page committed to a sink without a page buffer"
        )))
    }
}

/// Tuning of a pipeline run.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Producer threads; 0 = serial on the calling thread.
    pub threads: usize,
    /// Bytes per page_data slot: at least the page size.
    pub slot_size: usize,
}

/// How long a waiting thread keeps spinning before it parks (wait.rs, "Patience"): about
/// one page of LZO or snappy, when the producers and the consumer all have a CPU.
const DEDICATED_CPU_PATIENCE: std::time::Duration = std::time::Duration::from_micros(20);

fn patience(producers: usize) -> std::time::Duration {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if producers < cpus {
        DEDICATED_CPU_PATIENCE
    } else {
        std::time::Duration::ZERO
    }
}

/// The threaded engine's sizes. [`run`] uses [`PipelineTuning::default`]; benchmarks and
/// tests vary them through [`run_tuned`]. None of them changes the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineTuning {
    /// Pfns per claim (chunk boundaries are multiples of it). Small enough that the next
    /// chunk's producer can finish it within its slab quota while the consumer drains
    /// the current one, large enough that the cursor is not contended.
    pub chunk_pfns: u64,
    /// Entries per producer ring (rounded up to a power of two; 64 bytes each).
    pub ring_capacity: usize,
    /// page_data slots per producer: the pool has `threads ×` this many, and a producer
    /// never holds more than this many at once.
    pub slab_slots_per_thread: usize,
    /// Pages between wake-ups of the other side (wait.rs): higher means fewer context
    /// switches when threads outnumber cores, lower means less waiting.
    pub wake_every: u32,
}

impl Default for PipelineTuning {
    fn default() -> Self {
        // Session 2, real 1 GiB vmcore, -l -d 31 at 8 threads: 32-pfn chunks with 64 slots
        // saved 2 MiB of peak RSS but cost 12 % of wall time (twice the chunk-end wake-ups
        // and window remaps per page); the 2 MiB mmap windows (window.rs) alone keep the
        // RSS below makedumpfile's.
        PipelineTuning {
            chunk_pfns: 64,
            ring_capacity: 256,
            slab_slots_per_thread: 128,
            wake_every: 64,
        }
    }
}

impl PipelineTuning {
    /// Bytes of pipeline state per producer thread (ring + its share of the slab),
    /// not counting what the worker itself holds.
    pub fn bytes_per_thread(&self, slot_size: usize) -> u64 {
        let ring = self.ring_capacity.max(2).next_power_of_two() as u64 * 64;
        ring + self.slab_slots_per_thread.max(1) as u64 * slot_size as u64
    }
}

/// What a run did; the counts are the same for every thread count, the waits are not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineStats {
    /// Producer threads used (0 = serial).
    pub threads: usize,
    /// Chunks consumed (0 in serial mode).
    pub chunks: u64,
    /// Pages handed to the sink.
    pub pages: u64,
    /// Of those, zero pages.
    pub zero_pages: u64,
    /// Bytes of page data handed to the sink.
    pub data_bytes: u64,
    /// Times producers parked (waiting for ring entries, slab slots or owner slots).
    pub producer_parks: u64,
    /// Times the consumer parked (waiting for a chunk's owner or its next page).
    pub consumer_parks: u64,
}

#[cfg(feature = "testing")]
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
    run_tuned(
        dumpable,
        range,
        config,
        &PipelineTuning::default(),
        make_worker,
        sink,
    )
    .map(|_| ())
}

#[cfg(any(test, feature = "testing"))]
/// [`run`] with explicit engine sizes, returning what happened: one cycle fed to
/// [`run_cycles`].
pub fn run_tuned<W, F, S>(
    dumpable: &Bitmap,
    range: Range<u64>,
    config: &PipelineConfig,
    tuning: &PipelineTuning,
    make_worker: F,
    sink: &mut S,
) -> Result<PipelineStats>
where
    W: PageWorker,
    F: Fn(usize) -> Result<W> + Sync,
    S: PageSink,
{
    let range = range.start.max(dumpable.start())..range.end.min(dumpable.end());
    let pages = range.clone();
    run_cycles(range, config, tuning, make_worker, sink, |feed| {
        feed.pages(dumpable.clone(), pages)
    })
}

/// What [`run_cycles`] hands its driver: the sink (for what the writer puts between
/// cycles, such as the next 2nd bitmap) and the door through which each cycle's pages go.
pub trait Feed<S> {
    /// The sink, between cycles.
    fn sink(&mut self) -> &mut S;

    /// Produce and consume the pages of `dumpable` within `pages`, in pfn order, before
    /// returning. Cycles come in ascending order, each starting where the previous ended
    /// (at the range's start for the first) and ending on a multiple of
    /// [`PipelineTuning::chunk_pfns`] (or at the range's end), so that no chunk spans
    /// two cycles.
    fn pages(&mut self, dumpable: Bitmap, pages: Range<u64>) -> Result<()>;
}

/// Run one pipeline over `range`, fed cycle after cycle by `drive`: the threads, rings,
/// slab and workers are created once, used for every cycle, and joined at the end
/// (issue 14: they used to be rebuilt per cycle). `drive` must feed pages up to
/// `range.end`; the run fails if it returns with pages left.
pub fn run_cycles<W, F, S, D>(
    range: Range<u64>,
    config: &PipelineConfig,
    tuning: &PipelineTuning,
    make_worker: F,
    sink: &mut S,
    drive: D,
) -> Result<PipelineStats>
where
    W: PageWorker,
    F: Fn(usize) -> Result<W> + Sync,
    S: PageSink,
    D: FnOnce(&mut dyn Feed<S>) -> Result<()>,
{
    if config.slot_size == 0 {
        return Err(Error::argument("pipeline: slot_size must not be 0"));
    }
    if config.threads == 0 {
        let mut feed = SerialFeed {
            worker: make_worker(0)?,
            sink,
            slot_size: config.slot_size,
            cursor: Cursor::new(range, 1),
            out: Vec::new(),
            stats: PipelineStats::default(),
        };
        drive(&mut feed)?;
        feed.cursor.finished()?;
        return Ok(feed.stats);
    }
    if config.threads > MAX_PRODUCERS {
        return Err(Error::argument(format!(
            "--num-threads {} is more than the {} the pipeline supports",
            config.threads, MAX_PRODUCERS
        )));
    }
    #[cfg(not(loom))]
    return run_threaded(range, config, tuning, make_worker, sink, drive);
    // The model checker cannot run std::thread::scope; the loom tests drive the same
    // producer and consumer code through loom threads instead (tests in this module).
    #[cfg(loom)]
    {
        let _ = (tuning, sink, drive);
        Err(Error::new(
            ErrorKind::Unsupported,
            "pipeline: threads are not available under loom",
        ))
    }
}

/// Checks that the driver feeds the range in order, in cycles aligned to chunks.
struct Cursor {
    range: Range<u64>,
    next: u64,
    align: u64,
}

impl Cursor {
    fn new(range: Range<u64>, align: u64) -> Self {
        Cursor {
            next: range.start,
            range,
            align: align.max(1),
        }
    }

    /// Accept the next cycle's `pages`.
    fn advance(&mut self, dumpable: &Bitmap, pages: &Range<u64>) -> Result<()> {
        if pages.start != self.next
            || pages.end < pages.start
            || pages.end > self.range.end
            || (pages.end != self.range.end && pages.end % self.align != 0)
            || (pages.start < pages.end && !cycle::holds(dumpable, pages))
        {
            return Err(Error::internal(format!(
                "pipeline: cycle {pages:#x?} fed after {:#x} in {:#x?} (chunks of {} pfns, bitmap {:#x}..{:#x})",
                self.next,
                self.range,
                self.align,
                dumpable.start(),
                dumpable.end()
            )));
        }
        self.next = pages.end;
        Ok(())
    }

    fn finished(&self) -> Result<()> {
        if self.next < self.range.end {
            return Err(Error::internal(format!(
                "pipeline: the cycles ended at {:#x}, before the range's end {:#x}",
                self.next, self.range.end
            )));
        }
        Ok(())
    }
}

/// makedumpfile's serial path: everything on the calling thread, one worker for the
/// whole dump.
struct SerialFeed<'s, W, S> {
    worker: W,
    sink: &'s mut S,
    slot_size: usize,
    cursor: Cursor,
    out: Vec<u8>,
    stats: PipelineStats,
}

impl<W: PageWorker, S: PageSink> Feed<S> for SerialFeed<'_, W, S> {
    fn sink(&mut self) -> &mut S {
        self.sink
    }

    fn pages(&mut self, dumpable: Bitmap, pages: Range<u64>) -> Result<()> {
        self.cursor.advance(&dumpable, &pages)?;
        let (sink, worker, stats) = (&mut *self.sink, &mut self.worker, &mut self.stats);
        for pfn in dumpable.iter_set(pages.start, pages.end) {
            // In place when the sink lends its write cache, else through our own buffer.
            let (outcome, data_len) = match sink.page_buffer(self.slot_size) {
                Some(buffer) => {
                    let outcome = worker.process(pfn, buffer)?;
                    let data_len = stored_len(pfn, outcome, buffer.len())?;
                    sink.commit_page(pfn, outcome)?;
                    (outcome, data_len)
                }
                None => {
                    self.out.resize(self.slot_size, 0);
                    let outcome = worker.process(pfn, &mut self.out)?;
                    let data_len = stored_len(pfn, outcome, self.out.len())?;
                    sink.write_page(pfn, outcome, &self.out[..data_len])?;
                    (outcome, data_len)
                }
            };
            stats.pages += 1;
            stats.zero_pages += (outcome == PageOutcome::Zero) as u64;
            stats.data_bytes += data_len as u64;
        }
        Ok(())
    }
}

/// How many bytes of its `capacity`-byte buffer a worker says it stored; more than the
/// buffer holds is a worker bug, reported instead of trusted.
pub(crate) fn stored_len(pfn: u64, outcome: PageOutcome, capacity: usize) -> Result<usize> {
    match outcome {
        PageOutcome::Zero => Ok(0),
        PageOutcome::Data { len, .. } if len <= capacity => Ok(len),
        PageOutcome::Data { len, .. } => Err(Error::internal(format!(
            "worker stored {len} bytes for pfn {pfn:#x}, more than its {capacity}-byte buffer"
        ))),
    }
}

/// The consumer side of a threaded run: each cycle is published to the producers, then
/// its chunks are consumed in order on the calling thread.
#[cfg(not(loom))]
struct ThreadedFeed<'s, 'c, S> {
    consumer: Consumer<'c>,
    sink: &'s mut S,
    cursor: Cursor,
}

#[cfg(not(loom))]
impl<S: PageSink> Feed<S> for ThreadedFeed<'_, '_, S> {
    fn sink(&mut self) -> &mut S {
        self.sink
    }

    fn pages(&mut self, dumpable: Bitmap, pages: Range<u64>) -> Result<()> {
        self.cursor.advance(&dumpable, &pages)?;
        if pages.start < pages.end {
            self.consumer.publish(dumpable, pages.end);
            self.consumer.run_until(pages.end, self.sink)?;
            self.consumer.retire_cycle();
        }
        Ok(())
    }
}

/// N producer threads for the whole run; the calling thread drives the cycles and
/// consumes.
#[cfg(not(loom))]
fn run_threaded<W, F, S, D>(
    range: Range<u64>,
    config: &PipelineConfig,
    tuning: &PipelineTuning,
    make_worker: F,
    sink: &mut S,
    drive: D,
) -> Result<PipelineStats>
where
    W: PageWorker,
    F: Fn(usize) -> Result<W> + Sync,
    S: PageSink,
    D: FnOnce(&mut dyn Feed<S>) -> Result<()>,
{
    let threads = config.threads;
    let ring_capacity = tuning.ring_capacity.max(2).next_power_of_two();
    // Each producer can be at most `ring_capacity + 1` chunks ahead of the consumer
    // (claim.rs), so this window never makes a producer wait for an owner slot.
    let window = threads.saturating_mul(ring_capacity + 1);
    let claims = ChunkClaims::new(range.clone(), tuning.chunk_pfns, window);
    let shared = Shared::new(
        claims,
        threads,
        ring_capacity,
        tuning.slab_slots_per_thread,
        config.slot_size,
        crate::sync::current(),
        tuning.wake_every,
        patience(threads),
    )?;
    let shared = &shared;
    let make_worker = &make_worker;

    let (consumed, producer_stats) = std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(threads);
        for id in 0..threads {
            let spawned = std::thread::Builder::new()
                .name(format!("mdf-producer-{id}"))
                .spawn_scoped(scope, move || {
                    let body = || match make_worker(id)
                        .and_then(|worker| Producer::new(shared, id, worker))
                    {
                        Ok(producer) => producer.run(),
                        Err(error) => {
                            shared.fail(error);
                            ProducerStats::default()
                        }
                    };
                    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
                        shared.fail(Error::internal(format!(
                            "producer {id} panicked: {}",
                            panic_message(&*panic)
                        )));
                        ProducerStats::default()
                    })
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    shared.fail(Error::io(
                        ErrorKind::Internal,
                        format!("cannot start producer thread {id}"),
                        e,
                    ));
                    break;
                }
            }
        }
        let producers: Vec<_> = handles.iter().map(|h| h.thread().clone()).collect();
        let consumed = if handles.len() == threads {
            catch_unwind(AssertUnwindSafe(|| {
                let mut feed = ThreadedFeed {
                    consumer: Consumer::new(shared, &producers)?,
                    sink,
                    cursor: Cursor::new(range.clone(), tuning.chunk_pfns),
                };
                drive(&mut feed)?;
                feed.cursor.finished()?;
                if !feed.consumer.finished() {
                    return Err(Error::internal(
                        "pipeline: chunks left after the last cycle",
                    ));
                }
                Ok(feed.consumer.stats)
            }))
            .unwrap_or_else(|panic| {
                Err(Error::internal(format!(
                    "pipeline consumer panicked: {}",
                    panic_message(&*panic)
                )))
            })
        } else {
            Err(Error::internal("pipeline: not every producer started"))
        };
        // Done or failed: release every producer from its waits and let it exit.
        shared.request_stop();
        for thread in &producers {
            thread.unpark();
        }
        let mut total = ProducerStats::default();
        for handle in handles {
            // Producer bodies catch their own panics; a join error cannot happen, but
            // would be reported rather than unwound through the caller.
            match handle.join() {
                Ok(stats) => {
                    total.chunks += stats.chunks;
                    total.pages += stats.pages;
                    total.parks += stats.parks;
                    total.slots_claimed += stats.slots_claimed;
                    total.slots_released += stats.slots_released;
                }
                Err(panic) => shared.fail(Error::internal(format!(
                    "producer panicked: {}",
                    panic_message(&*panic)
                ))),
            }
        }
        (consumed, total)
    });

    // The consumer's own error comes first (it is the earliest in pfn order or the sink's),
    // then whatever a producer recorded.
    let consumed = match (consumed, shared.take_failure()) {
        (Err(error), _) => return Err(error),
        (Ok(_), Some(error)) => return Err(error),
        (Ok(consumed), None) => consumed,
    };
    if shared.slab.in_use() != 0 {
        return Err(Error::internal(format!(
            "pipeline: {} page_data slots leaked",
            shared.slab.in_use()
        )));
    }
    // Every claim released exactly once, counted by the threads themselves (in release
    // builds too): a leak or a double release shows here even if the free bitmap agrees.
    let claims = producer_stats.slots_claimed;
    let releases = producer_stats.slots_released + consumed.slots_released;
    if claims != releases {
        return Err(Error::internal(format!(
            "pipeline: {claims} slot claims but {releases} releases"
        )));
    }
    Ok(PipelineStats {
        threads,
        chunks: consumed.chunks,
        pages: consumed.pages,
        zero_pages: consumed.zero_pages,
        data_bytes: consumed.data_bytes,
        producer_parks: producer_stats.parks,
        consumer_parks: consumed.parks,
    })
}
