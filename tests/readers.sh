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
#              other levels get the crash and libkdumpfile checks for -l and -c.
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
#       must EQUAL the file from makedumpfile's dump with the same options.
#       Normalisation: none. The only field that legitimately differs is the DUMPFILE
#       name in `sys`; both dumps are opened under the same relative name ("dump") from
#       sibling directories, so the outputs are compared byte for byte.
#       crash 8.0.2 prints "WARNING: active task ... not found in PID hash" on these 6.1
#       kernels even for the raw ELF vmcore; it is startup output and must be equal too.
#       At -d 31 crash also reads our snappy (-p), zstd (-z) and flattened (-F -c) dumps,
#       which Debian's makedumpfile cannot write (no snappy/zstd) or crash reads directly
#       (flattened); their outputs must equal those of makedumpfile's -l / -c dump.
#   libkdumpfile 0.5.1 (Debian python3): scripts/kdump-pages-check.py SOURCE DUMP REF —
#       every dumpable page equals the source page and the dumpable set equals makedumpfile's.
#   drgn 0.3.0 (PyPI venv): scripts/drgn-check.py opens our -c, -l, -p, -z and -F -c
#       outputs at -d 31, reads physical pages (an excluded page must fault) and init_uts_ns.
# A missing tool, debug vmlinux, vmcore or binary is a FAILURE with a message, never a skip.
# Prints a reader x output table and ends with "N passed, M failed".
# Run time (2 cores, both profiles, cached vmcores): see tests/capture-kernel.sh header
# and the report; about 3-4 minutes, dominated by crash loading the 590-700 MB vmlinux.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"

profiles=()
BIN=$ROOT/target/release/makedumpfile
LEVELS="31 1"
JOBS=$(nproc 2>/dev/null || echo 2)
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

REF=/usr/sbin/makedumpfile
[[ -x $REF ]] || REF=/usr/bin/makedumpfile
CRASH_CMDS=(sys ps "kmem -i" log)
CRASH_TIMEOUT=600

passed=0
failed=0
failures=()
if [[ -n $KEEP ]]; then
    mkdir -p "$KEEP" && WORK=$(cd "$KEEP" && pwd) || die "cannot create $KEEP"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdf-readers.XXXXXX")
    trap 'kill $(jobs -rp) 2>/dev/null; wait; rm -rf "$WORK"' EXIT
fi
T0=$SECONDS

# check NAME COMMAND...: run COMMAND, count it, show the tail of its output on failure.
check() {
    local name=$1; shift
    local log=$WORK/log.$((passed + failed))
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1)); printf 'ok   %s\n' "$name"
    else
        failed=$((failed + 1)); failures+=("$name"); printf 'FAIL %s\n' "$name"
        tail -n 25 "$log" | sed 's/^/     | /'
    fi
}
# fail_check NAME MESSAGE: a check that cannot even start (missing tool or input).
fail_check() { check "$1" bash -c 'echo "$0"; exit 1' "$2"; }

# Reader x output table: TABLE[profile/output/reader] = ok|FAIL.
declare -A TABLE=()
outputs_seen=()
record() {  # PROFILE OUTPUT READER STATUS
    local key=$1/$2
    [[ " ${outputs_seen[*]} " == *" $key "* ]] || outputs_seen+=("$key")
    # A FAIL is never overwritten by a later ok for the same cell.
    [[ ${TABLE[$key/$3]:-} == FAIL ]] || TABLE[$key/$3]=$4
}
# tcheck PROFILE OUTPUT READER NAME COMMAND...: check + record.
tcheck() {
    local p=$1 o=$2 r=$3 before=$failed; shift 3
    check "$@"
    if ((failed > before)); then record "$p" "$o" "$r" FAIL; else record "$p" "$o" "$r" ok; fi
}

