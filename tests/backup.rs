//! The release's backup script (bundle/usr/local/sbin/torrust-backup) run
//! as a VM runs it: as root, with the data volume, the release's
//! /etc/torrust-bake, the boot status and the console at their own paths
//! (bind mounts in a mount namespace of its own: nothing on this machine is
//! touched), against a restic repository on a real SFTP server (Debian's
//! openssh-server on loopback, with keys made here), and the real tracker
//! writing the database. What a boot under emulation cannot afford to try
//! runs here: a backup taken under load and restored to a database the
//! tracker opens, and each way a restore fails.
//!
//! Needs root (unshare, mount), restic, sshd, ssh-keygen, sqlite3, python3
//! and torrust-tracker: scripts/install-test-deps.sh.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_tcp_port, http_get, Project, Tracker};

const PASSWORD: &str = "restic-password-for-the-tests-0123";
const TOKEN: &str = "api-token-for-the-backup-tests";
/// The tracker's database on the VM (the local environment's SQLite file,
/// on the data volume).
const DB: &str = "tracker/lib/database/sqlite3.db";

/// An SFTP server on loopback, stopped when dropped.
struct Sftp {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Sftp {
    /// A server whose one user (root) logs in with `client.pub`.
    fn start(client_pub: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        std::fs::copy(client_pub, d.join("authorized_keys")).unwrap();
        std::fs::create_dir_all(d.join("repo")).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = free_tcp_port();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile none\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nSubsystem sftp internal-sftp\n",
                d = d.display()
            ),
        )
        .unwrap();
        let mut s = Sftp {
            dir,
            port,
            child: None,
        };
        s.resume();
        s
    }

    fn resume(&mut self) {
        let d = self.dir.path();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("/usr/sbin/sshd ({e}): scripts/install-test-deps.sh"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen: {}",
                std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn known_hosts_line(&self) -> String {
        let key = std::fs::read_to_string(self.dir.path().join("host_key.pub")).unwrap();
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        format!("[127.0.0.1]:{} {}\n", self.port, key.join(" "))
    }
}

impl Drop for Sftp {
    fn drop(&mut self) {
        self.stop();
    }
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "torrust-bake-test",
            "-f",
        ])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("ssh-keygen ({e}): scripts/install-test-deps.sh"));
    assert!(out.status.success(), "{out:?}");
}

/// A project whose local environment backs up to the SFTP server, its
/// release, and the server.
struct Rig {
    project: Project,
    release: PathBuf,
    sftp: Sftp,
    scratch: tempfile::TempDir,
}

impl Rig {
    fn new() -> Self {
        let project = Project::new();
        std::fs::create_dir_all(project.path().join("backup")).unwrap();
        keygen(&project.path().join("backup/id"));
        let sftp = Sftp::start(&project.path().join("backup/id.pub"));
        project.write("backup/known_hosts", &sftp.known_hosts_line());
        let rig = Rig {
            release: PathBuf::new(),
            project,
            sftp,
            scratch: tempfile::tempdir().unwrap(),
        };
        let release = rig.build(&[]);
        Rig { release, ..rig }
    }

