//! The `--dump-dmesg` mode: the crashed kernel's log, extracted from an ELF vmcore, to a
//! file or (with `-F`, as openSUSE's kdump calls it) to standard output. `-f` and `-L`
//! apply as for dumps, through [`super::output::OutputRules::write_log`].

use crate::arch::x86_64::X86_64Translator;
use crate::dmesg::{dump_dmesg, DmesgOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::input::PhysicalMemory;
use crate::kernel_version::KernelVersion;
use crate::progress::{MessageKind, ProgressObserver};

use super::input::{describe_vmcore, open_vmcore};
use super::output::Destination;
use super::{DumpJob, JobReport};

/// Extract the log of the job's input and write it. On a corrupted log the records before
/// the corruption are still written, then the error is returned (makedumpfile does the
/// same). A log cut by `-L` fails with [`ErrorKind::NoSpace`] and an empty message, the
/// makedumpfile message having been emitted.
pub(super) fn write(
    job: &DumpJob,
    options: DmesgOptions,
    observer: &dyn ProgressObserver,
) -> Result<JobReport> {
    let path = match &job.destination {
        Destination::File(path) => Some(path.as_str()),
        Destination::Stdout => None,
        Destination::Split(_) => {
            return Err(Error::argument(
                "--dump-dmesg writes one log, not --split parts",
            ))
        }
    };
    if let Some(path) = path {
        job.rules.check(path)?;
    }
    let vmcore = open_vmcore(job.input_name(), job.use_mmap)?;
    observer.message(MessageKind::Debug, &describe_vmcore(&vmcore));
    let info = vmcore.vmcoreinfo().ok_or_else(|| {
        Error::invalid(format!(
            "{}: the vmcore has no VMCOREINFO: Can't find some symbols for log_buf.",
            job.input_name()
        ))
    })?;
    let version = KernelVersion::parse(info.osrelease().unwrap_or(""))?;
    let translator = X86_64Translator::new(info, vmcore.loads(), version);
    let mut log = Vec::new();
    let mut reader = vmcore.reader()?;
    let extracted = dump_dmesg(info, &translator, &mut *reader, options, &mut log);
    if extracted.is_err() && log.is_empty() {
        return extracted.map(|()| JobReport::default());
    }
    let written = job.rules.write_log(path, &log)?;
    if written < log.len() as u64 {
        let limit = job.rules.size_limit.unwrap_or(written);
        observer.message(
            MessageKind::Common,
            &format!(
                "\nCan't write the log file({}). Size limit({limit}) reached.\n",
                path.unwrap_or("standard output")
            ),
        );
        return Err(Error::new(ErrorKind::NoSpace, String::new()));
    }
    extracted?;
    let mut report = JobReport::default();
    report.summary.bytes_written = written;
    Ok(report)
}
