#!/usr/bin/python3
"""Check every dumpable page of a kdump-compressed file against the ELF core it came from.

    /usr/bin/python3 scripts/kdump-pages-check.py [--extra-pfn HEX]... SOURCE_ELF DUMP [REFERENCE_DUMP]

- SOURCE_ELF: the ELF64 /proc/vmcore copy (scripts/make-vmcore.sh).
- DUMP: a kdump-compressed ("KDUMP   ") file, not flattened: Debian's libkdumpfile 0.5.1
  cannot read flattened files (readers-and-tools.md §1.2); convert with `makedumpfile -R`.
- REFERENCE_DUMP: optional; its dumpable set (2nd bitmap) must equal DUMP's, e.g. C
  makedumpfile's output for the same dump level.
- --extra-pfn HEX: DUMP's set must be the reference's plus this pfn, which the reference
  lacks (a protected page that makedumpfile dropped; tests/protected-pages.sh).

Independent of our Rust code: the header and the 2nd bitmap are parsed here from the on-disk
layout (readers-and-tools.md §0), the page bytes are decoded by libkdumpfile (a third-party
reader, so this also proves a real reader accepts the file), and compared with the same
physical page of the ELF source. Must run with Debian's /usr/bin/python3: only it sees
python3-libkdumpfile. The last line printed is `OK: N pages match` or `FAIL: ...`;
exit status 0 only on a full match.
"""

import mmap
import struct
import sys
import time

PT_LOAD = 1
PN_XNUM = 0xFFFF
MAX_REPORTED = 10


class CheckError(Exception):
    pass


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def open_map(path):
    with open(path, "rb") as f:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


class ElfSource:
    """Physical memory of an ELF64 little-endian core (honours e_phoff and PN_XNUM)."""

    def __init__(self, path):
        self.mm = open_map(path)
        mm = self.mm
        if mm[:4] != b"\x7fELF":
            raise CheckError(f"{path}: not an ELF file")
        if mm[4] != 2 or mm[5] != 1:
            raise CheckError(f"{path}: only ELF64 little-endian is supported")
        e_phoff, e_shoff = struct.unpack_from("<QQ", mm, 32)
        e_phentsize, e_phnum = struct.unpack_from("<HH", mm, 54)
        if e_phnum == PN_XNUM:
            # The real count is in section header 0's sh_info (ELF gABI).
            (e_phnum,) = struct.unpack_from("<I", mm, e_shoff + 44)
        self.loads = []  # (paddr, filesz, memsz, offset)
        for i in range(e_phnum):
            off = e_phoff + i * e_phentsize
            p_type, _flags, p_offset, _vaddr, p_paddr, p_filesz, p_memsz = struct.unpack_from(
                "<IIQQQQQ", mm, off
            )
            if p_type == PT_LOAD:
                if p_offset + p_filesz > len(mm):
                    raise CheckError(f"{path}: PT_LOAD {i} runs past end of file")
                self.loads.append((p_paddr, p_filesz, p_memsz, p_offset))
        if not self.loads:
            raise CheckError(f"{path}: no PT_LOAD")

    def page(self, addr, size):
        """Bytes of [addr, addr+size), or None if no PT_LOAD covers any of it.

        Bytes between p_filesz and p_memsz are zero. The first PT_LOAD covering an address
        wins (the kernel-text segment overlaps RAM with identical contents)."""
        end = addr + size
        for paddr, filesz, memsz, offset in self.loads:
            if paddr <= addr and end <= paddr + filesz:  # fast path: one segment, in file
                start = offset + addr - paddr
                return self.mm[start:start + size]
        buf = bytearray(size)
        covered = bytearray(size)
        for paddr, filesz, memsz, offset in self.loads:
            lo, hi = max(addr, paddr), min(end, paddr + memsz)
            if lo >= hi:
                continue
            for a in range(lo, hi):
                if covered[a - addr]:
                    continue
                covered[a - addr] = 1
                if a < paddr + filesz:
                    buf[a - addr] = self.mm[offset + a - paddr]
        if not any(covered):
            return None
        return bytes(buf)


