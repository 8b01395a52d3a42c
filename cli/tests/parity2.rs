//! Issue 7 (makedumpfile parity II): refiltering kdump and flattened inputs, `-E`,
//! `--split` / `--reassemble`, and malformed dump inputs, on synthetic vmcores.

use std::path::Path;
use std::process::Output;

use engine::input::kdump::KdumpFile;
use engine::synthetic::SyntheticVmcore;

mod common;

use common::{run, run_with_stdin, text, TempDir};

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Exit 1, "makedumpfile Failed.", no panic.
fn assert_fails_cleanly(out: &Output) {
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "the binary panicked: {err}");
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(text(&out.stdout).ends_with("makedumpfile Failed.\n"));
}

fn write_vmcore(dir: &TempDir, seed: u64) -> (SyntheticVmcore, String) {
    let synthetic = SyntheticVmcore::mixed(seed);
    std::fs::write(dir.path("vmcore"), synthetic.to_bytes()).unwrap();
    (synthetic, dir.arg("vmcore"))
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn a_level_0_dump_refiltered_at_31_equals_the_direct_dump_for_every_codec() {
    let dir = TempDir::new("refilter");
    let (_, vmcore) = write_vmcore(&dir, 3);
    let direct = dir.arg("direct");
    assert_ok(&run(&["-l", "-d", "31", &vmcore, &direct]));
    for codec in ["-c", "-l", "-p", "-z", "-d"] {
        let level0 = dir.arg(&format!("level0{codec}"));
        let mut args = vec![codec, "0"];
        if codec != "-d" {
            args = vec![codec, "-d", "0"];
        }
        args.extend([vmcore.as_str(), level0.as_str()]);
        assert_ok(&run(&args));
        let refiltered = dir.arg(&format!("refiltered{codec}"));
        assert_ok(&run(&["-l", "-d", "31", &level0, &refiltered]));
        assert_eq!(
            read(&refiltered),
            read(&direct),
            "input written with {codec}"
        );
    }
}

#[test]
fn refiltering_ors_the_levels_with_makedumpfiles_message() {
    let dir = TempDir::new("or");
    let (_, vmcore) = write_vmcore(&dir, 4);
    let level1 = dir.arg("level1");
    assert_ok(&run(&["-c", "-d", "1", &vmcore, &level1]));
    let out_path = dir.arg("out");
    let out = run(&["-l", "-d", "30", &level1, &out_path]);
    assert_ok(&out);
    assert!(
        text(&out.stdout).starts_with(&format!(
            "dump_level is changed to 31, because {level1} was created by dump_level(1)."
        )),
        "{}",
        text(&out.stdout)
    );
    let direct = dir.arg("direct");
    assert_ok(&run(&["-l", "-d", "31", &vmcore, &direct]));
    assert_eq!(read(&out_path), read(&direct));
    assert_eq!(
        KdumpFile::open(Path::new(&out_path))
            .unwrap()
            .sub_header
            .dump_level,
        31
    );
}

#[test]
fn a_flattened_stream_is_refiltered_like_the_file_it_stands_for() {
    let dir = TempDir::new("flatin");
    let (_, vmcore) = write_vmcore(&dir, 5);
    let flat = run(&["-F", "-z", "-d", "0", &vmcore]);
    assert!(flat.status.success());
    std::fs::write(dir.path("flat"), &flat.stdout).unwrap();
    let out_path = dir.arg("out");
    assert_ok(&run(&["-c", "-d", "31", &dir.arg("flat"), &out_path]));
    let direct = dir.arg("direct");
    assert_ok(&run(&["-c", "-d", "31", &vmcore, &direct]));
    assert_eq!(read(&out_path), read(&direct));
}

#[test]
fn elf_output_holds_every_dumpable_page_and_drops_long_excluded_runs() {
    let dir = TempDir::new("elf");
    let (synthetic, vmcore) = write_vmcore(&dir, 6);
    let elf = dir.arg("elf");
    assert_ok(&run(&["-E", "-d", "31", &vmcore, &elf]));
    let kdump = dir.arg("kdump");
    assert_ok(&run(&["-d", "31", &vmcore, &kdump]));
    let kdump = KdumpFile::open(Path::new(&kdump)).unwrap();
    // The ELF output is itself a vmcore: open it and compare page by page.
    let reopened = engine::input::elf::ElfVmcore::open(Path::new(&elf), false).unwrap();
    use engine::input::PhysicalMemory;
    let mut reader = reopened.reader().unwrap();
    let mut page = vec![0u8; 4096];
    let mut checked = 0;
    for pfn in kdump.dumpable.iter_set(0, kdump.dumpable.len()) {
        let expected = synthetic.page(pfn);
        if expected.iter().all(|&b| b == 0) {
            continue; // zero pages are excluded from the ELF file (level bit 1)
        }
        assert!(
            reopened.has_page(pfn),
            "pfn {pfn:#x} missing from the ELF dump"
        );
        reader.read_page(pfn, &mut page).unwrap();
        assert_eq!(page, expected, "pfn {pfn:#x}");
        checked += 1;
    }
    assert!(checked > 0);
    assert!(std::fs::metadata(&elf).unwrap().len() < synthetic.to_bytes().len() as u64);
}

#[test]
fn elf_output_refuses_compression_threads_split_and_kdump_inputs() {
    let dir = TempDir::new("elfbad");
    let (_, vmcore) = write_vmcore(&dir, 7);
    let out = run(&["-E", "-c", &vmcore, &dir.arg("a")]);
    assert_fails_cleanly(&out);
    assert!(text(&out.stdout).starts_with("Commandline parameter is invalid.\n"));
    let out = run(&["-E", "--num-threads", "2", &vmcore, &dir.arg("a")]);
    assert_fails_cleanly(&out);
    assert!(text(&out.stdout).starts_with("--num-threads cannot used with ELF format.\n"));
    let out = run(&["-E", "--split", &vmcore, &dir.arg("a"), &dir.arg("b")]);
    assert_fails_cleanly(&out);
    assert!(text(&out.stdout)
        .starts_with("Options for splitting dumpfile cannot be used with Elf format.\n"));
    let kdump = dir.arg("kdump");
    assert_ok(&run(&["-d", "0", &vmcore, &kdump]));
    let out = run(&["-E", "-d", "31", &kdump, &dir.arg("a")]);
    assert_fails_cleanly(&out);
    assert!(text(&out.stderr).contains("kdump compressed format"));
    assert!(!dir.path("a").exists());
}

#[test]
fn split_files_reassemble_to_the_direct_dump() {
    let dir = TempDir::new("split");
    let (_, vmcore) = write_vmcore(&dir, 8);
    let direct = dir.arg("direct");
    assert_ok(&run(&["-z", "-d", "31", &vmcore, &direct]));
    let parts: Vec<String> = (1..=3).map(|i| dir.arg(&format!("part{i}"))).collect();
    let mut args = vec![
        "-z",
        "-d",
        "31",
        "--splitblock-size",
        "64",
        "--split",
        &vmcore,
    ];
    args.extend(parts.iter().map(String::as_str));
    let out = run(&args);
    assert_ok(&out);
    assert!(text(&out.stdout).contains(&format!(
        "The dumpfiles are saved to {}, {}, and {}.",
        parts[0], parts[1], parts[2]
    )));
    let mut end = 0;
    for part in &parts {
        let dump = KdumpFile::open(Path::new(part)).unwrap();
        assert_eq!(dump.sub_header.split, 1);
        assert_eq!(dump.sub_header.start_pfn_64, end);
        end = dump.sub_header.end_pfn_64;
    }
    let whole = KdumpFile::open(Path::new(&direct)).unwrap();
    assert_eq!(end, whole.layout.max_mapnr);
    // Parts in any order.
    let joined = dir.arg("joined");
    assert_ok(&run(&[
        "--reassemble",
        &parts[2],
        &parts[0],
        &parts[1],
        &joined,
    ]));
    assert_eq!(read(&joined), read(&direct));
    // A missing part is named, not silently joined.
    let out = run(&["--reassemble", &parts[0], &parts[2], &dir.arg("broken")]);
    assert_fails_cleanly(&out);
    assert!(text(&out.stderr).contains("There is not dumpfile corresponding to pfn"));
}

#[test]
fn split_and_reassemble_argument_rules() {
    let dir = TempDir::new("splitargs");
    let (_, vmcore) = write_vmcore(&dir, 9);
    assert_fails_cleanly(&run(&["--split", &vmcore, &dir.arg("a")]));
    // With -F the messages go to stderr.
    let out = run(&["-F", "--split", &vmcore, &dir.arg("a"), &dir.arg("b")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).ends_with("makedumpfile Failed.\n"));
    let out = run(&[
        "--num-threads",
        "2",
        "--split",
        &vmcore,
        &dir.arg("a"),
        &dir.arg("b"),
    ]);
    assert_fails_cleanly(&out);
    assert!(text(&out.stdout).starts_with("--num-threads cannot used with --split.\n"));
    assert_fails_cleanly(&run(&[
        "--reassemble",
        "-d",
        "31",
        &dir.arg("a"),
        &dir.arg("b"),
    ]));
    let out = run(&[
        "--splitblock-size",
        "3",
        "--split",
        &vmcore,
        &dir.arg("a"),
        &dir.arg("b"),
    ]);
    assert_fails_cleanly(&out);
    assert!(text(&out.stderr).contains("align to page_size"));
}

/// Damaged kdump and flattened inputs: each gives exit 1 and a message, never a panic.
#[test]
fn issue_7_malformed_kdump_and_flattened_inputs_fail_cleanly() {
    let dir = TempDir::new("malformed");
    let (_, vmcore) = write_vmcore(&dir, 10);
    let good = dir.arg("good");
    assert_ok(&run(&["-c", "-d", "0", &vmcore, &good]));
    let bytes = read(&good);
    let flat = run(&["-F", "-c", "-d", "0", &vmcore]).stdout;

    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("header only", bytes[..464].to_vec()),
        ("truncated in the bitmaps", bytes[..4096 * 3].to_vec()),
        (
            "truncated in the data",
            bytes[..bytes.len() * 2 / 3].to_vec(),
        ),
        ("flattened, cut", flat[..flat.len() / 2].to_vec()),
        ("flattened, header only", flat[..4096].to_vec()),
    ];
    let mut bad_block = bytes.clone();
    bad_block[428..432].copy_from_slice(&3000i32.to_le_bytes());
    cases.push(("block_size not a power of two", bad_block));
    let mut bad_bitmap = bytes.clone();
    bad_bitmap[436..440].copy_from_slice(&u32::MAX.to_le_bytes());
    cases.push(("bitmap_blocks huge", bad_bitmap));
    let mut bad_notes = bytes.clone();
    bad_notes[4096 + 56..4096 + 64].copy_from_slice(&u64::MAX.to_le_bytes());
    cases.push(("size_note huge", bad_notes));
    let mut bad_desc = bytes.clone();
    let desc_start = {
        let dump = KdumpFile::from_source(&bytes[..], "good").unwrap();
        dump.layout.offset_desc() as usize
    };
    for i in 0..64 {
        let at = desc_start + i * 24;
        bad_desc[at..at + 8].copy_from_slice(&(u64::MAX / 3).to_le_bytes());
    }
    cases.push(("descriptors past the end", bad_desc));
    let mut bad_zlib = bytes.clone();
    let data_start = desc_start
        + 24 * KdumpFile::from_source(&bytes[..], "good")
            .unwrap()
            .layout
            .num_dumpable as usize;
    for b in &mut bad_zlib[data_start..data_start + 4096] {
        *b = 0xa5;
    }
    cases.push(("garbage page data", bad_zlib));

    for (what, input) in cases {
        let path = dir.path("bad");
        std::fs::write(&path, &input).unwrap();
        let out_path = dir.path("out");
        let _ = std::fs::remove_file(&out_path);
        let out = run(&[
            "-l",
            "-d",
            "31",
            path.to_str().unwrap(),
            out_path.to_str().unwrap(),
        ]);
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{what}: panicked: {err}");
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(!err.trim().is_empty(), "{what}: no message");
    }
    // Split files with damaged descriptors: --reassemble fails cleanly too.
    let parts = [dir.arg("p1"), dir.arg("p2")];
    assert_ok(&run(&[
        "-c",
        "-d",
        "31",
        "--splitblock-size",
        "64",
        "--split",
        &vmcore,
        &parts[0],
        &parts[1],
    ]));
    let mut part = read(&parts[1]);
    let len = part.len();
    part.truncate(len - 100);
    std::fs::write(&parts[1], &part).unwrap();
    let out = run(&["--reassemble", &parts[0], &parts[1], &dir.arg("joined")]);
    assert_fails_cleanly(&out);
}