    /// The local release with the repository's variables and `extra`.
    fn build(&self, extra: &[(&'static str, &str)]) -> PathBuf {
        let mut vars = self.vars();
        vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        self.project.build("local", &Self::refs(&vars))
    }

    fn refs<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
        vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "BACKUP_REPOSITORY",
                format!(
                    "sftp://root@127.0.0.1:{}/{}/repo",
                    self.sftp.port,
                    self.sftp.dir.path().display()
                ),
            ),
            ("BACKUP_PASSWORD", PASSWORD.into()),
            ("BACKUP_SFTP_KEY_FILE", "backup/id".into()),
            ("BACKUP_SFTP_KNOWN_HOSTS_FILE", "backup/known_hosts".into()),
        ]
    }

    /// A data volume: an empty directory.
    fn volume(&self, name: &str) -> PathBuf {
        let v = self.scratch.path().join(name);
        std::fs::create_dir_all(&v).unwrap();
        v
    }

    /// The release's /etc/torrust-bake with another repository password.
    fn etc_with_password(&self, password: &str) -> PathBuf {
        let etc = self.scratch.path().join("etc-other-password");
        let out = Command::new("cp")
            .arg("-a")
            .arg(self.release.join("bundle/etc/torrust-bake"))
            .arg(&etc)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        std::fs::write(etc.join("backup/password"), password).unwrap();
        etc
    }

    /// `torrust-backup ARGS` on a VM whose data volume is `volume`.
    fn vm(&self, volume: &Path, args: &[&str]) -> Vm {
        self.vm_with(
            volume,
            &self.release.join("bundle/etc/torrust-bake"),
            None,
            args,
        )
    }

    /// The same with `etc` as /etc/torrust-bake and, if `small`, a tmpfs of
    /// that many KiB on the database's directory.
    fn vm_with(&self, volume: &Path, etc: &Path, small: Option<u32>, args: &[&str]) -> Vm {
        let run = tempfile::tempdir_in(self.scratch.path()).unwrap();
        let r = run.path();
        std::fs::write(r.join("console"), "").unwrap();
        // The namespace's /etc is a copy of this machine's (ssh reads its
        // passwd) with the release's torrust-bake directory in it.
        let setup = r#"
set -eu
vol=$1 etc=$2 run=$3 small=$4 script=$5; shift 5
[ -e /dev/console ] || { echo "no /dev/console to bind the console over" >&2; exit 97; }
mount -t tmpfs tmpfs "$run/mnt"
mkdir -p "$run/mnt/etc"
cp -a /etc/. "$run/mnt/etc/"
mkdir -p "$run/mnt/etc/torrust-bake"
mount --bind "$run/mnt/etc" /etc
mount --bind "$etc" /etc/torrust-bake
mount -t tmpfs tmpfs /var/lib && mkdir /var/lib/torrust && mount --bind "$vol" /var/lib/torrust
mount -t tmpfs tmpfs /var/cache
mount -t tmpfs tmpfs /run && mkdir -p /run/torrust-bake/status /run/sshd
mount --bind "$run/console" /dev/console
if [ "$small" != - ]; then
    mkdir -p /var/lib/torrust/tracker/lib/database
    mount -t tmpfs -o size="$small"k tmpfs /var/lib/torrust/tracker/lib/database
fi
set +e
sh "$script" "$@"
rc=$?
cp /run/torrust-bake/status/boot.log "$run/status" 2>/dev/null
[ "$small" = - ] || ls -A /var/lib/torrust/tracker/lib/database >"$run/small-left"
exit $rc
"#;
        std::fs::create_dir_all(r.join("mnt")).unwrap();
        // The script of the release whose /etc/torrust-bake this is.
        let release = etc.ancestors().nth(3).filter(|r| r.join("bundle").is_dir());
        let script = release
            .unwrap_or(&self.release)
            .join("bundle/usr/local/sbin/torrust-backup");
        let small = small.map_or("-".to_string(), |k| k.to_string());
        let out = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                setup,
                "vm",
            ])
            .arg(volume)
            .arg(etc)
            .arg(r)
            .arg(&small)
            .arg(&script)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .unwrap_or_else(|e| panic!("unshare (util-linux): {e}"));
        assert_ne!(
            out.status.code(),
            Some(97),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let read = |f: &str| std::fs::read_to_string(r.join(f)).unwrap_or_default();
        let vm = Vm {
            code: out.status.code().unwrap_or(-1),
            status: read("status"),
            console: read("console"),
            small_left: read("small-left"),
            out,
        };
        // Secrets never reach what the VM says, on any path.
        for said in [&vm.status, &vm.console, &vm.output()] {
            assert!(!said.contains(PASSWORD), "the password leaked: {said}");
        }
        vm
    }

    /// `torrust-bake backup list local --json` from the operator's machine.
    fn list(&self) -> (i32, serde_json::Value, String) {
        let vars = self.vars();
        let run = self
            .project
            .run(&["backup", "list", "local", "--json"], &Self::refs(&vars));
        let v = serde_json::from_str(&run.stdout()).unwrap_or(serde_json::Value::Null);
        assert!(!run.all().contains(PASSWORD), "{}", run.all());
        (run.code(), v, run.stderr())
    }
}

struct Vm {
    code: i32,
    /// The boot status's lines (what the network sees).
    status: String,
    /// The console's (the tools' words too).
    console: String,
    /// What a full disk's database directory held after the script.
    small_left: String,
    out: Output,
}

impl Vm {
    fn output(&self) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.out.stdout),
            String::from_utf8_lossy(&self.out.stderr)
        )
    }

    fn said(&self) -> String {
        format!(
            "exit {}\n--- status:\n{}--- console:\n{}--- output:\n{}",
            self.code,
            self.status,
            self.console,
            self.output()
        )
    }

    /// The snapshot id in "WHAT: snapshot ID (...)" or "restored snapshot ID".
    fn snapshot(&self, what: &str) -> String {
        let line = self
            .status
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no '{what}' line: {}", self.said()));
        let rest = &line[line.find(what).unwrap() + what.len()..];
        let id: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
        assert_eq!(id.len(), 8, "{line}");
        id
    }
}

