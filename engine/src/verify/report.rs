//! What `--verify` found: per file, what it is and how many pages were checked; then the
//! first fault, if any.

use std::fmt;

use super::fault::Fault;
use super::pages::PageCounts;
use crate::codec::Compression;

/// What a verified file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    /// A whole kdump-compressed dump.
    Kdump,
    /// One file of a `--split` set, holding the page frames `[start_pfn, end_pfn)`.
    SplitPart {
        /// First page frame of the part.
        start_pfn: u64,
        /// One past its last page frame.
        end_pfn: u64,
    },
    /// An ELF dump (`-E`).
    Elf,
}

/// One verified file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedFile {
    /// The file, as given.
    pub name: String,
    /// What it is.
    pub kind: DumpKind,
    /// Whether it is a flattened stream (`-F` output saved to a file).
    pub flattened: bool,
    /// The compression its header names (kdump-compressed files only).
    pub compression: Option<Compression>,
    /// Pages checked (up to the fault, in a faulty file).
    pub counts: PageCounts,
    /// The file's size in bytes.
    pub bytes: u64,
}

/// The outcome of [`super::verify_dump`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// The files checked, in pfn order for a split set (a file whose structure is at
    /// fault is not listed).
    pub files: Vec<VerifiedFile>,
    /// The first fault, or `None` when the dump is sound.
    pub fault: Option<Fault>,
}

impl VerifyReport {
    /// Whether no fault was found.
    pub fn is_sound(&self) -> bool {
        self.fault.is_none()
    }

    /// Pages checked in every file.
    pub fn pages(&self) -> u64 {
        self.files.iter().map(|f| f.counts.pages).sum()
    }

    /// Bytes of every file checked.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

impl fmt::Display for VerifiedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let form = if self.flattened { "flattened " } else { "" };
        match self.kind {
            DumpKind::Kdump => write!(f, "{}: {form}kdump-compressed", self.name)?,
            DumpKind::SplitPart { start_pfn, end_pfn } => write!(
                f,
                "{}: {form}split part, pfn {start_pfn:#x} - {end_pfn:#x}",
                self.name
            )?,
            DumpKind::Elf => write!(f, "{}: ELF", self.name)?,
        }
        if let Some(compression) = self.compression {
            write!(f, ", {}", compression.name())?;
        }
        let c = &self.counts;
        write!(f, ", {} bytes, {} pages", self.bytes, c.pages)?;
        if self.kind != DumpKind::Elf {
            write!(
                f,
                " ({} compressed, {} raw, {} sharing stored data)",
                c.compressed, c.raw, c.shared
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for VerifyReport {
    /// One line per file, then the verdict.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            writeln!(f, "Verify: {file}")?;
        }
        let files = self.files.len();
        let plural = if files == 1 { "" } else { "s" };
        match &self.fault {
            None => writeln!(
                f,
                "Verify: the dump is sound: {} pages checked in {files} file{plural} ({} bytes).",
                self.pages(),
                self.bytes()
            ),
            Some(_) => writeln!(
                f,
                "Verify: the dump is NOT sound: {} pages checked before the first fault.",
                self.pages()
            ),
        }
    }
}
