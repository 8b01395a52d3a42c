#!/usr/bin/python3
"""Open a kdump-compressed dump with libkdumpfile and read every page it holds.

    /usr/bin/python3 scripts/guest-kdump-tools/kdump-open-check.py DUMP RELEASE

For dumps whose source /proc/vmcore is gone (tests/kdump-tools-e2e.sh: kdump-tools keeps
only the dump), so pages cannot be compared with the source as kdump-pages-check.py does:
- DUMP (not flattened: Debian's libkdumpfile 0.5.1 cannot read flattened files; convert
  with `makedumpfile -R`) opens in libkdumpfile, and its VMCOREINFO OSRELEASE is RELEASE;
- every page of the dump's 2nd bitmap (parsed here from the on-disk layout by
  kdump-pages-check.py's KdumpFile) is read and decompressed by libkdumpfile, and there
  is at least one.
Must run with Debian's /usr/bin/python3 (python3-libkdumpfile). The last line is
`OK: ...` or `FAIL: ...`; exit status 0 only when every check passed.
"""

import importlib.util
import os
import sys
import time


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def load_pages_check():
    """kdump-pages-check.py's header and bitmap parser (its file name is not a module name)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kdump-pages-check.py")
    spec = importlib.util.spec_from_file_location("kdump_pages_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def osrelease(k):
    """OSRELEASE from the dump's VMCOREINFO, as libkdumpfile exposes it."""
    for key in ("linux.vmcoreinfo.lines.OSRELEASE", "linux.uts.release"):
        try:
            return str(k.attr[key])
        except Exception:
            continue
    raw = str(k.attr["linux.vmcoreinfo.raw"])
    for line in raw.splitlines():
        if line.startswith("OSRELEASE="):
            return line.split("=", 1)[1]
    return None


def main(argv):
    if len(argv) != 3:
        fail("usage: kdump-open-check.py DUMP RELEASE")
    path, release = argv[1:]
    try:
        import kdumpfile
    except ImportError as e:
        fail(f"cannot import kdumpfile ({e}); run with Debian's /usr/bin/python3 and "
             "apt-get install python3-libkdumpfile")
    pages_check = load_pages_check()
    t0 = time.monotonic()
    try:
        dump = pages_check.KdumpFile(path)
    except pages_check.CheckError as e:
        fail(str(e))
    pfns = dump.dumpable_pfns()
    psize = dump.block_size
    print(f"{path}: header v{dump.header_version}, block_size {psize}, "
          f"max_mapnr {dump.max_mapnr}, dumpable pages {len(pfns)}")
    k = kdumpfile.kdumpfile(path)
    problems = []
    got_release = osrelease(k)
    print(f"libkdumpfile: OSRELEASE {got_release}")
    if got_release != release:
        problems.append(f"OSRELEASE is {got_release!r}, expected {release!r}")
    if not pfns:
        problems.append("no dumpable pages at all")
    errors = []
    mpa = kdumpfile.KDUMP_MACHPHYSADDR
    for pfn in pfns:
        try:
            page = k.read(mpa, pfn * psize, psize)
        except Exception as e:
            errors.append((pfn, f"{type(e).__name__}: {e}"))
            continue
        if len(page) != psize:
            errors.append((pfn, f"read {len(page)} bytes"))
    if errors:
        problems.append(f"{len(errors)} pages unreadable, first: " +
                        "; ".join(f"pfn {p:#x}: {e}" for p, e in errors[:10]))
    dt = time.monotonic() - t0
    if problems:
        for p in problems:
            print(f"problem: {p}")
        fail(f"{len(problems)} problem(s) ({dt:.1f} s)")
    print(f"OK: {len(pfns)} pages read by libkdumpfile ({dt:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
