//! arm64 translation over synthetic tables: every supported page size × runtime VA
//! size, both VA layouts, 48- and 52-bit physical addresses, blocks, and malformed
//! tables (errors, never panics).

use super::*;
use crate::arch::walk::TableLevel;
use crate::arch::{Translator, VirtualReader};
use crate::synthetic::arm64_tables::Arm64Tables;

/// Every geometry makedumpfile accepts, with the levels it walks.
const GEOMETRIES: &[(u64, u32, u32)] = &[
    (4096, 39, 3),
    (4096, 48, 4),
    (4096, 52, 5),
    (16384, 36, 2),
    (16384, 47, 3),
    (16384, 48, 4),
    (16384, 52, 4),
    (65536, 42, 2),
    (65536, 48, 3),
    (65536, 52, 3),
];

fn translator(tables: &Arm64Tables) -> Arm64Translator {
    let info = VmcoreInfo::parse(tables.vmcoreinfo().as_bytes());
    Arm64Translator::new(&info, &[], tables.page_size).unwrap()
}

/// The physical-address sizes a geometry can have: 52 only where an encoding exists.
fn pa_sizes(page_size: u64, vabits: u32) -> Vec<u32> {
    if page_size == 65536 || vabits == 52 {
        vec![48, 52]
    } else {
        vec![48]
    }
}

#[test]
fn level_table_matches_makedumpfile_and_refuses_the_rest() {
    for &(page_size, vabits, levels) in GEOMETRIES {
        assert_eq!(levels_for(page_size, vabits), Some(levels));
    }
    for (page_size, vabits) in [(4096, 47), (4096, 42), (16384, 39), (65536, 39), (8192, 48)] {
        assert_eq!(levels_for(page_size, vabits), None);
    }
    let tables = Arm64Tables::new(4096, 48, 48, true, 0x8000_0000);
    let text = tables
        .vmcoreinfo()
        .replace("NUMBER(TCR_EL1_T1SZ)=16", "NUMBER(TCR_EL1_T1SZ)=22");
    let err = Arm64Translator::new(&VmcoreInfo::parse(text.as_bytes()), &[], 4096).unwrap_err();
    assert!(
        err.to_string().contains("PAGESIZE=4096 with a 42-bit kernel VA range"),
        "{err}"
    );
}

/// Empty tables for every geometry × physical-address size × VA layout, with the number
/// of levels walked and a label: 52-bit kernel VAs came with the flipped layout (5.4), and
/// tables above 2^48 exercise the 52-bit encodings.
fn every_layout(mut test: impl FnMut(Arm64Tables, u32, &str)) {
    for &(page_size, vabits, levels) in GEOMETRIES {
        for pa_bits in pa_sizes(page_size, vabits) {
            let layouts: &[bool] = if vabits == 52 { &[true] } else { &[true, false] };
            for &flipped in layouts {
                let table_base = if pa_bits == 52 { 0xa_1234_0000_0000 } else { 0x8000_0000 };
                let table_base = table_base & !(page_size - 1);
                let tables = Arm64Tables::new(page_size, vabits, pa_bits, flipped, table_base);
                test(tables, levels, &format!("{page_size}/{vabits}/PA{pa_bits}/flipped {flipped}"));
            }
        }
    }
}

