#!/usr/bin/env bash
# Run one fuzz target: fuzz/run.sh TARGET SECONDS [more libFuzzer flags...]
#
# Stable toolchain (RUSTC_BOOTSTRAP=1 unlocks the -Z flags cargo-fuzz passes), no sanitizer
# (coretool's parsers are safe Rust; libFuzzer stays coverage-guided), debug assertions on so
# that integer overflow is a crash. New corpus entries go to fuzz/corpus/TARGET (ignored by
# git), seeded from fuzz/seeds/TARGET; crashes land in fuzz/artifacts/TARGET/. Exits non-zero
# when the target crashed, hung, or exceeded the memory limits.
set -euo pipefail
cd "$(dirname "$0")"
target=$1
secs=$2
shift 2
export RUSTC_BOOTSTRAP=1
mkdir -p "corpus/$target"
exec cargo fuzz run -O -a -s none "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$secs" -rss_limit_mb=512 -malloc_limit_mb=256 -timeout=10 \
    -print_final_stats=1 "$@"
