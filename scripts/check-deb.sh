#!/usr/bin/env bash
# CI's check of the .deb `cargo xtask dist --deb` builds: install it (dpkg -i), run `coretool
# check-btf` from PATH, check the man page and completions landed where Debian looks for
# them, then remove it (also on failure). Needs root. Usage: scripts/check-deb.sh DEB
set -euo pipefail
deb=$1
[ "$(id -u)" = 0 ] || { echo "check-deb: needs root" >&2; exit 2; }
if dpkg -s coretool >/dev/null 2>&1; then
    echo "check-deb: a coretool package is already installed; not touching it" >&2
    exit 2
fi
trap 'dpkg -r coretool >/dev/null 2>&1 || true' EXIT
dpkg -i "$deb" >/dev/null
[ "$(command -v coretool)" = /usr/bin/coretool ] || { echo "check-deb: coretool is not /usr/bin/coretool on PATH" >&2; exit 1; }
for f in /usr/share/man/man1/coretool.1.gz /usr/share/man/man1/coretool-check-btf.1.gz \
    /usr/share/bash-completion/completions/coretool /usr/share/zsh/vendor-completions/_coretool \
    /usr/share/fish/vendor_completions.d/coretool.fish; do
    [ -s "$f" ] || { echo "check-deb: $f missing after dpkg -i" >&2; exit 1; }
done
# From PATH, in a clean environment, as an installed tool runs.
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin coretool check-btf
dpkg -r coretool >/dev/null
trap - EXIT
! command -v coretool >/dev/null || { echo "check-deb: coretool still on PATH after dpkg -r" >&2; exit 1; }
echo "check-deb: $deb installs, runs check-btf from PATH and removes cleanly"
