//! The binary end to end: check, show, build, diff; bad input; reproducibility.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn build_local_on_defaults_is_reproducible() {
    let a = Project::new();
    let b = Project::new();
    let ra = a.build("local", &[]);
    let rb = b.build("local", &[]);
    assert_eq!(ra.file_name(), rb.file_name(), "same inputs, same version");
    let ta = tree(&ra);
    assert_eq!(ta, tree(&rb), "same inputs, same bytes in every artifact");
    for name in ["bundle.tar.zst", "manifest.json", "SHA256SUMS"] {
        assert!(ta.iter().any(|(p, _)| p == name), "{name} missing");
    }
    assert_eq!(mode(&ra), 0o700, "release dir is private");
    assert_eq!(
        mode(&ra.join("bundle/opt/torrust/tracker/tracker.toml")),
        0o600
    );
    assert_eq!(
        mode(&ra.join("bundle/opt/torrust/secrets/grafana_admin_password")),
        0o600
    );
    assert_eq!(
        mode(&ra.join("bundle/usr/local/sbin/torrust-rps-rfs")),
        0o755
    );
    // Building again changes nothing and says so.
    let again = a.run(&["build", "local"], &[]);
    assert_eq!(again.code(), 0);
    assert!(again.stdout().contains("unchanged"), "{}", again.stdout());
    assert_eq!(a.releases("local").len(), 1);
}

