#!/usr/bin/env bash
# The container images of end-to-end guests, served from inside the test
# namespace: a guest may reach nothing outside this machine (no Docker Hub),
# and under TCG it pulls slowly, so the release's images are stand-ins made
# here, slim: the binaries, the libraries `ldd` lists and what the release
# relies on of the official images (paths, users, ports, volumes, the
# healthchecks' tools), no root filesystem. Tracker: the crates.io
# torrust-tracker 3.0.0 binaries; Prometheus: Debian's. This script lays
# out each image's tree (files, owners, modes); the product makes the OCI
# image layout of it without a Docker daemon (`torrust-bake probe
# oci-layout`, src/images/layout.rs: a tar in name order, mtime 0, numeric
# owners, gzip, oci-spec's config, manifest and index), so the same inputs
# give the same digests on every machine. Each layout is cached under
# $TORRUST_BAKE_E2E_CACHE/oci by a hash of its inputs (every file's
# checksum, path, mode and owner, the image config, the tools' versions, a
# recipe number). Debian's docker-registry (distribution 2.8)
# serves them over plain HTTP on the namespace's bridge, and skopeo pushes
# them from inside the namespace with their manifest digests unchanged. Its
# storage ($TORRUST_BAKE_E2E_CACHE/registry) is a cache too: stop keeps it.
#
# usage: scripts/e2e-registry.sh start|stop|env   (as root; idempotent)
#   start  builds the images that are missing, starts the registry (and
#          scripts/libvirt-host.sh start if the bridge is not up), pushes
#          what the registry lacks, checks the digests it serves
#   stop   stops the registry; run it before scripts/libvirt-host.sh stop,
#          which deletes the namespace and /run/torrust-e2e
#   env    prints shell exports: eval "$(scripts/e2e-registry.sh env)"
#          E2E_REGISTRY, E2E_{TRACKER,PROMETHEUS}_{IMAGE,DIGEST}
# needs: docker-registry, skopeo, prometheus (promtool), binutils, curl, the
# crates.io torrust-tracker 3.0.0 binaries (scripts/install-test-deps.sh),
# and a busybox for Prometheus' wget: start installs busybox-static with
# apt-get when /bin/busybox is missing (install-test-deps.sh --e2e installs it).
set -euo pipefail
export PATH="/usr/sbin:/sbin:$PATH"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ns=${TORRUST_E2E_NETNS:-torrust-e2e}
bridge=${TORRUST_E2E_BRIDGE:-virbr-torrust}
prefix=${TORRUST_E2E_SUBNET:-192.168.123}   # as scripts/libvirt-host.sh
registry=$prefix.1:5000
cache=${TORRUST_BAKE_E2E_CACHE:-/var/lib/libvirt/images/torrust-e2e/cache}
cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
run=/run/torrust-e2e
pidfile=$run/registry.pid conf=$run/registry.yml log=$run/registry.log
recipe=2   # bump when a step below changes what an image holds
# The product, which makes the layouts (as scripts/e2e-stack.sh runs it).
bin=${TORRUST_BAKE_BIN:-$here/../target/debug/torrust-bake}
tracker_name=torrust/tracker tracker_tag=3.0.0-slim
prometheus_name=prom/prometheus   # tagged <Debian's version>-slim
say() { echo "e2e-registry: $*" >&2; }
die() { echo "e2e-registry: FAIL: $*" >&2; exit 1; }

# Inside the namespace, without any proxy the caller's environment names.
in_ns() {
    ip netns exec "$ns" env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY \
        -u all_proxy -u ALL_PROXY "$@"
}

