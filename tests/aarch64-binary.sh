#!/usr/bin/env bash
# The aarch64 binary (scripts/build-aarch64.sh) against the x86_64 release binary built from
# the same checkout: both are built here, the aarch64 one runs under qemu-aarch64-static
# (user-mode emulation), and every output must be the same bytes. Also checks that the
# aarch64 binary is a static ARM aarch64 executable (no interpreter, no shared library), so
# it can be dropped into a capture initramfs as it is. A missing tool is a failure.
# Ends with "N passed, M failed".
#
# Usage: tests/aarch64-binary.sh [--profile cloud-1g|generic-2g]
#   The vmcore comes from scripts/make-vmcore.sh (cached after its first run).
#   Needs root (the aarch64 build uses a chroot).
# Run time: ~20 s when both builds are up to date (the four dumps under qemu-user take
# 1-11 s each); the first run adds scripts/build-aarch64.sh's toolchain and build
# (1.5-9 min), a stale x86_64 release build ~1 min.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/checks.sh"
. "$ROOT/scripts/lib.sh"

PROFILE=cloud-1g
while [[ $# -gt 0 ]]; do
    case $1 in
        --profile) [[ $# -ge 2 ]] || die "--profile needs a name"; PROFILE=$2; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done

need_cmd cargo "install Rust (rustup)"
need_cmd qemu-aarch64-static "apt-get install qemu-user-static"
need_cmd file "apt-get install file"
need_cmd readelf "apt-get install binutils"
need_cmd cmp

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdf-aarch64.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

log "x86_64 release build"
(cd "$ROOT" && cargo build --release -p makedumpfile-cli) >&2 || die "x86_64 release build failed"
X86=$ROOT/target/release/makedumpfile
need_file "$X86"

log "aarch64 build (scripts/build-aarch64.sh)"
start=$SECONDS
A64=$("$ROOT/scripts/build-aarch64.sh" --checkout "$ROOT" --out "$WORK/aarch64/makedumpfile" | tail -n 1) ||
    die "scripts/build-aarch64.sh failed"
log "aarch64 build: $((SECONDS - start)) s"
need_file "$A64"

V=$("$ROOT/scripts/make-vmcore.sh" --profile "$PROFILE" | tail -n 1)
[[ -f $V ]] || die "no vmcore for profile $PROFILE"
log "vmcore: $V"

arm() { qemu-aarch64-static "$A64" "$@"; }

# The ELF header says aarch64, and nothing is loaded at run time: no PT_INTERP, no NEEDED.
is_static_aarch64() {
    file "$A64"
    file "$A64" | grep -q 'ARM aarch64' || return 1
    file "$A64" | grep -q 'statically linked' || return 1
    readelf -h "$A64" | grep -q 'Machine: *AArch64' || return 1
    ! readelf -l "$A64" | grep -q INTERP || { echo "has a program interpreter"; return 1; }
    ! readelf -d "$A64" | grep -q NEEDED || { echo "needs shared libraries"; return 1; }
    echo "$(stat -c %s "$A64") bytes"
}
check "aarch64 binary: ARM aarch64, statically linked, no interpreter, no NEEDED" is_static_aarch64

# same_output TAG ARGS...: stdout, stderr and exit status of both binaries are equal, and
# they said something; the status is left in $WORK/TAG.status.
same_output() {
    local tag=$1; shift
    local xs as
    "$X86" "$@" >"$WORK/$tag.x86.out" 2>"$WORK/$tag.x86.err"; xs=$?
    arm "$@" >"$WORK/$tag.a64.out" 2>"$WORK/$tag.a64.err"; as=$?
    echo "exit: x86_64 $xs, aarch64 $as"
    echo "$as" >"$WORK/$tag.status"
    [[ $xs -eq $as ]] || return 1
    cmp "$WORK/$tag.x86.out" "$WORK/$tag.a64.out" && cmp "$WORK/$tag.x86.err" "$WORK/$tag.a64.err" || return 1
    [[ -s $WORK/$tag.a64.out || -s $WORK/$tag.a64.err ]] || { echo "no output"; return 1; }
    head -n 3 "$WORK/$tag.a64.out" "$WORK/$tag.a64.err"
}
succeeds_same() { same_output "$@" && [[ $(cat "$WORK/$1.status") -eq 0 ]]; }
fails_same() { same_output "$@" && [[ $(cat "$WORK/$1.status") -eq 1 ]]; }
check "-v: same output under qemu, status 0" succeeds_same v -v
check "-h: same output under qemu, status 0" succeeds_same h -h
check "no arguments: same message under qemu, status 1" fails_same none
check "missing vmcore: same message under qemu, status 1" fails_same nofile -l -d 31 "$WORK/no-such-vmcore" "$WORK/no-such-dump"

# same_dump TAG ARGS...: both binaries dump the vmcore with ARGS; the files are the same
# bytes. The qemu run time is printed (the test's log and the summary below).
same_dump() {
    local tag=$1; shift
    rm -f "$WORK/$tag.x86" "$WORK/$tag.a64"
    local t0=$EPOCHREALTIME t1 t2
    "$X86" "$@" "$V" "$WORK/$tag.x86" >/dev/null || { echo "x86_64 dump failed"; return 1; }
    t1=$EPOCHREALTIME
    arm "$@" "$V" "$WORK/$tag.a64" >/dev/null || { echo "aarch64 dump failed"; return 1; }
    t2=$EPOCHREALTIME
    awk -v tag="$*" -v a="$t0" -v b="$t1" -v c="$t2" \
        'BEGIN { printf "%s: x86_64 %.1f s, aarch64 under qemu-user %.1f s\n", tag, b - a, c - b }' |
        tee -a "$WORK/times"
    [[ -s $WORK/$tag.x86 ]] || { echo "empty dump"; return 1; }
    cmp "$WORK/$tag.x86" "$WORK/$tag.a64" || return 1
    echo "identical: $(stat -c %s "$WORK/$tag.a64") bytes"
    rm -f "$WORK/$tag.x86" "$WORK/$tag.a64"
}
check "$PROFILE: -l -d 31: same bytes as x86_64" same_dump l31 -l -d 31
check "$PROFILE: -c -d 31 --num-threads 2: same bytes as x86_64" same_dump c31t2 -c -d 31 --num-threads 2
# zstd's and zlib's C sources are cross-compiled by the cc crate; snappy is Rust: each codec
# once more on its own, so a miscompiled C library or a codec's arch-specific path shows.
check "$PROFILE: -z -d 31: same bytes as x86_64" same_dump z31 -z -d 31
check "$PROFILE: -p -d 31: same bytes as x86_64" same_dump p31 -p -d 31
[[ -f $WORK/times ]] && { log "dump times (wall):"; sed 's/^/    /' "$WORK/times" >&2; }

for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
