#!/usr/bin/env bash
# Our binary on the REAL arm64 vmcores (issue 15), against the arm64 reference makedumpfiles
# run on this host through qemu-user. Every expectation is derived from the core: its
# VMCOREINFO (PAGESIZE, OSRELEASE, caller-id offset) and its ELF header (e_machine).
# A missing core, reference or tool is a failure, never a skip.
#
# Usage: tests/arm64-vmcore.sh [--profile P]... [--bin PATH]
#   Cores:      $CACHE/vmcores/<profile>/vmcore      (scripts/make-vmcore-arm64.sh)
#   References: $CACHE/makedumpfile-arm64/<ref>/run  (scripts/build-makedumpfile-arm64.sh)
#
# Cores a reference reads (reference_for, from the VMCOREINFO) get byte comparisons of
# -l and -c at -d 0/1/2/4/8/16/31, -E -d 31, --dump-dmesg, refiltering our -l -d 1 dump,
# and --split; --mem-usage must fail alike; libkdumpfile checks every page of our -l -d 31
# dump against the core (scripts/kdump-pages-check.py) and its page set against the
# reference's; --num-threads 2 and 8 write the serial bytes; the aarch64 build
# (scripts/build-aarch64.sh from this checkout, made here: up to date and present on a
# clean checkout) run under qemu-user writes the x86_64 build's bytes. -c at -d 0 to 8 is
# compared by digest: zlib of most of the core through the reference under qemu-user is
# slow, so the sha256 of the reference's output is kept in $CACHE/reference-digests, keyed
# by the core's and the reference binary's sha256 and the options, and the reference runs
# only for a core or reference it has not seen. The 52-bit (LPA2) cores no reference reads
# (master's walk fails on LPA2 descriptors) get the checks that need no reference: every
# mode exits 0, the dump header carries the core's page size, machine and OSRELEASE (read
# through the 5-level / LPA2 tables), the log holds "Linux version OSRELEASE", and the log
# read back from our dump equals the log read from the core. On every core, drgn (the
# PyPI venv) opens our -l -d 31 dump: VMCOREINFO, physical pages, and init_uts_ns read by
# virtual address through the arm64 page tables (scripts/drgn-check.py).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/checks.sh"
. "$ROOT/scripts/lib.sh"

# Which reference reads a core follows from its VMCOREINFO (the arm64 harness' findings):
# makedumpfile 1.7.2-1.7.9 size the tables by the configured NUMBER(VA_BITS) and refuse
# 52; master sizes them by the runtime TCR_EL1_T1SZ but decodes every 52-bit PA as
# FEAT_LPA, which is wrong for the LPA2 descriptors of 4K/16K pages with a 52-bit runtime
# VA, so nothing reads those cores. Debian's 1.7.2 is the reference where it can be.
reference_for() { # VMCOREINFO_FILE -> reference name, or nothing
    local page_size va_bits t1sz pa_bits
    page_size=$(vmcoreinfo_value "$1" PAGESIZE)
    va_bits=$(vmcoreinfo_value "$1" 'NUMBER(VA_BITS)')
    t1sz=$(vmcoreinfo_value "$1" 'NUMBER(TCR_EL1_T1SZ)')
    pa_bits=$(vmcoreinfo_value "$1" 'NUMBER(MAX_PHYSMEM_BITS)')
    if [[ $page_size != 65536 && $pa_bits == 52 && -n $t1sz && $((64 - t1sz)) == 52 ]]; then
        return
    elif [[ -n $va_bits && $va_bits -le 48 ]]; then
        echo debian-1.7.2
    else
        echo master
    fi
}
profiles=()
BIN=$ROOT/target/release/makedumpfile
while [[ $# -gt 0 ]]; do
    case $1 in
        --profile) profiles+=("$2"); shift 2 ;;
        --bin) BIN=$2; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
