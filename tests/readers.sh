#!/usr/bin/env bash
# Reader acceptance on REAL vmcores (issue 5, item 1): our dumps must open in crash,
# libkdumpfile and drgn exactly as makedumpfile 1.7.2's dumps of the same vmcore do.
#
# Usage: tests/readers.sh [--profile cloud-1g|generic-2g]... [--bin PATH] [--levels "31 1"]
#                         [--jobs N] [--keep DIR]
#   --profile  repeatable; default: cloud-1g and generic-2g. The vmcore comes from
#              scripts/make-vmcore.sh (cached in $CACHE/vmcores/<profile>/vmcore).
#   --bin      our binary (default target/release/makedumpfile; not built here).
#   --levels   dump levels to check (default "31 1"). -d 31 gets every check below;
#              other levels get the crash and libkdumpfile checks of -l and -c.
#   --jobs     crash sessions run in parallel (default: number of CPUs).
#   --keep     keep dumps and crash outputs in DIR instead of a deleted temporary dir.
#
# For each profile and level L, dumps are made with our binary and with Debian's
# makedumpfile 1.7.2 using the same options (-l -d L, -c -d L), and then:
#   crash 8.0.2 + the kernel's debug vmlinux (scripts/install-deps.sh --with-dbg):
#       one non-interactive session per dump (`crash -s VMLINUX dump < cmds`) runs
#       `sys`, `ps`, `kmem -i` and `log`, each redirected to its own file. Every command
#       must succeed (expected content present, no crash error line, nothing on stderr,
#       only startup WARNING lines on stdout, exit 0) and every file, stdout included,
#       must EQUAL the same file from makedumpfile's dump with the same options.
#       Normalisation: none. The one field that legitimately differs is the DUMPFILE
#       name printed by `sys`; both dumps are opened under the same relative name
#       ("dump") from sibling directories, so the outputs are compared byte for byte.
#       crash 8.0.2 prints "WARNING: active task ... not found in PID hash" on these 6.1
#       kernels even for the raw ELF vmcore (and `ps` lists only swapper/0, swapper/1 and
#       init there too); it is crash's, equal on both sides, and compared like the rest.
#       At -d 31 crash also reads our snappy (-p) and zstd (-z) dumps, which Debian's
#       makedumpfile cannot write, and our flattened (-F -c) stream, directly; their
#       outputs must equal those on makedumpfile's -l resp. -c dump (same pages).
#   libkdumpfile 0.5.1 (Debian python3): scripts/kdump-pages-check.py SOURCE DUMP REF —
#       every dumpable page equals the source page and the dumpable set equals makedumpfile's.
#   drgn 0.3.0 (PyPI venv): scripts/drgn-check.py opens our -c, -l, -p, -z and -F -c
#       outputs at -d 31, reads physical pages (an excluded page must fault) and init_uts_ns.
# A missing tool, debug vmlinux, vmcore or binary is a FAILURE with a message, never a skip.
# Prints a reader x output table and ends with "N passed, M failed".
#
# Run time, 2 cores, both profiles, cached vmcores and indexed vmlinux: ~2.5 min idle,
# ~6 min on a host loaded by parallel builds; 22 crash sessions (8-25 s each: crash/gdb
# loading the 590-700 MB vmlinux) are most of it. --levels 31 drops 8 of them.
#
# tests/capture-kernel.sh sources this file for its helpers (check, crash_check, ...):
# everything above the "main" marker only defines functions and variables.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/tests/checks.sh"
. "$ROOT/scripts/lib.sh"

REF=/usr/sbin/makedumpfile
[[ -x $REF ]] || REF=/usr/bin/makedumpfile
CRASH_CMDS=(sys ps "kmem -i" log)
CRASH_TIMEOUT=600
JOBS=$(nproc 2>/dev/null || echo 2)


# fail_check NAME MESSAGE: a check that cannot even start (missing tool or input).
# shellcheck disable=SC2016 # $1 is expanded by the inner bash
fail_check() { check "$1" bash -c 'echo "$1"; exit 1' _ "$2"; }