#[test]
fn elf_output_cut_by_the_size_limit_is_flagged_incomplete() {
    let dir = TempDir::new("elf-limit");
    let (_, vmcore) = write_vmcore(&dir, 41);
    let dump = dir.arg("dump");
    let out = run(&["-E", "-d", "31", "-L", "100K", &vmcore, &dump]);
    assert_fails_cleanly(&out);
    assert!(
        text(&out.stdout).contains("This is an incomplete dumpfile"),
        "{}",
        text(&out.stdout)
    );
    let bytes = read(&dump);
    assert_eq!(
        u32::from_le_bytes(bytes[48..52].try_into().unwrap()) & 1,
        1,
        "e_flags bit 0"
    );
    let full = dir.arg("full");
    assert!(run(&["-E", "-d", "31", &vmcore, &full]).status.success());
    let bytes = read(&full);
    assert_eq!(u32::from_le_bytes(bytes[48..52].try_into().unwrap()) & 1, 0);
}

/// The header's status word of a kdump file (offset 424) has the incomplete bit 0x8.
fn kdump_incomplete(path: &str) -> bool {
    let bytes = read(path);
    u32::from_le_bytes(bytes[424..428].try_into().unwrap()) & 0x8 != 0
}

#[test]
fn issue_14_dry_run_writes_nothing_in_any_mode() {
    let dir = TempDir::new("dry-run");
    let (_, vmcore) = write_vmcore(&dir, 14);
    let level0 = dir.arg("level0");
    assert_ok(&run(&["-d", "0", &vmcore, &level0]));
    let runs: [(&str, Vec<&str>); 4] = [
        ("kdump", vec!["-l", "-d", "31"]),
        ("elf", vec!["-E", "-d", "31"]),
        ("refilter", vec!["-l", "-d", "31"]),
        ("split", vec!["-l", "-d", "31", "--split"]),
    ];
    for (mode, options) in runs {
        let input = if mode == "refilter" { &level0 } else { &vmcore };
        let out_a = dir.arg(&format!("{mode}-a"));
        let out_b = dir.arg(&format!("{mode}-b"));
        let mut args = options.clone();
        args.extend(["--dry-run", input.as_str(), out_a.as_str()]);
        if mode == "split" {
            args.push(out_b.as_str());
        }
        assert_ok(&run(&args));
        assert!(
            !Path::new(&out_a).exists(),
            "{mode}: --dry-run wrote {out_a}"
        );
        assert!(
            !Path::new(&out_b).exists(),
            "{mode}: --dry-run wrote {out_b}"
        );
    }
}

