//! `--mem-usage /proc/kcore`: the running kernel's pages by class (makedumpfile
//! `show_mem_usage`), measured by the engine (`engine::mem_usage`), printed here, then
//! ours only: the estimated dump size per level and codec (`engine::mem_usage` estimate).

use engine::mem_usage::{estimate_table, measure_running_kernel};
use engine::Result;

use crate::config::Config;
use crate::messages::Messages;
use crate::progress::ProgressPrinter;

/// The levels estimated when `-d` is not given: the two that kdump setups use.
const DEFAULT_LEVELS: [u8; 2] = [1, 31];

/// Print the table for `memory_path` (normally /proc/kcore), then the estimate.
pub fn run(config: &Config, memory_path: &str, messages: &Messages) -> Result<()> {
    let progress = ProgressPrinter::new(*messages);
    let levels = estimate_levels(config);
    let measured = measure_running_kernel(memory_path, config.force, &levels, &progress)?;
    // makedumpfile's table first, byte for byte: scripts that parse it keep working.
    messages.common(&measured.usage.table());
    messages.common(&estimate_table(&measured.estimates));
    Ok(())
}

/// `-d 1` and `-d 31`, and every level given with `-d` (retry levels included).
fn estimate_levels(config: &Config) -> Vec<u8> {
    let mut levels = DEFAULT_LEVELS.to_vec();
    if config.dump_level_given {
        levels.extend(&config.dump_levels);
    }
    levels.sort_unstable();
    levels.dedup();
    levels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels_for(args: &[&str]) -> Vec<u8> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let config = crate::config::build(&crate::options::parse(&args).unwrap()).unwrap();
        estimate_levels(&config)
    }

    #[test]
    fn levels_are_1_and_31_plus_those_given() {
        assert_eq!(levels_for(&["--mem-usage", "/proc/kcore"]), [1, 31]);
        assert_eq!(
            levels_for(&["--mem-usage", "-d", "17", "/proc/kcore"]),
            [1, 17, 31]
        );
        assert_eq!(
            levels_for(&["-d", "0", "--mem-usage", "/proc/kcore"]),
            [0, 1, 31]
        );
        assert_eq!(
            levels_for(&["-d", "31,11", "--mem-usage", "/proc/kcore"]),
            [1, 11, 31]
        );
    }
}
