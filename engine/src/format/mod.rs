//! The kdump-compressed ("diskdump") file format and the flattened stream format, as
//! makedumpfile writes them. Every on-disk struct has an explicit encoder and a size
//! assertion; nothing here knows about threads or the CLI.

mod bytes;
pub mod disk_dump_header;
pub mod flat;
pub mod layout;
pub mod output;
pub mod page_desc;
pub mod sub_header;

pub use disk_dump_header::{DiskDumpHeader, Utsname, DISK_DUMP_HEADER_SIZE, KDUMP_SIGNATURE};
pub use layout::KdumpLayout;
#[cfg(any(test, feature = "testing"))]
pub use output::MemoryOutput;
pub use output::{DumpOutput, FileOutput, FlatOutput, NullOutput};
pub use page_desc::{PageDesc, PAGE_DESC_SIZE};
pub use sub_header::{KdumpSubHeader, KDUMP_SUB_HEADER_SIZE};
