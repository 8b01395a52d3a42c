#!/usr/bin/env bash
# Build every fuzz target and run each for a bounded time, one at a time.
#
# Usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default 30 s, every target)
#
# Stable Rust: no sanitizer (`-s none`, tooling.md), debug assertions on (`-a`) so an
# integer overflow is a crash. New inputs go to a scratch corpus seeded from the
# committed fuzz/corpus/<target>/ (which is never written). Crashes, hangs (> 10 s for
# one input) and memory blow-ups (> 2 GB RSS) are written to fuzz/artifacts/<target>/
# and make the script exit non-zero. Prints executions per second and total executions
# per target (libFuzzer's final stats).
set -uo pipefail
FUZZ=$(cd "$(dirname "$0")" && pwd)
cd "$FUZZ" || exit 1
SECONDS_PER_TARGET=${1:-30}
shift || true

die() { printf 'fuzz/run.sh: ERROR: %s\n' "$*" >&2; exit 1; }
[[ $SECONDS_PER_TARGET =~ ^[0-9]+$ ]] || die "SECONDS_PER_TARGET must be a number, got '$SECONDS_PER_TARGET'"
command -v cargo >/dev/null || die "cargo not found (install Rust with rustup)"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: installing it (cargo install cargo-fuzz, ~2 min)" >&2
    cargo install cargo-fuzz >&2 || die "cargo install cargo-fuzz failed"
    cargo fuzz --version >/dev/null 2>&1 || die "cargo-fuzz still not runnable after installing"
fi

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
[[ ${#targets[@]} -gt 0 ]] || die "no fuzz targets found"

echo "building ${#targets[@]} targets" >&2
cargo fuzz build -s none -a >&2 || die "cargo fuzz build failed"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdf-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
failed=()
rows=()
for t in "${targets[@]}"; do
    mkdir -p "$WORK/corpus/$t" "$FUZZ/corpus/$t" "$FUZZ/artifacts/$t"
    log=$WORK/$t.log
    start=$SECONDS
    cargo fuzz run -s none -a "$t" "$WORK/corpus/$t" "$FUZZ/corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$FUZZ/artifacts/$t/" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    status=ok
    if [[ $rc -ne 0 || -z $execs ]]; then
        status="FAILED (exit $rc)"
        failed+=("$t")
        echo "---- $t: last lines of the log" >&2
        grep -E 'panicked|ERROR|SUMMARY|Test unit written|deadly|timeout|out-of-memory' "$log" | head -n 20 >&2
        tail -n 15 "$log" >&2
    fi
    row=$(printf '%-20s %12s %14s %6ss  %s' "$t" "${rate:--}" "${execs:--}" "$((SECONDS - start))" "$status")
    rows+=("$row")
    echo "$row" >&2
done

echo
printf '%-20s %12s %14s %7s  %s\n' target "execs/s" "total execs" time status
printf '%s\n' "${rows[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz/run.sh: ${#failed[@]} target(s) failed: ${failed[*]} (inputs in fuzz/artifacts/)"
    exit 1
fi
echo "fuzz/run.sh: all ${#targets[@]} targets ran ${SECONDS_PER_TARGET} s without a crash"
