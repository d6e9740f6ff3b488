#!/usr/bin/env bash
# Benchmark of one full `torrust-bake health local` against a healthy local
# torrust-tracker started from a rendered tracker.toml (loopback, free ports),
# with a baseline in the same run: the tracker's own `http_health_check`
# on its /health_check endpoint. Usage: scripts/bench-health.sh [RUNS]
set -euo pipefail
runs=${1:-30}
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet
bin=$PWD/target/release/torrust-bake
work=$(mktemp -d)
tracker_pid=
cleanup() { [ -n "$tracker_pid" ] && kill -INT "$tracker_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/images"
cp -r environments templates "$work/"
cp tests/fixtures/images.lock "$work/images/images.lock"
free_port() { python3 -c 'import socket,sys;s=socket.socket(socket.AF_INET,getattr(socket,sys.argv[1]));s.bind(("127.0.0.1",0));print(s.getsockname()[1])' "$1"; }
export TORRUST_TRACKER_BIND_ADDRESS=127.0.0.1
TORRUST_TRACKER_UDP_PORTS="$(free_port SOCK_DGRAM),$(free_port SOCK_DGRAM)"
TORRUST_TRACKER_HTTP_PORTS=$(free_port SOCK_STREAM)
TORRUST_TRACKER_API_PORT=$(free_port SOCK_STREAM)
TORRUST_TRACKER_HEALTH_CHECK_PORT=$(free_port SOCK_STREAM)
export TORRUST_TRACKER_UDP_PORTS TORRUST_TRACKER_HTTP_PORTS TORRUST_TRACKER_API_PORT TORRUST_TRACKER_HEALTH_CHECK_PORT
export TORRUST_TRACKER_DATABASE_URL="sqlite://$work/tracker.db"
export TORRUST_TRACKER_API_TOKEN=bench-token-0123456789abcdefghijklmnopqrstuvwxyz
path=$("$bin" -C "$work" build local --json 2>/dev/null | python3 -c 'import json,sys;print(json.load(sys.stdin)["path"])')
TORRUST_TRACKER_CONFIG_TOML_PATH="$work/$path/bundle/opt/torrust/tracker/tracker.toml" torrust-tracker >/dev/null 2>&1 &
tracker_pid=$!
"$bin" -C "$work" health local --wait 30s >/dev/null

hyperfine -N --warmup 3 --runs "$runs" --style basic --export-json "$work/h.json" \
    -n health "$bin -C $work health local" \
    -n 'baseline: http_health_check' "http_health_check http://127.0.0.1:$TORRUST_TRACKER_HEALTH_CHECK_PORT/health_check" >&2
python3 - "$work/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
h, b = r["health"], r["baseline: http_health_check"]
print(f"health local (6 checks): mean {h['mean']*1000:.1f} ms (min {h['min']*1000:.1f}, max {h['max']*1000:.1f})")
print(f"baseline http_health_check: mean {b['mean']*1000:.1f} ms")
print(f"ratio health / baseline: {h['mean']/b['mean']:.2f}")
print(f"target < 100 ms -> {'met' if h['mean'] < 0.1 else 'MISSED'}")
PY
