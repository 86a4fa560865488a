#!/usr/bin/env bash
# Run coretool on several kernels: Debian's 5.10, 6.1 and 6.12 booted under virtme-ng, and the
# running kernel directly. Prints a matrix and writes it as JSON. See docs/ci.md.
#
# Usage: sudo scripts/kernel-matrix.sh [OPTIONS] [KERNEL...]
#        scripts/kernel-matrix.sh --summarize DIR
#
#   KERNEL           5.10, 6.1, 6.12: Debian's kernel package (scripts/fetch-kernels.sh caches
#                    it); host: the running kernel, no VM; or the path of a vmlinuz with its
#                    modules at ../lib/modules/<release> (an unpacked kernel package).
#                    Default: 5.10 6.1 6.12 host
#   --out DIR        results directory (default: target/kernel-matrix)
#   --coretool BIN   coretool binary (default: `cargo build --locked`, target/debug/coretool)
#   --object FILE    BPF object for dry-run (repeatable); default: the object bundled with
#                    `coretool selftest` (--emit-object) and tests/fixtures/core_all_kinds.bpf.o
#   --timeout SEC    time limit per VM (default: 900)
#   --kvm            let virtme-ng use KVM (default: --disable-kvm, software emulation)
#   --verbose        copy each VM's console to stderr as well as to its console.log
#   --summarize DIR  run nothing: judge the results already in DIR again (no root needed)
#
# Per kernel, inside it (scripts/kernel-matrix-guest.sh): `coretool check-btf`, `coretool btf
# task_struct` (from /sys/kernel/btf/vmlinux), `coretool selftest` and `coretool dry-run` of
# each object (libbpf against that kernel). On the host: `coretool btf` and `coretool dry-run
# --offline` against the kernel's vmlinuz, which must give the same task_struct and the same
# relocations (local value, target value, status) as the live run: engine parity.
# Steps that this coretool build lacks (`coretool help STEP` fails) show as n/a.
#
# Writes DIR/run.json (what ran), DIR/<release>/ (guest/: what ran inside the kernel; host/: the
# offline runs; console.log; boot.json; kernel.json: the verdict) and DIR/matrix.json (schema
# coretool.kernel-matrix/v1). Exit status: 0 every kernel passed, 1 a kernel failed, 2 could
# not run.
#
# Environment: VNG (virtme-ng's command, default vng), CORETOOL_KERNEL_CACHE (as for
# fetch-kernels.sh). Needs root (selftest and dry-run load BPF programs), jq, qemu-system-x86,
# virtme-ng and a static busybox; not /lib/modules: virtme-ng finds a kernel's modules next to
# its vmlinuz (<dir>/boot/vmlinuz-REL and <dir>/lib/modules/REL, as fetch-kernels.sh caches
# them) and generates modules.dep there if missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/target/kernel-matrix
coretool=
objects=()
timeout=900
kvm=0
verbose=0
summarize_only=0
kernels=()
vng=${VNG:-vng}

log() { echo "kernel-matrix: $*" >&2; }
die() {
    log "$*"
    exit 2
}
set -E
trap 'log "internal error: line $LINENO: $BASH_COMMAND"; exit 2' ERR

while [[ $# -gt 0 ]]; do
    case $1 in
    --out) out=${2:?--out needs a directory} && shift ;;
    --coretool) coretool=${2:?--coretool needs a path} && shift ;;
    --object) objects+=("${2:?--object needs a path}") && shift ;;
    --timeout) timeout=${2:?--timeout needs seconds} && shift ;;
    --summarize) out=${2:?--summarize needs a directory} summarize_only=1 && shift ;;
    --kvm) kvm=1 ;;
    --verbose) verbose=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
        exit 0
        ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) kernels+=("$1") ;;
    esac
    shift
