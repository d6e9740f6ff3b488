//! Helpers for the integration tests: a throw-away project directory and the
//! real binary run with a clean environment.
#![allow(dead_code)]

pub mod fake_http;
pub mod hetzner_fake;

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_torrust-bake");
pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Secrets that pass production's rules and carry every character that
/// breaks naive escaping: ' " $ # : \ and a newline.
pub const NASTY_TOKEN: &str = "tok'en\"with$dollar#hash:colon\\back\nslash-and-32-chars-at-least";
pub const NASTY_GRAFANA: &str = "gr'af\"ana$pw#:\\\nline-two-long-enough";
pub const NASTY_MYSQL: &str = "my'sql\"pw$x#y:z\\\nsecond-line-ok";
pub const NASTY_ROOT: &str = "ro'ot\"pw$x#y:z\\\nsecond-line-ok";
/// The release key: in no file, only in what is computed under it.
pub const RELEASE_KEY: &str = "release-key-for-the-tests-0123456789abcdef";

pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// A project with the repository's environments and the fixture lock.
    /// Staging and production get a domain of their own in place of the
    /// committed example.com placeholders, which a strict build refuses,
    /// as an operator sets theirs (see [`with_own_domain`]);
    /// [`Project::committed`] keeps the files as committed.
    pub fn new() -> Self {
        let p = Self::committed();
        for name in ["staging", "production"] {
            let file = p.path().join(format!("environments/{name}.env"));
            let text = std::fs::read_to_string(&file).unwrap();
            std::fs::write(&file, with_own_domain(&text)).unwrap();
        }
        p
    }

    /// A project with the repository's environments exactly as committed
    /// and the fixture lock.
    pub fn committed() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let envs = dir.path().join("environments");
        std::fs::create_dir_all(&envs).unwrap();
        for name in ["local", "staging", "production"] {
            std::fs::copy(
                Path::new(REPO)
                    .join("environments")
                    .join(format!("{name}.env")),
                envs.join(format!("{name}.env")),
            )
            .unwrap();
        }
        std::fs::create_dir_all(dir.path().join("images")).unwrap();
        std::fs::copy(
            Path::new(REPO).join("tests/fixtures/images.lock"),
            dir.path().join("images/images.lock"),
        )
        .unwrap();
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// The binary in this project with only `vars` in its environment.
    pub fn command(&self, args: &[&str], vars: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .arg("-C")
            .arg(self.path())
            .args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the binary in this project with only `vars` in its environment.
    pub fn run(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        Run(self.command(args, vars).output().unwrap())
    }

    pub fn releases(&self, env: &str) -> Vec<PathBuf> {
        let dir = self.path().join("releases").join(env);
        let mut v: Vec<PathBuf> = match std::fs::read_dir(dir) {
            // Hidden entries are the writers' lock and leftovers, not releases.
            Ok(rd) => rd
                .map(|e| e.unwrap().path())
                .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
                // builds.log is the build log, beside the releases.
                .filter(|p| p.is_dir())
                .collect(),
            Err(_) => vec![],
        };
        v.sort();
        v
    }

    /// Builds and returns the release directory.
    pub fn build(&self, env: &str, vars: &[(&str, &str)]) -> PathBuf {
        let run = self.run(&["build", env, "--json"], vars);
        assert_eq!(run.code(), 0, "build failed: {}", run.stderr());
        let out: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
        self.path().join(out["path"].as_str().unwrap())
    }
}

/// The domain tests give staging and production: Torrust's own demo, a
/// real domain (strict environments refuse example ones). Nothing a test
/// starts resolves or reaches it.
pub const OWN_DOMAIN: &str = "torrust-demo.com";

/// An environment file's DOMAIN_NAME and SSL_EMAIL lines with example.com
/// replaced by [`OWN_DOMAIN`], as an operator edits the committed files.
pub fn with_own_domain(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with("DOMAIN_NAME=") || l.starts_with("SSL_EMAIL=") {
                l.replace("example.com", OWN_DOMAIN)
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect()
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }
}

pub fn production_secrets() -> Vec<(&'static str, &'static str)> {
    vec![
        ("TORRUST_TRACKER_API_TOKEN", NASTY_TOKEN),
        ("GRAFANA_ADMIN_PASSWORD", NASTY_GRAFANA),
        ("MYSQL_PASSWORD", NASTY_MYSQL),
        ("MYSQL_ROOT_PASSWORD", NASTY_ROOT),
        ("TORRUST_BAKE_RELEASE_KEY", RELEASE_KEY),
    ]
}

/// The version of a release directory (its name).
pub fn version_of(release: &Path) -> String {
    release.file_name().unwrap().to_string_lossy().into_owned()
}

