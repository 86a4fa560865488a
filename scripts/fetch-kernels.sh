#!/usr/bin/env bash
# Download and unpack Debian kernel packages for coretool's kernel tests and kernel matrix.
#
# Usage: scripts/fetch-kernels.sh [--refresh] [SERIES...]
#
#   SERIES      kernel series to fetch: 5.10 (bullseye), 6.1 and 6.12 (bookworm);
#               default: all three
#   --refresh   look the newest package up again even when the series is already cached
#   --list      print what is cached, touch no network
#   --fleet ... every kernel Debian's archive offers, as raw BTF with a manifest: the
#               corpus for `coretool compat` and `btfgen` (scripts/fetch-fleet.sh; the
#               arguments after --fleet are its own, e.g. --fleet --subset ci)
#
# For each series the newest `linux-image-<series>.*-amd64-unsigned` package in the suite's
# archive (main, -updates, -security, and -backports for bookworm) is fetched with
# `apt-get download` through a PRIVATE apt configuration under the cache (own sources list,
# lists and package cache); the system's apt sources and state are never read or written, and
# root is not needed. The package is unpacked with `dpkg-deb -x` into
#
#   ${CORETOOL_KERNEL_CACHE:-$HOME/.cache/coretool/kernels}/<release>/boot/vmlinuz-<release>
#   ${CORETOOL_KERNEL_CACHE:-$HOME/.cache/coretool/kernels}/<release>/lib/modules/<release>/
#
# and a stamp file `<release>/.coretool-kernel` records series, package and version. The script
# is idempotent: a series already in the cache is not looked up again (no network) unless
# --refresh is given. It prints one line per kernel on stdout: `<release> <vmlinuz path>`;
# progress goes to stderr.
#
# Environment: CORETOOL_KERNEL_CACHE (cache directory), CORETOOL_DEBIAN_MIRROR (default
# http://deb.debian.org/debian; the security archive is "${mirror}-security"),
# CORETOOL_DEBIAN_KEYRING (default /usr/share/keyrings/debian-archive-keyring.gpg).
# Needs: apt-get, apt-cache, dpkg-deb, and the Debian archive keyring (package
# debian-archive-keyring, also available on Ubuntu).
set -euo pipefail

cache=${CORETOOL_KERNEL_CACHE:-$HOME/.cache/coretool/kernels}
mirror=${CORETOOL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=${CORETOOL_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

if [[ ${1:-} == --fleet ]]; then
    shift
    exec "$(dirname "$0")/fetch-fleet.sh" "$@"
fi

refresh=0
list_only=0
series=()
for arg in "$@"; do
    case $arg in
    --refresh) refresh=1 ;;
    --list) list_only=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
        exit 0
        ;;
    5.10 | 6.1 | 6.12) series+=("$arg") ;;
    *)
        echo "fetch-kernels: unknown argument '$arg' (series: 5.10, 6.1, 6.12)" >&2
        exit 2
        ;;
    esac
