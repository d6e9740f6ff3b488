//! Strict input, each class through the binary: typos in strict
//! environments, bytes that are not UTF-8, files that are not text files,
//! values nobody means, arguments that overflow, JSON errors for scripts.

mod common;

use std::os::unix::ffi::OsStrExt;

use common::*;

#[test]
fn unknown_variables_are_errors_in_strict_environments() {
    let p = Project::new();
    for env in ["production", "local"] {
        let text =
            std::fs::read_to_string(p.path().join(format!("environments/{env}.env"))).unwrap();
        p.write(
            &format!("environments/{env}.env"),
            &format!("{text}\nTORRUST_TRACKER_MOD=private\n"),
        );
    }
    let run = p.run(&["check", "production"], &production_secrets());
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains("error: TORRUST_TRACKER_MOD"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("did you mean TORRUST_TRACKER_MODE?"),
        "{}",
        run.stderr()
    );
    let run = p.run(&["check", "local"], &[]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(
        run.stderr().contains("warning: TORRUST_TRACKER_MOD"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_value_that_is_not_utf8_is_reported_not_dropped() {
    let p = Project::new();
    let mut cmd = p.command(&["check", "local"], &[]);
    cmd.env(
        "TORRUST_TRACKER_MODE",
        std::ffi::OsStr::from_bytes(b"priv\xffate"),
    );
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("TORRUST_TRACKER_MODE (process environment): is not valid UTF-8"),
        "{err}"
    );
}

#[test]
fn environment_files_must_be_small_utf8_text_files() {
    let p = Project::new();
    let file = p.path().join("environments/local.env");
    let text = std::fs::read_to_string(&file).unwrap();
    // A byte-order mark is dropped, not reported.
    std::fs::write(&file, format!("\u{feff}{text}")).unwrap();
    assert_eq!(p.run(&["check", "local"], &[]).code(), 0);
    // Not UTF-8.
    let mut bytes = text.clone().into_bytes();
    bytes.extend_from_slice(b"SSL_EMAIL=a\xff@b.org\n");
    std::fs::write(&file, bytes).unwrap();
    let run = p.run(&["check", "local"], &[]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("is not UTF-8 text"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("fix: save it as UTF-8"),
        "{}",
        run.stderr()
    );
    // Too large, and a value nobody means.
    std::fs::write(
        &file,
        format!("{text}\nGRAFANA_ADMIN_USER={}\n", "x".repeat(2 << 20)),
    )
    .unwrap();
    let run = p.run(&["check", "local"], &[]);
    assert!(
        run.stderr()
            .contains("an environment file is at most 1 MiB"),
        "{}",
        run.stderr()
    );
    std::fs::write(
        &file,
        format!("{text}\nGRAFANA_ADMIN_USER={}\n", "x".repeat(5000)),
    )
    .unwrap();
    let run = p.run(&["check", "local"], &[]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr()
            .contains("is 5000 characters long; a value is at most 4096"),
        "{}",
        run.stderr()
    );
    // A FIFO would hang a reader: refused at once.
    std::fs::remove_file(&file).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let run = p.run(&["check", "local"], &[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("is not a regular file"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_garbage_image_reference_is_refused_by_check() {
    let p = Project::new();
    let lock = std::fs::read_to_string(p.path().join("images/images.lock")).unwrap();
    let bad = lock.replacen(
        "registry.test/library/caddy:2.10.2",
        "caddy:2.10 \\\"; rm -rf /",
        1,
    );
    assert_ne!(bad, lock);
    p.write("images/images.lock", &bad);
    let run = p.run(&["check", "production"], &production_secrets());
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains("images/images.lock"),
        "{}",
        run.stderr()
    );
}

#[test]
fn durations_are_bounded() {
    let p = Project::new();
    let run = p.run(&["health", "local", "--wait", "300000000000y"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains("is outside 0s to 1day"),
        "{}",
        run.stderr()
    );
    assert!(!run.all().contains("panicked"));
    let run = p.run(&["health", "local", "--timeout", "0s"], &[]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("0s is outside 1ms to 1m"),
        "{}",
        run.stderr()
    );
}

#[test]
fn json_commands_print_their_errors_as_json() {
    let p = Project::new();
    let run = p.run(
        &["diff", "local", "000000000000", "111111111111", "--json"],
        &[],
    );
    assert_eq!(run.code(), 1);
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).expect("JSON on stdout");
    assert_eq!(v["ok"], false);
    assert_eq!(v["exit_code"], 1);
    assert!(
        v["error"].as_str().unwrap().contains("no release at"),
        "{v}"
    );
}

#[test]
fn a_versions_bytes_do_not_depend_on_the_seed_format_flag() {
    let p = Project::new();
    let a = p.build("local", &[]);
    let manifest = std::fs::read(a.join("manifest.json")).unwrap();
    let run = p.run(&["build", "local", "--seed-format", "qcow2"], &[]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(run.stdout().contains("is unchanged"), "{}", run.stdout());
    assert_eq!(std::fs::read(a.join("manifest.json")).unwrap(), manifest);
    assert!(a.join("seed.qcow2").exists());
    assert_eq!(p.releases("local").len(), 1);
}

/// `check` reports every problem in one run: missing secrets and an
/// unpinned image together; `health` asks only for the token it uses.
#[test]
fn every_problem_at_once_and_health_needs_only_the_token() {
    let p = Project::new();
    let lock = std::fs::read_to_string(p.path().join("images/images.lock")).unwrap();
    // Unpin the tracker: drop the digest line that follows [images.tracker].
    let mut out = Vec::new();
    let mut in_tracker = false;
    for line in lock.lines() {
        if line.starts_with('[') {
            in_tracker = line == "[images.tracker]";
        }
        if in_tracker && line.starts_with("digest") {
            continue;
        }
        out.push(line);
    }
    p.write("images/images.lock", &(out.join("\n") + "\n"));
    let run = p.run(&["check", "production"], &[]);
    assert_eq!(run.code(), 1);
    let err = run.stderr();
    assert!(err.contains("TORRUST_TRACKER_API_TOKEN"), "{err}");
    assert!(err.contains("of tracker is not pinned by digest"), "{err}");

    let token = [("TORRUST_TRACKER_API_TOKEN", NASTY_TOKEN)];
    let run = p.run(
        &[
            "health",
            "production",
            "--host",
            "127.0.0.1",
            "--timeout",
            "50ms",
            "--json",
        ],
        &token,
    );
    let v: serde_json::Value =
        serde_json::from_str(&run.stdout()).unwrap_or_else(|_| panic!("{}", run.all()));
    assert!(v["checks"].is_array(), "health ran its checks: {v}");
    assert!(
        !run.stderr().contains("GRAFANA_ADMIN_PASSWORD"),
        "{}",
        run.stderr()
    );
}

/// #27: the network or broadcast address of the prefix, loopback,
/// multicast and the like were taken as the VM's address or gateway.
#[test]
fn a_static_address_and_its_gateway_are_hosts_of_one_network() {
    let p = Project::new();
    let check = |address: &str, gateway: &str| {
        let vars = [
            ("INFRASTRUCTURE_IPV4_ADDRESS", address),
            ("INFRASTRUCTURE_IPV4_GATEWAY", gateway),
        ];
        p.run(&["check", "local"], &vars)
    };
    for (address, gateway, expected) in [
        ("192.168.122.0/24", "192.168.122.1", "error: INFRASTRUCTURE_IPV4_ADDRESS (process environment): 192.168.122.0 is the network address of 192.168.122.0/24\n  fix: use a host address of 192.168.122.0/24: 192.168.122.1 to 192.168.122.254"),
        ("192.168.122.255/24", "192.168.122.1", "error: INFRASTRUCTURE_IPV4_ADDRESS (process environment): 192.168.122.255 is the broadcast address of 192.168.122.0/24"),
        ("127.0.0.5/8", "127.0.0.1", "error: INFRASTRUCTURE_IPV4_ADDRESS (process environment): 127.0.0.5 is a loopback address (127.0.0.0/8)"),
        ("224.1.1.1/24", "224.1.1.2", "error: INFRASTRUCTURE_IPV4_ADDRESS (process environment): 224.1.1.1 is a multicast address (224.0.0.0/4)"),
        ("0.0.0.0/24", "0.0.0.1", "error: INFRASTRUCTURE_IPV4_ADDRESS (process environment): 0.0.0.0 is in 0.0.0.0/8 (\"this network\"), not a host address"),
        ("192.168.122.10/24", "192.168.122.255", "error: INFRASTRUCTURE_IPV4_GATEWAY (process environment): 192.168.122.255 cannot be the gateway: it is the broadcast address of 192.168.122.0/24\n  fix: use the router's address inside INFRASTRUCTURE_IPV4_ADDRESS's network"),
        ("192.168.122.10/24", "192.168.122.0", "error: INFRASTRUCTURE_IPV4_GATEWAY (process environment): 192.168.122.0 cannot be the gateway: it is the network address of 192.168.122.0/24"),
        ("192.168.122.10/24", "169.254.1.1", "error: INFRASTRUCTURE_IPV4_GATEWAY (process environment): 169.254.1.1 cannot be the gateway: it is link-local (169.254.0.0/16), which routers do not forward"),
        ("192.168.122.10/24", "127.0.0.1", "error: INFRASTRUCTURE_IPV4_GATEWAY (process environment): 127.0.0.1 cannot be the gateway: it is a loopback address (127.0.0.0/8)"),
        ("192.168.122.10/32", "192.168.122.1", "error: INFRASTRUCTURE_IPV4_GATEWAY (process environment): 192.168.122.1 cannot be reached: the VM's network 192.168.122.10/32 holds no address but its own"),
    ] {
        let run = check(address, gateway);
        assert_eq!(run.code(), 1, "{address} {gateway}: {}", run.all());
        assert!(run.stderr().contains(expected), "{address} {gateway}: {}", run.stderr());
        assert!(run.stderr().starts_with("error: ") && run.stderr().contains("1 error(s)"), "{address} {gateway}: one problem: {}", run.stderr());
    }
    // A /31's two addresses are both hosts (RFC 3021); a plain host is fine.
    for (address, gateway) in [
        ("192.0.2.0/31", "192.0.2.1"),
        ("192.0.2.1/31", "192.0.2.0"),
        ("192.168.122.10/24", "192.168.122.1"),
    ] {
        let run = check(address, gateway);
        assert_eq!(run.code(), 0, "{address} {gateway}: {}", run.all());
    }
}

/// #27: SSL_EMAIL took `"`, backticks and `$(...)` and put them verbatim
/// in the Caddyfile. A conservative address only; nothing is built.
#[test]
fn ssl_email_is_an_address_and_nothing_else() {
    let p = Project::new();
    for (email, why) in [
        ("ops\"@torrust-demo.com", "'\"' may not be before the @"),
        ("`reboot`@torrust-demo.com", "'`' may not be before the @"),
        ("$(reboot)@torrust-demo.com", "'$' may not be before the @"),
        (
            "ops@torrust-demo.com\" }",
            "the part after the @ is not a domain name",
        ),
        (
            "ops@$(reboot).com",
            "the part after the @ is not a domain name",
        ),
        ("ops", "has no @"),
    ] {
        let vars = [
            ("DOMAIN_NAME", "tracker.torrust-demo.com"),
            ("SSL_EMAIL", email),
        ];
        let run = p.run(&["build", "local"], &vars);
        assert_eq!(run.code(), 1, "{email}: {}", run.all());
        assert!(
            run.stderr().contains(&format!(
                "error: SSL_EMAIL (process environment): '{email}' is not an e-mail address ({why})\n  fix: use a plain address such as admin@example.org: letters, digits and . _ % + - before the @, a domain name after it"
            )),
            "{email}: {}",
            run.stderr()
        );
    }
    assert!(p.releases("local").is_empty());
    let vars = [
        ("DOMAIN_NAME", "tracker.torrust-demo.com"),
        ("SSL_EMAIL", "first.last+acme@torrust-demo.com"),
    ];
    let release = p.build("local", &vars);
    let caddyfile =
        std::fs::read_to_string(release.join("bundle/opt/torrust/caddy/Caddyfile")).unwrap();
    assert!(
        caddyfile.contains("first.last+acme@torrust-demo.com"),
        "{caddyfile}"
    );
}

/// #27: an exported typo passed silently where the same line in a file is
/// an error when strict ("did you mean ...?"). Exported names with the
/// variables' prefixes get the file's rule; torrust-bake's own control
/// variables, the tracker's and libvirt's are not typos.
#[test]
fn an_exported_typo_is_an_error_when_strict_and_a_warning_when_lenient() {
    let p = Project::new();
    let mut vars = production_secrets();
    vars.push(("TORRUST_TRACKER_UDP_PORT", "1234"));
    let run = p.run(&["check", "production"], &vars);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains(
            "error: TORRUST_TRACKER_UDP_PORT (process environment): unknown variable\n  fix: did you mean TORRUST_TRACKER_UDP_PORTS? Otherwise unset it"
        ),
        "{}",
        run.stderr()
    );
    let run = p.run(&["build", "production"], &vars);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(p.releases("production").is_empty());
    let run = p.run(&["check", "local"], &[("LIBVIRT_VCPU", "4")]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(
        run.stderr().contains(
            "warning: LIBVIRT_VCPU (process environment): unknown variable, ignored\n  fix: did you mean LIBVIRT_VCPUS? Otherwise unset it"
        ),
        "{}",
        run.stderr()
    );
    // Names read besides the table, and other programs' names, pass.
    let scratch = tempfile::tempdir().unwrap();
    let secrets_dir = scratch.path().to_str().unwrap();
    let mut vars = production_secrets();
    vars.extend([
        ("TORRUST_BAKE_SECRETS_DIR", secrets_dir),
        ("TORRUST_BAKE_REGISTRY_GHCR_IO_USERNAME", "ops"),
        ("TORRUST_BAKE_BIN", "/usr/bin/true"),
        ("TORRUST_BAKE_E2E_CACHE", "/var/cache/x"),
        ("TORRUST_E2E_NETNS", "torrust-e2e"),
        (
            "TORRUST_TRACKER_CONFIG_TOML_PATH",
            "/etc/torrust/tracker.toml",
        ),
        ("LIBVIRT_DEFAULT_URI", "qemu:///system"),
        ("SSH_AUTH_SOCK", "/run/user/0/agent"),
        ("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"),
    ]);
    let run = p.run(&["check", "production"], &vars);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert_eq!(
        run.stdout(),
        "production: ok, no problems\n",
        "{}",
        run.all()
    );
}

/// #27: `DOMAIN_NAME=tracker.example.com` and an SSL_EMAIL at an example
/// domain were only warnings in production. Refused when strict, as a
/// placeholder secret is; a warning when lenient.
#[test]
fn example_domains_are_refused_when_strict_and_warned_about_when_lenient() {
    // The committed production.env carries example.com placeholders.
    let p = Project::committed();
    let run = p.run(&["check", "production"], &production_secrets());
    assert_eq!(run.code(), 1, "{}", run.all());
    let err = run.stderr();
    assert!(
        err.contains(
            "error: DOMAIN_NAME (environments/production.env:27): is an example domain (example.com is reserved: no DNS points it at a tracker)\n  fix: set DOMAIN_NAME to the domain whose DNS points at this tracker\n"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "error: SSL_EMAIL (environments/production.env:28): is at an example domain (example.com): the ACME account's mail would go nowhere\n  fix: set SSL_EMAIL to an address you read (certificate expiry warnings go there)\n"
        ),
        "{err}"
    );
    let run = p.run(&["build", "production"], &production_secrets());
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(p.releases("production").is_empty());
    for (domain, email) in [
        ("tracker.test", "ops@torrust-demo.com"),
        ("torrust-demo.com", "ops@mail.invalid"),
        ("tracker.localhost", "ops@torrust-demo.com"),
    ] {
        let mut vars = production_secrets();
        vars.extend([("DOMAIN_NAME", domain), ("SSL_EMAIL", email)]);
        let run = p.run(&["check", "staging"], &vars);
        assert_eq!(run.code(), 1, "{domain} {email}: {}", run.all());
        assert!(
            run.stderr().contains("at an example domain")
                || run.stderr().contains("is an example domain"),
            "{}",
            run.stderr()
        );
    }
    // A real domain in the process environment passes.
    let mut vars = production_secrets();
    vars.extend([
        ("DOMAIN_NAME", "tracker.torrust-demo.com"),
        ("SSL_EMAIL", "ops@torrust-demo.com"),
    ]);
    assert_eq!(p.run(&["check", "production"], &vars).code(), 0);
    // Lenient: built, with the warning.
    let vars = [
        ("DOMAIN_NAME", "tracker.example.org"),
        ("SSL_EMAIL", "ops@example.org"),
    ];
    let run = p.run(&["build", "local"], &vars);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(
        run.stderr().contains(
            "warning: DOMAIN_NAME (process environment): is an example domain (example.org is reserved: no DNS points it at a tracker)\n  fix: set DOMAIN_NAME to the domain whose DNS points at this tracker (a strict environment refuses it)"
        ),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains(
            "warning: SSL_EMAIL (process environment): is at an example domain (example.org)"
        ),
        "{}",
        run.stderr()
    );
}
