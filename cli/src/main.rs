//! `makedumpfile`: a drop-in replacement for makedumpfile, the kdump core collector.
//!
//! Thin by design: parse the command line (two stages: `options` = what was typed,
//! `config` = validated), hand every dump mode to one engine job (`dump`), print
//! makedumpfile's messages and report, and map errors to its exit codes in one place
//! (`exit_code`). Modules import in one direction: main → modes → config/messages.

mod config;
mod debug_info;
mod dump;
#[cfg(test)]
mod man_page;
mod mem_usage;
mod messages;
mod option_table;
mod options;
mod progress;
mod report;
mod usage;
mod verify;

use engine::job::{Destination, DumpJob};
use engine::{Error, ErrorKind};

use crate::config::{Config, Mode};
use crate::messages::Messages;

/// makedumpfile's exit statuses.
const COMPLETED: i32 = 0;
const FAILED: i32 = 1;
/// `-i` VMCOREINFO whose OSRELEASE differs from the vmcore.
const WRONG_RELEASE: i32 = 2;

fn main() {
    return_big_blocks_when_freed();
    std::process::exit(run(std::env::args().skip(1).collect()));
}

/// Serve every allocation of 128 KiB or more (cycle bitmaps, whole bitmaps, rings) with
/// its own mapping, so that it goes back to the system when freed. glibc's default
/// threshold rises to the size of the largest mapped block freed, after which blocks of
/// that size come from the heaps and stay resident; with a cycle's bitmaps freed and
/// built again per cycle, and threads that come and go, peak RSS then grew with the
/// number of cycles (issue 16, generated machines, `-l -d 31 --num-threads 2`: 4.9 MiB at
/// 16 GiB, 5.6 MiB at 256 GiB; 4.7 and 5.1 with this). Setting the threshold fixes it.
fn return_big_blocks_when_freed() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter; it is called first thing in main,
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
    }
}

fn run(args: Vec<String>) -> i32 {
    let default_messages = Messages::default();
    let raw = match options::parse(&args) {
        Ok(raw) => raw,
        Err(e) => {
            eprintln!("makedumpfile: {}", e.0);
            print_invalid(&default_messages);
            return finish(&default_messages, FAILED, Banner::Status);
        }
    };
    let flatten = raw.options.iter().any(|o| o.name == "F");
    let config = match config::build(&raw) {
        Ok(config) => config,
        Err(e) => {
            let messages = Messages::new(messages::DEFAULT_MSG_LEVEL, flatten);
            messages.common(&e.message);
            if e.usage_hint {
                print_invalid(&messages);
            }
            let check_params = raw.options.iter().any(|o| o.name == "check-params");
            let banner = if check_params {
                Banner::Nothing
            } else {
                Banner::Status
            };
            return finish(&messages, FAILED, banner);
        }
    };
    let messages = Messages::new(config.message_level, config.flatten);
    match &config.mode {
        Mode::Help => {
            messages.common(&usage::usage_text());
            return COMPLETED;
        }
        Mode::Version => {
            messages.common(&usage::version_text());
            return COMPLETED;
        }
        _ => {}
    }
    debug_info::print_invocation(&messages, &args);
    if config.check_params {
        // mkdumprd validates a core_collector line this way: options only, no banner.
        return COMPLETED;
    }
    let status = match execute(&config, &messages) {
        Ok(()) => COMPLETED,
        Err(e) => {
            if !e.message().is_empty() {
                messages.error(&format!("{e}\n"));
            }
            exit_code(&e)
        }
    };
    let banner = match config.mode {
        Mode::MemUsage { .. } if status == COMPLETED => Banner::BlankLine,
        _ => Banner::Status,
    };
    finish(&messages, status, banner)
}

fn execute(config: &Config, messages: &Messages) -> engine::Result<()> {
    match &config.mode {
        Mode::Create { vmcore, dumpfile } => {
            let destination = match dumpfile {
                Some(path) => Destination::File(path.clone()),
                None => Destination::Stdout,
            };
            let job = DumpJob::new(vmcore, destination).format(dump::dump_format(config));
            let report = dump::run(config, job, messages)?;
            let excluded = report::ExcludedPages::from_stats(&report.summary, &report.stats);
            report::print(messages, &report.summary, &excluded);
            if let Some(path) = dumpfile {
                messages.common(&format!("\nThe dumpfile is saved to {path}.\n"));
            }
            verify::print(messages, report.verify.as_ref())
        }
        Mode::Dmesg { vmcore, logfile } => {
            let destination = match logfile {
                Some(path) => Destination::File(path.clone()),
                None => Destination::Stdout,
            };
            let job = DumpJob::new(vmcore, destination).format(dump::dmesg_format(config));
            dump::run(config, job, messages)?;
            if let Some(path) = logfile {
                messages.common(&format!("\nThe dmesg log is saved to {path}.\n"));
            }
            Ok(())
        }
        Mode::Rebuild { dumpfile } => {
            let report = dump::run(config, DumpJob::rebuild(dumpfile), messages)?;
            messages.common(&format!("\nThe dumpfile is saved to {dumpfile}.\n"));
            verify::print(messages, report.verify.as_ref())
        }
        Mode::Split { vmcore, dumpfiles } => {
            let destination = Destination::Split(dumpfiles.clone());
            let job = DumpJob::new(vmcore, destination).format(dump::dump_format(config));
            let report = dump::run(config, job, messages)?;
            let excluded = report::ExcludedPages::from_stats(&report.summary, &report.stats);
            report::print(messages, &report.summary, &excluded);
            messages.common(&report::saved_message(dumpfiles));
            verify::print(messages, report.verify.as_ref())
        }
        Mode::Reassemble { parts, dumpfile } => {
            let report = dump::run(
                config,
                DumpJob::reassemble(parts.clone(), dumpfile),
                messages,
            )?;
            messages.common(&format!("\nThe dumpfile is saved to {dumpfile}.\n"));
            verify::print(messages, report.verify.as_ref())
        }
        Mode::Verify { dumpfiles } => verify::at_rest(config, dumpfiles, messages),
        Mode::MemUsage { memory } => mem_usage::run(config, memory, messages),
        Mode::Help | Mode::Version => Ok(()),
    }
}

/// The one place errors become exit statuses.
fn exit_code(error: &Error) -> i32 {
    match error.kind() {
        ErrorKind::OsReleaseMismatch => WRONG_RELEASE,
        _ => FAILED,
    }
}

fn print_invalid(messages: &Messages) {
    messages.common("Commandline parameter is invalid.\n");
    messages.common("Try `makedumpfile --help' for more information.\n");
}

/// How a run ends on the message stream.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Banner {
    /// A blank line, then "makedumpfile Completed." or "makedumpfile Failed.".
    Status,
    /// The blank line only: makedumpfile ends a successful --mem-usage table this way.
    BlankLine,
    /// Nothing: --check-params (mkdumprd validates a core_collector line silently).
    Nothing,
}

fn finish(messages: &Messages, status: i32, banner: Banner) -> i32 {
    if banner != Banner::Nothing {
        messages.common("\n");
    }
    if banner == Banner::Status {
        messages.common(if status == COMPLETED {
            "makedumpfile Completed.\n"
        } else {
            "makedumpfile Failed.\n"
        });
    }
    status
}
