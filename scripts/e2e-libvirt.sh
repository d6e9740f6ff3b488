#!/usr/bin/env bash
# End-to-end boot through `torrust-bake libvirt up` on a real libvirtd
# (issue "libvirt"). Nothing leaves this machine: libvirtd runs in a network
# namespace whose only network is isolated (scripts/libvirt-host.sh), and the
# guest (scripts/guest-image.sh: a Debian 12 UEFI disk that boots like a
# cloud image) has every package it needs baked in.
#
#   1. build local; `libvirt up local` (UEFI, TCG); wait for cloud-init's
#      final message on the console (bounded); the install script said the
#      files are in place and the release is installed, and formatted the
#      data disk (first use); `libvirt status` shows the domain, its
#      release, state and DHCP address;
#   2. `libvirt down local` (graceful: the guest powers off on ACPI);
#      a marker file is written onto the data disk with debugfs;
#   3. `libvirt up local` again: the same data disk, not formatted again;
#      `libvirt down local --shutdown-timeout 0s` (forced); the marker and
#      the guest's own files are still on the data disk;
#   4. `libvirt down local --purge` deletes the data disk;
#   5. the same seed under raw QEMU (direct kernel boot, no firmware) on the
#      same guest, for the ratio (E2E_RAW=0 skips it).
# Prints domain start -> kernel -> cloud-init done for each boot.
#
# usage: scripts/e2e-libvirt.sh   (as root; scripts/install-test-deps.sh --e2e)
set -euo pipefail
export PATH="$HOME/.cargo/bin:/usr/sbin:/sbin:$PATH"
repo=$(cd "$(dirname "$0")/.." && pwd)
# libvirt's QEMU user must read the images: not under /root.
export TORRUST_BAKE_E2E_CACHE=${TORRUST_BAKE_E2E_CACHE:-/var/lib/libvirt/images/torrust-e2e/cache}
boot_timeout=${E2E_BOOT_TIMEOUT:-900}
say() { echo "e2e-libvirt: $*" >&2; }
die() { echo "e2e-libvirt: FAIL: $*" >&2; exit 1; }

work=$(mktemp -d /var/tmp/torrust-bake-e2e-libvirt.XXXXXX)
storage=/var/lib/libvirt/images/torrust-e2e/run-$$
bin=${TORRUST_BAKE_BIN:-$repo/target/release/torrust-bake}   # TORRUST_BAKE_BIN: a binary already built
project=$work/project
cleanup() {
    local rc=$?
    if [ -x "$bin" ] && [ -d "$project" ]; then
        "$bin" -C "$project" libvirt down local --purge --shutdown-timeout 0s >/dev/null 2>&1 || true
    fi
    [ -n "${raw_pid:-}" ] && kill "$raw_pid" 2>/dev/null || true
    "$repo/scripts/libvirt-host.sh" stop || true
    rm -rf "$work" "$storage"
    exit $rc
}
trap cleanup EXIT

"$repo/scripts/libvirt-host.sh" start
eval "$("$repo/scripts/libvirt-host.sh" env)"
base=$("$repo/scripts/guest-image.sh")
mkdir -p "$storage" && chmod 0711 "$storage"

[ -n "${TORRUST_BAKE_BIN:-}" ] || cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
mkdir -p "$project"
cp -r "$repo/environments" "$repo/images" "$repo/templates" "$project/"
bake() { "$bin" -C "$project" "$@"; }
export LIBVIRT_BASE_IMAGE=$base LIBVIRT_DOMAIN_TYPE=qemu LIBVIRT_NETWORK=$TORRUST_E2E_NETWORK \
    LIBVIRT_STORAGE_DIR=$storage
json() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[int(k)] if k.isdigit() else v[k]
print(v)' "$@"; }

bake build local --json >"$work/build.json" 2>"$work/build.log" || { cat "$work/build.log" >&2; die "build local failed"; }
release=$project/$(json "$work/build.json" path)
version=$(basename "$release")
say "release $version"

now_ms() { date +%s%3N; }
secs() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }

