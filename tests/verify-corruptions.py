#!/usr/bin/python3
"""The corruptions tests/corruption.sh applies to a GOOD kdump-compressed dump of ours to
check that `makedumpfile --verify` names each fault.

    tests/verify-corruptions.py DUMPFILE

Prints one line per case, tab-separated `NAME KIND OFFSET HEX EXPECTED`: KIND `poke` writes the bytes
HEX at file offset OFFSET of a copy, KIND `truncate` cuts the copy to OFFSET bytes (HEX
is `-`); EXPECTED is an extended regular expression the fault message on stderr must
match. Every offset is read from the dump itself (its header, bitmaps and descriptors),
independently of our Rust reader, so the cases follow whatever dump the run wrote.
"""

import struct
import sys

DESC = 24
INCOMPLETE = 0x8


def main(path):
    data = open(path, "rb").read()
    size = len(data)
    status, block, sub_blocks, bitmap_blocks = struct.unpack_from("<IiiI", data, 424)
    (max_mapnr,) = struct.unpack_from("<Q", data, block + 96)
    bitmap1 = (1 + sub_blocks) * block
    bitmap2 = bitmap1 + bitmap_blocks // 2 * block
    desc = (1 + sub_blocks + bitmap_blocks) * block

    def bit(base, pfn):
        return data[base + pfn // 8] >> (pfn % 8) & 1

    dumpable = [pfn for pfn in range(max_mapnr) if bit(bitmap2, pfn)]
    data_start = desc + DESC * len(dumpable)
    descs = [struct.unpack_from("<qII", data, desc + i * DESC) for i in range(len(dumpable))]
    # A page stored compressed in the middle of the dump, not the shared zero page.
    middle = len(dumpable) // 2
    index = next(i for i in range(middle, len(dumpable))
                 if descs[i][2] != 0 and descs[i][0] != data_start)
    pfn = dumpable[index]
    offset, length, _ = descs[index]
    at = desc + index * DESC
    # A RAM page frame the dump leaves out, for a bit set in the 2nd bitmap.
    excluded = next(p for p in range(max_mapnr) if bit(bitmap1, p) and not bit(bitmap2, p))

    def poke(name, where, raw, expected):
        print(f"{name}\tpoke\t{where}\t{raw.hex()}\t{expected}")

    def cut(name, where, expected):
        print(f"{name}\ttruncate\t{where}\t-\t{expected}")

    poke("incomplete flag set", 424, struct.pack("<I", status | INCOMPLETE), "header status")
    poke(f"descriptor of pfn {pfn:#x}: offset bit 40 flipped", at,
         struct.pack("<q", offset ^ 1 << 40), f"page descriptor of pfn {pfn:#x}")
    poke(f"descriptor of pfn {pfn:#x}: size one short", at + 8,
         struct.pack("<I", length - 1), f"page data of pfn {pfn:#x}")
    poke(f"descriptor of pfn {pfn:#x}: size one over", at + 8,
         struct.pack("<I", length + 1), "page (data|descriptor) of pfn")
    poke(f"descriptor of pfn {pfn:#x}: size over a page", at + 8,
         struct.pack("<I", block + 1), f"page descriptor of pfn {pfn:#x}")
    poke(f"compressed page of pfn {pfn:#x}: bytes changed", offset,
         bytes(b ^ 0x5A for b in data[offset:offset + length]), f"page data of pfn {pfn:#x}")
    byte = bitmap1 + pfn // 8
    poke(f"1st bitmap: bit of pfn {pfn:#x} cleared", byte,
         bytes([data[byte] & ~(1 << pfn % 8) & 0xFF]), f"bitmaps of pfn {pfn:#x}")
    byte = bitmap2 + pfn // 8
    poke(f"2nd bitmap: bit of pfn {pfn:#x} cleared", byte,
         bytes([data[byte] & ~(1 << pfn % 8) & 0xFF]), "2nd bitmap|page descriptor")
    byte = bitmap2 + excluded // 8
    poke(f"2nd bitmap: bit of pfn {excluded:#x} set", byte,
         bytes([data[byte] | 1 << excluded % 8]), "2nd bitmap|page descriptor")
    for where, expected in [
        (0, "kdump layout"), (300, "kdump layout"), (block + 50, "kdump layout"),
        (bitmap2 + 100, "kdump layout"), (desc + DESC * len(dumpable) // 2, "page descriptor table"),
        (data_start + 100, "page descriptor of pfn"), (offset + 1, "page descriptor of pfn"),
        ((offset + size) // 2, "page descriptor of pfn"), (size - 1, "page descriptor of pfn"),
    ]:
        cut(f"truncated at {where}", where, expected)


if __name__ == "__main__":
    main(sys.argv[1])
