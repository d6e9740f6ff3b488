//! Secrets kept between builds: `secrets init` writes the environment's
//! secrets file (0600, outside the project) with strong random values;
//! builds read it after the process environment; the same file gives the
//! same release, so a replacement VM can log in to the database and
//! Grafana that kept their first passwords.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_creates_strong_secrets_that_builds_keep_using() {
    let p = Project::new();
    let secrets = tempfile::tempdir().unwrap();
    let dir = secrets.path().join("nested");
    let dir_s = dir.to_str().unwrap().to_string();
    let vars = [("TORRUST_BAKE_SECRETS_DIR", dir_s.as_str())];
    let init = p.run(&["secrets", "init", "production", "--json"], &vars);
    assert_eq!(init.code(), 0, "{}", init.all());
    let v: serde_json::Value = serde_json::from_str(&init.stdout()).unwrap();
    let file = dir.join("production.env");
    assert_eq!(v["path"], file.to_str().unwrap());
    let added: Vec<&str> = v["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for name in [
        "TORRUST_TRACKER_API_TOKEN",
        "GRAFANA_ADMIN_PASSWORD",
        "TORRUST_BAKE_RELEASE_KEY",
    ] {
        assert!(added.contains(&name), "{name}: {added:?}");
    }
    assert_eq!(mode(&file), 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!init
        .all()
        .contains(text.lines().last().unwrap().split('\'').nth(1).unwrap()));

    // Builds need nothing else; the same file gives the same release.
    let first = p.build("production", &vars);
    let second = p.build("production", &vars);
    assert_eq!(first, second);
    // A second init changes nothing.
    let again = p.run(&["secrets", "init", "production"], &vars);
    assert!(
        again.stdout().contains("nothing changed"),
        "{}",
        again.stdout()
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    // show names the file as the source, never the value.
    let show = p.run(&["show", "production", "--json"], &vars);
    let shown: serde_json::Value = serde_json::from_str(&show.stdout()).unwrap();
    let token = shown["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "TORRUST_TRACKER_API_TOKEN")
        .unwrap();
    assert_eq!(token["value"], "********");
    assert!(
        token["source"]
            .as_str()
            .unwrap()
            .starts_with(file.to_str().unwrap()),
        "{token}"
    );
    for line in text.lines().filter(|l| l.contains('=')) {
        let value = line.split('\'').nth(1).unwrap();
        assert!(!show.all().contains(value), "a secret value in show");
    }

    // The process environment still wins.
    let mut with_env = vars.to_vec();
    with_env.push(("GRAFANA_ADMIN_PASSWORD", "from-the-process-env-0123456789"));
    let other = p.build("production", &with_env);
    assert_ne!(other, first);
}

#[test]
fn a_secrets_file_others_can_read_is_refused() {
    let p = Project::new();
    let secrets = tempfile::tempdir().unwrap();
    let dir_s = secrets.path().to_str().unwrap().to_string();
    let vars = [("TORRUST_BAKE_SECRETS_DIR", dir_s.as_str())];
    assert_eq!(p.run(&["secrets", "init", "local"], &vars).code(), 0);
    let file = secrets.path().join("local.env");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = p.run(&["check", "local"], &vars);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains("readable by others (mode 0644)"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr()
            .contains(&format!("chmod 600 {}", file.display())),
        "{}",
        run.stderr()
    );
    // `secrets init` says so too, instead of "nothing changed" (#29 item 8).
    let again = p.run(&["secrets", "init", "local"], &vars);
    assert_eq!(again.code(), 1, "{}", again.all());
    assert!(
        again.stderr().contains(&format!(
            "readable by others (mode 0644), which `check` and `build` refuse: chmod 600 {}",
            file.display()
        )),
        "{}",
        again.all()
    );
    // A variable that is not a secret does not belong there.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("TORRUST_TRACKER_MODE=private\n");
    std::fs::write(&file, text).unwrap();
    let run = p.run(&["check", "local"], &vars);
    assert!(
        run.stderr()
            .contains("is not a secret; the secrets file holds secrets only"),
        "{}",
        run.stderr()
    );
}

#[test]
fn secrets_in_use_are_kept_typos_are_errors_and_empty_exports_do_not_hide_the_file() {
    let p = Project::new();
    let secrets = tempfile::tempdir().unwrap();
    let dir_s = secrets.path().to_str().unwrap().to_string();
    let exported = "exported-api-token-0123456789abcdefghij";
    let vars = [
        ("TORRUST_BAKE_SECRETS_DIR", dir_s.as_str()),
        ("TORRUST_TRACKER_API_TOKEN", exported),
    ];
    let init = p.run(&["secrets", "init", "production"], &vars);
    assert_eq!(init.code(), 0, "{}", init.all());
    let file = secrets.path().join("production.env");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(&format!("TORRUST_TRACKER_API_TOKEN='{exported}'")),
        "the exported token was replaced"
    );
    // An empty export (a CI secret that is missing) does not hide the file.
    let only_dir = [
        ("TORRUST_BAKE_SECRETS_DIR", dir_s.as_str()),
        ("GRAFANA_ADMIN_PASSWORD", ""),
    ];
    let run = p.run(&["check", "production"], &only_dir);
    assert!(
        !run.stderr().contains("GRAFANA_ADMIN_PASSWORD"),
        "{}",
        run.stderr()
    );
    // A typo in the secrets file is an error with the closest name.
    std::fs::write(&file, format!("{text}TORRUST_TRACKER_API_TOKNE='x'\n")).unwrap();
    let run = p.run(
        &["check", "local"],
        &[("TORRUST_BAKE_SECRETS_DIR", dir_s.as_str())],
    );
    std::fs::rename(&file, secrets.path().join("local.env")).unwrap();
    let run2 = p.run(
        &["check", "local"],
        &[("TORRUST_BAKE_SECRETS_DIR", dir_s.as_str())],
    );
    assert_eq!(run2.code(), 1, "{}{}", run.all(), run2.all());
    assert!(
        run2.stderr()
            .contains("did you mean TORRUST_TRACKER_API_TOKEN?"),
        "{}",
        run2.stderr()
    );
}

