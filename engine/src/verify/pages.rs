//! Every page descriptor of one file and the page it points to: the descriptor inside the
//! file, its size and flags possible, its data not overlapping the previous page's, and
//! the data decoding to exactly one page.
//!
//! The descriptors are cut into chunks of [`CHUNK`] in pfn order. Chunks are checked
//! serially or on `threads` workers; either way each chunk is checked alone and its first
//! fault kept, and the fault reported is the one of the lowest chunk, so the result (the
//! FIRST fault in pfn order, and every count) does not depend on the thread count.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::fault::Fault;
use super::image::{DumpImage, MappedRange};
use super::kdump::PagePlan;
use crate::codec::{Compression, PageCodec};
use crate::format::{PageDesc, PAGE_DESC_SIZE};
use crate::input::kdump::{ByteSource, KdumpFile};

/// Descriptors per chunk: 24 KiB of descriptors read at once, enough pages per chunk
/// that handing out chunks costs nothing next to decoding them, and enough chunks that
/// threads finish together (a -d 31 dump of a 1 GiB machine has 25 of them). The unit
/// tests' dumps have a few hundred pages: 64 there, so they cross chunk boundaries.
const CHUNK: u64 = if cfg!(test) { 64 } else { 1024 };
/// The page data of a chunk is read in one piece when it spans at most this much (it is
/// contiguous in every dump makedumpfile or we write); otherwise page by page.
const MAX_SPAN: u64 = 8 << 20;

/// Counts of one file's pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCounts {
    /// Descriptors checked.
    pub pages: u64,
    /// Of those, stored compressed.
    pub compressed: u64,
    /// Of those, stored raw.
    pub raw: u64,
    /// Of those, sharing the data of an earlier descriptor (the zero page).
    pub shared: u64,
}

impl PageCounts {
    fn add(&mut self, other: PageCounts) {
        self.pages += other.pages;
        self.compressed += other.compressed;
        self.raw += other.raw;
        self.shared += other.shared;
    }
}

/// One chunk's outcome: its counts, the lowest data offset it saw, its first fault.
#[derive(Default)]
struct ChunkResult {
    counts: PageCounts,
    lowest_data: Option<u64>,
    fault: Option<Fault>,
}

