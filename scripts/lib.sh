# shellcheck shell=bash
# Shared helpers for the real-vmcore harness. Source it, do not run it:
#   . "$(dirname "$0")/lib.sh"
#
# Everything big (kernel debs, unpacked kernels, vmcores of hundreds of MB, the drgn
# venv) lives in $CACHE, outside the checkout, so it is never committed by accident
# (real-vmcore.md, "Cache the kernel packages and the generated cores outside the repo").

if [[ -n "${_MDF_RS_LIB_SOURCED:-}" ]]; then
    return 0
fi
_MDF_RS_LIB_SOURCED=1

CACHE=${MAKEDUMPFILE_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/makedumpfile-rs}
SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CACHE SCRIPTS_DIR

# Debian's python sees python3-libkdumpfile (dist-packages); a pyenv python3 on PATH does
# not (readers-and-tools.md §1.2), so always name it explicitly.
DEBIAN_PYTHON=/usr/bin/python3
# drgn from PyPI (0.3.0 wheel bundles libkdumpfile with all codecs + flattened support).
DRGN_PYTHON=$CACHE/venv/bin/python
export DEBIAN_PYTHON DRGN_PYTHON

# Logging goes to stderr so stdout stays machine-readable (scripts print a path last).
_ts() { date +%H:%M:%S; }
log()  { printf '[%s] %s\n' "$(_ts)" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "$(_ts)" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$(_ts)" "$*" >&2; exit 1; }

# need_cmd CMD [HINT]: fail loudly (never skip) when a tool is missing.
need_cmd() {
    local cmd=$1 hint=${2:-run scripts/install-deps.sh}
    command -v "$cmd" >/dev/null 2>&1 || die "required command '$cmd' not found ($hint)"
}

# need_file PATH [HINT]
need_file() {
    local f=$1 hint=${2:-run scripts/install-deps.sh}
    [[ -e "$f" ]] || die "required file '$f' not found ($hint)"
}

need_root() {
    [[ $(id -u) -eq 0 ]] || die "this step needs root (apt-get / dpkg)"
}

# Kernel flavours used by the profiles; the -56 ABI is what the docs were verified with.
KERNEL_ABI=6.1.0-56
export KERNEL_ABI

# cached_deb PKG: path of a cached $CACHE/debs/PKG_*.deb, or nothing.
cached_deb() {
    local f
    for f in "$CACHE/debs/$1"_*.deb; do
        if [[ -e $f ]]; then echo "$f"; return 0; fi
    done
}
