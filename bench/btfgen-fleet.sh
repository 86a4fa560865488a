#!/usr/bin/env bash
# `bench/btfgen.sh --fleet`: coretool btfgen against a `bpftool gen min_core_btf` loop over the
# whole fleet corpus, both forms (see bench/btfgen.sh for what is measured and why).
#
#   bench/btfgen.sh --fleet [ARCHIVES [RAW]] [--runs N]      default: 3 runs
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=3
dirs=()
while [ $# -gt 0 ]; do
    case $1 in
    --runs) RUNS=$2; shift 2 ;;
    *) dirs+=("$1"); shift ;;
    esac
done
HUB=$(realpath "${dirs[0]:-$HOME/.cache/coretool/fleet-btfhub}")
RAW=$(realpath "${dirs[1]:-$HOME/.cache/coretool/fleet}")
cargo build --release --quiet
CT=$PWD/target/release/coretool
source bench/lib.sh

CORPUS=target/corpus/libbpf-tools
compgen -G "$CORPUS/*.bpf.o" >/dev/null || cargo xtask corpus
OBJS="$PWD/probes/prebuilt/process_monitor.bpf.o $PWD/tests/fixtures/core_all_kinds.bpf.o"
for t in biolatency biosnoop execsnoop exitsnoop offcputime oomkill opensnoop runqlat \
    runqslower tcpconnect tcplife tcpstates; do
    OBJS="$OBJS $PWD/$CORPUS/$t.bpf.o"
done
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

N_HUB=$(find "$HUB" -name '*.btf.tar.xz' | wc -l)
N_RAW=$(find "$RAW" -name '*.btf' | wc -l)
echo "fleet: $N_HUB kernels as BTFHub archives ($HUB), $N_RAW as raw BTF ($RAW)"
echo "objects: the bundled probe, the all-kinds fixture, 12 libbpf-tools:" $(for o in $OBJS; do case $o in */libbpf-tools/*) o=${o##*/}; echo "${o%.bpf.o}" ;; esac; done)
echo "$RUNS runs each, median wall time, peak RSS; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"

# coretool exits 1 when some kernel gets no output (an object cannot load there): expected
# here; 2 (could not run, or a proof failed) is not.
# The loops BTFHub-style scripts run: one bpftool process per kernel, every kernel (bpftool
# writes an output even where an object cannot load). The archive loop unpacks each archive,
# minimizes it, and deletes the unpacked BTF before the next.
raw_loop() { echo "bpftool version >/dev/null && rm -rf $WORK/bt $WORK/bt.failed && cd $1 && find . -name '*.btf' | while read -r f; do mkdir -p $WORK/bt/\$(dirname \$f) && { bpftool gen min_core_btf \$f $WORK/bt/\$f $OBJS || echo \$f >>$WORK/bt.failed; }; done"; }
RAW_LOOP=$(raw_loop "$RAW")
hub_loop() { echo "bpftool version >/dev/null && rm -rf $WORK/hb $WORK/hb.failed && cd $1 && find . -name '*.btf.tar.xz' | while read -r f; do d=\$(dirname \$f); b=\$(basename \$f .tar.xz); mkdir -p $WORK/hb/\$d $WORK/x && tar -C $WORK/x -xJf \$f && { bpftool gen min_core_btf $WORK/x/\$b $WORK/hb/\$d/\$b $OBJS || echo \$f >>$WORK/hb.failed; } && rm $WORK/x/\$b; done"; }
HUB_LOOP=$(hub_loop "$HUB")

# side_by_side LABEL CORETOOL BPFTOOL: medians of both, the speed-up and the memory ratio.
side_by_side() {
    read -r w1 m1 < <(measure "$2")
    read -r w2 m2 < <(measure "$3")
    awk -v l="$1" -v w1="$w1" -v m1="$m1" -v w2="$w2" -v m2="$m2" 'BEGIN {
        printf "%-21s coretool %7.3f s %6d KiB | bpftool loop %7.3f s %6d KiB | %5.1fx faster, memory %.2fx\n",
            l, w1, m1, w2, m2, w2 / w1, m1 / m2 }'
}

# The BTF cache a CI job would keep between runs, warmed once (not measured).
"$CT" btfgen --cache "$WORK/cache" $OBJS --kernels "$HUB" -o "$WORK/w1" >/dev/null || true
"$CT" btfgen --cache "$WORK/cache" $OBJS --kernels "$RAW" -o "$WORK/w2" >/dev/null || true

# ct DIR CACHE KERNELS: coretool's side, writing to $WORK/DIR (exit 1: some kernel's objects
# cannot load there, reported and not written; that is a result, not a failure).
ct() { echo "rm -rf $WORK/$1 && { $CT btfgen $2 $OBJS --kernels $3 -o $WORK/$1 || [ \$? = 1 ]; }"; }
side_by_side "archives, cache warm" "$(ct hc "--cache $WORK/cache" "$HUB")" "$HUB_LOOP"
side_by_side "archives, no cache" "$(ct hc "--no-cache" "$HUB")" "$HUB_LOOP"
side_by_side "raw BTF, cache warm" "$(ct rc "--cache $WORK/cache" "$RAW")" "$RAW_LOOP"
side_by_side "raw BTF, no cache" "$(ct rc "--no-cache" "$RAW")" "$RAW_LOOP"

