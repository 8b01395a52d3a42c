//! Writer → reader round trip: a synthetic vmcore with fuzzed page contents, a fuzzed
//! dumpable bitmap, codec, dump level (zero-page sharing), block order and thread count is
//! written with `write_kdump` to memory (and, on a flag, as a flattened stream that is
//! reassembled); our kdump reader must give back every dumpable page byte-identical to
//! the vmcore's, report every other pfn as absent, and return both bitmaps unchanged.
#![no_main]

use std::cell::RefCell;
use std::sync::OnceLock;

use engine::codec::Compression;
use engine::dump::{write_kdump, DumpBitmaps, DumpOptions};
use engine::format::flat::FlatReader;
use engine::format::{DumpOutput, FlatOutput, MemoryOutput};
use engine::input::elf::{ElfVmcore, PtLoad};
use engine::input::kdump::KdumpFile;
use engine::input::PhysicalMemory;
use engine::progress::NoProgress;
use engine::synthetic::SyntheticVmcore;
use libfuzzer_sys::fuzz_target;
use makedumpfile_fuzz::{Cursor, MemFile};

const PS: u64 = 4096;
const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Zlib,
    Compression::Lzo,
    Compression::Snappy,
    Compression::Zstd,
];

struct Pristine {
    elf: Vec<u8>,
    loads: Vec<PtLoad>,
}

fn pristine() -> &'static Pristine {
    static PRISTINE: OnceLock<Pristine> = OnceLock::new();
    PRISTINE.get_or_init(|| {
        let elf = SyntheticVmcore::mixed(1).to_bytes();
        let mut file = MemFile::new();
        file.set(&elf);
        let loads = ElfVmcore::open(file.path(), false)
            .expect("synthetic vmcore opens")
            .loads()
            .to_vec();
        Pristine { elf, loads }
    })
}

thread_local! {
    static FILE: RefCell<Option<MemFile>> = const { RefCell::new(None) };
}

/// File ranges holding pfn's bytes (the kernel-text PT_LOAD duplicates some RAM pages).
fn file_ranges(loads: &[PtLoad], pfn: u64) -> Vec<u64> {
    let paddr = pfn * PS;
    loads
        .iter()
        .filter(|l| paddr >= l.phys_start && paddr + PS <= l.phys_start + l.file_size)
        .map(|l| l.file_offset + (paddr - l.phys_start))
        .collect()
}

fn fill(input: &mut Cursor<'_>) -> Vec<u8> {
    match input.u8() % 4 {
        0 => vec![0; PS as usize],
        1 => vec![input.u8(); PS as usize],
        2 => {
            let len = input.u8() as usize + 1;
            let pattern = input.bytes(len).to_vec();
            if pattern.is_empty() {
                vec![0; PS as usize]
            } else {
                pattern.iter().copied().cycle().take(PS as usize).collect()
            }
        }
        _ => {
            let mut x = input.u64() | 1;
            (0..PS)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let p = pristine();
    let mut input = Cursor::new(data);
    let flags = input.u8();
    let options = DumpOptions {
        compression: CODECS[input.u8() as usize % CODECS.len()],
        dump_level: input.u8() % 32,
        threads: input.u8() as usize % 4,
        block_order: input.u8() as u32 % 12,
    };
    FILE.with_borrow_mut(|slot| {
        let file = slot.get_or_insert_with(|| {
            let mut f = MemFile::new();
            f.set(&p.elf);
            f
        });
        let mut touched = Vec::new();
        for _ in 0..input.u8() % 8 {
            let pfn = input.u16() as u64 % 2048;
            let page = fill(&mut input);
            for at in file_ranges(&p.loads, pfn) {
                file.write_at(at, &page);
                touched.push(at);
            }
        }
        let vmcore = ElfVmcore::open(file.path(), flags & 1 != 0).expect("patched vmcore opens");
        let mut bitmaps =
            DumpBitmaps::unfiltered(&vmcore, vmcore.max_mapnr()).expect("bitmaps fit");
        let max_mapnr = bitmaps.ram.len();
        // A few ranges of the dumpable pfns (or, on a flag, a whole 512-pfn window) keep
        // a run in the milliseconds; the full 2048-pfn dump is what the seeds' CLI test does.
        let mut keep = engine::bitmap::Bitmap::new(max_mapnr);
        if flags & 4 != 0 {
            let start = input.u16() as u64 % max_mapnr;
            keep.fill_range(start, (start + 512).min(max_mapnr), true);
        } else {
            for _ in 0..input.u8() % 8 {
                let start = input.u16() as u64 % max_mapnr;
                keep.fill_range(start, (start + input.u8() as u64 % 64).min(max_mapnr), true);
            }
        }
        for pfn in 0..max_mapnr {
            if !keep.get(pfn) {
                bitmaps.dumpable.clear(pfn);
            }
        }
        let mut out = MemoryOutput::default();
        write_kdump(&vmcore, &bitmaps, &options, &mut out, &NoProgress).expect("write_kdump");
        if flags & 2 != 0 {
            let mut stream = Vec::new();
            let mut flat = FlatOutput::new(&mut stream).expect("flat header");
            write_kdump(&vmcore, &bitmaps, &options, &mut flat, &NoProgress).expect("write -F");
            drop(flat);
            let mut reader = FlatReader::new(&stream[..], "stream").expect("our stream");
            let mut rebuilt = MemoryOutput::default();
            while let Some(record) = reader.next_record().expect("our record") {
                rebuilt
                    .write_at(record.offset, &record.data)
                    .expect("memory write");
            }
            assert!(
                rebuilt.bytes == out.bytes,
                "-F reassembles to a different file"
            );
        }

        let dump = KdumpFile::from_source(&out.bytes[..], "written").expect("our dump reads");
        assert_eq!(dump.compression(), options.compression);
        assert_eq!(dump.ram, bitmaps.ram);
        assert_eq!(dump.dumpable, bitmaps.dumpable);
        assert_eq!(dump.notes, vmcore.notes().data);
        let mut codec = options.compression.new_codec().expect("codec");
        let mut source = vmcore.reader().expect("reader");
        let mut expected = vec![0u8; PS as usize];
        let mut page = vec![0u8; PS as usize];
        for pfn in 0..max_mapnr {
            let present = dump
                .read_page(pfn, &mut page, codec.as_deref_mut())
                .unwrap_or_else(|e| panic!("pfn {pfn}: {e}"));
            assert_eq!(present, bitmaps.dumpable.get(pfn), "pfn {pfn}");
            if present {
                source.read_page(pfn, &mut expected).expect("source page");
                assert!(page == expected, "pfn {pfn} differs after the round trip");
            }
        }
        drop(source);
        drop(vmcore);
        for at in touched {
            file.write_at(at, &p.elf[at as usize..(at + PS) as usize]);
        }
    });
});
