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
"""

import mmap
import struct
import sys

PT_LOAD, PT_NOTE = 1, 4
START_KERNEL_MAP = 0xFFFFFFFF80000000
ENTRY_MASK = 0x000FFFFFFFFFF000


class Core:
    def __init__(self, path):
        f = open(path, "rb")
        self.mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        mm = self.mm
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

    phys_base = int(info["NUMBER(phys_base)"], 0)
    top = int(info["SYMBOL(init_top_pgt)"], 16) - START_KERNEL_MAP + phys_base
    emit("top_pgt", core.file_offset(top))
    emit("top_pgt_phys", top)
    page_offset = [p["vaddr"] - p["paddr"] for p in core.loads
                   if p["vaddr"] and p["vaddr"] < START_KERNEL_MAP][-1]
    _, direct = core.walk(top, page_offset + 0x1000000)
    for level, e in zip(("pgd", "pud", "pmd", "pte"), direct):
        emit(f"direct_{level}", core.file_offset(e))
    _, text_entries = core.walk(top, int(info["SYMBOL(_stext)"], 16))
    emit("text_pgd", core.file_offset(text_entries[0]))
    # A kernel-half address that no page table maps: the first empty top-level slot above
    # the direct map. KASLR moves the direct map, vmalloc and vmemmap bases at every boot,
    # so no fixed address is sure to be unmapped.
    direct_slot = (page_offset >> 39) & 511
    for slot in range(direct_slot + 1, 512):
        if not core.u64(top + slot * 8) & 1:
            emit("unmapped_kernel_va", 0xFFFF000000000000 | slot << 39)
            break

    # mem_section: VMCOREINFO gives the root array's address (4.15+).
    section_size = int(info["SIZE(mem_section)"])
    map_offset = int(info["OFFSET(mem_section.section_mem_map)"])
    page_size = int(info["SIZE(page)"])
    section_pfns = 1 << (int(info["NUMBER(SECTION_SIZE_BITS)"]) - 12)
    roots, _ = core.walk(top, int(info["SYMBOL(mem_section)"], 16))
    emit("mem_section_root0", core.file_offset(roots))
    root0 = core.u64(roots)
    mem_maps = {}
    for nr in range(4):
        sec, _ = core.walk(top, root0 + nr * section_size + map_offset)
        emit(f"section{nr}_mem_map", core.file_offset(sec))
        mem_maps[nr] = (core.u64(sec) & ~0x1F) + nr * section_pfns * page_size
    flags = int(info["OFFSET(page.flags)"])
    for pfn in (0x8000, 0x10000, 0x18000):
        vaddr = mem_maps[pfn // section_pfns] + (pfn % section_pfns) * page_size
        paddr, entries = core.walk(top, vaddr)
        emit(f"struct_page_{pfn:x}", core.file_offset(paddr) + flags)
        if pfn == 0x10000:
            for level, e in zip(("pgd", "pud", "pmd", "pte"), entries):
                emit(f"vmemmap_{level}", core.file_offset(e))
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
