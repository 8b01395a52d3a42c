//! Property: for any dumpable bitmap, range, engine tuning, thread count 0..16 and
//! producer delays, the sink sees exactly the serial sequence of pages, and an injected
//! page error ends the run with that error after exactly the serial prefix.

use std::time::Duration;

use engine::bitmap::Bitmap;
use engine::error::{Error, ErrorKind, Result};
use engine::pipeline::{
    run_tuned, PageOutcome, PageSink, PageWorker, PipelineConfig, PipelineTuning,
};
use proptest::prelude::*;

const SLOT: usize = 64;

/// Deterministic output per pfn; delays chosen per pfn from `delays` to reorder the
/// producers; an optional failing pfn.
#[derive(Clone)]
struct Worker {
    delays: Vec<u8>,
    fail_at: Option<u64>,
}

impl PageWorker for Worker {
    fn process(&mut self, pfn: u64, out: &mut [u8]) -> Result<PageOutcome> {
        if let Some(&d) = self.delays.get(pfn as usize % self.delays.len().max(1)) {
            match d % 16 {
                0 => std::thread::sleep(Duration::from_micros(u64::from(d))),
                1..=3 => std::thread::yield_now(),
                _ => {}
            }
        }
        if self.fail_at == Some(pfn) {
            return Err(Error::new(
                ErrorKind::Read,
                format!("read failed at pfn {pfn}"),
            ));
        }
        if pfn % 5 == 0 {
            return Ok(PageOutcome::Zero);
        }
        let len = 1 + (pfn as usize * 7) % SLOT;
        for (i, b) in out[..len].iter_mut().enumerate() {
            *b = (pfn as u8) ^ (i as u8);
        }
        Ok(PageOutcome::Data {
            len,
            flags: (pfn % 3) as u32,
        })
    }
}

#[derive(Default)]
struct Recorder(Vec<(u64, PageOutcome, Vec<u8>)>);

impl PageSink for Recorder {
    fn write_page(&mut self, pfn: u64, outcome: PageOutcome, data: &[u8]) -> Result<()> {
        self.0.push((pfn, outcome, data.to_vec()));
        Ok(())
    }
}

fn run(
    bits: &Bitmap,
    range: std::ops::Range<u64>,
    threads: usize,
    tuning: &PipelineTuning,
    worker: &Worker,
) -> (Recorder, Result<()>) {
    let mut sink = Recorder::default();
    let config = PipelineConfig {
        threads,
        slot_size: SLOT,
    };
    let result = run_tuned(
        bits,
        range,
        &config,
        tuning,
        |_| Ok(worker.clone()),
        &mut sink,
    )
    .map(|_| ());
    (sink, result)
}

fn tuning() -> impl Strategy<Value = PipelineTuning> {
    (1u64..300, 2usize..64, 1usize..32, 1u32..80).prop_map(
        |(chunk_pfns, ring_capacity, slab_slots_per_thread, wake_every)| PipelineTuning {
            chunk_pfns,
            ring_capacity,
            slab_slots_per_thread,
            wake_every,
        },
    )
}

fn bitmap() -> impl Strategy<Value = Bitmap> {
    // Runs of set and clear bits, like a filtered memory map.
    (prop::collection::vec((0u64..200, any::<bool>()), 0..40)).prop_map(|runs| {
        let len: u64 = runs.iter().map(|r| r.0).sum::<u64>() + 1;
        let mut bits = Bitmap::new(len);
        let mut at = 0;
        for (n, set) in runs {
            bits.fill_range(at, at + n, set);
            at += n;
        }
        bits
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_schedule_gives_the_serial_sequence(
        bits in bitmap(),
        start_frac in 0.0f64..0.5,
        threads in 0usize..16,
        tuning in tuning(),
        delays in prop::collection::vec(any::<u8>(), 0..32),
    ) {
        let start = (bits.len() as f64 * start_frac) as u64;
        let range = start..bits.len();
        let worker = Worker { delays, fail_at: None };
        let (serial, r0) = run(&bits, range.clone(), 0, &PipelineTuning::default(), &Worker { delays: vec![], fail_at: None });
        prop_assert!(r0.is_ok());
        let (threaded, r) = run(&bits, range, threads, &tuning, &worker);
        prop_assert!(r.is_ok(), "{:?}", r);
        prop_assert!(threaded.0 == serial.0, "threads {} {:?}: sequences differ", threads, tuning);
    }

    #[test]
    fn a_page_error_ends_the_run_after_the_serial_prefix(
        bits in bitmap(),
        fail_frac in 0.0f64..1.0,
        threads in 1usize..16,
        tuning in tuning(),
        delays in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let set: Vec<u64> = bits.iter_set(0, bits.len()).collect();
        prop_assume!(!set.is_empty());
        let fail_at = set[((set.len() - 1) as f64 * fail_frac) as usize];
        let worker = Worker { delays, fail_at: Some(fail_at) };
        let (threaded, r) = run(&bits, 0..bits.len(), threads, &tuning, &worker);
        let err = r.expect_err("the failing page must fail the run");
        prop_assert_eq!(err.kind(), ErrorKind::Read);
        prop_assert_eq!(err.message(), format!("read failed at pfn {fail_at}"));
        let expected: Vec<u64> = set.iter().copied().take_while(|&p| p < fail_at).collect();
        prop_assert_eq!(threaded.0.iter().map(|p| p.0).collect::<Vec<_>>(), expected);
    }
}
