//! Whole-machine bitmaps at a dump level, for either kind of input: what the ELF and
//! `--split` modes write from, and the kdump mode when it refilters a dump.
//!
//! Refiltering ORs the requested level with the input's, as makedumpfile's
//! `update_dump_level`: pages the input left out cannot come back.

use crate::arch::kdump_loads;
use crate::dump::DumpBitmaps;
use crate::error::{Error, Result};
use crate::filter::{DumpLevel, FilterStats, PageFilter};
use crate::input::elf::ElfVmcore;
use crate::input::kdump_memory::KdumpMemory;
use crate::input::PhysicalMemory;
use crate::progress::{MessageKind, ProgressObserver};

use super::input::JobInput;

/// Bitmaps, per-class counts and the level they were computed at.
pub(crate) struct LevelBitmaps {
    pub bitmaps: DumpBitmaps,
    pub stats: FilterStats,
    pub dump_level: u8,
}

/// The bitmaps of `source` at `level`.
pub(crate) fn at_level(
    source: &JobInput,
    name: &str,
    level: u8,
    observer: &dyn ProgressObserver,
) -> Result<LevelBitmaps> {
    match source {
        JobInput::Elf(vmcore) => {
            let (bitmaps, stats) = of_vmcore(vmcore, name, level, observer)?;
            Ok(LevelBitmaps {
                bitmaps,
                stats,
                dump_level: level,
            })
        }
        JobInput::Dump(memory) => of_dump(memory, name, level, observer),
    }
}

/// The bitmaps of an ELF vmcore at `dump_level`. makedumpfile sets up translation and
/// finds the mem_maps whenever VMCOREINFO is present, even at levels 0 and 1 (hwpoison and
/// offline pages are always dropped); without VMCOREINFO only levels 0 and 1 are possible.
pub(crate) fn of_vmcore(
    vmcore: &ElfVmcore,
    name: &str,
    dump_level: u8,
    observer: &dyn ProgressObserver,
) -> Result<(DumpBitmaps, FilterStats)> {
    match vmcore_filter(vmcore, name, dump_level, observer)? {
        Some(mut filter) => DumpBitmaps::filtered(vmcore, &mut filter, observer),
        None => Ok((
            DumpBitmaps::unfiltered(vmcore, vmcore.max_mapnr())?,
            FilterStats::default(),
        )),
    }
}

/// The page filter of an ELF vmcore at `dump_level`, or `None` without VMCOREINFO
/// (levels 0 and 1 only).
pub(crate) fn vmcore_filter<'v>(
    vmcore: &'v ElfVmcore,
    name: &str,
    dump_level: u8,
    observer: &dyn ProgressObserver,
) -> Result<Option<PageFilter<'v>>> {
    match vmcore.vmcoreinfo() {
        Some(info) => {
            let filter = PageFilter::new(
                info,
                vmcore,
                vmcore.loads(),
                DumpLevel::new(dump_level as u32)?,
            )
            .map_err(|e| e.context(name))?;
            describe_protected(&filter, observer);
            Ok(Some(filter))
        }
        None if dump_level <= 1 => Ok(None),
        None => Err(Error::invalid(format!(
            "{name}: Dump_level({dump_level}) needs VMCOREINFO, and the vmcore has none"
        ))),
    }
}

/// The protected pages of `filter`, at the debug message level (none at levels that
/// exclude nothing).
fn describe_protected(filter: &PageFilter<'_>, observer: &dyn ProgressObserver) {
    if filter.excludes_anything() {
        observer.message(MessageKind::Debug, &filter.protected().describe());
    }
}

/// makedumpfile's `update_dump_level`: the effective level and its message, if changed.
pub(crate) fn effective_level(
    requested: u8,
    input_level: i32,
    input_name: &str,
) -> (u8, Option<String>) {
    let new_level = (requested as i32 | input_level) as u8;
    if new_level == requested {
        return (requested, None);
    }
    // makedumpfile prints this without a trailing newline.
    let message = format!(
        "dump_level is changed to {new_level}, because {input_name} was created by dump_level({input_level})."
    );
    (new_level, Some(message))
}

/// The bitmaps of a kdump-compressed input refiltered at `requested` OR its own level.
pub(crate) fn of_dump(
    memory: &KdumpMemory,
    name: &str,
    requested: u8,
    observer: &dyn ProgressObserver,
) -> Result<LevelBitmaps> {
    let input_level = memory.dump_level();
    if !(0..=31).contains(&input_level) {
        return Err(Error::invalid(format!(
            "{name}: the sub header's dump_level {input_level} is not a dump level"
        )));
    }
    let (dump_level, message) = effective_level(requested, input_level, name);
    if let Some(message) = message {
        observer.message(MessageKind::Common, &message);
    }
    let text_load = kdump_loads(
        memory.arch(),
        memory.vmcoreinfo(),
        memory.dump().sub_header.phys_base,
    );
    let (bitmaps, stats) = match memory.vmcoreinfo() {
        Some(info) => {
            let mut filter =
                PageFilter::new(info, memory, &text_load, DumpLevel::new(dump_level as u32)?)
                    .map_err(|e| e.context(name))?;
            describe_protected(&filter, observer);
            DumpBitmaps::refiltered(memory, Some(&mut filter), observer)?
        }
        None if dump_level <= 1 => DumpBitmaps::refiltered(memory, None, observer)?,
        None => {
            return Err(Error::invalid(format!(
                "{name}: Dump_level({dump_level}) needs VMCOREINFO, and the dump has none"
            )))
        }
    };
    Ok(LevelBitmaps {
        bitmaps,
        stats,
        dump_level,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_or_ed_with_makedumpfiles_message() {
        assert_eq!(effective_level(31, 0, "in"), (31, None));
        assert_eq!(effective_level(31, 1, "in"), (31, None));
        let (level, message) = effective_level(30, 1, "dump.in");
        assert_eq!(level, 31);
        assert_eq!(
            message.unwrap(),
            "dump_level is changed to 31, because dump.in was created by dump_level(1)."
        );
    }
}