#[test]
fn pages_translate_in_every_geometry_layout_and_pa_size() {
    every_layout(|mut tables, levels, what| {
        let (page_size, vabits, pa_bits, flipped) =
            (tables.page_size, tables.vabits, tables.pa_bits, tables.flipped);
        let table_base = tables.top;
        let linear = tables.page_offset() + 5 * page_size;
        let high_page = if pa_bits == 52 { 0xf_0000_0000_0000 } else { 0xbeef_0000 };
        let high_page = high_page & !(page_size - 1);
        tables.map_page(linear, high_page);
        // A second address sharing no table below the top with the first.
        let image = tables.stext() + 3 * page_size;
        tables.map_page(image, 0x4_0000 * page_size);

        let t = translator(&tables);
        assert_eq!(t.levels(), levels, "{what}");
        assert_eq!(t.flipped_va(), flipped, "{what}");
        assert_eq!(t.vabits_actual(), vabits, "{what}");
        let mut memory = tables.memory.clone();
        let leaf = t.leaf(&mut memory, linear + 0x123).unwrap();
        assert_eq!(leaf.size, page_size, "{what}");
        assert_eq!(leaf.translate(linear + 0x123), high_page + 0x123, "{what}");
        let leaf = t.leaf(&mut memory, image + 8).unwrap();
        assert_eq!(leaf.translate(image + 8), 0x4_0000 * page_size + 8, "{what}");

        let t = Translator::Aarch64(t);
        assert_eq!(t.vtop(&mut memory, linear).unwrap(), high_page, "{what}");
        let steps = t.vtop_walk(&mut memory, linear).unwrap().steps;
        assert_eq!(steps.len() as u32, levels, "{what}");
        assert_eq!(steps[0].level, TableLevel::Pgd);
        assert_eq!(steps[levels as usize - 1].level, TableLevel::Pte);
        assert_eq!(steps[0].entry_address & !(page_size - 1), table_base, "{what}");
    });
}

#[test]
fn the_52_bit_encodings_follow_the_page_size() {
    let cases = [
        (65536, 48, PaEncoding::Lpa64K),
        (65536, 52, PaEncoding::Lpa64K),
        (16384, 52, PaEncoding::Lpa2),
        (4096, 52, PaEncoding::Lpa2),
    ];
    for (page_size, vabits, encoding) in cases {
        let tables = Arm64Tables::new(page_size, vabits, 52, true, 0x8000_0000);
        assert_eq!(translator(&tables).encoding(), encoding);
        let tables = Arm64Tables::new(page_size, vabits, 48, true, 0x8000_0000);
        assert_eq!(translator(&tables).encoding(), PaEncoding::Bits48);
    }
    // 52-bit PAs with a 48-bit runtime VA on 4K pages: no LPA2, bits 9:8 are
    // shareability and must not leak into the address.
    let mut tables = Arm64Tables::new(4096, 48, 52, true, 0x8000_0000);
    let vaddr = tables.page_offset();
    let at = tables.entry_address(vaddr, 3);
    tables.memory.write_u64(at, 0x1234_5000 | 0x300 | 0x403);
    let t = translator(&tables);
    assert_eq!(t.encoding(), PaEncoding::Bits48);
    assert_eq!(t.leaf(&mut tables.memory, vaddr).unwrap().phys_base, 0x1234_5000);
}

#[test]
fn blocks_map_their_level_size() {
    for &(page_size, vabits, levels) in GEOMETRIES {
        let mut tables = Arm64Tables::new(page_size, vabits, 48, true, 0x8000_0000);
        // Level 2 blocks in every geometry; level 1 blocks with 4K pages (1 GiB) when
        // level 1 is walked below a higher level.
        let mut block_levels = vec![2];
        if page_size == 4096 && levels >= 4 {
            block_levels.push(1);
        }
        for (i, level) in block_levels.into_iter().enumerate() {
            let shift = (page_size.trailing_zeros() - 3) * (3 - level) as u32
                + page_size.trailing_zeros();
            let size = 1u64 << shift;
            let vaddr = tables.page_offset() + (4 + 2 * i as u64) * size;
            let paddr = (8 + i as u64) * size;
            assert_eq!(tables.map_block(vaddr, paddr, level), size);
            let t = translator(&tables);
            let probe = vaddr + size - 8;
            let leaf = t.leaf(&mut tables.memory, probe).unwrap();
            assert_eq!(leaf.size, size, "{page_size}/{vabits} level {level}");
            assert_eq!(leaf.translate(probe), paddr + size - 8);
            let reader_translator = Translator::Aarch64(t);
            let mut memory = tables.memory.clone();
            let mut reader = VirtualReader::new(&reader_translator, &mut memory);
            let mut buf = [0u8; 16];
            // Straddles the block's end into unmapped space: an error, not a panic.
            assert!(reader.read(probe, &mut buf).is_err());
        }
    }
}

