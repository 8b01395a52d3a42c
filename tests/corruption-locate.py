#!/usr/bin/python3
"""Find where the structures tests/corruption.sh corrupts live in an ELF vmcore.

    tests/corruption-locate.py VMCORE

Prints `NAME NUMBER [LENGTH]` lines (decimal; file offsets unless the name says otherwise:
`*_paddr` and `top_pgt_phys` are physical addresses, `unmapped_kernel_va` a virtual one)
for: the ELF header fields, every program header and each PT_LOAD's p_paddr and p_memsz,
the PT_NOTE segment, the VMCOREINFO note and the place and length of every VMCOREINFO
value, the top-level page table and the entries that map the direct map, the kernel text
and vmemmap, an unmapped kernel address, the mem_section root and section structures, and
the struct pages of a few data pfns. Independent of our Rust code: the page-table walk and
the mem_section decoding are done here from VMCOREINFO, as makedumpfile does.

x86_64 (4-level tables from init_top_pgt) and arm64 (4K pages, 48-bit VA: 4 levels from
swapper_pg_dir) cores; `machine` says which. The entries the suite writes into the tables
are encoded here for the core's architecture (`loop_entry`, `garbage_entry`,
`block_beyond_ram`), and the struct pages (`struct_page_N`, N = 1..3) are those of pfns
0x8000 apart from the first RAM pfn on, skipping pfns the file lacks (`struct_page_N_pfn`).
"""

import mmap
import struct
import sys

PT_LOAD, PT_NOTE = 1, 4
EM_X86_64, EM_AARCH64 = 62, 183
START_KERNEL_MAP = 0xFFFFFFFF80000000
ENTRY_MASK = 0x000FFFFFFFFFF000
# arm64 with 48-bit PAs: output address bits 47:12 (bits 50 and 51 are GP and DBM).
ARM64_ADDR_MASK = 0x0000FFFFFFFFF000


class Core:
    def __init__(self, path):
        f = open(path, "rb")
        self.mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        mm = self.mm
        (self.machine,) = struct.unpack_from("<H", mm, 18)
        if self.machine not in (EM_X86_64, EM_AARCH64):
            raise SystemExit(f"{path}: e_machine {self.machine}: only x86_64 and arm64 cores")
        (self.phoff,) = struct.unpack_from("<Q", mm, 32)
        (self.phnum,) = struct.unpack_from("<H", mm, 56)
        self.phdrs = []
        for i in range(self.phnum):
            at = self.phoff + i * 56
            p_type, _, off, vaddr, paddr, filesz, memsz = struct.unpack_from("<IIQQQQQ", mm, at)
            self.phdrs.append(dict(at=at, type=p_type, off=off, vaddr=vaddr, paddr=paddr,
                                   filesz=filesz, memsz=memsz))
        self.loads = [p for p in self.phdrs if p["type"] == PT_LOAD]
        self.note = next(p for p in self.phdrs if p["type"] == PT_NOTE)

    def file_offset(self, paddr):
        """First PT_LOAD in program-header order holding paddr (makedumpfile's choice)."""
        for p in self.loads:
            if p["paddr"] <= paddr < p["paddr"] + p["filesz"]:
                return p["off"] + paddr - p["paddr"]
        raise KeyError(f"physical address {paddr:#x} is not in the file")

    def u64(self, paddr):
        return struct.unpack_from("<Q", self.mm, self.file_offset(paddr))[0]

    def walk(self, top, vaddr):
        """(physical address, [entry physical addresses]) of a 4-level walk."""
        if self.machine == EM_AARCH64:
            return self.walk_arm64(top, vaddr)
        table, entries = top, []
        for shift in (39, 30, 21, 12):
            at = table + ((vaddr >> shift) & 511) * 8
            entries.append(at)
            e = self.u64(at)
            if not e & 1:
                raise KeyError(f"{vaddr:#x} not mapped at shift {shift}")
            if shift in (30, 21) and e & 0x80:
                size = 1 << shift
                return (e & ENTRY_MASK & ~(size - 1)) + (vaddr & (size - 1)), entries
            table = e & ENTRY_MASK
        return table + (vaddr & 0xFFF), entries

    def walk_arm64(self, top, vaddr):
        """The same for arm64 with 4K pages and 48-bit VA: descriptors with bit 0 valid,
        bit 1 table (levels 0-2) or page (level 3); bit 1 clear above level 3 is a block;
        output address bits 47:12."""
        table, entries = top, []
        for level, shift in enumerate((39, 30, 21, 12)):
            at = table + ((vaddr >> shift) & 511) * 8
            entries.append(at)
            e = self.u64(at)
            if not e & 1:
                raise KeyError(f"{vaddr:#x} not mapped at shift {shift}")
            if level < 3 and not e & 2:
                size = 1 << shift
                return (e & ARM64_ADDR_MASK & ~(size - 1)) + (vaddr & (size - 1)), entries
            table = e & ARM64_ADDR_MASK
        return table + (vaddr & 0xFFF), entries


