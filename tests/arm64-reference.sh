#!/usr/bin/env bash
# The arm64 reference makedumpfiles on the real arm64 vmcores (issue 15 item 5), on the
# x86_64 host through qemu-user (scripts/build-makedumpfile-arm64.sh; slow: see the times).
#
#   tests/arm64-reference.sh [--profile P]... [--matrix]
#
# For each profile's core (made or reused by scripts/make-vmcore-arm64.sh) and each reference
# that ACCEPT[profile] names, these must all hold:
#   -l -d 31, -c -d 31, -E -d 31 and --dump-dmesg exit 0;
#   -l/-c outputs carry the kdump signature, -E output the ELF magic, the dmesg text has
#   "Linux version <OSRELEASE>" with OSRELEASE read from the core's own VMCOREINFO;
#   libkdumpfile (Debian's python3-libkdumpfile) opens the vmcore and the -l dump, and reads
#   the kernel's utsname release from MEMORY (init_uts_ns, translated through the core's page
#   tables) equal to that OSRELEASE, with the same max_pfn in both;
#   drgn ($CACHE/venv) reads the same release from the -l dump.
# --in-capture REF (repeatable): also boot each profile whose ACCEPT list has REF again and
# run REF -l -d 31 INSIDE the arm64 capture kernel (make-vmcore-arm64.sh collector mode); the
# dump must read back with libkdumpfile with the vmcore's release and max_pfn (each boot is a
# new core, but the same kernel and machine size). About 1.5 min of TCG per run.
# Single-threaded on purpose: Debian's 1.7.2 with --num-threads 2 (nr_cpus=2) passed twice,
# then once aborted at its end with "libgcc_s.so.1 must be installed for pthread_exit to
# work" (exit 134) although the initrd has /lib/aarch64-linux-gnu/libgcc_s.so.1.
# --matrix also runs `-l -d 31` of every other reference on every core and prints which one
# accepts which core (informative: a rejection there is not a failure).
# A table of exit codes and seconds is printed last.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"

# Which reference must read which core (findings of issue 15; see make-vmcore-arm64.sh):
# - makedumpfile 1.7.2-1.7.9 choose the page-table layout from the kernel's configured
#   VA_BITS (52 for every trixie arm64 flavour) and refuse "PAGE SIZE ... and VA Bits 52";
#   master uses the runtime size (TCR_EL1_T1SZ) and reads the lpa2=off cores;
# - the -cpu max cores (52-bit VA and PA, LPA2 descriptors) defeat master's page-table walk
#   ("vaddr_to_paddr_arm64: Can't read p4d/pud"): no reference reads them (yet);
# - bookworm's 6.1 (VA_BITS 48) is read by every version.
declare -A ACCEPT=(
    [trixie-arm64-va48]="master"
    [trixie-arm64-16k-va47]="master"
    [bookworm-cloud-arm64]="debian-1.7.2 debian-1.7.8 1.7.9 master"
)
PROFILES=()
MATRIX=0
IN_CAPTURE=()
while (($#)); do
    case $1 in
        --profile) PROFILES+=("${2:?--profile needs a value}"); shift 2 ;;
        --matrix) MATRIX=1; shift ;;
        --in-capture) IN_CAPTURE+=("${2:?--in-capture needs a reference name}"); shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done
