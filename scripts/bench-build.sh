#!/usr/bin/env bash
# Benchmark of `torrust-bake check ENV` and `build ENV` (release binary;
# every artifact: bundle, tar.zst, user-data, seed.iso, seed.img,
# seed.qcow2, checksums, all fsynced) for every environment in
# environments/, against two baselines on the same files, measured in the
# same run: `cloud-localds seed.iso user-data meta-data [-N network-config]`
# on the environment's own cloud-init files (the usual way to make a NoCloud
# seed; targets for production: build <= 1.0x, check <= 0.5x) and
# `tar --zstd` of the environment's bundle tree (what a shell deployer does
# at minimum). The commands run interleaved, one of each per round, so a
# machine whose load changes during the run (CI, a shared developer box)
# weighs on all of them alike; figures are medians of RUNS rounds.
# Uses the test fixture lock (the committed lock leaves the tracker unpinned
# until `images pin` runs), and the shipped env files with their example.com
# domain (which strict environments refuse) replaced by torrust-demo.com, as
# the tests do. Usage: scripts/bench-build.sh [RUNS]
set -euo pipefail
runs=${1:-15}
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/torrust-bake
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/images" "$work/base"
cp -r environments templates "$work/"
cp tests/fixtures/images.lock "$work/images/images.lock"
sed -i -E '/^(DOMAIN_NAME|SSL_EMAIL)=/s/example\.com/torrust-demo.com/' "$work"/environments/*.env
export TORRUST_TRACKER_API_TOKEN=bench-token-0123456789abcdefghijklmnopqrstuvwxyz
export GRAFANA_ADMIN_PASSWORD=bench-grafana-password-0123456789
export MYSQL_PASSWORD=bench-mysql-password-0123456789
export MYSQL_ROOT_PASSWORD=bench-mysql-root-password-0123456789
export TORRUST_BAKE_RELEASE_KEY=bench-release-key-0123456789abcdefghij

# One build per environment gives the baselines their files.
envs=$(cd environments && ls ./*.env | sed 's|^\./||; s|\.env$||')
for env in $envs; do
    path=$("$bin" -C "$work" build "$env" --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["path"])')
    mkdir -p "$work/base/$env"
    cp -a "$work/$path/bundle" "$work/base/$env/tree"
    cp "$work/$path"/user-data "$work/$path"/meta-data "$work/base/$env/"
    [ -e "$work/$path/network-config" ] && cp "$work/$path/network-config" "$work/base/$env/"
    /usr/bin/time -f '%M' -o "$work/base/$env/rss" "$bin" -C "$work" build "$env" >/dev/null 2>&1
done
machine="$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(df -T "$work" | awk 'NR==2{print $2}') at $work"

python3 - "$bin" "$work" "$runs" "$machine" $envs <<'PY'
import os, shutil, statistics, sys, time
bin, work, runs, machine, envs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]
tar, localds = shutil.which("tar"), shutil.which("cloud-localds")
quiet = [(os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_WRONLY, 0) for fd in (1, 2)]
moved = 0

def fresh_releases():
    # Each timed build writes a new releases/ (the previous one is moved
    # aside, not deleted: deleting ~100 inodes right before makes ext4 scan
    # for recently deleted inodes on every create, a cost a real build does
    # not pay).
    global moved
    if os.path.exists(f"{work}/releases"):
        moved += 1
        os.rename(f"{work}/releases", f"{work}/old-{moved}")

def timed(argv):
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=quiet)
    _, status = os.waitpid(pid, 0)
    took = time.perf_counter() - start
    if status != 0:
        sys.exit(f"failed: {' '.join(argv)}")
    return took

commands = []
for env in envs:
    base = f"{work}/base/{env}"
    nc = ["-N", f"{base}/network-config"] if os.path.exists(f"{base}/network-config") else []
    commands += [
        (env, "check", [bin, "-C", work, "check", env], None),
        (env, "build", [bin, "-C", work, "build", env], fresh_releases),
        (env, "cloud-localds", [localds, *nc, f"{work}/cl-{env}.iso", f"{base}/user-data", f"{base}/meta-data"], None),
        (env, "tar --zstd", [tar, "--zstd", "-cf", f"{work}/{env}.tar.zst", "-C", f"{base}/tree", "."], None),
    ]
times = {(env, what): [] for env, what, _, _ in commands}
load_before = os.getloadavg()
for round in range(3 + runs):
    for env, what, argv, prepare in commands:
        if prepare:
            prepare()
        took = timed(argv)
        if round >= 3:  # the first three are warm-up
            times[(env, what)].append(took)
load_after = os.getloadavg()
med = {k: statistics.median(v) * 1000 for k, v in times.items()}

print(f"machine: {machine}")
print(f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
      f"median of {runs} interleaved rounds after 3 warm-up rounds")
print(f"{'environment':<12} {'command':<6} {'median ms':>10} {'/ cloud-localds':>16} {'/ tar --zstd':>13}")
for env in envs:
    cl, tz = med[(env, "cloud-localds")], med[(env, "tar --zstd")]
    for what in ("check", "build"):
        m = med[(env, what)]
        print(f"{env:<12} {what:<6} {m:>10.1f} {m / cl:>16.2f} {m / tz:>13.2f}")
    print(f"{env:<12} {'baselines: cloud-localds':<30} {cl:.1f} ms, tar --zstd {tz:.1f} ms")
if "production" in envs:
    p = "production"
    b, c, cl = med[(p, "build")], med[(p, "check")], med[(p, "cloud-localds")]
    print(f"target: build production <= 1.0x cloud-localds: {b / cl:.2f} "
          f"({'met' if b <= cl else 'MISSED'}); check production <= 0.5x: {c / cl:.2f} "
          f"({'met' if c <= 0.5 * cl else 'MISSED'})")
    rss = int(open(f"{work}/base/{p}/rss").read().split()[-1])
    ud = os.path.getsize(f"{work}/base/{p}/user-data")
    print(f"build production peak RSS {rss / 1024:.1f} MiB (target < 30 MiB -> {'met' if rss < 30 * 1024 else 'MISSED'}); "
          f"user-data {ud} bytes ({ud / 1024:.1f} KiB; target <= 24 KiB -> {'met' if ud <= 24576 else 'MISSED'}; Hetzner limit 32 KiB)")
PY

# The two ways to carry the bundle in user-data, measured on production:
# one gz+b64 write_files entry per file (as cloud-init documents) versus the
# one gzip'd tar that torrust-bake sends (see src/cloudinit.rs).
python3 - "$work/base/production/tree" "$work/base/production/user-data" <<'PY'
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
