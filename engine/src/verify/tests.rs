//! `verify_dump` on dumps written by the job, sound and corrupted one field at a time.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::*;
use crate::codec::Compression;
use crate::format::{PageDesc, PAGE_DESC_SIZE};
use crate::input::PhysicalMemory;
use crate::job::{Destination, DumpJob, Format};
use crate::progress::NoProgress;
use crate::synthetic::SyntheticVmcore;

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mdf-verify-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let scratch = Scratch(dir);
        std::fs::write(scratch.path("vmcore"), SyntheticVmcore::mixed(5).to_bytes()).unwrap();
        scratch
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }

    /// A dump of the synthetic vmcore.
    fn dump(&self, name: &str, compression: Compression, level: u8) -> PathBuf {
        DumpJob::new(self.arg("vmcore"), Destination::File(self.arg(name)))
            .compression(compression)
            .dump_levels(&[level])
            .force(true)
            .run(&NoProgress)
            .unwrap();
        self.path(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn verify(paths: &[&Path], threads: usize) -> VerifyReport {
    verify_dump(
        paths,
        &VerifyOptions {
            threads,
            ..VerifyOptions::default()
        },
    )
    .unwrap()
}

fn first_fault(paths: &[&Path]) -> Fault {
    let report = verify(paths, 0);
    match report.fault {
        Some(fault) => fault,
        None => panic!("no fault found: {report}"),
    }
}

/// A copy of `dump` with `bytes` written at `offset`.
fn corrupt(scratch: &Scratch, dump: &Path, offset: u64, bytes: &[u8]) -> PathBuf {
    let copy = scratch.path("corrupt");
    std::fs::copy(dump, &copy).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&copy).unwrap();
    file.write_all_at(bytes, offset).unwrap();
    copy
}

fn opened(dump: &Path) -> KdumpFile<File> {
    KdumpFile::open(dump).unwrap()
}

#[test]
fn every_codec_and_level_verifies_with_every_thread_count() {
    let scratch = Scratch::new("sound");
    // Every codec a dump can hold (lz4 is for benchmarks only).
    for compression in Compression::ALL
        .into_iter()
        .filter(|&c| c != Compression::Lz4)
    {
        for level in [0, 1, 31] {
            let dump = scratch.dump("dump", compression, level);
            let serial = verify(&[&dump], 0);
            assert!(
                serial.is_sound(),
                "{} -d {level}: {serial}",
                compression.name()
            );
            assert_eq!(serial.pages(), opened(&dump).layout.num_dumpable);
            assert_eq!(serial.files[0].compression, Some(compression));
            assert_eq!(verify(&[&dump], 3), serial, "threads change the report");
        }
    }
}

#[test]
fn a_flattened_stream_saved_to_a_file_verifies() {
    let scratch = Scratch::new("flat");
    let vmcore = crate::input::elf::ElfVmcore::open(&scratch.path("vmcore"), true).unwrap();
    let bitmaps = crate::dump::DumpBitmaps::unfiltered(&vmcore, vmcore.max_mapnr()).unwrap();
    let stream = std::fs::File::create(scratch.path("stream")).unwrap();
    let mut out = crate::format::FlatOutput::new(std::io::BufWriter::new(stream)).unwrap();
    let options = crate::dump::DumpOptions {
        compression: Compression::Lzo,
        ..Default::default()
    };
    crate::dump::write_kdump(&vmcore, &bitmaps, &options, &mut out, &NoProgress).unwrap();
    drop(out);
    let report = verify(&[&scratch.path("stream")], 2);
    assert!(report.is_sound(), "{report}");
    assert!(report.files[0].flattened);
    assert_eq!(report.pages(), bitmaps.dumpable.count_ones());

    // Cut short: no end marker.
    let len = std::fs::metadata(scratch.path("stream")).unwrap().len();
    std::fs::copy(scratch.path("stream"), scratch.path("cut")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(scratch.path("cut"))
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    assert!(first_fault(&[&scratch.path("cut")])
        .field
        .starts_with("flattened"));
}

#[test]
fn a_split_set_verifies_only_whole() {
    let scratch = Scratch::new("split");
    let parts: Vec<String> = (0..3).map(|i| scratch.arg(&format!("part{i}"))).collect();
    DumpJob::new(scratch.arg("vmcore"), Destination::Split(parts.clone()))
        .compression(Compression::Zlib)
        .dump_levels(&[1])
        .splitblock_kib(Some(1024))
        .run(&NoProgress)
        .unwrap();
    let paths: Vec<&Path> = parts.iter().map(Path::new).collect();
    // Given in any order.
    let report = verify(&[paths[2], paths[0], paths[1]], 2);
    assert!(report.is_sound(), "{report}");
    assert_eq!(report.files.len(), 3);
    assert!(matches!(
        report.files[0].kind,
        DumpKind::SplitPart { start_pfn: 0, .. }
    ));
    assert!(is_split_part(paths[0]));
    assert_eq!(first_fault(&[paths[0], paths[2]]).field, "split set");
    assert_eq!(first_fault(&[paths[1]]).field, "split set");
    let whole = scratch.dump("whole", Compression::Zlib, 1);
    assert!(!is_split_part(&whole));
    assert_eq!(first_fault(&[paths[0], &whole]).field, "sub header split");
}

#[test]
fn an_elf_dump_is_checked_as_a_vmcore() {
    let scratch = Scratch::new("elf");
    DumpJob::new(scratch.arg("vmcore"), Destination::File(scratch.arg("elf")))
        .format(Format::Elf)
        .dump_levels(&[31])
        .run(&NoProgress)
        .unwrap();
    let elf = scratch.path("elf");
    let report = verify(&[&elf], 0);
    assert!(report.is_sound(), "{report}");
    assert_eq!(report.files[0].kind, DumpKind::Elf);
    assert!(report.pages() > 0);
    let len = std::fs::metadata(&elf).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&elf)
        .unwrap()
        .set_len(len - 4096)
        .unwrap();
    assert_eq!(first_fault(&[&elf]).field, "ELF headers");
}

#[test]
fn the_incomplete_flag_is_a_fault() {
    let scratch = Scratch::new("incomplete");
    let dump = scratch.dump("dump", Compression::Lzo, 31);
    let mut status = [0u8; 4];
    std::fs::File::open(&dump)
        .unwrap()
        .read_exact_at(&mut status, 424)
        .unwrap();
    let flagged = u32::from_le_bytes(status) | 0x8;
    let bad = corrupt(&scratch, &dump, 424, &flagged.to_le_bytes());
    let fault = first_fault(&[&bad]);
    assert_eq!(
        (fault.field.as_str(), fault.offset),
        ("header status", Some(424))
    );
}

#[test]
fn truncations_are_faults_at_every_point() {
    let scratch = Scratch::new("truncated");
    let dump = scratch.dump("dump", Compression::Lzo, 0);
    let layout = opened(&dump).layout;
    let len = std::fs::metadata(&dump).unwrap().len();
    let points = [
        (0, "kdump layout"),
        (100, "kdump layout"),
        (layout.offset_bitmap2() + 10, "kdump layout"),
        (layout.offset_desc() + 100, "page descriptor table"),
        (layout.offset_data() + 10, "page descriptor"),
        (len - 1, "page descriptor"),
    ];
    for (point, field) in points {
        let cut = scratch.path("cut");
        std::fs::copy(&dump, &cut).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&cut)
            .unwrap()
            .set_len(point)
            .unwrap();
        let fault = first_fault(&[&cut]);
        assert_eq!(fault.field, field, "cut at {point}: {fault}");
    }
}

