//! `--verify` (ours): the report of a dump read back, after writing it or on its own
//! (`makedumpfile --verify DUMPFILE...`). The report goes with the common messages; the
//! first fault becomes the run's error (stderr, exit status 1).

use engine::verify::{verify_dump, VerifyOptions, VerifyReport};
use engine::{Error, Result};

use crate::config::Config;
use crate::messages::Messages;

/// What the dump job is asked to check after writing, if `--verify` was given.
pub fn after_writing(config: &Config) -> Option<VerifyOptions> {
    config.verify.then(|| VerifyOptions {
        threads: config.threads,
        ..VerifyOptions::default()
    })
}

/// `makedumpfile --verify DUMPFILE...`. A single dump must also hold its protected pages
/// (found from its own VMCOREINFO and page tables); a split set is checked without them,
/// as no part alone holds the tables that locate them.
pub fn at_rest(config: &Config, dumpfiles: &[String], messages: &Messages) -> Result<()> {
    let mut options = VerifyOptions {
        threads: config.threads,
        ..VerifyOptions::default()
    };
    if let [dumpfile] = dumpfiles {
        match engine::job::protected_pfns(dumpfile) {
            Ok(pfns) => options.must_be_present = pfns,
            Err(e) => messages.common(&format!("--verify: protected pages not checked: {e}\n")),
        }
    }
    let report = verify_dump(dumpfiles, &options)?;
    print(messages, Some(&report))
}

/// Print `report` (if the job verified) and turn its fault into the run's error.
pub fn print(messages: &Messages, report: Option<&VerifyReport>) -> Result<()> {
    let Some(report) = report else {
        return Ok(());
    };
    messages.common(&format!("\n{report}"));
    match &report.fault {
        None => Ok(()),
        Some(fault) => Err(Error::invalid(format!("verify: {fault}"))),
    }
}
