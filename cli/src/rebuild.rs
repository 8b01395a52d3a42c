//! `makedumpfile -R DUMPFILE`: rebuild a dump file from a flattened stream on stdin.

use std::io::Read;
use std::path::Path;

use engine::format::disk_dump_header::mark_file_incomplete;
use engine::format::flat::FlatReader;
use engine::format::output::create_dump_file;
use engine::format::{DumpOutput, FileOutput};
use engine::job::output::check_output;
use engine::Result;

use crate::messages::Messages;

/// Apply every record of the stream on `input` to `path`, in stream order (later records
/// overwrite earlier ones, as in makedumpfile's `rearrange_dumpdata`).
pub fn run(path: &str, force: bool, input: impl Read, messages: &Messages) -> Result<()> {
    check_output(path, force)?;
    let mut reader = FlatReader::new(input, "standard input")?;
    let file = create_dump_file(Path::new(path), force)?;
    let mut out = FileOutput::new(file, path);
    let result = (|| {
        while let Some(record) = reader.next_record()? {
            out.write_at(record.offset, &record.data)?;
        }
        out.finish()
    })();
    // A stream cut short leaves a file whose header may already say "complete": flag it
    // incomplete. makedumpfile leaves such files unmarked.
    if result.is_err() && mark_file_incomplete(out.file(), path).is_ok() {
        messages.common("This is an incomplete dumpfile, but might analyzable.\n");
    }
    result
}
