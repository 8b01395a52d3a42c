//! The dump size `--mem-usage` predicts: for each dump level asked and each codec, the
//! size of the kdump-compressed file a capture kernel would write from this memory, with
//! a 95 % interval, from compressing a fixed sample of the dumpable pages.
//!
//! What the file holds is modelled exactly as the writer lays it out (`format::layout`,
//! `dump::sink`): header and sub header, the notes, both bitmaps, one 24-byte descriptor
//! per dumpable page (zero pages included), the shared zero page when `-d` has bit 1, then
//! each page's stored form, compressed by the same codec contexts and the same
//! strictly-smaller-or-raw rule (`codec::store_page`) as the dump workers. Only the last
//! term is estimated; everything else is counted.
//!
//! The dumpable pages of a level fall into three sets, using what the `-d 31` pass of
//! `--mem-usage` already knows page by page:
//! - kernel pages found to be zero: counted exactly (each costs nothing with bit 1 of
//!   `-d`, a compressed zero page without);
//! - the other kernel pages (`KERN_DATA`): a sample;
//! - the pages `-d 31` excludes but this level keeps (cache, user and free pages, and the
//!   zero pages among them, which only a read can tell): a second, independent sample.
//!
//! Each sample is [`SAMPLE_PER_SET`] pages, one from each of as many equal slices of the
//! set in pfn order ([`super::sample`]). A set that small is read whole, and the kernel
//! pages are the same set at every level, so their sample is read and compressed once for
//! all levels. The seed is fixed: the same memory gives the same figures. With 2048
//! pages per set the interval is about ±1 % of the size on the test guests; each sampled
//! page is compressed once per codec, 4096 pages for `-d 1` and `-d 31`, and the whole
//! `--mem-usage` run took 1–4 s in the TCG guests, the table alone 0.3–0.4 s
//! (tests/size-estimate.sh prints it): seconds, the bound, with the interval well
//! inside its ±15 %.
//!
//! What is not modelled: the memory changing between this run and the crash (the
//! interval covers sampling error only), and the capture kernel's notes, taken as one
//! `NT_PRSTATUS` per online CPU plus this kernel's VMCOREINFO with a `CRASHTIME` line,
//! which is right to the block on the test guests.

use std::collections::BTreeMap;

use crate::bitmap::Bitmap;
use crate::codec::{store_page, Compression, PageCodec, StoredPage};
use crate::dump::worker::is_zero_page;
use crate::dump::DumpBitmaps;
use crate::error::{Error, Result};
use crate::filter::{DumpLevel, PageFilter};
use crate::format::KdumpLayout;
use crate::input::elf::ElfVmcore;
use crate::input::{PageReader, PhysicalMemory};
use crate::progress::NoProgress;
use crate::vmcoreinfo::VmcoreInfo;

use super::sample::{sample_ranks, Total, SEED};

/// Pages sampled from each set (see the module doc).
pub(crate) const SAMPLE_PER_SET: u64 = 2048;

/// The codecs estimated, in the order printed: every kdump codec this build writes.
pub(crate) const CODECS: [Compression; 4] = [
    Compression::Zlib,
    Compression::Lzo,
    Compression::Snappy,
    Compression::Zstd,
];

/// Bytes of an x86_64 `NT_PRSTATUS` note: 12-byte header, "CORE" padded to 8, the
/// 336-byte `elf_prstatus`.
const PRSTATUS_NOTE_SIZE: u64 = 12 + 8 + 336;
/// Header and padded name of the VMCOREINFO note.
const VMCOREINFO_NOTE_OVERHEAD: u64 = 12 + 12;

/// The `-d 31` pass of `--mem-usage`, page by page.
#[derive(Debug, Clone)]
pub(crate) struct KernelPages {
    /// Pages `-d 31` keeps (zero pages included).
    pub all: Bitmap,
    /// Of those, the pages that are not zero.
    pub nonzero: Bitmap,
    /// `max_mapnr` of the dump (the filter's).
    pub max_mapnr: u64,
}

/// The estimated size of one dump.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeEstimate {
    /// `-d` level.
    pub level: u8,
    /// Codec (`-c`, `-l`, `-p`, `-z`).
    pub compression: Compression,
    /// Estimated file size in bytes.
    pub bytes: u64,
    /// 95 % interval, bytes.
    pub low: u64,
    /// 95 % interval, bytes.
    pub high: u64,
    /// Pages read and compressed for this level.
    pub sampled: u64,
    /// Dumpable pages of this level (descriptors in the file).
    pub dumpable: u64,
}

