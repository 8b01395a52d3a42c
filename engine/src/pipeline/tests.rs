//! Whole-run tests: every thread count gives the serial sequence; errors and panics end
//! the run with the right error, promptly, without a hang or a leaked slot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::error::ErrorKind;

/// A deterministic worker: zero pages at multiples of 7, otherwise `1 + pfn % 97` bytes
/// derived from the pfn. Optionally fails or panics at one pfn, and sleeps or yields on
/// some pages to shake the schedule.
#[derive(Clone, Default)]
struct TestWorker {
    fail_at: Option<u64>,
    panic_at: Option<u64>,
    jitter: bool,
}

fn page_bytes(pfn: u64, out: &mut [u8]) -> usize {
    let len = 1 + (pfn % 97) as usize;
    for (i, b) in out[..len].iter_mut().enumerate() {
        *b = (pfn as u8).wrapping_mul(31).wrapping_add(i as u8);
    }
    len
}

impl PageWorker for TestWorker {
    fn process(&mut self, pfn: u64, out: &mut [u8]) -> Result<PageOutcome> {
        if self.fail_at == Some(pfn) {
            return Err(Error::new(
                ErrorKind::Read,
                format!("injected read error at pfn {pfn}"),
            ));
        }
        if self.panic_at == Some(pfn) {
            panic!("injected panic at pfn {pfn}");
        }
        if self.jitter {
            match pfn.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 60 {
                0 => std::thread::sleep(Duration::from_micros(50)),
                1..=3 => std::thread::yield_now(),
                _ => {}
            }
        }
        if pfn % 7 == 0 {
            return Ok(PageOutcome::Zero);
        }
        let len = page_bytes(pfn, out);
        Ok(PageOutcome::Data {
            len,
            flags: (pfn % 3) as u32,
        })
    }
}

/// Records every call; optionally fails at the n-th page. With `lent` it also offers
/// the serial path a page buffer, refilled with a marker byte before each page so
/// stale bytes would show.
#[derive(Default)]
struct RecordingSink {
    pages: Vec<(u64, PageOutcome, Vec<u8>)>,
    fail_after: Option<usize>,
    lent: Option<Vec<u8>>,
}

impl PageSink for RecordingSink {
    fn write_page(&mut self, pfn: u64, outcome: PageOutcome, data: &[u8]) -> Result<()> {
        if self.fail_after == Some(self.pages.len()) {
            return Err(Error::io(
                ErrorKind::Write,
                "injected write error",
                std::io::Error::from_raw_os_error(libc::ENOSPC),
            ));
        }
        self.pages.push((pfn, outcome, data.to_vec()));
        Ok(())
    }

    fn page_buffer(&mut self, len: usize) -> Option<&mut [u8]> {
        let lent = self.lent.as_mut()?;
        lent.clear();
        lent.resize(len, 0xa5);
        Some(lent)
    }

    fn commit_page(&mut self, pfn: u64, outcome: PageOutcome) -> Result<()> {
        let lent = self.lent.take().expect("commit after page_buffer");
        let len = match outcome {
            PageOutcome::Zero => 0,
            PageOutcome::Data { len, .. } => len,
        };
        let result = self.write_page(pfn, outcome, &lent[..len]);
        self.lent = Some(lent);
        result
    }
}

fn bitmap(len: u64, keep: impl Fn(u64) -> bool) -> Bitmap {
    let mut b = Bitmap::new(len);
    for pfn in (0..len).filter(|&p| keep(p)) {
        b.set(pfn);
    }
    b
}

fn config(threads: usize) -> PipelineConfig {
    PipelineConfig {
        threads,
        slot_size: 128,
    }
}

fn small_tuning() -> PipelineTuning {
    PipelineTuning {
        chunk_pfns: 5,
        ring_capacity: 4,
        slab_slots_per_thread: 2,
        wake_every: 3,
    }
}

fn run_with(
    bits: &Bitmap,
    range: Range<u64>,
    threads: usize,
    tuning: &PipelineTuning,
    worker: TestWorker,
    sink: &mut RecordingSink,
) -> Result<PipelineStats> {
    run_tuned(
        bits,
        range,
        &config(threads),
        tuning,
        |_| Ok(worker.clone()),
        sink,
    )
}

