#!/usr/bin/env bash
# The commands `cargo xtask kernel-matrix` runs inside one kernel: in a virtme-ng guest booted on
# that kernel, or directly on the host for the running kernel. Not meant to be run by hand.
#
# Usage: scripts/kernel-matrix-guest.sh OUTDIR CORETOOL STEPS [OBJECT...]
#
#   OUTDIR    where results go (the guest's read-write directory)
#   CORETOOL  the coretool binary (the host's, seen through the guest's 9p root)
#   STEPS     comma-separated steps this coretool build has: check-btf, btf, selftest, dry-run,
#             requires; and no-attach: `requires` loads without attaching
#   OBJECT    BPF objects for `coretool dry-run` (libbpf against this kernel's own BTF)
#
# The `requires` step loads (and attaches, unless no-attach) every program of the objects listed
# in OUTDIR/requires.objects (one path a line) on its own: `coretool requires --live`. The VMs
# pass no-attach: attaching patches kernel text live (ftrace, trampolines, int3), and under
# QEMU's software emulation that once panicked a guest (Oops: int3).
#
# First writes `uptime` (seconds since this kernel booted) and `release` (uname -r); then, per
# step NAME, `NAME.json` (stdout), `NAME.stderr`, `NAME.rc` (exit status) and `NAME.seconds`;
# last `done`. A failing step does not stop the others: the host reads the exit statuses.
set -u

out=$1
coretool=$2
steps=",$3,"
shift 3

cut -d' ' -f1 /proc/uptime >"$out/uptime"
uname -r >"$out/release"

now() { date +%s.%N; }

step() {
    local name=$1 t0 rc
    shift
    t0=$(now)
    "$@" >"$out/$name.json" 2>"$out/$name.stderr"
    rc=$?
    echo "$rc" >"$out/$name.rc"
    awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f\n", b - a }' >"$out/$name.seconds"
    echo "kernel-matrix: $(uname -r): $name: exit $rc" >&2
}

has() { [[ $steps == *",$1,"* ]]; }

has check-btf && step check-btf "$coretool" --json check-btf
has btf && step btf "$coretool" --json btf --kind struct task_struct
has selftest && step selftest "$coretool" --json selftest
if has dry-run; then
    for obj in "$@"; do
        step "dry-run.$(basename "$obj")" "$coretool" --json dry-run "$obj"
    done
fi

if has requires && [[ -f $out/requires.objects ]]; then
    mapfile -t robjs <"$out/requires.objects"
    attach=()
    has no-attach && attach=(--no-attach)
    step requires "$coretool" --json requires --live "${attach[@]}" --no-cache "${robjs[@]}"
fi

echo ok >"$out/done"