# wait_boot NAME CONSOLE T0_MS: polls the console until cloud-init's final
# message; sets NAME_fw (ms to the kernel's first line) and NAME_done (ms to
# the final message), both from T0_MS.
wait_boot() {
    local name=$1 console=$2 t0=$3 now kernel=""
    while :; do
        now=$(now_ms)
        if [ -z "$kernel" ] && grep -aq 'Linux version' "$console" 2>/dev/null; then kernel=$now; fi
        grep -aq "torrust-bake: FAILED" "$console" 2>/dev/null && { tail -30 "$console" >&2; die "$name: the install script failed"; }
        grep -aq "torrust-bake release $version (local) booted" "$console" 2>/dev/null && break
        ((now - t0 < boot_timeout * 1000)) || { tail -40 "$console" >&2; die "$name: no cloud-init final message within $boot_timeout s"; }
        sleep 1
    done
    [ -n "$kernel" ] || kernel=$now
    printf -v "${name}_fw" '%d' $((kernel - t0))
    printf -v "${name}_done" '%d' $((now - t0))
    say "$name: start -> kernel $(secs $((kernel - t0))) s -> cloud-init done $(secs $((now - t0))) s"
}

# up NAME: `libvirt up local`; sets console and t0 (ms, when virsh start began).
up() {
    local name=$1 out=$work/$1.up.json before after start_ms
    before=$(now_ms)
    bake libvirt up local --json >"$out" 2>"$work/$name.up.log" || { cat "$work/$name.up.log" >&2; die "$name: libvirt up failed"; }
    after=$(now_ms)
    console=$(json "$out" console_log)
    start_ms=$(python3 -c 'import json,sys; print([s["ms"] for s in json.load(open(sys.argv[1]))["steps"] if s["step"]=="start"][0])' "$out")
    t0=$((after - start_ms))
    say "$name: libvirt up in $(secs $((after - before))) s: $(python3 -c 'import json,sys; print(", ".join("%s %.1f s" % (s["step"], s["ms"]/1000) for s in json.load(open(sys.argv[1]))["steps"]))' "$out")"
    [ "$(json "$out" version)" = "$version" ] || die "$name: up booted another release"
}

# --- 1. first boot -------------------------------------------------------------
up first
domain=$(json "$work/first.up.json" domain)
data=$(json "$work/first.up.json" data_disk)
[ -f "$data" ] || die "no data disk at $data"
wait_boot first "$console" "$t0"
grep -aq "torrust-bake: release $version: .* files in place, checksums verified" "$console" || die "first: no 'files in place' from the install script"
grep -aq "torrust-bake: release $version installed" "$console" || die "first: no 'release $version installed'"
grep -aq "torrust-bake: formatting /dev/vd[a-z]* as ext4 labelled torrust-data (first use)" "$console" \
    || die "first: the data disk was not formatted on first use"
say "first: release $version installed; data disk formatted on first use"

bake libvirt status local --json >"$work/status.json"
[ "$(json "$work/status.json" domains.0.domain)" = "$domain" ] || die "status does not list $domain"
[ "$(json "$work/status.json" domains.0.release)" = "$version" ] || die "status shows another release"
[ "$(json "$work/status.json" domains.0.state)" = running ] || die "status: $domain is not running"
addr=$(json "$work/status.json" domains.0.addresses.0 2>/dev/null) || die "status shows no address for $domain"
[[ $addr == ${TORRUST_E2E_BRIDGE_ADDRESS%.*}.* ]] || die "status: address $addr is not on the isolated network"
bake libvirt status local
say "status: $domain release $version running at $addr"

