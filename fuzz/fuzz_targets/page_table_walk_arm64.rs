//! arm64 page-table walk over fuzzed tables: every page size × runtime VA size the
//! translator accepts (2 to 5 levels), 48- and 52-bit physical addresses (FEAT_LPA and
//! LPA2 encodings), both VA layouts, fuzzed table entries (blocks, invalid entries,
//! entries pointing anywhere) and reads through the cached [`VirtualReader`], whose
//! answers must match an uncached walk.
//!
//! Input: geometry byte, flags, up to 8 addresses to map (each mapped by the synthetic
//! table builder), then up to 64 (entry index, value) overwrites of table words, then up
//! to 8 addresses to translate and one ranged read.
#![no_main]

use engine::arch::{Translator, VirtualReader};
use engine::input::PageReader;
use engine::synthetic::arm64_tables::Arm64Tables;
use engine::vmcoreinfo::VmcoreInfo;
use libfuzzer_sys::fuzz_target;
use makedumpfile_fuzz::{check_translations, Cursor};

const GEOMETRIES: &[(u64, u32)] = &[
    (4096, 39),
    (4096, 48),
    (4096, 52),
    (16384, 36),
    (16384, 47),
    (16384, 48),
    (16384, 52),
    (65536, 42),
    (65536, 48),
    (65536, 52),
];

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let (page_size, vabits) = GEOMETRIES[input.u8() as usize % GEOMETRIES.len()];
    let flags = input.u8();
    let pa_bits = if flags & 1 != 0 && (page_size == 65536 || vabits == 52) {
        52
    } else {
        48
    };
    let flipped = vabits == 52 || flags & 2 == 0;
    let table_base = if flags & 4 != 0 && pa_bits == 52 {
        0xa_0000_0000_0000
    } else {
        0x8000_0000
    };
    let mut tables = Arm64Tables::new(page_size, vabits, pa_bits, flipped, table_base);
    let kernel_base = tables.page_offset();
    for _ in 0..input.u8() % 9 {
        let offset = input.u64() % (1u64 << (vabits - 1));
        let paddr = (input.u64() % (1u64 << pa_bits)) & !(page_size - 1);
        let vaddr = kernel_base.wrapping_add(offset);
        if input.u8() & 1 != 0 {
            tables.map_block(vaddr, paddr & !((1 << 30) - 1), 2);
        } else {
            tables.map_page(vaddr, paddr);
        }
    }
    // Corrupt table words: any entry of the tables allocated so far.
    for _ in 0..input.u8() % 65 {
        let word = input.u32() as u64 % (16 * page_size / 8);
        let value = input.u64();
        tables.memory.write_u64(table_base + word * 8, value);
    }
    let mut text = tables.vmcoreinfo();
    if flags & 8 != 0 {
        // A fuzzed kimage_voffset moves swapper_pg_dir anywhere.
        text = text.replace(
            "NUMBER(kimage_voffset)=",
            &format!(
                "NUMBER(X)=\nNUMBER(kimage_voffset)={:#x}\nNUMBER(Y)=",
                input.u64()
            ),
        );
    }
    let info = VmcoreInfo::parse(text.as_bytes());
    let Ok(translator) = Translator::new(
        engine::arch::Arch::Aarch64,
        &info,
        &[],
        engine::kernel_version::KernelVersion::new(6, 12, 0),
        page_size,
    ) else {
        return;
    };
    let vaddrs: Vec<u64> = (0..input.u8() % 9)
        .map(|_| kernel_base.wrapping_add(input.u64() % (1u64 << vabits)))
        .collect();
    let read_at = kernel_base.wrapping_add(input.u64() % (1u64 << vabits));
    let read_len = input.u16() as usize;
    let mut direct = tables.memory.clone();
    let mut cached_memory = tables.memory.clone();
    let mut cached = VirtualReader::new(&translator, &mut cached_memory);
    check_translations(&translator, &mut direct, &mut cached, &vaddrs);
    for &vaddr in &vaddrs {
        if let Ok(paddr) = translator.vtop(&mut direct, vaddr) {
            assert!(paddr < 1 << 52, "{paddr:#x} beyond 52 bits");
        }
    }
    let mut buf = vec![0u8; read_len];
    let _ = cached.read(read_at, &mut buf);
    let _ = direct.read_phys(read_at, &mut buf);
});