/// Every file under `dir`, relative path -> bytes, sorted.
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Runs an outside verifier; a missing one is a failure, not a skip.
/// A self-signed RSA certificate by openssl: `key` and `cert` (PEM) in `dir`.
pub fn self_signed(dir: &Path, key: &str, cert: &str, days: &str, subject: &str) {
    let out = verifier(
        "openssl",
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days",
            days, "-subj", subject,
        ],
        dir,
    );
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn verifier(program: &str, args: &[&str], cwd: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} is needed by this test ({e}); run scripts/install-test-deps.sh")
        })
}

/// A port free now that this process has not handed out before: tests run
/// side by side, and a port is only taken when its server binds it, so two
/// tests must never be given the same one.
fn fresh_port(pick: impl Fn() -> u16) -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap();
    loop {
        let port = pick();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

pub fn free_tcp_port() -> u16 {
    fresh_port(|| {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    })
}

pub fn free_udp_port() -> u16 {
    fresh_port(|| {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    })
}

pub struct Tracker(pub Child);

impl Drop for Tracker {
    fn drop(&mut self) {
        // SIGINT: the tracker lingers ~90 s after SIGTERM.
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn http_get(port: u16, path_and_query: &str) -> (u16, String) {
    http_request(port, "GET", path_and_query)
}

/// POSTs to `path_and_query` with an empty body; the status and the body.
pub fn http_post(port: u16, path_and_query: &str) -> (u16, String) {
    http_request(port, "POST", path_and_query)
}

/// One HTTP/1.0 request to 127.0.0.1:`port`, with no body.
fn http_request(port: u16, method: &str, path_and_query: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "{method} {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

pub fn start_tracker(config: &Path) -> Tracker {
    let child = Command::new("torrust-tracker")
        .env("TORRUST_TRACKER_CONFIG_TOML_PATH", config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("torrust-tracker is needed ({e}); run scripts/install-test-deps.sh")
        });
    Tracker(child)
}

/// A project whose local environment runs the tracker on loopback free
/// ports with SQLite in a temporary directory and the nasty token.
pub struct LoopbackTracker {
    pub project: Project,
    pub vars: Vec<(String, String)>,
    pub udp: Vec<u16>,
    _data: tempfile::TempDir,
}

impl LoopbackTracker {
    pub fn new() -> Self {
        let project = Project::new();
        let data = tempfile::tempdir().unwrap();
        let udp = vec![free_udp_port(), free_udp_port()];
        let vars = vec![
            ("TORRUST_TRACKER_BIND_ADDRESS", "127.0.0.1".to_string()),
            (
                "TORRUST_TRACKER_UDP_PORTS",
                format!("{},{}", udp[0], udp[1]),
            ),
            ("TORRUST_TRACKER_HTTP_PORTS", free_tcp_port().to_string()),
            ("TORRUST_TRACKER_API_PORT", free_tcp_port().to_string()),
            (
                "TORRUST_TRACKER_HEALTH_CHECK_PORT",
                free_tcp_port().to_string(),
            ),
            (
                "TORRUST_TRACKER_DATABASE_URL",
                format!("sqlite://{}/tracker.db", data.path().display()),
            ),
            ("TORRUST_TRACKER_API_TOKEN", NASTY_TOKEN.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        LoopbackTracker {
            project,
            vars,
            udp,
            _data: data,
        }
    }

    pub fn vars_with(&self, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .vars
            .iter()
            .filter(|(k, _)| !overrides.iter().any(|(o, _)| o == k))
            .cloned()
            .collect();
        v.extend(
            overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        v
    }

    pub fn var(&self, name: &str) -> String {
        self.vars.iter().find(|(k, _)| k == name).unwrap().1.clone()
    }

    pub fn run(&self, args: &[&str], overrides: &[(&str, &str)]) -> Run {
        self.project
            .run(args, &Self::refs(&self.vars_with(overrides)))
    }

    fn refs(vars: &[(String, String)]) -> Vec<(&str, &str)> {
        vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    /// Builds the local release and returns its directory.
    pub fn build(&self) -> PathBuf {
        self.project.build("local", &Self::refs(&self.vars))
    }

    /// Builds the local release with `overrides` on top of this setup's
    /// variables.
    pub fn build_with(&self, overrides: &[(&str, &str)]) -> PathBuf {
        self.project
            .build("local", &Self::refs(&self.vars_with(overrides)))
    }

    /// Builds and starts the tracker from the rendered tracker.toml.
    pub fn start(&self) -> Tracker {
        start_tracker(&self.build().join("bundle/opt/torrust/tracker/tracker.toml"))
    }

    /// The binary with this setup's environment, not yet started.
    pub fn command(&self, args: &[&str]) -> Command {
        self.project.command(args, &Self::refs(&self.vars))
    }

    pub fn health_json(
        &self,
        extra: &[&str],
        overrides: &[(&str, &str)],
    ) -> (i32, serde_json::Value, String) {
        let mut args = vec!["health", "local", "--json"];
        args.extend_from_slice(extra);
        let run = self.run(&args, overrides);
        let v = serde_json::from_str(&run.stdout())
            .unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout(), run.stderr()));
        (run.code(), v, run.stderr())
    }
}