# Reader x output table: TABLE[row/reader] = ok|FAIL; rows in first-seen order.
declare -A TABLE=()
table_rows=()
record() {  # ROW READER ok|FAIL
    [[ " ${table_rows[*]} " == *" $1 "* ]] || table_rows+=("$1")
    [[ ${TABLE[$1/$2]:-} == FAIL ]] || TABLE[$1/$2]=$3  # a FAIL is never overwritten
}
# tcheck ROW READER NAME COMMAND...: check + record.
tcheck() {
    local row=$1 reader=$2 before=$failed; shift 2
    check "$@"
    if ((failed > before)); then record "$row" "$reader" FAIL; else record "$row" "$reader" ok; fi
}
# print_table TITLE COLUMN...: rows are "A|B" keys (printed as two columns).
print_table() {
    local title=$1 row c; shift
    echo "$title"
    printf '%-12s %-22s' profile output; for c in "$@"; do printf ' %-13s' "$c"; done; echo
    for row in "${table_rows[@]}"; do
        printf '%-12s %-22s' "${row%%|*}" "${row#*|}"
        for c in "$@"; do printf ' %-13s' "${TABLE[$row/$c]:--}"; done; echo
    done
}

# profile_release PROFILE: the kernel release a profile boots (scripts/make-vmcore.sh).
profile_release() {
    case $1 in
        cloud-1g) echo "$KERNEL_ABI-cloud-amd64" ;;
        generic-2g) echo "$KERNEL_ABI-amd64" ;;
        *) return 1 ;;
    esac
}
# debug_vmlinux RELEASE: where install-deps.sh --with-dbg puts it.
debug_vmlinux() { echo "$CACHE/kernels/dbg/vmlinux-$1"; }

# make_dump TOOL DIR OPTS... VMCORE: DIR/dump (every crash session opens a file "dump").
make_dump() {
    local tool=$1 dir=$2; shift 2
    rm -rf "$dir"; mkdir -p "$dir"
    "$tool" "$@" "$dir/dump" >"$dir/makedumpfile.log" 2>&1 ||
        { echo "$tool $* $dir/dump failed:"; tail -n 5 "$dir/makedumpfile.log"; return 1; }
}
# make_flat TOOL DIR OPTS... VMCORE: flattened stream (-F) to DIR/dump through a pipe.
make_flat() {
    local tool=$1 dir=$2; shift 2
    rm -rf "$dir"; mkdir -p "$dir"
    "$tool" -F "$@" 2>"$dir/makedumpfile.log" | cat >"$dir/dump" ||
        { echo "$tool -F $* failed:"; tail -n 5 "$dir/makedumpfile.log"; return 1; }
}

# run_crash DIR VMLINUX: one session on DIR/dump; each command's output in DIR/crash/.
run_crash() {
    local dir=$1 vmlinux=$2 c
    rm -rf "$dir/crash"; mkdir -p "$dir/crash"
    for c in "${CRASH_CMDS[@]}"; do printf '%s > crash/%s.txt\n' "$c" "${c// /}"; done >"$dir/crash/cmds"
    echo exit >>"$dir/crash/cmds"
    (
        cd "$dir" || exit 1
        start=$SECONDS
        timeout "$CRASH_TIMEOUT" crash -s "$vmlinux" dump <crash/cmds >crash/stdout.txt 2>crash/stderr.txt
        echo $? >crash/rc
        echo $((SECONDS - start)) >crash/seconds
    )
}
# start_crash DIR VMLINUX: run_crash in the background, at most $JOBS at a time.
start_crash() {
    while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
    run_crash "$@" &
}

