#!/usr/bin/env bash
# Fuzz smoke run (CI): build every fuzz target and run each for FUZZ_SECONDS (default 20) from
# the checked-in seeds, one at a time. Installs cargo-fuzz from crates.io when it is missing
# (`cargo install cargo-fuzz --locked`); needs no nightly toolchain (see fuzz/run.sh).
# Exits non-zero when any target crashes, hangs or exceeds the memory limits; the input is
# left in fuzz/artifacts/TARGET/ and the log in fuzz/logs/TARGET.log.
set -euo pipefail
cd "$(dirname "$0")"
secs=${FUZZ_SECONDS:-20}

t0=$(date +%s)
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz smoke: installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked --quiet
fi
t1=$(date +%s)
RUSTC_BOOTSTRAP=1 cargo fuzz build -O -a -s none
t2=$(date +%s)
echo "fuzz smoke: cargo-fuzz ready in $((t1 - t0)) s, targets built in $((t2 - t1)) s"

mkdir -p logs
failed=()
for target in $(cargo fuzz list); do
    if ./run.sh "$target" "$secs" >"logs/$target.log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$target.log")
        echo "fuzz smoke: $target: ${runs:-?} runs in $secs s, no crash"
    else
        echo "fuzz smoke: $target FAILED:"
        grep -E "ERROR|panicked|SUMMARY|Test unit written|deadly signal" "logs/$target.log" || tail -30 "logs/$target.log"
        failed+=("$target")
    fi
done
echo "fuzz smoke: done in $(($(date +%s) - t0)) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz smoke: failing targets: ${failed[*]} (reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O -a -s none TARGET artifacts/TARGET/<file>)"
    exit 1
fi