#[test]
fn issue_14_the_size_limit_holds_in_every_mode() {
    let dir = TempDir::new("limit");
    let (_, vmcore) = write_vmcore(&dir, 15);
    let level0 = dir.arg("level0");
    assert_ok(&run(&["-d", "0", &vmcore, &level0]));
    let limit = 20 * 1024;
    let limit_arg = format!("{}K", limit / 1024);
    for mode in ["kdump", "refilter", "split"] {
        let input = if mode == "refilter" { &level0 } else { &vmcore };
        let first = dir.arg(&format!("{mode}-1"));
        let second = dir.arg(&format!("{mode}-2"));
        let mut args = vec!["-d", "1", "-L", &limit_arg];
        if mode == "split" {
            args.push("--split");
        }
        args.extend([input.as_str(), first.as_str()]);
        if mode == "split" {
            args.push(second.as_str());
        }
        let out = run(&args);
        assert_fails_cleanly(&out);
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains(&format!("Size limit({limit}) reached")),
            "{mode}: {stdout}"
        );
        assert!(
            stdout.contains("This is an incomplete dumpfile"),
            "{mode}: {stdout}"
        );
        // Writes are cut by file position, as makedumpfile's write_and_check_space: in
        // so small a dump the page data lies past the limit, so the file may end earlier.
        let written = std::fs::metadata(&first).unwrap().len();
        assert!(
            written <= limit,
            "{mode}: {written} bytes written past the limit"
        );
        assert!(kdump_incomplete(&first), "{mode}: header marked incomplete");
    }
}

