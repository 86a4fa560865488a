#!/usr/bin/env bash
# Side-by-side benchmark: coretool vs bpftool (raw dump, JSON) and pahole (--layout), in one run.
# Prints wall time (median of N runs) and peak RSS for each, and the ratios coretool/peer.
#
#   bench/btf.sh [BTF] [RUNS]      default BTF: /sys/kernel/btf/vmlinux, RUNS: 5
#
# pahole 1.24 cannot read BTF with decl/type tags (this kernel's); the layout comparison then
# uses the first Debian kernel BTF in the kernel cache (scripts/fetch-kernels.sh), if any.
set -euo pipefail
cd "$(dirname "$0")/.."
BTF=${1:-/sys/kernel/btf/vmlinux}
RUNS=${2:-5}
cargo build --release --quiet
CT=$PWD/target/release/coretool
source bench/lib.sh

echo "BTF: $BTF ($(stat -c %s "$BTF") bytes), $RUNS runs each, median wall time, peak RSS"
compare "btf (raw dump)" "$CT btf --btf $BTF" "bpftool btf dump file $BTF format raw"
# Issue 11 targets for the JSON dump: time <= 0.5x bpftool's, peak RSS <= bpftool's.
compare "btf --json" "$CT btf --btf $BTF --json" "bpftool -j btf dump file $BTF"
compare "btf --json --pretty" "$CT btf --btf $BTF --json --pretty" "bpftool -p btf dump file $BTF"

if command -v pahole >/dev/null; then
    LBTF=$BTF
    if ! pahole -F btf -C task_struct "$LBTF" >/dev/null 2>&1; then
        LBTF=$(ls "${CORETOOL_KERNEL_CACHE:-$HOME/.cache/coretool/kernels}"/*/vmlinux.btf 2>/dev/null | head -1 || true)
        [ -n "$LBTF" ] && echo "pahole $(pahole --version) cannot read $BTF; layout comparison on $LBTF"
    fi
    if [ -n "$LBTF" ] && pahole -F btf -C task_struct "$LBTF" >/dev/null 2>&1; then
        compare "btf --layout (all structs)" "$CT btf --btf $LBTF --layout" "pahole -F btf $LBTF"
        compare "btf --layout task_struct" "$CT btf --btf $LBTF --layout task_struct" "pahole -F btf -C task_struct $LBTF"
    else
        echo "skipping layout comparison: no BTF that pahole $(pahole --version) can read"
    fi
fi
