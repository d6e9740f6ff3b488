//! Crashes and concurrent runs: a build killed at any moment leaves every
//! release whole or absent and nothing the next build does not clean up;
//! one writer per environment; what is in the way is refused, untouched.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::*;

/// Every entry of releases/<env>: (name, is_dir).
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The version `build local` gives on the repository's inputs (built in a
/// project of its own: same inputs, same version).
fn local_version() -> String {
    let path = Project::new().build("local", &[]);
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// What killed builds left behind in releases/<env> (hidden, not the lock).
fn leftovers(env_dir: &Path) -> Vec<String> {
    entries(env_dir)
        .into_iter()
        .filter(|n| n.starts_with('.') && n != ".lock")
        .collect()
}

#[test]
fn killed_builds_leave_whole_releases_and_no_leftovers() {
    let p = Project::new();
    let env_dir = p.path().join("releases/local");
    // Delays spread over a build's life (tens of ms in a debug build).
    for i in 0..40u64 {
        let mut child = p
            .command(&["build", "local"], &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(1 + (i * 7919) % 60_000));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        for name in entries(&env_dir) {
            let dir = env_dir.join(&name);
            // Hidden: the writers' lock and leftovers; a file: builds.log,
            // which a build that finished before the kill appends to.
            if name.starts_with('.') || !dir.is_dir() {
                continue;
            }
            let run = p.run(&["verify", "local", &name], &[]);
            assert_eq!(
                run.code(),
                0,
                "kill {i}: {} is not whole: {}",
                dir.display(),
                run.all()
            );
        }
    }
    let run = p.run(&["build", "local"], &[]);
    assert_eq!(run.code(), 0, "{}", run.all());
    let left = leftovers(&env_dir);
    assert!(left.is_empty(), "leftovers after a build: {left:?}");
}

#[test]
fn one_writer_per_environment() {
    let p = Project::new();
    let env_dir = p.path().join("releases/local");
    std::fs::create_dir_all(&env_dir).unwrap();
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(env_dir.join(".lock"))
        .unwrap();
    lock.lock().unwrap();
    let run = p.run(&["build", "local"], &[]);
    assert_eq!(run.code(), 2, "{}", run.all());
    assert!(
        run.stderr().contains("another torrust-bake is writing"),
        "{}",
        run.stderr()
    );
    assert!(p.releases("local").is_empty());
    drop(lock);
    // Builds side by side: each finishes or says it waited for none; the
    // release is whole and nothing is left behind.
    let children: Vec<_> = (0..3)
        .map(|_| {
            p.command(&["build", "local"], &[])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for out in &outs {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || err.contains("another torrust-bake is writing"),
            "{err}"
        );
    }
    assert!(outs.iter().any(|o| o.status.success()));
    let run = p.run(&["verify", "local"], &[]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert!(leftovers(&env_dir).is_empty());
}

#[test]
fn what_is_in_the_way_is_refused_before_writing() {
    let p = Project::new();
    let version = local_version();
    let env_dir = p.path().join("releases/local");
    std::fs::create_dir_all(&env_dir).unwrap();
    // A file where the release should go.
    std::fs::write(env_dir.join(&version), "mine").unwrap();
    let run = p.run(&["build", "local"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr()
            .contains("is in the way: it is not a directory"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(env_dir.join(&version)).unwrap(),
        "mine"
    );
    std::fs::remove_file(env_dir.join(&version)).unwrap();
    // A folder of someone else's files.
    std::fs::create_dir(env_dir.join(&version)).unwrap();
    std::fs::write(env_dir.join(&version).join("notes.txt"), "keep me").unwrap();
    let run = p.run(&["build", "local"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr().contains("holds files that are not a release"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(env_dir.join(&version).join("notes.txt")).unwrap(),
        "keep me"
    );
    let left = leftovers(&env_dir);
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_dangling_releases_link_is_named() {
    let p = Project::new();
    std::os::unix::fs::symlink("/nonexistent/releases", p.path().join("releases")).unwrap();
    let run = p.run(&["build", "local"], &[]);
    assert_eq!(run.code(), 1, "{}", run.all());
    assert!(
        run.stderr()
            .contains("is a symlink to /nonexistent/releases, which does not exist"),
        "{}",
        run.stderr()
    );
}

#[test]
fn stale_temporary_folders_are_removed() {
    let p = Project::new();
    let env_dir = p.path().join("releases/local");
    std::fs::create_dir_all(env_dir.join(".0123456789ab-XyZ12/bundle")).unwrap();
    std::fs::write(env_dir.join(".0123456789ab-XyZ12/bundle/secret"), "s").unwrap();
    std::fs::create_dir_all(env_dir.join(".0123456789ab-XyZ12.replaced")).unwrap();
    p.build("local", &[]);
    let left = leftovers(&env_dir);
    assert!(left.is_empty(), "{left:?}");
}

/// A fallback replacement killed between its two renames leaves the only
/// copy of a release at `.V-xxxx.replaced`: the next writer puts it back.
#[test]
fn a_release_moved_aside_by_a_killed_replacement_comes_back() {
    let p = Project::new();
    let release = p.build("local", &[]);
    let version = release.file_name().unwrap().to_string_lossy().into_owned();
    let aside = p
        .path()
        .join(format!("releases/local/.{version}-Ab12Cd.replaced"));
    std::fs::rename(&release, &aside).unwrap();
    p.build("local", &[("TORRUST_TRACKER_LOG_LEVEL", "trace")]);
    assert!(release.join("manifest.json").is_file(), "not restored");
    assert!(!aside.exists());
    assert_eq!(p.run(&["verify", "local", &version], &[]).code(), 0);
}
