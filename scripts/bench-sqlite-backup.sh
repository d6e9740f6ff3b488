#!/usr/bin/env bash
# What a backup of the tracker's SQLite database costs, three ways (issue
# "Backups"), on a database of SIZE MiB whose schema the real tracker made,
# while the real tracker writes to it (completed announces over HTTP, each
# an upsert into `torrents` with persistent_torrent_completed_stat on):
#   stopped  the tracker stopped, the file copied (and synced), the tracker
#            started again: the tracker's outage is the figure;
#   vacuum   `VACUUM INTO` a new file, online: one read transaction, so a
#            consistent copy; in the tracker's journal mode (rollback, the
#            default) writers wait for it: the writes that failed count;
#   backup   sqlite3's `.backup` (the online backup API), online: it starts
#            over whenever another connection writes, so under writes it may
#            never end (cut off after BENCH_CAP_S, default 300 s).
# Each copy is checked: `PRAGMA integrity_check`, and its whitelist is the
# source's. Figures are ratios against the stopped copy, measured in the
# same run; the machine is named.
#
# usage: scripts/bench-sqlite-backup.sh [SIZE_MIB] [WRITES_PER_S]   (defaults 1024, 50)
set -euo pipefail
size=${1:-1024}
rate=${2:-50}
cap=${BENCH_CAP_S:-300}
export PATH="$HOME/.cargo/bin:$PATH"
for tool in torrust-tracker sqlite3 curl restic; do
    command -v "$tool" >/dev/null || { echo "bench-sqlite-backup: $tool missing (scripts/install-test-deps.sh)" >&2; exit 1; }
done
work=$(mktemp -d /var/tmp/torrust-bake-bench-sqlite.XXXXXX)
tracker=
writer=
cleanup() {
    [ -z "${sshd_pid:-}" ] || kill "$sshd_pid" 2>/dev/null || true
    [ -z "$writer" ] || kill "$writer" 2>/dev/null || true
    [ -z "$tracker" ] || kill "$tracker" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
say() { echo "bench-sqlite-backup: $*" >&2; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l | xargs printf '%.2f'; }
mib() { echo $(($(stat -c %s "$1") / 1048576)); }

port=$((20000 + RANDOM % 20000))
db=$work/tracker.db
cat >"$work/tracker.toml" <<EOF
[metadata]
app = "torrust-tracker"
purpose = "configuration"
schema_version = "2.0.0"

[logging]
threshold = "error"

[core]
listed = false
private = false

[core.database]
driver = "sqlite3"
path = "$db"

[core.tracker_policy]
persistent_torrent_completed_stat = true

[[http_trackers]]
bind_address = "127.0.0.1:$port"

[health_check_api]
bind_address = "127.0.0.1:$((port + 1))"
EOF
start_tracker() {
    TORRUST_TRACKER_CONFIG_TOML_PATH=$work/tracker.toml torrust-tracker >>"$work/tracker.log" 2>&1 &
    tracker=$!
    for _ in $(seq 300); do
        curl -fs --max-time 1 "http://127.0.0.1:$((port + 1))/health_check" >/dev/null && return 0
        sleep 0.1
    done
    tail -5 "$work/tracker.log" >&2
    echo "bench-sqlite-backup: the tracker did not start" >&2
    exit 1
}
# As `docker compose stop` does with the release's compose file: SIGINT
# (stop_signal; tracker 3.0.0 ignores SIGTERM), SIGKILL after the 10 s grace.
stop_tracker() {
    kill -INT "$tracker" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$tracker" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$tracker" 2>/dev/null || true
    wait "$tracker" 2>/dev/null || true
    tracker=
}

# The tracker makes its schema; rows are added in batches of a million
# torrents (40 hex digits each, as the tracker writes them) up to SIZE.
start_tracker
stop_tracker
sqlite3 "$db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
    INSERT INTO whitelist (info_hash) SELECT lower(hex(randomblob(20))) FROM n;"
t=$(now)
while (($(mib "$db") < size)); do
    sqlite3 "$db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
        INSERT INTO torrents (info_hash, completed) SELECT lower(hex(randomblob(20))), abs(random()) % 1000 FROM n;"
done
rows=$(sqlite3 "$db" "SELECT count(*) FROM torrents;")
say "database: $(mib "$db") MiB, $rows torrents, 10000 whitelisted, made in $(since "$t") s ($(sqlite3 "$db" 'PRAGMA journal_mode;') journal)"
sync

# The writer: completed announces one after another, 1/RATE s apart (so at
# most RATE a second; each is a curl, so fewer), each a new peer of a new
# torrent (so each is a write); it logs one line per announce, 1 if it
# succeeded.
start_writer() {
    local log=$1
    (
        i=0
        tag=$(printf '%04x%04x' $RANDOM $RANDOM)
        while :; do
            ih=$(printf '%s%032x' "$tag" $i)
            peer=$(printf '%020d' $i)
            out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 5 \
                "http://127.0.0.1:$port/announce?info_hash=$(sed 's/../%&/g' <<<"$ih")&peer_id=$peer&port=6881&uploaded=0&downloaded=0&left=0&event=completed&compact=1" || true)
            # (a time and 1 or 0, then the announce's seconds)
            [ "${out%% *}" = 200 ] && echo "$(now) 1 ${out#* }" || echo "$(now) 0 ${out#* }"
            i=$((i + 1))
            sleep "$(echo "1 / $rate" | bc -l)"
        done
    ) >"$log" &
    writer=$!
}
stop_writer() { kill "$writer" 2>/dev/null || true; wait "$writer" 2>/dev/null || true; writer=; }
failed() { awk '$2 == 0' "$1" | wc -l; }
slowest() { awk 'BEGIN { m = 0 } $3 > m { m = $3 } END { printf "%.3f", m }' "$1"; }
writes() { echo "$(failed "$1") of $(wc -l <"$1") announces failed, the slowest $(slowest "$1") s"; }

