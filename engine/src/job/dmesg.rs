//! The `--dump-dmesg` mode: the crashed kernel's log, extracted from an ELF vmcore or a
//! kdump-compressed (or flattened) dump, to a file or (with `-F`, as openSUSE's kdump
//! calls it) to standard output. `-f` and `-L` apply as for dumps, through
//! [`super::output::OutputRules::write_log`].

use crate::arch::{kdump_loads, Translator};
use crate::dmesg::{dump_dmesg, DmesgOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::input::elf::PtLoad;
use crate::input::PhysicalMemory;
use crate::kernel_version::KernelVersion;
use crate::progress::{MessageKind, ProgressObserver};

use super::input::{self, describe_vmcore, JobInput};
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
    let name = job.input_name();
    let source = JobInput::open(name, input::detect(name)?, job.use_mmap)?;
    // The translator needs PT_LOADs; a kdump-compressed input has none, so it gets the
    // one kernel-text segment that carries its sub header's phys_base, as when
    // refiltering (makedumpfile reads a dump's log the same way).
    let (memory, info, loads): (&dyn PhysicalMemory, _, Vec<PtLoad>) = match &source {
        JobInput::Elf(vmcore) => {
            observer.message(MessageKind::Debug, &describe_vmcore(vmcore));
            (vmcore, vmcore.vmcoreinfo(), vmcore.loads().to_vec())
        }
        JobInput::Dump(dump) => (
            dump,
            dump.vmcoreinfo(),
            kdump_loads(
                dump.arch(),
                dump.vmcoreinfo(),
                dump.dump().sub_header.phys_base,
            ),
        ),
    };
    let info = info.ok_or_else(|| {
        Error::invalid(format!(
            "{name}: the input has no VMCOREINFO: Can't find some symbols for log_buf."
        ))
    })?;
    let version = KernelVersion::parse(info.osrelease().unwrap_or(""))?;
    let translator = Translator::new(memory.arch(), info, &loads, version, memory.page_size())
        .map_err(|e| e.context(name))?;
    let mut log = Vec::new();
    let mut reader = memory.reader()?;
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
