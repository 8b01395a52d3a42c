//! `-h/--help` and `-v` texts. The option list is rendered from `option_table::OPTIONS`,
//! the table the parser reads, and the synopses below are shared with the man page.

use crate::option_table::{OptionSpec, Origin, Support, OPTIONS};

/// The ways to run the tool: what it does, then the command line (`#` = a root shell).
pub const SYNOPSES: &[(&str, &str)] = &[
    (
        "Write a kdump-compressed DUMPFILE from VMCORE",
        "makedumpfile [-c|-l|-p|-z] [-d DL] [--num-threads N] [-f] VMCORE DUMPFILE",
    ),
    (
        "Write the flattened format to standard output (for pipes and remote targets)",
        "makedumpfile -F [-c|-l|-p|-z] [-d DL] VMCORE",
    ),
    (
        "Rebuild a DUMPFILE from a flattened stream on standard input",
        "makedumpfile -R DUMPFILE",
    ),
    (
        "Write an ELF DUMPFILE",
        "makedumpfile -E [-d DL] VMCORE DUMPFILE",
    ),
    (
        "Write one dump into several files",
        "makedumpfile --split [-c|-l|-p|-z] [-d DL] VMCORE DUMPFILE1 DUMPFILE2 ...",
    ),
    (
        "Join the files of a --split dump into one DUMPFILE",
        "makedumpfile --reassemble DUMPFILE1 DUMPFILE2 ... DUMPFILE",
    ),
    (
        "Extract the kernel log from VMCORE",
        "makedumpfile --dump-dmesg [--partial-dmesg] [--dmesg-caller-id] VMCORE LOGFILE",
    ),
    (
        "Check a dump at rest (one file, a flattened file, or every file of a --split set)",
        "makedumpfile --verify [--num-threads N] DUMPFILE [DUMPFILE2 ...]",
    ),
    (
        "Show what a dump of the running kernel would hold",
        "makedumpfile --mem-usage /proc/kcore",
    ),
];

/// Where the help text of an option starts in `-h` (two spaces, the label, padding).
const HELP_COLUMN: usize = 21;
/// `-h` fits an 80-column terminal.
const WIDTH: usize = 79;

/// Version line plus the compression support lines, in makedumpfile's `-v` shape
/// (scripts grep for "lzo\tenabled" to decide whether `-l` is usable).
pub fn version_text() -> String {
    format!(
        "makedumpfile: version {} (makedumpfile-rs, compatible with makedumpfile 1.7.x)\nlzo\tenabled\nsnappy\tenabled\nzstd\tenabled\n\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The usage text.
pub fn usage_text() -> String {
    let mut text = String::from(
        "\nLZO support:\n  enabled\nsnappy support:\n  enabled\nzstd support:\n  enabled\n\nUsage:\n",
    );
    for (what, command) in SYNOPSES {
        text.push_str(&format!("  {what}:\n  # {command}\n\n"));
    }
    text.push_str("Options:\n");
    for spec in OPTIONS.iter().filter(|o| o.support == Support::Yes) {
        text.push_str(&option_entry(spec));
    }
    let refused: Vec<String> = OPTIONS
        .iter()
        .filter(|o| o.support == Support::NotYet)
        .map(OptionSpec::names)
        .collect();
    text.push('\n');
    text.push_str(&wrap(
        &format!(
            "makedumpfile's {} are not supported yet: they are refused with exit status 1.",
            refused.join(", ")
        ),
        2,
        2,
    ));
    text.push_str("\nmakedumpfile(8) describes every option.\n\n");
    text
}

/// One option: the label, then its help wrapped at `HELP_COLUMN` (on the next line when
/// the label is too long to leave a gap).
fn option_entry(spec: &OptionSpec) -> String {
    let label = format!("  {}", spec.label());
    let help = match spec.origin {
        Origin::Makedumpfile => wrap(spec.help, HELP_COLUMN, HELP_COLUMN),
        Origin::Ours => wrap(
            &format!("{} (makedumpfile-rs only.)", spec.help),
            HELP_COLUMN,
            HELP_COLUMN,
        ),
    };
    if label.len() < HELP_COLUMN {
        format!("{label:<HELP_COLUMN$}{}", &help[HELP_COLUMN..])
    } else {
        format!("{label}\n{help}")
    }
}

/// `text` wrapped at `WIDTH`: the first line indented by `first`, the others by `rest`.
fn wrap(text: &str, first: usize, rest: usize) -> String {
    let mut out = String::new();
    let mut line = " ".repeat(first);
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.len() + 1 + word.len() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = " ".repeat(rest);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_supported_option_and_names_the_refused_ones() {
        let help = usage_text();
        for spec in OPTIONS {
            let shown = match spec.support {
                Support::Yes => spec.label(),
                Support::NotYet => spec.names(),
            };
            assert!(help.contains(&shown), "{shown} missing");
        }
        let options = &help[help.find("Options:").unwrap()..];
        assert!(options.lines().all(|l| l.len() <= WIDTH), "{options}");
    }

    #[test]
    fn short_labels_share_the_line_with_their_help() {
        let help = usage_text();
        assert!(
            help.contains("\n  -d DL              Dump level 0-31"),
            "{help}"
        );
        assert!(
            help.contains("\n  --cyclic-buffer KB Size in KiB"),
            "{help}"
        );
    }

    #[test]
    fn version_keeps_the_lines_scripts_grep_for() {
        assert!(version_text().contains("\nlzo\tenabled\n"));
        assert!(version_text().starts_with("makedumpfile: version "));
    }
}
