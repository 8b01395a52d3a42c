//! Measures what one producer thread costs in resident memory, for budget.rs.
//!
//! `cargo run --release -p makedumpfile-benches --example thread_memory -- zlib 8`
//! runs the pipeline with 8 producers over a 16 MiB in-memory image (65 536 pages) and
//! prints the peak RSS (VmHWM) before and after. Run it for 0 and N threads in fresh
//! processes; (HWM(N) − HWM(0)) / N is the per-thread cost: ring, slab share, codec
//! context, page buffer, thread stack, allocator arenas.

use engine::bitmap::Bitmap;
use engine::codec::Compression;
use engine::pipeline::{run_tuned, PipelineConfig, PipelineTuning};
use makedumpfile_benches::{memory_image, BufferSink, MemoryWorker, PageMix, PAGE_SIZE};

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "zlib".into());
    let threads: usize = args.next().map(|t| t.parse()).transpose()?.unwrap_or(1);
    let compression = Compression::ALL
        .into_iter()
        .find(|c| c.name() == name)
        .ok_or("unknown codec")?;
    let image = memory_image(PageMix::Mixed, 4096);
    let pfns = 65_536u64;
    let mut bits = Bitmap::new(pfns);
    bits.fill_range(0, pfns, true);
    let before = vm_hwm_kib();
    let mut sink = BufferSink::default();
    let config = PipelineConfig {
        threads,
        slot_size: PAGE_SIZE,
    };
    let stats = run_tuned(
        &bits,
        0..pfns,
        &config,
        &PipelineTuning::default(),
        |_| MemoryWorker::new(&image, compression, true),
        &mut sink,
    )?;
    let after = vm_hwm_kib();
    println!(
        "codec {name} threads {threads}: VmHWM before {before} KiB, after {after} KiB, delta {} KiB ({} pages)",
        after.saturating_sub(before),
        stats.pages
    );
    Ok(())
}