#[test]
fn issue_14_retry_levels_apply_in_every_mode() {
    let dir = TempDir::new("retry");
    let (_, vmcore) = write_vmcore(&dir, 16);
    let level0 = dir.arg("level0");
    assert_ok(&run(&["-d", "0", &vmcore, &level0]));
    let direct1 = dir.arg("direct1");
    let direct31 = dir.arg("direct31");
    assert_ok(&run(&["-d", "1", &vmcore, &direct1]));
    assert_ok(&run(&["-d", "31", &vmcore, &direct31]));
    let size31 = std::fs::metadata(&direct31).unwrap().len();
    assert!(size31 < std::fs::metadata(&direct1).unwrap().len());
    // A limit that only the -d 31 dump fits: the -d 1 attempt fails, is deleted, and the
    // retry at 31 writes what a direct -d 31 run writes.
    let limit = size31.to_string();
    for (mode, input) in [("kdump", &vmcore), ("refilter", &level0)] {
        let dump = dir.arg(&format!("{mode}-retried"));
        let out = run(&["-d", "1,31", "-L", &limit, input, &dump]);
        assert_ok(&out);
        assert!(
            text(&out.stdout).contains("Retry to create a dumpfile by dump_level(31)."),
            "{mode}: {}",
            text(&out.stdout)
        );
        assert_eq!(read(&dump), read(&direct31), "{mode}");
    }
}

