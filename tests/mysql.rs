//! The tracker's MySQL driver with the database URL the release renders,
//! against a real MariaDB server (Debian's mariadb-server 10.11, which
//! speaks MySQL's protocol) that the test starts in a temporary directory
//! on a loopback port: a password full of the characters that break naive
//! escaping survives the URL (the renderer's percent-encoding, the
//! tracker's decoding), the tracker makes its tables there, and what the
//! API whitelists outlives a restart of the tracker, read back both by the
//! tracker and from the database. The bundled MySQL's container (the
//! official image's entrypoint, its data on the volume) is not yet run end
//! to end.
//!
//! Needs root (the test logs in as MariaDB's root by its unix socket, which
//! takes the OS user root), Debian's MariaDB server and client, and
//! torrust-tracker: scripts/install-test-deps.sh.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_tcp_port, http_get, http_post, LoopbackTracker, NASTY_MYSQL};

/// A MariaDB server in a directory of its own, stopped when dropped.
struct MariaDb {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl MariaDb {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let out = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--skip-test-db"])
            .args(["--auth-root-authentication-method=socket"])
            .arg(format!("--datadir={}", d.join("data").display()))
            .output()
            .unwrap_or_else(|e| panic!("mariadb-install-db ({e}): scripts/install-test-deps.sh"));
        assert!(out.status.success(), "mariadb-install-db: {out:?}");
        let port = free_tcp_port();
        let child = Command::new("mariadbd")
            .args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1"])
            .args(["--skip-name-resolve", "--skip-log-bin"])
            .arg(format!("--port={port}"))
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg(format!("--socket={}", d.join("sock").display()))
            .arg(format!("--pid-file={}", d.join("pid").display()))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("mariadbd ({e}): scripts/install-test-deps.sh"));
        let db = MariaDb { dir, port, child };
        let mut db = db;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = db.run("SELECT 1");
            if out.status.success() {
                return db;
            }
            let exited = db.child.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "mariadbd did not start ({exited:?}; the client said {}): {}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(db.dir.path().join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// `sql` as root over the socket.
    fn run(&self, sql: &str) -> std::process::Output {
        Command::new("mariadb")
            .args(["--no-defaults", "-u", "root", "-N", "-B"])
            .arg(format!("--socket={}", self.socket().display()))
            .args(["-e", sql])
            .output()
            .unwrap_or_else(|e| panic!("mariadb ({e}): scripts/install-test-deps.sh"))
    }

    fn sql(&self, sql: &str) -> String {
        let out = self.run(sql);
        assert!(out.status.success(), "{sql}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A string literal of SQL holding `s` (quotes, backslashes and newlines
/// escaped: enough for the test's password, not for every string).
fn sql_literal(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('\'', "\\'")
        .replace('\n', "\\n");
    format!("'{escaped}'")
}

/// Whether the tracker answers its health check within `within`.
fn healthy_within(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        || http_get(port, "/health_check").0 != 200
    {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

fn wait_healthy(port: u16) {
    assert!(
        healthy_within(port, Duration::from_secs(30)),
        "the tracker did not become healthy on MariaDB"
    );
}

fn announce(port: u16, info_hash_hex: &str) -> String {
    let escaped: String = info_hash_hex
        .as_bytes()
        .chunks(2)
        .map(|h| format!("%{}", std::str::from_utf8(h).unwrap()))
        .collect();
    http_get(
        port,
        &format!("/announce?info_hash={escaped}&peer_id=-qB0001-000000000001&port=6881&uploaded=0&downloaded=0&left=0&compact=1"),
    )
    .1
}

const LISTED: &str = "4c4953544544000000000000000000000000beef";
const UNLISTED: &str = "4e4f54000000000000000000000000000000beef";

#[test]
fn the_tracker_keeps_its_whitelist_in_mariadb_with_a_nasty_password() {
    let db = MariaDb::start();
    db.sql(&format!(
        "CREATE DATABASE tracker; CREATE USER 'torrust'@'127.0.0.1' IDENTIFIED BY {}; GRANT ALL ON tracker.* TO 'torrust'@'127.0.0.1';",
        sql_literal(NASTY_MYSQL)
    ));
    let t = LoopbackTracker::new();
    let url = format!("mysql://torrust@127.0.0.1:{}/tracker", db.port);
    let release = t.build_with(&[
        ("TORRUST_TRACKER_DATABASE_URL", url.as_str()),
        ("MYSQL_PASSWORD", NASTY_MYSQL),
        ("TORRUST_TRACKER_MODE", "whitelisted"),
    ]);
    let toml = release.join("bundle/opt/torrust/tracker/tracker.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    assert!(text.contains("driver = \"mysql\""), "{text}");
    let encoded = torrust_bake::render::url_encode(NASTY_MYSQL);
    assert!(
        text.contains(&format!("mysql://torrust:{encoded}@127.0.0.1:")),
        "the URL does not carry the percent-encoded password: {text}"
    );
    let (http, api, health) = (
        t.var("TORRUST_TRACKER_HTTP_PORTS").parse().unwrap(),
        t.var("TORRUST_TRACKER_API_PORT").parse().unwrap(),
        t.var("TORRUST_TRACKER_HEALTH_CHECK_PORT").parse().unwrap(),
    );
    let token = torrust_bake::render::url_encode(&t.var("TORRUST_TRACKER_API_TOKEN"));

    let first = common::start_tracker(&toml);
    wait_healthy(health);
    // The tracker made its tables in MariaDB, as the user of the URL.
    let tables = db.sql("SHOW TABLES FROM tracker;");
    for table in ["keys", "torrents", "whitelist"] {
        assert!(tables.lines().any(|l| l == table), "{tables}");
    }
    let (status, body) = http_post(api, &format!("/api/v1/whitelist/{LISTED}?token={token}"));
    assert_eq!(status, 200, "{body}");
    assert!(!announce(http, LISTED).contains("failure reason"));
    drop(first);

    // A new tracker process reads the whitelist back from the database.
    let second = common::start_tracker(&toml);
    wait_healthy(health);
    let listed = announce(http, LISTED);
    assert!(
        listed.contains("8:interval") && !listed.contains("failure reason"),
        "{listed}"
    );
    assert!(announce(http, UNLISTED).contains("failure reason"));
    assert_eq!(
        db.sql("SELECT info_hash FROM tracker.whitelist;"),
        LISTED,
        "the row the API added"
    );
    assert_the_password_file_is_private(&release);
    drop(second);

    // The same with another password: the tracker never serves (a healthy
    // start above is the password's doing, not MariaDB letting anyone in).
    let release = t.build_with(&[
        ("TORRUST_TRACKER_DATABASE_URL", url.as_str()),
        ("MYSQL_PASSWORD", "not-the-password-of-torrust"),
        ("TORRUST_TRACKER_MODE", "whitelisted"),
    ]);
    let _refused = common::start_tracker(&release.join("bundle/opt/torrust/tracker/tracker.toml"));
    assert!(
        !healthy_within(health, Duration::from_secs(8)),
        "the tracker served with a wrong database password"
    );
}

/// tracker.toml holds the database password (in its URL): 0600.
fn assert_the_password_file_is_private(release: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let toml = release.join("bundle/opt/torrust/tracker/tracker.toml");
    let mode = std::fs::metadata(&toml).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", toml.display());
}
