//! The one table of command-line options: the parser (`options`), `-h` (`usage`) and the
//! man page (`man_page`) all read it, so what is accepted, what is documented and what is
//! refused as "not supported yet" cannot drift apart.
//!
//! makedumpfile's option set is `getopt_long(argc, argv, "b:cDd:eEFfg:hi:lL:pRvXx:z",
//! longopts)` plus its long options; every one of them is here, so that a command line
//! written for makedumpfile is at least understood (and refused clearly where we lack the
//! feature). The help texts are ours.

/// Whose option it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// makedumpfile has it; same name, same argument.
    Makedumpfile,
    /// makedumpfile-rs only.
    Ours,
}

/// Whether the option works today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Implemented.
    Yes,
    /// Parsed, then refused with a message and exit status 1 (`config::NOT_YET`).
    NotYet,
}

/// One option: its names, its argument and what it does.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// `-d` → `Some('d')`.
    pub short: Option<char>,
    /// `--num-threads` → `Some("num-threads")`.
    pub long: Option<&'static str>,
    /// The argument's name in the help (`"DL"`), or `None` for a flag.
    pub arg: Option<&'static str>,
    /// One paragraph of plain text, wrapped by whoever prints it.
    pub help: &'static str,
    /// makedumpfile's option or ours.
    pub origin: Origin,
    /// Implemented or refused.
    pub support: Support,
}

impl OptionSpec {
    /// Whether the option takes an argument.
    pub fn takes_arg(&self) -> bool {
        self.arg.is_some()
    }

    /// The option's names as typed: `-h, --help`.
    pub fn names(&self) -> String {
        let names: Vec<String> = self
            .short
            .map(|c| format!("-{c}"))
            .into_iter()
            .chain(self.long.map(|l| format!("--{l}")))
            .collect();
        names.join(", ")
    }

    /// The option as typed, with its argument: `-d DL`, `-h, --help`, `--num-threads N`.
    pub fn label(&self) -> String {
        match self.arg {
            Some(arg) => format!("{} {arg}", self.names()),
            None => self.names(),
        }
    }
}

const fn opt(
    short: Option<char>,
    long: Option<&'static str>,
    arg: Option<&'static str>,
    help: &'static str,
) -> OptionSpec {
    OptionSpec {
        short,
        long,
        arg,
        help,
        origin: Origin::Makedumpfile,
        support: Support::Yes,
    }
}

const fn not_yet(
    short: Option<char>,
    long: Option<&'static str>,
    arg: Option<&'static str>,
    help: &'static str,
) -> OptionSpec {
    OptionSpec {
        support: Support::NotYet,
        ..opt(short, long, arg, help)
    }
}

