#!/usr/bin/env bash
# Build a corpus of real kernel BTF from every kernel image package Debian's archive offers:
# the "fleet" that `coretool compat` and `coretool btfgen` are benchmarked and tested on.
#
# Usage: scripts/fetch-fleet.sh [--subset all|ci] [--suites S,S..] [--arches A,A..] [-j N]
#                               [--dest DIR] [--retry-failed] [--list]
#
#   --subset all   every kernel image package of every suite and architecture (the default;
#                  about 36 GB of downloads, of which only the BTF is kept: ~3 GB)
#   --subset ci    the small cross-architecture set CI uses: the amd64 5.10, 6.1 and 6.12
#                  kernels of scripts/fetch-kernels.sh (unpacked there, no download here) and
#                  the newest trixie kernel of arm64, ppc64el, s390x and riscv64 (4 packages)
#   --suites       only these suites (bullseye, bullseye-security, bookworm, bookworm-updates,
#                  bookworm-security, bookworm-backports, trixie, trixie-updates,
#                  trixie-security, trixie-backports, forky, sid, experimental)
#   --arches       only these Debian architectures (amd64, arm64, ppc64el, s390x, riscv64,
#                  loong64). i386, armhf, armel and mips64el kernels are built without
#                  CONFIG_DEBUG_INFO_BTF and are never fetched.
#   -j N           parallel downloads (default 4)
#   --dest DIR     where the corpus goes (default ${CORETOOL_FLEET:-~/.cache/coretool/fleet})
#   --retry-failed try again the packages an earlier run could not fetch or read
#   --list         print the corpus as it is (one BTF path per line), touch no network
#
# The archive is read through a PRIVATE apt configuration under DIR/apt (its own sources list,
# lists, package cache and an empty dpkg status: the system's apt sources and state are never
# read or written). Each package is downloaded straight from the pool, checked against the
# SHA256 of the signed index, and its kernel's raw BTF is extracted in memory by
# `coretool btf --btf PKG -o FILE` (which reads boot/vmlinuz-* or usr/lib/modules/*/vmlinuz
# out of the .deb); the package is then deleted. The corpus is laid out as BTFHub lays out
# its archive, so that `coretool compat --kernels DIR` names distribution and suite:
#
#   DIR/debian/<suite>/<arch>/<release>.btf     the kernel's raw BTF
#   DIR/debian/<suite>/<arch>/<release>.json    its manifest record (one JSON object)
#   DIR/manifest.jsonl                          every record, one per line
#   DIR/failures.tsv                            packages that could not be fetched or read,
#                                               with the reason (retried by --retry-failed)
#
# A record holds suite, deb_arch, flavour, package, version, url, size and sha256 of the
# package, the BTF's path and size, and under "kernel" what coretool read from the image:
# release, arch, endian, distro, version and the image format (the containers unwrapped, e.g.
# "deb member ./boot/vmlinuz-... > kernel image (xz) > ELF .BTF").
#
# The run is resumable: a kernel whose record exists is not fetched again. Mirrors sometimes
# answer 404 or a wrong size for a file their index lists (mirror sync); such a package is
# reported in failures.tsv and the run goes on. Progress goes to stderr; stdout gets one line
# per kernel in the corpus: its BTF path.
#
# Environment: CORETOOL (the coretool binary; default: coretool on PATH, else this checkout's
# target/release/coretool, built when missing), CORETOOL_DEBIAN_MIRROR (default
# http://deb.debian.org/debian; the security archive is "${mirror}-security"),
# CORETOOL_DEBIAN_KEYRING (default /usr/share/keyrings/debian-archive-keyring.gpg).
# Needs: apt-get, curl, sha256sum, and the Debian archive keyring.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dest=${CORETOOL_FLEET:-$HOME/.cache/coretool/fleet}
mirror=${CORETOOL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=${CORETOOL_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

all_suites=(bullseye bullseye-security bookworm bookworm-updates bookworm-security
    bookworm-backports trixie trixie-updates trixie-security trixie-backports forky sid
    experimental)
all_arches=(amd64 arm64 ppc64el s390x riscv64 loong64)

log() { echo "fetch-fleet: $*" >&2; }
die() {
    log "$*"
    exit 2
}

# One manifest record: the package's facts, then what coretool read from the image (its
# `btf -o FILE --json` output, whose "kernel" object is taken without its "source").
# Arguments: suite arch release package version url size sha256 coretool-json btf-bytes
record() {
    local flavour kernel
    flavour=$(sed -E 's/^([^-]|-[0-9])*-//' <<<"$3")
    kernel=$(sed -E 's/.*"kernel":\{"source":"[^"]*",/{/; s/\}$//' <<<"$9")
    printf '{"suite":"%s","deb_arch":"%s","flavour":"%s","package":"%s","version":"%s","url":"%s","size":%s,"sha256":"%s","btf":"debian/%s/%s/%s.btf","btf_bytes":%s,"kernel":%s}\n' \
        "$1" "$2" "$flavour" "$4" "$5" "$6" "${7:-null}" "$8" "$1" "$2" "$3" "${10}" "$kernel"
}

# ---- worker mode: fetch one package (called in parallel by the main run) -------------------
# Arguments: dest suite arch release package version url size sha256
if [[ ${1:-} == --fetch-one ]]; then
    shift
    d=$1 suite=$2 arch=$3 rel=$4 pkg=$5 ver=$6 url=$7 size=$8 sum=$9
    dir="$d/debian/$suite/$arch"
    mkdir -p "$dir" "$d/.partial"
    tmp=$(mktemp -d "$d/.partial/$rel.XXXXXX")
    # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
    trap "rm -rf '$tmp'" EXIT INT TERM
    fail() {
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$suite" "$arch" "$pkg" "$ver" "$url" "$*" >"$dir/$rel.failed"
        log "$suite/$arch $pkg $ver: $*"
        exit 0
    }
    if ! curl -fsS --retry 2 --retry-delay 3 -o "$tmp/pkg.deb" "$url" 2>"$tmp/err"; then
        fail "download failed: $(tr '\n' ' ' <"$tmp/err")"
    fi
    got=$(stat -c %s "$tmp/pkg.deb")
    [[ $got == "$size" ]] || fail "unexpected size $got, the index says $size (mirror sync?)"
    [[ $(sha256sum "$tmp/pkg.deb" | cut -d' ' -f1) == "$sum" ]] || fail "SHA256 differs from the index"
    if ! meta=$("$CORETOOL" btf --btf "$tmp/pkg.deb" -o "$tmp/k.btf" --json 2>"$tmp/err"); then
        fail "coretool: $(tr '\n' ' ' <"$tmp/err")"
    fi
    record "$suite" "$arch" "$rel" "$pkg" "$ver" "$url" "$size" "$sum" "$meta" "$(stat -c %s "$tmp/k.btf")" >"$tmp/k.json"
    mv "$tmp/k.btf" "$dir/$rel.btf"
    mv "$tmp/k.json" "$dir/$rel.json"
    rm -f "$dir/$rel.failed"
    log "$suite/$arch $rel: $(stat -c %s "$dir/$rel.btf") bytes of BTF"
    exit 0
fi

subset=all
jobs=4
retry_failed=0
list_only=0
suites=()
arches=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --subset)
        subset=${2:?--subset needs all or ci}
        shift
        ;;
    --suites)
        IFS=, read -ra suites <<<"${2:?--suites needs a list}"
        shift
        ;;
    --arches)
        IFS=, read -ra arches <<<"${2:?--arches needs a list}"
        shift
        ;;
    -j)
        jobs=${2:?-j needs a number}
        shift
        ;;
    --dest)
        dest=${2:?--dest needs a directory}
        shift
        ;;
    --retry-failed) retry_failed=1 ;;
    --list) list_only=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
        exit 0
        ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
