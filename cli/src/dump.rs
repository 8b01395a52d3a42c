//! `makedumpfile [options] VMCORE DUMPFILE`, `-F`, `-E`, `--split` and `--dump-dmesg`:
//! the options become one engine [`DumpJob`]; the engine applies each of them in one place
//! for every mode and input kind (ELF vmcore, kdump-compressed or flattened dump).

use engine::job::{Destination, DmesgOptions, DumpJob, Format, JobReport};
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

/// The job `config` describes, reading `input` and writing `format` to `destination`.
pub fn job(config: &Config, input: &str, destination: Destination, format: Format) -> DumpJob {
    DumpJob::new(input, destination)
        .format(format)
        .dump_levels(&config.dump_levels)
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

/// Run the job, printing its messages and progress at `messages`' level.
pub fn run(
    config: &Config,
    input: &str,
    destination: Destination,
    format: Format,
    messages: &Messages,
) -> Result<JobReport> {
    let progress = ProgressPrinter::new(*messages);
    job(config, input, destination, format).run(&progress)
}
