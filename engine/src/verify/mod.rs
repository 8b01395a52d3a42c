//! `--verify`: reopen a dump with our reader and check that it is sound, before anyone
//! needs it (issue 17). A kdump-compressed file (plain, or a flattened stream saved to a
//! file), the files of a `--split` set together, or an ELF dump (`-E`).
//!
//! For a kdump-compressed file, in this order (the first fault is reported):
//! 1. the header and sub header parse, the header is not marked incomplete, the notes,
//!    VMCOREINFO and eraseinfo lie where they should (`kdump.rs`);
//! 2. every page frame the 2nd bitmap dumps is RAM in the 1st, and the file holds the
//!    whole descriptor table the 2nd bitmap implies (`kdump.rs`);
//! 3. for a split set, the parts are of one dump and cover every page frame once
//!    (the same check `--reassemble` makes);
//! 4. every page frame of [`VerifyOptions::must_be_present`] is in the dump;
//! 5. every descriptor, in pfn order, lies inside the file with a possible size and flag,
//!    and its data decodes to exactly one page; the descriptors' data begins where the
//!    table ends, so a bit flipped in the 2nd bitmap is caught (`pages.rs`).
//!
//! An ELF dump is checked as the ELF reader opens a vmcore (`elf.rs`). A flattened ELF
//! stream is refused: rebuild it with `-R`, then verify the file.
//!
//! ```no_run
//! use engine::verify::{verify_dump, VerifyOptions};
//!
//! let report = verify_dump(&["/var/crash/dump"], &VerifyOptions::default())?;
//! match &report.fault {
//!     None => println!("{report}"),
//!     Some(fault) => eprintln!("{fault}"),
//! }
//! # Ok::<(), engine::Error>(())
//! ```

mod elf;
mod fault;
mod image;
mod kdump;
mod pages;
mod report;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

pub use self::fault::Fault;
pub use self::pages::PageCounts;
pub use self::report::{DumpKind, VerifiedFile, VerifyReport};

use self::image::{DumpImage, FlatIndex};
use self::kdump::PagePlan;
use crate::error::{Error, Result};
use crate::format::flat::is_flattened;
use crate::format::{DiskDumpHeader, KdumpSubHeader, DISK_DUMP_HEADER_SIZE, KDUMP_SUB_HEADER_SIZE};
use crate::input::elf::is_elf;
use crate::input::kdump::{ByteSource, KdumpFile};
use crate::split::{check_parts, SplitPart};

/// What else to check, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Page frames that must be in the dump (the protected pages: the kernel's own data,
    /// which a dump level must never drop).
    pub must_be_present: Vec<u64>,
    /// Decode pages on this many threads (0 or 1: on the calling thread). The report is
    /// the same for every count.
    pub threads: usize,
}

/// Verify the dump stored in `paths`: one file, or every file of a `--split` set. A fault
/// is not an error: it is in the report ([`VerifyReport::fault`]). The error is for a
/// request that cannot be a dump (no file at all).
pub fn verify_dump<P: AsRef<Path>>(paths: &[P], options: &VerifyOptions) -> Result<VerifyReport> {
    if paths.is_empty() {
        return Err(Error::argument("--verify needs at least one dump file"));
    }
    let mut report = VerifyReport::default();
    report.fault = check_all(paths, options, &mut report).err();
    Ok(report)
}

/// Whether `path` is one file of a `--split` set (a kdump-compressed file whose sub
/// header says `split`). Anything unreadable is not.
pub fn is_split_part(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let mut head = [0u8; DISK_DUMP_HEADER_SIZE];
    if file.read_exact_at(&mut head, 0).is_err() {
        return false;
    }
    let Ok(header) = DiskDumpHeader::from_bytes(&head, "") else {
        return false;
    };
    let mut sub = [0u8; KDUMP_SUB_HEADER_SIZE];
    file.read_exact_at(&mut sub, header.block_size as u64)
        .is_ok()
        && KdumpSubHeader::from_bytes(&sub, "").is_ok_and(|sub| sub.split != 0)
}

/// One opened file.
enum Opened {
    Elf,
    Kdump(Box<KdumpFile<DumpImage>>),
}