# crash_succeeded DIR RELEASE: every command of DIR's crash session succeeded.
crash_succeeded() {
    local dir=$1/crash release=$2 bad=0 f
    [[ -f $dir/rc ]] || { echo "$dir: crash did not run"; return 1; }
    [[ $(cat "$dir/rc") == 0 ]] || { echo "$dir: crash exited with $(cat "$dir/rc")"; bad=1; }
    if [[ -s $dir/stderr.txt ]]; then echo "$dir: stderr:"; head -n 5 "$dir/stderr.txt"; bad=1; fi
    # stdout holds start-up messages plus the error messages of redirected commands
    # (crash prints those to both): only blank and WARNING lines are allowed.
    if grep -v -E '^(WARNING: .*)?$' "$dir/stdout.txt" | grep -q .; then
        echo "$dir: unexpected stdout:"; grep -v -E '^(WARNING: .*)?$' "$dir/stdout.txt" | head -n 5; bad=1
    fi
    for f in sys ps kmem-i log; do
        [[ -s $dir/$f.txt ]] || { echo "$dir: '$f' produced no output"; bad=1; continue; }
        # crash's error() lines start with the command name (or "crash:").
        if grep -n -E '^(sys|ps|kmem|log|crash): |seek error:|read error:|page excluded:|uncompress failed' \
            "$dir/$f.txt" | head -n 3 | grep .; then
            echo "$dir: '$f' reported an error"; bad=1
        fi
    done
    grep -q "RELEASE: $release\$" "$dir/sys.txt" 2>/dev/null || { echo "$dir: sys lacks RELEASE: $release"; bad=1; }
    grep -q 'PANIC: "' "$dir/sys.txt" 2>/dev/null || { echo "$dir: sys lacks PANIC"; bad=1; }
    grep -q 'DUMPFILE: dump' "$dir/sys.txt" 2>/dev/null || { echo "$dir: sys lacks DUMPFILE: dump"; bad=1; }
    [[ $(grep -c -E '^[> ] +[0-9]+ +[0-9]+ +[0-9]+ +[0-9a-f]+ ' "$dir/ps.txt" 2>/dev/null) -ge 2 ]] ||
        { echo "$dir: ps lists fewer than 2 tasks"; bad=1; }
    grep -q 'TOTAL MEM' "$dir/kmem-i.txt" 2>/dev/null || { echo "$dir: kmem -i lacks TOTAL MEM"; bad=1; }
    head -n 1 "$dir/log.txt" 2>/dev/null | grep -q 'Linux version' ||
        { echo "$dir: log does not start with 'Linux version'"; bad=1; }
    [[ $(wc -l <"$dir/log.txt" 2>/dev/null || echo 0) -ge 50 ]] || { echo "$dir: log has fewer than 50 lines"; bad=1; }
    ((bad == 0)) && echo "$dir: sys, ps, kmem -i, log succeeded ($(cat "$dir/seconds") s)"
    return "$bad"
}
# crash_check OURS REF RELEASE: both sessions succeeded and every output file is equal.
crash_check() {
    local ours=$1 ref=$2 release=$3 rc=0 f
    crash_succeeded "$ref" "$release" || rc=1
    crash_succeeded "$ours" "$release" || rc=1
    for f in stdout sys ps kmem-i log; do
        if ! cmp -s "$ref/crash/$f.txt" "$ours/crash/$f.txt"; then
            echo "'$f' output differs from makedumpfile's (< makedumpfile, > ours):"
            diff "$ref/crash/$f.txt" "$ours/crash/$f.txt" | head -n 20
            rc=1
        fi
    done
    ((rc == 0)) && echo "equal: sys ($(wc -l <"$ours/crash/sys.txt") lines), ps ($(wc -l <"$ours/crash/ps.txt")), kmem -i ($(wc -l <"$ours/crash/kmem-i.txt")), log ($(wc -l <"$ours/crash/log.txt"))"
    return "$rc"
}

