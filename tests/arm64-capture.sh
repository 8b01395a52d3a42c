#!/usr/bin/env bash
# Our aarch64 makedumpfile as the core_collector INSIDE the arm64 capture kernel, against the
# reference makedumpfile run in the SAME capture kernel on the same /proc/vmcore (issue 15
# item 5). One boot per profile (scripts/make-vmcore-arm64.sh collector mode, nr_cpus=2):
#
#   tests/arm64-capture.sh [--profile P]... [--binary PATH]
#
#   bookworm-cloud-arm64 (6.1, 4K, VA 48) against Debian bookworm's makedumpfile 1.7.2;
#   trixie-arm64-va48    (6.12, 4K, VA 48) against upstream master (1.7.x refuse it).
#   Default: bookworm-cloud-arm64 only. --binary: our aarch64 makedumpfile (default: built
#   from this checkout with scripts/build-aarch64.sh, which needs root).
#   --results DIR (one --profile): no boot; check the outputs of an earlier run again
#   (a copy of $CACHE/collector-out/<P>/), e.g. after editing one to see a check fail.
#
# In the capture kernel, one after another:
#   reference and ours with Fedora's line      -l --message-level 7 -d 31 /proc/vmcore OUT
#   reference and ours with kdump-tools' line  -c -d 31 /proc/vmcore OUT (its MAKEDUMP_ARGS)
#   ours with                                  -l -d 31 --num-threads 2 /proc/vmcore OUT
# Before that, in the FIRST kernel (live, crashkernel reserved, workload in place, just
# before the panic): --mem-usage /proc/kcore by the reference and ours in turn (3 each) and
# the error cases, tests/mem-usage.sh's guest commands, whose files tests/mem-usage.sh
# --outputs checks on the host (same layout, same page size and totals, each page class
# within the reference's spread). In the capture kernel both refuse alike ("No memory is
# reserved for crashkernel!"), so the live test needs the first kernel.
# Each output is summed there with busybox sha256sum. Our serial dumps (one per line) always
# come back; the reference's and the threaded one are deleted after their sum when the
# output disk runs short (then the host compares sums, not bytes). --out-disk-mb MB makes
# the disk that small (default: make-vmcore-arm64.sh's guest memory + 512 MB, room for all).
# Asserts: every run exits 0; the capture kernel has 2 CPUs online; ours' bytes equal the
# reference's for each line; ours threaded equals ours serial (-l -d 31); every dump starts
# with the kdump signature; on the host, libkdumpfile opens our -l and -c dumps and reads
# from MEMORY (init_uts_ns, through the dump's page tables) the kernel release that the
# dump's VMCOREINFO and the booted kernel package both name.
# Run time (2 shared cores with other work, QEMU TCG, build warm): 62-68 s for
# bookworm-cloud-arm64, 86-89 s more for trixie-arm64-va48 (157-159 s for both, 2026-12-06).
# Every line has matched so far: ours == Debian 1.7.2 on 6.1 and == master on 6.12 VA 48,
# -l and -c in 6 bookworm and 3 trixie boots, threaded == serial in 4 and 3 of them (the
# other two ran out of space on purpose: --out-disk-mb 80 and 100, before the room rule).
# 1.7.2 warns "The kernel version is not supported" on 6.1 and exits 0 with the same bytes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"

# Which reference reads which core (tests/arm64-reference.sh has the findings).
declare -A REFERENCE=(
    [bookworm-cloud-arm64]=debian-1.7.2
    [trixie-arm64-va48]=master
)
PROFILES=()
OURS=
RESULTS=
OUT_DISK=()
while (($#)); do
    case $1 in
        --profile) PROFILES+=("${2:?--profile needs a value}"); shift 2 ;;
        --binary) OURS=${2:?--binary needs a path}; shift 2 ;;
        --results) RESULTS=${2:?--results needs a directory}; shift 2 ;;
        --out-disk-mb) OUT_DISK=(--out-disk-mb "${2:?--out-disk-mb needs a number}"); shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