fn check_all<P: AsRef<Path>>(
    paths: &[P],
    options: &VerifyOptions,
    report: &mut VerifyReport,
) -> std::result::Result<(), Fault> {
    let mut parts = Vec::with_capacity(paths.len());
    for path in paths {
        let path = path.as_ref();
        let name = path.display().to_string();
        match open(path, &name)? {
            Opened::Elf if paths.len() == 1 => {
                let checked = elf::check(path, &name, &options.must_be_present)?;
                report.files.push(VerifiedFile {
                    name,
                    kind: DumpKind::Elf,
                    flattened: false,
                    compression: None,
                    counts: PageCounts {
                        pages: checked.pages,
                        raw: checked.pages,
                        ..PageCounts::default()
                    },
                    bytes: checked.bytes,
                });
                return Ok(());
            }
            Opened::Elf => {
                return Err(Fault::new(
                    &name,
                    "format",
                    "an ELF dump is one whole file, not a part of a --split set",
                ))
            }
            Opened::Kdump(dump) => parts.push(SplitPart { name, dump: *dump }),
        }
    }
    let split = parts.iter().any(|p| p.dump.sub_header.split != 0);
    if split || parts.len() > 1 {
        if let Some(whole) = parts.iter().find(|p| p.dump.sub_header.split == 0) {
            return Err(Fault::new(
                &whole.name,
                "sub header split",
                "0: a whole dump; several files are verified together only as the parts of a --split set",
            ));
        }
        let first = parts[0].name.clone();
        check_parts(&mut parts).map_err(|e| Fault::from_error(&first, "split set", &e))?;
    }
    let mut plans: Vec<PagePlan> = Vec::with_capacity(parts.len());
    for part in &parts {
        plans.push(kdump::check_structure(&part.dump, &part.name)?);
    }
    check_present(&parts, &plans, &options.must_be_present)?;
    for (part, plan) in parts.iter().zip(&plans) {
        let (counts, fault) = pages::check_pages(&part.dump, &part.name, plan, options.threads);
        report.files.push(VerifiedFile {
            name: part.name.clone(),
            kind: if part.dump.sub_header.split != 0 {
                DumpKind::SplitPart {
                    start_pfn: plan.range.start,
                    end_pfn: plan.range.end,
                }
            } else {
                DumpKind::Kdump
            },
            flattened: part.dump.source().is_flattened(),
            compression: Some(plan.compression),
            counts,
            bytes: part.dump.source().len(),
        });
        if let Some(fault) = fault {
            return Err(fault);
        }
    }
    Ok(())
}

/// Open `path` and tell what it holds from its first bytes.
fn open(path: &Path, name: &str) -> std::result::Result<Opened, Fault> {
    let file =
        File::open(path).map_err(|e| Fault::new(name, "file", format!("cannot be opened: {e}")))?;
    let len = file
        .metadata()
        .map_err(|e| Fault::io(name, "file size", &e))?
        .len();
    let mut head = [0u8; 32];
    let n = (len as usize).min(head.len());
    file.read_exact_at(&mut head[..n], 0)
        .map_err(|e| Fault::io(name, "kdump header", &e))?;
    if is_elf(&head[..n]) {
        return Ok(Opened::Elf);
    }
    let image = if is_flattened(&head[..n]) {
        let image = DumpImage::Flattened(FlatIndex::build(file, len, name)?);
        let mut inner = [0u8; 4];
        if image.read_at(0, &mut inner).is_ok() && is_elf(&inner) {
            return Err(Fault::new(
                name,
                "format",
                "a flattened ELF dump (-F -E): rebuild it with makedumpfile -R, then verify the file",
            ));
        }
        image
    } else {
        DumpImage::plain(file, len)
    };
    kdump::open(image, name).map(|dump| Opened::Kdump(Box::new(dump)))
}

/// Every pfn of `must_be_present` is dumped by the file whose range holds it.
fn check_present(
    parts: &[SplitPart<DumpImage>],
    plans: &[PagePlan],
    must_be_present: &[u64],
) -> std::result::Result<(), Fault> {
    // Split parts cover [0, max_mapnr) between them (checked before), a whole dump alone.
    for &pfn in must_be_present {
        let holder = parts
            .iter()
            .zip(plans)
            .find(|(_, plan)| plan.range.contains(&pfn));
        match holder {
            Some((part, _)) if part.dump.dumpable.get(pfn) => {}
            Some((part, _)) => {
                return Err(Fault::new(
                    &part.name,
                    "protected page",
                    "must be in the dump, but the 2nd bitmap leaves it out",
                )
                .at_pfn(pfn)
                .at_offset(part.dump.layout.offset_bitmap2() + pfn / 8))
            }
            None => {
                return Err(Fault::new(
                    &parts[0].name,
                    "protected page",
                    format!(
                        "must be in the dump, but it is beyond max_mapnr {:#x}",
                        parts[0].dump.layout.max_mapnr
                    ),
                )
                .at_pfn(pfn))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
