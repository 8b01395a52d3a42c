#!/usr/bin/python3
"""Print what libkdumpfile reads from a dump: its VMCOREINFO OSRELEASE, the kernel release
read from MEMORY (init_uts_ns.name.release, translated through the dump's own page tables)
and max_pfn, on one line separated by spaces.

    /usr/bin/python3 scripts/kdump-release.py DUMP

DUMP: an ELF core or a kdump-compressed file (not flattened). Must run with Debian's
/usr/bin/python3, which sees python3-libkdumpfile. Exit status 1 with a message when
libkdumpfile cannot open or translate it.
"""

import sys

import kdumpfile

UTS_FIELD_LEN = 65  # struct new_utsname: sysname, nodename, release, ... of 65 bytes each
RELEASE_INDEX = 2


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        k = kdumpfile.kdumpfile(sys.argv[1])
        k.attr["addrxlat.ostype"] = "linux"
        info = k.attr["linux.vmcoreinfo.lines"]
        name = int(info["SYMBOL(init_uts_ns)"], 16) + int(info.get("OFFSET(uts_namespace.name)", "0"))
        raw = k.read(kdumpfile.KDUMP_KVADDR, name + RELEASE_INDEX * UTS_FIELD_LEN, UTS_FIELD_LEN)
        print(info["OSRELEASE"], raw.split(b"\0")[0].decode(), k.attr["max_pfn"])
    except Exception as e:  # libkdumpfile raises several types; the message names the cause
        sys.exit(f"{sys.argv[1]}: libkdumpfile: {type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
