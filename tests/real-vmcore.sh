#!/usr/bin/env bash
# Acceptance checks on REAL vmcores (scripts/make-vmcore.sh) against Debian's makedumpfile
# 1.7.2 and the readers. Every check asserts something that can fail; a missing tool or
# vmcore is a failure, never a skip. Ends with "N passed, M failed".
#
# Usage: tests/real-vmcore.sh [--profile cloud-1g|generic-2g]... [--bin PATH]
#   MAKEDUMPFILE_RS_CACHE overrides the cache directory (default ~/.cache/makedumpfile-rs).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/checks.sh"
. "$ROOT/scripts/lib.sh"

profiles=()
BIN=$ROOT/target/release/makedumpfile
while [[ $# -gt 0 ]]; do
    case $1 in
        --profile) profiles+=("$2"); shift 2 ;;
        --bin) BIN=$2; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
[[ ${#profiles[@]} -gt 0 ]] || profiles=(cloud-1g)

REF=/usr/sbin/makedumpfile
[[ -x $REF ]] || REF=/usr/bin/makedumpfile
need_file "$REF" "apt-get install makedumpfile"
need_file "$BIN" "cargo build --release"
need_cmd cmp
need_file "$DEBIAN_PYTHON"
$DEBIAN_PYTHON -c 'import kdumpfile' 2>/dev/null || die "python3-libkdumpfile is missing (scripts/install-deps.sh)"
[[ -x $DRGN_PYTHON ]] && $DRGN_PYTHON -c 'import drgn' 2>/dev/null || die "drgn venv is missing (scripts/install-deps.sh)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdf-real.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# same_bytes A B: byte-identical files, with the first difference on failure.
same_bytes() { cmp "$1" "$2" && echo "identical: $(stat -c %s "$1") bytes"; }

# dump TOOL OUT ARGS...: run a dump quietly; rm OUT first. Every dump of ours is written
# with --verify (issue 17): read back and checked by the same run, which exits 1 on a
# fault, so every check that writes a dump also asserts that --verify passes it.
ref_dump() { local out=$1; shift; rm -f "$out"; "$REF" "$@" "$out" >/dev/null 2>&1; }
our_dump() { local out=$1; shift; rm -f "$out"; "$BIN" --verify "$@" "$out" >/dev/null; }

ref_flat_to_our_file() { local out=$1; shift; rm -f "$out"; "$REF" -F "$@" 2>/dev/null | "$BIN" -R --verify "$out" >/dev/null; }
our_flat_to_ref_file() { local out=$1; shift; rm -f "$out"; "$BIN" -F "$@" 2>/dev/null | "$REF" -R "$out" >/dev/null; }

for profile in "${profiles[@]}"; do
    V=$("$ROOT/scripts/make-vmcore.sh" --profile "$profile" | tail -n 1)
    [[ -f $V ]] || die "no vmcore for profile $profile"
    log "profile $profile: $V"
    D=$WORK/$profile; mkdir -p "$D"

    # Byte identity with makedumpfile 1.7.2 (issue 2 acceptance).
    for opts in "-l -d 0" "-l -d 1" "-c -d 1"; do
        tag=$(echo "$opts" | tr -d ' -')
        ref_dump "$D/ref.$tag" $opts "$V"
        check "$profile: $opts byte-identical to makedumpfile" bash -c \
            "$(declare -f our_dump same_bytes); BIN=$BIN; our_dump '$D/ours.$tag' $opts '$V' && same_bytes '$D/ref.$tag' '$D/ours.$tag'"
    done

    # Page filtering (issue 4): every level byte-identical, and the report's page counts equal.
    report_counts() { grep -E '^ *(Original|Excluded|Pages filled|Non-private|Private|User|Free|Hwpoison|Offline|Remaining|Memory Hole|Total pages)' "$1"; }
    for level in 2 4 8 16 27 31; do
        rm -f "$D/ref.l$level" "$D/ours.l$level"
        "$REF" -l -d $level --message-level 16 "$V" "$D/ref.l$level" >"$D/ref.l$level.report" 2>/dev/null
        check "$profile: -l -d $level byte-identical, report page counts equal" bash -c \
            "$(declare -f same_bytes report_counts); '$BIN' --verify -l -d $level --message-level 16 '$V' '$D/ours.l$level' >'$D/ours.l$level.report' 2>/dev/null \
             && same_bytes '$D/ref.l$level' '$D/ours.l$level' \
             && diff <(report_counts '$D/ref.l$level.report') <(report_counts '$D/ours.l$level.report') && report_counts '$D/ours.l$level.report' | grep -c pages"
        rm -f "$D/ref.l$level" "$D/ours.l$level"
    done
    # Cyclic mode (4 KiB buffer = 32768 pfns per cycle) gives the same bytes.
    ref_dump "$D/ref.l31" -l -d 31 "$V"
    check "$profile: -l -d 31 --cyclic-buffer 4 (several cycles) byte-identical" bash -c \
        "$(declare -f our_dump same_bytes); BIN=$BIN; our_dump '$D/ours.cyc' -l -d 31 --cyclic-buffer 4 '$V' && same_bytes '$D/ref.l31' '$D/ours.cyc'"
    ref_dump "$D/ref.cd31" -c -d 31 "$V"
    check "$profile: -c -d 31 byte-identical to makedumpfile" bash -c \
        "$(declare -f our_dump same_bytes); BIN=$BIN; our_dump '$D/ours.cd31' -c -d 31 '$V' && same_bytes '$D/ref.cd31' '$D/ours.cd31'"

    # Thread counts give the same bytes (issue 3).
    for threads in 1 2 4 8; do
        check "$profile: -c -d 1 --num-threads $threads byte-identical" bash -c \
            "$(declare -f our_dump same_bytes); BIN=$BIN; our_dump '$D/ours.t$threads' -c -d 1 --num-threads $threads '$V' && same_bytes '$D/ref.cd1' '$D/ours.t$threads'"
        check "$profile: -c -d 31 --num-threads $threads byte-identical" bash -c \
            "$(declare -f our_dump same_bytes); BIN=$BIN; our_dump '$D/ours.t31.$threads' -c -d 31 --num-threads $threads '$V' && same_bytes '$D/ref.cd31' '$D/ours.t31.$threads'"
        rm -f "$D/ours.t$threads" "$D/ours.t31.$threads"
    done

    # Codecs Debian's makedumpfile lacks: every page through libkdumpfile, same dumpable set.
    for opts in "-p -d 1" "-z -d 1"; do
        tag=$(echo "$opts" | tr -d ' -')
        check "$profile: $opts pages equal the source through libkdumpfile" bash -c \
            "$(declare -f our_dump); BIN=$BIN; our_dump '$D/ours.$tag' $opts '$V' && $DEBIAN_PYTHON '$ROOT/scripts/kdump-pages-check.py' '$V' '$D/ours.$tag' '$D/ref.ld1'"
    done

    # Flattened streams, both directions.
    check "$profile: our -F | makedumpfile -R equals the direct file" bash -c \
        "$(declare -f our_flat_to_ref_file same_bytes); BIN=$BIN; REF=$REF; our_flat_to_ref_file '$D/flat1' -c -d 1 '$V' && same_bytes '$D/ref.cd1' '$D/flat1'"
    check "$profile: makedumpfile -F | our -R equals the direct file" bash -c \
        "$(declare -f ref_flat_to_our_file same_bytes); BIN=$BIN; REF=$REF; ref_flat_to_our_file '$D/flat2' -c -d 1 '$V' && same_bytes '$D/ref.cd1' '$D/flat2'"

    # drgn (PyPI wheel, libkdumpfile with every codec and flattened support) opens each output.
    "$BIN" -F -z -d 1 "$V" >"$D/ours.flat" 2>/dev/null
    # A stream cannot be verified as it is sent; saved to a file, it can.
    check "$profile: --verify passes our -F -z -d 1 stream saved to a file" "$BIN" --verify "$D/ours.flat"
    # ... and makedumpfile 1.7.2's own dumps, so the checks are the format's, not our writer's.
    check "$profile: --verify passes makedumpfile's -c -d 31 and -l -d 31 dumps" bash -c \
        "'$BIN' --verify '$D/ref.cd31' && '$BIN' --verify '$D/ref.l31'"
    check "$profile: drgn opens zlib, lzo, snappy, zstd and flattened outputs" \
        "$DRGN_PYTHON" "$ROOT/scripts/drgn-check.py" "$D/ours.cd1" "$D/ours.ld1" "$D/ours.pd1" "$D/ours.zd1" "$D/ours.flat"

    # --dump-dmesg (issue 6): byte-identical to makedumpfile's log, plain and partial.
    for mode in "" "--partial-dmesg"; do
        rm -f "$D/ref.dmesg" "$D/ours.dmesg"
        "$REF" --dump-dmesg $mode "$V" "$D/ref.dmesg" >/dev/null 2>&1
        check "$profile: --dump-dmesg $mode byte-identical to makedumpfile" bash -c \
            "$(declare -f same_bytes); '$BIN' --dump-dmesg $mode '$V' '$D/ours.dmesg' >/dev/null && same_bytes '$D/ref.dmesg' '$D/ours.dmesg'"
    done
    # ... and from a dump at rest (kdump-tools saves dmesg.DATE; a user asks it of
    # dump.DATE later): our -l -d 31 file (the cyclic one above) and our -F -c -d 31
    # stream give the vmcore's log, and makedumpfile reads the same log from our file.
    rm -f "$D/ref.dmesg"
    "$REF" --dump-dmesg "$V" "$D/ref.dmesg" >/dev/null 2>&1
    "$BIN" -F -c -d 31 "$V" >"$D/ours.flat31" 2>/dev/null
    check "$profile: --verify passes our -F -c -d 31 stream saved to a file" "$BIN" --verify "$D/ours.flat31"
    for dump in ours.cyc ours.flat31; do
        rm -f "$D/$dump.dmesg" "$D/$dump.ref-dmesg"
        check "$profile: --dump-dmesg of $dump equals the vmcore's log" bash -c \
            "$(declare -f same_bytes); '$BIN' --dump-dmesg '$D/$dump' '$D/$dump.dmesg' >/dev/null && same_bytes '$D/ref.dmesg' '$D/$dump.dmesg'"
    done
    check "$profile: makedumpfile --dump-dmesg of our -l -d 31 file agrees" bash -c \
        "$(declare -f same_bytes); '$REF' --dump-dmesg '$D/ours.cyc' '$D/ours.cyc.ref-dmesg' >/dev/null 2>&1 && same_bytes '$D/ref.dmesg' '$D/ours.cyc.ref-dmesg'"

    # ENOSPC (issue 6): exit 1, status 0x8, written pages readable. The tmpfs holds half of
    # this core's -l -d 1 dump (measured above, never a fixed size: issue 19), at most 20 MiB.
    SMALL=$WORK/small-$profile
    mkdir -p "$SMALL"
    small_mib=$(( $(stat -c %s "$D/ours.ld1" 2>/dev/null || echo 0) / 2 >> 20 ))
    ((small_mib > 20)) && small_mib=20
    if ((small_mib < 1)); then
        failed=$((failed + 1)); failures+=("$profile: the -l -d 1 dump is under 2 MiB, too small for the ENOSPC check")
    elif mount -t tmpfs -o size=${small_mib}m tmpfs "$SMALL"; then
        check "$profile: ENOSPC on a $small_mib MiB tmpfs gives exit 1 and an incomplete, readable dump" bash -c \
            "'$BIN' -l -d 1 '$V' '$SMALL/dump' >'$SMALL/out' 2>&1; rc=\$?; cat '$SMALL/out'; [ \$rc -eq 1 ] \
             && grep -q 'No space left on device' '$SMALL/out' && grep -q 'This is an incomplete dumpfile' '$SMALL/out' \
             && cp '$SMALL/dump' '$D/incomplete' && $DEBIAN_PYTHON '$ROOT/tests/incomplete-check.py' '$V' '$D/incomplete'"
        check "$profile: --verify fails the ENOSPC dump, naming the incomplete flag" bash -c \
            "out=\$('$BIN' --verify '$D/incomplete' 2>&1); rc=\$?; echo \"\$out\"; [ \$rc -eq 1 ] && grep -q 'header status.*incomplete flag' <<<\"\$out\""
        # (copied out first: reading a hole of a file on a full tmpfs through mmap, as
        # libkdumpfile does, faults with SIGBUS because tmpfs allocates on read faults)
        umount "$SMALL"
    else
        failed=$((failed + 1)); failures+=("$profile: mount tmpfs for the ENOSPC check (needs root)")
    fi

    rm -f "$D"/ref.* "$D"/ours.* "$D"/flat* "$D"/incomplete
done

echo
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
