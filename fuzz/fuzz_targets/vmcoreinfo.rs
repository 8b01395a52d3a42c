//! VMCOREINFO text: the parser, every typed accessor, and then everything derived from it
//! (kernel version, address translation, struct page rules, free-list offsets, the
//! mem_section walk and a filtering pass) against a pristine synthetic 6.1 machine.
//!
//! Seeds are the machine's own VMCOREINFO (corpus-gen) and the real vmcore's, so the
//! fuzzer starts from text that filters successfully and mutates the numbers.
#![no_main]

use std::sync::OnceLock;

use engine::arch::x86_64::X86_64Translator;
use engine::bitmap::Bitmap;
use engine::filter::{cycles, DumpLevel, FilterStats, PageFilter};
use engine::input::PhysicalMemory;
use engine::kernel_version::KernelVersion;
use engine::synthetic::machine::{Generation, Machine};
use engine::vmcoreinfo::VmcoreInfo;
use libfuzzer_sys::fuzz_target;

fn machine() -> &'static Machine {
    static MACHINE: OnceLock<Machine> = OnceLock::new();
    MACHINE.get_or_init(|| Machine::new(Generation::V6_1))
}

fuzz_target!(|data: &[u8]| {
    let (level, text) = match data.split_first() {
        Some((&level, text)) => (level as u32 % 32, text),
        None => (0, data),
    };
    let info = VmcoreInfo::parse(text);
    assert_eq!(info.raw(), text);
    let _ = info.page_size();
    let _ = info.crashtime();
    let _ = info.kernel_offset();
    // Every KIND(name) key the text mentions, through every accessor.
    for line in text.split(|&b| b == b'\n').take(256) {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let Some((key, _)) = line.split_once('=') else {
            continue;
        };
        if let Some(name) = key.split_once('(').and_then(|(_, r)| r.strip_suffix(')')) {
            let _ = info.symbol(name);
            let _ = info.size(name);
            let _ = info.offset(name);
            let _ = info.length(name);
            let _ = info.number(name);
        }
        let _ = info.get(key);
    }
    let Some(osrelease) = info.osrelease() else {
        return;
    };
    let Ok(version) = KernelVersion::parse(osrelease) else {
        return;
    };
    let m = machine();
    let loads = m.loads();
    let translator = X86_64Translator::new(&info, &loads, version);
    if let Ok(top) = translator.top_table() {
        let mut reader = m.memory.reader().expect("synthetic reader");
        let _ = translator.vtop(&mut *reader, top);
        let _ = translator.vtop_walk(&mut *reader, m.direct(0x1000));
    }
    let Ok(mut filter) = PageFilter::new(&info, &m.memory, &loads, DumpLevel::new(level).unwrap())
    else {
        return;
    };
    let max_mapnr = filter.max_mapnr();
    assert!(max_mapnr <= m.memory.max_mapnr());
    let mut bits = Bitmap::new(max_mapnr);
    bits.fill_range(0, max_mapnr, true);
    let mut reader = m.memory.reader().expect("synthetic reader");
    let mut stats = FilterStats::default();
    for cycle in cycles(max_mapnr, 512) {
        if filter
            .exclude(&mut *reader, cycle, &mut bits, &mut stats)
            .is_err()
        {
            return;
        }
    }
});
