//! makedumpfile(8) in roff, rendered from the option table the parser reads and the
//! synopses `-h` prints. The rendered page is committed as `packaging/makedumpfile.8`
//! (the Debian package installs it); a unit test fails when the two differ, and
//! `MAKEDUMPFILE_RS_WRITE_MAN=1 cargo test -p makedumpfile-cli man_page` rewrites it.
//!
//! The text is ours; the facts in "differences" are those the README's compatibility
//! section lists and the test suite checks.

use crate::option_table::{OptionSpec, Origin, Support, OPTIONS};
use crate::usage::SYNOPSES;

const DESCRIPTION: &[&str] = &[
    "When a Linux kernel configured for kdump panics, a second kernel, the capture kernel, \
     starts in memory that the first one reserved with crashkernel= and sees the crashed \
     kernel's memory as /proc/vmcore. makedumpfile runs there: it reads that memory, leaves \
     out the classes of pages chosen with -d, compresses the others page by page and writes \
     a dump that crash(8), drgn and libkdumpfile can read. The kdump scripts of the \
     distributions (kdump-tools, kdumpctl) run it with their usual command lines.",
    "This makedumpfile is makedumpfile-rs, written in Rust. It takes makedumpfile's command \
     lines and writes the same bytes as makedumpfile 1.7.2 wherever that version can write \
     the same dump. The output does not depend on the number of threads.",
    "VMCORE is an ELF core (/proc/vmcore or a copy of it), a kdump-compressed dump (which \
     is then filtered again, with a higher dump level) or a flattened stream. A dump \
     file is first written with its header marked incomplete, and marked complete only when \
     every page is on disk: a run that stops half way never leaves a file that a reader \
     takes for a whole dump. An existing file is only overwritten with -f.",
    "Whatever VMCORE holds is checked before it is used: a damaged or hostile input gives \
     a message naming the file and the field, and exit status 1.",
];

const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "The dump, log or table was written completely."),
    (
        "1",
        "Invalid command line, unreadable or malformed input, an output file that exists \
         (without -f), a write error, or an output cut short by -L or a full disk (the \
         dump is then marked incomplete).",
    ),
];

/// Where we differ from makedumpfile on purpose (README, "Compatibility with makedumpfile").
const DIFFERENCES: &[&str] = &[
    "All four compressions, -c (zlib), -l (LZO), -p (snappy) and -z (zstd), are always \
     built in; -c and -l write the same bytes as the zlib and LZO libraries.",
    "--num-threads N runs threads that wait without spinning and hand pages over in \
     order, so the dump is the same for every N and two threads are faster than one; \
     makedumpfile's threads busy-wait.",
    "The dump's header is written first with the incomplete bit set and rewritten only \
     when every page is on disk, and a page descriptor is only written after the data \
     it points to.",
    "-R marks the rebuilt file incomplete when the flattened stream is cut short, and ends \
     with exit status 1 on a stream that -F -L cut or on the empty stream of -F --dry-run \
     (makedumpfile 1.7.2 spins forever on both).",
    "A flattened stream can be filtered again like the file it stands for (makedumpfile \
     1.7.2 refuses it).",
    "--split writes its files at the same time on threads of one process, not one \
     process per file.",
    "Error messages name the file and the field, without makedumpfile's C function \
     names in front; the wording after them is makedumpfile's.",
    "Page layouts of kernels up to 7.1 are known; makedumpfile 1.7.2 warns that the \
     kernel version is not supported for kernels newer than itself.",
    "An ELF input's program headers are read where e_phoff says (QEMU writes them \
     elsewhere than right after the ELF header).",
    "--mem-usage reads the right memory when the crash kernel's reservation starts at \
     the beginning of a RAM segment of /proc/kcore (makedumpfile 1.7.2 reads the \
     reserved memory instead).",
    "--show-stats adds each pass's time and throughput to the report.",
];

