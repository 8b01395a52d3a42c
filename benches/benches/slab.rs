//! page_data slab: one claim + one release, alone and with threads claiming and
//! releasing concurrently (timed from the first thread's start to the last one's end).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine::pipeline::PageDataSlab;

const ROUNDS: u64 = 100_000;

fn slab(c: &mut Criterion) {
    let mut group = c.benchmark_group("slab_claim_release");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    for threads in [1usize, 2, 4] {
        group.throughput(Throughput::Elements(ROUNDS * threads as u64));
        group.bench_with_input(
            BenchmarkId::new("threads", threads),
            &threads,
            |b, &threads| {
                let slab = PageDataSlab::new(128 * threads, 4096).expect("slab");
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        std::thread::scope(|s| {
                            for t in 0..threads {
                                let slab = &slab;
                                s.spawn(move || {
                                    for _ in 0..ROUNDS {
                                        if let Some(slot) =
                                            slab.try_claim(t * slab.words() / threads)
                                        {
                                            slab.release(slot).expect("release");
                                        }
                                    }
                                });
                            }
                        });
                    }
                    start.elapsed()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, slab);
criterion_main!(benches);
