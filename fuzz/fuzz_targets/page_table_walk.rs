//! x86_64 page-table walk over fuzzed physical memory: 4- and 5-level tables, 1 GiB and
//! 2 MiB leaves, NX/SME masking, a fuzzed phys_base and top-table symbol, and reads
//! through the cached [`VirtualReader`] (whose answers must match an uncached walk).
//!
//! Input: flags, phys_base, sme_mask, top-table page, up to 8 virtual addresses, one
//! ranged read, then the memory image (at most 64 pages; the rest reads as a hole).
#![no_main]

use engine::arch::x86_64::{X86_64Translator, START_KERNEL_MAP};
use engine::arch::{Translator, VirtualReader};
use engine::input::PhysicalMemory;
use engine::kernel_version::KernelVersion;
use engine::synthetic::machine::SyntheticMemory;
use engine::vmcoreinfo::VmcoreInfo;
use libfuzzer_sys::fuzz_target;
use makedumpfile_fuzz::{check_translations, Cursor};

const PAGE: usize = 4096;
const MAX_PAGES: usize = 64;

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let flags = input.u8();
    let phys_base = if flags & 2 != 0 { input.u64() } else { 0 };
    let sme_mask = if flags & 4 != 0 { input.u64() } else { 0 };
    let top = if flags & 8 != 0 {
        input.u64()
    } else {
        START_KERNEL_MAP + (input.u8() as u64 % MAX_PAGES as u64) * PAGE as u64
    };
    let vaddrs: Vec<u64> = (0..input.u8() % 9).map(|_| input.u64()).collect();
    let read_at = input.u64();
    let read_len = input.u16() as usize;
    let mut image = input.bytes(MAX_PAGES * PAGE).to_vec();
    image.resize(image.len().next_multiple_of(PAGE).max(PAGE), 0);
    let memory = SyntheticMemory {
        bytes: image,
        holes: Vec::new(),
    };
    let text = format!(
        "OSRELEASE=6.1.0\nSYMBOL(init_top_pgt)={top:x}\nNUMBER(phys_base)={phys_base:#x}\n\
         NUMBER(pgtable_l5_enabled)={}\nNUMBER(sme_mask)={sme_mask:#x}\n",
        flags & 1
    );
    let info = VmcoreInfo::parse(text.as_bytes());
    let translator = X86_64Translator::new(&info, &[], KernelVersion::new(6, 1, 0));
    // -1 is makedumpfile's NOT_FOUND_NUMBER: read as absent, phys_base then defaults to 0.
    if phys_base != u64::MAX {
        assert_eq!(translator.phys_base().0, phys_base);
    }
    let mut direct = memory.reader().expect("synthetic reader");
    let mut cached_reader = memory.reader().expect("synthetic reader");
    let wrapped = Translator::X86_64(translator.clone());
    let mut cached = VirtualReader::new(&wrapped, &mut *cached_reader);
    check_translations(&wrapped, &mut *direct, &mut cached, &vaddrs);
    let mut buf = vec![0u8; read_len];
    let _ = cached.read(read_at, &mut buf);
    let _ = cached.read_u64(read_at);
});
