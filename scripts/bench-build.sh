#!/usr/bin/env bash
# Benchmark of `torrust-bake build production` (release binary): wall time
# and peak memory, against a baseline measured in the same run: packing the
# same bundle tree with `tar --zstd` (what a shell deployer does at minimum).
# Uses the test fixture lock, since the committed lock leaves the tracker
# unpinned until `images pin` runs. Usage: scripts/bench-build.sh [RUNS]
set -euo pipefail
runs=${1:-30}
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/torrust-bake
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/images"
cp -r environments templates "$work/"
cp tests/fixtures/images.lock "$work/images/images.lock"
export TORRUST_TRACKER_API_TOKEN=bench-token-0123456789abcdefghijklmnopqrstuvwxyz
export GRAFANA_ADMIN_PASSWORD=bench-grafana-password-0123456789
export MYSQL_PASSWORD=bench-mysql-password-0123456789
export MYSQL_ROOT_PASSWORD=bench-mysql-root-password-0123456789

# One build to have a tree for the baseline, then time fresh builds.
"$bin" -C "$work" build production --json > "$work/out.json"
cp -a "$work/$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["path"])' "$work/out.json")/bundle" "$work/baseline-tree"
bundle="$work/baseline-tree"

hyperfine -N --warmup 3 --runs "$runs" --style basic --export-json "$work/h.json" \
    --prepare "rm -rf $work/releases" \
    -n build "$bin -C $work build production" \
    -n 'baseline: tar --zstd' "tar --zstd -cf $work/baseline.tar.zst -C $bundle ." >&2

rm -rf "$work/releases"
/usr/bin/time -f '%M' -o "$work/rss" "$bin" -C "$work" build production >/dev/null 2>&1
rm -rf "$work/releases"
python3 - "$work/h.json" "$work/rss" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
b, t = r["build"], r["baseline: tar --zstd"]
rss = int(open(sys.argv[2]).read().split()[-1])
print(f"build production: mean {b['mean']*1000:.1f} ms (min {b['min']*1000:.1f}, max {b['max']*1000:.1f}), "
      f"peak RSS {rss/1024:.1f} MiB")
print(f"baseline tar --zstd of the same bundle: mean {t['mean']*1000:.1f} ms")
print(f"ratio build / baseline: {b['mean']/t['mean']:.2f}")
print(f"targets: < 50 ms -> {'met' if b['mean'] < 0.05 else 'MISSED'}; < 30 MiB -> {'met' if rss < 30*1024 else 'MISSED'}")
PY
