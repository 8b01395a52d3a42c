#!/usr/bin/python3
"""Make a struct page of a real vmcore lie, to reproduce makedumpfile issue 21.

    /usr/bin/python3 tests/protect-edit.py VMCORE LINK_VADDR {locate|free|user}

- VMCORE: an ELF64 x86_64 /proc/vmcore copy (scripts/make-vmcore.sh).
- LINK_VADDR: the link-time address of a kernel-image object (hex, from `nm vmlinux`,
  e.g. idt_table); KERNELOFFSET from the vmcore's VMCOREINFO is added here.
- locate: print `pfn=HEX struct_page_offset=DEC vaddr=HEX` and change nothing.
- free:   the page's struct page is edited IN PLACE to look like a free buddy page of
          order 0 (_mapcount = NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE), private = 0);
- user:   ... to look like an anonymous user page (mapping with PAGE_MAPPING_ANON set).
Flags, PG_reserved included, are left as the kernel wrote them: the page is still the
kernel's, only a reader of the other fields is misled, as in issue 21 (a compound page
taken for hugetlb). Everything (KASLR offset, phys_base, page tables, mem_section) is read
from the vmcore itself, so this works on any freshly generated core. Independent of our
Rust code: the ELF layout, the 4/5-level page-table walk and the SPARSEMEM_EXTREME lookup
are done here.
"""

import mmap
import struct
import sys

START_KERNEL_MAP = 0xFFFFFFFF80000000
PT_LOAD, PT_NOTE = 1, 4
ENTRY_MASK = ~0xFFF0000000000FFF & (2**64 - 1)
PSE = 0x80


class Core:
    def __init__(self, path, writable):
        self.file = open(path, "r+b" if writable else "rb")
        access = mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ
        self.map = mmap.mmap(self.file.fileno(), 0, access=access)
        m = self.map
        if m[:4] != b"\x7fELF" or m[4] != 2:
            sys.exit(f"{path}: not an ELF64 file")
        phoff, = struct.unpack_from("<Q", m, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", m, 0x36)
        self.loads, self.info = [], {}
        for i in range(phnum):
            p_type, _, off, vaddr, paddr, filesz = struct.unpack_from(
                "<IIQQQQ", m, phoff + i * phentsize)
            if p_type == PT_LOAD:
                self.loads.append((paddr, filesz, off))
            elif p_type == PT_NOTE:
                self.read_notes(off, filesz)
        if "OSRELEASE" not in self.info:
            sys.exit(f"{path}: no VMCOREINFO note")

    def read_notes(self, off, size):
        end = off + size
        while off + 12 <= end:
            namesz, descsz, _ = struct.unpack_from("<III", self.map, off)
            name = self.map[off + 12:off + 12 + namesz].rstrip(b"\0")
            desc = off + 12 + (namesz + 3) // 4 * 4
            if name == b"VMCOREINFO":
                text = self.map[desc:desc + descsz].split(b"\0")[0].decode()
                for line in text.splitlines():
                    key, _, value = line.partition("=")
                    self.info.setdefault(key, value)
            off = desc + (descsz + 3) // 4 * 4

    def key(self, kind, name, base=10):
        value = self.info.get(f"{kind}({name})")
        if value is None:
            sys.exit(f"VMCOREINFO lacks {kind}({name})")
        return int(value, base)

    def file_offset(self, paddr, size=8):
        for start, filesz, off in self.loads:
            if start <= paddr and paddr + size <= start + filesz:
                return off + paddr - start
        sys.exit(f"physical address {paddr:#x} is not in the vmcore")

    def u64(self, paddr):
        return struct.unpack_from("<Q", self.map, self.file_offset(paddr))[0]

    def vtop(self, vaddr):
        phys_base = self.key("NUMBER", "phys_base")
        table = self.key("SYMBOL", "init_top_pgt", 16) - START_KERNEL_MAP + phys_base
        five = int(self.info.get("NUMBER(pgtable_l5_enabled)", "0")) != 0
        for shift in ([48] if five else []) + [39, 30, 21, 12]:
            entry = self.u64(table + ((vaddr >> shift) & 511) * 8)
            if not entry & 1:
                sys.exit(f"{vaddr:#x}: not mapped (level shift {shift})")
            if shift == 12 or (shift in (30, 21) and entry & PSE):
                size = 1 << shift
                return (entry & ENTRY_MASK & ~(size - 1)) + (vaddr & (size - 1))
            table = entry & ENTRY_MASK
        raise AssertionError("unreachable")

    def struct_page(self, pfn):
        """Kernel virtual address of pfn's struct page (SPARSEMEM_EXTREME, array form)."""
        section_bits = self.key("NUMBER", "SECTION_SIZE_BITS") - 12
        section_size = self.key("SIZE", "mem_section")
        per_root = 4096 // section_size
        nr = pfn >> section_bits
        root = self.u64(self.vtop(self.key("SYMBOL", "mem_section", 16) + (nr // per_root) * 8))
        section = root + (nr % per_root) * section_size
        coded = self.u64(self.vtop(section + self.key("OFFSET", "mem_section.section_mem_map")))
        return (coded & ~0x3F) + pfn * self.key("SIZE", "page") & (2**64 - 1)


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("locate", "free", "user"):
        sys.exit(__doc__)
    path, link, action = sys.argv[1], int(sys.argv[2], 16), sys.argv[3]
    core = Core(path, writable=action != "locate")
    vaddr = link + int(core.info.get("KERNELOFFSET", "0"), 16)
    pfn = core.vtop(vaddr) >> 12
    page = core.file_offset(core.vtop(core.struct_page(pfn)), core.key("SIZE", "page"))
    if action == "free":
        buddy = core.key("NUMBER", "PAGE_BUDDY_MAPCOUNT_VALUE") & 0xFFFFFFFF
        struct.pack_into("<I", core.map, page + core.key("OFFSET", "page._mapcount"), buddy)
        struct.pack_into("<Q", core.map, page + core.key("OFFSET", "page.private"), 0)
    elif action == "user":
        mapping = page + core.key("OFFSET", "page.mapping")
        anon_vma = 0xFFFF888000000000 | 1  # any address with PAGE_MAPPING_ANON (bit 0)
        struct.pack_into("<Q", core.map, mapping, anon_vma)
    core.map.flush()
    print(f"pfn={pfn:x} struct_page_offset={page} vaddr={vaddr:x}")


if __name__ == "__main__":
    main()