# CPU time of one run each (the wall times above depend on what else the machine runs).
cpu() { /usr/bin/time -f '%U %S' bash -c "$1 >/dev/null 2>&1" 2>&1 | awk '{ printf "%.2f", $1 + $2 }'; }
echo "CPU time (user+sys), one run each: coretool $(cpu "rm -rf $WORK/hc && { $CT btfgen --cache $WORK/cache $OBJS --kernels $HUB -o $WORK/hc || [ \$? = 1 ]; }") s on archives (cache warm), $(cpu "rm -rf $WORK/rc && { $CT btfgen --no-cache $OBJS --kernels $RAW -o $WORK/rc || [ \$? = 1 ]; }") s on raw BTF (no cache);" \
    "bpftool loop $(cpu "$HUB_LOOP") s on archives, $(cpu "$RAW_LOOP") s on raw BTF"

# The outputs, side by side: coretool's JSON records name each kernel's source and output.
check() {
    local form=$1 src=$2 ours=$3 theirs=$4 suffix=$5
    rm -rf "$ours"
    "$CT" btfgen --no-cache $OBJS --kernels "$src" -o "$ours" --json >"$WORK/$form.jsonl" || true
    jq -r 'select(.record == "kernel") | [.status, .kernel.arch, .kernel.source, .output // "-"] | @tsv' \
        "$WORK/$form.jsonl" >"$WORK/$form.tsv"
    local same=0 differ=0 status arch source output peer
    while IFS=$'\t' read -r status arch source output; do
        [ "$status" = minimized ] || continue
        # (the archive loop names its outputs without .tar.xz)
        peer=${source#"$src"/}
        if cmp -s "$ours/$output" "$theirs/${peer%.tar.xz}"; then
            same=$((same + 1))
        else
            differ=$((differ + 1))
            echo "  DIFFERS: $source" >&2
        fi
    done <"$WORK/$form.tsv"
    local failed=0
    [ ! -f "$WORK/$suffix.failed" ] || failed=$(wc -l <"$WORK/$suffix.failed")
    echo "$form: coretool minimized and proved $same kernels, all byte-identical to bpftool's ($differ differ);" \
        "not written (an object cannot load there): $(awk -F'\t' '$1 != "minimized" { n[$2]++ } END { for (a in n) printf "%s %d, ", a, n[a] }' "$WORK/$form.tsv" | sed 's/, $//');" \
        "bpftool failed on $failed kernels and wrote the others"
    tail -3 "$WORK/$form.jsonl" | jq -r 'select(.record == "summary") | "  \(.minimized) of \(.kernels) kernels, \(.relocations_proven) relocations proven equal against the minimized BTF"'
    [ "$differ" = 0 ]
}
check archives "$HUB" "$WORK/hc" "$WORK/hb" hb
check raw "$RAW" "$WORK/rc" "$WORK/bt" bt

# The same on the amd64 kernels only, where both tools write every kernel (on the others
# coretool stops after relocating against the full BTF, bpftool goes on to minimize).
for form in HUB RAW; do
    src=${!form}
    find "$src" \( -name '*.btf.tar.xz' -o -name '*.btf' \) -path '*/amd64/*' | while read -r f; do
        d=$WORK/amd64-$form/${f#"$src"/}
        mkdir -p "$(dirname "$d")" && ln -s "$f" "$d"
    done
done
N_AMD64=$(find "$WORK/amd64-HUB" -name '*.btf.tar.xz' | wc -l)
HUB=$WORK/amd64-HUB RAW=$WORK/amd64-RAW
HUB_LOOP=$(hub_loop "$HUB") RAW_LOOP=$(raw_loop "$RAW")
"$CT" btfgen --cache "$WORK/cache" $OBJS --kernels "$HUB" -o "$WORK/w3" >/dev/null || true
"$CT" btfgen --cache "$WORK/cache" $OBJS --kernels "$RAW" -o "$WORK/w4" >/dev/null || true
echo "amd64 only: $N_AMD64 kernels, every one minimized by both tools"
side_by_side "archives, cache warm" "$(ct hc "--cache $WORK/cache" "$HUB")" "$HUB_LOOP"
side_by_side "raw BTF, cache warm" "$(ct rc "--cache $WORK/cache" "$RAW")" "$RAW_LOOP"
side_by_side "raw BTF, no cache" "$(ct rc "--no-cache" "$RAW")" "$RAW_LOOP"
HUB=$(realpath "${dirs[0]:-$HOME/.cache/coretool/fleet-btfhub}")
N_HUB=$(find "$HUB" -name '*.btf.tar.xz' | wc -l)

# Peak memory at a tenth of the fleet and at all of it: the same, give or take, if it does not
# grow with the number of kernels. (It grows with the largest kernel, which a worker holds
# several copies of at once: the tenth is every tenth archive by size, from the largest.)
mkdir -p "$WORK/small"
find "$HUB" -name '*.btf.tar.xz' -printf '%s %p\n' | sort -rn | awk 'NR % 10 == 1 { print $2 }' | while read -r f; do
    d=$WORK/small/${f#"$HUB"/}
    mkdir -p "$(dirname "$d")" && ln -s "$f" "$d"
done
SMALL=$(find "$WORK/small" -name '*.btf.tar.xz' | wc -l)
read -r _ m_small < <(measure "rm -rf $WORK/o1 && { $CT btfgen --no-cache $OBJS --kernels $WORK/small -o $WORK/o1 || [ \$? = 1 ]; }")
read -r _ m_big < <(measure "rm -rf $WORK/o2 && { $CT btfgen --no-cache $OBJS --kernels $HUB -o $WORK/o2 || [ \$? = 1 ]; }")
echo "coretool peak RSS (archives, no cache): $m_small KiB with $SMALL kernels, $m_big KiB with $N_HUB kernels"
