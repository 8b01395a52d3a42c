//! Filter tests on synthetic machines (see `synthetic.rs`): one scenario run through every
//! kernel generation's encoding, plus paging, mem_section forms, cycles and bad input.

use super::*;
use crate::arch::x86_64::{TableLevel, ValueSource, X86_64Translator, START_KERNEL_MAP};
use crate::bitmap::Bitmap;
use crate::error::ErrorKind;
use crate::synthetic::machine::*;

/// Run `level` over the whole machine in cycles of `cycle` pfns.
fn run(m: &Machine, level: u32, cycle: u64) -> Result<(Bitmap, FilterStats)> {
    let info = m.info();
    let loads = m.loads();
    let mut filter = PageFilter::new(&info, &m.memory, &loads, DumpLevel::new(level)?)?;
    let mut bits = Bitmap::new(filter.max_mapnr());
    bits.fill_range(0, filter.max_mapnr(), true);
    let mut reader = m.memory.reader()?;
    let mut stats = FilterStats::default();
    for range in cycles(filter.max_mapnr(), cycle) {
        filter.exclude(&mut *reader, range, &mut bits, &mut stats)?;
    }
    Ok((bits, stats))
}

fn cleared(bits: &Bitmap) -> Vec<u64> {
    (0..bits.len()).filter(|&p| !bits.get(p)).collect()
}

fn range(r: Range<u64>) -> Vec<u64> {
    r.collect()
}

/// The scenario every generation encodes its own way:
/// - 0: page cache (PG_lru) · 1: private page cache · 2: anonymous · 3: slab with an odd
///   mapping (not anonymous) · 4: swap cache with PG_swapbacked (cache) · 5: swap cache
///   without it (kept) · 6: offline
/// - 8..12: free buddy block of order 2 · 16..20: hugetlb compound of order 2 ·
///   24..28: page-cache compound (THP) of order 2
/// - 32: buddy page with order 11 ≥ LENGTH(zone.free_area): warned about, kept
/// - 40: a `_mapcount` with the buddy type byte but other low bits: kept (6.12 equality)
/// - 48..52: kernel compound page whose tails have odd `mapping`: tails are never
///   classified on their own (bit 0 of compound_head / compound_info)
fn scenario(g: Generation) -> Machine {
    let mut m = Machine::new(g);
    m.write_page(
        0,
        Fields {
            flags: LRU,
            mapping: 0x1000,
            ..Fields::default()
        },
    );
    m.write_page(
        1,
        Fields {
            flags: LRU | PRIVATE,
            mapping: 0x1000,
            ..Fields::default()
        },
    );
    m.write_page(
        2,
        Fields {
            mapping: 0x2001,
            ..Fields::default()
        },
    );
    match g.slab() {
        Some(slab) => m.write_page(
            3,
            Fields {
                mapping: 0x3001,
                mapcount: slab,
                ..Fields::default()
            },
        ),
        None => m.write_page(
            3,
            Fields {
                flags: SLAB_FLAG,
                mapping: 0x3001,
                ..Fields::default()
            },
        ),
    }
    m.write_page(
        4,
        Fields {
            flags: SWAPCACHE | SWAPBACKED,
            mapping: 0x1000,
            ..Fields::default()
        },
    );
    m.write_page(
        5,
        Fields {
            flags: SWAPCACHE,
            mapping: 0x1000,
            ..Fields::default()
        },
    );
    m.write_page(
        6,
        Fields {
            mapcount: g.offline(),
            ..Fields::default()
        },
    );
    m.write_page(
        8,
        Fields {
            mapcount: g.buddy(),
            private: 2,
            ..Fields::default()
        },
    );
    m.write_page(
        16,
        Fields {
            mapping: 0x4000,
            ..Fields::default()
        },
    );
    m.compound(16, 2, true);
    m.write_page(
        24,
        Fields {
            flags: LRU,
            mapping: 0x1000,
            ..Fields::default()
        },
    );
    m.compound(24, 2, false);
    m.write_page(
        32,
        Fields {
            mapcount: g.buddy(),
            private: 11,
            ..Fields::default()
        },
    );
    m.write_page(
        40,
        Fields {
            mapcount: g.buddy() ^ 1,
            ..Fields::default()
        },
    );
    for tail in 49..52 {
        m.write_page(
            tail,
            Fields {
                mapping: 0x5001,
                ..Fields::default()
            },
        );
    }
    m.compound(48, 2, false);
    m
}