done
[[ ${#kernels[@]} -gt 0 ]] || kernels=(5.10 6.1 6.12 host)
command -v jq >/dev/null || die "jq not found (apt-get install jq)"

# ---------------------------------------------------------------------------------------------
# Judging: pure functions of the files under $out.

# FILE if it holds JSON, else a file holding null (for jq --slurpfile).
json_or_null() { if [[ -s $1 ]] && jq -e . "$1" >/dev/null 2>&1; then echo "$1"; else echo "$out/.null"; fi; }
# The exit status recorded in FILE, or null.
rc_of() { if [[ -s $1 ]]; then cat "$1"; else echo null; fi; }
# FILE if it exists, else an empty file (for jq --rawfile).
text_or_empty() { if [[ -f $1 ]]; then echo "$1"; else echo /dev/null; fi; }

# jq helpers: the last non-empty line of a step's stderr (coretool's one-line error).
jq_defs='def last_line: split("\n") | map(select(length > 0)) | last;'

# One object on one kernel: the live and offline dry-runs and their parity.
object_json() {
    local dir=$1 name=$2
    jq -n --arg object "$name" \
        --argjson live_rc "$(rc_of "$dir/guest/dry-run.$name.rc")" \
        --argjson offline_rc "$(rc_of "$dir/host/dry-run.$name.rc")" \
        --slurpfile live "$(json_or_null "$dir/guest/dry-run.$name.json")" \
        --slurpfile offline "$(json_or_null "$dir/host/dry-run.$name.json")" \
        --rawfile live_err "$(text_or_empty "$dir/guest/dry-run.$name.stderr")" \
        --rawfile offline_err "$(text_or_empty "$dir/host/dry-run.$name.stderr")" "$jq_defs"'
        def rows: [.targets[0].relocations[]];
        def key: {program, index, local, target, status};
        def side($d; $rc; $err):
            if $d == null then (if $rc == null then null else {exit: $rc} end)
            else {exit: $rc, mode: $d.mode, loads: $d.targets[0].loads,
                  failure: $d.targets[0].failure} + $d.targets[0].summary end
            | if . != null and .exit != 0 then .stderr = ($err | last_line) else . end;
        $live[0] as $l | $offline[0] as $o |
        {object: $object, live: side($l; $live_rc; $live_err),
         offline: side($o; $offline_rc; $offline_err),
         parity: (if $l == null or $o == null then null else
             ($l | rows) as $lrows | ($o | rows) as $orows |
             [$lrows + $orows | map({program, index}) | unique[] as $id
              | def at($id): map(select(.program == $id.program and .index == $id.index)) | first;
              ($lrows | at($id)) as $a | ($orows | at($id)) as $b
              | select(($a | key) != ($b | key)) | {live: $a, offline: $b}] as $diff |
             {compared: ($lrows | length), equal: ($diff == []), differences: ($diff | length),
              first_differences: $diff[:5]} end)}'
}

# Everything about one kernel, with the list of what failed.
kernel_json() {
    local dir=$1 features=$2 o objs=()
    shift 2
    for o in "$@"; do
        object_json "$dir" "${o##*/}" >"$dir/object.${o##*/}.json"
        objs+=("$dir/object.${o##*/}.json")
    done
    jq -n --argjson features "$features" \
        --slurpfile info "$dir/info.json" \
        --slurpfile boot "$(json_or_null "$dir/boot.json")" \
        --argjson finished "$([[ -f $dir/guest/done ]] && echo true || echo false)" \
        --argjson cb_rc "$(rc_of "$dir/guest/check-btf.rc")" \
        --slurpfile cb "$(json_or_null "$dir/guest/check-btf.json")" \
        --rawfile cb_err "$(text_or_empty "$dir/guest/check-btf.stderr")" \
        --argjson st_rc "$(rc_of "$dir/guest/selftest.rc")" \
        --slurpfile st "$(json_or_null "$dir/guest/selftest.json")" \
        --rawfile st_err "$(text_or_empty "$dir/guest/selftest.stderr")" \
        --slurpfile gbtf "$(json_or_null "$dir/guest/btf.json")" \
        --rawfile gbtf_err "$(text_or_empty "$dir/guest/btf.stderr")" \
        --slurpfile hbtf "$(json_or_null "$dir/host/btf.json")" \
        --rawfile hbtf_err "$(text_or_empty "$dir/host/btf.stderr")" \
        --slurpfile objs <(if [[ ${#objs[@]} -gt 0 ]]; then jq -s . "${objs[@]}"; else echo '[]'; fi) \
        "$jq_defs"'
        def task_struct: if . == null then null else
            {types: .source.types, id: .types[0].id, size: .types[0].size,
             state: ([.types[0].members[].name | select(. == "state" or . == "__state")] | first)} end;
        $cb[0] as $cb | $st[0] as $st | $objs[0] as $objs |
        $info[0] + {
          boot: ($boot[0] + {completed: $finished}),
          check_btf: (if $features.check_btf | not then "not available in this build"
              elif $cb_rc == null then null else
              {exit: $cb_rc, can_load: $cb.can_load?,
               counts: (($cb.checks? // []) | group_by(.status) | map({key: .[0].status, value: length}) | from_entries),
               failed: [($cb.checks? // [])[] | select(.status == "fail") | .name],
               stderr: (if $cb_rc != 0 then $cb_err | last_line else null end)} end),
          selftest: (if $features.selftest | not then "not available in this build"
              elif $st_rc == null then null else
              {exit: $st_rc, pass: $st.summary.pass?, fail: $st.summary.fail?, skip: $st.summary.skip?,
               failed: [($st.checks? // [])[] | select(.status == "fail") | .name],
               stderr: (if $st_rc != 0 then $st_err | last_line else null end)} end),
          dry_run: (if $features.dry_run then $objs else "not available in this build" end),
          btf_parity: (($hbtf[0] | task_struct) as $h | ($gbtf[0] | task_struct) as $g |
              {vmlinuz: $h, sysfs: $g,
               equal: ($h != null and $h == $g and $hbtf[0].types == $gbtf[0].types),
               errors: [($hbtf_err | last_line), ($gbtf_err | last_line)] | map(select(. != null))})
        }
        | def why: if .stderr then ": \(.stderr)" else "" end;
        def failed: if .failed != [] then ", failed: \(.failed | join(", "))" else "" end;
        .failures = [
            (if .mode == "vm" and (.boot.completed | not) then
                "the guest did not finish (\(if .boot.vng_exit == 124 or .boot.vng_exit == 137
                 then "timed out after \(.boot.timeout)s" else "vng exit \(.boot.vng_exit)" end)): see console.log"
             else empty end),
            (.check_btf | if . == null then "check-btf did not run"
             elif type == "object" and .exit != 0 then
                "check-btf: exit \(.exit)\(failed)\(why)" else empty end),
            (.selftest | if . == null then "selftest did not run"
             elif type == "object" and .exit != 0 then
                "selftest: exit \(.exit)\(failed)\(why)" else empty end),
            (if (.dry_run | type) == "array" then .dry_run[] |
                (.object as $o | .live | if . == null then "dry-run \($o): did not run in the kernel"
                 elif .exit != 0 then "dry-run \($o): exit \(.exit) in the kernel: \(.failure // .stderr)"
                 else empty end),
                (.object as $o | if $features.offline | not then empty
                 elif .offline == null then "dry-run --offline \($o): did not run"
                 elif .offline.exit != 0 then "dry-run --offline \($o): exit \(.offline.exit): \(.offline.failure // .offline.stderr)"
                 elif .parity == null then empty
                 elif .parity.equal | not then "parity \($o): \(.parity.differences) of \(.parity.compared) relocations differ between the kernel and --offline, first: \(.parity.first_differences[0] | (.live // .offline) as $r | "\($r.program) #\($r.index) \($r.kind) \($r.accessor): kernel \(.live | if . then "\(.target) \(.status)" else "none" end), --offline \(.offline | if . then "\(.target) \(.status)" else "none" end)")"
                 else empty end)
             else empty end),
            (.btf_parity | if .equal | not then
                "btf: task_struct from \(.vmlinuz == null | if . then "the BTF source" else "the vmlinuz" end) and /sys/kernel/btf/vmlinux differ or are missing\(if .errors != [] then ": " + (.errors | join("; ")) else "" end)"
             else empty end)
          ]
        | .ok = (.failures == [])'
}

# Judge every kernel of $out/run.json, write matrix.json, print the matrix; sets
# $matrix_failed to 1 when a kernel failed.
matrix_failed=0
summarize() {
    [[ -f $out/run.json ]] || die "$out/run.json: no such file (not a kernel-matrix results directory)"
    echo null >"$out/.null"
    local features release objs kernel_files=()
    features=$(jq -c .features "$out/run.json")
    mapfile -t objs < <(jq -r 'if .features.dry_run then .objects[] else empty end' "$out/run.json")
    while IFS= read -r release; do
        kernel_json "$out/$release" "$features" "${objs[@]}" >"$out/$release/kernel.json"
        kernel_files+=("$out/$release/kernel.json")
    done < <(jq -r '.kernels[]' "$out/run.json")

    jq -s --slurpfile run "$out/run.json" \
        '{schema: "coretool.kernel-matrix/v1"} + $run[0] + {kernels: ., ok: all(.[]; .ok)}' \
        "${kernel_files[@]}" >"$out/matrix.json.new"
    mv "$out/matrix.json.new" "$out/matrix.json"

    jq -r '
        def pad($w): . + (if $w > length then " " * ($w - length) else "" end);
        def table: (.[0] | length) as $n
            | [range(0; $n) as $i | map(.[$i] | length) | max] as $w
            | .[] | [range(0; $n) as $i | .[$i] | pad($w[$i])] | join("  ") | sub(" +$"; "");
        def na: "n/a";
        def short: split("/") | last;
        (if .features.dry_run then .objects | map(short) else [] end) as $objects
        | [["kernel", "boot", "check-btf", "selftest"]
           + ($objects | map(sub("\\.bpf\\.o$"; "") + " chg/poison"))
           + ["parity", "task_struct", "result"]]
        + [.kernels[] |
            [.release,
             (if .mode == "host" then "host"
              elif (.boot.seconds_to_script // .boot.seconds_to_userspace) == null then "-"
              else "\(.boot.seconds_to_script // .boot.seconds_to_userspace | . * 10 | round / 10)s/\(.boot.vng_seconds | round)s" end),
             (.check_btf | if type == "string" then na elif . == null then "-" elif .exit == 0 then
                 "ok" + (if (.counts.warn // 0) > 0 then " (\(.counts.warn) warn)" else "" end)
              else "FAIL" end),
             (.selftest | if type == "string" then na elif . == null or .pass == null then "-" else
                 "\(.pass)/\(.pass + .fail + .skip)" + (if .skip > 0 then " (\(.skip) skip)" else "" end)
                 + (if .exit != 0 then " FAIL" else "" end) end)]
            + (.dry_run as $d | $objects | map(. as $o |
                 ($d[] | select(.object == $o) | .live
                  | if . == null or .relocations == null then "-" else
                      "\(.changed)/\(.poisoned)" + (if .exit != 0 then " FAIL" else "" end) end)))
            + [(if (.dry_run | type) == "string" then na else
                 [.dry_run[].parity] | if any(. == null) then na
                 elif all(.equal) then "ok (\(map(.compared) | add))"
                 else "DIFF \(map(.differences) | add)" end end),
               (.btf_parity | if .vmlinuz == null then "-" else
                 "\(.vmlinuz.size) B, \(.vmlinuz.state)" + (if .equal then "" else " DIFF" end) end),
               (if .ok then "ok" else "FAIL" end)]]
        | table' "$out/matrix.json"
    echo "boot: seconds from power-on to the guest's command / vng in all; chg/poison: relocations"
    echo "whose value that kernel changed / poisoned (dry-run in it); parity: relocations equal in"
    echo "dry-run --offline on the host; task_struct: size and state field, vmlinuz = sysfs BTF"
    echo "matrix: $out/matrix.json"

    local failed
    failed=$(jq -r '.kernels[] | .release as $r | .failures[] | "  \($r): \(.)"' "$out/matrix.json")
    if [[ -n $failed ]]; then
        echo "FAILED:"
        echo "$failed"
        matrix_failed=1
    fi
}

if [[ $summarize_only == 1 ]]; then
    out=$(realpath "$out")
    summarize
    exit "$matrix_failed"
fi

# ---------------------------------------------------------------------------------------------
# Running.

[[ $(id -u) == 0 ]] || die "needs root (selftest and dry-run load BPF programs): run it with sudo"

if [[ -z $coretool ]]; then
    log "building coretool (cargo build --locked)"
    (cd "$root" && cargo build --locked --quiet) || die "cargo build failed"
    coretool=$root/target/debug/coretool
fi
[[ -x $coretool ]] || die "$coretool: not an executable"
coretool=$(realpath "$coretool")

# Which steps this build has: a subcommand exists when `coretool help NAME` succeeds.
has_cmd() { "$coretool" help "$1" >/dev/null 2>&1; }
has_cmd btf || die "$coretool has no btf command: is it coretool?"
steps=btf
has_checkbtf=false has_selftest=false has_dryrun=false has_offline=false
if has_cmd check-btf; then
    steps+=,check-btf has_checkbtf=true
else
    log "coretool check-btf: not available in this build"
fi
if has_cmd selftest; then
    steps+=,selftest has_selftest=true
else
    log "coretool selftest: not available in this build"
fi
if has_cmd dry-run; then
    steps+=,dry-run has_dryrun=true
    if "$coretool" help dry-run 2>/dev/null | grep -q -- --offline; then
        has_offline=true
    else
        log "coretool dry-run --offline: not available in this build (no parity check)"
    fi
else
    log "coretool dry-run: not available in this build"
fi

# Check the kernels before the first (long) boot.
for k in "${kernels[@]}"; do
    [[ $k == host ]] && continue
    if [[ $k =~ ^[0-9]+\.[0-9]+$ ]]; then
        "$root/scripts/fetch-kernels.sh" --list "$k" >/dev/null 2>&1 || die "$k: not a series fetch-kernels.sh knows"
    else
        [[ -f $k ]] || die "$k: neither a kernel series (5.10, 6.1, 6.12), host, nor a vmlinuz file"
    fi
    command -v "$vng" >/dev/null || die "$vng not found (pip install virtme-ng)"
    command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
done

mkdir -p "$out/objects"
out=$(realpath "$out")
if [[ ${#objects[@]} == 0 ]]; then
    if [[ $has_selftest == true ]]; then
        "$coretool" selftest --emit-object "$out/objects/process_monitor.bpf.o" >&2 ||
            die "coretool selftest --emit-object failed"
        objects+=("$out/objects/process_monitor.bpf.o")
    fi
    objects+=("$root/tests/fixtures/core_all_kinds.bpf.o")
fi
for i in "${!objects[@]}"; do
    [[ -f ${objects[$i]} ]] || die "${objects[$i]}: no such file"
    objects[i]=$(realpath "${objects[$i]}")
done
[[ -z $(printf '%s\n' "${objects[@]##*/}" | sort | uniq -d) ]] || die "objects must have distinct file names"


now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# The host side for one kernel: coretool reads the kernel's BTF from BTF_SRC itself.
offline_runs() {
    local dir=$1 btf=$2 o rc
    mkdir -p "$dir/host"
    rc=0
    "$coretool" --json btf --btf "$btf" --kind struct task_struct >"$dir/host/btf.json" 2>"$dir/host/btf.stderr" || rc=$?
    echo "$rc" >"$dir/host/btf.rc"
    [[ $has_offline == true ]] || return 0
    for o in "${objects[@]}"; do
        rc=0
        "$coretool" --json dry-run --offline --btf "$btf" "$o" \
            >"$dir/host/dry-run.${o##*/}.json" 2>"$dir/host/dry-run.${o##*/}.stderr" || rc=$?
        echo "$rc" >"$dir/host/dry-run.${o##*/}.rc"
    done
}

# Boot VMLINUZ under virtme-ng and run the guest script in it.
run_vm() {
    local dir=$1 vmlinuz=$2 release=$3 t0 rc cmd kvm_opt=(--disable-kvm) console boot_dir
    boot_dir=$(dirname "$vmlinuz")
    [[ $kvm == 1 ]] && kvm_opt=()
    cmd=$(printf '%q ' bash "$root/scripts/kernel-matrix-guest.sh" "$dir/guest" "$coretool" "$steps" "${objects[@]}")
    console=$dir/console.log
    log "$release: booting under virtme-ng (console: $console)"
    t0=$(now)
    # The guest sees the host's / read-only over 9p (--force-9p: no virtiofsd needed) and writes
    # only into its --rwdir. Its /boot is the kernel package's, so check-btf finds the config.
    # The commands' output goes to the console (--verbose): without udev in the guest,
    # virtme-ng-init finds no virtio-serial ports for the script's stdout, and vng's own exit
    # status is then 255. The guest script's `done` file says whether it finished.
    {
        rc=0
        timeout --kill-after=10 "$timeout" "$vng" --run "$vmlinuz" "${kvm_opt[@]}" --force-9p --verbose \
            --rwdir "$dir/guest" --rodir "/boot=$boot_dir" --cwd "$root" --exec "$cmd" \
            </dev/null 2>&1 || rc=$?
        echo "$rc" >"$dir/vng.rc"
    } | if [[ $verbose == 1 ]]; then tee "$console" >&2; else cat >"$console"; fi
    rc=$(cat "$dir/vng.rc")
    local wall uptime script
    wall=$(secs "$t0" "$(now)")
    uptime=$(cat "$dir/guest/uptime" 2>/dev/null || echo null)
    # The kernel's timestamp of virtme-ng-init handing over to the command: the boot proper.
    script=$(sed -n 's/^\[ *\([0-9.]*\)\] virtme-ng-init: starting script.*/\1/p' "$console" | head -n1)
    [[ -z $script ]] || script=$(printf '%.2f' "$script")
    if [[ $uptime == null ]]; then
        log "$release: the guest never ran its commands (vng exit $rc after ${wall}s)"
    else
        log "$release: booted in ${script:-?}s (virtme-ng-init started the command), the guest script ran ${uptime}s after power-on; vng took ${wall}s in all"
    fi
    jq -n --argjson script "${script:-null}" --argjson uptime "$uptime" --argjson wall "$wall" \
        --argjson rc "$rc" --argjson limit "$timeout" \
        '{seconds_to_script: $script, seconds_to_userspace: $uptime, vng_seconds: $wall, vng_exit: $rc,
          timeout: $limit}' >"$dir/boot.json"
}

# Run one kernel; leaves its release in $kernel_release.
kernel_release=
run_kernel() {
    local spec=$1 line release vmlinuz dir mode=vm btf
    if [[ $spec == host ]]; then
        release=$(uname -r) mode=host btf=/sys/kernel/btf/vmlinux
    elif [[ $spec =~ ^[0-9]+\.[0-9]+$ ]]; then
        # A Debian series: fetch-kernels.sh knows which (and says so when it does not).
        line=$("$root/scripts/fetch-kernels.sh" "$spec" | tail -n1) || die "$spec: fetch-kernels.sh failed"
        release=${line%% *} vmlinuz=${line#* }
    else
        [[ -f $spec ]] || die "$spec: neither a kernel series (5.10, 6.1, 6.12), host, nor a vmlinuz file"
        vmlinuz=$(realpath "$spec")
        release=$("$coretool" --json btf --btf "$vmlinuz" --id 1 | jq -r '.source.release // empty') ||
            die "$spec: coretool cannot read its BTF"
        [[ -n $release ]] || die "$spec: no kernel release in the image"
        [[ -d $(dirname "$vmlinuz")/../lib/modules/$release ]] ||
            log "$release: warning: no $(dirname "$vmlinuz")/../lib/modules/$release: the guest boots without modules"
    fi
    [[ $mode == vm ]] && btf=$vmlinuz
    dir=$out/$release
    rm -rf "${dir:?}"
    mkdir -p "$dir/guest"
    jq -n --arg name "$spec" --arg release "$release" --arg mode "$mode" --arg btf "$btf" \
        '{name: $name, release: $release, mode: $mode, btf: $btf}' >"$dir/info.json"
    offline_runs "$dir" "$btf"
    if [[ $mode == host ]]; then
        log "$release: the running kernel, no VM"
        local t0
        t0=$(now)
        bash "$root/scripts/kernel-matrix-guest.sh" "$dir/guest" "$coretool" "$steps" "${objects[@]}"
        jq -n --argjson s "$(secs "$t0" "$(now)")" '{run_seconds: $s}' >"$dir/boot.json"
    else
        run_vm "$dir" "$vmlinuz" "$release"
    fi
    kernel_release=$release
}

t_start=$(now)
releases=()
for k in "${kernels[@]}"; do
    run_kernel "$k"
    releases+=("$kernel_release")
done

jq -n --arg coretool "$coretool" --arg version "$("$coretool" --version)" \
    --argjson features "{\"check_btf\": $has_checkbtf, \"selftest\": $has_selftest, \"dry_run\": $has_dryrun, \"offline\": $has_offline}" \
    --argjson objects "$(printf '%s\n' "${objects[@]}" | jq -R . | jq -s .)" \
    --argjson kernels "$(printf '%s\n' "${releases[@]}" | jq -R . | jq -s .)" \
    --argjson seconds "$(secs "$t_start" "$(now)")" \
    '{coretool: $coretool, version: $version, features: $features, objects: $objects,
      kernels: $kernels, seconds: $seconds}' >"$out/run.json"

summarize
exit "$matrix_failed"
