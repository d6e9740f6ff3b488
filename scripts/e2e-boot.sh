#!/usr/bin/env bash
# End-to-end boot of a release's NoCloud seeds (issue: "NoCloud seeds").
#
# The Debian 12 guest of scripts/guest-image.sh (cloud-init, Docker; cached
# by its inputs) boots under QEMU (TCG; no KVM here) with its kernel given
# directly and no route out (-nic user,restrict=on):
#   1. from seed.iso, 2. from seed.img, 3. from a seed whose archive was
#   damaged (the install script must refuse it), 4. from an ISO holding
#   user-data but no meta-data, which cloud-init must ignore.
# A guest unit records cloud-init's status, sysctls, units and mounts after
# cloud-final, then powers off; the checks read the guest's disk with
# debugfs. The tracker itself is not started here (no registry in reach).
#
# usage: scripts/e2e-boot.sh        (as root; needs qemu-system-x86,
#        debootstrap, e2fsprogs, genisoimage, systemd-boot-efi, mtools:
#        scripts/install-test-deps.sh --e2e)
set -euo pipefail
export PATH="$HOME/.cargo/bin:/usr/sbin:/sbin:$PATH"

repo=$(cd "$(dirname "$0")/.." && pwd)
# One guest for every boot script: scripts/guest-image.sh's, cached where
# libvirt's QEMU can read it too (scripts/e2e-libvirt.sh boots the same one).
export TORRUST_BAKE_E2E_CACHE=${TORRUST_BAKE_E2E_CACHE:-/var/lib/libvirt/images/torrust-e2e/cache}
work=$(mktemp -d /var/tmp/torrust-bake-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
say() { echo "e2e-boot: $*" >&2; }
die() { echo "e2e-boot: FAIL: $*" >&2; exit 1; }

# The guest's recorder: runs once cloud-init is done, writes what the checks
# read, powers off.
recorder='#!/bin/sh
out=/var/log/e2e
mkdir -p "$out"
cloud-init status --long >"$out/status.txt" 2>&1; echo "rc=$?" >>"$out/status.txt"
sysctl -a >"$out/sysctl.txt" 2>/dev/null
for u in torrust-tracker.service torrust-rps-rfs.service docker.service; do
    echo "$u $(systemctl is-enabled "$u" 2>&1)" >>"$out/units.txt"
done
lsmod >"$out/lsmod.txt"
findmnt -n -o SOURCE,FSTYPE /var/lib/torrust >"$out/mount.txt" 2>&1 || true
blkid >"$out/blkid.txt" 2>&1 || true
ip -o -4 addr >"$out/addr.txt" 2>&1
cp /var/lib/cloud/data/result.json "$out/" 2>/dev/null || echo none >"$out/result.json"
cp /var/log/cloud-init-output.log "$out/" 2>/dev/null || true
journalctl -b --no-pager -u docker.service -u torrust-tracker.service >"$out/journal.txt" 2>&1 || true
sync
systemctl poweroff
'
recorder_unit='[Unit]
Description=torrust-bake e2e: record the first boot, then power off
After=cloud-final.service multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/e2e-record
[Install]
WantedBy=multi-user.target
'
# The shared guest's root, kernel and initrd (direct kernel boot: this
# script reads the disk back with debugfs), with the recorder written into a
# copy of its root by debugfs: no mount, no second debootstrap.
base=$("$repo/scripts/guest-image.sh")
image=${base%.qcow2}
[ -f "$image.ext4" ] && [ -f "$image.vmlinuz" ] && [ -f "$image.initrd" ] || die "$image.{ext4,vmlinuz,initrd} missing"
printf '%s' "$recorder" >"$work/e2e-record"
printf '%s' "$recorder_unit" >"$work/e2e-record.service"
cp --sparse=always "$image.ext4" "$work/guest.ext4"
debugfs -w -f - "$work/guest.ext4" >/dev/null 2>"$work/debugfs.log" <<EOF || { cat "$work/debugfs.log" >&2; die "debugfs could not add the recorder"; }
write $work/e2e-record /usr/local/sbin/e2e-record
sif /usr/local/sbin/e2e-record mode 0100755
write $work/e2e-record.service /etc/systemd/system/e2e-record.service
symlink /etc/systemd/system/multi-user.target.wants/e2e-record.service /etc/systemd/system/e2e-record.service
EOF

# The release under test: local, with a data volume and a static address
# (slirp's network) so that every branch of the install script runs.
project=$work/project
mkdir -p "$project"
cp -r "$repo/environments" "$repo/images" "$project/"
[ -d "$repo/templates" ] && cp -r "$repo/templates" "$project/"
bin=${TORRUST_BAKE_BIN:-$repo/target/release/torrust-bake}   # TORRUST_BAKE_BIN: a binary already built
[ -n "${TORRUST_BAKE_BIN:-}" ] || cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
INFRASTRUCTURE_DATA_VOLUME=torrust-data \
INFRASTRUCTURE_IPV4_ADDRESS=10.0.2.15/24 INFRASTRUCTURE_IPV4_GATEWAY=10.0.2.2 \
INFRASTRUCTURE_DNS_SERVERS=10.0.2.3 \
    "$bin" -C "$project" build local --json >"$work/build.json" 2>"$work/build.log" \
    || { cat "$work/build.log" >&2; die "build local failed"; }
release=$project/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["path"])' "$work/build.json")
version=$(basename "$release")
# network-config matches the NIC by this MAC (derived from the host name).
mac=$(grep -m1 -oE '([0-9a-f]{2}:){5}[0-9a-f]{2}' "$release/network-config" || true)
[ -n "$mac" ] || die "no macaddress in network-config"
say "release $version, NIC $mac"

