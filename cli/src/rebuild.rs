//! `makedumpfile -R DUMPFILE`: rebuild a dump file from a flattened stream on stdin.

use std::io::Read;
use std::path::Path;

use engine::format::disk_dump_header::DUMP_DH_COMPRESSED_INCOMPLETE;
use engine::format::flat::FlatReader;
use engine::format::output::create_dump_file;
use engine::format::{DiskDumpHeader, DumpOutput, FileOutput, DISK_DUMP_HEADER_SIZE};
use engine::Result;

use engine::job::output::check_output;

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
    if result.is_err() && mark_incomplete(&out) {
        messages.common("This is an incomplete dumpfile, but might analyzable.\n");
    }
    result
}

/// A stream cut short leaves a file whose header may already say "complete": flag it
/// incomplete (status 0x8) so crash and libkdumpfile warn and treat the missing pages as
/// lost, instead of trusting it. makedumpfile leaves such files unmarked.
fn mark_incomplete(out: &FileOutput) -> bool {
    use std::os::unix::fs::FileExt;
    let mut raw = [0u8; DISK_DUMP_HEADER_SIZE];
    if out.file().read_exact_at(&mut raw, 0).is_err() {
        return false;
    }
    let Ok(mut header) = DiskDumpHeader::from_bytes(&raw, "dump") else {
        return false;
    };
    header.status |= DUMP_DH_COMPRESSED_INCOMPLETE;
    out.file().write_all_at(&header.to_bytes(), 0).is_ok()
}
