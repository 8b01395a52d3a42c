//! Per-page compression with makedumpfile's raw-fallback rule, per codec and page mix.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine::codec::{store_page, Compression};
use makedumpfile_benches::{memory_image, PageMix, PAGE_SIZE};

const PAGES: usize = 256;

/// The `codec_page` group: throughput in page bytes, short runs (256 pages per iteration).
fn page_group(
    c: &mut Criterion,
) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group("codec_page");
    group
        .throughput(Throughput::Bytes((PAGES * PAGE_SIZE) as u64))
        .sample_size(20)
        .measurement_time(Duration::from_secs(2));
    group
}

fn codecs(c: &mut Criterion) {
    let mut group = page_group(c);
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

/// A baseline outside our codecs, on the same pages and raw-fallback rule:
/// `stored_len(page)` is what the baseline would store for the page.
fn baseline(c: &mut Criterion, name: &str, mut stored_len: impl FnMut(&[u8]) -> usize) {
    let mut group = page_group(c);
    for mix in PageMix::ALL {
        let image = memory_image(mix, PAGES);
        group.bench_function(BenchmarkId::new(name, mix.name()), |b| {
            b.iter(|| {
                image
                    .chunks_exact(PAGE_SIZE)
                    .map(&mut stored_len)
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

/// The `lzo1x` crate's own LZO1X-1 (what `-l` used before our compressor), so the `lzo`
/// figures above have their baseline next to them.
fn lzo_crate(c: &mut Criterion) {
    baseline(c, "lzo-crate", |page| {
        lzo1x::compress(page, lzo1x::CompressLevel::new(3))
            .len()
            .min(PAGE_SIZE)
    });
}

/// The system zlib through flate2, as `-c` compressed pages before our own level-1
/// encoder (`zlib` above writes the same bytes): a reused stream, deflateReset per page.
fn zlib_system(c: &mut Criterion) {
    let mut stream = flate2::Compress::new(flate2::Compression::new(1), true);
    let mut scratch = vec![0u8; PAGE_SIZE - 1];
    baseline(c, "zlib-system", |page| {
        stream.reset();
        match stream.compress(page, &mut scratch, flate2::FlushCompress::Finish) {
            Ok(flate2::Status::StreamEnd) => stream.total_out() as usize,
            _ => PAGE_SIZE,
        }
    });
}

criterion_group!(benches, codecs, lzo_crate, zlib_system);
criterion_main!(benches);
