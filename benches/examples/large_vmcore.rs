//! Write a synthetic x86_64 vmcore of any RAM size as a sparse file (issue 16):
//!
//!   cargo run --release -p makedumpfile-benches --example large_vmcore -- \
//!       --ram-gib 16 [--seed N] [--sample REAL_VMCORE] [--no-user-data] OUT
//!
//! With --sample, the used pages hold pages sampled from a real vmcore; without, synthetic
//! content. --no-user-data leaves page-cache and anonymous pages as holes (only `-d 1`
//! would see the difference), to keep the largest machines within the disk. Prints one line of `key=value` figures (what the file holds).

use std::path::PathBuf;
use std::process::exit;

use engine::synthetic::large::{sample_pages, LargeVmcore};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut ram_gib, mut seed, mut sample, mut out) = (None, 1u64, None, None);
    let mut user_data = true;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ram-gib" => ram_gib = args.next().and_then(|v| v.parse::<u64>().ok()),
            "--seed" => seed = args.next().and_then(|v| v.parse().ok()).unwrap_or(seed),
            "--sample" => sample = args.next().map(PathBuf::from),
            "--no-user-data" => user_data = false,
            _ if out.is_none() && !arg.starts_with('-') => out = Some(PathBuf::from(arg)),
            _ => usage(&format!("unexpected argument {arg}")),
        }
    }
    let (Some(ram_gib), Some(out)) = (ram_gib, out) else {
        usage("--ram-gib N and OUT are required");
    };
    let mut machine = LargeVmcore::new(ram_gib << 30, seed);
    machine.user_data = user_data;
    if let Some(sample) = sample {
        match sample_pages(&sample, 4096, seed) {
            Ok(pages) => machine.samples = pages,
            Err(e) => fail(&e.to_string()),
        }
    }
    match machine.write(&out) {
        Ok(s) => println!(
            "max_mapnr={} ram_pages={} free_pages={} user_and_cache_pages={} kernel_pages={} zero_pages={} file_size={}",
            s.max_mapnr, s.ram_pages, s.free_pages, s.user_and_cache_pages, s.kernel_pages, s.zero_pages, s.file_size
        ),
        Err(e) => fail(&e.to_string()),
    }
}

fn usage(message: &str) -> ! {
    eprintln!("large_vmcore: {message}\nusage: large_vmcore --ram-gib N [--seed N] [--sample VMCORE] [--no-user-data] OUT");
    exit(2)
}

fn fail(message: &str) -> ! {
    eprintln!("large_vmcore: {message}");
    exit(1)
}
