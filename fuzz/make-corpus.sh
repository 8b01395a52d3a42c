#!/usr/bin/env bash
# Regenerate the committed seed corpus (fuzz/corpus/<target>/) from the real cloud-1g
# vmcore (scripts/make-vmcore.sh) and a synthetic vmcore: header + program headers +
# notes, VMCOREINFO, a few pages, small dumps of every codec from our writer, a flattened
# stream, a dump by the release binary, and structured seeds. Keeps the corpus < 2 MB.
#
# Usage: fuzz/make-corpus.sh [REAL_VMCORE]
set -euo pipefail
FUZZ=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$FUZZ")
REAL=${1:-${MAKEDUMPFILE_RS_CACHE:-$HOME/.cache/makedumpfile-rs}/vmcores/cloud-1g/vmcore}
BIN=$ROOT/target/release/makedumpfile
[[ -f $REAL ]] || { echo "real vmcore $REAL not found (scripts/make-vmcore.sh --profile cloud-1g)" >&2; exit 1; }
[[ -x $BIN ]] || { echo "$BIN not found (cargo build --release)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdf-corpus.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cargo run --quiet --release --manifest-path "$FUZZ/Cargo.toml" -p makedumpfile-fuzz-corpus-gen -- \
    "$FUZZ/corpus" "$REAL" "$WORK/synthetic.vmcore"

# Our binary on the synthetic vmcore: -d 31 leaves ~1/3 of its 2048 pages; lzo keeps it small.
"$BIN" -l -d 31 "$WORK/synthetic.vmcore" "$WORK/synthetic-d31.lzo" >/dev/null
"$BIN" -F -l -d 31 "$WORK/synthetic.vmcore" >"$WORK/synthetic-d31.flat" 2>/dev/null
cp "$WORK/synthetic-d31.lzo" "$FUZZ/corpus/kdump_reader/binary-d31-lzo"
cp "$WORK/synthetic-d31.flat" "$FUZZ/corpus/flat_stream/binary-d31-lzo"
mkdir -p "$FUZZ/corpus/verify_dump"
cp "$WORK/synthetic-d31.lzo" "$FUZZ/corpus/verify_dump/binary-d31-lzo"
cp "$WORK/synthetic-d31.flat" "$FUZZ/corpus/verify_dump/binary-d31-lzo-flat"

total=$(du -sb "$FUZZ/corpus" | cut -f1)
echo "corpus: $(find "$FUZZ/corpus" -type f | wc -l) files, $total bytes"
[[ $total -lt 2000000 ]] || { echo "corpus is larger than 2 MB" >&2; exit 1; }
