//! mem_section walk, struct page classification and the free-list walk over a corrupted
//! synthetic machine: fuzzed VMCOREINFO values (sizes, offsets, symbols, page-flag
//! numbers) and fuzzed bytes poked into its page tables, struct pages and mem_section
//! structures, at every dump level and two cycle sizes.
//!
//! The machine of each kernel generation is built once; pokes are undone after each run.
//! Besides "no panic, no hang", filtering must not depend on the cycle size: both
//! passes either fail or clear exactly the same pfns.
#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;

use engine::bitmap::Bitmap;
use engine::filter::{cycles, DumpLevel, FilterStats, PageFilter};
use engine::input::PhysicalMemory;
use engine::synthetic::machine::{Generation, Machine, PFNS, PS};
use libfuzzer_sys::fuzz_target;
use makedumpfile_fuzz::{Cursor, Patches};

/// Keys whose values steer the walk or the classification.
const KEYS: &[&str] = &[
    "SYMBOL(mem_section)",
    "LENGTH(mem_section)",
    "SIZE(mem_section)",
    "OFFSET(mem_section.section_mem_map)",
    "NUMBER(SECTION_SIZE_BITS)",
    "NUMBER(MAX_PHYSMEM_BITS)",
    "SIZE(page)",
    "OFFSET(page.flags)",
    "OFFSET(page._refcount)",
    "OFFSET(page.mapping)",
    "OFFSET(page.lru)",
    "OFFSET(page._mapcount)",
    "OFFSET(page.private)",
    "OFFSET(page.compound_head)",
    "OFFSET(page.compound_dtor)",
    "OFFSET(page.compound_order)",
    "OFFSET(folio._folio_order)",
    "OFFSET(folio._folio_dtor)",
    "NUMBER(HUGETLB_PAGE_DTOR)",
    "NUMBER(PG_lru)",
    "NUMBER(PG_private)",
    "NUMBER(PG_swapcache)",
    "NUMBER(PG_swapbacked)",
    "NUMBER(PG_head_mask)",
    "NUMBER(PG_slab)",
    "NUMBER(PG_hwpoison)",
    "NUMBER(PG_hugetlb)",
    "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)",
    "NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)",
    "NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)",
    "NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)",
    "LENGTH(zone.free_area)",
    "NUMBER(phys_base)",
    "SYMBOL(init_top_pgt)",
    "NUMBER(pgtable_l5_enabled)",
    "NUMBER(sme_mask)",
    "PAGESIZE",
    "OSRELEASE",
    "SYMBOL(node_data)",
    "LENGTH(node_data)",
    "SYMBOL(contig_page_data)",
    "SYMBOL(node_online_map)",
    "SIZE(nodemask_t)",
    "OFFSET(pglist_data.node_zones)",
    "OFFSET(pglist_data.nr_zones)",
    "SIZE(zone)",
    "OFFSET(zone.spanned_pages)",
    "OFFSET(zone.free_area)",
    "OFFSET(zone.vm_stat)",
    "SIZE(free_area)",
    "OFFSET(free_area.free_list)",
    "LENGTH(free_area.free_list)",
    "OFFSET(list_head.next)",
    "OFFSET(list_head.prev)",
];

thread_local! {
    static MACHINES: RefCell<HashMap<(usize, bool), Machine>> = RefCell::new(HashMap::new());
}

/// A value that is likely to mean something to the machine: small numbers, addresses in
/// its direct map, vmemmap or kernel text, or raw bits.
fn value(input: &mut Cursor<'_>, m: &Machine) -> u64 {
    match input.u8() % 6 {
        0 => input.u8() as u64,
        1 => (input.u8() as i8) as i64 as u64,
        2 => m.direct(input.u32() as u64 % (PFNS * PS)),
        3 => m.vmemmap.wrapping_add(input.u16() as u64 * 8),
        4 => m
            .root_array
            .wrapping_add((input.u16() as i16) as i64 as u64),
        _ => input.u64(),
    }
}

fn run(m: &Machine, text: &str, level: DumpLevel, cycle: u64) -> Option<Bitmap> {
    let info = engine::vmcoreinfo::VmcoreInfo::parse(text.as_bytes());
    let loads = m.loads();
    let mut filter = PageFilter::new(&info, &m.memory, &loads, level).ok()?;
    let max_mapnr = filter.max_mapnr();
    assert!(max_mapnr <= m.memory.max_mapnr());
    let mut bits = Bitmap::new(max_mapnr);
    bits.fill_range(0, max_mapnr, true);
    let mut reader = m.memory.reader().expect("synthetic reader");
    let mut stats = FilterStats::default();
    for range in cycles(max_mapnr, cycle) {
        filter
            .exclude(&mut *reader, range, &mut bits, &mut stats)
            .ok()?;
    }
    Some(bits)
}

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let generation = input.u8() as usize % Generation::ALL.len();
    let flags = input.u8();
    let five_level = flags & 1 != 0;
    let level = DumpLevel::new(input.u8() as u32 % 32).unwrap();
    let cycle = (input.u16() as u64).max(8);
    MACHINES.with_borrow_mut(|machines| {
        let m = machines
            .entry((generation, five_level))
            .or_insert_with(|| Machine::build(Generation::ALL[generation], five_level, 0));
        let mut overrides = String::new();
        for _ in 0..input.u8() % 8 {
            let key = KEYS[input.u8() as usize % KEYS.len()];
            let v = value(&mut input, m);
            let text = match input.u8() % 4 {
                0 => format!("{}", v as i64),
                1 => format!("{v:x}"),
                2 => format!("{v:#x}"),
                _ => String::from_utf8_lossy(input.bytes(8)).into_owned(),
            };
            overrides.push_str(&format!("{key}={text}\n"));
        }
        // First occurrence wins: overrides go before the machine's own keys.
        let text = overrides + &m.vmcoreinfo_text();
        let mut patches = Patches::default();
        let kernel_area = (1536 * PS) as usize..m.memory.bytes.len();
        for _ in 0..input.u8() % 16 {
            let at = match input.u8() % 3 {
                // struct pages, 8-byte aligned
                0 => {
                    m.struct_pages_base() as usize
                        + ((input.u16() as usize % (PFNS as usize * 64)) & !7)
                }
                1 => kernel_area.start + ((input.u32() as usize % kernel_area.len()) & !7),
                _ => input.u32() as usize % m.memory.bytes.len(),
            };
            let v = value(&mut input, m);
            patches.apply(&mut m.memory.bytes, at, &v.to_le_bytes());
        }
        if flags & 2 != 0 {
            let start = input.u16() as u64 % PFNS;
            m.memory.holes.push(start..start + input.u8() as u64);
        }
        let small = run(m, &text, level, cycle);
        let large = run(m, &text, level, PFNS);
        patches.restore(&mut m.memory.bytes);
        m.memory.holes.clear();
        if let (Some(small), Some(large)) = (&small, &large) {
            assert_eq!(small, large, "cycle size {cycle} changed the result");
        }
    });
});
