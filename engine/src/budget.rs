//! Memory budget: how many producer threads and how large a cyclic bitmap buffer fit in
//! the capture kernel's free memory (makedumpfile `calculate_cyclic_buffer_size`,
//! makedumpfile-reference.md §3.4).
//!
//! makedumpfile takes 60 % of `MemFree` as its limit. With threads it first keeps 4 MiB
//! for the bitmaps; if the rest does not give every thread a `THREAD_REGION` (200 KiB)
//! it prints "There isn't enough memory for %d threads.", lowers the count to what fits
//! and prints "--num_threads is set to %d."; at or below 4 MiB it prints "There isn't
//! enough memory for multi-threads." and runs serially. The cyclic buffer (one bitmap's
//! share; the 1st and 2nd bitmaps each get one) is then min(limit, 4 MiB,
//! 2 × max_mapnr / 8 [/ split files]).
//!
//! Differences, each deliberate:
//! - The per-thread reserve is what a producer of this engine costs, measured (see
//!   [`thread_region`]), not makedumpfile's 200 KiB.
//! - With `--cyclic-buffer` makedumpfile skips the thread check; here the threads are
//!   still checked against what the given buffer leaves (memory is memory), and the
//!   buffer is truncated to free memory with makedumpfile's message.

use std::fmt;

use crate::codec::Compression;
use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::PipelineTuning;

/// makedumpfile's cap on the cyclic buffer and its reserve for the bitmaps before threads
/// ("4MB will be enough for performance according to benchmarks").
pub const MAX_CYCLIC_BUFFER: u64 = 4 << 20;

/// Our cap when the dump's 2nd bitmap can be read back from its file (one regular file:
/// dump::write_kdump_cycles). makedumpfile filters every cycle again in its writing
/// pass, so for it fewer, bigger cycles are cheaper, and its 4 MiB cap makes memory grow
/// with the machine up to 128 GiB. Reading the bitmap back, a cycle costs no second scan,
/// so cycles stay at 16 GiB of 4 KiB pages and memory stays flat (issue 16). Measured on
/// the generated 256 GiB machine, `-l -d 31 --num-threads 2`: peak RSS 16.8 MiB with 4
/// MiB cycles, 6.0 MiB with these (4.9 MiB at 16 GiB), and no slower (3.8 s and 3.6 s).
pub const READ_BACK_CYCLIC_BUFFER: u64 = 512 << 10;

/// makedumpfile's `THREAD_REGION`, for comparison in the report.
pub const MAKEDUMPFILE_THREAD_REGION: u64 = 200 << 10;

/// Resident memory of one producer beyond its ring and slab, by codec: the codec context
/// plus the page read buffer, thread stack and allocator arena it touches.
///
/// Measured with `benches/examples/thread_memory.rs`: peak RSS (VmHWM) of the whole
/// pipeline over 65 536 mixed 4 KiB pages with 0 and with 8 producers, a fresh process
/// each, default tuning, x86_64 glibc. (HWM(8) − HWM(0)) / 8 came to 571 KiB (none),
/// 592 (lz4), 591 (lzo), 586 (snappy), 620 (zstd), 662 (zlib); minus the 528 KiB of ring
/// (16 KiB) and slab share (512 KiB) that leaves 43, 64, 63, 58, 92 and 134 KiB. The
/// figures below round that up with at least 20 KiB of headroom. zstd sizes its tables
/// to the 4 KiB input. zlib was re-measured (three runs) when `-c` moved to our own
/// level-1 encoder, whose hash heads (64 KiB, cleared per page) are most of it: 658–684
/// KiB, so 130–156 KiB of overhead. makedumpfile reserves 200 KiB per thread and was
/// measured at about 1 MiB of RSS per thread (§3.4).
pub fn worker_overhead(compression: Compression) -> u64 {
    match compression {
        Compression::None => 64 << 10,
        Compression::Lz4 => 96 << 10,
        Compression::Lzo => 96 << 10,
        Compression::Snappy => 96 << 10,
        Compression::Zstd => 128 << 10,
        Compression::Zlib => 176 << 10,
    }
}

