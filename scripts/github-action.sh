#!/usr/bin/env bash
# The GitHub Action's step (action.yml): installs coretool, runs `dry-run` or `compat` on the
# user's BPF objects, writes a Markdown table to the job summary ($GITHUB_STEP_SUMMARY) and an
# `::error file=...,line=...::` annotation at the source line of every relocation that keeps an
# object from loading (a reachable poisoned instruction or a relocation error), and exits 1
# when an object fails on a kernel, 2 when coretool could not run. Runs anywhere with GitHub's
# variables set (tests/action.rs runs it locally); docs/ci.md shows its output.
#
# Inputs (environment, as action.yml passes them):
#   INPUT_OBJECTS          BPF objects, paths or globs relative to $GITHUB_WORKSPACE (required)
#   INPUT_KERNELS          kernel BTF sources (dry-run: one --btf each; compat: --kernels)
#   INPUT_COMMAND          dry-run or compat [default: compat with kernels, dry-run without]
#   INPUT_ARGS             more arguments for the command
#   INPUT_CORETOOL_PATH    a coretool binary already here
#   INPUT_CORETOOL_URL     or the URL of a release binary to download
#   INPUT_CORETOOL_SHA256  the download's SHA-256, checked when given
# GitHub's: GITHUB_WORKSPACE, RUNNER_TEMP, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT (optional).
# Needs bash, jq (on GitHub's runners) and, for a download, curl and sha256sum.
set -euo pipefail
shopt -s nullglob globstar

# Workflow commands go to the step's stdout (fd 3), wherever stdout is redirected meanwhile.
exec 3>&1
die() {
    echo "::error title=coretool::$(escape "$*")" >&3
    exit 2
}

