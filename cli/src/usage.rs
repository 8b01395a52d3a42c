//! `-h/--help` and `-v` texts.

/// Version line plus the compression support lines, in makedumpfile's `-v` shape
/// (scripts grep for "lzo\tenabled" to decide whether `-l` is usable).
pub fn version_text() -> String {
    format!(
        "makedumpfile: version {} (makedumpfile-rs, compatible with makedumpfile 1.7.x)\nlzo\tenabled\nsnappy\tenabled\nzstd\tenabled\n\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The usage text.
pub fn usage_text() -> String {
    "\n\
LZO support:\n  enabled\n\
snappy support:\n  enabled\n\
zstd support:\n  enabled\n\
\n\
Usage:\n\
  Write a kdump-compressed DUMPFILE from VMCORE:\n\
  # makedumpfile [-c|-l|-p|-z] [-d DL] [--num-threads N] [-f] VMCORE DUMPFILE\n\
\n\
  Write the flattened format to standard output (for pipes and remote targets):\n\
  # makedumpfile -F [-c|-l|-p|-z] [-d DL] VMCORE\n\
\n\
  Rebuild a DUMPFILE from a flattened stream on standard input:\n\
  # makedumpfile -R DUMPFILE\n\
\n\
  Extract the kernel log from VMCORE:\n\
  # makedumpfile --dump-dmesg [--partial-dmesg] [--dmesg-caller-id] VMCORE LOGFILE\n\
\n\
Options:\n\
  -c, -l, -p, -z   Compress each page with zlib, LZO, snappy or zstd. A page is stored\n\
                   uncompressed when compression does not make it smaller.\n\
  -d DL            Dump level 0-31: the sum of the page classes to leave out:\n\
                     1 zero pages, 2 non-private page cache, 4 private page cache,\n\
                     8 user process pages, 16 free pages.\n\
                   A list such as 31,11 gives fallback levels.\n\
  -F               Write the flattened format to standard output; messages go to\n\
                   standard error.\n\
  -R               Rebuild DUMPFILE from a flattened stream read from standard input.\n\
  -f               Overwrite DUMPFILE if it exists.\n\
  -L SIZE          Stop writing at SIZE bytes (K, M, G, T, P, E suffixes); the dump is\n\
                   then marked incomplete and the exit status is 1.\n\
  --dry-run        Do everything except writing DUMPFILE.\n\
  --partial-dmesg  With --dump-dmesg: only the records after the last 'dmesg -c'.\n\
  --dmesg-caller-id  With --dump-dmesg: print the [T<pid>]/[C<cpu>] caller column\n\
                   (makedumpfile 1.7.5+ prints it; 1.7.2 does not).\n\
  -b ORDER         Write caches of (page size << ORDER) bytes (default 4).\n\
  -D               Print debug messages (message level bit 8).\n\
  --num-threads N  Compress with N producer threads; 0 (default) is serial. The output\n\
                   is identical for every N.\n\
  --cyclic-buffer KB  Bitmap buffer size per cycle.\n\
  --non-mmap       Read VMCORE with read(2) instead of mmap(2).\n\
  --message-level ML  Message bits: 1 progress, 2 common, 4 error, 8 debug,\n\
                   16 report (default 7).\n\
  --show-stats     Print the report (message level bit 16).\n\
  -v               Print the version.\n\
  -h, --help       Print this help.\n\
\n"
    .to_string()
}
