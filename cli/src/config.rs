//! Command-line parsing, stage two: validate the raw options into a run configuration,
//! with makedumpfile's rules and messages (`check_param_for_creating_dumpfile`,
//! `check_param_for_rearranging_dumpdata`, `parse_dump_level`, `set_message_level`).

use engine::job::Compression;

use crate::messages::{DEFAULT_MSG_LEVEL, ML_PRINT_DEBUG_MSG, ML_PRINT_REPORT_MSG};
use crate::options::{atoi, RawArgs};

/// What the run does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `-h` / `--help`.
    Help,
    /// `-v`.
    Version,
    /// Write a dump from VMCORE; `dumpfile` is `None` with `-F` (stdout).
    Create {
        /// The input.
        vmcore: String,
        /// The output file, or `None` for the flattened stream on stdout.
        dumpfile: Option<String>,
    },
    /// `--dump-dmesg VMCORE LOGFILE`; `logfile` is `None` with `-F` (stdout).
    Dmesg {
        /// The input.
        vmcore: String,
        /// The log file, or `None` for stdout.
        logfile: Option<String>,
    },
    /// `-R DUMPFILE`: rebuild from a flattened stream on stdin.
    Rebuild {
        /// The output file.
        dumpfile: String,
    },
    /// `--split VMCORE F1 F2 ...`: one dump in several files, each a pfn range.
    Split {
        /// The input.
        vmcore: String,
        /// The output files, in pfn order.
        dumpfiles: Vec<String>,
    },
    /// `--reassemble F1 F2 ... DUMPFILE`: join split files into one dump.
    Reassemble {
        /// The split files.
        parts: Vec<String>,
        /// The output file.
        dumpfile: String,
    },
    /// `--verify DUMPFILE...` (ours): check dumps at rest, one file or a split set.
    Verify {
        /// The files: one dump, or every file of a split set.
        dumpfiles: Vec<String>,
    },
    /// `--mem-usage /proc/kcore`: classify the running kernel's pages, print the table.
    MemUsage {
        /// The memory image (the first operand; makedumpfile ignores a second one).
        memory: String,
    },
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// What to do.
    pub mode: Mode,
    /// `-c/-l/-p/-z` (the last one given wins).
    pub compression: Compression,
    /// `-d` levels; the first is used, the others are retry levels.
    pub dump_levels: Vec<u8>,
    /// Whether `-d` was given (`--mem-usage` then also estimates those levels).
    pub dump_level_given: bool,
    /// Effective message level.
    pub message_level: u8,
    /// `-f`.
    pub force: bool,
    /// `--non-mmap`.
    pub non_mmap: bool,
    /// `-F`.
    pub flatten: bool,
    /// `--num-threads`.
    pub threads: usize,
    /// `--cyclic-buffer` in KiB.
    pub cyclic_buffer_kb: Option<u64>,
    /// `-b`.
    pub block_order: u32,
    /// `--check-params`.
    pub check_params: bool,
    /// `--dry-run`: do everything but write.
    pub dry_run: bool,
    /// `-L SIZE`: output size limit in bytes.
    pub size_limit: Option<u64>,
    /// `--partial-dmesg`.
    pub partial_dmesg: bool,
    /// `--dmesg-caller-id` (ours): the caller id column of makedumpfile 1.7.5+.
    pub dmesg_caller_id: bool,
    /// `-E`: ELF output.
    pub elf_output: bool,
    /// `--splitblock-size` in KiB (makedumpfile default 1 GiB).
    pub splitblock_kb: Option<i64>,
    /// `--verify` (ours): read the dump back and check it once written.
    pub verify: bool,
}

/// Why the configuration is invalid; `message` is printed as a common message, and
/// `usage_hint` adds makedumpfile's two "Commandline parameter is invalid." lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Specific message (may be empty).
    pub message: String,
    /// Whether to print the generic invalid-parameter lines.
    pub usage_hint: bool,
}

impl ConfigError {
    pub(crate) fn invalid() -> Self {
        ConfigError {
            message: String::new(),
            usage_hint: true,
        }
    }