#[test]
fn every_generation_classifies_the_scenario_like_makedumpfile() {
    for g in Generation::ALL {
        let m = scenario(g);
        let (bits, stats) = run(&m, 31, 1 << 20).unwrap_or_else(|e| panic!("{g:?}: {e}"));
        let mut expected = vec![0, 1, 2, 4, 6];
        expected.extend(8..12);
        expected.extend(16..20);
        expected.extend(24..28);
        if g.unaccepted().is_none() {
            assert_eq!(cleared(&bits), expected, "{g:?}");
        }
        assert_eq!(
            (stats.cache, stats.cache_private, stats.user, stats.offline),
            (6, 1, 5, 1),
            "{g:?}"
        );
        assert_eq!(stats.free, 4, "{g:?}");
        assert_eq!(
            stats.invalid_free_orders,
            vec![InvalidFreeOrder {
                pfn: 32,
                order: 11,
                max_order: 10
            }],
            "{g:?}"
        );

        // -d 2 keeps private cache, user and free pages; offline pages go at any level
        // that scans.
        let (bits, stats) = run(&m, 2, 1 << 20).unwrap();
        let mut expected = vec![0, 4, 6];
        expected.extend(24..28);
        assert_eq!(cleared(&bits), expected, "{g:?} -d 2");
        assert_eq!(
            (
                stats.cache,
                stats.cache_private,
                stats.user,
                stats.free,
                stats.offline
            ),
            (6, 0, 0, 0, 1)
        );

        let (bits, stats) = run(&m, 8, 1 << 20).unwrap();
        let mut expected = vec![2, 6];
        expected.extend(16..20);
        assert_eq!(cleared(&bits), expected, "{g:?} -d 8");
        assert_eq!(stats.user, 5);
    }
}

#[test]
fn unaccepted_memory_goes_in_max_order_blocks_with_free_pages() {
    for g in [Generation::V6_16, Generation::V7_1] {
        let mut m = Machine::new(g);
        m.write_page(
            1024,
            Fields {
                mapcount: g.unaccepted().unwrap(),
                ..Fields::default()
            },
        );
        let (bits, stats) = run(&m, 16, 1 << 20).unwrap();
        // Where the synthetic machine keeps its own page tables or struct pages inside
        // this block, those are protected and stay (a real kernel never frees them).
        let info = m.info();
        let protected = PageFilter::new(&info, &m.memory, &m.loads(), DumpLevel::new(16).unwrap())
            .unwrap()
            .protected()
            .pfns()
            .filter(|pfn| (1024..2048).contains(pfn))
            .collect::<Vec<u64>>();
        assert_eq!(stats.protected, protected.len() as u64);
        let mut kept = protected;
        kept.extend(cleared(&bits));
        kept.sort_unstable();
        assert_eq!(kept, range(1024..2048), "{g:?}");
        assert_eq!(stats.free, 1024);
        // Before 6.16 the same _mapcount means nothing.
        let mut m = Machine::new(Generation::V6_12);
        m.write_page(
            1024,
            Fields {
                mapcount: 0xf700_0000,
                ..Fields::default()
            },
        );
        let (bits, _) = run(&m, 16, 1 << 20).unwrap();
        assert!(cleared(&bits).is_empty());
    }
}

