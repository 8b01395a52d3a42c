//! The PT_NOTE walk (`ElfNotes::parse`) and the VMCOREINFO it finds.
#![no_main]

use engine::input::elf::ElfNotes;
use engine::vmcoreinfo::VmcoreInfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(notes) = ElfNotes::parse(data.to_vec(), "fuzz") else {
        return;
    };
    // Each note header is 12 bytes: the count cannot exceed what the data holds.
    assert!(notes.nr_cpus as usize <= data.len() / 12);
    if let Some((start, len)) = notes.vmcoreinfo {
        let bytes = notes
            .vmcoreinfo_bytes()
            .expect("a located VMCOREINFO is readable");
        assert_eq!(bytes.len(), len);
        assert_eq!(bytes, &data[start..start + len]);
        let info = VmcoreInfo::parse(bytes);
        let _ = info.page_size();
        let _ = info.osrelease();
    }
});