#[test]
fn build_json_names_env_version_path() {
    let p = Project::new();
    let run = p.run(&["build", "local", "--json"], &[]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(v["env"], "local");
    let version = v["version"].as_str().unwrap();
    assert_eq!(version.len(), 12);
    assert_eq!(v["path"], format!("releases/local/{version}"));
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            p.path()
                .join(v["path"].as_str().unwrap())
                .join("manifest.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["version"], version);
    assert_eq!(manifest["schema_version"], 2);
    let files = manifest["files"].as_array().unwrap();
    let toml = files
        .iter()
        .find(|f| f["path"] == "opt/torrust/tracker/tracker.toml")
        .unwrap();
    assert_eq!(toml["secret"], true);
    // A secret file is fingerprinted under the release key, without size.
    assert!(toml["hmac_sha256"].is_string() && toml.get("sha256").is_none());
    assert!(toml.get("size").is_none());
    assert_eq!(toml["mode"], "0600");
    assert_eq!(toml["owner"], "1000:1000");
    let images = manifest["images"].as_array().unwrap();
    assert!(images
        .iter()
        .any(|i| i["service"] == "tracker"
            && i["digest"].as_str().unwrap().starts_with("sha256:6666")));
}

#[test]
fn any_input_change_gives_a_new_version() {
    let p = Project::new();
    let base = p.build("local", &[]);
    let log = p.build("local", &[("TORRUST_TRACKER_LOG_LEVEL", "trace")]);
    let token = p.build(
        "local",
        &[("TORRUST_TRACKER_API_TOKEN", "another-local-token")],
    );
    p.write(
        "templates/sysctl.conf.tera",
        "net.netfilter.nf_conntrack_max = 2097152\n",
    );
    let template = p.build("local", &[]);
    let mut names: Vec<_> = [&base, &log, &token, &template]
        .iter()
        .map(|r| r.file_name().unwrap().to_owned())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 4, "four inputs, four versions");
    let sysctl =
        std::fs::read_to_string(template.join("bundle/etc/sysctl.d/60-torrust-tracker.conf"))
            .unwrap();
    assert_eq!(
        sysctl, "net.netfilter.nf_conntrack_max = 2097152\n",
        "project templates override built-in ones"
    );
}

#[test]
fn unknown_environment() {
    let p = Project::new();
    let run = p.run(&["check", "prod"], &[]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("unknown environment 'prod'"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("local, staging, production"));
}

#[test]
fn missing_env_file() {
    let p = Project::new();
    std::fs::remove_file(p.path().join("environments/staging.env")).unwrap();
    let run = p.run(&["build", "staging"], &[]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("environments/staging.env"),
        "{}",
        run.stderr()
    );
    // The full path, so that a wrong -C DIR shows itself.
    let full = p.path().join("environments/staging.env");
    assert!(
        run.stderr()
            .contains(&format!("cannot read {}", full.display())),
        "{}",
        run.stderr()
    );
    assert!(run
        .stderr()
        .contains("copy environments/local.env to environments/staging.env"));
    assert!(
        !p.path().join("releases").exists(),
        "nothing written on error"
    );
}

#[test]
fn malformed_line_names_file_and_line() {
    let p = Project::new();
    p.write(
        "environments/local.env",
        "TORRUST_TRACKER_MODE=public\nthis is not an assignment\n",
    );
    let run = p.run(&["check", "local"], &[]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr()
            .contains("environments/local.env:2: malformed line"),
        "{}",
        run.stderr()
    );
}

#[test]
fn unknown_variable_warns_with_closest_name() {
    let p = Project::new();
    p.write("environments/local.env", "TORRUST_TRACKER_MOD=public\n");
    let run = p.run(&["check", "local"], &[]);
    assert_eq!(run.code(), 0, "a warning does not fail: {}", run.stderr());
    assert!(run
        .stderr()
        .contains("warning: TORRUST_TRACKER_MOD (environments/local.env:1): unknown variable"));
    assert!(
        run.stderr().contains("did you mean TORRUST_TRACKER_MODE?"),
        "{}",
        run.stderr()
    );
}

#[test]
fn bad_values_are_all_reported_in_one_run() {
    let p = Project::new();
    p.write(
        "environments/local.env",
        "TORRUST_TRACKER_MODE=secretive\n\
         TORRUST_TRACKER_UDP_PORTS=6969,70000\n\
         TORRUST_TRACKER_HTTP_PORTS=7070,7070\n\
         TORRUST_TRACKER_DATABASE_URL=postgres//nope\n",
    );
    let run = p.run(
        &["check", "local", "--json"],
        &[("TORRUST_TRACKER_API_PORT", "1313")],
    );
    assert_eq!(run.code(), 1);
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(v["ok"], false);
    let problems = v["problems"].as_array().unwrap();
    let find = |var: &str, needle: &str| {
        problems
            .iter()
            .find(|p| p["variable"] == var && p["message"].as_str().unwrap().contains(needle))
    };
    let mode = find(
        "TORRUST_TRACKER_MODE",
        "'secretive' is not one of public, private, whitelisted",
    )
    .expect("mode");
    assert_eq!(mode["source"], "environments/local.env:1");
    assert!(mode["fix"].as_str().unwrap().contains("use one of"));
    assert!(find("TORRUST_TRACKER_UDP_PORTS", "'70000' is not a port").is_some());
    assert!(find("TORRUST_TRACKER_HTTP_PORTS", "port 7070 is listed twice").is_some());
    assert!(find("TORRUST_TRACKER_DATABASE_URL", "cannot be parsed as a URL").is_some());
    let dup = find(
        "TORRUST_TRACKER_HEALTH_CHECK_PORT",
        "TCP port 1313 is also used by TORRUST_TRACKER_API_PORT",
    )
    .expect("cross-listener duplicate");
    assert_eq!(dup["source"], "default");
    assert_eq!(problems.len(), 5, "{problems:#?}");
    // build refuses with the same problems and writes nothing.
    let run = p.run(&["build", "local"], &[("TORRUST_TRACKER_API_PORT", "1313")]);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("5 error(s)"), "{}", run.stderr());
    assert!(!p.path().join("releases").exists());
}

#[test]
fn database_url_rules() {
    let p = Project::new();
    let cases = [
        (
            "sqlite://relative.db",
            "an SQLite URL needs an absolute path",
        ),
        (
            "mysql://torrust:hunter2@mysql:3306/tracker",
            "carries a password",
        ),
        (
            "mysql://mysql:3306/tracker",
            "needs a user, a host and a database name",
        ),
        ("redis://x/y", "unsupported database scheme 'redis'"),
    ];
    for (url, needle) in cases {
        let run = p.run(
            &["check", "local"],
            &[
                ("TORRUST_TRACKER_DATABASE_URL", url),
                ("MYSQL_PASSWORD", "pw"),
                ("MYSQL_ROOT_PASSWORD", "pw"),
            ],
        );
        assert_eq!(run.code(), 1, "{url}");
        assert!(run.stderr().contains(needle), "{url}: {}", run.stderr());
        assert!(
            !run.stderr().contains("hunter2"),
            "a password in a URL is never echoed"
        );
    }
    // The bundled MySQL needs both passwords.
    let run = p.run(
        &["check", "local"],
        &[(
            "TORRUST_TRACKER_DATABASE_URL",
            "mysql://torrust@mysql:3306/tracker",
        )],
    );
    assert_eq!(run.code(), 1);
    assert!(run
        .stderr()
        .contains("MYSQL_PASSWORD (default): is required with a MySQL database"));
    assert!(run
        .stderr()
        .contains("MYSQL_ROOT_PASSWORD (default): is required with the bundled MySQL"));
}

#[test]
fn production_refuses_missing_placeholder_and_short_secrets() {
    let p = Project::new();
    let run = p.run(
        &["check", "production"],
        &[
            ("TORRUST_TRACKER_API_TOKEN", "MyAccessToken"),
            ("GRAFANA_ADMIN_PASSWORD", "short-password"),
            ("MYSQL_PASSWORD", "changeme"),
        ],
    );
    assert_eq!(run.code(), 1);
    let err = run.stderr();
    assert!(
        err.contains(
            "error: TORRUST_TRACKER_API_TOKEN (process environment): is a placeholder value"
        ),
        "{err}"
    );
    assert!(err.contains("error: GRAFANA_ADMIN_PASSWORD (process environment): is 14 characters long; production needs at least 16"), "{err}");
    assert!(
        err.contains("error: MYSQL_PASSWORD (process environment): is a placeholder value"),
        "{err}"
    );
    assert!(
        err.contains("error: MYSQL_ROOT_PASSWORD (default): is required with the bundled MySQL"),
        "{err}"
    );
    for secret in ["MyAccessToken", "short-password", "changeme"] {
        assert!(!run.all().contains(secret), "secret value {secret} echoed");
    }
    // A token of 31 characters is too short for the API.
    let mut vars = production_secrets();
    vars[0] = (
        "TORRUST_TRACKER_API_TOKEN",
        "abcdefghijklmnopqrstuvwxyz01234",
    );
    let run = p.run(&["check", "production"], &vars);
    assert!(
        run.stderr()
            .contains("is 31 characters long; production needs at least 32"),
        "{}",
        run.stderr()
    );
    // A secret committed to the env file is refused.
    p.write(
        "environments/staging.env",
        &format!(
            "{}\nGRAFANA_ADMIN_PASSWORD=a-long-enough-password-in-a-file\n",
            std::fs::read_to_string(p.path().join("environments/staging.env")).unwrap()
        ),
    );
    let run = p.run(&["check", "staging"], &production_secrets()[..1]);
    assert!(
        run.stderr()
            .contains("is a secret written in a committed environment file"),
        "{}",
        run.stderr()
    );
}

#[test]
fn production_refuses_an_image_without_digest() {
    let p = Project::new();
    let lock = std::fs::read_to_string(p.path().join("images/images.lock")).unwrap();
    let lock = lock.replace(
        "digest = \"sha256:3333333333333333333333333333333333333333333333333333333333333333\"\n",
        "",
    );
    p.write("images/images.lock", &lock);
    let run = p.run(&["build", "production"], &production_secrets());
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr()
            .contains("image 'registry.test/library/mysql:8.4.5' of mysql is not pinned by digest"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("images/images.lock:"),
        "names the lock line"
    );
    assert!(!p.path().join("releases").exists());
    // local accepts the tag, with a warning.
    let run = p.run(
        &["build", "local"],
        &[
            (
                "TORRUST_TRACKER_DATABASE_URL",
                "mysql://torrust@mysql:3306/tracker",
            ),
            ("MYSQL_PASSWORD", "x"),
            ("MYSQL_ROOT_PASSWORD", "y"),
        ],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr().contains("warning: images/images.lock:"),
        "{}",
        run.stderr()
    );
}

#[test]
fn show_redacts_secrets_and_names_sources() {
    let p = Project::new();
    let run = p.run(
        &["show", "production"],
        &[("TORRUST_TRACKER_API_TOKEN", NASTY_TOKEN)],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let out = run.stdout();
    let line = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} not shown:\n{out}"))
            .to_string()
    };
    assert!(line("TORRUST_TRACKER_API_TOKEN").contains("********"));
    assert!(line("TORRUST_TRACKER_API_TOKEN").ends_with("process environment"));
    assert!(
        line("TORRUST_TRACKER_MODE").ends_with("environments/production.env:17"),
        "{}",
        line("TORRUST_TRACKER_MODE")
    );
    assert!(line("TORRUST_TRACKER_API_PORT").ends_with("default"));
    assert!(line("MYSQL_PASSWORD").contains("(unset)"));
    assert!(!run.all().contains("dollar"), "secret value leaked");
    let json = p.run(
        &["show", "production", "--json"],
        &[("TORRUST_TRACKER_API_TOKEN", NASTY_TOKEN)],
    );
    assert!(!json.all().contains("dollar"));
    let v: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(
        v["variables"].as_array().unwrap().len(),
        torrust_bake::config::vars::VARS.len()
    );
}

