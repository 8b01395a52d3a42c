//! One dump, every mode: the engine's entry point for writing a dump.
//!
//! A [`DumpJob`] names an input (an ELF vmcore, a kdump-compressed dump or a flattened
//! stream: the job tells them apart itself), a [`Destination`] (a file, a flattened stream
//! on stdout, or `--split` parts) and a [`Format`] (kdump-compressed, ELF, or the kernel
//! log of `--dump-dmesg`), plus the options makedumpfile applies to all of them. [`DumpJob::run`] applies each option in
//! exactly one place, so it means the same thing in every mode:
//! - `-f`, `-L`, `--dry-run`: [`output::OutputRules`], through which every output is opened;
//! - the retry levels of `-d 31,11`: the loop in [`DumpJob::run`];
//! - `--num-threads` and `--cyclic-buffer`: the memory budget, [`DumpJob::plan_budget`];
//! - the dump level of a refiltered input (OR-ed with the input's): [`bitmaps`].
//!
//! ```no_run
//! use engine::job::{Compression, Destination, DumpJob};
//! use engine::progress::NoProgress;
//!
//! // makedumpfile -l -d 31 --num-threads 2 /proc/vmcore /var/crash/dump
//! let report = DumpJob::new("/proc/vmcore", Destination::File("/var/crash/dump".into()))
//!     .compression(Compression::Lzo)
//!     .dump_levels(&[31])
//!     .threads(2)
//!     .run(&NoProgress)?;
//! println!("{} bytes, {} pages", report.summary.bytes_written, report.summary.num_dumpable);
//! # Ok::<(), engine::Error>(())
//! ```

mod bitmaps;
mod dmesg;
mod elf;
mod input;
mod kdump;
mod output;
mod protected;
mod reassemble;
mod rebuild;
mod split;

// The value types of the job's options and report.
pub use crate::budget::BudgetPlan;
pub use crate::codec::Compression;
pub use crate::dmesg::DmesgOptions;
pub use crate::dump::DumpSummary;
pub use crate::filter::{FilterStats, InvalidFreeOrder};

use crate::budget::{self, BudgetRequest};
use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::PipelineTuning;
use crate::progress::{MessageKind, ProgressObserver};
use crate::verify::{verify_dump, VerifyOptions, VerifyReport};

use self::input::{InputKind, JobInput};
pub use self::output::Destination;
use self::output::OutputRules;
pub use self::protected::protected_pfns;

/// What the job reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file, whose kind the job finds from its first bytes: an ELF vmcore (dumped), a
    /// kdump-compressed dump or a flattened stream of one (refiltered).
    File(String),
    /// `-R`: a flattened stream on standard input, copied record by record.
    FlattenedStdin,
    /// `--reassemble`: the files of a `--split` set.
    SplitParts(Vec<String>),
}

/// What the job writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A kdump-compressed dump (makedumpfile's default).
    #[default]
    Kdump,
    /// `-E`: an ELF core.
    Elf,
    /// `--dump-dmesg`: the kernel log of an ELF vmcore, as text.
    Dmesg(DmesgOptions),
}

/// What a finished job reports.
#[derive(Debug, Clone, Default)]
pub struct JobReport {
    /// Page counts and bytes written (for `--split`, summed over the parts).
    pub summary: DumpSummary,
    /// Excluded pages per class.
    pub stats: FilterStats,
    /// The dump level the dump was written at (after retries and refiltering's OR).
    pub dump_level: u8,
    /// The memory budget, for the modes that use one.
    pub plan: Option<BudgetPlan>,
    /// With [`DumpJob::verify`]: what reopening the written dump found.
    pub verify: Option<VerifyReport>,
}

/// A dump to write: build it with the setters, then [`DumpJob::run`].
#[derive(Debug, Clone)]
pub struct DumpJob {
    source: Source,
    destination: Destination,
    format: Format,
    dump_levels: Vec<u8>,
    compression: Compression,
    threads: usize,
    cyclic_buffer_kib: Option<u64>,
    block_order: u32,
    use_mmap: bool,
    splitblock_kib: Option<i64>,
    free_memory: Option<u64>,
    rules: OutputRules,
    verify: Option<VerifyOptions>,
}

