#!/usr/bin/env bash
# A throwaway libvirt host for tests of `torrust-bake libvirt up`: these
# machines have no systemd, and guests must reach nothing outside this
# machine, so virtlogd and libvirtd run inside a network namespace of their
# own, and the only network they offer guests is an isolated one (no
# <forward>, DHCP on a private subnet, router advertisements of a ULA /64)
# whose bridge lives in that namespace.
#
# usage: scripts/libvirt-host.sh start|stop|env   (as root; idempotent)
#   start  installs what is missing (apt-get), starts the daemons and network
#   stop   destroys the test network and the daemons, deletes the namespace
#   env    prints shell exports: eval "$(scripts/libvirt-host.sh env)"
set -euo pipefail
export PATH="/usr/sbin:/sbin:$PATH"
ns=${TORRUST_E2E_NETNS:-torrust-e2e}
net=${TORRUST_E2E_NETWORK:-torrust-e2e}
bridge=${TORRUST_E2E_BRIDGE:-virbr-torrust}
prefix=${TORRUST_E2E_SUBNET:-192.168.123}   # bridge .1, DHCP .100-.199
prefix6=${TORRUST_E2E_SUBNET6:-fd12:7472:6b72:1}   # bridge ::1/64, SLAAC by its RAs
run=/run/torrust-e2e
export LIBVIRT_DEFAULT_URI=qemu:///system
say() { echo "libvirt-host: $*" >&2; }
die() { echo "libvirt-host: FAIL: $*" >&2; exit 1; }

install_missing() {
    local need=()
    command -v libvirtd >/dev/null || need+=(libvirt-daemon-system libvirt-daemon-driver-qemu)
    command -v virsh >/dev/null || need+=(libvirt-clients)
    command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
    [ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || need+=(ovmf)
    command -v virt-xml-validate >/dev/null || need+=(libxml2-utils)
    [ -f /usr/lib/systemd/boot/efi/systemd-bootx64.efi ] || need+=(systemd-boot-efi)
    command -v mcopy >/dev/null || need+=(mtools)
    command -v mkfs.vfat >/dev/null || need+=(dosfstools)
    command -v sfdisk >/dev/null || need+=(fdisk)
    command -v debootstrap >/dev/null || need+=(debootstrap)
    command -v genisoimage >/dev/null || need+=(genisoimage)
    # Debian 12's qemu-system-x86 needs its own qemu-utils; the machine may
    # carry a backported one 10.x, which it conflicts with; hence the pinned downgrade.
    if ! command -v qemu-system-x86_64 >/dev/null; then
        need+=(qemu-system-x86)
        [[ $(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null) == 1:10* ]] \
            && need+=(--allow-downgrades "qemu-utils=1:7.2+dfsg-7+deb12u18+b3")
    fi
    ((${#need[@]})) || return 0
    say "apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# A process that runs (a zombie, not yet reaped by PID 1, does not).
running() { [[ $(ps -o stat= -p "$1" 2>/dev/null) == [^Z]* ]]; }
# The pid in a pid file, read once (a daemon removes its own as it exits).
pid_of() { local pid; pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && echo "$pid"; }
# A pid file whose process runs.
alive() { local pid; pid=$(pid_of "$1") && running "$pid"; }

start() {
    install_missing
    mkdir -p "$run"
    [ -e "/run/netns/$ns" ] || ip netns add "$ns"
    ip -n "$ns" link set lo up
    # Daemons started from here inherit the namespace: libvirtd puts the
    # bridge and dnsmasq in it; virsh outside still reaches it by its socket.
    alive /run/virtlogd.pid || ip netns exec "$ns" virtlogd -d -p /run/virtlogd.pid
    if ! alive /run/libvirtd.pid; then
        ip netns exec "$ns" libvirtd -d -p /run/libvirtd.pid
    fi
    for _ in $(seq 50); do virsh -q uri >/dev/null 2>&1 && break; sleep 0.2; done
    virsh -q uri >/dev/null 2>&1 || die "libvirtd does not answer"
    if ! virsh net-info "$net" >/dev/null 2>&1; then
        cat >"$run/$net.xml" <<EOF
<network>
  <name>$net</name>
  <bridge name='$bridge' stp='on' delay='0'/>
  <ip address='$prefix.1' netmask='255.255.255.0'>
    <dhcp><range start='$prefix.100' end='$prefix.199'/></dhcp>
  </ip>
  <ip family='ipv6' address='$prefix6::1' prefix='64'/>
</network>
EOF
        virsh -q net-define "$run/$net.xml" >/dev/null
    fi
    # (grep -q on a pipe would SIGPIPE virsh and fail under pipefail)
    [[ $(virsh net-info "$net") =~ Active:\ *yes ]] || virsh -q net-start "$net" >/dev/null
    [[ $(ip -n "$ns" -o -4 addr show dev "$bridge") == *" $prefix.1/"* ]] \
        || die "bridge $bridge has no $prefix.1 inside namespace $ns"
    [[ $(ip -n "$ns" -o -6 addr show dev "$bridge") == *" $prefix6::1/64"* ]] \
        || die "bridge $bridge has no $prefix6::1/64 inside namespace $ns"
    say "up: libvirtd $(cat /run/libvirtd.pid) in netns $ns, network $net on $bridge ($prefix.1/24, $prefix6::1/64)"
}

stop_pid() {
    local f=$1 pid
    pid=$(pid_of "$f") && running "$pid" || { rm -f "$f"; return 0; }
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do running "$pid" || break; sleep 0.2; done
    ! running "$pid" || kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
}

stop() {
    if alive /run/libvirtd.pid; then
        local d
        # Running domains die with the host (their definitions stay).
        for d in $(virsh list --name 2>/dev/null); do virsh -q destroy "$d" >/dev/null || true; done
        virsh -q net-destroy "$net" >/dev/null 2>&1 || true
        virsh -q net-undefine "$net" >/dev/null 2>&1 || true
    fi
    stop_pid /run/libvirtd.pid
    stop_pid /run/virtlogd.pid
    [ ! -e "/run/netns/$ns" ] || ip netns delete "$ns"
    rm -rf "$run"
    say "down"
}

env_() {
    cat <<EOF
export LIBVIRT_DEFAULT_URI=qemu:///system
export TORRUST_E2E_NETNS=$ns
export TORRUST_E2E_NETWORK=$net
export TORRUST_E2E_BRIDGE=$bridge
export TORRUST_E2E_BRIDGE_ADDRESS=$prefix.1
export TORRUST_E2E_BRIDGE_ADDRESS6=$prefix6::1
export TORRUST_E2E_PREFIX6=$prefix6
EOF
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env) env_ ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
