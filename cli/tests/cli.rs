//! Runs the real `makedumpfile` binary on small synthetic vmcores.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use engine::codec::Compression;
use engine::input::kdump::KdumpFile;
use engine::synthetic::SyntheticVmcore;

mod common;

use common::{run, text, TempDir, BIN};

fn assert_no_panic(out: &Output) {
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "the binary panicked: {err}");
}

fn write_vmcore(dir: &TempDir, synthetic: &SyntheticVmcore) -> PathBuf {
    let path = dir.path("vmcore");
    std::fs::write(&path, synthetic.to_bytes()).unwrap();
    path
}

/// Every dumpable page of `dump` equals the synthetic source page.
fn check_pages(dump_path: &Path, synthetic: &SyntheticVmcore, compression: Compression) -> u64 {
    let dump = KdumpFile::open(dump_path).unwrap();
    assert_eq!(dump.compression(), compression);
    let mut codec = compression.new_codec().unwrap();
    let mut page = vec![0u8; 4096];
    let mut count = 0;
    for pfn in dump.dumpable.iter_set(0, dump.dumpable.len()) {
        assert!(dump
            .read_page(pfn, &mut page, codec.as_deref_mut())
            .unwrap());
        assert_eq!(page, synthetic.page(pfn), "pfn {pfn:#x}");
        count += 1;
    }
    count
}

#[test]
fn every_codec_and_level_writes_a_readable_dump() {
    let dir = TempDir::new("codecs");
    let synthetic = SyntheticVmcore::mixed(11);
    let vmcore = write_vmcore(&dir, &synthetic);
    for (flag, compression) in [
        ("", Compression::None),
        ("-c", Compression::Zlib),
        ("-l", Compression::Lzo),
        ("-p", Compression::Snappy),
        ("-z", Compression::Zstd),
    ] {
        for level in ["0", "1"] {
            let dump = dir.path(&format!("dump{flag}{level}"));
            let mut args = vec!["-d", level];
            if !flag.is_empty() {
                args.push(flag);
            }
            args.extend([vmcore.to_str().unwrap(), dump.to_str().unwrap()]);
            let out = run(&args);
            assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
            let stdout = text(&out.stdout);
            assert!(
                stdout.contains(&format!("The dumpfile is saved to {}.", dump.display())),
                "{stdout}"
            );
            assert!(stdout.ends_with("\nmakedumpfile Completed.\n"), "{stdout}");
            assert!(check_pages(&dump, &synthetic, compression) > 300);
        }
    }
}

