//! `--mem-usage`: makedumpfile's page-statistics table (`print_mem_usage`).
//!
//! Only the table is here. Reading `/proc/kcore` of the running kernel (makedumpfile
//! `get_kcore_dump_loads`: direct-map PT_LOADs turned into physical ranges) is not
//! implemented yet, so the CLI still refuses `--mem-usage`; the numbers this formats are
//! the filter's [`crate::filter::FilterStats`] at level 31 plus the zero-page count.

/// The counts `--mem-usage` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemUsage {
    /// Page size of the running kernel.
    pub page_size: u64,
    /// Pages that are RAM (`max_mapnr` minus the memory holes).
    pub original: u64,
    /// Zero pages.
    pub zero: u64,
    /// Non-private page cache.
    pub cache: u64,
    /// Private page cache.
    pub cache_private: u64,
    /// User pages.
    pub user: u64,
    /// Free pages.
    pub free: u64,
    /// Excluded for other reasons (hwpoison, offline): counted as excluded, not listed.
    pub other_excluded: u64,
}

impl MemUsage {
    /// The table exactly as makedumpfile prints it (tabs included).
    pub fn table(&self) -> String {
        let excluded = self.zero
            + self.cache
            + self.cache_private
            + self.user
            + self.free
            + self.other_excluded;
        let kernel = self.original.saturating_sub(excluded);
        let mut t = String::from("\n");
        t += "TYPE\t\tPAGES\t\t\tEXCLUDABLE\tDESCRIPTION\n";
        t += "----------------------------------------------------------------------\n";
        t += &format!("ZERO\t\t{:<16}\tyes\t\tPages filled with zero\n", self.zero);
        t += &format!(
            "NON_PRI_CACHE\t{:<16}\tyes\t\tCache pages without private flag\n",
            self.cache
        );
        t += &format!(
            "PRI_CACHE\t{:<16}\tyes\t\tCache pages with private flag\n",
            self.cache_private
        );
        t += &format!("USER\t\t{:<16}\tyes\t\tUser process pages\n", self.user);
        t += &format!("FREE\t\t{:<16}\tyes\t\tFree pages\n", self.free);
        t += &format!("KERN_DATA\t{kernel:<16}\tno\t\tDumpable kernel data \n");
        t += "\n";
        t += &format!("page size:\t\t{:<16}\n", self.page_size);
        t += &format!("Total pages on system:\t{:<16}\n", self.original);
        t += &format!(
            "Total size on system:\t{:<16} Byte\n",
            self.original * self.page_size
        );
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_makedumpfiles_layout() {
        let usage = MemUsage {
            page_size: 4096,
            original: 1000,
            zero: 10,
            cache: 20,
            cache_private: 30,
            user: 40,
            free: 500,
            other_excluded: 0,
        };
        let expected = "\nTYPE\t\tPAGES\t\t\tEXCLUDABLE\tDESCRIPTION\n\
            ----------------------------------------------------------------------\n\
            ZERO\t\t10              \tyes\t\tPages filled with zero\n\
            NON_PRI_CACHE\t20              \tyes\t\tCache pages without private flag\n\
            PRI_CACHE\t30              \tyes\t\tCache pages with private flag\n\
            USER\t\t40              \tyes\t\tUser process pages\n\
            FREE\t\t500             \tyes\t\tFree pages\n\
            KERN_DATA\t400             \tno\t\tDumpable kernel data \n\
            \n\
            page size:\t\t4096            \n\
            Total pages on system:\t1000            \n\
            Total size on system:\t4096000          Byte\n";
        assert_eq!(usage.table(), expected);
    }
}
