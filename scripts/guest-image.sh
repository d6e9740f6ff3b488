#!/usr/bin/env bash
# Builds (or reuses) a Debian 12 guest disk that boots like a cloud image:
# GPT, an EFI system partition holding systemd-boot + kernel + initrd, an
# ext4 root labelled rootfs, cloud-init (NoCloud), Docker, and logind+dbus so
# an ACPI power button (`virsh shutdown`) powers it off. No mounts and no
# loop devices (partition scanning does not work on these machines): the
# root is made with `mke2fs -d`, the ESP with mkfs.vfat + mtools, both written
# into the disk with dd. Cached under $TORRUST_BAKE_E2E_CACHE by a hash of
# its inputs (packages, files written, sizes, mirror, systemd-boot's binary,
# a recipe number to bump when a step changes); a half-made image never
# counts (tmp + rename, under a lock). Prints the cached qcow2's path; the
# root (.ext4), kernel (.vmlinuz) and initrd (.initrd) stay beside it.
#
# usage: scripts/guest-image.sh   (as root; needs debootstrap, e2fsprogs,
#        fdisk, dosfstools, mtools, qemu-utils, systemd-boot-efi)
set -euo pipefail
export PATH="/usr/sbin:/sbin:$PATH"
say() { echo "guest-image: $*" >&2; }
die() { echo "guest-image: FAIL: $*" >&2; exit 1; }

cache=${TORRUST_BAKE_E2E_CACHE:-$HOME/.cache/torrust-bake-e2e}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
sdboot=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
[ -f "$sdboot" ] || die "$sdboot missing (apt-get install systemd-boot-efi)"
for t in debootstrap mke2fs sfdisk mkfs.vfat mcopy qemu-img; do
    command -v "$t" >/dev/null || die "$t missing"
done

# logind (in systemd) + dbus turn the ACPI power button into a poweroff;
# apparmor lets Docker start containers; ifupdown renders network-config v2;
# nftables loads the release's firewall; restic and ssh make the backups
# (install.sh would apt-get them; this guest has no route out).
packages=linux-image-amd64,systemd-sysv,udev,dbus,kmod,procps,iproute2,ifupdown,isc-dhcp-client,e2fsprogs,cloud-init,python3-cffi-backend,docker.io,docker-compose,apparmor,ca-certificates,nftables,restic,openssh-client
esp_mib=128 root_mib=4096
recipe=1   # bump when a step below changes what the image holds
fstab='LABEL=rootfs / ext4 defaults 0 1'
cloud_cfg='datasource_list: [ NoCloud, None ]'
loader_conf=$'default debian.conf\ntimeout 0'
entry=$'title Debian 12\nlinux /vmlinuz\ninitrd /initrd.img\noptions root=LABEL=rootfs rw console=tty0 console=ttyS0'
key=$( { printf '%s\n' "$recipe" "$packages" "$esp_mib" "$root_mib" "$fstab" "$cloud_cfg" \
    "$loader_conf" "$entry" "$mirror"; sha256sum <"$sdboot"; } | sha256sum | cut -c1-16)
image=$cache/guest-$key
mkdir -p "$cache"

exec 9>"$cache/guest.lock"
flock 9
if [ -f "$image.qcow2" ]; then echo "$image.qcow2"; exit 0; fi

work=$(mktemp -d /var/tmp/torrust-bake-guest.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
say "debootstrap into $root (a few minutes)"
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
echo "$fstab" >"$root/etc/fstab"
echo torrust-guest >"$root/etc/hostname"
echo "$cloud_cfg" >"$root/etc/cloud/cloud.cfg.d/90_torrust.cfg"
rm -f "$root/etc/machine-id" "$root/var/lib/dbus/machine-id" && touch "$root/etc/machine-id"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

# Guests made from other inputs are stale: keep only this one.
find "$cache" -maxdepth 1 -name 'guest-*' ! -name "guest-$key.*" -delete
cp "$root"/boot/vmlinuz-* "$work/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/initrd"
mke2fs -q -t ext4 -L rootfs -d "$root" "$work/root.ext4" "${root_mib}M" >/dev/null

# The ESP: systemd-boot as the removable-media loader, one entry, no menu.
esp=$work/esp.vfat
mkfs.vfat -F 32 -n ESP -C "$esp" $((esp_mib * 1024)) >/dev/null
echo "$loader_conf" >"$work/loader.conf"
echo "$entry" >"$work/debian.conf"
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
mcopy -i "$esp" "$sdboot" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$esp" "$work/vmlinuz" ::/vmlinuz
mcopy -i "$esp" "$work/initrd" ::/initrd.img
mcopy -i "$esp" "$work/loader.conf" ::/loader/loader.conf
mcopy -i "$esp" "$work/debian.conf" ::/loader/entries/debian.conf

# GPT: ESP at 1 MiB, root right after it, 1 MiB spare for the backup table.
disk=$work/disk.raw
truncate -s $((1 + esp_mib + root_mib + 1))M "$disk"
printf 'label: gpt\nstart=1MiB, size=%sMiB, type=U, name=ESP\nstart=%sMiB, size=%sMiB, type=L, name=rootfs\n' \
    "$esp_mib" $((1 + esp_mib)) "$root_mib" | sfdisk -q "$disk"
dd if="$esp" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/root.ext4" of="$disk" bs=1M seek=$((1 + esp_mib)) conv=notrunc,sparse status=none
qemu-img convert -O qcow2 "$disk" "$work/disk.qcow2"

for f in ext4:root.ext4 vmlinuz:vmlinuz initrd:initrd qcow2:disk.qcow2; do
    mv "$work/${f#*:}" "$image.${f%%:*}.tmp" && mv "$image.${f%%:*}.tmp" "$image.${f%%:*}"
done
say "made $image.qcow2 ($(du -h "$image.qcow2" | cut -f1) allocated)"
echo "$image.qcow2"