#[test]
fn issue_14_an_existing_output_is_kept_in_every_mode() {
    let dir = TempDir::new("exists");
    let (_, vmcore) = write_vmcore(&dir, 17);
    let level0 = dir.arg("level0");
    assert_ok(&run(&["-d", "0", &vmcore, &level0]));
    let existing = dir.arg("existing");
    let other = dir.arg("other");
    let runs: [(&str, Vec<&str>); 5] = [
        ("kdump", vec!["-l", "-d", "31"]),
        ("dry run", vec!["-l", "-d", "31", "--dry-run"]),
        ("elf", vec!["-E", "-d", "31"]),
        ("refilter", vec!["-l", "-d", "31"]),
        ("split", vec!["-l", "-d", "31", "--split"]),
    ];
    for (mode, options) in runs {
        std::fs::write(&existing, b"precious").unwrap();
        let input = if mode == "refilter" { &level0 } else { &vmcore };
        let mut args = options.clone();
        args.extend([input.as_str(), existing.as_str()]);
        if mode == "split" {
            args.push(other.as_str());
        }
        let out = run(&args);
        assert_fails_cleanly(&out);
        assert!(
            text(&out.stderr).contains(&format!(
                "Can't open the dump file ({existing}). File exists"
            )),
            "{mode}: {}",
            text(&out.stderr)
        );
        assert_eq!(read(&existing), b"precious", "{mode}");
        assert!(!Path::new(&other).exists(), "{mode}");
    }
}

#[test]
fn issue_14_a_split_set_cut_by_the_limit_is_marked_incomplete_in_every_part() {
    let dir = TempDir::new("split-limit");
    let (_, vmcore) = write_vmcore(&dir, 18);
    let split_args = ["-d", "1", "--splitblock-size", "64", "--split"];
    let (whole1, whole2) = (dir.arg("whole1"), dir.arg("whole2"));
    let mut args = split_args.to_vec();
    args.extend([vmcore.as_str(), whole1.as_str(), whole2.as_str()]);
    assert_ok(&run(&args));
    let (size1, size2) = (
        std::fs::metadata(&whole1).unwrap().len(),
        std::fs::metadata(&whole2).unwrap().len(),
    );
    assert_ne!(size1, size2, "the parts must differ in size for this test");
    // A limit that only the larger part exceeds: the smaller one completes on its own
    // and is marked incomplete only because its set is.
    let limit = size1.min(size2).to_string();
    let (cut1, cut2) = (dir.arg("cut1"), dir.arg("cut2"));
    let mut args = split_args.to_vec();
    args.extend([
        "-L",
        limit.as_str(),
        vmcore.as_str(),
        cut1.as_str(),
        cut2.as_str(),
    ]);
    assert_fails_cleanly(&run(&args));
    let (big, small) = if size1 > size2 {
        (&cut1, &cut2)
    } else {
        (&cut2, &cut1)
    };
    let (whole_small, _) = if size1 > size2 {
        (&whole2, &whole1)
    } else {
        (&whole1, &whole2)
    };
    assert!(kdump_incomplete(big), "the part that reached the limit");
    assert!(kdump_incomplete(small), "the part that completed");
    // Apart from that bit, the completed part is the whole one.
    let (mut got, want) = (read(small), read(whole_small));
    got[424] &= !0x8;
    assert_eq!(got, want);
}

