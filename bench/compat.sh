#!/usr/bin/env bash
# Side-by-side benchmark of `coretool compat` over a kernel fleet, in one run:
#
#   coretool compat, cold     compressed sources (BTFHub-style .btf.tar.xz), empty BTF cache
#   coretool compat, warm     the same sources, the cache the cold run filled
#   coretool compat, raw      the raw .btf files, no cache (every BTF checked in full)
#   coretool compat, raw warm the raw .btf files, the cache holding their checks
#   dry-run --offline         coretool's dry-run with every kernel as --btf (all held at once)
#   bpftool loop, raw         one `bpftool gen min_core_btf KERNEL.btf OUT OBJ` per kernel on
#                             the raw .btf files (the loop pays for no decompression)
#   bpftool loop, .btf.tar.xz the way BTFHub's scripts process their archive: per kernel, unpack
#                             its .btf.tar.xz, then one bpftool process
#
# For each: kernels, wall time, kernels per second, peak RSS, and the ratio to coretool's warm
# run. Then the correctness check: `cargo xtask compat-parity` compares compat's
# per-relocation values with libbpf's own engine (bpf_object__prepare) on every kernel, for
# the bundled probe and the all-kinds fixture (needs root).
#
#   bench/compat.sh [FLEET] [JOBS]
#
# FLEET: the corpus of scripts/fetch-fleet.sh (default ~/.cache/coretool/fleet); its
# compressed twin is built once next to it (FLEET-btfhub, xz -3; a few minutes). JOBS: compat's
# -j (default: the cores). Timings are single runs: the fleet runs are long enough.
set -euo pipefail
cd "$(dirname "$0")/.."
FLEET=${1:-$HOME/.cache/coretool/fleet}
JOBS=${2:-$(nproc)}
[[ -d $FLEET/debian ]] || {
    echo "bench/compat.sh: no fleet in $FLEET (run scripts/fetch-fleet.sh)" >&2
    exit 2
}
cargo build --release --locked --quiet
CT=$PWD/target/release/coretool
OBJ=$PWD/probes/prebuilt/process_monitor.bpf.o
FIXTURE=$PWD/tests/fixtures/core_all_kinds.bpf.o
HUB=${FLEET%/}-btfhub
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

mapfile -t raw < <(find "$FLEET/debian" -name '*.btf' -type f | sort)
n=${#raw[@]}

# The compressed twin, in BTFHub's layout: distro/suite/arch/<release>.btf.tar.xz.
for f in "${raw[@]}"; do
    rel=${f#"$FLEET"/}
    out=$HUB/${rel%.btf}.btf.tar.xz
    [[ -f $out ]] && continue
    echo "$f"
done | xargs -r -P "$(nproc)" -I{} bash -c '
    f={}; rel=${f#'"$FLEET"'/}; out='"$HUB"'/${rel%.btf}.btf.tar.xz
    mkdir -p "$(dirname "$out")"
    XZ_OPT=-3 tar -C "$(dirname "$f")" -cJf "$out.tmp" "$(basename "$f")" && mv "$out.tmp" "$out"'

# run LABEL KERNELS CMD: time one run, print a row.
declare -A WALL RSS
run() {
    local label=$1 kernels=$2 cmd=$3 t0 t1 m w
    t0=$EPOCHREALTIME
    m=$({ /usr/bin/time -f '%M' bash -c "$cmd >/dev/null 2>&1 || [ \$? = 1 ]"; } 2>&1 | tail -1)
    t1=$EPOCHREALTIME
    w=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    WALL[$label]=$w
    RSS[$label]=$m
    awk -v l="$label" -v n="$kernels" -v w="$w" -v m="$m" 'BEGIN {
        printf "%-26s %5d kernels %8.2f s %8.1f kernels/s %8.1f MiB\n", l, n, w, n / w, m / 1024 }'
}

echo "fleet: $n kernels ($FLEET), object: probes/prebuilt/process_monitor.bpf.o, -j $JOBS, $(nproc) cores"
awk -F'"' '{ for (i = 1; i < NF; i++) if ($i == "suite") s = $(i + 2); else if ($i == "deb_arch") a = $(i + 2); print s "/" a }' \
    "$FLEET/manifest.jsonl" 2>/dev/null | sort | uniq -c | awk '{ printf "  %s %s", $2, $1 } END { print "" }'
cache=$work/cache
run "compat cold (.btf.tar.xz)" "$n" "$CT compat $OBJ --kernels $HUB -j $JOBS --cache $cache"
run "compat warm (.btf.tar.xz)" "$n" "$CT compat $OBJ --kernels $HUB -j $JOBS --cache $cache"
run "compat raw, no cache" "$n" "$CT compat $OBJ --kernels $FLEET/debian -j $JOBS --no-cache"
run "compat raw, warm" "$n" "$CT compat $OBJ --kernels $FLEET/debian -j $JOBS --cache $cache"
btf_args=$(printf -- ' --btf %s' "${raw[@]}")
run "dry-run --offline" "$n" "$CT dry-run --offline $OBJ $btf_args"
if command -v bpftool >/dev/null; then
    printf '%s\n' "${raw[@]}" >"$work/list"
    run "bpftool loop, raw" "$n" \
        "while read -r k; do bpftool gen min_core_btf \$k $work/min.btf $OBJ || exit 2; done <$work/list"
    find "$HUB" -name '*.btf.tar.xz' | sort >"$work/hub"
    mkdir -p "$work/x"
    run "bpftool loop, .btf.tar.xz" "$n" \
        "while read -r a; do tar -xJf \$a -C $work/x && bpftool gen min_core_btf $work/x/*.btf $work/min.btf $OBJ && rm -f $work/x/*.btf || exit 2; done <$work/hub"
fi
echo
warm=${WALL["compat warm (.btf.tar.xz)"]}
for label in "compat cold (.btf.tar.xz)" "compat raw, no cache" "compat raw, warm" "dry-run --offline" "bpftool loop, raw" "bpftool loop, .btf.tar.xz"; do
    [[ -n ${WALL[$label]:-} ]] || continue
    awk -v l="$label" -v w="${WALL[$label]}" -v c="$warm" -v m="${RSS[$label]}" -v cm="${RSS["compat warm (.btf.tar.xz)"]}" 'BEGIN {
        printf "compat warm vs %-26s %6.1fx faster, %5.2fx the memory\n", l ":", w / c, cm / m }'
done
echo
if [[ $(id -u) == 0 ]]; then
    cargo xtask compat-parity --coretool "$CT" --kernels "$FLEET/debian" -- "$OBJ" "$FIXTURE"
else
    echo "compat-parity skipped: needs root (libbpf's engine loads nothing, but needs bpf())"
fi