# Prerequisites: each missing one is a failure (and so is every check that needs it).
have_ref=1 have_bin=1 have_crash=1 have_kdf=1 have_drgn=1
check_prerequisites() {  # BIN
    if [[ ! -x $REF ]]; then
        have_ref=0; fail_check "prerequisite: makedumpfile 1.7.2" "no $REF (run scripts/install-deps.sh)"
    fi
    if [[ ! -x $1 ]]; then
        have_bin=0; fail_check "prerequisite: our binary" "no $1 (cargo build --release -p makedumpfile-cli)"
    fi
    if ! command -v crash >/dev/null; then
        have_crash=0; fail_check "prerequisite: crash" "crash not found (run scripts/install-deps.sh)"
    fi
    if ! "$DEBIAN_PYTHON" -c 'import kdumpfile' 2>/dev/null; then
        have_kdf=0; fail_check "prerequisite: python3-libkdumpfile" \
            "$DEBIAN_PYTHON cannot import kdumpfile (run scripts/install-deps.sh)"
    fi
    if ! { [[ -x $DRGN_PYTHON ]] &&
           "$DRGN_PYTHON" -c 'import drgn, sys; sys.exit(0 if drgn._with_libkdumpfile else 1)' 2>/dev/null; }; then
        have_drgn=0; fail_check "prerequisite: drgn" \
            "no drgn with libkdumpfile in $DRGN_PYTHON (run scripts/install-deps.sh)"
    fi
}