#[test]
fn diff_lists_changed_files_and_redacts_secrets() {
    let p = Project::new();
    let a = p.build(
        "local",
        &[("TORRUST_TRACKER_API_TOKEN", "old-token-value-aaaa")],
    );
    let b = p.build(
        "local",
        &[
            ("TORRUST_TRACKER_API_TOKEN", "new-token-value-bbbb"),
            ("TORRUST_TRACKER_LOG_LEVEL", "warn"),
            ("DOMAIN_NAME", "tracker.example.org"),
            ("SSL_EMAIL", "ops@example.org"),
        ],
    );
    let (va, vb) = (
        a.file_name().unwrap().to_str().unwrap(),
        b.file_name().unwrap().to_str().unwrap(),
    );
    let run = p.run(&["diff", "local", va, vb], &[]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let out = run.stdout();
    assert!(
        out.contains("modified: opt/torrust/tracker/tracker.toml"),
        "{out}"
    );
    assert!(
        out.contains("-threshold = \"debug\"\n+threshold = \"warn\""),
        "{out}"
    );
    assert!(out.contains("added: opt/torrust/caddy/Caddyfile"), "{out}");
    assert!(
        out.contains(
            "modified: opt/torrust/prometheus/prometheus.yml\n  a secret value changed (not shown)"
        ),
        "{out}"
    );
    assert!(
        !out.contains("old-token") && !out.contains("new-token"),
        "secrets leaked:\n{out}"
    );
    let json = p.run(&["diff", "local", va, vb, "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert!(v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["path"] == "opt/torrust/caddy/Caddyfile" && c["change"] == "added"));
    let missing = p.run(&["diff", "local", va, "000000000000"], &[]);
    assert_eq!(missing.code(), 1);
    assert!(
        missing.stderr().contains("no release at"),
        "{}",
        missing.stderr()
    );
    // A version argument is a version, never a path out of releases/<env>.
    p.write("releases/etc/manifest.json", "{}");
    for escape in ["../etc", "../../environments", "/etc"] {
        let out = p.run(&["diff", "local", va, escape], &[]);
        assert_eq!(out.code(), 1, "{escape}: {}", out.stderr());
        assert!(
            out.stderr().contains("is not a release version"),
            "{escape}: {}",
            out.stderr()
        );
    }
}

#[test]
fn secrets_never_reach_output_or_non_secret_files() {
    let p = Project::new();
    let run = p.run(&["build", "production"], &production_secrets());
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let release = p.releases("production").pop().unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(release.join("manifest.json")).unwrap()).unwrap();
    for f in manifest["files"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        let text = std::fs::read_to_string(release.join("bundle").join(path)).unwrap();
        let holds_secret = production_secrets()
            .iter()
            .any(|(_, s)| text.contains(s) || text.contains(&torrust_bake::render::url_encode(s)));
        assert_eq!(
            holds_secret,
            f["secret"].as_bool().unwrap(),
            "{path}: secret flag wrong"
        );
        if holds_secret {
            assert_eq!(mode(&release.join("bundle").join(path)), 0o600, "{path}");
            assert_eq!(f["mode"], "0600", "{path}");
        }
    }
    for (_, s) in production_secrets() {
        assert!(!run.all().contains(s));
        for artifact in ["manifest.json", "SHA256SUMS"] {
            let text = std::fs::read_to_string(release.join(artifact)).unwrap();
            assert!(!text.contains(s), "{artifact}");
        }
        for (path, bytes) in tree(&release.join("redacted")) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(s),
                "redacted/{path}"
            );
        }
    }
}