done
[[ ${#series[@]} -gt 0 ]] || series=(5.10 6.1 6.12)

log() { echo "fetch-kernels: $*" >&2; }
die() {
    log "$*"
    exit 2
}

suite_of() {
    case $1 in
    5.10) echo bullseye ;;
    6.1 | 6.12) echo bookworm ;;
    esac
}

# The cached kernel of a series: prints its release, or nothing.
cached_release() {
    local stamp
    for stamp in "$cache"/*/.coretool-kernel; do
        [[ -f $stamp ]] || continue
        if grep -qx "series=$1" "$stamp"; then
            sed -n 's/^release=//p' "$stamp"
            return
        fi
    done
}

print_kernel() {
    echo "$1 $cache/$1/boot/vmlinuz-$1"
}

if [[ $list_only == 1 ]]; then
    for s in "${series[@]}"; do
        rel=$(cached_release "$s")
        if [[ -n $rel ]]; then print_kernel "$rel"; else log "$s: not cached"; fi
    done
    exit 0
fi

for tool in apt-get apt-cache dpkg-deb; do
    command -v "$tool" >/dev/null || die "$tool not found (this script needs Debian's or Ubuntu's apt and dpkg)"
done

# A private apt configuration for one suite: its own sources list, lists, package cache and an
# empty dpkg status, so nothing on the system is read or changed.
apt_opts=()
setup_apt() {
    local suite=$1 dir="$cache/apt/$1"
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/etc/parts"
    : >"$dir/status"
    local src="$dir/etc/sources.list"
    {
        echo "deb [signed-by=$keyring] $mirror $suite main"
        echo "deb [signed-by=$keyring] $mirror $suite-updates main"
        echo "deb [signed-by=$keyring] ${mirror}-security $suite-security main"
        if [[ $suite == bookworm ]]; then
            echo "deb [signed-by=$keyring] $mirror $suite-backports main"
        fi
    } >"$src.new"
    mv "$src.new" "$src"
    apt_opts=(
        -o "Dir::Etc::sourcelist=$src"
        -o "Dir::Etc::sourceparts=$dir/etc/parts"
        -o "Dir::Etc::preferences=$dir/etc/preferences"
        -o "Dir::Etc::preferencesparts=$dir/etc/parts"
        -o "Dir::State::Lists=$dir/lists"
        -o "Dir::State::status=$dir/status"
        -o "Dir::Cache=$dir/cache"
        -o "APT::Architecture=amd64"
        -o "APT::Architectures=amd64"
        -o "Acquire::Languages=none"
    )
    # apt drops to the _apt user for downloads, which cannot write into a root-owned cache.
    [[ $(id -u) == 0 ]] && apt_opts+=(-o "APT::Sandbox::User=root")
    return 0
}

declare -A updated=()
apt_update() {
    local suite=$1
    setup_apt "$suite"
    [[ -n ${updated[$suite]:-} ]] && return 0
    [[ -f $keyring ]] || die "Debian archive keyring $keyring missing (install debian-archive-keyring)"
    log "$suite: apt-get update (private config under $cache/apt/$suite)"
    apt-get "${apt_opts[@]}" -qq update >&2 || die "$suite: apt-get update failed (is $mirror reachable?)"
    updated[$suite]=1
}

fetch_series() {
    local s=$1 suite pkg version rel tmp deb
    suite=$(suite_of "$s")
    apt_update "$suite"
    local re="^linux-image-${s//./\\.}\\.[0-9]+(-[0-9]+|\\+deb[0-9]+)-amd64-unsigned\$"
    pkg=$(apt-cache "${apt_opts[@]}" search --names-only "$re" | cut -d' ' -f1 | sort -V | tail -n1)
    [[ -n $pkg ]] || die "$s: no package matching $re in $suite"
    version=$(apt-cache "${apt_opts[@]}" policy "$pkg" | sed -n 's/^  Candidate: //p')
    rel=${pkg#linux-image-}
    rel=${rel%-unsigned}
    if [[ -f $cache/$rel/.coretool-kernel ]] && grep -qx "version=$version" "$cache/$rel/.coretool-kernel"; then
        log "$s: $pkg $version already cached"
        print_kernel "$rel"
        return
    fi
    log "$s: downloading $pkg $version from $suite"
    tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
    # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
    trap "rm -rf '$tmp'" EXIT
    (cd "$tmp" && apt-get "${apt_opts[@]}" -qq download "$pkg=$version" >&2) ||
        die "$s: apt-get download $pkg=$version failed"
    deb=$(ls "$tmp"/*.deb)
    mkdir "$tmp/root"
    dpkg-deb -x "$deb" "$tmp/root"
    [[ -f $tmp/root/boot/vmlinuz-$rel ]] || die "$s: $pkg has no boot/vmlinuz-$rel"
    [[ -d $tmp/root/lib/modules/$rel ]] || die "$s: $pkg has no lib/modules/$rel"
    {
        echo "series=$s"
        echo "release=$rel"
        echo "package=$pkg"
        echo "version=$version"
        echo "suite=$suite"
        echo "sha256=$(sha256sum "$deb" | cut -d' ' -f1)"
    } >"$tmp/root/.coretool-kernel"
    # Drop older kernels of the same series, then move the new one into place in one rename.
    local old
    old=$(cached_release "$s")
    [[ -n $old ]] && rm -rf "${cache:?}/$old"
    rm -rf "${cache:?}/$rel"
    mv "$tmp/root" "$cache/$rel"
    rm -rf "$tmp"
    trap - EXIT
    log "$s: unpacked $pkg $version into $cache/$rel"
    print_kernel "$rel"
}

mkdir -p "$cache"
for s in "${series[@]}"; do
    rel=$(cached_release "$s")
    if [[ -n $rel && $refresh == 0 ]]; then
        log "$s: using cached $rel (--refresh to look for a newer package)"
        print_kernel "$rel"
        continue
    fi
    fetch_series "$s"
done
