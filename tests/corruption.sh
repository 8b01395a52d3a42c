#!/usr/bin/env bash
# Hostile-input suite (issue 8): a real vmcore truncated at 20 points and with bytes
# changed in the ELF header, program headers, notes, VMCOREINFO values, page-table
# entries, mem_section pointers and struct page flags; a flattened stream cut and
# corrupted into `makedumpfile -R`; and corrupted kdump files given as input. The x86_64
# cloud-1g core by default; `--profile bookworm-cloud-arm64` runs it on the arm64 core
# (issue 15): every place and every value written comes from the core, found by
# tests/corruption-locate.py for its architecture (the page-table entries written are
# encoded for it, the VMCOREINFO cases include each architecture's own keys).
#
# Every run must end within 30 s (timeout 30) with exit 0 — and then its dump must open
# with libkdumpfile and hold the corrupted source's pages — or exit 1 with a message
# naming the problem; never a panic (no "panicked", no exit 101/134/139), never a hang,
# and a peak RSS below 512 MB. A missing vmcore or tool is a failure, never a skip.
# Last, `--verify` (issue 17): it passes our good -l -d 31 dump and stream, and fails,
# naming the fault, on copies of the dump truncated at 9 points, with a descriptor's
# offset or size changed, a compressed page's bytes changed, a bit flipped in either
# bitmap, or the incomplete flag set (tests/verify-corruptions.py finds the places).
# Ends with "N passed, M failed".
#
# Usage: tests/corruption.sh [--bin PATH] [--vmcore PATH | --profile NAME]
#
# Cost: one working copy of the 846 MB vmcore; each corruption is applied in place with
# dd conv=notrunc and undone after its runs, and the truncations shrink the same copy
# from the largest point down. Every case runs `-l -d 31`. The cases that break the
# input's structure (ELF header, program headers, notes, VMCOREINFO, truncations) also
# run `-c -d 1`; the deep ones (page tables, mem_section, struct pages) run `-l -d 1`
# instead: they go through the same -d 1 filtering, and a full zlib dump of this vmcore
# takes 15-29 s on the shared 2-core machine (measured), too close to the 30 s bound to
# repeat a dozen times in a suite meant to finish in under 5 minutes.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"

BIN=$ROOT/target/release/makedumpfile
VMCORE=$CACHE/vmcores/cloud-1g/vmcore
while [[ $# -gt 0 ]]; do
    case $1 in
        --bin) BIN=$2; shift 2 ;;
        --vmcore) VMCORE=$2; shift 2 ;;
        --profile) VMCORE=$CACHE/vmcores/$2/vmcore; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
TIME_LIMIT=30
RSS_LIMIT_KB=$((512 * 1024))

passed=0
failed=0
failures=()
START=$SECONDS
summary() {
    echo
    for f in "${failures[@]}"; do echo "failed: $f"; done
    echo "corruption suite: $((SECONDS - START)) s"
    echo "$passed passed, $failed failed"
}
missing() { failed=$((failed + 1)); failures+=("$1"); printf 'FAIL %s\n' "$1"; summary; exit 1; }
[[ -f $VMCORE ]] || missing "vmcore $VMCORE not found (scripts/make-vmcore.sh or scripts/make-vmcore-arm64.sh --profile NAME)"
[[ -x $BIN ]] || missing "$BIN not found (cargo build --release)"
[[ -x /usr/bin/time ]] || missing "/usr/bin/time not found (apt-get install time)"
command -v timeout >/dev/null || missing "timeout not found (coreutils)"
[[ -x $DEBIAN_PYTHON ]] && $DEBIAN_PYTHON -c 'import kdumpfile' 2>/dev/null ||
    missing "python3-libkdumpfile not importable by $DEBIAN_PYTHON (scripts/install-deps.sh)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdf-corrupt.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
CORE=$WORK/vmcore
OUT=$WORK/dump