#[test]
fn invalid_entries_and_holes_are_errors_naming_the_entry() {
    for &(page_size, vabits, _) in GEOMETRIES {
        let mut tables = Arm64Tables::new(page_size, vabits, 48, true, 0x8000_0000);
        let t = translator(&tables);
        let vaddr = tables.page_offset() + 77 * page_size;
        // Empty top table.
        let err = t.leaf(&mut tables.memory, vaddr).unwrap_err();
        assert!(err.to_string().contains("PGD entry"), "{err}");
        assert!(err.to_string().contains("is not valid"), "{err}");
        // A table entry pointing at memory that is not in the dump.
        tables.map_page(vaddr, 0x1000_0000);
        let pte_at = tables.entry_address(vaddr, 3);
        tables.memory.write_u64(pte_at, 0);
        let err = t.leaf(&mut tables.memory, vaddr).unwrap_err();
        assert!(err.to_string().contains("PTE entry"), "{err}");
        let top_at = tables.entry_address(vaddr, 4 - t.levels() as i32);
        tables
            .memory
            .write_u64(top_at, tables.entry(0x7_0000_0000 & !(page_size - 1), 3));
        let err = t.leaf(&mut tables.memory, vaddr).unwrap_err();
        assert!(err.to_string().contains("can't read the"), "{err}");
    }
    // A block pattern at level 0 maps nothing we can follow.
    let mut tables = Arm64Tables::new(4096, 48, 48, true, 0x8000_0000);
    let vaddr = tables.page_offset();
    let at = tables.entry_address(vaddr, 0);
    tables.memory.write_u64(at, 0x4000_0000 | 1);
    let err = translator(&tables).leaf(&mut tables.memory, vaddr).unwrap_err();
    assert!(err.to_string().contains("block mapping at a level"), "{err}");
}

#[test]
fn layout_and_arithmetic_shortcuts() {
    let tables = Arm64Tables::new(4096, 48, 48, true, 0x8000_0000);
    let t = translator(&tables);
    assert_eq!(t.page_offset(), 0xffff_0000_0000_0000);
    assert_eq!(t.kvbase(), 0xffff_0000_0000_0000);
    assert!(t.is_linear(0xffff_0000_1234_0000));
    assert!(!t.is_linear(tables.stext()));
    assert_eq!(t.pa(0xffff_0000_1234_0000), 0x4000_0000 + 0x1234_0000);
    assert_eq!(t.top_table().unwrap(), 0x8000_0000);
    assert_eq!(t.phys_base(), (0x4000_0000, ValueSource::Vmcoreinfo));

    let old = Arm64Tables::new(4096, 48, 48, false, 0x8000_0000);
    let t = translator(&old);
    assert!(!t.flipped_va());
    assert_eq!(t.page_offset(), 0xffff_8000_0000_0000);
    assert_eq!(t.kvbase(), 0xffff_0000_0000_0000);
    assert!(t.is_linear(0xffff_8000_0000_1000));

    // Without NUMBER(PHYS_OFFSET): from a linear-map PT_LOAD.
    let text = tables.vmcoreinfo().replace("NUMBER(PHYS_OFFSET)", "NUMBER(X)");
    let info = VmcoreInfo::parse(text.as_bytes());
    let load = PtLoad {
        phys_start: 0x4020_0000,
        phys_end: 0x8000_0000,
        virt_start: 0xffff_0000_0020_0000,
        file_offset: 0,
        file_size: 0,
    };
    let t = Arm64Translator::new(&info, &[load], 4096).unwrap();
    assert_eq!(t.phys_base(), (0x4000_0000, ValueSource::PtLoad));
    let err = Arm64Translator::new(&info, &[], 4096).unwrap_err();
    assert!(err.to_string().contains("Cannot determine phys_base"), "{err}");

    // VA_BITS guessed from _stext; the runtime size from mem_section (5.4–5.10).
    let info = VmcoreInfo::parse(b"SYMBOL(_stext)=ffff800080010000\nNUMBER(PHYS_OFFSET)=0\n");
    let t = Arm64Translator::new(&info, &[], 4096).unwrap();
    assert_eq!((t.vabits_actual(), t.levels()), (48, 4));
    let info = VmcoreInfo::parse(
        b"SYMBOL(_stext)=ffff800010080000\nNUMBER(VA_BITS)=52\nSYMBOL(mem_section)=ffff000012340000\nNUMBER(PHYS_OFFSET)=0\n",
    );
    let t = Arm64Translator::new(&info, &[], 65536).unwrap();
    assert_eq!(t.vabits_actual(), 48);
}