#[test]
fn hwpoison_and_offline_pages_go_even_at_level_zero_when_hwpoison_is_exported() {
    let mut m = Machine::new(Generation::V6_1);
    m.write_page(
        5,
        Fields {
            flags: HWPOISON,
            ..Fields::default()
        },
    );
    m.write_page(
        6,
        Fields {
            mapcount: Generation::V6_1.offline(),
            ..Fields::default()
        },
    );
    // Without NUMBER(PG_hwpoison), -d 0 does not scan at all.
    let info = m.info();
    let loads = m.loads();
    let filter = PageFilter::new(&info, &m.memory, &loads, DumpLevel::new(0).unwrap()).unwrap();
    assert!(!filter.excludes_anything());
    let (bits, _) = run(&m, 0, 1 << 20).unwrap();
    assert!(cleared(&bits).is_empty());

    m.set_key("NUMBER(PG_hwpoison)", PG_HWPOISON);
    let (bits, stats) = run(&m, 0, 1 << 20).unwrap();
    assert_eq!(cleared(&bits), vec![5, 6]);
    assert_eq!((stats.hwpoison, stats.offline), (1, 1));
}

#[test]
fn compound_and_buddy_blocks_crossing_a_cycle_boundary_are_finished_in_the_next_cycle() {
    for g in [Generation::V6_1, Generation::V6_12] {
        let mut m = Machine::new(g);
        m.write_page(
            64,
            Fields {
                mapping: 0x4000,
                ..Fields::default()
            },
        );
        m.compound(64, 4, true); // 64..80
        m.write_page(
            128,
            Fields {
                mapcount: g.buddy(),
                private: 5,
                ..Fields::default()
            },
        ); // 128..160
        for cycle in [1 << 20, 72, 100, 136, 8] {
            let (bits, stats) = run(&m, 31, cycle).unwrap();
            let mut expected = range(64..80);
            expected.extend(128..160);
            assert_eq!(cleared(&bits), expected, "{g:?} cycle {cycle}");
            assert_eq!((stats.user, stats.free), (16, 32), "{g:?} cycle {cycle}");
        }
    }
    // The CycleBitmap window gives the same answer cycle by cycle.
    let mut m = Machine::new(Generation::V6_1);
    m.write_page(
        64,
        Fields {
            mapping: 0x4000,
            ..Fields::default()
        },
    );
    m.compound(64, 4, true);
    let info = m.info();
    let loads = m.loads();
    let mut filter = PageFilter::new(&info, &m.memory, &loads, DumpLevel::new(8).unwrap()).unwrap();
    let mut reader = m.memory.reader().unwrap();
    let mut stats = FilterStats::default();
    let mut excluded = Vec::new();
    for cycle in cycles(filter.max_mapnr(), 72) {
        let mut window = CycleBitmap::new(cycle.clone());
        window.fill_range(cycle.start, cycle.end, true);
        filter
            .exclude(&mut *reader, cycle.clone(), &mut window, &mut stats)
            .unwrap();
        excluded.extend(cycle.filter(|&p| !window.get(p)));
    }
    assert_eq!(excluded, range(64..80));
    assert_eq!(stats.user, 16);
}

#[test]
fn a_threaded_scan_equals_the_serial_one_bit_for_bit_and_count_for_count() {
    for g in Generation::ALL {
        let mut m = scenario(g);
        // A hugetlb page and a free block that run across many small parts.
        m.write_page(
            256,
            Fields {
                mapping: 0x4000,
                ..Fields::default()
            },
        );
        m.compound(256, 8, true); // 256..512
        m.write_page(
            1024,
            Fields {
                mapcount: g.buddy(),
                private: 9,
                ..Fields::default()
            },
        ); // 1024..1536
        for cycle in [1 << 20, 200, 640] {
            let (serial_bits, serial_stats) = run(&m, 31, cycle).unwrap();
            for (threads, align) in [(2, PART_ALIGN), (3, 64), (7, 64), (40, 64)] {
                let info = m.info();
                let loads = m.loads();
                let mut filter =
                    PageFilter::new(&info, &m.memory, &loads, DumpLevel::new(31).unwrap()).unwrap();
                let mut bits = Bitmap::new(filter.max_mapnr());
                bits.fill_range(0, filter.max_mapnr(), true);
                let mut stats = FilterStats::default();
                for range in cycles(filter.max_mapnr(), cycle) {
                    filter
                        .exclude_in_parts(range, &mut bits, &mut stats, threads, align)
                        .unwrap();
                }
                let case = format!("{g:?} cycle {cycle} threads {threads} align {align}");
                assert_eq!(cleared(&bits), cleared(&serial_bits), "{case}");
                assert_eq!(stats, serial_stats, "{case}");
            }
        }
    }
}

