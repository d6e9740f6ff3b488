#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 5) and
# prints, per target, the executions and coverage libFuzzer reports.
# Exits 1 when any target crashes, hangs (-timeout) or runs out of memory
# (-rss_limit_mb); the input that did it is left in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Only stable rustc is needed: cargo-fuzz passes nightly flags (-Z
# sanitizer, sancov), which RUSTC_BOOTSTRAP=1 lets stable accept. The
# sanitizer is AddressSanitizer when the toolchain ships its runtime
# (rustup's x86_64 Linux toolchains do), else none; FUZZ_SANITIZER
# overrides (address, none, ...). Each target's corpus grows in
# fuzz/corpus/<target> (git-ignored), seeded from fuzz/seeds/<target>.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
secs=${1:-5}
shift || true
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;; esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: cargo install --locked cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1

sanitizer=${FUZZ_SANITIZER:-}
if [ -z "$sanitizer" ]; then
    if compgen -G "$(rustc --print target-libdir)/librustc-*_rt.asan.a" >/dev/null; then
        sanitizer=address
    else
        sanitizer=none
    fi
fi

targets=("$@")
if ((${#targets[@]} == 0)); then
    mapfile -t targets < <(cargo fuzz list)
fi

# FUZZ_DEV=1: unoptimized builds (--dev), about half the compile time of a
# fresh machine's first build; CI's few seconds a target need no speed.
mode=()
[ "${FUZZ_DEV:-0}" = 1 ] && mode=(--dev)

start=$(date +%s)
echo "fuzz: building ${#targets[@]} targets (sanitizer: $sanitizer${mode:+, dev})" >&2
if ((${#targets[@]} == 1)); then
    cargo fuzz build "${mode[@]}" --sanitizer "$sanitizer" "${targets[0]}"
else
    cargo fuzz build "${mode[@]}" --sanitizer "$sanitizer"
fi
built=$(date +%s)

logs=fuzz/target/logs
mkdir -p "$logs"
failed=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
    log="$logs/$t.log"
    # -timeout: one input running longer is a hang; -rss_limit_mb: an OOM;
    # -max_len: room for nesting deeper than the default 4 KiB allows.
    status=0
    cargo fuzz run "${mode[@]}" --sanitizer "$sanitizer" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -Eo '(DONE|INITED|pulse|NEW|REDUCE) +cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 |
        sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+)/cov \1, ft \2, corpus \3/')
    if ((status == 0)); then
        printf '%-20s ok    %s s, %s execs (%s/s), %s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" "${cov:-?}"
    else
        printf '%-20s FAIL  exit %s after %s execs, %s\n' "$t" "$status" "${execs:-?}" "${cov:-?}"
        grep -E '^(==[0-9]+== ?ERROR|thread .* panicked|.*deadly signal|.*ALARM|.*out-of-memory|SUMMARY)' "$log" | head -5 | sed 's/^/    /'
        grep -Eo 'Test unit written to [^ ]+' "$log" | sed 's/^/    /'
        echo "    log: $log"
        failed+=("$t")
    fi
done
echo "fuzz: build $((built - start)) s, runs $(($(date +%s) - built)) s" >&2
if ((${#failed[@]})); then
    echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
    exit 1
fi