/// Estimate the dump size of `memory` at each of `levels` for every codec of [`CODECS`],
/// sampling `per_set` pages of each set; `size_note` is the length of the notes the dump
/// will carry ([`capture_notes_size`] for a live kernel).
pub(crate) fn estimate_sizes(
    memory: &ElfVmcore,
    info: &VmcoreInfo,
    kernel: &KernelPages,
    levels: &[u8],
    size_note: u64,
    per_set: u64,
) -> Result<Vec<SizeEstimate>> {
    let page_size = memory.page_size();
    let mut costs = PageCosts::new(memory)?;
    let mut estimates = Vec::new();
    for &level in levels {
        let dump_level = DumpLevel::new(level.into())?;
        let filtered;
        let (dumpable, max_mapnr) = if dump_level.has(DumpLevel::MAX & !DumpLevel::ZERO) {
            // -d 30 and 31 keep exactly the pages the --mem-usage pass kept.
            (&kernel.all, kernel.max_mapnr)
        } else {
            filtered = dumpable_pages(memory, info, dump_level)?;
            (&filtered.0, filtered.1)
        };
        let sets = SampledSets::draw(dumpable, kernel, per_set);
        costs.measure(sets.kernel.iter().chain(&sets.other).copied())?;
        // Headers, notes, both bitmaps and one descriptor per dumpable page.
        let layout = KdumpLayout::new(page_size, size_note, max_mapnr, sets.dumpable())?;
        let exclude_zero = dump_level.has(DumpLevel::ZERO);
        let fixed = layout.offset_data() + if exclude_zero { page_size } else { 0 };
        for (index, &compression) in CODECS.iter().enumerate() {
            let kernel_values = costs.values(&sets.kernel, index, exclude_zero)?;
            let other_values = costs.values(&sets.other, index, exclude_zero)?;
            let zero_bytes = sets.kernel_zero * costs.zero_page(index, exclude_zero);
            let exact = fixed + zero_bytes;
            let total = Total::exact(exact as f64)
                + Total::from_sample(sets.kernel_population, &kernel_values)
                + Total::from_sample(sets.other_population, &other_values);
            let most = exact + (sets.kernel_population + sets.other_population) * page_size;
            let (low, high) = total.interval(exact as f64, most as f64);
            estimates.push(SizeEstimate {
                level,
                compression,
                bytes: total.value.round() as u64,
                low: low.floor() as u64,
                high: high.ceil() as u64,
                sampled: (sets.kernel.len() + sets.other.len()) as u64,
                dumpable: sets.dumpable(),
            });
        }
    }
    Ok(estimates)
}

/// The notes of the capture kernel's /proc/vmcore: one `NT_PRSTATUS` per CPU that was
/// online at the crash, then VMCOREINFO as it is now plus the `CRASHTIME=` line the
/// kernel appends when it panics.
pub(crate) fn capture_notes_size(cpus: u64, vmcoreinfo_len: u64) -> u64 {
    let crashtime_line = "CRASHTIME=".len() as u64 + 10 + 1; // seconds until 2286
    cpus * PRSTATUS_NOTE_SIZE
        + VMCOREINFO_NOTE_OVERHEAD
        + (vmcoreinfo_len + crashtime_line).next_multiple_of(4)
}

/// The 2nd bitmap of `level`, and the dump's `max_mapnr`: the dump path's filter.
fn dumpable_pages(
    memory: &ElfVmcore,
    info: &VmcoreInfo,
    level: DumpLevel,
) -> Result<(Bitmap, u64)> {
    let mut filter = PageFilter::new(info, memory, memory.loads(), level)
        .map_err(|e| e.context(memory.name()))?;
    let (bitmaps, _) = DumpBitmaps::filtered(memory, &mut filter, &NoProgress)?;
    let max_mapnr = bitmaps.ram.len();
    Ok((bitmaps.dumpable, max_mapnr))
}

/// A level's dumpable pages split as in the module doc, with the sample of each set.
struct SampledSets {
    kernel_zero: u64,
    kernel_population: u64,
    other_population: u64,
    /// Sampled pfns of the non-zero kernel pages, in pfn order.
    kernel: Vec<u64>,
    /// Sampled pfns of the other pages, in pfn order.
    other: Vec<u64>,
}

