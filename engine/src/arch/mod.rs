//! Architecture support: turning the dumped kernel's virtual addresses into physical ones.
//!
//! Only x86_64 is implemented (issue 4). [`VirtualReader`] is the cached reader the
//! filter uses for every kernel data structure it follows.

mod virtual_reader;
pub mod x86_64;

pub use virtual_reader::VirtualReader;
