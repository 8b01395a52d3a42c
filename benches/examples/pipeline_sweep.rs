//! Quick sweep of pipeline throughput over thread counts, codecs and tunings, for
//! choosing `PipelineTuning::default()` (criterion figures: benches/pipeline.rs).
//!
//! `cargo run --release -p makedumpfile-benches --example pipeline_sweep -- zlib,lz4 0,1,2,8 [chunk,ring,slab,wake]`
//! prints the median of 5 runs over 16 384 mixed pages (64 MiB) per configuration.

use std::time::Instant;

use engine::bitmap::Bitmap;
use engine::codec::Compression;
use engine::pipeline::{run_tuned, PipelineConfig, PipelineTuning};
use makedumpfile_benches::{memory_image, BufferSink, MemoryWorker, PageMix, PAGE_SIZE};

/// CPU seconds (user + system) of this process so far, all threads included.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let codecs: Vec<Compression> = args
        .first()
        .map_or("zlib", String::as_str)
        .split(',')
        .filter_map(|n| Compression::ALL.into_iter().find(|c| c.name() == n))
        .collect();
    let threads: Vec<usize> = args
        .get(1)
        .map_or("0,1,2,4,8", String::as_str)
        .split(',')
        .filter_map(|t| t.parse().ok())
        .collect();
    let mut tuning = PipelineTuning::default();
    if let Some(t) = args.get(2) {
        let v: Vec<u64> = t.split(',').filter_map(|x| x.parse().ok()).collect();
        if v.len() != 4 {
            return Err(
                "tuning is chunk_pfns,ring_capacity,slab_slots_per_thread,wake_every".into(),
            );
        }
        tuning = PipelineTuning {
            chunk_pfns: v[0],
            ring_capacity: v[1] as usize,
            slab_slots_per_thread: v[2] as usize,
            wake_every: v[3] as u32,
        };
    }
    println!("{tuning:?}");
    let image = memory_image(PageMix::Mixed, 4096);
    let pfns = 16_384u64;
    let mut bits = Bitmap::new(pfns);
    bits.fill_range(0, pfns, true);
    for &compression in &codecs {
        for &n in &threads {
            let mut times = Vec::new();
            let mut parks = (0, 0);
            let cpu_start = cpu_seconds();
            for _ in 0..5 {
                let mut sink = BufferSink::default();
                let start = Instant::now();
                let stats = run_tuned(
                    &bits,
                    0..pfns,
                    &PipelineConfig {
                        threads: n,
                        slot_size: PAGE_SIZE,
                    },
                    &tuning,
                    |_| MemoryWorker::new(&image, compression, true),
                    &mut sink,
                )?;
                times.push(start.elapsed().as_secs_f64());
                parks = (stats.producer_parks, stats.consumer_parks);
            }
            let cpu = (cpu_seconds() - cpu_start) / 5.0;
            times.sort_by(f64::total_cmp);
            let median = times[2];
            let mib = pfns as f64 * PAGE_SIZE as f64 / (1 << 20) as f64;
            println!(
                "{:<6} threads {n:>2}: {:>7.1} MiB/s wall (min {:.3} s, median {:.3} s), {:>7.1} MiB per CPU-s; parks p {} c {}",
                compression.name(),
                mib / median,
                times[0],
                median,
                mib / cpu.max(1e-9),
                parks.0,
                parks.1
            );
        }
    }
    Ok(())
}