# boot NAME SEED_ARGS... : boots a fresh copy of the guest; leaves $work/NAME.disk
boot() {
    local name=$1; shift
    cp --sparse=always "$work/guest.ext4" "$work/$name.disk"
    truncate -s 1G "$work/$name.data"
    local started=$SECONDS
    timeout 900 qemu-system-x86_64 -accel tcg -cpu max -m 1536 -smp 2 \
        -display none -no-reboot -serial "file:$work/$name.console" \
        -kernel "$image.vmlinuz" -initrd "$image.initrd" \
        -append "root=LABEL=rootfs rw console=ttyS0" \
        -drive "file=$work/$name.disk,format=raw,if=virtio" \
        -drive "id=data,file=$work/$name.data,format=raw,if=none" \
        -device virtio-blk-pci,drive=data,serial=torrust-data \
        -nic "user,restrict=on,model=virtio-net-pci,mac=$mac" \
        "$@" || { tail -40 "$work/$name.console" >&2; die "$name: qemu failed or timed out"; }
    say "$name: guest booted, ran cloud-init and powered off in $((SECONDS - started)) s"
}

guest_cat() { debugfs -R "cat $2" "$work/$1.disk" 2>/dev/null; }
guest_stat() { debugfs -R "stat $2" "$work/$1.disk" 2>/dev/null; }