/// Every option, in the order `-h` and the man page list them.
#[rustfmt::skip]
pub const OPTIONS: &[OptionSpec] = &[
    opt(Some('c'), None, None,
        "Compress each page with zlib. A page that does not get smaller is stored as it is."),
    opt(Some('l'), None, None, "Compress each page with LZO (LZO1X-1)."),
    opt(Some('p'), None, None, "Compress each page with snappy."),
    opt(Some('z'), None, None, "Compress each page with zstd."),
    opt(Some('d'), None, Some("DL"),
        "Dump level 0-31: the sum of the page classes left out of the dump: 1 pages that \
         hold only zeros, 2 page cache pages that are not private, 4 private page cache \
         pages, 8 pages of user processes, 16 free pages. A comma-separated list such as \
         31,11 names further levels, tried in turn when the output does not fit (the -L \
         limit or a full disk)."),
    opt(Some('E'), None, None,
        "Write an ELF core file instead of the kdump-compressed format (no compression)."),
    opt(Some('F'), None, None,
        "Write the flattened format to standard output, for pipes and remote targets; \
         messages then go to standard error."),
    opt(Some('R'), None, None,
        "Rebuild DUMPFILE from a flattened stream read from standard input."),
    opt(Some('f'), None, None, "Overwrite output files that exist."),
    opt(Some('L'), None, Some("SIZE"),
        "Stop writing at SIZE bytes (suffixes K, M, G, T, P, E); the dump is then marked \
         incomplete and the exit status is 1."),
    opt(None, Some("split"), None,
        "Write one dump into several files, DUMPFILE1 DUMPFILE2 ..., each holding a range \
         of page frames; the files are written at the same time, on threads."),
    opt(None, Some("splitblock-size"), Some("KB"),
        "With --split: the unit in which page frames are shared out among the files \
         (default 1 GiB)."),
    opt(None, Some("reassemble"), None,
        "Join the files of a --split dump, DUMPFILE1 DUMPFILE2 ..., into DUMPFILE."),
    opt(None, Some("dump-dmesg"), None,
        "Write the kernel log of VMCORE, as text, to LOGFILE instead of writing a dump."),
    opt(None, Some("partial-dmesg"), None,
        "With --dump-dmesg: only the records that came after the last 'dmesg -c'."),
    OptionSpec {
        origin: Origin::Ours,
        ..opt(None, Some("dmesg-caller-id"), None,
            "With --dump-dmesg: add the caller column ([T<pid>] or [C<cpu>]) that \
             makedumpfile 1.7.5 and later print; 1.7.2 does not.")
    },
    OptionSpec {
        origin: Origin::Ours,
        ..opt(None, Some("verify"), None,
            "After writing the dump, read it back and check it: the header and its \
             incomplete flag, both bitmaps against the page descriptors, every descriptor \
             inside the file, every page decoding to exactly one page. Given only dump \
             files (makedumpfile --verify DUMPFILE, or every file of a --split set), check \
             dumps at rest, flattened files included. Prints a short report; the exit \
             status is 1 with the first fault named (file, field, pfn or offset). A \
             flattened stream sent to standard output cannot be read back: -F is refused.")
    },
    opt(None, Some("mem-usage"), None,
        "Print how many pages of each class the running kernel holds and how big a dump \
         at each level would be; VMCORE is /proc/kcore, and the kernel must have memory \
         reserved with crashkernel=."),
    opt(None, Some("dry-run"), None, "Do everything except writing the output."),
    opt(None, Some("check-params"), None,
        "Only check the command line; exit status 0 when it is valid."),
    opt(None, Some("num-threads"), Some("N"),
        "Compress with N threads; 0 (the default) compresses on the main thread. The \
         output is the same for every N. N is lowered when free memory cannot hold the \
         threads' buffers."),
    opt(None, Some("cyclic-buffer"), Some("KB"),
        "Size in KiB of the page bitmap for one cycle: memory is filtered and written one \
         cycle of page frames after another."),
    opt(None, Some("non-mmap"), None, "Read VMCORE with read(2) instead of mapping it."),
    opt(Some('b'), None, Some("ORDER"),
        "Write caches of (page size << ORDER) bytes (default 4)."),
    opt(None, Some("message-level"), Some("ML"),
        "Sum of the kinds of message to print: 1 progress, 2 common, 4 error, 8 debug, \
         16 report (default 7)."),
    opt(Some('D'), None, None, "Print debug messages too (adds 8 to the message level)."),
    opt(None, Some("show-stats"), None,
        "Print the report of excluded pages, with each pass's time and throughput \
         (adds 16 to the message level)."),
    opt(Some('v'), None, None, "Print the version and which compressions are built in."),
    opt(Some('h'), Some("help"), None, "Print the usage summary."),
    not_yet(Some('x'), None, Some("VMLINUX"),
        "Read the kernel's symbols and types from VMLINUX instead of VMCOREINFO."),
    not_yet(Some('i'), None, Some("VMCOREINFO"), "Read VMCOREINFO from a file."),
    not_yet(Some('g'), None, Some("VMCOREINFO"), "Write the VMCOREINFO of VMLINUX to a file."),
    not_yet(Some('e'), None, None, "Leave out the page structures of excluded pages."),
    not_yet(None, Some("config"), Some("FILTERCONFIG"),
        "Erase the kernel data named in a filter configuration file."),
    not_yet(None, Some("eppic"), Some("EPPIC_MACRO"), "Erase kernel data with an eppic macro."),
    not_yet(Some('X'), None, None, "Dump a Xen hypervisor's memory."),
    not_yet(None, Some("xen-syms"), Some("XEN_SYMS"), "The Xen hypervisor's symbols."),
    not_yet(None, Some("xen-vmcoreinfo"), Some("VMCOREINFO_XEN"),
        "The Xen hypervisor's VMCOREINFO."),
    not_yet(None, Some("xen_phys_start"), Some("ADDR"), "Where the Xen hypervisor starts."),
    not_yet(None, Some("diskset"), Some("VMCORE"), "One disk of a sadump disk set."),
    not_yet(None, Some("work-dir"), Some("DIR"), "Keep the page bitmap in a file in DIR."),
    not_yet(None, Some("vtop"), Some("VADDR"),
        "Print the physical address of a kernel virtual address."),
    not_yet(None, Some("extension"), Some("ARG"), "Run a makedumpfile extension."),
];