fn serial(bits: &Bitmap, range: Range<u64>) -> Vec<(u64, PageOutcome, Vec<u8>)> {
    let mut sink = RecordingSink::default();
    run_with(
        bits,
        range,
        0,
        &PipelineTuning::default(),
        TestWorker::default(),
        &mut sink,
    )
    .unwrap();
    sink.pages
}

#[test]
fn every_thread_count_matches_serial() {
    let bits = bitmap(3000, |p| p % 5 != 1 && !(1000..1300).contains(&p));
    let expected = serial(&bits, 3..2990);
    assert!(expected.len() > 2000);
    let mut lending = RecordingSink {
        lent: Some(Vec::new()),
        ..Default::default()
    };
    let tuning = PipelineTuning::default();
    run_with(
        &bits,
        3..2990,
        0,
        &tuning,
        TestWorker::default(),
        &mut lending,
    )
    .unwrap();
    assert!(lending.pages == expected, "in-place serial path differs");
    for threads in [1, 2, 3, 4, 8, 16] {
        for tuning in [PipelineTuning::default(), small_tuning()] {
            let mut sink = RecordingSink::default();
            let worker = TestWorker {
                jitter: threads % 2 == 0,
                ..Default::default()
            };
            let stats = run_with(&bits, 3..2990, threads, &tuning, worker, &mut sink).unwrap();
            assert!(
                sink.pages == expected,
                "threads {threads}, {tuning:?}: sequence differs from serial"
            );
            assert_eq!(stats.pages, expected.len() as u64);
            assert_eq!(
                stats.zero_pages,
                expected.iter().filter(|p| p.1 == PageOutcome::Zero).count() as u64
            );
        }
    }
}

#[test]
fn empty_and_tiny_ranges() {
    let bits = bitmap(100, |p| p % 2 == 0);
    for (range, threads) in [
        (0..0, 3),
        (50..50, 1),
        (0..1, 2),
        (1..2, 2),
        (99..200, 4),
        (0..100, 2),
    ] {
        let mut sink = RecordingSink::default();
        run_with(
            &bits,
            range.clone(),
            threads,
            &small_tuning(),
            TestWorker::default(),
            &mut sink,
        )
        .unwrap();
        assert!(
            sink.pages == serial(&bits, range.clone()),
            "{range:?} threads {threads}"
        );
    }
}

/// The serial path's result for an injected failure, to compare the threaded ones with.
fn serial_failure(bits: &Bitmap, worker: TestWorker, fail_after: Option<usize>) -> (usize, Error) {
    let mut sink = RecordingSink {
        fail_after,
        ..Default::default()
    };
    let err = run_with(
        bits,
        0..bits.len(),
        0,
        &PipelineTuning::default(),
        worker,
        &mut sink,
    )
    .unwrap_err();
    (sink.pages.len(), err)
}

#[test]
fn worker_error_ends_the_run_in_order() {
    let bits = bitmap(5000, |p| p % 3 != 0);
    let worker = TestWorker {
        fail_at: Some(3001),
        ..Default::default()
    };
    let (written, serial_err) = serial_failure(&bits, worker.clone(), None);
    for threads in [1, 2, 4, 8, 16] {
        for tuning in [PipelineTuning::default(), small_tuning()] {
            let mut sink = RecordingSink::default();
            let start = Instant::now();
            let err =
                run_with(&bits, 0..5000, threads, &tuning, worker.clone(), &mut sink).unwrap_err();
            assert!(start.elapsed() < Duration::from_secs(10));
            assert_eq!(err.kind(), ErrorKind::Read, "threads {threads}: {err}");
            assert_eq!(err.message(), serial_err.message());
            // Exactly the pages before the failing one, as in serial mode.
            assert_eq!(sink.pages.len(), written, "threads {threads}");
        }
    }
}