/// The file offset of the descriptor of the `n`-th dumpable pfn whose data is stored
/// compressed (or raw), and that pfn.
fn descriptor_where(dump: &Path, compressed: bool, n: usize) -> (u64, u64, PageDesc) {
    let file = opened(dump);
    let mut seen = 0;
    for (index, pfn) in (0u64..).zip(file.dumpable.iter_set(0, file.layout.max_mapnr)) {
        let desc = file.page_desc(pfn).unwrap().unwrap();
        if (desc.flags != 0) == compressed && desc.offset as u64 != file.layout.offset_data() {
            if seen == n {
                let at = file.layout.offset_desc() + index * PAGE_DESC_SIZE as u64;
                return (at, pfn, desc);
            }
            seen += 1;
        }
    }
    panic!("no such page in {}", dump.display());
}

#[test]
fn flipped_descriptors_are_faults_naming_the_pfn() {
    let scratch = Scratch::new("descriptor");
    for compression in [Compression::Lzo, Compression::Zlib] {
        let dump = scratch.dump("dump", compression, 1);
        let (at, pfn, desc) = descriptor_where(&dump, true, 5);
        let far = (desc.offset ^ (1 << 40)).to_le_bytes();
        let fault = first_fault(&[&corrupt(&scratch, &dump, at, &far)]);
        assert_eq!(
            (fault.field.as_str(), fault.pfn),
            ("page descriptor", Some(pfn))
        );
        assert!(fault.detail.contains("end of the file"), "{fault}");

        for size in [desc.size - 1, desc.size + 1, 5000] {
            let bad = corrupt(&scratch, &dump, at + 8, &size.to_le_bytes());
            let fault = first_fault(&[&bad]);
            assert!(
                fault.field.starts_with("page d"),
                "{}: {fault}",
                compression.name()
            );
            assert!(fault.pfn.is_some_and(|p| p >= pfn), "{fault}");
        }
        let (at, _, _) = descriptor_where(&dump, false, 0);
        let flag = Compression::Snappy.flag().to_le_bytes();
        assert_eq!(
            first_fault(&[&corrupt(&scratch, &dump, at + 12, &flag)]).field,
            "page descriptor"
        );
    }
}

