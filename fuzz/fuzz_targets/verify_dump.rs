//! `--verify` on a hostile file: whatever the bytes (a kdump-compressed file, a flattened
//! stream, an ELF dump or garbage), `verify_dump` returns a report — sound, or a fault
//! naming the file — and never panics, hangs or allocates by an unchecked field.
#![no_main]

use engine::verify::{verify_dump, VerifyOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // verify_dump reads files: one scratch file per fuzzing process, rewritten per input.
    let path = std::env::temp_dir().join(format!("fuzz-verify-{}", std::process::id()));
    std::fs::write(&path, data).expect("scratch file");
    let report = verify_dump(&[&path], &VerifyOptions::default()).expect("one path is valid");
    if let Some(fault) = &report.fault {
        assert_eq!(fault.file, path.display().to_string());
        assert!(!fault.field.is_empty() && !fault.detail.is_empty());
    } else {
        assert_eq!(report.files.len(), 1);
    }
});