done
[[ $subset == all || $subset == ci ]] || die "--subset is all or ci, not '$subset'"
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "-j needs a positive number, not '$jobs'"
for a in "${arches[@]}"; do
    case $a in
    amd64 | arm64 | ppc64el | s390x | riscv64 | loong64) ;;
    i386 | armhf | armel | mips64el) die "$a: Debian builds these kernels without BTF" ;;
    *) die "unknown architecture '$a'" ;;
    esac
done
for s in "${suites[@]}"; do
    [[ " ${all_suites[*]} " == *" $s "* ]] || die "unknown suite '$s'"
done

list_corpus() {
    [[ -d $dest/debian ]] || return 0
    find "$dest/debian" -name '*.btf' -type f | sort
}

if [[ $list_only == 1 ]]; then
    list_corpus
    exit 0
fi

if [[ -z ${CORETOOL:-} ]]; then
    if command -v coretool >/dev/null; then
        CORETOOL=$(command -v coretool)
    else
        CORETOOL="$here/../target/release/coretool"
        if [[ ! -x $CORETOOL ]]; then
            log "building coretool (cargo build --release)"
            (cd "$here/.." && cargo build --release --locked --quiet) >&2
        fi
    fi
fi
export CORETOOL
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

# ---- the ci subset --------------------------------------------------------------------------
if [[ $subset == ci ]]; then
    # amd64: the kernels scripts/fetch-kernels.sh keeps unpacked (it fetches them if needed).
    while read -r rel image; do
        suite=$(sed -n 's/^suite=//p' "$(dirname "$(dirname "$image")")/.coretool-kernel")
        out="$dest/debian/$suite/amd64/$rel"
        if [[ ! -f $out.json ]]; then
            mkdir -p "$(dirname "$out")"
            meta=$("$CORETOOL" btf --btf "$image" -o "$out.btf" --json)
            pkg=$(sed -n 's/^package=//p' "$(dirname "$(dirname "$image")")/.coretool-kernel")
            ver=$(sed -n 's/^version=//p' "$(dirname "$(dirname "$image")")/.coretool-kernel")
            record "$suite" amd64 "$rel" "$pkg" "$ver" "" "" "" "$meta" "$(stat -c %s "$out.btf")" >"$out.json"
            log "$suite/amd64 $rel: from $image"
        fi
    done < <("$here/fetch-kernels.sh")
    [[ ${#suites[@]} -gt 0 ]] || suites=(trixie)
    [[ ${#arches[@]} -gt 0 ]] || arches=(arm64 ppc64el s390x riscv64)
fi
[[ ${#suites[@]} -gt 0 ]] || suites=("${all_suites[@]}")
[[ ${#arches[@]} -gt 0 ]] || arches=("${all_arches[@]}")

# ---- the private apt configuration ------------------------------------------------------------
apt_dir="$dest/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/etc/parts"
: >"$apt_dir/status"
[[ -f $keyring ]] || die "Debian archive keyring $keyring missing (install debian-archive-keyring)"
archive_of() {
    case $1 in
    *-security) echo "${mirror}-security" ;;
    *) echo "$mirror" ;;
    esac
}
{
    for s in "${suites[@]}"; do
        echo "deb [signed-by=$keyring] $(archive_of "$s") $s main"
    done
} >"$apt_dir/etc/sources.list"
arch_list=$(
    IFS=,
    echo "${arches[*]}"
)
apt_opts=(
    -o "Dir::Etc::sourcelist=$apt_dir/etc/sources.list"
    -o "Dir::Etc::sourceparts=$apt_dir/etc/parts"
    -o "Dir::Etc::preferences=$apt_dir/etc/preferences"
    -o "Dir::Etc::preferencesparts=$apt_dir/etc/parts"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::State::status=$apt_dir/status"
    -o "Dir::Cache=$apt_dir/cache"
    -o "Dir::Cache::pkgcache=$apt_dir/cache/pkgcache.bin"
    -o "Dir::Cache::srcpkgcache=$apt_dir/cache/srcpkgcache.bin"
    -o "APT::Architecture=${arches[0]}"
    -o "APT::Architectures=$arch_list"
    -o "Acquire::Languages=none"
    -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
    -o "Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled=false"
)
# apt drops to the _apt user for downloads, which cannot write into a root-owned directory.
[[ $(id -u) == 0 ]] && apt_opts+=(-o "APT::Sandbox::User=root")
log "apt-get update: ${suites[*]} for ${arches[*]} (private config under $apt_dir)"
# One suite missing on the mirror (an archived one) is reported, not fatal.
apt-get "${apt_opts[@]}" -qq update >&2 || log "apt-get update reported errors; going on with the lists it got"

# ---- what the archive offers --------------------------------------------------------------------
# One line per kernel: suite arch release package version url size sha256. A release's
# kernel is in linux-image-REL[-unsigned] (up to 6.x) or linux-binary[-unsigned]-REL (7.x,
# where linux-image-REL is a small meta package); unsigned is preferred (the same kernel
# without the signature). Meta packages (linux-image-amd64), -dbg packages and packages of
# under 1 MiB are not kernels.
offers() {
    local f suite arch
    for f in "$apt_dir"/lists/*_Packages*; do
        [[ -f $f ]] || continue
        suite=$(sed -E 's/.*_dists_([^_]+)_main_binary-.*/\1/' <<<"$(basename "$f")")
        arch=$(sed -E 's/.*_binary-([^_]+)_Packages.*/\1/' <<<"$(basename "$f")")
        /usr/lib/apt/apt-helper cat-file "$f" | awk -v suite="$suite" -v arch="$arch" \
            -v base="$(archive_of "$suite")" '
            /^Package: /        { p = $2 }
            /^Version: /        { v = $2 }
            /^Installed-Size: / { isz = $2 }
            /^Filename: /       { fn = $2 }
            /^Size: /           { sz = $2 }
            /^SHA256: /         { sha = $2 }
            /^$/ {
                rel = ""; pref = 0
                if (p ~ /^linux-image-[0-9].*-unsigned$/) { rel = p; sub(/^linux-image-/, "", rel); sub(/-unsigned$/, "", rel); pref = 2 }
                else if (p ~ /^linux-image-[0-9]/ && p !~ /-dbg$/) { rel = p; sub(/^linux-image-/, "", rel); pref = 1 }
                else if (p ~ /^linux-binary-unsigned-[0-9]/) { rel = p; sub(/^linux-binary-unsigned-/, "", rel); pref = 2 }
                else if (p ~ /^linux-binary-[0-9]/) { rel = p; sub(/^linux-binary-/, "", rel); pref = 1 }
                if (rel != "" && isz + 0 >= 1024)
                    print pref, suite, arch, rel, p, v, base "/" fn, sz, sha
                p = v = isz = fn = sz = sha = ""
            }'
    done | sort -k2,2 -k3,3 -k4,4 -k1,1nr | awk '!seen[$2 " " $3 " " $4]++ { $1 = ""; sub(/^ /, ""); print }'
}

offered=$(offers)
[[ -n $offered ]] || die "no kernel packages found in ${suites[*]} for ${arches[*]} (is $mirror reachable?)"
todo=()
while read -r suite arch rel pkg ver url size sum; do
    dir="$dest/debian/$suite/$arch"
    [[ -f $dir/$rel.json && -f $dir/$rel.btf ]] && continue
    [[ -f $dir/$rel.failed && $retry_failed == 0 ]] && continue
    todo+=("$suite $arch $rel $pkg $ver $url $size $sum")
done <<<"$offered"
log "$(wc -l <<<"$offered") kernels offered, ${#todo[@]} to fetch, $jobs at a time"

if [[ $subset == ci ]]; then
    # The newest kernel of each architecture in its plainest flavour; when the mirror does
    # not have it (yet), the next older one.
    for a in "${arches[@]}"; do
        while read -r suite arch rel pkg ver url size sum; do
            [[ -n $rel ]] || continue
            if [[ ! -f $dest/debian/$suite/$arch/$rel.json ]]; then
                "$0" --fetch-one "$dest" "$suite" "$arch" "$rel" "$pkg" "$ver" "$url" "$size" "$sum"
            fi
            [[ -f $dest/debian/$suite/$arch/$rel.json ]] && break
        done < <(awk -v a="$a" '$2 == a && $3 !~ /(cloud|rt|16k|64k)(-|$)/' <<<"$offered" | sort -k3,3Vr)
    done
    todo=()
fi
if [[ ${#todo[@]} -gt 0 ]]; then
    printf '%s\n' "${todo[@]}" |
        xargs -P "$jobs" -L 1 bash -c '"$0" --fetch-one "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9"' "$0" "$dest"
fi
rm -rf "$dest/.partial"

# ---- the manifest and the failures ----------------------------------------------------------
find "$dest/debian" -name '*.json' -type f | sort | xargs -r cat >"$dest/manifest.jsonl.new"
mv "$dest/manifest.jsonl.new" "$dest/manifest.jsonl"
find "$dest/debian" -name '*.failed' -type f | sort | xargs -r cat >"$dest/failures.tsv.new"
mv "$dest/failures.tsv.new" "$dest/failures.tsv"
log "corpus: $(wc -l <"$dest/manifest.jsonl") kernels in $dest; $(wc -l <"$dest/failures.tsv") packages failed (failures.tsv)"
list_corpus
