#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what it needs, then runs every check.
# A missing tool is a failure, never a skip. Prints "N passed, M failed" last.
#
#   scripts/test-all.sh            everything (about 20-30 minutes on 2 cores, first run longer;
#                                  FUZZ_SECONDS=N sets the time per fuzz target, default 20)
#   QUICK=1 scripts/test-all.sh    skip the real-vmcore and fuzz stages (development loop)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh

stages_passed=0
stages_failed=0
failed_names=()
stage() {
    local name=$1; shift
    log "=== $name"
    local start=$SECONDS
    if "$@"; then
        stages_passed=$((stages_passed + 1)); log "=== $name: ok ($((SECONDS - start)) s)"
    else
        stages_failed=$((stages_failed + 1)); failed_names+=("$name"); log "=== $name: FAILED ($((SECONDS - start)) s)"
    fi
}

need_cmd cargo "install Rust (rustup)"
if [[ -z ${QUICK:-} ]]; then
    stage "install dependencies" scripts/install-deps.sh --with-dbg --arm64
fi
stage "cargo fmt" cargo fmt --all -- --check
stage "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
stage "cargo clippy on the engine as a library user builds it (no testing feature)" \
    bash -c 'cargo clippy -p makedumpfile-engine --all-targets -- -D warnings && cargo clippy -p makedumpfile-cli --bins -- -D warnings'
stage "cargo test (unit, integration, property)" cargo test --workspace --release
stage "engine and property tests with debug assertions" \
    cargo test --profile checked -p makedumpfile-engine -p makedumpfile-proptests
stage "loom model checks" env RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
    CARGO_TARGET_DIR="$ROOT/target/loom" cargo test --release -p makedumpfile-engine --lib loom
stage "benchmarks compile" cargo bench --workspace --no-run
stage "README figures match the recorded results" python3 benches/readme_tables.py --check
if [[ -z ${QUICK:-} ]]; then
    stage "release build" cargo build --release -p makedumpfile-cli
    stage "aarch64 binary (cross-built from Debian packages) under qemu-user: same bytes as x86_64" tests/aarch64-binary.sh
    stage "real vmcores vs makedumpfile 1.7.2 and readers" tests/real-vmcore.sh --profile cloud-1g --profile generic-2g
    stage "ELF output, split, reassemble, refilter vs makedumpfile" tests/parity2-real.sh
    stage "every mode × every option vs makedumpfile (exit, files, bytes, last line)" tests/matrix.sh
    stage "a generated 4 GiB machine in 160 cycles vs makedumpfile and across threads" tests/large-machine.sh
    stage "filter bitmaps vs makedumpfile on real vmcores" cargo test --release -p makedumpfile-engine --features testing --test real_vmcore_filter -- --ignored
    stage "readers: crash, libkdumpfile, drgn on both guests" tests/readers.sh --profile cloud-1g --profile generic-2g --levels 31
    stage "our binary as core_collector inside a capture kernel" tests/capture-kernel.sh --bin target/release/makedumpfile
    stage "Debian's kdump-tools runs our .deb after a panic (debootstrap guest)" tests/kdump-tools-e2e.sh
    stage "--mem-usage /proc/kcore on a live guest kernel vs makedumpfile" tests/mem-usage.sh --bin target/release/makedumpfile
    stage "size estimate vs the real dumps of the cached vmcores" \
        cargo test --release -p makedumpfile-engine --features testing --test real_vmcore_estimate -- --ignored
    stage "--mem-usage size estimate in a live guest vs the dumps its capture kernel writes (one boot)" \
        tests/size-estimate.sh --bin target/release/makedumpfile
    stage "arm64: real arm64 cores and the arm64 makedumpfiles (made when missing), which reads which" \
        tests/arm64-reference.sh
    stage "arm64: the 52-bit LPA2 cores no makedumpfile reads (made when missing)" \
        bash -c 'for p in trixie-arm64 trixie-arm64-16k; do scripts/make-vmcore-arm64.sh --profile "$p" >/dev/null || exit 1; done'
    stage "arm64: ours vs the arm64 makedumpfiles on real arm64 cores (4K and 16K pages)" tests/arm64-vmcore.sh
    stage "arm64: our aarch64 binary and Debian's arm64 makedumpfile 1.7.2 in the same arm64 capture kernel" \
        tests/arm64-capture.sh
    stage "protected pages: makedumpfile issue 21 (idt_table) reproduced, crash opens ours" tests/protected-pages.sh
    stage "corrupted vmcores, streams and dumps" tests/corruption.sh
    stage "corrupted arm64 vmcore, streams and dumps (bookworm 6.1, 4K pages)" \
        tests/corruption.sh --profile bookworm-cloud-arm64
    stage "fuzz targets (${FUZZ_SECONDS:-20} s each)" fuzz/run.sh "${FUZZ_SECONDS:-20}"
fi

echo
for n in "${failed_names[@]}"; do echo "failed stage: $n"; done
echo "$stages_passed passed, $stages_failed failed"
[[ $stages_failed -eq 0 ]]