work=$(mktemp -d /var/tmp/torrust-bake-registry.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The shared objects a binary loads, as ldd resolves them (the dynamic
# loader at the path the binary names); nothing for a static binary.
libs_of() {
    local out line
    out=$(LC_ALL=C ldd "$1" 2>&1) || {
        [[ $out == *"not a dynamic executable"* ]] && return 0
        die "ldd $1: $out"
    }
    while read -r line; do
        case $line in
            *"not found"*) die "$1 needs ${line%% *}, which ldd does not find" ;;
            *"=> /"*) line=${line#*=> }; echo "${line%% (*}" ;;
            /*) echo "${line%% (*}" ;;
        esac
    done <<<"$out"
}

# An image is a spec, one entry a line, plus its config (the "config" object
# of the OCI image config). Entries:
#   d PATH MODE UID:GID             a directory (parents: 0755 root)
#   f PATH MODE UID:GID HOW SOURCE  a file, HOW = copy | strip
#   l PATH TARGET                   a symbolic link
# Generated files are written to $work/gen first, so the key covers them.
common_files() {   # SPEC-NAME: passwd, group, nsswitch.conf
    echo "f /etc/passwd 0644 0:0 copy $work/gen/$1.passwd"
    echo "f /etc/group 0644 0:0 copy $work/gen/$1.group"
    echo "f /etc/nsswitch.conf 0644 0:0 copy $work/gen/nsswitch.conf"
    echo "d /tmp 1777 0:0"
}

libs_entries() {   # BINARY...: one f entry per shared object, once each
    local b
    for b in "$@"; do libs_of "$b"; done | LC_ALL=C sort -u | while read -r lib; do
        echo "f $lib 0755 0:0 copy $lib"
    done
}

tracker_spec() {
    local t=$cargo_bin/torrust-tracker h=$cargo_bin/http_health_check
    { [ -x "$t" ] && [ -x "$h" ]; } || die "$t or $h missing (scripts/install-test-deps.sh)"
    # The tag says 3.0.0: only cargo's record of the install can vouch for
    # it (`torrust-tracker --version` starts a tracker).
    grep -q '^"torrust-tracker 3\.0\.0 (registry+' "${CARGO_HOME:-$HOME/.cargo}/.crates.toml" 2>/dev/null \
        || die "cargo has no record of installing torrust-tracker 3.0.0 from crates.io"
    printf 'root:x:0:0:root:/root:/sbin/nologin\ntorrust:x:1000:1000:torrust:/var/lib/torrust/tracker:/sbin/nologin\n' \
        >"$work/gen/tracker.passwd"
    printf 'root:x:0:\ntorrust:x:1000:\n' >"$work/gen/tracker.group"
    common_files tracker
    echo "f /usr/bin/torrust-tracker 0755 0:0 strip $t"
    echo "f /usr/bin/http_health_check 0755 0:0 strip $h"
    libs_entries "$t" "$h"
    # The official image's volumes. No default tracker.toml: the release
    # mounts its own; its database directory (on the volume) is the
    # release's to make.
    echo "d /etc/torrust/tracker 0755 0:0"
    echo "d /var/lib/torrust/tracker 0755 1000:1000"
    echo "d /var/log/torrust/tracker 0755 1000:1000"
}

# The official image's environment (its entry script aside: no shell here,
# the image runs as 1000 from the start), ports, volumes and healthcheck.
tracker_image_config() {
    printf '%s' '{"User":"1000:1000","ExposedPorts":{"1212/tcp":{},"1313/tcp":{},"6969/udp":{},"7070/tcp":{}},' \
        '"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",' \
        '"TORRUST_TRACKER_CONFIG_TOML_PATH=/etc/torrust/tracker/tracker.toml",' \
        '"TORRUST_TRACKER_CONFIG_OVERRIDE_CORE__DATABASE__DRIVER=sqlite3",' \
        '"USER_ID=1000","UDP_PORT=6969","HTTP_PORT=7070","API_PORT=1212","HEALTH_CHECK_API_PORT=1313","TZ=Etc/UTC"],' \
        '"Entrypoint":["/usr/bin/torrust-tracker"],' \
        '"Volumes":{"/etc/torrust/tracker":{},"/var/lib/torrust/tracker":{},"/var/log/torrust/tracker":{}},' \
        '"WorkingDir":"/",' \
        '"Healthcheck":{"Test":["CMD","/usr/bin/http_health_check","http://localhost:1313/health_check"],' \
        '"Interval":5000000000,"Timeout":5000000000,"StartPeriod":3000000000,"Retries":3}}'
}

prometheus_spec() {
    local p=/usr/bin/prometheus bb=/bin/busybox
    [ -x "$p" ] || die "$p missing (apt-get install prometheus)"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' \
        >"$work/gen/prometheus.passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/gen/prometheus.group"
    # Scrapes itself, as prom/prometheus' default does.
    printf '%s\n' 'global:' '  scrape_interval: 15s' 'scrape_configs:' '  - job_name: prometheus' \
        '    static_configs:' '      - targets: ["localhost:9090"]' >"$work/gen/prometheus.yml"
    common_files prometheus
    echo "f /bin/prometheus 0755 0:0 copy $p"
    # The healthcheck runs `wget` (busybox-static; a dynamic busybox brings its libraries).
    echo "f /bin/busybox 0755 0:0 copy $bb"
    echo "l /bin/wget busybox"
    libs_entries "$p" "$bb"
    echo "f /etc/prometheus/prometheus.yml 0644 0:0 copy $work/gen/prometheus.yml"
    echo "d /prometheus 0755 65534:65534"
}

prometheus_image_config() {
    printf '%s' '{"User":"65534:65534","ExposedPorts":{"9090/tcp":{}},' \
        '"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],' \
        '"Entrypoint":["/bin/prometheus"],' \
        '"Cmd":["--config.file=/etc/prometheus/prometheus.yml","--storage.tsdb.path=/prometheus"],' \
        '"Volumes":{"/prometheus":{}},"WorkingDir":"/prometheus"}'
}

prometheus_tag() {
    local v
    v=$(/usr/bin/prometheus --version 2>&1) || die "prometheus --version failed"
    v=${v#*version }; v=${v%% *}; v=${v%%+*}   # "2.42.0+ds" -> 2.42.0
    [[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read prometheus' version"
    echo "$v-slim"
}

first_line() { local s; s=$("$@" 2>&1) || true; echo "${s%%$'\n'*}"; }

# 16 hex digits of everything that decides an image's bytes.
key_of() {   # SPEC-FILE CONFIG
    local kind path mode owner how src
    {
        echo "recipe $recipe $(dpkg --print-architecture)"
        first_line "$bin" --version; first_line strip --version
        echo "$2"
        while read -r kind path mode owner how src; do
            if [ "$kind" = f ]; then
                echo "f $path $mode $owner $how $(sha256sum <"$src" | cut -d' ' -f1)"
            else
                echo "$kind $path $mode $owner"
            fi
        done <"$1"
    } | sha256sum | cut -c1-16
}

layout_of() { echo "$cache/oci/${1//\//-}-$2"; }   # NAME KEY

build() {   # NAME TAG SPEC-FILE CONFIG KEY
    local name=$1 tag=$2 spec=$3 config=$4 out
    out=$(layout_of "$name" "$5")
    [ -f "$out/index.json" ] && return 0
    say "building $name:$tag"
    local root=$work/root-${name//\//-} tmp=$out.tmp kind path mode owner how src
    rm -rf "$root" "$tmp"
    mkdir -p "$root"
    while read -r kind path mode owner how src; do
        case $kind in
            d) mkdir -p "$root$path" ;;
            f) mkdir -p "$(dirname "$root$path")"
               case $how in
                   copy) cp -L "$src" "$root$path" ;;
                   strip) strip -o "$root$path" "$src" ;;
                   *) die "spec: $how?" ;;
               esac ;;
            l) mkdir -p "$(dirname "$root$path")"; ln -s "$mode" "$root$path" ;;
            *) die "spec: $kind?" ;;
        esac
    done <"$spec"
    # Owners and modes come from the spec alone, never from this machine
    # (umask, who ran cp): root 0755 unless an entry says otherwise. The
    # layer records them numerically (per entry: /prometheus is 65534's),
    # with mtime 0 in name order.
    chown -hR 0:0 "$root"
    find "$root" -type d -exec chmod 0755 {} +
    while read -r kind path mode owner how src; do
        case $kind in d|f) chown "$owner" "$root$path"; chmod "$mode" "$root$path" ;; esac
    done <"$spec"
    local made
    made=$("$bin" probe oci-layout --root "$root" --config "$config" --tag "$tag" \
        --architecture "$(dpkg --print-architecture)" \
        --created-by "torrust-bake scripts/e2e-registry.sh, recipe $recipe" --out "$tmp") \
        || die "probe oci-layout $name:$tag failed"
    rm -rf "$root"
    mv "$tmp" "$out"
    # Layouts made from other inputs are stale: keep only this one.
    find "$cache/oci" -mindepth 1 -maxdepth 1 -name "${name//\//-}-*" ! -name "${out##*/}" -exec rm -rf {} +
    say "built $name:$tag: $made"
}