#[test]
fn program_headers_after_a_gap_are_found_through_e_phoff() {
    let dir = TempDir::new("phoff");
    let mut synthetic = SyntheticVmcore::mixed(3);
    synthetic.phoff_gap = 128; // QEMU's layout: makedumpfile cannot read it
    let vmcore = write_vmcore(&dir, &synthetic);
    let dump = dir.path("dump");
    let out = run(&[
        "-l",
        "-d",
        "1",
        vmcore.to_str().unwrap(),
        dump.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    check_pages(&dump, &synthetic, Compression::Lzo);
}

#[test]
fn flattened_stream_rebuilds_to_the_direct_file() {
    let dir = TempDir::new("flat");
    let synthetic = SyntheticVmcore::mixed(5);
    let vmcore = write_vmcore(&dir, &synthetic);
    let direct = dir.path("direct");
    let out = run(&[
        "-c",
        "-d",
        "1",
        vmcore.to_str().unwrap(),
        direct.to_str().unwrap(),
    ]);
    assert!(out.status.success());

    let flat = Command::new(BIN)
        .args(["-F", "-c", "-d", "1", vmcore.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(flat.status.success());
    assert!(flat.stdout.starts_with(b"makedumpfile\0\0\0\0"));
    assert!(
        text(&flat.stderr).contains("makedumpfile Completed."),
        "with -F messages go to stderr"
    );

    let rebuilt = dir.path("rebuilt");
    let mut child = Command::new(BIN)
        .args(["-R", rebuilt.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &flat.stdout).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        std::fs::read(&rebuilt).unwrap(),
        std::fs::read(&direct).unwrap()
    );

    // A stream cut before its end marker is an error, not a silent success.
    let cut = dir.path("cut");
    let mut child = Command::new(BIN)
        .args(["-R", cut.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let half = flat.stdout.len() / 2;
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &flat.stdout[..half]).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_no_panic(&out);
}

#[test]
fn output_is_identical_for_every_thread_count() {
    let dir = TempDir::new("threads");
    let synthetic = SyntheticVmcore::mixed(9);
    let vmcore = write_vmcore(&dir, &synthetic);
    let serial = dir.path("serial");
    assert!(run(&[
        "-l",
        "-d",
        "1",
        vmcore.to_str().unwrap(),
        serial.to_str().unwrap()
    ])
    .status
    .success());
    let expected = std::fs::read(&serial).unwrap();
    for threads in ["1", "2", "3", "8"] {
        let path = dir.path(&format!("t{threads}"));
        let out = run(&[
            "-l",
            "-d",
            "1",
            "--num-threads",
            threads,
            vmcore.to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            std::fs::read(&path).unwrap() == expected,
            "--num-threads {threads} differs from serial"
        );
    }
}

#[test]
fn a_file_that_is_not_a_vmcore_is_refused_by_name() {
    let dir = TempDir::new("notelf");
    let input = dir.path("notes.txt");
    std::fs::write(&input, b"hello, this is not a crash dump\n").unwrap();
    let out = run(&[input.to_str().unwrap(), dir.path("dump").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_no_panic(&out);
    assert!(
        text(&out.stderr).contains("notes.txt"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).ends_with("makedumpfile Failed.\n"));
}

/// Only x86_64 and aarch64 dumps are read: any other machine is refused by name, from the
/// ELF e_machine of a vmcore and from the header's utsname.machine of a kdump dump, in
/// every mode, with exit 1 and no panic.
#[test]
fn other_architectures_are_refused_naming_the_file_and_field() {
    let dir = TempDir::new("arch");
    let mut bytes = SyntheticVmcore::mixed(1).to_bytes();
    for (e_machine, name) in [(21u16, "ppc64"), (22, "s390x"), (243, "riscv64")] {
        bytes[18..20].copy_from_slice(&e_machine.to_le_bytes());
        let input = dir.path(&format!("vmcore-{name}"));
        std::fs::write(&input, &bytes).unwrap();
        for mode in [
            &["-l", "-d", "31"][..],
            &["--dump-dmesg"],
            &["-E", "-d", "1"],
        ] {
            let mut args = mode.to_vec();
            let output = dir.path("out");
            args.extend([input.to_str().unwrap(), output.to_str().unwrap()]);
            let out = run(&args);
            assert_eq!(out.status.code(), Some(1), "{mode:?} {name}");
            assert_no_panic(&out);
            let err = text(&out.stderr);
            let expected = format!(
                "{}: e_machine {e_machine} ({name}) is not supported",
                input.display()
            );
            assert!(err.contains(&expected), "{mode:?}: {err}");
        }
    }

    let vmcore = write_vmcore(&dir, &SyntheticVmcore::mixed(1));
    let dump = dir.path("dump");
    let out = run(&[
        "-l",
        "-d",
        "0",
        vmcore.to_str().unwrap(),
        dump.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // utsname.machine: the 5th 65-byte field after the signature and header_version.
    let mut dump_bytes = std::fs::read(&dump).unwrap();
    let machine = 12 + 4 * 65;
    dump_bytes[machine..machine + 65].fill(0);
    dump_bytes[machine..machine + 7].copy_from_slice(b"ppc64le");
    std::fs::write(&dump, &dump_bytes).unwrap();
    let out = run(&[
        "-l",
        "-d",
        "31",
        dump.to_str().unwrap(),
        dir.path("re").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_no_panic(&out);
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}: utsname.machine \"ppc64le\" is not supported",
            dump.display()
        )),
        "{err}"
    );
}

#[test]
fn a_vmcore_truncated_inside_a_pt_load_is_refused() {
    let dir = TempDir::new("trunc");
    let synthetic = SyntheticVmcore::mixed(1);
    let bytes = synthetic.to_bytes();
    let input = dir.path("vmcore");
    std::fs::write(&input, &bytes[..bytes.len() - 5000]).unwrap();
    let out = run(&[
        "-l",
        input.to_str().unwrap(),
        dir.path("dump").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_no_panic(&out);
    let err = text(&out.stderr);
    assert!(
        err.contains("PT_LOAD") && err.contains("truncated"),
        "{err}"
    );
}

#[test]
fn an_existing_dump_is_never_overwritten_without_force() {
    let dir = TempDir::new("exists");
    let vmcore = write_vmcore(&dir, &SyntheticVmcore::mixed(2));
    let dump = dir.path("dump");
    std::fs::write(&dump, b"previous dump").unwrap();
    let out = run(&["-l", vmcore.to_str().unwrap(), dump.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("File exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&dump).unwrap(), b"previous dump");
    let out = run(&["-f", "-l", vmcore.to_str().unwrap(), dump.to_str().unwrap()]);
    assert!(out.status.success());
    assert_ne!(std::fs::read(&dump).unwrap(), b"previous dump");
}

#[test]
fn an_unwritable_output_path_is_an_error() {
    let dir = TempDir::new("unwritable");
    let vmcore = write_vmcore(&dir, &SyntheticVmcore::mixed(2));
    let out = run(&[vmcore.to_str().unwrap(), "/nonexistent-directory/dump"]);
    assert_eq!(out.status.code(), Some(1));
    assert_no_panic(&out);
    assert!(
        text(&out.stderr).contains("/nonexistent-directory/dump"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_params_accepts_distribution_lines_without_a_banner() {
    for line in [
        &[
            "-l",
            "--message-level",
            "7",
            "-d",
            "31",
            "vmcore",
            "dumpfile",
        ][..],
        &["-F", "-c", "-d", "31", "vmcore"],
    ] {
        let mut args = vec!["--check-params"];
        args.extend_from_slice(line);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!text(&out.stdout).contains("Completed"));
    }
    let out = run(&["--check-params", "-d", "42", "vmcore", "dumpfile"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("Dump_level(42) is invalid."));
    let out = run(&["--check-params", "-F", "vmcore", "dumpfile"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Commandline parameter is invalid."),
        "with -F on stderr"
    );
}

#[test]
fn help_and_version_exit_zero() {
    let out = run(&["-h"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("Usage:"));
    let out = run(&["-v"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("lzo\tenabled"));
    let out = run(&["-Q"]);
    assert_eq!(out.status.code(), Some(1));
}

/// Data pfns of the synthetic machine that its struct pages classify, by pfn % 10
/// (see `SyntheticVmcore::for_generation`): 0 page cache, 1 anonymous, 2 free, 3 private
/// cache; plus an order-7 anonymous compound page and an order-7 free block. The RAM
/// PT_LOADs are pfns 1..1000 and 1064..2048.
fn synthetic_class(pfn: u64) -> Option<u64> {
    if engine::synthetic::COMPOUND_ANON.contains(&pfn) {
        return Some(1);
    }
    if engine::synthetic::BUDDY_ORDER_7.contains(&pfn) {
        return Some(2);
    }
    let in_data = (2..1000).contains(&pfn) || (1064..1536).contains(&pfn);
    (in_data && pfn % 10 < 4).then_some(pfn % 10)
}

fn report_value(stdout: &str, label: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no '{label}' in {stdout}"));
    let hex = line.rsplit("0x").next().unwrap();
    u64::from_str_radix(hex.trim(), 16).unwrap()
}

#[test]
fn dump_level_31_excludes_cache_user_and_free_pages_and_reports_them() {
    let dir = TempDir::new("level31");
    let synthetic = SyntheticVmcore::mixed(4);
    let vmcore = write_vmcore(&dir, &synthetic);
    let dump = dir.path("dump");
    let out = run(&[
        "-l",
        "-d",
        "31",
        "--message-level",
        "23",
        vmcore.to_str().unwrap(),
        dump.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = check_pages(&dump, &synthetic, Compression::Lzo);
    let parsed = KdumpFile::open(&dump).unwrap();
    let mut expected = [0u64; 4];
    for pfn in 0..parsed.ram.len() {
        if let Some(class) = synthetic_class(pfn) {
            expected[class as usize] += 1;
            assert!(
                !parsed.dumpable.get(pfn),
                "pfn {pfn} (class {class}) must be excluded"
            );
        } else if parsed.ram.get(pfn) && pfn < 2044 {
            assert!(parsed.dumpable.get(pfn), "pfn {pfn} must be kept");
        }
    }
    assert_eq!(parsed.sub_header.dump_level, 31);
    let stdout = text(&out.stdout);
    assert_eq!(
        report_value(&stdout, "Non-private cache pages"),
        expected[0]
    );
    assert_eq!(
        report_value(&stdout, "User process data pages"),
        expected[1]
    );
    assert_eq!(report_value(&stdout, "Free pages"), expected[2]);
    assert_eq!(report_value(&stdout, "Private cache pages"), expected[3]);
    let zero = report_value(&stdout, "Pages filled with zero");
    assert!(zero > 0 && zero < written, "zero pages {zero} of {written}");
    // Each level alone excludes only its own classes.
    for (level, classes) in [("2", &[0][..]), ("4", &[0, 3]), ("8", &[1]), ("16", &[2])] {
        let path = dir.path(&format!("dump{level}"));
        let out = run(&[
            "-d",
            level,
            vmcore.to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let parsed = KdumpFile::open(&path).unwrap();
        for pfn in 0..parsed.ram.len() {
            if let Some(class) = synthetic_class(pfn) {
                assert_eq!(
                    parsed.dumpable.get(pfn),
                    !classes.contains(&class),
                    "-d {level} pfn {pfn} class {class}"
                );
            }
        }
    }
}

/// The pages of an incomplete dump whose descriptors were written: each must equal the
/// source; returns (readable, lost).
fn readable_pages(
    dump_path: &Path,
    synthetic: &SyntheticVmcore,
    compression: Compression,
) -> (u64, u64) {
    let dump = KdumpFile::open(dump_path).unwrap();
    let mut codec = compression.new_codec().unwrap();
    let mut page = vec![0u8; 4096];
    let (mut readable, mut lost) = (0, 0);
    for pfn in dump.dumpable.iter_set(0, dump.dumpable.len()) {
        match dump.page_desc(pfn).unwrap() {
            Some(desc) if desc.offset != 0 => {
                assert!(dump
                    .read_page(pfn, &mut page, codec.as_deref_mut())
                    .unwrap());
                assert_eq!(page, synthetic.page(pfn), "pfn {pfn:#x}");
                readable += 1;
            }
            _ => lost += 1,
        }
    }
    (readable, lost)
}

#[test]
fn size_limit_leaves_an_incomplete_dump_whose_written_pages_read_back() {
    let dir = TempDir::new("limit");
    let synthetic = SyntheticVmcore::mixed(21);
    let vmcore = write_vmcore(&dir, &synthetic);
    let dump = dir.path("dump");
    let out = run(&[
        "-l",
        "-d",
        "0",
        "-L",
        "200K",
        vmcore.to_str().unwrap(),
        dump.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_no_panic(&out);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Size limit(204800) reached."), "{stdout}");
    assert!(
        stdout.contains("This is an incomplete dumpfile, but might analyzable."),
        "{stdout}"
    );
    assert!(std::fs::metadata(&dump).unwrap().len() <= 200 * 1024);
    let parsed = KdumpFile::open(&dump).unwrap();
    assert_ne!(
        parsed.header.status & 0x8,
        0,
        "status must carry DUMP_DH_COMPRESSED_INCOMPLETE"
    );
    let (readable, lost) = readable_pages(&dump, &synthetic, Compression::Lzo);
    assert!(
        readable > 10 && lost > 10,
        "readable {readable}, lost {lost}"
    );

    // A complete dump does not carry the flag.
    let full = dir.path("full");
    assert!(run(&[
        "-l",
        "-d",
        "0",
        vmcore.to_str().unwrap(),
        full.to_str().unwrap()
    ])
    .status
    .success());
    assert_eq!(KdumpFile::open(&full).unwrap().header.status & 0x8, 0);
}

#[test]
fn retry_levels_fall_back_when_the_limit_is_hit() {
    let dir = TempDir::new("retry");
    let synthetic = SyntheticVmcore::mixed(22);
    let vmcore = write_vmcore(&dir, &synthetic);
    let v = vmcore.to_str().unwrap();
    let (small, big) = (dir.path("d31"), dir.path("d0"));
    assert!(run(&["-l", "-d", "31", v, small.to_str().unwrap()])
        .status
        .success());
    assert!(run(&["-l", "-d", "0", v, big.to_str().unwrap()])
        .status
        .success());
    let (small_len, big_len) = (
        std::fs::metadata(&small).unwrap().len(),
        std::fs::metadata(&big).unwrap().len(),
    );
    assert!(small_len < big_len);
    let limit = ((small_len + big_len) / 2).to_string();
    let dump = dir.path("dump");
    let out = run(&["-l", "-d", "0,31", "-L", &limit, v, dump.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("Retry to create a dumpfile by dump_level(31)."));
    assert_eq!(
        std::fs::read(&dump).unwrap(),
        std::fs::read(&small).unwrap()
    );
}

#[test]
fn dry_run_writes_nothing_and_reports_the_bytes() {
    let dir = TempDir::new("dryrun");
    let vmcore = write_vmcore(&dir, &SyntheticVmcore::mixed(23));
    let dump = dir.path("dump");
    let out = run(&[
        "--dry-run",
        "--show-stats",
        "-c",
        "-d",
        "31",
        vmcore.to_str().unwrap(),
        dump.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!dump.exists(), "--dry-run must not create the dump file");
    let stdout = text(&out.stdout);
    let bytes: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Write bytes     : "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let real = dir.path("real");
    assert!(run(&[
        "-c",
        "-d",
        "31",
        vmcore.to_str().unwrap(),
        real.to_str().unwrap()
    ])
    .status
    .success());
    assert!(
        bytes > 0 && bytes <= std::fs::metadata(&real).unwrap().len() + 4096,
        "{bytes}"
    );
}

/// crash reads a flattened stream directly and takes the first record for an offset, so
/// a stream must not carry a provisional (incomplete) header before the final one.
#[test]
fn a_flattened_stream_carries_one_final_header() {
    let dir = TempDir::new("flathdr");
    let vmcore = write_vmcore(&dir, &SyntheticVmcore::mixed(51));
    let flat = run(&["-F", "-c", "-d", "31", vmcore.to_str().unwrap()]);
    assert!(flat.status.success());
    let stream = &flat.stdout;
    let mut at = 4096;
    let mut headers = Vec::new();
    while at + 16 <= stream.len() {
        let offset = i64::from_be_bytes(stream[at..at + 8].try_into().unwrap());
        let size = i64::from_be_bytes(stream[at + 8..at + 16].try_into().unwrap());
        if offset == -1 {
            break;
        }
        if offset == 0 {
            headers.push(u32::from_le_bytes(
                stream[at + 16 + 424..at + 16 + 428].try_into().unwrap(),
            ));
        }
        at += 16 + size as usize;
    }
    assert_eq!(
        headers,
        vec![0x1],
        "one header record, zlib status, not incomplete"
    );
}

/// openSUSE's kdump-save runs `makedumpfile -F --message-level 8 --dump-dmesg /proc/vmcore`
/// and parses OSRELEASE and CRASHTIME from the indented VMCOREINFO lines on stderr.
#[test]
fn debug_level_prints_vmcoreinfo_lines_for_scripts() {
    let dir = TempDir::new("debug");
    let vmcore = write_vmcore(&dir, &SyntheticVmcore::mixed(61));
    let out = run(&[
        "-F",
        "--message-level",
        "8",
        "-l",
        "-d",
        "31",
        vmcore.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("VMCOREINFO   :\n"), "{err}");
    assert!(
        err.contains("\n  OSRELEASE=6.1.0-56-cloud-amd64\n"),
        "{err}"
    );
    assert!(err.contains("\n  CRASHTIME=1700000000\n"), "{err}");
    assert!(
        out.stdout.starts_with(b"makedumpfile\0"),
        "stdout carries only the stream"
    );
}

/// Issue 17 item 2: `--verify` after writing, and alone on dumps at rest.
#[test]
fn verify_after_writing_and_at_rest() {
    let dir = TempDir::new("verify");
    let synthetic = SyntheticVmcore::mixed(17);
    let vmcore = write_vmcore(&dir, &synthetic);
    let v = vmcore.to_str().unwrap();
    let dump = dir.arg("dump");
    let out = run(&["-l", "-d", "31", "--verify", v, &dump]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Verify: the dump is sound:"), "{stdout}");

    // Alone: one file, with or without threads.
    for threads in ["0", "3"] {
        let out = run(&["--verify", "--num-threads", threads, &dump]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("the dump is sound"));
    }

    // A split set: after writing, then alone (in any order).
    let parts: Vec<String> = (0..3).map(|i| dir.arg(&format!("part{i}"))).collect();
    let mut args = vec![
        "--split",
        "-c",
        "-d",
        "1",
        "--splitblock-size",
        "1024",
        "--verify",
        v,
    ];
    args.extend(parts.iter().map(String::as_str));
    let out = run(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).matches("split part").count(), 3);
    let out = run(&["--verify", &parts[2], &parts[0], &parts[1]]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Two operands whose first is a split file: verified, not a dump written.
    let out = run(&["--verify", &parts[0], &parts[1]]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("split set"),
        "{}",
        text(&out.stderr)
    );

    // A flattened stream saved to a file verifies; on stdout it is refused.
    let stream = run(&["-F", "-z", "-d", "31", v]);
    assert!(stream.status.success());
    std::fs::write(dir.path("stream"), &stream.stdout).unwrap();
    let out = run(&["--verify", &dir.arg("stream")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("flattened kdump-compressed"));
    let out = run(&["-F", "--verify", "-d", "31", v]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--verify cannot read back"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn verify_names_the_first_fault_and_exits_1() {
    let dir = TempDir::new("verify-fault");
    let synthetic = SyntheticVmcore::mixed(18);
    let vmcore = write_vmcore(&dir, &synthetic);
    let dump = dir.arg("dump");
    assert!(run(&["-c", "-d", "1", vmcore.to_str().unwrap(), &dump])
        .status
        .success());
    let parsed = KdumpFile::open(Path::new(&dump)).unwrap();
    // A page stored compressed (raw bytes decode to a page whatever they are).
    let (pfn, desc) = parsed
        .dumpable
        .iter_set(0, parsed.dumpable.len())
        .map(|pfn| (pfn, parsed.page_desc(pfn).unwrap().unwrap()))
        .filter(|(_, desc)| desc.flags != 0)
        .nth(20)
        .unwrap();
    drop(parsed);
    let mut bytes = std::fs::read(&dump).unwrap();
    let at = desc.offset as usize;
    bytes[at..at + desc.size as usize].fill(0x5a);
    std::fs::write(&dump, &bytes).unwrap();
    let out = run(&["--verify", &dump]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "page data of pfn {pfn:#x} at offset {:#x}",
            desc.offset
        )),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("NOT sound"));
}