/// Canary secrets through the error paths a user can provoke: a template
/// that renders invalid TOML or YAML around a secret, env-file lines that
/// are malformed inside or around a secret. No part of a canary may appear.
#[test]
fn secrets_never_reach_error_messages() {
    let canary = "CANARYtok3n-abcdefghijklmnopqrstuvwxyz-0123";
    let p = Project::new();
    // The token lands in tracker.toml; a stray quote after it breaks TOML.
    let toml = std::fs::read_to_string(format!("{REPO}/templates/tracker.toml.tera")).unwrap();
    p.write(
        "templates/tracker.toml.tera",
        &format!("{toml}\nbroken = \"{{{{ secrets.api_token }}}}\" trailing\n"),
    );
    let run = p.run(
        &["build", "local"],
        &[("TORRUST_TRACKER_API_TOKEN", canary)],
    );
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains("rendered an invalid"),
        "{}",
        run.stderr()
    );
    assert!(!run.all().contains("CANARY"), "{}", run.all());
    std::fs::remove_file(p.path().join("templates/tracker.toml.tera")).unwrap();
    // The same through YAML (prometheus.yml carries the token).
    let yaml = std::fs::read_to_string(format!("{REPO}/templates/prometheus.yml.tera")).unwrap();
    p.write(
        "templates/prometheus.yml.tera",
        &format!("{yaml}\nbroken: [{{{{ secrets.api_token }}}}\nmore: x\n"),
    );
    let run = p.run(
        &["build", "local"],
        &[("TORRUST_TRACKER_API_TOKEN", canary)],
    );
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(!run.all().contains("CANARY"), "{}", run.all());
    std::fs::remove_file(p.path().join("templates/prometheus.yml.tera")).unwrap();
    // Env lines malformed around a secret: text after a closing quote, an
    // unknown escape, a pasted secret with no name.
    let env = std::fs::read_to_string(p.path().join("environments/local.env")).unwrap();
    for line in [
        "GRAFANA_ADMIN_PASSWORD='CANARY1'CANARY2",
        "GRAFANA_ADMIN_PASSWORD=\"CANARY\\q\"",
        "CANARYonitsown",
        "canarybase64==",
        "canary pasted=secret",
    ] {
        p.write("environments/local.env", &format!("{env}\n{line}\n"));
        for cmd in ["check", "show", "build"] {
            let run = p.run(&[cmd, "local"], &[]);
            if cmd != "show" {
                assert_eq!(run.code(), 1, "{line}: {cmd}");
            }
            assert!(
                run.all().contains("malformed line"),
                "{line}: {}",
                run.all()
            );
            let lower = run.all().to_lowercase();
            assert!(
                !lower.contains("canary"),
                "{line} leaked by {cmd}: {}",
                run.all()
            );
        }
    }
}