# label TAG: the options of a dump tag (l31 -> "-l -d 31", F31 -> "-F -c -d 31").
label() {
    local o=${1%%[0-9]*} L=${1#?}
    if [[ $o == F ]]; then echo "-F -c -d $L"; else echo "-$o -d $L"; fi
}

[[ ${BASH_SOURCE[0]} == "$0" ]] || return 0
# ------------------------------------------------------------------------------ main ----------

profiles=()
BIN=$ROOT/target/release/makedumpfile
LEVELS="31 1"
KEEP=
while [[ $# -gt 0 ]]; do
    case $1 in
        --profile) profiles+=("${2:?--profile needs a value}"); shift 2 ;;
        --bin) BIN=${2:?--bin needs a path}; shift 2 ;;
        --levels) LEVELS=${2:?--levels needs a value}; shift 2 ;;
        --jobs) JOBS=${2:?--jobs needs a value}; shift 2 ;;
        --keep) KEEP=${2:?--keep needs a directory}; shift 2 ;;
        -h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[[ ${#profiles[@]} -gt 0 ]] || profiles=(cloud-1g generic-2g)
((JOBS >= 1)) || JOBS=1

if [[ -n $KEEP ]]; then
    mkdir -p "$KEEP" || die "cannot create $KEEP"
    WORK=$(cd "$KEEP" && pwd)
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdf-readers.XXXXXX")
    trap 'kill $(jobs -rp) 2>/dev/null; wait; rm -rf "$WORK"' EXIT
fi
T0=$SECONDS
check_prerequisites "$BIN"

for profile in "${profiles[@]}"; do
    if ! release=$(profile_release "$profile"); then
        fail_check "$profile: profile" "unknown profile '$profile' (cloud-1g|generic-2g)"; continue
    fi
    VMLINUX=$(debug_vmlinux "$release")
    pstart=$SECONDS
    log "profile $profile"
    V=$("$ROOT/scripts/make-vmcore.sh" --profile "$profile" | tail -n 1)
    if [[ ! -s $V ]]; then
        fail_check "$profile: vmcore" "scripts/make-vmcore.sh --profile $profile gave no vmcore"; continue
    fi
    if ((!have_ref || !have_bin)); then
        fail_check "$profile: dumps" "cannot make dumps without both binaries (see prerequisites)"; continue
    fi
    crash_ready=$have_crash
    if [[ ! -s $VMLINUX ]]; then
        crash_ready=0
        fail_check "$profile: debug vmlinux for crash" \
            "missing $VMLINUX (run scripts/install-deps.sh --with-dbg; package linux-image-$release-dbg)"
    fi
    D=$WORK/$profile
    rm -rf "$D"; mkdir -p "$D"

    # Dumps: ref.<o><L> by makedumpfile 1.7.2 and ours.<o><L> by ours, o = l|c; ours only:
    # p, z and F (-F -c) at -d 31. A crash session starts as soon as its dump exists.
    pairs=()   # "ours_tag ref_tag": which makedumpfile dump each of ours is compared with
    for L in $LEVELS; do
        tags=("l$L l$L" "c$L c$L")
        [[ $L == 31 ]] && tags+=("p$L l$L" "z$L l$L" "F$L c$L")
        for pair in "${tags[@]}"; do
            read -r o r <<<"$pair"
            if [[ $o == "$r" ]]; then
                check "$profile: makedumpfile 1.7.2 $(label "$r")" make_dump "$REF" "$D/ref.$r" -"${r%%[0-9]*}" -d "$L" "$V"
                ((crash_ready)) && [[ -s $D/ref.$r/dump ]] && start_crash "$D/ref.$r" "$VMLINUX"
            fi
            if [[ $o == F* ]]; then
                check "$profile: ours $(label "$o")" make_flat "$BIN" "$D/ours.$o" -c -d "$L" "$V"
            else
                check "$profile: ours $(label "$o")" make_dump "$BIN" "$D/ours.$o" -"${o%%[0-9]*}" -d "$L" "$V"
            fi
            ((crash_ready)) && [[ -s $D/ours.$o/dump ]] && start_crash "$D/ours.$o" "$VMLINUX"
            # Every dump these readers read passes our --verify (issue 17; a saved -F
            # stream is verified as the flattened file it is).
            check "$profile: --verify $(label "$o")" "$BIN" --verify "$D/ours.$o/dump"
            pairs+=("$o $r")
        done
    done

    # libkdumpfile: every dumpable page equals the source, dumpable set equals makedumpfile's.
    for pair in "${pairs[@]}"; do
        read -r o r <<<"$pair"
        [[ $o == F* ]] && continue  # Debian's libkdumpfile 0.5.1 cannot read flattened files
        name="$profile: libkdumpfile: every page of ours $(label "$o") = source, dumpable set = makedumpfile $(label "$r")"
        if ((have_kdf)); then
            tcheck "$profile|$(label "$o")" libkdumpfile "$name" \
                "$DEBIAN_PYTHON" "$ROOT/scripts/kdump-pages-check.py" "$V" "$D/ours.$o/dump" "$D/ref.$r/dump"
        else
            record "$profile|$(label "$o")" libkdumpfile FAIL
            fail_check "$name" "python3-libkdumpfile missing"
        fi
    done

    # drgn: our zlib, lzo, snappy, zstd and flattened outputs at -d 31.
    if [[ " $LEVELS " == *" 31 "* ]]; then
        for o in c31 l31 p31 z31 F31; do
            name="$profile: drgn opens ours $(label "$o"), reads physical memory and init_uts_ns"
            if ((have_drgn)); then
                tcheck "$profile|$(label "$o")" drgn "$name" "$DRGN_PYTHON" "$ROOT/scripts/drgn-check.py" "$D/ours.$o/dump"
            else
                record "$profile|$(label "$o")" drgn FAIL
                fail_check "$name" "drgn venv missing"
            fi
        done
    fi

    # crash results.
    wait
    for pair in "${pairs[@]}"; do
        read -r o r <<<"$pair"
        name="$profile: crash sys/ps/kmem -i/log on ours $(label "$o") = on makedumpfile $(label "$r")"
        if ((crash_ready)); then
            tcheck "$profile|$(label "$o")" crash "$name" crash_check "$D/ours.$o" "$D/ref.$r" "$release"
        else
            record "$profile|$(label "$o")" crash FAIL
            fail_check "$name" "crash or $VMLINUX missing (scripts/install-deps.sh --with-dbg)"
        fi
    done
    secs=$(cat "$D"/*/crash/seconds 2>/dev/null | tr '\n' ' ')
    log "profile $profile done in $((SECONDS - pstart)) s (crash session seconds: ${secs:-none})"
    [[ -n $KEEP ]] || rm -rf "$D"
done

echo
print_table "Readers x our outputs (ok = opened, checked, equal to makedumpfile's; - = not run)" \
    crash libkdumpfile drgn
echo "run time: $((SECONDS - T0)) s"
echo
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