((${#PROFILES[@]})) || PROFILES=(bookworm-cloud-arm64)
for p in "${PROFILES[@]}"; do
    [[ -n ${REFERENCE[$p]:-} ]] || die "no reference makedumpfile reads $p (have: ${!REFERENCE[*]})"
done
[[ -z $RESULTS ]] || ((${#PROFILES[@]} == 1)) || die "--results needs exactly one --profile"
need_cmd cmp "diffutils"
need_cmd sha256sum "coreutils"
"$DEBIAN_PYTHON" -c 'import kdumpfile' || die "python3-libkdumpfile missing (scripts/install-deps.sh)"

if [[ -z $RESULTS ]]; then
    need_cmd qemu-system-aarch64 "run scripts/install-deps.sh --arm64"
    need_cmd readelf "binutils"
    if [[ -z $OURS ]]; then
        OURS=$("$ROOT/scripts/build-aarch64.sh" --checkout "$ROOT" | tail -n1)
    fi
    [[ -f $OURS && -x $OURS ]] || die "our aarch64 makedumpfile '$OURS' is missing or not executable"
    readelf -hW "$OURS" | grep -q AArch64 || die "$OURS is not an aarch64 binary"
    REFS_DIR=$("$ROOT/scripts/build-makedumpfile-arm64.sh" | tail -n1)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/arm64-capture.XXXXXX")
MEM_USAGE_RUNS=3
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() { warn "FAIL: $*"; failures=$((failures + 1)); }

# The capture kernel's script: /bin/collector is ours, /bin/ref the reference. runs.txt gets
# one line per run: NAME rc=N size=BYTES sha256=HEX kept=yes|no seconds=S.
# run NAME always|if-room BIN ARGS...
cat >"$WORK/capture.sh" <<'EOF'
fail=0
left=5  # runs still to come, for the room check
run() {
    name=$1 keep=$2; shift 2
    left=$((left - 1))
    /usr/bin/time -f %e -o "$name.time" "$@" /proc/vmcore "/out/$name" >"$name.log" 2>&1
    rc=$?
    size=$(stat -c %s "$name" 2>/dev/null || echo missing)
    sum=$(sha256sum "$name" 2>/dev/null | cut -d' ' -f1)
    kept=yes
    # An if-room dump stays while every run still to come, taken as big as this one, fits.
    free_kb=$(df -k /out | awk 'NR == 2 { print $4 }')
    if [ "$keep" = if-room ] && [ "$size" != missing ] &&
        [ $((free_kb * 1024)) -lt $(((left + 1) * size)) ]; then
        rm -f "$name"; kept=no
    fi
    echo "$name rc=$rc size=$size sha256=${sum:-none} kept=$kept seconds=$(tail -n1 "$name.time")" >>runs.txt
    [ "$rc" = 0 ] || fail=1
}
grep -c '^processor' /proc/cpuinfo >cpus.txt
run ref-fedora if-room ref -l --message-level 7 -d 31
run ours-fedora always collector -l --message-level 7 -d 31
run ref-kdumptools if-room ref -c -d 31
run ours-kdumptools always collector -c -d 31
run ours-threads if-room collector -l -d 31 --num-threads 2
cat runs.txt
exit $fail
EOF
# Before the panic, the FIRST kernel (live, crashkernel reserved, workload in place) runs
# --mem-usage /proc/kcore, the reference's and ours in turn, and the error cases:
# tests/mem-usage.sh's guest commands, under the names it expects (/c/bin and /rs/bin, so
# that messages naming the program read alike); it checks the files on the host (--outputs).
"$ROOT/tests/mem-usage.sh" --guest-script "$WORK/mem-usage.sh" --runs "$MEM_USAGE_RUNS"
{
    echo 'mkdir -p /c/bin /rs/bin && ln -s /bin/ref /c/bin/makedumpfile && ln -s /bin/collector /rs/bin/makedumpfile || exit 1'
    cat "$WORK/mem-usage.sh"
} >"$WORK/first.sh"

# field RUN KEY: KEY's value in RUN's line of runs.txt.
field() { sed -n "s/^$1 .*\\b$2=\\([^ ]*\\).*/\\1/p" "$RES/runs.txt"; }

# same_bytes A B WHAT: A's dump equals B's (cmp when both came back, else the guest's sums).
same_bytes() {
    local a=$1 b=$2 what=$3 sa sb
    sa=$(field "$a" sha256) sb=$(field "$b" sha256)
    [[ $sa =~ ^[0-9a-f]{64}$ && $sb =~ ^[0-9a-f]{64}$ ]] || { fail "$PROFILE $what: no sha256 for $a or $b"; return; }
    if [[ -f $RES/$a && -f $RES/$b ]] && ! cmp "$RES/$a" "$RES/$b" >&2; then
        fail "$PROFILE $what: $a and $b differ (cmp above)"
        return
    fi
    [[ $sa == "$sb" ]] || { fail "$PROFILE $what: $a sha256 $sa != $b sha256 $sb"; return; }
    log "$PROFILE $what: $a == $b ($(field "$a" size) bytes, sha256 ${sa:0:16}..., compared by $(
        [[ -f $RES/$a && -f $RES/$b ]] && echo "cmp and sum" || echo "sum in the guest"))"
}

SUMMARY=()
for PROFILE in "${PROFILES[@]}"; do
    ref=${REFERENCE[$PROFILE]}
    t0=$SECONDS
    if [[ -n $RESULTS ]]; then
        RES=$RESULTS
    else
        need_file "$REFS_DIR/$ref/makedumpfile"
        # On a failed run the script still prints the output dir: the checks below say which.
        RES=$("$ROOT/scripts/make-vmcore-arm64.sh" --profile "$PROFILE" --capture-cpus 2 \
            --collector "$OURS" --collector-extra "ref=$REFS_DIR/$ref/makedumpfile:$REFS_DIR/$ref/sysroot" \
            --collector-script "$WORK/capture.sh" --first-kernel-script "$WORK/first.sh" \
            "${OUT_DISK[@]}" | tail -n1) ||
            fail "$PROFILE: make-vmcore-arm64.sh failed (see $CACHE/collector-out/$PROFILE/)"
    fi
    [[ -s $RES/runs.txt ]] || { fail "$PROFILE: no runs.txt in $RES"; continue; }
    boot_seconds=$((SECONDS - t0))
    cat "$RES/runs.txt" >&2

    cpus=$(tr -d '\r\n ' <"$RES/cpus.txt")
    [[ $cpus == 2 ]] || fail "$PROFILE: the capture kernel had '$cpus' CPUs, --num-threads 2 needs 2"
    for run in ref-fedora ours-fedora ref-kdumptools ours-kdumptools ours-threads; do
        [[ $(field "$run" rc) == 0 ]] || fail "$PROFILE $run exited $(field "$run" rc) (log: $(tail -n2 "$RES/$run.log" | tr '\n' ' '))"
        [[ -f $RES/$run ]] || continue
        # What the host compares is what the guest wrote (debugfs extraction, ext4).
        [[ $(sha256sum <"$RES/$run" | cut -d' ' -f1) == "$(field "$run" sha256)" ]] ||
            fail "$PROFILE $run: its sha256 on the host is not the guest's"
        [[ $(head -c 8 "$RES/$run") == "KDUMP   " ]] || fail "$PROFILE $run: no kdump signature"
    done
    same_bytes ours-fedora ref-fedora "Fedora line vs $ref"
    same_bytes ours-kdumptools ref-kdumptools "kdump-tools line vs $ref"
    same_bytes ours-threads ours-fedora "--num-threads 2 vs serial"
    if "$ROOT/tests/mem-usage.sh" --outputs "$RES" --runs "$MEM_USAGE_RUNS" --profile "$PROFILE" >&2; then
        log "$PROFILE: --mem-usage /proc/kcore of the live first kernel: ours matches $ref (tests/mem-usage.sh checks)"
    else
        fail "$PROFILE: --mem-usage /proc/kcore of the live first kernel differs from $ref (tests/mem-usage.sh above)"
    fi

    kver=$(sed -n 's/^profile: *[^ ]* (\([^,]*\),.*/\1/p' "$RES/result.txt")
    [[ -n $kver ]] || fail "$PROFILE: no kernel version in $RES/result.txt"
    for run in ours-fedora ours-kdumptools; do
        [[ -f $RES/$run ]] || { fail "$PROFILE $run: the dump did not come back to the host"; continue; }
        if read -r info_rel mem_rel _ < <("$DEBIAN_PYTHON" "$ROOT/scripts/kdump-release.py" "$RES/$run"); then
            if [[ $info_rel == "$kver" && $mem_rel == "$kver" ]]; then
                log "$PROFILE $run: libkdumpfile reads '$mem_rel' from the dump's memory"
            else
                fail "$PROFILE $run: libkdumpfile reads release '$mem_rel' from memory, VMCOREINFO '$info_rel', booted $kver"
            fi
        else
            fail "$PROFILE $run: libkdumpfile cannot read it"
        fi
    done
    SUMMARY+=("$PROFILE vs $ref: boot+capture ${boot_seconds} s; in-guest seconds: $(
        for run in ref-fedora ours-fedora ref-kdumptools ours-kdumptools ours-threads; do
            printf '%s=%s ' "$run" "$(field "$run" seconds)"; done)")
done
printf '%s\n' "${SUMMARY[@]}" >&2
((failures == 0)) || die "$failures check(s) failed"
log "arm64 capture: all checks passed in $SECONDS s"
