//! The statistics printed at message level 16 (`--show-stats`), in makedumpfile's
//! `print_report` format so scripts that parse it keep working.

use engine::job::{DumpSummary, FilterStats};

use crate::messages::Messages;

/// Page counts per exclusion class (zero pages come from the writer, the others from the
/// page filter).
#[derive(Debug, Clone, Default)]
pub struct ExcludedPages {
    /// Pages filled with zero.
    pub zero: u64,
    /// Non-private page cache.
    pub cache: u64,
    /// Private page cache.
    pub cache_private: u64,
    /// User process data.
    pub user: u64,
    /// Free pages.
    pub free: u64,
    /// Hardware-poisoned pages.
    pub hwpoison: u64,
    /// Offline pages.
    pub offline: u64,
    /// Protected pages kept although counted in a class above (our addition).
    pub protected: u64,
}

impl ExcludedPages {
    /// The writer's zero-page count and the filter's class counts.
    pub fn from_stats(summary: &DumpSummary, stats: &FilterStats) -> Self {
        ExcludedPages {
            zero: summary.zero_pages,
            cache: stats.cache,
            cache_private: stats.cache_private,
            user: stats.user,
            free: stats.free,
            hwpoison: stats.hwpoison,
            offline: stats.offline,
            protected: stats.protected,
        }
    }

    /// Excluded pages: every class, less the protected pages kept.
    fn total(&self) -> u64 {
        (self.zero
            + self.cache
            + self.cache_private
            + self.user
            + self.free
            + self.hwpoison
            + self.offline)
            .saturating_sub(self.protected)
    }
}

/// makedumpfile's "The dumpfiles are saved to A, B, and C." line.
pub fn saved_message(dumpfiles: &[String]) -> String {
    let mut text = String::from("\nThe dumpfiles are saved to ");
    for (i, name) in dumpfiles.iter().enumerate() {
        if i + 1 < dumpfiles.len() {
            text += &format!("{name}, ");
        } else {
            text += &format!("and {name}.\n");
        }
    }
    text
}

/// Print the report.
pub fn print(messages: &Messages, summary: &DumpSummary, excluded: &ExcludedPages) {
    if !messages.reports() {
        return;
    }
    let original = summary.max_mapnr - summary.memory_holes;
    let total_excluded = excluded.total();
    let mut text = String::new();
    text.push('\n');
    text += &format!("Original pages  : 0x{original:016x}\n");
    text += &format!("  Excluded pages   : 0x{total_excluded:016x}\n");
    text += &format!("    Pages filled with zero  : 0x{:016x}\n", excluded.zero);
    text += &format!("    Non-private cache pages : 0x{:016x}\n", excluded.cache);
    text += &format!(
        "    Private cache pages     : 0x{:016x}\n",
        excluded.cache_private
    );
    text += &format!("    User process data pages : 0x{:016x}\n", excluded.user);
    text += &format!("    Free pages              : 0x{:016x}\n", excluded.free);
    text += &format!(
        "    Hwpoison pages          : 0x{:016x}\n",
        excluded.hwpoison
    );
    text += &format!(
        "    Offline pages           : 0x{:016x}\n",
        excluded.offline
    );
    text += &format!(
        "  Remaining pages  : 0x{:016x}\n",
        original.saturating_sub(total_excluded)
    );
    if let Some(percent) = (original.saturating_sub(total_excluded) * 100).checked_div(original) {
        text += &format!("  (The number of pages is reduced to {percent}%.)\n");
    }
    text += &format!("Memory Hole     : 0x{:016x}\n", summary.memory_holes);
    text += "--------------------------------------------------\n";
    text += &format!("Total pages     : 0x{:016x}\n", summary.max_mapnr);
    text += &format!("Write bytes     : {}\n", summary.bytes_written);
    text.push('\n');
    // Beyond makedumpfile's report: pages kept by protection (counted in their class
    // above, as makedumpfile would count them, and not in "Excluded pages"), the time of
    // each pass and the throughput.
    text += &format!(
        "Protected pages : 0x{:016x} (kept although the dump level excludes them)\n",
        excluded.protected
    );
    let seconds = summary.writing_time.as_secs_f64().max(1e-9);
    let dumpable_mib = (summary.num_dumpable * summary.page_size) as f64 / (1 << 20) as f64;
    text += &format!(
        "Counting pass   : {:.6} seconds\nWriting pass    : {:.6} seconds, {:.1} MB/s of dumpable pages in, {:.1} MB/s out\n\n",
        summary.counting_time.as_secs_f64(),
        seconds,
        dumpable_mib / seconds,
        summary.bytes_written as f64 / (1 << 20) as f64 / seconds,
    );
    messages.report(&text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_message_lists_every_file() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            saved_message(&names),
            "\nThe dumpfiles are saved to a, b, and c.\n"
        );
    }
}
