#!/usr/bin/env bash
# Side-by-side benchmark: `coretool btfgen` over a fleet vs a `bpftool gen min_core_btf` loop
# (one process per kernel, as BTFHub-style CI scripts run it), on the same objects and kernels.
# Prints wall time (median of N runs), peak RSS, the ratios, and checks that every output of
# the two tools is byte-identical.
#
#   bench/btfgen.sh [COPIES] [RUNS]     default COPIES: 10, RUNS: 3
#   bench/btfgen.sh --fleet [ARCHIVES [RAW]] [--runs N]
#
# Default mode: two fleets, from the raw BTF of every Debian kernel in the kernel cache
# (scripts/fetch-kernels.sh), each kernel copied COPIES times into BTFHub's layout
# (debian/<n>/x86_64/...): raw `<release>.btf` files, which both tools read as they are; and
# BTFHub archives `<release>.btf.tar.xz`, which the bpftool loop unpacks one at a time (as the
# BTFHub scripts do) and coretool reads itself, through its BTF cache (warmed by a first run,
# as a CI cache would keep it) and without it. The objects: the all-kinds fixture, the bundled
# probe, the dry-run probe and the subprogram fixture. Peak RSS is measured at two fleet sizes
# to show it does not grow with the number of kernels.
#
# --fleet mode: the whole fleet corpus (scripts/fetch-fleet.sh), every kernel of every
# architecture, in both forms: ARCHIVES, BTFHub's layout of `.btf.tar.xz` (default
# ~/.cache/coretool/fleet-btfhub), and RAW, the same kernels as raw `.btf` (default
# ~/.cache/coretool/fleet). The objects: the bundled probe, the all-kinds fixture and 12 of
# Debian's libbpf-tools (target/corpus/libbpf-tools, made by `cargo xtask corpus` when
# missing). The bpftool loop runs on every kernel; coretool writes nothing for a kernel where
# an object cannot load (x86 objects whose kprobes read `pt_regs.di` on arm64, ppc64el and
# riscv64; little-endian objects on s390x), which bpftool minimizes all the same: those
# kernels are counted and named by architecture, and byte identity is checked on every
# kernel coretool wrote; then the amd64 kernels alone, where both tools write every kernel.
# Wall time (median), CPU time (one run), peak RSS of coretool over the largest tenth of the
# archives and over all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --fleet ]; then
    exec bench/btfgen-fleet.sh "${@:2}"
fi
COPIES=${1:-10}
RUNS=${2:-3}
cargo build --release --quiet --example extract_btf
cargo build --release --quiet
CT=$PWD/target/release/coretool
EXTRACT=$PWD/target/release/examples/extract_btf
source bench/lib.sh

CACHE=${CORETOOL_KERNEL_CACHE:-$HOME/.cache/coretool/kernels}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
OBJS="tests/fixtures/core_all_kinds.bpf.o probes/prebuilt/process_monitor.bpf.o tests/fixtures/dryrun/dryrun_probe.bpf.o tests/fixtures/dryrun/subprog.bpf.o"

# fleet N DIR [archive]: N copies of every cached kernel's raw BTF (or BTFHub archive) in DIR.
fleet() {
    local n=$1 dir=$2 archive=${3:-} i k rel
    for k in "$CACHE"/*/boot/vmlinuz-*; do
        rel=${k##*/vmlinuz-}
        [ -f "$WORK/$rel.btf" ] || "$EXTRACT" "$k" "$WORK/$rel.btf"
        [ -z "$archive" ] || [ -f "$WORK/$rel.btf.tar.xz" ] ||
            tar -C "$WORK" -cJf "$WORK/$rel.btf.tar.xz" "$rel.btf"
        for ((i = 1; i <= n; i++)); do
            mkdir -p "$dir/debian/$i/x86_64"
            cp "$WORK/$rel.btf${archive:+.tar.xz}" "$dir/debian/$i/x86_64/"
        done
    done
}

fleet "$COPIES" "$WORK/fleet"
KERNELS=$(find "$WORK/fleet" -name '*.btf' | wc -l)
echo "fleet: $KERNELS kernels ($COPIES copies of each cached Debian kernel), $RUNS runs each, median wall time, peak RSS"
echo "objects: $OBJS"

# (Each loop starts with `bpftool version` so that the report names the peer.)
BPFTOOL_LOOP="bpftool version >/dev/null && cd $WORK/fleet && find . -name '*.btf' | while read -r f; do mkdir -p $WORK/bt/\$(dirname \$f) && bpftool gen min_core_btf \$f $WORK/bt/\$f $PWD/${OBJS// / $PWD/} || exit 1; done"
compare "btfgen ($KERNELS kernels)" \
    "rm -rf $WORK/ct && $CT btfgen --no-cache $OBJS --kernels $WORK/fleet -o $WORK/ct" \
    "$BPFTOOL_LOOP"

# The same outputs, byte for byte.
rm -rf "$WORK/ct" "$WORK/bt"
"$CT" btfgen --no-cache $OBJS --kernels "$WORK/fleet" -o "$WORK/ct" --bundle "$WORK/all.tar.xz" >"$WORK/report.txt"
bash -c "$BPFTOOL_LOOP"
if diff -r "$WORK/ct" "$WORK/bt" >/dev/null; then
    echo "outputs: all $KERNELS byte-identical to bpftool's"
else
    echo "outputs: DIFFER from bpftool's:"; diff -rq "$WORK/ct" "$WORK/bt" | head
    exit 1
fi
tail -4 "$WORK/report.txt"

# BTFHub archives: the bpftool loop unpacks each one; coretool reads them, cache warm and cold.
fleet "$COPIES" "$WORK/hub" archive
HUB_LOOP="bpftool version >/dev/null && cd $WORK/hub && find . -name '*.btf.tar.xz' | while read -r f; do d=\$(dirname \$f); mkdir -p $WORK/hb/\$d $WORK/x && tar -C $WORK/x -xJf \$f && b=\$(basename \$f .tar.xz) && bpftool gen min_core_btf $WORK/x/\$b $WORK/hb/\$d/\$b $PWD/${OBJS// / $PWD/} && rm $WORK/x/\$b || exit 1; done"
"$CT" btfgen --cache "$WORK/btfcache" $OBJS --kernels "$WORK/hub" -o "$WORK/warmup" >/dev/null
compare "btfgen archives, cache warm" \
    "rm -rf $WORK/hc && $CT btfgen --cache $WORK/btfcache $OBJS --kernels $WORK/hub -o $WORK/hc" \
    "$HUB_LOOP"
compare "btfgen archives, no cache" \
    "rm -rf $WORK/hc && $CT btfgen --no-cache $OBJS --kernels $WORK/hub -o $WORK/hc" \
    "$HUB_LOOP"

# Peak memory at a tenth of the fleet: the same, give or take, if it does not grow with kernels.
fleet 1 "$WORK/small"
SMALL=$(find "$WORK/small" -name '*.btf' | wc -l)
read -r _ m_small < <(measure "$CT btfgen --no-cache $OBJS --kernels $WORK/small -o $WORK/o1")
read -r _ m_big < <(measure "rm -rf $WORK/o2 && $CT btfgen --no-cache $OBJS --kernels $WORK/fleet -o $WORK/o2")
echo "coretool peak RSS: $m_small KiB with $SMALL kernels, $m_big KiB with $KERNELS kernels"