impl SampledSets {
    fn draw(dumpable: &Bitmap, kernel: &KernelPages, per_set: u64) -> Self {
        let in_kernel = |pfn: u64| kernel.nonzero.get(pfn);
        let in_other = |pfn: u64| !kernel.all.get(pfn);
        let pages = || dumpable.iter_set(dumpable.start(), dumpable.end());
        let kernel_population = pages().filter(|&p| in_kernel(p)).count() as u64;
        let other_population = pages().filter(|&p| in_other(p)).count() as u64;
        let total = pages().count() as u64;
        SampledSets {
            kernel_zero: total - kernel_population - other_population,
            kernel_population,
            other_population,
            kernel: pick(
                pages().filter(|&p| in_kernel(p)),
                &sample_ranks(kernel_population, per_set, SEED),
            ),
            other: pick(
                pages().filter(|&p| in_other(p)),
                &sample_ranks(other_population, per_set, SEED),
            ),
        }
    }

    fn dumpable(&self) -> u64 {
        self.kernel_zero + self.kernel_population + self.other_population
    }
}

/// The members of `population` at `ranks` (ascending).
fn pick(population: impl Iterator<Item = u64>, ranks: &[u64]) -> Vec<u64> {
    let mut wanted = ranks.iter().copied().peekable();
    let mut picked = Vec::with_capacity(ranks.len());
    for (rank, pfn) in population.enumerate() {
        match wanted.peek() {
            Some(&r) if r == rank as u64 => {
                picked.push(pfn);
                wanted.next();
            }
            Some(_) => {}
            None => break,
        }
    }
    picked
}

/// What one page costs in the file, per codec of [`CODECS`].
#[derive(Debug, Clone, Copy)]
struct PageCost {
    zero: bool,
    stored: [u32; CODECS.len()],
}

/// Reads and compresses sampled pages, each once whatever the number of levels.
struct PageCosts<'m> {
    reader: Box<dyn PageReader + 'm>,
    codecs: Vec<Box<dyn PageCodec>>,
    page: Vec<u8>,
    scratch: Vec<u8>,
    zero_page_stored: [u32; CODECS.len()],
    known: BTreeMap<u64, PageCost>,
}

impl<'m> PageCosts<'m> {
    fn new(memory: &'m ElfVmcore) -> Result<Self> {
        let page_size = memory.page_size() as usize;
        let mut codecs = Vec::with_capacity(CODECS.len());
        for compression in CODECS {
            if let Some(codec) = compression.new_codec()? {
                codecs.push(codec);
            }
        }
        let mut costs = PageCosts {
            reader: memory.reader()?,
            codecs,
            page: vec![0; page_size],
            scratch: vec![0; page_size],
            zero_page_stored: [0; CODECS.len()],
            known: BTreeMap::new(),
        };
        costs.zero_page_stored = costs.compress(&vec![0; page_size]);
        Ok(costs)
    }

    /// Read and compress every page of `pfns` not seen yet.
    fn measure(&mut self, pfns: impl Iterator<Item = u64>) -> Result<()> {
        for pfn in pfns {
            if self.known.contains_key(&pfn) {
                continue;
            }
            self.reader.read_page(pfn, &mut self.page)?;
            let page = std::mem::take(&mut self.page);
            let cost = if is_zero_page(&page) {
                PageCost {
                    zero: true,
                    stored: self.zero_page_stored,
                }
            } else {
                PageCost {
                    zero: false,
                    stored: self.compress(&page),
                }
            };
            self.page = page;
            self.known.insert(pfn, cost);
        }
        Ok(())
    }

    /// The bytes each codec stores for `page` (the dump workers' rule).
    fn compress(&mut self, page: &[u8]) -> [u32; CODECS.len()] {
        let mut stored = [0; CODECS.len()];
        for (slot, codec) in stored.iter_mut().zip(&mut self.codecs) {
            *slot = match store_page(Some(codec.as_mut()), page, &mut self.scratch) {
                StoredPage::Compressed { len, .. } => len as u32,
                StoredPage::Raw => page.len() as u32,
            };
        }
        stored
    }

    /// The data bytes of each measured page of `pfns` with codec `index`: none for a
    /// zero page when zero pages share one block.
    fn values(&self, pfns: &[u64], index: usize, exclude_zero: bool) -> Result<Vec<f64>> {
        pfns.iter()
            .map(|pfn| match self.known.get(pfn) {
                Some(cost) if cost.zero && exclude_zero => Ok(0.0),
                Some(cost) => Ok(cost.stored[index].into()),
                None => Err(Error::internal(format!(
                    "pfn {pfn:#x} is sampled but was not measured"
                ))),
            })
            .collect()
    }

