//! makedumpfile-rs engine: kdump-compressed format, vmcore inputs, per-page codecs,
//! page filtering and the lock-free parallel page pipeline.
//!
//! Data flows one way: input → vmcoreinfo/arch → filter (dumpable bitmap) → pipeline
//! (claim → read → codec → ring → consumer) → format writer. The format and codec
//! modules know nothing of threads; the pipeline knows nothing of the CLI.

pub mod bitmap;
pub mod budget;
pub mod codec;
pub mod error;
pub mod input;
pub mod pipeline;
mod sync;
pub mod vmcoreinfo;

pub use error::{Error, ErrorKind, Result};