# label TAG: the option text of a dump tag (l31 -> "-l -d 31", F31 -> "-F -c -d 31").
label() {
    local o=${1%%[0-9]*} L=${1#?}
    if [[ $o == F ]]; then echo "-F -c -d $L"; else echo "-$o -d $L"; fi
}

# --- prerequisites: each missing one is a failure, and so is every check that needs it ---
have_ref=1 have_bin=1 have_crash=1 have_kdf=1 have_drgn=1
if [[ ! -x $REF ]]; then
    have_ref=0; fail_check "prerequisite: makedumpfile 1.7.2" "no $REF (run scripts/install-deps.sh)"
fi
if [[ ! -x $BIN ]]; then
    have_bin=0; fail_check "prerequisite: our binary" "no $BIN (cargo build --release -p makedumpfile-cli)"
fi
if ! command -v crash >/dev/null; then
    have_crash=0; fail_check "prerequisite: crash" "crash not found (run scripts/install-deps.sh)"
fi
if ! "$DEBIAN_PYTHON" -c 'import kdumpfile' 2>/dev/null; then
    have_kdf=0; fail_check "prerequisite: python3-libkdumpfile" "$DEBIAN_PYTHON cannot import kdumpfile (run scripts/install-deps.sh)"
fi
if ! { [[ -x $DRGN_PYTHON ]] && "$DRGN_PYTHON" -c 'import drgn, sys; sys.exit(0 if drgn._with_libkdumpfile else 1)' 2>/dev/null; }; then
    have_drgn=0; fail_check "prerequisite: drgn" "no drgn with libkdumpfile in $DRGN_PYTHON (run scripts/install-deps.sh)"
fi

# --- dumps -------------------------------------------------------------------------------------
# Each dump is DIR/dump, so every crash session opens a file called "dump" (see header).
# make_dump TOOL DIR OPTS... VMCORE
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
    "$tool" -F "$@" 2>"$dir/makedumpfile.log" >"$dir/dump" ||
        { echo "$tool -F $* failed:"; tail -n 5 "$dir/makedumpfile.log"; return 1; }
}