    pub(crate) fn with(message: impl Into<String>, usage_hint: bool) -> Self {
        ConfigError {
            message: message.into(),
            usage_hint,
        }
    }
}

/// Options that makedumpfile has and this tool does not implement yet: refused with a
/// clear message rather than silently ignored.
pub(crate) const NOT_YET: &[(&str, &str)] = &[
    ("x", "-x VMLINUX"),
    ("i", "-i VMCOREINFO"),
    ("g", "-g VMCOREINFO"),
    ("config", "--config"),
    ("eppic", "--eppic"),
    ("X", "-X (Xen)"),
    ("xen-syms", "--xen-syms"),
    ("xen-vmcoreinfo", "--xen-vmcoreinfo"),
    ("xen_phys_start", "--xen_phys_start"),
    ("diskset", "--diskset"),
    ("e", "-e"),
    ("work-dir", "--work-dir"),
    ("vtop", "--vtop"),
    ("extension", "--extension"),
];

/// makedumpfile `check_param_for_creating_dumpfile`, the checks about -E, --split and
/// --num-threads, in its order. `Some(message)` = invalid (the message may be empty).
fn incompatible(config: &Config, split: bool) -> Option<String> {
    if config.elf_output && config.compression != Compression::None {
        return Some(String::new());
    }
    if config.flatten && split {
        return Some(String::new());
    }
    if config.threads > 0 {
        if split {
            return Some("--num-threads cannot used with --split.\n".into());
        }
        if config.elf_output {
            return Some("--num-threads cannot used with ELF format.\n".into());
        }
    }
    if split && config.elf_output {
        return Some("Options for splitting dumpfile cannot be used with Elf format.\n".into());
    }
    None
}

/// `--split VMCORE F1 F2 ...`: at least two output files.
fn split_mode(config: &Config, ops: &[String]) -> Result<Mode, ConfigError> {
    if ops.len() <= 2 || config.flatten {
        return Err(ConfigError::invalid());
    }
    Ok(Mode::Split {
        vmcore: ops[0].clone(),
        dumpfiles: ops[1..].to_vec(),
    })
}

/// `--reassemble F1 ... DUMPFILE` (makedumpfile `check_param_for_reassembling_dumpfile`:
/// no compression, dump level, -E, -F or --split).
fn reassemble_mode(config: &Config, split: bool, ops: &[String]) -> Result<Mode, ConfigError> {
    if config.compression != Compression::None
        || config.dump_levels.iter().any(|&l| l != 0)
        || config.elf_output
        || config.flatten
        || split
        || ops.len() < 2
    {
        return Err(ConfigError::invalid());
    }
    if config.dry_run {
        return Err(ConfigError::with(
            "--dry-run cannot be used with --reassemble.\n",
            true,
        ));
    }
    Ok(Mode::Reassemble {
        parts: ops[..ops.len() - 1].to_vec(),
        dumpfile: ops[ops.len() - 1].clone(),
    })
}

/// `--verify` with options it cannot go with, and why.
fn verify_refused(config: &Config, not_a_dump: bool) -> Option<&'static str> {
    if not_a_dump {
        Some("--verify checks a dump: it cannot be used with --dump-dmesg or --mem-usage.\n")
    } else if config.flatten {
        Some("--verify cannot read back a flattened stream sent to standard output: save it to a file, then run makedumpfile --verify FILE.\n")
    } else if config.dry_run {
        Some("--verify cannot check what --dry-run does not write.\n")
    } else {
        None
    }
}

/// Whether `--verify OPERANDS` (no -R, --reassemble or --split) checks dumps at rest
/// rather than writing one: a single operand, three or more, or two of which the first
/// is a split file (a dump cannot be written from one: `--reassemble` first).
fn verifies_at_rest(ops: &[String]) -> bool {
    match ops.len() {
        1 => true,
        2 => engine::verify::is_split_part(std::path::Path::new(&ops[0])),
        n => n >= 3,
    }
}