    /// The data bytes of a zero page with codec `index`.
    fn zero_page(&self, index: usize, exclude_zero: bool) -> u64 {
        if exclude_zero {
            0
        } else {
            self.zero_page_stored[index].into()
        }
    }
}

/// Option letter and name of a codec, as printed.
fn codec_label(compression: Compression) -> &'static str {
    match compression {
        Compression::Zlib => "-c zlib",
        Compression::Lzo => "-l lzo",
        Compression::Snappy => "-p snappy",
        Compression::Zstd => "-z zstd",
        Compression::None | Compression::Lz4 => "none",
    }
}

/// The section `--mem-usage` prints after makedumpfile's table.
pub fn estimate_table(estimates: &[SizeEstimate]) -> String {
    let mut t = String::from("\n");
    t += "ESTIMATED DUMP SIZE (kdump-compressed; 95% interval from a fixed sample of the dumpable pages)\n";
    t +=
        "LEVEL  CODEC         BYTES         95% LOW       95% HIGH      SAMPLED   DUMPABLE PAGES\n";
    t += "----------------------------------------------------------------------------------------\n";
    for e in estimates {
        t += &format!(
            "-d {:<4}{:<14}{:<14}{:<14}{:<14}{:<10}{}\n",
            e.level,
            codec_label(e.compression),
            e.bytes,
            e.low,
            e.high,
            e.sampled,
            e.dumpable
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Destination, DumpJob};
    use crate::mem_usage::{measure, vmcoreinfo};
    use crate::progress::NoProgress;
    use crate::synthetic::SyntheticVmcore;
    use std::path::{Path, PathBuf};

    const LEVELS: [u8; 5] = [0, 1, 2, 17, 31];

    struct TempFiles(Vec<PathBuf>);

    impl Drop for TempFiles {
        fn drop(&mut self) {
            for path in &self.0 {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    fn temp(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("estimate-{tag}-{}", std::process::id()))
    }

    fn estimates(path: &Path, per_set: u64) -> Vec<SizeEstimate> {
        let memory = ElfVmcore::open(path, true).unwrap();
        let (_, kernel) = measure(&memory).unwrap();
        let info = vmcoreinfo(&memory).unwrap();
        let notes = memory.notes().data.len() as u64;
        estimate_sizes(&memory, info, &kernel, &LEVELS, notes, per_set).unwrap()
    }

    /// The size of the file the dump job writes.
    fn real_size(vmcore: &Path, out: &Path, e: &SizeEstimate) -> u64 {
        DumpJob::new(
            vmcore.to_str().unwrap(),
            Destination::File(out.display().to_string()),
        )
        .compression(e.compression)
        .dump_levels(&[e.level])
        .force(true)
        .run(&NoProgress)
        .unwrap();
        std::fs::metadata(out).unwrap().len()
    }

    fn write_vmcore(tag: &str, vmcore: &SyntheticVmcore) -> PathBuf {
        let path = temp(tag);
        std::fs::write(&path, vmcore.to_bytes()).unwrap();
        path
    }

    /// With a sample as large as every set, each page is measured: the estimate must be
    /// the dump job's file size to the byte, at every level (zero pages shared or
    /// compressed, filtered classes) and for every codec.
    #[test]
    fn a_census_gives_the_exact_file_size() {
        let vmcore = write_vmcore("census", &SyntheticVmcore::mixed(11));
        let out = temp("census-out");
        let _cleanup = TempFiles(vec![vmcore.clone(), out.clone()]);
        let all = estimates(&vmcore, u64::MAX);
        assert_eq!(all.len(), LEVELS.len() * CODECS.len());
        for e in &all {
            assert_eq!(e.bytes, real_size(&vmcore, &out, e), "{e:?}");
            assert_eq!((e.low, e.high), (e.bytes, e.bytes), "{e:?}");
            // Zero kernel pages are counted, not read.
            assert!(e.sampled <= e.dumpable, "{e:?}");
        }
    }

    /// A sample of 64 pages per set out of about a thousand: the same figures on every
    /// run, close to the real size, and intervals that cover it.
    #[test]
    fn a_sample_is_deterministic_and_its_interval_covers_the_real_size() {
        let vmcore = write_vmcore("sample", &SyntheticVmcore::mixed(12));
        let out = temp("sample-out");
        let _cleanup = TempFiles(vec![vmcore.clone(), out.clone()]);
        let first = estimates(&vmcore, 64);
        assert_eq!(first, estimates(&vmcore, 64));
        let mut covered = 0;
        for e in &first {
            let real = real_size(&vmcore, &out, e);
            assert!(e.sampled < e.dumpable, "{e:?} should be a sample");
            let error = e.bytes as f64 / real as f64 - 1.0;
            assert!(error.abs() < 0.15, "{e:?}: real {real}");
            covered += usize::from((e.low..=e.high).contains(&real));
        }
        assert!(
            covered + 2 >= first.len(),
            "{covered} of {} cover",
            first.len()
        );
    }

    /// When every page outside the kernel is zero, those pages add no uncertainty: -d 1
    /// has the same interval width as -d 31 (whose only sample is the kernel pages).
    #[test]
    fn zero_pages_add_no_uncertainty() {
        let mut synthetic = SyntheticVmcore::mixed(13);
        let kernel = {
            let path = write_vmcore("zero-probe", &synthetic);
            let _cleanup = TempFiles(vec![path.clone()]);
            measure(&ElfVmcore::open(&path, true).unwrap()).unwrap().1
        };
        let ps = synthetic.machine.memory.bytes.len() as u64 / kernel.max_mapnr;
        for pfn in 0..kernel.max_mapnr {
            if !kernel.all.get(pfn) {
                let at = (pfn * ps) as usize;
                synthetic.machine.memory.bytes[at..at + ps as usize].fill(0);
            }
        }
        let vmcore = write_vmcore("zero", &synthetic);
        let out = temp("zero-out");
        let _cleanup = TempFiles(vec![vmcore.clone(), out.clone()]);
        let all = estimates(&vmcore, 16);
        let width = |level: u8, codec: Compression| {
            let e = all
                .iter()
                .find(|e| e.level == level && e.compression == codec)
                .unwrap();
            e.high - e.low
        };
        for codec in CODECS {
            assert!(width(31, codec) > 0, "the kernel pages are sampled");
            assert_eq!(width(1, codec), width(31, codec), "{codec:?}");
        }
    }

    #[test]
    fn no_dumpable_pages_sample_nothing() {
        let kernel = KernelPages {
            all: Bitmap::new(100),
            nonzero: Bitmap::new(100),
            max_mapnr: 100,
        };
        let sets = SampledSets::draw(&Bitmap::new(100), &kernel, 10);
        assert_eq!(sets.dumpable(), 0);
        assert!(sets.kernel.is_empty() && sets.other.is_empty());
    }

    #[test]
    fn sets_split_the_dumpable_pages() {
        let mut kernel = KernelPages {
            all: Bitmap::new(1000),
            nonzero: Bitmap::new(1000),
            max_mapnr: 1000,
        };
        kernel.all.fill_range(0, 100, true);
        kernel.nonzero.fill_range(0, 60, true);
        let mut dumpable = Bitmap::new(1000);
        dumpable.fill_range(0, 1000, true);
        let sets = SampledSets::draw(&dumpable, &kernel, 10);
        assert_eq!(
            (
                sets.kernel_population,
                sets.kernel_zero,
                sets.other_population
            ),
            (60, 40, 900)
        );
        assert!(sets.kernel.iter().all(|&p| p < 60));
        assert!(sets.other.iter().all(|&p| p >= 100));
        assert_eq!((sets.kernel.len(), sets.other.len()), (10, 10));
    }

    #[test]
    fn notes_model_matches_the_cloud_guest() {
        // The cloud-1g vmcore (2 CPUs) has 0xfb4 bytes of notes: two NT_PRSTATUS and a
        // VMCOREINFO of 3281 bytes, of which "CRASHTIME=1796535253\n" (21) was added at
        // the panic; the live kernel's text is the other 3260.
        assert_eq!(capture_notes_size(2, 3260), 0xfb4);
    }

    #[test]
    fn table_has_one_row_per_estimate() {
        let e = SizeEstimate {
            level: 31,
            compression: Compression::Lzo,
            bytes: 40_000_000,
            low: 39_000_000,
            high: 41_000_000,
            sampled: 2048,
            dumpable: 20_000,
        };
        let table = estimate_table(&[e.clone(), SizeEstimate { level: 1, ..e }]);
        assert_eq!(table.lines().count(), 6);
        assert!(table.contains(
            "-d 31  -l lzo        40000000      39000000      41000000      2048      20000\n"
        ));
    }
}