#[test]
fn a_second_pass_from_pfn_zero_drops_a_pending_exclusion() {
    let mut m = Machine::new(Generation::V6_1);
    m.write_page(
        64,
        Fields {
            mapping: 0x4000,
            ..Fields::default()
        },
    );
    m.compound(64, 4, true);
    let info = m.info();
    let loads = m.loads();
    let mut filter = PageFilter::new(&info, &m.memory, &loads, DumpLevel::new(8).unwrap()).unwrap();
    let mut reader = m.memory.reader().unwrap();
    let mut bits = Bitmap::new(PFNS);
    bits.fill_range(0, PFNS, true);
    let mut stats = FilterStats::default();
    filter
        .exclude(&mut *reader, 0..72, &mut bits, &mut stats)
        .unwrap();
    filter
        .exclude(&mut *reader, 0..72, &mut bits, &mut stats)
        .unwrap();
    filter
        .exclude(&mut *reader, 72..PFNS, &mut bits, &mut stats)
        .unwrap();
    assert_eq!(cleared(&bits), range(64..80));
}

#[test]
fn pfns_without_data_are_not_classified() {
    let mut m = scenario(Generation::V6_1);
    m.memory.holes.push(0..3);
    let (bits, stats) = run(&m, 31, 1 << 20).unwrap();
    assert!(bits.get(0) && bits.get(1) && bits.get(2));
    assert_eq!((stats.cache, stats.cache_private, stats.user), (5, 0, 4));
}

#[test]
fn five_level_paging_filters_the_same() {
    for sme_mask in [0, 1 << 47] {
        let mut m = Machine::build(Generation::V6_9, true, sme_mask);
        m.write_page(
            2,
            Fields {
                mapping: 0x2001,
                ..Fields::default()
            },
        );
        m.write_page(
            8,
            Fields {
                mapcount: Generation::V6_9.buddy(),
                private: 3,
                ..Fields::default()
            },
        );
        let (bits, stats) = run(&m, 31, 1 << 20).unwrap();
        let mut expected = vec![2];
        expected.extend(8..16);
        assert_eq!(cleared(&bits), expected);
        assert_eq!((stats.user, stats.free), (1, 8));
    }
}

#[test]
fn translation_walks_every_level_and_masks_nx_and_sme_bits() {
    for five_level in [false, true] {
        let sme = 1 << 47;
        let mut m = Machine::build(Generation::V6_1, five_level, sme);
        let info = m.info();
        let loads = m.loads();
        let translator = X86_64Translator::new(&info, &loads, KernelVersion::new(6, 1, 0));
        assert_eq!(translator.five_level(), five_level);
        assert_eq!(translator.page_offset().0, m.page_offset);
        // A 1 GiB leaf far away from the others.
        let giant = if five_level {
            0xff20_0000_0000_0000
        } else {
            0xffff_c000_0000_0000
        };
        m.map(giant, 0, 1 << 30);
        let mut reader = m.memory.reader().unwrap();
        let levels = if five_level { 5 } else { 4 };

        let walk = translator
            .vtop_walk(&mut *reader, m.struct_page_vaddr(100) + 5)
            .unwrap();
        assert_eq!(walk.steps.len(), levels);
        assert_eq!(walk.steps.last().unwrap().level, TableLevel::Pte);
        let direct = translator
            .vtop_walk(&mut *reader, m.direct(0x3456))
            .unwrap();
        assert_eq!((direct.paddr, direct.steps.len()), (0x3456, levels - 1));
        assert_eq!(direct.steps.last().unwrap().level, TableLevel::Pmd);
        let text = translator
            .vtop(&mut *reader, START_KERNEL_MAP + 0x1234)
            .unwrap();
        assert_eq!(text, PHYS_BASE + 0x1234);
        assert_eq!(
            translator.kernel_text_to_phys(START_KERNEL_MAP + 0x1234),
            text
        );
        let huge = translator.vtop_walk(&mut *reader, giant + 0x7654).unwrap();
        assert_eq!((huge.paddr, huge.steps.len()), (0x7654, levels - 2));
        assert_eq!(huge.steps.last().unwrap().level, TableLevel::Pud);

        let err = translator
            .vtop(&mut *reader, 0xffff_f000_0000_0000)
            .unwrap_err();
        assert!(err.message().contains("not present"), "{err}");
    }
}