# --- crash -------------------------------------------------------------------------------------
# run_crash DIR VMLINUX: one session on DIR/dump, each command redirected to its own file.
run_crash() {
    local dir=$1 vmlinux=$2 c
    mkdir -p "$dir/crash"
    for c in "${CRASH_CMDS[@]}"; do printf '%s > %s.txt\n' "$c" "${c// /}"; done >"$dir/crash/cmds"
    echo exit >>"$dir/crash/cmds"
    (
        cd "$dir" || exit 1
        start=$SECONDS
        timeout "$CRASH_TIMEOUT" crash -s "$vmlinux" dump <crash/cmds >crash/stdout.txt 2>crash/stderr.txt
        echo $? >crash/rc
        echo $((SECONDS - start)) >crash/seconds
    )
    # crash writes the redirected files relative to its cwd.
    for c in "${CRASH_CMDS[@]}"; do
        [[ -f $dir/${c// /}.txt ]] && mv "$dir/${c// /}.txt" "$dir/crash/"
    done
    return 0
}
# start_crash DIR VMLINUX: run_crash in the background, at most $JOBS at a time.
start_crash() {
    while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
    run_crash "$@" &
}

# crash_succeeded DIR RELEASE: every command of DIR's session succeeded.
crash_succeeded() {
    local dir=$1/crash release=$2 bad=0 f
    [[ -f $dir/rc ]] || { echo "$dir: crash did not run"; return 1; }
    [[ $(cat "$dir/rc") == 0 ]] || { echo "$dir: crash exited with $(cat "$dir/rc")"; bad=1; }
    if [[ -s $dir/stderr.txt ]]; then echo "$dir: stderr:"; head -n 5 "$dir/stderr.txt"; bad=1; fi
    # stdout holds startup messages plus any command's error messages (crash prints them
    # there as well as into the redirect): only blank and WARNING lines are allowed.
    if grep -v -E '^(WARNING: .*)?$' "$dir/stdout.txt" | grep -q .; then
        echo "$dir: unexpected stdout:"; grep -v -E '^(WARNING: .*)?$' "$dir/stdout.txt" | head -n 5; bad=1
    fi
    for f in sys ps kmem-i log; do
        [[ -s $dir/$f.txt ]] || { echo "$dir: '$f' produced no output"; bad=1; continue; }
        # crash's error() lines start with the command name (or "crash:").
        if grep -n -E '^(sys|ps|kmem|log|crash): |seek error:|read error:|page excluded:|uncompress failed' "$dir/$f.txt" | head -n 3 | grep .; then
            echo "$dir: '$f' reported an error"; bad=1
        fi
    done
    grep -q "RELEASE: $release\$" "$dir/sys.txt" 2>/dev/null || { echo "$dir: sys lacks RELEASE: $release"; bad=1; }
    grep -q 'PANIC: "' "$dir/sys.txt" 2>/dev/null || { echo "$dir: sys lacks PANIC"; bad=1; }
    grep -q 'DUMPFILE: dump' "$dir/sys.txt" 2>/dev/null || { echo "$dir: sys lacks DUMPFILE: dump"; bad=1; }
    [[ $(grep -c -E '^[> ] +[0-9]+ +[0-9]+ +[0-9]+ +[0-9a-f]+ ' "$dir/ps.txt" 2>/dev/null) -ge 2 ]] ||
        { echo "$dir: ps lists fewer than 2 tasks"; bad=1; }
    grep -q 'TOTAL MEM' "$dir/kmem-i.txt" 2>/dev/null || { echo "$dir: kmem -i lacks TOTAL MEM"; bad=1; }
    head -n 1 "$dir/log.txt" 2>/dev/null | grep -q 'Linux version' || { echo "$dir: log does not start with 'Linux version'"; bad=1; }
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
    ((rc == 0)) && echo "sys ($(wc -l <"$ours/crash/sys.txt") lines), ps ($(wc -l <"$ours/crash/ps.txt")), kmem -i ($(wc -l <"$ours/crash/kmem-i.txt")), log ($(wc -l <"$ours/crash/log.txt")) equal"
    return "$rc"
}

# --- per profile -------------------------------------------------------------------------------
for profile in "${profiles[@]}"; do
    case $profile in
        cloud-1g) flavour=cloud-amd64 ;;
        generic-2g) flavour=amd64 ;;
        *) fail_check "$profile: profile" "unknown profile '$profile' (cloud-1g|generic-2g)"; continue ;;
    esac
    release=$KERNEL_ABI-$flavour
    VMLINUX=$CACHE/kernels/dbg/vmlinux-$release
    pstart=$SECONDS
    log "profile $profile"
    V=$("$ROOT/scripts/make-vmcore.sh" --profile "$profile" | tail -n 1)
    if [[ ! -s $V ]]; then
        fail_check "$profile: vmcore" "scripts/make-vmcore.sh --profile $profile gave no vmcore"
        continue
    fi
    if ((!have_ref || !have_bin)); then
        fail_check "$profile: dumps" "cannot make dumps without both binaries (see prerequisites)"
        continue
    fi
    crash_ready=$have_crash
    if [[ ! -s $VMLINUX ]]; then
        crash_ready=0
        fail_check "$profile: debug vmlinux for crash" \
            "missing $VMLINUX (run scripts/install-deps.sh --with-dbg; package linux-image-$release-dbg)"
    fi
    D=$WORK/$profile
    rm -rf "$D"; mkdir -p "$D"

    # Dumps: ref.<o><L> = makedumpfile 1.7.2, ours.<o><L> = ours; o = l|c (both tools),
    # p|z|F (ours only, -d 31). crash comparisons pair each of ours with a ref dump.
    pairs=()   # "ours_tag ref_tag"
    for L in $LEVELS; do
        for o in l c; do
            check "$profile: makedumpfile 1.7.2 -$o -d $L" make_dump "$REF" "$D/ref.$o$L" -"$o" -d "$L" "$V"
            check "$profile: ours -$o -d $L" make_dump "$BIN" "$D/ours.$o$L" -"$o" -d "$L" "$V"
            pairs+=("$o$L $o$L")
        done
        if [[ $L == 31 ]]; then
            for o in p z; do
                check "$profile: ours -$o -d $L" make_dump "$BIN" "$D/ours.$o$L" -"$o" -d "$L" "$V"
                pairs+=("$o$L l$L")
            done
            check "$profile: ours -F -c -d $L" make_flat "$BIN" "$D/ours.F$L" -c -d "$L" "$V"
            pairs+=("F$L c$L")
        fi
    done

    # crash sessions in the background (the slow part); the fast readers run meanwhile.
    if ((crash_ready)); then
        started=()
        for pair in "${pairs[@]}"; do
            read -r o r <<<"$pair"
            for d in "ours.$o" "ref.$r"; do
                [[ " ${started[*]} " == *" $d "* || ! -s $D/$d/dump ]] && continue
                started+=("$d")
                start_crash "$D/$d" "$VMLINUX"
            done
        done
    fi

    # libkdumpfile: every dumpable page equals the source, dumpable set equals makedumpfile's.
    for pair in "${pairs[@]}"; do
        read -r o r <<<"$pair"
        [[ $o == F* ]] && continue  # Debian's libkdumpfile 0.5.1 cannot read flattened files
        name="$profile: libkdumpfile: every page of ours $(label "$o") = source, dumpable set = makedumpfile $(label "$r")"
        if ((have_kdf)); then
            tcheck "$profile" "$(label "$o")" libkdumpfile "$name" \
                "$DEBIAN_PYTHON" "$ROOT/scripts/kdump-pages-check.py" "$V" "$D/ours.$o/dump" "$D/ref.$r/dump"
        else
            record "$profile" "$(label "$o")" libkdumpfile FAIL
            fail_check "$name" "python3-libkdumpfile missing"
        fi
    done

    # drgn: our zlib, lzo, snappy, zstd and flattened outputs at -d 31.
    if [[ " $LEVELS " == *" 31 "* ]]; then
        for o in c31 l31 p31 z31 F31; do
            name="$profile: drgn opens ours $(label "$o"), reads physical memory and init_uts_ns"
            if ((have_drgn)); then
                tcheck "$profile" "$(label "$o")" drgn "$name" \
                    "$DRGN_PYTHON" "$ROOT/scripts/drgn-check.py" "$D/ours.$o/dump"
            else
                record "$profile" "$(label "$o")" drgn FAIL
                fail_check "$name" "drgn venv missing"
            fi
        done
    fi

    # crash results.
    wait
    for pair in "${pairs[@]}"; do
        read -r o r <<<"$pair"
        name="$profile: crash sys/ps/kmem -i/log on ours $(label "$o") equal those on makedumpfile $(label "$r")"
        if ((crash_ready)); then
            tcheck "$profile" "$(label "$o")" crash "$name" crash_check "$D/ours.$o" "$D/ref.$r" "$release"
        else
            record "$profile" "$(label "$o")" crash FAIL
            fail_check "$name" "crash or $VMLINUX missing (scripts/install-deps.sh --with-dbg)"
        fi
    done
    secs=$(cat "$D"/*/crash/seconds 2>/dev/null | tr '\n' ' ')
    log "profile $profile done in $((SECONDS - pstart)) s (crash sessions: ${secs:-none} s)"
    [[ -n $KEEP ]] || rm -rf "$D"
done

# --- summary -----------------------------------------------------------------------------------
echo
echo "Readers x outputs (ok = opened and checked; FAIL; - = not run for this output)"
printf '%-12s %-13s %-7s %-13s %-5s\n' profile output crash libkdumpfile drgn
for key in "${outputs_seen[@]}"; do
    printf '%-12s %-13s %-7s %-13s %-5s\n' "${key%%/*}" "${key#*/}" \
        "${TABLE[$key/crash]:--}" "${TABLE[$key/libkdumpfile]:--}" "${TABLE[$key/drgn]:--}"
done
echo "run time: $((SECONDS - T0)) s"
echo
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