/// Bytes one producer thread needs: its ring and slab share (exact, from the tuning) plus
/// the measured worker overhead.
pub fn thread_region(compression: Compression, page_size: u64, tuning: &PipelineTuning) -> u64 {
    tuning.bytes_per_thread(page_size as usize) + worker_overhead(compression)
}

/// `MemFree` from the text of /proc/meminfo, in bytes (makedumpfile reads only this
/// field, in kB).
pub fn parse_mem_free(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix("MemFree:")?;
        let mut fields = rest.split_whitespace();
        let value: u64 = fields.next()?.parse().ok()?;
        (fields.next()? == "kB").then(|| value.saturating_mul(1024))
    })
}

/// `MemFree` of this machine.
pub fn read_mem_free() -> Result<u64> {
    let text = std::fs::read_to_string("/proc/meminfo")
        .map_err(|e| Error::io(ErrorKind::Read, "Can't open the /proc/meminfo", e))?;
    parse_mem_free(&text).ok_or_else(|| Error::new(ErrorKind::Read, "Can't get free memory size."))
}

/// What the budget is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetRequest {
    /// `MemFree` in bytes (from [`read_mem_free`], or a figure in tests).
    pub free_memory: u64,
    /// Number of pfns of the dumped machine.
    pub max_mapnr: u64,
    /// `--num-threads`.
    pub threads: usize,
    /// `--cyclic-buffer` in KiB, if given.
    pub cyclic_buffer_kib: Option<u64>,
    /// Output files (`--split`); 1 otherwise.
    pub dump_files: u64,
    /// Bytes reserved per producer thread ([`thread_region`]).
    pub thread_region: u64,
    /// The dump is one regular file whose 2nd bitmap the writing pass reads back: the
    /// default buffer is then capped at [`READ_BACK_CYCLIC_BUFFER`].
    pub reads_back: bool,
}

/// The decision, with makedumpfile's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetPlan {
    /// `MemFree` the plan started from.
    pub free_memory: u64,
    /// 60 % of it.
    pub limit: u64,
    /// Threads asked for.
    pub requested_threads: usize,
    /// Threads granted.
    pub threads: usize,
    /// Bytes reserved per thread.
    pub thread_region: u64,
    /// Bytes of one cyclic bitmap buffer (makedumpfile `bufsize_cyclic`).
    pub cyclic_buffer: u64,
    /// Pfns covered per cycle (`bufsize_cyclic × 8`).
    pub pfns_per_cycle: u64,
    /// Cycles needed for `max_mapnr`.
    pub cycles: u64,
    /// Messages to print at the default message level, in order.
    pub messages: Vec<String>,
}

impl BudgetPlan {
    /// Peak memory the plan accounts for: both bitmaps plus every thread's region.
    pub fn reserved(&self) -> u64 {
        2 * self.cyclic_buffer + self.threads as u64 * self.thread_region
    }
}

/// Compute the plan.
pub fn plan(request: &BudgetRequest) -> Result<BudgetPlan> {
    if request.max_mapnr == 0 {
        return Err(Error::invalid(format!(
            "Invalid max_mapnr({}).",
            request.max_mapnr
        )));
    }
    let dump_files = request.dump_files.max(1);
    let region = request.thread_region.max(1);
    let mut messages = Vec::new();
    let mut threads = request.threads;

    let limit = (request.free_memory as f64 * 0.6) as u64;
    // What the bitmaps are granted before threads: makedumpfile keeps 4 MiB; with
    // `--cyclic-buffer` the given size, truncated to free memory as makedumpfile does.
    let explicit_buffer = request.cyclic_buffer_kib.map(|kib| {
        let buffer = kib.saturating_mul(1024);
        let free = request.free_memory / dump_files;
        if buffer > free {
            messages.push("Specified buffer size is larger than free memory.".to_string());
            messages.push(format!(
                "The buffer size for the cyclic mode will be truncated to {free} byte."
            ));
            free
        } else {
            buffer
        }
    });
    let bitmaps = explicit_buffer.unwrap_or(MAX_CYCLIC_BUFFER);

    let mut limit_for_buffer = limit;
    if threads > 0 {
        if limit <= bitmaps {
            messages.push("There isn't enough memory for multi-threads.".to_string());
            threads = 0;
        } else {
            if (limit - bitmaps) / (threads as u64) < region {
                messages.push(format!("There isn't enough memory for {threads} threads."));
                threads = ((limit - bitmaps) / region) as usize;
                messages.push(format!("--num_threads is set to {threads}."));
            }
            // makedumpfile subtracts the regions only when it lowered the count; doing
            // it always changes nothing while the 4 MiB cap binds and is safer when not.
            limit_for_buffer = limit - region * threads as u64;
        }
    }

    let cyclic_buffer = match explicit_buffer {
        Some(buffer) => buffer,
        // Both bitmaps of the whole machine at once if that is smaller.
        None => limit_for_buffer
            .min(if request.reads_back {
                READ_BACK_CYCLIC_BUFFER
            } else {
                MAX_CYCLIC_BUFFER
            })
            .min(request.max_mapnr * 2 / 8 / dump_files),
    }
    .max(1);
    let pfns_per_cycle = cyclic_buffer.saturating_mul(8);
    Ok(BudgetPlan {
        free_memory: request.free_memory,
        limit,
        requested_threads: request.threads,
        threads,
        thread_region: region,
        cyclic_buffer,
        pfns_per_cycle,
        cycles: request.max_mapnr.div_ceil(pfns_per_cycle),
        messages,
    })
}

