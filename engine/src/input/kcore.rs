//! `/proc/kcore` of the running kernel as physical memory (`--mem-usage`).
//!
//! kcore is an ELF core of the live kernel's virtual address space. Since Linux 4.11 its
//! RAM segments (the direct map) and the kernel-text segment carry a real `p_paddr`;
//! vmalloc, vmemmap and module segments carry `p_paddr = -1`. makedumpfile's
//! `get_kcore_dump_loads` keeps the segments with a physical address and cuts the memory
//! reserved for the capture kernel (`Crash kernel` in /proc/iomem) out of them, so that
//! the page counts describe what a later /proc/vmcore would hold. We do the same, with
//! one difference: makedumpfile does not move `p_offset` when a reserved range cuts the
//! head of a segment (its reads then come from the reserved memory); we do.

use std::ops::Range;

use super::elf::PtLoad;
use crate::arch::Arch;

/// `p_paddr` of kcore segments that have no physical address (makedumpfile `NOT_PADDR`).
pub const NOT_PADDR: u64 = u64::MAX;

/// Start of the x86_64 kernel-text mapping (`__START_KERNEL_map`): segments below it are
/// the direct map, whose `p_vaddr - p_paddr` is `PAGE_OFFSET`.
const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;

/// The physical ranges named `Crash kernel` in /proc/iomem text, as makedumpfile's
/// `iomem_for_each_line` reads them: `start-end : name` (hex, `end` inclusive, leading
/// indentation ignored).
pub fn crash_reserved_ranges(iomem: &str) -> Vec<Range<u64>> {
    iomem
        .lines()
        .filter_map(|line| {
            let (span, name) = line.trim_start().split_once(" : ")?;
            if name != "Crash kernel" {
                return None;
            }
            let (start, end) = span.split_once('-')?;
            let start = u64::from_str_radix(start, 16).ok()?;
            let end = u64::from_str_radix(end, 16).ok()?;
            (end >= start).then(|| start..end.saturating_add(1))
        })
        .collect()
}

/// The direct map's `virtual - physical` offset.
///
/// x86_64: from the first segment below the kernel-text mapping (makedumpfile
/// `get_page_offset_x86_64`, "page_offset ... (pt_load)").
///
/// aarch64: the offset shared by the most bytes of segments. kcore gives a physical
/// address to the linear map (one segment per RAM range, all at one offset) and to the
/// kernel image (mapped at `kimage_voffset`, a few tens of MiB); which half of the
/// address space the linear map sits in changed in 5.4, and VA_BITS is not known yet
/// here, so the address alone does not say which segment is which, their size does.
/// (The x86_64 rule would take the image for the direct map on arm64, where every kernel
/// address is below `__START_KERNEL_map`, and cut nothing: live `--mem-usage` counted the
/// crash kernel's 256 MiB as memory, tests/arm64-capture.sh.)
pub fn direct_map_offset(loads: &[PtLoad], arch: Arch) -> Option<u64> {
    let offset = |l: &PtLoad| l.virt_start.wrapping_sub(l.phys_start);
    match arch {
        Arch::X86_64 => loads.iter().find(|l| l.virt_start < START_KERNEL_MAP).map(offset),
        Arch::Aarch64 => {
            let bytes_at = |at: u64| -> u64 {
                loads
                    .iter()
                    .filter(|l| offset(l) == at)
                    .map(|l| l.phys_end - l.phys_start)
                    .sum()
            };
            // The first of the largest, so that a tie goes the same way every time.
            loads.iter().map(offset).fold(None, |best: Option<u64>, at| match best {
                Some(b) if bytes_at(b) >= bytes_at(at) => Some(b),
                _ => Some(at),
            })
        }
    }
}

/// Cut every `reserved` range out of the direct-map segments (makedumpfile
/// `exclude_segment`, which compares virtual addresses `PAGE_OFFSET + paddr`; the text
/// segment is not in the direct map and keeps its pages). A segment split in the middle
/// becomes two, the second inserted right after the first.
pub fn exclude_reserved(loads: Vec<PtLoad>, reserved: &[Range<u64>], arch: Arch) -> Vec<PtLoad> {
    let Some(page_offset) = direct_map_offset(&loads, arch) else {
        return loads;
    };
    let mut loads = loads;
    for range in reserved {
        let mut cut = Vec::with_capacity(loads.len() + 1);
        for load in loads {
            let in_direct_map = load.virt_start.wrapping_sub(load.phys_start) == page_offset;
            if !in_direct_map || range.end <= load.phys_start || range.start >= load.phys_end {
                cut.push(load);
                continue;
            }
            if range.start > load.phys_start {
                cut.push(part(&load, load.phys_start, range.start));
            }
            if range.end < load.phys_end {
                cut.push(part(&load, range.end, load.phys_end));
            }
        }
        loads = cut;
    }
    loads
}

/// The sub-range `[start, end)` of a direct-map segment, its file offset and file size
/// moved along.
fn part(load: &PtLoad, start: u64, end: u64) -> PtLoad {
    let skipped = start - load.phys_start;
    PtLoad {
        phys_start: start,
        phys_end: end,
        virt_start: load.virt_start + skipped,
        file_offset: load.file_offset + skipped,
        file_size: load.file_size.saturating_sub(skipped).min(end - start),
    }
}

