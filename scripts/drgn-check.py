#!/usr/bin/env python3
"""Open kdump-compressed files with drgn (PyPI wheel, bundled libkdumpfile) and read from them.

    $CACHE/venv/bin/python scripts/drgn-check.py DUMP [DUMP...]

For each DUMP (plain or flattened kdump-compressed file):
  1. VMCOREINFO is parsed from the file by this script (sub header offset_vmcoreinfo /
     size_vmcoreinfo; flattened files are reassembled from their records), and compared
     with the VMCOREINFO drgn itself exposes as prog["VMCOREINFO"].
  2. A few dumpable physical pages (from the 2nd bitmap) are read with prog.read(addr, n, True),
     and an excluded page must raise drgn.FaultError.
  3. init_uts_ns is read by kernel *virtual* address, no debug info needed: drgn translates
     through the page tables found via SYMBOL(swapper_pg_dir). SYMBOL() values in VMCOREINFO
     are runtime addresses, already KASLR-relocated (SYMBOL(_stext) = the text PT_LOAD vaddr,
     = 0xffffffff81000000 + KERNELOFFSET), so KERNELOFFSET is printed but not added.
     sysname must be "Linux" and release must equal OSRELEASE.
Exit status is non-zero on any failure. drgn requires VMCOREINFO with OSRELEASE, PAGESIZE
and SYMBOL(swapper_pg_dir) (readers-and-tools.md §1.3).
"""

import struct
import sys

FLAT_SIGNATURE = b"makedumpfile"
FLAT_HEADER_SIZE = 4096
UTS_LEN = 65  # __NEW_UTS_LEN + 1; struct new_utsname is 6 of these (390 bytes)
PAGES_TO_READ = 8


class CheckFailed(Exception):
    pass


class PlainFile:
    def __init__(self, f):
        self.f = f

    def read_at(self, off, n):
        self.f.seek(off)
        data = self.f.read(n)
        if len(data) != n:
            raise CheckFailed(f"short read at {off:#x} (+{n})")
        return data


class FlattenedFile:
    """makedumpfile -F stream: 4096-byte header, then {i64 BE offset, i64 BE size} + bytes,
    ended by offset = size = -1. Later records win where they overlap (the sub header is
    rewritten at the end when eraseinfo is appended)."""

    def __init__(self, f):
        self.f = f
        self.records = []  # (offset, size, position of the data in the stream)
        f.seek(FLAT_HEADER_SIZE)
        while True:
            hdr = f.read(16)
            if len(hdr) < 16:
                break
            off, size = struct.unpack(">qq", hdr)
            if off == -1 and size == -1:
                break
            if off < 0 or size < 0:
                raise CheckFailed(f"bad flattened record header at {f.tell() - 16:#x}")
            self.records.append((off, size, f.tell()))
            f.seek(size, 1)

    def read_at(self, off, n):
        buf = bytearray(n)
        have = bytearray(n)
        for roff, rsize, pos in self.records:
            lo, hi = max(off, roff), min(off + n, roff + rsize)
            if lo >= hi:
                continue
            self.f.seek(pos + lo - roff)
            buf[lo - off:hi - off] = self.f.read(hi - lo)
            have[lo - off:hi - off] = b"\x01" * (hi - lo)
        if not all(have):
            raise CheckFailed(f"flattened stream does not cover {off:#x} (+{n})")
        return bytes(buf)


def open_dump(path):
    f = open(path, "rb")
    head = f.read(16)
    if head.startswith(FLAT_SIGNATURE):
        return FlattenedFile(f), "flattened"
    if head[:8] in (b"KDUMP   ", b"DISKDUMP"):
        return PlainFile(f), "kdump"
    raise CheckFailed(f"{path}: not a kdump-compressed file (signature {head[:8]!r})")


def parse_header(r):
    h = r.read_at(0, 464)
    if h[:8] not in (b"KDUMP   ", b"DISKDUMP"):
        raise CheckFailed(f"bad signature {h[:8]!r}")
    version = struct.unpack_from("<i", h, 8)[0]
    bs, sub_hdr_size, bitmap_blocks, max_mapnr = struct.unpack_from("<iiII", h, 428)
    sub = r.read_at(bs, 104)
    info = {
        "version": version, "block_size": bs, "sub_hdr_size": sub_hdr_size,
        "bitmap_blocks": bitmap_blocks, "max_mapnr": max_mapnr,
    }
    if version >= 3:
        info["off_vmcoreinfo"], info["size_vmcoreinfo"] = struct.unpack_from("<QQ", sub, 32)
    if version >= 6:
        info["max_mapnr"] = struct.unpack_from("<Q", sub, 96)[0]
    return info