# The manifest digest a layout's index names (our index: the first digest).
digest_of() {   # LAYOUT
    local index
    index=$(cat "$1/index.json" 2>/dev/null) || return 1
    [[ $index =~ \"digest\":\"(sha256:[0-9a-f]{64})\" ]] || return 1
    echo "${BASH_REMATCH[1]}"
}

# Specs, configs and keys of both images: sets tracker_{spec,config,key}
# and prometheus_{spec,config,key,tag}.
plan() {
    mkdir -p "$work/gen"
    echo 'hosts: files dns' >"$work/gen/nsswitch.conf"
    tracker_spec >"$work/tracker.spec"
    prometheus_spec >"$work/prometheus.spec"
    tracker_config=$(tracker_image_config)
    prometheus_config=$(prometheus_image_config)
    prometheus_tag=$(prometheus_tag)
    tracker_key=$(key_of "$work/tracker.spec" "$tracker_config")
    prometheus_key=$(key_of "$work/prometheus.spec" "$prometheus_config")
}

# A pid file's process if it is our registry, else a process in the
# namespace serving our config (the pid file goes with /run/torrust-e2e).
ours() {
    local c
    c=$( { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null) || return 1
    [ "$c" = "docker-registry serve $conf " ]
}
registry_pid() {
    local p
    if [ -s "$pidfile" ] && ours "$(cat "$pidfile")"; then cat "$pidfile"; return 0; fi
    [ -e "/run/netns/$ns" ] || return 0
    for p in $(ip netns pids "$ns"); do
        if ours "$p"; then echo "$p"; return 0; fi
    done
}

registry_conf() {
    cat <<EOF
# Written by scripts/e2e-registry.sh: plain HTTP on the namespace's bridge.
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $cache/registry
  delete:
    enabled: false
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $registry
  headers:
    X-Content-Type-Options: [nosniff]
EOF
}

answers() { in_ns curl -fsS -o /dev/null --max-time 2 "http://$registry/v2/" 2>/dev/null; }

start_registry() {
    local want pid
    want=$(registry_conf)
    pid=$(registry_pid)
    if [ -n "$pid" ] && [ "$(cat "$conf" 2>/dev/null)" = "$want" ] && answers; then
        echo "$pid" >"$pidfile"
        return 0
    fi
    [ -z "$pid" ] || stop_registry
    mkdir -p "$run" "$cache/registry"
    echo "$want" >"$conf"
    # setsid: out of the caller's session; not a group leader here, so it
    # execs in place and $! is the registry's pid (checked: ours). 9>&-: the
    # lock stays ours, or the next start waits for the registry to exit.
    ip netns exec "$ns" setsid docker-registry serve "$conf" >>"$log" 2>&1 </dev/null 9>&- &
    echo $! >"$pidfile"
    for _ in $(seq 50); do answers && break; sleep 0.2; done
    answers || { tail -20 "$log" >&2; die "the registry does not answer on $registry (log: $log)"; }
    pid=$(registry_pid)
    [ -n "$pid" ] || die "the registry answers, but not as the process started here"
    echo "$pid" >"$pidfile"
    say "registry $pid serves $registry in netns $ns (storage $cache/registry, log $log)"
}

stop_registry() {
    local pid
    pid=$(registry_pid)
    if [ -n "$pid" ]; then
        kill "$pid"
        for _ in $(seq 50); do ours "$pid" || break; sleep 0.2; done
        ! ours "$pid" || kill -9 "$pid"
        say "registry $pid stopped (its storage is kept)"
    fi
    rm -f "$pidfile"
}

# The digest of the manifest the registry serves for NAME:TAG, or nothing.
served() {   # NAME:TAG
    in_ns skopeo inspect --raw --tls-verify=false "docker://$registry/$1" >"$work/served" 2>/dev/null || return 0
    echo "sha256:$(sha256sum <"$work/served" | cut -d' ' -f1)"
}

push() {   # NAME TAG KEY
    local layout digest keep=()
    layout=$(layout_of "$1" "$3")
    digest=$(digest_of "$layout") || die "$layout: no manifest digest in index.json"
    if [ "$(served "$1:$2")" = "$digest" ]; then
        say "$registry/$1:$2 is $digest already"
        return 0
    fi
    # --preserve-digests: fail rather than push a changed manifest.
    [[ $(skopeo copy --help) == *--preserve-digests* ]] && keep=(--preserve-digests)
    say "pushing $1:$2"
    # --insecure-policy: no need of /etc/containers/policy.json (no signatures here).
    in_ns skopeo --insecure-policy copy --quiet "${keep[@]}" --dest-tls-verify=false \
        "oci:$layout:$2" "docker://$registry/$1:$2"
    [ "$(served "$1:$2")" = "$digest" ] || die "$registry/$1:$2 is not $digest after the push"
}

start() {
    [ "$(id -u)" = 0 ] || die "run as root"
    local t
    for t in docker-registry skopeo strip ldd curl ip; do
        command -v "$t" >/dev/null || die "$t missing (scripts/install-test-deps.sh)"
    done
    [ -x "$bin" ] || die "$bin missing: cargo build, or set TORRUST_BAKE_BIN"
    if [ ! -x /bin/busybox ]; then
        say "apt-get install busybox-static (Prometheus' wget)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static >/dev/null \
            || die "apt-get install busybox-static failed"
    fi
    [[ $(ip -n "$ns" -o -4 addr show dev "$bridge" 2>/dev/null || true) == *" $prefix.1/"* ]] || {
        say "no $prefix.1 on $bridge in netns $ns: scripts/libvirt-host.sh start"
        "$here/libvirt-host.sh" start
    }
    mkdir -p "$cache/oci" "$run"
    exec 9>"$cache/oci/.lock"
    flock 9
    plan
    promtool check config "$work/gen/prometheus.yml" >/dev/null \
        || die "the image's prometheus.yml fails promtool check config"
    build "$tracker_name" "$tracker_tag" "$work/tracker.spec" "$tracker_config" "$tracker_key"
    build "$prometheus_name" "$prometheus_tag" "$work/prometheus.spec" "$prometheus_config" "$prometheus_key"
    start_registry
    push "$tracker_name" "$tracker_tag" "$tracker_key"
    push "$prometheus_name" "$prometheus_tag" "$prometheus_key"
}

env_() {
    plan
    local t p
    t=$(digest_of "$(layout_of "$tracker_name" "$tracker_key")") || die "no tracker image from these inputs: run $0 start"
    p=$(digest_of "$(layout_of "$prometheus_name" "$prometheus_key")") || die "no prometheus image from these inputs: run $0 start"
    cat <<EOF
export E2E_REGISTRY=$registry
export E2E_TRACKER_IMAGE=$registry/$tracker_name:$tracker_tag
export E2E_TRACKER_DIGEST=$t
export E2E_PROMETHEUS_IMAGE=$registry/$prometheus_name:$prometheus_tag
export E2E_PROMETHEUS_DIGEST=$p
EOF
}

case "${1:-}" in
    start) start ;;
    stop) stop_registry ;;
    env) env_ ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