#[test]
fn worker_panic_becomes_an_error() {
    let bits = bitmap(2000, |_| true);
    let worker = TestWorker {
        panic_at: Some(1234),
        ..Default::default()
    };
    for threads in [1, 2, 5] {
        let mut sink = RecordingSink::default();
        let err = run_with(
            &bits,
            0..2000,
            threads,
            &small_tuning(),
            worker.clone(),
            &mut sink,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert!(
            err.message().contains("injected panic at pfn 1234"),
            "{err}"
        );
        assert_eq!(sink.pages.len(), 1234);
    }
}

#[test]
fn sink_error_stops_every_thread() {
    let bits = bitmap(20_000, |p| p % 11 != 0);
    for fail_after in [0, 1, 700, 15_000] {
        for threads in [1, 2, 4, 8] {
            let mut sink = RecordingSink {
                fail_after: Some(fail_after),
                ..Default::default()
            };
            let start = Instant::now();
            let err = run_with(
                &bits,
                0..20_000,
                threads,
                &PipelineTuning::default(),
                TestWorker::default(),
                &mut sink,
            )
            .unwrap_err();
            assert!(start.elapsed() < Duration::from_secs(10));
            assert_eq!(err.kind(), ErrorKind::NoSpace, "threads {threads}: {err}");
            assert_eq!(sink.pages.len(), fail_after);
        }
    }
}

#[test]
fn a_worker_that_cannot_start_fails_the_run() {
    let bits = bitmap(10_000, |_| true);
    let started = AtomicU64::new(0);
    for threads in [1, 3] {
        let mut sink = RecordingSink::default();
        let err = run_tuned(
            &bits,
            0..10_000,
            &config(threads),
            &PipelineTuning::default(),
            |id| {
                started.fetch_add(1, Ordering::Relaxed);
                if id == threads - 1 {
                    Err(Error::new(ErrorKind::Read, "cannot open /proc/vmcore"))
                } else {
                    Ok(TestWorker {
                        jitter: true,
                        ..Default::default()
                    })
                }
            },
            &mut sink,
        )
        .unwrap_err();
        assert_eq!(err.message(), "cannot open /proc/vmcore");
        // Whatever was written is a prefix of the serial sequence.
        assert!(serial(&bits, 0..10_000).starts_with(&sink.pages));
    }
    assert_eq!(started.load(Ordering::Relaxed), 4);
}

#[test]
fn oversized_outcome_is_an_error_not_a_panic() {
    struct Liar;
    impl PageWorker for Liar {
        fn process(&mut self, _: u64, out: &mut [u8]) -> Result<PageOutcome> {
            Ok(PageOutcome::Data {
                len: out.len() + 1,
                flags: 0,
            })
        }
    }
    let bits = bitmap(10, |_| true);
    for (threads, lent) in [(0, None), (0, Some(Vec::new())), (2, None)] {
        let mut sink = RecordingSink {
            lent,
            ..Default::default()
        };
        let err = run_tuned(
            &bits,
            0..10,
            &config(threads),
            &small_tuning(),
            |_| Ok(Liar),
            &mut sink,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    }
}

#[test]
fn too_many_threads_is_an_argument_error() {
    let bits = bitmap(10, |_| true);
    let err = run_tuned(
        &bits,
        0..10,
        &config(MAX_PRODUCERS + 1),
        &PipelineTuning::default(),
        |_| Ok(TestWorker::default()),
        &mut RecordingSink::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

/// Stress: many runs with random-ish tunings and jitter on a sparse and a dense bitmap.
#[test]
fn stress_random_tunings() {
    let sparse = bitmap(40_000, |p| (p * 2_654_435_761) % 13 < 3);
    let dense = bitmap(40_000, |p| p % 101 != 0);
    let mut rng = crate::xorshift::XorShift(0x1234_5678_9abc_def0);
    let mut next = move |m: u64| rng.next() % m;
    for bits in [&sparse, &dense] {
        let expected = serial(bits, 0..40_000);
        for _ in 0..12 {
            let tuning = PipelineTuning {
                chunk_pfns: 1 + next(300),
                ring_capacity: 2 + next(64) as usize,
                slab_slots_per_thread: 1 + next(40) as usize,
                wake_every: 1 + next(32) as u32,
            };
            let threads = 1 + next(9) as usize;
            let mut sink = RecordingSink::default();
            let worker = TestWorker {
                jitter: next(2) == 0,
                ..Default::default()
            };
            run_with(bits, 0..40_000, threads, &tuning, worker, &mut sink).unwrap();
            assert!(sink.pages == expected, "threads {threads}, {tuning:?}");
        }
    }
}

/// What a [`RecordingSink`] saw.
type Pages = Vec<(u64, PageOutcome, Vec<u8>)>;

/// The pages of `bits` within `range` fed as cycles of `cycle_pfns` (a multiple of the
/// chunk size), each cycle's bitmap a window of its own, as the dump writer feeds them.
fn run_in_cycles(
    bits: &Bitmap,
    range: Range<u64>,
    cycle_pfns: u64,
    threads: usize,
    tuning: &PipelineTuning,
) -> Result<(Pages, PipelineStats)> {
    let mut sink = RecordingSink::default();
    let stats = run_cycles(
        range.clone(),
        &config(threads),
        tuning,
        |_| Ok(TestWorker::default()),
        &mut sink,
        |feed| {
            let mut start = range.start;
            while start < range.end {
                let end = ((start / cycle_pfns + 1) * cycle_pfns).min(range.end);
                let mut window = Bitmap::window(start, end);
                for pfn in bits.iter_set(start, end) {
                    window.set(pfn);
                }
                feed.pages(window, start..end)?;
                start = end;
            }
            Ok(())
        },
    )?;
    Ok((sink.pages, stats))
}

#[test]
fn issue_14_one_pipeline_fed_cycle_after_cycle_gives_the_serial_sequence() {
    let bits = bitmap(1000, |p| p % 3 != 1 || p % 11 == 0);
    let tuning = small_tuning();
    for range in [0..1000, 13..997] {
        let expected = serial(&bits, range.clone());
        for threads in [0, 1, 2, 3] {
            // Cycles of 5 pfns (one chunk each) up to 500 pfns (several chunks each).
            for cycle_pfns in [5, 35, 500] {
                let (pages, stats) =
                    run_in_cycles(&bits, range.clone(), cycle_pfns, threads, &tuning).unwrap();
                assert_eq!(pages, expected, "threads {threads}, cycles of {cycle_pfns}");
                if threads > 0 {
                    // One set of threads for every cycle: each chunk consumed once.
                    let chunks =
                        range.end.div_ceil(tuning.chunk_pfns) - range.start / tuning.chunk_pfns;
                    assert_eq!(stats.chunks, chunks);
                    assert_eq!(stats.threads, threads);
                }
            }
        }
    }
}

#[test]
fn issue_14_cycles_fed_out_of_order_or_short_are_errors() {
    let bits = bitmap(100, |_| true);
    let tuning = small_tuning();
    for threads in [0, 2] {
        // A cycle that starts past the previous one's end.
        let gap = run_cycles(
            0..100,
            &config(threads),
            &tuning,
            |_| Ok(TestWorker::default()),
            &mut RecordingSink::default(),
            |feed| {
                feed.pages(bits.clone(), 0..50)?;
                feed.pages(bits.clone(), 55..100)
            },
        );
        assert_eq!(
            gap.unwrap_err().kind(),
            ErrorKind::Internal,
            "threads {threads}"
        );
        // Cycles that stop before the range's end.
        let short = run_cycles(
            0..100,
            &config(threads),
            &tuning,
            |_| Ok(TestWorker::default()),
            &mut RecordingSink::default(),
            |feed| feed.pages(bits.clone(), 0..50),
        );
        assert_eq!(
            short.unwrap_err().kind(),
            ErrorKind::Internal,
            "threads {threads}"
        );
    }
    // A cycle boundary inside a chunk (chunks of 5 pfns) with threads.
    let split_chunk = run_cycles(
        0..100,
        &config(2),
        &tuning,
        |_| Ok(TestWorker::default()),
        &mut RecordingSink::default(),
        |feed| {
            feed.pages(bits.clone(), 0..52)?;
            feed.pages(bits.clone(), 52..100)
        },
    );
    assert_eq!(split_chunk.unwrap_err().kind(), ErrorKind::Internal);
}
