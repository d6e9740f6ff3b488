#!/usr/bin/env bash
# Benchmark of `torrust-bake build production` (release binary; every
# artifact: bundle, tar.zst, user-data, seed.iso, seed.img, seed.qcow2): wall time and
# peak memory, against two baselines measured in the same run on the same
# files: `tar --zstd` of the bundle tree (what a shell deployer does at
# minimum) and `cloud-localds seed.iso user-data meta-data` (the usual way to
# make a NoCloud seed; target: the whole build no slower than it alone).
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
export TORRUST_BAKE_RELEASE_KEY=bench-release-key-0123456789abcdefghij

# One build to have a tree for the baseline, then time fresh builds. Each
# timed build writes a new releases/ (the previous one is moved aside, not
# deleted: deleting ~100 inodes right before makes ext4 scan for recently
# deleted inodes on every create, a cost a real build does not pay).
"$bin" -C "$work" build production --json > "$work/out.json"
cp -a "$work/$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["path"])' "$work/out.json")/bundle" "$work/baseline-tree"
bundle="$work/baseline-tree"
rel="$work/$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["path"])' "$work/out.json")"
cp "$rel/user-data" "$rel/meta-data" "$work/"

hyperfine -N --warmup 3 --runs "$runs" --style basic --export-json "$work/h.json" \
    --prepare "sh -c 'mv $work/releases $work/old-\$(date +%s%N) 2>/dev/null || true'" \
    -n build "$bin -C $work build production" \
    -n 'baseline: tar --zstd' "tar --zstd -cf $work/baseline.tar.zst -C $bundle ." \
    -n 'baseline: cloud-localds' "cloud-localds $work/cl-seed.iso $work/user-data $work/meta-data" >&2

rm -rf "$work/releases"
/usr/bin/time -f '%M' -o "$work/rss" "$bin" -C "$work" build production >/dev/null 2>&1
rm -rf "$work/releases"
# The two ways to carry the bundle in user-data, measured on this release:
# one gz+b64 write_files entry per file (as cloud-init documents) versus the
# one gzip'd tar that torrust-bake sends (see src/cloudinit.rs).
python3 - "$bundle" "$work/user-data" <<'PY'
import base64, gzip, os, re, sys
tree, ud = sys.argv[1], open(sys.argv[2]).read()
per_file = 0
for root, _, files in os.walk(tree):
    for f in files:
        p = os.path.join(root, f)
        rel = "/" + os.path.relpath(p, tree)
        b64 = base64.b64encode(gzip.compress(open(p, "rb").read(), 9, mtime=0)).decode()
        per_file += len(f"  - path: {rel}\n    owner: root:root\n    permissions: \"0644\"\n    encoding: gz+b64\n    content: {b64}\n")
archive = re.search(r"bundle\.tar\.gz\n(?:    .*\n)*?    content: (\S+)", ud).group(1)
print(f"bundle in user-data: per-file gz+b64 write_files {per_file} bytes; one gzip'd tar (b64) {len(archive)} bytes "
      f"({len(archive)/per_file:.2f} of per-file)")
PY
python3 - "$work/h.json" "$work/rss" "$work/user-data" <<'PY'
import json, os, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
b, t, c = r["build"], r["baseline: tar --zstd"], r["baseline: cloud-localds"]
rss = int(open(sys.argv[2]).read().split()[-1])
ud = os.path.getsize(sys.argv[3])
print(f"build production: mean {b['mean']*1000:.1f} ms (min {b['min']*1000:.1f}, max {b['max']*1000:.1f}), "
      f"peak RSS {rss/1024:.1f} MiB")
print(f"baseline tar --zstd of the same bundle: mean {t['mean']*1000:.1f} ms")
print(f"ratio build / baseline: {b['mean']/t['mean']:.2f}")
print(f"baseline cloud-localds seed.iso user-data meta-data: mean {c['mean']*1000:.1f} ms")
print(f"ratio build (all artifacts) / cloud-localds: {b['mean']/c['mean']:.2f} "
      f"({'met' if b['mean'] <= c['mean'] else 'MISSED'}: target <= 1)")
print(f"production user-data: {ud} bytes ({ud/1024:.1f} KiB; target <= 16 KiB -> {'met' if ud <= 16384 else 'MISSED'}; Hetzner limit 32 KiB)")
print(f"targets: < 50 ms -> {'met' if b['mean'] < 0.05 else 'MISSED'}; < 30 MiB -> {'met' if rss < 30*1024 else 'MISSED'}")
PY