/// The published files (manifest.json, SHA256SUMS: 0644) hold no unkeyed
/// digest of anything secret, and the version is keyed: the same secrets
/// under another key give another version.
#[test]
fn nothing_published_is_derived_from_a_secret_without_the_key() {
    let p = Project::new();
    let release = p.build("production", &production_secrets());
    let published = format!(
        "{}{}",
        std::fs::read_to_string(release.join("manifest.json")).unwrap(),
        std::fs::read_to_string(release.join("SHA256SUMS")).unwrap()
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(release.join("manifest.json")).unwrap())
            .unwrap();
    let mut secret_bearing: Vec<std::path::PathBuf> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["secret"] == true)
        .map(|f| release.join("bundle").join(f["path"].as_str().unwrap()))
        .collect();
    for name in ["user-data", "seed.iso", "seed.img", "bundle.tar.zst"] {
        secret_bearing.push(release.join(name));
    }
    assert!(secret_bearing.len() > 6);
    for path in &secret_bearing {
        let out = verifier("sha256sum", &[path.to_str().unwrap()], &release);
        let sum = String::from_utf8_lossy(&out.stdout)[..64].to_string();
        assert!(
            !published.contains(&sum),
            "{} published unkeyed",
            path.display()
        );
    }
    let mut other_key = production_secrets();
    other_key.retain(|(k, _)| *k != "TORRUST_BAKE_RELEASE_KEY");
    other_key.push((
        "TORRUST_BAKE_RELEASE_KEY",
        "another-release-key-0123456789abcdefghij",
    ));
    let again = p.build("production", &other_key);
    assert_ne!(
        again.file_name(),
        release.file_name(),
        "the version ignores the key"
    );
}

