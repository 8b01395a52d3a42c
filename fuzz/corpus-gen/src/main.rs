//! Writes the committed seed corpus of the fuzz targets (run by `fuzz/make-corpus.sh`).
//!
//! `corpus-gen OUT_DIR REAL_VMCORE SYNTHETIC_OUT`: seeds cut from the real vmcore (ELF
//! header, program headers and notes, VMCOREINFO, a few pages: a page table, struct
//! pages, kernel text, data), small dumps of a synthetic vmcore written by our writer
//! with every codec (plain and flattened), and structured seeds for the machine,
//! codec, writer and pipeline targets. A mostly-zero synthetic vmcore is left in
//! SYNTHETIC_OUT so the script can also dump it with the release binary.

use std::fs;
use std::path::{Path, PathBuf};

use engine::arch::x86_64::{X86_64Translator, START_KERNEL_MAP};
use engine::bitmap::Bitmap;
use engine::codec::{store_page, Compression, StoredPage};
use engine::dump::{write_kdump, DumpBitmaps, DumpOptions};
use engine::format::{FlatOutput, MemoryOutput};
use engine::input::elf::ElfVmcore;
use engine::input::PhysicalMemory;
use engine::kernel_version::KernelVersion;
use engine::progress::NoProgress;
use engine::synthetic::machine::{Generation, Machine};
use engine::synthetic::SyntheticVmcore;

type Error = Box<dyn std::error::Error>;

struct Corpus {
    root: PathBuf,
}

impl Corpus {
    fn put(&self, target: &str, name: &str, data: &[u8]) -> Result<(), Error> {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(name), data)?;
        Ok(())
    }
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, real, synthetic_out] = args.as_slice() else {
        return Err("usage: corpus-gen OUT_DIR REAL_VMCORE SYNTHETIC_OUT".into());
    };
    let corpus = Corpus {
        root: PathBuf::from(out),
    };
    real_vmcore_seeds(&corpus, Path::new(real))?;
    let mut synthetic = SyntheticVmcore::mixed(7);
    fs::write(synthetic_out, synthetic.to_bytes())?;
    dump_seeds(&corpus, Path::new(synthetic_out))?;
    // For the release binary: only the first 64 data pages keep their contents, so its
    // `-d 31` dump (zero pages excluded) stays a seed of tens of KB, not a megabyte.
    synthetic.machine.memory.bytes[64 * 4096..1536 * 4096].fill(0);
    fs::write(synthetic_out, synthetic.to_bytes())?;
    machine_seeds(&corpus)?;
    Ok(())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Header, program headers and notes; a miniature copy whose PT_LOADs hold two pages
/// each; the VMCOREINFO text; and a few characteristic pages.
fn real_vmcore_seeds(corpus: &Corpus, path: &Path) -> Result<(), Error> {
    let vmcore = ElfVmcore::open(path, false)?;
    let head = {
        use std::io::Read;
        let mut f = fs::File::open(path)?;
        let mut head = vec![0u8; 64 << 10];
        let n = f.read(&mut head)?;
        head.truncate(n);
        head
    };
    let phoff = u64_at(&head, 32) as usize;
    let phnum = u16::from_le_bytes([head[56], head[57]]) as usize;
    let mut notes_end = phoff + phnum * 56;
    for i in 0..phnum {
        let ph = &head[phoff + i * 56..phoff + (i + 1) * 56];
        if u32::from_le_bytes(ph[..4].try_into()?) == 4 {
            notes_end = notes_end.max((u64_at(ph, 8) + u64_at(ph, 32)) as usize);
        }
    }
    let cut = &head[..notes_end];
    corpus.put(
        "elf_vmcore",
        "real-headers-and-notes-truncated",
        &[&[0u8][..], cut].concat(),
    )?;

    // Miniature: same headers and notes, each PT_LOAD cut to its first two pages.
    let mut mini = cut.to_vec();
    mini.resize(mini.len().next_multiple_of(4096), 0);
    let mut reader = vmcore.reader()?;
    let mut page = vec![0u8; 4096];
    for i in 0..phnum {
        let at = phoff + i * 56;
        if u32::from_le_bytes(mini[at..at + 4].try_into()?) != 1 {
            continue;
        }
        let paddr = u64_at(&mini, at + 24);
        let offset = mini.len() as u64;
        for n in 0..2 {
            reader.read_page(paddr / 4096 + n, &mut page)?;
            mini.extend_from_slice(&page);
        }
        mini[at + 8..at + 16].copy_from_slice(&offset.to_le_bytes());
        mini[at + 32..at + 40].copy_from_slice(&8192u64.to_le_bytes());
        mini[at + 40..at + 48].copy_from_slice(&8192u64.to_le_bytes());
    }
    corpus.put(
        "elf_vmcore",
        "real-miniature-mmap",
        &[&[1u8][..], &mini].concat(),
    )?;
    corpus.put(
        "elf_vmcore",
        "real-miniature-pread",
        &[&[0u8][..], &mini].concat(),
    )?;

    let notes = &vmcore.notes().data;
    corpus.put("elf_notes", "real-pt-note", notes)?;
    let info_text = vmcore.notes().vmcoreinfo_bytes().ok_or("no VMCOREINFO")?;
    corpus.put(
        "vmcoreinfo",
        "real-level-31",
        &[&[31u8][..], info_text].concat(),
    )?;

    // Pages: the top-level page table, struct pages, kernel text, data.
    let info = vmcore.vmcoreinfo().ok_or("no VMCOREINFO")?;
    let version = KernelVersion::parse(info.osrelease().ok_or("no OSRELEASE")?)?;
    let translator = X86_64Translator::new(info, vmcore.loads(), version);
    let top = translator.top_table()?;
    let vmemmap = 0xffff_ea00_0000_0000u64;
    let struct_pages = translator.vtop(&mut *reader, vmemmap + 0x4000 * 64).ok();
    let text = translator.kernel_text_to_phys(START_KERNEL_MAP + 0x100_0000);
    let mut pages = vec![
        ("page-table", top),
        ("kernel-text", text),
        ("data", 0x2000_0000),
    ];
    if let Some(p) = struct_pages {
        pages.push(("struct-pages", p));
    }
    for (name, paddr) in pages {
        reader.read_page(paddr / 4096, &mut page)?;
        corpus.put(
            "codec_round_trip",
            name,
            &[&[0u8, 0, 0][..], &page].concat(),
        )?;
        for (i, compression) in [
            Compression::Zlib,
            Compression::Lzo,
            Compression::Snappy,
            Compression::Zstd,
            Compression::Lz4,
        ]
        .into_iter()
        .enumerate()
        {
            let mut codec = compression.new_codec()?.ok_or("codec")?;
            let mut scratch = vec![0u8; 4096];
            if let StoredPage::Compressed { len, .. } =
                store_page(Some(codec.as_mut()), &page, &mut scratch)
            {
                corpus.put(
                    "codec_decompress",
                    &format!("{name}-{}", compression.name()),
                    &[&[i as u8][..], &scratch[..len]].concat(),
                )?;
            }
        }
    }
    Ok(())
}