impl DumpJob {
    /// Dump `input` to `destination` at level 0, uncompressed, serially: the defaults of
    /// `makedumpfile INPUT OUTPUT`.
    pub fn new(input: impl Into<String>, destination: Destination) -> Self {
        DumpJob {
            source: Source::File(input.into()),
            destination,
            format: Format::Kdump,
            dump_levels: vec![0],
            compression: Compression::None,
            threads: 0,
            cyclic_buffer_kib: None,
            block_order: 4,
            use_mmap: true,
            splitblock_kib: None,
            free_memory: None,
            rules: OutputRules::default(),
            verify: None,
        }
    }

    /// `makedumpfile -R DUMPFILE`: rebuild `dumpfile` from the flattened stream on standard
    /// input, record by record, so the file holds exactly the bytes `-F` sent.
    pub fn rebuild(dumpfile: impl Into<String>) -> Self {
        DumpJob {
            source: Source::FlattenedStdin,
            ..DumpJob::new("", Destination::File(dumpfile.into()))
        }
    }

    /// `makedumpfile --reassemble PART... DUMPFILE`: join the files of a `--split` set
    /// into one dump.
    pub fn reassemble(parts: Vec<String>, dumpfile: impl Into<String>) -> Self {
        DumpJob {
            source: Source::SplitParts(parts),
            ..DumpJob::new("", Destination::File(dumpfile.into()))
        }
    }

    /// `-E`: write an ELF core instead.
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// `-d L1,L2,...`: the first level, then the levels retried in turn when the output
    /// runs out of space (ENOSPC or `-L`).
    pub fn dump_levels(mut self, levels: &[u8]) -> Self {
        self.dump_levels = if levels.is_empty() {
            vec![0]
        } else {
            levels.to_vec()
        };
        self
    }

    /// `-c`, `-l`, `-p`, `-z`.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// `--num-threads` (0 = serial); the budget may lower it.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// `--cyclic-buffer` in KiB.
    pub fn cyclic_buffer_kib(mut self, kib: Option<u64>) -> Self {
        self.cyclic_buffer_kib = kib;
        self
    }

    /// `-L SIZE` in bytes, for every file (each `--split` part on its own) or the stream.
    pub fn size_limit(mut self, limit: Option<u64>) -> Self {
        self.rules.size_limit = limit;
        self
    }

