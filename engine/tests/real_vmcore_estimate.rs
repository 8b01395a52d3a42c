//! The size estimate of `--mem-usage` against real dumps of the same memory: on each
//! real vmcore of the cache, the estimate for `-c`, `-l`, `-p` and `-z` at `-d 1` and
//! `-d 31`, and the file the dump job writes from that vmcore with those options. The
//! live check (estimate in the first kernel, dumps by the capture kernel after a panic)
//! is tests/size-estimate.sh; this one isolates the estimator from the memory changing
//! between the two, so its bound is tighter: every cell within 5 %, and the 95 %
//! intervals cover the true size in all but at most one cell per vmcore.
//!
//! Ignored by default (it needs the ~800 MiB and ~1.9 GiB vmcores); run with
//! `cargo test --release -p makedumpfile-engine --features testing --test
//! real_vmcore_estimate -- --ignored --nocapture`. It fails loudly when the cloud-1g
//! vmcore is missing (scripts/make-vmcore.sh makes it); generic-2g is used when present.

use std::path::Path;
use std::time::Instant;

use engine::input::elf::ElfVmcore;
use engine::job::{Destination, DumpJob};
use engine::mem_usage::measure_vmcore;
use engine::progress::NoProgress;

mod common;
use common::cache_dir;

const LEVELS: [u8; 2] = [1, 31];
/// Same memory, so only the sampling error is left.
const TOLERANCE: f64 = 0.05;

#[test]
#[ignore]
fn estimate_matches_real_dumps_of_the_same_vmcore() {
    let cloud = cache_dir().join("vmcores/cloud-1g/vmcore");
    assert!(
        cloud.is_file(),
        "real vmcore missing at {}: run scripts/make-vmcore.sh",
        cloud.display()
    );
    let generic = cache_dir().join("vmcores/generic-2g/vmcore");
    for path in [cloud, generic].iter().filter(|p| p.is_file()) {
        check_vmcore(path);
    }
}

fn check_vmcore(path: &Path) {
    let memory = ElfVmcore::open(path, true).unwrap();
    let start = Instant::now();
    let (_, estimates) = measure_vmcore(&memory, &LEVELS).unwrap();
    println!("{}: estimated in {:.2?}", path.display(), start.elapsed());
    let out = std::env::temp_dir().join(format!("estimate-dump-{}", std::process::id()));
    let (mut outside, mut misses) = (Vec::new(), 0);
    for e in &estimates {
        let report = DumpJob::new(
            path.to_str().unwrap(),
            Destination::File(out.display().to_string()),
        )
        .compression(e.compression)
        .dump_levels(&[e.level])
        .force(true)
        .run(&NoProgress)
        .unwrap();
        let real = std::fs::metadata(&out).unwrap().len();
        assert_eq!(report.summary.num_dumpable, e.dumpable, "{e:?}");
        let error = e.bytes as f64 / real as f64 - 1.0;
        let covered = (e.low..=e.high).contains(&real);
        println!(
            "-d {:<2} {:<7} real {real:>11} estimate {:>11} ({:+.2} %) interval {}..{} {}",
            e.level,
            e.compression.name(),
            e.bytes,
            100.0 * error,
            e.low,
            e.high,
            if covered { "covers" } else { "MISSES" }
        );
        misses += usize::from(!covered);
        if error.abs() > TOLERANCE {
            outside.push(format!("{e:?}: real {real}"));
        }
    }
    let _ = std::fs::remove_file(&out);
    assert!(outside.is_empty(), "outside ±5 %: {outside:#?}");
    assert!(misses <= 1, "{misses} intervals miss the real size");
}