/// Check every page of `dump` (named `name`) that `plan` describes, on `threads` workers
/// (0 or 1 = serially). Returns the counts up to the first fault, and that fault.
pub(crate) fn check_pages(
    dump: &KdumpFile<DumpImage>,
    name: &str,
    plan: &PagePlan,
    threads: usize,
) -> (PageCounts, Option<Fault>) {
    let starts = chunk_starts(dump, plan);
    let results: Vec<ChunkResult> = if threads <= 1 || starts.len() <= 1 {
        let mut results = Vec::with_capacity(starts.len());
        let mut buffers = Buffers::new(plan, dump.layout.block_size);
        for (index, &start) in starts.iter().enumerate() {
            let result = check_chunk(dump, name, plan, index as u64, start, &mut buffers);
            let stop = result.fault.is_some();
            results.push(result);
            if stop {
                break;
            }
        }
        results
    } else {
        check_parallel(dump, name, plan, &starts, threads)
    };
    let mut counts = PageCounts::default();
    let mut lowest_data: Option<u64> = None;
    for result in results {
        counts.add(result.counts);
        if result.fault.is_some() {
            return (counts, result.fault);
        }
        lowest_data = match (lowest_data, result.lowest_data) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    // The 2nd bitmap's set bits size the descriptor table, so they decide where the data
    // begins. A bit flipped in it moves that start by one descriptor: the lowest data
    // offset the descriptors name then is not where the table ends.
    let expected = [Some(plan.data_start), plan.whole_data_start];
    if let Some(lowest) = lowest_data.filter(|&lowest| !expected.contains(&Some(lowest))) {
        let fault = Fault::new(
            name,
            "2nd bitmap",
            format!(
                "its {} set bits end the descriptor table at {:#x}, but the page data the descriptors point to begins at {lowest:#x}: the bitmap and the descriptors disagree",
                plan.count, plan.data_start
            ),
        )
        .at_offset(dump.layout.offset_bitmap2());
        return (counts, Some(fault));
    }
    (counts, None)
}

/// The first pfn of every chunk of [`CHUNK`] descriptors.
fn chunk_starts(dump: &KdumpFile<DumpImage>, plan: &PagePlan) -> Vec<u64> {
    dump.dumpable
        .iter_set(plan.range.start, plan.range.end)
        .step_by(CHUNK as usize)
        .collect()
}

fn check_parallel(
    dump: &KdumpFile<DumpImage>,
    name: &str,
    plan: &PagePlan,
    starts: &[u64],
    threads: usize,
) -> Vec<ChunkResult> {
    let next = AtomicUsize::new(0);
    // The lowest chunk known to hold a fault: chunks above it cannot change the result,
    // so they are skipped. Relaxed: it is only a hint to save work; a worker that reads a
    // stale (higher) value checks a chunk for nothing. The results themselves reach the
    // caller through the scope's joins.
    let lowest_fault = AtomicUsize::new(usize::MAX);
    let mut results: Vec<(usize, ChunkResult)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(starts.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut buffers = Buffers::new(plan, dump.layout.block_size);
                    let mut done = Vec::new();
                    loop {
                        // Relaxed: the counter only hands out distinct chunk indices.
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= starts.len() || index > lowest_fault.load(Ordering::Relaxed) {
                            break done;
                        }
                        let result = check_chunk(
                            dump,
                            name,
                            plan,
                            index as u64,
                            starts[index],
                            &mut buffers,
                        );
                        if result.fault.is_some() {
                            lowest_fault.fetch_min(index, Ordering::Relaxed);
                        }
                        done.push((index, result));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    results.sort_by_key(|(index, _)| *index);
    // Chunks are handed out in order, so the ones checked form a prefix up to the first
    // fault at least; anything after a gap is dropped with the rest past the fault.
    results
        .into_iter()
        .enumerate()
        .take_while(|(position, (index, _))| position == index)
        .map(|(_, (_, result))| result)
        .collect()
}

/// One worker's codec and buffers, reused from chunk to chunk: fresh multi-megabyte
/// buffers per chunk cost a page fault per 4 KiB (measured: about a tenth of the time).
struct Buffers {
    codec: Option<Box<dyn PageCodec>>,
    span: Vec<u8>,
    page: Vec<u8>,
    raw: Vec<u8>,
}

impl Buffers {
    fn new(plan: &PagePlan, block: u64) -> Self {
        Buffers {
            codec: plan.compression.new_codec().ok().flatten(),
            span: Vec::new(),
            page: vec![0u8; block as usize],
            raw: Vec::new(),
        }
    }
}

/// Check chunk `chunk` (descriptors `chunk * CHUNK ..`), whose first pfn is `start`.
fn check_chunk(
    dump: &KdumpFile<DumpImage>,
    name: &str,
    plan: &PagePlan,
    chunk: u64,
    start: u64,
    buffers: &mut Buffers,
) -> ChunkResult {
    let mut result = ChunkResult::default();
    let first = chunk * CHUNK;
    let len = CHUNK.min(plan.count - first);
    let table_offset = plan.desc_offset + first * PAGE_DESC_SIZE as u64;
    let mut table = vec![0u8; (len as usize) * PAGE_DESC_SIZE];
    if let Err(e) = dump.source().read_at(table_offset, &mut table) {
        result.fault = Some(Fault::io(name, "page descriptor table", &e).at_offset(table_offset));
        return result;
    }
    let pfns: Vec<u64> = dump
        .dumpable
        .iter_set(start, plan.range.end)
        .take(len as usize)
        .collect();
    let descs: Vec<PageDesc> = table
        .chunks_exact(PAGE_DESC_SIZE)
        .map(|raw| PageDesc::from_bytes(raw.try_into().expect("24 bytes")))
        .collect();
    // First every descriptor on its own, up to the first bad one; then the data of the
    // good ones in pfn order, so a decoding fault before the bad descriptor wins.
    let checker = DescChecker {
        name,
        block: dump.layout.block_size,
        file_len: dump.source().len(),
        plan,
    };
    let mut good = descs.len();
    let mut previous: Option<(u64, PageDesc)> = None;
    // Descriptors equal to an earlier one share its data (makedumpfile's zero page: one
    // stored copy, named by every zero page); only partial overlaps are faults.
    let mut seen: HashSet<(i64, u32, u32)> = HashSet::new();
    let mut is_shared = vec![false; descs.len()];
    for (i, (&pfn, desc)) in pfns.iter().zip(&descs).enumerate() {
        let at = table_offset + (i * PAGE_DESC_SIZE) as u64;
        if seen.contains(&(desc.offset, desc.size, desc.flags)) {
            is_shared[i] = true;
            continue;
        }
        if let Err(fault) = checker.check(desc, previous) {
            result.fault = Some(fault.at_pfn(pfn).at_offset(at));
            good = i;
            break;
        }
        seen.insert((desc.offset, desc.size, desc.flags));
        previous = Some((pfn, *desc));
    }
    let bad = result.fault.take();
    let Buffers {
        codec,
        span,
        page,
        raw,
    } = buffers;
    let piece = read_span(dump, &descs[..good], &is_shared[..good], span);
    let span: Option<(u64, &[u8])> = piece.as_ref().map(|(base, data)| match data {
        Span::Mapped(mapped) => (*base, mapped.bytes()),
        Span::Read => (*base, &span[..]),
    });
    for i in 0..good {
        let desc = descs[i];
        if is_shared[i] {
            result.counts.shared += 1;
            result.counts.pages += 1;
            continue;
        }
        let offset = desc.offset as u64;
        let stored: &[u8] = match span {
            Some((base, bytes)) if offset >= base => {
                let from = (offset - base) as usize;
                &bytes[from..from + desc.size as usize]
            }
            _ => {
                raw.resize(desc.size as usize, 0);
                if let Err(e) = dump.source().read_at(offset, raw) {
                    result.fault = Some(
                        Fault::io(name, "page data", &e)
                            .at_pfn(pfns[i])
                            .at_offset(offset),
                    );
                    return result;
                }
                raw
            }
        };
        let decoded = if desc.flags == 0 {
            Ok(())
        } else {
            match codec.as_deref_mut() {
                Some(codec) => codec.decompress(stored, page),
                None => Err(crate::error::Error::internal("no codec")),
            }
        };
        if let Err(e) = decoded {
            result.fault = Some(
                Fault::new(
                    name,
                    "page data",
                    format!(
                        "{} bytes stored {} do not decode to one page: {}",
                        desc.size,
                        plan.compression.name(),
                        e.message()
                    ),
                )
                .at_pfn(pfns[i])
                .at_offset(offset),
            );
            return result;
        }
        if desc.flags == 0 {
            result.counts.raw += 1;
        } else {
            result.counts.compressed += 1;
        }
        result.counts.pages += 1;
        result.lowest_data = Some(result.lowest_data.map_or(offset, |l| l.min(offset)));
    }
    result.fault = bad;
    result
}

/// Where a chunk's page data lies, when it is read in one piece.
enum Span {
    /// Mapped from the file.
    Mapped(MappedRange),
    /// Read into the worker's span buffer.
    Read,
}

/// The data of `descs` (those not shared) in one piece, when they are close together:
/// mapped from a regular file, otherwise read into `buffer`; returns the file offset
/// of the piece's first byte.
fn read_span(
    dump: &KdumpFile<DumpImage>,
    descs: &[PageDesc],
    is_shared: &[bool],
    buffer: &mut Vec<u8>,
) -> Option<(u64, Span)> {
    let mut own = descs
        .iter()
        .zip(is_shared)
        .filter(|(_, s)| !**s)
        .map(|(d, _)| d);
    let first = own.next()?;
    let (mut low, mut high) = (first.offset as u64, first.offset as u64 + first.size as u64);
    for d in own {
        low = low.min(d.offset as u64);
        high = high.max(d.offset as u64 + d.size as u64);
    }
    if high - low > MAX_SPAN {
        return None;
    }
    if let Some(mapped) = dump.source().map(low, (high - low) as usize) {
        return Some((low, Span::Mapped(mapped)));
    }
    buffer.resize((high - low) as usize, 0);
    dump.source().read_at(low, buffer).ok()?;
    Some((low, Span::Read))
}

/// The checks of one descriptor that need no page data.
struct DescChecker<'a> {
    name: &'a str,
    block: u64,
    file_len: u64,
    plan: &'a PagePlan,
}

impl DescChecker<'_> {
    fn check(&self, desc: &PageDesc, previous: Option<(u64, PageDesc)>) -> Result<(), Fault> {
        // The descriptor's fields lead every message (formatted only for a fault).
        let fault = |detail: String| {
            Err(Fault::new(
                self.name,
                "page descriptor",
                format!(
                    "offset {:#x}, size {}, flags {:#x}: {detail}",
                    desc.offset, desc.size, desc.flags
                ),
            ))
        };
        if desc.offset == 0 {
            return fault("offset 0 marks a lost page (an incomplete dump)".to_string());
        }
        if desc.offset < 0 || (desc.offset as u64) < self.plan.data_start {
            return fault(format!(
                "the data would lie before the page data, which begins at {:#x}",
                self.plan.data_start
            ));
        }
        if desc.size == 0 || desc.size as u64 > self.block {
            return fault(format!("a stored page is 1 to {} bytes", self.block));
        }
        let end = desc.offset as u64 + desc.size as u64;
        if end > self.file_len {
            return fault(format!(
                "the data runs past the end of the file ({} bytes): the file is truncated",
                self.file_len
            ));
        }
        match Compression::from_flag(desc.flags) {
            _ if desc.flags == 0 && desc.size as u64 != self.block => {
                return fault(format!("a raw page must be {} bytes", self.block));
            }
            _ if desc.flags == 0 => {}
            Some(c) if c == self.plan.compression => {}
            _ => {
                return fault(format!(
                    "the flags are not the header's compression ({})",
                    self.plan.compression.name()
                ))
            }
        }
        if let Some((previous_pfn, p)) = previous {
            let (p_start, p_end) = (p.offset as u64, p.offset as u64 + p.size as u64);
            if (desc.offset as u64) < p_end && end > p_start {
                return fault(format!(
                    "the data overlaps the data of pfn {previous_pfn:#x} (offset {p_start:#x}, size {})",
                    p.size
                ));
            }
        }
        Ok(())
    }
}