/// The option typed as `-c` (the character after one dash).
pub fn find_short(c: char) -> Option<&'static OptionSpec> {
    OPTIONS.iter().find(|o| o.short == Some(c))
}

/// The option typed as `--name` or an unambiguous prefix of it (getopt_long does both).
/// `Err(())` when the prefix fits several options, `Ok(None)` when it fits none.
pub fn find_long(name: &str) -> Result<Option<&'static OptionSpec>, ()> {
    if let Some(exact) = OPTIONS.iter().find(|o| o.long == Some(name)) {
        return Ok(Some(exact));
    }
    let mut matches = OPTIONS
        .iter()
        .filter(|o| !name.is_empty() && o.long.is_some_and(|l| l.starts_with(name)));
    let Some(first) = matches.next() else {
        return Ok(None);
    };
    if matches.next().is_some() {
        return Err(());
    }
    Ok(Some(first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn makedumpfile_short_options_are_all_here_with_its_arguments() {
        // makedumpfile's optstring: a letter followed by ':' takes an argument.
        let optstring = "b:cDd:eEFfg:hi:lL:pRvXx:z";
        let mut chars = optstring.chars().peekable();
        let mut seen = 0;
        while let Some(c) = chars.next() {
            let takes_arg = chars.next_if_eq(&':').is_some();
            let spec = find_short(c).unwrap_or_else(|| panic!("-{c} missing"));
            assert_eq!(spec.takes_arg(), takes_arg, "-{c}");
            seen += 1;
        }
        let shorts = OPTIONS.iter().filter(|o| o.short.is_some()).count();
        assert_eq!(shorts, seen, "a short option that makedumpfile lacks");
    }

    #[test]
    fn names_are_unique_and_ours_are_marked() {
        let mut names = HashSet::new();
        for o in OPTIONS {
            assert!(o.short.is_some() || o.long.is_some());
            assert!(!o.help.is_empty());
            for name in o
                .short
                .map(String::from)
                .into_iter()
                .chain(o.long.map(String::from))
            {
                assert!(names.insert(name.clone()), "{name} twice");
            }
        }
        let ours: Vec<_> = OPTIONS
            .iter()
            .filter(|o| o.origin == Origin::Ours)
            .map(|o| o.label())
            .collect();
        assert_eq!(ours, vec!["--dmesg-caller-id", "--verify"]);
    }

    #[test]
    fn refused_options_are_exactly_the_ones_config_refuses() {
        let table: HashSet<String> = OPTIONS
            .iter()
            .filter(|o| o.support == Support::NotYet)
            .map(|o| {
                o.long
                    .map(String::from)
                    .unwrap_or_else(|| o.short.unwrap().into())
            })
            .collect();
        let config: HashSet<String> = crate::config::NOT_YET
            .iter()
            .map(|(name, _)| name.to_string())
            .collect();
        assert_eq!(table, config);
    }

    #[test]
    fn labels() {
        assert_eq!(find_short('d').unwrap().label(), "-d DL");
        assert_eq!(find_short('h').unwrap().label(), "-h, --help");
        assert_eq!(
            find_long("num-threads").unwrap().unwrap().label(),
            "--num-threads N"
        );
    }
}
