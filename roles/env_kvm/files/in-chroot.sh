#!/bin/sh
# Run a command inside a root file system with /proc, /sys and /dev mounted, in a private
# mount namespace: the mounts exist only for this command and vanish with it, so nothing
# is left mounted under ROOT (and removing ROOT afterwards can never reach the host's /dev).
#
# usage: in-chroot.sh ROOT COMMAND [ARG...]
set -eu
root=$1
shift
exec unshare --mount --propagation private -- sh -euc '
    root=$1; shift
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --rbind /dev "$root/dev"
    exec chroot "$root" "$@"
' in-chroot "$root" "$@"