/// `--verify DUMPFILE...`: the dump options have nothing to act on.
fn verify_mode(mut config: Config, ops: &[String]) -> Result<Config, ConfigError> {
    if config.compression != Compression::None || config.dump_levels != [0] || config.elf_output {
        return Err(ConfigError::with(
            "--verify DUMPFILE... checks dumps at rest: no dump level, compression or -E.\n",
            true,
        ));
    }
    config.mode = Mode::Verify {
        dumpfiles: ops.to_vec(),
    };
    Ok(config)
}

/// Validate `raw`.
pub fn build(raw: &RawArgs) -> Result<Config, ConfigError> {
    let mut config = Config {
        mode: Mode::Help,
        compression: Compression::None,
        dump_levels: vec![0],
        dump_level_given: false,
        message_level: DEFAULT_MSG_LEVEL,
        force: false,
        non_mmap: false,
        flatten: false,
        threads: 0,
        cyclic_buffer_kb: None,
        block_order: 4,
        check_params: false,
        dry_run: false,
        size_limit: None,
        partial_dmesg: false,
        dmesg_caller_id: false,
        elf_output: false,
        splitblock_kb: None,
        verify: false,
    };
    let (mut help, mut version, mut rebuild, mut debug, mut show_stats) =
        (false, false, false, false, false);
    let mut dmesg = false;
    let mut mem_usage = false;
    let (mut split, mut reassemble) = (false, false);
    for option in &raw.options {
        let value = option.value.as_deref().unwrap_or("");
        match option.name.as_str() {
            "c" => config.compression = Compression::Zlib,
            "l" => config.compression = Compression::Lzo,
            "p" => config.compression = Compression::Snappy,
            "z" => config.compression = Compression::Zstd,
            "d" => {
                config.dump_levels = parse_dump_levels(value)?;
                config.dump_level_given = true;
            }
            "message-level" => {
                let level = atoi(value);
                if !(0..=31).contains(&level) {
                    return Err(ConfigError::with(
                        format!("Message_level({level}) is invalid.\n"),
                        false,
                    ));
                }
                config.message_level = level as u8;
            }
            "f" => config.force = true,
            "F" => config.flatten = true,
            "R" => rebuild = true,
            "h" | "help" => help = true,
            "v" => version = true,
            "D" => debug = true,
            "non-mmap" => config.non_mmap = true,
            "num-threads" => config.threads = atoi(value).max(0) as usize,
            "cyclic-buffer" => config.cyclic_buffer_kb = Some(atoi(value).max(0) as u64),
            "b" => config.block_order = atoi(value).clamp(0, 16) as u32,
            "check-params" => config.check_params = true,
            "show-stats" => show_stats = true,
            "dry-run" => config.dry_run = true,
            "dump-dmesg" => dmesg = true,
            "mem-usage" => mem_usage = true,
            "partial-dmesg" => config.partial_dmesg = true,
            "dmesg-caller-id" => config.dmesg_caller_id = true,
            "L" => match parse_size(value) {
                Some(limit) if limit > 0 => config.size_limit = Some(limit),
                _ => {
                    return Err(ConfigError::with(
                        format!("Limit size({value}) is invalid.\n"),
                        false,
                    ))
                }
            },
            "E" => config.elf_output = true,
            "split" => split = true,
            "reassemble" => reassemble = true,
            "splitblock-size" => config.splitblock_kb = Some(atoi(value)),
            "verify" => config.verify = true,
            name => {
                let label = NOT_YET
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, l)| *l)
                    .unwrap_or(name);
                return Err(ConfigError::with(
                    format!("{label} is not supported by this makedumpfile yet.\n"),
                    true,
                ));
            }
        }
    }
    if debug {
        config.message_level |= ML_PRINT_DEBUG_MSG;
    }
    if show_stats {
        config.message_level |= ML_PRINT_REPORT_MSG;
    }
    if config.check_params {
        // --check-params suppresses debugging output whatever the level says.
        config.message_level = DEFAULT_MSG_LEVEL;
    }
    if help {
        config.mode = Mode::Help;
        return Ok(config);
    }
    if version {
        config.mode = Mode::Version;
        return Ok(config);
    }
    let ops = &raw.operands;
    if config.partial_dmesg && !dmesg {
        return Err(ConfigError::invalid());
    }
    if config.dry_run && dmesg {
        return Err(ConfigError::with(
            "--dry-run cannot be used with --dump-dmesg.\n",
            true,
        ));
    }
    if config.verify {
        if let Some(message) = verify_refused(&config, dmesg || mem_usage) {
            return Err(ConfigError::with(message, true));
        }
        if !(rebuild || reassemble || split) && verifies_at_rest(ops) {
            return verify_mode(config, ops);
        }
    }
    config.mode = if dmesg {
        match (ops.len(), config.flatten) {
            (2, false) => Mode::Dmesg {
                vmcore: ops[0].clone(),
                logfile: Some(ops[1].clone()),
            },
            (1, true) => Mode::Dmesg {
                vmcore: ops[0].clone(),
                logfile: None,
            },
            _ => return Err(ConfigError::invalid()),
        }
    } else if rebuild {
        if ops.len() != 1
            || config.compression != Compression::None
            || config.dump_levels != [0]
            || config.flatten
        {
            return Err(ConfigError::invalid());
        }
        Mode::Rebuild {
            dumpfile: ops[0].clone(),
        }
    } else if reassemble {
        reassemble_mode(&config, split, ops)?
    } else if mem_usage {
        // makedumpfile runs check_param_for_creating_dumpfile and then reads only the
        // first operand: `--mem-usage /proc/kcore` or a create-style line.
        if let Some(message) = incompatible(&config, split) {
            return Err(ConfigError::with(message, true));
        }
        match (ops.len(), config.flatten, split) {
            (1, _, _) | (2, false, false) => {}
            (n, _, true) if n >= 2 => {
                split_mode(&config, ops)?;
            }
            _ => return Err(ConfigError::invalid()),
        }
        Mode::MemUsage {
            memory: ops[0].clone(),
        }
    } else if let Some(message) = incompatible(&config, split) {
        return Err(ConfigError::with(message, true));
    } else if split {
        split_mode(&config, ops)?
    } else if ops.len() == 2 && !config.flatten {
        Mode::Create {
            vmcore: ops[0].clone(),
            dumpfile: Some(ops[1].clone()),
        }
    } else if ops.len() == 1 && config.flatten {
        Mode::Create {
            vmcore: ops[0].clone(),
            dumpfile: None,
        }
    } else {
        return Err(ConfigError::invalid());
    };
    Ok(config)
}

