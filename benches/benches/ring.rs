//! page_flag ring hand-off between two threads: entries per second through one
//! `PageFlagRing`, timed from before the producer thread starts to after it is joined
//! (earliest start to latest stop), for several capacities.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine::pipeline::bench_support::ring_handoff;

const ENTRIES: u64 = 200_000;

fn ring(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring_handoff");
    group
        .throughput(Throughput::Elements(ENTRIES))
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    for capacity in [16usize, 256, 4096] {
        group.bench_with_input(
            BenchmarkId::from_parameter(capacity),
            &capacity,
            |b, &capacity| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        criterion::black_box(ring_handoff(capacity, ENTRIES));
                    }
                    start.elapsed()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, ring);
criterion_main!(benches);
