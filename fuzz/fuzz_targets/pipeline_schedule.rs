//! The page pipeline under a fuzzed schedule: thread count, slot size, range, bitmap,
//! per-page delays (spins, yields, sleeps) and one injected failure (worker creation, a
//! page, or the sink). The consumer must see exactly the serial run's calls in pfn order
//! (a prefix of them when a failure stops the run), every page must be processed at most
//! once (exactly once on success), and the run must end.
#![no_main]

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use engine::bitmap::Bitmap;
use engine::error::{Error, Result};
use engine::pipeline::{self, PageOutcome, PageSink, PageWorker, PipelineConfig};
use libfuzzer_sys::fuzz_target;
use makedumpfile_fuzz::Cursor;

const MAX_PFNS: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    None,
    MakeWorker(usize),
    Page(u64),
    Sink(u64),
}

struct Schedule<'a> {
    delays: &'a [u8],
    failure: Failure,
    slot_size: usize,
    processed: Vec<AtomicU8>,
    /// Set when the injected failure actually happened (a worker, a page or the sink).
    fired: AtomicBool,
}

struct Worker<'a> {
    schedule: &'a Schedule<'a>,
}

impl PageWorker for Worker<'_> {
    fn process(&mut self, pfn: u64, out: &mut [u8]) -> Result<PageOutcome> {
        let s = self.schedule;
        assert_eq!(out.len(), s.slot_size, "slot of the wrong size");
        let seen = s.processed[pfn as usize].fetch_add(1, Ordering::Relaxed);
        assert_eq!(seen, 0, "pfn {pfn} processed twice");
        if !s.delays.is_empty() {
            match s.delays[pfn as usize % s.delays.len()] {
                d @ 0..=199 => {
                    let until = Instant::now() + Duration::from_nanos(d as u64 * 50);
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
                }
                200..=249 => std::thread::yield_now(),
                d => std::thread::sleep(Duration::from_micros((d - 249) as u64 * 20)),
            }
        }
        if s.failure == Failure::Page(pfn) {
            s.fired.store(true, Ordering::Relaxed);
            return Err(Error::invalid(format!("injected failure at pfn {pfn}")));
        }
        if pfn % 7 == 3 {
            return Ok(PageOutcome::Zero);
        }
        let len = 1 + (pfn as usize * 31) % out.len();
        for (i, b) in out[..len].iter_mut().enumerate() {
            *b = (pfn as usize ^ i) as u8;
        }
        Ok(PageOutcome::Data {
            len,
            flags: pfn as u32 & 3,
        })
    }
}

struct Sink<'a> {
    schedule: &'a Schedule<'a>,
    calls: Vec<(u64, PageOutcome, Vec<u8>)>,
}

impl PageSink for Sink<'_> {
    fn write_page(&mut self, pfn: u64, outcome: PageOutcome, data: &[u8]) -> Result<()> {
        if self.schedule.failure == Failure::Sink(pfn) {
            self.schedule.fired.store(true, Ordering::Relaxed);
            return Err(Error::invalid(format!(
                "injected sink failure at pfn {pfn}"
            )));
        }
        self.calls.push((pfn, outcome, data.to_vec()));
        Ok(())
    }
}

struct Outcome {
    result: Result<()>,
    calls: Vec<(u64, PageOutcome, Vec<u8>)>,
    counts: Vec<u8>,
    fired: bool,
}

fn run(
    bitmap: &Bitmap,
    range: std::ops::Range<u64>,
    config: &PipelineConfig,
    delays: &[u8],
    failure: Failure,
) -> Outcome {
    let schedule = Schedule {
        delays,
        failure,
        slot_size: config.slot_size,
        processed: (0..MAX_PFNS).map(|_| AtomicU8::new(0)).collect(),
        fired: AtomicBool::new(false),
    };
    let mut sink = Sink {
        schedule: &schedule,
        calls: Vec::new(),
    };
    let result = pipeline::run(
        bitmap,
        range,
        config,
        |index| {
            if failure == Failure::MakeWorker(index) {
                schedule.fired.store(true, Ordering::Relaxed);
                return Err(Error::invalid(format!(
                    "injected failure creating worker {index}"
                )));
            }
            Ok(Worker {
                schedule: &schedule,
            })
        },
        &mut sink,
    );
    let calls = sink.calls;
    Outcome {
        result,
        calls,
        counts: schedule
            .processed
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect(),
        fired: schedule.fired.load(Ordering::Relaxed),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let threads = input.u8() as usize % 9;
    let slot_size = 1 + input.u16() as usize % 8192;
    let start = input.u16() as u64 % MAX_PFNS;
    let end = (start + input.u16() as u64 % MAX_PFNS).min(MAX_PFNS);
    let failure = match input.u8() % 4 {
        0 => Failure::None,
        1 => Failure::MakeWorker(input.u8() as usize % 9),
        2 => Failure::Page(input.u16() as u64 % MAX_PFNS),
        _ => Failure::Sink(input.u16() as u64 % MAX_PFNS),
    };
    let bits = input.bytes(MAX_PFNS as usize / 8);
    let bitmap = Bitmap::from_bytes(bits, MAX_PFNS);
    let delays = input.bytes(64);
    let config = PipelineConfig { threads, slot_size };
    let serial_config = PipelineConfig {
        threads: 0,
        slot_size,
    };

    let serial = run(&bitmap, start..end, &serial_config, &[], Failure::None);
    serial.result.expect("serial run without failure");
    let expected = serial.calls;
    let wanted: Vec<u64> = bitmap.iter_set(start, end).collect();
    assert_eq!(expected.iter().map(|c| c.0).collect::<Vec<_>>(), wanted);

    let Outcome {
        result,
        calls,
        counts,
        fired,
    } = run(&bitmap, start..end, &config, delays, failure);
    assert!(calls.len() <= expected.len());
    assert!(
        calls == expected[..calls.len()],
        "threads {threads}: calls differ from the serial run"
    );
    for pfn in 0..MAX_PFNS {
        let dumpable = (start..end).contains(&pfn) && bitmap.get(pfn);
        let count = counts[pfn as usize];
        assert!(count <= dumpable as u8, "pfn {pfn} processed {count} times");
        if result.is_ok() {
            assert_eq!(count, dumpable as u8, "pfn {pfn} not processed");
        }
    }
    match result {
        Ok(()) => {
            assert!(
                !fired,
                "threads {threads}: {failure:?} happened but was not reported"
            );
            assert_eq!(calls.len(), expected.len());
        }
        Err(e) => {
            assert!(fired, "threads {threads}: unexpected error {e}");
            assert!(e.to_string().contains("injected"), "threads {threads}: {e}");
        }
    }
});
