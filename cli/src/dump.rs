//! Every mode that writes: `makedumpfile [options] VMCORE DUMPFILE`, `-F`, `-E`,
//! `--split`, `--dump-dmesg`, `-R` and `--reassemble`. The options become one engine
//! [`DumpJob`]; the engine applies each of them in one place for every mode and input
//! kind (ELF vmcore, kdump-compressed or flattened dump, stream, split set).

use engine::job::{DmesgOptions, DumpJob, Format, JobReport};
use engine::{Error, Result};

use crate::config::{parse_size, Config};
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
        .verify(crate::verify::after_writing(config))
}

/// Run `job` with the options of `config`, printing its messages and progress at
/// `messages`' level.
pub fn run(config: &Config, job: DumpJob, messages: &Messages) -> Result<JobReport> {
    let progress = ProgressPrinter::new(*messages);
    let free_memory = free_memory_override()?;
    if let Some(bytes) = free_memory {
        messages.report(&format!(
            "Free memory taken from {MEMFREE_ENV}: {} KiB\n",
            bytes >> 10
        ));
    }
    configure(config, job)
        .free_memory(free_memory)
        .run(&progress)
}

/// Ours, not makedumpfile's: plan the memory budget as if the machine had this much free
/// memory (a size such as `180M`), instead of reading MemFree. It models a capture kernel
/// (a 256 MiB crashkernel leaves about 180 MiB free) on a big host, for the large-machine
/// test and the scale benchmark.
pub const MEMFREE_ENV: &str = "MAKEDUMPFILE_RS_MEMFREE";

fn free_memory_override() -> Result<Option<u64>> {
    let Some(value) = std::env::var_os(MEMFREE_ENV) else {
        return Ok(None);
    };
    let text = value.to_string_lossy();
    match parse_size(&text) {
        Some(bytes) if bytes > 0 => Ok(Some(bytes)),
        _ => Err(Error::argument(format!(
            "{MEMFREE_ENV}={text}: not a size (bytes, or a number with K, M or G)"
        ))),
    }
}
