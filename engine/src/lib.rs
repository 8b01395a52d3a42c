//! makedumpfile-rs engine: kdump-compressed format, vmcore inputs, per-page codecs,
//! page filtering and the lock-free parallel page pipeline.
//!
//! Data flows one way: input → vmcoreinfo/arch → filter (dumpable bitmap) → pipeline
//! (claim → read → codec → ring → consumer) → format writer. The format and codec
//! modules know nothing of threads; the pipeline knows nothing of the CLI.

pub mod arch;
pub mod bitmap;
pub mod budget;
pub mod codec;
pub mod dmesg;
pub mod dump;
pub mod error;
pub mod filter;
pub mod format;
pub mod input;
pub mod job;
pub mod kernel_version;
pub mod mem_usage;
pub mod pipeline;
pub mod progress;
pub mod split;
mod sync;
#[cfg(any(test, feature = "testing"))]
pub mod synthetic;
pub mod vmcoreinfo;
pub mod xorshift;

pub use error::{Error, ErrorKind, Result};