# Workflow-command escaping of a message (GitHub's toolkit: %, CR, LF).
escape() {
    local s=${1//'%'/%25}
    s=${s//$'\r'/%0D}
    printf '%s' "${s//$'\n'/%0A}"
}

# ... and of a property (file=, title=): also `:` and `,`.
escape_property() {
    local s
    s=$(escape "$1")
    s=${s//:/%3A}
    printf '%s' "${s//,/%2C}"
}

workspace=${GITHUB_WORKSPACE:-$PWD}
temp=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
command -v jq >/dev/null || die "jq is not installed"

# --- coretool -------------------------------------------------------------------------------
if [ -n "${INPUT_CORETOOL_PATH:-}" ]; then
    coretool=$INPUT_CORETOOL_PATH
elif [ -n "${INPUT_CORETOOL_URL:-}" ]; then
    coretool=$temp/coretool-bin/coretool
    mkdir -p "${coretool%/*}"
    curl -fsSL --retry 3 -o "$coretool" "$INPUT_CORETOOL_URL" ||
        die "downloading $INPUT_CORETOOL_URL failed"
    if [ -n "${INPUT_CORETOOL_SHA256:-}" ]; then
        echo "$INPUT_CORETOOL_SHA256  $coretool" | sha256sum --check --quiet ||
            die "$INPUT_CORETOOL_URL: SHA-256 is not $INPUT_CORETOOL_SHA256"
    fi
    chmod +x "$coretool"
else
    coretool=$(command -v coretool) || die "no coretool: set coretool-path or coretool-url"
fi
[ -x "$coretool" ] || die "$coretool: not an executable"
"$coretool" --version >/dev/null 2>&1 || die "$coretool does not run here"
echo "coretool: $coretool ($("$coretool" --version))"

# --- inputs ---------------------------------------------------------------------------------
cd "$workspace"
# Words split on whitespace (newlines too: a YAML block works), globs not yet expanded.
set -f
object_patterns=(${INPUT_OBJECTS:-})
kernel_patterns=(${INPUT_KERNELS:-})
extra=(${INPUT_ARGS:-})
set +f
# Each pattern's matches in the workspace (a path that exists matches itself), into
# $expanded.
expand() {
    local what=$1 pattern matches
    shift
    expanded=()
    for pattern in "$@"; do
        matches=($pattern)
        [ ${#matches[@]} -gt 0 ] || die "$what: nothing matches $pattern in $workspace"
        expanded+=("${matches[@]}")
    done
}
[ ${#object_patterns[@]} -gt 0 ] || die "objects: none given"
expand objects "${object_patterns[@]}"
objects=("${expanded[@]}")
expand kernels "${kernel_patterns[@]}"
kernels=("${expanded[@]}")
cmd=${INPUT_COMMAND:-}
if [ -z "$cmd" ]; then
    if [ ${#kernels[@]} -gt 0 ]; then cmd=compat; else cmd=dry-run; fi
fi

# The workspace path of a source file named in BTF line info (as the compiler saw it: often
# just `prog.bpf.c`): itself when it exists, else the one file of that name in the workspace.
locate() {
    local file=$1
    if [ -f "$file" ]; then
        realpath --relative-to="$workspace" "$file"
        return
    fi
    local found=(**/"${file##*/}")
    [ ${#found[@]} -eq 1 ] && printf '%s' "${found[0]}"
}

# One annotation per problem: lines of `object<TAB>kernel<TAB>source<TAB>message` on stdin.
annotate() {
    local object kernel source message file line
    while IFS=$'\t' read -r object kernel source message; do
        file=$object line=
        if [[ $source =~ ^(.+):([0-9]+)$ ]]; then
            file=$(locate "${BASH_REMATCH[1]}") || file=$object
            [ "$file" = "$object" ] || line=${BASH_REMATCH[2]}
        fi
        printf '::error file=%s%s,title=coretool %s::%s\n' "$(escape_property "$file")" \
            "${line:+,line=$line}" "$cmd" "$(escape "$object on $kernel: $message")"
    done
}

json=$temp/coretool-$cmd.json
: >"$json"
status=0
run() {
    local rc=0
    "$@" || rc=$?
    [ $rc -le 1 ] || die "coretool $cmd failed (exit $rc): see the log above"
    [ $rc -eq 0 ] || status=1
}

case $cmd in
dry-run)
    btf=()
    for k in "${kernels[@]}"; do btf+=(--btf "$k"); done
    for obj in "${objects[@]}"; do
        run "$coretool" dry-run "${btf[@]}" "${extra[@]}" --format json "$obj" >>"$json"
        run "$coretool" dry-run "${btf[@]}" "${extra[@]}" --format markdown "$obj" >>"$summary"
        echo >>"$summary"
    done
    # A problem relocation at its source line; a requirement the kernel lacks (a helper, a
    # kfunc, an attach point) on the object; a kernel that fails otherwise (libbpf refuses the
    # object, the verifier rejects a program) on the object.
    jq -r '.object as $o | .targets[] | (.release // .source) as $k
        | ([.relocations[] | select(.status == "error"
                                   or (.status == "poisoned" and .reachable != false))
           | [$o, $k, .source // "",
              "relocation #\(.index) \(.kind) \(.accessor) in \(.program): "
              + (if .status == "error" then "error: \(.error // "")"
                 else "poisoned instruction reachable: the verifier rejects the program" end)]]
          + [.requires.requirements[] | select(.status == "missing")
             | [$o, $k, "", "\(.program // "object"): missing \(.kind) \(.name) (\(.stage)): \(.evidence)"]])
          as $rows
        | if ($rows | length) > 0 then $rows[]
          elif .verdict == "fails" or .verdict == "loads-without" then
            [$o, $k, "", "\(.verdict): \(.failure // "see the job summary")"]
          else empty end
        | @tsv' "$json" | annotate
    ;;
compat)
    [ ${#kernels[@]} -gt 0 ] || die "compat needs kernels"
    run "$coretool" compat "${extra[@]}" --format json "${objects[@]}" --kernels "${kernels[@]}" >"$json"
    run "$coretool" compat "${extra[@]}" --format markdown "${objects[@]}" --kernels "${kernels[@]}" >>"$summary"
    # The relocations at their source lines, then the requirements the kernel lacks.
    jq -r 'select(.verdict == "fails" or .verdict == "loads-without")
        | .object as $o | (.kernel.release // .kernel.source) as $k
        | ([.failures[] | [$o, $k, .source // "",
                          "relocation #\(.index) \(.accessor) in \(.program): "
                          + (if .error then "error: \(.error)"
                             else "poisoned instruction reachable: the verifier rejects the program" end)]]
          + [(.requires.requirements // [])[] | select(.status == "missing")
             | [$o, $k, "", "\(.program // "object"): missing \(.kind) \(.name) (\(.stage)): \(.evidence)"]])
          as $rows
        | if ($rows | length) > 0 then $rows[]
          else [$o, $k, "", "\(.verdict): \(.reason // "see the job summary")"] end
        | @tsv' "$json" | annotate
    ;;
*) die "command: $cmd is neither dry-run nor compat" ;;
esac

if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "json=$json" >>"$GITHUB_OUTPUT"
fi
if [ $status -ne 0 ]; then
    echo "coretool $cmd: an object fails on a kernel (exit 1): see the job summary"
fi
exit $status