/// The whole page.
pub fn render() -> String {
    let mut page = String::new();
    page.push_str(
        ".\\\" makedumpfile(8), generated from the option table of makedumpfile-rs\n\
         .\\\" (cli/src/man_page.rs); edit that file, not this one.\n",
    );
    page.push_str(&format!(
        ".TH MAKEDUMPFILE 8 \"\" \"makedumpfile-rs {}\" \"System Administration\"\n",
        env!("CARGO_PKG_VERSION")
    ));
    page.push_str(".SH NAME\nmakedumpfile \\- make a small dump of a crashed kernel's memory\n");

    page.push_str(".SH SYNOPSIS\n");
    for (_, command) in SYNOPSES {
        let args = command.strip_prefix("makedumpfile").unwrap_or(command);
        page.push_str(&format!(".br\n\\fBmakedumpfile\\fR{}\n", escape(args)));
    }

    page.push_str(".SH DESCRIPTION\n");
    for paragraph in DESCRIPTION {
        page.push_str(&format!(".PP\n{}\n", escape(paragraph)));
    }
    page.push_str(".PP\nThe ways to run it:\n");
    for (what, command) in SYNOPSES {
        page.push_str(&format!(
            ".TP\n{}\n{}.\n",
            bold_command(command),
            escape(what)
        ));
    }

    page.push_str(".SH OPTIONS\n");
    for spec in OPTIONS.iter().filter(|o| o.support == Support::Yes) {
        page.push_str(&option_item(spec));
    }

    page.push_str(".SH \"OPTIONS NOT SUPPORTED YET\"\n");
    page.push_str(
        "makedumpfile has these options too. makedumpfile\\-rs recognises them and refuses \
         them with a message and exit status 1, rather than ignoring them.\n",
    );
    for spec in OPTIONS.iter().filter(|o| o.support == Support::NotYet) {
        page.push_str(&option_item(spec));
    }

    page.push_str(".SH \"EXIT STATUS\"\n");
    for (status, meaning) in EXIT_STATUS {
        page.push_str(&format!(".TP\n.B {status}\n{}\n", escape(meaning)));
    }

    page.push_str(".SH \"DIFFERENCES FROM MAKEDUMPFILE\"\n");
    for difference in DIFFERENCES {
        page.push_str(&format!(".IP \\(bu 2\n{}\n", escape(difference)));
    }
    let ours: Vec<String> = OPTIONS
        .iter()
        .filter(|o| o.origin == Origin::Ours)
        .map(|o| format!("\\fB{}\\fR", escape(&o.label())))
        .collect();
    page.push_str(&format!(
        ".IP \\(bu 2\nOptions of makedumpfile\\-rs only: {}.\n",
        ours.join(", ")
    ));
    page.push_str(
        ".IP \\(bu 2\nThe options under \\(lqOPTIONS NOT SUPPORTED YET\\(rq are refused.\n",
    );

    page.push_str(".SH FILES\n");
    page.push_str(".TP\n.I /proc/vmcore\nThe crashed kernel's memory, in the capture kernel.\n");
    page.push_str(".TP\n.I /proc/kcore\nThe running kernel's memory, for \\-\\-mem\\-usage.\n");
    page.push_str(".SH \"SEE ALSO\"\n.BR crash (8),\n.BR kdump\\-config (8),\n.BR kexec (8)\n");
    page.push_str(
        ".SH LICENSE\nmakedumpfile\\-rs is free software under the GNU General Public \
         License, version 2 or (at your option) any later version.\n",
    );
    page
}

/// `.TP` item: the option in bold, its argument in italics, then the help.
fn option_item(spec: &OptionSpec) -> String {
    let names: Vec<String> = spec
        .short
        .map(|c| format!("\\fB\\-{c}\\fR"))
        .into_iter()
        .chain(
            spec.long
                .map(|l| format!("\\fB{}\\fR", escape(&format!("--{l}")))),
        )
        .collect();
    let arg = spec
        .arg
        .map(|a| format!(" \\fI{}\\fR", escape(a)))
        .unwrap_or_default();
    let ours = if spec.origin == Origin::Ours {
        " (makedumpfile\\-rs only.)"
    } else {
        ""
    };
    format!(
        ".TP\n{}{arg}\n{}{ours}\n",
        names.join(", "),
        escape(spec.help)
    )
}

/// A synopsis command line with the program name in bold.
fn bold_command(command: &str) -> String {
    let args = command.strip_prefix("makedumpfile").unwrap_or(command);
    format!("\\fBmakedumpfile\\fR{}", escape(args))
}

/// Plain text as roff: backslashes escaped, a dash that starts an option (`-d`, `--split`)
/// written as a minus sign (`\-`, so that it copies and searches as ASCII), and a line
/// that would start with a control character guarded by `\&`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut previous = ' ';
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' if previous.is_whitespace() || "[|(-\"'".contains(previous) => out.push_str("\\-"),
            _ => out.push(c),
        }
        previous = c;
    }
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn committed_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../packaging/makedumpfile.8")
    }

    #[test]
    fn man_page_file_matches_the_option_table() {
        let rendered = render();
        let path = committed_path();
        if std::env::var_os("MAKEDUMPFILE_RS_WRITE_MAN").is_some() {
            std::fs::write(&path, &rendered).expect("write packaging/makedumpfile.8");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == rendered,
            "{} differs from the option table; regenerate it with \
             MAKEDUMPFILE_RS_WRITE_MAN=1 cargo test -p makedumpfile-cli man_page",
            path.display()
        );
    }

    #[test]
    fn every_option_is_documented() {
        let page = render();
        for spec in OPTIONS {
            for name in spec
                .short
                .map(|c| format!("\\fB\\-{c}\\fR"))
                .into_iter()
                .chain(
                    spec.long
                        .map(|l| format!("\\fB{}\\fR", escape(&format!("--{l}")))),
                )
            {
                assert!(page.contains(&name), "{name} is not in the man page");
            }
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape("-d 31 --split kdump-tools a\\b"),
            "\\-d 31 \\-\\-split kdump-tools a\\eb"
        );
        assert_eq!(escape(".x"), "\\&.x");
    }
}
