#!/bin/sh
# Benchmark `coretool vmlinux` against `bpftool btf dump file BTF format c` on the running
# kernel's BTF: median wall time and median peak RSS of RUNS runs each, and their ratios.
#
#   bench/vmlinux.sh [RUNS]          (default 11 runs; build first: cargo build --release)
#
# Environment:
#   CORETOOL          coretool binary            [target/release/coretool]
#   BPFTOOL           the distro bpftool         [bpftool] (7.1 on Debian 12: no sorting, no kfuncs)
#   UPSTREAM_BPFTOOL  optional: current bpftool built with libbpf 1.7, measured too, and its
#                     output compared byte for byte with coretool's. To build one (never commit it):
#                       mkdir /tmp/bpftool-up && cd /tmp/bpftool-up
#                       git -C <bpftool checkout> archive HEAD | tar x
#                       cp -r <libbpf v1.7.0 tree, e.g. ~/.cargo/registry/src/*/libbpf-sys-1.7.0*/libbpf> libbpf
#                       make -C src -j2        (needs clang, libelf-dev, zlib1g-dev)
#   BTF               BTF source                 [/sys/kernel/btf/vmlinux]
#
# Targets (issue 2): coretool, which sorts and writes the kfunc block, no slower than the
# distro bpftool (wall ratio <= 1.00) and no more memory (RSS ratio <= 1.00).
# Needs GNU time (/usr/bin/time, Debian package `time`).
set -eu
RUNS=${1:-11}
root=$(cd "$(dirname "$0")/.." && pwd)
CORETOOL=${CORETOOL:-$root/target/release/coretool}
BPFTOOL=${BPFTOOL:-bpftool}
BTF=${BTF:-/sys/kernel/btf/vmlinux}
[ -x "$CORETOOL" ] || { echo "bench: $CORETOOL missing: cargo build --release" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing: apt-get install time" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# measure NAME CMD...: RUNS runs (after one warm-up), output to a file in $tmp;
# sets <NAME>_wall (seconds) and <NAME>_rss (KiB).
measure() {
	name=$1
	shift
	"$@" > "$tmp/$name.h" 2> "$tmp/$name.err"
	: > "$tmp/$name.wall"
	: > "$tmp/$name.rss"
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		start=$(date +%s%N)
		/usr/bin/time -f %M -o "$tmp/rss" "$@" > "$tmp/$name.h" 2> "$tmp/$name.err"
		end=$(date +%s%N)
		echo "$(( (end - start) / 1000 ))" >> "$tmp/$name.wall"
		cat "$tmp/rss" >> "$tmp/$name.rss"
		i=$((i + 1))
	done
	eval "${name}_wall=\$(median < \"\$tmp/\$name.wall\")"
	eval "${name}_rss=\$(median < \"\$tmp/\$name.rss\")"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; }

measure coretool "$CORETOOL" vmlinux --btf "$BTF"
measure bpftool "$BPFTOOL" btf dump file "$BTF" format c
echo "BTF: $BTF ($(wc -c < "$BTF") bytes), $RUNS runs each, medians"
printf '%-36s %12s %12s %10s\n' tool wall "peak RSS" lines
printf '%-36s %12s %9s KiB %10s\n' "coretool vmlinux" "$(ms "$coretool_wall")" "$coretool_rss" "$(wc -l < "$tmp/coretool.h")"
printf '%-36s %12s %9s KiB %10s\n' "$($BPFTOOL version | head -1) format c" "$(ms "$bpftool_wall")" "$bpftool_rss" "$(wc -l < "$tmp/bpftool.h")"
if [ -n "${UPSTREAM_BPFTOOL:-}" ]; then
	measure upstream "$UPSTREAM_BPFTOOL" btf dump file "$BTF" format c
	printf '%-36s %12s %9s KiB %10s\n' "$($UPSTREAM_BPFTOOL version | head -1) format c" "$(ms "$upstream_wall")" "$upstream_rss" "$(wc -l < "$tmp/upstream.h")"
fi
echo
echo "wall ratio coretool/bpftool:     $(ratio "$coretool_wall" "$bpftool_wall")  (target <= 1.00)"
echo "peak RSS ratio coretool/bpftool: $(ratio "$coretool_rss" "$bpftool_rss")  (target <= 1.00)"
if [ -n "${UPSTREAM_BPFTOOL:-}" ]; then
	echo "wall ratio coretool/upstream:    $(ratio "$coretool_wall" "$upstream_wall")"
	echo "peak RSS ratio coretool/upstream: $(ratio "$coretool_rss" "$upstream_rss")"
	# coretool's header is upstream's byte for byte, plus the anonymous enums bpftool loses
	# (docs/vmlinux.md), which come right before the kfunc block.
	for h in coretool upstream; do
		awk -v head="$tmp/$h.head" -v tail="$tmp/$h.tail" \
			'/^\/\* BPF kfuncs \*\/$/ { t = 1 } { print > (t ? tail : head) }' "$tmp/$h.h"
	done
	# The blank line before the kfunc block comes after the added enums.
	for h in coretool upstream; do sed -i '$d' "$tmp/$h.head"; done
	up_len=$(wc -c < "$tmp/upstream.head")
	head -c "$up_len" "$tmp/coretool.head" > "$tmp/coretool.prefix"
	tail -c +"$((up_len + 1))" "$tmp/coretool.head" > "$tmp/coretool.added"
	if cmp -s "$tmp/coretool.tail" "$tmp/upstream.tail" &&
		cmp -s "$tmp/coretool.prefix" "$tmp/upstream.head" &&
		! grep -Evq '^(enum \{|	[A-Za-z_][A-Za-z0-9_]* = -?[0-9]+,|\};|)$' "$tmp/coretool.added"; then
		echo "output: upstream bpftool's, plus $(grep -c '^enum {' "$tmp/coretool.added") enum(s) it loses"
	else
		echo "output: DIFFERS from upstream bpftool's"
		exit 1
	fi
fi
