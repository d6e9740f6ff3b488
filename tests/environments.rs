//! Environments beyond the built-in three, through the binary: any
//! `environments/<name>.env` with a valid name, its strictness declared in
//! the file (never weakened from outside), and `images/<env>.lock`, which
//! replaces `images/images.lock` for its environment.

mod common;

use common::*;

const SHARED_TRACKER: &str =
    "sha256:6666666666666666666666666666666666666666666666666666666666666666";
const DEV_TRACKER: &str = "sha256:abababababababababababababababababababababababababababababababab";

/// `environments/dev.env`: local's file with `extra` lines first.
fn write_dev(p: &Project, extra: &str) {
    let local = std::fs::read_to_string(p.path().join("environments/local.env")).unwrap();
    p.write(
        "environments/dev.env",
        &format!("{extra}{local}INFRASTRUCTURE_HOSTNAME=torrust-dev\n"),
    );
}

fn manifest(release: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(release.join("manifest.json")).unwrap()).unwrap()
}

fn compose(release: &std::path::Path) -> String {
    std::fs::read_to_string(release.join("bundle/opt/torrust/compose.yaml")).unwrap()
}

#[test]
fn a_declared_lenient_environment_builds_and_shows_where_its_strictness_came_from() {
    let p = Project::new();
    write_dev(
        &p,
        "# a developer's own VM\nTORRUST_BAKE_STRICTNESS=lenient\n",
    );
    let release = p.build("dev", &[]);
    assert!(release.starts_with(p.path().join("releases/dev")));
    let m = manifest(&release);
    assert_eq!(m["env"], "dev");
    assert!(m.get("image_lock").is_none(), "the shared lock: {m}");
    assert_eq!(p.run(&["verify", "dev"], &[]).code(), 0);

    let show = p.run(&["show", "dev"], &[]);
    assert_eq!(show.code(), 0, "{}", show.all());
    let out = show.stdout();
    assert!(
        out.starts_with(
            "strictness: lenient (environments/dev.env:2)\nimage lock: images/images.lock\n"
        ),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.starts_with("TORRUST_BAKE_STRICTNESS "))
        .unwrap();
    assert!(row.ends_with("environments/dev.env:2"), "{row}");
    let json = p.run(&["show", "dev", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(v["strictness"]["value"], "lenient");
    assert_eq!(v["strictness"]["source"], "environments/dev.env:2");
    assert_eq!(v["image_lock"], "images/images.lock");

    // A built-in's strictness is its own, shown as such.
    let v: serde_json::Value =
        serde_json::from_str(&p.run(&["show", "production", "--json"], &[]).stdout()).unwrap();
    assert_eq!(v["strictness"]["value"], "strict");
    assert_eq!(v["strictness"]["source"], "built in");
}

#[test]
fn an_environment_without_a_declared_strictness_is_refused() {
    let p = Project::new();
    write_dev(&p, "");
    for cmd in ["build", "check", "show"] {
        let run = p.run(&[cmd, "dev"], &[]);
        assert_eq!(run.code(), 1, "{cmd}: {}", run.all());
        assert!(
            run.stderr().contains(
                "error: TORRUST_BAKE_STRICTNESS (environments/dev.env): is not set; an environment other than local, staging and production declares its strictness in environments/dev.env"
            ),
            "{cmd}: {}",
            run.stderr()
        );
        assert!(
            run.stderr().contains("add TORRUST_BAKE_STRICTNESS=lenient"),
            "{}",
            run.stderr()
        );
    }
    // Exported, it declares nothing: the file must say it.
    let run = p.run(&["check", "dev"], &[("TORRUST_BAKE_STRICTNESS", "lenient")]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(!p.path().join("releases").exists(), "nothing written");
}

#[test]
fn names_are_checked_and_unknown_ones_list_the_environments_there_are() {
    let p = Project::new();
    p.write(
        "environments/Dev_1.env",
        "TORRUST_BAKE_STRICTNESS=lenient\n",
    );
    let run = p.run(&["build", "Dev_1"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains(
            "environments/Dev_1.env: 'Dev_1' is not an environment name (1 to 32 characters: lower-case letters, digits and '-', starting with a letter and not ending with '-'; not `images` (images/images.lock is the shared lock))"
        ),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("rename the file"), "{}", run.stderr());
    // A name is part of paths: refused before any is made.
    for bad in ["../local", "a/b", "x-", "images"] {
        let run = p.run(&["verify", bad], &[]);
        assert_eq!(run.code(), 1, "{bad}: {}", run.all());
        assert!(
            run.stderr().contains("is not an environment name"),
            "{}",
            run.stderr()
        );
    }
    write_dev(&p, "TORRUST_BAKE_STRICTNESS=lenient\n");
    let run = p.run(&["check", "qa"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains(
            "unknown environment 'qa': there is no environments/qa.env\n  fix: use one of: local, staging, production, dev (the files in environments/)"
        ),
        "{}",
        run.stderr()
    );
    // A name that left nothing behind is refused by `releases` too (#29
    // item 4: it said "qa: no releases" and exited 0); what an environment
    // left behind stays reachable (unknown_environments_are_refused_...).
    let run = p.run(&["releases", "list", "qa"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains("unknown environment 'qa'"),
        "{}",
        run.all()
    );
}

#[test]
fn production_stays_strict_whatever_a_file_or_the_process_environment_says() {
    let p = Project::new();
    let prod = std::fs::read_to_string(p.path().join("environments/production.env")).unwrap();
    p.write(
        "environments/production.env",
        &format!("{prod}TORRUST_BAKE_STRICTNESS=lenient\n"),
    );
    let run = p.run(&["build", "production"], &production_secrets());
    assert_eq!(run.code(), 1, "{}", run.all());
    let line = prod.lines().count() + 1;
    assert!(
        run.stderr().contains(&format!(
            "error: TORRUST_BAKE_STRICTNESS (environments/production.env:{line}): production is always strict; its file cannot make it lenient"
        )),
        "{}",
        run.stderr()
    );
    // Restating it is fine.
    p.write(
        "environments/production.env",
        &format!("{prod}TORRUST_BAKE_STRICTNESS=strict\n"),
    );
    assert_eq!(
        p.run(&["check", "production"], &production_secrets())
            .code(),
        0
    );

    // The process environment cannot weaken a strict environment, built in
    // or declared.
    write_dev(&p, "TORRUST_BAKE_STRICTNESS=strict\n");
    for env in ["production", "staging", "dev"] {
        let mut vars = production_secrets();
        vars.push(("TORRUST_BAKE_STRICTNESS", "lenient"));
        let run = p.run(&["build", env], &vars);
        assert_eq!(run.code(), 1, "{env}: {}", run.all());
        assert!(
            run.stderr().contains(&format!(
                "error: TORRUST_BAKE_STRICTNESS (process environment): cannot make {env} lenient: it is strict"
            )),
            "{env}: {}",
            run.stderr()
        );
    }
    assert!(!p.path().join("releases").exists(), "nothing written");
}

#[test]
fn the_process_environment_may_make_an_environment_strict() {
    let p = Project::new();
    write_dev(&p, "TORRUST_BAKE_STRICTNESS=lenient\n");
    for env in ["local", "dev"] {
        assert_eq!(p.run(&["check", env], &[]).code(), 0);
        let run = p.run(&["check", env], &[("TORRUST_BAKE_STRICTNESS", "strict")]);
        assert_eq!(run.code(), 1, "{env}: {}", run.all());
        assert!(
            run.stderr().contains(&format!(
                "TORRUST_TRACKER_API_TOKEN (default): is not set, and {env} may not use the built-in local default"
            )),
            "{env}: {}",
            run.stderr()
        );
    }
    let v: serde_json::Value = serde_json::from_str(
        &p.run(
            &["show", "dev", "--json"],
            &[("TORRUST_BAKE_STRICTNESS", "strict")],
        )
        .stdout(),
    )
    .unwrap();
    assert_eq!(v["strictness"]["value"], "strict");
    assert_eq!(v["strictness"]["source"], "process environment");
}

#[test]
fn an_environments_own_lock_replaces_the_shared_one() {
    let p = Project::new();
    write_dev(&p, "TORRUST_BAKE_STRICTNESS=lenient\n");
    let shared = std::fs::read_to_string(p.path().join("images/images.lock")).unwrap();
    assert!(shared.contains(SHARED_TRACKER));
    p.write(
        "images/dev.lock",
        &shared.replace(SHARED_TRACKER, DEV_TRACKER),
    );

    let dev = p.build("dev", &[]);
    assert!(compose(&dev).contains(&format!("tracker:v3.0.0@{DEV_TRACKER}")));
    assert!(!compose(&dev).contains(SHARED_TRACKER));
    let m = manifest(&dev);
    assert_eq!(m["image_lock"], "images/dev.lock");
    let tracker = m["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["service"] == "tracker")
        .unwrap();
    assert_eq!(tracker["digest"], DEV_TRACKER);
    let run = p.run(&["build", "dev"], &[]);
    assert!(
        run.stderr()
            .contains("images from images/dev.lock, dev's own lock"),
        "{}",
        run.stderr()
    );
    let json = p.run(&["build", "dev", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(v["image_lock"], "images/dev.lock");

    // Every other environment keeps the shared lock.
    let local = p.build("local", &[]);
    assert!(compose(&local).contains(&format!("tracker:v3.0.0@{SHARED_TRACKER}")));
    assert!(manifest(&local).get("image_lock").is_none());

    let show = p.run(&["show", "dev"], &[]);
    assert!(
        show.stdout().contains("image lock: images/dev.lock\n"),
        "{}",
        show.stdout()
    );

    // check reads it too, and names it; the fix pins that lock.
    p.write(
        "images/dev.lock",
        &shared.replace(&format!("digest = \"{SHARED_TRACKER}\"\n"), ""),
    );
    let run = p.run(&["check", "dev"], &[("TORRUST_BAKE_STRICTNESS", "strict")]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains("error: images/dev.lock:"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr()
            .contains("run `torrust-bake images pin --env dev tracker`"),
        "{}",
        run.stderr()
    );
    assert_eq!(p.run(&["check", "local"], &[]).code(), 0);
}

/// #27: a `lenient` line appended after `strict` relaxed a strict
/// environment with only a "set twice" warning. A file that declares two
/// different strictnesses cannot be read either way: refused.
#[test]
fn a_strictness_declared_twice_with_different_values_is_refused() {
    let p = Project::new();
    write_dev(&p, "TORRUST_BAKE_STRICTNESS=strict\n");
    let dev = std::fs::read_to_string(p.path().join("environments/dev.env")).unwrap();
    let line = dev.lines().count() + 1;
    p.write(
        "environments/dev.env",
        &format!("{dev}TORRUST_BAKE_STRICTNESS=lenient\n"),
    );
    for cmd in ["check", "build", "show"] {
        let run = p.run(&[cmd, "dev"], &[]);
        assert_eq!(run.code(), 1, "{cmd}: {}", run.all());
        assert!(
            run.stderr().contains(&format!(
                "error: TORRUST_BAKE_STRICTNESS (environments/dev.env:{line}): is declared twice with different values (strict on line 1, lenient on line {line}); the file cannot say both\n  fix: keep one TORRUST_BAKE_STRICTNESS line: strict (real secrets and digests only, like production) or lenient (local defaults and tags allowed, like local)"
            )),
            "{cmd}: {}",
            run.stderr()
        );
    }
    assert!(!p.path().join("releases").exists(), "nothing written");
    // The same word twice is still one declaration (with the usual warning).
    p.write(
        "environments/dev.env",
        &format!("{dev}TORRUST_BAKE_STRICTNESS=strict\n"),
    );
    let run = p.run(&["show", "dev"], &[]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(
        run.stdout()
            .starts_with("strictness: strict (environments/dev.env:1)"),
        "{}",
        run.stdout()
    );
}

/// #29 item 4: `verify prod` suggested a build that then failed, and
/// `releases list prod` said "no releases" and exited 0. Every command that
/// takes <env> refuses an unknown one the same way; those that clean up
/// after a deleted env file go on and say so; a deleted env file's
/// releases stay reachable.
#[test]
fn unknown_environments_are_refused_by_every_command_alike() {
    let p = Project::new();
    let refused = "unknown environment 'prod': there is no environments/prod.env";
    for args in [
        &["verify", "prod"][..],
        &["releases", "list", "prod"][..],
        &["releases", "prune", "prod", "--keep", "1"][..],
        &["diff", "prod", "000000000000", "111111111111"][..],
        &["build", "prod"][..],
        &["check", "prod"][..],
        &["deploy", "prod"][..],
    ] {
        let r = p.run(args, &[]);
        assert_eq!(r.code(), 1, "{args:?}: {}", r.all());
        assert!(r.stderr().contains(refused), "{args:?}: {}", r.stderr());
        assert!(
            r.stderr()
                .contains("use one of: local, staging, production"),
            "{args:?}: {}",
            r.stderr()
        );
    }
    let r = p.run(&["status", "prod", "--connect", "test:///default"], &[]);
    assert!(
        r.stderr()
            .contains("environments/prod.env does not exist; looking for its VMs anyway"),
        "{}",
        r.all()
    );
    // Releases of an env file since deleted: still listed, with a note.
    p.write("environments/edge.env", "TORRUST_BAKE_STRICTNESS=lenient\n");
    p.build("edge", &[]);
    std::fs::remove_file(p.path().join("environments/edge.env")).unwrap();
    let r = p.run(
        &["releases", "list", "edge", "--connect", "test:///default"],
        &[],
    );
    assert_eq!(r.code(), 0, "{}", r.all());
    assert!(
        r.stderr()
            .contains("working on the releases left under releases/edge/"),
        "{}",
        r.all()
    );
}