((${#PROFILES[@]})) || PROFILES=(bookworm-cloud-arm64 trixie-arm64-va48 trixie-arm64-16k-va47)
need_cmd qemu-aarch64-static "run scripts/install-deps.sh --arm64"
"$DEBIAN_PYTHON" -c 'import kdumpfile' || die "python3-libkdumpfile missing (scripts/install-deps.sh)"
"$DRGN_PYTHON" -c 'import drgn' || die "drgn missing in $CACHE/venv (scripts/install-deps.sh)"

REFS_DIR=$("$ROOT/scripts/build-makedumpfile-arm64.sh" | tail -n1)
ALL_REFS=(debian-1.7.2 debian-1.7.8 1.7.9 master)
OUT=$(mktemp -d "${TMPDIR:-/tmp}/arm64-ref.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
failures=0
TABLE=()
fail() { warn "FAIL: $*"; failures=$((failures + 1)); }

# run_ref REF NAME ARGS...: one run, timed; records "profile ref mode rc seconds".
run_ref() {
    local ref=$1 name=$2 t0 rc=0
    shift 2
    t0=$(date +%s.%N)
    "$REFS_DIR/$ref/run" "$@" >"$OUT/$name.log" 2>&1 || rc=$?
    TABLE+=("$(printf '%-20s %-13s %-12s rc=%-3s %6.1f s' "$PROFILE" "$ref" "$name" "$rc" \
        "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')")")
    return "$rc"
}

# kdf_release FILE: "release max_pfn" read by libkdumpfile from memory.
kdf_release() {
    "$DEBIAN_PYTHON" - "$1" <<'PY'
import sys, kdumpfile
k = kdumpfile.kdumpfile(sys.argv[1])
k.attr["addrxlat.ostype"] = "linux"
vi = k.attr["linux.vmcoreinfo.lines"]
uts = int(vi["SYMBOL(init_uts_ns)"], 16) + int(vi.get("OFFSET(uts_namespace.name)", "0"))
release = k.read(kdumpfile.KDUMP_KVADDR, uts + 2 * 65, 65).split(b"\0")[0].decode()
print(release, k.attr["max_pfn"])
PY
}

# drgn_release FILE UTS_ADDR: the release drgn reads at init_uts_ns.name (no debug info:
# raw reads of kernel virtual memory, translated by drgn's own arm64 page-table walker).
drgn_release() {
    "$DRGN_PYTHON" - "$1" "$2" <<'PY'
import sys, drgn
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
print(prog.read(int(sys.argv[2], 16) + 2 * 65, 65).split(b"\0")[0].decode())
PY
}

for PROFILE in "${PROFILES[@]}"; do
    VMCORE=$("$ROOT/scripts/make-vmcore-arm64.sh" --profile "$PROFILE" | tail -n1)
    [[ -s $VMCORE ]] || die "no vmcore for $PROFILE"
    elf_vmcoreinfo "$VMCORE" >"$OUT/vmcoreinfo"
    release=$(sed -n 's/^OSRELEASE=//p' "$OUT/vmcoreinfo")
    uts=$(printf '%x' $((0x$(sed -n 's/^SYMBOL(init_uts_ns)=//p' "$OUT/vmcoreinfo") + $(sed -n 's/^OFFSET(uts_namespace.name)=//p' "$OUT/vmcoreinfo"))))
    [[ -n $release ]] || die "$VMCORE: no OSRELEASE in its VMCOREINFO"
    read -r core_rel core_pfn < <(kdf_release "$VMCORE") || { fail "$PROFILE: libkdumpfile cannot read the vmcore"; continue; }
    [[ $core_rel == "$release" ]] || fail "$PROFILE: libkdumpfile reads '$core_rel' from the vmcore's memory, VMCOREINFO says '$release'"
    log "$PROFILE: $VMCORE ($release, max_pfn $core_pfn)"
    accept=${ACCEPT[$PROFILE]:-}
    [[ -n $accept ]] || warn "$PROFILE: no reference is expected to read it (informative run only)"
    for ref in "${ALL_REFS[@]}"; do
        if [[ " $accept " != *" $ref "* ]]; then
            ((MATRIX)) || continue
            rm -f "$OUT/m.l"
            if run_ref "$ref" "-l(matrix)" -l -d 31 "$VMCORE" "$OUT/m.l"; then
                log "$PROFILE: $ref reads it too (not in ACCEPT: update the table?)"
            else
                log "$PROFILE: $ref rejects it: $(grep -v '^$' "$OUT/-l(matrix).log" | grep -m1 -i -E "can't|not supported|invalid" || tail -n1 "$OUT/-l(matrix).log")"
            fi
            continue
        fi
        rm -f "$OUT"/dump.*
        run_ref "$ref" -l -l -d 31 "$VMCORE" "$OUT/dump.l" || fail "$PROFILE $ref -l -d 31 (log: $(tail -n3 "$OUT/-l.log"))"
        run_ref "$ref" -c -c -d 31 "$VMCORE" "$OUT/dump.c" || fail "$PROFILE $ref -c -d 31"
        run_ref "$ref" -E -E -d 31 "$VMCORE" "$OUT/dump.E" || fail "$PROFILE $ref -E -d 31"
        run_ref "$ref" --dump-dmesg --dump-dmesg "$VMCORE" "$OUT/dump.dmesg" || fail "$PROFILE $ref --dump-dmesg"
        for f in l c; do
            [[ $(head -c 8 "$OUT/dump.$f" 2>/dev/null) == "KDUMP   " ]] || fail "$PROFILE $ref -$f: no KDUMP signature"
        done
        [[ $(head -c 4 "$OUT/dump.E" 2>/dev/null | od -An -tx1 | tr -d ' \n') == 7f454c46 ]] || fail "$PROFILE $ref -E: no ELF magic"
        grep -q "Linux version $release " "$OUT/dump.dmesg" 2>/dev/null || fail "$PROFILE $ref --dump-dmesg: no 'Linux version $release'"
        if read -r rel pfn < <(kdf_release "$OUT/dump.l"); then
            [[ $rel == "$release" && $pfn == "$core_pfn" ]] ||
                fail "$PROFILE $ref -l: libkdumpfile reads '$rel' max_pfn $pfn, want '$release' $core_pfn"
        else
            fail "$PROFILE $ref -l: libkdumpfile cannot open it"
        fi
        if rel=$(drgn_release "$OUT/dump.l" "$uts"); then
            [[ $rel == "$release" ]] || fail "$PROFILE $ref -l: drgn reads '$rel', want '$release'"
        else
            fail "$PROFILE $ref -l: drgn cannot open it"
        fi
    done
    for ref in "${IN_CAPTURE[@]}"; do
        [[ " $accept " == *" $ref "* ]] || continue
        t0=$SECONDS
        if res=$("$ROOT/scripts/make-vmcore-arm64.sh" --profile "$PROFILE" \
                --collector "$REFS_DIR/$ref/makedumpfile" --sysroot "$REFS_DIR/$ref/sysroot" \
                --collector-args '-l --message-level 7 -d 31' | tail -n1); then
            rel=unreadable pfn=
            read -r rel pfn < <(kdf_release "$res/dump") || true
            [[ $rel == "$release" && $pfn == "$core_pfn" ]] ||
                fail "$PROFILE $ref in the capture kernel: dump reads '$rel' max_pfn ${pfn:-?}, want '$release' $core_pfn"
            guest=$(sed -n 's/^elapsed: *//p' "$res/result.txt")
            TABLE+=("$(printf '%-20s %-13s %-12s rc=%-3s %6s s (QEMU run; collector %s)' "$PROFILE" "$ref" \
                "in-capture" 0 $((SECONDS - t0)) "$guest")")
        else
            fail "$PROFILE $ref in the capture kernel (see $CACHE/collector-out/$PROFILE)"
        fi
    done
done
printf '%s\n' "${TABLE[@]}" >&2
((failures == 0)) || die "$failures check(s) failed"
log "arm64 references: all checks passed"
