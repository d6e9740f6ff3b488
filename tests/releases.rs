//! Managing releases: `releases list` (version, when built, size, where it
//! runs) and `releases prune --keep N`; the local build log beside the
//! releases; provenance in the manifest.

mod common;

use common::*;

fn versions(p: &Project) -> Vec<String> {
    let run = p.run(
        &["releases", "list", "local", "--json"],
        &[("LIBVIRT_DEFAULT_URI", "test:///default")],
    );
    assert_eq!(run.code(), 0, "{}", run.all());
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    v["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["built"].is_string(), "{r}");
            assert!(r["bytes"].as_u64().unwrap() > 100_000, "{r}");
            r["version"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn list_and_prune_keep_the_newest() {
    let p = Project::new();
    let mut built = Vec::new();
    for level in ["error", "warn", "info"] {
        let path = p.build("local", &[("TORRUST_TRACKER_LOG_LEVEL", level)]);
        built.push(path.file_name().unwrap().to_string_lossy().into_owned());
        // The log's times are seconds: keep the builds apart.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let manifest = std::fs::read_to_string(
        p.path()
            .join("releases/local")
            .join(&built[0])
            .join("manifest.json"),
    )
    .unwrap();
    assert!(manifest.contains(&format!(
        "\"built_by\": \"torrust-bake {}\"",
        env!("CARGO_PKG_VERSION")
    )));
    let mut newest_first = built.clone();
    newest_first.reverse();
    assert_eq!(versions(&p), newest_first);

    let vars = [("LIBVIRT_DEFAULT_URI", "test:///default")];
    let dry = p.run(
        &["releases", "prune", "local", "--keep", "2", "--dry-run"],
        &vars,
    );
    assert_eq!(dry.code(), 0, "{}", dry.all());
    assert!(
        dry.stdout()
            .contains(&format!("would delete local {}", built[0])),
        "{}",
        dry.stdout()
    );
    assert_eq!(versions(&p).len(), 3);
    let run = p.run(
        &["releases", "prune", "local", "--keep", "2", "--json"],
        &vars,
    );
    assert_eq!(run.code(), 0, "{}", run.all());
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(v["deleted"], serde_json::json!([built[0]]));
    assert_eq!(versions(&p), newest_first[..2].to_vec());
    assert_eq!(p.run(&["verify", "local"], &[]).code(), 0);
    // --keep 0 is refused; without an answer from libvirt nothing is deleted.
    assert_eq!(
        p.run(&["releases", "prune", "local", "--keep", "0"], &vars)
            .code(),
        1
    );
    let blind = p.run(
        &["releases", "prune", "local", "--keep", "1"],
        &[("LIBVIRT_DEFAULT_URI", "qemu:///nonexistent-socket")],
    );
    assert_eq!(blind.code(), 2, "{}", blind.all());
    assert!(
        blind.stderr().contains("nothing was deleted"),
        "{}",
        blind.stderr()
    );
    assert_eq!(versions(&p).len(), 2);
    // #27 item 6: --connect is where the VMs are asked for, and honoured.
    let there = p.run(
        &[
            "releases",
            "prune",
            "local",
            "--keep",
            "1",
            "--dry-run",
            "--connect",
            "test:///default",
        ],
        &[("LIBVIRT_DEFAULT_URI", "qemu:///nonexistent-socket")],
    );
    assert_eq!(there.code(), 0, "{}", there.all());
    let listed = p.run(
        &["releases", "list", "local", "--connect", "test:///default"],
        &[("LIBVIRT_DEFAULT_URI", "qemu:///nonexistent-socket")],
    );
    assert_eq!(listed.code(), 0, "{}", listed.all());
    assert!(!listed.stderr().contains("unknown"), "{}", listed.all());
}

#[test]
fn prune_keeps_what_serves_and_what_a_rollback_needs_by_the_deployment_record() {
    let p = Project::new();
    let mut built = Vec::new();
    for level in ["error", "warn", "info", "debug"] {
        let path = p.build("local", &[("TORRUST_TRACKER_LOG_LEVEL", level)]);
        built.push(version_of(&path));
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    // built[0] served, then built[1] replaced it, then built[3] was rolled back.
    let line = |event: &str, version: &str, serving: &str| {
        format!("{{\"time\":\"2026-11-26T14:00:00Z\",\"event\":\"{event}\",\"serving\":\"{serving}\",\"version\":\"{version}\",\"domain\":\"d\"}}\n")
    };
    p.write(
        "releases/local/deployments.log",
        &[
            line("up", &built[0], &built[0]),
            line("replaced", &built[1], &built[1]),
            line("rolled back", &built[3], &built[1]),
        ]
        .concat(),
    );
    // One bad byte costs its line, never the record (#27 item 5: a
    // non-UTF-8 line emptied it, and prune deleted the rollback target).
    let record = p.path().join("releases/local/deployments.log");
    let mut bytes = std::fs::read(&record).unwrap();
    let second = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
    bytes.splice(second..second, b"{\"event\":\"\xff\"}\n".iter().copied());
    std::fs::write(&record, &bytes).unwrap();
    let vars = [("LIBVIRT_DEFAULT_URI", "test:///default")];
    let run = p.run(
        &["releases", "prune", "local", "--keep", "1", "--json"],
        &vars,
    );
    assert_eq!(run.code(), 0, "{}", run.all());
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(v["deleted"], serde_json::json!([built[2]]), "{v}");
    assert!(
        run.stderr().contains("skipped unreadable line(s) 2 of"),
        "{}",
        run.all()
    );
    // A symlinked record is refused, and nothing deleted.
    let real = p.path().join("record-elsewhere");
    std::fs::rename(&record, &real).unwrap();
    std::os::unix::fs::symlink(&real, &record).unwrap();
    let linked = p.run(&["releases", "prune", "local", "--keep", "1"], &vars);
    assert_ne!(linked.code(), 0, "{}", linked.all());
    assert!(linked.all().contains("symbolic link"), "{}", linked.all());
    std::fs::remove_file(&record).unwrap();
    std::fs::rename(&real, &record).unwrap();

    // `rollback` goes to the release before the current one.
    let rb = p.run(&["rollback", "local", "--connect", "test:///default"], &[]);
    assert!(
        rb.stderr()
            .contains(&format!("rolling back to release {}", built[0])),
        "{}",
        rb.all()
    );
}

#[test]
fn rollback_without_a_record_says_what_records_one() {
    let p = Project::new();
    let run = p.run(&["rollback", "local"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.all().contains("no release to roll back to"),
        "{}",
        run.all()
    );
    assert!(run.all().contains("deployments.log"), "{}", run.all());
}

#[test]
fn prune_keeps_the_newest_build_when_build_times_tie() {
    let p = Project::new();
    let a = version_of(&p.build("local", &[("TORRUST_TRACKER_LOG_LEVEL", "error")]));
    let b = version_of(&p.build("local", &[("TORRUST_TRACKER_LOG_LEVEL", "warn")]));
    // Two builds within one second (the log's times tie), the older one
    // sorting first by version text, as a tie broken by text kept it: the
    // log's order decides (#27 item 14).
    let (older, newer) = if a < b { (a, b) } else { (b, a) };
    let line = |v: &str| {
        format!("{{\"time\":\"2026-11-26T14:00:00Z\",\"version\":\"{v}\",\"outcome\":\"new\",\"tool\":\"0\"}}\n")
    };
    p.write("releases/local/builds.log", &(line(&older) + &line(&newer)));
    let vars = [("LIBVIRT_DEFAULT_URI", "test:///default")];
    let run = p.run(
        &["releases", "prune", "local", "--keep", "1", "--json"],
        &vars,
    );
    assert_eq!(run.code(), 0, "{}", run.all());
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(v["deleted"], serde_json::json!([older]), "{v}");
}
