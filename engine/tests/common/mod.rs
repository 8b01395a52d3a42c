//! What the real-vmcore tests share: where scripts/make-vmcore.sh keeps the vmcores.

use std::path::{Path, PathBuf};

/// `$MAKEDUMPFILE_RS_CACHE`, default `$HOME/.cache/makedumpfile-rs` (scripts/lib.sh).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MAKEDUMPFILE_RS_CACHE") {
        return PathBuf::from(dir);
    }
    let home =
        std::env::var_os("HOME").expect("HOME is not set and MAKEDUMPFILE_RS_CACHE is not given");
    Path::new(&home).join(".cache/makedumpfile-rs")
}