/// Every file (not directory) under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .unwrap_or_else(|e| panic!("sqlite3 ({e}): scripts/install-test-deps.sh"));
    assert!(out.status.success(), "{sql}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The real tracker, whitelisted, on loopback, its database at `db`.
struct Whitelisted {
    http: u16,
    api: u16,
    _tracker: Tracker,
}

impl Whitelisted {
    fn start(dir: &Path, db: &Path) -> Self {
        let (http, api, health) = (free_tcp_port(), free_tcp_port(), free_tcp_port());
        let config = dir.join(format!("tracker-{http}.toml"));
        std::fs::write(
            &config,
            format!(
                "[metadata]\napp = \"torrust-tracker\"\npurpose = \"configuration\"\nschema_version = \"2.0.0\"\n\n\
                 [logging]\nthreshold = \"error\"\n\n[core]\nlisted = true\nprivate = false\n\n\
                 [core.database]\ndriver = \"sqlite3\"\npath = \"{}\"\n\n\
                 [core.tracker_policy]\npersistent_torrent_completed_stat = true\n\n\
                 [[http_trackers]]\nbind_address = \"127.0.0.1:{http}\"\n\n\
                 [http_api]\nbind_address = \"127.0.0.1:{api}\"\n\n[http_api.access_tokens]\nadmin = \"{TOKEN}\"\n\n\
                 [health_check_api]\nbind_address = \"127.0.0.1:{health}\"\n",
                db.display()
            ),
        )
        .unwrap();
        let tracker = common::start_tracker(&config);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", health)).is_err()
            || http_get(health, "/health_check").0 != 200
        {
            assert!(Instant::now() < deadline, "the tracker did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Whitelisted {
            http,
            api,
            _tracker: tracker,
        }
    }

    fn whitelist(&self, info_hash: &str) {
        let (status, body) = common::http_post(
            self.api,
            &format!("/api/v1/whitelist/{info_hash}?token={TOKEN}"),
        );
        assert_eq!(status, 200, "{body}");
    }
}

/// Peer `peer` downloads `info_hash`: it announces `started`, then
/// `completed` (the tracker counts a download only for a peer it knew
/// leeching); the tracker's last reply.
fn completed(http: u16, info_hash: &str, peer: usize) -> (u16, String) {
    let escaped: String = info_hash
        .as_bytes()
        .chunks(2)
        .map(|h| format!("%{}", std::str::from_utf8(h).unwrap()))
        .collect();
    let announce = |event: &str, left: u32| {
        http_get(
            http,
            &format!(
                "/announce?info_hash={escaped}&peer_id={peer:020}&port=6881&uploaded=0&downloaded=0&left={left}&event={event}&compact=1"
            ),
        )
    };
    let started = announce("started", 1);
    if !accepted(&started) {
        return started;
    }
    announce("completed", 0)
}

fn accepted(reply: &(u16, String)) -> bool {
    reply.0 == 200 && reply.1.contains("8:interval") && !reply.1.contains("failure reason")
}

const H1: &str = "1111111111111111111111111111111111111111";
const H2: &str = "2222222222222222222222222222222222222222";
const H3: &str = "3333333333333333333333333333333333333333";

/// A scheduled (online, VACUUM INTO) backup taken while completed
/// announces write to the database restores onto an empty volume as the
/// database at the backup's start: the tracker opens it and honours its
/// whitelist, the completed count lies between those before and after the
/// backup, and what was whitelisted after it is not there. The old VM's
/// shutdown then backs up the closed file, and the next VM says so.
#[test]
fn a_backup_under_load_restores_to_a_database_the_tracker_opens() {
    let rig = Rig::new();
    let v1 = rig.volume("v1");
    let db1 = v1.join(DB);
    std::fs::create_dir_all(db1.parent().unwrap()).unwrap();
    let tracker = Whitelisted::start(rig.scratch.path(), &db1);
    tracker.whitelist(H1);
    tracker.whitelist(H2);

    // The load: completed announces of H1, one new peer after another.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let load = {
        let (stop, done, http) = (stop.clone(), done.clone(), tracker.http);
        std::thread::spawn(move || {
            let mut peer = 0;
            while !stop.load(Ordering::SeqCst) && peer < 20_000 {
                peer += 1;
                if accepted(&completed(http, H1, peer)) {
                    done.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    while done.load(Ordering::SeqCst) < 50 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = done.load(Ordering::SeqCst);
    let backup = rig.vm(&v1, &["scheduled"]);
    let after = done.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    load.join().unwrap();
    assert_eq!(backup.code, 0, "{}", backup.said());
    let scheduled = backup.snapshot("backup: snapshot ");
    assert!(
        after > before,
        "no announce completed during the backup ({before})"
    );
    tracker.whitelist(H3);

    // The restore, onto an empty volume.
    let v2 = rig.volume("v2");
    let restore = rig.vm(&v2, &["restore", &scheduled]);
    assert_eq!(restore.code, 0, "{}", restore.said());
    assert_eq!(restore.snapshot("restored snapshot "), scheduled);
    let db2 = v2.join(DB);
    assert_eq!(sqlite(&db2, "PRAGMA integrity_check;"), "ok");
    let n: usize = sqlite(
        &db2,
        &format!("SELECT completed FROM torrents WHERE info_hash = '{H1}';"),
    )
    .parse()
    .unwrap();
    assert!(
        (before..=after).contains(&n),
        "completed {n}: not between {before} (before the backup) and {after} (after it)"
    );
    assert_eq!(
        sqlite(&db2, "SELECT info_hash FROM whitelist ORDER BY info_hash;"),
        format!("{H1}\n{H2}"),
        "the whitelist is the one at the backup's start"
    );
    {
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::metadata(&db2).unwrap();
        assert_eq!((meta.uid(), meta.mode() & 0o777), (1000, 0o640));
    }
    assert!(
        files(&v2) == vec![db2.clone()],
        "the restore left more than the database: {:?}",
        files(&v2)
    );
    // The tracker opens it and honours its whitelist.
    let restored = Whitelisted::start(rig.scratch.path(), &db2);
    assert!(accepted(&completed(restored.http, H2, 1)));
    let refused = completed(restored.http, H3, 1);
    assert!(refused.1.contains("failure reason"), "{refused:?}");
    drop(restored);

    // The hand-over: the tracker stopped, its file backed up; the next VM
    // (the same volume) says what was made.
    drop(tracker);
    let handover = rig.vm(&v1, &["handover"]);
    assert_eq!(handover.code, 0, "{}", handover.said());
    let id = handover.snapshot("hand-over backup: snapshot ");
    let report = rig.vm(&v1, &["report"]);
    assert_eq!(report.snapshot("hand-over backup: snapshot "), id);
    let arm = rig.vm(&v1, &["arm"]);
    assert_eq!(arm.code, 0, "{}", arm.said());
    let report = rig.vm(&v1, &["report"]);
    assert!(
        report.status.contains("hand-over backup: none"),
        "{}",
        report.said()
    );

    // Without a repository, copies stay on the volume: the staging copy
    // is moved into place, no second one is left.
    let local = rig.project.build("local", &[]);
    let v3 = rig.volume("v3");
    std::fs::create_dir_all(v3.join(DB).parent().unwrap()).unwrap();
    std::fs::copy(&db2, v3.join(DB)).unwrap();
    let b = rig.vm_with(
        &v3,
        &local.join("bundle/etc/torrust-bake"),
        None,
        &["scheduled"],
    );
    assert_eq!(b.code, 0, "{}", b.said());
    let kept: Vec<String> = std::fs::read_dir(v3.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        kept.len() == 1 && kept[0].starts_with("tracker-") && kept[0].ends_with("-scheduled.db"),
        "{kept:?}: {}",
        b.said()
    );
    assert_eq!(
        sqlite(
            &v3.join("backups").join(&kept[0]),
            "SELECT count(*) FROM whitelist;"
        ),
        "2"
    );

    // The operator's list: both, newest last, each with what made it.
    let (code, list, err) = rig.list();
    assert_eq!(code, 0, "{err}");
    let snaps = list["snapshots"].as_array().unwrap();
    let got: Vec<(&str, &str)> = snaps
        .iter()
        .map(|s| {
            (
                s["short_id"].as_str().unwrap(),
                s["tags"][0].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(scheduled.as_str(), "scheduled"), (id.as_str(), "handover")]
    );
}

/// Each way a restore fails says why in the boot status and leaves the
/// volume as it was (no file, no directory), so that a retry finds it
/// empty: no repository yet, a snapshot that does not exist, a wrong
/// password, a disk too small, a server that does not answer. A hand-over
/// that cannot back up tells the next VM so, and never fails the shutdown.
#[test]
fn a_restore_that_cannot_finish_says_why_and_leaves_the_volume_empty() {
    let mut rig = Rig::new();
    // (tests/verifiers.rs checks the environments as committed, which
    // back up to no repository: here the script that talks to one.)
    // The stopped method (it needs systemd, so it is checked, not run).
    let stopped = rig.build(&[("BACKUP_SQLITE_METHOD", "stopped")]);
    for release in [&rig.release, &stopped] {
        let script = release.join("bundle/usr/local/sbin/torrust-backup");
        let check = common::verifier(
            "shellcheck",
            &["-S", "warning", script.to_str().unwrap()],
            rig.scratch.path(),
        );
        assert!(check.status.success(), "{check:?}");
    }
    let empty = rig.volume("empty");
    let untouched = |vm: &Vm| {
        assert_eq!(vm.code, 1, "{}", vm.said());
        let left: Vec<_> = std::fs::read_dir(&empty).unwrap().collect();
        assert!(left.is_empty(), "the volume holds {left:?}: {}", vm.said());
    };
    // A restore that fails with `why` in the boot status, the volume empty.
    let refused = |vm: &Vm, why: &str| {
        untouched(vm);
        assert!(vm.status.contains(why), "{}", vm.said());
    };

    let r = rig.vm(&empty, &["restore", "latest"]);
    refused(
        &r,
        "FAILED: restore: there is no repository at BACKUP_REPOSITORY",
    );
    let (code, _, err) = rig.list();
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no repository at BACKUP_REPOSITORY yet"),
        "{err}"
    );

    // A database worth 256 KiB, backed up by a hand-over.
    let v1 = rig.volume("v1");
    let db = v1.join(DB);
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    sqlite(
        &db,
        "CREATE TABLE whitelist (id INTEGER PRIMARY KEY, info_hash TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)
         INSERT INTO whitelist (info_hash) SELECT lower(hex(randomblob(20))) FROM n;",
    );
    let h = rig.vm(&v1, &["handover"]);
    let id = h.snapshot("hand-over backup: snapshot ");

    let r = rig.vm(&empty, &["restore", "deadbeef"]);
    refused(&r, "FAILED: restore: no snapshot deadbeef of local in the repository (torrust-bake backup list local)");

    let wrong = rig.etc_with_password("not-the-repository-password");
    let r = rig.vm_with(&empty, &wrong, None, &["restore", "latest"]);
    refused(
        &r,
        "FAILED: restore: the repository refused BACKUP_PASSWORD (wrong password)",
    );
    let h = rig.vm_with(&v1, &wrong, None, &["handover"]);
    assert_eq!(
        h.code,
        0,
        "a failed backup never fails the shutdown: {}",
        h.said()
    );
    let next = rig.vm(&v1, &["report"]);
    assert!(
        next.status.contains(
            "hand-over backup failed: the repository refused BACKUP_PASSWORD (wrong password)"
        ),
        "{}",
        next.said()
    );

    // A snapshot that is no SQLite database (a hand-over copies the file
    // as it is): the restore fails after it made the database's
    // directories, and removes them with its copy.
    let junk = rig.volume("junk");
    std::fs::create_dir_all(junk.join(DB).parent().unwrap()).unwrap();
    std::fs::write(junk.join(DB), "not a database\n".repeat(100)).unwrap();
    let j = rig.vm(&junk, &["handover"]);
    let junk_id = j.snapshot("hand-over backup: snapshot ");
    let r = rig.vm(&empty, &["restore", &junk_id]);
    refused(
        &r,
        &format!("FAILED: restore: snapshot {junk_id} holds no sound SQLite database"),
    );

    // 64 KiB for a 256 KiB database: nothing of it stays.
    let r = rig.vm_with(
        &empty,
        &rig.release.join("bundle/etc/torrust-bake"),
        Some(64),
        &["restore", &id],
    );
    assert_eq!(r.code, 1, "{}", r.said());
    assert!(
        r.status.contains(&format!(
            "FAILED: restore: snapshot {id} could not be read (disk full?)"
        )),
        "{}",
        r.said()
    );
    assert_eq!(r.small_left, "", "a partial copy stayed: {}", r.said());
    assert!(
        files(&empty).is_empty(),
        "{:?}: {}",
        files(&empty),
        r.said()
    );
    std::fs::remove_dir_all(empty.join("tracker")).unwrap();

    rig.sftp.stop();
    let r = rig.vm(&empty, &["restore", &id]);
    refused(
        &r,
        "FAILED: restore: cannot reach the repository (details on the console)",
    );
    let (code, _, err) = rig.list();
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot read the repository at BACKUP_REPOSITORY"),
        "{err}"
    );

    // And once the server is back, the same restore puts the file in place.
    rig.sftp.resume();
    let r = rig.vm(&empty, &["restore", &id]);
    assert_eq!(r.code, 0, "{}", r.said());
    assert_eq!(
        sqlite(&empty.join(DB), "SELECT count(*) FROM whitelist;"),
        "4000"
    );
}