[[ ${#profiles[@]} -gt 0 ]] || profiles=(bookworm-cloud-arm64 trixie-arm64-va48 trixie-arm64-16k-va47 trixie-arm64 trixie-arm64-16k)
need_file "$BIN" "cargo build --release"
"$DEBIAN_PYTHON" -c 'import kdumpfile' 2>/dev/null || die "python3-libkdumpfile missing (scripts/install-deps.sh)"
"$DRGN_PYTHON" -c 'import drgn' 2>/dev/null || die "drgn missing from $DRGN_PYTHON (scripts/install-deps.sh)"
need_cmd cmp
need_cmd python3
need_cmd qemu-aarch64-static "scripts/install-deps.sh --arm64"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdf-arm64.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# The aarch64 build of this checkout (incremental: its target directory is cached per
# checkout). A leftover target/aarch64 binary could be stale or, on a clean checkout, absent.
AARCH64_BIN=$("$ROOT/scripts/build-aarch64.sh" --checkout "$ROOT" --out "$WORK/aarch64/makedumpfile" | tail -n 1) ||
    die "scripts/build-aarch64.sh failed"
need_file "$AARCH64_BIN" "scripts/build-aarch64.sh"

same_bytes() { cmp "$1" "$2" && echo "identical: $(stat -c %s "$1") bytes"; }

# reference_digest REF_NAME CORE OPTS...: the sha256 of what the reference writes for
# OPTS on CORE, from the digest cache or by running it (and then cached).
DIGESTS=$CACHE/reference-digests
reference_digest() {
    local ref_name=$1 core=$2 core_id ref_id entry out
    shift 2
    core_id=$(sha256sum "$core" | cut -c1-16)
    ref_id=$(sha256sum "$CACHE/makedumpfile-arm64/$ref_name/makedumpfile" | cut -c1-16)
    entry=$DIGESTS/$core_id/$ref_name-$ref_id/$(echo "$*" | tr -d ' -')
    if [[ ! -s $entry ]]; then
        out=$WORK/reference-digest.out
        rm -f "$out"
        "$CACHE/makedumpfile-arm64/$ref_name/run" "$@" "$core" "$out" >/dev/null 2>&1 || return 1
        mkdir -p "$(dirname "$entry")"
        sha256sum <"$out" | cut -d' ' -f1 >"$entry.tmp" && mv "$entry.tmp" "$entry"
        rm -f "$out"
    fi
    cat "$entry"
}

# same_digest_as_reference REF_NAME CORE OURS_OUT OPTS...: our OPTS output equals the
# reference's by sha256.
same_digest_as_reference() {
    local ref_name=$1 core=$2 ours=$3 want got
    shift 3
    want=$(reference_digest "$ref_name" "$core" "$@") || { echo "the reference failed"; return 1; }
    "$BIN" "$@" "$core" "$ours" >/dev/null || return 1
    got=$(sha256sum <"$ours" | cut -d' ' -f1)
    rm -f "$ours"
    echo "sha256 ours $got, $ref_name $want"
    [[ $got == "$want" ]]
}
vmcoreinfo_value() { grep -m1 "^$2=" "$1" | cut -d= -f2-; }

# header_is FILE PAGESIZE MACHINE RELEASE: the disk_dump_header's block_size and utsname.
header_is() {
    python3 - "$@" <<'EOF'
import struct, sys
path, page_size, machine, release = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
head = open(path, "rb").read(4096)
assert head[:8] == b"KDUMP   ", head[:8]
uts = [head[12 + 65 * i:12 + 65 * (i + 1)].split(b"\0")[0].decode() for i in range(6)]
# signature 8, header_version 4, utsname 390, 6 bytes of padding, timestamp (struct
# timeval) 16, status 4, then block_size at 428.
block_size = struct.unpack_from("<i", head, 428)[0]
print("block_size", block_size, "utsname", uts)
assert block_size == page_size, (block_size, page_size)
assert uts[4] == machine, (uts[4], machine)
assert uts[2] == release, (uts[2], release)
EOF
}
e_machine() { python3 -c "import struct,sys; print(struct.unpack_from('<H', open(sys.argv[1],'rb').read(64), 18)[0])" "$1"; }

for profile in "${profiles[@]}"; do
    V=$CACHE/vmcores/$profile/vmcore
    D=$WORK/$profile
    mkdir -p "$D"
    if [[ ! -f $V ]]; then
        failed=$((failed + 1)); failures+=("$profile: no vmcore at $V (scripts/make-vmcore-arm64.sh)")
        continue
    fi
    # VMCOREINFO of the core, read from its ELF note independently of our binary.
    elf_vmcoreinfo "$V" >"$D/vmcoreinfo" || { failed=$((failed + 1)); failures+=("$profile: no VMCOREINFO note in $V"); continue; }
    page_size=$(vmcoreinfo_value "$D/vmcoreinfo" PAGESIZE)
    release=$(vmcoreinfo_value "$D/vmcoreinfo" OSRELEASE)
    machine_number=$(e_machine "$V")
    ref_name=$(reference_for "$D/vmcoreinfo")
    echo "== $profile: PAGESIZE $page_size, OSRELEASE $release, e_machine $machine_number, reference ${ref_name:-none}"

    check "$profile: the core is an arm64 ELF vmcore (e_machine 183)" test "$machine_number" = 183
    check "$profile: -l -d 31 header has block_size PAGESIZE, machine aarch64, OSRELEASE" bash -c \
        "$(declare -f header_is); '$BIN' -l -d 31 '$V' '$D/ours.l31' >/dev/null && header_is '$D/ours.l31' $page_size aarch64 '$release'"
    check "$profile: drgn opens our -l -d 31 dump, reads physical pages and init_uts_ns through the arm64 tables" \
        "$DRGN_PYTHON" "$ROOT/scripts/drgn-check.py" "$D/ours.l31"
    check "$profile: -E -d 31 keeps e_machine 183" bash -c \
        "'$BIN' -E -d 31 '$V' '$D/ours.E31' >/dev/null && [ \$(python3 -c \"import struct,sys; print(struct.unpack_from('<H', open(sys.argv[1],'rb').read(64), 18)[0])\" '$D/ours.E31') = 183 ]"
    check "$profile: --dump-dmesg holds 'Linux version $release'" bash -c \
        "'$BIN' --dump-dmesg '$V' '$D/ours.dmesg' >/dev/null && grep -F 'Linux version $release ' '$D/ours.dmesg'"
    check "$profile: refilter -c -d 31 of our -l -d 31 dump, its log equals the core's" bash -c \
        "$(declare -f same_bytes); '$BIN' -c -d 31 '$D/ours.l31' '$D/ours.re31' >/dev/null && '$BIN' --dump-dmesg '$D/ours.re31' '$D/ours.re31.dmesg' >/dev/null && same_bytes '$D/ours.dmesg' '$D/ours.re31.dmesg'"

    if [[ -z $ref_name ]]; then
        echo "   (no reference reads this core: 52-bit runtime VA with LPA2 descriptors)"
        rm -f "$D"/ours.*
        continue
    fi
    REF=$CACHE/makedumpfile-arm64/$ref_name/run
    if [[ ! -x $REF ]]; then
        failed=$((failed + 1)); failures+=("$profile: reference $REF missing (scripts/build-makedumpfile-arm64.sh)")
        continue
    fi
    for opts in "-l -d 31" "-c -d 31" "-l -d 0" "-l -d 1" "-l -d 2" "-l -d 4" "-l -d 8" \
        "-l -d 16" "-c -d 16" "-E -d 31"; do
        tag=$(echo "$opts" | tr -d ' -')
        rm -f "$D/ref.$tag" "$D/ours.$tag"
        check "$profile: $opts byte-identical to $ref_name" bash -c \
            "$(declare -f same_bytes); '$REF' $opts '$V' '$D/ref.$tag' >/dev/null 2>&1 && '$BIN' $opts '$V' '$D/ours.$tag' >/dev/null && same_bytes '$D/ref.$tag' '$D/ours.$tag'"
        [[ $tag == ld1 || $tag == ld31 ]] || rm -f "$D/ref.$tag" "$D/ours.$tag"
    done
    for level in 0 1 2 4 8; do
        check "$profile: -c -d $level byte-identical to $ref_name (sha256; reference digest cached)" \
            same_digest_as_reference "$ref_name" "$V" "$D/ours.cd$level" -c -d "$level"
    done
    # Every page of our -l -d 31 dump through libkdumpfile, against the core's page, and our
    # dumpable set against the reference's.
    check "$profile: libkdumpfile: every page of our -l -d 31 = the core's, set = $ref_name's" \
        "$DEBIAN_PYTHON" "$ROOT/scripts/kdump-pages-check.py" "$V" "$D/ours.ld31" "$D/ref.ld31"
    for threads in 2 8; do
        check "$profile: -l -d 31 --num-threads $threads writes the serial bytes" bash -c \
            "$(declare -f same_bytes); '$BIN' -l -d 31 --num-threads $threads '$V' '$D/ours.t$threads' >/dev/null && same_bytes '$D/ours.ld31' '$D/ours.t$threads'"
        rm -f "$D/ours.t$threads"
    done
    # The aarch64 build under qemu-user writes what the x86_64 build writes, on an arm64
    # core too.
    check "$profile: the aarch64 binary (qemu-user) writes the x86_64 binary's -l -d 31 bytes" bash -c \
        "$(declare -f same_bytes); qemu-aarch64-static '$AARCH64_BIN' -l -d 31 '$V' '$D/a64.ld31' >/dev/null && same_bytes '$D/ours.ld31' '$D/a64.ld31'"
    # makedumpfile 1.7.5+ prints the caller id column when the kernel exports its offset.
    dmesg_opts=()
    if [[ $ref_name != debian-1.7.2 ]] && grep -q '^OFFSET(printk_info.caller_id)=' "$D/vmcoreinfo"; then
        dmesg_opts=(--dmesg-caller-id)
    fi
    check "$profile: --dump-dmesg ${dmesg_opts[*]} byte-identical to $ref_name" bash -c \
        "$(declare -f same_bytes); '$REF' --dump-dmesg '$V' '$D/ref.dmesg' >/dev/null 2>&1 && '$BIN' --dump-dmesg ${dmesg_opts[*]} '$V' '$D/ours.dmesg2' >/dev/null && same_bytes '$D/ref.dmesg' '$D/ours.dmesg2'"
    check "$profile: refiltering our -l -d 1 dump to -l -d 31 byte-identical to $ref_name" bash -c \
        "$(declare -f same_bytes); '$REF' -l -d 31 '$D/ours.ld1' '$D/ref.re' >/dev/null 2>&1 && '$BIN' -l -d 31 '$D/ours.ld1' '$D/ours.re' >/dev/null && same_bytes '$D/ref.re' '$D/ours.re'"
    check "$profile: --split -l -d 31 in 2 parts byte-identical to $ref_name" bash -c \
        "$(declare -f same_bytes); '$REF' --split -l -d 31 '$V' '$D/ref.s1' '$D/ref.s2' >/dev/null 2>&1 && '$BIN' --split -l -d 31 '$V' '$D/ours.s1' '$D/ours.s2' >/dev/null && same_bytes '$D/ref.s1' '$D/ours.s1' && same_bytes '$D/ref.s2' '$D/ours.s2'"
    # --mem-usage needs the live system's crashkernel reservation: on a vmcore both refuse
    # it, with the same exit status and last line.
    check "$profile: --mem-usage on the core: same exit status and last line as $ref_name" bash -c \
        "'$REF' --mem-usage '$V' >'$D/ref.mu' 2>&1; r=\$?; '$BIN' --mem-usage '$V' >'$D/ours.mu' 2>&1; o=\$?; echo \"exit \$r / \$o\"; [ \$r = \$o ] && [ \"\$(grep . '$D/ref.mu' | tail -n1)\" = \"\$(grep . '$D/ours.mu' | tail -n1)\" ]"
    rm -f "$D"/ref.* "$D"/ours.*
done

echo
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