#[test]
fn phys_base_and_page_offset_fall_back_to_pt_loads_then_constants() {
    let m = Machine::new(Generation::V6_1);
    let mut info_text = String::from_utf8(m.info().raw().to_vec()).unwrap();
    info_text = info_text
        .lines()
        .filter(|l| !l.starts_with("NUMBER(phys_base)"))
        .map(|l| format!("{l}\n"))
        .collect();
    let info = VmcoreInfo::parse(info_text.as_bytes());
    let v = KernelVersion::new(6, 1, 0);
    let t = X86_64Translator::new(&info, &m.loads(), v);
    assert_eq!(t.phys_base(), (PHYS_BASE, ValueSource::PtLoad));
    assert_eq!(t.page_offset(), (m.page_offset, ValueSource::PtLoad));
    let t = X86_64Translator::new(&info, &[], v);
    assert_eq!(t.phys_base(), (0, ValueSource::Constant));
    assert_eq!(t.page_offset().0, 0xffff_8800_0000_0000);
}

/// (pfn_start, pfn_end, mem_map) of each section found.
fn mem_map_triples(filter: &PageFilter<'_>) -> Vec<(u64, u64, u64)> {
    filter
        .mem_maps()
        .iter()
        .map(|r| (r.pfn_start, r.pfn_end, r.mem_map))
        .collect()
}

#[test]
fn mem_section_is_found_in_array_and_pointer_forms() {
    let mut m = Machine::new(Generation::V6_1);
    let (array_bits, _) = run(&scenario(Generation::V6_1), 31, 1 << 20).unwrap();
    let info = m.info();
    let loads = m.loads();
    let filter = PageFilter::new(&info, &m.memory, &loads, DumpLevel::new(31).unwrap()).unwrap();
    let expected: Vec<(u64, u64, u64)> = (0..4)
        .map(|nr| (nr * 512, nr * 512 + 512, m.struct_page_vaddr(nr * 512)))
        .collect();
    assert_eq!(mem_map_triples(&filter), expected);

    // -x vmlinux style: the symbol is the address of the pointer to the root array.
    let mut pointer_form = scenario(Generation::V6_1);
    let pointer = pointer_form.mem_section_pointer;
    pointer_form.set_key("SYMBOL(mem_section)", format!("{pointer:x}"));
    let (pointer_bits, _) = run(&pointer_form, 31, 1 << 20).unwrap();
    assert_eq!(pointer_bits, array_bits);

    // A section that is not marked present is skipped, and max_mapnr shrinks to the
    // last present section (mem=).
    let roots_phys = m.root_array - m.page_offset;
    let root = u64::from_le_bytes(
        m.memory.bytes[roots_phys as usize..roots_phys as usize + 8]
            .try_into()
            .unwrap(),
    );
    let section3 = root - m.page_offset + 3 * 16;
    m.write_u64(section3, 0);
    let info = m.info();
    let filter = PageFilter::new(&info, &m.memory, &loads, DumpLevel::new(31).unwrap()).unwrap();
    assert_eq!(mem_map_triples(&filter), &expected[..3]);
    assert_eq!(filter.max_mapnr(), 1536);
}

