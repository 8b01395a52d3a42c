//! ELF vmcore: ELF header, program headers (PN_XNUM included), PT_NOTE, PT_LOAD
//! validation, then page and physical reads through both the mmap and the pread path.
//!
//! Input: one flags byte, then the file. Every pfn read is bounded (a hostile core may
//! claim 2^40 pfns), so the run time stays proportional to the input.
#![no_main]

use std::cell::RefCell;

use engine::input::elf::ElfVmcore;
use engine::input::PhysicalMemory;
use libfuzzer_sys::fuzz_target;
use makedumpfile_fuzz::{Cursor, MemFile};

thread_local! {
    static FILE: RefCell<MemFile> = RefCell::new(MemFile::new());
}

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let flags = input.u8();
    let image = input.rest();
    FILE.with_borrow_mut(|file| {
        file.set(image);
        let Ok(vmcore) = ElfVmcore::open(file.path(), flags & 1 != 0) else {
            return;
        };
        let page_size = vmcore.page_size();
        assert!(page_size.is_power_of_two() && (4096..=65536).contains(&page_size));
        let notes = vmcore.notes();
        assert!(notes.data.len() as u64 <= image.len() as u64);
        if let Some(info) = notes.vmcoreinfo_bytes() {
            assert!(info.len() <= notes.data.len());
        }
        let max_mapnr = vmcore.max_mapnr();
        let mut reader = vmcore.reader().expect("a reader of an opened vmcore");
        let mut page = vec![0u8; page_size as usize];
        let mut small = [0u8; 64];
        for load in vmcore.loads().iter().take(16) {
            assert!(load.phys_start <= load.phys_end);
            assert!(load.file_offset + load.file_size <= image.len() as u64);
            let first = load.phys_start / page_size;
            let last = load.phys_end.saturating_sub(1) / page_size;
            for pfn in [
                first,
                first + 1,
                last,
                last + 1,
                (load.phys_start + load.file_size) / page_size,
            ] {
                let _ = vmcore.has_page(pfn);
                if pfn < max_mapnr {
                    let _ = reader.read_page(pfn, &mut page);
                }
            }
            for paddr in [
                load.phys_start,
                load.phys_end.saturating_sub(32),
                load.phys_start + load.file_size,
            ] {
                let _ = reader.read_phys(paddr, &mut small);
            }
        }
        // Arbitrary pfns and addresses chosen by the flags byte, including out of range.
        let _ = reader.read_page(u64::MAX / page_size, &mut page);
        let _ = reader.read_phys(u64::MAX - 8, &mut small);
        let _ = reader.read_phys((flags as u64) << 12, &mut page);
    });
});
