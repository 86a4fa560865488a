#!/bin/sh
# Benchmark `coretool dry-run`: one object against four kernels' BTF (Debian 5.10, 6.1, 6.12
# from scripts/fetch-kernels.sh, and the running kernel), wall time and peak memory, for the
# libbpf path (as root) and the offline path. Inputs are the kernels' raw BTF, extracted once
# beforehand, so the figure is dry-run's own work; a second line per mode reads the vmlinuz
# images directly (decompression included).
#
#   scripts/bench-dry-run.sh [OBJ] [RUNS]      (needs GNU time: /usr/bin/time)
set -eu
cd "$(dirname "$0")/.."
OBJ=${1:-tests/fixtures/core_all_kinds.bpf.o}
RUNS=${2:-10}
CACHE=${CORETOOL_KERNELS:-$HOME/.cache/coretool/kernels}
cargo build --release --quiet --bin coretool --example extract_btf
BIN=target/release/coretool
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

images=""
raws=""
for rel in 5.10.0-46-amd64 6.1.0-56-amd64 6.12.117+deb12-amd64; do
	img="$CACHE/$rel/boot/vmlinuz-$rel"
	[ -f "$img" ] || { echo "missing $img: run scripts/fetch-kernels.sh" >&2; exit 2; }
	target/release/examples/extract_btf "$img" "$TMP/$rel.btf"
	images="$images --btf $img"
	raws="$raws --btf $TMP/$rel.btf"
done
images="$images --btf /sys/kernel/btf/vmlinux"
raws="$raws --btf /sys/kernel/btf/vmlinux"

# Median wall time and the largest peak RSS over $RUNS runs of "$@".
measure() {
	: > "$TMP/times"
	i=0
	while [ $i -lt "$RUNS" ]; do
		/usr/bin/time -f "%e %M" -o "$TMP/t" "$@" > /dev/null || [ $? -eq 1 ]
		cat "$TMP/t" >> "$TMP/times"
		i=$((i + 1))
	done
	sort -n "$TMP/times" | awk -v n="$RUNS" '
		{ t[NR] = $1; if ($2 > m) m = $2 }
		END { printf "median %.3f s, peak RSS %.1f MiB (%d runs)\n", t[int((n + 1) / 2)], m / 1024, n }'
}

echo "object: $OBJ"
for mode in libbpf offline; do
	flag=""
	if [ $mode = offline ]; then flag=--offline; fi
	if [ $mode = libbpf ] && [ "$(id -u)" != 0 ]; then
		echo "libbpf path: skipped (needs root)"
		continue
	fi
	printf '%-8s 4 kernels, raw BTF:     ' $mode
	# shellcheck disable=SC2086
	measure $BIN dry-run "$OBJ" $flag $raws
	printf '%-8s 4 kernels, vmlinuz:     ' $mode
	# shellcheck disable=SC2086
	measure $BIN dry-run "$OBJ" $flag $images
done