fn kib(bytes: u64) -> String {
    format!("{} KiB", bytes.div_ceil(1024))
}

impl fmt::Display for BudgetPlan {
    /// The report printed at message level 16 (`--message-level` bit 4, debug).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Memory budget:")?;
        writeln!(
            f,
            "  free memory (MemFree)      : {}",
            kib(self.free_memory)
        )?;
        writeln!(f, "  limit                      : {}", kib(self.limit))?;
        writeln!(
            f,
            "  threads (requested/granted): {}/{}",
            self.requested_threads, self.threads
        )?;
        writeln!(
            f,
            "  per-thread region          : {} (makedumpfile reserves {})",
            kib(self.thread_region),
            kib(MAKEDUMPFILE_THREAD_REGION)
        )?;
        writeln!(
            f,
            "  Buffer size for the cyclic mode: {}",
            self.cyclic_buffer
        )?;
        writeln!(
            f,
            "  pfns per cycle             : {} ({} cycles)",
            self.pfns_per_cycle, self.cycles
        )?;
        write!(f, "  reserved in total          : {}", kib(self.reserved()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn request(free: u64, threads: usize) -> BudgetRequest {
        BudgetRequest {
            free_memory: free,
            max_mapnr: 8 << 20, // 32 GiB of 4 KiB pages: both bitmaps are 2 MiB
            threads,
            cyclic_buffer_kib: None,
            dump_files: 1,
            thread_region: MAKEDUMPFILE_THREAD_REGION,
            reads_back: false,
        }
    }

    #[test]
    fn a_file_read_back_gets_cycles_of_16_gib() {
        let big = BudgetRequest {
            max_mapnr: 64 << 20, // 256 GiB
            reads_back: true,
            ..request(1 << 30, 2)
        };
        let p = plan(&big).unwrap();
        assert_eq!(p.cyclic_buffer, READ_BACK_CYCLIC_BUFFER);
        assert_eq!(p.pfns_per_cycle, 4 << 20);
        assert_eq!(p.cycles, 16);
        // A stream filters every cycle twice: makedumpfile's 4 MiB cap.
        let stream = plan(&BudgetRequest {
            reads_back: false,
            ..big.clone()
        })
        .unwrap();
        assert_eq!(stream.cyclic_buffer, MAX_CYCLIC_BUFFER);
        // --cyclic-buffer is taken as given.
        let explicit = plan(&BudgetRequest {
            cyclic_buffer_kib: Some(4096),
            ..big
        })
        .unwrap();
        assert_eq!(explicit.cyclic_buffer, 4 << 20);
    }

    #[test]
    fn plenty_of_memory_keeps_everything() {
        let p = plan(&request(1 << 30, 8)).unwrap();
        assert_eq!(p.threads, 8);
        assert!(p.messages.is_empty());
        // min(limit, 4 MiB, 2 × max_mapnr / 8) = 2 MiB: one cycle.
        assert_eq!(p.cyclic_buffer, 2 * MIB);
        assert_eq!(p.cycles, 1);
    }

    #[test]
    fn makedumpfile_thread_reduction_and_messages() {
        // limit = 0.6 × 10 MiB = 6 MiB; 2 MiB after the bitmaps fits 10 × 200 KiB.
        let p = plan(&request(10 * MIB, 16)).unwrap();
        assert_eq!(p.threads, 10);
        assert_eq!(
            p.messages,
            [
                "There isn't enough memory for 16 threads.",
                "--num_threads is set to 10."
            ]
        );
        assert_eq!(p.cyclic_buffer, 2 * MIB);
        // Very short: down to 1 thread, then 0 ("--num_threads is set to 0." as upstream).
        assert_eq!(plan(&request(7 * MIB, 3)).unwrap().threads, 1);
        let p = plan(&request(7_160_000, 3)).unwrap();
        assert_eq!(p.threads, 0);
        assert_eq!(p.messages[1], "--num_threads is set to 0.");
    }

    #[test]
    fn too_little_memory_means_serial() {
        let p = plan(&request(6 * MIB, 4)).unwrap(); // limit 3.6 MiB ≤ 4 MiB
        assert_eq!(p.threads, 0);
        assert_eq!(p.messages, ["There isn't enough memory for multi-threads."]);
        assert!(p.cyclic_buffer <= p.limit);
    }

    #[test]
    fn small_machine_bitmap_bound_and_cycles() {
        let mut r = request(64 * MIB, 0);
        r.max_mapnr = 1000;
        let p = plan(&r).unwrap();
        assert_eq!(p.cyclic_buffer, 250);
        assert_eq!(p.cycles, 1);
        r.max_mapnr = 1 << 30; // 4 TiB: 4 MiB buffer covers 32 M pfns per cycle
        let p = plan(&r).unwrap();
        assert_eq!(p.cyclic_buffer, 4 * MIB);
        assert_eq!(p.cycles, (1u64 << 30).div_ceil(32 << 20));
    }

    #[test]
    fn cyclic_buffer_option_is_honoured_and_truncated() {
        let mut r = request(64 * MIB, 2);
        r.cyclic_buffer_kib = Some(1024);
        let p = plan(&r).unwrap();
        assert_eq!(p.cyclic_buffer, MIB);
        assert_eq!(p.threads, 2);
        r.cyclic_buffer_kib = Some(1 << 20); // 1 GiB > free
        let p = plan(&r).unwrap();
        assert_eq!(p.cyclic_buffer, 64 * MIB);
        assert_eq!(
            p.messages[0],
            "Specified buffer size is larger than free memory."
        );
        // Nothing is left for threads once the bitmaps take all free memory.
        assert_eq!(p.threads, 0);
        assert_eq!(
            p.messages[2],
            "There isn't enough memory for multi-threads."
        );
    }

    #[test]
    fn meminfo_parsing() {
        let text = "MemTotal:       24683520 kB\nMemFree:        21830116 kB\nMemAvailable:   24268840 kB\n";
        assert_eq!(parse_mem_free(text), Some(21_830_116 * 1024));
        assert_eq!(parse_mem_free("MemFree: 12 MB\n"), None);
        assert_eq!(parse_mem_free(""), None);
        assert!(read_mem_free().unwrap() > 0);
    }

    #[test]
    fn invalid_max_mapnr() {
        assert!(plan(&BudgetRequest {
            max_mapnr: 0,
            ..request(MIB, 0)
        })
        .is_err());
    }

    #[test]
    fn thread_region_counts_ring_slab_and_codec() {
        let t = PipelineTuning::default();
        let r = thread_region(Compression::Zlib, 4096, &t);
        assert_eq!(
            r,
            t.bytes_per_thread(4096) + worker_overhead(Compression::Zlib)
        );
        assert!(r > MAKEDUMPFILE_THREAD_REGION);
        let text = plan(&BudgetRequest {
            thread_region: r,
            ..request(1 << 30, 2)
        })
        .unwrap()
        .to_string();
        assert!(text.contains("threads (requested/granted): 2/2"), "{text}");
    }
}