#[cfg(test)]
// One-element lists of reserved ranges are meant as such (one "Crash kernel" line).
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    const PAGE_OFFSET: u64 = 0xffff_8880_0000_0000;

    fn ram(start: u64, end: u64, file_offset: u64) -> PtLoad {
        PtLoad {
            phys_start: start,
            phys_end: end,
            virt_start: PAGE_OFFSET + start,
            file_offset,
            file_size: end - start,
        }
    }

    #[test]
    fn iomem_crash_kernel_lines_are_found_at_any_indentation() {
        let iomem = "00000000-00000fff : Reserved\n\
                     00100000-3ffdffff : System RAM\n  \
                       0a000000-0b5fffff : Kernel code\n  \
                       2f000000-3effffff : Crash kernel\n\
                     100000000-10fffffff : System RAM\n    \
                         100000000-100ffffff : Crash kernel\n\
                     fee00000-fee00fff : Local APIC\n\
                     garbage line\n";
        assert_eq!(
            crash_reserved_ranges(iomem),
            vec![0x2f00_0000..0x3f00_0000, 0x1_0000_0000..0x1_0100_0000]
        );
        assert!(crash_reserved_ranges("00100000-3ffdffff : System RAM\n").is_empty());
    }

    #[test]
    fn a_reserved_range_splits_the_direct_map_segment_but_not_kernel_text() {
        let text = PtLoad {
            phys_start: 0x0980_0000,
            phys_end: 0x0c03_0000,
            virt_start: 0xffff_ffff_88a0_0000,
            file_offset: 0x1000,
            file_size: 0x0283_0000,
        };
        let loads = vec![text, ram(0x10_0000, 0x4000_0000, 0x10_0000)];
        let cut = exclude_reserved(loads, &[0x1000_0000..0x1200_0000], Arch::X86_64);
        assert_eq!(
            cut,
            vec![
                text,
                ram(0x10_0000, 0x1000_0000, 0x10_0000),
                ram(
                    0x1200_0000,
                    0x4000_0000,
                    0x10_0000 + 0x1200_0000 - 0x10_0000
                ),
            ]
        );
        // The text segment overlaps the reserved range here and is still kept whole.
        let cut = exclude_reserved(
            vec![text, ram(0, 0x100_0000, 0)],
            &[0x0900_0000..0x0d00_0000],
            Arch::X86_64,
        );
        assert_eq!(cut[0], text);
    }

    #[test]
    fn head_and_tail_cuts_move_offsets_and_whole_segments_vanish() {
        let loads = vec![ram(0x1000, 0x9000, 0x100), ram(0x10000, 0x20000, 0x9000)];
        let cut = exclude_reserved(
            loads,
            &[0x0..0x3000, 0x1c000..0x30000, 0x10000..0x11000],
            Arch::X86_64,
        );
        assert_eq!(
            cut,
            vec![ram(0x3000, 0x9000, 0x2100), ram(0x11000, 0x1c000, 0xa000)]
        );
        let gone = exclude_reserved(vec![ram(0x1000, 0x2000, 0)], &[0..0x10000], Arch::X86_64);
        assert!(gone.is_empty());
    }

    #[test]
    fn without_a_direct_map_segment_nothing_is_cut() {
        let text = PtLoad {
            phys_start: 0x100_0000,
            phys_end: 0x200_0000,
            virt_start: 0xffff_ffff_8100_0000,
            file_offset: 0,
            file_size: 0x100_0000,
        };
        assert_eq!(
            exclude_reserved(vec![text], &[0..u64::MAX], Arch::X86_64),
            vec![text]
        );
    }

    /// arm64 kcore (bookworm 6.1, 48-bit VA, the live first kernel of tests/arm64-capture.sh):
    /// the image at `kimage_voffset` comes first, then the linear map. The crash kernel's
    /// range is cut from the linear map, whichever half of the address space it is in;
    /// the image keeps its pages.
    #[test]
    fn arm64_cuts_the_linear_map_not_the_image() {
        // The image's first byte at 0xffff_8000_0800_0000, as 6.1 maps it without KASLR.
        const KIMAGE_VOFFSET: u64 = 0xffff_8000_0800_0000 - 0x4020_0000;
        for linear in [0xffff_0000_0000_0000u64, 0xffff_8000_0000_0000] {
            let image = PtLoad {
                phys_start: 0x4020_0000,
                phys_end: 0x4220_0000,
                virt_start: KIMAGE_VOFFSET.wrapping_add(0x4020_0000),
                file_offset: 0x1000,
                file_size: 0x200_0000,
            };
            let map = |start: u64, end: u64, file_offset: u64| PtLoad {
                phys_start: start,
                phys_end: end,
                virt_start: linear + (start - 0x4000_0000),
                file_offset,
                file_size: end - start,
            };
            let loads = vec![image, map(0x4000_0000, 0x8000_0000, 0x300_0000)];
            let reserved = [0x5800_0000..0x6800_0000];
            let cut = exclude_reserved(loads.clone(), &reserved, Arch::Aarch64);
            assert_eq!(
                cut,
                vec![
                    image,
                    map(0x4000_0000, 0x5800_0000, 0x300_0000),
                    map(0x6800_0000, 0x8000_0000, 0x300_0000 + 0x2800_0000),
                ],
                "linear map at {linear:#x}"
            );
            // The x86_64 rule would have taken the image for the direct map.
            assert_eq!(exclude_reserved(loads.clone(), &reserved, Arch::X86_64), loads);
        }
    }
}
