//! `--reassemble F1 F2 ... DUMPFILE`: join `--split` files into one dump.

use std::path::Path;

use engine::format::output::create_dump_file;
use engine::format::FileOutput;
use engine::job::output::check_output;
use engine::split::{check_parts, open_parts, reassemble};
use engine::Result;

use crate::messages::Messages;
use crate::progress::ProgressPrinter;

/// Join `parts` into `dumpfile`.
pub fn run(parts: &[String], dumpfile: &str, force: bool, messages: &Messages) -> Result<()> {
    let mut parts = open_parts(parts)?;
    check_parts(&mut parts)?;
    check_output(dumpfile, force)?;
    let progress = ProgressPrinter::new(*messages);
    let file = create_dump_file(Path::new(dumpfile), force)?;
    let mut out = FileOutput::new(file, dumpfile);
    reassemble(&parts, &mut out, &progress)?;
    Ok(())
}
