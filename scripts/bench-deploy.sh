#!/usr/bin/env bash
# Benchmark of the deploy layer's read-only commands against a running
# libvirtd (issue 21's target: each under 300 ms): `status <env>` and
# `deploy <env> --dry-run`, release binary, median of N runs, with
# `virsh list --all` (one round trip to libvirtd) measured in the same run
# as the baseline. Uses the libvirtd that scripts/libvirt-host.sh starts
# (or one already running) and whatever domains it has.
# Usage: scripts/bench-deploy.sh [RUNS]   (as root)
set -euo pipefail
runs=${1:-20}
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/sbin:/sbin:$PATH"
command -v hyperfine >/dev/null || { echo "bench-deploy: apt-get install hyperfine" >&2; exit 2; }
virsh -q uri >/dev/null 2>&1 || scripts/libvirt-host.sh start
cargo build --release --quiet
bin=$PWD/target/release/torrust-bake
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/images"
cp -r environments templates "$work/"
cp tests/fixtures/images.lock "$work/images/images.lock"
# The domain type named: `auto` would ask libvirt's capabilities, which a
# dry run need not.
export LIBVIRT_DOMAIN_TYPE=qemu LIBVIRT_STORAGE_DIR=$work/storage
hyperfine -N --warmup 2 --runs "$runs" --style basic --export-json "$work/h.json" \
    -n status "$bin -C $work status local" \
    -n 'deploy --dry-run' "$bin -C $work deploy local --dry-run" \
    -n 'baseline: virsh list --all' "virsh -q list --all" >&2
python3 - "$work/h.json" "$(virsh -q list --all --name | grep -c . || true)" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["baseline: virsh list --all"]["median"]
print(f"libvirtd with {sys.argv[2]} domains; baseline virsh list --all: median {base*1000:.1f} ms")
for name in ("status", "deploy --dry-run"):
    m = r[name]["median"]
    print(f"{name}: median {m*1000:.1f} ms ({m/base:.1f}x virsh list; target < 300 ms -> {'met' if m < 0.3 else 'MISSED'})")
PY
