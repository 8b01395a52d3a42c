//! `makedumpfile --dump-dmesg VMCORE LOGFILE` (or `-F --dump-dmesg VMCORE` to stdout, as
//! openSUSE's kdump uses it).

use std::io::Write;
use std::path::Path;

use engine::arch::x86_64::X86_64Translator;
use engine::dmesg::{dump_dmesg, DmesgOptions};
use engine::format::output::create_dump_file;
use engine::input::PhysicalMemory;
use engine::kernel_version::KernelVersion;
use engine::{Error, ErrorKind, Result};

use engine::job::input::{describe_vmcore, open_vmcore};
use engine::job::output::check_output;

use crate::config::Config;

/// Extract the log; on a corrupted log the records before the corruption are still
/// written, then the error is returned (makedumpfile does the same).
pub fn run(
    config: &Config,
    vmcore_path: &str,
    logfile: Option<&str>,
    messages: &crate::messages::Messages,
) -> Result<()> {
    if let Some(path) = logfile {
        check_output(path, config.force)?;
    }
    let vmcore = open_vmcore(vmcore_path, !config.non_mmap)?;
    messages.debug(&describe_vmcore(&vmcore));
    let info = vmcore.vmcoreinfo().ok_or_else(|| {
        Error::invalid(format!(
            "{vmcore_path}: the vmcore has no VMCOREINFO: Can't find some symbols for log_buf."
        ))
    })?;
    let version = KernelVersion::parse(info.osrelease().unwrap_or(""))?;
    let translator = X86_64Translator::new(info, vmcore.loads(), version);
    let mut log = Vec::new();
    let mut reader = vmcore.reader()?;
    let options = DmesgOptions {
        partial: config.partial_dmesg,
        caller_id: config.dmesg_caller_id,
    };
    let result = dump_dmesg(info, &translator, &mut *reader, options, &mut log);
    if result.is_err() && log.is_empty() {
        return result;
    }
    // -L holds here too (makedumpfile writes the log through write_and_check_space): the
    // log is cut at the limit and the run fails.
    let limit = config.size_limit.unwrap_or(u64::MAX);
    let kept = &log[..log.len().min(usize::try_from(limit).unwrap_or(usize::MAX))];
    match logfile {
        Some(path) => {
            let mut file = create_dump_file(Path::new(path), config.force)?;
            file.write_all(kept)
                .and_then(|()| file.sync_all())
                .map_err(|e| {
                    Error::io(
                        ErrorKind::Write,
                        format!("Can't write the log file({path})"),
                        e,
                    )
                })?;
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(kept)
                .and_then(|()| stdout.flush())
                .map_err(|e| {
                    Error::io(
                        ErrorKind::Write,
                        "Can't write the log to standard output",
                        e,
                    )
                })?;
        }
    }
    if kept.len() < log.len() {
        let name = logfile.unwrap_or("standard output");
        messages.common(&format!(
            "\nCan't write the log file({name}). Size limit({limit}) reached.\n"
        ));
        return Err(Error::new(ErrorKind::NoSpace, String::new()));
    }
    result
}
