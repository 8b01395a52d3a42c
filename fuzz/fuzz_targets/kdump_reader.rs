//! kdump-compressed reader (the refilter input): disk_dump_header, kdump_sub_header,
//! notes, both bitmaps, page descriptors and page decoding with the codec the header
//! names. Seeds are small dumps written by our writer (corpus-gen).
#![no_main]

use engine::input::elf::ElfNotes;
use engine::input::kdump::KdumpFile;
use libfuzzer_sys::fuzz_target;

/// Pages decoded per input: enough to reach every descriptor of a seed.
const MAX_PAGES: usize = 512;

fuzz_target!(|data: &[u8]| {
    let Ok(dump) = KdumpFile::from_source(data, "fuzz") else {
        return;
    };
    let block = dump.layout.block_size;
    assert!(block.is_power_of_two());
    // Bitmaps and notes were read from the input: they cannot be larger than it.
    assert!(dump.notes.len() <= data.len());
    assert!(dump.dumpable.as_bytes().len() <= data.len());
    let _ = ElfNotes::parse(dump.notes.clone(), "fuzz notes");
    let compression = dump.compression();
    let mut codec = compression.new_codec().expect("codec context");
    let mut page = vec![0u8; block as usize];
    let max_mapnr = dump.layout.max_mapnr;
    for pfn in dump.dumpable.iter_set(0, max_mapnr).take(MAX_PAGES) {
        let desc = dump.page_desc(pfn);
        let read = dump.read_page(pfn, &mut page, codec.as_deref_mut());
        if desc.is_ok() && read.is_ok() {
            assert_eq!(read.unwrap(), desc.unwrap().is_some());
        }
    }
    // Non-dumpable and out-of-range pfns read as "not in the dump".
    for pfn in [max_mapnr, max_mapnr.saturating_add(1), u64::MAX] {
        assert!(matches!(
            dump.read_page(pfn, &mut page, codec.as_deref_mut()),
            Ok(false)
        ));
    }
});