/// Small dumps of the synthetic vmcore: 24 dumpable pages, every codec, zero-page sharing
/// on; plain for the reader, flattened for the stream target.
fn dump_seeds(corpus: &Corpus, path: &Path) -> Result<(), Error> {
    let vmcore = ElfVmcore::open(path, false)?;
    let mut bitmaps = DumpBitmaps::unfiltered(&vmcore, vmcore.max_mapnr())?;
    let max_mapnr = bitmaps.ram.len();
    let mut keep = Bitmap::new(max_mapnr);
    for start in [0u64, 600, 1100, 2040] {
        keep.fill_range(start, start + 8, true);
    }
    for pfn in 0..max_mapnr {
        if !keep.get(pfn) {
            bitmaps.dumpable.clear(pfn);
        }
    }
    for compression in [
        Compression::None,
        Compression::Zlib,
        Compression::Lzo,
        Compression::Snappy,
        Compression::Zstd,
    ] {
        let options = DumpOptions {
            compression,
            dump_level: 1,
            ..Default::default()
        };
        let mut out = MemoryOutput::default();
        write_kdump(&vmcore, &bitmaps, &options, &mut out, &NoProgress)?;
        let name = format!("synthetic-{}", compression.name());
        corpus.put("kdump_reader", &name, &out.bytes)?;
        if matches!(compression, Compression::None | Compression::Lzo) {
            let mut stream = Vec::new();
            {
                let mut flat = FlatOutput::new(&mut stream)?;
                write_kdump(&vmcore, &bitmaps, &options, &mut flat, &NoProgress)?;
            }
            corpus.put("flat_stream", &name, &stream)?;
        }
    }
    Ok(())
}