/// #27: `TORRUST_BAKE_SECRETS_DIR=environments secrets init local` appended
/// secrets to the tracked environments/local.env. A secrets directory in
/// the project, or any environments/ directory, is refused by `secrets`,
/// `check` and `build`; nothing is written.
#[test]
fn a_secrets_directory_inside_the_project_is_refused() {
    let p = Project::new();
    let project = p.path().canonicalize().unwrap();
    let local = std::fs::read_to_string(p.path().join("environments/local.env")).unwrap();
    let fix = "fix: set TORRUST_BAKE_SECRETS_DIR to a directory outside the project and outside any environments/ directory, e.g. TORRUST_BAKE_SECRETS_DIR=~/.config/torrust-bake/secrets (the default)";
    let inside = project.join("secrets");
    let inside_s = inside.to_str().unwrap().to_string();
    for (dir, file) in [
        ("environments", project.join("environments/local.env")),
        (
            "./environments/../environments",
            project.join("environments/local.env"),
        ),
        (inside_s.as_str(), inside.join("local.env")),
    ] {
        // Relative to the directory the command runs in, as it is opened.
        let vars = [("TORRUST_BAKE_SECRETS_DIR", dir)];
        let message = format!(
            "the secrets file would be {}, inside the project directory {} (TORRUST_BAKE_SECRETS_DIR={dir}), where it could be committed",
            file.display(),
            project.display()
        );
        for args in [
            &["secrets", "init", "local"][..],
            &["secrets", "path", "local"][..],
        ] {
            let out = p
                .command(args, &vars)
                .current_dir(p.path())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{dir} {args:?}: {err}");
            assert_eq!(
                err,
                format!("error: {message}; {}\n", &fix[5..]),
                "{dir} {args:?}"
            );
        }
        for cmd in ["check", "build"] {
            let out = p
                .command(&[cmd, "local"], &vars)
                .current_dir(p.path())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{dir} {cmd}: {err}");
            assert!(
                err.contains(&format!(
                    "error: TORRUST_BAKE_SECRETS_DIR (process environment): {message}\n  {fix}"
                )),
                "{dir} {cmd}: {err}"
            );
        }
    }
    assert_eq!(
        std::fs::read_to_string(p.path().join("environments/local.env")).unwrap(),
        local,
        "the environment file was written"
    );
    assert!(
        !inside.exists(),
        "a secrets directory was made in the project"
    );
    assert!(p.releases("local").is_empty());

    // Run from another project with -C: its environments/ holds environment
    // files too, though it is not the -C project.
    let other = Project::new();
    let other_local = other
        .path()
        .canonicalize()
        .unwrap()
        .join("environments/local.env");
    let out = p
        .command(
            &["secrets", "init", "local"],
            &[("TORRUST_BAKE_SECRETS_DIR", "environments")],
        )
        .current_dir(other.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "error: the secrets file would be {}, an environment file of the project around it (TORRUST_BAKE_SECRETS_DIR=environments); set TORRUST_BAKE_SECRETS_DIR to a directory outside",
            other_local.display()
        )),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(other.path().join("environments/local.env")).unwrap(),
        local
    );
    // A link out of the secrets directory into the project is followed.
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        p.path().join("environments/local.env"),
        outside.path().join("local.env"),
    )
    .unwrap();
    let dir = outside.path().to_str().unwrap();
    let run = p.run(
        &["secrets", "init", "local"],
        &[("TORRUST_BAKE_SECRETS_DIR", dir)],
    );
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains("inside the project directory"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(p.path().join("environments/local.env")).unwrap(),
        local
    );
    // Outside the project: as before.
    let run = p.run(
        &["secrets", "init", "local"],
        &[(
            "TORRUST_BAKE_SECRETS_DIR",
            outside.path().join("s").to_str().unwrap(),
        )],
    );
    assert_eq!(run.code(), 0, "{}", run.all());
}

/// #29 item 2: `secrets init production` said "then: torrust-bake build
/// production", which failed: the next step is the one that is left.
#[test]
fn init_names_the_step_that_is_left_before_a_build() {
    let p = Project::new();
    let secrets = tempfile::tempdir().unwrap();
    let dir_s = secrets.path().to_str().unwrap().to_string();
    let vars = [("TORRUST_BAKE_SECRETS_DIR", dir_s.as_str())];
    // The test project pins every image: a build is next.
    let run = p.run(&["secrets", "init", "production"], &vars);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(
        run.stdout().contains("then: torrust-bake build production"),
        "{}",
        run.all()
    );
    // The committed lock leaves the tracker unpinned: pin first.
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("images/images.lock"),
        p.path().join("images/images.lock"),
    )
    .unwrap();
    let run = p.run(&["secrets", "init", "production"], &vars);
    assert!(
        run.stdout().contains(
            "next: run `torrust-bake images pin tracker` on a machine that reaches the registry (image 'docker.io/torrust/tracker:v3.0.0' of tracker is not pinned by digest"
        ),
        "{}",
        run.all()
    );
}