check_release() {
    local name=$1
    guest_cat "$name" /var/log/e2e/status.txt >"$work/$name.status"
    grep -q '^status: done' "$work/$name.status" \
        || { cat "$work/$name.status" >&2; guest_cat "$name" /var/log/e2e/cloud-init-output.log | tail -40 >&2;
             guest_cat "$name" /var/log/e2e/journal.txt | tail -30 >&2; die "$name: cloud-init did not finish cleanly"; }
    guest_cat "$name" /var/log/e2e/result.json >"$work/$name.result"
    python3 - "$work/$name.result" "$name" <<'EOF' || die "$name: cloud-init reported errors"
import json, sys
r = json.load(open(sys.argv[1]))["v1"]
if r["errors"]:
    sys.exit("%s: cloud-init errors: %s" % (sys.argv[2], r["errors"]))
if "NoCloud" not in (r.get("datasource") or ""):
    sys.exit("%s: datasource is %r, not NoCloud" % (sys.argv[2], r.get("datasource")))
EOF
    # Every bundle file in place with the manifest's mode and owner and its sha256.
    local n=0 path mode owner sha got_mode got_sum
    while IFS=' ' read -r path mode owner sha; do
        guest_stat "$name" "/$path" >"$work/stat" || die "$name: /$path missing"
        got_mode=$(sed -n 's/.*Mode: *\([0-7]*\).*/\1/p' "$work/stat" | head -1)
        [ "$((8#$got_mode))" = "$((8#$mode))" ] || die "$name: /$path mode $got_mode, manifest $mode"
        grep -q "User: *${owner%%:*} *Group: *${owner##*:}" "$work/stat" || die "$name: /$path not owned by $owner"
        got_sum=$(guest_cat "$name" "/$path" | sha256sum | cut -d' ' -f1)
        [ "$got_sum" = "$sha" ] || die "$name: /$path sha256 differs from the manifest"
        n=$((n + 1))
    done < <(python3 -c '
import json, sys
# Plain SHA-256 of every file: the two checksum lists (the manifest keys
# the digests of secret-bearing files).
sums = {}
for name in ("SHA256SUMS", "SHA256SUMS.secret"):
    for line in open(sys.argv[1] + "/" + name):
        s, p = line.rstrip("\n").split("  ", 1)
        sums[p] = s
for f in json.load(open(sys.argv[1] + "/manifest.json"))["files"]:
    print(f["path"], f["mode"], f["owner"], sums["bundle/" + f["path"]])' "$release")
    say "$name: $n bundle files in place with the manifest's mode, owner and sha256"
    # Live sysctls equal the release's sysctl.d file.
    guest_cat "$name" /var/log/e2e/sysctl.txt >"$work/$name.sysctl"
    local k v live m=0
    while IFS='=' read -r k v; do
        k=$(echo "$k" | xargs); v=$(echo "$v" | xargs)
        case "$k" in ''|\#*) continue ;; esac
        live=$(grep -m1 "^$k = " "$work/$name.sysctl" | sed 's/^[^=]*= //' | xargs)
        [ "$live" = "$v" ] || die "$name: sysctl $k is '$live', release says '$v'"
        m=$((m + 1))
    done <"$release/bundle/etc/sysctl.d/60-torrust-tracker.conf"
    say "$name: $m sysctl values live"
    guest_cat "$name" /var/log/e2e/units.txt >"$work/$name.units"
    grep -q '^torrust-tracker.service enabled' "$work/$name.units" || { cat "$work/$name.units" >&2; die "$name: torrust-tracker.service not enabled"; }
    grep -q '^torrust-rps-rfs.service enabled' "$work/$name.units" || die "$name: torrust-rps-rfs.service not enabled"
    guest_cat "$name" /var/log/e2e/lsmod.txt | grep -q '^nf_conntrack ' || die "$name: nf_conntrack not loaded"
    guest_cat "$name" /var/log/e2e/mount.txt | grep -q 'ext4' || die "$name: data volume not mounted on /var/lib/torrust"
    guest_cat "$name" /var/log/e2e/blkid.txt | grep -q 'LABEL="torrust-data"' || die "$name: data volume not labelled torrust-data"
    guest_cat "$name" /var/log/e2e/addr.txt | grep -q '10.0.2.15/24' || die "$name: static address from network-config not applied"
    guest_cat "$name" /var/lib/cloud/data/instance-id | grep -q "^torrust-local-$version\$\|-$version\$" || die "$name: instance-id does not carry the release version"
    say "$name: ok (unit enabled, nf_conntrack loaded, data volume formatted and mounted by label, static address up)"
}

# E2E_BOOTS="iso img tamper nometa" (the default) picks the boots to run.
want() { case " ${E2E_BOOTS:-iso img tamper nometa} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if want iso; then
    boot iso -drive "file=$release/seed.iso,media=cdrom,readonly=on"
    check_release iso
fi
if want img; then
    boot img -drive "file=$release/seed.img,format=raw,if=virtio,readonly=on"
    check_release img
fi

# A damaged seed: one base64 character of the archive changed (still valid
# base64, so cloud-init writes it): the install script must refuse it, say
# so on the console, and start nothing.
if want tamper; then
    mkdir -p "$work/tamper"
    cp "$release/meta-data" "$work/tamper/"
    python3 - "$release/user-data" "$work/tamper/user-data" <<'EOF'
import sys
text = open(sys.argv[1]).read()
at = text.index("content: ", text.index("bundle.tar.gz")) + len("content: ") + 200
flipped = "B" if text[at] != "B" else "C"
open(sys.argv[2], "w").write(text[:at] + flipped + text[at + 1:])
EOF
    genisoimage -quiet -output "$work/tamper.iso" -volid cidata -joliet -rock "$work/tamper/user-data" "$work/tamper/meta-data"
    boot tamper -drive "file=$work/tamper.iso,media=cdrom,readonly=on"
    grep -q "torrust-bake: FAILED: bundle.tar.gz does not match its checksum" "$work/tamper.console" \
        || die "tamper: no checksum failure on the console"
    guest_cat tamper /var/log/e2e/units.txt | grep -q '^torrust-tracker.service enabled' \
        && die "tamper: the unit was enabled from a damaged seed"
    guest_cat tamper /var/log/e2e/status.txt | grep -q '^status: error' \
        || die "tamper: cloud-init did not report the failure"
    say "tamper: damaged archive refused with a message on the console; nothing enabled"
fi

# A seed without meta-data: cloud-init must not use it.
if want nometa; then
    mkdir -p "$work/nometa"
    cp "$release/user-data" "$work/nometa/"
    genisoimage -quiet -output "$work/nometa.iso" -volid cidata -joliet -rock "$work/nometa/user-data"
    boot nometa -drive "file=$work/nometa.iso,media=cdrom,readonly=on"
    guest_cat nometa /var/log/e2e/status.txt >"$work/nometa.status"
    grep -q '^rc=' "$work/nometa.status" || die "nometa: the guest did not record its boot"
    say "nometa: cloud-init $(grep -m1 '^status:' "$work/nometa.status" || echo 'status: ?')"
    if guest_stat nometa /usr/local/sbin/torrust-bake-install | grep -q 'Inode:'; then
        die "nometa: cloud-init ran a seed that has no meta-data"
    fi
    guest_cat nometa /var/log/e2e/result.json | grep -q NoCloud && die "nometa: NoCloud datasource used without meta-data"
    say "nometa: seed without meta-data ignored, as it must be"
fi
say "all boots passed for release $version"
