//! makedumpfile-rs engine: kdump-compressed format, vmcore inputs, per-page codecs,
//! page filtering and the lock-free parallel page pipeline.
//!
//! Data flows one way: input → vmcoreinfo/arch → filter (dumpable bitmap) → pipeline
//! (claim → read → codec → ring → consumer) → format writer. The format and codec
//! modules know nothing of threads; the pipeline knows nothing of the CLI.

// The library's API: one dump job for every mode, `--mem-usage`, `--verify`, progress
// reporting, and the errors they return. Everything else is how the job works.
pub mod job;
pub mod mem_usage;
pub mod progress;
pub mod verify;

/// Declare internal modules: crate-private, except with the `testing` feature, which
/// opens them to the workspace's fuzz targets, benchmarks and property tests (they drive
/// codecs, readers and the pipeline directly). A library user sees only the API above.
macro_rules! internal_modules {
    ($($name:ident),* $(,)?) => {
        $(
            #[cfg(feature = "testing")]
            pub mod $name;
            #[cfg(not(feature = "testing"))]
            mod $name;
        )*
    };
}

internal_modules!(
    arch,
    bitmap,
    budget,
    codec,
    dmesg,
    dump,
    error,
    filter,
    format,
    input,
    kernel_version,
    pipeline,
    protect,
    split,
    vmcoreinfo,
);
mod sync;
#[cfg(any(test, feature = "testing"))]
pub mod synthetic;
#[cfg(any(test, feature = "testing"))]
pub mod xorshift;

pub use error::{Error, ErrorKind, Result};
