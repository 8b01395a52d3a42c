//! `--mem-usage /proc/kcore`: the running kernel's pages by class (makedumpfile
//! `show_mem_usage`), measured by the engine (`engine::mem_usage`), printed here.

use engine::mem_usage::measure_running_kernel;
use engine::Result;

use crate::config::Config;
use crate::messages::Messages;
use crate::progress::ProgressPrinter;

/// Print the table for `memory_path` (normally /proc/kcore).
pub fn run(config: &Config, memory_path: &str, messages: &Messages) -> Result<()> {
    let progress = ProgressPrinter::new(*messages);
    let usage = measure_running_kernel(memory_path, config.force, &progress)?;
    messages.common(&usage.table());
    Ok(())
}