check_copy() { # check_copy FILE: integrity and the whitelist of the source
    [ "$(sqlite3 "$1" 'PRAGMA integrity_check;')" = ok ] || { echo "bench-sqlite-backup: $1 fails integrity_check" >&2; exit 1; }
    [ "$(sqlite3 "$1" 'SELECT count(*) FROM whitelist;')" = 10000 ] || { echo "bench-sqlite-backup: $1 lost whitelist rows" >&2; exit 1; }
}

# 1. stopped: the outage is stop + copy + sync + start to healthy.
start_tracker
start_writer "$work/w-stopped.log"
sleep 3
t=$(now)
stop_tracker
# (A kill mid-write leaves a hot journal: it is part of the copy.)
cp "$db" "$work/stopped.db"
[ ! -e "$db-journal" ] || cp "$db-journal" "$work/stopped.db-journal"
sync "$work"/stopped.db*
copy_s=$(since "$t")
start_tracker
stopped_s=$(since "$t")
sleep 2
stop_writer
check_copy "$work/stopped.db"
say "stopped: copy $copy_s s, tracker down $stopped_s s ($(writes "$work/w-stopped.log"))"

# 2. vacuum: online, one read transaction.
start_writer "$work/w-vacuum.log"
sleep 3
t=$(now)
sqlite3 "$db" "VACUUM INTO '$work/vacuum.db';"
vacuum_s=$(since "$t")
sync "$work/vacuum.db"
sleep 2
stop_writer
check_copy "$work/vacuum.db"
say "vacuum: $vacuum_s s, $(mib "$work/vacuum.db") MiB ($(writes "$work/w-vacuum.log"))"

# 3. backup: the online backup API, under the same writes, capped.
start_writer "$work/w-backup.log"
sleep 3
t=$(now)
backup=finished
rc=0
timeout "$cap" sqlite3 "$db" ".timeout 5000" ".backup '$work/backup.db'" 2>"$work/backup.err" || rc=$?
case $rc in
0) ;;
124) backup="not done after $cap s" ;;
*) backup="failed: $(tail -n 1 "$work/backup.err")" ;;
esac
backup_s=$(since "$t")
stop_writer
[ "$backup" != finished ] || check_copy "$work/backup.db"
say "backup: $backup in $backup_s s ($(writes "$work/w-backup.log"))"
stop_tracker

# 4. restic: what a hand-over's backup adds to the outage (it runs once the
# tracker has stopped, before the volume lets go): the stopped copy into a
# new repository (the first hand-over), then again after a minute's worth
# of writes (every later one: restic stores only the changed chunks). Into a
# repository on this disk, and over SFTP to sshd on loopback (ssh's cipher
# too) when Debian's openssh-server is here.
export RESTIC_PASSWORD=bench-only-not-a-secret RESTIC_CACHE_DIR=$work/restic-cache
sshd_pid=
restic_to() { # restic_to DIR REPOSITORY [restic options]: "first second MiB-after-first MiB-after-second"
    local dir=$1 repo=$2
    shift 2
    restic -q -r "$repo" "$@" init >/dev/null
    local t first second size1
    t=$(now)
    restic -q -r "$repo" "$@" backup --stdin --stdin-filename tracker.db <"$work/stopped.db" >/dev/null
    first=$(since "$t")
    size1=$(du -sm "$dir" | cut -f1)
    # A minute of this bench's writes: 1300 torrents changed.
    sqlite3 "$work/stopped.db" "UPDATE torrents SET completed = completed + 1 WHERE id % 7700 = 0;"
    t=$(now)
    restic -q -r "$repo" "$@" backup --stdin --stdin-filename tracker.db <"$work/stopped.db" >/dev/null
    second=$(since "$t")
    echo "$first $second $size1 $(du -sm "$dir" | cut -f1)"
}
restic_local=$(restic_to "$work/repo-local" "$work/repo-local")
restic_sftp=
if command -v restic >/dev/null && [ -x /usr/sbin/sshd ]; then
    mkdir -p "$work/sftp" /run/sshd
    ssh-keygen -q -t ed25519 -N '' -f "$work/sftp/host_key"
    ssh-keygen -q -t ed25519 -N '' -f "$work/sftp/id"
    sport=$((port + 2))
    cat >"$work/sftp/sshd_config" <<EOF