# --- 2. graceful down, a marker onto the data disk -----------------------------------
s=$SECONDS
bake libvirt down local --json >"$work/down1.json"
[ "$(json "$work/down1.json" domains.0.stop)" = acpi ] || die "down: the guest did not power off on ACPI ($(cat "$work/down1.json"))"
say "down: ACPI power-off and undefine in $((SECONDS - s)) s; data disk kept"
[ -f "$data" ] || die "down deleted the data disk"
virsh -q list --all --name | grep -qx "$domain" && die "down left $domain defined"
blkid -p -s LABEL -o value "$data" | grep -qx torrust-data || die "the data disk is not an ext4 labelled torrust-data"
debugfs -R 'ls -p /' "$data" 2>/dev/null | grep -q '/tracker/' || die "the guest wrote no tracker/ onto the data disk"
echo "kept across releases" >"$work/marker"
debugfs -w -R "write $work/marker e2e-marker" "$data" >/dev/null 2>&1
inode=$(stat -c %i "$data")

# --- 3. up again: same data disk, not formatted ----------------------------------------
up second
[ "$(json "$work/second.up.json" data_disk)" = "$data" ] || die "second: another data disk"
wait_boot second "$console" "$t0"
grep -aq "torrust-bake: release $version installed" "$console" || die "second: no 'release $version installed'"
grep -aq "formatting .* labelled torrust-data" "$console" && die "second: the data disk was formatted again"
bake libvirt down local --shutdown-timeout 0s --json >"$work/down2.json"
[ "$(json "$work/down2.json" domains.0.stop)" = destroyed ] || die "down --shutdown-timeout 0s did not destroy"
[ "$(stat -c %i "$data")" = "$inode" ] || die "the data disk was replaced"
[ "$(debugfs -R 'cat /e2e-marker' "$data" 2>/dev/null)" = "kept across releases" ] || die "the marker on the data disk is gone"
debugfs -R 'ls -p /' "$data" 2>/dev/null | grep -q '/tracker/' || die "tracker/ on the data disk is gone"
say "second: same data disk, not formatted again, contents kept; forced destroy works"

# --- 4. purge ---------------------------------------------------------------------------
bake libvirt down local --purge >/dev/null
[ ! -e "$data" ] || die "down --purge left $data"
say "down --purge deleted the data disk"

# --- 5. the same seed under raw QEMU, for the ratio ---------------------------------
if [ "${E2E_RAW:-1}" = 1 ]; then
    raw=$work/raw
    mkdir -p "$raw"
    qemu-img create -q -f qcow2 -b "$base" -F qcow2 "$raw/disk.qcow2"
    truncate -s 10G "$raw/data.raw"
    mac=$(json "$work/first.up.json" xml | grep -oE "mac address='[^']+'" | cut -d"'" -f2)
    t0=$(now_ms)
    qemu-system-x86_64 -accel tcg -cpu max -machine q35 -m 2048 -smp 2 -display none -no-reboot \
        -serial "file:$raw/console.log" \
        -kernel "${base%.qcow2}.vmlinuz" -initrd "${base%.qcow2}.initrd" \
        -append "root=LABEL=rootfs rw console=ttyS0" \
        -drive "file=$raw/disk.qcow2,format=qcow2,if=virtio" \
        -drive "id=data,file=$raw/data.raw,format=raw,if=none" -device virtio-blk-pci,drive=data,serial=torrust-data \
        -drive "file=$release/seed.iso,media=cdrom,readonly=on" \
        -nic "user,restrict=on,model=virtio-net-pci,mac=$mac" &
    raw_pid=$!
    wait_boot raw "$raw/console.log" "$t0"
    kill "$raw_pid"; wait "$raw_pid" 2>/dev/null || true; raw_pid=
    # (first_done, raw_done, ...: set by `printf -v` in the boot loop above.)
    # shellcheck disable=SC2154
    say "ratio libvirt/raw (start -> cloud-init done): first boot $((first_done * 100 / raw_done))%, second $((second_done * 100 / raw_done))%; kernel -> done: libvirt $(secs $((first_done - first_fw))) s / $(secs $((second_done - second_fw))) s, raw $(secs $((raw_done - raw_fw))) s; firmware (start -> kernel): libvirt+OVMF $(secs "$first_fw") s, raw $(secs "$raw_fw") s"
fi
say "all passed for release $version: first boot $(secs "$first_done") s (firmware $(secs "$first_fw") s), second $(secs "$second_done") s${raw_done:+, raw QEMU $(secs "${raw_done:-0}") s}"