    /// `--dry-run`: do everything but write.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.rules.dry_run = dry_run;
        self
    }

    /// `-f`: overwrite existing outputs.
    pub fn force(mut self, force: bool) -> Self {
        self.rules.force = force;
        self
    }

    /// `-b ORDER`: write caches of `page_size << order` bytes.
    pub fn block_order(mut self, order: u32) -> Self {
        self.block_order = order;
        self
    }

    /// `--non-mmap` is `use_mmap(false)`.
    pub fn use_mmap(mut self, use_mmap: bool) -> Self {
        self.use_mmap = use_mmap;
        self
    }

    /// `--splitblock-size` in KiB.
    pub fn splitblock_kib(mut self, kib: Option<i64>) -> Self {
        self.splitblock_kib = kib;
        self
    }

    /// Plan the memory budget from this many bytes of free memory instead of the
    /// machine's MemFree (to model a capture kernel).
    pub fn free_memory(mut self, bytes: Option<u64>) -> Self {
        self.free_memory = bytes;
        self
    }

    /// `--verify`: once written, reopen the dump with our reader and check it
    /// ([`crate::verify`]), on the job's `--num-threads`. The outcome is in
    /// [`JobReport::verify`]; a fault found is not an error of the job.
    pub fn verify(mut self, options: Option<VerifyOptions>) -> Self {
        self.verify = options;
        self
    }

    /// Write the dump (and verify it, with [`DumpJob::verify`]). Messages (retries, level
    /// changes, budget decisions) and progress go to `observer`. On running out of space
    /// with no level left, the error is [`ErrorKind::NoSpace`] with an empty message: the
    /// messages were emitted already.
    pub fn run(&self, observer: &dyn ProgressObserver) -> Result<JobReport> {
        let Some(options) = &self.verify else {
            return self.write(observer);
        };
        // What cannot be reopened is refused before anything is written.
        let refused = match (&self.destination, self.format) {
            (_, Format::Dmesg(_)) => Some("a kernel log is not a dump"),
            (Destination::Stdout, _) => Some(
                "a flattened stream on standard output cannot be read back; save it to a file and verify that file",
            ),
            _ if self.rules.dry_run => Some("--dry-run writes nothing"),
            _ => None,
        };
        if let Some(why) = refused {
            return Err(Error::argument(format!("--verify: {why}.")));
        }
        let mut report = self.write(observer)?;
        let mut options = VerifyOptions {
            threads: options.threads.max(self.threads),
            ..options.clone()
        };
        // A dump of a file must hold the file's protected pages; a stream or split set
        // copied by -R/--reassemble has no input of its own to ask.
        if let Source::File(path) = &self.source {
            match protected_pfns(path) {
                Ok(pfns) => options.must_be_present.extend(pfns),
                Err(e) => observer.message(
                    MessageKind::Common,
                    &format!("--verify: protected pages not checked: {e}\n"),
                ),
            }
        }
        report.verify = Some(verify_dump(self.destination.files(), &options)?);
        Ok(report)
    }

    /// Write the dump.
    fn write(&self, observer: &dyn ProgressObserver) -> Result<JobReport> {
        match &self.source {
            Source::File(_) => {}
            Source::FlattenedStdin => {
                let path = self.copy_destination("-R")?;
                return rebuild::write(self, std::io::stdin().lock(), path, observer);
            }
            Source::SplitParts(parts) => {
                let path = self.copy_destination("--reassemble")?;
                return reassemble::write(self, parts, path, observer);
            }
        }
        if matches!(self.destination, Destination::Split(_)) && self.format == Format::Elf {
            return Err(Error::argument(
                "Options for splitting dumpfile cannot be used with Elf format.",
            ));
        }
        if let Format::Dmesg(options) = self.format {
            // No levels to retry and no "incomplete dumpfile": a log is text.
            return dmesg::write(self, options, observer);
        }
        let kind = input::detect(self.input_name());
        if self.format == Format::Elf && matches!(kind, Ok(InputKind::Dump)) {
            // makedumpfile 1.7.2's wording.
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "'-E' option is disable, because {} is kdump compressed format.",
                    self.input_name()
                ),
            ));
        }
        for path in self.destination.files() {
            self.rules.check(path)?;
        }
        let source = JobInput::open(self.input_name(), kind?, self.use_mmap)?;
        if let JobInput::Elf(vmcore) = &source {
            observer.message(MessageKind::Debug, &input::describe_vmcore(vmcore));
        }
        let mut levels = self.dump_levels.iter().copied();
        let mut level = levels.next().unwrap_or(0);
        loop {
            match self.run_level(&source, level, observer) {
                Err(e) if e.kind() == ErrorKind::NoSpace => {
                    observer.message(MessageKind::Common, &format!("\n{e}\n"));
                    // A stream already sent cannot be taken back, so -F does not retry
                    // (makedumpfile would append a second stream to the first).
                    let next = levels
                        .next()
                        .filter(|_| self.destination != Destination::Stdout);
                    let Some(next) = next else {
                        if self.destination != Destination::Stdout {
                            observer.message(
                                MessageKind::Common,
                                "This is an incomplete dumpfile, but might analyzable.\n",
                            );
                        }
                        return Err(Error::new(ErrorKind::NoSpace, String::new()));
                    };
                    self.rules.remove(&self.destination);
                    observer.message(
                        MessageKind::Common,
                        &format!("Retry to create a dumpfile by dump_level({next}).\n"),
                    );
                    level = next;
                }
                Err(e) => return Err(e),
                Ok(report) => {
                    for warning in report.stats.invalid_free_orders.iter() {
                        observer.message(
                            MessageKind::Common,
                            &format!(
                                "Invalid free page order: pfn={:x}, order={}, max order={}\n",
                                warning.pfn, warning.order, warning.max_order
                            ),
                        );
                    }
                    report_protected(&report.stats, level, observer);
                    return Ok(report);
                }
            }
        }
    }

    /// One attempt at `level`.
    fn run_level(
        &self,
        source: &JobInput,
        level: u8,
        observer: &dyn ProgressObserver,
    ) -> Result<JobReport> {
        match (&self.destination, self.format, source) {
            (Destination::Split(paths), _, _) => split::write(self, source, level, paths, observer),
            (_, Format::Elf, JobInput::Elf(vmcore)) => elf::write(self, vmcore, level, observer),
            (_, Format::Elf, JobInput::Dump(_)) => Err(Error::internal(
                "an ELF dump of a kdump-compressed input was not refused",
            )),
            (_, Format::Dmesg(_), _) => Err(Error::internal("--dump-dmesg reached the dump loop")),
            (_, Format::Kdump, JobInput::Elf(vmcore)) => {
                kdump::write_from_elf(self, vmcore, level, observer)
            }
            (_, Format::Kdump, JobInput::Dump(memory)) => {
                kdump::write_refiltered(self, memory, level, observer)
            }
        }
    }

    /// The input's name in messages.
    fn input_name(&self) -> &str {
        match &self.source {
            Source::File(path) => path,
            Source::FlattenedStdin => "standard input",
            Source::SplitParts(parts) => parts.first().map_or("", String::as_str),
        }
    }

    /// The one file `-R` and `--reassemble` write. They copy dumps as they are, so a dump
    /// level, compression or another format cannot apply (makedumpfile refuses them too).
    fn copy_destination(&self, mode: &str) -> Result<&str> {
        let copies_as_is = self.format == Format::Kdump
            && self.dump_levels == [0]
            && self.compression == Compression::None;
        match &self.destination {
            Destination::File(path) if copies_as_is => Ok(path),
            _ => Err(Error::argument(format!(
                "{mode} writes one kdump-compressed file as the input has it: no dump level, compression, -E, -F or --split"
            ))),
        }
    }

    /// The single output of a non-split job (`None` = stdout).
    fn single_output(&self) -> Option<&str> {
        match &self.destination {
            Destination::File(path) => Some(path),
            _ => None,
        }
    }

    /// makedumpfile's memory budget: threads and the cyclic buffer must fit in 60 % of
    /// free memory (engine::budget; the per-thread figure is measured, not makedumpfile's).
    /// Its messages are emitted here, for every mode that plans.
    fn plan_budget(
        &self,
        max_mapnr: u64,
        page_size: u64,
        threads: usize,
        observer: &dyn ProgressObserver,
    ) -> Result<BudgetPlan> {
        let free_memory = match self.free_memory {
            Some(bytes) => bytes,
            None => budget::read_mem_free()?,
        };
        let plan = budget::plan(&BudgetRequest {
            free_memory,
            max_mapnr,
            threads,
            cyclic_buffer_kib: self.cyclic_buffer_kib,
            dump_files: self.destination.files().len().max(1) as u64,
            reads_back: matches!(self.destination, Destination::File(_)) && !self.rules.dry_run,
            thread_region: budget::thread_region(
                self.compression,
                page_size,
                &PipelineTuning::default(),
            ),
        })?;
        for message in &plan.messages {
            observer.message(MessageKind::Common, &format!("{message}\n"));
        }
        observer.message(MessageKind::Report, &format!("{plan}\n"));
        observer.message(
            MessageKind::Debug,
            &format!(
                "max_mapnr    : {max_mapnr:x}\nBuffer size for the cyclic mode: {}\n",
                plan.cyclic_buffer
            ),
        );
        Ok(plan)
    }
}

/// Name the protected pages the dump level would have dropped (issue 17): a dump that
/// keeps them differs from makedumpfile's, and the user should know which and why.
fn report_protected(stats: &FilterStats, level: u8, observer: &dyn ProgressObserver) {
    if stats.protected == 0 {
        return;
    }
    let mut text = format!(
        "Kept {} protected page(s) that dump level {level} would exclude (their struct page says excludable, analysis needs them):\n",
        stats.protected
    );
    for page in &stats.protected_pages {
        text += &format!("  pfn={:x}: {}\n", page.pfn, page.why);
    }
    if stats.protected > stats.protected_pages.len() as u64 {
        text += &format!(
            "  ... and {} more\n",
            stats.protected - stats.protected_pages.len() as u64
        );
    }
    observer.message(MessageKind::Common, &text);
}
