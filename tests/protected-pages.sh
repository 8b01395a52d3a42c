#!/usr/bin/env bash
# Protected pages (issue 17, item 1): a dump that crash can open even when struct pages
# mislead the dump level, reproduced on a real vmcore, and nothing protected when they
# do not.
#
# Usage: tests/protected-pages.sh [--bin PATH] [--profile P]... [--keep DIR]
#   --bin      our binary (default target/release/makedumpfile; not built here)
#   --profile  repeatable (default cloud-1g and generic-2g): vmcores of
#              scripts/make-vmcore.sh, made if missing
#   --keep     keep the work files in DIR
#
# Per profile:
#   1. the unmodified vmcore at -l -d 31: our dump EQUALS makedumpfile 1.7.2's byte for
#      byte and --show-stats reports "Protected pages : 0x0000000000000000";
#   2. makedumpfile issue 21 (crash: page excluded: ... type: "idt_table"), reproduced on
#      a copy of the vmcore: the struct page of the page holding idt_table is edited
#      (tests/protect-edit.py; the address comes from the kernel's debug vmlinux plus the
#      core's KERNELOFFSET, the pfn from the core's own page tables) to look
#        free: a buddy page of order 0 (-d 16 drops it), and then
#        user: an anonymous page (-d 8 drops it),
#      its flags (PG_reserved) untouched. For each edit, at -l -d 31:
#      - makedumpfile drops the page: crash stops at startup with "page excluded: kernel
#        virtual address: <idt_table> type: "idt_table"" (the reproduction);
#      - ours keeps it and says so ("Kept 1 protected page(s) ... pfn=<pfn>: kernel image
#        page"), --show-stats counts it, and crash opens our dump: `sys` and
#        `rd idt_table` work;
#      - libkdumpfile: every page of our dump equals the edited core's, and our dumpable set
#        is makedumpfile's plus exactly that pfn (scripts/kdump-pages-check.py --extra-pfn);
#      - --num-threads 2 (the struct-page scan split between threads) writes the same bytes;
#      - --verify of makedumpfile's dump fails naming the pfn (a protected page is missing),
#        --verify of ours passes (and of makedumpfile's dump of the unmodified core).
# A missing tool, vmcore or debug vmlinux is a FAILURE, never a skip. Ends with
# "N passed, M failed". Run time: ~1 min per profile (a copy of the core, 6 dumps and 4
# crash sessions).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"
. "$ROOT/tests/checks.sh"

BIN=$ROOT/target/release/makedumpfile
REF=/usr/bin/makedumpfile
profiles=()
KEEP=
while [[ $# -gt 0 ]]; do
    case $1 in
        --bin) BIN=$2; shift 2 ;;
        --profile) profiles+=("$2"); shift 2 ;;
        --keep) KEEP=$2; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