def bitmaps(r, h):
    """(bitmap1, bitmap2) as bytes; one bitmap serves as both when only one is present."""
    bs = h["block_size"]
    one_blocks = -(-(-(-h["max_mapnr"] // 8)) // bs)
    start = (1 + h["sub_hdr_size"]) * bs
    nbytes = -(-h["max_mapnr"] // 8)
    if h["bitmap_blocks"] >= 2 * one_blocks:
        half = h["bitmap_blocks"] // 2 * bs
        return r.read_at(start, nbytes), r.read_at(start + half, nbytes)
    b = r.read_at(start, nbytes)
    return b, b


def set_bits(bm, limit):
    for i, byte in enumerate(bm):
        if byte:
            for bit in range(8):
                if byte >> bit & 1 and i * 8 + bit < limit:
                    yield i * 8 + bit


def check_one(drgn, path):
    r, kind = open_dump(path)
    h = parse_header(r)
    print(f"{path}: {kind}, header v{h['version']}, block_size {h['block_size']}, "
          f"max_mapnr {h['max_mapnr']}")
    if "off_vmcoreinfo" not in h or not h["size_vmcoreinfo"]:
        raise CheckFailed("no VMCOREINFO in the sub header")
    raw = r.read_at(h["off_vmcoreinfo"], h["size_vmcoreinfo"])
    vmcoreinfo = dict(
        line.split("=", 1) for line in raw.decode("ascii", "replace").splitlines() if "=" in line
    )
    for key in ("OSRELEASE", "PAGESIZE", "SYMBOL(swapper_pg_dir)", "SYMBOL(init_uts_ns)"):
        if key not in vmcoreinfo:
            raise CheckFailed(f"VMCOREINFO lacks {key}")
    print(f"  VMCOREINFO ({len(raw)} bytes): OSRELEASE={vmcoreinfo['OSRELEASE']} "
          f"KERNELOFFSET={vmcoreinfo.get('KERNELOFFSET', '(none)')} "
          f"SYMBOL(init_uts_ns)={vmcoreinfo['SYMBOL(init_uts_ns)']}")

    prog = drgn.Program()
    prog.set_core_dump(path)

    # drgn's own view of VMCOREINFO (taken by libkdumpfile from the notes for v>=4).
    try:
        drgn_vmci = prog["VMCOREINFO"].string_().decode("ascii", "replace")
    except Exception as e:  # not fatal: older drgn has no such object
        print(f"  note: prog['VMCOREINFO'] unavailable ({e})")
    else:
        ours = raw.decode("ascii", "replace").rstrip("\0")
        if drgn_vmci.rstrip("\0") != ours:
            raise CheckFailed("drgn's VMCOREINFO differs from the one at offset_vmcoreinfo")
        print("  drgn VMCOREINFO matches the sub header copy")

    # Physical reads of dumpable pages, spread over the dumpable set.
    bm1, bm2 = bitmaps(r, h)
    dumpable = list(set_bits(bm2, h["max_mapnr"]))
    if not dumpable:
        raise CheckFailed("2nd bitmap is empty")
    step = max(1, len(dumpable) // PAGES_TO_READ)
    picks = sorted(set(dumpable[::step][:PAGES_TO_READ - 1] + [dumpable[-1]]))
    psize = h["block_size"]
    for pfn in picks:
        data = prog.read(pfn * psize, psize, True)
        if len(data) != psize:
            raise CheckFailed(f"short physical read at pfn {pfn:#x}")
        nz = sum(1 for b in data if b)
        print(f"  phys {pfn * psize:#014x}: {psize} bytes read, {nz} non-zero, "
              f"head {data[:8].hex()}")
    print(f"  {len(picks)} physical pages read ({len(dumpable)} dumpable)")

    # An excluded page (RAM, i.e. in bitmap 1, but not dumpable) must not be readable.
    excluded = next((p for p in set_bits(bm1, h["max_mapnr"])
                     if not bm2[p // 8] >> (p % 8) & 1), None)
    if excluded is None:
        print("  note: no excluded RAM page (dump level 0 or 1), exclusion check skipped")
    else:
        try:
            prog.read(excluded * psize, 16, True)
        except drgn.FaultError as e:
            print(f"  excluded pfn {excluded:#x} raises FaultError as expected ({e})")
        else:
            raise CheckFailed(f"excluded pfn {excluded:#x} was readable")

    # Kernel virtual read: init_uts_ns.name (offset from VMCOREINFO when given).
    addr = int(vmcoreinfo["SYMBOL(init_uts_ns)"], 16)
    name_off = int(vmcoreinfo.get("OFFSET(uts_namespace.name)", "0"), 10)
    uts = prog.read(addr + name_off, 6 * UTS_LEN)
    fields = [uts[i * UTS_LEN:(i + 1) * UTS_LEN].split(b"\0", 1)[0].decode("ascii", "replace")
              for i in range(6)]
    sysname, nodename, release, version, machine, _domain = fields
    print(f"  init_uts_ns @ {addr + name_off:#x}: sysname={sysname!r} release={release!r} "
          f"version={version!r} machine={machine!r} nodename={nodename!r}")
    if sysname != "Linux":
        raise CheckFailed(f"init_uts_ns.name.sysname is {sysname!r}, expected 'Linux'")
    if release != vmcoreinfo["OSRELEASE"]:
        raise CheckFailed(f"uts release {release!r} != OSRELEASE {vmcoreinfo['OSRELEASE']!r}")


def main(argv):
    if len(argv) < 2:
        print("usage: drgn-check.py DUMP [DUMP...]  (run with $CACHE/venv/bin/python)",
              file=sys.stderr)
        return 2
    try:
        import drgn
    except ImportError as e:
        print(f"FAIL: cannot import drgn ({e}); run scripts/install-deps.sh and use "
              "$CACHE/venv/bin/python")
        return 1
    if not getattr(drgn, "_with_libkdumpfile", False):
        print("FAIL: this drgn was built without libkdumpfile and cannot read kdump files")
        return 1
    failed = 0
    for path in argv[1:]:
        try:
            check_one(drgn, path)
        except Exception as e:  # report every file, then fail
            failed += 1
            print(f"FAIL: {path}: {type(e).__name__}: {e}")
        else:
            print(f"OK: {path}")
    if failed:
        print(f"FAIL: {failed} of {len(argv) - 1} file(s)")
        return 1
    print(f"OK: {len(argv) - 1} file(s) read by drgn {drgn.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
