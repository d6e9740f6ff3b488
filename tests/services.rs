//! Which services a release runs and how its VM reaches them, through the
//! binary and checked by the real tools (docker-compose, promtool, openssl):
//! Grafana and the stats exporter switched off for small VMs, a private
//! registry trusted by its CA or (lenient only) over plain HTTP, the admin
//! ports published for a test VM.

mod common;

use std::path::Path;

use common::*;

fn read(release: &Path, rel: &str) -> String {
    std::fs::read_to_string(release.join("bundle").join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

const SMALL: &[(&str, &str)] = &[
    ("GRAFANA_ENABLED", "false"),
    ("STATS_EXPORTER_ENABLED", "false"),
    ("CONTAINER_REGISTRY", "192.168.123.1:5000"),
    ("CONTAINER_REGISTRY_INSECURE", "true"),
    ("PUBLISH_ADMIN_PORTS", "true"),
];

#[test]
fn a_small_stack_leaves_grafana_and_the_stats_exporter_out() {
    let p = Project::new();
    let release = p.build("local", SMALL);
    let dir = release.join("bundle/opt/torrust");
    let out = verifier("docker-compose", &["-f", "compose.yaml", "config"], &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resolved: serde_json::Value =
        serde_saphyr::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
    let services: Vec<&String> = resolved["services"].as_object().unwrap().keys().collect();
    assert_eq!(services, ["prometheus", "tracker"]);
    assert!(
        resolved.get("secrets").is_none_or(|s| s.is_null()),
        "{resolved}"
    );
    let compose = read(&release, "opt/torrust/compose.yaml");
    for published in ["\"1212:1212\"", "\"1313:1313\"", "\"9090:9090\""] {
        assert!(
            compose.contains(published),
            "{published} not on every address:\n{compose}"
        );
    }
    // (No published port on 127.0.0.1; the health check's own URL is.)
    assert!(!compose.contains("\"127.0.0.1:"), "{compose}");

    let prom = verifier(
        "promtool",
        &["check", "config", "prometheus/prometheus.yml"],
        &dir,
    );
    assert!(
        prom.status.success(),
        "{}",
        String::from_utf8_lossy(&prom.stdout)
    );
    let yml = read(&release, "opt/torrust/prometheus/prometheus.yml");
    assert!(
        !yml.contains("stats-exporter") && yml.contains("job_name: prometheus"),
        "{yml}"
    );

    let daemon: serde_json::Value =
        serde_json::from_str(&read(&release, "etc/docker/daemon.json")).unwrap();
    assert_eq!(
        daemon["insecure-registries"],
        serde_json::json!(["192.168.123.1:5000"])
    );
    let files: Vec<String> = tree(&release.join("bundle"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert!(
        !files
            .iter()
            .any(|f| f.contains("grafana") || f.contains("stats-exporter")),
        "{files:?}"
    );
    let prepare = read(&release, "usr/local/sbin/torrust-prepare-data");
    assert!(!prepare.contains("grafana"), "{prepare}");
    assert!(prepare
        .contains("install -d -m 0750 -o 1000 -g 1000 '/var/lib/torrust/tracker/lib/database'"));
    // Only the services that run need an image: the lock here has just two.
    p.write(
        "images/images.lock",
        &std::fs::read_to_string(p.path().join("images/images.lock"))
            .unwrap()
            .split("\n[images.")
            .filter(|t| !t.starts_with("grafana") && !t.starts_with("stats-exporter"))
            .collect::<Vec<_>>()
            .join("\n[images."),
    );
    let small = p.build("local", SMALL);
    let start = read(&small, "usr/local/sbin/torrust-start");
    let pins = start.lines().find(|l| l.starts_with("for pin in")).unwrap();
    let names: Vec<&str> = pins
        .split_whitespace()
        .filter_map(|w| w.strip_prefix('\''))
        .map(|w| w.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["tracker", "prometheus"],
        "the tracker's image first: {pins}"
    );
    let sh = verifier("sh", &["-n", "bundle/usr/local/sbin/torrust-start"], &small);
    assert!(
        sh.status.success(),
        "{}",
        String::from_utf8_lossy(&sh.stderr)
    );
}

#[test]
fn defaults_keep_every_service() {
    let p = Project::new();
    let release = p.build("local", &[]);
    let compose = read(&release, "opt/torrust/compose.yaml");
    for s in [
        "\n  grafana:",
        "\n  stats-exporter:",
        "grafana_admin_password:",
    ] {
        assert!(compose.contains(s), "{s}");
    }
    assert!(compose.contains("\"127.0.0.1:1212:1212\""));
    assert!(!read(&release, "etc/docker/daemon.json").contains("insecure"));
}

#[test]
fn strict_environments_refuse_test_conveniences_and_need_no_grafana_secret_without_grafana() {
    let p = Project::new();
    let mut vars = production_secrets();
    vars.retain(|(k, _)| *k != "GRAFANA_ADMIN_PASSWORD");
    let run = p.run(&["check", "production"], &vars);
    assert_eq!(run.code(), 1);
    assert!(
        run.all().contains("GRAFANA_ADMIN_PASSWORD"),
        "{}",
        run.all()
    );
    vars.push(("GRAFANA_ENABLED", "false"));
    let run = p.run(&["check", "production"], &vars);
    assert_eq!(run.code(), 0, "{}", run.all());

    vars.extend_from_slice(&[
        ("CONTAINER_REGISTRY", "registry.example.org"),
        ("CONTAINER_REGISTRY_INSECURE", "true"),
        ("PUBLISH_ADMIN_PORTS", "true"),
    ]);
    let run = p.run(&["check", "production"], &vars);
    assert_eq!(run.code(), 1);
    for name in ["CONTAINER_REGISTRY_INSECURE", "PUBLISH_ADMIN_PORTS"] {
        assert!(run.all().contains(name), "{name}: {}", run.all());
    }
    assert!(run.all().contains("strict environment"), "{}", run.all());
}

#[test]
fn a_registry_ca_lands_where_docker_reads_it() {
    let p = Project::new();
    self_signed(p.path(), "ca.key", "ca.pem", "1", "/CN=registry test CA");
    std::fs::create_dir_all(p.path().join("certs")).unwrap();
    std::fs::rename(p.path().join("ca.pem"), p.path().join("certs/ca.pem")).unwrap();
    let vars = [
        ("CONTAINER_REGISTRY", "registry.example.org:5000"),
        ("CONTAINER_REGISTRY_CA_FILE", "certs/ca.pem"),
    ];
    let release = p.build("local", &vars);
    let installed = read(
        &release,
        "etc/docker/certs.d/registry.example.org:5000/ca.crt",
    );
    assert_eq!(
        installed,
        std::fs::read_to_string(p.path().join("certs/ca.pem")).unwrap()
    );
    // openssl reads back what the release carries.
    let back = verifier(
        "openssl",
        &[
            "x509",
            "-noout",
            "-subject",
            "-in",
            "bundle/etc/docker/certs.d/registry.example.org:5000/ca.crt",
        ],
        &release,
    );
    assert!(String::from_utf8_lossy(&back.stdout).contains("registry test CA"));

    // A private key pasted beside the certificate never reaches the VM: the
    // error names the variable and the file, nothing is written.
    let cert = std::fs::read_to_string(p.path().join("certs/ca.pem")).unwrap();
    let key = std::fs::read_to_string(p.path().join("ca.key")).unwrap();
    p.write("certs/ca.pem", &format!("{cert}{key}"));
    let before = p.releases("local").len();
    let run = p.run(&["build", "local"], &vars);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.all().contains("CONTAINER_REGISTRY_CA_FILE")
            && run.all().contains("only certificates may go to the VM"),
        "{}",
        run.all()
    );
    assert_eq!(p.releases("local").len(), before);
    let run = p.run(
        &["check", "local"],
        &[
            ("CONTAINER_REGISTRY", "r.example.org"),
            ("CONTAINER_REGISTRY_CA_FILE", "../ca.pem"),
        ],
    );
    assert_eq!(run.code(), 1);
    assert!(
        run.all()
            .contains("not a path inside the project directory"),
        "{}",
        run.all()
    );
}

/// #27: a certificate followed by an OpenSSH private key (a section kind
/// the PEM reader skipped), or by loose text, built with exit 0 and the
/// whole file went to the VM as a world-readable ca.crt. Only certificates
/// may be in the file: anything else is refused naming its line, never its
/// text, and no release is written.
#[test]
fn a_registry_ca_file_holds_certificates_and_nothing_else() {
    let p = Project::new();
    self_signed(p.path(), "ca.key", "ca.pem", "1", "/CN=registry test CA");
    let out = verifier(
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-f", "id_ed25519"],
        p.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cert = std::fs::read_to_string(p.path().join("ca.pem")).unwrap();
    let ssh_key = std::fs::read_to_string(p.path().join("id_ed25519")).unwrap();
    assert!(ssh_key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    let key_line = cert.lines().count() + 1;
    let vars = [
        ("CONTAINER_REGISTRY", "registry.example.org:5000"),
        ("CONTAINER_REGISTRY_CA_FILE", "certs/ca.pem"),
    ];
    let fix = "fix: keep only the CA certificates in the file: its -----BEGIN CERTIFICATE----- to -----END CERTIFICATE----- blocks, blank lines between them at most";
    for (text, message) in [
        (
            format!("{cert}{ssh_key}"),
            format!("certs/ca.pem: line {key_line} begins an OPENSSH PRIVATE KEY section; only certificates may go to the VM"),
        ),
        (
            format!("{cert}\ndb_password=s3cret-pasted-beside-the-ca\n"),
            format!("certs/ca.pem: line {} is not part of a certificate; only certificates may go to the VM", key_line + 1),
        ),
        (
            format!("registry CA, from ops\n{cert}"),
            "certs/ca.pem: line 1 is not part of a certificate".to_string(),
        ),
    ] {
        p.write("certs/ca.pem", &text);
        for cmd in ["build", "check"] {
            let run = p.run(&[cmd, "local"], &vars);
            assert_eq!(run.code(), 1, "{cmd}: {}", run.all());
            let err = run.stderr();
            assert!(
                err.contains(&format!("error: CONTAINER_REGISTRY_CA_FILE (process environment): {message}")),
                "{cmd}: {err}"
            );
            assert!(err.contains(fix), "{err}");
            for secret in ["s3cret-pasted", "from ops", ssh_key.lines().nth(1).unwrap()] {
                assert!(!run.all().contains(secret), "{secret} echoed: {}", run.all());
            }
        }
        assert!(p.releases("local").is_empty(), "a release was written");
    }
    // Certificates and blank lines only: it builds, and ships them as they are.
    let two = format!("{cert}\n\n{cert}");
    p.write("certs/ca.pem", &two);
    let release = p.build("local", &vars);
    let shipped = std::fs::read_to_string(
        release.join("bundle/etc/docker/certs.d/registry.example.org:5000/ca.crt"),
    )
    .unwrap();
    assert_eq!(shipped, two);
}
