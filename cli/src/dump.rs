//! Every mode that writes: `makedumpfile [options] VMCORE DUMPFILE`, `-F`, `-E`,
//! `--split`, `--dump-dmesg`, `-R` and `--reassemble`. The options become one engine
//! [`DumpJob`]; the engine applies each of them in one place for every mode and input
//! kind (ELF vmcore, kdump-compressed or flattened dump, stream, split set).

use engine::job::{DmesgOptions, DumpJob, Format, JobReport};
use engine::Result;

use crate::config::Config;
use crate::messages::Messages;
use crate::progress::ProgressPrinter;

/// What a dump mode writes: `-E` asks for an ELF core.
pub fn dump_format(config: &Config) -> Format {
    if config.elf_output {
        Format::Elf
    } else {
        Format::Kdump
    }
}

/// What `--dump-dmesg` writes.
pub fn dmesg_format(config: &Config) -> Format {
    Format::Dmesg(DmesgOptions {
        partial: config.partial_dmesg,
        caller_id: config.dmesg_caller_id,
    })
}

/// `job` with the options of `config` (what the mode chose: input, output, format, is
/// already in `job`).
pub fn configure(config: &Config, job: DumpJob) -> DumpJob {
    job.dump_levels(&config.dump_levels)
        .compression(config.compression)
        .threads(config.threads)
        .cyclic_buffer_kib(config.cyclic_buffer_kb)
        .size_limit(config.size_limit)
        .dry_run(config.dry_run)
        .force(config.force)
        .block_order(config.block_order)
        .use_mmap(!config.non_mmap)
        .splitblock_kib(config.splitblock_kb)
}

/// Run `job` with the options of `config`, printing its messages and progress at
/// `messages`' level.
pub fn run(config: &Config, job: DumpJob, messages: &Messages) -> Result<JobReport> {
    let progress = ProgressPrinter::new(*messages);
    configure(config, job).run(&progress)
}