/// makedumpfile `memparse`: a C integer (decimal, 0x hex or 0 octal) with an optional
/// K/M/G/T/P/E suffix (powers of 1024); anything after the suffix is an error.
pub fn parse_size(text: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            (hex, 16)
        } else if text.len() > 1 && text.starts_with('0') {
            (&text[1..], 8)
        } else {
            (text, 10)
        };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let value = u64::from_str_radix(&digits[..end], radix).ok()?;
    let shift = match &digits[end..] {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        "P" | "p" => 50,
        "E" | "e" => 60,
        _ => return None,
    };
    value.checked_mul(1u64 << shift)
}

/// `-d 31` or `-d 31,11,1`: each 0..31, at most 8 (makedumpfile NUM_ARRAY_DUMP_LEVEL).
fn parse_dump_levels(text: &str) -> Result<Vec<u8>, ConfigError> {
    let mut levels = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let level = atoi(part);
        if !(0..=31).contains(&level) {
            // makedumpfile stops right there: no "Commandline parameter is invalid." lines.
            return Err(ConfigError::with(
                format!("Dump_level({level}) is invalid.\n"),
                false,
            ));
        }
        if levels.len() >= 8 {
            return Err(ConfigError::with("Dump_level is invalid.\n", true));
        }
        levels.push(level as u8);
    }
    if levels.is_empty() {
        levels.push(0);
    }
    Ok(levels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::parse;

    fn build_from(args: &[&str]) -> Result<Config, ConfigError> {
        build(&parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap())
    }

    #[test]
    fn the_distributions_lines_are_accepted() {
        let fedora = build_from(&[
            "-l",
            "--message-level",
            "7",
            "-d",
            "31",
            "/proc/vmcore",
            "out",
        ])
        .unwrap();
        assert_eq!(fedora.compression, Compression::Lzo);
        assert_eq!(fedora.dump_levels, vec![31]);
        assert_eq!(
            fedora.mode,
            Mode::Create {
                vmcore: "/proc/vmcore".into(),
                dumpfile: Some("out".into())
            }
        );
        let debian = build_from(&["-F", "-c", "-d", "31", "/proc/vmcore"]).unwrap();
        assert_eq!(
            debian.mode,
            Mode::Create {
                vmcore: "/proc/vmcore".into(),
                dumpfile: None
            }
        );
        assert!(debian.flatten);
    }

    #[test]
    fn mem_usage_reads_the_first_operand_as_makedumpfile() {
        let memory = |args: &[&str]| match build_from(args).map(|c| c.mode) {
            Ok(Mode::MemUsage { memory }) => Ok(memory),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.message),
        };
        assert_eq!(
            memory(&["--mem-usage", "/proc/kcore"]),
            Ok("/proc/kcore".into())
        );
        assert_eq!(
            memory(&["--mem-usage", "-d", "1", "kc", "x"]),
            Ok("kc".into())
        );
        assert_eq!(memory(&["--mem-usage", "-F", "kc"]), Ok("kc".into()));
        assert!(memory(&["--mem-usage"]).is_err());
        assert!(memory(&["--mem-usage", "a", "b", "c"]).is_err());
        assert!(memory(&["--mem-usage", "-F", "a", "b"]).is_err());
        assert!(memory(&["--mem-usage", "-E", "-c", "a"]).is_err());
        assert_eq!(
            memory(&["--mem-usage", "-E", "--num-threads", "2", "a"]),
            Err("--num-threads cannot used with ELF format.\n".into())
        );
    }

    #[test]
    fn wrong_operand_counts_are_invalid() {
        assert!(build_from(&["-F", "a", "b"]).is_err());
        assert!(build_from(&["a"]).is_err());
        assert!(build_from(&["-R"]).is_err());
        assert!(build_from(&["-R", "-c", "out"]).is_err());
        assert!(build_from(&["-R", "out"]).is_ok());
    }

    #[test]
    fn bad_levels_name_the_value() {
        assert_eq!(
            build_from(&["-d", "32", "a", "b"]).unwrap_err().message,
            "Dump_level(32) is invalid.\n"
        );
        assert_eq!(
            build_from(&["--message-level", "99", "a", "b"])
                .unwrap_err()
                .message,
            "Message_level(99) is invalid.\n"
        );
        assert_eq!(
            build_from(&["-d", "31,1", "a", "b"]).unwrap().dump_levels,
            vec![31, 1]
        );
    }

    #[test]
    fn sizes_parse_like_memparse() {
        assert_eq!(parse_size("20M"), Some(20 << 20));
        assert_eq!(parse_size("0x10k"), Some(16 << 10));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("12Q"), None);
        assert_eq!(parse_size("M"), None);
        assert!(build_from(&["-L", "0", "a", "b"])
            .unwrap_err()
            .message
            .contains("Limit size(0) is invalid."));
    }

    #[test]
    fn dmesg_operands() {
        assert_eq!(
            build_from(&["--dump-dmesg", "vmcore", "log"]).unwrap().mode,
            Mode::Dmesg {
                vmcore: "vmcore".into(),
                logfile: Some("log".into())
            }
        );
        assert_eq!(
            build_from(&["-F", "--dump-dmesg", "vmcore"]).unwrap().mode,
            Mode::Dmesg {
                vmcore: "vmcore".into(),
                logfile: None
            }
        );
        assert!(build_from(&["--partial-dmesg", "a", "b"]).is_err());
        assert!(build_from(&["--dry-run", "--dump-dmesg", "a", "b"]).is_err());
    }

    #[test]
    fn last_compression_wins_and_unimplemented_options_are_refused() {
        assert_eq!(
            build_from(&["-c", "-z", "a", "b"]).unwrap().compression,
            Compression::Zstd
        );
        let err = build_from(&["--vtop", "0", "a", "b"]).unwrap_err();
        assert!(err.message.contains("--vtop"));
    }
}
