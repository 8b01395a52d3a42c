//! Whole-pipeline throughput on an in-memory page source: serial (0) and 1/2/4/8
//! producer threads × every codec, over 8 192 mixed pages (32 MiB: 25 % zero, 50 %
//! text-like, 25 % random), zero pages excluded as with `-d 1`. Each iteration is one
//! `run_tuned` call, so thread start-up and join are inside the timing.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine::bitmap::Bitmap;
use engine::codec::Compression;
use engine::pipeline::{run_tuned, PipelineConfig, PipelineTuning};
use makedumpfile_benches::{memory_image, BufferSink, MemoryWorker, PageMix, PAGE_SIZE};

const PAGES: u64 = 8192;

fn pipeline(c: &mut Criterion) {
    let image = memory_image(PageMix::Mixed, PAGES as usize);
    let mut bits = Bitmap::new(PAGES);
    bits.fill_range(0, PAGES, true);
    let tuning = PipelineTuning::default();
    let mut group = c.benchmark_group("pipeline");
    group
        .throughput(Throughput::Bytes(PAGES * PAGE_SIZE as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for compression in Compression::ALL {
        for threads in [0usize, 1, 2, 4, 8] {
            group.bench_with_input(
                BenchmarkId::new(compression.name(), threads),
                &threads,
                |b, &threads| {
                    let config = PipelineConfig {
                        threads,
                        slot_size: PAGE_SIZE,
                    };
                    b.iter(|| {
                        let mut sink = BufferSink::default();
                        run_tuned(
                            &bits,
                            0..PAGES,
                            &config,
                            &tuning,
                            |_| MemoryWorker::new(&image, compression, true),
                            &mut sink,
                        )
                        .expect("pipeline run");
                        sink.checksum
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