/// Completions load in bash; the man page renders; every command's help
/// carries an example.
#[test]
fn completions_man_page_and_examples() {
    let script = format!("source <({BIN} completions bash) && complete -p torrust-bake");
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("torrust-bake"));
    let p = Project::new();
    let page = p.path().join("torrust-bake.1");
    std::fs::write(&page, p.run(&["man"], &[]).0.stdout).unwrap();
    let out = std::process::Command::new("man")
        .args(["-l", page.to_str().unwrap()])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("reproducible Torrust Tracker release"),
        "{text}"
    );
    for cmd in [
        "check",
        "show",
        "build",
        "diff",
        "verify",
        "health",
        "completions",
        "man",
    ] {
        let help = p.run(&[cmd, "--help"], &[]);
        assert_eq!(help.code(), 0, "{cmd}");
        assert!(
            help.stdout().contains("Examples:"),
            "{cmd} --help has no example"
        );
    }
    for cmd in [
        &["secrets", "init"][..],
        &["images", "pin"],
        &["images", "verify"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let help = p.run(&args, &[]);
        assert_eq!(help.code(), 0, "{cmd:?}");
    }
}

/// A template edited to put a secret into a file that is not a secret
/// file (0644, its checksum published) is refused, naming the file.
#[test]
fn a_secret_in_a_public_file_is_refused() {
    let p = Project::new();
    let compose = std::fs::read_to_string(format!("{REPO}/templates/compose.yaml.tera")).unwrap();
    p.write(
        "templates/compose.yaml.tera",
        &format!("{compose}\n# {{{{ secrets.api_token }}}}\n"),
    );
    let run = p.run(
        &["build", "local"],
        &[(
            "TORRUST_TRACKER_API_TOKEN",
            "CANARY-token-0123456789abcdefghijklmn",
        )],
    );
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr()
            .contains("opt/torrust/compose.yaml would hold a secret but is not a secret file"),
        "{}",
        run.stderr()
    );
    assert!(!run.all().contains("CANARY"));
    assert!(p.releases("local").is_empty());
}

#[test]
fn show_masks_a_password_in_a_url() {
    let p = Project::new();
    let run = p.run(
        &["show", "local"],
        &[(
            "TORRUST_TRACKER_DATABASE_URL",
            "mysql://u:hunter2secret@mysql:3306/db",
        )],
    );
    assert!(!run.all().contains("hunter2secret"), "{}", run.all());
    assert!(
        run.stdout().contains("mysql://u:********@mysql:3306/db"),
        "{}",
        run.stdout()
    );
}

/// The binary with its standard output (and, with `both`, its standard
/// error too) on a pipe whose reader is already gone, as `| head -1` leaves
/// it once it has its line: exit code and standard error.
fn with_closed_output(cmd: &mut std::process::Command, both: bool) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    if both {
        cmd.stderr(writer.try_clone().unwrap());
    } else {
        cmd.stderr(std::process::Stdio::piped());
    }
    let out = cmd.stdout(writer).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// #29: `show local | head -1` panicked ("failed printing to stdout: Broken