#[test]
fn old_kernels_use_u16_compound_fields_and_default_buddy_value() {
    let mut m = scenario(Generation::V4_15);
    // 4.15 exported no PAGE_BUDDY_MAPCOUNT_VALUE: -128 is assumed since 2.6.39.
    m.remove_key("NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)");
    m.write_page(
        8,
        Fields {
            mapcount: -128i32 as u32,
            private: 2,
            ..Fields::default()
        },
    );
    let (bits, stats) = run(&m, 31, 1 << 20).unwrap();
    assert_eq!(stats.free, 4);
    assert!(
        (16..20).all(|p| !bits.get(p)),
        "u16 order and dtor of 4.15 must be read"
    );
}

/// Free lists of one node with one zone: order 2 block at pfn 8 and order 0 page at 64
/// (a different migrate type), for a kernel that gives no buddy marker.
fn free_list_machine(corrupt: Option<&str>) -> Machine {
    let mut m = Machine::new(Generation::V6_1);
    m.remove_key("OFFSET(page.private)");
    let node_online_map = m.alloc() * PS;
    m.write_u64(node_online_map, 1);
    let node_data = m.alloc() * PS;
    let pgdat = m.alloc() * PS;
    m.write_u64(node_data, m.direct(pgdat));
    // pglist_data: node_zones at 0, nr_zones at 3000; zone: 1536 bytes, free_area at
    // 256, spanned_pages at 144; free_area: 88 bytes, 5 lists.
    m.write_u32(pgdat + 3000, 1);
    let zone = pgdat;
    m.write_u64(zone + 144, PFNS);
    for order in 0..11u64 {
        for mt in 0..5u64 {
            let head = zone + 256 + 88 * order + 16 * mt;
            m.write_u64(head, m.direct(head));
            m.write_u64(head + 8, m.direct(head));
        }
    }
    let link = |m: &mut Machine, head: u64, pfns: &[u64]| {
        let mut prev = m.direct(head);
        let entries: Vec<u64> = pfns.iter().map(|&p| m.struct_page_vaddr(p) + 8).collect();
        let struct_phys = |m: &Machine, pfn: u64| m.struct_page_vaddr(pfn) - m.vmemmap;
        let base = m.struct_pages_base();
        for (i, &entry) in entries.iter().enumerate() {
            let next = entries.get(i + 1).copied().unwrap_or(m.direct(head));
            let at = base + struct_phys(m, pfns[i]) + 8;
            m.write_u64(at, next);
            m.write_u64(at + 8, prev);
            prev = entry;
        }
        m.write_u64(head, entries[0]);
        m.write_u64(head + 8, prev);
    };
    link(&mut m, zone + 256 + 88 * 2, &[8]);
    link(&mut m, zone + 256 + 16, &[64, 66]);
    match corrupt {
        Some("loop") => {
            // 66.next = 64: a cycle that never returns to the list head.
            let at = m.struct_pages_base() + 66 * STRUCT_PAGE + 8;
            let target = m.struct_page_vaddr(64) + 8;
            m.write_u64(at, target);
        }
        Some("prev") => {
            let at = m.struct_pages_base() + 66 * STRUCT_PAGE + 16;
            m.write_u64(at, 0xdead_0000);
        }
        _ => {}
    }
    for (k, v) in [
        (
            "SYMBOL(node_online_map)",
            format!("{:x}", m.direct(node_online_map)),
        ),
        ("SIZE(nodemask_t)", "8".into()),
        ("SYMBOL(node_data)", format!("{:x}", m.direct(node_data))),
        ("LENGTH(node_data)", "1".into()),
        ("OFFSET(pglist_data.node_zones)", "0".into()),
        ("OFFSET(pglist_data.nr_zones)", "3000".into()),
        ("SIZE(zone)", "1536".into()),
        ("OFFSET(zone.free_area)", "256".into()),
        ("OFFSET(zone.vm_stat)", "1344".into()),
        ("OFFSET(zone.spanned_pages)", "144".into()),
        ("SIZE(free_area)", "88".into()),
        ("OFFSET(free_area.free_list)", "0".into()),
        ("LENGTH(free_area.free_list)", "5".into()),
        ("SIZE(list_head)", "16".into()),
        ("OFFSET(list_head.next)", "0".into()),
        ("OFFSET(list_head.prev)", "8".into()),
    ] {
        m.set_key(k, v);
    }
    m
}

