#!/usr/bin/python3
"""incomplete-check.py SOURCE_ELF DUMP: DUMP must carry the incomplete flag (status 0x8);
every page whose descriptor was written must read back through libkdumpfile equal to the
source page; pages with zeroed descriptors must be reported as lost (not as data).
Run with Debian's /usr/bin/python3 (python3-libkdumpfile). Prints a summary line last."""
import mmap
import struct
import sys

import kdumpfile


def main(source, dump):
    with open(dump, 'rb') as f:
        head = f.read(464)
        status, block_size, sub_hdr_size, bitmap_blocks = struct.unpack_from('<IiiI', head, 424)
        if status & 0x8 == 0:
            raise SystemExit(f'FAIL: {dump}: status {status:#x} lacks the incomplete flag 0x8')
        f.seek(block_size + 96)
        max_mapnr, = struct.unpack('<Q', f.read(8))
        half = bitmap_blocks // 2 * block_size
        f.seek((1 + sub_hdr_size) * block_size + half)
        bm2 = f.read(half)
        desc_start = (1 + sub_hdr_size + bitmap_blocks) * block_size
        pfns = [i * 8 + b for i, byte in enumerate(bm2) if byte for b in range(8) if byte >> b & 1 and i * 8 + b < max_mapnr]
        f.seek(desc_start)
        descs = f.read(24 * len(pfns))
    src = open(source, 'rb')
    m = mmap.mmap(src.fileno(), 0, access=mmap.ACCESS_READ)
    e_phoff, = struct.unpack_from('<Q', m, 32)
    e_phnum, = struct.unpack_from('<H', m, 56)
    loads = []
    for i in range(e_phnum):
        p_type, _, off, _, paddr, filesz, _, _ = struct.unpack_from('<IIQQQQQQ', m, e_phoff + i * 56)
        if p_type == 1:
            loads.append((paddr, filesz, off))
    k = kdumpfile.kdumpfile(dump)
    written = lost = 0
    for index, pfn in enumerate(pfns):
        raw = descs[index * 24:index * 24 + 24]
        offset = struct.unpack_from('<q', raw)[0] if len(raw) == 24 else 0
        addr = pfn * block_size
        if offset == 0:
            lost += 1
            try:
                k.read(kdumpfile.KDUMP_MACHPHYSADDR, addr, block_size)
            except Exception:
                continue
            raise SystemExit(f'FAIL: pfn {pfn:#x} has no descriptor but libkdumpfile returned data')
        page = bytes(k.read(kdumpfile.KDUMP_MACHPHYSADDR, addr, block_size))
        expected = next((m[o + addr - p:o + addr - p + block_size] for p, fs, o in loads if p <= addr and addr + block_size <= p + fs), None)
        if expected is None or page != expected:
            raise SystemExit(f'FAIL: pfn {pfn:#x} differs from the source')
        written += 1
    if written == 0:
        raise SystemExit('FAIL: no page was written')
    print(f'OK: incomplete dump, {written} pages written and equal to the source, {lost} lost')


if __name__ == '__main__':
    main(*sys.argv[1:3])
