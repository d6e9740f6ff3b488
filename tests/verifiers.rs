//! Rendered files checked by the real outside tools (docs/ARCHITECTURE.md, Testing):
//! docker-compose, promtool, the torrust-tracker binary, sha256sum, tar,
//! shellcheck, nft.
//! A missing tool fails the test; scripts/install-test-deps.sh installs them.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn local_with_mysql() -> Vec<(&'static str, &'static str)> {
    let mut v = production_secrets();
    v.push((
        "TORRUST_TRACKER_DATABASE_URL",
        "mysql://torrust@mysql:3306/tracker",
    ));
    v.push(("DOMAIN_NAME", "tracker.example.org"));
    v.push(("SSL_EMAIL", "ops@example.org"));
    v.push(("GRAFANA_ADMIN_USER", "ad$min \"ops\" #1"));
    v
}

/// The three stacks the verifier tests build: local (SQLite, no proxy),
/// local with the bundled MySQL behind Caddy, production (strict).
fn every_stack() -> [(&'static str, Vec<(&'static str, &'static str)>); 3] {
    [
        ("local", vec![]),
        ("local", local_with_mysql()),
        ("production", production_secrets()),
    ]
}

#[test]
fn compose_file_passes_docker_compose_config() {
    let p = Project::new();
    for (env, vars) in every_stack() {
        let release = p.build(env, &vars);
        let dir = release.join("bundle/opt/torrust");
        let out = verifier("docker-compose", &["-f", "compose.yaml", "config"], &dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{env}: docker-compose config failed: {stderr}"
        );
        let resolved: serde_json::Value =
            serde_saphyr::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
        let services = resolved["services"].as_object().unwrap();
        assert_eq!(services["tracker"]["stop_signal"], "SIGINT");
        let tracker_image = services["tracker"]["image"].as_str().unwrap();
        assert!(tracker_image.contains("@sha256:6666"), "{tracker_image}");
        if vars.iter().any(|(k, _)| *k == "GRAFANA_ADMIN_USER") {
            // compose prints `$` re-escaped as `$$`: undoing it gives the value back.
            let user = services["grafana"]["environment"]["GF_SECURITY_ADMIN_USER"]
                .as_str()
                .unwrap()
                .replace("$$", "$");
            assert_eq!(user, "ad$min \"ops\" #1", "compose ate part of the value");
            assert!(services.contains_key("mysql") && services.contains_key("caddy"));
        }
    }
}

#[test]
fn prometheus_config_passes_promtool() {
    let p = Project::new();
    let release = p.build("production", &production_secrets());
    let out = verifier(
        "promtool",
        &["check", "config", "prometheus/prometheus.yml"],
        &release.join("bundle/opt/torrust"),
    );
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn secrets_reach_every_file_exactly() {
    let p = Project::new();
    let release = p.build("production", &production_secrets());
    let bundle = release.join("bundle/opt/torrust");
    let read = |rel: &str| std::fs::read_to_string(bundle.join(rel)).unwrap();

    let toml: toml::Value = toml::from_str(&read("tracker/tracker.toml")).unwrap();
    assert_eq!(
        toml["http_api"]["access_tokens"]["admin"].as_str(),
        Some(NASTY_TOKEN)
    );
    let db = url::Url::parse(toml["core"]["database"]["path"].as_str().unwrap()).unwrap();
    let password = percent_encoding::percent_decode_str(db.password().unwrap())
        .decode_utf8()
        .unwrap();
    assert_eq!(
        password, NASTY_MYSQL,
        "the MySQL driver percent-decodes the URL password"
    );

    let prom: serde_json::Value =
        serde_saphyr::from_str(&read("prometheus/prometheus.yml")).unwrap();
    let target = prom["scrape_configs"][0]["params"]["target"][0]
        .as_str()
        .unwrap();
    let target = url::Url::parse(target).unwrap();
    let token = target.query_pairs().find(|(k, _)| k == "token").unwrap().1;
    assert_eq!(token, NASTY_TOKEN);

    assert_eq!(read("secrets/grafana_admin_password"), NASTY_GRAFANA);
    assert_eq!(read("secrets/mysql_password"), NASTY_MYSQL);
    assert_eq!(read("secrets/mysql_root_password"), NASTY_ROOT);
    let compose = read("compose.yaml");
    assert!(
        compose.contains("GF_SECURITY_ADMIN_PASSWORD__FILE: /run/secrets/grafana_admin_password")
    );
    assert!(compose.contains("MYSQL_PASSWORD_FILE: /run/secrets/mysql_password"));
}

#[test]
fn checksums_and_tarball_pass_sha256sum_and_tar() {
    let p = Project::new();
    let release = p.build("production", &production_secrets());
    let out = verifier("sha256sum", &["-c", "--strict", "SHA256SUMS"], &release);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut listed = String::from_utf8_lossy(&out.stdout).lines().count();
    let out = verifier(
        "sha256sum",
        &["-c", "--strict", "SHA256SUMS.secret"],
        &release,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    listed += String::from_utf8_lossy(&out.stdout).lines().count();
    // The public list holds no file that carries a secret.
    let public = std::fs::read_to_string(release.join("SHA256SUMS")).unwrap();
    for secret in [
        "user-data",
        "seed.iso",
        "bundle.tar.zst",
        "tracker.toml",
        "secrets/",
    ] {
        assert!(!public.contains(secret), "{secret} in SHA256SUMS: {public}");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(release.join("manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_array().unwrap();
    let artifacts = manifest["cloud_init"]["artifacts"].as_object().unwrap();
    assert_eq!(
        artifacts.len(),
        5,
        "user-data, meta-data, seed.iso, seed.img, seed.qcow2 (every format, always)"
    );
    let secret_files = files.iter().filter(|f| f["secret"] == true).count();
    assert_eq!(
        listed,
        files.len() + 2 + artifacts.len() + secret_files + 1,
        "every bundle file, the tarball, the manifest, the boot artifacts and the redacted twins (one per secret file, and user-data's), in one of the lists"
    );

    let out = verifier("tar", &["--zstd", "-tvf", "bundle.tar.zst"], &release);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    for f in files {
        let path = f["path"].as_str().unwrap();
        let line = listing
            .lines()
            .find(|l| l.ends_with(&format!(" {path}")))
            .unwrap_or_else(|| panic!("{path} not in the tarball:\n{listing}"));
        let owner = f["owner"].as_str().unwrap().replace(':', "/");
        assert!(
            line.contains(&format!(" {owner} ")),
            "{line}: owner {owner}"
        );
        assert!(line.contains(" 1970-01-01 00:00 "), "{line}: fixed mtime");
        let perms = if f["mode"] == "0600" {
            "-rw-------"
        } else if f["mode"] == "0755" {
            "-rwxr-xr-x"
        } else {
            "-rw-r--r--"
        };
        assert!(line.starts_with(perms), "{line}: mode {}", f["mode"]);
    }
}

#[test]
fn the_real_tracker_runs_the_rendered_config() {
    let s = LoopbackTracker::new();
    let (udp1, udp2) = (s.udp[0], s.udp[1]);
    let port = |name: &str| -> u16 { s.var(name).parse().unwrap() };
    let (api, health) = (
        port("TORRUST_TRACKER_API_PORT"),
        port("TORRUST_TRACKER_HEALTH_CHECK_PORT"),
    );
    let _tracker = s.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        if let Ok(_s) = std::net::TcpStream::connect(("127.0.0.1", health)) {
            let (status, body) = http_get(health, "/health_check");
            if status == 200 && body.contains("\"status\":\"Ok\"") {
                break body;
            }
        }
        assert!(Instant::now() < deadline, "tracker did not become healthy");
        std::thread::sleep(Duration::from_millis(200));
    };
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    let details = health["details"].as_array().unwrap();
    // API, HTTP tracker and both UDP trackers, every one Ok.
    assert_eq!(details.len(), 4, "{body}");
    for d in details {
        assert!(d["result"].get("Ok").is_some(), "{d}");
    }
    for port in [udp1, udp2] {
        assert!(
            body.contains(&format!("127.0.0.1:{port}")),
            "udp {port} missing: {body}"
        );
    }
    // The token with every awkward character authenticates.
    let token = torrust_bake::render::url_encode(NASTY_TOKEN);
    let (status, stats) = http_get(api, &format!("/api/v1/stats?token={token}"));
    assert_eq!(status, 200, "{stats}");
    assert!(stats.contains("\"torrents\":0"), "{stats}");
    let (status, _) = http_get(api, "/api/v1/stats?token=wrong");
    assert_ne!(status, 200, "a wrong token must not pass");
}

/// Every shell script a release ships (bundle/usr/local/sbin) and the
/// first-boot install script in its user-data pass `shellcheck -S warning`:
/// they run as root on the VM, where nothing else reads them before boot.
#[test]
fn shipped_shell_scripts_pass_shellcheck() {
    let p = Project::new();
    for (env, vars) in every_stack() {
        let release = p.build(env, &vars);
        let mut scripts = Vec::new();
        for entry in std::fs::read_dir(release.join("bundle/usr/local/sbin")).unwrap() {
            let path = entry.unwrap().path();
            if std::fs::read_to_string(&path).is_ok_and(|t| t.starts_with("#!/bin/sh")) {
                scripts.push(path);
            }
        }
        let user_data: serde_json::Value =
            serde_saphyr::from_str(&std::fs::read_to_string(release.join("user-data")).unwrap())
                .unwrap();
        let install = user_data["write_files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == "/usr/local/sbin/torrust-bake-install")
            .expect("the install script is in user-data");
        let extracted = release.join("torrust-bake-install.sh");
        std::fs::write(&extracted, install["content"].as_str().unwrap()).unwrap();
        scripts.push(extracted);
        assert!(scripts.len() >= 4, "{env}: {scripts:?}");
        let mut args = vec!["-S", "warning"];
        args.extend(scripts.iter().map(|s| s.to_str().unwrap()));
        let out = verifier("shellcheck", &args, &release);
        assert!(
            out.status.success(),
            "{env}: shellcheck:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The release's firewall passes `nft -c` (parsed and checked by the
/// kernel's nftables, not applied), and opens only what the release serves:
/// production with its domain opens 80 and 443, never the HTTP tracker's
/// 7070 (behind Caddy) nor an admin port.
#[test]
fn firewall_passes_nft_check() {
    let p = Project::new();
    for (env, vars) in every_stack() {
        let release = p.build(env, &vars);
        let file = release.join("bundle/etc/torrust-bake/firewall.nft");
        let out = verifier("nft", &["-c", "-f", file.to_str().unwrap()], &release);
        assert!(
            out.status.success(),
            "{env}: nft -c:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&file).unwrap();
        let opened: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_suffix('"'))
            .filter(|l| l.contains("dport") && l.contains("accept comment"))
            .filter_map(|l| l.split_whitespace().nth(2))
            .collect();
        if vars.iter().any(|(k, _)| *k == "DOMAIN_NAME") {
            assert_eq!(
                opened,
                ["6868", "6969", "80", "443", "9099"],
                "{env}: {text}"
            );
        } else if env == "local" {
            assert_eq!(opened, ["6868", "6969", "7070", "9099"], "{env}: {text}");
        }
    }
}