class KdumpFile:
    """The parts of a kdump-compressed file needed to know which pfns are dumpable."""

    def __init__(self, path):
        self.path = path
        mm = open_map(path)
        self.mm = mm
        sig = mm[:8]
        if sig[:12] == b"makedumpfile" or mm[:12] == b"makedumpfile":
            raise CheckError(f"{path}: flattened format; convert with makedumpfile -R first")
        if sig not in (b"KDUMP   ", b"DISKDUMP"):
            raise CheckError(f"{path}: bad signature {sig!r}")
        (self.header_version,) = struct.unpack_from("<i", mm, 8)
        self.block_size, self.sub_hdr_size, self.bitmap_blocks, max_mapnr32 = struct.unpack_from(
            "<iiII", mm, 428
        )
        bs = self.block_size
        if bs <= 0 or bs & (bs - 1):
            raise CheckError(f"{path}: bad block_size {bs}")
        sub = bs
        self.split = 0
        self.start_pfn = 0
        self.max_mapnr = max_mapnr32
        self.end_pfn = None
        if self.header_version >= 6:
            (self.max_mapnr,) = struct.unpack_from("<Q", mm, sub + 96)
        if self.header_version >= 2:
            (self.split,) = struct.unpack_from("<i", mm, sub + 12)
            if self.split:
                if self.header_version >= 6:
                    self.start_pfn, self.end_pfn = struct.unpack_from("<QQ", mm, sub + 80)
                else:
                    self.start_pfn, self.end_pfn = struct.unpack_from("<QQ", mm, sub + 16)
        if self.end_pfn is None:
            self.end_pfn = self.max_mapnr
        # One bitmap is ceil(ceil(max_mapnr/8)/bs) blocks. Two of them (makedumpfile always
        # writes two) means the 2nd is the dumpable set; with one, it serves as both (crash).
        one = -(-(-(-self.max_mapnr // 8)) // bs)
        bitmap_start = (1 + self.sub_hdr_size) * bs
        if self.bitmap_blocks >= 2 * one:
            half = self.bitmap_blocks // 2 * bs
            self.bitmap2_off = bitmap_start + half
            self.bitmap_len = half
        else:
            self.bitmap2_off = bitmap_start
            self.bitmap_len = self.bitmap_blocks * bs
        if self.bitmap_len * 8 < self.max_mapnr:
            raise CheckError(f"{path}: bitmap too small for max_mapnr {self.max_mapnr}")
        if self.bitmap2_off + self.bitmap_len > len(mm):
            raise CheckError(f"{path}: bitmap runs past end of file")

    def bitmap2(self):
        """Raw 2nd bitmap, trimmed to max_mapnr bits (trailing bits cleared)."""
        nbytes = -(-self.max_mapnr // 8)
        raw = bytearray(self.mm[self.bitmap2_off:self.bitmap2_off + nbytes])
        extra = nbytes * 8 - self.max_mapnr
        if extra and raw:
            raw[-1] &= 0xFF >> extra
        return bytes(raw)

    def dumpable_pfns(self):
        """Set pfns of the 2nd bitmap (LSB first in each byte), restricted to the split range."""
        pfns = []
        for i, byte in enumerate(self.bitmap2()):
            if not byte:
                continue
            base = i * 8
            for bit in range(8):
                if byte >> bit & 1:
                    pfn = base + bit
                    if self.start_pfn <= pfn < self.end_pfn:
                        pfns.append(pfn)
        return pfns


def set_diff_sample(a, b, n=MAX_REPORTED):
    return sorted(set(a) - set(b))[:n]


def main(argv):
    extra = set()
    while len(argv) > 2 and argv[1] == "--extra-pfn":
        extra.add(int(argv[2], 16))
        argv = argv[:1] + argv[3:]
    if len(argv) not in (3, 4) or (extra and len(argv) != 4):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        fail("usage: kdump-pages-check.py SOURCE_ELF DUMP [REFERENCE_DUMP]")
    try:
        import kdumpfile
    except ImportError as e:
        fail(f"cannot import kdumpfile ({e}); run with Debian's /usr/bin/python3 and "
             "apt-get install python3-libkdumpfile")

    t0 = time.monotonic()
    src = ElfSource(argv[1])
    dump = KdumpFile(argv[2])
    psize = dump.block_size
    pfns = dump.dumpable_pfns()
    print(f"{argv[2]}: header v{dump.header_version}, block_size {psize}, "
          f"max_mapnr {dump.max_mapnr}, split {dump.split}, dumpable pages {len(pfns)}")
    print(f"{argv[1]}: {len(src.loads)} PT_LOAD")

    problems = []

    if len(argv) == 4:
        ref = KdumpFile(argv[3])
        if ref.block_size != psize:
            problems.append(f"reference block_size {ref.block_size} != {psize}")
        ref_pfns = ref.dumpable_pfns()
        if extra & set(ref_pfns):
            problems.append(f"the reference holds the extra pfns {sorted(map(hex, extra & set(ref_pfns)))}")
        ref_pfns = sorted(set(ref_pfns) | extra) if extra else ref_pfns
        if ref_pfns != pfns:
            only_dump = set_diff_sample(pfns, ref_pfns)
            only_ref = set_diff_sample(ref_pfns, pfns)
            problems.append(
                f"dumpable set differs from reference: {len(pfns)} vs {len(ref_pfns)} pages; "
                f"only in dump (first): {[hex(p) for p in only_dump]}; "
                f"only in reference (first): {[hex(p) for p in only_ref]}")
        else:
            print(f"{argv[3]}: dumpable set identical ({len(ref_pfns)} pages)")

    k = kdumpfile.kdumpfile(argv[2])
    attr = k.attr
    # Cross-check our bitmap parse with libkdumpfile's view of the same bitmap.
    try:
        bm = attr["file.pagemap"]
        lib_bits = bytes(bm.get_bits(0, dump.max_mapnr - 1))
    except Exception as e:  # older bindings: not fatal, the page reads below still run
        print(f"note: libkdumpfile file.pagemap unavailable ({e})")
        lib_bits = None
    if lib_bits is not None:
        ours = dump.bitmap2()
        if dump.split:
            print("note: split file, skipping file.pagemap comparison")
        elif lib_bits[:len(ours)] != ours:
            problems.append("libkdumpfile file.pagemap differs from the parsed 2nd bitmap")

    matched = 0
    mismatched = []
    missing_src = []
    read_errors = []
    MPA = kdumpfile.KDUMP_MACHPHYSADDR
    for n, pfn in enumerate(pfns):
        addr = pfn * psize
        try:
            got = k.read(MPA, addr, psize)
        except Exception as e:
            read_errors.append((pfn, f"{type(e).__name__}: {e}"))
            continue
        want = src.page(addr, psize)
        if want is None:
            missing_src.append(pfn)
            continue
        if got == want:
            matched += 1
        else:
            if len(mismatched) < MAX_REPORTED:
                first = next((i for i in range(psize) if got[i] != want[i]), None)
                mismatched.append((pfn, first))
            else:
                mismatched.append((pfn, None))
        if n and n % 100000 == 0:
            print(f"  ... {n}/{len(pfns)} pages checked")

    if read_errors:
        problems.append(f"{len(read_errors)} pages unreadable by libkdumpfile, first: " +
                        "; ".join(f"pfn {p:#x}: {e}" for p, e in read_errors[:MAX_REPORTED]))
    if missing_src:
        problems.append(f"{len(missing_src)} dumpable pages are not in any PT_LOAD of the source, "
                        f"first: {[hex(p) for p in missing_src[:MAX_REPORTED]]}")
    if mismatched:
        problems.append(f"{len(mismatched)} pages differ from the source, first: " +
                        ", ".join(f"pfn {p:#x} @+{o}" for p, o in mismatched[:MAX_REPORTED]))
    if not pfns:
        problems.append("no dumpable pages at all")

    dt = time.monotonic() - t0
    if problems:
        for p in problems:
            print(f"problem: {p}")
        fail(f"{len(problems)} problem(s); {matched}/{len(pfns)} pages match ({dt:.1f} s)")
    print(f"OK: {matched} pages match ({dt:.1f} s)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except CheckError as e:
        fail(str(e))
