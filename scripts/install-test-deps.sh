#!/usr/bin/env bash
# Installs every outside verifier the tests use (docs/ARCHITECTURE.md, Testing).
# Idempotent; run as root (apt-get). A missing verifier fails the tests.
# --e2e also installs what scripts/e2e-boot.sh and scripts/e2e-libvirt.sh need
# (QEMU, debootstrap, libvirt, OVMF, the guest image's tools).
set -euo pipefail
# --apt-only stops after the Debian packages (CI starts the guest image's
# debootstrap while the tracker compiles).
e2e=false apt_only=false
for arg in "$@"; do
    case "$arg" in
    --e2e) e2e=true ;;
    --apt-only) apt_only=true ;;
    *) echo "usage: $0 [--e2e] [--apt-only]" >&2; exit 2 ;;
    esac
done
export PATH="$HOME/.cargo/bin:/usr/sbin:/sbin:$PATH"

need_apt=()
command -v docker-compose >/dev/null || need_apt+=(docker-compose)
command -v promtool >/dev/null && command -v prometheus >/dev/null || need_apt+=(prometheus)
command -v zstd >/dev/null || need_apt+=(zstd)
command -v shellcheck >/dev/null || need_apt+=(shellcheck)
command -v nft >/dev/null || [ -x /usr/sbin/nft ] || need_apt+=(nftables)
command -v hyperfine >/dev/null || need_apt+=(hyperfine)
# images pin|verify: a real registry, skopeo to cross-check digests, htpasswd
# for basic auth, openssl to sign the token-realm test's JWT.
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
command -v skopeo >/dev/null || need_apt+=(skopeo)
command -v htpasswd >/dev/null || need_apt+=(apache2-utils)
command -v openssl >/dev/null || need_apt+=(openssl)
# Seeds: cloud-init (schema + its decoder, for Debian's system python3),
# isoinfo, xorriso, fsck.fat, mtools, blkid, qemu-img; cloud-localds for the
# benchmark baseline.
[ -e /usr/lib/python3/dist-packages/cloudinit ] || need_apt+=(cloud-init)
command -v isoinfo >/dev/null || need_apt+=(genisoimage)
command -v xorriso >/dev/null || need_apt+=(xorriso)
command -v fsck.fat >/dev/null || need_apt+=(dosfstools)
command -v mdir >/dev/null || need_apt+=(mtools)
command -v blkid >/dev/null || need_apt+=(util-linux)
command -v qemu-img >/dev/null || need_apt+=(qemu-utils)
# The backups (tests/backup.rs, the e2e's drill): restic against a
# repository on an SFTP server on loopback or in the test's namespace
# (openssh-server, keys from ssh-keygen); sqlite3 reads what was restored
# (and fills the SQLite backup bench's database).
command -v restic >/dev/null || need_apt+=(restic)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ssh-keygen >/dev/null || need_apt+=(openssh-client)
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)
# TLS by ACME (tests/acme.rs): Caddy with the release's Caddyfile gets its
# certificates from pebble, Let's Encrypt's test server.
command -v caddy >/dev/null || need_apt+=(caddy)
command -v pebble >/dev/null || need_apt+=(pebble)
command -v curl >/dev/null || need_apt+=(curl)
# MySQL (tests/mysql.rs): the tracker against Debian's MariaDB server (the
# -core packages: no system service, no galera).
command -v mariadbd >/dev/null || need_apt+=(mariadb-server-core)
command -v mariadb >/dev/null || need_apt+=(mariadb-client-core)
# libvirt: virt-xml-validate for domain XML; virsh for the test:///default driver.
command -v virt-xml-validate >/dev/null || need_apt+=(libxml2-utils)
command -v virsh >/dev/null || need_apt+=(libvirt-clients)
command -v cloud-localds >/dev/null || need_apt+=(cloud-image-utils)
[ -x /usr/bin/time ] || need_apt+=(time)
# `torrust-bake man` is checked with man -l; completions with bash.
command -v man >/dev/null || need_apt+=(man-db)
# torrust-tracker builds against OpenSSL.
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
dpkg -s pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
if $e2e; then
    command -v debootstrap >/dev/null || need_apt+=(debootstrap)
    command -v mke2fs >/dev/null && command -v debugfs >/dev/null || need_apt+=(e2fsprogs)
    command -v genisoimage >/dev/null || need_apt+=(genisoimage)
    # e2e-libvirt: libvirtd with its QEMU driver, dnsmasq for its network,
    # OVMF; guest-image.sh: systemd-boot, an ESP made with mtools, sfdisk.
    command -v libvirtd >/dev/null || need_apt+=(libvirt-daemon-system libvirt-daemon-driver-qemu)
    command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || need_apt+=(dnsmasq-base)
    [ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || need_apt+=(ovmf)
    [ -f /usr/lib/systemd/boot/efi/systemd-bootx64.efi ] || need_apt+=(systemd-boot-efi)
    command -v mkfs.vfat >/dev/null || need_apt+=(dosfstools)
    command -v sfdisk >/dev/null || need_apt+=(fdisk)
    command -v ip >/dev/null || need_apt+=(iproute2)
    # e2e-registry.sh: busybox's wget in the slim Prometheus image (its
    # healthcheck), strip for the slim tracker binaries.
    [ -x /bin/busybox ] || need_apt+=(busybox-static)
    command -v strip >/dev/null || need_apt+=(binutils)
    command -v curl >/dev/null || need_apt+=(curl)
    # Real BitTorrent clients for what the VM's tracker serves: aria2c seeds
    # and leeches over UDP and HTTP; libtorrent-rasterbar (python3-libtorrent,
    # driven by scripts/libtorrent-client.py) over UDP to IPv6, which aria2c
    # cannot; mktorrent makes the private torrents.
    command -v aria2c >/dev/null || need_apt+=(aria2)
    /usr/bin/python3 -c 'import libtorrent' 2>/dev/null || need_apt+=(python3-libtorrent)
    command -v mktorrent >/dev/null || need_apt+=(mktorrent)
    # Debian 12's qemu-system-x86 needs its own qemu-utils; the machine may
    # carry a backported one (10.x, which qemu-system-x86 7.2 conflicts with), hence the pinned downgrade.
    if ! command -v qemu-system-x86_64 >/dev/null; then
        need_apt+=(qemu-system-x86)
        if dpkg -s qemu-utils 2>/dev/null | grep -q '^Version: 1:10'; then
            need_apt+=(--allow-downgrades "qemu-utils=1:7.2+dfsg-7+deb12u18+b3")
        fi
    fi
fi
if ((${#need_apt[@]})); then
    echo "install-test-deps: apt-get install ${need_apt[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

$apt_only && { echo "install-test-deps: Debian packages present" >&2; exit 0; }

# The real tracker (and its peer clients) from crates.io: ~11 min on 2 cores.
if ! { command -v torrust-tracker >/dev/null && cargo install --list | grep -q '^torrust-tracker v3.0.0:'; }; then
    echo "install-test-deps: cargo install --locked torrust-tracker@3.0.0 (takes ~11 min)" >&2
    cargo install --locked torrust-tracker@3.0.0
fi

for tool in man docker-compose promtool prometheus sha256sum tar zstd hyperfine docker-registry skopeo htpasswd openssl cloud-init isoinfo xorriso fsck.fat mdir mtype blkid qemu-img cloud-localds torrust-tracker udp_tracker_client http_tracker_client virt-xml-validate virsh restic ssh-keygen sqlite3 /usr/sbin/sshd unshare caddy pebble curl mariadbd mariadb mariadb-install-db; do
    command -v "$tool" >/dev/null || { echo "install-test-deps: $tool still missing" >&2; exit 1; }
done
if $e2e; then
    for tool in qemu-system-x86_64 debootstrap mke2fs debugfs genisoimage libvirtd virtlogd sfdisk mkfs.vfat mcopy ip flock aria2c mktorrent; do
        command -v "$tool" >/dev/null || { echo "install-test-deps: $tool still missing" >&2; exit 1; }
    done
    /usr/bin/python3 -c 'import libtorrent' || { echo "install-test-deps: python3-libtorrent still missing" >&2; exit 1; }
fi
echo "install-test-deps: all verifiers present" >&2