((${#profiles[@]})) || profiles=(cloud-1g generic-2g)
need_cmd crash "apt-get install crash (scripts/install-deps.sh)"
need_cmd nm "apt-get install binutils"
need_file "$REF" "apt-get install makedumpfile (scripts/install-deps.sh)"
need_file "$BIN" "cargo build --release -p makedumpfile-cli"
"$DEBIAN_PYTHON" -c 'import kdumpfile' 2>/dev/null || die "python3-libkdumpfile missing (scripts/install-deps.sh)"

if [[ -n $KEEP ]]; then WORK=$KEEP; mkdir -p "$WORK"; else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/protected-pages.XXXXXX"); trap 'rm -rf "$WORK"' EXIT; fi
CRASH_TIMEOUT=180

# crash_run DUMP VMLINUX OUT CMDS...: one non-interactive crash session.
crash_run() {
    local dump=$1 vmlinux=$2 out=$3; shift 3
    printf '%s\n' "$@" exit | timeout "$CRASH_TIMEOUT" crash -s "$vmlinux" "$dump" >"$out" 2>&1
}

# The reproduction: makedumpfile's dump fails in crash on idt_table.
reference_drops() {
    local out=$1 vaddr=$2
    cat "$out"
    grep -q "page excluded: kernel virtual address: $vaddr  type: \"idt_table\"" "$out"
}

# Ours: crash opens it and reads idt_table.
crash_reads() {
    local out=$1 vaddr=$2
    cat "$out"
    ! grep -q "page excluded" "$out" && grep -q "^$vaddr:" "$out" && grep -q "RELEASE:" "$out"
}

kept_message() {
    local log=$1 pfn=$2
    cat "$log"
    grep -q "^Kept 1 protected page(s) that dump level 31 would exclude" "$log" &&
        grep -q "^  pfn=$pfn: kernel image page the kernel still owns$" "$log" &&
        grep -q "^Protected pages : 0x0000000000000001 " "$log"
}

# --verify of a dump that lacks a protected page: exit 1, the pfn named.
verify_names_missing() {
    local dump=$1 pfn=$2 out status
    out=$("$BIN" --verify "$dump" 2>&1); status=$?
    echo "$out"
    ((status == 1)) && grep -q "protected page of pfn 0x$pfn .*must be in the dump" <<<"$out"
}

for profile in "${profiles[@]}"; do
    log "profile $profile"
    V=$("$ROOT/scripts/make-vmcore.sh" --profile "$profile" | tail -n 1)
    if [[ ! -s $V ]]; then
        check "$profile: vmcore" false; continue
    fi
    release=$(grep -a -m1 -o 'OSRELEASE=[^[:space:]]*' "$V" | head -n1 | cut -d= -f2)
    VMLINUX=$CACHE/kernels/dbg/vmlinux-$release
    need_file "$VMLINUX" "scripts/install-deps.sh --with-dbg"
    dir=$WORK/$profile; mkdir -p "$dir"

    # 1. Unmodified: byte-identical, nothing kept.
    "$REF" -l -d 31 "$V" "$dir/ref.d" >"$dir/ref.log" 2>&1
    "$BIN" -l -d 31 --show-stats "$V" "$dir/ours.d" >"$dir/ours.log" 2>&1
    check "$profile unmodified: -l -d 31 equals makedumpfile's" cmp "$dir/ref.d" "$dir/ours.d"
    check "$profile unmodified: Protected pages : 0" \
        grep -q "^Protected pages : 0x0000000000000000 " "$dir/ours.log"
    check "$profile unmodified: --verify finds every protected page in makedumpfile's dump" \
        "$BIN" --verify "$dir/ref.d"
    rm -f "$dir/ref.d" "$dir/ours.d"

    # 2. The idt_table reproduction on a copy.
    link=$(nm "$VMLINUX" | awk '$3 == "idt_table" { print $1; exit }')
    if [[ -z $link ]]; then
        check "$profile: idt_table in $VMLINUX" false; continue
    fi
    cp "$V" "$dir/core"
    located=$("$DEBIAN_PYTHON" "$ROOT/tests/protect-edit.py" "$dir/core" "$link" locate) || {
        check "$profile: locate idt_table's struct page" false; continue; }
    pfn=$(sed -n 's/.*pfn=\([0-9a-f]*\).*/\1/p' <<<"$located")
    page_at=$(sed -n 's/.*struct_page_offset=\([0-9]*\).*/\1/p' <<<"$located")
    vaddr=$(sed -n 's/.*vaddr=\([0-9a-f]*\).*/\1/p' <<<"$located")
    log "$profile: idt_table at $vaddr, pfn $pfn, struct page at file offset $page_at"
    for edit in free user; do
        # Start from the kernel's own struct page each time.
        dd if="$V" of="$dir/core" bs=1 skip="$page_at" seek="$page_at" count=256 conv=notrunc status=none
        "$DEBIAN_PYTHON" "$ROOT/tests/protect-edit.py" "$dir/core" "$link" "$edit" >/dev/null
        rm -f "$dir/ref.d" "$dir/ours.d"
        "$REF" -l -d 31 "$dir/core" "$dir/ref.d" >"$dir/ref-$edit.log" 2>&1
        "$BIN" -l -d 31 --show-stats "$dir/core" "$dir/ours.d" >"$dir/ours-$edit.log" 2>&1
        check "$profile $edit: both tools exit 0" test -s "$dir/ref.d" -a -s "$dir/ours.d"
        crash_run "$dir/ref.d" "$VMLINUX" "$dir/crash-ref-$edit.txt" sys "rd idt_table 4"
        check "$profile $edit: makedumpfile drops idt_table's page, crash stops on it" \
            reference_drops "$dir/crash-ref-$edit.txt" "$vaddr"
        check "$profile $edit: ours keeps it and names it" kept_message "$dir/ours-$edit.log" "$pfn"
        crash_run "$dir/ours.d" "$VMLINUX" "$dir/crash-ours-$edit.txt" sys "rd idt_table 4"
        check "$profile $edit: crash opens our dump and reads idt_table" \
            crash_reads "$dir/crash-ours-$edit.txt" "$vaddr"
        check "$profile $edit: libkdumpfile: our pages equal the core's, our set = makedumpfile's + pfn $pfn" \
            "$DEBIAN_PYTHON" "$ROOT/scripts/kdump-pages-check.py" --extra-pfn "$pfn" \
            "$dir/core" "$dir/ours.d" "$dir/ref.d"
        check "$profile $edit: --verify of makedumpfile's dump names the missing protected page" \
            verify_names_missing "$dir/ref.d" "$pfn"
        check "$profile $edit: --verify of our dump: sound" "$BIN" --verify "$dir/ours.d"
        rm -f "$dir/ours-t2.d"
        "$BIN" -l -d 31 --num-threads 2 "$dir/core" "$dir/ours-t2.d" >/dev/null 2>&1
        check "$profile $edit: the threaded struct-page scan keeps it too (same bytes)" \
            cmp "$dir/ours.d" "$dir/ours-t2.d"
    done
    rm -f "$dir/core" "$dir/ref.d" "$dir/ours.d" "$dir/ours-t2.d"
done

echo "$passed passed, $failed failed"
((failed == 0))