# A sampled "valid dump of what was readable" check: the dump opens with libkdumpfile,
# and 64 dumpable pages spread over the pfn range equal the (corrupted) source's.
cat >"$WORK/verify.py" <<'EOF'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("check", sys.argv[1])
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)
import kdumpfile
src, dump = check.ElfSource(sys.argv[2]), check.KdumpFile(sys.argv[3])
pfns = dump.dumpable_pfns()
if not pfns:
    print("valid dump with no dumpable pages")
    sys.exit(0)
k = kdumpfile.kdumpfile(sys.argv[3])
ps = dump.block_size
sample = pfns[:: max(1, len(pfns) // 64)]
for pfn in sample:
    got = k.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn * ps, ps)
    want = src.page(pfn * ps, ps)
    if want is not None and got != want:
        print(f"pfn {pfn:#x} differs from the source")
        sys.exit(1)
print(f"libkdumpfile reads it: {len(sample)} of {len(pfns)} dumpable pages checked")
EOF

# tally NAME RC RSS_KB DETAIL PROBLEM [LOG]: count one finished case and print its line;
# on failure (PROBLEM not empty) the tail of LOG too.
tally() {
    local name=$1 rc=$2 rss=$3 detail=$4 problem=$5 log=${6:-}
    if [[ -z $problem ]]; then
        passed=$((passed + 1))
        printf 'ok   %-44s exit %d, %3d MB: %s\n' "$name" "$rc" "$((rss / 1024))" "$detail"
    else
        failed=$((failed + 1)); failures+=("$name: $problem")
        printf 'FAIL %-44s %s\n' "$name" "$problem"
        [[ -z $log ]] || grep -v '^$' "$log" | tail -n 8 | sed 's/^/     | /'
    fi
}

# judge NAME RC LOG [SOURCE]: apply the rules to one finished run.
judge() {
    local name=$1 rc=$2 log=$3 source=${4:-} rss problem="" detail
    rss=$(tail -n 1 "$WORK/rss" 2>/dev/null)
    [[ $rss =~ ^[0-9]+$ ]] || rss=0
    detail=$(grep -v -e '^$' -e 'makedumpfile Failed' -e 'makedumpfile Completed' -e '^Command' "$log" |
        grep -v -e 'Copying data' -e 'Excluding' -e 'Checking for' | head -n 1 | cut -c1-150)
    if [[ $name == *intact* && $rc -ne 0 ]]; then
        problem="the intact input must dump (exit $rc): a corruption was not undone?"
    elif [[ $rc -eq 124 ]]; then
        problem="did not end within ${TIME_LIMIT} s"
    elif grep -q panicked "$log"; then
        problem="panicked"
    elif [[ $rc -ne 0 && $rc -ne 1 ]]; then
        problem="exit status $rc"
    elif [[ $rss -gt $RSS_LIMIT_KB ]]; then
        problem="peak RSS $((rss / 1024)) MB > $((RSS_LIMIT_KB / 1024)) MB"
    elif [[ $rc -eq 1 && -z $detail ]]; then
        problem="exit 1 without a message naming the problem"
    elif [[ $rc -eq 0 && -n $source ]]; then
        if ! detail=$($DEBIAN_PYTHON "$WORK/verify.py" "$ROOT/scripts/kdump-pages-check.py" "$source" "$OUT" 2>&1 | tail -n 1); then
            problem="exit 0 but the dump is not valid: $detail"
        fi
    fi
    tally "$name" "$rc" "$rss" "$detail" "$problem" "$log"
}

# dump NAME ARGS...: run the binary on $CORE with ARGS, writing $OUT.
dump() {
    local name=$1; shift
    local log=$WORK/log
    rm -f "$OUT" "$WORK/rss"
    /usr/bin/time -f %M -o "$WORK/rss" timeout "$TIME_LIMIT" "$BIN" "$@" "$CORE" "$OUT" >"$log" 2>&1
    local rc=$?
    # time(1) reports "Command exited with non-zero status" / "terminated by signal" first.
    grep -q 'terminated by signal' "$WORK/rss" 2>/dev/null && rc=$((128 + $(sed -n 's/.*signal \([0-9]*\).*/\1/p' "$WORK/rss")))
    judge "$name $*" "$rc" "$log" "$CORE"
    rm -f "$OUT"
}

# Modes: structural cases also run the zlib -d 1 dump; deep ones the lzo -d 1 dump.
structural() { dump "$1" -l -d 31; dump "$1" -c -d 1; }
deep() { dump "$1" -l -d 31; dump "$1" -l -d 1; }

# poke NAME MODE OFFSET HEX: write the bytes HEX at OFFSET, run MODE, restore.
poke() {
    local name=$1 mode=$2 offset=$3 hex=$4
    local len=$((${#hex} / 2))
    # One saved copy per offset: MODE may poke again (nested corruptions).
    local saved=$WORK/saved.$offset
    dd if="$CORE" of="$saved" bs=1 skip="$offset" count="$len" status=none
    printf '%s' "$hex" | xxd -r -p | dd of="$CORE" bs=1 seek="$offset" conv=notrunc status=none
    $mode "$name"
    dd if="$saved" of="$CORE" bs=1 seek="$offset" conv=notrunc status=none
}

# le64 VALUE: 16 hex digits, little-endian.
le64() { printf '%016x' "$1" | fold -w2 | tac | tr -d '\n'; }
le32() { printf '%08x' "$1" | fold -w2 | tac | tr -d '\n'; }
le16() { printf '%04x' "$1" | fold -w2 | tac | tr -d '\n'; }

# derive TEXT HOW: a replacement for the VMCOREINFO value TEXT, of TEXT's length. KASLR
# places the kernel anew at every boot, so the lengths of randomised values (phys_base,
# KERNELOFFSET, SYMBOL addresses) differ between generated vmcores: every replacement is
# computed from the value found, never written as a fixed string (issue 19). HOW is
#   dec EXPR   decimal EXPR, where v is TEXT read as a signed decimal number (phys_base
#              is negative when KASLR loads the kernel below its link address)
#   hex EXPR   hexadecimal EXPR, where v is TEXT read as a hexadecimal number
#   hex0x EXPR the same for a TEXT written with 0x (arm64's NUMBER(kimage_voffset) ...)
#   fill C     TEXT's length of the character C
#   first C    TEXT with its first character replaced by C
# dec and hex pad with leading zeros (makedumpfile and we read these values with base 10
# or 16, so zeros do not change them); a result longer than TEXT fails the case loudly.
derive() {
    local text=$1 how=$2 arg=$3 len=${#1} v out
    case $how in
        dec) if [[ $text == -* ]]; then v=$((-10#${text:1})); else v=$((10#$text)); fi
             out=$(printf '%0*d' "$len" $((arg))) ;;
        hex) v=$((16#$text)); out=$(printf '%0*x' "$len" $((arg))) ;;
        hex0x) v=$((16#${text#0x})); out=0x$(printf '%0*x' $((len - 2)) $((arg))) ;;
        fill) out=$(printf "%${len}s" '' | tr ' ' "$arg") ;;
        first) out=$arg${text:1} ;;
        *) echo "derive: unknown rule $how" >&2; return 1 ;;
    esac
    [[ ${#out} -eq $len ]] || { echo "derive: $how $arg of $text gives $out, not $len characters" >&2; return 1; }
    printf '%s' "$out"
}

# value NAME KEY HOW ARG: replace KEY's VMCOREINFO value by `derive VALUE HOW ARG`, run the
# structural modes, restore.
value() {
    local name=$1 key=$2 offset=${AT["value:$2"]:-} len=${LEN["value:$2"]:-} text new
    if [[ -z $offset || -z $len ]]; then
        failed=$((failed + 1)); failures+=("$name: VMCOREINFO has no $key")
        printf 'FAIL %s: no %s in VMCOREINFO\n' "$name" "$key"
        return
    fi
    text=$(dd if="$CORE" bs=1 skip="$offset" count="$len" status=none)
    if ! new=$(derive "$text" "$3" "$4"); then
        failed=$((failed + 1)); failures+=("$name: cannot derive a replacement for $key=$text")
        printf 'FAIL %s: cannot derive a replacement for %s=%s\n' "$name" "$key" "$text"
        return
    fi
    poke "$name ($key=$text -> $new)" structural "$offset" "$(printf '%s' "$new" | xxd -p | tr -d '\n')"
}

need_cmd xxd "apt-get install xxd"
log "copying the vmcore (cp --reflink=auto)"
cp --reflink=auto "$VMCORE" "$CORE" || missing "cannot copy $VMCORE to $WORK"
declare -A AT LEN
while read -r name offset length; do
    AT[$name]=$offset
    LEN[$name]=${length:-}
done < <($DEBIAN_PYTHON "$ROOT/tests/corruption-locate.py" "$CORE")
for key in machine top_pgt section0_mem_map note_phdr load2_phdr load1_paddr unmapped_kernel_va \
    struct_page_3 page_size loop_entry; do
    [[ -n ${AT[$key]:-} ]] || missing "tests/corruption-locate.py could not locate $key"
done
case ${AT[machine]} in
    62) MACHINE=x86_64 ;;
    183) MACHINE=arm64 ;;
    *) missing "e_machine ${AT[machine]}: the suite knows x86_64 and arm64" ;;
esac
log "$VMCORE: $MACHINE"

log "the intact vmcore"
structural "intact"

log "ELF header"
poke "ELF magic" structural 1 58
poke "EI_CLASS ELF32" structural 4 01
poke "e_phoff beyond the file" structural 32 "$(le64 0xffffffffffffff00)"
poke "e_phentsize 32" structural 54 "$(le16 32)"
poke "e_phnum PN_XNUM, e_shoff 0" structural 56 "$(le16 0xffff)"
poke "e_phnum 0" structural 56 "$(le16 0)"
poke "e_phnum 200 (notes read as headers)" structural 56 "$(le16 200)"

log "program headers"
# Each header, address and size comes from the core itself (corruption-locate.py).
note=${AT[note_phdr]}
load0=${AT[load0_phdr]}
load1=${AT[load1_phdr]}
load2=${AT[load2_phdr]}
paddr1=${AT[load1_paddr]}; memsz1=${LEN[load1_paddr]}
poke "PT_NOTE p_filesz huge" structural $((note + 32)) "$(le64 0x7fffffffffff)"
poke "PT_NOTE p_offset at the end" structural $((note + 8)) "$(le64 $((AT[file_size] - 16)))"
poke "PT_NOTE is the RAM PT_LOAD" structural "$note" "$(le32 1)"
poke "PT_LOAD[1] is a PT_NOTE ($((LEN[load1_offset] >> 20)) MiB)" structural "$load1" "$(le32 4)"
poke "PT_LOAD[0] p_offset huge" structural $((load0 + 8)) "$(le64 0x7fffffffffff0000)"
poke "PT_LOAD[1] p_filesz > p_memsz" structural $((load1 + 32)) "$(le64 $((memsz1 + (1 << 20))))"
poke "PT_LOAD[1] p_paddr + 2^51" structural $((load1 + 24)) "$(le64 $((paddr1 | 1 << 51)))"
poke "PT_LOAD[1] p_paddr + 2^46" structural $((load1 + 24)) "$(le64 $((paddr1 | 1 << 46)))"
# Without VMCOREINFO nothing lowers max_mapnr to the last memory section.
high_ram() { poke "$1" structural $((load1 + 24)) "$(le64 $((paddr1 | 1 << 51)))"; }
poke "no VMCOREINFO, PT_LOAD[1] p_paddr + 2^51" high_ram $((AT[vmcoreinfo_note] + 12)) 58
poke "PT_LOAD[2] p_memsz 0" structural $((load2 + 40)) "$(le64 0)"
poke "PT_LOAD[2] overlaps PT_LOAD[1]" structural $((load2 + 24)) "$(le64 "$paddr1")"

log "notes"
poke "first note namesz 2^32-1" structural "${AT[note_offset]}" "$(le32 0xffffffff)"
poke "first note descsz 2^32-16" structural $((AT[note_offset] + 4)) "$(le32 0xfffffff0)"
poke "VMCOREINFO descsz beyond PT_NOTE" structural $((AT[vmcoreinfo_note] + 4)) "$(le32 0x100000)"
poke "VMCOREINFO note renamed" structural $((AT[vmcoreinfo_note] + 12)) 58

log "VMCOREINFO values"
value "SYMBOL(mem_section) unaligned" "SYMBOL(mem_section)" hex 'v + 8'
value "SYMBOL(mem_section) garbage" "SYMBOL(mem_section)" hex 0xdeadbeef
value "SIZE(page) all nines" "SIZE(page)" fill 9
value "SIZE(page) 0" "SIZE(page)" fill 0
value "PAGESIZE plus one" "PAGESIZE" dec 'v + 1'
value "PAGESIZE doubled" "PAGESIZE" dec 'v * 2'
value "OFFSET(page.flags) 9" "OFFSET(page.flags)" dec 9
if [[ $MACHINE == x86_64 ]]; then
    # phys_base is 2 MiB aligned, so v + 1 is odd and as long as v (negative or not).
    value "NUMBER(phys_base) odd" "NUMBER(phys_base)" dec 'v + 1'
    value "NUMBER(phys_base) all nines" "NUMBER(phys_base)" fill 9
    # init_top_pgt is page aligned: flipping bit 12 names the neighbouring page.
    value "SYMBOL(init_top_pgt) wrong page" "SYMBOL(init_top_pgt)" hex 'v ^ 0x1000'
    value "SYMBOL(init_top_pgt) all ones" "SYMBOL(init_top_pgt)" fill f
else
    # The keys arm64 translation stands on (makedumpfile arch/arm64.c).
    value "SYMBOL(swapper_pg_dir) wrong page" "SYMBOL(swapper_pg_dir)" hex 'v ^ 0x1000'
    value "SYMBOL(swapper_pg_dir) all ones" "SYMBOL(swapper_pg_dir)" fill f
    value "NUMBER(kimage_voffset) one page off" "NUMBER(kimage_voffset)" hex0x 'v + 0x1000'
    value "NUMBER(kimage_voffset) garbage" "NUMBER(kimage_voffset)" first x
    value "NUMBER(PHYS_OFFSET) 2 MiB off" "NUMBER(PHYS_OFFSET)" hex0x 'v + 0x200000'
    value "NUMBER(PHYS_OFFSET) 0" "NUMBER(PHYS_OFFSET)" hex0x 0
    value "NUMBER(VA_BITS) 36" "NUMBER(VA_BITS)" dec 36
    value "NUMBER(VA_BITS) 99" "NUMBER(VA_BITS)" dec 99
    value "NUMBER(TCR_EL1_T1SZ) 0x18 (40-bit VA)" "NUMBER(TCR_EL1_T1SZ)" hex0x 'v + 8'
    value "NUMBER(TCR_EL1_T1SZ) garbage" "NUMBER(TCR_EL1_T1SZ)" first x
    value "KERNELOFFSET garbage" "KERNELOFFSET" first x
fi
value "OSRELEASE garbage" "OSRELEASE" first x
value "NUMBER(SECTION_SIZE_BITS) 12" "NUMBER(SECTION_SIZE_BITS)" dec 12
value "NUMBER(MAX_PHYSMEM_BITS) 64" "NUMBER(MAX_PHYSMEM_BITS)" dec 64
value "LENGTH(mem_section) all nines" "LENGTH(mem_section)" fill 9
value "OFFSET(mem_section.section_mem_map) 9" "OFFSET(mem_section.section_mem_map)" dec 9
value "LENGTH(zone.free_area) all nines" "LENGTH(zone.free_area)" fill 9

log "page-table entries ($MACHINE)"
# The entries are encoded for the core's architecture by corruption-locate.py: a table
# entry pointing back at the top table, one pointing beyond RAM, a 2 MiB leaf beyond RAM.
poke "PGD entry of the direct map cleared" deep "${AT[direct_pgd]}" "$(le64 0)"
poke "PGD entry of the direct map all ones" deep "${AT[direct_pgd]}" "$(le64 0xffffffffffffffff)"
poke "PUD entry of the direct map loops to PGD" deep "${AT[direct_pud]}" "$(le64 "${AT[loop_entry]}")"
poke "PGD entry of kernel text cleared" deep "${AT[text_pgd]}" "$(le64 0)"
poke "PGD entry of vmemmap garbage" deep "${AT[vmemmap_pgd]}" "$(le64 "${AT[garbage_entry]}")"
poke "PMD entry of vmemmap: 2 MiB leaf beyond RAM" deep "${AT[vmemmap_pmd]}" "$(le64 "${AT[block_beyond_ram]}")"
poke "PUD entry of vmemmap cleared" deep "${AT[vmemmap_pud]}" "$(le64 0)"

log "mem_section"
poke "mem_section root of RAM cleared" deep "${AT[mem_section_root0]}" "$(le64 0)"
poke "mem_section root of RAM garbage" deep "${AT[mem_section_root0]}" "$(le64 0xdeadbeefdeadbeef)"
poke "1st RAM section: mem_map cleared" deep "${AT[section0_mem_map]}" "$(le64 0)"
poke "2nd RAM section: mem_map all ones" deep "${AT[section1_mem_map]}" "$(le64 0xffffffffffffffff)"
poke "3rd RAM section: mem_map in user space" deep "${AT[section2_mem_map]}" "$(le64 0x1003)"
poke "4th RAM section: mem_map unmapped kernel address" deep "${AT[section3_mem_map]}" "$(le64 $((AT[unmapped_kernel_va] | 3)))"

log "struct pages"
# Offsets within struct page from the core's VMCOREINFO (private, _mapcount,
# compound_order in the next struct page); the pfns from corruption-locate.py.
sp=${AT[struct_page_2]}
private=${AT[page_private]} mapcount=${AT[page_mapcount]} order_at=${AT[page_compound_order]} sp_size=${AT[page_size]}
((mapcount == private + 8)) || missing "struct page: _mapcount ($mapcount) does not follow private ($private): the buddy cases write both at once"
poke "struct page flags all ones (pfn $(printf %#x "${AT[struct_page_2_pfn]}"))" deep "$sp" "$(le64 0xffffffffffffffff)"
poke "512 struct pages of 0xff" deep "${AT[struct_page_1]}" "$(printf 'ff%.0s' $(seq 1 $((512 * sp_size))))"
# _mapcount = PAGE_BUDDY_MAPCOUNT_VALUE (-129) with an absurd order in private.
poke "buddy page with order 2^32-1" deep $((sp + private)) "$(le64 0xffffffff)$(le32 0xffffff7f)"
poke "buddy page with order 40" deep $((sp + private)) "$(le64 40)$(le32 0xffffff7f)"
# PG_head (bit 16) with compound_order 63 in the next struct page.
poke "compound head of order 63 (pfn $(printf %#x "${AT[struct_page_3_pfn]}"))" deep "${AT[struct_page_3]}" \
    "$(le64 0x10000)$(printf '00%.0s' $(seq 1 $((sp_size - 8 + order_at))))3f"

log "every corruption undone"
structural "intact after the corruptions"

log "truncations"
l0=${AT[load0_offset]}; n0=${LEN[load0_offset]}
l1=${AT[load1_offset]}; n1=${LEN[load1_offset]}
l2=${AT[load2_offset]}; n2=${LEN[load2_offset]}
points=(
    0 1 63 $((64 + 56 + 10)) $((AT[note_offset] + 100)) $((AT[vmcoreinfo_text] + 200))
    $((AT[note_offset] + LEN[note_offset])) $((l0 + 4096)) $((l0 + n0 / 2)) $((l0 + n0 - 1))
    $((l1 + n1 / 100)) $((l1 + n1 / 10)) $((l1 + n1 / 4)) $((l1 + n1 / 2)) $((l1 + n1 * 3 / 4))
    $((l1 + n1 - 4096)) $((l1 + n1 - 1)) $((l2 + 1)) $((l2 + n2 / 2)) $((l2 + n2 - 1))
)
for point in $(printf '%s\n' "${points[@]}" | sort -rn); do
    truncate -s "$point" "$CORE"
    structural "truncated at $point"
done

log "flattened stream into -R"
STREAM=$WORK/stream
"$BIN" -F -l -d 31 "$VMCORE" >"$STREAM" 2>/dev/null || missing "$BIN -F could not write the stream"
size=$(stat -c %s "$STREAM")
rec1_size=$(od -An -t x1 -j $((4096 + 8)) -N 8 "$STREAM" | tr -d ' \n')
rec1_size=$((16#$rec1_size))
rec2=$((4096 + 16 + rec1_size))
# rebuild NAME [SOURCE]: run -R on $WORK/bad; with SOURCE, check the rebuilt dump against it.
rebuild() {
    local name=$1 source=${2:-} log=$WORK/log
    rm -f "$OUT" "$WORK/rss"
    /usr/bin/time -f %M -o "$WORK/rss" timeout "$TIME_LIMIT" "$BIN" -R "$OUT" <"$WORK/bad" >"$log" 2>&1
    local rc=$?
    grep -q 'terminated by signal' "$WORK/rss" 2>/dev/null && rc=$((128 + $(sed -n 's/.*signal \([0-9]*\).*/\1/p' "$WORK/rss")))
    judge "-R: $name" "$rc" "$log" "$source"
    rm -f "$OUT"
}
# stream_case NAME CUT [OFFSET HEX]: the stream cut at CUT bytes, then HEX written at OFFSET.
stream_case() {
    head -c "$2" "$STREAM" >"$WORK/bad"
    [[ $# -lt 4 ]] || printf '%s' "$4" | xxd -r -p | dd of="$WORK/bad" bs=1 seek="$3" conv=notrunc status=none
    rebuild "$1"
}
head -c "$size" "$STREAM" >"$WORK/bad"
rebuild "intact stream" "$VMCORE"
be64() { printf '%016x' "$1"; }
for cut in 0 100 $((4096 + 8)) $((4096 + 16 + 100)) $((size / 2)) $((size - 16)) $((size - 1)); do
    stream_case "stream cut at $cut" "$cut"
done
stream_case "bad signature" "$size" 0 58
stream_case "header type 2" "$size" 16 "$(be64 2)"
stream_case "record offset -5" "$size" 4096 "$(be64 -5)"
stream_case "record size 2^40" "$size" $((4096 + 8)) "$(be64 $((1 << 40)))"
stream_case "record size 2^30+1" "$size" $((4096 + 8)) "$(be64 $(((1 << 30) + 1)))"
stream_case "record size one short" "$size" $((4096 + 8)) "$(be64 $((rec1_size - 1)))"
stream_case "record offset 2^62" "$size" "$rec2" "$(be64 $((1 << 62)))"
stream_case "record offset 1 TiB" "$size" "$rec2" "$(be64 $((1 << 40)))"
stream_case "64 bytes of 0xff mid-stream" "$size" $((size / 2)) "$(printf 'ff%.0s' $(seq 1 64))"

log "kdump-compressed files as input"
KDUMP=$WORK/kdump
"$BIN" -l -d 31 "$VMCORE" "$KDUMP" >/dev/null 2>&1 || missing "$BIN could not write a kdump file"
# kdump_case NAME [OFFSET HEX]: our own -d 31 dump, HEX written at OFFSET, as the input.
kdump_case() {
    cp "$KDUMP" "$CORE"
    [[ $# -lt 3 ]] || printf '%s' "$3" | xxd -r -p | dd of="$CORE" bs=1 seek="$2" conv=notrunc status=none
    local log=$WORK/log
    rm -f "$OUT" "$WORK/rss"
    /usr/bin/time -f %M -o "$WORK/rss" timeout "$TIME_LIMIT" "$BIN" -l -d 31 "$CORE" "$OUT" >"$log" 2>&1
    local rc=$?
    # A refiltered dump is judged against its input: refiltering a -d 31 dump at -d 31
    # must give the same bytes (there is no ELF source to compare pages with).
    if [[ $rc -eq 0 ]] && ! cmp -s "$OUT" "$KDUMP"; then
        echo "refiltered output differs from its -d 31 input" >>"$log"
        rc=2
    fi
    judge "kdump input: $1 -l -d 31" "$rc" "$log"
    rm -f "$OUT"
}
kdump_case "our -d 31 dump"
kdump_case "signature KDUMQ" 4 51
kdump_case "block_size 3" 428 "$(le32 3)"
cp "$KDUMP" "$CORE" && truncate -s 12000 "$CORE" && dump "kdump input: cut inside the bitmaps" -l -d 31

log "--verify on our dumps: sound ones pass, corrupted ones fail naming the fault"
# verify_run NAME EXPECTED FILE...: `--verify FILE...` must exit 0 saying "the dump is
# sound" when EXPECTED is `sound`, else exit 1 with a fault line on stderr matching the
# extended regular expression EXPECTED; within the time and memory limits, no panic.
verify_run() {
    local name=$1 expected=$2 rc rss problem="" fault
    shift 2
    rm -f "$WORK/rss"
    /usr/bin/time -f %M -o "$WORK/rss" timeout "$TIME_LIMIT" "$BIN" --verify "$@" >"$WORK/log" 2>"$WORK/err"
    rc=$?
    grep -q 'terminated by signal' "$WORK/rss" 2>/dev/null && rc=$((128 + $(sed -n 's/.*signal \([0-9]*\).*/\1/p' "$WORK/rss")))
    rss=$(tail -n 1 "$WORK/rss" 2>/dev/null)
    [[ $rss =~ ^[0-9]+$ ]] || rss=0
    fault=$(grep -m1 '^verify: ' "$WORK/err" | cut -c1-150)
    if grep -q panicked "$WORK/err"; then
        problem="panicked"
    elif [[ $rss -gt $RSS_LIMIT_KB ]]; then
        problem="peak RSS $((rss / 1024)) MB > $((RSS_LIMIT_KB / 1024)) MB"
    elif [[ $expected == sound ]]; then
        [[ $rc -eq 0 ]] && grep -q 'the dump is sound' "$WORK/log" ||
            problem="exit $rc, expected 0 and 'the dump is sound': $(grep -v '^$' "$WORK/err" | head -n 1)"
        fault=$(grep -m1 'the dump is sound' "$WORK/log")
    elif [[ $rc -ne 1 ]]; then
        problem="exit $rc, expected 1 naming '$expected'"
    elif ! grep -Eq "^verify: .*($expected)" "$WORK/err"; then
        problem="the fault does not name '$expected': ${fault:-no 'verify:' line}"
    fi
    tally "--verify: $name" "$rc" "$rss" "$fault" "$problem" "$WORK/err"
}
verify_run "our -l -d 31 dump" sound "$KDUMP"
verify_run "our -l -d 31 dump, 2 threads" sound --num-threads 2 "$KDUMP"
verify_run "our -F -l -d 31 stream saved to a file" sound "$STREAM"
head -c $((size / 2)) "$STREAM" >"$WORK/bad"
verify_run "the stream cut in half" "flattened record" "$WORK/bad"
# Every case derives its offsets from the dump (tests/verify-corruptions.py).
cases=$($DEBIAN_PYTHON "$ROOT/tests/verify-corruptions.py" "$KDUMP") || missing "tests/verify-corruptions.py could not read $KDUMP"
while IFS=$'\t' read -r name kind offset hex expected; do
    cp "$KDUMP" "$CORE"
    case $kind in
        poke) printf '%s' "$hex" | xxd -r -p | dd of="$CORE" bs=1 seek="$offset" conv=notrunc status=none ;;
        truncate) truncate -s "$offset" "$CORE" ;;
    esac
    verify_run "$name" "$expected" "$CORE"
done <<<"$cases"

summary
[[ $failed -eq 0 ]]
