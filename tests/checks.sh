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