class X86_64:
    """Where the kernel's tables are, and how its entries are written."""

    def __init__(self, core, info):
        phys_base = int(info["NUMBER(phys_base)"], 0)
        self.top = int(info["SYMBOL(init_top_pgt)"], 16) - START_KERNEL_MAP + phys_base
        self.page_offset = [p["vaddr"] - p["paddr"] for p in core.loads
                            if p["vaddr"] and p["vaddr"] < START_KERNEL_MAP][-1]
        self.first_ram_pfn = 0
        # A PUD entry pointing at the PGD (present, rw, accessed, dirty); a table entry
        # with bits above MAXPHYADDR; a 2 MiB PMD leaf (PSE) far beyond RAM.
        self.loop_entry = self.top | 0x63
        self.garbage_entry = 0x7FF0DEADBEEF0063
        self.block_beyond_ram = 0x000FF000000000E3


class Arm64:
    def __init__(self, core, info):
        if int(info["PAGESIZE"]) != 4096 or int(info["NUMBER(VA_BITS)"]) != 48:
            raise SystemExit("arm64: only 4K pages with 48-bit VA are located")
        kimage_voffset = int(info["NUMBER(kimage_voffset)"], 0)
        self.top = int(info["SYMBOL(swapper_pg_dir)"], 16) - kimage_voffset
        phys_offset = int(info["NUMBER(PHYS_OFFSET)"], 0)
        # The linear map since 5.4: PAGE_OFFSET = -(1 << VA_BITS) maps PHYS_OFFSET, so
        # vaddr = paddr + page_offset.
        self.page_offset = (0xFFFF000000000000 - phys_offset) & 0xFFFFFFFFFFFFFFFF
        self.first_ram_pfn = min(p["paddr"] for p in core.loads) >> 12
        # A table descriptor pointing at the top table; a table descriptor to an address
        # beyond RAM; a level-2 (2 MiB) block descriptor (AF, valid) far beyond RAM.
        self.loop_entry = self.top | 0x3
        self.garbage_entry = 0x0000DEADBEEF0003
        self.block_beyond_ram = 0x0000FF0000000401