#[test]
fn free_lists_are_walked_when_struct_pages_carry_no_buddy_marker() {
    let m = free_list_machine(None);
    for cycle in [1 << 20, 10, 65] {
        let (bits, stats) = run(&m, 16, cycle).unwrap();
        assert_eq!(cleared(&bits), vec![8, 9, 10, 11, 64, 66], "cycle {cycle}");
        assert_eq!(stats.free, 6);
    }
}

#[test]
fn a_looping_or_broken_free_list_is_an_error_not_a_hang() {
    for corruption in ["loop", "prev"] {
        let m = free_list_machine(Some(corruption));
        let err = run(&m, 16, 1 << 20).unwrap_err();
        assert!(
            err.message().contains("free list is broken"),
            "{corruption}: {err}"
        );
    }
}

#[test]
fn bad_vmcoreinfo_gives_errors_naming_what_is_missing() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("SYMBOL(mem_section)", None, "mem_section"),
        ("SIZE(page)", None, "SIZE(page)"),
        ("OFFSET(page.flags)", None, "page.flags"),
        ("SYMBOL(init_top_pgt)", None, "init_top_pgt"),
        ("OSRELEASE", None, "OSRELEASE"),
        ("PAGESIZE", Some("4095"), "PAGESIZE"),
        ("PAGESIZE", Some("8192"), "PAGESIZE"),
        ("NUMBER(SECTION_SIZE_BITS)", Some("5"), "SECTION_SIZE_BITS"),
        ("OFFSET(page._mapcount)", Some("62"), "page._mapcount"),
        // The top table outside physical memory.
        ("SYMBOL(init_top_pgt)", Some("ffffffff90000000"), "PGD"),
        // A mem_section array whose sections are garbage.
        (
            "SYMBOL(mem_section)",
            Some("ffffffff80300000"),
            "mem_section",
        ),
    ];
    for &(key, value, needle) in cases {
        let mut m = Machine::new(Generation::V6_1);
        match value {
            Some(value) => m.set_key(key, value),
            None => m.remove_key(key),
        }
        let err = run(&m, 31, 1 << 20).unwrap_err();
        assert!(err.to_string().contains(needle), "{key}={value:?}: {err}");
        assert_ne!(err.kind(), ErrorKind::Internal);
    }
}

#[test]
fn page_tables_pointing_outside_memory_are_an_error() {
    let mut m = Machine::new(Generation::V6_1);
    // Point the vmemmap PMD table's first entry at a table beyond RAM.
    let info = m.info();
    let loads = m.loads();
    let translator = X86_64Translator::new(&info, &loads, KernelVersion::new(6, 1, 0));
    let walk = translator
        .vtop_walk(&mut *m.memory.reader().unwrap(), m.vmemmap)
        .unwrap();
    let pmd = walk.steps[2];
    m.write_u64(pmd.entry_address, 0x4000_0000 | 0x63);
    let err = run(&m, 31, 1 << 20).unwrap_err();
    assert!(err.to_string().contains("non-existent"), "{err}");
}

#[test]
fn missing_free_list_structures_are_reported_when_needed() {
    let mut m = Machine::new(Generation::V6_1);
    m.remove_key("OFFSET(page.private)");
    let err = run(&m, 16, 1 << 20).unwrap_err();
    assert!(err.message().contains("excluding free pages"), "{err}");
    // Levels without bit 16 do not need them.
    assert!(run(&m, 15, 1 << 20).is_ok());
}

/// Regression (fuzz/mem_section_walk): SIZE(page) sized the 512-entry struct page batch
/// unchecked, so a corrupted value overflowed `512 * size` or asked for terabytes.
#[test]
fn huge_struct_page_size_is_refused_before_allocating_the_batch() {
    for size in ["4097", "1099511627776", "36028797018963968"] {
        let mut m = Machine::new(Generation::V6_1);
        m.set_key("SIZE(page)", size);
        let err = run(&m, 31, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("SIZE(page)"), "{size}: {err}");
    }
}
