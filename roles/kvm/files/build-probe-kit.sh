#!/bin/sh
# Build the accelerator boot-probe kit: a distribution kernel and a tiny busybox initrd
# whose /init prints a marker on the serial console and powers the machine off.
#
# usage: build-probe-kit.sh DIR KERNEL_PACKAGE BUSYBOX_PACKAGE MARKER
#   DIR              output directory: DIR/vmlinuz and DIR/initrd.img (+ DIR/kit.txt)
#   KERNEL_PACKAGE   Debian package with the kernel (a metapackage such as
#                    linux-image-amd64 is resolved to the versioned image package)
#   BUSYBOX_PACKAGE  package with a static busybox (busybox-static)
#   MARKER           text the probe guest prints once it runs user space
#
# Packages are fetched with `apt-get download` from the host's own apt sources and
# unpacked with dpkg-deb into DIR; nothing is installed on the host.
set -eu

dir=$1
kernel_pkg=$2
busybox_pkg=$3
marker=$4

mkdir -p "$dir"
work=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cd "$work"

# Resolve a metapackage (linux-image-amd64 -> linux-image-6.1.0-NN-amd64).
resolve() {
    pkg=$1
    dep=$(apt-cache depends --no-recommends --no-suggests "$pkg" 2>/dev/null |
        awk '/^ *Depends: linux-image-/ {print $2; exit}')
    if [ -n "$dep" ]; then echo "$dep"; else echo "$pkg"; fi
}

kpkg=$(resolve "$kernel_pkg")
apt-get download -q "$kpkg" "$busybox_pkg" >/dev/null

mkdir -p kernel bb initrd/bin
dpkg-deb -x ./"$kpkg"_*.deb kernel
dpkg-deb -x ./"$busybox_pkg"_*.deb bb

vmlinuz=$(find kernel/boot -name 'vmlinuz-*' -type f | head -n 1)
[ -n "$vmlinuz" ] || { echo "no vmlinuz in $kpkg" >&2; exit 1; }
cp "$vmlinuz" vmlinuz
cp bb/bin/busybox initrd/bin/busybox

cat >initrd/init <<EOF
#!/bin/busybox sh
/bin/busybox mkdir -p /proc
/bin/busybox mount -t proc proc /proc
/bin/busybox echo "$marker \$(/bin/busybox cat /proc/sys/kernel/osrelease) cpus=\$(/bin/busybox grep -c ^processor /proc/cpuinfo)"
/bin/busybox grep -m1 'model name' /proc/cpuinfo
/bin/busybox poweroff -f
EOF
chmod 0755 initrd/init initrd/bin/busybox

(cd initrd && find . | cpio -o -H newc --quiet) | gzip -1 >initrd.img

mv vmlinuz "$dir/vmlinuz"
mv initrd.img "$dir/initrd.img"
printf 'kernel_package=%s\nbusybox_package=%s\nvmlinuz=%s\n' \
    "$kpkg" "$busybox_pkg" "$(basename "$vmlinuz")" >"$dir/kit.txt"
echo "probe kit: $kpkg, $busybox_pkg"
