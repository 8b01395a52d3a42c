//! page_data slab: one claim + one release, alone and with threads claiming and
//! releasing concurrently (timed from the first thread's start to the last one's end).
//!
//! Baseline `queue`: the design's other candidate for the slab's free list, a
//! crossbeam-queue `ArrayQueue` of free slot indices (pop = claim, push = release), run
//! the same way. The README records the comparison; it is why the engine keeps the
//! atomic bitmap and does not depend on crossbeam-queue.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_queue::ArrayQueue;
use engine::pipeline::PageDataSlab;

const ROUNDS: u64 = 100_000;

/// Bench `name` at 1, 2 and 4 threads: `setup(threads)` builds the shared free list, and
/// each thread `t` runs `round(&list, t, threads)` ROUNDS times.
fn contended<L: Sync>(
    c: &mut Criterion,
    name: &str,
    setup: impl Fn(usize) -> L,
    round: impl Fn(&L, usize, usize) + Sync,
) {
    let mut group = c.benchmark_group("slab_claim_release");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    for threads in [1usize, 2, 4] {
        group.throughput(Throughput::Elements(ROUNDS * threads as u64));
        group.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, &threads| {
            let list = setup(threads);
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    std::thread::scope(|s| {
                        for t in 0..threads {
                            let (list, round) = (&list, &round);
                            s.spawn(move || {
                                for _ in 0..ROUNDS {
                                    round(list, t, threads);
                                }
                            });
                        }
                    });
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

fn slab(c: &mut Criterion) {
    contended(
        c,
        "threads",
        |threads| PageDataSlab::new(128 * threads, 4096).expect("slab"),
        |slab, t, threads| {
            if let Some(slot) = slab.try_claim(t * slab.words() / threads) {
                slab.release(slot).expect("release");
            }
        },
    );
}

fn queue(c: &mut Criterion) {
    contended(
        c,
        "queue-threads",
        |threads| {
            let slots = 128 * threads;
            let free = ArrayQueue::new(slots);
            for slot in 0..slots as u32 {
                free.push(slot).expect("room for every slot");
            }
            free
        },
        |free, _, _| {
            if let Some(slot) = free.pop() {
                free.push(std::hint::black_box(slot))
                    .expect("a released slot fits");
            }
        },
    );
}

criterion_group!(benches, slab, queue);
criterion_main!(benches);
