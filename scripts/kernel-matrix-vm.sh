#!/usr/bin/env bash
# Boot one kernel under virtme-ng and run a command in it: the VM part of `cargo xtask
# kernel-matrix` (docs/ci.md), which prepares the run, reads what the guest wrote and judges it.
# Not meant to be run by hand.
#
# Usage: scripts/kernel-matrix-vm.sh DIR VMLINUZ TIMEOUT kvm|no-kvm verbose|quiet -- COMMAND...
#
#   DIR      the kernel's results directory: the guest writes only into DIR/guest (its
#            --rwdir); this script writes DIR/console.log and DIR/vng.rc (vng's exit status)
#   VMLINUZ  the kernel; its modules next to it (<dir>/boot/vmlinuz-REL and
#            <dir>/lib/modules/REL, as fetch-kernels.sh caches them), its /boot is <dir>/boot
#   TIMEOUT  seconds before the VM is killed (vng.rc is then 124, or 137 after a KILL)
#   COMMAND  what to run in the guest (scripts/kernel-matrix-guest.sh ...), run by bash
#
# Environment: VNG (virtme-ng's command, default vng).
set -euo pipefail

[[ $# -ge 7 && $6 == -- ]] || {
    echo "usage: $0 DIR VMLINUZ TIMEOUT kvm|no-kvm verbose|quiet -- COMMAND..." >&2
    exit 2
}
dir=$1 vmlinuz=$2 timeout=$3 kvm=$4 verbose=$5
shift 6

kvm_opt=(--disable-kvm)
[[ $kvm == kvm ]] && kvm_opt=()
cmd=$(printf '%q ' bash "$@")

# The guest sees the host's / read-only over 9p (--force-9p: no virtiofsd needed) and writes
# only into its --rwdir. Its /boot is the kernel package's, so check-btf finds the config. The
# commands' output goes to the console (--verbose): without udev in the guest, virtme-ng-init
# finds no virtio-serial ports for the script's stdout, and vng's own exit status is then 255.
# The guest script's `done` file says whether it finished.
{
    rc=0
    timeout --kill-after=10 "$timeout" "${VNG:-vng}" --run "$vmlinuz" "${kvm_opt[@]}" --force-9p \
        --verbose --rwdir "$dir/guest" --rodir "/boot=$(dirname "$vmlinuz")" --cwd "$PWD" \
        --exec "$cmd" </dev/null 2>&1 || rc=$?
    echo "$rc" >"$dir/vng.rc"
} | if [[ $verbose == verbose ]]; then tee "$dir/console.log" >&2; else cat >"$dir/console.log"; fi
