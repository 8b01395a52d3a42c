//! Per-page compression with makedumpfile's raw-fallback rule, per codec and page mix.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine::codec::{store_page, Compression};
use makedumpfile_benches::{memory_image, PageMix, PAGE_SIZE};

const PAGES: usize = 256;

fn codecs(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec_page");
    group
        .throughput(Throughput::Bytes((PAGES * PAGE_SIZE) as u64))
        .sample_size(20)
        .measurement_time(Duration::from_secs(2));
    for mix in PageMix::ALL {
        let image = memory_image(mix, PAGES);
        for compression in Compression::ALL {
            let mut codec = compression.new_codec().expect("codec");
            let mut scratch = vec![0u8; PAGE_SIZE];
            group.bench_function(BenchmarkId::new(compression.name(), mix.name()), |b| {
                b.iter(|| {
                    let mut stored = 0usize;
                    for page in image.chunks_exact(PAGE_SIZE) {
                        stored += match store_page(codec.as_deref_mut(), page, &mut scratch) {
                            engine::codec::StoredPage::Compressed { len, .. } => len,
                            engine::codec::StoredPage::Raw => PAGE_SIZE,
                        };
                    }
                    stored
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, codecs);
criterion_main!(benches);