/// Seeds for the targets with structured inputs (see each target's input layout).
fn machine_seeds(corpus: &Corpus) -> Result<(), Error> {
    // vmcoreinfo: the synthetic 6.1 machine's own text, at a few levels.
    let machine = Machine::new(Generation::V6_1);
    for level in [0u8, 1, 31] {
        corpus.put(
            "vmcoreinfo",
            &format!("machine-6.1-level-{level}"),
            &[&[level][..], machine.vmcoreinfo_text().as_bytes()].concat(),
        )?;
    }
    // mem_section_walk: generation, flags, level, cycle (u16), no key overrides, no pokes.
    for (g, generation) in Generation::ALL.iter().enumerate() {
        for (flags, level) in [(0u8, 31u8), (1, 16), (0, 2)] {
            corpus.put(
                "mem_section_walk",
                &format!("{generation:?}-flags{flags}-level{level}"),
                &[g as u8, flags, level, 0, 1, 0, 0],
            )?;
        }
    }
    // page_table_walk: 4-level tables in a 16-page image; pgd 0, pud 1, pmd 2, pte 3.
    let page_offset = 0xffff_8880_0000_0000u64;
    let mut image = vec![0u8; 16 * 4096];
    let mut set = |at: usize, v: u64| image[at..at + 8].copy_from_slice(&v.to_le_bytes());
    let nx = 1u64 << 63;
    set((page_offset >> 39 & 511) as usize * 8, 0x1000 | 0x63 | nx);
    set(4096 + (page_offset >> 30 & 511) as usize * 8, 0x2000 | 0x63);
    set(
        4096 + ((page_offset >> 30 & 511) as usize + 1) * 8,
        0x4000_0000 | 0xe3,
    ); // 1 GiB leaf
    set(8192, 0x3000 | 0x63);
    set(8192 + 8, 0x20_0000 | 0xe3); // 2 MiB leaf
    for i in 0..16u64 {
        set(12288 + i as usize * 8, (i << 12) | 0x63 | nx);
    }
    let vaddrs = [
        page_offset,
        page_offset + 0x5123,
        page_offset + 0x20_1000,
        page_offset + 0x4000_0000 + 77,
        0xffff_ffff_8000_0000,
    ];
    let mut seed = vec![0u8, 0]; // flags, top page 0
    seed.push(vaddrs.len() as u8);
    for v in vaddrs {
        seed.extend_from_slice(&v.to_le_bytes());
    }
    seed.extend_from_slice(&(page_offset + 0xff0).to_le_bytes());
    seed.extend_from_slice(&64u16.to_le_bytes());
    seed.extend_from_slice(&image);
    corpus.put("page_table_walk", "four-level-mixed-leaves", &seed)?;
    // Same with 5-level paging flagged (the walk then starts one level higher).
    seed[0] = 1;
    corpus.put("page_table_walk", "five-level-flag", &seed)?;

    // writer_round_trip: flags, codec, level, threads, block order, patches, ranges.
    for (codec, flags) in [(0u8, 0u8), (1, 2), (2, 1), (3, 0), (4, 2)] {
        corpus.put(
            "writer_round_trip",
            &format!("codec-{codec}-flags-{flags}"),
            &[
                flags, codec, 1, 0, 4, 2, 8, 0, 20, 3, 1, 2, 3, 4, 5, 6, 7, 8, 2, 0, 2, 40, 1, 4,
                32,
            ],
        )?;
    }
    // pipeline_schedule: threads, slot size, range, failure, bitmap, delays.
    let mut bits = vec![0xa5u8; 64];
    bits.extend_from_slice(&[0xff; 64]);
    for (threads, failure) in [(0u8, 0u8), (2, 0), (4, 2), (3, 3), (8, 1)] {
        let mut seed = vec![threads, 0, 16, 0, 0, 0, 4, failure, 100, 0];
        seed.extend_from_slice(&bits);
        seed.extend((0..64u8).map(|i| i.wrapping_mul(37)));
        corpus.put(
            "pipeline_schedule",
            &format!("threads-{threads}-failure-{failure}"),
            &seed,
        )?;
    }
    // printk: well-formed lockless rings (flags, count_bits, first id, lpos, records, then
    // per record ts, caller id, length, text), with and without the caller-id column and
    // with ids that wrap the descriptor ring.
    for (flags, count_bits, first_id) in [(0u8, 3u8, 5u32), (2, 1, 0xffff_fff0), (1, 4, 77)] {
        let mut seed = vec![flags, count_bits];
        seed.extend_from_slice(&first_id.to_le_bytes());
        seed.extend_from_slice(&3u16.to_le_bytes());
        seed.push(12);
        for i in 0..12u64 {
            let text = format!("record {i}: printk text\twith a tab and \u{e9}");
            seed.extend_from_slice(&(i * 1_234_567_891).to_le_bytes());
            seed.extend_from_slice(&(0x8000_0000u32 | i as u32).to_le_bytes());
            seed.push(text.len() as u8);
            seed.extend_from_slice(text.as_bytes());
        }
        corpus.put(
            "printk",
            &format!("ring-flags-{flags}-bits-{count_bits}"),
            &seed,
        )?;
    }
    // codec_decompress / elf_notes: garbage and empty.
    corpus.put("codec_decompress", "garbage", &[0xff; 17])?;
    corpus.put("elf_notes", "synthetic-like", &synthetic_notes())?;
    Ok(())
}

/// One NT_PRSTATUS and a VMCOREINFO note, as the synthetic vmcore writes them.
fn synthetic_notes() -> Vec<u8> {
    let mut notes = Vec::new();
    let mut push = |name: &[u8], n_type: u32, desc: &[u8]| {
        notes.extend_from_slice(&(name.len() as u32).to_le_bytes());
        notes.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        notes.extend_from_slice(&n_type.to_le_bytes());
        notes.extend_from_slice(name);
        notes.resize(notes.len().next_multiple_of(4), 0);
        notes.extend_from_slice(desc);
        notes.resize(notes.len().next_multiple_of(4), 0);
    };
    push(b"CORE\0", 1, &[0u8; 336]);
    push(b"VMCOREINFO\0", 0, b"OSRELEASE=6.1.0\nPAGESIZE=4096\n");
    notes
}