#[test]
fn corrupted_vmcoreinfo_is_an_error_not_a_panic() {
    let tables = Arm64Tables::new(4096, 48, 48, true, 0x8000_0000);
    for (from, to) in [
        ("NUMBER(TCR_EL1_T1SZ)=16", "NUMBER(TCR_EL1_T1SZ)=64"),
        ("NUMBER(TCR_EL1_T1SZ)=16", "NUMBER(TCR_EL1_T1SZ)=0"),
        ("NUMBER(VA_BITS)=48", "NUMBER(VA_BITS)=200"),
        ("NUMBER(MAX_PHYSMEM_BITS)=48", "NUMBER(MAX_PHYSMEM_BITS)=99"),
    ] {
        let text = tables.vmcoreinfo().replace(from, to);
        let info = VmcoreInfo::parse(text.as_bytes());
        assert!(Arm64Translator::new(&info, &[], 4096).is_err(), "{to}");
    }
    // swapper_pg_dir translating beyond the physical address space.
    let text = tables
        .vmcoreinfo()
        .replace("NUMBER(kimage_voffset)=", "NUMBER(kimage_voffset)=0x1");
    let t = Arm64Translator::new(&VmcoreInfo::parse(text.as_bytes()), &[], 4096).unwrap();
    let mut memory = tables.memory.clone();
    assert!(t.leaf(&mut memory, u64::MAX).is_err());
}

/// The whole-tree walk (protected pages) finds every table once and every leaf at its
/// virtual address, and picks as kernel image only the leaf mapped at kimage_voffset.
#[test]
fn the_tree_walk_finds_every_table_and_leaf_and_the_image() {
    use crate::arch::walk::{Leaf, TreeItem};
    every_layout(|mut tables, levels, what| {
        let (page_size, table_base) = (tables.page_size, tables.top);
        let voffset = translator(&tables).kimage_voffset.unwrap();
        let linear = tables.page_offset() + 5 * page_size;
        tables.map_page(linear, 0xbeef_0000 & !(page_size - 1));
        // An image page, mapped at kimage_voffset, and a page next to it mapped
        // elsewhere (as a vmalloc page would be): only the first is the image.
        let image = tables.stext() + 3 * page_size;
        tables.map_page(image, image.wrapping_sub(voffset));
        let elsewhere = tables.stext() + 7 * page_size;
        tables.map_page(elsewhere, 0x4_0000 * page_size);

        let t = translator(&tables);
        let (mut found, mut leaves) = (Vec::new(), Vec::new());
        t.visit_tree(&mut tables.memory.clone(), &mut |item| match item {
            TreeItem::Table { paddr, .. } => found.push(paddr),
            TreeItem::Leaf(leaf) => leaves.push(leaf),
            other => panic!("{what}: {other:?}"),
        })
        .unwrap();
        // The top table, then a path of its own below it for the linear page and
        // one shared by the two image-range pages (same last-level table).
        assert_eq!(found[0], table_base, "{what}");
        assert_eq!(found.len() as u32, 1 + 2 * (levels - 1), "{what}: {found:#x?}");
        let mut distinct = found.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), found.len(), "{what}: a table visited twice");
        let leaf = |virt_base: u64, phys_base: u64| Leaf {
            virt_base,
            phys_base,
            size: page_size,
        };
        let mut expected = vec![
            leaf(linear, 0xbeef_0000 & !(page_size - 1)),
            leaf(image, image.wrapping_sub(voffset)),
            leaf(elsewhere, 0x4_0000 * page_size),
        ];
        expected.sort_by_key(|l| l.virt_base);
        assert_eq!(leaves, expected, "{what}");
        let images: Vec<u64> = leaves
            .iter()
            .filter(|l| t.is_kimage_leaf(l))
            .map(|l| l.virt_base)
            .collect();
        assert_eq!(images, vec![image], "{what}");
    });
}