/// pipe", exit 101), `health --json | head` too. Every command now stops
/// printing quietly and exits as it would have: its own code, no panic.
#[test]
fn a_reader_that_stops_early_is_no_panic_for_any_command() {
    let p = Project::new();
    let (udp, tcp) = (free_udp_port().to_string(), free_tcp_port().to_string());
    let probe = [
        ("TORRUST_TRACKER_BIND_ADDRESS", "127.0.0.1"),
        ("TORRUST_TRACKER_UDP_PORTS", udp.as_str()),
        ("TORRUST_TRACKER_HTTP_PORTS", tcp.as_str()),
    ];
    let release = p.build("local", &[]);
    let version = version_of(&release);
    // Arguments, environment, the exit code the command has anyway.
    type Case<'a> = (Vec<&'a str>, &'a [(&'a str, &'a str)], i32);
    let cases: Vec<Case> = vec![
        (vec!["show", "local"], &[], 0),
        (vec!["show", "local", "--json"], &[], 0),
        (vec!["check", "local"], &[], 0),
        // A failed check keeps its verdict through the pipe.
        (vec!["check", "production"], &[], 1),
        (vec!["check", "production", "--json"], &[], 1),
        (vec!["build", "local"], &[], 0),
        (vec!["verify", "local"], &[], 0),
        (vec!["diff", "local", &version, &version], &[], 0),
        (vec!["releases", "list", "local"], &[], 0),
        (
            vec!["health", "local", "--timeout", "50ms", "--json"],
            &probe,
            1,
        ),
        (vec!["health", "local", "--timeout", "50ms"], &probe, 1),
        (
            vec!["deploy", "local", "--dry-run"],
            &[("LIBVIRT_DOMAIN_TYPE", "qemu")],
            0,
        ),
        (vec!["completions", "bash"], &[], 0),
        (vec!["man"], &[], 0),
        (vec!["--help"], &[], 0),
        (vec!["build", "nowhere", "--json"], &[], 1),
    ];
    for (args, vars, code) in &cases {
        for both in [false, true] {
            let (got, stderr) = with_closed_output(&mut p.command(args, vars), both);
            assert_eq!(
                got,
                Some(*code),
                "{args:?} (stderr closed too: {both}): {stderr}"
            );
            assert!(
                !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
                "{args:?}: {stderr}"
            );
        }
    }
    // Output lost otherwise is an error: /dev/full refuses every write.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = p
        .command(&["show", "local"], &[])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: writing standard output: No space left on device"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `builds.log` appends followed a symbolic link: anyone who could write
/// releases/<env>/ had a build append to any file the builder may write.
#[test]
fn a_symlinked_build_log_is_refused() {
    let p = Project::new();
    p.build("local", &[]);
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("authorized_keys");
    std::fs::write(&target, "ssh-ed25519 AAAA mine\n").unwrap();
    let log = p.path().join("releases/local/builds.log");
    std::fs::remove_file(&log).unwrap();
    std::os::unix::fs::symlink(&target, &log).unwrap();
    let run = p.run(&["build", "local"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains("releases/local/builds.log is a symbolic link: torrust-bake appends to its logs only in place, never through a link"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "ssh-ed25519 AAAA mine\n"
    );
}

/// #29 item 5: run from `src/`, `build local` said to restore
/// environments/local.env from git; `-C /nonexistent` did not say it does
/// not exist. The project is found upward, as git and cargo find theirs.
#[test]
fn the_project_is_found_from_a_directory_inside_it() {
    let p = Project::new();
    let inside = p.path().join("notes/deeper");
    std::fs::create_dir_all(&inside).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_torrust-bake"))
        .args(["check", "local"])
        .current_dir(&inside)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outside = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_torrust-bake"))
        .args(["check", "local"])
        .current_dir(outside.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not inside a torrust-bake project: no environments/ directory (or images/images.lock) in"),
        "{err}"
    );
    assert!(err.contains("or pass -C DIR"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_torrust-bake"))
        .args(["-C", "/nonexistent", "check", "local"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-C /nonexistent: no such directory"));
}

/// #29 item 6: one error shape under --json, whatever failed: bad
/// arguments (stdout had nothing), configuration problems (no exit_code),
/// a runtime error; and build --json keeps the warnings.
#[test]
fn every_json_error_has_one_shape() {
    let p = Project::new();
    let bad = [("TORRUST_TRACKER_UDP_PORTS", "abc")];
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let cases: Vec<(Vec<&str>, Vars)> = vec![
        (vec!["build", "local", "--json", "--bogus"], &[]),
        (vec!["check", "local", "--json"], &bad),
        (vec!["build", "local", "--json"], &bad),
        (vec!["verify", "local", "--json"], &[]),
        (vec!["releases", "list", "prod", "--json"], &[]),
        (vec!["deploy", "prod", "--json"], &[]),
        (vec!["-C", "/nonexistent", "check", "local", "--json"], &[]),
    ];
    for (args, vars) in cases {
        let r = p.run(&args, vars);
        assert_ne!(r.code(), 0, "{args:?}: {}", r.all());
        let v: serde_json::Value = serde_json::from_str(&r.stdout())
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {}", r.all()));
        assert_eq!(v["ok"], false, "{args:?}: {v}");
        assert_eq!(v["exit_code"], r.code(), "{args:?}: {v}");
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{args:?}: {v}"
        );
    }
    // Warnings survive a successful build (the committed lock runs the
    // tracker by tag in local: a warning).
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("images/images.lock"),
        p.path().join("images/images.lock"),
    )
    .unwrap();
    let r = p.run(&["build", "local", "--json"], &[]);
    assert_eq!(r.code(), 0, "{}", r.all());
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert!(
        v["problems"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["severity"] == "warning")),
        "{v}"
    );
}