Port $sport
ListenAddress 127.0.0.1
HostKey $work/sftp/host_key
PidFile none
AuthorizedKeysFile $work/sftp/id.pub
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
EOF
    /usr/sbin/sshd -D -f "$work/sftp/sshd_config" &
    sshd_pid=$!
    for _ in $(seq 100); do (: </dev/tcp/127.0.0.1/"$sport") 2>/dev/null && break; sleep 0.1; done
    echo "[127.0.0.1]:$sport $(cut -d' ' -f1,2 "$work/sftp/host_key.pub")" >"$work/sftp/known_hosts"
    restic_sftp=$(restic_to "$work/repo-sftp" "sftp://root@127.0.0.1:$sport/$work/repo-sftp" \
        -o sftp.command="ssh -i $work/sftp/id -o UserKnownHostsFile=$work/sftp/known_hosts -o BatchMode=yes -p $sport root@127.0.0.1 -s sftp")
    kill "$sshd_pid"
fi
field() { cut -d' ' -f"$1" <<<"$2"; }
say "restic (local): first $(field 1 "$restic_local") s, second $(field 2 "$restic_local") s, repository $(field 3 "$restic_local") then $(field 4 "$restic_local") MiB"
[ -z "$restic_sftp" ] || say "restic (sftp): first $(field 1 "$restic_sftp") s, second $(field 2 "$restic_sftp") s"

ratio() { echo "$1 / $stopped_s" | bc -l | xargs printf '%.2f'; }
cat <<EOF
bench-sqlite-backup: $(mib "$db") MiB, $rows torrents, completed announces one after another with 1/$rate s between them (one curl each), on $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(df -T "$work" | awk 'NR == 2 {print $2}')
  method    seconds  vs stopped  announces failed  slowest announce  copy
  stopped   $(printf '%7s' "$stopped_s")  $(printf '%10s' 1.00)  $(printf '%16s' "$(failed "$work/w-stopped.log")")  $(printf '%14s s' "$(slowest "$work/w-stopped.log")")  consistent (the tracker down meanwhile)
  vacuum    $(printf '%7s' "$vacuum_s")  $(printf '%10s' "$(ratio "$vacuum_s")")  $(printf '%16s' "$(failed "$work/w-vacuum.log")")  $(printf '%14s s' "$(slowest "$work/w-vacuum.log")")  consistent (one read transaction)
  backup    $(printf '%7s' "$backup_s")  $(printf '%10s' "$(ratio "$backup_s")")  $(printf '%16s' "$(failed "$work/w-backup.log")")  $(printf '%14s s' "$(slowest "$work/w-backup.log")")  $([ "$backup" = finished ] && echo consistent || echo "$backup")
the hand-over's backup (the tracker stopped, the closed file into restic; added to the outage):
  repository  first  vs stopped  again, 1300 rows changed  vs stopped  repository after each
  local     $(printf '%7s' "$(field 1 "$restic_local")")  $(printf '%10s' "$(ratio "$(field 1 "$restic_local")")")  $(printf '%24s' "$(field 2 "$restic_local")")  $(printf '%10s' "$(ratio "$(field 2 "$restic_local")")")  $(field 3 "$restic_local"), $(field 4 "$restic_local") MiB
EOF
[ -z "$restic_sftp" ] || cat <<EOF
  sftp      $(printf '%7s' "$(field 1 "$restic_sftp")")  $(printf '%10s' "$(ratio "$(field 1 "$restic_sftp")")")  $(printf '%24s' "$(field 2 "$restic_sftp")")  $(printf '%10s' "$(ratio "$(field 2 "$restic_sftp")")")  $(field 3 "$restic_sftp"), $(field 4 "$restic_sftp") MiB
EOF