def main(path):
    core = Core(path)
    mm = core.mm
    out = []

    def emit(name, offset, length=None):
        out.append(f"{name} {offset}" + (f" {length}" if length is not None else ""))

    emit("file_size", len(mm))
    emit("e_phoff", core.phoff)
    emit("phnum", core.phnum)
    for i, p in enumerate(core.phdrs):
        emit(f"phdr{i}", p["at"])
    for i, p in enumerate(core.loads):
        emit(f"load{i}_offset", p["off"], p["filesz"])
        # Where PT_LOAD i's header is, its p_paddr and its p_memsz: the suite derives the
        # corrupted header values from these, whatever the capture placed where.
        emit(f"load{i}_phdr", p["at"])
        emit(f"load{i}_paddr", p["paddr"], p["memsz"])
    emit("note_phdr", core.note["at"])
    emit("note_offset", core.note["off"], core.note["filesz"])

    notes = mm[core.note["off"]:core.note["off"] + core.note["filesz"]]
    at = 0
    info_at = info_len = None
    while at + 12 <= len(notes):
        namesz, descsz, _ = struct.unpack_from("<III", notes, at)
        name = notes[at + 12:at + 12 + namesz].rstrip(b"\0")
        desc = at + 12 + (namesz + 3) // 4 * 4
        if name == b"VMCOREINFO":
            emit("vmcoreinfo_note", core.note["off"] + at)
            info_at, info_len = core.note["off"] + desc, descsz
        at = desc + (descsz + 3) // 4 * 4
    emit("vmcoreinfo_text", info_at, info_len)
    text = mm[info_at:info_at + info_len].split(b"\0")[0].decode()
    info = {}
    pos = info_at
    for line in text.split("\n"):
        if "=" in line:
            key, value = line.split("=", 1)
            info.setdefault(key, value)
            emit(f"value:{key}", pos + len(key) + 1, len(value))
        pos += len(line) + 1

    arch = (Arm64 if core.machine == EM_AARCH64 else X86_64)(core, info)
    top = arch.top
    emit("machine", core.machine)
    emit("top_pgt", core.file_offset(top))
    emit("top_pgt_phys", top)
    emit("loop_entry", arch.loop_entry)
    emit("garbage_entry", arch.garbage_entry)
    emit("block_beyond_ram", arch.block_beyond_ram)
    # The direct (linear) map 16 MiB into RAM.
    linear_base = arch.page_offset + arch.first_ram_pfn * 4096
    _, direct = core.walk(top, linear_base + 0x1000000)
    for level, e in zip(("pgd", "pud", "pmd", "pte"), direct):
        emit(f"direct_{level}", core.file_offset(e))
    _, text_entries = core.walk(top, int(info["SYMBOL(_stext)"], 16))
    emit("text_pgd", core.file_offset(text_entries[0]))
    # A kernel-half address that no page table maps: the first empty top-level slot above
    # the direct map. KASLR moves the direct map, vmalloc and vmemmap bases at every boot,
    # so no fixed address is sure to be unmapped.
    direct_slot = (linear_base >> 39) & 511
    for slot in range(direct_slot + 1, 512):
        if not core.u64(top + slot * 8) & 1:
            emit("unmapped_kernel_va", 0xFFFF000000000000 | slot << 39)
            break

    # mem_section: VMCOREINFO gives the root array's address (4.15+).
    section_size = int(info["SIZE(mem_section)"])
    map_offset = int(info["OFFSET(mem_section.section_mem_map)"])
    page_size = int(info["SIZE(page)"])
    section_pfns = 1 << (int(info["NUMBER(SECTION_SIZE_BITS)"]) - 12)
    per_root = 4096 // section_size
    roots, _ = core.walk(top, int(info["SYMBOL(mem_section)"], 16))

    def section_entry(nr):
        root = core.u64(roots + (nr // per_root) * 8)
        entry, _ = core.walk(top, root + (nr % per_root) * section_size + map_offset)
        return entry

    def mem_map(nr):
        return (core.u64(section_entry(nr)) & ~0x1F) + nr * section_pfns * page_size

    # The first four sections with RAM: on arm64 RAM starts at PHYS_OFFSET, and the
    # sections below it are empty.
    first = arch.first_ram_pfn // section_pfns
    emit("mem_section_root0", core.file_offset(roots + (first // per_root) * 8))
    for i, nr in enumerate(range(first, first + 4)):
        emit(f"section{i}_mem_map", core.file_offset(section_entry(nr)))
    flags = int(info["OFFSET(page.flags)"])
    emit("page_private", int(info["OFFSET(page.private)"]))
    emit("page_mapcount", int(info["OFFSET(page._mapcount)"]))
    emit("page_compound_order", int(info["OFFSET(page.compound_order)"]))
    emit("page_size", page_size)
    def in_file(pfn):
        return any(p["paddr"] <= pfn * 4096 < p["paddr"] + p["filesz"] for p in core.loads)

    pfn = arch.first_ram_pfn
    for n in (1, 2, 3):
        # Every 0x8000 pfns (128 MiB) from the first RAM pfn, skipping what the file
        # lacks (arm64's crashkernel hole): x86_64 gets 0x8000, 0x10000 and 0x18000.
        pfn += 0x8000
        while not in_file(pfn):
            pfn += 0x8000
        vaddr = mem_map(pfn // section_pfns) + (pfn % section_pfns) * page_size
        paddr, entries = core.walk(top, vaddr)
        emit(f"struct_page_{n}", core.file_offset(paddr) + flags)
        emit(f"struct_page_{n}_pfn", pfn)
        if n == 2:
            for level, e in zip(("pgd", "pud", "pmd", "pte"), entries):
                emit(f"vmemmap_{level}", core.file_offset(e))
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