#[test]
fn issue_14_rebuild_and_reassemble_honour_the_output_options() {
    let dir = TempDir::new("copy-modes");
    let (_, vmcore) = write_vmcore(&dir, 19);
    let stream = run(&["-F", "-d", "1", &vmcore]);
    assert_eq!(stream.status.code(), Some(0));
    let stream = stream.stdout;
    let (part1, part2) = (dir.arg("part1"), dir.arg("part2"));
    assert_ok(&run(&[
        "-d",
        "1",
        "--splitblock-size",
        "64",
        "--split",
        &vmcore,
        &part1,
        &part2,
    ]));
    let whole = dir.arg("whole");
    assert_ok(&run(&["-d", "1", &vmcore, &whole]));
    let whole_size = std::fs::metadata(&whole).unwrap().len();

    // --dry-run: -R reads the whole stream and writes nothing; --reassemble refuses it
    // with makedumpfile's words.
    let dry = dir.arg("dry");
    assert_ok(&run_with_stdin(&["-R", "--dry-run", &dry], &stream));
    assert!(!Path::new(&dry).exists(), "-R --dry-run wrote {dry}");
    let out = run(&["--reassemble", "--dry-run", &part1, &part2, &dry]);
    assert_fails_cleanly(&out);
    assert!(text(&out.stdout).starts_with("--dry-run cannot be used with --reassemble.\n"));
    assert!(!Path::new(&dry).exists());

    // -L below the dump's size: cut at the limit, exit 1, marked incomplete.
    let limit = whole_size / 2;
    let limit_arg = limit.to_string();
    let rebuilt = dir.arg("rebuilt-cut");
    let joined = dir.arg("joined-cut");
    for (mode, out, path) in [
        (
            "-R",
            run_with_stdin(&["-R", "-L", &limit_arg, &rebuilt], &stream),
            &rebuilt,
        ),
        (
            "--reassemble",
            run(&["--reassemble", "-L", &limit_arg, &part1, &part2, &joined]),
            &joined,
        ),
    ] {
        assert_fails_cleanly(&out);
        let all = text(&out.stdout) + &text(&out.stderr);
        assert!(
            all.contains(&format!("Size limit({limit}) reached")),
            "{mode}: {all}"
        );
        let written = std::fs::metadata(path).unwrap().len();
        assert!(written <= limit, "{mode}: {written} bytes past the limit");
        assert!(kdump_incomplete(path), "{mode}: not marked incomplete");
    }

    // An existing output is kept without -f, and replaced with it.
    let existing = dir.arg("existing");
    for (mode, force) in [
        ("-R", false),
        ("--reassemble", false),
        ("-R", true),
        ("--reassemble", true),
    ] {
        std::fs::write(&existing, b"precious").unwrap();
        let mut args = vec![mode];
        if force {
            args.push("-f");
        }
        let out = if mode == "-R" {
            args.push(&existing);
            run_with_stdin(&args, &stream)
        } else {
            args.extend([part1.as_str(), part2.as_str(), existing.as_str()]);
            run(&args)
        };
        if force {
            assert_ok(&out);
            assert_eq!(read(&existing), read(&whole), "{mode} -f");
        } else {
            assert_fails_cleanly(&out);
            assert_eq!(read(&existing), b"precious", "{mode}");
        }
    }
}
