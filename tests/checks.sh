# shellcheck shell=bash
# The pass/fail bookkeeping shared by the tests/*.sh suites. Source it; set WORK (a scratch
# directory) before the first check. Each suite prints "N passed, M failed" itself.

passed=0
failed=0
failures=()

# check NAME COMMAND...: run COMMAND (a program or a shell function) with its output in
# $WORK/log.N, count it, and on failure show the tail of that output.
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

# use_work_dir KEEP NAME: set WORK to KEEP (created, kept) or, when KEEP is empty, to a new
# temporary directory removed on exit.
use_work_dir() {
    if [[ -n $1 ]]; then
        mkdir -p "$1" || { echo "cannot create $1" >&2; exit 1; }
        WORK=$(cd "$1" && pwd)
    else
        WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdf-$2.XXXXXX")
        trap 'rm -rf "$WORK"' EXIT
    fi
}

# finish_suite: the closing lines (run time since T0, the failed checks, the counts); its
# status is the suite's.
finish_suite() {
    echo "run time: $((SECONDS - T0)) s"
    echo
    for f in "${failures[@]}"; do echo "failed: $f"; done
    echo "$passed passed, $failed failed"
    [[ $failed -eq 0 ]]
}

# without_estimate: stdin less our `--mem-usage` section of estimated dump sizes, from its
# title line to the blank line that ends it (a no-op on makedumpfile's output). That
# section is ours (tests/size-estimate.sh checks it); makedumpfile's table comes before it.
without_estimate() { awk '/^ESTIMATED DUMP SIZE/ { s = 1; next } s && /^$/ { s = 0; next } !s'; }