#[test]
fn a_bad_compressed_page_is_a_fault_naming_the_pfn() {
    let scratch = Scratch::new("page");
    for compression in [
        Compression::Lzo,
        Compression::Zlib,
        Compression::Zstd,
        Compression::Snappy,
    ] {
        let dump = scratch.dump("dump", compression, 1);
        let (_, pfn, desc) = descriptor_where(&dump, true, 3);
        let garbage = vec![0xa5; desc.size as usize];
        let fault = first_fault(&[&corrupt(&scratch, &dump, desc.offset as u64, &garbage)]);
        assert_eq!(
            (fault.field.as_str(), fault.pfn),
            ("page data", Some(pfn)),
            "{}",
            compression.name()
        );
    }
}

#[test]
fn a_bit_flipped_in_either_bitmap_is_a_fault() {
    let scratch = Scratch::new("bitmap");
    let dump = scratch.dump("dump", Compression::Lzo, 31);
    let file = opened(&dump);
    let layout = file.layout;
    let dumpable = file.dumpable.iter_set(0, layout.max_mapnr).nth(40).unwrap();
    let byte_of = |base: u64, pfn: u64| {
        let mut b = [0u8; 1];
        file.source().read_exact_at(&mut b, base + pfn / 8).unwrap();
        b[0]
    };
    // 1st bitmap: a dumpable page is no longer RAM.
    let at = layout.offset_bitmap1() + dumpable / 8;
    let cleared = byte_of(layout.offset_bitmap1(), dumpable) & !(1 << (dumpable % 8));
    let fault = first_fault(&[&corrupt(&scratch, &dump, at, &[cleared])]);
    assert_eq!(
        (fault.field.as_str(), fault.pfn),
        ("bitmaps", Some(dumpable))
    );

    // 2nd bitmap: a dumpable page dropped, and a RAM page that was left out added.
    let at = layout.offset_bitmap2() + dumpable / 8;
    let cleared = byte_of(layout.offset_bitmap2(), dumpable) & !(1 << (dumpable % 8));
    let fault = first_fault(&[&corrupt(&scratch, &dump, at, &[cleared])]);
    assert_eq!(fault.field, "2nd bitmap", "{fault}");
    let excluded = (0..layout.max_mapnr)
        .find(|&pfn| file.ram.get(pfn) && !file.dumpable.get(pfn))
        .unwrap();
    let at = layout.offset_bitmap2() + excluded / 8;
    let set = byte_of(layout.offset_bitmap2(), excluded) | (1 << (excluded % 8));
    let fault = first_fault(&[&corrupt(&scratch, &dump, at, &[set])]);
    assert!(
        fault.field.contains("descriptor") || fault.field.contains("bitmap"),
        "{fault}"
    );
}

#[test]
fn protected_pages_must_be_present() {
    let scratch = Scratch::new("protected");
    let dump = scratch.dump("dump", Compression::Lzo, 31);
    let file = opened(&dump);
    let present: Vec<u64> = file.dumpable.iter_set(0, 64).collect();
    let absent = (0..file.layout.max_mapnr)
        .find(|&pfn| !file.dumpable.get(pfn))
        .unwrap();
    let options = |pfns: Vec<u64>| VerifyOptions {
        must_be_present: pfns,
        threads: 0,
    };
    let report = verify_dump(&[&dump], &options(present.clone())).unwrap();
    assert!(report.is_sound(), "{report}");
    let report = verify_dump(&[&dump], &options([present, vec![absent]].concat())).unwrap();
    let fault = report.fault.unwrap();
    assert_eq!(
        (fault.field.as_str(), fault.pfn),
        ("protected page", Some(absent))
    );
    let beyond = verify_dump(&[&dump], &options(vec![u64::MAX / 2])).unwrap();
    assert_eq!(beyond.fault.unwrap().field, "protected page");
}

#[test]
fn the_first_fault_in_pfn_order_wins_whatever_the_threads() {
    let scratch = Scratch::new("first");
    let dump = scratch.dump("dump", Compression::Lzo, 0);
    // Two bad pages in different chunks (tests use chunks of 64 descriptors).
    let (_, early, early_desc) = descriptor_where(&dump, true, 10);
    let (_, late, late_desc) = descriptor_where(&dump, true, 300);
    let bad = corrupt(
        &scratch,
        &dump,
        late_desc.offset as u64,
        &vec![0xa5; late_desc.size as usize],
    );
    std::fs::OpenOptions::new()
        .write(true)
        .open(&bad)
        .unwrap()
        .write_all_at(
            &vec![0xa5; early_desc.size as usize],
            early_desc.offset as u64,
        )
        .unwrap();
    assert!(late > early);
    let serial = verify(&[&bad], 0);
    assert_eq!(serial.fault.as_ref().unwrap().pfn, Some(early));
    for threads in [2, 4, 7] {
        assert_eq!(verify(&[&bad], threads), serial, "{threads} threads");
    }
}
